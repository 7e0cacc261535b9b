//! The writer thread: events in over a channel, rows out in batched transactions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Transaction};

use crate::event::{Event, ResourceRow, TaskRow};
use crate::many::Insert;
use crate::schema::TABLES;
use crate::time::{Clock, Formatter};
use crate::MonitorError;

/// At most this many events go into one transaction, so a flood of tasks still
/// commits every few milliseconds and readers (the dashboard) see progress.
const MAX_BATCH: usize = 20_000;
/// How often the writer commits while events keep coming: rows reach the database at
/// most this late (the dashboard reads it every 2 s).
const COMMIT_EVERY: Duration = Duration::from_millis(100);

enum Msg {
    Event(Event),
    /// Answer once everything sent before is committed (tests, the dashboard).
    Flush(SyncSender<()>),
}

/// What the writer did, reported at the end of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events turned into rows and committed.
    pub recorded: u64,
    /// Events that could not be recorded (the database failed).
    pub lost: u64,
    /// The first error, when there was one.
    pub first_error: Option<String>,
}

/// A run's monitoring: cheap to send to from any thread; the database work happens on
/// the writer thread.
pub struct Monitor {
    tx: Mutex<Option<Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<Summary>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Monitor {
    /// Starts recording run `run_id` into the SQLite file `path` (made, with its folder,
    /// when missing; tables added when missing). Opening happens on the writer thread: a
    /// file that cannot be opened is reported by [`Monitor::close`] and the log, and the
    /// run goes on.
    pub fn start(path: PathBuf, run_id: String, clock: Clock) -> Result<Monitor, MonitorError> {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("chervil-monitor".into())
            .spawn(move || Writer::run(path, run_id, clock, rx))
            .map_err(MonitorError::Thread)?;
        Ok(Monitor { tx: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)) })
    }

    /// Never blocks, never fails: after [`Monitor::close`] events are ignored.
    pub fn send(&self, event: Event) {
        if let Some(tx) = lock(&self.tx).as_ref() {
            let _ = tx.send(Msg::Event(event));
        }
    }

    /// Sends several events at once, in order.
    pub fn send_all(&self, events: impl IntoIterator<Item = Event>) {
        if let Some(tx) = lock(&self.tx).as_ref() {
            for event in events {
                let _ = tx.send(Msg::Event(event));
            }
        }
    }

    /// Waits until everything sent so far is committed (or could not be).
    pub fn flush(&self) {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let sent = match lock(&self.tx).as_ref() {
            Some(tx) => tx.send(Msg::Flush(done_tx)).is_ok(),
            None => false,
        };
        if sent {
            let _ = done_rx.recv();
        }
    }

    /// Commits what is left and stops the writer. Idempotent: later calls return an
    /// empty summary.
    pub fn close(&self) -> Summary {
        lock(&self.tx).take();
        let thread = lock(&self.thread).take();
        match thread {
            Some(t) => t.join().unwrap_or_else(|_| Summary {
                first_error: Some("the monitoring writer thread panicked".into()),
                ..Summary::default()
            }),
            None => Summary::default(),
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.close();
    }
}

