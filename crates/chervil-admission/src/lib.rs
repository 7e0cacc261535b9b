//! Who may hold one of a server's descriptors before proving itself.
//!
//! Anyone who reaches a port can open connections; each accepted one costs the process
//! a file descriptor, and a Chervil client out of descriptors cannot write a block's
//! script, a checkpoint or a log line — the whole run fails. So connections that have not
//! yet proved themselves (for the interchange: TLS handshake and a `Hello` with the run's
//! secret still to come) are bounded three ways:
//!
//! - **count**: at most `cap` of them hold a descriptor; past that the accept loop stops
//!   accepting, and newcomers wait in the kernel's listen backlog, which costs us nothing;
//! - **time**: once the table is full, one that has been waiting longer than `grace` (a
//!   real pool says `Hello`, and a browser sends its request, within milliseconds of
//!   connecting) is closed to make room, and none outlives its server's own timeout
//!   (the interchange's handshake, the dashboard's request headers);
//! - **per peer**: the one closed is the oldest of the address holding the most, so a
//!   flood from one address crowds out itself first.
//!
//! A real pool whose connection is closed before its answer reconnects (the pool's
//! `connect` loop), so the worst a flood does to a run is slow its pools' arrival.
//!
//! [`Admission`] is that bookkeeping as a state machine without I/O, tested with plain
//! calls; [`Gate`] carries it out on tokio for a server's accept loop. The interchange
//! (a connection proves itself with the run's secret) and the dashboard (by being
//! answered a first request) both use it.

mod table;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Notify};

pub use crate::table::{Admission, Room, Ticket};

/// [`Admission`] for a tokio accept loop: it waits for room (closing a stale connection
/// if it must), and each admitted connection gets a [`Pass`] to drop once it has proved
/// itself (or ended) and an [`Evicted`] that resolves if it is closed to make room.
#[derive(Debug)]
pub struct Gate {
    inner: Mutex<(Admission, HashMap<Ticket, oneshot::Sender<()>>)>,
    freed: Notify,
}

impl Gate {
    pub fn new(cap: usize, grace: Duration) -> Arc<Gate> {
        Arc::new(Gate { inner: Mutex::new((Admission::new(cap, grace), HashMap::new())), freed: Notify::new() })
    }

    fn lock(&self) -> MutexGuard<'_, (Admission, HashMap<Ticket, oneshot::Sender<()>>)> {
        // Each update is complete before anything can panic: a poisoned lock is consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Unproven connections now.
    pub fn unproven(&self) -> usize {
        self.lock().0.len()
    }

    /// Waits until another connection may be accepted, closing one that has waited past
    /// the grace period if the table is full. Call before each accept.
    pub async fn make_room(&self) {
        loop {
            let freed = self.freed.notified();
            let until = {
                let mut inner = self.lock();
                match inner.0.room(Instant::now()) {
                    Room::Free => return,
                    Room::Evict(old) => {
                        evict(&mut inner, old);
                        return;
                    }
                    Room::WaitUntil(t) => t,
                }
            };
            tokio::select! {
                _ = freed => {}
                _ = tokio::time::sleep_until(until.into()) => {}
            }
        }
    }

