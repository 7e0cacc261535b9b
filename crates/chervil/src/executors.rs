//! Where tries run: a thread pool in this process, or the HighThroughputExecutor's
//! interchange and pools of worker processes (this program, started in worker mode).
//! Both take an app and its encoded payload and hand the outcome to a callback.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use chervil_htex::{ClientEvent, InterchangeConfig, InterchangeHandle, Plain, ServerConfig, TlsIdentity};
use chervil_proto::Outcome;

use crate::app::{execute, AppDef, Place};
use crate::codec;
use crate::blocks::{scaler, Blocks, StopRule};
use crate::config::{Config, HighThroughputExecutor, Provider, ThreadPoolExecutor};
use crate::error::Error;
use crate::staging::Storage;
use crate::worker::PoolEnv;

/// Where a try's outcome goes: its encoded result, or its error.
pub(crate) type Done = Box<dyn FnOnce(Result<Vec<u8>, Error>) + Send>;

/// The kernel's `(task, try)` a submission is, for monitoring.
pub(crate) type TryKey = (u64, u32);

/// The run's monitor as an executor sees it: where to send what it learns of tries.
pub(crate) type Watch = Option<Arc<chervil_monitor::Monitor>>;

pub(crate) trait Executor: Send + Sync {
    /// `resources`: what [`accept_resources`](Executor::accept_resources) made of the
    /// task's resource specification.
    fn submit(&self, def: &'static AppDef, payload: Vec<u8>, resources: Vec<(String, String)>, key: TryKey, done: Done);
    /// A task's resource specification as this executor's workers read it, or why it
    /// cannot have it (the engine's rule, `chervil_mpi::accept`, for HTEX).
    fn accept_resources(&self, asked: &[(String, chervil_mpi::spec::Value)]) -> Result<Vec<(String, String)>, Error> {
        match asked.is_empty() {
            true => Ok(Vec::new()),
            false => Err(Error::InvalidResourceSpecification {
                keys: asked.iter().map(|(k, _)| k.clone()).collect(),
                message: "a ThreadPoolExecutor takes no resource specification; use an executor in MPI mode \
                          (HighThroughputExecutor::mpi())"
                    .into(),
            }),
        }
    }
    fn shutdown(&self);
    /// How its tasks get their files: `storage_access` and `working_dir`.
    fn storage(&self) -> &Storage;
    /// Blocks whose jobs are pending or running (`None`: this executor has no blocks).
    fn active_blocks(&self) -> Option<usize> {
        None
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// Threads taking jobs from one queue. Also the DataFlowKernel's internal pool, where
/// join apps' bodies run.
pub(crate) struct ThreadPool {
    queue: Arc<(Mutex<Queue>, Condvar)>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl ThreadPool {
    pub(crate) fn new(name: &str, threads: usize) -> ThreadPool {
        let queue: Arc<(Mutex<Queue>, Condvar)> = Arc::default();
        let threads = (0..threads.max(1))
            .filter_map(|i| {
                let q = queue.clone();
                std::thread::Builder::new().name(format!("chervil-{name}-{i}")).spawn(move || work(&q)).ok()
            })
            .collect();
        ThreadPool { queue, threads: Mutex::new(threads) }
    }

    pub(crate) fn spawn(&self, job: Job) {
        let (q, ready) = &*self.queue;
        let mut q = lock(q);
        if q.closed {
            drop(q);
            job(); // after shutdown: run on the caller rather than lose it
            return;
        }
        q.jobs.push_back(job);
        drop(q);
        ready.notify_one();
    }

    fn stop(&self) {
        let (q, ready) = &*self.queue;
        lock(q).closed = true;
        ready.notify_all();
        for t in std::mem::take(&mut *lock(&self.threads)) {
            let _ = t.join();
        }
    }
}

fn work(queue: &(Mutex<Queue>, Condvar)) {
    let (q, ready) = queue;
    loop {
        let job = {
            let mut g = lock(q);
            loop {
                if let Some(job) = g.jobs.pop_front() {
                    break job;
                }
                if g.closed {
                    return;
                }
                g = ready.wait(g).unwrap_or_else(|p| p.into_inner());
            }
        };
        job();
    }
}

pub(crate) struct Threads {
    pool: ThreadPool,
    /// When the run is monitored: the monitor, and this machine's name for the tries' rows.
    monitor: Option<(Arc<chervil_monitor::Monitor>, Arc<str>)>,
    storage: Storage,
}

impl Threads {
    pub(crate) fn start(config: &ThreadPoolExecutor, monitor: Watch) -> Threads {
        let monitor = monitor.map(|m| (m, Arc::from(chervil_htex::pool::hostname())));
        let storage = Storage::new(config.storage_access.as_deref(), config.working_dir.clone());
        Threads { pool: ThreadPool::new(&config.label, config.max_threads), monitor, storage }
    }
}

impl Executor for Threads {
    fn storage(&self) -> &Storage {
        &self.storage
    }

    fn submit(&self, def: &'static AppDef, payload: Vec<u8>, _resources: Vec<(String, String)>, key: TryKey, done: Done) {
        let Some((monitor, host)) = self.monitor.clone() else {
            self.pool.spawn(Box::new(move || done(execute(def, &payload, Place::Thread))));
            return;
        };
        self.pool.spawn(Box::new(move || {
            let started = chervil_monitor::Clock::now_us() as u64;
            let outcome = execute(def, &payload, Place::Thread);
            let ended = chervil_monitor::Clock::now_us() as u64;
            // where and when it ran reach the monitor before its outcome reaches the kernel
            monitor.send_all(chervil_run::monitoring::try_ran_events(key.0, key.1, host.to_string(), None, started, ended));
            done(outcome)
        }));
    }

    fn shutdown(&self) {
        self.pool.stop();
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every running interchange of this process, for [`flush_all`].
static INTERCHANGES: Mutex<Vec<std::sync::Weak<InterchangeHandle>>> = Mutex::new(Vec::new());

/// Tries go to the interchange with `submit_soon`: they wait in its inbox (up to
/// 256, at most a millisecond) rather than wake its thread one by one — a cross-thread
/// wake costs this machine more than everything else a no-op task does. Before any
/// thread blocks on a future, and after each batch of results, what waits is flushed.
pub(crate) fn flush_all() {
    let live: Vec<Arc<InterchangeHandle>> = {
        let mut all = lock(&INTERCHANGES);
        all.retain(|w| w.strong_count() > 0);
        all.iter().filter_map(std::sync::Weak::upgrade).collect()
    };
    for ix in live {
        ix.flush();
    }
}

/// The HighThroughputExecutor: the same interchange and pools as the Python front.
pub(crate) struct Htex {
    label: String,
    ix: Arc<InterchangeHandle>,
    waiting: Arc<Mutex<HashMap<u64, Done>>>,
    next_id: AtomicU64,
    registered: Mutex<HashMap<&'static str, u64>>,
    results: Mutex<Option<JoinHandle<()>>>,
    blocks: Arc<Mutex<Blocks>>,
    /// Every strategy period, a round of the engine's driver on these blocks.
    strategist: chervil_run::Ticker,
    stopped: AtomicBool,
    /// Set when every block failed: why, for each task submitted since (a lock-free
    /// read on every submit).
    failed: Arc<OnceLock<String>>,
    /// When the run is monitored: where each try ran, and its workers' samples.
    recorder: Option<Arc<chervil_run::monitoring::Recorder>>,
    /// MPI mode: tasks carry a resource specification, which a block of
    /// `nodes_per_block` nodes (when the provider says so) must be able to hold.
    mpi: bool,
    nodes_per_block: Option<u64>,
    storage: Storage,
}


impl Htex {
    pub(crate) fn start(config: &HighThroughputExecutor, run: &Config, run_dir: &Path, monitor: Watch) -> Result<Htex, Error> {
        if let Some(name) = &config.mpi_launcher {
            // a local or ad hoc block starts its pool once; a batch job as its launcher says
            let one_pool = !matches!(&config.provider, Provider::Batch(b) if b.launcher != chervil_providers::launchers::Launcher::Simple);
            match chervil_mpi::check_mode(name, one_pool) {
                Ok(_) => {}
                Err(e @ chervil_mpi::ModeError::NeedsSimpleLauncher) => {
                    return Err(Error::Executor(format!("executor {}: {e}: .launcher(Launcher::Simple)", config.label)))
                }
                Err(e) => return Err(Error::Executor(format!("executor {}: {e}", config.label))),
            }
        }
        let nodes_per_block = match &config.provider {
            Provider::Batch(b) => Some(u64::from(b.spec.nodes_per_block)),
            _ => None,
        };
        let token = chervil_htex::tls::new_token()
            .ok_or_else(|| Error::Executor("the system gave no random bytes for the run's secret".into()))?;
        // Pools on this machine reach a loopback interchange, unless told another address.
        let loopback = |a: &str| a == "localhost" || a.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let local = matches!(config.provider, Provider::Local(_)) && config.address.as_deref().is_none_or(loopback);
        let bind = if local { [127, 0, 0, 1].into() } else { [0, 0, 0, 0].into() };
        let server = ServerConfig {
            bind,
            port_range: (0, 0),
            interchange: InterchangeConfig {
                prefetch_capacity: config.prefetch_capacity,
                heartbeat_threshold: config.heartbeat_threshold,
                heartbeat_period: config.heartbeat_period,
                token: token.to_vec(),
                selector: Default::default(),
            },
            max_frame: chervil_proto::MAX_FRAME_DEFAULT,
            local_socket: local,
        };
        let failed = |e: &dyn std::fmt::Display| Error::Executor(format!("executor {}: {e}", config.label));
        let (ix, cert) = if config.encrypted && !local {
            let identity = TlsIdentity::generate().map_err(|e| failed(&e))?;
            let acceptor = identity.acceptor().map_err(|e| failed(&e))?;
            let ix = InterchangeHandle::start(server, acceptor).map_err(|e| failed(&e))?;
            (ix, Some(chervil_htex::tls::to_hex(&identity.fingerprint())))
        } else {
            (InterchangeHandle::start(server, Plain).map_err(|e| failed(&e))?, None)
        };
        let ix = Arc::new(ix);
        lock(&INTERCHANGES).push(Arc::downgrade(&ix));
        let address = config.address.clone().unwrap_or_else(|| {
            if local {
                "127.0.0.1".into()
            } else {
                chervil_htex::pool::hostname()
            }
        });
        let logdir = run_dir.join(&config.label);
        let env = PoolEnv {
            addresses: ix.pool_addresses(&address),
            port: ix.port(),
            token: chervil_htex::tls::to_hex(&token),
            workers: config.max_workers_per_node,
            cores_per_worker: config.cores_per_worker,
            heartbeat_period: config.heartbeat_period.as_secs_f64(),
            heartbeat_threshold: config.heartbeat_threshold.as_secs_f64(),
            logdir,
            cert_sha256: cert,
            resource_interval: resource_interval(run, &monitor),
            mpi_launcher: config.mpi_launcher.clone(),
        };
        let recorder = monitor.clone().map(|m| Arc::new(chervil_run::monitoring::Recorder::new(m, env.resource_interval.unwrap_or(0.0))));
        let waiting: Arc<Mutex<HashMap<u64, Done>>> = Arc::default();
        let failed: Arc<OnceLock<String>> = Arc::default();
        let stop_rule = StopRule {
            handler: config.block_error_handler,
            init_blocks: config.provider.init_blocks_set(),
            waiting: waiting.clone(),
            stopped: failed.clone(),
        };
        let mut blocks = Blocks::new(config, env, run_dir, monitor.clone(), ix.clone(), stop_rule)?;
        blocks.start(config.provider.init_blocks())?;
        let poll_soon = blocks.poll_soon_flag();
        let blocks = Arc::new(Mutex::new(blocks));
        let results = {
            let (ix, waiting, recorder) = (ix.clone(), waiting.clone(), recorder.clone());
            std::thread::Builder::new()
                .name(format!("chervil-{}-results", config.label))
                .spawn(move || collect_results(&ix, &waiting, recorder.as_deref(), &poll_soon))
                .map_err(|e| Error::Executor(format!("executor {}: {e}", config.label)))?
        };
        // Every strategy period, even with the `none` strategy: the blocks are polled and
        // an executor whose blocks all failed stops (Parsl's job status poller).
        let strategist = {
            let mut scaler = scaler(run, config)?;
            let blocks = blocks.clone();
            let name = format!("chervil-{}-strategy", config.label);
            chervil_run::Ticker::start(&name, run.strategy_period, move || lock(&blocks).round(scaler.as_mut()))
                .map_err(|e| Error::Executor(format!("executor {}: {e}", config.label)))?
        };
        tracing::info!(label = %config.label, port = ix.port(), "HighThroughputExecutor started");
        Ok(Htex {
            strategist,
            label: config.label.clone(),
            ix,
            waiting,
            next_id: AtomicU64::new(0),
            registered: Mutex::new(HashMap::new()),
            results: Mutex::new(Some(results)),
            blocks,
            stopped: AtomicBool::new(false),
            failed,
            recorder,
            mpi: config.mpi_launcher.is_some(),
            nodes_per_block,
            storage: Storage::new(config.storage_access.as_deref(), config.working_dir.clone()),
        })
    }

    /// The function id of `def`, registered with the interchange on first use: the
    /// worker is told the app's name and finds it in its own registry.
    fn function(&self, def: &'static AppDef) -> u64 {
        let mut reg = lock(&self.registered);
        if let Some(&id) = reg.get(def.name) {
            return id;
        }
        let id = reg.len() as u64;
        self.ix.register_function(id, def.name.as_bytes().to_vec());
        reg.insert(def.name, id);
        id
    }
}

impl Executor for Htex {
    fn active_blocks(&self) -> Option<usize> {
        Some(lock(&self.blocks).active())
    }

    fn storage(&self) -> &Storage {
        &self.storage
    }

    fn accept_resources(&self, asked: &[(String, chervil_mpi::spec::Value)]) -> Result<Vec<(String, String)>, Error> {
        chervil_mpi::accept(self.mpi, asked, self.nodes_per_block)
            .map_err(|r| Error::InvalidResourceSpecification { keys: r.keys, message: r.message })
    }

    fn submit(&self, def: &'static AppDef, payload: Vec<u8>, resources: Vec<(String, String)>, key: TryKey, done: Done) {
        if self.stopped.load(Ordering::Acquire) {
            done(Err(Error::Executor(format!("executor {} is shut down", self.label))));
            return;
        }
        if let Some(why) = self.failed.get() {
            done(Err(Error::Executor(why.clone())));
            return;
        }
        if payload.len() > chervil_proto::MAX_PAYLOAD {
            done(Err(Error::Executor(format!(
                "the arguments of {} encode to {:.2} GiB, more than the {:.2} GiB one message between processes can \
                 carry; write the data to a file and pass a File, or split it over several tasks",
                def.name,
                payload.len() as f64 / (1u64 << 30) as f64,
                chervil_proto::MAX_PAYLOAD as f64 / (1u64 << 30) as f64
            ))));
            return;
        }
        let function = self.function(def);
        let tid = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = &self.recorder {
            r.remember(tid, key);
        }
        lock(&self.waiting).insert(tid, done);
        self.ix.submit_soon(vec![(tid, (function, payload, resources))]);
    }

    fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        // The strategy first, as the Python front closes its job status poller before its
        // executors: once the pools are told to stop their jobs end, and a round polling
        // then would record a block COMPLETED that this shutdown scales in.
        self.strategist.stop();
        self.ix.shutdown();
        if let Some(t) = lock(&self.results).take() {
            let _ = t.join();
        }
        lock(&self.blocks).cancel_all();
        let left: Vec<Done> = lock(&self.waiting).drain().map(|(_, d)| d).collect();
        for done in left {
            done(Err(Error::Executor(format!("executor {} shut down before the task finished", self.label))));
        }
    }
}

fn collect_results(
    ix: &InterchangeHandle,
    waiting: &Mutex<HashMap<u64, Done>>,
    recorder: Option<&chervil_run::monitoring::Recorder>,
    poll_soon: &AtomicBool,
) {
    while let Some(events) = ix.wait(Duration::from_millis(500)) {
        if let Some(r) = recorder {
            r.record(&events); // before the outcomes reach the kernel, as on the Python front
        }
        for event in events {
            let (task, outcome) = match event {
                ClientEvent::Done { task, outcome, on, .. } => (
                    task,
                    match outcome {
                        Outcome::Ok(bytes) => Ok(bytes),
                        Outcome::Err(bytes) => Err(codec::decode::<Error>(&bytes, "the task's error").unwrap_or_else(|e| e)),
                        Outcome::WorkerLost(why) => Err(Error::WorkerLost { host: on.hostname.to_string(), why }),
                        Outcome::Refused(why) => Err(Error::Executor(why)),
                    },
                ),
                ClientEvent::PoolLost { task, hostname, why } => {
                    (task, Err(Error::ManagerLost { host: hostname.to_string(), why: why.to_string() }))
                }
                ClientEvent::PoolLeft(_) => {
                    // its block may have ended, and a replacement may be due
                    poll_soon.store(true, Ordering::Release);
                    continue;
                }
                _ => continue,
            };
            let done = lock(waiting).remove(&task);
            if let Some(done) = done {
                done(outcome);
            }
        }
        // Dependants the batch released (on any executor) leave now, not at a deadline.
        flush_all();
    }
}

/// How often a monitored run's pools sample their busy workers (`None`: not monitored,
/// or sampling off).
fn resource_interval(run: &Config, monitor: &Watch) -> Option<f64> {
    let hub = run.monitoring.as_ref().filter(|_| monitor.is_some())?;
    (hub.resource_monitoring_interval > 0.0).then_some(hub.resource_monitoring_interval)
}
