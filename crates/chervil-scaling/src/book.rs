//! An executor's blocks, kept once for both fronts: which blocks exist, which job
//! each is, what the scheduler last said of it, and when to ask again.
//!
//! [`BlockBook`] does no I/O. The front asks it what to do (a new block's id and job
//! name, which jobs to poll and whether a poll is due, which blocks to retire and
//! which jobs to cancel), does it through its provider, and tells the book what
//! happened. Every state a block enters is returned as a [`Change`], once, so the
//! front's log and the monitoring database see the same steps on either front.
//!
//! The rules (Parsl's, and the fronts had drifted on each before this book):
//! - a run starts `max(init_blocks, min_blocks)` blocks;
//! - a poll asks only about blocks not yet ended, at most every
//!   `status_polling_interval` (sooner after [`BlockBook::poll_soon`], which the
//!   executor calls when a pool leaves), and an ended block's state is final;
//! - a poll that fails leaves every block's state as it was (it is not news that a
//!   block is `UNKNOWN`), and waits for the next interval;
//! - a block that could not be started counts as a failed block, so the error
//!   handler weighs it with the rest;
//! - a retired block, and every block not yet ended at shutdown, is `SCALED_IN`;
//! - for an executor whose pools register with an interchange (HTEX), a block that
//!   ended — or was never started — without any of its pools registering is `MISSING`
//!   (Parsl's HTEX `status()` rule): an `exit` in `worker_init`, a pool that cannot
//!   reach the interchange, a provider that refused it. The error handlers count it as
//!   failed, so such blocks stop the run with their output rather than being replaced
//!   for ever.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chervil_providers::{JobState, JobStatus};

use crate::{block_job_name, BlockView};

/// A block's state changed: for the log and for monitoring's `block` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub block: String,
    /// The provider's job id, once it has one (not for a block that failed to start).
    pub job: Option<String>,
    pub state: JobState,
    pub message: Option<String>,
}

/// A block to start: its id and the name its job is submitted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlock {
    pub id: String,
    pub job_name: String,
}

/// What a block's pools are doing, as the interchange sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Load {
    pub pools: usize,
    pub held: usize,
    /// How long every pool of the block has held nothing (None while any is busy).
    pub idle_for: Option<Duration>,
}

#[derive(Debug, Clone)]
struct Block {
    job: Option<String>,
    status: JobStatus,
}

/// See the module doc.
#[derive(Debug, Clone)]
pub struct BlockBook {
    label: String,
    /// Block ids are numbers handed out here, kept in the order they were started.
    blocks: BTreeMap<u64, Block>,
    next: u64,
    poll_every: Duration,
    last_poll: Option<Instant>,
}

/// Parsl's rule for executors whose pools register: a block that ended (not scaled in)
/// before any of its pools registered is `MISSING`, keeping what the provider said.
fn never_registered(block: &str, mut answer: JobStatus, registered: Option<&[String]>) -> JobStatus {
    let Some(seen) = registered else { return answer };
    let ended = answer.state.is_terminal() && !matches!(answer.state, JobState::ScaledIn | JobState::Missing);
    if ended && !seen.iter().any(|b| b == block) {
        let how = match answer.exit_code {
            Some(code) => format!("ended (exit code {code}, {})", answer.state.name()),
            None => format!("ended ({})", answer.state.name()),
        };
        let why = format!(
            "block {block} {how} before any of its pools registered with the interchange: they failed to start \
             or could not reach it; its output is in the run's submit_scripts directory"
        );
        answer.message = Some(match answer.message.take() {
            Some(own) => format!("{why}: {own}"),
            None => why,
        });
        answer.state = JobState::Missing;
    }
    answer
}

fn status(state: JobState, message: Option<String>) -> JobStatus {
    JobStatus { state, message, exit_code: None, stdout_path: None, stderr_path: None }
}

/// The blocks a run starts with (Parsl's: `max(init_blocks, min_blocks)`).
pub fn initial_blocks(init_blocks: u32, min_blocks: u32) -> u32 {
    init_blocks.max(min_blocks)
}

