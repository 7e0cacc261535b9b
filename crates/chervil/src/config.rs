//! The run's configuration, with Parsl's parameter names as builder methods: a program
//! moves from a laptop to a cluster by changing its executor's provider only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::future::File;
use crate::staging::Staging;

/// Decides what a failed try costs against [`Config::retries`]: Parsl's
/// `retry_handler(exception, task_record)`, given the error and the task's name and id.
pub type RetryHandler = Arc<dyn Fn(&Error, &TaskView) -> f64 + Send + Sync>;

/// What a retry handler may look at.
#[derive(Debug, Clone)]
pub struct TaskView {
    pub tid: u64,
    pub app: String,
    pub fail_count: u32,
}

/// When memoized results are written to the run's checkpoint directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointMode {
    /// As each task finishes (crash-safe: a killed client loses no finished task).
    TaskExit,
    /// At cleanup.
    DfkExit,
    /// Only when [`Dfk::checkpoint`](crate::Dfk::checkpoint) is called.
    Manual,
}

/// Parsl's `Config`.
#[derive(Clone)]
pub struct Config {
    pub(crate) executors: Vec<ExecutorConfig>,
    pub(crate) retries: u32,
    pub(crate) retry_handler: Option<RetryHandler>,
    pub(crate) app_cache: bool,
    pub(crate) checkpoint_mode: Option<CheckpointMode>,
    pub(crate) checkpoint_files: Option<Vec<PathBuf>>,
    pub(crate) run_dir: PathBuf,
    pub(crate) strategy: String,
    pub(crate) strategy_period: Duration,
    pub(crate) max_idletime: Duration,
    pub(crate) monitoring: Option<MonitoringHub>,
}

/// Monitoring (Parsl's `MonitoringHub`): every task, try, state change and resource
/// sample of the run in Parsl's SQLite database, which `chervil dashboard` and Parsl's
/// `parsl-visualize` read. The rows come from the engine code the Python front uses.
#[derive(Debug, Clone)]
pub struct MonitoringHub {
    pub(crate) db: Option<PathBuf>,
    pub(crate) resource_monitoring_interval: f64,
    pub(crate) workflow_name: Option<String>,
}

impl Default for MonitoringHub {
    fn default() -> Self {
        MonitoringHub::new()
    }
}

impl MonitoringHub {
    pub fn new() -> Self {
        MonitoringHub { db: None, resource_monitoring_interval: 30.0, workflow_name: None }
    }

    /// The database file (default `monitoring.db` in the config's `run_dir`, as Parsl's
    /// `sqlite:///runinfo/monitoring.db`). Runs append to one file.
    pub fn db(mut self, path: impl Into<PathBuf>) -> Self {
        self.db = Some(path.into());
        self
    }

    /// Seconds between samples of the workers running tasks on a HighThroughputExecutor
    /// (default 30, as Parsl's; every task is sampled at least once, as it ends; 0 turns
    /// sampling off).
    pub fn resource_monitoring_interval(mut self, seconds: f64) -> Self {
        self.resource_monitoring_interval = seconds;
        self
    }

