//! The Rust front on the thread pool: the behaviours Parsl users rely on.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chervil::{AppFuture, CheckpointMode, Config, Error, File, Opts, ThreadPoolExecutor};

mod support;

/// One loaded DataFlowKernel at a time, as in Parsl: tests in one process take turns.
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

fn config(dir: &tempdir::Dir) -> Config {
    Config::new().run_dir(dir.path().join("runinfo")).executor(ThreadPoolExecutor::new().max_threads(4))
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let p = std::env::temp_dir().join(format!("chervil-rs-{tag}-{}-{}", std::process::id(), fastrand::u64(..)));
            // This binary is also the pool that `htex_in_a_plain_test_fails_at_once…` starts
            // (CHERVIL_ROLE=pool): there its tests start, and the first load() exits the
            // process before any Drop runs, so nothing is made there to be left behind.
            if std::env::var_os("CHERVIL_ROLE").is_none() {
                std::fs::create_dir_all(&p).unwrap();
            }
            Dir(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[chervil::app]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[derive(Debug)]
struct Oops(String);
impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oops: {}", self.0)
    }
}

#[chervil::app]
fn fails(why: String) -> Result<i64, Oops> {
    Err(Oops(why))
}

#[chervil::app]
fn panics() -> i64 {
    panic!("on purpose")
}

#[chervil::app]
fn greet(name: String) -> String {
    format!("hello {name}")
}

#[test]
fn values_and_futures_are_arguments_and_dependencies_pass_values() {
    let _t = turn();
    let dir = tempdir::Dir::new("deps");
    let dfk = chervil::load(config(&dir)).unwrap();
    let x = add(1, 2);
    let y = add(&x, 10);
    let z = add(x.clone(), y);
    assert_eq!(z.result().unwrap(), 16);
    assert_eq!(x.result().unwrap(), 3);
    assert!(x.done() && x.tid() == 0 && z.tid() == 2);
    assert_eq!(greet("world").result().unwrap(), "hello world");
    // A chain longer than any stack.
    let mut f = add(0, 0);
    for _ in 0..5000 {
        f = add(&f, 1);
    }
    assert_eq!(f.result().unwrap(), 5000);
    dfk.cleanup();
}

#[test]
fn an_apps_error_and_a_panic_fail_its_future_and_its_dependants() {
    let _t = turn();
    let dir = tempdir::Dir::new("fail");
    let dfk = chervil::load(config(&dir)).unwrap();
    let bad = fails("the disk".to_string());
    match bad.result() {
        Err(Error::App { type_name, message }) => {
            assert!(type_name.ends_with("Oops"), "{type_name}");
            assert_eq!(message, "oops: the disk");
        }
        other => panic!("{other:?}"),
    }
    let after = add(&bad, 1);
    match after.result() {
        Err(Error::DependencyError { task, failed }) => {
            assert_eq!(task, after.tid());
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0].0, format!("task {}", bad.tid()));
        }
        other => panic!("{other:?}"),
    }
    // and on down the chain: the dependant's dependant fails too
    assert!(matches!(add(&after, 1).result(), Err(Error::DependencyError { .. })));
    assert!(matches!(panics().result(), Err(Error::Panicked(m)) if m == "on purpose"));
    dfk.cleanup();
}

static FLAKY: AtomicU32 = AtomicU32::new(0);

#[chervil::app]
fn flaky() -> Result<u32, String> {
    let n = FLAKY.fetch_add(1, Ordering::SeqCst) + 1;
    if n < 3 {
        Err(format!("try {n}"))
    } else {
        Ok(n)
    }
}

#[test]
fn failures_are_retried_within_the_budget_and_a_handler_can_price_them() {
    let _t = turn();
    let dir = tempdir::Dir::new("retry");
    FLAKY.store(0, Ordering::SeqCst);
    let dfk = chervil::load(config(&dir).retries(2)).unwrap();
    assert_eq!(flaky().result().unwrap(), 3);
    dfk.cleanup();

    FLAKY.store(0, Ordering::SeqCst);
    let dfk = chervil::load(config(&dir).retries(1)).unwrap();
    assert!(matches!(flaky().result(), Err(Error::App { message, .. }) if message == "try 2"));
    dfk.cleanup();

    // A handler that charges 2 per failure: a budget of 3 allows one retry only.
    FLAKY.store(0, Ordering::SeqCst);
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let dfk = chervil::load(config(&dir).retries(3).retry_handler(move |e, task| {
        s.lock().unwrap().push((task.fail_count, e.to_string()));
        2.0
    }))
    .unwrap();
    assert!(flaky().result().is_err());
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(seen.lock().unwrap()[0].0, 1);
    dfk.cleanup();
}

