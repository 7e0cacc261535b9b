//! `chervil._core`: the kernel as Python sees it.
//!
//! The only crate that knows both Rust and Python types. It turns Python calls into
//! kernel events and the kernel's commands into small tuples the Python front acts on,
//! and converts engine errors into Python exceptions in exactly one place (`errors`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use chervil_core::{Command, Dependencies, FailCause, Kernel, KernelConfig, TaskSpec, TaskState};
use chervil_monitor::{Clock, Event, Monitor as MonitorEngine, TaskRow};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

mod checkpoint;
mod dashboard;
mod errors;
mod htex;
mod memo;
mod monitor;
mod providers;
mod run;
mod scaling;
mod shell;
mod splice;

/// A command as the front reads it: `(kind, task, value, cause)`.
/// kind: 0 launch (value = try id), 1 complete (value = state), 2 fail (value = state,
/// cause: 0 the try's exception, 1 dependency, 2 join), 3 launched (value = try id: the
/// engine has sent it already, the front records it; see `splice`).
pub(crate) type PyCommand = (u8, u64, u32, u8);

pub(crate) const LAUNCH: u8 = 0;
const COMPLETE: u8 = 1;
const FAIL: u8 = 2;
pub(crate) const LAUNCHED: u8 = 3;
const CAUSE_TRY: u8 = 0;
const CAUSE_DEPENDENCY: u8 = 1;
const CAUSE_JOIN: u8 = 2;

/// Each task state's value by its Parsl name (the front's `States` enum is checked
/// against it).
#[pyfunction]
fn task_states() -> std::collections::HashMap<&'static str, u8> {
    TaskState::ALL.iter().map(|s| (s.name(), s.value())).collect()
}

pub(crate) fn encode(commands: Vec<Command>) -> Vec<PyCommand> {
    commands
        .into_iter()
        .map(|c| match c {
            Command::Launch { task, try_id } => (LAUNCH, task, try_id, 0),
            Command::Complete { task, state } => (COMPLETE, task, u32::from(state.value()), 0),
            Command::Fail { task, state, cause } => {
                let cause = match cause {
                    FailCause::Try => CAUSE_TRY,
                    FailCause::Dependency => CAUSE_DEPENDENCY,
                    FailCause::Join => CAUSE_JOIN,
                };
                (FAIL, task, u32::from(state.value()), cause)
            }
        })
        .collect()
}


/// The kernel and the monitor its state changes go to: shared by the `KernelHandle` the
/// front drives and each interchange that reports a try's success to the kernel itself
/// (`Interchange.attach_kernel`), so a result does not cross into Python and back.
pub(crate) struct KernelCell {
    kernel: Mutex<Kernel>,
    /// Set once when the run is monitored: every state change goes to it from here,
    /// without a trip through Python.
    monitor: OnceLock<Arc<MonitorEngine>>,
}

impl KernelCell {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Kernel> {
        // A panic while holding the lock cannot leave the kernel half-updated in a way
        // that matters more than stopping the run, so a poisoned lock is still used.
        self.kernel.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `before` and then the kernel's state changes to the monitor (see
    /// `chervil_run::monitoring::observe`).
    pub(crate) fn observe(&self, kernel: &mut Kernel, before: Option<Event>) {
        if let Some(monitor) = self.monitor.get() {
            chervil_run::monitoring::observe(monitor, kernel, before);
        }
    }
}

/// The DataFlowKernel's state machine. Every method is one event; the returned list
/// holds the commands to carry out, in order.
#[pyclass(frozen, module = "chervil._core")]
pub(crate) struct KernelHandle {
    pub(crate) cell: Arc<KernelCell>,
    /// The live progress line, while one is drawn.
    progress: Mutex<Option<chervil_run::progress::Progress>>,
}

impl KernelHandle {
    fn lock(&self) -> MutexGuard<'_, Kernel> {
        self.cell.lock()
    }

    fn observe(&self, kernel: &mut Kernel, before: Option<Event>) {
        self.cell.observe(kernel, before);
    }
}

fn deps(tasks: Vec<u64>, external_pending: u32, external_failed: bool) -> Dependencies {
    Dependencies { tasks, external_pending, external_failed }
}

#[pymethods]
impl KernelHandle {
    #[new]
    #[pyo3(signature = (retries = 0.0, garbage_collect = true))]
    fn new(retries: f64, garbage_collect: bool) -> Self {
        let kernel = Mutex::new(Kernel::new(KernelConfig { retries, garbage_collect }));
        KernelHandle { cell: Arc::new(KernelCell { kernel, monitor: OnceLock::new() }), progress: Mutex::new(None) }
    }

