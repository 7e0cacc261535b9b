//! Providers and launchers as Python sees them.

use chervil_providers::cli::shell_word;
use std::sync::Mutex;

use std::time::Duration;

use chervil_providers::schedulers::{cloud::{Aws, Azure, GoogleCloud, OpenStack}, kubernetes::Kubernetes};
use chervil_providers::{launchers, schedulers, AdHocProvider, BatchProvider, BlockSpec, JobStatus, LocalProvider, ProviderError, Scheduler};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

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
        py.detach(|| self.lock().submit(script, job_name)).map_err(provider_err)
    }

    fn status(&self, py: Python<'_>, ids: Vec<String>) -> Vec<PyJobStatus> {
        py.detach(|| self.lock().status(&ids)).into_iter().map(encode).collect()
    }

    fn cancel(&self, py: Python<'_>, ids: Vec<String>) -> Vec<bool> {
        py.detach(|| self.lock().cancel(&ids))
    }
}

/// How often a provider is asked about its blocks by default (the Rust front's too):
/// `scheduler` is `local`, `adhoc`, or a batch, cloud or Kubernetes provider's engine
/// name (`slurm`, `aws`, …).
#[pyfunction]
pub fn status_polling_interval(scheduler: &str) -> PyResult<f64> {
    use chervil_providers::{default_status_polling_interval as every, BlockSource};
    let batch = schedulers::by_name(scheduler);
    let source = match scheduler {
        "local" => BlockSource::Local,
        "adhoc" => BlockSource::AdHoc,
        // clouds and Kubernetes are made with their settings, not by name
        _ => BlockSource::Batch(batch.as_deref()),
    };
    Ok(every(source).as_secs_f64())
}

/// The script a launcher makes of the pool command; `kind` is the launcher
/// (`single_node`, `srun`, `srun_mpi`, `aprun`, `jsrun`, `mpiexec`, `mpirun`,
/// `gnu_parallel`, `wrapped`), the keywords its options.
#[pyfunction]
#[pyo3(signature = (kind, command, tasks_per_node, nodes_per_block, *, script_dir = "", debug = true, overrides = "",
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
    let launcher = launchers::Launcher::by_name(kind, overrides, fail_on_any, bind_cmd, bash_location, prepend)
        .ok_or_else(|| PyValueError::new_err(format!("no launcher called {kind:?}")))?;
    Ok(launcher.script(command, tasks_per_node, nodes_per_block, script_dir, debug))
}

fn provider_err(e: ProviderError) -> PyErr {
    crate::errors::provider(e)
}

/// Blocks as batch jobs of one scheduler (`slurm`, `pbspro`, `torque`,
/// `grid_engine`, `lsf`, `condor`); the keywords are the block's options, with
/// Parsl's names (None leaves one out).
#[pyclass(frozen, module = "chervil._core")]
pub struct BatchJobs {
    inner: Mutex<BatchProvider>,
}

impl BatchJobs {
    fn with(scheduler: Box<dyn Scheduler>, spec: BlockSpec, script_dir: String) -> PyResult<Self> {
        Ok(BatchJobs { inner: Mutex::new(BatchProvider::new(scheduler, spec, script_dir).map_err(provider_err)?) })
    }

