//! The Rust front on the real batch schedulers of the tests — a one-node Slurm
//! (scripts/slurm-up.sh) and a one-host Grid Engine cell (scripts/gridengine-up.sh): the
//! same program as on a laptop, its provider changed. Each block is a batch job whose
//! pool and workers are this test program. Its own `main` (`harness = false`), as
//! tests/htex.rs.

use std::process::Command;
use std::time::{Duration, Instant};

use chervil::{Config, GridEngineProvider, HighThroughputExecutor, Launcher, Provider, SlurmProvider};

mod support;

const NAME: &str = "batch::tasks_run_inside_batch_jobs";

#[chervil::app]
fn job_env(x: u32) -> (u32, Option<String>, Option<String>) {
    let job = std::env::var("SLURM_JOB_ID").or_else(|_| std::env::var("JOB_ID")).ok();
    (x, job, std::env::var("SLURM_STEP_ID").ok())
}

fn main() {
    chervil::init();
    if !support::should_run(NAME) {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { geteuid() } != 0 {
        println!("test {NAME} ... skipped (starting a scheduler needs root)");
        return;
    }
    let slurm = SlurmProvider::new().walltime("00:05:00").launcher(Launcher::Srun { overrides: String::new() });
    run_on("slurm", slurm.into(), &["squeue", "--noheader", "--format=%i"], true);
    run_on("gridengine", GridEngineProvider::new().walltime("00:05:00").into(), &["qstat"], false);
    println!("test {NAME} ... ok");
}

/// 20 tasks on one block of `provider`: each ran inside the block's job (and, with
/// srun, as a job step); after cleanup the job leaves the scheduler's queue.
fn run_on(scheduler: &str, provider: Provider, queue: &[&str], srun: bool) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let up = Command::new("bash").arg(format!("{root}/scripts/{scheduler}-up.sh")).output().expect("start the scheduler");
    assert!(up.status.success(), "scripts/{scheduler}-up.sh failed: {}", String::from_utf8_lossy(&up.stderr));
    let dir = std::env::temp_dir().join(format!("chervil-rs-{scheduler}-{}", std::process::id()));
    let label = format!("rust_{scheduler}");
    let config = Config::new().run_dir(dir.join("runinfo")).strategy("none").executor(
        HighThroughputExecutor::new()
            .label(&label)
            .max_workers_per_node(1)
            .heartbeat_period(2)
            .heartbeat_threshold(10)
            .provider(provider),
    );
    let dfk = chervil::load(config).expect("load");
    let futures: Vec<_> = (0..20).map(job_env).collect();
    let results: Vec<_> = futures
        .iter()
        .map(|f| f.result_timeout(Duration::from_secs(120)).expect("a task finished in time").expect("a task succeeded"))
        .collect();
    assert_eq!(results.iter().map(|r| r.0).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
    let jobs: std::collections::HashSet<_> = results.iter().map(|r| r.1.clone()).collect();
    assert_eq!(jobs.len(), 1, "{scheduler}: every task ran in the block's one job: {jobs:?}");
    let job = jobs.into_iter().flatten().next().expect("tasks ran inside a batch job");
    if srun {
        assert!(results.iter().all(|r| r.2.is_some()), "the pool was started by srun, as a job step");
    }
    dfk.cleanup();
    // Cancelling is asynchronous: the job leaves the queue within seconds of cleanup.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new(queue[0]).args(&queue[1..]).output().expect("list the queue");
        if !String::from_utf8_lossy(&out.stdout).lines().any(|l| l.split_whitespace().next() == Some(job.as_str())) {
            break;
        }
        assert!(Instant::now() < deadline, "{scheduler}: job {job} is still queued 30 s after cleanup");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

extern "C" {
    fn geteuid() -> u32;
}
