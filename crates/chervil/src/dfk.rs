//! The DataFlowKernel of the Rust front: the engine's kernel (`chervil_core::Kernel`,
//! the same state machine the Python front drives) plus what only a front holds — each
//! task's app, arguments and future — and the executors.
//!
//! Every kernel event returns commands (launch a try, complete or fail a task); they are
//! carried out in order, on the thread that caused them, through a per-thread queue,
//! so a completion that launches a task that completes at once does not recurse.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chervil_checkpoint::{Checkpointer, Policy};
use chervil_core::progress::Counts;
use chervil_core::{Command, Dependencies, FailCause, Kernel, KernelConfig, TaskSpec};
use chervil_monitor::{Event, Monitor};
use chervil_run::memo::{Lookup, MemoTable, Write};

use crate::app::{AppDef, Joined, Runner};
use crate::codec::{self, RunOptions};
use crate::config::{CheckpointMode, Config, ExecutorConfig, Opts, RetryHandler, TaskView, ThreadPoolExecutor};
use crate::error::Error;
use crate::executors::{Executor, Htex, ThreadPool, Threads};
use crate::future::{AppFuture, ArgKind, DataFuture, ErasedArg, Slot};

static NEXT_DFK: AtomicU64 = AtomicU64::new(1);
static LOADED: Mutex<Option<Dfk>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a DataFlowKernel for `config` and makes it the one apps use (Parsl's
/// `parsl.load`). Fails if one is loaded already: [`Dfk::cleanup`] it first. The
/// handle returned owns the run: dropping its last clone cleans the run up.
pub fn load(config: Config) -> Result<Dfk, Error> {
    crate::worker::refuse_to_run_as_a_block();
    let mut loaded = lock(&LOADED);
    if loaded.is_some() {
        return Err(Error::Executor(
            "a config is already loaded; call chervil::dfk().cleanup() before loading another".into(),
        ));
    }
    let dfk = Dfk::start(config)?;
    *loaded = Some(dfk.unowned());
    Ok(Dfk(Arc::clone(&dfk.0), Some(Arc::new(Owner(dfk.0)))))
}

/// The loaded DataFlowKernel, if any (Parsl's `parsl.dfk()`); this handle does not own
/// the run (dropping it does nothing).
pub fn dfk() -> Option<Dfk> {
    lock(&LOADED).clone()
}

/// The checkpoint directories of every run under `run_dir` (e.g. `runinfo`), oldest
/// first by run number, for [`Config::checkpoint_files`] (Parsl's `get_all_checkpoints`).
pub fn get_all_checkpoints(run_dir: impl AsRef<Path>) -> Vec<PathBuf> {
    chervil_run::all_checkpoints(run_dir.as_ref())
}

/// The checkpoint directory of the latest run under `run_dir` that has one, as a list
/// of zero or one (Parsl's `get_last_checkpoint`).
pub fn get_last_checkpoint(run_dir: impl AsRef<Path>) -> Vec<PathBuf> {
    chervil_run::last_checkpoint(run_dir.as_ref())
}

/// A running workflow. Cheap to clone; every clone is the same kernel.
///
/// The handle [`load`] returns (and its clones) owns the run: when the last of them is
/// dropped, the kernel is cleaned up as [`cleanup`](Dfk::cleanup) would (as a tokio
/// `Runtime` shuts down when dropped), so blocks are cancelled and checkpoints written
/// even on an early return or a panic. Keep it bound for the run (`let dfk = …`, not
/// `let _ = …`). The handle [`dfk()`] gives, and the kernel's own, do not keep the run
/// going.
#[derive(Clone)]
pub struct Dfk(Arc<Inner>, #[allow(dead_code)] /* held for its Drop */ Option<Arc<Owner>>);

/// Cleans its kernel up when the last owning handle goes.
struct Owner(Arc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        Dfk(Arc::clone(&self.0), None).cleanup();
    }
}

struct Task {
    def: &'static AppDef,
    args: Vec<ErasedArg>,
    slot: Arc<Slot>,
    executor: usize,
    /// Bash redirection and walltime, for the few tasks that have them (the app's name
    /// is added at launch): a pending task of a big run holds as little as it can.
    run: Option<Box<RunOptions>>,
    cache: bool,
    fail_count: u32,
    last_error: Option<Box<Error>>,
    result: Option<Arc<[u8]>>,
    joined: Option<Box<Joined>>,
    hash: Option<String>,
    /// Its result came from the memo table, not from running.
    from_memo: bool,
    /// An MPI task's resource specification as its pool reads it (empty for others), or
    /// why the executor refused it: a refusal fails each try when it is launched, as
    /// Parsl's executors refuse at submission (a failed try, recorded and retried like
    /// any other).
    resources: Result<Vec<(String, String)>, Error>,
}

struct Memo {
    /// The engine's rules (`chervil_run::memo`, the Python front's too), on encoded results.
    table: Mutex<MemoTable<Arc<[u8]>, Error>>,
    checkpoints: Option<Mutex<Checkpointer>>,
}

struct Inner {
    id: u64,
    run_dir: PathBuf,
    // Lock order: tasks, then kernel.
    tasks: Mutex<HashMap<u64, Task>>,
    kernel: Mutex<Kernel>,
    executors: Vec<(String, Box<dyn Executor>)>,
    /// Where join apps' bodies run.
    internal: ThreadPool,
    retry_handler: Option<RetryHandler>,
    app_cache: bool,
    memo: Memo,
    cleaned: AtomicBool,
    /// The run's monitoring database writer, when the config has a `MonitoringHub`.
    monitor: Option<Arc<Monitor>>,
    /// The live progress line on stderr, when the run wants one (`CHERVIL_PROGRESS=1` on a
    /// terminal; the engine's rule, as on the Python front).
    progress: Mutex<Option<chervil_run::progress::Progress>>,
}

/// Which executor a task runs on: an index into `executors`, or the internal pool.
const INTERNAL: usize = usize::MAX;

impl Dfk {
    fn start(config: Config) -> Result<Dfk, Error> {
        let run_dir = chervil_run::make_run_dir(&config.run_dir).map_err(|e| Error::Executor(e.to_string()))?;
        let monitor = match &config.monitoring {
            Some(hub) => Some(start_monitor(hub, &config.run_dir, &run_dir)?),
            None => None,
        };
        let load = chervil_run::checkpoints_to_load(
            config.checkpoint_files.as_deref(),
            config.checkpoint_mode.is_some(),
            &config.run_dir,
            &run_dir,
        );
        let loaded: HashMap<String, Arc<[u8]>> = if load.is_empty() {
            HashMap::new()
        } else {
            chervil_checkpoint::load_dirs(&load)
                .map_err(|e| Error::Executor(format!("cannot load checkpoints: {e}")))?
                .into_iter()
                .map(|(k, v)| (k, Arc::from(v)))
                .collect()
        };
        let checkpoints = match config.checkpoint_mode {
            None => None,
            Some(mode) => {
                let policy = match mode {
                    CheckpointMode::TaskExit => Policy::TaskExit,
                    CheckpointMode::DfkExit => Policy::DfkExit,
                    CheckpointMode::Manual => Policy::Manual,
                };
                let dir = run_dir.join("checkpoint");
                Some(Mutex::new(
                    Checkpointer::open(dir, policy).map_err(|e| Error::Executor(format!("cannot open checkpoints: {e}")))?,
                ))
            }
        };
        let mut configs = config.executors.clone();
        if configs.is_empty() {
            configs.push(ExecutorConfig::Threads(ThreadPoolExecutor::new()));
        }
        let mut executors: Vec<(String, Box<dyn Executor>)> = Vec::new();
        for c in &configs {
            if executors.iter().any(|(l, _)| l == c.label()) {
                return Err(Error::Executor(format!("two executors are labelled {:?}; give each its own label", c.label())));
            }
            let started: Result<Box<dyn Executor>, Error> = match c {
                ExecutorConfig::Threads(t) => Ok(Box::new(Threads::start(t, monitor.clone()))),
                ExecutorConfig::Htex(h) => {
                    Htex::start(h, &config, &run_dir, monitor.clone()).map(|h| Box::new(h) as Box<dyn Executor>)
                }
            };
            match started {
                Ok(e) => executors.push((c.label().to_string(), e)),
                Err(e) => {
                    for (_, e) in &executors {
                        e.shutdown();
                    }
                    return Err(e);
                }
            }
        }
        tracing::info!(run_dir = %run_dir.display(), "Chervil run starting");
        let dfk = Dfk(
            Arc::new(Inner {
            id: NEXT_DFK.fetch_add(1, Ordering::Relaxed),
            run_dir,
            tasks: Mutex::new(HashMap::new()),
            kernel: Mutex::new({
                let mut k = Kernel::new(KernelConfig { retries: f64::from(config.retries), garbage_collect: true });
                k.observe_transitions(monitor.is_some());
                k
            }),
            executors,
            internal: ThreadPool::new("internal", 4),
            retry_handler: config.retry_handler,
            app_cache: config.app_cache,
            memo: Memo { table: Mutex::new(MemoTable::new(loaded, checkpoints.is_some())), checkpoints },
            cleaned: AtomicBool::new(false),
            monitor,
            progress: Mutex::new(None),
        }),
            None,
        );
        if chervil_run::progress::wanted() {
            let inner = Arc::downgrade(&dfk.0);
            let read = move || inner.upgrade().map(|i| Counts::of(&lock(&i.kernel))).unwrap_or_default();
            match chervil_run::progress::Progress::start(read, Duration::from_millis(500)) {
                Ok(p) => *lock(&dfk.0.progress) = Some(p),
                Err(e) => tracing::warn!(error = %e, "cannot draw the progress line"),
            }
        }
        Ok(dfk)
    }

    /// This run's directory (`runinfo/NNN`).
    pub fn run_dir(&self) -> &Path {
        &self.0.run_dir
    }

    /// Blocks of executor `label` whose jobs are pending or running (`None` for an
    /// executor without blocks, or no such label).
    pub fn active_blocks(&self, label: &str) -> Option<usize> {
        self.0.executors.iter().find(|(l, _)| l == label).and_then(|(_, e)| e.active_blocks())
    }

    /// Tasks submitted so far.
    pub fn task_count(&self) -> u64 {
        lock(&self.0.kernel).submitted()
    }

    /// Blocks until every task submitted so far (and any they submit) is final.
    pub fn wait_for_current_tasks(&self) {
        loop {
            let slots: Vec<Arc<Slot>> = lock(&self.0.tasks).values().map(|t| t.slot.clone()).collect();
            if slots.is_empty() {
                return;
            }
            for s in slots {
                s.wait(None);
            }
        }
    }

    /// Runs `f` on the kernel; when the run is monitored, `before` and the state changes
    /// `f` made go to the monitor, under the kernel's lock so they keep kernel order.
    fn with_kernel<R>(&self, before: Option<Event>, f: impl FnOnce(&mut Kernel) -> R) -> R {
        let mut k = lock(&self.0.kernel);
        let r = f(&mut k);
        self.0.observe(&mut k, before);
        r
    }

    /// A handle that does not own the run: what the kernel keeps in callbacks and in
    /// the loaded slot.
    fn unowned(&self) -> Dfk {
        Dfk(Arc::clone(&self.0), None)
    }

    /// Writes memoized results finished since the last checkpoint (`CheckpointMode::Manual`).
    pub fn checkpoint(&self) -> Result<usize, Error> {
        match &self.0.memo.checkpoints {
            Some(c) => lock(c).checkpoint().map_err(|e| Error::Executor(format!("checkpoint failed: {e}"))),
            None => Ok(0),
        }
    }

    /// Stops the executors (their blocks are cancelled) and unloads this kernel. Tasks
    /// not finished fail; call [`wait_for_current_tasks`](Self::wait_for_current_tasks) first.
    pub fn cleanup(&self) {
        if self.0.cleaned.swap(true, Ordering::AcqRel) {
            return;
        }
        lock(&self.0.kernel).close();
        for (_, e) in &self.0.executors {
            e.shutdown();
        }
        // The line gives way to the summary of the whole run.
        let progress = lock(&self.0.progress).take();
        drop(progress);
        if let Some(m) = &self.0.monitor {
            chervil_run::monitoring::workflow_ended(m, &mut lock(&self.0.kernel));
            let summary = m.close();
            if let Some(e) = summary.first_error {
                tracing::error!(error = %e, lost = summary.lost, "monitoring lost rows");
            }
        }
        if let Some(c) = &self.0.memo.checkpoints {
            if let Err(e) = lock(c).close() {
                tracing::error!(error = %e, "the final checkpoint failed");
            }
        }
        let left: Vec<Arc<Slot>> = lock(&self.0.tasks).drain().map(|(_, t)| t.slot).collect();
        for s in left {
            s.set(Err(Error::Executor("the DataFlowKernel was cleaned up before the task finished".into())));
        }
        let mut loaded = lock(&LOADED);
        if loaded.as_ref().is_some_and(|d| Arc::ptr_eq(&d.0, &self.0)) {
            *loaded = None;
        }
    }

    pub(crate) fn submit<T>(&self, def: &'static AppDef, opts: Opts, mut args: Vec<ErasedArg>) -> AppFuture<T> {
        let inner = &self.0;
        if inner.cleaned.load(Ordering::Acquire) {
            return failed(Error::Executor(format!(
                "app {}: this DataFlowKernel has been cleaned up and takes no new tasks; load a config first",
                def.name
            )));
        }
        let executor = match self.choose_executor(def, &opts) {
            Ok(i) => i,
            Err(e) => return failed(e),
        };
        let label = if executor == INTERNAL { "_parsl_internal" } else { inner.executors[executor].0.as_str() };
        let asked = opts.resources.as_ref().map(|r| &r.pairs[..]).unwrap_or(&[]);
        let resources = if executor == INTERNAL {
            match asked.is_empty() {
                true => Ok(Vec::new()),
                false => Err(Error::InvalidResourceSpecification {
                    keys: asked.iter().map(|(k, _)| k.clone()).collect(),
                    message: format!("{} is a join app, which runs in the client: it takes no resource specification", def.name),
                }),
            }
        } else {
            inner.executors[executor].1.accept_resources(asked)
        };
        // Files are staged by the executor's `storage_access`: remote ones each become the
        // result of a fetch task on the same executor (a join app's on the first: it runs in
        // the client, on the client's files), as on the Python front, also for a task whose
        // specification was refused: the refusal is its tries' to report.
        let staged = {
            use std::borrow::Cow;
            let on = match executor {
                INTERNAL => inner.executors.first().map(|(l, e)| (l.as_str(), Cow::Owned(e.storage().in_client()))),
                _ => inner.executors.get(executor).map(|(l, e)| (l.as_str(), Cow::Borrowed(e.storage()))),
            };
            let (on, storage) = on.unwrap_or_else(|| (label, Cow::Owned(crate::staging::Storage::new(None, None))));
            crate::staging::prepare(&mut args, &opts.outputs, on, &storage)
        };
        let files = match staged {
            Ok(files) => files,
            Err(why) => return failed(Error::Executor(format!("app {}: {why}", def.name))),
        };
        let (own, external, external_failed) = inner.classify(args.iter().flat_map(ErasedArg::waits_for));
        let run = (opts.stdout.is_some() || opts.stderr.is_some() || opts.walltime.is_some() || files.is_some()).then(|| {
            Box::new(RunOptions { app: String::new(), stdout: opts.stdout, stderr: opts.stderr, walltime: opts.walltime, files })
        });
        let cache = opts.cache.unwrap_or(def.cache) && inner.app_cache;
        let join = matches!(def.runner, Runner::Join(_));
        let slot = {
            let mut tasks = lock(&inner.tasks);
            let mut kernel = lock(&inner.kernel);
            let tid = kernel.submitted();
            let slot = Slot::new(tid, inner.id);
            tasks.insert(
                tid,
                Task {
                    def,
                    args,
                    slot: slot.clone(),
                    executor,
                    run,
                    cache,
                    fail_count: 0,
                    last_error: None,
                    result: None,
                    joined: None,
                    hash: None,
                    from_memo: false,
                    resources,
                },
            );
            let deps = Dependencies { tasks: own, external_pending: external.len() as u32, external_failed };
            let row = inner.monitor.as_ref().map(|_| {
                let t = &tasks[&tid];
                Event::TaskSubmitted(chervil_monitor::TaskRow {
                    task_id: tid,
                    func_name: def.name.rsplit("::").next().unwrap_or(def.name).to_string(),
                    executor: label.to_string(),
                    depends: deps.tasks.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
                    memoize: cache,
                    inputs: None,
                    outputs: None,
                    stdout: t.run.as_ref().and_then(|r| r.stdout.clone()),
                    stderr: t.run.as_ref().and_then(|r| r.stderr.clone()),
                    invoked_us: chervil_monitor::Clock::now_us(),
                })
            });
            let submitted = kernel.submit(TaskSpec { func_name: def.name, executor: label, join, memoize: cache }, deps);
            inner.observe(&mut kernel, row);
            match submitted {
                Ok((_, commands)) => {
                    drop(kernel);
                    drop(tasks);
                    self.watch_external(tid, &external);
                    self.act(commands);
                    slot
                }
                Err(e) => {
                    tasks.remove(&tid);
                    return failed(Error::Executor(format!("app {}: {e}", def.name)));
                }
            }
        };
        let outputs = opts.outputs.into_iter().map(|f| DataFuture::new(f, slot.clone())).collect();
        AppFuture::new(slot, outputs)
    }

    fn choose_executor(&self, def: &AppDef, opts: &Opts) -> Result<usize, Error> {
        if matches!(def.runner, Runner::Join(_)) {
            return Ok(INTERNAL);
        }
        let execs = &self.0.executors;
        let Some(wanted) = &opts.executors else { return Ok(0) };
        let found = wanted.iter().find_map(|w| execs.iter().position(|(l, _)| l == w));
        found.ok_or_else(|| {
            let known: Vec<&str> = execs.iter().map(|(l, _)| l.as_str()).collect();
            Error::Executor(format!(
                "app {} asks for executor(s) {wanted:?}, but the loaded config has only {known:?}; change the call's executors or add an executor with that label",
                def.name
            ))
        })
    }

    fn watch_external(&self, tid: u64, external: &[Arc<Slot>]) {
        for s in external {
            let dfk = self.unowned();
            s.on_done(move |o| {
                let failed = o.is_err();
                let commands = dfk.with_kernel(None, |k| k.external_resolved(tid, failed));
                dfk.act_or_log(commands, tid);
            });
        }
    }

    fn act_or_log(&self, commands: Result<Vec<Command>, chervil_core::KernelError>, tid: u64) {
        match commands {
            Ok(c) => self.act(c),
            Err(e) => tracing::warn!(task = tid, error = %e, "kernel refused an event"),
        }
    }

    fn act(&self, commands: Vec<Command>) {
        thread_local! {
            static QUEUE: RefCell<Option<VecDeque<(Dfk, Command)>>> = const { RefCell::new(None) };
        }
        if commands.is_empty() {
            return;
        }
        let nested = QUEUE.with(|q| match q.borrow_mut().as_mut() {
            Some(q) => {
                q.extend(commands.iter().map(|c| (self.unowned(), *c)));
                true
            }
            None => false,
        });
        if nested {
            return;
        }
        QUEUE.with(|q| *q.borrow_mut() = Some(commands.into_iter().map(|c| (self.unowned(), c)).collect()));
        while let Some((dfk, command)) = QUEUE.with(|q| q.borrow_mut().as_mut().and_then(VecDeque::pop_front)) {
            match command {
                Command::Launch { task, try_id } => dfk.launch(task, try_id),
                Command::Complete { task, .. } => dfk.complete(task),
                Command::Fail { task, cause, .. } => dfk.fail(task, cause),
            }
        }
        QUEUE.with(|q| *q.borrow_mut() = None);
    }

    fn launch(&self, tid: u64, try_id: u32) {
        let inner = &self.0;
        let prepared = {
            let mut tasks = lock(&inner.tasks);
            let Some(t) = tasks.get_mut(&tid) else { return };
            // The kernel launches a task once it has seen its dependencies finish, but
            // another thread may still be carrying out a dependency's completion (its
            // `Complete` and this `Launch` came from different events): then launch again
            // when that slot is set, rather than wait here.
            let waited: Vec<Arc<Slot>> = t.args.iter().flat_map(ErasedArg::waits_for).cloned().collect();
            if let Some(slot) = unset(&waited) {
                drop(tasks);
                let dfk = self.unowned();
                slot.on_done(move |_| dfk.launch(tid, try_id));
                return;
            }
            let mut parts: Vec<Arc<[u8]>> = Vec::with_capacity(t.args.len());
            let mut bad = None;
            for a in &t.args {
                match &a.0 {
                    ArgKind::Value(Ok(b)) => parts.push(Arc::from(&b[..])),
                    ArgKind::Value(Err(e)) => bad = Some(e.clone()),
                    ArgKind::After(_, f) | ArgKind::Stage(f) => match codec::encode(f, "a file") {
                        Ok(b) => parts.push(Arc::from(b)),
                        Err(e) => bad = Some(e),
                    },
                    ArgKind::Result(s) => match s.outcome() {
                        Some(Ok(b)) => parts.push(b),
                        _ => bad = Some(Error::Executor(format!("task {tid}: a dependency failed after it was reported done"))),
                    },
                    ArgKind::Results(slots) => {
                        let values: Option<Vec<Arc<[u8]>>> = slots.iter().map(|s| s.outcome().and_then(Result::ok)).collect();
                        match values {
                            Some(v) => {
                                let refs: Vec<&[u8]> = v.iter().map(|b| &b[..]).collect();
                                parts.push(Arc::from(codec::concat_as_vec(&refs)));
                            }
                            None => bad = Some(Error::Executor(format!("task {tid}: a dependency failed after it was reported done"))),
                        }
                    }
                }
            }
            let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
            if t.cache && t.hash.is_none() && bad.is_none() {
                t.hash = Some(memo_hash(t.def.name, &refs));
            }
            let payload = match bad {
                Some(e) => Err(e),
                None => {
                    let mut run = t.run.as_deref().cloned().unwrap_or_default();
                    run.app = short_name(t.def.name).to_string();
                    codec::encode_payload(&run, &refs)
                }
            };
            (t.def, payload, parts, t.executor, t.hash.clone(), t.resources.clone())
        };
        let (def, payload, parts, executor, hash, resources) = prepared;
        let payload = match payload {
            Ok(p) => p,
            Err(e) => return self.try_failed(tid, try_id, e, f64::INFINITY),
        };
        if let Some(h) = &hash {
            let hit = match lock(&inner.memo.table).lookup(h) {
                Lookup::Miss => None,
                Lookup::Done(bytes) => Some(Ok(bytes.clone())),
                Lookup::Checkpointed(bytes) => Some(Ok(bytes)),
                Lookup::Failed(e) => Some(Err(e.clone())),
            };
            match hit {
                None => {
                    if let Err(e) = self.with_kernel(None, |k| k.memo_missed(tid, try_id)) {
                        tracing::warn!(task = tid, error = %e, "recording the launch failed");
                    }
                }
                Some(Ok(bytes)) => {
                    if let Some(t) = lock(&inner.tasks).get_mut(&tid) {
                        t.result = Some(bytes);
                        t.from_memo = true;
                    }
                    let commands = self.with_kernel(None, |k| k.try_succeeded(tid, try_id, true));
                    return self.act_or_log(commands, tid);
                }
                // As Parsl: the same failure, and no retry (it would meet the same entry).
                Some(Err(e)) => return self.try_failed(tid, try_id, e, f64::INFINITY),
            }
        }
        let resources = match resources {
            Ok(r) => r,
            Err(e) => return self.try_done(tid, try_id, Err(e)),
        };
        let dfk = self.unowned();
        if let Runner::Join(body) = def.runner {
            inner.internal.spawn(Box::new(move || {
                let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
                match body(&refs) {
                    Ok(joined) => dfk.join_returned(tid, try_id, joined),
                    Err(e) => dfk.try_done(tid, try_id, Err(e)),
                }
            }));
            return;
        }
        let done = Box::new(move |outcome| dfk.try_done(tid, try_id, outcome));
        match inner.executors.get(executor) {
            Some((_, e)) => e.submit(def, payload, resources, (tid, try_id), done),
            None => done(Err(Error::Executor(format!("task {tid}: no executor {executor}")))),
        }
    }

    fn try_done(&self, tid: u64, try_id: u32, outcome: Result<Vec<u8>, Error>) {
        match outcome {
            Ok(bytes) => {
                if let Some(t) = lock(&self.0.tasks).get_mut(&tid) {
                    t.result = Some(bytes.into());
                }
                let commands = self.with_kernel(None, |k| k.try_succeeded(tid, try_id, false));
                self.act_or_log(commands, tid);
            }
            Err(e) => {
                let view = lock(&self.0.tasks).get(&tid).map(|t| TaskView {
                    tid,
                    app: t.def.name.to_string(),
                    fail_count: t.fail_count + 1,
                });
                let cost = match (&self.0.retry_handler, view) {
                    (Some(handler), Some(view)) => {
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&e, &view))).unwrap_or(f64::INFINITY)
                    }
                    _ => 1.0,
                };
                self.try_failed(tid, try_id, e, cost);
            }
        }
    }

    fn try_failed(&self, tid: u64, try_id: u32, e: Error, cost: f64) {
        // the try's fail history, when monitored: the error's text before the task keeps it
        let before = self.0.monitor.as_ref().map(|_| Event::TryFailed { task_id: tid, try_id, error: e.to_string() });
        if let Some(t) = lock(&self.0.tasks).get_mut(&tid) {
            t.fail_count += 1;
            tracing::info!(task = tid, try_id, error = %e, "try failed");
            t.last_error = Some(Box::new(e));
        }
        let commands = self.with_kernel(before, |k| k.try_failed(tid, try_id, cost));
        self.act_or_log(commands, tid);
    }

    fn join_returned(&self, tid: u64, try_id: u32, joined: Joined) {
        let (own, external, external_failed) = self.0.classify(joined.slots.iter());
        if let Some(t) = lock(&self.0.tasks).get_mut(&tid) {
            t.joined = Some(Box::new(joined));
        }
        let deps = Dependencies { tasks: own, external_pending: external.len() as u32, external_failed };
        let commands = self.with_kernel(None, |k| k.join_returned(tid, try_id, deps));
        self.watch_external(tid, &external);
        self.act_or_log(commands, tid);
    }

    fn complete(&self, tid: u64) {
        let t = {
            let mut tasks = lock(&self.0.tasks);
            let Some(t) = tasks.get(&tid) else { return };
            // A join completes with its futures' values: wait for any whose completion
            // another thread is still carrying out (see `launch`).
            if let Some(slot) = t.joined.as_ref().and_then(|j| unset(&j.slots)) {
                drop(tasks);
                let dfk = self.unowned();
                slot.on_done(move |_| dfk.complete(tid));
                return;
            }
            match tasks.remove(&tid) {
                Some(t) => t,
                None => return,
            }
        };
        let bytes: Arc<[u8]> = match &t.joined {
            Some(j) => {
                let values: Vec<Arc<[u8]>> =
                    j.slots.iter().map(|s| s.outcome().and_then(Result::ok).unwrap_or_else(|| Arc::from(&[][..]))).collect();
                if j.list {
                    let refs: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
                    Arc::from(codec::concat_as_vec(&refs))
                } else {
                    values.into_iter().next().unwrap_or_else(|| Arc::from(&[][..]))
                }
            }
            None => t.result.clone().unwrap_or_else(|| Arc::from(&[][..])),
        };
        if let Some(h) = &t.hash {
            let write = lock(&self.0.memo.table).succeeded(h, bytes.clone(), t.from_memo).write;
            if let Some(c) = &self.0.memo.checkpoints {
                match write {
                    Write::Nothing => {}
                    Write::Encode => lock(c).record(h.clone(), bytes.to_vec()),
                    Write::Bytes(b) => lock(c).record(h.clone(), b.to_vec()),
                }
            }
        }
        t.slot.set(Ok(bytes));
    }

    fn fail(&self, tid: u64, cause: FailCause) {
        let t = {
            let mut tasks = lock(&self.0.tasks);
            let Some(t) = tasks.get(&tid) else { return };
            // The error names the failed dependencies (or joined futures): wait for any
            // whose failure another thread is still carrying out (see `launch`).
            let waited: Vec<Arc<Slot>> = match cause {
                FailCause::Try => Vec::new(),
                FailCause::Dependency => t.args.iter().flat_map(ErasedArg::waits_for).cloned().collect(),
                FailCause::Join => t.joined.as_ref().map(|j| j.slots.clone()).unwrap_or_default(),
            };
            if let Some(slot) = unset(&waited) {
                drop(tasks);
                let dfk = self.unowned();
                slot.on_done(move |_| dfk.fail(tid, cause));
                return;
            }
            match tasks.remove(&tid) {
                Some(t) => t,
                None => return,
            }
        };
        let failures = |slots: &mut dyn Iterator<Item = &Arc<Slot>>| -> Vec<(String, Error)> {
            slots
                .filter_map(|s| match s.outcome() {
                    Some(Err(e)) => Some((format!("task {}", s.tid), e)),
                    _ => None,
                })
                .collect()
        };
        let error = match cause {
            FailCause::Try => t.last_error.map(|e| *e).unwrap_or_else(|| Error::Executor(format!("task {tid} failed"))),
            FailCause::Dependency => {
                Error::DependencyError { task: tid, failed: failures(&mut t.args.iter().flat_map(ErasedArg::waits_for)) }
            }
            FailCause::Join => {
                let slots = t.joined.as_ref().map(|j| j.slots.clone()).unwrap_or_default();
                Error::JoinError { task: tid, failed: failures(&mut slots.iter()) }
            }
        };
        if let (FailCause::Try, Some(h)) = (cause, &t.hash) {
            lock(&self.0.memo.table).failed(h, error.clone());
        }
        if let (FailCause::Dependency, Some(m)) = (cause, &self.0.monitor) {
            // As Parsl: the never-launched try's fail history is the DependencyError.
            m.send(Event::TryFailed { task_id: tid, try_id: 0, error: error.to_string() });
        }
        t.slot.set(Err(error));
    }
}