    /// Kubernetes and the clouds: a block is one pod or machine, and the scheduler value
    /// carries every other setting.
    fn one_node(scheduler: Box<dyn Scheduler>, script_dir: String, walltime: String, cmd_timeout: f64, worker_init: String) -> PyResult<Self> {
        let mut spec = block_spec(1, walltime, cmd_timeout, None)?;
        spec.worker_init = worker_init;
        Self::with(scheduler, spec, script_dir)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BatchProvider> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn block_spec(nodes_per_block: u32, walltime: String, cmd_timeout: f64, options: Option<&Bound<'_, PyDict>>) -> PyResult<BlockSpec> {
    let cmd_timeout = Duration::try_from_secs_f64(cmd_timeout).map_err(|_| PyValueError::new_err(format!("cmd_timeout must be a positive number of seconds, not {cmd_timeout}")))?;
    let mut spec = BlockSpec { nodes_per_block, walltime, cmd_timeout, ..BlockSpec::default() };
    let Some(options) = options else { return Ok(spec) };
    for (k, v) in options.iter() {
        if v.is_none() {
            continue;
        }
        let key: String = k.extract()?;
        match key.as_str() {
            "queue" => spec.queue = Some(v.extract()?),
            "account" => spec.account = Some(v.extract()?),
            "qos" => spec.qos = Some(v.extract()?),
            "constraint" => spec.constraint = Some(v.extract()?),
            "clusters" => spec.clusters = Some(v.extract()?),
            "gres" => spec.gres = Some(v.extract()?),
            "cores_per_node" => spec.cores_per_node = Some(v.extract()?),
            "gpus_per_node" => spec.gpus_per_node = Some(v.extract()?),
            "cores_per_block" => spec.cores_per_block = Some(v.extract()?),
            "mem_per_node" => spec.mem_per_node_gb = Some(v.extract()?),
            "exclusive" => spec.exclusive = v.extract()?,
            "bsub_redirection" => spec.bsub_redirection = v.extract()?,
            "select_options" => spec.select_options = v.extract()?,
            "requirements" => spec.requirements = v.extract()?,
            "scheduler_options" => spec.scheduler_options = v.extract()?,
            "worker_init" => spec.worker_init = v.extract()?,
            "environment" => spec.environment = v.extract::<std::collections::BTreeMap<String, String>>()?.into_iter().collect(),
            "transfer_input_files" => spec.transfer_input_files = v.extract()?,
            "status_batch_size" => spec.status_batch_size = v.extract()?,
            other => return Err(PyValueError::new_err(format!("unknown block option {other:?}"))),
        }
    }
    Ok(spec)
}

#[pymethods]
impl BatchJobs {
    #[new]
    #[pyo3(signature = (scheduler, script_dir, nodes_per_block, walltime, cmd_timeout, **options))]
    fn new(scheduler: &str, script_dir: String, nodes_per_block: u32, walltime: String, cmd_timeout: f64, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let sched = schedulers::by_name(scheduler).ok_or_else(|| PyValueError::new_err(format!("no scheduler called {scheduler:?}")))?;
        let spec = block_spec(nodes_per_block, walltime, cmd_timeout, options)?;
        Self::with(sched, spec, script_dir)
    }

    /// Pods through kubectl; `pod` holds the pod's settings with Parsl's names.
    #[staticmethod]
    #[pyo3(signature = (script_dir, walltime, cmd_timeout, worker_init, *, image, namespace, pod_name, init_cpu, max_cpu,
                        init_mem, max_mem, extra_requests, extra_limits, user_id, group_id, run_as_non_root, secret,
                        persistent_volumes, service_account_name, annotations, status_batch_size))]
    #[allow(clippy::too_many_arguments)]
    fn kubernetes(
        script_dir: String,
        walltime: String,
        cmd_timeout: f64,
        worker_init: String,
        image: String,
        namespace: String,
        pod_name: String,
        init_cpu: String,
        max_cpu: String,
        init_mem: String,
        max_mem: String,
        extra_requests: Vec<(String, String)>,
        extra_limits: Vec<(String, String)>,
        user_id: Option<i64>,
        group_id: Option<i64>,
        run_as_non_root: bool,
        secret: Option<String>,
        persistent_volumes: Vec<(String, String)>,
        service_account_name: Option<String>,
        annotations: Vec<(String, String)>,
        status_batch_size: usize,
    ) -> PyResult<Self> {
        let k = Kubernetes {
            image,
            namespace,
            pod_name,
            init_cpu,
            max_cpu,
            init_mem,
            max_mem,
            extra_requests,
            extra_limits,
            user_id,
            group_id,
            run_as_non_root,
            secret,
            persistent_volumes,
            service_account_name,
            annotations,
        };
        let mut spec = block_spec(1, walltime, cmd_timeout, None)?;
        spec.worker_init = worker_init;
        spec.status_batch_size = status_batch_size;
        Self::with(Box::new(k), spec, script_dir)
    }

    /// EC2 instances through the aws CLI.
    #[staticmethod]
    #[pyo3(signature = (script_dir, walltime, cmd_timeout, worker_init, *, image_id, key_name, instance_type, region,
                        spot_max_bid, profile, iam_instance_profile_arn, subnet_id, security_group_ids, linger))]
    #[allow(clippy::too_many_arguments)]
    fn aws(
        script_dir: String,
        walltime: String,
        cmd_timeout: f64,
        worker_init: String,
        image_id: String,
        key_name: String,
        instance_type: String,
        region: String,
        spot_max_bid: f64,
        profile: Option<String>,
        iam_instance_profile_arn: String,
        subnet_id: Option<String>,
        security_group_ids: Vec<String>,
        linger: bool,
    ) -> PyResult<Self> {
        let a = Aws { image_id, key_name, instance_type, region, spot_max_bid, profile, iam_instance_profile_arn, subnet_id, security_group_ids, linger };
        Self::one_node(Box::new(a), script_dir, walltime, cmd_timeout, worker_init)
    }

    /// Compute Engine instances through gcloud.
    #[staticmethod]
    #[pyo3(signature = (script_dir, walltime, cmd_timeout, worker_init, *, project_id, key_file, region, zone, os_project,
                        os_family, instance_type, linger))]
    #[allow(clippy::too_many_arguments)]
    fn google_cloud(
        script_dir: String,
        walltime: String,
        cmd_timeout: f64,
        worker_init: String,
        project_id: String,
        key_file: String,
        region: String,
        zone: String,
        os_project: String,
        os_family: String,
        instance_type: String,
        linger: bool,
    ) -> PyResult<Self> {
        let g = GoogleCloud { project_id, key_file, region, zone, os_project, os_family, instance_type, linger };
        Self::one_node(Box::new(g), script_dir, walltime, cmd_timeout, worker_init)
    }

    /// OpenStack servers through the openstack CLI.
    #[staticmethod]
    #[pyo3(signature = (script_dir, walltime, cmd_timeout, worker_init, *, cloud, image, flavor, network, key_name,
                        security_groups, linger))]
    #[allow(clippy::too_many_arguments)]
    fn openstack(
        script_dir: String,
        walltime: String,
        cmd_timeout: f64,
        worker_init: String,
        cloud: Option<String>,
        image: String,
        flavor: String,
        network: String,
        key_name: String,
        security_groups: Vec<String>,
        linger: bool,
    ) -> PyResult<Self> {
        let o = OpenStack { cloud, image, flavor, network, key_name, security_groups, linger };
        Self::one_node(Box::new(o), script_dir, walltime, cmd_timeout, worker_init)
    }

    /// Azure VMs through the az CLI.
    #[staticmethod]
    #[pyo3(signature = (script_dir, walltime, cmd_timeout, worker_init, *, resource_group, location, image, vm_size,
                        disk_size_gb, admin_username, key_file, vnet_name, linger))]
    #[allow(clippy::too_many_arguments)]
    fn azure(
        script_dir: String,
        walltime: String,
        cmd_timeout: f64,
        worker_init: String,
        resource_group: String,
        location: String,
        image: String,
        vm_size: String,
        disk_size_gb: Option<u32>,
        admin_username: String,
        key_file: Option<String>,
        vnet_name: Option<String>,
        linger: bool,
    ) -> PyResult<Self> {
        let a = Azure { resource_group, location, image, vm_size, disk_size_gb, admin_username, key_file, vnet_name, linger };
        Self::one_node(Box::new(a), script_dir, walltime, cmd_timeout, worker_init)
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

    /// `(stdout path, stderr path)` of a job this provider submitted.
    fn files(&self, id: &str) -> Option<(String, String)> {
        self.lock().job_files(id).map(|(o, e)| (o.display().to_string(), e.display().to_string()))
    }

    /// From now on each scheduler command goes to `provider().execute_wait(cmd, timeout)`
    /// when the script has replaced that method (`provider` is a weak reference to the
    /// Python provider); with Parsl's own, or once the provider is gone, it runs here.
    fn route_commands(&self, provider: Py<PyAny>) {
        self.lock().set_runner(Box::new(ExecuteWait { provider }));
    }
}

