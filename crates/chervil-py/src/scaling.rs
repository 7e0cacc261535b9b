//! The scaling strategy as Python sees it: a snapshot in, a decision out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chervil_providers::JobState;
use chervil_scaling::{BlockView, Decision, Limits, Scaler as Engine, Strategy};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn job_state(v: u8) -> JobState {
    use JobState::*;
    [Unknown, Pending, Running, Cancelled, Completed, Failed, Timeout, Held, Missing, ScaledIn].get(usize::from(v)).copied().unwrap_or(Unknown)
}

/// One executor's strategy. The decision is also logged (engine log, info level)
/// with the executor's label, so every scaling step can be read back.
#[pyclass(frozen, module = "chervil._core")]
pub struct Scaler {
    label: String,
    inner: Mutex<Engine>,
}

/// `(block id, job state value, pools connected, tasks held, seconds idle or None)`.
type PyBlock = (String, u8, usize, usize, Option<f64>);

#[pymethods]
impl Scaler {
    #[new]
    #[pyo3(signature = (label, strategy, min_blocks, max_blocks, parallelism, slots_per_block, max_idletime))]
    fn new(label: String, strategy: Option<&str>, min_blocks: u32, max_blocks: u32, parallelism: f64, slots_per_block: f64, max_idletime: f64) -> PyResult<Self> {
        let strategy = Strategy::parse(strategy).map_err(PyValueError::new_err)?;
        if !max_idletime.is_finite() || max_idletime < 0.0 {
            return Err(PyValueError::new_err(format!("max_idletime={max_idletime} must be a number of seconds, 0 or more")));
        }
        let limits = Limits { min_blocks, max_blocks, parallelism, slots_per_block, max_idletime: Duration::from_secs_f64(max_idletime) };
        Ok(Scaler { label, inner: Mutex::new(Engine::new(strategy, limits)) })
    }

    /// `("out", n, reason)`, `("in", [block ids], reason)` or None.
    fn step(&self, py: Python<'_>, outstanding: usize, blocks: Vec<PyBlock>) -> PyResult<Option<Py<PyAny>>> {
        let views: Vec<BlockView> = blocks
            .into_iter()
            .map(|(id, state, pools, held, idle)| BlockView { id, state: job_state(state), pools, held, idle_for: idle.filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64) })
            .collect();
        let decision = self.inner.lock().unwrap_or_else(|p| p.into_inner()).step(Instant::now(), outstanding, &views);
        let label = &self.label;
        Ok(match decision {
            None => None,
            Some(Decision::ScaleOut { blocks, reason }) => {
                tracing::info!(executor = %label, blocks, %reason, "scaling out");
                Some(("out", blocks, reason).into_pyobject(py)?.into_any().unbind())
            }
            Some(Decision::ScaleIn { blocks, reason }) => {
                tracing::info!(executor = %label, blocks = ?blocks, %reason, "scaling in");
                Some(("in", blocks, reason).into_pyobject(py)?.into_any().unbind())
            }
        })
    }

    /// The block could not be retired (a task reached it first); count it again.
    fn keep(&self, block: &str) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).keep(block);
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

/// The name a block's job is submitted under (`chervil_scaling::block_job_name`, as the
/// Rust front names them).
#[pyfunction]
pub fn block_job_name(executor: &str, block: &str) -> String {
    chervil_scaling::block_job_name(executor, block)
}