impl BlockBook {
    /// The book of executor `label`, polling its provider at most every `poll_every`.
    pub fn new(label: impl Into<String>, poll_every: Duration) -> Self {
        BlockBook { label: label.into(), blocks: BTreeMap::new(), next: 0, poll_every, last_poll: None }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// From now on the provider is polled at most every `every` (a script may change
    /// its provider's `status_polling_interval` while the run goes).
    pub fn set_poll_every(&mut self, every: Duration) {
        self.poll_every = every;
    }

    /// The next block's id and job name; [`started`](Self::started) or
    /// [`start_failed`](Self::start_failed) says how it went.
    pub fn next_block(&mut self) -> NewBlock {
        let id = self.next.to_string();
        self.next += 1;
        let job_name = block_job_name(&self.label, &id);
        NewBlock { id, job_name }
    }

    fn key(block: &str) -> Option<u64> {
        block.parse().ok()
    }

    /// Block `block` was submitted as job `job`: it is `PENDING`.
    pub fn started(&mut self, block: &str, job: &str) -> Change {
        self.enter(block, Some(job.to_string()), status(JobState::Pending, None))
    }

    /// Block `block` could not be started: a failed block, with why (`MISSING` when
    /// `pools_register`: no pool of it ever will).
    pub fn start_failed(&mut self, block: &str, why: &str, pools_register: bool) -> Change {
        let state = if pools_register { JobState::Missing } else { JobState::Failed };
        self.enter(block, None, status(state, Some(why.to_string())))
    }

    fn enter(&mut self, block: &str, job: Option<String>, status: JobStatus) -> Change {
        let change = Change { block: block.to_string(), job: job.clone(), state: status.state, message: status.message.clone() };
        if let Some(key) = Self::key(block) {
            self.next = self.next.max(key + 1);
            self.blocks.insert(key, Block { job, status });
        }
        change
    }

    /// Whether a poll is due at `now`.
    pub fn poll_due(&self, now: Instant) -> bool {
        self.last_poll.is_none_or(|t| now.saturating_duration_since(t) >= self.poll_every)
    }

    /// The next round polls, however recent the last poll: a pool left, so its block
    /// may have ended (on a batch scheduler the interval is a minute, and a block whose
    /// pool was killed would count as running — and not be replaced — until then).
    pub fn poll_soon(&mut self) {
        self.last_poll = None;
    }

    /// The blocks not yet ended and their jobs: what a poll asks about.
    pub fn live_jobs(&self) -> Vec<(String, String)> {
        self.blocks
            .iter()
            .filter(|(_, b)| !b.status.state.is_terminal())
            .filter_map(|(k, b)| Some((k.to_string(), b.job.clone()?)))
            .collect()
    }

    /// The provider answered a poll at `now`: `answers` pairs a block with its job's
    /// status. A block already ended keeps its state. `registered` lists the blocks
    /// whose pools ever registered, for an executor whose pools do (None otherwise).
    pub fn polled(
        &mut self,
        now: Instant,
        answers: impl IntoIterator<Item = (String, JobStatus)>,
        registered: Option<&[String]>,
    ) -> Vec<Change> {
        self.last_poll = Some(now);
        let mut changes = Vec::new();
        for (block, answer) in answers {
            let answer = never_registered(&block, answer, registered);
            let Some(b) = Self::key(&block).and_then(|k| self.blocks.get_mut(&k)) else { continue };
            if b.status.state.is_terminal() {
                continue;
            }
            if b.status.state != answer.state {
                changes.push(Change { block, job: b.job.clone(), state: answer.state, message: answer.message.clone() });
            }
            b.status = answer;
        }
        changes
    }

    /// The provider could not answer at `now`: states stay as they were until the next poll.
    pub fn poll_failed(&mut self, now: Instant) {
        self.last_poll = Some(now);
    }

    /// Every block in the order started, with its job and last status.
    pub fn blocks(&self) -> impl Iterator<Item = (String, Option<&str>, &JobStatus)> + '_ {
        self.blocks.iter().map(|(k, b)| (k.to_string(), b.job.as_deref(), &b.status))
    }

    /// The job states in the order blocks were started (what the error handlers weigh).
    pub fn states(&self) -> Vec<JobState> {
        self.blocks.values().map(|b| b.status.state).collect()
    }

    /// Blocks whose jobs are pending or running.
    pub fn active(&self) -> usize {
        self.blocks.values().filter(|b| matches!(b.status.state, JobState::Pending | JobState::Running)).count()
    }

    /// The strategy's snapshot: each block with its pools' `load` (none connected when absent).
    pub fn views(&self, load: impl Fn(&str) -> Option<Load>) -> Vec<BlockView> {
        self.blocks
            .iter()
            .map(|(k, b)| {
                let id = k.to_string();
                let l = load(&id).unwrap_or_default();
                BlockView { id, state: b.status.state, pools: l.pools, held: l.held, idle_for: l.idle_for }
            })
            .collect()
    }

