//! The bookkeeping, without I/O or clocks of its own: a server asks [`Admission::room`]
//! before each accept and carries out the answer (the [`Gate`](crate::Gate) does).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// One unproven connection's ticket.
pub type Ticket = u64;

/// What the accept loop may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// There is room: accept.
    Free,
    /// Full; close this connection (it has waited past the grace period), then accept.
    Evict(Ticket),
    /// Full of fresh connections: wait until a ticket is returned or until then.
    WaitUntil(Instant),
}

#[derive(Debug)]
pub struct Admission {
    cap: usize,
    grace: Duration,
    next: Ticket,
    /// Tickets in the order they were given, hence oldest first.
    open: BTreeMap<Ticket, (IpAddr, Instant)>,
    per_peer: HashMap<IpAddr, usize>,
}

impl Admission {
    pub fn new(cap: usize, grace: Duration) -> Admission {
        Admission { cap: cap.max(1), grace, next: 0, open: BTreeMap::new(), per_peer: HashMap::new() }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Unproven connections holding a descriptor now.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Whether another connection may be accepted at `now`, and at what price.
    pub fn room(&self, now: Instant) -> Room {
        if self.open.len() < self.cap {
            return Room::Free;
        }
        // The address holding the most connections older than the grace period loses
        // its oldest; ties go to the address whose oldest is oldest.
        let mut stale: HashMap<IpAddr, (usize, Ticket)> = HashMap::new();
        for (&ticket, &(peer, since)) in &self.open {
            if now.saturating_duration_since(since) < self.grace {
                break; // tickets are in age order: the rest are fresher still
            }
            stale.entry(peer).and_modify(|e| e.0 += 1).or_insert((1, ticket));
        }
        match stale.values().max_by_key(|(count, oldest)| (*count, std::cmp::Reverse(*oldest))) {
            Some(&(_, ticket)) => Room::Evict(ticket),
            None => {
                let oldest = self.open.values().next().map_or(now, |(_, since)| *since);
                Room::WaitUntil(oldest + self.grace)
            }
        }
    }

    /// Records an accepted connection from `peer`.
    pub fn admit(&mut self, peer: IpAddr, now: Instant) -> Ticket {
        let ticket = self.next;
        self.next += 1;
        self.open.insert(ticket, (peer, now));
        *self.per_peer.entry(peer).or_default() += 1;
        ticket
    }

    /// The connection proved the secret, failed, or was closed: its place is free.
    pub fn release(&mut self, ticket: Ticket) {
        if let Some((peer, _)) = self.open.remove(&ticket) {
            if let Some(n) = self.per_peer.get_mut(&peer) {
                *n -= 1;
                if *n == 0 {
                    self.per_peer.remove(&peer);
                }
            }
        }
    }

    /// Unproven connections from `peer` now.
    pub fn from_peer(&self, peer: IpAddr) -> usize {
        self.per_peer.get(&peer).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const GRACE: Duration = Duration::from_secs(1);

    #[test]
    fn room_until_the_cap_then_wait_for_the_oldest_to_age() {
        let t0 = Instant::now();
        let mut a = Admission::new(2, GRACE);
        assert_eq!(a.room(t0), Room::Free);
        let first = a.admit(A, t0);
        a.admit(A, t0 + Duration::from_millis(300));
        assert_eq!(a.room(t0 + Duration::from_millis(500)), Room::WaitUntil(t0 + GRACE));
        assert_eq!(a.room(t0 + GRACE), Room::Evict(first));
        a.release(first);
        assert_eq!(a.room(t0 + GRACE), Room::Free);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn the_address_holding_most_loses_its_oldest_first() {
        let t0 = Instant::now();
        let mut a = Admission::new(4, GRACE);
        let b_old = a.admit(B, t0);
        let a1 = a.admit(A, t0 + Duration::from_millis(1));
        a.admit(A, t0 + Duration::from_millis(2));
        a.admit(A, t0 + Duration::from_millis(3));
        let later = t0 + Duration::from_secs(5);
        assert_eq!(a.room(later), Room::Evict(a1), "A holds three, B one: A's oldest goes, not B's older one");
        a.release(a1);
        a.admit(A, later);
        // Only connections past the grace period count: A's fresh one does not.
        let ticket = match a.room(later) {
            Room::Evict(t) => t,
            other => panic!("{other:?}"),
        };
        assert_ne!(ticket, b_old, "A still holds two stale connections, B one");
        assert_eq!(a.from_peer(A), 3);
        assert_eq!(a.from_peer(B), 1);
    }

    #[test]
    fn releasing_unknown_or_twice_is_harmless() {
        let mut a = Admission::new(1, GRACE);
        let t = a.admit(A, Instant::now());
        a.release(t);
        a.release(t);
        a.release(99);
        assert!(a.is_empty());
        assert_eq!(a.from_peer(A), 0);
    }

}