    /// The `workflow_name` column (default: the program's name).
    pub fn workflow_name(mut self, name: impl Into<String>) -> Self {
        self.workflow_name = Some(name.into());
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// A thread pool in this process, as Parsl's default config.
    pub fn new() -> Self {
        Config {
            executors: Vec::new(),
            retries: 0,
            retry_handler: None,
            app_cache: true,
            checkpoint_mode: None,
            checkpoint_files: None,
            run_dir: PathBuf::from("runinfo"),
            strategy: "simple".into(),
            strategy_period: Duration::from_secs(5),
            max_idletime: Duration::from_secs(120),
            monitoring: None,
        }
    }

    /// Records the run in a monitoring database (default: none).
    pub fn monitoring(mut self, hub: MonitoringHub) -> Self {
        self.monitoring = Some(hub);
        self
    }

    /// Adds an executor (the first one added replaces the default thread pool).
    pub fn executor(mut self, executor: impl Into<ExecutorConfig>) -> Self {
        self.executors.push(executor.into());
        self
    }

    /// How many times a failing task is tried again (default 0: a failure is final). Each
    /// failure costs 1, or what the [`retry_handler`](Config::retry_handler) says.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// What a failure costs against [`retries`](Config::retries), from its error and the
    /// task (default: none, every failure costs 1). Return a large number to stop retrying.
    pub fn retry_handler(mut self, handler: impl Fn(&Error, &TaskView) -> f64 + Send + Sync + 'static) -> Self {
        self.retry_handler = Some(Arc::new(handler));
        self
    }

    /// Whether `cache` apps are memoized at all (default true).
    pub fn app_cache(mut self, on: bool) -> Self {
        self.app_cache = on;
        self
    }

    /// When memoized results are written to this run's `checkpoint` directory (default:
    /// never). Setting it also makes a run that names no
    /// [`checkpoint_files`](Config::checkpoint_files) load every earlier run's checkpoints.
    pub fn checkpoint_mode(mut self, mode: CheckpointMode) -> Self {
        self.checkpoint_mode = Some(mode);
        self
    }

    /// Checkpoint directories of earlier runs to load memoized results from (see
    /// [`crate::get_all_checkpoints`]). Default: none named, and then — as in Parsl — a
    /// run with a [`checkpoint_mode`](Config::checkpoint_mode) loads every earlier run's
    /// checkpoints under its [`run_dir`](Config::run_dir), and a run without loads none.
    /// An empty list loads none.
    pub fn checkpoint_files(mut self, dirs: Vec<PathBuf>) -> Self {
        self.checkpoint_files = Some(dirs);
        self
    }

    /// How blocks are scaled: `"simple"` (the default, as Parsl's), `"htex_auto_scale"` or
    /// `"none"`. Every [`strategy_period`](Config::strategy_period), whatever the
    /// strategy, the blocks are polled when their provider's `status_polling_interval`
    /// has passed (or a pool has left) and judged by the executor's
    /// [`block_error_handler`](HighThroughputExecutor::block_error_handler): by
    /// default, once every block has failed, the executor's tasks fail with why.
    pub fn strategy(mut self, strategy: impl Into<String>) -> Self {
        self.strategy = strategy.into();
        self
    }

    /// How often the strategy looks (default 5 s).
    pub fn strategy_period(mut self, period: Duration) -> Self {
        self.strategy_period = period;
        self
    }

    /// How long without a task before idle blocks are scaled in (default 120 s).
    pub fn max_idletime(mut self, idle: Duration) -> Self {
        self.max_idletime = idle;
        self
    }

    /// Where numbered run directories are made (default `runinfo`).
    pub fn run_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_dir = dir.into();
        self
    }
}

/// One executor of the config.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a config value, made once per run
pub enum ExecutorConfig {
    Threads(ThreadPoolExecutor),
    Htex(HighThroughputExecutor),
}

impl ExecutorConfig {
    pub(crate) fn label(&self) -> &str {
        match self {
            ExecutorConfig::Threads(t) => &t.label,
            ExecutorConfig::Htex(h) => &h.label,
        }
    }
}

/// Threads in this process (Parsl's `ThreadPoolExecutor`).
#[derive(Debug, Clone)]
pub struct ThreadPoolExecutor {
    pub(crate) label: String,
    pub(crate) max_threads: usize,
    pub(crate) working_dir: Option<String>,
    pub(crate) storage_access: Option<Vec<Staging>>,
}

impl Default for ThreadPoolExecutor {
    fn default() -> Self {
        ThreadPoolExecutor::new()
    }
}

impl ThreadPoolExecutor {
    pub fn new() -> Self {
        ThreadPoolExecutor { label: "threads".into(), max_threads: 2, working_dir: None, storage_access: None }
    }

    /// Where files staged for its tasks land (fetched `http`, `https`, `ftp`
    /// [`File`](crate::File)s, rsync's copies; default: the process's directory), as
    /// Parsl's `working_dir`.
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// How its tasks get their files, as Parsl's `storage_access` (default
    /// `[Staging::Http, Staging::Ftp]`; see [`Staging`]).
    pub fn storage_access(mut self, access: impl IntoIterator<Item = Staging>) -> Self {
        self.storage_access = Some(access.into_iter().collect());
        self
    }

    /// The executor's name, for `Opts::executors` (default `"threads"`).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Threads that run tasks (default 2; at least 1).
    pub fn max_threads(mut self, n: usize) -> Self {
        self.max_threads = n.max(1);
        self
    }
}

impl From<ThreadPoolExecutor> for ExecutorConfig {
    fn from(t: ThreadPoolExecutor) -> Self {
        ExecutorConfig::Threads(t)
    }
}

