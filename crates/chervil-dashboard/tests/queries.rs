//! The queries against a database written by the real monitor.

use chervil_dashboard::queries;
use chervil_monitor::{Clock, Event, Monitor, TaskRow};

const T0: i64 = 1_795_638_154_000_000;

fn state(task_id: u64, try_id: u32, state: &'static str, dt: i64) -> Event {
    Event::TaskState { task_id, try_id, state, at_us: T0 + dt }
}

#[test]
fn a_small_run_reads_back() {
    let dir = std::env::temp_dir().join(format!("chervil-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("monitoring.db");
    let m = Monitor::start(path.clone(), "run-1".into(), Clock::new(0)).unwrap();
    m.send(Event::WorkflowStarted {
        name: Some("demo".into()),
        version: None,
        began_us: T0,
        host: "h".into(),
        user: "u".into(),
        rundir: "/r".into(),
    });
    for (id, app, depends) in [(0u64, "a", ""), (1, "a", "0"), (2, "b", "1")] {
        m.send(Event::TaskSubmitted(TaskRow {
            task_id: id,
            func_name: app.into(),
            executor: "htex".into(),
            depends: depends.into(),
            memoize: false,
            inputs: None,
            outputs: None,
            stdout: None,
            stderr: None,
            invoked_us: T0,
        }));
        // the same microsecond, as one kernel call gives: order comes from the rows
        m.send(state(id, 0, "pending", 0));
    }
    m.send(state(0, 0, "launched", 0));
    m.send(state(0, 0, "exec_done", 1_000_000));
    m.send(state(1, 0, "launched", 1_000_000));
    m.send(Event::TryRunning { task_id: 1, try_id: 0, at_us: T0 + 1_100_000, hostname: Some("n1".into()), block_id: Some("0".into()) });
    m.send(Event::TryFailed { task_id: 1, try_id: 0, error: "ValueError('x')".into() });
    m.send(state(1, 0, "failed", 3_100_000));
    m.send(state(2, 0, "dep_fail", 3_100_000));
    m.send(Event::WorkflowEnded { completed_us: T0 + 4_000_000, tasks_completed: 1, tasks_failed: 2 });
    m.close();

    let conn = queries::open(&path).unwrap();
    let runs = queries::workflows(&conn).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].tasks, runs[0].tasks_completed, runs[0].tasks_failed), (3, 1, 2));
    let s = queries::summary(&conn, "run-1").unwrap().unwrap();
    assert_eq!((s.now["exec_done"], s.now["failed"], s.now["dep_fail"], s.now["pending"]), (1, 1, 1, 0));
    let a = s.apps.iter().find(|a| a.name == "a").unwrap();
    assert_eq!((a.tasks, a.done, a.failed), (2, 1, 1));
    // try 0 of task 1 ran from its running time (1.1 s) to its return (3.1 s)
    let durations: Vec<f64> = s.apps.iter().filter_map(|a| a.p95_s).collect();
    assert!(durations.iter().any(|d| (d - 2.0).abs() < 1e-3), "{durations:?}");
    assert_eq!(s.tries.len(), 2);
    assert!(s.tries.iter().any(|t| t.task == 1 && t.failed && t.lane == "n1 · block 0"));
    let last = s.timeline.counts.iter().map(|c| *c.last().unwrap()).sum::<u32>();
    assert_eq!(last, 3, "every task is somewhere at the end");
    assert!(queries::summary(&conn, "nope").unwrap().is_none());

    let g = queries::graph(&conn, "run-1").unwrap();
    assert_eq!(g.edges, vec![(0, 1), (1, 2)]);
    assert_eq!(g.tasks[2].2, "dep_fail");
    let t = queries::task(&conn, "run-1", 1).unwrap().unwrap();
    assert_eq!(t.tries[0].error.as_deref(), Some("ValueError('x')"));
    assert_eq!(t.states.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["pending", "launched", "failed"]);

    // Failures, grouped by error: task 1 failed with its own error; task 2 is a dep_fail
    let groups = queries::failures(&conn, "run-1").unwrap();
    assert_eq!(groups.iter().map(|g| g.count).sum::<usize>(), 2);
    let own = groups.iter().find(|g| g.example == "ValueError('x')").unwrap();
    assert_eq!((own.failed, own.dep_fail, own.tasks.clone()), (1, 0, vec![1]));
    assert_eq!(own.apps, vec![("a".to_string(), 1)]);
    // The task list, filtered
    let all = queries::tasks(&conn, "run-1", &queries::TaskFilter::default()).unwrap();
    assert_eq!((all.matched, all.apps.clone(), all.hosts.clone()), (3, vec!["a".to_string(), "b".into()], vec!["n1".to_string()]));
    let failures = queries::TaskFilter { state: Some("failures".into()), ..Default::default() };
    let listed = queries::tasks(&conn, "run-1", &failures).unwrap();
    assert_eq!(listed.tasks.iter().map(|t| (t.task, t.state.as_str())).collect::<Vec<_>>(), [(1, "failed"), (2, "dep_fail")]);
    let by_text = queries::TaskFilter { q: Some("valueerror".into()), ..Default::default() };
    assert_eq!(queries::tasks(&conn, "run-1", &by_text).unwrap().tasks.iter().map(|t| t.task).collect::<Vec<_>>(), [1]);
    let on_host = queries::TaskFilter { host: Some("n1".into()), app: Some("a".into()), ..Default::default() };
    assert_eq!(queries::tasks(&conn, "run-1", &on_host).unwrap().matched, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
