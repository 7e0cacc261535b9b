//! The DataFlowKernel's logic: a state machine with no I/O.
//!
//! A front (the Python package, later the Rust crate) owns the payloads — functions,
//! arguments, results, exceptions — and the executors. The kernel owns everything
//! that decides *what happens next*: which tasks wait on which, when a task is ready,
//! whether a failed try is retried, when a dependency failure propagates, when a join
//! is complete, and which records can be forgotten.
//!
//! Every method is one event in, and returns the [`Command`]s the front must carry
//! out, in order. Order matters: when a task fails, its own `Fail` comes before the
//! `DependencyFail` of the tasks that needed it, so a front that sets futures in
//! command order has always set a dependency's exception before it builds the
//! `DependencyError` that quotes it.
//!
//! Because the kernel never blocks or touches a socket, tests drive it with plain
//! calls, and a simulator can replay millions of tasks through the same code.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::KernelError;
use crate::state::TaskState;

/// A task's number, unique within one kernel, counting from 0 like Parsl's.
pub type TaskId = u64;

/// What the kernel needs to know about a task; everything else stays in the front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSpec<'a> {
    /// The app's name, for logs and monitoring.
    pub func_name: &'a str,
    /// The label of the executor chosen for it.
    pub executor: &'a str,
    /// A join app: its body returns futures the task then waits for.
    pub join: bool,
    /// Each try looks in the memo table first. Its `launched` state is then recorded
    /// only once the front says the table had nothing ([`Kernel::memo_missed`]): a memo
    /// hit is `pending` → `memo_done` in monitoring, as Parsl records it.
    pub memoize: bool,
}

/// App names and executor labels, one copy each for the whole run: a million tasks
/// of one app hold a million 4-byte numbers for one name, not a million names.
#[derive(Debug, Default)]
struct Names {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Names {
    /// The number of `name`, given on first sight.
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let shared: Arc<str> = Arc::from(name);
        self.names.push(shared.clone());
        self.ids.insert(shared, id);
        id
    }

    fn get(&self, id: u32) -> Arc<str> {
        self.names.get(id as usize).cloned().unwrap_or_else(|| Arc::from("?"))
    }
}

/// How a front refers to what a task waits for.
///
/// Futures of this kernel's own tasks are `tasks`; anything else the front waits on
/// by itself (a plain `concurrent.futures.Future`, a future of another kernel) is
/// counted in `external_pending`, and reported later with
/// [`Kernel::external_resolved`]. An external dependency that had already failed
/// when the task was submitted sets `external_failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    pub tasks: Vec<TaskId>,
    pub external_pending: u32,
    pub external_failed: bool,
}

impl Dependencies {
    /// Dependencies on this kernel's tasks only.
    pub fn on(tasks: impl Into<Vec<TaskId>>) -> Self {
        Dependencies { tasks: tasks.into(), ..Default::default() }
    }
}

/// Why a task ended in failure; tells the front which exception to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailCause {
    /// The last try raised: set that exception.
    Try,
    /// A dependency failed (state `dep_fail`): set a `DependencyError`.
    Dependency,
    /// A future returned by a join app failed: set a `JoinError`.
    Join,
}

/// What the front must do, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Every dependency succeeded: run try `try_id` of the task on its executor.
    Launch { task: TaskId, try_id: u32 },
    /// The task finished in `state` (`exec_done` or `memo_done`): set its result.
    /// For a join task the result is made of the results of the futures it joined.
    Complete { task: TaskId, state: TaskState },
    /// The task finished in a failure state: set the exception `cause` names.
    Fail { task: TaskId, state: TaskState, cause: FailCause },
}

/// Settings the kernel acts on (Parsl's `Config.retries`, `Config.garbage_collect`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelConfig {
    /// The retry budget: a task is tried again while its accumulated failure cost
    /// stays at or below this.
    pub retries: f64,
    /// Forget a task's record as soon as it is final.
    pub garbage_collect: bool,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig { retries: 0.0, garbage_collect: true }
    }
}

