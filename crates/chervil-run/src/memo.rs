//! The memo table, one for both fronts: what an app call with the same memo hash gets
//! instead of running, and which results this run's checkpoint must hold.
//!
//! The table does no I/O and never encodes: a front keeps its results as it likes them
//! (the Python front as Python objects, the Rust front as encoded bytes), asks
//! [`MemoTable::lookup`] before a try, and tells [`MemoTable::succeeded`] or
//! [`MemoTable::failed`] how a memoized task ended; `succeeded` answers what, if
//! anything, to write into this run's checkpoint ([`Write`]). The rules (Parsl's, and
//! the fronts had drifted on the last two):
//! - a result is found by its hash from the moment its task ends (two identical calls
//!   running at once both run);
//! - a failure is reused within the run, so an identical call fails the same way
//!   without running, but a failure is never checkpointed;
//! - a result loaded from an earlier run's checkpoint is written into this run's
//!   checkpoint the first time it is used, so a run that loads only the last checkpoint
//!   still has it; a result reused within the run is not written twice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What a call with this hash gets.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a, R, E> {
    /// Nothing known: run it.
    Miss,
    /// An earlier task of this run (or a result loaded already decoded) succeeded.
    Done(&'a R),
    /// An earlier task of this run failed: this one fails the same way.
    Failed(&'a E),
    /// An earlier run's checkpoint holds these bytes: decode them (or, if they no
    /// longer decode, call [`MemoTable::undecodable`] and run the task).
    Checkpointed(Arc<[u8]>),
}

/// What to write into this run's checkpoint after a memoized task succeeded.
#[derive(Debug, PartialEq, Eq)]
pub enum Write {
    Nothing,
    /// The result, encoded by the front.
    Encode,
    /// These bytes, as loaded from an earlier checkpoint.
    Bytes(Arc<[u8]>),
}

/// What [`MemoTable::succeeded`] says: what to write, and the outcome the new one
/// replaced (given back so a front can drop it when it likes: a Python object's
/// destructor may run code, which should not happen while the table is locked).
#[derive(Debug, PartialEq)]
pub struct Succeeded<R, E> {
    pub write: Write,
    pub replaced: Option<Result<R, E>>,
}

/// See the module doc.
#[derive(Debug)]
pub struct MemoTable<R, E> {
    outcomes: HashMap<String, Result<R, E>>,
    /// Earlier runs' bytes, until first used.
    checkpointed: HashMap<String, Arc<[u8]>>,
    /// Results that came decoded from elsewhere (Parsl's own checkpoint files).
    preloaded: HashSet<String>,
    /// Loaded results already written into this run's checkpoint.
    carried: HashSet<String>,
    /// Whether this run writes a checkpoint at all.
    writing: bool,
}

impl<R, E> MemoTable<R, E> {
    /// A table holding earlier runs' `checkpointed` results; `writing` when this run
    /// checkpoints.
    pub fn new(checkpointed: impl IntoIterator<Item = (String, Arc<[u8]>)>, writing: bool) -> Self {
        MemoTable {
            outcomes: HashMap::new(),
            checkpointed: checkpointed.into_iter().collect(),
            preloaded: HashSet::new(),
            carried: HashSet::new(),
            writing,
        }
    }

    /// A result loaded already decoded (from Parsl's checkpoint files).
    pub fn preload(&mut self, hash: String, result: R) {
        self.preloaded.insert(hash.clone());
        self.outcomes.insert(hash, Ok(result));
    }

    /// How many results the table holds, loaded or made this run.
    pub fn len(&self) -> usize {
        self.outcomes.len() + self.checkpointed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn lookup(&self, hash: &str) -> Lookup<'_, R, E> {
        match self.outcomes.get(hash) {
            Some(Ok(r)) => Lookup::Done(r),
            Some(Err(e)) => Lookup::Failed(e),
            None => self.checkpointed.get(hash).map_or(Lookup::Miss, |b| Lookup::Checkpointed(b.clone())),
        }
    }

    /// Checkpointed bytes that no longer decode (a result whose type changed): forgotten,
    /// so the task runs again.
    pub fn undecodable(&mut self, hash: &str) {
        self.checkpointed.remove(hash);
    }

    /// A task with this hash succeeded with `result`; `from_memo` when the result came
    /// from this table. Says what to write into this run's checkpoint.
    pub fn succeeded(&mut self, hash: &str, result: R, from_memo: bool) -> Succeeded<R, E> {
        let replaced = self.outcomes.insert(hash.to_string(), Ok(result));
        Succeeded { write: self.what_to_write(hash, from_memo), replaced }
    }

    fn what_to_write(&mut self, hash: &str, from_memo: bool) -> Write {
        // From now on the outcome answers; the loaded bytes are kept only to be written.
        let loaded = self.checkpointed.remove(hash);
        if !self.writing {
            return Write::Nothing;
        }
        if !from_memo {
            return Write::Encode;
        }
        if !self.carried.insert(hash.to_string()) {
            return Write::Nothing;
        }
        match loaded {
            Some(bytes) => Write::Bytes(bytes),
            None if self.preloaded.contains(hash) => Write::Encode,
            None => Write::Nothing, // reused within this run: written when it ran
        }
    }

    /// A task with this hash failed with `error` (its own failure, not a dependency's);
    /// gives back the outcome it replaced.
    pub fn failed(&mut self, hash: &str, error: E) -> Option<Result<R, E>> {
        self.outcomes.insert(hash.to_string(), Err(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn a_result_answers_once_its_task_ended_and_is_written_once() {
        let mut t: MemoTable<i32, String> = MemoTable::new([], true);
        assert_eq!(t.lookup("h"), Lookup::Miss);
        assert_eq!(t.succeeded("h", 7, false).write, Write::Encode);
        assert_eq!(t.lookup("h"), Lookup::Done(&7));
        assert_eq!(t.succeeded("h", 7, true).write, Write::Nothing, "reused within the run");
    }

    #[test]
    fn failures_are_reused_within_the_run_and_never_written() {
        let mut t: MemoTable<i32, String> = MemoTable::new([], true);
        assert_eq!(t.failed("h", "boom".into()), None);
        assert_eq!(t.lookup("h"), Lookup::Failed(&"boom".to_string()));
        let later = t.succeeded("h", 1, false);
        assert_eq!(later.replaced, Some(Err("boom".to_string())), "a later success answers from now on");
        assert_eq!(t.lookup("h"), Lookup::Done(&1));
    }

    #[test]
    fn an_earlier_runs_result_is_carried_into_this_runs_checkpoint_once() {
        let mut t: MemoTable<String, String> = MemoTable::new([("h".to_string(), bytes("old"))], true);
        assert_eq!(t.lookup("h"), Lookup::Checkpointed(bytes("old")));
        assert_eq!(t.succeeded("h", "old".into(), true).write, Write::Bytes(bytes("old")));
        assert_eq!(t.lookup("h"), Lookup::Done(&"old".to_string()));
        assert_eq!(t.succeeded("h", "old".into(), true).write, Write::Nothing);
        // a run that does not checkpoint writes nothing
        let mut t: MemoTable<String, String> = MemoTable::new([("h".to_string(), bytes("old"))], false);
        assert_eq!(t.succeeded("h", "old".into(), true).write, Write::Nothing);
    }

    #[test]
    fn preloaded_results_are_encoded_when_first_carried() {
        let mut t: MemoTable<i32, String> = MemoTable::new([], true);
        t.preload("p".into(), 1);
        assert_eq!(t.lookup("p"), Lookup::Done(&1));
        assert_eq!(t.succeeded("p", 1, true).write, Write::Encode);
        assert_eq!(t.succeeded("p", 1, true).write, Write::Nothing);
    }

    #[test]
    fn bytes_that_do_not_decode_are_forgotten() {
        let mut t: MemoTable<i32, String> = MemoTable::new([("h".to_string(), bytes("?"))], true);
        t.undecodable("h");
        assert_eq!(t.lookup("h"), Lookup::Miss);
        assert!(t.is_empty());
    }
}