#[chervil::join_app]
fn fan(n: i64) -> Vec<AppFuture<i64>> {
    (0..n).map(|i| add(i, i)).collect()
}

#[chervil::join_app]
fn one_more(x: i64) -> AppFuture<i64> {
    add(x, 1)
}

#[chervil::join_app]
fn fan_with_failure() -> Vec<AppFuture<i64>> {
    vec![add(1, 1), fails("inside".to_string())]
}

#[test]
fn join_apps_wait_for_the_futures_they_return() {
    let _t = turn();
    let dir = tempdir::Dir::new("join");
    let dfk = chervil::load(config(&dir)).unwrap();
    assert_eq!(fan(4).result().unwrap(), vec![0, 2, 4, 6]);
    assert_eq!(one_more(41).result().unwrap(), 42);
    let nested = add(one_more(1), 1);
    assert_eq!(nested.result().unwrap(), 3);
    match fan_with_failure().result() {
        Err(Error::JoinError { failed, .. }) => assert_eq!(failed.len(), 1),
        other => panic!("{other:?}"),
    }
    dfk.cleanup();
}

#[chervil::bash_app]
fn shell(cmd: String) -> String {
    cmd
}

#[test]
fn bash_apps_give_exit_codes_redirect_output_and_honour_walltime() {
    let _t = turn();
    let dir = tempdir::Dir::new("bash");
    let dfk = chervil::load(config(&dir)).unwrap();
    assert_eq!(shell("true").result().unwrap(), 0);
    assert!(matches!(shell("exit 3").result(), Err(Error::BashExitFailure { code: 3, .. })));
    let out = dir.path().join("out/hello.txt");
    let f = shell::with(Opts::new().stdout(out.to_string_lossy()), "echo hello; echo there".to_string());
    assert_eq!(f.result().unwrap(), 0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\nthere\n");
    let t0 = std::time::Instant::now();
    let slow = shell::with(Opts::new().walltime(0.3), "sleep 30".to_string());
    assert!(matches!(slow.result(), Err(Error::AppTimeout { .. })), "{:?}", slow.result());
    assert!(t0.elapsed() < Duration::from_secs(10));
    dfk.cleanup();
}

static CALLS: AtomicU32 = AtomicU32::new(0);

#[chervil::app(cache)]
fn costly(x: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    x * x
}

static REFUSALS: AtomicU32 = AtomicU32::new(0);

#[chervil::app(cache)]
fn refuses(x: u64) -> Result<u64, String> {
    REFUSALS.fetch_add(1, Ordering::SeqCst);
    Err(format!("{x} refused"))
}

#[test]
fn cached_apps_run_once_per_arguments_and_checkpoints_carry_over_runs() {
    let _t = turn();
    let dir = tempdir::Dir::new("memo");
    CALLS.store(0, Ordering::SeqCst);
    let dfk = chervil::load(config(&dir).checkpoint_mode(CheckpointMode::TaskExit)).unwrap();
    assert_eq!(costly(3).result().unwrap(), 9);
    assert_eq!(costly(3).result().unwrap(), 9);
    assert_eq!(costly(4).result().unwrap(), 16);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(costly::with(Opts::new().cache(false), 3).result().unwrap(), 9);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);
    // As Parsl (the engine's memo table, the Python front's too): a failure is reused
    // within the run, so the same call fails the same way without running.
    REFUSALS.store(0, Ordering::SeqCst);
    let first = refuses(5).result().unwrap_err();
    assert_eq!(refuses(5).result().unwrap_err(), first);
    assert_eq!(REFUSALS.load(Ordering::SeqCst), 1);
    dfk.cleanup();

    let checkpoints = chervil::get_all_checkpoints(dir.path().join("runinfo"));
    assert_eq!(checkpoints.len(), 1);
    let dfk = chervil::load(config(&dir).checkpoint_files(checkpoints)).unwrap();
    assert_eq!(costly(3).result().unwrap(), 9);
    assert_eq!(costly(4).result().unwrap(), 16);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3, "both answered from the first run's checkpoint");
    dfk.cleanup();

    // As in Parsl (and the Python front: one rule, chervil-run's): a run that
    // checkpoints and names no files resumes from every earlier run's checkpoints.
    let dfk = chervil::load(config(&dir).checkpoint_mode(CheckpointMode::TaskExit)).unwrap();
    assert_eq!(costly(4).result().unwrap(), 16);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3, "answered from the earlier runs' checkpoints unasked");
    dfk.cleanup();
    // That answer was carried into this run's checkpoint, so the last checkpoint alone has it.
    let last = chervil::get_last_checkpoint(dir.path().join("runinfo"));
    let dfk = chervil::load(config(&dir).checkpoint_files(last)).unwrap();
    assert_eq!(costly(4).result().unwrap(), 16);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3, "answered from the last checkpoint alone");
    assert!(refuses(5).result().unwrap_err().to_string().contains("refused"));
    assert_eq!(REFUSALS.load(Ordering::SeqCst), 2, "a failure is never checkpointed");
    dfk.cleanup();
    let dfk = chervil::load(config(&dir).checkpoint_mode(CheckpointMode::TaskExit).checkpoint_files(vec![])).unwrap();
    assert_eq!(costly(4).result().unwrap(), 16);
    assert_eq!(CALLS.load(Ordering::SeqCst), 4, "an empty list loads nothing");
    dfk.cleanup();
    assert_eq!(chervil::get_last_checkpoint(dir.path().join("runinfo")).len(), 1);
}