/// Pools of worker processes fed by an interchange (Parsl's `HighThroughputExecutor`).
/// A worker is this program started again: call [`crate::init`] first in `main`.
#[derive(Debug, Clone)]
pub struct HighThroughputExecutor {
    pub(crate) label: String,
    pub(crate) max_workers_per_node: Option<u32>,
    pub(crate) cores_per_worker: f64,
    pub(crate) heartbeat_period: Duration,
    pub(crate) heartbeat_threshold: Duration,
    pub(crate) address: Option<String>,
    pub(crate) prefetch_capacity: u32,
    pub(crate) encrypted: bool,
    pub(crate) provider: Provider,
    /// MPI mode (Parsl's `MPIExecutor`): the launcher each task's ranks start with.
    pub(crate) mpi_launcher: Option<String>,
    pub(crate) working_dir: Option<String>,
    pub(crate) storage_access: Option<Vec<Staging>>,
    pub(crate) block_error_handler: BlockErrorHandler,
}

/// When an executor whose blocks fail stops (Parsl's `block_error_handler`), re-exported
/// from the engine, which decides it for both fronts.
pub use chervil_scaling::BlockErrorHandler;

impl Default for HighThroughputExecutor {
    fn default() -> Self {
        HighThroughputExecutor::new()
    }
}

impl HighThroughputExecutor {
    /// The worker rule its pools follow (and scaling expects before they connect).
    pub(crate) fn slots(&self) -> chervil_htex::WorkerSlots {
        chervil_htex::WorkerSlots {
            max_workers_per_node: self.max_workers_per_node,
            cores_per_worker: self.cores_per_worker,
            mem_per_worker_gb: None,
            accelerators: Vec::new(),
        }
    }

    pub fn new() -> Self {
        HighThroughputExecutor {
            label: "htex".into(),
            max_workers_per_node: None,
            cores_per_worker: 1.0,
            heartbeat_period: Duration::from_secs(30),
            heartbeat_threshold: Duration::from_secs(120),
            address: None,
            prefetch_capacity: 0,
            encrypted: true,
            provider: Provider::Local(LocalProvider::new()),
            mpi_launcher: None,
            working_dir: None,
            storage_access: None,
            block_error_handler: BlockErrorHandler::Simple,
        }
    }

    /// When failing blocks stop the executor (default [`BlockErrorHandler::Simple`], as
    /// Parsl's `True`: once every block has failed; then every task out, and every later
    /// one, fails with each block's exit and the end of its output).
    /// [`BlockErrorHandler::KeepGoing`] replaces failed blocks instead, for blocks that
    /// die for reasons that pass (a killed pool, a lost node, a walltime); pair it with
    /// `Config::retries` so the tasks a lost pool held run again.
    pub fn block_error_handler(mut self, handler: BlockErrorHandler) -> Self {
        self.block_error_handler = handler;
        self
    }

    /// Where files staged for its tasks land on the workers (fetched `http`, `https`,
    /// `ftp` [`File`](crate::File)s, rsync's copies; default: the worker's directory, the
    /// one its block started in), as Parsl's `working_dir`. A relative path is taken
    /// from there.
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// How its tasks get their files, as Parsl's `storage_access` (default
    /// `[Staging::Http, Staging::Ftp]`): with [`Staging::RSync`] the workers need no
    /// shared file system, only ssh access to the client's host.
    pub fn storage_access(mut self, access: impl IntoIterator<Item = Staging>) -> Self {
        self.storage_access = Some(access.into_iter().collect());
        self
    }

    /// Parsl's `MPIExecutor`: a HighThroughputExecutor in MPI mode, labelled
    /// `"MPIExecutor"`, one task at a time per block (raise it with
    /// [`max_workers_per_node`](HighThroughputExecutor::max_workers_per_node), Parsl's
    /// `max_workers_per_block`; the node's cores do not bound it, as in Parsl), ranks
    /// started with `mpiexec` (see [`enable_mpi_mode`](HighThroughputExecutor::enable_mpi_mode)).
    pub fn mpi() -> Self {
        HighThroughputExecutor::new()
            .label("MPIExecutor")
            .max_workers_per_node(1)
            .cores_per_worker(chervil_htex::MPI_CORES_PER_WORKER)
            .enable_mpi_mode("mpiexec")
    }