    /// Draws the progress line on stderr every `every` seconds until `stop_progress`,
    /// when the run wants it (`chervil_run::progress::wanted`: CHERVIL_PROGRESS=1 and
    /// stderr a terminal); otherwise does nothing and returns False.
    #[pyo3(signature = (every = 0.5))]
    fn start_progress(&self, every: f64) -> PyResult<bool> {
        if !chervil_run::progress::wanted() {
            return Ok(false);
        }
        let mut slot = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            let every = std::time::Duration::try_from_secs_f64(every)
                .map_err(|_| PyValueError::new_err(format!("every must be a positive number of seconds, not {every}")))?;
            *slot = Some(
                {
                    let cell = Arc::clone(&self.cell);
                    chervil_run::progress::Progress::start(
                        move || chervil_core::progress::Counts::of(&cell.lock()),
                        every,
                    )
                }
                    .map_err(|e| PyRuntimeError::new_err(format!("cannot start the progress line: {e}")))?,
            );
        }
        Ok(true)
    }

    /// The script is about to write to the terminal: the progress line steps aside
    /// (see `progress_back`). Nothing when no line is drawn.
    fn progress_aside(&self) {
        if let Some(p) = self.progress.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            p.aside();
        }
    }

    /// The script's write is done; the line comes back below it if `ended_line`.
    fn progress_back(&self, ended_line: bool) {
        if let Some(p) = self.progress.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            p.back(ended_line);
        }
    }

    /// Draws the run's summary in place of the progress line and ends it with a newline.
    fn stop_progress(&self, py: Python<'_>) {
        let taken = self.progress.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut p) = taken {
            py.detach(|| p.stop());
        }
    }

    /// From now on every task's state changes are recorded by `monitor`.
    fn attach_monitor(&self, monitor: &monitor::Monitor) -> PyResult<()> {
        let mut kernel = self.lock();
        self.cell
            .monitor
            .set(Arc::clone(&monitor.inner))
            .map_err(|_| PyRuntimeError::new_err("this kernel already has a monitor"))?;
        kernel.observe_transitions(true);
        Ok(())
    }

    /// Closes the monitored run's workflow row with the engine's counts (Parsl's:
    /// `chervil_run::monitoring::workflow_ended`). Nothing when not monitored.
    fn end_workflow(&self) {
        if let Some(m) = self.cell.monitor.get() {
            chervil_run::monitoring::workflow_ended(m, &mut self.lock());
        }
    }

    /// Returns `(task_id, commands)`. `task_row`, when monitoring, is what only the front
    /// knows of the task: `(memoize, inputs, outputs, stdout, stderr)` as text.
    #[pyo3(signature = (func_name, executor, join, deps_tasks, external_pending = 0, external_failed = false, task_row = None, memoize = false))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn submit(
        &self,
        func_name: String,
        executor: String,
        join: bool,
        deps_tasks: Vec<u64>,
        external_pending: u32,
        external_failed: bool,
        task_row: Option<(bool, Option<String>, Option<String>, Option<String>, Option<String>)>,
        memoize: bool,
    ) -> PyResult<(u64, Vec<PyCommand>)> {
        let monitored = self.cell.monitor.get().is_some();
        let depends = monitored.then(|| deps_tasks.iter().map(u64::to_string).collect::<Vec<_>>().join(","));
        let mut kernel = self.lock();
        let spec = TaskSpec { func_name: &func_name, executor: &executor, join, memoize };
        let (id, commands) = kernel.submit(spec, deps(deps_tasks, external_pending, external_failed)).map_err(errors::kernel)?;
        if let Some(depends) = depends {
            let (memoize, inputs, outputs, stdout, stderr) = task_row.unwrap_or_default();
            let row = TaskRow { task_id: id, func_name, executor, depends, memoize, inputs, outputs, stdout, stderr,
                                invoked_us: Clock::now_us() };
            self.observe(&mut kernel, Some(Event::TaskSubmitted(row)));
        }
        Ok((id, encode(commands)))
    }

    fn external_resolved(&self, task: u64, failed: bool) -> PyResult<Vec<PyCommand>> {
        let mut kernel = self.lock();
        let out = kernel.external_resolved(task, failed).map(encode).map_err(errors::kernel);
        self.observe(&mut kernel, None);
        out
    }

    /// The memo table had nothing for this try of a memoized task: it is `launched` now.
    fn memo_missed(&self, task: u64, try_id: u32) -> PyResult<()> {
        let mut kernel = self.lock();
        let out = kernel.memo_missed(task, try_id).map_err(errors::kernel);
        self.observe(&mut kernel, None);
        out
    }

    #[pyo3(signature = (task, try_id, from_memo = false))]
    fn try_succeeded(&self, task: u64, try_id: u32, from_memo: bool) -> PyResult<Vec<PyCommand>> {
        let mut kernel = self.lock();
        let out = kernel.try_succeeded(task, try_id, from_memo).map(encode).map_err(errors::kernel);
        self.observe(&mut kernel, None);
        out
    }

    /// `error`, when monitoring, is the try's exception as text (its `task_fail_history`).
    #[pyo3(signature = (task, try_id, cost, error = None))]
    fn try_failed(&self, task: u64, try_id: u32, cost: f64, error: Option<String>) -> PyResult<Vec<PyCommand>> {
        let mut kernel = self.lock();
        let out = kernel.try_failed(task, try_id, cost).map(encode).map_err(errors::kernel);
        let before = error.map(|error| Event::TryFailed { task_id: task, try_id, error });
        self.observe(&mut kernel, before);
        out
    }

    #[pyo3(signature = (task, try_id, inner_tasks, external_pending = 0, external_failed = false))]
    fn join_returned(
        &self,
        task: u64,
        try_id: u32,
        inner_tasks: Vec<u64>,
        external_pending: u32,
        external_failed: bool,
    ) -> PyResult<Vec<PyCommand>> {
        let mut kernel = self.lock();
        let out = kernel
            .join_returned(task, try_id, deps(inner_tasks, external_pending, external_failed))
            .map(encode)
            .map_err(errors::kernel);
        self.observe(&mut kernel, None);
        out
    }

    fn close(&self) {
        self.lock().close();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.lock().is_closed()
    }

    #[getter]
    fn unfinished(&self) -> usize {
        self.lock().unfinished()
    }

    #[getter]
    fn submitted(&self) -> u64 {
        self.lock().submitted()
    }

    #[getter]
    fn records_held(&self) -> usize {
        self.lock().records_held()
    }

    /// `{state value: count}` for every state.
    fn state_counts(&self) -> Vec<(u8, u64)> {
        let k = self.lock();
        TaskState::ALL.iter().map(|s| (s.value(), k.count(*s))).collect()
    }

    /// `(state, try_id, fail_count, fail_cost)` of a live task, or None once forgotten.
    fn info(&self, task: u64) -> Option<(u8, u32, u32, f64)> {
        self.lock().info(task).map(|i| (i.state.value(), i.try_id, i.fail_count, i.fail_cost))
    }
}

