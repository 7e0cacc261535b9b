//! MPI tasks on the Rust front, on the real MPICH: an executor in MPI mode
//! (`HighThroughputExecutor::mpi()`, Parsl's `MPIExecutor`) whose LocalProvider block is
//! told three node names in a PBS node file (all of them this machine, so `mpiexec`
//! starts every rank locally), as `tests/test_mpi.py` does for the Python front. The
//! specification check is the engine's one rule (`chervil_mpi::accept`), shared with
//! the Python front. `harness = false`: pools and workers are this program.

use std::time::{Duration, Instant, SystemTime};

use chervil::{Config, Error, HighThroughputExecutor, LocalProvider, Opts, ResourceSpec, ThreadPoolExecutor};

/// Parsl's environment as the task sees it, and when it ran (seconds since the epoch).
#[chervil::app]
fn prefix_and_nodes(seconds: f64) -> (String, Vec<String>, f64, f64) {
    let now = || SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let start = now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    (var("PARSL_MPI_PREFIX"), var("PARSL_MPI_NODELIST").split(',').map(str::to_string).collect(), start, now())
}

/// Each rank prints `word` and lives a moment: MPICH's mpiexec can die of SIGPIPE when
/// every rank of a non-MPI program exits at once.
#[chervil::bash_app]
fn ranks(word: String) -> String {
    format!("echo \"$PARSL_MPI_NODELIST $PARSL_NUM_RANKS\"; $PARSL_MPI_PREFIX sh -c 'echo {word}; sleep 0.2'")
}

#[chervil::app]
fn plain() -> i64 {
    1
}

mod support;

const NAME: &str = "mpi::tasks_share_a_block_on_real_mpich";