    /// Up to `n` blocks not yet ended to scale in when asked directly (Parsl's
    /// `scale_in(n)`): blocks with no pool first, then those holding fewest tasks,
    /// then the longest idle. With `max_idletime`, only blocks with no pool or idle
    /// that long are chosen, so there may be fewer; without it busy blocks are taken
    /// too (their tasks are lost and retried as retries allow).
    pub fn choose_to_retire(&self, n: usize, max_idletime: Option<Duration>, load: impl Fn(&str) -> Option<Load>) -> Vec<String> {
        let mut live: Vec<(String, Load)> = self
            .blocks
            .iter()
            .filter(|(_, b)| !b.status.state.is_terminal())
            .map(|(k, _)| {
                let id = k.to_string();
                let l = load(&id).unwrap_or_default();
                (id, l)
            })
            .collect();
        live.sort_by(|(_, a), (_, b)| {
            (a.pools > 0, a.held)
                .cmp(&(b.pools > 0, b.held))
                .then(b.idle_for.unwrap_or_default().cmp(&a.idle_for.unwrap_or_default()))
        });
        live.into_iter()
            .filter(|(_, l)| match max_idletime {
                None => true,
                Some(min) => l.pools == 0 || (l.held == 0 && l.idle_for.unwrap_or_default() >= min),
            })
            .take(n)
            .map(|(id, _)| id)
            .collect()
    }

    /// `blocks` were retired (their pools drained): the jobs to cancel, and each block
    /// is now `SCALED_IN`.
    pub fn retired(&mut self, blocks: &[String]) -> (Vec<String>, Vec<Change>) {
        let mut jobs = Vec::new();
        let mut changes = Vec::new();
        for block in blocks {
            let Some(b) = Self::key(block).and_then(|k| self.blocks.get_mut(&k)) else { continue };
            jobs.extend(b.job.clone());
            if b.status.state != JobState::ScaledIn {
                b.status = status(JobState::ScaledIn, None);
                changes.push(Change { block: block.clone(), job: b.job.clone(), state: JobState::ScaledIn, message: None });
            }
        }
        (jobs, changes)
    }