#[chervil::app]
fn write_numbers(n: u32, out: File) -> Result<(), std::io::Error> {
    let text: Vec<String> = (0..n).rev().map(|i| i.to_string()).collect();
    std::fs::write(out.filepath(), text.join("\n"))
}

#[chervil::app]
fn sum_file(input: File) -> Result<u64, std::io::Error> {
    let text = std::fs::read_to_string(input.filepath())?;
    Ok(text.lines().filter_map(|l| l.parse::<u64>().ok()).sum())
}

#[test]
fn output_files_are_data_futures_that_other_apps_wait_for() {
    let _t = turn();
    let dir = tempdir::Dir::new("files");
    let dfk = chervil::load(config(&dir)).unwrap();
    let path = File::new(dir.path().join("numbers.txt").to_string_lossy());
    let w = write_numbers::with(Opts::new().outputs(vec![path.clone()]), 10, path.clone());
    let total = sum_file(&w.outputs()[0]);
    assert_eq!(total.result().unwrap(), 45);
    assert_eq!(w.outputs()[0].result().unwrap(), path);
    dfk.cleanup();
}

#[test]
fn futures_can_be_awaited_on_any_executor() {
    let _t = turn();
    let dir = tempdir::Dir::new("async");
    let dfk = chervil::load(config(&dir)).unwrap();
    let total = block_on(async {
        let a = add(1, 2).await.unwrap();
        let b = add(a, 3).await.unwrap();
        b * 2
    });
    assert_eq!(total, 12);
    dfk.cleanup();
}

/// The smallest executor: poll on this thread, park until woken.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn mistakes_get_errors_that_say_what_to_do() {
    let _t = turn();
    match add(1, 2).result() {
        Err(Error::Executor(m)) => assert!(m.contains("chervil::load"), "{m}"),
        other => panic!("{other:?}"),
    }
    let dir = tempdir::Dir::new("mistakes");
    let dfk = chervil::load(config(&dir)).unwrap();
    assert!(chervil::load(config(&dir)).is_err(), "one config at a time");
    match add::with(Opts::new().executors(&["gpu"]), 1, 2).result() {
        Err(Error::Executor(m)) => assert!(m.contains("\"gpu\"") && m.contains("\"threads\""), "{m}"),
        other => panic!("{other:?}"),
    }
    dfk.cleanup();
    assert!(matches!(add(1, 2).result(), Err(Error::Executor(_))), "nothing is loaded after cleanup");
}