fn main() {
    chervil::init();
    if !support::should_run(NAME) {
        return;
    }
    let have_mpiexec = std::process::Command::new("mpiexec").arg("--version").output().is_ok_and(|o| o.status.success());
    if !have_mpiexec {
        assert!(std::env::var_os("CI").is_none(), "MPICH is not installed (make system-deps installs mpich)");
        println!("test {NAME} ... skipped (MPICH is not installed; make system-deps installs it)");
        return;
    }
    let t0 = Instant::now();
    let dir = std::env::temp_dir().join(format!("chervil-rs-mpi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let host = chervil_host();
    let names = [host.as_str(), "localhost", "127.0.0.1"];
    let nodefile = dir.join("nodefile");
    std::fs::write(&nodefile, names.iter().map(|n| format!("{n}\n")).collect::<String>()).expect("the node file");
    let config = Config::new()
        .run_dir(dir.join("runinfo"))
        .executor(
            HighThroughputExecutor::mpi().label("mpi").max_workers_per_node(3).provider(
                LocalProvider::new().init_blocks(1).worker_init(format!("export PBS_NODEFILE={}", nodefile.display())),
            ),
        )
        .executor(HighThroughputExecutor::new().label("htex").provider(LocalProvider::new().init_blocks(1)))
        .executor(ThreadPoolExecutor::new().label("threads"));
    let dfk = chervil::load(config).expect("load");
    let on = |label: &str| Opts::new().executors(&[label]);
    let spec = |nodes: u32| ResourceSpec::new().num_nodes(nodes).ranks_per_node(1);

    // A bash app's ranks start through $PARSL_MPI_PREFIX, on the nodes it was given.
    let out = dir.join("ranks.out");
    let done = ranks::with(on("mpi").stdout(out.to_string_lossy()).resource_specification(spec(2)), "hello".to_string());
    assert_eq!(done.result().expect("the ranks ran"), 0);
    let text = std::fs::read_to_string(&out).expect("the task's stdout");
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    assert!(first.ends_with(" 2") && first.split(' ').next().unwrap_or_default().split(',').count() == 2, "{text}");
    assert_eq!(lines.filter(|l| *l == "hello").count(), 2, "one line per rank: {text}");

    // Five tasks of 1–3 nodes share the block: no node is given to two at once.
    let sizes = [2u32, 1, 2, 1, 3];
    let futures: Vec<_> = sizes.iter().map(|&n| prefix_and_nodes::with(on("mpi").resource_specification(spec(n)), 0.6)).collect();
    let results: Vec<_> = futures.iter().map(|f| f.result().expect("an MPI task")).collect();
    assert_eq!(results[0].0, format!("mpiexec -n 2 -ppn 1 -hosts {} ", results[0].1.join(",")));
    for (r, &n) in results.iter().zip(&sizes) {
        assert_eq!(r.1.len(), n as usize, "{r:?}");
    }
    let mut whole: Vec<&str> = results[4].1.iter().map(String::as_str).collect();
    whole.sort_unstable();
    let mut all = names.to_vec();
    all.sort_unstable();
    assert_eq!(whole, all, "the 3-node task had the whole block");
    for (i, a) in results.iter().enumerate() {
        for b in &results[i + 1..] {
            if a.1.iter().any(|n| b.1.contains(n)) {
                assert!(a.3 <= b.2 || b.3 <= a.2, "two tasks ran on one node at the same time: {a:?} {b:?}");
            }
        }
    }

    // What cannot work is refused at submission, in Parsl's words.
    let refused = |f: chervil::AppFuture<(String, Vec<String>, f64, f64)>| match f.result() {
        Err(Error::InvalidResourceSpecification { keys, message }) => (keys, message),
        other => panic!("expected InvalidResourceSpecification, got {other:?}"),
    };
    let bad = ResourceSpec::new().num_nodes(2).ranks_per_node(2).num_ranks(5);
    let (_, why) = refused(prefix_and_nodes::with(on("mpi").resource_specification(bad), 0.0));
    assert!(why.contains("num_ranks 5 is not num_nodes 2"), "{why}");
    let (keys, why) = refused(prefix_and_nodes::with(on("mpi"), 0.0));
    assert!(keys.is_empty() && why.contains("needs parsl_resource_specification"), "{why}");
    let (keys, why) = refused(prefix_and_nodes::with(on("htex").resource_specification(spec(1)), 0.0));
    assert!(keys.contains(&"num_nodes".to_string()) && why.contains("MPIExecutor"), "{why}");
    let (_, why) = refused(prefix_and_nodes::with(on("threads").resource_specification(spec(1)), 0.0));
    assert!(why.contains("ThreadPoolExecutor"), "{why}");
    // Plain tasks still run on the plain executors of the same run.
    assert_eq!(plain::with(on("htex")).result().expect("a plain task"), 1);
    // A plain HTEX task may carry a priority (Parsl's); an MPI task may not.
    let first = ResourceSpec::new().priority(-2.0);
    assert_eq!(plain::with(on("htex").resource_specification(first)).result().expect("a task with a priority"), 1);
    let (keys, _) = refused(prefix_and_nodes::with(on("mpi").resource_specification(spec(1).priority(1.0)), 0.0));
    assert_eq!(keys, ["priority"]);

    dfk.cleanup();

    // What MPI mode needs of the executor is the engine's rule (chervil_mpi::check_mode),
    // which the Python front's MPIExecutor asks too.
    let refused_config = |executor: HighThroughputExecutor| match chervil::load(Config::new().run_dir(dir.join("refused")).executor(executor)) {
        Err(e) => e.to_string(),
        Ok(d) => {
            d.cleanup();
            panic!("an MPI executor the engine refuses was loaded")
        }
    };
    let why = refused_config(HighThroughputExecutor::mpi().enable_mpi_mode("mpirun"));
    assert!(why.contains("choose 'mpiexec', 'srun' or 'aprun'"), "{why}");
    let why = refused_config(HighThroughputExecutor::mpi().provider(chervil::SlurmProvider::new().init_blocks(0)));
    assert!(why.contains("one pool per block") && why.contains(".launcher(Launcher::Simple)"), "{why}");
    let _ = std::fs::remove_dir_all(&dir);
    println!("test {NAME} ... ok ({:.1} s)", t0.elapsed().as_secs_f64());
}

/// This machine's name, as the pools report it.
fn chervil_host() -> String {
    std::process::Command::new("hostname")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
