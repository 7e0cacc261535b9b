//! The pool's decisions, without I/O: which worker runs which task, what goes into
//! each worker's pipe, what a worker's death does to its tasks, MPI tasks waiting for
//! nodes. Events in (tasks and functions from the interchange, a worker's reply or
//! death), frames for the workers' pipes and results out; the shell (`pool::run`) moves
//! the bytes, starts and reaps the processes, keeps the clock and samples `/proc`. Tests
//! drive it with plain calls, as the interchange's dispatch core is driven.
//!
//! The rules:
//! - a queued task goes to an idle worker; when more tasks are queued than workers are
//!   idle (the interchange prefetched), one more goes into each busy worker's pipe
//!   behind its task, so a worker goes from task to task without a round trip through
//!   the pool (never in MPI mode, where a task waits for its nodes);
//! - a worker is sent a function once, before its first task that calls it;
//! - a worker that dies loses the task it was running (`WorkerLost`, with how it died);
//!   the task piped behind it never started, so it goes back to the front of the queue;
//!   a write to a worker whose pipe is gone puts the task back the same way;
//! - three workers in a row dying young (within 10 s, never having answered) stop the
//!   pool: they will not start (a broken environment), and a loop of restarts helps no one;
//! - in MPI mode a task with a resource specification waits for its nodes (first come,
//!   first served, `chervil_mpi::NodeScheduler`), runs with `$PARSL_MPI_PREFIX` and the
//!   rest of Parsl's environment, and frees its nodes when it ends or its worker dies;
//!   a specification this pool cannot serve is refused at once, saying why.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use chervil_mpi::prefix::{self, Launcher};
use chervil_mpi::spec::Value;
use chervil_mpi::{MpiSpec, NodeScheduler};
use chervil_proto::worker::{encode_env, encode_function, encode_request_frame};
use chervil_proto::{encode_frame, Outcome, TaskMsg, TaskResult};

/// A worker younger than this that dies without ever answering died young.
const YOUNG: Duration = Duration::from_secs(10);
/// That many young deaths in a row stop the pool.
const YOUNG_DEATHS: u32 = 3;

/// A worker's death, to be replaced: the task it was running, now `WorkerLost`.
#[derive(Debug, PartialEq, Eq)]
pub struct Death {
    pub lost: Option<u64>,
}

/// Workers keep dying before they answer: the pool stops.
#[derive(Debug, PartialEq, Eq)]
pub struct Crashing {
    pub rank: usize,
    pub deaths: u32,
    pub how: String,
}

#[derive(Debug)]
struct Slot {
    gen: u64,
    task: Option<u64>,
    /// When `task` was handed over (wall clock, µs; monitoring's `running`).
    task_started_us: u64,
    /// The task piped behind `task`, kept whole so it can go back to the queue.
    next: Option<TaskMsg>,
    spawned_at: Instant,
    replied: bool,
    /// Its pipe is gone (a write failed): nothing more until its death is reported.
    closed: bool,
    /// Functions this worker has been sent (a replacement starts with none).
    functions: HashSet<u64>,
}

impl Slot {
    fn new(gen: u64, now: Instant) -> Slot {
        Slot { gen, task: None, task_started_us: 0, next: None, spawned_at: now, replied: false, closed: false, functions: HashSet::new() }
    }
}

/// See the module doc.
#[derive(Debug)]
pub struct PoolCore {
    hostname: String,
    slots: Vec<Slot>,
    next_gen: u64,
    queue: VecDeque<TaskMsg>,
    functions: HashMap<u64, Vec<u8>>,
    results: Vec<TaskResult>,
    /// Workers that died young in a row.
    young_deaths: u32,
    mpi: Option<(Launcher, NodeScheduler)>,
    mpi_waiting: HashMap<u64, (TaskMsg, MpiSpec)>,
    task_env: HashMap<u64, Vec<(&'static str, String)>>,
}

impl PoolCore {
    /// A pool of `workers` workers (generations `0..workers`, spawned at `now`); in MPI
    /// mode, sharing `nodes` among MPI tasks launched with `launcher`.
    pub fn new(hostname: impl Into<String>, workers: usize, mpi: Option<(Launcher, Vec<String>)>, now: Instant) -> Self {
        PoolCore {
            hostname: hostname.into(),
            slots: (0..workers).map(|r| Slot::new(r as u64, now)).collect(),
            next_gen: workers as u64,
            queue: VecDeque::new(),
            functions: HashMap::new(),
            results: Vec::new(),
            young_deaths: 0,
            mpi: mpi.map(|(launcher, nodes)| (launcher, NodeScheduler::new(nodes))),
            mpi_waiting: HashMap::new(),
            task_env: HashMap::new(),
        }
    }