    /// MPI mode: the block's nodes are shared among MPI tasks, each asking for its nodes
    /// and ranks with [`Opts::resource_specification`] and starting its ranks through
    /// `$PARSL_MPI_PREFIX` (composed for `launcher`: `"mpiexec"`, `"srun"` or `"aprun"`).
    /// A task without a specification, or with one that cannot work, fails with
    /// [`Error::InvalidResourceSpecification`](crate::Error::InvalidResourceSpecification).
    /// The block's one pool runs on its first node: give a batch provider the
    /// simple launcher.
    pub fn enable_mpi_mode(mut self, launcher: impl Into<String>) -> Self {
        self.mpi_launcher = Some(launcher.into());
        self
    }

    /// The executor's name, for `Opts::executors` (default `"htex"`).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Caps the workers a pool starts on its node (default: no cap — as many as fit,
    /// the node's cores ÷ [`cores_per_worker`](HighThroughputExecutor::cores_per_worker)).
    pub fn max_workers_per_node(mut self, n: u32) -> Self {
        self.max_workers_per_node = Some(n);
        self
    }

    /// Cores each worker counts as using (default 1.0; 0.5 starts two workers a core).
    pub fn cores_per_worker(mut self, cores: f64) -> Self {
        self.cores_per_worker = cores;
        self
    }

    /// Seconds between heartbeats of the interchange and its pools (default 30).
    pub fn heartbeat_period(mut self, secs: u64) -> Self {
        self.heartbeat_period = Duration::from_secs(secs.max(1));
        self
    }

    /// Seconds of silence after which a pool is declared lost and the tasks it held
    /// fail with `ManagerLost` (default 120).
    pub fn heartbeat_threshold(mut self, secs: u64) -> Self {
        self.heartbeat_threshold = Duration::from_secs(secs.max(1));
        self
    }

    /// The address pools connect to (default: this machine's loopback for a local
    /// provider, its host name otherwise).
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// Where blocks come from (default: [`LocalProvider::new()`], one block on this
    /// machine).
    pub fn provider(mut self, provider: impl Into<Provider>) -> Self {
        self.provider = provider.into();
        self
    }

    /// TLS between the interchange and pools not on this machine, pinned to a
    /// certificate made for the run (on by default, as in the Python front; loopback is
    /// never encrypted: whoever can read it can read the run's files).
    pub fn encrypted(mut self, on: bool) -> Self {
        self.encrypted = on;
        self
    }

    /// Tasks a pool may hold beyond one per worker, so a worker that finishes has its
    /// next task at hand instead of a round trip away (Parsl's `prefetch_capacity`;
    /// default 0). Raise it for many short tasks: the speed table in docs/speed.md has no-op tasks
    /// at 23,300/s with 0 and 129,080/s with 64 on two workers.
    pub fn prefetch_capacity(mut self, tasks: u32) -> Self {
        self.prefetch_capacity = tasks;
        self
    }
}

impl From<HighThroughputExecutor> for ExecutorConfig {
    fn from(h: HighThroughputExecutor) -> Self {
        ExecutorConfig::Htex(h)
    }
}

/// Where an executor's blocks run.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a config value, made once per run
pub enum Provider {
    Local(LocalProvider),
    Batch(BatchSettings),
    AdHoc(AdHocProvider),
}

/// Blocks as processes on this machine (Parsl's `LocalProvider`).
#[derive(Debug, Clone)]
pub struct LocalProvider {
    pub(crate) blocks: BlockCounts,
    pub(crate) worker_init: String,
}

impl Default for LocalProvider {
    fn default() -> Self {
        LocalProvider::new()
    }
}

impl LocalProvider {
    pub fn new() -> Self {
        LocalProvider { blocks: BlockCounts::default(), worker_init: String::new() }
    }

    /// Shell commands run at the start of each block.
    pub fn worker_init(mut self, commands: impl Into<String>) -> Self {
        self.worker_init = commands.into();
        self
    }
}

impl Provider {
    fn counts(&self) -> &BlockCounts {
        match self {
            Provider::Local(p) => &p.blocks,
            Provider::Batch(p) => &p.blocks,
            Provider::AdHoc(p) => &p.blocks,
        }
    }

    /// The blocks the executor starts with (`chervil_scaling::initial_blocks`).
    pub(crate) fn init_blocks(&self) -> u32 {
        let b = self.counts();
        chervil_scaling::initial_blocks(b.init, b.min)
    }

