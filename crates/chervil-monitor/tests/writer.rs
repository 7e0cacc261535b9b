//! The writer against real SQLite files: a small workflow's rows, appending runs, and a
//! database that cannot be written.
#![allow(clippy::type_complexity)] // rows read back as tuples, one column each

use std::path::{Path, PathBuf};

use chervil_monitor::{Clock, Event, Monitor, TaskRow};
use rusqlite::Connection;

/// A test's own directory under the build's `target/tmp`, emptied when the test starts
/// and left for a look afterwards: runs leave nothing in the system's /tmp.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("monitor-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("monitoring.db")
}

const T0: i64 = 1_795_638_154_000_000; // 2026-11-25 20:22:34 UTC

fn task(id: u64, depends: &str) -> Event {
    Event::TaskSubmitted(TaskRow {
        task_id: id,
        func_name: "inc".into(),
        executor: "htex".into(),
        depends: depends.into(),
        memoize: id == 0,
        inputs: None,
        outputs: None,
        stdout: Some("out.txt".into()),
        stderr: None,
        invoked_us: T0 + id as i64,
    })
}

fn state(task_id: u64, try_id: u32, state: &'static str, dt: i64) -> Event {
    Event::TaskState { task_id, try_id, state, at_us: T0 + dt }
}

fn one_run(path: &Path, run_id: &str) -> chervil_monitor::Summary {
    let m = Monitor::start(path.to_path_buf(), run_id.into(), Clock::new(0)).unwrap();
    m.send(Event::WorkflowStarted {
        name: Some("demo".into()),
        version: None,
        began_us: T0,
        host: "vm".into(),
        user: "root".into(),
        rundir: "/tmp/runinfo/000".into(),
    });
    m.send(task(0, ""));
    m.send(state(0, 0, "pending", 0));
    m.send(task(1, "0"));
    m.send(state(1, 0, "pending", 1));
    m.send(state(0, 0, "launched", 10));
    m.send(Event::TryRunning { task_id: 0, try_id: 0, at_us: T0 + 20, hostname: Some("node1".into()), block_id: Some("0".into()) });
    m.send(state(0, 0, "exec_done", 30));
    m.send(Event::TaskHashsum { task_id: 0, hashsum: "abc".into() });
    m.send(state(1, 0, "launched", 40));
    m.send(Event::TaskInputs { task_id: 1, inputs: "[7]".into() });
    m.send(Event::TryFailed { task_id: 1, try_id: 0, error: "ValueError('boom')".into() });
    m.send(state(1, 0, "fail_retryable", 50));
    m.send(state(1, 1, "pending", 50));
    m.send(state(1, 1, "launched", 50));
    m.send(state(1, 1, "failed", 60));
    m.send(Event::TaskFailures { task_id: 1, fail_count: 2, fail_cost: 2.0 });
    m.send(Event::Block { executor: "htex".into(), block_id: "0".into(), job_id: Some("123".into()), status: "RUNNING".into(), at_us: T0 });
    m.send(Event::WorkflowEnded { completed_us: T0 + 70, tasks_completed: 1, tasks_failed: 1 });
    m.flush();
    let summary = m.close();
    m.send(state(9, 0, "pending", 0)); // after close: ignored, no panic
    summary
}

