//! The strategy's clock: one thread that calls a round every `strategy_period` until
//! stopped, for both fronts (the Rust front's executors, the Python front's job status
//! poller). What a round does is the caller's (`blocks::round`, or the Python front's
//! `strategize` of each executor, which calls it); when it runs is decided here.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long [`Ticker::stop`] waits for a round in progress (a provider's command that
/// hangs past its own timeout) before leaving the thread to end on its own.
pub const STOP_WAIT: Duration = Duration::from_secs(30);

/// A thread calling `round` every period; stopped by [`Ticker::stop`] or when dropped.
pub struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    /// Set as the thread ends.
    ended: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Marks the thread ended however it ends (a round that panics included).
struct Ended(Arc<(Mutex<bool>, Condvar)>);

impl Drop for Ended {
    fn drop(&mut self) {
        *self.0 .0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.0 .1.notify_all();
    }
}

impl Ticker {
    /// Starts the thread `name`: it waits `period`, calls `round`, and again, until stopped.
    /// A round that overruns the period is followed by the next one at once, not by two.
    pub fn start(name: &str, period: Duration, mut round: impl FnMut() + Send + 'static) -> std::io::Result<Ticker> {
        let stop: Arc<(Mutex<bool>, Condvar)> = Arc::default();
        let ended: Arc<(Mutex<bool>, Condvar)> = Arc::default();
        let (flag, marker) = (stop.clone(), Ended(ended.clone()));
        let thread = std::thread::Builder::new().name(name.to_string()).spawn(move || {
            let _marker = marker;
            let (stopped, wake) = &*flag;
            let mut next = Instant::now() + period;
            loop {
                let mut done = stopped.lock().unwrap_or_else(|p| p.into_inner());
                // Woken early (spuriously, or by a stop): wait out the rest of the period.
                while !*done {
                    let left = next.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    done = wake.wait_timeout(done, left).unwrap_or_else(|p| p.into_inner()).0;
                }
                if *done {
                    return;
                }
                drop(done);
                round();
                next = (next + period).max(Instant::now());
            }
        })?;
        Ok(Ticker { stop, ended, thread: Mutex::new(Some(thread)) })
    }

    /// Stops the thread and waits for a round in progress to end, for up to
    /// [`STOP_WAIT`] (not when called from a round itself). Idempotent.
    pub fn stop(&self) {
        *self.stop.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.stop.1.notify_all();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(t) = thread else { return };
        if t.thread().id() == std::thread::current().id() {
            return;
        }
        let (ended, wake) = &*self.ended;
        let done = ended.lock().unwrap_or_else(|p| p.into_inner());
        let (done, _) = wake.wait_timeout_while(done, STOP_WAIT, |e| !*e).unwrap_or_else(|p| p.into_inner());
        if *done {
            let _ = t.join();
        } else {
            tracing::warn!(thread = t.thread().name().unwrap_or("?"), "a strategy round is still running; left to end on its own");
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn rounds_come_each_period_until_stopped() {
        let (tx, rx) = mpsc::channel();
        let period = Duration::from_millis(5);
        let started = Instant::now();
        let ticker = Ticker::start("test-ticker", period, move || {
            let _ = tx.send(Instant::now());
        })
        .unwrap();
        // Never early: round k comes at least k periods after the start (a late round,
        // on a busy machine, is followed by the next at once, so no gap is promised).
        for k in 1..=3u32 {
            let at = rx.recv_timeout(Duration::from_secs(30)).unwrap();
            assert!(at.duration_since(started) >= period * k, "round {k} came early");
        }
        ticker.stop();
        while rx.try_recv().is_ok() {}
        // The thread has ended: the sender it held is gone.
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Err(mpsc::RecvTimeoutError::Disconnected));
    }

    #[test]
    fn a_stop_ends_a_long_wait_at_once_and_no_round_runs() {
        let (tx, rx) = mpsc::channel::<()>();
        let ticker = Ticker::start("test-ticker", Duration::from_secs(3600), move || {
            let _ = tx.send(());
        })
        .unwrap();
        ticker.stop();
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Err(mpsc::RecvTimeoutError::Disconnected));
    }

    #[test]
    fn a_round_can_stop_its_own_ticker() {
        let (tx, rx) = mpsc::channel::<()>();
        let slot: Arc<Mutex<Option<Arc<Ticker>>>> = Arc::default();
        let from_round = slot.clone();
        let ticker = Arc::new(
            Ticker::start("test-ticker", Duration::from_millis(1), move || {
                if let Some(t) = from_round.lock().unwrap().take() {
                    t.stop(); // must not join itself
                }
                let _ = tx.send(());
            })
            .unwrap(),
        );
        *slot.lock().unwrap() = Some(ticker.clone());
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Err(mpsc::RecvTimeoutError::Disconnected));
    }
}
