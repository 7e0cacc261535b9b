//! The worker pool (Parsl's `process_worker_pool`): one per node, or per launcher rank.
//!
//! It connects to the interchange, proves the run's secret, and runs tasks on worker
//! processes it starts and supervises (`python -m chervil.worker`, fed over pipes).
//! Everything happens on one thread: a current-thread tokio runtime whose main loop
//! reacts to events (tasks from the interchange, replies and deaths of workers, the
//! clock) and sends results back in batches — whatever finished while it was busy
//! goes out in one frame.
//!
//! What the pool decides — which worker runs which task, what a worker's death does to
//! its tasks, MPI tasks waiting for nodes — is [`core::PoolCore`], without I/O; this
//! module is its shell: the connection, the processes, the clock, `/proc`.
//!
//! Loss, as the client sees it: a worker that dies while running a task sends back
//! [`Outcome::WorkerLost`] for it and is replaced; if the pool itself dies, the
//! interchange notices the closed connection (or the silence) and fails what the
//! pool held. The pool exits by itself when the interchange goes away or stays
//! silent past the heartbeat threshold, and its workers die with it (they get
//! `SIGKILL` when the pool's thread exits, and EOF on their stdin in any case).

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chervil_mpi::prefix::Launcher;
use chervil_proto::worker::decode_reply;
use crate::frames::read_frame;
use crate::link::Transport;
use crate::local::{self, PoolLink};
use chervil_proto::{batches, FrameDecoder, Hello, Outcome, TaskResult, ToInterchange, ToPool, PROTOCOL_VERSION};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub use crate::slots::{NodeShape, WorkerSlots};

pub mod core;
use self::core::PoolCore;
use tokio::sync::mpsc;

/// Which cores each worker may run on (Parsl's `cpu_affinity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affinity {
    None,
    /// Consecutive cores per worker, from core 0.
    Block,
    /// Consecutive cores per worker, from the last core.
    BlockReverse,
    /// Worker i gets cores i, i + workers, i + 2·workers, …
    Alternating,
    /// An explicit core list per worker.
    List(Vec<Vec<usize>>),
}

impl Affinity {
    /// Parses Parsl's spellings: none, block, block-reverse, alternating, list:0,1:2,3.
    pub fn parse(s: &str) -> Result<Affinity, String> {
        Ok(match s {
            "none" => Affinity::None,
            "block" => Affinity::Block,
            "block-reverse" => Affinity::BlockReverse,
            "alternating" => Affinity::Alternating,
            _ if s.starts_with("list:") => {
                let mut lists = Vec::new();
                for group in s["list:".len()..].split(':') {
                    let cores: Result<Vec<usize>, _> = group.split(',').map(|c| c.trim().parse::<usize>()).collect();
                    lists.push(cores.map_err(|_| format!("cpu_affinity {s:?}: {group:?} is not a comma-separated list of core numbers"))?);
                }
                Affinity::List(lists)
            }
            _ => {
                return Err(format!(
                    "cpu_affinity {s:?} is not one of none, block, block-reverse, alternating, list:<cores>:<cores>…"
                ))
            }
        })
    }

    /// The cores for worker `rank` of `workers`, or None for no pinning.
    pub fn cores_for(&self, rank: u32, workers: u32, cores: usize, per_worker: usize) -> Option<Vec<usize>> {
        let (rank, workers, per) = (rank as usize, workers as usize, per_worker.max(1));
        let v: Vec<usize> = match self {
            Affinity::None => return None,
            Affinity::Block => (rank * per..(rank + 1) * per).collect(),
            Affinity::BlockReverse => (rank * per..(rank + 1) * per).map(|c| cores.saturating_sub(1 + c)).collect(),
            Affinity::Alternating => (0..per).map(|k| rank + k * workers).collect(),
            Affinity::List(lists) => lists.get(rank)?.clone(),
        };
        let v: Vec<usize> = v.into_iter().filter(|c| *c < cores.max(1)).collect();
        (!v.is_empty()).then_some(v)
    }
}

