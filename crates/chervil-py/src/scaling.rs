//! Blocks and scaling as Python sees them: the engine's book and driver of an
//! executor's blocks (`BlockBook`), its strategy (`Scaler`), and the rules the error
//! handlers and messages share with the Rust front; and the strategy's clock (`Ticker`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chervil_providers::{JobState, JobStatus};
use chervil_run::blocks::Blocks;
use chervil_scaling::{Limits, Load, Scaler as Engine, Strategy};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn job_state(v: u8) -> JobState {
    use JobState::*;
    [Unknown, Pending, Running, Cancelled, Completed, Failed, Timeout, Held, Missing, ScaledIn].get(usize::from(v)).copied().unwrap_or(Unknown)
}

/// The strategy's clock, the Rust front's too (`chervil_run::Ticker`): a thread that
/// calls `round()` every `period` seconds until `stop()` (the job status poller's).
/// An exception from `round` is reported as unraisable; the next round comes anyway.
#[pyclass(frozen, module = "chervil._core")]
pub struct Ticker {
    inner: chervil_run::Ticker,
}

#[pymethods]
impl Ticker {
    #[new]
    fn new(name: &str, period: f64, round: Py<PyAny>) -> PyResult<Self> {
        // (0 is taken as "as often as can be", a millisecond, not a busy loop)
        let period = Duration::try_from_secs_f64(period)
            .map_err(|_| PyValueError::new_err(format!("strategy_period={period} must be a number of seconds, 0 or more")))?
            .max(Duration::from_millis(1));
        let inner = chervil_run::Ticker::start(name, period, move || {
            // None: the interpreter is shutting down (a run never cleaned up); no round then.
            let _ = Python::try_attach(|py| {
                if let Err(e) = round.call0(py) {
                    e.write_unraisable(py, None);
                }
            });
        })
        .map_err(|e| PyValueError::new_err(format!("cannot start the thread {name}: {e}")))?;
        Ok(Ticker { inner })
    }

    /// Stops the clock and waits for a round in progress (not when called from a round).
    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.inner.stop());
    }
}

/// One executor's strategy, as `BlockBook.round` and `BlockBook.retire` drive it (the
/// engine's driver logs each decision with the executor's label).
#[pyclass(frozen, module = "chervil._core")]
pub struct Scaler {
    inner: Mutex<Engine>,
}

impl Scaler {
    fn lock(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl Scaler {
    #[new]
    #[pyo3(signature = (strategy, *, min_blocks, max_blocks, parallelism, slots_per_block, max_idletime))]
    fn new(strategy: Option<&str>, min_blocks: u32, max_blocks: u32, parallelism: f64, slots_per_block: f64, max_idletime: f64) -> PyResult<Self> {
        let strategy = Strategy::parse(strategy).map_err(PyValueError::new_err)?;
        if !max_idletime.is_finite() || max_idletime < 0.0 {
            return Err(PyValueError::new_err(format!("max_idletime={max_idletime} must be a number of seconds, 0 or more")));
        }
        let limits = Limits { min_blocks, max_blocks, parallelism, slots_per_block, max_idletime: Duration::from_secs_f64(max_idletime) };
        Ok(Scaler { inner: Mutex::new(Engine::new(strategy, limits)) })
    }
}

/// Parsl's error handlers on job state values: `windowed` looks at the last
/// `threshold` blocks only.
#[pyfunction]
#[pyo3(signature = (states, threshold, windowed = false))]
pub fn blocks_failed(states: Vec<u8>, threshold: usize, windowed: bool) -> bool {
    let states: Vec<JobState> = states.into_iter().map(job_state).collect();
    if windowed {
        chervil_scaling::last_blocks_failed(&states, threshold)
    } else {
        chervil_scaling::all_blocks_failed(&states, threshold)
    }
}

/// Why an executor stopped (`chervil_scaling::block_failure_report`, the Rust front's
/// text too): `header`, then each block given as `(id, state, message, exit_code,
/// [(stream, path, tail), ...])`.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn block_failure_report(
    header: &str,
    blocks: Vec<(String, String, Option<String>, Option<i32>, Vec<(String, Option<String>, String)>)>,
) -> String {
    let blocks: Vec<chervil_scaling::FailedBlock> = blocks
        .into_iter()
        .map(|(id, state, message, exit_code, outputs)| chervil_scaling::FailedBlock {
            id,
            state,
            message,
            exit_code,
            outputs: outputs
                .into_iter()
                .map(|(name, path, tail)| chervil_scaling::BlockOutput { name, path, tail })
                .collect(),
        })
        .collect();
    chervil_scaling::block_failure_report(header, &blocks)
}

/// The blocks an executor starts with (`chervil_scaling::initial_blocks`: Parsl's
/// `max(init_blocks, min_blocks)`, as the Rust front starts them).
#[pyfunction]
pub fn initial_blocks(init_blocks: u32, min_blocks: u32) -> u32 {
    chervil_scaling::initial_blocks(init_blocks, min_blocks)
}

/// The name a block's job is submitted under (`chervil_scaling::block_job_name`, as the
/// Rust front names them).
#[pyfunction]
pub fn block_job_name(executor: &str, block: &str) -> String {
    chervil_scaling::block_job_name(executor, block)
}

/// A block's status as Python gives and reads it: `(state value, message, exit_code,
/// stdout_path, stderr_path)`.
type PyStatus = (u8, Option<String>, Option<i32>, Option<String>, Option<String>);

fn job_status((state, message, exit_code, stdout_path, stderr_path): PyStatus) -> JobStatus {
    JobStatus { state: job_state(state), message, exit_code, stdout_path: stdout_path.map(Into::into), stderr_path: stderr_path.map(Into::into) }
}

fn py_status(s: &JobStatus) -> PyStatus {
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
    (s.state as u8, s.message.clone(), s.exit_code, path(&s.stdout_path), path(&s.stderr_path))
}

/// `block id → (pools, tasks held, seconds idle or None)`, as `_block_load` gives it.
type PyLoad = HashMap<String, (usize, usize, Option<f64>)>;

fn loads(load: PyLoad) -> BTreeMap<String, Load> {
    load.into_iter()
        .map(|(block, (pools, held, idle))| {
            (block, Load { pools, held, idle_for: idle.filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64) })
        })
        .collect()
}

