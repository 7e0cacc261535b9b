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
        send_task(&m, id);
    }
    let sent = t0.elapsed();
    m.flush();
    let total = t0.elapsed();
    let s = m.close();
    println!("{n} tasks: sent in {sent:?}, committed in {total:?} ({:.0} tasks/s, {:.2} µs/task); {s:?}",
             n as f64 / total.as_secs_f64(), total.as_secs_f64() * 1e6 / n as f64);
    let _ = std::fs::remove_file(&path);
}

/// One no-op HTEX task's events, as the kernel, the interchange and the pool send them.
fn send_task(m: &Monitor, id: u64) {
    send_submit(m, id);
    send_end(m, id);
}

fn send_submit(m: &Monitor, id: u64) {
    let now = Clock::now_us();
    m.send(Event::TaskSubmitted(TaskRow {
        task_id: id, func_name: "noop".into(), executor: "htex".into(), depends: String::new(), memoize: false,
        inputs: None, outputs: None, stdout: None, stderr: None, invoked_us: now,
    }));
    m.send(Event::TaskState { task_id: id, try_id: 0, state: "pending", at_us: now });
    m.send(Event::TaskState { task_id: id, try_id: 0, state: "launched", at_us: now });
}

/// What an HTEX try adds: where and when it ran, and a resource sample as it ended.
fn send_end(m: &Monitor, id: u64) {
    let now = Clock::now_us();
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

/// Tasks submitted and not yet ended, in the paced test.
const IN_FLIGHT: u64 = 500;

/// The writer's own CPU time (its thread's, from `/proc`) for a steady arrival of tasks,
/// as in a no-op workflow on two workers: the figure that decides what monitoring costs
/// a saturated machine. `CHERVIL_BENCH_RATE` sets tasks a second (default 10,000).
#[test]
#[ignore]
fn writer_cpu_per_task_at_a_steady_rate() {
    let rate: u64 = std::env::var("CHERVIL_BENCH_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(10_000);
    let path = std::env::temp_dir().join(format!("chervil-monitor-rate-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let m = Monitor::start(path.clone(), "rate".into(), Clock::new(0)).unwrap();
    let n = 2 * rate;
    let per_tick = rate / 100;
    let t0 = std::time::Instant::now();
    for tick in 0..200u64 {
        // as on HTEX with prefetching: tasks are submitted while those sent earlier end
        for id in tick * per_tick..(tick + 1) * per_tick {
            send_submit(&m, id);
            if let Some(done) = id.checked_sub(IN_FLIGHT) {
                send_end(&m, done);
            }
        }
        if let Some(rest) = std::time::Duration::from_millis(10 * (tick + 1)).checked_sub(t0.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    for done in n.saturating_sub(IN_FLIGHT)..n {
        send_end(&m, done);
    }
    m.flush();
    let cpu = writer_cpu_s().unwrap_or(f64::NAN);
    let s = m.close();
    println!("{n} tasks at {rate}/s: writer CPU {:.1} µs/task (the final fold of the WAL at close not counted); {s:?}",
             cpu * 1e6 / n as f64);
    let _ = std::fs::remove_file(&path);
}

/// CPU seconds of this process's `chervil-monitor` thread so far.
fn writer_cpu_s() -> Option<f64> {
    let ticks = 100.0; // USER_HZ on Linux
    for t in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = t.ok()?.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim() != "chervil-monitor" {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
        return Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks);
    }
    None
}
