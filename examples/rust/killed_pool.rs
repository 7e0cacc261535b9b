//! A pool killed under a running task, recorded in Parsl's monitoring database: the
//! Rust half of `tests/test_fronts.py`'s killed-pool scenario, which runs the same
//! workflow on the Python front and compares the two databases.
//!
//! The task kills its own pool on its first try: the interchange sees the pool go and
//! fails the try with `ManagerLost`, the block's job ends, the strategy starts another
//! block, and the retry runs there. `KeepGoing`, as Parsl's `block_error_handler=False`:
//! with the simple handler a run whose only block failed would stop.
//!
//!     cargo run --example killed_pool [monitoring.db]

use std::time::Duration;

use chervil::{BlockErrorHandler, Config, HighThroughputExecutor, LocalProvider, MonitoringHub};

#[chervil::app]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Kills the pool running it on its first try (it leaves a marker); returns 1 on the retry.
#[chervil::app]
fn kills_its_pool(marker: String) -> Result<i64, String> {
    if std::path::Path::new(&marker).exists() {
        return Ok(1);
    }
    std::fs::write(&marker, b"killed").map_err(|e| e.to_string())?;
    let pool = std::os::unix::process::parent_id().to_string();
    std::process::Command::new("kill").args(["-KILL", &pool]).status().map_err(|e| e.to_string())?;
    std::process::exit(1); // the worker goes with its pool
}

fn main() -> Result<(), chervil::Error> {
    chervil::init();
    let db = std::env::args().nth(1).unwrap_or_else(|| "runinfo/monitoring.db".into());
    let config = Config::new()
        .retries(1)
        .strategy_period(Duration::from_millis(500))
        .monitoring(MonitoringHub::new().db(&db).workflow_name("killed pool"))
        .executor(
            HighThroughputExecutor::new()
                .max_workers_per_node(1)
                .block_error_handler(BlockErrorHandler::KeepGoing)
                .provider(LocalProvider::new().init_blocks(1).min_blocks(0).max_blocks(1)),
        );
    let dfk = chervil::load(config)?;
    let before: Vec<_> = (0..4).map(|i| add(i, 1)).collect();
    let before: i64 = before.iter().map(|f| f.result()).sum::<Result<i64, _>>()?;
    let marker = std::path::Path::new(&db).with_extension("killed");
    let survived = kills_its_pool(marker.to_string_lossy().into_owned()).result()?;
    let after: Vec<_> = (0..4).map(|i| add(i, 1)).collect();
    let after: i64 = after.iter().map(|f| f.result()).sum::<Result<i64, _>>()?;
    println!("before {before}; survived {survived}; after {after}");
    dfk.cleanup();
    Ok(())
}