#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Addresses of the interchange to try; the first that answers is used.
    pub addresses: Vec<String>,
    pub port: u16,
    pub token: Vec<u8>,
    pub block_id: String,
    /// Program and arguments of one worker, e.g. `python -m chervil.worker`.
    pub worker_command: Vec<String>,
    pub slots: WorkerSlots,
    pub affinity: Affinity,
    pub heartbeat_period: Duration,
    pub heartbeat_threshold: Duration,
    /// After this long the pool takes no new tasks, finishes what it has, and exits.
    pub drain_period: Option<Duration>,
    /// Where worker logs go (`worker_<rank>.log`).
    pub logdir: PathBuf,
    /// How long to keep trying to reach the interchange.
    pub connect_timeout: Duration,
    /// The workers' Python version, reported to the interchange (monitoring's nodes).
    pub python_version: String,
    /// How often to sample busy workers' processes for monitoring; `None`: never.
    pub resource_interval: Option<Duration>,
    /// MPI mode: the block's nodes are shared among MPI tasks, launched with this launcher.
    pub mpi: Option<MpiMode>,
}

/// How a pool in MPI mode runs MPI tasks (Parsl's `MPIExecutor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpiMode {
    pub launcher: Launcher,
    /// The block's nodes (`chervil_mpi::hostlist::block_nodes`).
    pub nodes: Vec<String>,
}

impl MpiMode {
    /// MPI mode with the launcher named `launcher` (mpiexec, srun or aprun) on the nodes
    /// the batch scheduler gave this pool's job (read from its environment; this host
    /// alone outside a batch job). What both fronts' pools start with.
    pub fn from_environment(launcher: &str) -> Result<MpiMode, String> {
        let chosen = Launcher::named(launcher)?;
        let nodes = chervil_mpi::hostlist::block_nodes(|k| std::env::var(k).ok(), |path| std::fs::read_to_string(path).ok(), &hostname())
            .map_err(|e| e.to_string())?;
        Ok(MpiMode { launcher: chosen, nodes })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolExit {
    /// The interchange said so.
    Shutdown,
    /// The drain period passed and the pool's tasks are done.
    Drained,
    /// The interchange closed the connection (the client ended).
    InterchangeGone(String),
    /// Nothing came from the interchange for longer than the heartbeat threshold.
    InterchangeSilent,
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("cannot reach the interchange at port {port} of {addresses:?}: {last}. Check that the client is running and that this node can reach it (HighThroughputExecutor address=)")]
    Connect { addresses: Vec<String>, port: u16, last: String },
    #[error("the interchange refused this pool: {0}")]
    Rejected(String),
    #[error("the interchange did not answer the Hello: {0}")]
    Handshake(String),
    #[error("this node has room for no workers (cores {cores}, {mem_gb:.1} GB free, {slots:?}); lower cores_per_worker or mem_per_worker")]
    NoWorkers { cores: usize, mem_gb: f64, slots: WorkerSlots },
    #[error("cannot start worker {rank} ({command:?}): {error}")]
    Spawn { rank: u32, command: Vec<String>, error: io::Error },
    #[error("workers keep dying as they start ({deaths} in a row; the last {how}). The end of {log}:\n{tail}")]
    WorkersCrashing { deaths: u32, how: String, log: String, tail: String },
    #[error("cannot start the pool's runtime: {0}")]
    Runtime(io::Error),
}

/// Variables that carry the run's secret to a pool (see [`scrub_initial_environment`]).
pub const SECRET_VARIABLES: [&str; 1] = ["CHERVIL_POOL_TOKEN"];

/// Runs a pool until it is told to stop or loses the interchange.
pub fn run<C: Transport>(opts: PoolOptions, connector: C) -> Result<PoolExit, PoolError> {
    scrub_initial_environment(&SECRET_VARIABLES);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(PoolError::Runtime)?;
    rt.block_on(run_async(opts, connector))
}

/// Overwrites the values of `names` in the environment block this process was started
/// with, which `/proc/<pid>/environ` shows to any process of the same user — a task,
/// say, looking at its parent. Removing a variable (`unsetenv`, `os.environ.pop`) only
/// drops it from the C library's list; the bytes the kernel points at stay. So the value
/// is overwritten with `x`s in place. The block lies where `/proc/self/stat` says
/// (`env_start`, `env_end`); nothing here is fatal: if it cannot be found, it is left.
/// Called by [`run`] before the pool starts any thread.
pub fn scrub_initial_environment(names: &[&str]) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
    // Fields after the command name in parentheses start at field 3; env_start and
    // env_end are fields 50 and 51 (proc(5)).
    let Some((_, rest)) = stat.rsplit_once(") ") else { return };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<usize>().ok());
    let (Some(start), Some(end)) = (field(50), field(51)) else { return };
    if start == 0 || end <= start {
        return;
    }
    // SAFETY: [env_start, env_end) is this process's own environment block, mapped
    // writable on the main thread's stack for the process's life; no Rust reference
    // into it exists (std copies variables out), and the pool has started no thread of
    // its own yet. Bytes are only replaced, never moved: the block keeps its layout.
    let block = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
    for entry in block.split_mut(|b| *b == 0) {
        for name in names {
            if entry.len() > name.len() && entry.starts_with(name.as_bytes()) && entry[name.len()] == b'=' {
                entry[name.len() + 1..].fill(b'x');
            }
        }
    }
}