    /// `init_blocks` as set (the simple error handler's threshold is `max(1, init_blocks)`).
    pub(crate) fn init_blocks_set(&self) -> u32 {
        self.counts().init
    }

    /// The interval set, if any (else the provider's default).
    pub(crate) fn status_polling_interval(&self) -> Option<Duration> {
        self.counts().status_polling_interval
    }

    /// What is known of a block's node before its pool connects: this machine for
    /// local blocks, the scheduler settings' `cores_per_node`/`mem_per_node` otherwise.
    pub(crate) fn node_shape(&self) -> chervil_htex::NodeShape {
        match self {
            Provider::Local(_) => chervil_htex::NodeShape::this_machine(),
            Provider::Batch(p) => chervil_htex::NodeShape {
                cores: p.spec.cores_per_node.map(|c| c as usize),
                mem_gb: p.spec.mem_per_node_gb,
            },
            Provider::AdHoc(_) => chervil_htex::NodeShape::default(),
        }
    }

    pub(crate) fn nodes_per_block(&self) -> u32 {
        match self {
            Provider::Batch(p) => p.spec.nodes_per_block,
            Provider::Local(_) | Provider::AdHoc(_) => 1,
        }
    }

    /// `(min_blocks, max_blocks, parallelism)`.
    pub(crate) fn limits(&self) -> (u32, u32, f64) {
        let b = self.counts();
        (b.min, b.max, b.parallelism)
    }
}

/// Parsl's block counts, the same for every provider.
#[derive(Debug, Clone)]
pub(crate) struct BlockCounts {
    init: u32,
    min: u32,
    max: u32,
    parallelism: f64,
    /// None: the provider's default.
    pub(crate) status_polling_interval: Option<Duration>,
}

impl Default for BlockCounts {
    fn default() -> Self {
        BlockCounts { init: 1, min: 0, max: 1, parallelism: 1.0, status_polling_interval: None }
    }
}

/// `init_blocks`, `min_blocks`, `max_blocks`, `parallelism` for a provider type.
macro_rules! block_counts {
    ($t:ty) => {
        impl $t {
            /// Blocks started with the executor (default 1).
            pub fn init_blocks(mut self, n: u32) -> Self {
                self.blocks.init = n;
                self
            }

            /// Fewest blocks the strategy keeps (default 0).
            pub fn min_blocks(mut self, n: u32) -> Self {
                self.blocks.min = n;
                self
            }

            /// Most blocks the strategy starts (default 1).
            pub fn max_blocks(mut self, n: u32) -> Self {
                self.blocks.max = n;
                self
            }

            /// 0–1: how eagerly blocks are started for waiting tasks (1: a worker per task).
            pub fn parallelism(mut self, p: f64) -> Self {
                self.blocks.parallelism = p;
                self
            }

            /// How often the provider is asked how the blocks are (Parsl's
            /// `status_polling_interval`; default 1 s for local blocks, 5 s for ad hoc
            /// ones, a minute for batch schedulers, clouds and Kubernetes). A pool
            /// leaving makes the next strategy round ask at once, whatever the interval.
            pub fn status_polling_interval(mut self, every: Duration) -> Self {
                self.blocks.status_polling_interval = Some(every);
                self
            }
        }
    };
}

block_counts!(LocalProvider);

impl From<LocalProvider> for Provider {
    fn from(p: LocalProvider) -> Self {
        Provider::Local(p)
    }
}

/// How a block starts its pools inside a batch job (Parsl's launchers), re-exported
/// from the engine so both fronts write the same scripts.
pub use chervil_providers::launchers::Launcher;

/// What every batch provider takes, Parsl's parameters by their names.
#[derive(Clone)]
pub struct BatchSettings {
    pub(crate) scheduler: SchedulerChoice,
    pub(crate) spec: chervil_providers::BlockSpec,
    pub(crate) launcher: Launcher,
    pub(crate) blocks: BlockCounts,
}

impl std::fmt::Debug for BatchSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match &self.scheduler {
            SchedulerChoice::Named(n) => n,
            SchedulerChoice::Made(_) => "custom",
        };
        write!(f, "BatchSettings({name}, {:?}, {:?})", self.spec.walltime, self.launcher)
    }
}