    /// The next connection on `listener` once there is room for it, admitted: what an
    /// accept loop does each turn. A failed accept (out of descriptors, say) is logged and
    /// retried after a pause rather than in a spin. Cancel-safe at every await.
    pub async fn accept<L: Listener>(self: &Arc<Self>, listener: &L) -> (L::Stream, L::Peer, Pass, Evicted) {
        loop {
            self.make_room().await;
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let (pass, evicted) = self.admit(L::ip(&peer));
                    return (stream, peer, pass, evicted);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Records an accepted connection from `peer`. Room was made before the accept; if
    /// the table filled meanwhile, a stale connection goes now, so the bound holds.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> (Pass, Evicted) {
        let mut inner = self.lock();
        if let Room::Evict(old) = inner.0.room(Instant::now()) {
            evict(&mut inner, old);
        }
        let ticket = inner.0.admit(peer, Instant::now());
        let (tx, rx) = oneshot::channel();
        inner.1.insert(ticket, tx);
        (Pass { gate: self.clone(), ticket }, Evicted(rx))
    }
}

/// A listening socket a [`Gate`] admits connections from: what it accepts, and the address
/// each connection is counted under (the per-peer rule).
pub trait Listener {
    type Stream;
    type Peer;
    /// The next connection; cancel-safe.
    fn accept(&self) -> impl std::future::Future<Output = std::io::Result<(Self::Stream, Self::Peer)>> + Send;
    fn ip(peer: &Self::Peer) -> IpAddr;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    type Peer = SocketAddr;
    fn accept(&self) -> impl std::future::Future<Output = std::io::Result<(Self::Stream, SocketAddr)>> + Send {
        tokio::net::TcpListener::accept(self)
    }
    fn ip(peer: &SocketAddr) -> IpAddr {
        peer.ip()
    }
}

/// A Unix socket reaches only this machine: its peers are counted as loopback's.
impl Listener for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    type Peer = tokio::net::unix::SocketAddr;
    fn accept(&self) -> impl std::future::Future<Output = std::io::Result<(Self::Stream, Self::Peer)>> + Send {
        tokio::net::UnixListener::accept(self)
    }
    fn ip(_: &Self::Peer) -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }
}

/// Closes an unproven connection: its [`Evicted`] resolves, and its place is free at once.
fn evict(inner: &mut (Admission, HashMap<Ticket, oneshot::Sender<()>>), ticket: Ticket) {
    if let Some(close) = inner.1.remove(&ticket) {
        let _ = close.send(());
    }
    inner.0.release(ticket);
}

/// An unproven connection's place; dropping it (the connection proved itself, or ended)
/// gives the place back.
#[derive(Debug)]
pub struct Pass {
    gate: Arc<Gate>,
    ticket: Ticket,
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut inner = self.gate.lock();
        inner.0.release(self.ticket);
        inner.1.remove(&self.ticket);
        drop(inner);
        self.gate.freed.notify_one();
    }
}

/// Resolves if the connection is closed to make room; never, once its [`Pass`] is dropped.
#[derive(Debug)]
pub struct Evicted(oneshot::Receiver<()>);

impl Evicted {
    pub async fn wait(self) {
        if self.0.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How many unproven connections may hold a descriptor, given the open-file limit:
/// an eighth of it, so the run's own files always have most of the table.
pub fn cap_for_open_file_limit(limit: u64) -> usize {
    (limit / 8).clamp(16, 1024) as usize
}

/// Raises this process's soft open-file limit to its hard limit, as servers do (the
/// common default soft limit, 1,024, is far below what a run with many pools needs);
/// returns the soft limit in force afterwards.
pub fn raise_open_file_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write the struct given, which lives here.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                tracing::debug!(from = lim.rlim_cur, to = lim.rlim_max, "raised the open-file limit");
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}


#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_cap_follows_the_open_file_limit() {
        assert_eq!(cap_for_open_file_limit(1024), 128);
        assert_eq!(cap_for_open_file_limit(64), 16);
        assert_eq!(cap_for_open_file_limit(1 << 20), 1024);
    }

    #[tokio::test]
    async fn a_full_gate_waits_then_evicts_the_stale_and_a_proved_pass_frees_its_place() {
        let grace = Duration::from_millis(50);
        let gate = Gate::new(2, grace);
        let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
        gate.make_room().await;
        let (first, first_evicted) = gate.admit(peer);
        gate.make_room().await;
        let (second, _) = gate.admit(peer);
        // Full of fresh connections: make_room waits out the grace period, then the
        // oldest goes.
        let waited = Instant::now();
        gate.make_room().await;
        assert!(waited.elapsed() >= grace - Duration::from_millis(5));
        first_evicted.wait().await;
        assert_eq!(gate.unproven(), 1);
        drop(first); // the evicted connection's task ends: harmless
        drop(second); // proved itself
        assert_eq!(gate.unproven(), 0);
        let (_third, third_evicted) = gate.admit(peer);
        drop(_third);
        // Once proved, never evicted.
        assert!(tokio::time::timeout(grace * 2, third_evicted.wait()).await.is_err());
    }
}
