//! Elasticity: how many blocks an executor should have, decided from snapshots.
//!
//! The [`Scaler`] is a state machine without I/O. Every `strategy_period` the
//! executor hands it a snapshot — tasks outstanding, and each block's scheduler
//! state, connected pools, tasks held and idle time — and gets back at most one
//! [`Decision`]: start so many blocks, or retire these blocks. Carrying the
//! decision out (submitting jobs, draining pools, cancelling jobs) is the caller's
//! business, so tests drive the rules with made-up snapshots and a made-up clock.
//!
//! The rules are Parsl's strategies, so a config tuned for Parsl behaves the same:
//! - `none`: the initial blocks, nothing more.
//! - `simple`: scale out while tasks outnumber `slots × parallelism`; when no task
//!   has been outstanding for `max_idletime`, scale in to `min_blocks`.
//! - `htex_auto_scale`: as `simple`, and also scale in blocks that hold no task and
//!   have been idle for `max_idletime` while other blocks are busy.
//!
//! Beyond Parsl, blocks that ended (failed, timed out, cancelled outside the run)
//! are replaced to keep `min_blocks`, and a block is only ever retired when it
//! holds no task: the caller drains it first (see `retire_block` in the
//! interchange), so scaling in never costs a running task.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chervil_providers::JobState;

pub mod book;
pub mod report;

pub use book::{initial_blocks, BlockBook, Change, Load, NewBlock};
pub use report::{block_failure_report, BlockOutput, FailedBlock};