    /// The generation of the worker now at `rank` (the shell tags its events with it, so
    /// a dead worker's late events are told from its replacement's).
    pub fn gen(&self, rank: usize) -> Option<u64> {
        self.slots.get(rank).map(|s| s.gen)
    }

    /// Functions from the interchange, to hand to each worker once.
    pub fn functions(&mut self, functions: impl IntoIterator<Item = (u64, Vec<u8>)>) {
        self.functions.extend(functions);
    }

    /// New tasks: plain ones queue for a worker; MPI ones wait for their nodes first.
    pub fn tasks(&mut self, tasks: Vec<TaskMsg>) {
        for t in tasks {
            if t.spec.is_empty() {
                self.queue.push_back(t);
                continue;
            }
            let task = t.task;
            let refused = |why: String| TaskResult { task, outcome: Outcome::Refused(why), started_us: 0, ended_us: 0 };
            let Some((_, nodes)) = self.mpi.as_mut() else {
                self.results.push(refused(
                    "the task has an MPI resource specification, but this pool is not in MPI mode; send it to an \
                     MPIExecutor (or HighThroughputExecutor(enable_mpi_mode=True))"
                        .into(),
                ));
                continue;
            };
            let pairs: Vec<(String, Value)> = t.spec.iter().map(|(k, v)| (k.clone(), Value::Text(v.clone()))).collect();
            let spec = match MpiSpec::parse(&pairs) {
                Ok(spec) => spec,
                Err(e) => {
                    self.results.push(refused(e.to_string()));
                    continue;
                }
            };
            let need = spec.num_nodes as usize;
            self.mpi_waiting.insert(task, (t, spec));
            match nodes.submit(task, need) {
                Ok(grants) => self.start_mpi(grants),
                Err(e) => {
                    self.mpi_waiting.remove(&task);
                    self.results.push(refused(e.to_string()));
                }
            }
        }
    }

    fn start_mpi(&mut self, grants: Vec<chervil_mpi::Grant>) {
        let Some((launcher, _)) = self.mpi.as_ref() else { return };
        let launcher = *launcher;
        for g in grants {
            if let Some((t, spec)) = self.mpi_waiting.remove(&g.task) {
                tracing::debug!(task = g.task, nodes = ?g.nodes, "MPI task granted nodes");
                self.task_env.insert(g.task, prefix::environment(launcher, &spec, &g.nodes));
                self.queue.push_back(t);
            }
        }
    }

    /// A task ended (or died with its worker): an MPI task's nodes go to the next in line.
    fn release_nodes(&mut self, task: u64) {
        self.task_env.remove(&task);
        let grants = match self.mpi.as_mut() {
            Some((_, nodes)) => nodes.release(task),
            None => return,
        };
        self.start_mpi(grants);
    }

    /// Worker `rank` (generation `gen`) answered for `task` at `now_us`. False when the
    /// answer is not for the task it runs (a stale worker, or a bug), and is dropped.
    pub fn reply(&mut self, rank: usize, gen: u64, task: u64, outcome: Outcome, now_us: u64) -> bool {
        let Some(w) = self.slots.get_mut(rank).filter(|w| w.gen == gen) else { return false };
        if w.task != Some(task) {
            tracing::warn!(rank, task, "a worker answered for a task it was not given; ignored");
            return false;
        }
        let started_us = w.task_started_us;
        // The piped task (if any) is running now.
        match w.next.take() {
            Some(next) => {
                w.task = Some(next.task);
                w.task_started_us = now_us;
            }
            None => w.task = None,
        }
        w.replied = true;
        self.young_deaths = 0;
        self.results.push(TaskResult { task, outcome, started_us, ended_us: now_us });
        self.release_nodes(task);
        true
    }

