//! Providers and launchers as Python sees them.

use std::sync::Mutex;

use chervil_providers::{launchers, JobStatus, LocalProvider};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// `(state value, message, exit code, stdout path, stderr path)`.
type PyJobStatus = (u8, Option<String>, Option<i32>, Option<String>, Option<String>);

fn encode(s: JobStatus) -> PyJobStatus {
    let path = |p: Option<std::path::PathBuf>| p.map(|p| p.display().to_string());
    (s.state as u8, s.message, s.exit_code, path(s.stdout_path), path(s.stderr_path))
}

/// Blocks as process groups on this machine.
#[pyclass(frozen, module = "chervil._core")]
pub struct LocalJobs {
    inner: Mutex<LocalProvider>,
}

impl LocalJobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, LocalProvider> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl LocalJobs {
    #[new]
    fn new(script_dir: String) -> Self {
        LocalJobs { inner: Mutex::new(LocalProvider::new(script_dir)) }
    }

    fn submit(&self, py: Python<'_>, script: &str, job_name: &str) -> PyResult<String> {
        py.detach(|| self.lock().submit(script, job_name)).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    fn status(&self, py: Python<'_>, ids: Vec<String>) -> Vec<PyJobStatus> {
        py.detach(|| self.lock().status(&ids)).into_iter().map(encode).collect()
    }

    fn cancel(&self, py: Python<'_>, ids: Vec<String>) -> Vec<bool> {
        py.detach(|| self.lock().cancel(&ids))
    }
}

#[pyfunction]
#[pyo3(signature = (command, tasks_per_node, nodes_per_block, fail_on_any = false, debug = true))]
pub fn single_node_launcher(command: &str, tasks_per_node: u32, nodes_per_block: u32, fail_on_any: bool, debug: bool) -> String {
    launchers::single_node(command, tasks_per_node, nodes_per_block, fail_on_any, debug)
}
