//! The Rust front on the HighThroughputExecutor with real pools: the interchange in this
//! process, a LocalProvider block running this very test program as the pool, and its
//! workers as this program again. So this file has its own `main` (`harness = false`)
//! whose first line is `chervil::init()`. It answers `--list` as libtest does, so
//! `cargo nextest` and `cargo test` both run it.

use std::time::{Duration, Instant};

use chervil::{Config, Error, HighThroughputExecutor, LocalProvider, Opts};

#[chervil::app]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[chervil::app]
fn pid() -> u32 {
    std::process::id()
}

#[chervil::app]
fn refuse(n: i64) -> Result<i64, std::num::ParseIntError> {
    format!("{n}x").parse::<i64>()
}

/// Dies the first time (the marker file does not exist yet), succeeds after.
#[chervil::app]
fn die_once(marker: String) -> String {
    if std::fs::metadata(&marker).is_err() {
        let _ = std::fs::write(&marker, b"died");
        std::process::abort();
    }
    "survived".to_string()
}

#[chervil::app]
fn sleepy(secs: u64) -> u64 {
    std::thread::sleep(Duration::from_secs(secs));
    secs
}

/// Writes its pid, then (two seconds later) its side effect.
#[chervil::app]
fn late_writer(pid_file: String, side_effect: String) -> Result<(), std::io::Error> {
    std::fs::write(&pid_file, std::process::id().to_string())?;
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(&side_effect, b"too late")
}

#[chervil::bash_app]
fn shell(cmd: String) -> String {
    cmd
}

#[chervil::join_app]
fn fan(n: i64) -> Vec<chervil::AppFuture<i64>> {
    (0..n).map(|i| add(i, i)).collect()
}

#[chervil::app]
fn sum_lines(f: chervil::File) -> Result<u64, std::io::Error> {
    let text = std::fs::read_to_string(f.filepath())?;
    Ok(text.lines().filter_map(|l| l.trim().parse::<u64>().ok()).sum())
}

/// Counts its runs in a file: workers are other processes.
#[chervil::app(cache)]
fn counted(path: String, x: i64) -> i64 {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
    let _ = f.write_all(b"x");
    x * 10
}

mod support;

const NAME: &str = "htex::real_pools";

fn main() {
    chervil::init();
    if !support::should_run(NAME) {
        return;
    }
    let t0 = Instant::now();
    real_pools();
    over_tls();
    pool_lost();
    elastic();
    piped_task_survives_its_workers_death();
    monitored();
    println!("test {NAME} ... ok ({:.1} s)", t0.elapsed().as_secs_f64());
}