    /// Worker `rank` (generation `gen`) died (`how`, for the lost task's error): its task
    /// is lost, the one piped behind goes back to the queue. `Ok(Some(death))`: start a
    /// new worker at `rank` (then [`spawned`](Self::spawned)); `Ok(None)`: a stale report.
    pub fn died(&mut self, rank: usize, gen: u64, how: &str, now: Instant, now_us: u64, pid: u32) -> Result<Option<Death>, Crashing> {
        let Some(w) = self.slots.get_mut(rank).filter(|w| w.gen == gen) else { return Ok(None) };
        let lost = w.task.take().map(|task| (task, w.task_started_us));
        // Every reply it sent was handled before its death (its reader sends them in
        // order): the piped task never started, so it runs elsewhere instead.
        if let Some(next) = w.next.take() {
            self.queue.push_front(next);
        }
        let young = !w.replied && now.saturating_duration_since(w.spawned_at) < YOUNG;
        w.closed = true;
        if let Some((task, started_us)) = lost {
            self.results.push(TaskResult {
                task,
                outcome: Outcome::WorkerLost(format!("worker {rank} (pid {pid}) on {} {how}", self.hostname)),
                started_us,
                ended_us: now_us,
            });
            self.release_nodes(task);
        }
        if young {
            self.young_deaths += 1;
            if self.young_deaths >= YOUNG_DEATHS {
                return Err(Crashing { rank, deaths: self.young_deaths, how: how.to_string() });
            }
        }
        Ok(Some(Death { lost: lost.map(|(task, _)| task) }))
    }

    /// A new worker took `rank` at `now`; its generation.
    pub fn spawned(&mut self, rank: usize, now: Instant) -> u64 {
        let gen = self.next_gen;
        self.next_gen += 1;
        if let Some(s) = self.slots.get_mut(rank) {
            *s = Slot::new(gen, now);
        }
        gen
    }

    /// Gives queued tasks to idle workers, one each; then, with tasks still queued (the
    /// interchange prefetched), one more into each busy worker's pipe (not in MPI mode).
    /// `send(rank, frame)` puts the frames of a task (its function first, if the worker
    /// has not had it; an MPI task's environment) into worker `rank`'s pipe, false when
    /// the pipe is gone: the worker is dying, and its death will be reported; the task
    /// goes back to the front of the queue and the worker gets nothing more.
    pub fn assign(&mut self, now_us: u64, mut send: impl FnMut(usize, Vec<u8>) -> bool) {
        for rank in 0..self.slots.len() {
            if self.queue.is_empty() {
                return;
            }
            let s = &self.slots[rank];
            if s.task.is_none() && !s.closed {
                self.hand(rank, false, now_us, &mut send);
            }
        }
        if self.mpi.is_some() {
            return;
        }
        for rank in 0..self.slots.len() {
            if self.queue.is_empty() {
                return;
            }
            let s = &self.slots[rank];
            if s.task.is_some() && s.next.is_none() && !s.closed {
                self.hand(rank, true, now_us, &mut send);
            }
        }
    }

    /// The queue's first task as worker `rank`'s current task, or (`behind`) its next.
    fn hand(&mut self, rank: usize, behind: bool, now_us: u64, send: &mut impl FnMut(usize, Vec<u8>) -> bool) {
        let Some(t) = self.queue.pop_front() else { return };
        let w = &mut self.slots[rank];
        let mut frame = Vec::with_capacity(t.payload.len() + 20);
        if !w.functions.contains(&t.function) {
            let Some(blob) = self.functions.get(&t.function) else {
                // The interchange sends a function before any task calling it, so
                // this is a bug; fail the task rather than the pool.
                self.results.push(TaskResult {
                    task: t.task,
                    outcome: Outcome::WorkerLost(format!("the pool was never sent function {:#x}", t.function)),
                    started_us: 0,
                    ended_us: 0,
                });
                return;
            };
            encode_frame(&encode_function(t.function, blob), &mut frame);
            w.functions.insert(t.function);
        }
        if let Some(env) = self.task_env.get(&t.task) {
            encode_frame(&encode_env(env), &mut frame);
        }
        encode_request_frame(t.task, t.function, &t.payload, &mut frame);
        if !send(rank, frame) {
            w.closed = true;
            self.queue.push_front(t);
        } else if behind {
            w.next = Some(t);
        } else {
            w.task = Some(t.task);
            w.task_started_us = now_us;
        }
    }

