//! An executor's blocks: started through a provider, each running the program as a
//! pool, and scaled between `min_blocks` and `max_blocks` by the engine's strategy
//! (`chervil_scaling::Scaler`, the Python front's) every `strategy_period`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chervil_htex::{BlockLoad, InterchangeHandle};
use chervil_providers::batch::BatchProvider;
use chervil_providers::local::LocalProvider as LocalJobs;
use chervil_providers::{JobState, JobStatus};
use chervil_scaling::{all_blocks_failed, block_failure_report, BlockOutput, BlockView, Decision, FailedBlock, Limits, Scaler, Strategy};

use crate::config::{Config, HighThroughputExecutor, Launcher, Provider, SchedulerChoice};
use crate::error::Error;
use crate::executors::Done;
use crate::worker::{PoolEnv, MISSING_INIT, MISSING_INIT_EXIT, ROLE_ENV};

enum Jobs {
    Local(LocalJobs),
    Batch(Box<BatchProvider>),
    AdHoc(chervil_providers::AdHocProvider),
}

/// The blocks of one executor and how to start another.
pub(crate) struct Blocks {
    label: String,
    jobs: Jobs,
    env: PoolEnv,
    exe: PathBuf,
    /// Before the pool command (the local provider's; a batch provider has its own).
    worker_init: String,
    /// Turns the pool command into what a batch job runs.
    launcher: Option<(Launcher, u32)>,
    scripts: PathBuf,
    /// Block id → the provider's job id.
    started: BTreeMap<String, String>,
    next: u32,
    /// When the run is monitored: each block's last state, to record each change once.
    watch: Option<(Arc<chervil_monitor::Monitor>, std::collections::HashMap<String, JobState>)>,
}

impl Blocks {
    pub(crate) fn new(config: &HighThroughputExecutor, env: PoolEnv, run_dir: &Path, monitor: crate::executors::Watch) -> Result<Blocks, Error> {
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
        Ok(Blocks {
            label: config.label.clone(),
            jobs,
            env,
            exe,
            worker_init,
            launcher,
            scripts,
            started: BTreeMap::new(),
            next: 0,
            watch: monitor.map(|m| (m, std::collections::HashMap::new())),
        })
    }

    /// A block's state as the executor now sees it: a `block` row when it changed.
    fn note(&mut self, block: &str, state: JobState) {
        let Some((monitor, seen)) = &mut self.watch else { return };
        if seen.insert(block.to_string(), state) != Some(state) {
            monitor.send(chervil_monitor::Event::Block {
                executor: self.label.clone(),
                block_id: block.to_string(),
                job_id: self.started.get(block).cloned(),
                status: state.name().to_string(),
                at_us: chervil_monitor::Clock::now_us(),
            });
        }
    }

    /// Starts `n` more blocks.
    pub(crate) fn start(&mut self, n: u32) -> Result<(), Error> {
        for _ in 0..n {
            let block = self.next.to_string();
            self.next += 1;
            let script = self.script(&block);
            let name = chervil_scaling::block_job_name(&self.label, &block);
            let job = match &mut self.jobs {
                Jobs::Local(p) => p.submit(&script, &name),
                Jobs::Batch(p) => p.submit(&script, 1, &name),
                Jobs::AdHoc(p) => p.submit(&script, &name),
            }
            .map_err(|e| Error::Executor(format!("executor {}: {e}", self.label)))?;
            tracing::info!(label = %self.label, block, job, "block started");
            self.started.insert(block.clone(), job);
            self.note(&block, JobState::Pending);
        }
        Ok(())
    }

    /// The block's script: the pool is this program in pool mode, told where the
    /// interchange is through the environment (`export … &&`, as the Python front's).
    fn script(&self, block: &str) -> String {
        let exports: Vec<String> = self.env.vars(block).iter().map(|(k, v)| format!("{k}={}", shell_quote(v))).collect();
        let exe = shell_quote(&self.exe.to_string_lossy());
        let command = format!("export {ROLE_ENV}=pool {} && {exe}", exports.join(" "));
        match &self.launcher {
            None => format!("{}\n{command}\n", self.worker_init),
            Some((launcher, nodes)) => launcher.script(&command, 1, *nodes, &self.scripts.to_string_lossy(), false),
        }
    }