/// The name a block's job is submitted under (`chervil.<executor>.block-<id>`), so a
/// scheduler's queue shows whose and which block each job is; both fronts name them so.
pub fn block_job_name(executor: &str, block: &str) -> String {
    format!("chervil.{executor}.block-{block}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    None,
    Simple,
    HtexAutoScale,
}

impl Strategy {
    /// Parsl's names; `None` (Python's) means `'none'`.
    pub fn parse(name: Option<&str>) -> Result<Self, String> {
        match name {
            None | Some("none") => Ok(Strategy::None),
            Some("simple") => Ok(Strategy::Simple),
            Some("htex_auto_scale") => Ok(Strategy::HtexAutoScale),
            Some(other) => Err(format!("strategy {other:?} is unknown; choose 'simple', 'htex_auto_scale' or 'none'")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub min_blocks: u32,
    pub max_blocks: u32,
    /// 0..=1: how eagerly to start blocks for waiting tasks (1 = a slot per task).
    pub parallelism: f64,
    /// Workers per node × nodes per block.
    pub slots_per_block: f64,
    pub max_idletime: Duration,
}

/// One block as the executor sees it now.
#[derive(Debug, Clone)]
pub struct BlockView {
    pub id: String,
    /// The scheduler's word on the block's job.
    pub state: JobState,
    /// Pools of this block connected to the interchange.
    pub pools: usize,
    /// Tasks those pools hold.
    pub held: usize,
    /// How long every pool of the block has held nothing (None while any is busy).
    /// Only read for connected blocks; for the others the scaler counts from when
    /// it first saw the block.
    pub idle_for: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    ScaleOut { blocks: u32, reason: String },
    /// Retire these blocks (each holds no task now); the reason is for the log.
    ScaleIn { blocks: Vec<String>, reason: String },
}

pub struct Scaler {
    strategy: Strategy,
    limits: Limits,
    /// Since when the executor has had no outstanding task (`simple`'s idle timer).
    idle_since: Option<Instant>,
    first_seen: HashMap<String, Instant>,
    /// Blocks handed out for retirement: no longer counted, never chosen twice.
    retiring: HashSet<String>,
}

fn is_active(s: JobState) -> bool {
    matches!(s, JobState::Running | JobState::Pending)
}

impl Scaler {
    pub fn new(strategy: Strategy, mut limits: Limits) -> Self {
        limits.slots_per_block = limits.slots_per_block.max(1.0);
        limits.parallelism = limits.parallelism.clamp(0.0, 1.0);
        Scaler { strategy, limits, idle_since: None, first_seen: HashMap::new(), retiring: HashSet::new() }
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The caller could not retire `block` after all (a task reached it first): it
    /// counts as active again.
    pub fn keep(&mut self, block: &str) {
        self.retiring.remove(block);
    }

    /// One round of the strategy.
    pub fn step(&mut self, now: Instant, outstanding: usize, blocks: &[BlockView]) -> Option<Decision> {
        if self.strategy == Strategy::None {
            return None;
        }
        let active: Vec<&BlockView> = blocks.iter().filter(|b| is_active(b.state) && !self.retiring.contains(&b.id)).collect();
        // A set, not a scan per entry: at ten thousand blocks the scan made each step 67 ms.
        let active_ids: HashSet<&str> = active.iter().map(|b| b.id.as_str()).collect();
        self.first_seen.retain(|id, _| active_ids.contains(id.as_str()));
        for b in &active {
            self.first_seen.entry(b.id.clone()).or_insert(now);
        }
        let l = &self.limits;
        let n_active = active.len() as u32;
        let slots = f64::from(n_active) * l.slots_per_block;
        if outstanding > 0 {
            self.idle_since = None;
        }

        if n_active < l.min_blocks {
            let ended = blocks.iter().filter(|b| b.state.is_terminal() && !self.retiring.contains(&b.id)).count();
            return Some(Decision::ScaleOut {
                blocks: l.min_blocks - n_active,
                reason: format!("{n_active} active blocks is below min_blocks={} ({ended} blocks have ended)", l.min_blocks),
            });
        }
        if outstanding == 0 {
            if n_active <= l.min_blocks {
                return None;
            }
            let since = *self.idle_since.get_or_insert(now);
            let idle = now.saturating_duration_since(since);
            if idle < l.max_idletime {
                return None;
            }
            let want = (n_active - l.min_blocks) as usize;
            let reason = format!("no task for {:.1} s (max_idletime={} s); down to min_blocks={}", idle.as_secs_f64(), l.max_idletime.as_secs_f64(), l.min_blocks);
            return self.retire(now, &active, want, Duration::ZERO, reason);
        }
        let tasks = outstanding as f64;
        if slots / tasks < l.parallelism {
            if n_active >= l.max_blocks {
                return None;
            }
            let excess_slots = (tasks * l.parallelism - slots).ceil();
            let excess = ((excess_slots / l.slots_per_block).ceil() as u32).min(l.max_blocks - n_active);
            return (excess > 0).then(|| Decision::ScaleOut {
                blocks: excess,
                reason: format!("{outstanding} tasks outstanding for {slots} slots in {n_active} blocks (parallelism={}, max_blocks={})", l.parallelism, l.max_blocks),
            });
        }
        if slots == 0.0 {
            return (n_active < l.max_blocks).then(|| Decision::ScaleOut { blocks: 1, reason: format!("{outstanding} tasks outstanding and no slots") });
        }
        if slots > tasks && self.strategy == Strategy::HtexAutoScale && n_active > l.min_blocks {
            let excess_slots = (slots - tasks * l.parallelism).floor();
            let excess = ((excess_slots / l.slots_per_block).floor() as u32).min(n_active - l.min_blocks) as usize;
            if excess > 0 {
                let reason = format!("{slots} slots for {outstanding} tasks; retiring blocks idle for max_idletime={} s", l.max_idletime.as_secs_f64());
                return self.retire(now, &active, excess, l.max_idletime, reason);
            }
        }
        None
    }

    /// Up to `want` blocks that hold nothing and have been idle at least
    /// `min_idle`: blocks that never connected first (they cost nothing to drop),
    /// then the longest idle.
    fn retire(&mut self, now: Instant, active: &[&BlockView], want: usize, min_idle: Duration, reason: String) -> Option<Decision> {
        let mut idle: Vec<(bool, Duration, &str)> = active
            .iter()
            .filter_map(|b| {
                let for_ = if b.pools == 0 {
                    now.saturating_duration_since(*self.first_seen.get(&b.id).unwrap_or(&now))
                } else if b.held == 0 {
                    b.idle_for?
                } else {
                    return None;
                };
                (for_ >= min_idle).then_some((b.pools > 0, for_, b.id.as_str()))
            })
            .collect();
        idle.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let chosen: Vec<String> = idle.into_iter().take(want).map(|(_, _, id)| id.to_string()).collect();
        if chosen.is_empty() {
            return None;
        }
        self.retiring.extend(chosen.iter().cloned());
        Some(Decision::ScaleIn { blocks: chosen, reason })
    }
}

fn failed(s: JobState) -> bool {
    matches!(s, JobState::Failed | JobState::Missing)
}

/// What stops an executor whose blocks fail (Parsl's `block_error_handler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockErrorHandler {
    /// Parsl's default (`True`, `simple_error_handler`): once every block started has
    /// failed, and there have been at least `max(1, init_blocks)` of them.
    #[default]
    Simple,
    /// Parsl's `windowed_error_handler`: once the last `threshold` blocks started failed.
    Windowed { threshold: usize },
    /// Parsl's `False` (`noop_error_handler`): never; failed blocks are replaced (up to
    /// `max_blocks`) while tasks wait — for blocks that die for reasons that pass.
    KeepGoing,
}

impl BlockErrorHandler {
    /// Whether the executor stops, given its blocks' states in the order they were
    /// started; `Some` says why in a few words (the report's header).
    pub fn stops(self, states_in_order: &[JobState], init_blocks: u32) -> Option<String> {
        match self {
            BlockErrorHandler::Simple => all_blocks_failed(states_in_order, init_blocks.max(1) as usize).then(|| "every block failed".to_string()),
            BlockErrorHandler::Windowed { threshold } => {
                last_blocks_failed(states_in_order, threshold).then(|| format!("the last {} blocks failed", threshold.max(1)))
            }
            BlockErrorHandler::KeepGoing => None,
        }
    }
}

/// Parsl's `simple_error_handler`: every block so far has failed, and there have
/// been at least `threshold` of them (Parsl uses `max(1, init_blocks)`).
pub fn all_blocks_failed(states: &[JobState], threshold: usize) -> bool {
    states.len() >= threshold.max(1) && states.iter().all(|s| failed(*s))
}

/// Parsl's `windowed_error_handler`: the last `threshold` blocks (in the order
/// they were started) all failed.
pub fn last_blocks_failed(states_in_order: &[JobState], threshold: usize) -> bool {
    let threshold = threshold.max(1);
    states_in_order.len() >= threshold && states_in_order[states_in_order.len() - threshold..].iter().all(|s| failed(*s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(min: u32, max: u32) -> Limits {
        Limits { min_blocks: min, max_blocks: max, parallelism: 1.0, slots_per_block: 2.0, max_idletime: Duration::from_secs(10) }
    }

    fn block(id: &str, state: JobState, pools: usize, held: usize, idle: Option<u64>) -> BlockView {
        BlockView { id: id.into(), state, pools, held, idle_for: idle.map(Duration::from_secs) }
    }

    fn out(d: Option<Decision>) -> u32 {
        match d {
            Some(Decision::ScaleOut { blocks, .. }) => blocks,
            other => panic!("expected a scale-out, got {other:?}"),
        }
    }

    fn ins(d: Option<Decision>) -> Vec<String> {
        match d {
            Some(Decision::ScaleIn { blocks, .. }) => blocks,
            other => panic!("expected a scale-in, got {other:?}"),
        }
    }

    #[test]
    fn none_never_moves() {
        let mut s = Scaler::new(Strategy::None, limits(2, 5));
        assert_eq!(s.step(Instant::now(), 100, &[]), None);
    }

    #[test]
    fn scales_out_for_waiting_tasks_up_to_max_blocks() {
        let t = Instant::now();
        let mut s = Scaler::new(Strategy::Simple, limits(0, 4));
        let one = [block("0", JobState::Running, 1, 2, None)];
        // 7 tasks, 2 slots: 5 more slots → 3 blocks
        assert_eq!(out(s.step(t, 7, &one)), 3);
        // 100 tasks: capped by max_blocks
        assert_eq!(out(s.step(t, 100, &one)), 3);
        let four: Vec<BlockView> = (0..4).map(|i| block(&i.to_string(), JobState::Pending, 0, 0, None)).collect();
        assert_eq!(s.step(t, 100, &four), None, "at max_blocks");
        // tasks ≈ slots: nothing
        assert_eq!(s.step(t, 2, &one), None);
    }

    #[test]
    fn parallelism_scales_the_want() {
        let mut l = limits(0, 10);
        l.parallelism = 0.5;
        let mut s = Scaler::new(Strategy::Simple, l);
        // 20 tasks × 0.5 = 10 slots wanted, 0 held → 5 blocks
        assert_eq!(out(s.step(Instant::now(), 20, &[])), 5);
        let mut l = limits(0, 10);
        l.parallelism = 0.0;
        let mut s = Scaler::new(Strategy::Simple, l);
        assert_eq!(out(s.step(Instant::now(), 20, &[])), 1, "parallelism 0: one block when there is none");
    }

    #[test]
    fn replaces_ended_blocks_to_keep_min_blocks() {
        let mut s = Scaler::new(Strategy::Simple, limits(2, 4));
        let blocks = [block("0", JobState::Failed, 0, 0, None), block("1", JobState::Running, 1, 0, Some(0))];
        match s.step(Instant::now(), 0, &blocks) {
            Some(Decision::ScaleOut { blocks: 1, reason }) => assert!(reason.contains("1 blocks have ended"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn simple_scales_in_after_max_idletime_without_tasks() {
        let t = Instant::now();
        let mut s = Scaler::new(Strategy::Simple, limits(1, 4));
        let blocks = [
            block("0", JobState::Running, 1, 0, Some(30)),
            block("1", JobState::Running, 1, 0, Some(50)),
            block("2", JobState::Pending, 0, 0, None),
        ];
        assert_eq!(s.step(t, 0, &blocks), None, "idle timer starts");
        assert_eq!(s.step(t + Duration::from_secs(9), 0, &blocks), None);
        // the never-connected block first, then the longest idle; one kept for min_blocks
        assert_eq!(ins(s.step(t + Duration::from_secs(10), 0, &blocks)), ["2", "1"]);
        // retiring blocks are not counted again, nor chosen twice
        assert_eq!(s.step(t + Duration::from_secs(11), 0, &blocks), None);
        // a task resets the timer
        s.keep("1");
        assert_eq!(s.step(t + Duration::from_secs(12), 1, &blocks), None);
        assert_eq!(s.step(t + Duration::from_secs(13), 0, &blocks), None);
    }

    #[test]
    fn simple_keeps_extra_blocks_while_tasks_run() {
        let t = Instant::now();
        let mut s = Scaler::new(Strategy::Simple, limits(0, 4));
        let blocks = [block("0", JobState::Running, 1, 1, None), block("1", JobState::Running, 1, 0, Some(100))];
        assert_eq!(s.step(t, 1, &blocks), None);
        assert_eq!(s.step(t + Duration::from_secs(100), 1, &blocks), None, "simple never retires while tasks are outstanding");
    }

    #[test]
    fn htex_auto_scale_retires_only_idle_blocks_holding_nothing() {
        let t = Instant::now();
        let mut s = Scaler::new(Strategy::HtexAutoScale, limits(0, 4));
        let blocks = [
            block("0", JobState::Running, 1, 1, None),
            block("1", JobState::Running, 1, 0, Some(5)),
            block("2", JobState::Running, 1, 0, Some(20)),
            block("3", JobState::Running, 1, 0, Some(60)),
        ];
        // 1 task, 8 slots: 3 blocks spare, but "1" has been idle only 5 s
        assert_eq!(ins(s.step(t, 1, &blocks)), ["3", "2"]);
        assert_eq!(s.step(t, 1, &blocks), None, "already retiring; the rest is busy or not idle long enough");
    }

    /// Parsl's issue 3696 (its test `test_regression_3696_oscillation`): with
    /// `htex_auto_scale` and `max_idletime=0`, blocks started for a load must not be
    /// scaled in at the next round while that load waits, and must all go once it is gone.
    #[test]
    fn a_block_is_not_scaled_in_while_its_tasks_are_outstanding() {
        // (tasks, workers a block, blocks expected), Parsl's cases
        for (tasks, workers, want) in [(14, 48, 1), (1, 1, 1), (100, 1, 20), (47, 48, 1), (48, 48, 1), (49, 48, 2), (149, 50, 3)] {
            let t = Instant::now();
            let limits = Limits { min_blocks: 0, max_blocks: 20, parallelism: 1.0, slots_per_block: f64::from(workers), max_idletime: Duration::ZERO };
            let mut s = Scaler::new(Strategy::HtexAutoScale, limits);
            assert_eq!(out(s.step(t, tasks, &[])), want, "{tasks} tasks, {workers} workers a block");
            let pending: Vec<BlockView> = (0..want).map(|i| block(&i.to_string(), JobState::Pending, 0, 0, None)).collect();
            assert_eq!(s.step(t, tasks, &pending), None, "{tasks} tasks, {workers} workers a block: no oscillation");
            assert_eq!(ins(s.step(t, 0, &pending)).len(), want as usize, "no load: every block goes");
        }
    }

    #[test]
    fn failure_handlers() {
        use JobState::*;
        assert!(!all_blocks_failed(&[], 1));
        assert!(all_blocks_failed(&[Failed], 1));
        assert!(!all_blocks_failed(&[Failed], 2), "needs threshold blocks");
        assert!(all_blocks_failed(&[Failed, Missing], 2));
        assert!(!all_blocks_failed(&[Failed, Running], 1));
        assert!(last_blocks_failed(&[Completed, Failed, Failed, Failed], 3));
        assert!(!last_blocks_failed(&[Failed, Failed, Running], 3));
        assert!(!last_blocks_failed(&[Failed, Failed], 3));
    }

    #[test]
    fn error_handlers_say_why_they_stop() {
        use JobState::*;
        assert_eq!(BlockErrorHandler::Simple.stops(&[Failed], 0).as_deref(), Some("every block failed"));
        assert_eq!(BlockErrorHandler::Simple.stops(&[Failed], 2), None, "fewer than init_blocks so far");
        let w = BlockErrorHandler::Windowed { threshold: 2 };
        assert_eq!(w.stops(&[Running, Failed, Failed], 1).as_deref(), Some("the last 2 blocks failed"));
        assert_eq!(w.stops(&[Failed, Running], 1), None);
        assert_eq!(BlockErrorHandler::KeepGoing.stops(&[Failed, Failed, Failed], 1), None);
    }

    #[test]
    fn parses_parsl_names() {
        assert_eq!(Strategy::parse(Some("htex_auto_scale")), Ok(Strategy::HtexAutoScale));
        assert_eq!(Strategy::parse(None), Ok(Strategy::None));
        assert!(Strategy::parse(Some("fast")).unwrap_err().contains("'simple'"));
    }
}