/// The inserts run for every task: their rows wait for the end of the batch and go
/// [`many::CHUNK`] to a statement (see [`many`]).
const STATUS: Insert = Insert {
    head: "INSERT OR IGNORE INTO status (task_id, task_status_name, timestamp, run_id, try_id)",
    row: "(?, ?, ?, ?1, ?)",
    tail: "",
};
const TASK: Insert = Insert {
    head: "INSERT OR REPLACE INTO task (task_id, run_id, task_depends, task_func_name, task_memoize, \
           task_hashsum, task_inputs, task_outputs, task_stdin, task_stdout, task_stderr, \
           task_time_invoked, task_time_returned, task_fail_count, task_fail_cost)",
    row: "(?, ?1, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
    tail: "",
};
const TRY: Insert = Insert {
    head: "INSERT OR REPLACE INTO try (try_id, task_id, run_id, block_id, hostname, task_executor, \
           task_try_time_launched, task_try_time_running, task_try_time_returned, \
           task_fail_history, task_joins)",
    row: "(?, ?, ?1, ?, ?, ?, ?, ?, ?, ?, NULL)",
    tail: "",
};
/// The end time of a task whose row an earlier batch wrote.
const RETURNED: Insert = Insert {
    head: "UPDATE task SET task_time_returned = v.column2 FROM (",
    row: "(?, ?)",
    tail: ") AS v WHERE task.task_id = v.column1 AND task.run_id = ?1",
};
const RESOURCE: Insert = Insert {
    head: "INSERT OR IGNORE INTO resource (try_id, task_id, run_id, timestamp, resource_monitoring_interval, \
           psutil_process_pid, psutil_process_memory_percent, psutil_process_children_count, \
           psutil_process_time_user, psutil_process_time_system, psutil_process_memory_virtual, \
           psutil_process_memory_resident, psutil_process_disk_read, psutil_process_disk_write, \
           psutil_process_status, psutil_cpu_num, psutil_process_num_ctx_switches_voluntary, \
           psutil_process_num_ctx_switches_involuntary)",
    row: "(?, ?, ?1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    tail: "",
};

/// A `status` row waiting for the end of its batch.
struct StatusRow {
    task_id: i64,
    state: &'static str,
    at: String,
    try_id: u32,
}

/// A `try` row waiting for the end of its batch (or for an update of tries, which
/// writes the waiting ones first).
struct TryRow {
    task_id: i64,
    executor: Arc<str>,
    open: OpenTry,
    /// None for a try still out when the run ended.
    returned: Option<String>,
}

/// The rows of the batch being applied that go to the database many at a time.
#[derive(Default)]
struct Waiting {
    status: Vec<StatusRow>,
    tries: Vec<TryRow>,
    resources: Vec<(String, ResourceRow)>,
    /// End times of tasks whose row an earlier batch wrote.
    returned: Vec<(i64, String)>,
}

/// A try that has not ended: its `try` row is written once, when it ends (one insert
/// instead of an insert and updates; SQLite's per-row work is most of the writer's cost).
#[derive(Default)]
struct OpenTry {
    try_id: u32,
    launched: Option<String>,
    running: Option<String>,
    hostname: Option<String>,
    block_id: Option<String>,
    fail_history: String,
}

/// The `task` columns an event fills in after the row's first write.
#[derive(Clone, Copy)]
enum LateColumn {
    Hashsum,
    Inputs,
}

/// A task's row not written yet: it is written once, at the end of the batch that
/// submitted it, with whatever of its end that batch also holds (a task submitted and
/// finished within one commit window costs one insert, not an insert and updates).
struct PendingTask {
    depends: String,
    func_name: String,
    memoize: bool,
    inputs: Option<String>,
    outputs: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    invoked: String,
    hashsum: Option<String>,
    returned: Option<String>,
    fail_count: u32,
    fail_cost: f64,
}

/// What the writer remembers of an unfinished task.
struct Live {
    /// Its executor's label, for its tries' rows (Parsl's `task` table has no executor
    /// column); labels are shared, not copied per task.
    executor: Arc<str>,
    open: Option<OpenTry>,
}

struct Writer {
    run_id: String,
    clock: Formatter,
    live: HashMap<u64, Live>,
    pending: HashMap<u64, PendingTask>,
    labels: Vec<Arc<str>>,
    rows: Waiting,
    summary: Summary,
}

