//! The program's other lives. A HighThroughputExecutor's block starts this same
//! program as a **pool** (it connects to the interchange and supervises workers), and
//! the pool starts it again, once per worker, as a **worker** (it runs tasks fed over
//! its stdin). [`init`] — the first line of `main` — sends the program down the right
//! path; in the client it returns at once.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use chervil_htex::pool::{self, Affinity, PoolOptions, WorkerSlots};
use chervil_htex::Plain;
use chervil_proto::worker::{FUNCTION_DEF, TASK_ENV};

use crate::app::{execute, find, Place};
use crate::codec;
use crate::error::Error;

/// Which life this process leads: unset in the client, `pool` or `worker` otherwise.
pub(crate) const ROLE_ENV: &str = "CHERVIL_ROLE";

/// What a block tells its pool, as environment variables.
pub(crate) struct PoolEnv {
    pub addresses: String,
    pub port: u16,
    pub token: String,
    pub workers: Option<u32>,
    pub cores_per_worker: f64,
    pub heartbeat_period: f64,
    pub heartbeat_threshold: f64,
    pub logdir: PathBuf,
    /// Seconds between samples of busy workers, when the run is monitored.
    pub resource_interval: Option<f64>,
    /// The interchange's certificate (SHA-256, hex) when the link is TLS.
    pub cert_sha256: Option<String>,
    /// MPI mode's launcher (`mpiexec`, `srun`, `aprun`).
    pub mpi_launcher: Option<String>,
}

impl PoolEnv {
    pub(crate) fn vars(&self, block: &str) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("CHERVIL_POOL_ADDRESSES", self.addresses.clone()),
            ("CHERVIL_POOL_PORT", self.port.to_string()),
            ("CHERVIL_POOL_TOKEN", self.token.clone()),
            ("CHERVIL_POOL_BLOCK", block.to_string()),
            ("CHERVIL_POOL_CORES_PER_WORKER", self.cores_per_worker.to_string()),
            ("CHERVIL_POOL_HEARTBEAT", format!("{},{}", self.heartbeat_period, self.heartbeat_threshold)),
            ("CHERVIL_POOL_LOGDIR", self.logdir.to_string_lossy().into_owned()),
        ];
        if let Some(n) = self.workers {
            v.push(("CHERVIL_POOL_WORKERS", n.to_string()));
        }
        if let Some(cert) = &self.cert_sha256 {
            v.push(("CHERVIL_POOL_CERT_SHA256", cert.clone()));
        }
        if let Some(every) = self.resource_interval {
            v.push(("CHERVIL_POOL_RESOURCE_INTERVAL", every.to_string()));
        }
        if let Some(launcher) = &self.mpi_launcher {
            v.push(("CHERVIL_POOL_MPI_LAUNCHER", launcher.clone()));
        }
        v
    }
}

/// What a block's process prints, and the client's error quotes, when the program did
/// not become a pool: its `main` did not call [`init`] before [`load`](crate::load).
pub(crate) const MISSING_INIT: &str = "this program was started as a Chervil pool, but its main did not call \
chervil::init() before chervil::load(), so it ran the workflow again instead of serving it. Make \
`chervil::init();` the first line of main. (A #[test] cannot do that: put HTEX tests in a test target with \
`harness = false` whose main calls chervil::init() first, or use a ThreadPoolExecutor in #[test]s.)";

/// The exit code of a block's process that found [`MISSING_INIT`].
pub(crate) const MISSING_INIT_EXIT: i32 = 86;

/// In a process a block started as a pool or a worker (the program's `main` skipped
/// [`init`]): says so and exits, so the block fails at once and the client's futures
/// get [`MISSING_INIT`] instead of the workflow starting itself again, block after block.
pub(crate) fn refuse_to_run_as_a_block() {
    if matches!(std::env::var(ROLE_ENV).as_deref(), Ok("pool") | Ok("worker")) {
        eprintln!("chervil: {MISSING_INIT}");
        std::process::exit(MISSING_INIT_EXIT);
    }
}