impl Inner {
    /// When the run is monitored: `before`, then the kernel's state changes since the
    /// last call, to the monitor. Called with the kernel locked, so they keep its order.
    fn observe(&self, kernel: &mut Kernel, before: Option<Event>) {
        if let Some(m) = &self.monitor {
            chervil_run::monitoring::observe(m, kernel, before);
        }
    }

    /// This kernel's tasks (by id), other futures still running, and whether any other
    /// future has already failed.
    fn classify<'a>(&self, slots: impl Iterator<Item = &'a Arc<Slot>>) -> (Vec<u64>, Vec<Arc<Slot>>, bool) {
        let (mut own, mut external, mut external_failed) = (Vec::new(), Vec::new(), false);
        for s in slots {
            if s.dfk == self.id {
                own.push(s.tid);
            } else {
                match s.outcome() {
                    Some(Err(_)) => external_failed = true,
                    Some(Ok(_)) => {}
                    None => external.push(s.clone()),
                }
            }
        }
        (own, external, external_failed)
    }
}

/// The first of `slots` whose outcome is not set yet.
fn unset(slots: &[Arc<Slot>]) -> Option<Arc<Slot>> {
    slots.iter().find(|s| s.outcome().is_none()).cloned()
}

fn failed<T>(e: Error) -> AppFuture<T> {
    AppFuture::new(Slot::done(Err(e)), Vec::new())
}