    /// Results since the last call, to send in one message.
    pub fn take_results(&mut self) -> Vec<TaskResult> {
        std::mem::take(&mut self.results)
    }

    /// `(rank, task)` of each worker running a task (what resource sampling looks at).
    pub fn running(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.slots.iter().enumerate().filter_map(|(r, s)| s.task.map(|t| (r, t)))
    }

    /// Nothing queued, waiting for nodes, running or piped: a draining pool may exit.
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && self.mpi_waiting.is_empty() && self.slots.iter().all(|s| s.task.is_none() && s.next.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chervil_proto::worker::{FUNCTION_DEF, TASK_ENV};
    use chervil_proto::FrameDecoder;

    fn task(id: u64) -> TaskMsg {
        TaskMsg { task: id, function: 7, payload: vec![id as u8], spec: Vec::new() }
    }

    fn mpi_task(id: u64, nodes: u32) -> TaskMsg {
        TaskMsg { task: id, function: 7, payload: vec![], spec: vec![("num_nodes".into(), nodes.to_string()), ("ranks_per_node".into(), "2".into())] }
    }

    /// What one frame batch to a worker says: `f` a function, `e` an environment, a
    /// number a task.
    fn describe(frame: &[u8]) -> Vec<String> {
        let mut d = FrameDecoder::new(usize::MAX);
        d.extend(frame);
        let mut out = Vec::new();
        while let Ok(Some(body)) = d.next_frame() {
            let id = u64::from_be_bytes(body[..8].try_into().unwrap());
            out.push(match id {
                FUNCTION_DEF => "f".to_string(),
                TASK_ENV => "e".to_string(),
                n => n.to_string(),
            });
        }
        out
    }

    /// Runs `assign`, returning `(rank, what was written)` for each write.
    fn assign(core: &mut PoolCore) -> Vec<(usize, Vec<String>)> {
        let mut writes = Vec::new();
        core.assign(1, |rank, frame| {
            writes.push((rank, describe(&frame)));
            true
        });
        writes
    }

    fn pool(workers: usize) -> PoolCore {
        let mut core = PoolCore::new("node1", workers, None, Instant::now());
        core.functions([(7, b"fn".to_vec())]);
        core
    }

    fn ok(core: &mut PoolCore, rank: usize, task: u64) -> bool {
        let gen = core.gen(rank).unwrap();
        core.reply(rank, gen, task, Outcome::Ok(vec![]), 2)
    }

    #[test]
    fn idle_workers_first_then_one_piped_behind_each_busy_one() {
        let mut core = pool(2);
        core.tasks((0..5).map(task).collect());
        let writes = assign(&mut core);
        assert_eq!(
            writes,
            [
                (0, vec!["f".into(), "0".into()]), // each worker gets the function once
                (1, vec!["f".into(), "1".into()]),
                (0, vec!["2".into()]), // piped behind
                (1, vec!["3".into()]),
            ]
        );
        assert!(assign(&mut core).is_empty(), "one task ahead per worker, no more");
        assert!(ok(&mut core, 0, 0));
        assert_eq!(core.running().collect::<Vec<_>>(), [(0, 2), (1, 1)], "the piped task runs now");
        assert_eq!(assign(&mut core), [(0, vec!["4".to_string()])]);
        let results = core.take_results();
        assert_eq!(results.len(), 1);
        assert_eq!((results[0].task, results[0].started_us, results[0].ended_us), (0, 1, 2));
        assert!(!ok(&mut core, 0, 99), "an answer for a task it was not given is dropped");
    }

    #[test]
    fn a_dead_worker_loses_its_task_and_its_piped_one_runs_elsewhere() {
        let t0 = Instant::now();
        let mut core = pool(2);
        core.tasks((0..4).map(task).collect());
        assign(&mut core);
        let gen = core.gen(0).unwrap();
        assert_eq!(core.died(0, gen, "was killed by signal 9", t0 + YOUNG, 5, 4242), Ok(Some(Death { lost: Some(0) })));
        let lost = core.take_results();
        assert_eq!(lost.len(), 1);
        match &lost[0].outcome {
            Outcome::WorkerLost(why) => assert_eq!(why, "worker 0 (pid 4242) on node1 was killed by signal 9"),
            other => panic!("{other:?}"),
        }
        let fresh = core.spawned(0, t0);
        assert_ne!(fresh, gen);
        assert_eq!(core.died(0, gen, "again", t0, 5, 4242), Ok(None), "a report about the worker replaced");
        // the piped task (2) goes first, to the replacement, which is sent the function again
        assert_eq!(assign(&mut core), [(0, vec!["f".to_string(), "2".to_string()])]);
        assert!(!core.idle());
    }

    #[test]
    fn a_worker_whose_pipe_is_gone_gets_nothing_more_and_its_task_runs_elsewhere() {
        let mut core = pool(2);
        core.tasks(vec![task(0)]);
        let mut tried = Vec::new();
        core.assign(1, |rank, _| {
            tried.push(rank);
            rank != 0
        });
        assert_eq!(tried, [0, 1], "refused by worker 0, taken by worker 1");
        assert_eq!(core.running().collect::<Vec<_>>(), [(1, 0)]);
        core.tasks(vec![task(1)]);
        assert_eq!(assign(&mut core), [(1, vec!["1".to_string()])], "worker 0 is skipped until replaced");
    }

    #[test]
    fn workers_dying_young_three_times_in_a_row_stop_the_pool() {
        let t0 = Instant::now();
        let mut core = pool(1);
        for i in 1..=2 {
            let gen = core.gen(0).unwrap();
            assert!(matches!(core.died(0, gen, "exited with code 1", t0, 0, 1), Ok(Some(_))), "death {i}");
            core.spawned(0, t0);
        }
        let gen = core.gen(0).unwrap();
        assert_eq!(core.died(0, gen, "exited with code 1", t0, 0, 1), Err(Crashing { rank: 0, deaths: 3, how: "exited with code 1".into() }));
        // a reply in between resets the count
        let mut core = pool(1);
        for _ in 0..2 {
            let gen = core.gen(0).unwrap();
            core.died(0, gen, "x", t0, 0, 1).unwrap();
            core.spawned(0, t0);
        }
        core.tasks(vec![task(0)]);
        assign(&mut core);
        assert!(ok(&mut core, 0, 0));
        let gen = core.gen(0).unwrap();
        assert!(matches!(core.died(0, gen, "x", t0 + YOUNG, 0, 1), Ok(Some(_))), "old enough, and it had answered");
    }

    #[test]
    fn mpi_tasks_wait_for_nodes_get_their_environment_and_free_the_nodes() {
        let nodes = vec!["n1".to_string(), "n2".to_string()];
        let mut core = PoolCore::new("n1", 4, Some((Launcher::Mpiexec, nodes)), Instant::now());
        core.functions([(7, b"fn".to_vec())]);
        core.tasks(vec![mpi_task(0, 2), mpi_task(1, 1), mpi_task(2, 3), task(3)]);
        let refused = core.take_results();
        assert_eq!(refused.len(), 1, "three nodes from a block of two: refused at once");
        assert!(matches!(&refused[0].outcome, Outcome::Refused(why) if why.contains('3')), "{refused:?}");
        // task 0 holds both nodes; task 1 waits; the plain task runs; nothing is piped ahead
        assert_eq!(
            assign(&mut core),
            [(0, vec!["f".to_string(), "e".to_string(), "0".to_string()]), (1, vec!["f".to_string(), "3".to_string()])]
        );
        assert!(!core.idle());
        assert!(ok(&mut core, 0, 0));
        assert_eq!(assign(&mut core), [(0, vec!["e".to_string(), "1".to_string()])], "its nodes went to the next in line");
        // a pool not in MPI mode refuses such a task, naming the fix
        let mut plain = pool(1);
        plain.tasks(vec![mpi_task(9, 1)]);
        assert!(matches!(&plain.take_results()[0].outcome, Outcome::Refused(why) if why.contains("enable_mpi_mode")));
    }

    #[test]
    fn a_task_calling_a_function_never_sent_fails_alone() {
        let mut core = PoolCore::new("n", 1, None, Instant::now());
        core.tasks(vec![task(0)]);
        assert!(assign(&mut core).is_empty());
        assert!(matches!(&core.take_results()[0].outcome, Outcome::WorkerLost(why) if why.contains("never sent function")));
        assert!(core.idle());
    }
}
