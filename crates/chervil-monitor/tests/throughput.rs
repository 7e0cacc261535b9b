//! How fast the writer turns a task's events into rows (run with --ignored --nocapture).

use chervil_monitor::{Clock, Event, Monitor, ResourceRow, TaskRow};

#[test]
#[ignore]
fn writer_rows_per_second() {
    let path = std::env::temp_dir().join(format!("chervil-monitor-speed-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let m = Monitor::start(path.clone(), "speed".into(), Clock::new(0)).unwrap();
    let n = 100_000u64;
    let t0 = std::time::Instant::now();
    for id in 0..n {
        let now = Clock::now_us();
        m.send(Event::TaskSubmitted(TaskRow {
            task_id: id, func_name: "noop".into(), executor: "htex".into(), depends: String::new(), memoize: false,
            inputs: None, outputs: None, stdout: None, stderr: None, invoked_us: now,
        }));
        m.send(Event::TaskState { task_id: id, try_id: 0, state: "pending", at_us: now });
        m.send(Event::TaskState { task_id: id, try_id: 0, state: "launched", at_us: now });
        // what an HTEX try adds: where and when it ran, and a resource sample as it ended
        m.send(Event::TryRunning { task_id: id, try_id: 0, at_us: now + 1, hostname: Some("node".into()), block_id: Some("0".into()) });
        m.send(Event::TaskState { task_id: id, try_id: 0, state: "running", at_us: now + 1 });
        m.send(Event::TaskState { task_id: id, try_id: 0, state: "running_ended", at_us: now + 4 });
        m.send(Event::Resource(ResourceRow {
            task_id: id, try_id: 0, at_us: now + 4, interval_s: 1.0, pid: 4242, memory_percent: 0.5, children: 0,
            user_s: 1.5, system_s: 0.25, vms_bytes: 1 << 30, rss_bytes: 50 << 20, read_bytes: 0, write_bytes: 4096,
            status: "running".into(), cpu_num: 1, ctx_voluntary: 100, ctx_involuntary: 7,
        }));
        m.send(Event::TaskState { task_id: id, try_id: 0, state: "exec_done", at_us: now + 5 });
    }
    let sent = t0.elapsed();
    m.flush();
    let total = t0.elapsed();
    let s = m.close();
    println!("{n} tasks: sent in {sent:?}, committed in {total:?} ({:.0} tasks/s, {:.2} µs/task); {s:?}",
             n as f64 / total.as_secs_f64(), total.as_secs_f64() * 1e6 / n as f64);
    let _ = std::fs::remove_file(&path);
}
