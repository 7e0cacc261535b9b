//! `chervil-loadgen`: one real interchange, many fake pools over real TCP.
//!
//! The interchange is the one the Python front runs inside the client
//! (`chervil_htex::InterchangeHandle`), here driven by a client loop that submits
//! no-op tasks. The pools are a second process of this binary (`--fake-pools`), one
//! tokio task per pool on one thread, speaking the real protocol: Hello with the run's
//! secret, heartbeats when quiet, results at once or after `--delay-ms`, and, on
//! command, silence with the socket left open — the hardest loss to notice.
//!
//! Phases, each measured: connect every pool; dispatch `--tasks` tasks; sit idle for
//! `--idle-s` (no pool may be lost: no heartbeat missed); make `--silent` pools go
//! silent and time how long the interchange takes to give each up.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chervil_htex::{ClientEvent, InterchangeConfig, InterchangeHandle, Plain, ServerConfig};
use chervil_loadgen::{raise_fd_limit, rss_bytes, Args};
use chervil_proto::{FrameDecoder, Hello, Outcome, TaskResult, ToInterchange, ToPool, PROTOCOL_VERSION};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USAGE: &str = "chervil-loadgen [--pools 1000] [--workers 256] [--tasks 2000000] [--delay-ms 0] \
[--heartbeat-period 2] [--heartbeat-threshold 6] [--idle-s 8] [--silent 10] [--prefetch 0]";
const TOKEN_VAR: &str = "CHERVIL_LOADGEN_TOKEN";

fn main() {
    let result = Args::parse(USAGE).and_then(|a| if a.flag("fake-pools") { fake_pools(&a) } else { drive(&a) });
    if let Err(e) = result {
        eprintln!("chervil-loadgen: {e}");
        std::process::exit(2);
    }
}