#[test]
fn a_workflow_becomes_parsls_rows() {
    let path = scratch("rows");
    let summary = one_run(&path, "run-a");
    assert_eq!((summary.recorded, summary.lost, summary.first_error), (19, 0, None));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a new database is the owner's alone");
    }
    let db = Connection::open(&path).unwrap();
    let wf: (String, String, String, Option<String>, i64, i64) = db
        .query_row(
            "SELECT workflow_name, workflow_version, time_began, time_completed, tasks_completed_count, \
             tasks_failed_count FROM workflow WHERE run_id = 'run-a'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!(wf.0, "demo");
    assert_eq!(wf.1, "2026-11-25 20:22:34", "Parsl's default version: the start to the second");
    assert_eq!(wf.2, "2026-11-25 20:22:34.000000");
    assert_eq!(wf.3.as_deref(), Some("2026-11-25 20:22:34.000070"));
    assert_eq!((wf.4, wf.5), (1, 1));
    let tasks: Vec<(i64, String, String, String, String, Option<String>, i64)> = db
        .prepare("SELECT task_id, task_depends, task_memoize, task_inputs, task_stdout, task_hashsum, task_fail_count FROM task ORDER BY task_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tasks[0], (0, "".into(), "1".into(), "None".into(), "out.txt".into(), Some("abc".into()), 0));
    assert_eq!(tasks[1], (1, "0".into(), "0".into(), "[7]".into(), "out.txt".into(), None, 2));
    let statuses: Vec<(i64, i64, String)> = db
        .prepare("SELECT task_id, try_id, task_status_name FROM status ORDER BY task_id, timestamp, rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let names: Vec<String> = statuses.iter().map(|s| format!("{}.{} {}", s.0, s.1, s.2)).collect();
    assert_eq!(
        names,
        ["0.0 pending", "0.0 launched", "0.0 exec_done", "1.0 pending", "1.0 launched", "1.0 fail_retryable",
         "1.1 pending", "1.1 launched", "1.1 failed"]
    );
    let tries: Vec<(i64, i64, Option<String>, Option<String>, String, Option<String>, Option<String>, String)> = db
        .prepare("SELECT task_id, try_id, hostname, block_id, task_executor, task_try_time_running, \
                  task_try_time_returned, task_fail_history FROM try ORDER BY task_id, try_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tries.len(), 3);
    assert_eq!(tries[0].2.as_deref(), Some("node1"));
    assert_eq!(tries[0].3.as_deref(), Some("0"));
    assert_eq!(tries[0].4, "htex");
    assert_eq!(tries[0].5.as_deref(), Some("2026-11-25 20:22:34.000020"));
    assert_eq!(tries[0].6.as_deref(), Some("2026-11-25 20:22:34.000030"));
    assert_eq!(tries[1].7, "ValueError('boom')");
    assert!(tries[2].6.is_some(), "the last try is closed by the final state");
    let block: (String, String) =
        db.query_row("SELECT job_id, status FROM block", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(block, ("123".into(), "RUNNING".into()));
}

#[test]
fn runs_append_to_one_file() {
    let path = scratch("append");
    one_run(&path, "run-1");
    one_run(&path, "run-2");
    let db = Connection::open(&path).unwrap();
    let runs: i64 = db.query_row("SELECT count(*) FROM workflow", [], |r| r.get(0)).unwrap();
    let tasks: i64 = db.query_row("SELECT count(DISTINCT run_id) FROM task", [], |r| r.get(0)).unwrap();
    assert_eq!((runs, tasks), (2, 2));
}

#[test]
fn a_database_that_cannot_be_written_loses_rows_not_the_run() {
    // A directory where the file should be: SQLite cannot open it.
    let path = scratch("unwritable");
    std::fs::create_dir_all(&path).unwrap();
    let summary = one_run(&path, "run-x");
    assert_eq!(summary.recorded, 0);
    assert_eq!(summary.lost, 19);
    let err = summary.first_error.expect("the error is reported");
    assert!(err.contains("monitoring.db"), "{err}");
}

#[test]
fn a_column_learnt_late_reaches_a_row_written_already() {
    let path = scratch("late");
    let m = Monitor::start(path.to_path_buf(), "run-late".into(), Clock::new(0)).unwrap();
    m.send(task(0, ""));
    m.send(state(0, 0, "pending", 0));
    m.flush(); // the row is written: what follows updates it
    m.send(Event::TaskHashsum { task_id: 0, hashsum: "abc".into() });
    m.send(Event::TaskInputs { task_id: 0, inputs: "[558609]".into() });
    m.flush();
    m.close();
    let db = Connection::open(&path).unwrap();
    let row: (Option<String>, Option<String>) =
        db.query_row("SELECT task_hashsum, task_inputs FROM task", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(row, (Some("abc".into()), Some("[558609]".into())));
}