#[chervil::app]
fn total(parts: Vec<i64>) -> i64 {
    parts.iter().sum()
}

#[test]
fn a_list_of_futures_is_a_fan_in_argument() {
    let _t = turn();
    let dir = tempdir::Dir::new("fanin");
    let dfk = chervil::load(config(&dir)).unwrap();
    let parts: Vec<AppFuture<i64>> = (0..100).map(|i| add(i, 0)).collect();
    assert_eq!(total(&parts).result().unwrap(), (0..100).sum::<i64>());
    assert_eq!(total(parts[..10].to_vec()).result().unwrap(), (0..10).sum::<i64>());
    let with_failure = vec![add(1, 1), fails("fan".to_string())];
    match total(with_failure).result() {
        Err(Error::DependencyError { failed, .. }) => assert_eq!(failed.len(), 1),
        other => panic!("{other:?}"),
    }
    dfk.cleanup();
}

#[test]
fn dependants_launched_by_racing_completions_get_every_value() {
    // Dependencies finishing on different threads at once: the one whose completion
    // releases a dependant may be ahead of another still setting its value. Many small
    // fan-ins, joins and failing fan-ins on eight threads make that race common.
    let _t = turn();
    let dir = tempdir::Dir::new("race");
    let dfk = chervil::load(Config::new().run_dir(dir.path().join("runinfo")).executor(ThreadPoolExecutor::new().max_threads(8)))
        .unwrap();
    for round in 0..200i64 {
        let parts: Vec<AppFuture<i64>> = (0..8).map(|i| add(i, round)).collect();
        let sum = total(&parts);
        let joined = fan(6);
        let failing = total(vec![add(1, 1), fails("x"), add(2, 2)]);
        assert_eq!(sum.result().unwrap(), (0..8).sum::<i64>() + 8 * round);
        assert_eq!(joined.result().unwrap(), vec![0, 2, 4, 6, 8, 10]);
        match failing.result() {
            Err(Error::DependencyError { failed, .. }) => assert_eq!(failed.len(), 1, "round {round}"),
            other => panic!("round {round}: {other:?}"),
        }
    }
    dfk.cleanup();
}

#[test]
fn a_provider_that_cannot_start_a_block_fails_the_load_naming_its_tool() {
    // Kubernetes through the engine's scheduler (its manifests and status parsing are
    // tested on recorded output in chervil-providers); here kubectl has no cluster to
    // talk to (or is not installed), and load says so instead of leaving tasks waiting
    // for a pod that will never come.
    let _t = turn();
    let dir = tempdir::Dir::new("k8s");
    let pod = chervil::PodProvider::new(chervil::Kubernetes {
        image: "registry.example/app:1".into(),
        namespace: "default".into(),
        ..Default::default()
    });
    let config = Config::new()
        .run_dir(dir.path().join("runinfo"))
        .executor(chervil::HighThroughputExecutor::new().label("k8s").provider(pod));
    match chervil::load(config) {
        Err(Error::Executor(m)) => assert!(m.contains("kubectl"), "{m}"),
        Ok(d) => {
            d.cleanup();
            panic!("there is no Kubernetes cluster here, yet the load succeeded")
        }
        Err(other) => panic!("{other:?}"),
    }
    assert!(chervil::dfk().is_none(), "a failed load leaves nothing loaded");
}

#[test]
fn run_directories_are_private_and_numbered_as_on_the_python_front() {
    use std::os::unix::fs::PermissionsExt;
    let _t = turn();
    let dir = tempdir::Dir::new("rundir");
    std::fs::create_dir_all(dir.path().join("runinfo").join("041")).unwrap();
    let dfk = chervil::load(config(&dir)).unwrap();
    let run = dfk.run_dir().to_path_buf();
    dfk.cleanup();
    assert!(run.is_absolute() && run.ends_with("042"), "one past the highest: {run:?}");
    let mode = std::fs::metadata(&run).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "private whatever the umask (SECURITY.md)");
}

#[chervil::app(cache)]
fn squared_once(x: u64) -> u64 {
    SQUARED.fetch_add(1, Ordering::SeqCst);
    x * x
}
static SQUARED: AtomicU32 = AtomicU32::new(0);