fn real_pools() {
    let dir = std::env::temp_dir().join(format!("chervil-rs-htex-{}", std::process::id()));
    let config = Config::new().run_dir(dir.join("runinfo")).retries(1).executor(
        HighThroughputExecutor::new()
            .max_workers_per_node(2)
            .heartbeat_period(1)
            .heartbeat_threshold(5)
            .working_dir(dir.join("fetched").to_string_lossy())
            .provider(LocalProvider::new().init_blocks(1)),
    );
    let dfk = chervil::load(config).expect("load");

    // A remote file is fetched by a task of its own on a worker, into working_dir.
    let port = support::http_server("1\n2\n3\n");
    let staged = sum_lines(chervil::File::new(format!("http://127.0.0.1:{port}/data/numbers.txt")));
    assert_eq!(staged.result().unwrap(), 6);
    assert!(dir.join("fetched").join("numbers.txt").exists(), "fetched into the executor's working_dir");

    // Values and dependencies cross the process boundary; two workers take turns.
    let x = add(1, 2);
    let y = add(&x, 10);
    assert_eq!(y.result().unwrap(), 13);
    let sums: Vec<_> = (0..200).map(|i| add(i, 1)).collect();
    let total: i64 = sums.iter().map(|f| f.result().unwrap()).sum();
    assert_eq!(total, (1..=200).sum::<i64>());
    let pids: std::collections::HashSet<u32> = (0..20).map(|_| pid()).map(|f| f.result().unwrap()).collect();
    assert!(pids.iter().all(|p| *p != std::process::id()), "tasks ran in worker processes, not here");
    // The block's pool, on this machine, is linked over the interchange's Unix socket
    // (chervil_htex::local), not TCP: /proc lists it connected (state 03).
    let name = format!("@chervil-pools-{}-", std::process::id());
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let linked = unix.lines().filter(|l| l.contains(&name) && l.split_whitespace().nth(5) == Some("03")).count();
    assert_eq!(linked, 1, "the local pool connected over the local socket:\n{unix}");

    // A task no one blocks on still goes out: tries wait in the interchange's inbox at
    // most a millisecond when nothing flushes them.
    let unwatched = add(5, 5);
    wait_until("a task no one waits on to finish", 30, || unwatched.done());

    // Joins: the body runs in the client, the futures it returns run on the pool.
    assert_eq!(fan(5).result().unwrap(), vec![0, 2, 4, 6, 8]);
    // A failed dependency on a worker fails the dependant, naming it.
    let bad = refuse(2);
    assert!(matches!(add(&bad, 1).result(), Err(Error::DependencyError { failed, .. }) if failed.len() == 1));
    // Memoized on the encoded arguments: the second call is answered in the client.
    let runs = dir.join("runs");
    let runs_s = runs.to_string_lossy().into_owned();
    assert_eq!(counted(runs_s.clone(), 4).result().unwrap(), 40);
    assert_eq!(counted(runs_s.clone(), 4).result().unwrap(), 40);
    assert_eq!(std::fs::read_to_string(&runs).unwrap().len(), 1, "ran once");

    // The app's own error travels back with its type name.
    match refuse(1).result() {
        Err(Error::App { type_name, message }) => {
            assert!(type_name.contains("ParseIntError"), "{type_name}");
            assert!(message.contains("invalid digit"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // Bash apps run on the worker: exit codes and redirection.
    let out = dir.join("bash.out");
    assert_eq!(shell::with(Opts::new().stdout(out.to_string_lossy()), "echo from-a-worker").result().unwrap(), 0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "from-a-worker\n");
    assert!(matches!(shell("exit 7").result(), Err(Error::BashExitFailure { code: 7, .. })));

    // A worker that dies is WorkerLost; the retry runs on the worker the pool starts anew.
    let marker = dir.join("died-once");
    assert_eq!(die_once(marker.to_string_lossy().into_owned()).result().unwrap(), "survived");
    assert!(marker.exists());

    // walltime on a Rust app: AppTimeout at the deadline, and the body is stopped there —
    // its process is gone by the time the error arrives, so its side effect can never
    // happen — while the worker goes on with the next task.
    let t = Instant::now();
    let (pid_file, side_effect) = (dir.join("body.pid"), dir.join("side-effect"));
    let late = late_writer::with(Opts::new().walltime(0.5), pid_file.to_string_lossy().into_owned(), side_effect.to_string_lossy().into_owned());
    match late.result() {
        Err(Error::AppTimeout { seconds, .. }) => assert_eq!(seconds, 0.5),
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(20));
    // (on a very busy machine the body may be killed before it writes its pid at all)
    if let Ok(body) = std::fs::read_to_string(&pid_file) {
        let body = body.trim();
        assert!(!std::path::Path::new(&format!("/proc/{body}")).exists(), "the body's process {body} was killed and reaped");
    }
    assert!(!side_effect.exists());
    assert_eq!(add(2, 2).result().unwrap(), 4);
    assert_eq!(sleepy::with(Opts::new().walltime(30.0), 0).result().unwrap(), 0, "a task within its walltime returns its value");

    dfk.cleanup();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A pool that reaches the interchange by this machine's name: the link is TLS, pinned
/// to the run's certificate, exactly as for the Python front's remote pools.
fn over_tls() {
    let host = std::process::Command::new("hostname").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let host = host.ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".into());
    let dir = std::env::temp_dir().join(format!("chervil-rs-tls-{}", std::process::id()));
    let config = Config::new().run_dir(dir.join("runinfo")).executor(
        HighThroughputExecutor::new().address(host).max_workers_per_node(1).provider(LocalProvider::new()),
    );
    let dfk = chervil::load(config).expect("load");
    assert_eq!(add(20, 22).result().unwrap(), 42);
    let script = std::fs::read_dir(dfk.run_dir().join("submit_scripts"))
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "sh"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap();
    assert!(script.contains("CHERVIL_POOL_CERT_SHA256="), "the pool is told the certificate to pin");
    dfk.cleanup();
    let _ = std::fs::remove_dir_all(&dir);
}

#[chervil::bash_app]
fn started_then_sleep(marker: String) -> String {
    format!("touch '{marker}' && sleep 60")
}

fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    after.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Killing the pool (SIGKILL, by pid) fails its running task with ManagerLost, as Parsl's,
/// and with `KeepGoing` the block is replaced (min_blocks) at the next strategy round: the
/// pool leaving makes the engine's book poll at once, though the provider is asked only
/// every 10 minutes.
fn pool_lost() {
    let dir = std::env::temp_dir().join(format!("chervil-rs-lost-{}", std::process::id()));
    let config = Config::new().run_dir(dir.join("runinfo")).strategy("simple").strategy_period(Duration::from_millis(100)).executor(
        HighThroughputExecutor::new()
            .max_workers_per_node(1)
            .heartbeat_period(1)
            .heartbeat_threshold(3)
            .block_error_handler(chervil::BlockErrorHandler::KeepGoing)
            .provider(LocalProvider::new().min_blocks(1).status_polling_interval(Duration::from_secs(600))),
    );
    let dfk = chervil::load(config).expect("load");
    let pool = parent_of(pid().result().unwrap());
    let marker = dir.join("started");
    let running = started_then_sleep(marker.to_string_lossy().into_owned());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the task never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) of the pool process this test started, by its pid.
    assert_eq!(unsafe { libc_kill(pool as i32, 9) }, 0);
    match running.result_timeout(Duration::from_secs(30)) {
        Some(Err(Error::ManagerLost { .. })) => {}
        other => panic!("{other:?}"),
    }
    match pid().result_timeout(Duration::from_secs(60)) {
        Some(Ok(worker)) => assert_ne!(parent_of(worker), pool, "a new block's pool ran it"),
        other => panic!("no replacement block ran a task: {other:?}"),
    }
    dfk.cleanup();
    let _ = std::fs::remove_dir_all(&dir);
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "waited {secs} s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parsl's `simple` strategy on the Rust front: no block until there is work, as many as
/// the work wants up to `max_blocks`, none again once idle for `max_idletime`.
fn elastic() {
    let dir = std::env::temp_dir().join(format!("chervil-rs-elastic-{}", std::process::id()));
    let config = Config::new()
        .run_dir(dir.join("runinfo"))
        .strategy("simple")
        .strategy_period(Duration::from_millis(100))
        .max_idletime(Duration::from_secs(1))
        .executor(
            HighThroughputExecutor::new()
                .label("elastic")
                .max_workers_per_node(1)
                .provider(LocalProvider::new().init_blocks(0).min_blocks(0).max_blocks(2)),
        );
    let dfk = chervil::load(config).expect("load");
    assert_eq!(dfk.active_blocks("elastic"), Some(0));
    let work: Vec<_> = (0..4).map(|_| sleepy(1)).collect();
    wait_until("two blocks for four tasks", 30, || dfk.active_blocks("elastic") == Some(2));
    for f in &work {
        assert_eq!(f.result().unwrap(), 1);
    }
    wait_until("idle blocks to be scaled in", 30, || dfk.active_blocks("elastic") == Some(0));
    assert_eq!(add(1, 1).result().unwrap(), 2, "a new task brings a block back");
    dfk.cleanup();
    let _ = std::fs::remove_dir_all(&dir);
}

#[chervil::app]
fn die() -> i64 {
    std::process::abort()
}

/// With prefetch, a busy worker gets its next task in its pipe before it finishes the
/// current one; if it dies, the task it never started runs on another worker instead of
/// being lost with it.
fn piped_task_survives_its_workers_death() {
    let dir = std::env::temp_dir().join(format!("chervil-rs-piped-{}", std::process::id()));
    let config = Config::new().run_dir(dir.join("runinfo")).strategy("none").executor(
        HighThroughputExecutor::new().max_workers_per_node(1).prefetch_capacity(4).provider(LocalProvider::new()),
    );
    let dfk = chervil::load(config).expect("load");
    assert_eq!(add(0, 0).result().unwrap(), 0); // the pool is up
    for round in 0..5 {
        let dying = die();
        let behind: Vec<_> = (0..3).map(|i| add(i, round)).collect();
        assert!(matches!(dying.result(), Err(Error::WorkerLost { .. })), "round {round}");
        for (i, f) in behind.iter().enumerate() {
            assert_eq!(f.result().unwrap(), i as i64 + round, "round {round}: a task piped behind a dying one");
        }
    }
    dfk.cleanup();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A monitored run on real pools: the rows the Python front writes for the same tasks,
/// from the same engine code (`chervil_run::monitoring`), including a resource sample of
/// every task and where each try ran.
fn monitored() {
    let dir = std::env::temp_dir().join(format!("chervil-rs-monitored-{}", std::process::id()));
    let db = dir.join("monitoring.db");
    let config = Config::new()
        .run_dir(dir.join("runinfo"))
        .monitoring(chervil::MonitoringHub::new().db(&db).resource_monitoring_interval(1.0))
        .executor(
            HighThroughputExecutor::new().max_workers_per_node(2).provider(LocalProvider::new().init_blocks(1)),
        );
    let dfk = chervil::load(config).expect("load");
    let futures: Vec<_> = (0..50).map(|i| add(i, 1)).collect();
    assert_eq!(futures.iter().map(|f| f.result().unwrap()).sum::<i64>(), (1..=50).sum::<i64>());
    assert!(refuse(3).result().is_err());
    dfk.cleanup();

    let conn = rusqlite::Connection::open(&db).expect("the monitoring database");
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    assert_eq!(count("SELECT count(*) FROM workflow WHERE tasks_completed_count = 50 AND tasks_failed_count = 1"), 1);
    assert_eq!(count("SELECT count(*) FROM task"), 51);
    assert_eq!(count("SELECT count(*) FROM try WHERE hostname IS NOT NULL AND block_id = '0' AND task_executor = 'htex'"), 51);
    for state in ["pending", "launched", "running", "running_ended"] {
        assert_eq!(count(&format!("SELECT count(*) FROM status WHERE task_status_name = '{state}'")), 51, "{state}");
    }
    assert_eq!(count("SELECT count(*) FROM status WHERE task_status_name = 'exec_done'"), 50);
    assert_eq!(count("SELECT count(*) FROM status WHERE task_status_name = 'failed'"), 1);
    assert_eq!(count("SELECT count(DISTINCT task_id) FROM resource"), 51, "every task sampled at least once");
    // the block as the executor saw it, and its pool as a node (Parsl's names and forms)
    assert_eq!(count("SELECT count(*) FROM block WHERE block_id = '0' AND executor_label = 'htex' AND status = 'PENDING'"), 1);
    assert_eq!(count("SELECT count(*) FROM block WHERE block_id = '0' AND status = 'SCALED_IN'"), 1);
    assert!(count("SELECT count(*) FROM node WHERE block_id = '0' AND worker_count = 2 AND active = 1") >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}