/// Which of the engine's schedulers a block goes through.
#[derive(Clone)]
pub(crate) enum SchedulerChoice {
    /// A batch scheduler by its engine name (`slurm`, `pbspro`, …).
    Named(&'static str),
    /// A scheduler value with settings of its own (Kubernetes, the clouds).
    Made(Arc<dyn Fn() -> Box<dyn chervil_providers::Scheduler> + Send + Sync>),
}

impl BatchSettings {
    fn new(scheduler: &'static str) -> Self {
        BatchSettings {
            scheduler: SchedulerChoice::Named(scheduler),
            spec: chervil_providers::BlockSpec::default(),
            launcher: Launcher::default(),
            blocks: BlockCounts::default(),
        }
    }
}

/// A batch scheduler's provider: a newtype over [`BatchSettings`] with Parsl's builder
/// methods, so `SlurmProvider::new().partition("debug").walltime("01:00:00")` reads as
/// Parsl's `SlurmProvider(partition='debug', walltime='01:00:00')`.
macro_rules! batch_provider {
    ($(#[$doc:meta])* $name:ident, $scheduler:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            pub(crate) blocks: BlockCounts,
            settings: BatchSettings,
        }

        impl Default for $name {
            fn default() -> Self {
                $name::new()
            }
        }

        impl $name {
            pub fn new() -> Self {
                $name { blocks: BlockCounts::default(), settings: BatchSettings::new($scheduler) }
            }

            /// Slurm's partition; the queue of the others.
            pub fn partition(mut self, name: impl Into<String>) -> Self {
                self.settings.spec.queue = Some(name.into());
                self
            }

            pub fn queue(self, name: impl Into<String>) -> Self {
                self.partition(name)
            }

            pub fn account(mut self, account: impl Into<String>) -> Self {
                self.settings.spec.account = Some(account.into());
                self
            }

            pub fn qos(mut self, qos: impl Into<String>) -> Self {
                self.settings.spec.qos = Some(qos.into());
                self
            }

            pub fn constraint(mut self, constraint: impl Into<String>) -> Self {
                self.settings.spec.constraint = Some(constraint.into());
                self
            }

            /// `HH:MM:SS` (default `00:10:00`, as Parsl's).
            pub fn walltime(mut self, walltime: impl Into<String>) -> Self {
                self.settings.spec.walltime = walltime.into();
                self
            }

            pub fn nodes_per_block(mut self, nodes: u32) -> Self {
                self.settings.spec.nodes_per_block = nodes.max(1);
                self
            }

            pub fn cores_per_node(mut self, cores: u32) -> Self {
                self.settings.spec.cores_per_node = Some(cores);
                self
            }

            pub fn mem_per_node(mut self, gb: f64) -> Self {
                self.settings.spec.mem_per_node_gb = Some(gb);
                self
            }

            pub fn exclusive(mut self, on: bool) -> Self {
                self.settings.spec.exclusive = on;
                self
            }

            /// Shell commands run at the start of each block.
            pub fn worker_init(mut self, commands: impl Into<String>) -> Self {
                self.settings.spec.worker_init = commands.into();
                self
            }

            /// Extra scheduler directives, verbatim.
            pub fn scheduler_options(mut self, options: impl Into<String>) -> Self {
                self.settings.spec.scheduler_options = options.into();
                self
            }

            /// How the block starts its pools (default: `SingleNode`, as Parsl's).
            pub fn launcher(mut self, launcher: Launcher) -> Self {
                self.settings.launcher = launcher;
                self
            }
        }

        impl From<$name> for Provider {
            fn from(p: $name) -> Self {
                Provider::Batch(BatchSettings { blocks: p.blocks, ..p.settings })
            }
        }

        block_counts!($name);
    };
}

batch_provider!(
    /// Blocks as Slurm jobs (Parsl's `SlurmProvider`).
    SlurmProvider, "slurm"
);
batch_provider!(
    /// Blocks as PBS Pro jobs (Parsl's `PBSProProvider`).
    PbsProProvider, "pbspro"
);
batch_provider!(
    /// Blocks as Torque jobs (Parsl's `TorqueProvider`).
    TorqueProvider, "torque"
);
batch_provider!(
    /// Blocks as Grid Engine jobs (Parsl's `GridEngineProvider`).
    GridEngineProvider, "grid_engine"
);
batch_provider!(
    /// Blocks as LSF jobs (Parsl's `LSFProvider`).
    LsfProvider, "lsf"
);
batch_provider!(
    /// Blocks as HTCondor jobs (Parsl's `CondorProvider`).
    CondorProvider, "condor"
);
batch_provider!(
    /// Blocks as Cobalt jobs (Parsl's `CobaltProvider`).
    CobaltProvider, "cobalt"
);

/// The engine's Kubernetes and cloud schedulers, configured with their fields (Parsl's
/// parameter names): `Kubernetes { image: "…".into(), namespace: "default".into(), ..Default::default() }`.
pub use chervil_providers::schedulers::cloud::{Aws, Azure, GoogleCloud, OpenStack};
pub use chervil_providers::schedulers::kubernetes::Kubernetes;

/// Blocks as pods or cloud machines, one node each (Parsl's `KubernetesProvider`,
/// `AWSProvider`, `GoogleCloudProvider`, `JetstreamProvider`/OpenStack, `AzureProvider`):
/// `PodProvider::new(Kubernetes { … })`. The pool command is the program itself, so the
/// pod's image or the machine must hold this build of it at the same path. The run's
/// secret travels as for the Python front (a Kubernetes Secret made with the pod; the
/// clouds' user data).
#[derive(Debug, Clone)]
pub struct PodProvider {
    pub(crate) blocks: BlockCounts,
    settings: BatchSettings,
}

impl PodProvider {
    pub fn new<S: chervil_providers::Scheduler + Clone + Send + Sync + 'static>(scheduler: S) -> Self {
        let mut settings = BatchSettings::new("");
        settings.scheduler = SchedulerChoice::Made(Arc::new(move || Box::new(scheduler.clone())));
        // The launch line stays `export … && program`, so the secret can be lifted out of it.
        settings.launcher = Launcher::Simple;
        PodProvider { blocks: BlockCounts::default(), settings }
    }