/// Call first in `main` of any program whose apps run on a HighThroughputExecutor:
/// in a pool or worker process started by Chervil it does that work and exits the
/// process; in the client it returns at once.
///
/// ```no_run
/// chervil::init(); // the first line of `main`
/// // … load a config, call apps …
/// ```
pub fn init() {
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("worker") => std::process::exit(run_worker()),
        Ok("pool") => std::process::exit(run_pool()),
        _ => {}
    }
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set; pools are started by Chervil's blocks, which set it"))
}

fn run_pool() -> i32 {
    let cert = std::env::var("CHERVIL_POOL_CERT_SHA256").ok().filter(|c| !c.is_empty());
    std::env::remove_var("CHERVIL_POOL_CERT_SHA256");
    let run = |opts: PoolOptions| match &cert {
        None => pool::run(opts, Plain).map_err(|e| e.to_string()),
        Some(hex) => {
            let pin = chervil_htex::tls::parse_fingerprint(hex).map_err(|e| e.to_string())?;
            let connector = chervil_htex::PinnedTlsConnector::new(pin).map_err(|e| e.to_string())?;
            pool::run(opts, connector).map_err(|e| e.to_string())
        }
    };
    match pool_options().and_then(run) {
        Ok(exit) => {
            tracing::info!(?exit, "pool done");
            0
        }
        Err(e) => {
            eprintln!("chervil pool: {e}");
            1
        }
    }
}