/// Where the engine's `tracing` events go: the current run's log file, switched at
/// each `load()` (a process has one global subscriber, but many runs). Buffered:
/// debug lines (a few per task) are written in blocks, and anything at info or above
/// flushes the buffer, so what matters is on disk at once and a crash loses at most
/// the last few debug lines.
static RUN_LOG: Mutex<Option<BufWriter<File>>> = Mutex::new(None);
static SUBSCRIBER: OnceLock<()> = OnceLock::new();

struct RunLog {
    flush_after: bool,
}

impl Write for RunLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match RUN_LOG.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match RUN_LOG.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for RunLog {
    fn drop(&mut self) {
        if self.flush_after {
            let _ = self.flush();
        }
    }
}

struct MakeRunLog;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MakeRunLog {
    type Writer = RunLog;
    fn make_writer(&'a self) -> RunLog {
        RunLog { flush_after: true }
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> RunLog {
        RunLog { flush_after: *meta.level() <= tracing::Level::INFO }
    }
}

/// Writes out buffered engine log lines (the DataFlowKernel calls it at cleanup).
#[pyfunction]
fn flush_log() {
    let _ = RunLog { flush_after: false }.flush();
}

/// Sends the engine's log to `path` (appending); `None` stops it. `debug` raises the
/// level from info to debug (every task's state changes), as does the environment
/// variable `CHERVIL_LOG_LEVEL=debug` (or `trace`); the level is fixed the first time
/// logging is set up.
#[pyfunction]
#[pyo3(signature = (path, debug = false))]
fn set_log_file(path: Option<String>, debug: bool) -> PyResult<()> {
    let file = match path {
        Some(p) => Some(BufWriter::with_capacity(
            64 * 1024,
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .map_err(|e| PyRuntimeError::new_err(format!("cannot open the engine log {p}: {e}")))?,
        )),
        None => None,
    };
    *RUN_LOG.lock().unwrap_or_else(|p| p.into_inner()) = file;
    SUBSCRIBER.get_or_init(|| {
        let level = match std::env::var("CHERVIL_LOG_LEVEL").map(|v| v.to_ascii_lowercase()).as_deref() {
            Ok("trace") => tracing::Level::TRACE,
            Ok("debug") => tracing::Level::DEBUG,
            Ok("warn") | Ok("warning") => tracing::Level::WARN,
            Ok("error") => tracing::Level::ERROR,
            _ if debug => tracing::Level::DEBUG,
            _ => tracing::Level::INFO,
        };
        let _ = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(MakeRunLog)
            .try_init();
    });
    Ok(())
}

/// The engine as the Python front sees it: the DataFlowKernel's handle, the interchange,
/// the providers, the blocks and the strategy, checkpoints, the memo table, monitoring,
/// and the codes of the tuples they hand the front. Internal to chervil: its callers are
/// chervil's own modules.
// Declared as one module so that PyO3 can describe it: with the `stubs` feature,
// scripts/core-stub.py writes the typed `_core.pyi` from that description.
#[pymodule]
mod _core {
    #[pymodule_export]
    use super::{flush_log, set_log_file, task_states, KernelHandle};
    #[pymodule_export]
    use crate::checkpoint::{checkpoint_hashes, load_checkpoints, Checkpointer};
    #[pymodule_export]
    use crate::dashboard::serve_dashboard;
    #[pymodule_export]
    use crate::errors::{CheckpointError, DashboardError, EngineError, InterchangeError, KernelError, PoolError, ProviderError};
    #[pymodule_export]
    use crate::htex::{
        accept_resource_specification, check_cpu_affinity, check_mpi_mode, hostname, mpi_environment, run_pool, Interchange,
    };
    #[pymodule_export]
    use crate::memo::MemoTable;
    #[pymodule_export]
    use crate::monitor::Monitor;
    #[pymodule_export]
    use crate::providers::{check_walltime, dns_label, dns_subdomain, launcher_script, script_with_sentinels, status_polling_interval, AdHocJobs, BatchJobs, LocalJobs};
    #[pymodule_export]
    use crate::run::{all_checkpoints, checkpoints_to_load, expected_slots_per_block, last_checkpoint, make_run_dir};
    #[pymodule_export]
    use crate::scaling::{block_failure_report, block_job_name, blocks_failed, initial_blocks, BlockBook, Scaler, Ticker};
    #[pymodule_export]
    use crate::shell::run_shell;

