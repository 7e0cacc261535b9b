//! When checkpoints are written: Parsl's four modes.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::segment::{compact, segments, write_segment, Record};
use crate::CheckpointError;

/// Parsl's `checkpoint_mode`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Each task as it finishes: a killed client loses only unfinished tasks.
    TaskExit,
    /// Every so often, from a timer thread.
    Periodic(Duration),
    /// When the run ends.
    DfkExit,
    /// When the script calls `dfk.checkpoint()` (and at the end).
    Manual,
}

/// Merge segments once this many were written since the last merge, so a long
/// task_exit run does not leave a directory of a hundred thousand files.
const COMPACT_AFTER: usize = 256;

struct State {
    dir: PathBuf,
    pending: Vec<Record>,
    next_seq: u64,
    since_compact: usize,
    written: u64,
    closed: bool,
    /// The last write failed (a full or unreachable file system): the records stay
    /// pending and the next write tries again; said once in the log, not per task.
    failing: bool,
}

impl State {
    fn flush(&mut self, durable: bool) -> Result<usize, CheckpointError> {
        if self.pending.is_empty() {
            return Ok(0);
        }
        let path = write_segment(&self.dir, self.next_seq, &self.pending, durable)?;
        let n = self.pending.len();
        tracing::debug!(tasks = n, segment = %path.display(), "checkpointed");
        if std::mem::take(&mut self.failing) {
            tracing::warn!(tasks = n, dir = %self.dir.display(), "checkpoint writes work again; the tasks kept waiting are written");
        }
        self.pending.clear();
        self.next_seq += 1;
        self.written += n as u64;
        self.since_compact += 1;
        if self.since_compact >= COMPACT_AFTER {
            let merged = compact(&self.dir, self.next_seq)?;
            tracing::info!(segments = merged, dir = %self.dir.display(), "checkpoint segments merged");
            self.next_seq += 1;
            self.since_compact = 0;
        }
        Ok(n)
    }
}

/// Takes finished tasks' records and writes them as the policy says.
pub struct Checkpointer {
    policy: Policy,
    shared: Arc<(Mutex<State>, Condvar)>,
    timer: Option<JoinHandle<()>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Checkpointer {
    /// Checkpoints into `dir` (made on the first write); segments already there
    /// are kept and numbered after.
    pub fn open(dir: PathBuf, policy: Policy) -> Result<Self, CheckpointError> {
        let next_seq = match segments(&dir) {
            Ok(s) => s.last().map_or(0, |(seq, _)| seq + 1),
            Err(CheckpointError::Missing(_)) => 0,
            Err(e) => return Err(e),
        };
        let state = State { dir, pending: Vec::new(), next_seq, since_compact: 0, written: 0, closed: false, failing: false };
        let shared = Arc::new((Mutex::new(state), Condvar::new()));
        let timer = match policy {
            Policy::Periodic(period) => {
                let shared = Arc::clone(&shared);
                Some(
                    std::thread::Builder::new()
                        .name("chervil-checkpoint".into())
                        .spawn(move || {
                            let (m, cv) = &*shared;
                            let mut s = lock(m);
                            while !s.closed {
                                let (next, timeout) = cv.wait_timeout(s, period).unwrap_or_else(|p| p.into_inner());
                                s = next;
                                if timeout.timed_out() && !s.closed {
                                    if let Err(e) = s.flush(true) {
                                        tracing::error!(error = %e, "periodic checkpoint failed");
                                    }
                                }
                            }
                        })
                        .map_err(|error| CheckpointError::Write { path: "checkpoint timer thread".into(), error })?,
                )
            }
            _ => None,
        };
        Ok(Checkpointer { policy, shared, timer })
    }

    /// A task finished with this result.
    ///
    /// Never fails the task: when the write fails (a full disk, a file system gone
    /// away), the record stays pending and is written with the next one that
    /// succeeds, or at close. Until then a killed client would run it again.
    pub fn record(&self, hash: String, payload: Vec<u8>) {
        let mut s = lock(&self.shared.0);
        s.pending.push(Record { hash, payload });
        if self.policy == Policy::TaskExit {
            // Not synced: this guards against the client dying, at the cost of a
            // rename per task; a power cut may lose the last few.
            if let Err(e) = s.flush(false) {
                if !std::mem::replace(&mut s.failing, true) {
                    tracing::error!(error = %e, "checkpoint write failed; finished tasks are kept in memory and written when writes work again");
                }
            }
        }
    }

    /// Writes what is waiting now; returns how many tasks that was.
    pub fn checkpoint(&self) -> Result<usize, CheckpointError> {
        lock(&self.shared.0).flush(true)
    }

    /// Tasks written so far by this checkpointer.
    pub fn written(&self) -> u64 {
        lock(&self.shared.0).written
    }

    /// Writes what is waiting and stops the timer. Idempotent.
    pub fn close(&mut self) -> Result<usize, CheckpointError> {
        let n = {
            let mut s = lock(&self.shared.0);
            s.closed = true;
            s.flush(true)
        };
        self.shared.1.notify_all();
        if let Some(t) = self.timer.take() {
            let _ = t.join();
        }
        n
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "final checkpoint failed");
        }
    }
}