impl Writer {
    fn run(path: PathBuf, run_id: String, clock: Clock, rx: Receiver<Msg>) -> Summary {
        lower_priority();
        let mut w = Writer {
            run_id,
            clock: Formatter::new(clock),
            live: HashMap::new(),
            pending: HashMap::new(),
            labels: Vec::new(),
            rows: Waiting::default(),
            summary: Summary::default(),
        };
        let mut conn = match open(&path) {
            Ok(c) => Some(c),
            Err(e) => {
                w.failed(e.to_string());
                None
            }
        };
        let mut batch: Vec<Event> = Vec::new();
        let mut waiting: Vec<SyncSender<()>> = Vec::new();
        let mut last_commit = Instant::now();
        let mut behind = false;
        while let Ok(first) = rx.recv() {
            // A flood of events is committed in a few large transactions, not one per
            // wake-up: after a commit the writer lets events gather for the rest of
            // COMMIT_EVERY (sleeping, so senders wake nobody). Committing whatever had
            // arrived at each wake-up cost a transaction per handful of events and cut
            // no-op throughput by a quarter on two cores. A flush is served at once.
            if matches!(first, Msg::Event(_)) && !behind {
                if let Some(rest) = COMMIT_EVERY.checked_sub(last_commit.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Event(e) => batch.push(e),
                    Msg::Flush(done) => waiting.push(done),
                }
                if batch.len() < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            match conn.as_mut() {
                Some(c) => {
                    if let Err(e) = w.commit(c, &batch) {
                        w.summary.lost += batch.len() as u64;
                        w.failed(format!("cannot write the monitoring database {}: {e}", path.display()));
                    } else {
                        w.summary.recorded += batch.len() as u64;
                    }
                }
                None => w.summary.lost += batch.len() as u64,
            }
            behind = batch.len() >= MAX_BATCH;
            batch.clear();
            last_commit = Instant::now();
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
        w.summary
    }

    fn failed(&mut self, message: String) {
        if self.summary.first_error.is_none() {
            tracing::error!(error = %message, "monitoring stopped recording; the run goes on");
            self.summary.first_error = Some(message);
        }
    }

    fn label(&mut self, executor: &str) -> Arc<str> {
        if let Some(l) = self.labels.iter().find(|l| &***l == executor) {
            return Arc::clone(l);
        }
        let l: Arc<str> = Arc::from(executor);
        self.labels.push(Arc::clone(&l));
        l
    }

    fn commit(&mut self, conn: &mut Connection, batch: &[Event]) -> rusqlite::Result<()> {
        // Rows left by a batch that failed half-way are not written with this one.
        self.rows = Waiting::default();
        let tx = conn.transaction()?;
        for event in batch {
            self.apply(&tx, event)?;
        }
        self.write_waiting(&tx)?;
        tx.commit()
    }

    fn apply(&mut self, tx: &Transaction<'_>, event: &Event) -> rusqlite::Result<()> {
        let run = self.run_id.as_str();
        let t = |us: i64| self.clock.format(us);
        match event {
            Event::WorkflowStarted { name, version, began_us, host, user, rundir } => {
                let began = t(*began_us);
                // Parsl's default version is the start time to the second.
                let version = version.clone().unwrap_or_else(|| began[..19].to_string());
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO workflow (run_id, workflow_name, workflow_version, time_began, \
                     time_completed, host, user, rundir, tasks_failed_count, tasks_completed_count) \
                     VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, 0, 0)",
                )?
                .execute(params![run, name, version, began, host, user, rundir])?;
            }
            Event::WorkflowEnded { completed_us, tasks_completed, tasks_failed } => {
                // Tries still out when the run ends (cleanup does not wait for tasks): their
                // rows, with no return time.
                for (task_id, live) in self.live.iter_mut() {
                    if let Some(open) = live.open.take() {
                        let executor = Arc::clone(&live.executor);
                        self.rows.tries.push(TryRow { task_id: *task_id as i64, executor, open, returned: None });
                    }
                }
                tx.prepare_cached(
                    "UPDATE workflow SET time_completed = ?2, tasks_completed_count = ?3, tasks_failed_count = ?4 \
                     WHERE run_id = ?1",
                )?
                .execute(params![run, t(*completed_us), *tasks_completed as i64, *tasks_failed as i64])?;
            }
            Event::TaskSubmitted(row) => self.task_submitted(row),
            Event::TaskState { task_id, try_id, state, at_us } => {
                let at = t(*at_us);
                match *state {
                    "launched" => {
                        if let Some(live) = self.live.get_mut(task_id) {
                            live.open =
                                Some(OpenTry { try_id: *try_id, launched: Some(at.clone()), ..OpenTry::default() });
                        }
                    }
                    "exec_done" | "failed" | "fail_retryable" | "memo_done" | "dep_fail" => {
                        let final_state = *state != "fail_retryable";
                        let (executor, open) = match self.live.get_mut(task_id) {
                            Some(live) => (Arc::clone(&live.executor), live.open.take()),
                            None => (Arc::from(""), None),
                        };
                        let task = *task_id as i64;
                        match open.filter(|o| o.try_id == *try_id) {
                            Some(open) => {
                                self.rows.tries.push(TryRow { task_id: task, executor, open, returned: Some(at.clone()) })
                            }
                            // Never launched: Parsl still writes the try, returned and nothing
                            // else (its fail history, the DependencyError, follows as TryFailed).
                            None if *state == "dep_fail" => self.rows.tries.push(TryRow {
                                task_id: task,
                                executor,
                                open: OpenTry { try_id: *try_id, ..OpenTry::default() },
                                returned: Some(at.clone()),
                            }),
                            None => {}
                        }
                        if final_state {
                            self.live.remove(task_id);
                            match self.pending.get_mut(task_id) {
                                Some(p) => p.returned = Some(at.clone()),
                                None => self.rows.returned.push((*task_id as i64, at.clone())),
                            }
                        }
                    }
                    _ => {}
                }
                self.rows.status.push(StatusRow { task_id: *task_id as i64, state, at, try_id: *try_id });
            }
            Event::TaskFailures { task_id, fail_count, fail_cost } if self.pending.contains_key(task_id) => {
                if let Some(p) = self.pending.get_mut(task_id) {
                    (p.fail_count, p.fail_cost) = (*fail_count, *fail_cost);
                }
            }
            Event::TaskFailures { task_id, fail_count, fail_cost } => {
                tx.prepare_cached(
                    "UPDATE task SET task_fail_count = ?3, task_fail_cost = ?4 WHERE task_id = ?1 AND run_id = ?2",
                )?
                .execute(params![*task_id as i64, run, fail_count, fail_cost])?;
            }
            Event::TaskHashsum { task_id, hashsum } => self.late_column(tx, *task_id, LateColumn::Hashsum, hashsum)?,
            Event::TaskInputs { task_id, inputs } => self.late_column(tx, *task_id, LateColumn::Inputs, inputs)?,
            Event::TryRunning { task_id, try_id, at_us, hostname, block_id } => {
                let at = t(*at_us);
                match self.live.get_mut(task_id).and_then(|l| l.open.as_mut()).filter(|o| o.try_id == *try_id) {
                    Some(open) => {
                        open.running = Some(at);
                        open.hostname = hostname.clone().or(open.hostname.take());
                        open.block_id = block_id.clone().or(open.block_id.take());
                    }
                    None => {
                        write_tries(tx, run, &mut self.rows.tries)?;
                        tx.prepare_cached(
                            "UPDATE try SET task_try_time_running = ?4, hostname = coalesce(?5, hostname), \
                             block_id = coalesce(?6, block_id) WHERE try_id = ?1 AND task_id = ?2 AND run_id = ?3",
                        )?
                        .execute(params![try_id, *task_id as i64, run, at, hostname, block_id])?;
                    }
                }
            }
            Event::TryFailed { task_id, try_id, error } => {
                match self.live.get_mut(task_id).and_then(|l| l.open.as_mut()).filter(|o| o.try_id == *try_id) {
                    Some(open) => open.fail_history = error.clone(),
                    None => {
                        write_tries(tx, run, &mut self.rows.tries)?;
                        tx.prepare_cached(
                            "UPDATE try SET task_fail_history = ?4 WHERE try_id = ?1 AND task_id = ?2 AND run_id = ?3",
                        )?
                        .execute(params![try_id, *task_id as i64, run, error])?;
                    }
                }
            }
            Event::Resource(r) => {
                let at = t(r.at_us);
                self.rows.resources.push((at, r.clone()));
            }
            Event::Block { executor, block_id, job_id, status, at_us } => {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO block (run_id, executor_label, block_id, job_id, timestamp, status) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![run, executor, block_id, job_id, t(*at_us), status])?;
            }
            Event::Node {
                hostname,
                uid,
                block_id,
                cpu_count,
                total_memory,
                active,
                worker_count,
                python_v,
                at_us,
                last_heartbeat_us,
            } => {
                tx.prepare_cached(
                    "INSERT INTO node (run_id, hostname, uid, block_id, cpu_count, total_memory, active, \
                     worker_count, python_v, timestamp, last_heartbeat) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![
                    run,
                    hostname,
                    uid,
                    block_id,
                    cpu_count,
                    *total_memory as i64,
                    active,
                    worker_count,
                    python_v,
                    t(*at_us),
                    t(*last_heartbeat_us)
                ])?;
            }
        }
        Ok(())
    }

    fn task_submitted(&mut self, row: &TaskRow) {
        let executor = self.label(&row.executor);
        self.live.insert(row.task_id, Live { executor, open: None });
        self.pending.insert(
            row.task_id,
            PendingTask {
                depends: row.depends.clone(),
                func_name: row.func_name.clone(),
                memoize: row.memoize,
                inputs: row.inputs.clone(),
                outputs: row.outputs.clone(),
                stdout: row.stdout.clone(),
                stderr: row.stderr.clone(),
                invoked: self.clock.format(row.invoked_us),
                hashsum: None,
                returned: None,
                fail_count: 0,
                fail_cost: 0.0,
            },
        );
    }

    /// The rows this batch left waiting, many to a statement: the task rows it
    /// submitted (each once, see [`PendingTask`]), end times of earlier ones, tries,
    /// states and samples.
    /// A column of a task's row learnt after its submission: set in the row waiting to
    /// be written, or updated in the one written already.
    fn late_column(&mut self, tx: &Transaction<'_>, task_id: u64, column: LateColumn, value: &str) -> rusqlite::Result<()> {
        if let Some(p) = self.pending.get_mut(&task_id) {
            *match column {
                LateColumn::Hashsum => &mut p.hashsum,
                LateColumn::Inputs => &mut p.inputs,
            } = Some(value.to_string());
            return Ok(());
        }
        let update = match column {
            LateColumn::Hashsum => "UPDATE task SET task_hashsum = ?3 WHERE task_id = ?1 AND run_id = ?2",
            LateColumn::Inputs => "UPDATE task SET task_inputs = ?3 WHERE task_id = ?1 AND run_id = ?2",
        };
        tx.prepare_cached(update)?.execute(params![task_id as i64, self.run_id, value])?;
        Ok(())
    }

    fn write_waiting(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let pending: Vec<(u64, PendingTask)> = self.pending.drain().collect();
        // Parsl's text forms: memoize as '1'/'0', missing inputs/outputs as 'None', no
        // stdout/stderr as ''.
        TASK.run(tx, &self.run_id, &pending, |b, (task_id, p)| {
            b.bind(&(*task_id as i64))?;
            b.bind(&p.depends)?;
            b.bind(&p.func_name)?;
            b.bind(if p.memoize { "1" } else { "0" })?;
            b.bind(&p.hashsum)?;
            b.bind(p.inputs.as_deref().unwrap_or("None"))?;
            b.bind(p.outputs.as_deref().unwrap_or("None"))?;
            b.bind(p.stdout.as_deref().unwrap_or(""))?;
            b.bind(p.stderr.as_deref().unwrap_or(""))?;
            b.bind(&p.invoked)?;
            b.bind(&p.returned)?;
            b.bind(&p.fail_count)?;
            b.bind(&p.fail_cost)
        })?;
        let returned = std::mem::take(&mut self.rows.returned);
        RETURNED.run(tx, &self.run_id, &returned, |b, (task_id, at)| {
            b.bind(task_id)?;
            b.bind(at)
        })?;
        write_tries(tx, &self.run_id, &mut self.rows.tries)?;
        let status = std::mem::take(&mut self.rows.status);
        STATUS.run(tx, &self.run_id, &status, |b, s| {
            b.bind(&s.task_id)?;
            b.bind(s.state)?;
            b.bind(&s.at)?;
            b.bind(&s.try_id)
        })?;
        let resources = std::mem::take(&mut self.rows.resources);
        RESOURCE.run(tx, &self.run_id, &resources, |b, (at, r)| {
            b.bind(&r.try_id)?;
            b.bind(&(r.task_id as i64))?;
            b.bind(at)?;
            b.bind(&r.interval_s)?;
            b.bind(&r.pid)?;
            b.bind(&r.memory_percent)?;
            b.bind(&f64::from(r.children))?;
            b.bind(&r.user_s)?;
            b.bind(&r.system_s)?;
            b.bind(&(r.vms_bytes as f64))?;
            b.bind(&(r.rss_bytes as f64))?;
            b.bind(&(r.read_bytes as f64))?;
            b.bind(&(r.write_bytes as f64))?;
            b.bind(&r.status)?;
            b.bind(&r.cpu_num.to_string())?;
            b.bind(&(r.ctx_voluntary as f64))?;
            b.bind(&(r.ctx_involuntary as f64))
        })
    }
}