/// The interchange and the client loop; starts the fake pools as a child process.
fn drive(a: &Args) -> Result<(), String> {
    let pools: u32 = a.get("pools", 1000)?;
    let workers: u32 = a.get("workers", 256)?;
    let tasks: u64 = a.get("tasks", 2_000_000)?;
    let delay_ms: u64 = a.get("delay-ms", 0)?;
    let period = Duration::from_secs_f64(a.get("heartbeat-period", 2.0)?);
    let threshold = Duration::from_secs_f64(a.get("heartbeat-threshold", 6.0)?);
    let idle = Duration::from_secs_f64(a.get("idle-s", 8.0)?);
    let silent: u32 = a.get::<u32>("silent", 10)?.min(pools);
    let fds = raise_fd_limit();
    if fds < u64::from(pools) + 64 {
        return Err(format!("{pools} pools need {} open files; this process may open {fds} (ulimit -n)", pools + 64));
    }
    let token = chervil_htex::tls::new_token().ok_or("the system gave no random bytes for the secret")?.to_vec();
    let rss_before = rss_bytes();
    let ix = InterchangeHandle::start(
        ServerConfig {
            bind: [127, 0, 0, 1].into(),
            port_range: (0, 0),
            interchange: InterchangeConfig { prefetch_capacity: a.get("prefetch", 0)?, heartbeat_threshold: threshold, heartbeat_period: period, token: token.clone(), selector: Default::default() },
            max_frame: 256 << 20,
            local_socket: false, // the fake pools measure the TCP path a remote pool takes
        },
        Plain,
    )
    .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["--fake-pools", "--port", &ix.port().to_string(), "--pools", &pools.to_string(), "--workers", &workers.to_string(), "--delay-ms", &delay_ms.to_string()])
        .env(TOKEN_VAR, chervil_htex::tls::to_hex(&token))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the fake pools: {e}"))?;
    let mut to_child = child.stdin.take().ok_or("no stdin to the fake pools")?;
    let from_child = child.stdout.take().ok_or("no stdout from the fake pools")?;

    let mut lost_unexpectedly = 0u64;
    // Connect.
    let started = Instant::now();
    let mut joined = 0u32;
    while joined < pools {
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!("only {joined} of {pools} pools connected in 120 s"));
        }
        for e in ix.wait(Duration::from_millis(50)).unwrap_or_default() {
            match e {
                ClientEvent::PoolJoined(_) => joined += 1,
                ClientEvent::PoolLeft(_) => lost_unexpectedly += 1,
                _ => {}
            }
        }
    }
    let connect_s = started.elapsed().as_secs_f64();
    let rss_pools = rss_bytes();

    // Dispatch: the client submits in chunks, never holding more than a few times the
    // capacity outstanding (as a script waiting on its futures would).
    ix.register_function(1, Vec::new());
    let window = (u64::from(pools) * u64::from(workers) * 2).max(10_000);
    let (mut submitted, mut done) = (0u64, 0u64);
    let started = Instant::now();
    while done < tasks {
        while submitted < tasks && submitted - done < window {
            let n = 10_000.min(tasks - submitted).min(window - (submitted - done));
            ix.submit((submitted..submitted + n).map(|t| (t, (1, Vec::new(), Vec::new()))).collect());
            submitted += n;
        }
        for e in ix.wait(Duration::from_millis(20)).unwrap_or_default() {
            match e {
                ClientEvent::Done { .. } => done += 1,
                ClientEvent::PoolLost { .. } => return Err("a pool was lost with tasks during dispatch".into()),
                ClientEvent::PoolLeft(_) => lost_unexpectedly += 1,
                _ => {}
            }
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!("only {done} of {tasks} tasks done in 600 s"));
        }
    }
    let dispatch_s = started.elapsed().as_secs_f64();
    let rss_after_dispatch = rss_bytes();

    // Idle: heartbeats alone must keep every pool.
    let started = Instant::now();
    while started.elapsed() < idle {
        for e in ix.wait(Duration::from_millis(100)).unwrap_or_default() {
            if let ClientEvent::PoolLeft(_) = e {
                lost_unexpectedly += 1;
            }
        }
    }

    // Silence: the interchange must give up each silent pool within the threshold + 1 s.
    writeln!(to_child, "silent {silent}").map_err(|e| e.to_string())?;
    to_child.flush().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (mut noticed, mut first_s, mut last_s) = (0u32, None, 0f64);
    while noticed < silent && started.elapsed() < threshold * 3 {
        for e in ix.wait(Duration::from_millis(10)).unwrap_or_default() {
            if let ClientEvent::PoolLeft(p) = e {
                if p.hostname.strip_prefix("fake-").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n < silent) {
                    noticed += 1;
                    let at = started.elapsed().as_secs_f64();
                    first_s.get_or_insert(at);
                    last_s = at;
                } else {
                    lost_unexpectedly += 1;
                }
            }
        }
    }
    writeln!(to_child, "quit").map_err(|e| e.to_string())?;
    to_child.flush().map_err(|e| e.to_string())?;
    let mut child_report = String::new();
    BufReader::new(from_child).read_line(&mut child_report).map_err(|e| e.to_string())?;
    let _ = child.wait();
    ix.shutdown();

    let child_report = child_report.trim();
    println!(
        "{{\"pools\": {pools}, \"workers\": {}, \"tasks\": {tasks}, \"delay_ms\": {delay_ms}, \"connect_s\": {connect_s:.2}, \
         \"dispatch_s\": {dispatch_s:.2}, \"tasks_per_s\": {:.0}, \"interchange_kib_per_pool\": {:.1}, \
         \"interchange_rss_mib\": {:.1}, \"heartbeat_period_s\": {}, \"heartbeat_threshold_s\": {}, \
         \"pools_lost_unexpectedly\": {lost_unexpectedly}, \"silent\": {silent}, \"silent_noticed\": {noticed}, \
         \"silent_noticed_after_s\": [{}, {last_s:.2}], \"fake_pools\": {}}}",
        u64::from(pools) * u64::from(workers),
        tasks as f64 / dispatch_s,
        rss_pools.saturating_sub(rss_before) as f64 / 1024.0 / f64::from(pools.max(1)),
        rss_after_dispatch as f64 / (1 << 20) as f64,
        period.as_secs_f64(),
        threshold.as_secs_f64(),
        first_s.map_or("null".into(), |s| format!("{s:.2}")),
        if child_report.is_empty() { "null" } else { child_report },
    );
    if lost_unexpectedly > 0 || noticed < silent {
        return Err(format!("{lost_unexpectedly} pools lost that should not have been; {noticed} of {silent} silent pools noticed"));
    }
    Ok(())
}

/// What the fake pools measured, shared by their tasks.
#[derive(Default)]
struct PoolStats {
    /// The longest silence from the interchange any connected pool saw (µs).
    max_gap_us: AtomicU64,
    results: AtomicU64,
    errors: AtomicU64,
}