/// One state change, as monitoring records it: Parsl's `status` row, plus the
/// task's failure count and cost at that moment (its record may be forgotten
/// right after a final state).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    pub task: TaskId,
    pub try_id: u32,
    pub state: TaskState,
    pub fail_count: u32,
    pub fail_cost: f64,
}

/// A read-only view of one live task record.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInfo {
    pub state: TaskState,
    pub try_id: u32,
    pub fail_count: u32,
    pub fail_cost: f64,
    pub executor: Arc<str>,
    pub func_name: Arc<str>,
}

/// A live task, kept small: a million pending tasks hold a million of these.
#[derive(Debug)]
struct Task {
    /// Numbers in [`Names`].
    func_name: u32,
    executor: u32,
    join: bool,
    /// See [`TaskSpec::memoize`].
    memoize: bool,
    state: TaskState,
    /// One of the things it waited for failed.
    saw_failure: bool,
    try_id: u32,
    fail_count: u32,
    /// Unfinished things this task waits for: dependencies while pending, joined
    /// futures while joining (a task never waits for both at once).
    waiting: u32,
    fail_cost: f64,
    /// Tasks to notify when this one is final. Most tasks have none, so the list is
    /// boxed: 8 bytes in every record instead of a `Vec`'s 24.
    #[allow(clippy::box_collection)]
    dependants: Option<Box<Vec<TaskId>>>,
}

/// How a referenced task stands, including tasks already forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Unfinished,
    Succeeded,
    Failed,
}

/// The DataFlowKernel's state: the task table and the graph between tasks.
#[derive(Debug)]
pub struct Kernel {
    config: KernelConfig,
    tasks: HashMap<TaskId, Task>,
    next_id: TaskId,
    /// Failed tasks whose records were forgotten: a later task may still name
    /// them as dependencies and must then fail. Failures are rare, so this stays small;
    /// a forgotten id not in this set succeeded.
    forgotten_failures: HashSet<TaskId>,
    /// How many tasks are in each state, indexed by state value.
    counts: [u64; 12],
    unfinished: usize,
    closed: bool,
    /// Every state change since the last [`Kernel::drain_transitions`], when observed.
    transitions: Option<Vec<Transition>>,
    names: Names,
}

impl Kernel {
    pub fn new(config: KernelConfig) -> Self {
        Kernel {
            config,
            tasks: HashMap::new(),
            next_id: 0,
            forgotten_failures: HashSet::new(),
            counts: [0; 12],
            unfinished: 0,
            closed: false,
            transitions: None,
            names: Names::default(),
        }
    }

    /// Keeps a list of every state change (submission's `pending` included) for
    /// monitoring to take with [`Kernel::drain_transitions`]. Off by default: a run
    /// without monitoring pays nothing.
    pub fn observe_transitions(&mut self, on: bool) {
        self.transitions = if on { Some(Vec::new()) } else { None };
    }

