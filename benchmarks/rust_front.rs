//! The Rust front's workloads, as benchmarks/workload.py's for Python: one per run,
//! one JSON line out. HighThroughputExecutor, one LocalProvider block, `--workers`
//! worker processes (this program again), no Python anywhere.
//!
//!     cargo run --release -p chervil --example rust_front -- noop 100000 [--workers 2]
//!
//! Workloads: noop (submit n, then wait for all), chain (each task takes the previous
//! one's result), latency (one task at a time; median and 95th percentile).

use std::time::Instant;

use chervil::{Config, HighThroughputExecutor, LocalProvider};

#[chervil::app]
fn noop() {}

#[chervil::app]
fn echo(x: u64) -> u64 {
    x
}

#[chervil::app]
fn worker_pid() -> u32 {
    std::process::id()
}

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn main() -> Result<(), chervil::Error> {
    chervil::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.first().cloned().unwrap_or_else(|| "noop".into());
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|w| w.parse::<u32>().ok());
    let workers = flag("--workers").unwrap_or(2);
    let prefetch = flag("--prefetch").unwrap_or(0);
    let run_dir = std::env::temp_dir().join(format!("chervil-rs-bench-{}", std::process::id()));
    let t0 = Instant::now();
    let config = Config::new().run_dir(&run_dir).executor(
        HighThroughputExecutor::new().max_workers_per_node(workers).prefetch_capacity(prefetch).provider(LocalProvider::new()),
    );
    let dfk = chervil::load(config)?;
    echo(0).result()?;
    let startup = t0.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut extra = String::new();
    match bench.as_str() {
        "noop" => {
            let futures: Vec<_> = (0..n).map(|_| noop()).collect();
            for f in &futures {
                f.result()?;
            }
        }
        "spread" => {
            // How evenly tasks go to the workers: tasks per worker process.
            let futures: Vec<_> = (0..n).map(|_| worker_pid()).collect();
            let mut per: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
            for f in &futures {
                *per.entry(f.result()?).or_default() += 1;
            }
            extra = format!(", \"tasks_per_worker\": {:?}", per.values().collect::<Vec<_>>());
        }
        "chain" => {
            let mut f = echo(0);
            for _ in 1..n {
                f = echo(&f);
            }
            f.result()?;
        }
        "latency" => {
            let mut times: Vec<f64> = (0..n)
                .map(|i| {
                    let t = Instant::now();
                    echo(i).result().map(|_| t.elapsed().as_secs_f64() * 1e3)
                })
                .collect::<Result<_, _>>()?;
            times.sort_by(f64::total_cmp);
            extra = format!(
                ", \"latency_ms_median\": {:.4}, \"latency_ms_p95\": {:.4}",
                times[times.len() / 2],
                times[(times.len() * 95 / 100).min(times.len() - 1)]
            );
        }
        other => panic!("unknown workload {other}: noop, spread, chain or latency"),
    }
    let seconds = start.elapsed().as_secs_f64();
    dfk.cleanup();
    let _ = std::fs::remove_dir_all(&run_dir);
    println!(
        "{{\"engine\": \"chervil-rust\", \"bench\": \"{bench}\", \"n\": {n}, \"workers\": {workers}, \"seconds\": {seconds:.3}, \
         \"tasks_per_s\": {:.1}, \"startup_s\": {startup:.3}, \"peak_rss_mib\": {:.1}{extra}}}",
        n as f64 / seconds,
        rss_mib()
    );
    Ok(())
}