    /// At shutdown: every job to cancel (also those believed ended: a scheduler's answer
    /// may lag, and a job left queued costs the user), and every block not yet ended is
    /// now `SCALED_IN`.
    pub fn shutdown(&mut self) -> (Vec<String>, Vec<Change>) {
        let jobs: Vec<String> = self.blocks.values().filter_map(|b| b.job.clone()).collect();
        let live: Vec<String> = self.blocks.iter().filter(|(_, b)| !b.status.state.is_terminal()).map(|(k, _)| k.to_string()).collect();
        let (_, changes) = self.retired(&live);
        (jobs, changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(state: JobState) -> JobStatus {
        status(state, None)
    }

    fn start(book: &mut BlockBook) -> String {
        let b = book.next_block();
        book.started(&b.id, &format!("job{}", b.id));
        b.id
    }

    #[test]
    fn names_and_numbers_blocks_in_order() {
        let mut book = BlockBook::new("htex", Duration::from_secs(5));
        let b = book.next_block();
        assert_eq!(b, NewBlock { id: "0".into(), job_name: "chervil.htex.block-0".into() });
        let c = book.started(&b.id, "123");
        assert_eq!((c.state, c.job.as_deref()), (JobState::Pending, Some("123")));
        for _ in 0..10 {
            start(&mut book);
        }
        let order: Vec<String> = book.blocks().map(|(id, _, _)| id).collect();
        assert_eq!(order[..3], ["0", "1", "2"]);
        assert_eq!(order.last().map(String::as_str), Some("10"), "numeric order, not text order");
        assert_eq!(initial_blocks(1, 3), 3);
    }

    #[test]
    fn a_block_that_cannot_start_counts_as_failed() {
        let mut book = BlockBook::new("htex", Duration::ZERO);
        let b = book.next_block();
        let c = book.start_failed(&b.id, "sbatch: error: invalid partition", false);
        assert_eq!((c.state, c.job), (JobState::Failed, None));
        assert_eq!(book.states(), [JobState::Failed]);
        assert!(book.live_jobs().is_empty(), "nothing to poll");
        assert_eq!(book.next_block().id, "1");
    }

    #[test]
    fn polls_only_live_blocks_on_the_interval_and_reports_each_change_once() {
        let t = Instant::now();
        let mut book = BlockBook::new("htex", Duration::from_secs(60));
        let a = start(&mut book);
        let b = start(&mut book);
        assert!(book.poll_due(t), "never polled");
        let changes = book.polled(t, [(a.clone(), answer(JobState::Running)), (b.clone(), answer(JobState::Pending))], None);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!((changes[0].block.as_str(), changes[0].state), (a.as_str(), JobState::Running));
        assert!(!book.poll_due(t + Duration::from_secs(59)));
        book.poll_soon();
        assert!(book.poll_due(t + Duration::from_secs(1)), "a pool left");
        let changes = book.polled(t, [(a.clone(), answer(JobState::Failed)), (b.clone(), answer(JobState::Pending))], None);
        assert_eq!(changes.iter().map(|c| c.state).collect::<Vec<_>>(), [JobState::Failed]);
        assert_eq!(book.live_jobs(), [(b.clone(), "job1".to_string())]);
        // an ended block's state is final
        assert!(book.polled(t, [(a, answer(JobState::Running))], None).is_empty());
        assert_eq!(book.states(), [JobState::Failed, JobState::Pending]);
    }

    #[test]
    fn a_block_that_ends_before_any_pool_registers_is_missing_when_pools_register() {
        let t = Instant::now();
        let mut book = BlockBook::new("htex", Duration::ZERO);
        let (a, b, c, d) = (start(&mut book), start(&mut book), start(&mut book), start(&mut book));
        let registered = [a.clone(), c.clone()];
        let mut ended = answer(JobState::Completed);
        ended.exit_code = Some(0);
        let changes = book.polled(
            t,
            [(a.clone(), ended.clone()), (b.clone(), ended.clone()), (c.clone(), answer(JobState::Running)), (d.clone(), answer(JobState::Running))],
            Some(&registered),
        );
        let got: Vec<_> = changes.iter().map(|c| (c.block.as_str(), c.state)).collect();
        assert_eq!(got, [(a.as_str(), JobState::Completed), (b.as_str(), JobState::Missing), (c.as_str(), JobState::Running), (d.as_str(), JobState::Running)]);
        let why = changes[1].message.as_deref().unwrap_or_default();
        assert!(why.contains("exit code 0") && why.contains("before any of its pools registered"), "{why}");
        // a running block without a pool yet is just slow; without pools to register, no rule
        let mut plain = BlockBook::new("wq", Duration::ZERO);
        let e = start(&mut plain);
        assert_eq!(plain.polled(t, [(e, ended)], None)[0].state, JobState::Completed);
        // a refused block never will register
        let f = book.next_block();
        assert_eq!(book.start_failed(&f.id, "sbatch: error", true).state, JobState::Missing);
    }

    #[test]
    fn a_failed_poll_changes_nothing_and_waits_for_the_interval() {
        let t = Instant::now();
        let mut book = BlockBook::new("htex", Duration::from_secs(60));
        start(&mut book);
        book.poll_failed(t);
        assert_eq!(book.states(), [JobState::Pending]);
        assert!(!book.poll_due(t + Duration::from_secs(1)));
    }

    #[test]
    fn retiring_and_shutdown_scale_in_what_has_not_ended() {
        let mut book = BlockBook::new("htex", Duration::ZERO);
        let a = start(&mut book);
        let b = start(&mut book);
        let c = start(&mut book);
        book.polled(Instant::now(), [(c.clone(), answer(JobState::Completed))], None);
        let (jobs, changes) = book.retired(std::slice::from_ref(&a));
        assert_eq!(jobs, ["job0"]);
        assert_eq!(changes.iter().map(|c| (c.block.as_str(), c.state)).collect::<Vec<_>>(), [(a.as_str(), JobState::ScaledIn)]);
        let (jobs, changes) = book.shutdown();
        assert_eq!(jobs, ["job0", "job1", "job2"], "every job is cancelled");
        assert_eq!(changes.iter().map(|c| c.block.as_str()).collect::<Vec<_>>(), [b.as_str()], "only the one not ended");
        assert_eq!(book.active(), 0);
    }

    #[test]
    fn chooses_blocks_to_scale_in_idle_first() {
        let mut book = BlockBook::new("htex", Duration::ZERO);
        for _ in 0..4 {
            start(&mut book);
        }
        let load = |id: &str| match id {
            "0" => Some(Load { pools: 1, held: 3, idle_for: None }),
            "1" => Some(Load { pools: 1, held: 0, idle_for: Some(Duration::from_secs(5)) }),
            "2" => Some(Load { pools: 1, held: 0, idle_for: Some(Duration::from_secs(50)) }),
            _ => None, // never connected
        };
        assert_eq!(book.choose_to_retire(4, None, load), ["3", "2", "1", "0"]);
        assert_eq!(book.choose_to_retire(4, Some(Duration::from_secs(10)), load), ["3", "2"]);
        assert_eq!(book.choose_to_retire(1, None, load), ["3"]);
    }
}