fn poll_every(status_polling_interval: f64) -> PyResult<Duration> {
    if !status_polling_interval.is_finite() || status_polling_interval < 0.0 {
        return Err(PyValueError::new_err(format!(
            "status_polling_interval={status_polling_interval} must be a number of seconds, 0 or more"
        )));
    }
    Ok(Duration::from_secs_f64(status_polling_interval))
}

/// An executor's blocks, kept and driven by the engine (`chervil_run::blocks`, the Rust
/// front's too): ids and job names, when to poll and which jobs, each state change once
/// (in the engine's log and, when attached, monitoring's `block` table), the order of a
/// strategy round, what to cancel. The driver calls back into the executor for its
/// provider and interchange (`PyFront`), never holding this book's lock meanwhile.
/// The executor calls the driving methods (`start`, `poll`, `retire`, `round`,
/// `shutdown`) under its own `_blocks_lock`, so one thread at a time drives its blocks
/// (and a scaler's lock is never waited for with the GIL held).
#[pyclass(frozen, module = "chervil._core")]
pub struct BlockBook {
    inner: Mutex<Blocks>,
}

impl BlockBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, Blocks> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl BlockBook {
    #[new]
    fn new(label: String, status_polling_interval: f64) -> PyResult<Self> {
        let every = poll_every(status_polling_interval)?;
        Ok(BlockBook { inner: Mutex::new(Blocks::new(label, every, None)) })
    }

    /// The provider's `status_polling_interval` now (a script may change it mid-run).
    fn set_status_polling_interval(&self, status_polling_interval: f64) -> PyResult<()> {
        let every = poll_every(status_polling_interval)?;
        self.lock().set_poll_every(every);
        Ok(())
    }

    /// From now on each block change is also a `block` row of `monitor` (None: not).
    #[pyo3(signature = (monitor))]
    fn attach_monitor(&self, monitor: Option<PyRef<'_, crate::monitor::Monitor>>) {
        self.lock().set_monitor(monitor.map(|m| m.inner.clone()));
    }

    fn poll_soon(&self) {
        self.lock().poll_soon();
    }

    /// `[(block id, job id or None, status)]`, in the order the blocks were started.
    fn blocks(&self) -> Vec<(String, Option<String>, PyStatus)> {
        self.lock().blocks().map(|(id, job, s)| (id, job.map(str::to_string), py_status(s))).collect()
    }