    /// The state changes since the last call, in the order they happened.
    pub fn drain_transitions(&mut self) -> Vec<Transition> {
        self.transitions.as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub fn config(&self) -> KernelConfig {
        self.config
    }

    /// Adds a task. It is launched at once when nothing it depends on is unfinished.
    pub fn submit(
        &mut self,
        spec: TaskSpec<'_>,
        deps: Dependencies,
    ) -> Result<(TaskId, Vec<Command>), KernelError> {
        if self.closed {
            return Err(KernelError::Closed);
        }
        let id = self.next_id;
        let (waiting, saw_failure) = self.wait_on(id, &deps)?;
        self.next_id += 1;
        tracing::trace!(task = id, app = %spec.func_name, executor = %spec.executor, waiting, "submitted");
        self.tasks.insert(
            id,
            Task {
                func_name: self.names.id(spec.func_name),
                executor: self.names.id(spec.executor),
                join: spec.join,
                memoize: spec.memoize,
                state: TaskState::Pending,
                saw_failure,
                try_id: 0,
                fail_count: 0,
                waiting,
                fail_cost: 0.0,
                dependants: None,
            },
        );
        self.counts[TaskState::Pending as usize] += 1;
        self.unfinished += 1;
        self.record(id);
        let mut out = Vec::new();
        if waiting == 0 {
            self.settle(vec![id], &mut out);
        }
        Ok((id, out))
    }

    /// One external dependency (or joined external future) of `task` is done.
    pub fn external_resolved(&mut self, task: TaskId, failed: bool) -> Result<Vec<Command>, KernelError> {
        let t = self.live_mut(task)?;
        if !matches!(t.state, TaskState::Pending | TaskState::Joining) || t.waiting == 0 {
            return Err(KernelError::WrongState {
                task,
                state: t.state,
                action: "be told that something it waits for is done",
            });
        }
        t.waiting -= 1;
        t.saw_failure |= failed;
        let mut out = Vec::new();
        if t.waiting == 0 {
            self.settle(vec![task], &mut out);
        }
        Ok(out)
    }

    /// Try `try_id` of `task` returned a value (or the memo table had one).
    pub fn try_succeeded(&mut self, task: TaskId, try_id: u32, from_memo: bool) -> Result<Vec<Command>, KernelError> {
        let t = self.current_try(task, try_id, "complete")?;
        if t.join && !from_memo {
            return Err(KernelError::WrongState {
                task,
                state: t.state,
                action: "complete without reporting the futures its join app returned",
            });
        }
        let state = if from_memo { TaskState::MemoDone } else { TaskState::ExecDone };
        let mut out = Vec::new();
        self.finish_and_settle(task, state, FailCause::Try, &mut out);
        Ok(out)
    }

    /// Try `try_id` of `task` raised. `cost` is what the retry handler charged for it
    /// (1 without a handler; infinite when the failure must not be retried).
    pub fn try_failed(&mut self, task: TaskId, try_id: u32, cost: f64) -> Result<Vec<Command>, KernelError> {
        let retries = self.config.retries;
        let t = self.current_try(task, try_id, "fail")?;
        t.fail_count += 1;
        t.fail_cost += if cost.is_nan() { f64::INFINITY } else { cost };
        let mut out = Vec::new();
        if t.fail_cost <= retries {
            tracing::info!(task, try_id, fail_cost = t.fail_cost, retries, "try failed; retrying");
            let next = try_id + 1;
            // Parsl passes through fail_retryable (the failed try's) and pending (the next
            // try's) on the way back to launched.
            self.transition(task, TaskState::FailRetryable);
            if let Some(t) = self.tasks.get_mut(&task) {
                t.try_id = next;
            }
            self.transition(task, TaskState::Pending);
            self.launch(task);
            out.push(Command::Launch { task, try_id: next });
        } else {
            tracing::info!(task, try_id, fail_cost = t.fail_cost, retries, "try failed; no retry left");
            self.finish_and_settle(task, TaskState::Failed, FailCause::Try, &mut out);
        }
        Ok(out)
    }

    /// The body of join task `task` returned futures: wait for them.
    pub fn join_returned(&mut self, task: TaskId, try_id: u32, inner: Dependencies) -> Result<Vec<Command>, KernelError> {
        let t = self.current_try(task, try_id, "join")?;
        if !t.join {
            return Err(KernelError::WrongState { task, state: t.state, action: "join (it is not a join app)" });
        }
        if inner.tasks.contains(&task) {
            return Err(KernelError::JoinsItself(task));
        }
        let (waiting, saw_failure) = self.wait_on(task, &inner)?;
        self.transition(task, TaskState::Joining);
        if let Some(t) = self.tasks.get_mut(&task) {
            t.waiting = waiting;
            t.saw_failure = saw_failure;
        }
        let mut out = Vec::new();
        if waiting == 0 {
            self.settle(vec![task], &mut out);
        }
        Ok(out)
    }

    /// No more tasks are accepted; tasks already submitted go on.
    pub fn close(&mut self) {
        self.closed = true;
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Tasks not yet in a final state.
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// Tasks ever submitted.
    pub fn submitted(&self) -> u64 {
        self.next_id
    }

    /// Records held in memory (unfinished ones, plus finished ones when not
    /// garbage-collecting).
    pub fn records_held(&self) -> usize {
        self.tasks.len()
    }

    /// How many tasks are in `state` now.
    pub fn count(&self, state: TaskState) -> u64 {
        self.counts[state as usize]
    }

    /// The live record of `task`; `None` once it is forgotten.
    pub fn info(&self, task: TaskId) -> Option<TaskInfo> {
        self.tasks.get(&task).map(|t| TaskInfo {
            state: t.state,
            try_id: t.try_id,
            fail_count: t.fail_count,
            fail_cost: t.fail_cost,
            executor: self.names.get(t.executor),
            func_name: self.names.get(t.func_name),
        })
    }

    fn standing(&self, task: TaskId) -> Option<Standing> {
        if task >= self.next_id {
            return None;
        }
        Some(match self.tasks.get(&task) {
            Some(t) if t.state.is_failure() => Standing::Failed,
            Some(t) if t.state.is_final() => Standing::Succeeded,
            Some(_) => Standing::Unfinished,
            None if self.forgotten_failures.contains(&task) => Standing::Failed,
            None => Standing::Succeeded,
        })
    }

    /// Makes `waiter` a dependant of every unfinished task in `deps`. Returns how many
    /// things it now waits for and whether any of them had already failed. Every
    /// dependency is looked up before anything changes, so an error leaves no trace.
    fn wait_on(&mut self, waiter: TaskId, deps: &Dependencies) -> Result<(u32, bool), KernelError> {
        let mut live = Vec::new();
        let mut saw_failure = deps.external_failed;
        for &dep in &deps.tasks {
            match self.standing(dep).ok_or(KernelError::UnknownDependency { task: waiter, dependency: dep })? {
                Standing::Unfinished => live.push(dep),
                Standing::Failed => saw_failure = true,
                Standing::Succeeded => {}
            }
        }
        for &dep in &live {
            if let Some(parent) = self.tasks.get_mut(&dep) {
                parent.dependants.get_or_insert_with(Default::default).push(waiter);
            }
        }
        Ok((deps.external_pending + live.len() as u32, saw_failure))
    }

    fn live_mut(&mut self, task: TaskId) -> Result<&mut Task, KernelError> {
        self.tasks.get_mut(&task).ok_or(KernelError::UnknownTask(task))
    }

    /// The record of a task whose try `try_id` is out on an executor.
    fn current_try(&mut self, task: TaskId, try_id: u32, action: &'static str) -> Result<&mut Task, KernelError> {
        let t = self.live_mut(task)?;
        if t.state != TaskState::Launched {
            return Err(KernelError::WrongState { task, state: t.state, action });
        }
        if t.try_id != try_id {
            return Err(KernelError::StaleTry { task, reported: try_id, current: t.try_id });
        }
        Ok(t)
    }

    fn transition(&mut self, task: TaskId, to: TaskState) {
        self.enter(task, to, true);
    }

    /// `launched`, recorded now unless the try looks in the memo table first.
    fn launch(&mut self, task: TaskId) {
        let logged = self.tasks.get(&task).is_some_and(|t| !t.memoize);
        self.enter(task, TaskState::Launched, logged);
    }

    fn enter(&mut self, task: TaskId, to: TaskState, logged: bool) {
        if let Some(t) = self.tasks.get_mut(&task) {
            let from = t.state;
            t.state = to;
            self.counts[from as usize] -= 1;
            self.counts[to as usize] += 1;
            tracing::trace!(task, %from, %to, "state");
            if logged {
                self.record(task);
            }
        }
    }

    /// Logs `task`'s current state, when transitions are observed (checked first: the
    /// lookup is not paid by a run nobody watches).
    fn record(&mut self, task: TaskId) {
        let Some(log) = self.transitions.as_mut() else { return };
        if let Some(t) = self.tasks.get(&task) {
            log.push(Transition { task, try_id: t.try_id, state: t.state, fail_count: t.fail_count, fail_cost: t.fail_cost });
        }
    }

    /// The memo table had nothing for try `try_id` of a memoized task: it goes to its
    /// executor, and its `launched` state is recorded now.
    pub fn memo_missed(&mut self, task: TaskId, try_id: u32) -> Result<(), KernelError> {
        if self.current_try(task, try_id, "record as launched")?.memoize {
            self.record(task);
        }
        Ok(())
    }

    /// Acts on tasks that have nothing left to wait for. A worklist rather than
    /// recursion, so a failure at the head of a chain of a million tasks is fine.
    fn settle(&mut self, mut ready: Vec<TaskId>, out: &mut Vec<Command>) {
        while let Some(id) = ready.pop() {
            let Some(t) = self.tasks.get(&id) else { continue };
            let try_id = t.try_id;
            match (t.state, t.saw_failure) {
                (TaskState::Pending, false) => {
                    self.launch(id);
                    out.push(Command::Launch { task: id, try_id });
                }
                (TaskState::Pending, true) => {
                    // Parsl counts a dependency failure as the task's failure (its
                    // task_fail_count and the cost of one try), and so do we.
                    if let Some(t) = self.tasks.get_mut(&id) {
                        t.fail_count += 1;
                        t.fail_cost += 1.0;
                    }
                    ready.extend(self.finish(id, TaskState::DepFail, FailCause::Dependency, out));
                }
                (TaskState::Joining, false) => {
                    ready.extend(self.finish(id, TaskState::ExecDone, FailCause::Join, out));
                }
                (TaskState::Joining, true) => {
                    ready.extend(self.finish(id, TaskState::Failed, FailCause::Join, out));
                }
                _ => {}
            }
        }
    }

    fn finish_and_settle(&mut self, id: TaskId, state: TaskState, cause: FailCause, out: &mut Vec<Command>) {
        let ready = self.finish(id, state, cause, out);
        self.settle(ready, out);
    }

    /// Puts a task in a final state, tells its dependants, and forgets it when
    /// garbage-collecting. Returns the dependants that now have nothing to wait for.
    fn finish(&mut self, id: TaskId, state: TaskState, cause: FailCause, out: &mut Vec<Command>) -> Vec<TaskId> {
        self.transition(id, state);
        self.unfinished -= 1;
        out.push(if state.is_failure() {
            Command::Fail { task: id, state, cause }
        } else {
            Command::Complete { task: id, state }
        });
        let dependants = self.tasks.get_mut(&id).and_then(|t| t.dependants.take()).map(|d| *d).unwrap_or_default();
        if self.config.garbage_collect {
            self.tasks.remove(&id);
            if state.is_failure() {
                self.forgotten_failures.insert(id);
            }
        }
        let failed = state.is_failure();
        let mut ready = Vec::new();
        for d in dependants {
            if let Some(dt) = self.tasks.get_mut(&d) {
                dt.waiting = dt.waiting.saturating_sub(1);
                dt.saw_failure |= failed;
                if dt.waiting == 0 {
                    ready.push(d);
                }
            }
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::Task;

    #[test]
    fn a_pending_task_record_stays_small() {
        // A million pending tasks hold a million of these (issue 14: ≤ 1 KiB per pending
        // task end to end); it was 96 bytes with two name pointers and an inline Vec.
        assert!(std::mem::size_of::<Task>() <= 40, "Task is {} bytes", std::mem::size_of::<Task>());
    }
}