#[test]
fn dropping_the_run_cleans_it_up_and_writes_its_checkpoint() {
    let _t = turn();
    let dir = tempdir::Dir::new("drop");
    {
        let dfk = chervil::load(config(&dir).checkpoint_mode(CheckpointMode::DfkExit)).unwrap();
        let also = dfk.clone();
        assert_eq!(squared_once(7).result().unwrap(), 49);
        drop(dfk);
        assert!(chervil::dfk().is_some(), "a clone still owns the run");
        let borrowed = chervil::dfk().unwrap();
        drop(borrowed);
        assert!(chervil::dfk().is_some(), "dfk()'s handle does not own the run");
        drop(also);
    }
    assert!(chervil::dfk().is_none(), "the last owner dropped: the run was cleaned up");
    let late = squared_once(8).result().unwrap_err();
    assert!(late.to_string().contains("no DataFlowKernel loaded"), "{late}");
    // cleaned up as cleanup() does: the dfk_exit checkpoint was written
    assert_eq!(chervil::get_all_checkpoints(dir.path().join("runinfo")).len(), 1);
    let dfk = chervil::load(config(&dir).checkpoint_mode(CheckpointMode::DfkExit)).unwrap();
    assert_eq!(squared_once(7).result().unwrap(), 49);
    assert_eq!(SQUARED.load(Ordering::SeqCst), 1, "answered from the dropped run's checkpoint");
    dfk.cleanup();
}

#[chervil::app]
fn describe(name: String, numbers: Vec<u64>, path: std::path::PathBuf) -> String {
    format!("{name}:{}:{}", numbers.iter().sum::<u64>(), path.display())
}

#[test]
fn borrowed_arguments_are_accepted_where_their_owned_form_is() {
    let _t = turn();
    let dir = tempdir::Dir::new("borrowed");
    let dfk = chervil::load(config(&dir)).unwrap();
    let name = String::from("n");
    let numbers = vec![1u64, 2, 3];
    let path = std::path::PathBuf::from("/tmp/x");
    assert_eq!(describe(&name, &numbers, &path).result().unwrap(), "n:6:/tmp/x");
    assert_eq!(describe("n", &numbers[..2], path.as_path()).result().unwrap(), "n:3:/tmp/x");
    // the owned values are still ours after the calls
    assert_eq!((name.len(), numbers.len()), (1, 3));
    dfk.cleanup();
}

#[chervil::bash_app]
fn exit(code: i32) -> String {
    format!("exit {code}")
}

/// An app whose name ends in `_with`: its per-call form is `exit_with::with`, and
/// `exit::with` is still `exit`'s.
#[chervil::app]
fn exit_with(code: i32) -> i32 {
    code
}

#[test]
fn per_call_options_have_a_name_that_cannot_collide() {
    let _t = turn();
    let dir = tempdir::Dir::new("with");
    let dfk = chervil::load(config(&dir)).unwrap();
    let out = dir.path().join("out.txt");
    assert_eq!(exit::with(Opts::new().stdout(out.to_str().unwrap()), 0).result().unwrap(), 0);
    assert!(out.exists());
    assert!(matches!(exit::with(Opts::new(), 3).result(), Err(Error::BashExitFailure { code: 3, .. })));
    assert_eq!(exit_with::with(Opts::new().walltime(5.0), 7).result().unwrap(), 7);
    assert_eq!(exit_with(8).result().unwrap(), 8);
    dfk.cleanup();
}