    /// How long a block may live, `HH:MM:SS`.
    pub fn walltime(mut self, walltime: impl Into<String>) -> Self {
        self.settings.spec.walltime = walltime.into();
        self
    }

    pub fn worker_init(mut self, commands: impl Into<String>) -> Self {
        self.settings.spec.worker_init = commands.into();
        self
    }
}

impl From<PodProvider> for Provider {
    fn from(p: PodProvider) -> Self {
        Provider::Batch(BatchSettings { blocks: p.blocks, ..p.settings })
    }
}

block_counts!(PodProvider);

/// Blocks on a fixed list of hosts over SSH, one block per host (Parsl's `AdHocProvider`):
/// each host must have this build of the program at the same path.
#[derive(Debug, Clone)]
pub struct AdHocProvider {
    pub(crate) blocks: BlockCounts,
    pub(crate) hosts: Vec<String>,
    pub(crate) ssh_options: Vec<String>,
    pub(crate) remote_dir: String,
    pub(crate) worker_init: String,
}

impl AdHocProvider {
    pub fn new(hosts: &[&str]) -> Self {
        AdHocProvider {
            blocks: BlockCounts::default(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ssh_options: Vec::new(),
            remote_dir: "~/.chervil".into(),
            worker_init: String::new(),
        }
    }

    /// Options for `ssh`, before the host (`-p 2222`, `-i key`, …).
    pub fn ssh_options(mut self, options: &[&str]) -> Self {
        self.ssh_options = options.iter().map(|o| o.to_string()).collect();
        self
    }

    /// Where block scripts go on the hosts.
    pub fn remote_dir(mut self, dir: impl Into<String>) -> Self {
        self.remote_dir = dir.into();
        self
    }

    pub fn worker_init(mut self, commands: impl Into<String>) -> Self {
        self.worker_init = commands.into();
        self
    }
}

impl From<AdHocProvider> for Provider {
    fn from(p: AdHocProvider) -> Self {
        Provider::AdHoc(p)
    }
}

block_counts!(AdHocProvider);

/// Per-call options, Parsl's special keyword arguments: give them to an app's `with`
/// function (`add::with(Opts::new().walltime(5.0), 1, 2)`).
#[derive(Debug, Clone, Default)]
pub struct Opts {
    pub(crate) stdout: Option<String>,
    pub(crate) stderr: Option<String>,
    pub(crate) walltime: Option<f64>,
    pub(crate) executors: Option<Vec<String>>,
    pub(crate) outputs: Vec<File>,
    pub(crate) cache: Option<bool>,
    pub(crate) resources: Option<ResourceSpec>,
}

/// What a task asks for (Parsl's `parsl_resource_specification`). An MPI task: nodes and
/// ranks, two of `num_nodes`, `ranks_per_node` and `num_ranks` (the third is derived, as
/// in Parsl), and extra launcher options. A task of a plain HTEX: only a `priority`.
/// Checked by the same engine rule as the Python
/// front's when the task is submitted; a refusal fails each try as it is launched, as
/// Parsl's executors refuse (a failed try, recorded and retried like any other).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceSpec {
    pub(crate) pairs: Vec<(String, chervil_mpi::spec::Value)>,
}