    /// Up to `n` live blocks to scale in (see `BlockBook::choose_to_retire`).
    #[pyo3(signature = (n, max_idletime, load))]
    fn choose_to_retire(&self, n: usize, max_idletime: Option<f64>, load: PyLoad) -> Vec<String> {
        let min = max_idletime.filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64);
        let load = loads(load);
        self.lock().choose_to_retire(n, min, |b| load.get(b).copied())
    }

    /// Starts `n` blocks through `executor`'s provider; their ids. A refused block is a
    /// failed block, and `ValueError` says why (the caller raises Parsl's `ScalingFailed`).
    fn start(&self, executor: Bound<'_, PyAny>, n: u32) -> PyResult<Vec<String>> {
        let mut front = PyFront { executor, error: None };
        let started = chervil_run::blocks::start(&self.inner, &mut front, n);
        front.done(())?;
        started.map_err(PyValueError::new_err)
    }

    /// Polls the provider when due (or `force`).
    #[pyo3(signature = (executor, force = false))]
    fn poll(&self, executor: Bound<'_, PyAny>, force: bool) -> PyResult<()> {
        let mut front = PyFront { executor, error: None };
        chervil_run::blocks::poll(&self.inner, &mut front, force);
        front.done(())
    }

    /// Retires `blocks` (only idle ones unless `force`) and cancels their jobs; the ones
    /// retired (a block kept is counted again by `scaler`).
    #[pyo3(signature = (executor, blocks, force, scaler = None))]
    fn retire(&self, executor: Bound<'_, PyAny>, blocks: Vec<String>, force: bool, scaler: Option<&Scaler>) -> PyResult<Vec<String>> {
        let mut front = PyFront { executor, error: None };
        let mut engine = scaler.map(Scaler::lock);
        let retired = chervil_run::blocks::retire(&self.inner, &mut front, blocks, force, engine.as_deref_mut());
        front.done(retired)
    }

    /// One strategy round of the engine's driver: poll when due, the executor's error
    /// handler, at most one decision of `scaler` (None: the `none` strategy), carried out.
    #[pyo3(signature = (executor, scaler = None))]
    fn round(&self, executor: Bound<'_, PyAny>, scaler: Option<&Scaler>) -> PyResult<()> {
        let mut front = PyFront { executor, error: None };
        let mut engine = scaler.map(Scaler::lock);
        chervil_run::blocks::round(&self.inner, engine.as_deref_mut(), &mut front);
        front.done(())
    }

    /// At shutdown: every job cancelled, the blocks not ended `SCALED_IN`.
    fn shutdown(&self, executor: Bound<'_, PyAny>) -> PyResult<()> {
        let mut front = PyFront { executor, error: None };
        chervil_run::blocks::shutdown(&self.inner, &mut front);
        front.done(())
    }
}

/// The executor as the engine's block driver calls it (`BlockProviderExecutor`'s
/// `_submit_block`, `_provider_status`, `_cancel`, `_retire`, `outstanding`,
/// `_block_load`, `_judge_blocks`). An exception the driver has no use for (from the
/// error handler, say) is kept and raised once the driver's call returns.
struct PyFront<'py> {
    executor: Bound<'py, PyAny>,
    error: Option<PyErr>,
}

impl PyFront<'_> {
    fn keep<T>(&mut self, r: PyResult<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    fn done<T>(self, value: T) -> PyResult<T> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

/// `str(exception)`, as a provider's refusal reads in Parsl's messages.
fn words(py: Python<'_>, e: &PyErr) -> String {
    e.value(py).str().map(|s| s.to_string()).unwrap_or_else(|_| e.to_string())
}

impl chervil_run::blocks::BlockFront for PyFront<'_> {
    fn submit(&mut self, block: &str, job_name: &str) -> Result<String, String> {
        let py = self.executor.py();
        self.executor.call_method1("_submit_block", (block, job_name)).and_then(|j| j.str()).map(|j| j.to_string()).map_err(|e| words(py, &e))
    }

    fn status(&mut self, jobs: &[String]) -> Result<Vec<JobStatus>, String> {
        let py = self.executor.py();
        let answers = self.executor.call_method1("_provider_status", (jobs.to_vec(),)).and_then(|a| a.extract::<Vec<PyStatus>>());
        answers.map(|a| a.into_iter().map(job_status).collect()).map_err(|e| words(py, &e))
    }

    fn cancel(&mut self, jobs: &[String]) {
        let r = self.executor.call_method1("_cancel", (jobs.to_vec(),));
        self.keep(r);
    }

    fn retire(&mut self, block: &str, only_if_idle: bool) -> bool {
        let r = self.executor.call_method1("_retire", (block, only_if_idle)).and_then(|r| r.is_truthy());
        self.keep(r).unwrap_or(false)
    }

    fn load(&mut self) -> (usize, BTreeMap<String, Load>) {
        let outstanding = self.executor.call_method0("outstanding").and_then(|o| o.extract::<usize>());
        let outstanding = self.keep(outstanding).unwrap_or(0);
        let load = self.executor.call_method0("_block_load").and_then(|l| l.extract::<PyLoad>());
        (outstanding, loads(self.keep(load).unwrap_or_default()))
    }

    fn registered_blocks(&mut self) -> Option<Vec<String>> {
        let r = self.executor.call_method0("_registered_blocks").and_then(|r| r.extract::<Option<Vec<String>>>());
        self.keep(r).unwrap_or(None)
    }

    fn judge(&mut self, _book: &chervil_scaling::BlockBook) -> bool {
        let r = self.executor.call_method0("_judge_blocks").and_then(|r| r.is_truthy());
        self.keep(r).unwrap_or(false)
    }
}
