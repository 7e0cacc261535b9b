//! What a run records, turned into monitoring events in one place for both fronts: the
//! kernel's state changes ([`observe`]), where and when a try ran, and the resource
//! samples an HTEX pool sends ([`Recorder`], fed the interchange's events). The fronts
//! add only what they alone know (a task's arguments as text, a memo hash).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chervil_core::{Kernel, TaskState, Transition};
use chervil_htex::{ClientEvent, PoolSeen};
use chervil_monitor::{Clock, Event, Monitor, ResourceRow};
use chervil_proto::ResourceSample;

/// Sends `before` and then the kernel's state changes since the last call to
/// `monitor`. Call it with the kernel locked, after each kernel event, so events from
/// different threads stay in kernel order.
pub fn observe(monitor: &Monitor, kernel: &mut Kernel, before: Option<Event>) {
    let now = Clock::now_us();
    let changes = kernel.drain_transitions();
    // One call's changes happen at once; a microsecond apart each, they keep their
    // order for readers that sort by time alone (Parsl's visualizer does).
    let events = changes.into_iter().enumerate().flat_map(|(i, t)| state_events(t, now + i as i64));
    monitor.send_all(before.into_iter().chain(events));
}

/// A state change as rows: its `status` row, and the task's failure count when it
/// has failed at all (Parsl's `task_fail_count`, `task_fail_cost`).
fn state_events(t: Transition, at_us: i64) -> impl Iterator<Item = Event> {
    let failures = (t.fail_count > 0 && (t.state.is_final() || t.state == TaskState::FailRetryable))
        .then_some(Event::TaskFailures { task_id: t.task, fail_count: t.fail_count, fail_cost: t.fail_cost });
    std::iter::once(Event::TaskState { task_id: t.task, try_id: t.try_id, state: t.state.name(), at_us }).chain(failures)
}

/// Closes the run's workflow row with Parsl's counts — tasks that ran to a result, and
/// tasks that failed themselves (memo hits and dependency failures are not counted;
/// `parsl-visualize` reads these) — after the kernel's last state changes.
pub fn workflow_ended(monitor: &Monitor, kernel: &mut Kernel) {
    observe(monitor, kernel, None);
    monitor.send(Event::WorkflowEnded {
        completed_us: Clock::now_us(),
        tasks_completed: kernel.count(TaskState::ExecDone),
        tasks_failed: kernel.count(TaskState::Failed),
    });
}

/// A try's host and block, and Parsl's `running` and `running_ended` states.
pub fn try_ran_events(
    task_id: u64,
    try_id: u32,
    hostname: String,
    block_id: Option<String>,
    started_us: u64,
    ended_us: u64,
) -> [Event; 3] {
    let (started, ended) = (started_us as i64, ended_us as i64);
    [
        Event::TryRunning { task_id, try_id, at_us: started, hostname: Some(hostname), block_id },
        Event::TaskState { task_id, try_id, state: "running", at_us: started },
        Event::TaskState { task_id, try_id, state: "running_ended", at_us: ended },
    ]
}

/// A sample of the process running try `try_id` of `task_id`, as a `resource` row.
pub fn resource_event(task_id: u64, try_id: u32, interval_s: f64, r: &ResourceSample) -> Event {
    Event::Resource(ResourceRow {
        task_id,
        try_id,
        at_us: r.at_us as i64,
        interval_s,
        pid: r.pid,
        memory_percent: r.memory_percent,
        children: r.children,
        user_s: r.user_s,
        system_s: r.system_s,
        vms_bytes: r.vms_bytes,
        rss_bytes: r.rss_bytes,
        read_bytes: r.read_bytes,
        write_bytes: r.write_bytes,
        status: process_state(r.state).to_string(),
        cpu_num: r.cpu_num,
        ctx_voluntary: r.ctx_voluntary,
        ctx_involuntary: r.ctx_involuntary,
    })
}

/// A pool joined, sent a heartbeat (`active`), or left: a `node` row.
pub fn node_event(p: &PoolSeen, active: bool) -> Event {
    let now = Clock::now_us();
    Event::Node {
        hostname: p.hostname.to_string(),
        uid: format!("pool-{}", p.pool),
        block_id: p.block_id.to_string(),
        cpu_count: p.cores,
        total_memory: p.memory_mb * 1024 * 1024,
        active,
        worker_count: p.workers,
        python_v: p.python_version.to_string(),
        at_us: now,
        last_heartbeat_us: now,
    }
}

/// `/proc`'s state letter in psutil's words, which Parsl's database holds.
pub fn process_state(letter: u8) -> &'static str {
    match letter {
        b'R' => "running",
        b'S' => "sleeping",
        b'D' => "disk-sleep",
        b'Z' => "zombie",
        b'T' => "stopped",
        b't' => "tracing-stop",
        b'X' | b'x' => "dead",
        b'I' => "idle",
        b'W' => "waking",
        b'P' => "parked",
        _ => "unknown",
    }
}

/// Records, from an HTEX interchange's events, where each monitored try ran (its
/// `try` row, `running`, `running_ended`), its workers' resource samples, and the pools
/// as they come, beat and go (`node` rows).
pub struct Recorder {
    monitor: Arc<Monitor>,
    /// The resource samples' `resource_monitoring_interval` column.
    interval_s: f64,
    /// Interchange task id → the kernel's `(task, try)`.
    tries: Mutex<HashMap<u64, (u64, u32)>>,
}

impl Recorder {
    pub fn new(monitor: Arc<Monitor>, interval_s: f64) -> Recorder {
        Recorder { monitor, interval_s, tries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, (u64, u32)>> {
        self.tries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Interchange task `task` is try `key` of the kernel's.
    pub fn remember(&self, task: u64, key: (u64, u32)) {
        self.lock().insert(task, key);
    }

    /// Records what `events` say about remembered tries: samples ahead of results (the
    /// pool sends them so, and a try is forgotten once its result is in).
    pub fn record(&self, events: &[ClientEvent]) {
        let mut rows = Vec::new();
        let mut tries = self.lock();
        for e in events {
            match e {
                ClientEvent::Resources(batch) => {
                    for s in batch {
                        if let Some(&(task, try_id)) = tries.get(&s.task) {
                            rows.push(resource_event(task, try_id, self.interval_s, s));
                        }
                    }
                }
                ClientEvent::Done { task, on, started_us, ended_us, .. } => {
                    if let Some((t, try_id)) = tries.remove(task) {
                        if *started_us != 0 {
                            let block = Some(on.block_id.to_string()).filter(|b| !b.is_empty());
                            rows.extend(try_ran_events(t, try_id, on.hostname.to_string(), block, *started_us, *ended_us));
                        }
                    }
                }
                ClientEvent::PoolLost { task, .. } => {
                    tries.remove(task);
                }
                ClientEvent::PoolJoined(p) | ClientEvent::PoolHeartbeat(p) => rows.push(node_event(p, true)),
                ClientEvent::PoolLeft(p) => rows.push(node_event(p, false)),
            }
        }
        drop(tries);
        if !rows.is_empty() {
            self.monitor.send_all(rows);
        }
    }
}