    // The codes of the tuples the engine hands the front, named here so the front reads
    // them instead of keeping a copy.
    #[pymodule_export]
    const LAUNCH: u8 = super::LAUNCH;
    #[pymodule_export]
    const COMPLETE: u8 = super::COMPLETE;
    #[pymodule_export]
    const FAIL: u8 = super::FAIL;
    #[pymodule_export]
    const LAUNCHED: u8 = super::LAUNCHED;
    #[pymodule_export]
    const CAUSE_TRY: u8 = super::CAUSE_TRY;
    #[pymodule_export]
    const CAUSE_DEPENDENCY: u8 = super::CAUSE_DEPENDENCY;
    #[pymodule_export]
    const CAUSE_JOIN: u8 = super::CAUSE_JOIN;
    #[pymodule_export]
    const RESULT_OK: u8 = crate::htex::DONE_OK;
    #[pymodule_export]
    const RESULT_ERR: u8 = crate::htex::DONE_ERR;
    #[pymodule_export]
    const WORKER_LOST: u8 = crate::htex::WORKER_LOST;
    #[pymodule_export]
    const POOL_LOST: u8 = crate::htex::POOL_LOST;
    #[pymodule_export]
    const REFUSED: u8 = crate::htex::REFUSED;
    #[pymodule_export]
    const MPI_CORES_PER_WORKER: f64 = chervil_htex::MPI_CORES_PER_WORKER;
    #[pymodule_export]
    #[allow(non_upper_case_globals)]
    const __version__: &str = env!("CARGO_PKG_VERSION");
    #[pymodule_export]
    #[allow(non_upper_case_globals)]
    const __commit__: &str = env!("CHERVIL_COMMIT");
}