fn pool_options() -> Result<PoolOptions, String> {
    let num = |name: &str, text: &str| text.parse::<f64>().map_err(|_| format!("{name}={text:?} is not a number"));
    let token = env("CHERVIL_POOL_TOKEN")?;
    std::env::remove_var("CHERVIL_POOL_TOKEN"); // the workers need no secret
    let token = chervil_htex::tls::from_hex(&token).ok_or("CHERVIL_POOL_TOKEN is not hex")?;
    let hb = env("CHERVIL_POOL_HEARTBEAT")?;
    let (period, threshold) = hb.split_once(',').ok_or("CHERVIL_POOL_HEARTBEAT is not period,threshold")?;
    let block_id = env("CHERVIL_POOL_BLOCK")?;
    let logdir = PathBuf::from(env("CHERVIL_POOL_LOGDIR")?)
        .join(format!("block-{block_id}"))
        .join(format!("{}-{}", pool::hostname(), std::process::id()));
    std::fs::create_dir_all(&logdir).map_err(|e| format!("cannot make {}: {e}", logdir.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program to start workers: {e}"))?;
    // Workers are this program again; they learn their role from the environment they inherit.
    std::env::set_var(ROLE_ENV, "worker");
    Ok(PoolOptions {
        addresses: env("CHERVIL_POOL_ADDRESSES")?.split(',').map(str::to_string).collect(),
        port: env("CHERVIL_POOL_PORT")?.parse().map_err(|_| "CHERVIL_POOL_PORT is not a port")?,
        token,
        block_id,
        worker_command: vec![exe.to_string_lossy().into_owned()],
        slots: WorkerSlots {
            max_workers_per_node: std::env::var("CHERVIL_POOL_WORKERS").ok().and_then(|n| n.parse().ok()),
            cores_per_worker: num("CHERVIL_POOL_CORES_PER_WORKER", &env("CHERVIL_POOL_CORES_PER_WORKER")?)?,
            mem_per_worker_gb: None,
            accelerators: Vec::new(),
        },
        affinity: Affinity::parse("none")?,
        heartbeat_period: Duration::from_secs_f64(num("heartbeat period", period)?),
        heartbeat_threshold: Duration::from_secs_f64(num("heartbeat threshold", threshold)?),
        drain_period: None,
        logdir,
        connect_timeout: Duration::from_secs(60),
        python_version: format!("rust ({})", env!("CARGO_PKG_VERSION")),
        resource_interval: std::env::var("CHERVIL_POOL_RESOURCE_INTERVAL")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok()),
        mpi: match std::env::var("CHERVIL_POOL_MPI_LAUNCHER") {
            Ok(name) => Some(pool::MpiMode::from_environment(&name)?),
            Err(_) => None,
        },
    })
}

/// The worker loop: frames in on the pool's pipe (stdin), replies out on the other (the
/// real stdout). Both pipes move to private descriptors closed on exec, and fd 0 becomes
/// `/dev/null` and fd 1 stderr: what the app prints cannot corrupt the stream, and a
/// program it starts that reads stdin gets end-of-input instead of the next task.
fn run_worker() -> i32 {
    let Some((input, mut out)) = take_protocol_pipes() else {
        eprintln!("chervil worker: cannot set up its descriptors");
        return 2;
    };
    let mut input = std::io::BufReader::new(input);
    let mut apps: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
    // An MPI task's environment, sent just before it: set for that task alone.
    let mut env_next: Vec<(String, String)> = Vec::new();
    loop {
        let mut head = [0u8; 4];
        if input.read_exact(&mut head).is_err() {
            return 0; // the pool closed the pipe: it is done with this worker
        }
        let mut body = vec![0u8; u32::from_be_bytes(head) as usize];
        if input.read_exact(&mut body).is_err() || body.len() < 16 {
            eprintln!("chervil worker: the pool sent a truncated frame; exiting");
            return 2;
        }
        let task = u64::from_be_bytes(body[..8].try_into().unwrap_or_default());
        let key = u64::from_be_bytes(body[8..16].try_into().unwrap_or_default());
        if task == FUNCTION_DEF {
            apps.insert(key, String::from_utf8_lossy(&body[16..]).into_owned());
            continue;
        }
        if task == TASK_ENV {
            env_next = String::from_utf8_lossy(&body[8..])
                .split('\0')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            continue;
        }
        let saved: Vec<(String, Option<String>)> = env_next.iter().map(|(k, _)| (k.clone(), std::env::var(k).ok())).collect();
        for (k, v) in env_next.drain(..) {
            std::env::set_var(k, v); // a worker runs one task at a time, on this thread
        }
        let outcome = match apps.get(&key).map(|name| (name, find(name))) {
            Some((_, Some(def))) => execute(def, &body[16..], Place::Worker),
            Some((name, None)) => Err(Error::UnknownApp(name.clone())),
            None => Err(Error::Executor(format!("the pool sent task {task} for function {key}, never defined"))),
        };
        for (k, before) in saved {
            match before {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
        let outcome = outcome.and_then(|bytes| {
            if bytes.len() > chervil_proto::MAX_PAYLOAD {
                return Err(Error::Executor(format!(
                    "the result encodes to {} bytes, more than one message between processes can carry ({}); \
                     write it to a File and return that",
                    bytes.len(),
                    chervil_proto::MAX_PAYLOAD
                )));
            }
            Ok(bytes)
        });
        let (ok, value) = match outcome {
            Ok(bytes) => (0u8, bytes),
            Err(e) => (1u8, codec::encode(&e, "an error").unwrap_or_default()),
        };
        let mut reply = Vec::with_capacity(13 + value.len());
        reply.extend_from_slice(&((9 + value.len()) as u32).to_be_bytes());
        reply.extend_from_slice(&task.to_be_bytes());
        reply.push(ok);
        reply.extend_from_slice(&value);
        if out.write_all(&reply).is_err() {
            return 0;
        }
    }
}

/// The pool's pipes as private files (see [`run_worker`]); fds 0 and 1 repointed.
fn take_protocol_pipes() -> Option<(std::fs::File, std::fs::File)> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain descriptor calls on this process's own fds 0, 1 and 2 and on the
    // descriptors made here; each new one is owned by exactly one File below.
    unsafe {
        let input = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3);
        let output = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if input < 0 || output < 0 {
            return None;
        }
        let files = (std::fs::File::from_raw_fd(input), std::fs::File::from_raw_fd(output));
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null < 0 || libc::dup2(null, 0) < 0 || libc::dup2(2, 1) < 0 {
            return None;
        }
        libc::close(null);
        Some(files)
    }
}