/// Parsl's `execute_wait` hook (see `BatchJobs::route_commands`).
struct ExecuteWait {
    provider: Py<PyAny>,
}

impl chervil_providers::CommandRunner for ExecuteWait {
    fn run(&self, argv: &[String], cwd: Option<&std::path::Path>, timeout: Duration) -> Result<Option<chervil_providers::cli::Output>, ProviderError> {
        let mut cmd = argv.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ");
        if let Some(dir) = cwd {
            cmd = format!("cd {} && {cmd}", shell_word(&dir.display().to_string()));
        }
        Python::attach(|py| -> PyResult<Option<chervil_providers::cli::Output>> {
            let provider = self.provider.call0(py)?;
            if provider.is_none(py) {
                return Ok(None);
            }
            let hook = provider.getattr(py, "execute_wait")?;
            // (a True, not merely an attribute: a Mock made with spec= has every attribute)
            if hook.getattr(py, "_chervil_runs_here").and_then(|v| v.extract::<bool>(py)).unwrap_or(false) {
                return Ok(None); // Parsl's own: the engine runs it, with its own timeout and kill
            }
            let (code, stdout, stderr): (i32, String, String) = hook.call1(py, (cmd.as_str(), timeout.as_secs_f64()))?.extract(py)?;
            Ok(Some(chervil_providers::cli::Output { code, stdout, stderr }))
        })
        .map_err(|e| ProviderError::Command { command: cmd.clone(), error: format!("execute_wait raised {e}") })
    }
}

/// Blocks on a fixed list of hosts over SSH, one block per host.
#[pyclass(frozen, module = "chervil._core")]
pub struct AdHocJobs {
    inner: Mutex<AdHocProvider>,
}

