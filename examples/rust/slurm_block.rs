//! A block on Slurm, recorded in Parsl's monitoring database: the Rust half of
//! `tests/test_fronts.py`'s Slurm scenario, which runs the same workflow on the Python
//! front and compares the two databases. Needs a Slurm that takes jobs from this
//! machine (`scripts/slurm-up.sh` starts a one-node cluster); the block's pool and
//! workers are this program, started by the batch job.
//!
//!     cargo run --example slurm_block [monitoring.db]

use chervil::{Config, HighThroughputExecutor, Launcher, MonitoringHub, SlurmProvider};

/// The Slurm job this task ran in.
#[chervil::app]
fn job_of(x: u32) -> (u32, String) {
    (x, std::env::var("SLURM_JOB_ID").unwrap_or_default())
}

#[chervil::app]
fn fail(why: String) -> Result<u32, String> {
    Err(why)
}

fn main() -> Result<(), chervil::Error> {
    chervil::init();
    let db = std::env::args().nth(1).unwrap_or_else(|| "runinfo/monitoring.db".into());
    let block = SlurmProvider::new().walltime("00:05:00").exclusive(false).launcher(Launcher::SingleNode).init_blocks(1).max_blocks(1);
    let config = Config::new()
        .retries(1)
        .strategy("none")
        .monitoring(MonitoringHub::new().db(&db).workflow_name("slurm"))
        .executor(HighThroughputExecutor::new().label("slurm_htex").max_workers_per_node(1).provider(block));
    let dfk = chervil::load(config)?;
    let ran: Vec<_> = (0..10).map(job_of).collect();
    let ran = ran.iter().map(|f| f.result()).collect::<Result<Vec<_>, _>>()?;
    let jobs: std::collections::BTreeSet<&str> = ran.iter().map(|(_, j)| j.as_str()).collect();
    let failed = fail("on purpose".to_string()).result().is_err();
    println!("tasks {}; jobs {}; in a job {}; failed {failed}", ran.len(), jobs.len(), !jobs.contains(""));
    dfk.cleanup();
    Ok(())
}