/// The waiting `try` rows: at the end of a batch, and before an update of tries
/// (which may be for one of them).
fn write_tries(tx: &Transaction<'_>, run_id: &str, waiting: &mut Vec<TryRow>) -> rusqlite::Result<()> {
    let tries = std::mem::take(waiting);
    TRY.run(tx, run_id, &tries, |b, t| {
        b.bind(&t.open.try_id)?;
        b.bind(&t.task_id)?;
        b.bind(&t.open.block_id)?;
        b.bind(&t.open.hostname)?;
        b.bind(&*t.executor)?;
        b.bind(&t.open.launched)?;
        b.bind(&t.open.running)?;
        b.bind(&t.returned)?;
        b.bind(&t.open.fail_history)
    })
}

fn open(path: &Path) -> Result<Connection, MonitorError> {
    let err = |error| MonitorError::Open { path: path.to_path_buf(), error };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    // A new database is yours alone (0600; SQLite gives its -wal and -shm files the same
    // mode): it names your apps, files, hosts and errors. An existing one keeps its mode.
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    }
    let conn = Connection::open(path).map_err(err)?;
    // Several runs (and a dashboard reading) may share the file: wait for a lock
    // rather than fail at once; WAL lets readers in while we write.
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
    // 64 KiB pages (a new file only; an existing one keeps its own): a run's rows are
    // appended, and the writer's cost was dominated by writing 4 KiB pages to the WAL,
    // two system calls each. A steady 10,000 tasks/s costs the writer ~10 % less CPU
    // (`--test throughput -- --ignored steady`), a flood ~25 % less.
    conn.pragma_update(None, "page_size", 65_536).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
    // 64 MiB of page cache: the indexes of a large run stay in memory instead of being
    // read back from the file for every insert.
    conn.pragma_update(None, "cache_size", -65_536).map_err(err)?;
    // Fold the WAL into the file every ~80 MiB rather than every 4 MiB: the index pages a
    // run touches over and over are then copied once per fold, not once per few commits.
    conn.pragma_update(None, "wal_autocheckpoint", 20_000).map_err(err)?;
    // As SQLAlchemy leaves it (SQLite's own default): the schema's foreign keys are
    // documentation, not checks, so rows of a run are never refused for their order.
    conn.pragma_update(None, "foreign_keys", "OFF").map_err(err)?;
    conn.execute_batch(TABLES).map_err(err)?;
    Ok(conn)
}

/// The writer yields the CPU to the workflow: when every core is busy with tasks,
/// recording falls behind (events wait in memory) instead of slowing the tasks, and
/// catches up as soon as a core is free. Linux only; elsewhere a no-op.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers; raising this thread's own nice
    // value needs no privilege, and failure leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}