    /// Each started block's id and its job's status now.
    fn statuses(&mut self) -> Vec<(String, JobStatus)> {
        let ids: Vec<String> = self.started.values().cloned().collect();
        let states = match &mut self.jobs {
            Jobs::Local(p) => Ok(p.status(&ids)),
            Jobs::AdHoc(p) => p.status(&ids),
            Jobs::Batch(p) => p.status(&ids),
        };
        let states: Vec<JobStatus> = match states {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(label = %self.label, error = %e, "block status unknown");
                ids.iter().map(|_| JobStatus { state: JobState::Unknown, message: None, exit_code: None, stdout_path: None, stderr_path: None }).collect()
            }
        };
        let statuses: Vec<(String, JobStatus)> = self.started.keys().cloned().zip(states).collect();
        for (block, s) in &statuses {
            self.note(block, s.state);
        }
        statuses
    }

    /// Each started block's id and its job's state now.
    fn states(&mut self) -> Vec<(String, JobState)> {
        self.statuses().into_iter().map(|(id, s)| (id, s.state)).collect()
    }

    fn cancel(&mut self, blocks: &[String]) {
        let ids: Vec<String> = blocks.iter().filter_map(|b| self.started.get(b).cloned()).collect();
        let cancelled = match &mut self.jobs {
            Jobs::Local(p) => Ok(p.cancel(&ids)),
            Jobs::AdHoc(p) => p.cancel(&ids),
            Jobs::Batch(p) => p.cancel(&ids),
        };
        if let Err(e) = cancelled {
            tracing::warn!(label = %self.label, error = %e, "cancelling blocks failed");
        }
    }

    pub(crate) fn cancel_all(&mut self) {
        let all: Vec<String> = self.started.keys().cloned().collect();
        self.cancel(&all);
        // as the Python front: blocks not ended on their own end scaled in
        let ended: Vec<String> = match &self.watch {
            Some((_, seen)) => all.iter().filter(|b| seen.get(*b).is_some_and(|s| !s.is_terminal())).cloned().collect(),
            None => Vec::new(),
        };
        for b in ended {
            self.note(&b, JobState::ScaledIn);
        }
    }

    /// Blocks whose jobs are pending or running.
    pub(crate) fn active(&mut self) -> usize {
        self.states().iter().filter(|(_, s)| matches!(s, JobState::Pending | JobState::Running)).count()
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:,=+@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// How the executor stops its strategy thread: a flag, the condvar it waits on, the thread.
pub(crate) type StrategyStop = (Arc<(Mutex<bool>, Condvar)>, std::thread::JoinHandle<()>);

/// What the strategy thread needs, shared with the executor.
pub(crate) struct Strategist {
    pub(crate) blocks: Arc<Mutex<Blocks>>,
    pub(crate) ix: Arc<InterchangeHandle>,
    pub(crate) stop: Arc<(Mutex<bool>, Condvar)>,
    /// The tasks out, failed all at once when every block has failed.
    pub(crate) waiting: Arc<Mutex<std::collections::HashMap<u64, Done>>>,
    /// Why the executor stopped taking tasks (every block failed), once it has.
    pub(crate) stopped: Arc<std::sync::OnceLock<String>>,
    /// Parsl's threshold for "every block failed": `max(1, init_blocks)` blocks.
    pub(crate) threshold: usize,
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

impl Strategist {
    /// Every `period` until stopped: a snapshot of tasks and blocks in, at most one
    /// decision out, carried out here (start blocks; drain and cancel idle ones).
    pub(crate) fn run(self, mut scaler: Option<Scaler>, period: Duration) {
        let (stopped, wake) = &*self.stop;
        let mut done = stopped.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            done = wake.wait_timeout(done, period).unwrap_or_else(|p| p.into_inner()).0;
            if *done {
                break;
            }
            drop(done);
            self.round(scaler.as_mut());
            done = stopped.lock().unwrap_or_else(|p| p.into_inner());
        }
    }

    fn round(&self, scaler: Option<&mut Scaler>) {
        let outstanding = self.ix.in_flight();
        let load = self.ix.block_load();
        let mut blocks = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
        let statuses = blocks.statuses();
        if self.every_block_failed(&blocks.label, &statuses) {
            return;
        }
        let Some(scaler) = scaler else { return };
        let views: Vec<BlockView> = statuses
            .into_iter()
            .map(|(id, status)| {
                let l = load.get(&id).copied().unwrap_or(BlockLoad { pools: 0, held: 0, idle_for: None });
                BlockView { id, state: status.state, pools: l.pools, held: l.held, idle_for: l.idle_for }
            })
            .collect();
        match scaler.step(Instant::now(), outstanding, &views) {
            None => {}
            Some(Decision::ScaleOut { blocks: n, reason }) => {
                tracing::info!(label = %blocks.label, n, reason, "scaling out");
                if let Err(e) = blocks.start(n) {
                    tracing::error!(error = %e, "scaling out failed");
                }
            }
            Some(Decision::ScaleIn { blocks: chosen, reason }) => {
                tracing::info!(label = %blocks.label, ?chosen, reason, "scaling in");
                let mut retired = Vec::new();
                for b in chosen {
                    match self.ix.retire_block(&b, true) {
                        Ok(()) => retired.push(b),
                        Err(_) => scaler.keep(&b), // a task reached it first
                    }
                }
                blocks.cancel(&retired);
            }
        }
    }
}

impl Strategist {
    /// Parsl's `simple_error_handler`: once every block started (at least `threshold`)
    /// has failed, the executor stops — each task out fails with why (each block's exit
    /// and the end of its stderr), and so does each task submitted later — instead of
    /// blocks being started again while `result()` waits forever. True once stopped.
    fn every_block_failed(&self, label: &str, statuses: &[(String, JobStatus)]) -> bool {
        if self.stopped.get().is_some() {
            return true;
        }
        let states: Vec<JobState> = statuses.iter().map(|(_, s)| s.state).collect();
        if !all_blocks_failed(&states, self.threshold) {
            return false;
        }
        let why = block_failures(label, statuses);
        tracing::error!(label, %why, "every block failed; the executor stops");
        let _ = self.stopped.set(why.clone());
        let out: Vec<Done> = self.waiting.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, d)| d).collect();
        for done in out {
            done(Err(Error::Executor(why.clone())));
        }
        true
    }
}

/// Why the blocks failed, for the tasks' errors: the missing `chervil::init()` first
/// when a block's program said so, then each failed block as the engine's report puts
/// it (`chervil_scaling::block_failure_report`, the Python front's text too).
fn block_failures(label: &str, statuses: &[(String, JobStatus)]) -> String {
    let mut missing_init = false;
    let mut blocks = Vec::new();
    for (block, s) in statuses.iter().filter(|(_, s)| matches!(s.state, JobState::Failed | JobState::Missing)) {
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
            id: block.clone(),
            state: format!("{:?}", s.state).to_lowercase(),
            message: s.message.clone(),
            exit_code: s.exit_code,
            outputs,
        });
    }
    let head = if missing_init {
        format!("executor {label}: {MISSING_INIT}")
    } else {
        format!("executor {label}: every block failed, so its tasks cannot run")
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
