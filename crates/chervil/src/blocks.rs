//! An executor's blocks: started through a provider, each running the program as a
//! pool, and scaled between `min_blocks` and `max_blocks` by the engine's strategy
//! (`chervil_scaling::Scaler`, the Python front's) every `strategy_period`.

use chervil_providers::cli::shell_word;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chervil_htex::InterchangeHandle;
use chervil_providers::batch::BatchProvider;
use chervil_providers::local::LocalProvider as LocalJobs;
use chervil_providers::{BlockSource, JobState};
use chervil_scaling::{block_failure_report, BlockBook, BlockErrorHandler, BlockOutput, FailedBlock, Limits, Scaler, Strategy};

use crate::config::{Config, HighThroughputExecutor, Launcher, Provider, SchedulerChoice};
use crate::error::Error;
use crate::executors::Done;
use crate::worker::{PoolEnv, MISSING_INIT, MISSING_INIT_EXIT, ROLE_ENV};

enum Jobs {
    Local(LocalJobs),
    Batch(Box<BatchProvider>),
    AdHoc(chervil_providers::AdHocProvider),
}

/// How this executor gets a block: its provider, and the script a block runs.
struct Provision {
    jobs: Jobs,
    env: PoolEnv,
    exe: PathBuf,
    /// Before the pool command (the local provider's; a batch provider has its own).
    worker_init: String,
    /// Turns the pool command into what a batch job runs.
    launcher: Option<(Launcher, u32)>,
    scripts: PathBuf,
}

/// When failing blocks stop the executor, and what stopping does.
pub(crate) struct StopRule {
    pub(crate) handler: BlockErrorHandler,
    pub(crate) init_blocks: u32,
    /// The tasks out, failed all at once when the executor stops.
    pub(crate) waiting: Arc<Mutex<std::collections::HashMap<u64, Done>>>,
    /// Why the executor stopped taking tasks, once it has.
    pub(crate) stopped: Arc<std::sync::OnceLock<String>>,
}

/// The blocks of one executor. What to start, poll, retire and cancel, and in which
/// order a strategy round does it, is the engine's driver (`chervil_run::blocks`, the
/// Python front's too); this is the front it calls: the provider, the interchange.
pub(crate) struct Blocks {
    provision: Provision,
    book: Mutex<chervil_run::blocks::Blocks>,
    ix: Arc<InterchangeHandle>,
    stop: StopRule,
    /// Set by the results thread when a pool leaves (a flag, not the lock: a provider's
    /// status call may hold the lock for seconds, and results must not wait for it).
    soon: Arc<AtomicBool>,
}

impl Blocks {
    pub(crate) fn new(
        config: &HighThroughputExecutor,
        env: PoolEnv,
        run_dir: &Path,
        monitor: crate::executors::Watch,
        ix: Arc<InterchangeHandle>,
        stop: StopRule,
    ) -> Result<Blocks, Error> {
        let exe = std::env::current_exe()
            .map_err(|e| Error::Executor(format!("executor {}: cannot find this program to start pools: {e}", config.label)))?;
        let scripts = run_dir.join("submit_scripts");
        let (jobs, worker_init, launcher) = match &config.provider {
            Provider::Local(p) => (Jobs::Local(LocalJobs::new(&scripts)), p.worker_init.clone(), None),
            Provider::AdHoc(p) => {
                let adhoc = chervil_providers::AdHocProvider::new(
                    p.hosts.clone(),
                    p.ssh_options.clone(),
                    p.remote_dir.clone(),
                    Duration::from_secs(30),
                )
                .map_err(|e| Error::Executor(format!("executor {}: {e}", config.label)))?;
                (Jobs::AdHoc(adhoc), p.worker_init.clone(), None)
            }
            Provider::Batch(p) => {
                let scheduler = match &p.scheduler {
                    SchedulerChoice::Named(name) => chervil_providers::schedulers::by_name(name)
                        .ok_or_else(|| Error::Executor(format!("executor {}: no scheduler {name:?}", config.label)))?,
                    SchedulerChoice::Made(make) => make(),
                };
                let batch = BatchProvider::new(scheduler, p.spec.clone(), &scripts)
                    .map_err(|e| Error::Executor(format!("executor {}: {e}", config.label)))?;
                (Jobs::Batch(Box::new(batch)), String::new(), Some((p.launcher.clone(), p.spec.nodes_per_block)))
            }
        };
        let source = match &jobs {
            Jobs::Batch(p) => BlockSource::Batch(Some(p.scheduler())),
            Jobs::Local(_) => BlockSource::Local,
            Jobs::AdHoc(_) => BlockSource::AdHoc,
        };
        let poll_every =
            config.provider.status_polling_interval().unwrap_or_else(|| chervil_providers::default_status_polling_interval(source));
        let book = chervil_run::blocks::Blocks::new(config.label.clone(), poll_every, monitor);
        Ok(Blocks {
            provision: Provision { jobs, env, exe, worker_init, launcher, scripts },
            book: Mutex::new(book),
            ix,
            stop,
            soon: Arc::default(),
        })
    }

