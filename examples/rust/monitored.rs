//! A monitored run: a small workflow on a HighThroughputExecutor recorded in Parsl's
//! monitoring database, which `chervil dashboard` (and Parsl's `parsl-visualize`) read.
//! `tests/test_fronts.py` runs the same workflow on the Python front and compares the
//! two databases row for row, for a first run and for a second that resumes from the
//! first's checkpoint (its cached squares are memo hits).
//!
//!     cargo run --release --example monitored [monitoring.db]
//!     chervil dashboard runinfo/monitoring.db

use chervil::{CheckpointMode, Config, HighThroughputExecutor, LocalProvider, MonitoringHub};

#[chervil::app]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[chervil::app(cache)]
fn square(x: i64) -> i64 {
    x * x
}

#[chervil::app]
fn fail(why: String) -> Result<i64, String> {
    Err(why)
}

/// Fails on its first try (it leaves a marker), succeeds on the retry.
#[chervil::app]
fn flaky(marker: String) -> Result<i64, String> {
    if std::path::Path::new(&marker).exists() {
        return Ok(1);
    }
    std::fs::write(&marker, b"tried").map_err(|e| e.to_string())?;
    Err("first try fails".into())
}

#[chervil::bash_app]
fn greet() -> String {
    "echo hello".to_string()
}

fn main() -> Result<(), chervil::Error> {
    chervil::init();
    let db = std::env::args().nth(1).unwrap_or_else(|| "runinfo/monitoring.db".into());
    let config = Config::new()
        .retries(1)
        .checkpoint_mode(CheckpointMode::TaskExit)
        .monitoring(MonitoringHub::new().db(&db).resource_monitoring_interval(1.0).workflow_name("fronts"))
        .executor(HighThroughputExecutor::new().max_workers_per_node(2).provider(LocalProvider::new()));
    let dfk = chervil::load(config)?;
    let sums: Vec<_> = (0..20).map(|i| add(i, 1)).collect();
    let total: i64 = sums.iter().map(|f| f.result()).sum::<Result<i64, _>>()?;
    let squares: Vec<_> = (0..5).map(square).collect();
    let squares: i64 = squares.iter().map(|f| f.result()).sum::<Result<i64, _>>()?;
    let failed = fail("on purpose".to_string());
    let after = add(&failed, 1); // fails with DependencyError, never runs
    let marker = std::path::Path::new(&db).with_extension("flaky");
    let retried = flaky(marker.to_string_lossy().into_owned()).result()?;
    let greeted = greet().result()?;
    println!("sum {total}; squares {squares}; greet exit code {greeted}; retried: {retried}; failed: {}; dependant: {}",
             failed.result().is_err(), after.result().is_err());
    dfk.cleanup();
    println!("recorded in {db}");
    Ok(())
}