/// The child process: `--pools` fake pools on one thread, commands on stdin.
fn fake_pools(a: &Args) -> Result<(), String> {
    raise_fd_limit();
    let port: u16 = a.get("port", 0)?;
    let pools: u32 = a.get("pools", 1000)?;
    let workers: u32 = a.get("workers", 256)?;
    let delay = Duration::from_millis(a.get("delay-ms", 0)?);
    let token = std::env::var(TOKEN_VAR).ok().and_then(|t| chervil_htex::tls::from_hex(&t)).ok_or(format!("{TOKEN_VAR} must hold the secret in hex"))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let stats = Arc::new(PoolStats::default());
    let (silence, _) = tokio::sync::watch::channel(0u32);
    rt.block_on(async {
        for i in 0..pools {
            let (token, stats, quiet) = (token.clone(), stats.clone(), silence.subscribe());
            tokio::spawn(async move {
                if let Err(e) = fake_pool(i, port, token, workers, delay, stats.clone(), quiet).await {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("fake pool {i}: {e}");
                }
            });
        }
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(n) = line.strip_prefix("silent ").and_then(|n| n.trim().parse().ok()) {
                let _ = silence.send(n);
            } else if line == "quit" {
                break;
            }
        }
    });
    // The driver may be gone (it failed): then there is no one to tell.
    let _ = writeln!(
        std::io::stdout(),
        "{{\"max_gap_from_interchange_s\": {:.2}, \"results_sent\": {}, \"errors\": {}, \"rss_kib_per_pool\": {:.1}}}",
        stats.max_gap_us.load(Ordering::Relaxed) as f64 / 1e6,
        stats.results.load(Ordering::Relaxed),
        stats.errors.load(Ordering::Relaxed),
        rss_bytes() as f64 / 1024.0 / f64::from(pools.max(1)),
    );
    Ok(())
}

fn frame(msg: &ToInterchange, out: &mut Vec<u8>) {
    msg.encode_frame(out);
}

async fn fake_pool(i: u32, port: u16, token: Vec<u8>, workers: u32, delay: Duration, stats: Arc<PoolStats>, mut quiet: tokio::sync::watch::Receiver<u32>) -> Result<(), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let _ = s.set_nodelay(true);
    let hello = Hello {
        version: PROTOCOL_VERSION,
        token,
        hostname: format!("fake-{i}"),
        block_id: (i / 8).to_string(),
        workers,
        cores: workers,
        memory_mb: 1024,
        python_version: "none".into(),
        package_version: env!("CARGO_PKG_VERSION").into(),
    };
    let mut out = Vec::new();
    frame(&ToInterchange::Hello(hello), &mut out);
    s.write_all(&out).await.map_err(|e| e.to_string())?;
    let mut decoder = FrameDecoder::new(256 << 20);
    let mut buf = vec![0u8; 64 * 1024];
    let mut period = Duration::from_secs(30);
    let mut last_in = Instant::now();
    let mut last_out = Instant::now();
    let mut delayed: std::collections::VecDeque<(Instant, u64)> = std::collections::VecDeque::new();
    loop {
        let wake = delayed.front().map_or(last_out + period, |(at, _)| (*at).min(last_out + period));
        tokio::select! {
            read = s.read(&mut buf) => {
                let n = read.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Ok(()); // the interchange closed us
                }
                let now = Instant::now();
                stats.max_gap_us.fetch_max(now.duration_since(last_in).as_micros() as u64, Ordering::Relaxed);
                last_in = now;
                decoder.extend(&buf[..n]);
                let mut results = Vec::new();
                while let Some(body) = decoder.next_frame().map_err(|e| e.to_string())? {
                    match ToPool::decode(&body).map_err(|e| e.to_string())? {
                        ToPool::Welcome { heartbeat_period_ms, .. } => period = Duration::from_millis(u64::from(heartbeat_period_ms.max(1))),
                        ToPool::Reject { reason } => return Err(format!("refused: {reason}")),
                        ToPool::Tasks(tasks) if delay.is_zero() => results.extend(tasks.into_iter().map(|t| t.task)),
                        ToPool::Tasks(tasks) => delayed.extend(tasks.into_iter().map(|t| (now + delay, t.task))),
                        ToPool::Shutdown => return Ok(()),
                        ToPool::Functions(_) | ToPool::Heartbeat => {}
                    }
                }
                if !results.is_empty() {
                    send_results(&mut s, &results, &stats).await?;
                    last_out = Instant::now();
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                let mut due = Vec::new();
                while delayed.front().is_some_and(|(at, _)| *at <= now) {
                    due.extend(delayed.pop_front().map(|(_, t)| t));
                }
                if !due.is_empty() {
                    send_results(&mut s, &due, &stats).await?;
                } else {
                    out.clear();
                    frame(&ToInterchange::Heartbeat, &mut out);
                    s.write_all(&out).await.map_err(|e| e.to_string())?;
                }
                last_out = now;
            }
            _ = quiet.changed() => {
                if i < *quiet.borrow() {
                    // Silent, socket open: only the heartbeat threshold can tell.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

async fn send_results(s: &mut TcpStream, tasks: &[u64], stats: &PoolStats) -> Result<(), String> {
    let results = tasks.iter().map(|&task| TaskResult { task, outcome: Outcome::Ok(Vec::new()), started_us: 0, ended_us: 0 }).collect();
    let mut out = Vec::new();
    frame(&ToInterchange::Results(results), &mut out);
    s.write_all(&out).await.map_err(|e| e.to_string())?;
    stats.results.fetch_add(tasks.len() as u64, Ordering::Relaxed);
    Ok(())
}