impl ResourceSpec {
    pub fn new() -> Self {
        ResourceSpec::default()
    }

    fn set(mut self, key: &str, value: chervil_mpi::spec::Value) -> Self {
        self.pairs.retain(|(k, _)| k != key);
        self.pairs.push((key.to_string(), value));
        self
    }

    /// Nodes of the block the task gets to itself.
    pub fn num_nodes(self, n: u32) -> Self {
        self.set("num_nodes", chervil_mpi::spec::Value::Int(n.into()))
    }

    /// Ranks on each of its nodes.
    pub fn ranks_per_node(self, n: u32) -> Self {
        self.set("ranks_per_node", chervil_mpi::spec::Value::Int(n.into()))
    }

    /// Ranks in all.
    pub fn num_ranks(self, n: u32) -> Self {
        self.set("num_ranks", chervil_mpi::spec::Value::Int(n.into()))
    }

    /// Extra options for the launcher, placed in `$PARSL_MPI_PREFIX` (e.g. `--bind-to core`).
    pub fn launcher_options(self, options: impl Into<String>) -> Self {
        self.set("launcher_options", chervil_mpi::spec::Value::Text(options.into()))
    }

    /// A plain HTEX task's place in the interchange's queue: lower runs first, equal ones
    /// in the order they came, tasks without one after all of them (Parsl's `priority`).
    pub fn priority(self, priority: f64) -> Self {
        self.set(chervil_mpi::PRIORITY, chervil_mpi::spec::Value::Text(priority.to_string()))
    }
}

impl Opts {
    pub fn new() -> Self {
        Opts::default()
    }

    /// A bash app's standard output, appended to this file (default: the worker's own
    /// output, the block's `.out` file). A relative path is resolved where the task
    /// runs, in the directory its block started in — the client's directory, for local
    /// blocks and for batch jobs (which start where they were submitted), so on a
    /// shared file system it names the same file the client would.
    pub fn stdout(mut self, path: impl Into<String>) -> Self {
        self.stdout = Some(path.into());
        self
    }

    /// A bash app's standard error, appended to this file (as [`stdout`](Opts::stdout)).
    pub fn stderr(mut self, path: impl Into<String>) -> Self {
        self.stderr = Some(path.into());
        self
    }

    /// Seconds the task may run before it fails with `AppTimeout` (default: no limit).
    /// On a HighThroughputExecutor the task is stopped there; see `Error::AppTimeout`.
    pub fn walltime(mut self, seconds: f64) -> Self {
        self.walltime = Some(seconds);
        self
    }

    /// Labels of the executors the task may run on (default: any).
    pub fn executors(mut self, labels: &[&str]) -> Self {
        self.executors = Some(labels.iter().map(|l| l.to_string()).collect());
        self
    }

    /// Files the task writes: each gives a [`DataFuture`](crate::DataFuture) in
    /// [`AppFuture::outputs`](crate::AppFuture::outputs).
    pub fn outputs(mut self, files: Vec<File>) -> Self {
        self.outputs = files;
        self
    }

    /// Memoize this call (or not), whatever the app's attribute says.
    pub fn cache(mut self, on: bool) -> Self {
        self.cache = Some(on);
        self
    }

    /// An MPI task's nodes and ranks (Parsl's `parsl_resource_specification`), for an
    /// executor in MPI mode ([`HighThroughputExecutor::mpi`]). The task then finds
    /// Parsl's environment where it runs: `PARSL_MPI_PREFIX` (e.g. `mpiexec -n 4 -ppn 2
    /// -hosts n1,n2 `), `PARSL_NUM_RANKS`, `PARSL_MPI_NODELIST` and the rest.
    pub fn resource_specification(mut self, spec: ResourceSpec) -> Self {
        self.resources = Some(spec);
        self
    }
}
