//! Checkpoints as Python sees them: results go in as pickled bytes.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chervil_checkpoint::{load_dirs, Checkpointer as Engine, Policy};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};


/// Writes finished tasks' results in one of Parsl's checkpoint modes.
#[pyclass(frozen, module = "chervil._core")]
pub struct Checkpointer {
    inner: Mutex<Engine>,
}

impl Checkpointer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl Checkpointer {
    /// `mode` is `task_exit`, `periodic` (every `period` seconds), `dfk_exit` or `manual`.
    #[new]
    #[pyo3(signature = (dir, mode, period = None))]
    fn new(dir: PathBuf, mode: &str, period: Option<f64>) -> PyResult<Self> {
        let policy = match (mode, period) {
            ("task_exit", _) => Policy::TaskExit,
            ("dfk_exit", _) => Policy::DfkExit,
            ("manual", _) => Policy::Manual,
            ("periodic", Some(p)) => Policy::Periodic(Duration::try_from_secs_f64(p).ok().filter(|d| !d.is_zero()).ok_or_else(|| PyValueError::new_err(format!("checkpoint_period must be more than 0 seconds, not {p}")))?),
            ("periodic", None) => return Err(PyValueError::new_err("checkpoint_mode='periodic' needs checkpoint_period='HH:MM:SS'")),
            (other, _) => return Err(PyValueError::new_err(format!("checkpoint_mode {other:?} is unknown; choose 'task_exit', 'periodic', 'dfk_exit' or 'manual'"))),
        };
        Ok(Checkpointer { inner: Mutex::new(Engine::open(dir, policy).map_err(crate::errors::checkpoint)?) })
    }

    fn record(&self, py: Python<'_>, hash: String, payload: Vec<u8>) {
        py.detach(|| self.lock().record(hash, payload))
    }

    fn checkpoint(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| self.lock().checkpoint()).map_err(crate::errors::checkpoint)
    }

    fn close(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| self.lock().close()).map_err(crate::errors::checkpoint)
    }

    #[getter]
    fn written(&self) -> u64 {
        self.lock().written()
    }
}

/// Every record of these checkpoint directories: `{hash: pickled result}`.
#[pyfunction]
pub fn load_checkpoints<'py>(py: Python<'py>, dirs: Vec<PathBuf>) -> PyResult<Bound<'py, PyDict>> {
    let table = py.detach(|| load_dirs(&dirs)).map_err(crate::errors::checkpoint)?;
    let out = PyDict::new(py);
    for (hash, payload) in table {
        out.set_item(hash, PyBytes::new(py, &payload))?;
    }
    Ok(out)
}

/// The hash of every record in one checkpoint directory, in write order, repeats
/// included (scripts/chaos-soak.py checks that no task was checkpointed twice).
#[pyfunction]
pub fn checkpoint_hashes(py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
    let recs = py.detach(|| chervil_checkpoint::records(&dir)).map_err(crate::errors::checkpoint)?;
    Ok(recs.into_iter().map(|r| r.hash).collect())
}