/// This machine's name, as the pool reports it.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
    // or truncates, and we stop at the first NUL either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Connects to the first address that answers, trying until `deadline`: the
/// interchange's local socket first when it is among them (`@name`, [`crate::local`]:
/// refused at once unless the interchange runs on this machine), then every TCP
/// address at once, the first to connect winning.
async fn connect<C: Transport>(opts: &PoolOptions, connector: &C, deadline: Instant) -> Result<PoolLink<C::Stream>, PoolError> {
    let mut last = String::from("no address to try");
    let mut pause = Duration::from_millis(50);
    let (mut local, mut net): (Vec<&str>, Vec<&String>) = (Vec::new(), Vec::new());
    for a in &opts.addresses {
        match local::name_of(a) {
            Some(name) => local.push(name),
            None => net.push(a),
        }
    }
    loop {
        for name in &local {
            match local::connect(name) {
                Ok(stream) => return Ok(PoolLink::Local(stream)),
                Err(e) => last = format!("{}{name}: {e}", local::PREFIX),
            }
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        for addr in &net {
            let (tx, target) = (tx.clone(), format!("{}:{}", bracket(addr), opts.port));
            tokio::spawn(async move {
                let r = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&target)).await;
                let r = match r {
                    Ok(Ok(s)) => Ok(s),
                    Ok(Err(e)) => Err(format!("{target}: {e}")),
                    Err(_) => Err(format!("{target}: timed out")),
                };
                let _ = tx.send(r);
            });
        }
        drop(tx);
        while let Some(r) = rx.recv().await {
            match r {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    return connector.establish(tcp).await.map(PoolLink::Net).map_err(|e| PoolError::Connect {
                        addresses: opts.addresses.clone(),
                        port: opts.port,
                        last: format!("TLS handshake failed: {e}"),
                    });
                }
                Err(e) => last = e,
            }
        }
        if Instant::now() + pause > deadline {
            return Err(PoolError::Connect { addresses: opts.addresses.clone(), port: opts.port, last });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Connects and registers. A connection the interchange closes before answering (it
/// sheds connections that have not said Hello when strangers crowd its port) is tried
/// again; connecting and retrying together stay within `connect_timeout`. A Reject is final.
#[allow(clippy::type_complexity)]
async fn register<C: Transport>(
    opts: &PoolOptions,
    connector: &C,
    hello: Hello,
) -> Result<(u32, tokio::io::ReadHalf<PoolLink<C::Stream>>, tokio::io::WriteHalf<PoolLink<C::Stream>>, FrameDecoder, Vec<u8>), PoolError> {
    let deadline = Instant::now() + opts.connect_timeout;
    let mut pause = Duration::from_millis(50);
    let hello = {
        let mut frame = Vec::new();
        ToInterchange::Hello(hello).encode_frame(&mut frame);
        frame
    };
    loop {
        let stream = connect(opts, connector, deadline).await?;
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut dec = FrameDecoder::default();
        let mut buf = vec![0u8; 64 * 1024];
        let answer = match wr.write_all(&hello).await {
            Err(e) => Err(format!("sending the Hello failed: {e}")),
            Ok(()) => match tokio::time::timeout(Duration::from_secs(30), read_frame(&mut rd, &mut dec, &mut buf)).await {
                Err(_) => return Err(PoolError::Handshake("no answer within 30 s".into())),
                Ok(Ok(Some(first))) => Ok(first),
                Ok(Ok(None)) => Err("the interchange closed the connection before answering".to_string()),
                Ok(Err(e)) => Err(e),
            },
        };
        let first = match answer {
            Ok(first) => first,
            Err(why) if Instant::now() + pause < deadline => {
                tracing::warn!(why, "registering failed; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
                continue;
            }
            Err(why) => return Err(PoolError::Handshake(why)),
        };
        return match ToPool::decode(&first) {
            Ok(ToPool::Welcome { pool, .. }) => Ok((pool, rd, wr, dec, buf)),
            Ok(ToPool::Reject { reason }) => Err(PoolError::Rejected(reason)),
            Ok(other) => Err(PoolError::Handshake(format!("expected Welcome, got {other:?}"))),
            Err(e) => Err(PoolError::Handshake(e.to_string())),
        };
    }
}

fn bracket(addr: &str) -> String {
    if addr.contains(':') && !addr.starts_with('[') {
        format!("[{addr}]")
    } else {
        addr.to_string()
    }
}

enum Event {
    FromInterchange(ToPool),
    InterchangeGone(String),
    Reply { rank: u32, gen: u64, task: u64, ok: bool, value: Vec<u8> },
    Died { rank: u32, gen: u64, how: String },
}

/// A worker process, as the shell holds it (what it runs, and its generation, are the core's).
struct Worker {
    pid: u32,
    input: mpsc::UnboundedSender<Vec<u8>>,
    /// The sampling round in which this worker was last sampled in full.
    sampled_round: u64,
    /// Its `/proc` files, when resources are monitored.
    watched: Option<crate::procfs::Watched>,
}

struct Pool {
    opts: PoolOptions,
    core: PoolCore,
    workers: Vec<Worker>,
    count: u32,
    cores: usize,
    events: mpsc::UnboundedSender<Event>,
    hostname: String,
    /// Resource sampling: which interval we are in, and the samples to send.
    sample_round: u64,
    samples: Vec<chervil_proto::ResourceSample>,
}

async fn run_async<C: Transport>(opts: PoolOptions, connector: C) -> Result<PoolExit, PoolError> {
    let node = NodeShape::this_machine();
    let (cores, mem) = (node.cores.unwrap_or(1), node.mem_gb.unwrap_or(f64::INFINITY));
    let count = opts.slots.count(cores, mem);
    if count == 0 {
        return Err(PoolError::NoWorkers { cores, mem_gb: mem, slots: opts.slots.clone() });
    }
    let _ = std::fs::create_dir_all(&opts.logdir);
    let hostname = hostname();

    let hello = Hello {
        version: PROTOCOL_VERSION,
        token: opts.token.clone(),
        hostname: hostname.clone(),
        block_id: opts.block_id.clone(),
        workers: count,
        cores: u32::try_from(cores).unwrap_or(u32::MAX),
        memory_mb: if mem.is_finite() { (mem * 1024.0) as u64 } else { 0 },
        python_version: opts.python_version.clone(),
        package_version: env!("CARGO_PKG_VERSION").into(),
    };
    let (pool_id, mut rd, wr, mut dec, mut buf) = register(&opts, &connector, hello).await?;
    tracing::info!(pool = pool_id, workers = count, host = %hostname, "registered with the interchange");

    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let (out_tx, out_rx) = mpsc::unbounded_channel::<ToInterchange>();
    tokio::spawn(write_to_interchange(wr, out_rx));
    {
        let events = events_tx.clone();
        tokio::spawn(async move {
            loop {
                match read_frame(&mut rd, &mut dec, &mut buf).await {
                    Ok(Some(body)) => match ToPool::decode_owned(body) {
                        Ok(msg) => {
                            if events.send(Event::FromInterchange(msg)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = events.send(Event::InterchangeGone(format!("it sent a malformed message: {e}")));
                            return;
                        }
                    },
                    Ok(None) => {
                        let _ = events.send(Event::InterchangeGone("it closed the connection".into()));
                        return;
                    }
                    Err(e) => {
                        let _ = events.send(Event::InterchangeGone(e));
                        return;
                    }
                }
            }
        });
    }

    if let Some(mode) = &opts.mpi {
        tracing::info!(nodes = ?mode.nodes, launcher = ?mode.launcher, "MPI mode");
    }
    let mpi = opts.mpi.clone().map(|m| (m.launcher, m.nodes));
    let core = PoolCore::new(hostname.clone(), count as usize, mpi, Instant::now());
    let mut pool = Pool { opts, core, workers: Vec::new(), count, cores, events: events_tx, hostname, sample_round: 0, samples: Vec::new() };
    for rank in 0..count {
        let gen = pool.core.gen(rank as usize).unwrap_or(0);
        let w = pool.spawn(rank, gen)?;
        pool.workers.push(w);
    }

    let started = Instant::now();
    let mut last_heard = Instant::now();
    let mut last_sent = Instant::now();
    let mut draining = false;
    let mut last_sampled = Instant::now();
    let period = pool.opts.heartbeat_period;
    let mut wake = period.min(pool.opts.heartbeat_threshold) / 4;
    if let Some(every) = pool.opts.resource_interval {
        wake = wake.min(every); // a long task is still sampled on time
    }
    let mut tick = tokio::time::interval(wake.max(Duration::from_millis(20)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The drain period ends on time, not at the next tick (ticks can be seconds apart).
    const NEVER: Duration = Duration::from_secs(100 * 365 * 86_400);
    let drain_at = tokio::time::Instant::from_std(started) + pool.opts.drain_period.unwrap_or(NEVER);

    let exit = 'run: loop {
        let first = tokio::select! {
            e = events_rx.recv() => e,
            _ = tick.tick() => None,
            _ = tokio::time::sleep_until(drain_at), if !draining && pool.opts.drain_period.is_some() => None,
        };
        let mut batch: Vec<Event> = first.into_iter().collect();
        while let Ok(e) = events_rx.try_recv() {
            batch.push(e);
        }
        for event in batch {
            match event {
                Event::FromInterchange(msg) => {
                    last_heard = Instant::now();
                    match msg {
                        ToPool::Tasks(tasks) => pool.core.tasks(tasks),
                        ToPool::Functions(functions) => pool.core.functions(functions.into_iter().map(|f| (f.function, f.blob))),
                        ToPool::Heartbeat => {}
                        ToPool::Shutdown => break 'run PoolExit::Shutdown,
                        ToPool::Welcome { .. } | ToPool::Reject { .. } => {
                            tracing::warn!("the interchange sent a second Welcome or Reject; ignored")
                        }
                    }
                }
                Event::InterchangeGone(why) => break 'run PoolExit::InterchangeGone(why),
                Event::Reply { rank, gen, task, ok, value } => pool.on_reply(rank, gen, task, ok, value),
                Event::Died { rank, gen, how } => pool.on_death(rank, gen, how)?,
            }
        }
        pool.assign();
        let now = Instant::now();
        if let Some(every) = pool.opts.resource_interval {
            if now.duration_since(last_sampled) >= every {
                last_sampled = now;
                pool.sample_busy_workers();
            }
        }
        if !pool.samples.is_empty() {
            let samples = std::mem::take(&mut pool.samples);
            if out_tx.send(ToInterchange::Resources(samples)).is_err() {
                break PoolExit::InterchangeGone("the connection broke".into());
            }
        }
        let results = pool.core.take_results();
        if !results.is_empty() {
            if out_tx.send(ToInterchange::Results(results)).is_err() {
                break PoolExit::InterchangeGone("the connection broke".into());
            }
            last_sent = now;
        }
        if now.duration_since(last_heard) > pool.opts.heartbeat_threshold {
            break PoolExit::InterchangeSilent;
        }
        if now.duration_since(last_sent) >= period {
            let _ = out_tx.send(ToInterchange::Heartbeat);
            last_sent = now;
        }
        if let Some(drain) = pool.opts.drain_period {
            if !draining && now.duration_since(started) >= drain {
                tracing::info!("drain period reached: taking no new tasks");
                draining = true;
                let _ = out_tx.send(ToInterchange::Draining);
            }
            if draining && pool.core.idle() {
                break PoolExit::Drained;
            }
        }
    };
    tracing::info!(?exit, "pool stopping");
    pool.kill_all();
    drop(out_tx);
    // Give the writer a moment to send what is queued (e.g. the last results).
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(exit)
}

async fn write_to_interchange<W: AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::UnboundedReceiver<ToInterchange>) {
    while let Some(first) = rx.recv().await {
        let mut buf = Vec::new();
        let mut results: Vec<TaskResult> = Vec::new();
        let mut samples = Vec::new();
        let mut others = Vec::new();
        // Samples go ahead of the results: the client attributes a sample to the try its
        // task is running, and forgets the task once its result is in (a task's last
        // sample, taken as it ended, went behind its result and was dropped).
        let mut push = |msg: ToInterchange, results: &mut Vec<TaskResult>| match msg {
            ToInterchange::Results(mut r) => results.append(&mut r),
            ToInterchange::Resources(mut r) => samples.append(&mut r),
            other => others.push(other),
        };
        push(first, &mut results);
        while let Ok(more) = rx.try_recv() {
            push(more, &mut results);
        }
        if !samples.is_empty() {
            ToInterchange::Resources(samples).encode_frame(&mut buf);
        }
        for results in batches(results, result_size) {
            ToInterchange::Results(results).encode_frame(&mut buf);
        }
        for m in others {
            m.encode_frame(&mut buf);
        }
        if let Err(e) = wr.write_all(&buf).await {
            tracing::warn!(error = %e, "writing to the interchange failed");
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// Gives a worker pipe 1 MiB of buffer (Linux's default limit for unprivileged users;
/// 64 KiB otherwise): a 300 MB argument then crosses in ~300 wake-ups instead of ~4,600.
/// Best effort: a smaller pipe only costs time.
fn widen_pipe(fd: std::os::fd::RawFd) {
    // SAFETY: F_SETPIPE_SZ on a pipe descriptor this process owns; failure is harmless.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
    }
}

fn result_size(r: &TaskResult) -> usize {
    match &r.outcome {
        Outcome::Ok(v) | Outcome::Err(v) => v.len(),
        Outcome::WorkerLost(s) | Outcome::Refused(s) => s.len(),
    }
}

impl Pool {
    /// Starts worker `rank`, generation `gen` (the core's numbering).
    fn spawn(&mut self, rank: u32, gen: u64) -> Result<Worker, PoolError> {
        let opts = &self.opts;
        let spawn_err = |error: io::Error| PoolError::Spawn { rank, command: opts.worker_command.clone(), error };
        let (program, args) = opts
            .worker_command
            .split_first()
            .ok_or_else(|| spawn_err(io::Error::new(io::ErrorKind::InvalidInput, "the worker command is empty")))?;
        let log = OpenOptions::new().create(true).append(true).open(worker_log(&opts.logdir, rank)).map_err(spawn_err)?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .env("PARSL_WORKER_RANK", rank.to_string())
            .env("PARSL_WORKER_COUNT", self.count.to_string())
            .env("PARSL_WORKER_BLOCK_ID", &opts.block_id)
            .env("PARSL_WORKER_POOL_ID", format!("{}-{}", self.hostname, std::process::id()))
            .kill_on_drop(true);
        if let Some(acc) = opts.slots.accelerators.get(rank as usize) {
            cmd.env("CUDA_VISIBLE_DEVICES", acc).env("ROCR_VISIBLE_DEVICES", acc).env("ZE_AFFINITY_MASK", acc);
        }
        let per_worker = opts.slots.cores_per_worker.floor().max(1.0) as usize;
        let cpus = opts.affinity.cores_for(rank, self.count, self.cores, per_worker);
        // SAFETY: the closure runs in the child between fork and exec and calls only
        // async-signal-safe functions (prctl, sched_setaffinity) on stack data.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                if let Some(cpus) = &cpus {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    for c in cpus {
                        libc::CPU_SET(*c, &mut set);
                    }
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(spawn_err)?;
        let pid = child.id().unwrap_or(0);
        let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(spawn_err(io::Error::other("the worker's pipes were not created")));
        };
        {
            use std::os::fd::AsRawFd;
            widen_pipe(stdin.as_raw_fd());
            widen_pipe(stdout.as_raw_fd());
        }
        let (input, mut input_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(frame) = input_rx.recv().await {
                if stdin.write_all(&frame).await.is_err() {
                    break; // the worker is gone; its reader reports how
                }
            }
        });
        let events = self.events.clone();
        tokio::spawn(async move {
            let how = watch_worker(&mut child, &mut stdout, |task, ok, value| {
                let _ = events.send(Event::Reply { rank, gen, task, ok, value });
            })
            .await;
            let _ = events.send(Event::Died { rank, gen, how });
        });
        tracing::debug!(rank, pid, "worker started");
        Ok(Worker { pid, input, sampled_round: 0, watched: self.opts.resource_interval.and_then(|_| crate::procfs::Watched::open(pid)) })
    }

    fn on_reply(&mut self, rank: u32, gen: u64, task: u64, ok: bool, value: Vec<u8>) {
        let now_us = wall_clock_us();
        let outcome = if ok { Outcome::Ok(value) } else { Outcome::Err(value) };
        if self.core.reply(rank as usize, gen, task, outcome, now_us) {
            self.sample_as_it_ends(rank as usize, task, now_us);
        }
    }

    fn on_death(&mut self, rank: u32, gen: u64, how: String) -> Result<(), PoolError> {
        let r = rank as usize;
        let pid = if self.core.gen(r) == Some(gen) { self.workers.get(r).map_or(0, |w| w.pid) } else { 0 };
        match self.core.died(r, gen, &how, Instant::now(), wall_clock_us(), pid) {
            Ok(None) => Ok(()),
            Ok(Some(death)) => {
                match death.lost {
                    Some(task) => tracing::warn!(rank, pid, how, task, "worker died; its task is lost (WorkerLost)"),
                    None => tracing::warn!(rank, pid, how, "worker died between tasks"),
                }
                let gen = self.core.spawned(r, Instant::now());
                let fresh = self.spawn(rank, gen)?;
                self.workers[r] = fresh;
                Ok(())
            }
            Err(c) => {
                let log = worker_log(&self.opts.logdir, rank);
                Err(PoolError::WorkersCrashing { deaths: c.deaths, how: c.how, log: log.display().to_string(), tail: tail(&log, 20) })
            }
        }
    }

    /// Hands queued tasks to the workers' pipes, as the core decides.
    fn assign(&mut self) {
        let workers = &self.workers;
        self.core.assign(wall_clock_us(), |rank, frame| workers.get(rank).is_some_and(|w| w.input.send(frame).is_ok()));
    }

    /// Starts a sampling round: a full `/proc` look at every worker that is running a task.
    fn sample_busy_workers(&mut self) {
        self.sample_round += 1;
        let at_us = wall_clock_us();
        for (rank, task) in self.core.running() {
            let Some(w) = self.workers.get_mut(rank) else { continue };
            if let Some(watched) = w.watched.as_mut() {
                w.sampled_round = self.sample_round;
                self.samples.extend(watched.sample(task, at_us));
            }
        }
    }

    /// Every task is sampled as it ends (a task shorter than the interval would have no
    /// sample otherwise, as 94 of 2,001 did): a full look if its worker had none this
    /// interval, else a glance at `stat` alone (CPU times and memory; 4 µs), so a flood
    /// of short tasks costs one read per task and at most one full look per worker per
    /// interval.
    fn sample_as_it_ends(&mut self, rank: usize, task: u64, at_us: u64) {
        let round = self.sample_round;
        let Some(w) = self.workers.get_mut(rank) else { return };
        let Some(watched) = w.watched.as_mut() else { return };
        let sample = if w.sampled_round == round + 1 {
            watched.glance(task, at_us)
        } else {
            // Marked with the round this interval leads to, so the next task ending on
            // this worker before the next tick gets a glance.
            w.sampled_round = round + 1;
            watched.sample(task, at_us)
        };
        self.samples.extend(sample);
    }

    fn kill_all(&mut self) {
        for w in &self.workers {
            if w.pid != 0 {
                // SAFETY: kill(2) on a pid we started and have not reaped (its reader
                // task reaps it); at worst the signal goes to a finished child.
                unsafe {
                    libc::kill(w.pid as libc::pid_t, libc::SIGKILL);
                }
            }
        }
        // Tasks that were queued but not started are reported by the interchange as
        // lost with the pool, so nothing is dropped silently.
    }
}

/// Passes a worker's replies on until it ends; returns how it ended.
///
/// The end is the process's exit (tokio reaps it through a pidfd or SIGCHLD), not the end
/// of its output pipe: a task that forked a child which outlives the worker leaves the
/// pipe open, and a worker SIGKILLed then would otherwise never be reported. After the
/// exit, replies it wrote before dying are still in the pipe: they are read as long as
/// they come without waiting, then the death is reported, after them.
async fn watch_worker<R: AsyncRead + Unpin>(
    child: &mut tokio::process::Child,
    stdout: &mut R,
    mut reply: impl FnMut(u64, bool, Vec<u8>),
) -> String {
    /// How long the pipe may stay quiet once the worker has exited before what is in
    /// it counts as read: a reply written before the exit is already there.
    const AFTER_EXIT: Duration = Duration::from_millis(100);
    let mut dec = FrameDecoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut exited = None;
    loop {
        let frame = match exited {
            None => tokio::select! {
                biased;
                f = read_frame(stdout, &mut dec, &mut buf) => f,
                status = child.wait() => {
                    exited = Some(status);
                    continue;
                }
            },
            Some(_) => match tokio::time::timeout(AFTER_EXIT, read_frame(stdout, &mut dec, &mut buf)).await {
                Ok(f) => f,
                Err(_) => break,
            },
        };
        match frame {
            Ok(Some(body)) => match decode_reply(body) {
                Ok(r) => reply(r.task, r.ok, r.value),
                Err(e) => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    return format!("sent a malformed reply ({e}) and was killed");
                }
            },
            Ok(None) => break,
            Err(e) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                return format!("broke its output stream ({e}) and was killed");
            }
        }
    }
    let status = match exited {
        Some(status) => status,
        None => child.wait().await,
    };
    match status {
        Ok(status) => describe_exit(status),
        Err(e) => format!("ended, and its status could not be read: {e}"),
    }
}

/// Microseconds since the Unix epoch by this node's clock (0 if the clock is before 1970).
fn wall_clock_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

fn worker_log(dir: &Path, rank: u32) -> PathBuf {
    dir.join(format!("worker_{rank}.log"))
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        let name = match sig {
            libc::SIGKILL => " (SIGKILL: killed, e.g. by the out-of-memory killer)",
            libc::SIGSEGV => " (SIGSEGV: segmentation fault)",
            libc::SIGTERM => " (SIGTERM)",
            libc::SIGABRT => " (SIGABRT: aborted)",
            libc::SIGBUS => " (SIGBUS)",
            _ => "",
        };
        format!("was killed by signal {sig}{name}")
    } else {
        format!("exited with code {}", status.code().unwrap_or(-1))
    }
}