fn short_name(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// The memo key of a call: the app's path and its encoded arguments (SHA-256, hex).
fn memo_hash(app: &str, args: &[&[u8]]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"chervil-rust-1\0");
    ctx.update(app.as_bytes());
    for a in args {
        ctx.update(&(a.len() as u64).to_be_bytes());
        ctx.update(a);
    }
    chervil_htex::tls::to_hex(ctx.finish().as_ref())
}

/// Submits a task to the loaded DataFlowKernel; what the app attributes call.
#[doc(hidden)]
pub fn submit<T>(def: &'static AppDef, opts: Opts, args: Vec<ErasedArg>) -> AppFuture<T> {
    match dfk() {
        Some(d) => d.submit(def, opts, args),
        None => failed(Error::Executor(format!(
            "app {} was called with no DataFlowKernel loaded; call chervil::load(config) first",
            def.name
        ))),
    }
}

/// Starts the run's monitoring: the database (the hub's, else `monitoring.db` in the
/// runs' directory, as Parsl's default) and its `workflow` row.
fn start_monitor(hub: &crate::config::MonitoringHub, runs: &Path, run_dir: &Path) -> Result<Arc<Monitor>, Error> {
    let path = hub.db.clone().unwrap_or_else(|| runs.join("monitoring.db"));
    let run_id = run_id()?;
    let monitor = Monitor::start(path, run_id, chervil_monitor::Clock::new(utc_offset_s()))
        .map_err(|e| Error::Executor(format!("cannot start monitoring: {e}")))?;
    let program = std::env::args().next().map(|a| {
        Path::new(&a).file_name().map_or(a.clone(), |n| n.to_string_lossy().into_owned())
    });
    monitor.send(Event::WorkflowStarted {
        name: hub.workflow_name.clone().or(program),
        version: None,
        began_us: chervil_monitor::Clock::now_us(),
        host: chervil_htex::pool::hostname(),
        user: std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default(),
        rundir: run_dir.to_string_lossy().into_owned(),
    });
    Ok(Arc::new(monitor))
}

/// A random run id in UUID v4's text form, as Parsl's `run_id`.
fn run_id() -> Result<String, Error> {
    // Runs share one database file: a fixed id would merge their rows, so no randomness
    // is an error, not a fallback.
    let b = chervil_htex::tls::new_token()
        .ok_or_else(|| Error::Executor("the system gave no random bytes for the monitoring run id".into()))?;
    let mut u = [0u8; 16];
    u.copy_from_slice(&b[..16]);
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    let h: String = u.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
}

/// This machine's offset from UTC now, for Parsl's local-time stamps.
fn utc_offset_s() -> i64 {
    // SAFETY: localtime_r fills the tm it is given from a time_t we own.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff
    }
}
