//! The Rust front on the real Slurm of the tests (scripts/slurm-up.sh starts a one-node
//! cluster): the same program as on a laptop, its provider changed to `SlurmProvider`.
//! The block is an `sbatch` job whose pool (`srun` inside the job) and workers are this
//! test program. Its own `main` (`harness = false`), as tests/htex.rs.

use std::process::Command;

use chervil::{Config, HighThroughputExecutor, Launcher, SlurmProvider};

const NAME: &str = "slurm::tasks_run_inside_a_slurm_job";

#[chervil::app]
fn job_env(x: u32) -> (u32, Option<String>, Option<String>) {
    (x, std::env::var("SLURM_JOB_ID").ok(), std::env::var("SLURM_STEP_ID").ok())
}

fn main() {
    chervil::init();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("{NAME}: test");
        }
        return;
    }
    if args.iter().skip(1).find(|a| !a.starts_with('-')).is_some_and(|f| !NAME.contains(f.as_str())) {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { geteuid() } != 0 {
        println!("test {NAME} ... skipped (starting Slurm needs root)");
        return;
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let up = Command::new("bash").arg(format!("{root}/scripts/slurm-up.sh")).output().expect("run slurm-up.sh");
    assert!(up.status.success(), "scripts/slurm-up.sh failed: {}", String::from_utf8_lossy(&up.stderr));

    let dir = std::env::temp_dir().join(format!("chervil-rs-slurm-{}", std::process::id()));
    let config = Config::new().run_dir(dir.join("runinfo")).executor(
        HighThroughputExecutor::new()
            .label("rust_slurm")
            .max_workers_per_node(1)
            .heartbeat_period(2)
            .heartbeat_threshold(10)
            .provider(
                SlurmProvider::new()
                    .walltime("00:05:00")
                    .init_blocks(1)
                    .launcher(Launcher::Srun { overrides: String::new() }),
            ),
    );
    let dfk = chervil::load(config).expect("load");
    let futures: Vec<_> = (0..20).map(job_env).collect();
    let results: Vec<_> = futures.iter().map(|f| f.result_timeout(std::time::Duration::from_secs(120))).collect();
    let results: Vec<_> = results.into_iter().map(|r| r.expect("a task finished in time").expect("a task succeeded")).collect();
    assert_eq!(results.iter().map(|r| r.0).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
    let jobs: std::collections::HashSet<_> = results.iter().map(|r| r.1.clone()).collect();
    assert_eq!(jobs.len(), 1, "every task ran in the block's one Slurm job: {jobs:?}");
    assert!(jobs.iter().all(Option::is_some), "tasks ran inside a Slurm job");
    assert!(results.iter().all(|r| r.2.is_some()), "the pool was started by srun, as a job step");
    dfk.cleanup();

    // scancel is asynchronous: the job leaves squeue within seconds of cleanup.
    let job = jobs.into_iter().flatten().next().unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let queue = Command::new("squeue").args(["--noheader", "--format=%i"]).output().expect("squeue");
        if !String::from_utf8_lossy(&queue.stdout).lines().any(|l| l.trim() == job) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the block's job {job} is still queued 30 s after cleanup");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("test {NAME} ... ok");
}

extern "C" {
    fn geteuid() -> u32;
}