#[test]
fn htex_in_a_plain_test_fails_at_once_saying_what_to_write() {
    // The block runs this test binary as its pool; libtest cannot call chervil::init()
    // first, so the binary's tests start instead, and the first load() there refuses.
    let _t = turn();
    let dir = tempdir::Dir::new("plain-test-htex");
    let t0 = std::time::Instant::now();
    let config = Config::new().run_dir(dir.path().join("runinfo")).strategy_period(Duration::from_millis(200)).executor(
        chervil::HighThroughputExecutor::new().provider(chervil::LocalProvider::new().init_blocks(1)),
    );
    let dfk = chervil::load(config).unwrap();
    let err = add(1, 2).result().expect_err("no pool can serve it").to_string();
    assert!(err.contains("harness = false") && err.contains("chervil::init()"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
    dfk.cleanup();
}

#[test]
fn a_monitored_run_writes_parsls_rows() {
    let _t = turn();
    let dir = tempdir::Dir::new("monitored");
    let db = dir.path().join("monitoring.db");
    let dfk = chervil::load(config(&dir).monitoring(chervil::MonitoringHub::new().db(db.clone()).workflow_name("rust-threads"))).unwrap();
    let x = add(1, 2);
    assert_eq!(add(&x, 3).result().unwrap(), 6);
    assert!(fails("no".to_string()).result().is_err());
    let dep = add(fails("again".to_string()), 1);
    assert!(matches!(dep.result(), Err(Error::DependencyError { .. })));
    dfk.cleanup();

    let conn = rusqlite::Connection::open(&db).unwrap();
    let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let (name, completed, failed): (String, i64, i64) = conn
        .query_row("SELECT workflow_name, tasks_completed_count, tasks_failed_count FROM workflow", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    // Parsl's counts: done, and failed by themselves (the dep_fail task is neither)
    assert_eq!((name.as_str(), completed, failed), ("rust-threads", 2, 2));
    assert_eq!(one("SELECT count(*) FROM task"), 5);
    let states = |task: i64| -> Vec<String> {
        let mut q = conn.prepare("SELECT task_status_name FROM status WHERE task_id = ?1 ORDER BY timestamp, rowid").unwrap();
        q.query_map([task], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    };
    assert_eq!(states(0), ["pending", "launched", "running", "running_ended", "exec_done"]);
    assert_eq!(states(2), ["pending", "launched", "running", "running_ended", "failed"]);
    assert_eq!(states(4), ["pending", "dep_fail"]);
    let (host, running, history): (Option<String>, Option<String>, String) = conn
        .query_row("SELECT hostname, task_try_time_running, task_fail_history FROM try WHERE task_id = 2", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert!(host.is_some() && running.is_some());
    assert!(history.contains("no"), "{history}");
    let depends: String = conn.query_row("SELECT task_depends FROM task WHERE task_id = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(depends, "0", "Parsl's text form of the dependencies");
}

#[chervil::app]
fn sum_lines(f: File) -> Result<u64, std::io::Error> {
    let text = std::fs::read_to_string(f.filepath())?;
    Ok(text.lines().filter_map(|l| l.trim().parse::<u64>().ok()).sum())
}

#[test]
fn remote_files_are_fetched_first_as_parsls_default_staging_does() {
    let _t = turn();
    let dir = tempdir::Dir::new("staging");
    let port = support::http_server("1\n2\n3\n");
    let work = dir.path().join("fetched");
    let config = Config::new()
        .run_dir(dir.path().join("runinfo"))
        .executor(ThreadPoolExecutor::new().working_dir(work.to_string_lossy()));
    let dfk = chervil::load(config).unwrap();
    let url = format!("http://127.0.0.1:{port}/data/numbers.txt");
    // A fetch task of its own runs first; the app finds the file where filepath() says.
    let sum = sum_lines(File::new(url.clone()));
    assert_eq!(sum.result().unwrap(), 6);
    assert_eq!(std::fs::read_to_string(work.join("numbers.txt")).unwrap(), "1\n2\n3\n");
    assert!(sum.tid() > 0, "the fetch was a task of its own, submitted first");
    assert!(std::fs::read_dir(&work).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains(".part")),
            "no half file is left beside the fetched one");
    // A fetch that fails fails the app with a DependencyError naming the URL and the answer.
    let missing = format!("http://127.0.0.1:{port}/data/missing.txt");
    match sum_lines(File::new(missing.clone())).result() {
        Err(Error::DependencyError { failed, .. }) => {
            let text = failed[0].1.to_string();
            assert!(text.contains(&missing) && text.contains("404"), "{text}");
        }
        other => panic!("expected a DependencyError, got {other:?}"),
    }
    // Local paths are not staged.
    std::fs::write(dir.path().join("local.txt"), "4\n5\n").unwrap();
    assert_eq!(sum_lines(File::new(dir.path().join("local.txt").to_string_lossy())).result().unwrap(), 9);
    dfk.cleanup();
}