    /// The driver's view of this executor (the provider, the interchange, the stop rule).
    fn front(&mut self) -> (&Mutex<chervil_run::blocks::Blocks>, Front<'_>) {
        if self.soon.swap(false, Ordering::AcqRel) {
            self.book.lock().unwrap_or_else(|p| p.into_inner()).poll_soon();
        }
        (&self.book, Front { p: &mut self.provision, ix: &self.ix, stop: &self.stop })
    }

    /// Starts `n` more blocks. A block the provider cannot start is a failed block
    /// (the error handler weighs it with the rest), and the error says why.
    pub(crate) fn start(&mut self, n: u32) -> Result<(), Error> {
        let label = self.label();
        let (book, mut front) = self.front();
        chervil_run::blocks::start(book, &mut front, n).map(drop).map_err(|why| Error::Executor(format!("executor {label}: {why}")))
    }

    fn label(&self) -> String {
        self.book.lock().unwrap_or_else(|p| p.into_inner()).label().to_string()
    }

    /// One strategy round (the engine's: poll when due, judge, scale).
    pub(crate) fn round(&mut self, scaler: Option<&mut Scaler>) {
        let (book, mut front) = self.front();
        chervil_run::blocks::round(book, scaler, &mut front);
    }

    /// Set it and the next round polls the provider, however recent the last poll (a
    /// pool left, so its block may have ended).
    pub(crate) fn poll_soon_flag(&self) -> Arc<AtomicBool> {
        self.soon.clone()
    }

    pub(crate) fn cancel_all(&mut self) {
        let (book, mut front) = self.front();
        chervil_run::blocks::shutdown(book, &mut front);
    }

    /// Blocks whose jobs are pending or running.
    pub(crate) fn active(&mut self) -> usize {
        let (book, mut front) = self.front();
        chervil_run::blocks::poll(book, &mut front, false);
        book.lock().unwrap_or_else(|p| p.into_inner()).active()
    }
}

/// What the engine's block driver calls on the Rust front.
struct Front<'a> {
    p: &'a mut Provision,
    ix: &'a InterchangeHandle,
    stop: &'a StopRule,
}

impl Provision {
    /// The block's script: the pool is this program in pool mode, told where the
    /// interchange is through the environment (`export … &&`, as the Python front's).
    fn script(&self, block: &str) -> String {
        let exports: Vec<String> = self.env.vars(block).iter().map(|(k, v)| format!("{k}={}", shell_word(v))).collect();
        let exe = shell_word(&self.exe.to_string_lossy());
        let command = format!("export {ROLE_ENV}=pool {} && {exe}", exports.join(" "));
        match &self.launcher {
            None => format!("{}\n{command}\n", self.worker_init),
            Some((launcher, nodes)) => launcher.script(&command, 1, *nodes, &self.scripts.to_string_lossy(), false),
        }
    }
}

