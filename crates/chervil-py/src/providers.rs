//! Providers and launchers as Python sees them.

use std::sync::Mutex;

use std::time::Duration;

use chervil_providers::{launchers, JobStatus, LocalProvider, ProviderError, SlurmProvider, SlurmSpec};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
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

/// The script a launcher makes of the pool command; `kind` is the launcher
/// (`single_node`, `srun`, `srun_mpi`, `aprun`, `jsrun`, `mpiexec`, `mpirun`,
/// `gnu_parallel`, `wrapped`), the keywords its options.
#[pyfunction]
#[pyo3(signature = (kind, command, tasks_per_node, nodes_per_block, script_dir = "", debug = true, overrides = "",
                    fail_on_any = false, bind_cmd = "--bind-to", bash_location = "/bin/bash", prepend = ""))]
#[allow(clippy::too_many_arguments)]
pub fn launcher_script(
    kind: &str,
    command: &str,
    tasks_per_node: u32,
    nodes_per_block: u32,
    script_dir: &str,
    debug: bool,
    overrides: &str,
    fail_on_any: bool,
    bind_cmd: &str,
    bash_location: &str,
    prepend: &str,
) -> PyResult<String> {
    let (c, t, n, d) = (command, tasks_per_node, nodes_per_block, script_dir);
    Ok(match kind {
        "single_node" => launchers::single_node(c, t, n, fail_on_any, debug),
        "srun" => launchers::srun(c, t, n, overrides, d, debug),
        "srun_mpi" => launchers::srun_mpi(c, t, n, overrides, d, debug),
        "aprun" => launchers::aprun(c, t, n, overrides, d, debug),
        "jsrun" => launchers::jsrun(c, t, n, overrides, d, debug),
        "mpiexec" => launchers::mpiexec(c, t, n, bind_cmd, overrides, d, debug),
        "mpirun" => launchers::mpirun(c, t, n, bash_location, overrides, d, debug),
        "gnu_parallel" => launchers::gnu_parallel(c, t, n, d, debug),
        "wrapped" => launchers::wrapped(c, prepend),
        other => return Err(PyValueError::new_err(format!("no launcher called {other:?}"))),
    })
}

fn provider_err(e: ProviderError) -> PyErr {
    match e {
        ProviderError::Config(m) => PyValueError::new_err(m),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// Blocks as Slurm batch jobs.
#[pyclass(frozen, module = "chervil._core")]
pub struct SlurmJobs {
    inner: Mutex<SlurmProvider>,
}

impl SlurmJobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlurmProvider> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl SlurmJobs {
    #[new]
    #[pyo3(signature = (script_dir, nodes_per_block, walltime, cmd_timeout, exclusive = true, scheduler_options = String::new(), worker_init = String::new(), partition = None, account = None, qos = None, constraint = None, clusters = None, cores_per_node = None, mem_per_node = None, gpus_per_node = None, gres = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        script_dir: String,
        nodes_per_block: u32,
        walltime: String,
        cmd_timeout: f64,
        exclusive: bool,
        scheduler_options: String,
        worker_init: String,
        partition: Option<String>,
        account: Option<String>,
        qos: Option<String>,
        constraint: Option<String>,
        clusters: Option<String>,
        cores_per_node: Option<u32>,
        mem_per_node: Option<u32>,
        gpus_per_node: Option<u32>,
        gres: Option<String>,
    ) -> PyResult<Self> {
        let cmd_timeout = Duration::try_from_secs_f64(cmd_timeout).map_err(|_| PyValueError::new_err(format!("cmd_timeout must be a positive number of seconds, not {cmd_timeout}")))?;
        let spec = SlurmSpec {
            partition,
            account,
            qos,
            constraint,
            clusters,
            nodes_per_block,
            cores_per_node,
            mem_per_node_gb: mem_per_node,
            gpus_per_node,
            gres,
            walltime,
            exclusive,
            scheduler_options,
            worker_init,
            cmd_timeout,
        };
        Ok(SlurmJobs { inner: Mutex::new(SlurmProvider::new(spec, script_dir).map_err(provider_err)?) })
    }

    fn submit(&self, py: Python<'_>, command: &str, tasks_per_node: u32, job_name: &str) -> PyResult<String> {
        py.detach(|| self.lock().submit(command, tasks_per_node, job_name)).map_err(provider_err)
    }

    fn status(&self, py: Python<'_>, ids: Vec<String>) -> PyResult<Vec<PyJobStatus>> {
        Ok(py.detach(|| self.lock().status(&ids)).map_err(provider_err)?.into_iter().map(encode).collect())
    }

    fn cancel(&self, py: Python<'_>, ids: Vec<String>) -> PyResult<Vec<bool>> {
        py.detach(|| self.lock().cancel(&ids)).map_err(provider_err)
    }
}

/// Checks a Slurm walltime (`HH:MM:SS`) at configuration time.
#[pyfunction]
pub fn check_walltime(walltime: &str) -> PyResult<()> {
    chervil_providers::slurm::check_walltime(walltime).map_err(provider_err)
}