#[pymethods]
impl AdHocJobs {
    #[new]
    fn new(hosts: Vec<String>, ssh_options: Vec<String>, remote_dir: String, cmd_timeout: f64) -> PyResult<Self> {
        let timeout = Duration::try_from_secs_f64(cmd_timeout).map_err(|_| PyValueError::new_err(format!("cmd_timeout must be a positive number of seconds, not {cmd_timeout}")))?;
        Ok(AdHocJobs { inner: Mutex::new(AdHocProvider::new(hosts, ssh_options, remote_dir, timeout).map_err(provider_err)?) })
    }

    fn submit(&self, py: Python<'_>, script: &str, job_name: &str) -> PyResult<String> {
        py.detach(|| self.inner.lock().unwrap_or_else(|p| p.into_inner()).submit(script, job_name)).map_err(provider_err)
    }

    fn status(&self, py: Python<'_>, ids: Vec<String>) -> PyResult<Vec<PyJobStatus>> {
        Ok(py.detach(|| self.inner.lock().unwrap_or_else(|p| p.into_inner()).status(&ids)).map_err(provider_err)?.into_iter().map(encode).collect())
    }

    fn cancel(&self, py: Python<'_>, ids: Vec<String>) -> PyResult<Vec<bool>> {
        py.detach(|| self.inner.lock().unwrap_or_else(|p| p.into_inner()).cancel(&ids)).map_err(provider_err)
    }
}

/// Checks a walltime (`HH:MM:SS`) at configuration time.
#[pyfunction]
pub fn check_walltime(walltime: &str) -> PyResult<()> {
    chervil_providers::batch::check_walltime(walltime).map_err(provider_err)
}

/// `raw` as an RFC 1123 DNS label, the Kubernetes provider's rule; empty when nothing
/// of `raw` can be kept (Parsl's `sanitize_dns_label_rfc1123` raises then).
#[pyfunction]
pub fn dns_label(raw: &str) -> String {
    chervil_providers::schedulers::kubernetes::dns_label(raw)
}

/// `raw` as an RFC 1123 DNS subdomain (each part a label), the rule that names the
/// Kubernetes provider's pods; empty when nothing of `raw` can be kept.
#[pyfunction]
pub fn dns_subdomain(raw: &str) -> String {
    chervil_providers::schedulers::kubernetes::dns_subdomain(raw)
}

/// The submit script the engine writes for `scheduler` (a batch scheduler's label, or
/// `aws`/`azure` for the machine's start-up script), with every value a caller sets
/// written as a sentinel (`@JOBNAME@`, `@DIR@`, `@WALLTIME@`, `@WORKER_INIT@`,
/// `@SCHEDULER_OPTIONS@`, `@USER_SCRIPT@`, `@SELECT_OPTIONS@`, `@REQUIREMENTS@`,
/// `@PROJECT@`, `@INPUT_FILES@`, numbers 7777771 nodes, 7777772 tasks per node,
/// 7777773 cores per node), for the Python front's `template` modules to name as
/// Parsl's templates do.
#[pyfunction]
pub fn script_with_sentinels(scheduler: &str) -> PyResult<String> {
    let spec = BlockSpec {
        nodes_per_block: 7_777_771,
        walltime: "@WALLTIME@".into(),
        cores_per_node: Some(7_777_773),
        select_options: "@SELECT_OPTIONS@".into(),
        requirements: "@REQUIREMENTS@".into(),
        account: Some("@PROJECT@".into()),
        transfer_input_files: vec!["@INPUT_FILES@".into()],
        scheduler_options: "@SCHEDULER_OPTIONS@".into(),
        worker_init: "@WORKER_INIT@".into(),
        ..BlockSpec::default()
    };
    let dir = std::path::PathBuf::from("@DIR@");
    let job = chervil_providers::batch::JobFiles {
        name: "@JOBNAME@".into(),
        stdout: dir.join("@JOBNAME@.stdout"),
        stderr: dir.join("@JOBNAME@.stderr"),
        dir,
    };
    let command = "@USER_SCRIPT@";
    if matches!(scheduler, "aws" | "azure") {
        return Ok(chervil_providers::schedulers::cloud::vm_script(&spec, &job.name, command, false));
    }
    let sched = schedulers::by_name(scheduler).ok_or_else(|| PyValueError::new_err(format!("no scheduler called {scheduler:?}")))?;
    let files = sched.files(&spec, &job, 7_777_772, command);
    files.into_iter().next().map(|(_, text)| text).ok_or_else(|| PyValueError::new_err(format!("{scheduler} writes no script")))
}