impl chervil_run::blocks::BlockFront for Front<'_> {
    fn submit(&mut self, block: &str, job_name: &str) -> Result<String, String> {
        let script = self.p.script(block);
        match &mut self.p.jobs {
            Jobs::Local(p) => p.submit(&script, job_name),
            Jobs::Batch(p) => p.submit(&script, 1, job_name),
            Jobs::AdHoc(p) => p.submit(&script, job_name),
        }
        .map_err(|e| e.to_string())
    }

    fn status(&mut self, jobs: &[String]) -> Result<Vec<chervil_providers::JobStatus>, String> {
        match &mut self.p.jobs {
            Jobs::Local(p) => Ok(p.status(jobs)),
            Jobs::AdHoc(p) => p.status(jobs),
            Jobs::Batch(p) => p.status(jobs),
        }
        .map_err(|e| e.to_string())
    }

    fn cancel(&mut self, jobs: &[String]) {
        let cancelled = match &mut self.p.jobs {
            Jobs::Local(p) => Ok(p.cancel(jobs)),
            Jobs::AdHoc(p) => p.cancel(jobs),
            Jobs::Batch(p) => p.cancel(jobs),
        };
        if let Err(e) = cancelled {
            tracing::warn!(error = %e, ?jobs, "cancelling blocks failed");
        }
    }

    fn retire(&mut self, block: &str, only_if_idle: bool) -> bool {
        self.ix.retire_block(block, only_if_idle).is_ok()
    }

    fn load(&mut self) -> (usize, std::collections::BTreeMap<String, chervil_scaling::Load>) {
        (self.ix.in_flight(), chervil_run::blocks::load_from(self.ix.block_load()))
    }

    fn registered_blocks(&mut self) -> Option<Vec<String>> {
        Some(self.ix.connected_blocks())
    }

    /// Parsl's block error handlers (`simple` by default): once the blocks' failures
    /// stop the executor, each task out fails with why (each block's exit and the end of
    /// its stderr), and so does each task submitted later — instead of blocks being
    /// started again while `result()` waits forever.
    fn judge(&mut self, book: &BlockBook) -> bool {
        let stop = self.stop;
        if stop.stopped.get().is_some() {
            return true;
        }
        let Some(head) = stop.handler.stops(&book.states(), stop.init_blocks) else { return false };
        let label = book.label();
        let why = block_failures(label, &head, book);
        tracing::error!(label, %why, "the executor stops: its blocks failed");
        let _ = stop.stopped.set(why.clone());
        let out: Vec<Done> = stop.waiting.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, d)| d).collect();
        for done in out {
            done(Err(Error::Executor(why.clone())));
        }
        true
    }
}

/// The scaler for an executor of `config`; `None` with the `none` strategy.
pub(crate) fn scaler(config: &Config, htex: &HighThroughputExecutor) -> Result<Option<Scaler>, Error> {
    let strategy = Strategy::parse(Some(&config.strategy)).map_err(Error::Executor)?;
    if strategy == Strategy::None {
        return Ok(None);
    }
    let (min_blocks, max_blocks, parallelism) = htex.provider.limits();
    let slots_per_block = htex.slots().expected_per_block(htex.provider.node_shape(), htex.provider.nodes_per_block());
    let limits = Limits { min_blocks, max_blocks, parallelism, slots_per_block, max_idletime: config.max_idletime };
    Ok(Some(Scaler::new(strategy, limits)))
}

/// Why the blocks failed, for the tasks' errors: the missing `chervil::init()` first
/// when a block's program said so, then each failed block as the engine's report puts
/// it (`chervil_scaling::block_failure_report`, the Python front's text too).
fn block_failures(label: &str, head: &str, book: &BlockBook) -> String {
    let mut missing_init = false;
    let mut blocks = Vec::new();
    for (block, _, s) in book.blocks().filter(|(_, _, s)| matches!(s.state, JobState::Failed | JobState::Missing)) {
        missing_init |= s.exit_code == Some(MISSING_INIT_EXIT);
        let mut outputs = Vec::new();
        for (name, path) in [("stdout", &s.stdout_path), ("stderr", &s.stderr_path)] {
            let Some(path) = path else { continue };
            let tail = tail_of(path, 600);
            if tail.contains(MISSING_INIT) {
                missing_init = true; // said once, at the head
                continue;
            }
            outputs.push(BlockOutput { name: name.into(), path: Some(path.display().to_string()), tail });
        }
        blocks.push(FailedBlock {
            id: block,
            state: format!("{:?}", s.state).to_lowercase(),
            message: s.message.clone(),
            exit_code: s.exit_code,
            outputs,
        });
    }
    let head = if missing_init {
        format!("executor {label}: {MISSING_INIT}")
    } else {
        format!("executor {label}: {head}, so its tasks cannot run")
    };
    block_failure_report(&head, &blocks)
}

/// The last `max` bytes of a file (empty when it cannot be read).
fn tail_of(path: &Path, max: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else { return String::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut buf = Vec::new();
    let _ = f.take(max).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
