//! What the pages show, read from a monitoring database (Parsl's tables) in one
//! read-only connection per request. Times go out as Unix seconds of the *stored*
//! wall-clock text (Parsl stores local time without a zone), so charts label them as
//! they were written.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

/// SQL for a stored timestamp as seconds (read as if UTC; the page shows it unshifted).
/// Whole seconds and the fraction are read apart: SQLite's date functions keep
/// milliseconds only, and `julianday` arithmetic loses more (tries of 0.63 ms showed as
/// 1.006 ms), while the text holds microseconds.
const SECS: &str = "(unixepoch(substr({}, 1, 19)) + coalesce(cast(substr({}, 20) AS REAL), 0.0))";

fn secs(column: &str) -> String {
    SECS.replace("{}", column)
}

/// The states a task can be in, in the order the charts stack them.
pub const STATES: [&str; 10] = [
    "pending", "launched", "running", "running_ended", "joining", "fail_retryable", "exec_done", "memo_done",
    "failed", "dep_fail",
];

fn state_index(name: &str) -> Option<usize> {
    STATES.iter().position(|s| *s == name)
}

pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

#[derive(Debug, Serialize)]
pub struct Workflow {
    pub run_id: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub began: Option<f64>,
    pub completed: Option<f64>,
    pub host: String,
    pub user: String,
    pub rundir: String,
    pub tasks: i64,
    pub tasks_completed: i64,
    pub tasks_failed: i64,
}

fn workflow_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Workflow> {
    Ok(Workflow {
        run_id: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        began: r.get(3)?,
        completed: r.get(4)?,
        host: r.get(5)?,
        user: r.get(6)?,
        rundir: r.get(7)?,
        tasks: r.get(8)?,
        tasks_completed: r.get(9)?,
        tasks_failed: r.get(10)?,
    })
}

/// A run's counts are written when it ends; while it goes they come from its status rows
/// (the same states the end counts: exec_done, failed), so a live run does not read 0 / 0.
fn workflow_sql(filter: &str) -> String {
    let live = |state: &str| {
        format!("(SELECT count(*) FROM status s WHERE s.run_id = w.run_id AND s.task_status_name = '{state}')")
    };
    format!(
        "SELECT w.run_id, w.workflow_name, w.workflow_version, {}, {}, w.host, w.user, w.rundir, \
         (SELECT count(*) FROM task t WHERE t.run_id = w.run_id), \
         CASE WHEN w.time_completed IS NULL THEN {} ELSE w.tasks_completed_count END, \
         CASE WHEN w.time_completed IS NULL THEN {} ELSE w.tasks_failed_count END \
         FROM workflow w {filter}",
        secs("w.time_began"),
        secs("w.time_completed"),
        live("exec_done"),
        live("failed")
    )
}

/// Every run in the database, newest first.
pub fn workflows(conn: &Connection) -> rusqlite::Result<Vec<Workflow>> {
    let mut stmt = conn.prepare(&workflow_sql("ORDER BY w.time_began DESC"))?;
    let rows = stmt.query_map([], workflow_row)?;
    rows.collect()
}

#[derive(Debug, Serialize, Default)]
pub struct Timeline {
    /// Sample times, seconds.
    pub t: Vec<f64>,
    /// For each of [`STATES`], how many tasks were in it at each sample time.
    pub counts: Vec<Vec<u32>>,
}

#[derive(Debug, Serialize)]
pub struct App {
    pub name: String,
    pub tasks: u32,
    pub done: u32,
    pub failed: u32,
    pub retries: u32,
    pub median_s: Option<f64>,
    pub p95_s: Option<f64>,
    /// Median time a try waited between being handed to an executor and starting to run
    /// (queued there, or in a pool's pipe).
    pub median_wait_s: Option<f64>,
    /// Time its tries ran, summed, and that as a share of every app's.
    pub busy_s: f64,
    pub share: f64,
}

#[derive(Debug, Serialize)]
pub struct TryBar {
    pub task: i64,
    pub try_id: i64,
    pub app: String,
    pub lane: String,
    pub launched: Option<f64>,
    pub running: Option<f64>,
    pub returned: Option<f64>,
    pub failed: bool,
    /// The worker process it ran in (from its resource samples), when sampled.
    pub worker: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct BlockEvent {
    pub executor: String,
    pub block: String,
    pub job: Option<String>,
    pub status: String,
    pub t: f64,
}

#[derive(Debug, Serialize)]
pub struct NodeEvent {
    pub hostname: String,
    pub block: String,
    pub uid: String,
    pub workers: i64,
    pub active: bool,
    pub t: f64,
}

/// One pool (a `node` uid) over the run: Parsl writes a `node` row per heartbeat, so a
/// long run has thousands of rows for a handful of pools.
#[derive(Debug, Serialize, Clone)]
pub struct Pool {
    pub hostname: String,
    pub block: String,
    pub uid: String,
    pub workers: i64,
    /// Connected at its last row.
    pub active: bool,
    pub first: f64,
    pub last: f64,
}

/// A run's `node` rows as pools, and as the changes only (joined, left) for the chart.
fn pools_of(rows: Vec<NodeEvent>) -> (Vec<Pool>, Vec<NodeEvent>) {
    let mut pools: Vec<Pool> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut changes = Vec::new();
    for row in rows {
        match index.get(&row.uid) {
            Some(&i) => {
                let p = &mut pools[i];
                let changed = p.active != row.active;
                p.active = row.active;
                p.last = row.t;
                p.workers = row.workers;
                if changed {
                    changes.push(row);
                }
            }
            None => {
                index.insert(row.uid.clone(), pools.len());
                pools.push(Pool {
                    hostname: row.hostname.clone(),
                    block: row.block.clone(),
                    uid: row.uid.clone(),
                    workers: row.workers,
                    active: row.active,
                    first: row.t,
                    last: row.t,
                });
                changes.push(row);
            }
        }
    }
    (pools, changes)
}

#[derive(Debug, Serialize, Default)]
pub struct Usage {
    pub t: Vec<f64>,
    /// CPU use of the sampled worker processes, in percent of one core (summed).
    pub cpu_percent: Vec<f64>,
    /// Their resident memory, MiB (summed).
    pub rss_mib: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub workflow: Workflow,
    pub states: Vec<&'static str>,
    pub now: HashMap<&'static str, u32>,
    pub timeline: Timeline,
    pub apps: Vec<App>,
    pub tries: Vec<TryBar>,
    pub tries_total: i64,
    pub blocks: Vec<BlockEvent>,
    /// Pools joining and leaving (heartbeat rows left out).
    pub nodes: Vec<NodeEvent>,
    /// Each pool once.
    pub pools: Vec<Pool>,
    pub usage: Usage,
    /// The same, per host the samples came from (at most [`MAX_HOSTS`]).
    pub usage_by_host: Vec<(String, Usage)>,
}

/// Per-host resource charts are drawn for at most this many hosts.
pub const MAX_HOSTS: usize = 8;

/// At most this many tries go into the Gantt chart (the most recent ones).
const MAX_BARS: i64 = 3_000;
/// Points on the state timeline.
const POINTS: usize = 240;

/// One workflow's page: counts by state over time, the per-app table, the tries for
/// the Gantt chart, blocks, nodes and resource use. `None` for an unknown run.
pub fn summary(conn: &Connection, run: &str) -> rusqlite::Result<Option<Summary>> {
    let Some(workflow) = conn.query_row(&workflow_sql("WHERE w.run_id = ?1"), [run], workflow_row).optional()? else {
        return Ok(None);
    };

    // Apps by task, to attribute states.
    let mut app_of: HashMap<i64, usize> = HashMap::new();
    let mut app_names: Vec<String> = Vec::new();
    {
        let mut stmt = conn.prepare("SELECT task_id, task_func_name FROM task WHERE run_id = ?1")?;
        let mut rows = stmt.query([run])?;
        let mut index: HashMap<String, usize> = HashMap::new();
        while let Some(r) = rows.next()? {
            let name: String = r.get(1)?;
            let next = index.len();
            let i = *index.entry(name.clone()).or_insert_with(|| {
                app_names.push(name);
                next
            });
            app_of.insert(r.get(0)?, i);
        }
    }

    // One sweep over every state change: where each task is, sampled over time.
    let mut events: Vec<(f64, i64, usize)> = Vec::new();
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT {}, task_id, task_status_name FROM status WHERE run_id = ?1 ORDER BY timestamp, rowid",
            secs("timestamp")
        ))?;
        let mut rows = stmt.query([run])?;
        while let Some(r) = rows.next()? {
            let name: String = r.get(2)?;
            if let Some(s) = state_index(&name) {
                events.push((r.get(0)?, r.get(1)?, s));
            }
        }
    }
    let mut timeline = Timeline { t: Vec::new(), counts: vec![Vec::new(); STATES.len()] };
    let mut current: HashMap<i64, usize> = HashMap::new();
    let mut counts = vec![0u32; STATES.len()];
    let mut retries = vec![0u32; app_names.len()];
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        let (start, end) = (first.0, last.0.max(first.0 + 1e-3));
        let step = (end - start) / (POINTS - 1) as f64;
        let mut next_sample = start;
        let sample = |t: f64, counts: &[u32], timeline: &mut Timeline| {
            timeline.t.push(t);
            for (series, n) in timeline.counts.iter_mut().zip(counts) {
                series.push(*n);
            }
        };
        for &(t, task, state) in &events {
            while t > next_sample {
                sample(next_sample, &counts, &mut timeline);
                next_sample += step;
            }
            if let Some(before) = current.insert(task, state) {
                counts[before] -= 1;
            }
            counts[state] += 1;
            if STATES[state] == "fail_retryable" {
                if let Some(&a) = app_of.get(&task) {
                    retries[a] += 1;
                }
            }
        }
        sample(end, &counts, &mut timeline);
    }
    let now: HashMap<&'static str, u32> = STATES.iter().copied().zip(counts.iter().copied()).collect();

    // Per app: tasks, how they ended, and how long their tries ran.
    let mut tasks = vec![0u32; app_names.len()];
    let mut done = vec![0u32; app_names.len()];
    let mut failed = vec![0u32; app_names.len()];
    for (task, &a) in &app_of {
        tasks[a] += 1;
        match current.get(task).map(|s| STATES[*s]) {
            Some("exec_done" | "memo_done") => done[a] += 1,
            Some("failed" | "dep_fail") => failed[a] += 1,
            _ => {}
        }
    }
    let mut durations: Vec<Vec<f64>> = vec![Vec::new(); app_names.len()];
    let mut waits: Vec<Vec<f64>> = vec![Vec::new(); app_names.len()];
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT task_id, {} - {}, {} - {} FROM try WHERE run_id = ?1 AND task_try_time_launched IS NOT NULL",
            secs("task_try_time_returned"),
            secs("coalesce(task_try_time_running, task_try_time_launched)"),
            secs("task_try_time_running"),
            secs("task_try_time_launched")
        ))?;
        let mut rows = stmt.query([run])?;
        while let Some(r) = rows.next()? {
            let (task, ran, waited): (i64, Option<f64>, Option<f64>) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let Some(&a) = app_of.get(&task) else { continue };
            if let Some(d) = ran {
                durations[a].push(d.max(0.0));
            }
            if let Some(w) = waited {
                waits[a].push(w.max(0.0));
            }
        }
    }
    let busy: Vec<f64> = durations.iter().map(|d| d.iter().sum()).collect();
    let all_busy: f64 = busy.iter().sum();
    let apps = app_names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let d = &mut durations[i];
            d.sort_by(f64::total_cmp);
            waits[i].sort_by(f64::total_cmp);
            App {
                name,
                tasks: tasks[i],
                done: done[i],
                failed: failed[i],
                retries: retries[i],
                median_s: percentile(d, 0.5),
                p95_s: percentile(d, 0.95),
                median_wait_s: percentile(&waits[i], 0.5),
                busy_s: busy[i],
                share: if all_busy > 0.0 { busy[i] / all_busy } else { 0.0 },
            }
        })
        .collect();

    // Tries that ran (a dependency failure's try, as Parsl writes it, never launched: no bar).
    let tries_total: i64 = conn.query_row(
        "SELECT count(*) FROM try WHERE run_id = ?1 AND task_try_time_launched IS NOT NULL",
        [run],
        |r| r.get(0),
    )?;
    let tries = {
        let mut stmt = conn.prepare(&format!(
            "SELECT y.task_id, y.try_id, coalesce(t.task_func_name, ''), coalesce(y.hostname, y.task_executor) || \
             CASE WHEN y.block_id IS NULL OR y.block_id = '' THEN '' ELSE ' · block ' || y.block_id END, \
             {}, {}, {}, coalesce(y.task_fail_history, '') != '', \
             (SELECT min(r.psutil_process_pid) FROM resource r WHERE r.run_id = y.run_id AND r.task_id = y.task_id \
              AND r.try_id = y.try_id) \
             FROM try y LEFT JOIN task t ON t.task_id = y.task_id AND t.run_id = y.run_id \
             WHERE y.run_id = ?1 AND y.task_try_time_launched IS NOT NULL \
             ORDER BY y.task_try_time_launched DESC LIMIT ?2",
            secs("y.task_try_time_launched"),
            secs("y.task_try_time_running"),
            secs("y.task_try_time_returned")
        ))?;
        let rows = stmt.query_map(params![run, MAX_BARS], |r| {
            Ok(TryBar {
                task: r.get(0)?,
                try_id: r.get(1)?,
                app: r.get(2)?,
                lane: r.get(3)?,
                launched: r.get(4)?,
                running: r.get(5)?,
                returned: r.get(6)?,
                failed: r.get(7)?,
                worker: r.get(8)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let blocks = {
        let mut stmt = conn.prepare(&format!(
            "SELECT executor_label, block_id, job_id, status, {} FROM block WHERE run_id = ?1 ORDER BY timestamp",
            secs("timestamp")
        ))?;
        let rows = stmt.query_map([run], |r| {
            Ok(BlockEvent { executor: r.get(0)?, block: r.get(1)?, job: r.get(2)?, status: r.get(3)?, t: r.get(4)? })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let nodes = {
        let mut stmt = conn.prepare(&format!(
            "SELECT hostname, block_id, uid, worker_count, active, {} FROM node WHERE run_id = ?1 ORDER BY id",
            secs("timestamp")
        ))?;
        let rows = stmt.query_map([run], |r| {
            Ok(NodeEvent {
                hostname: r.get(0)?,
                block: r.get(1)?,
                uid: r.get(2)?,
                workers: r.get(3)?,
                active: r.get(4)?,
                t: r.get(5)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let (pools, nodes) = pools_of(nodes);
    let usage = usage(conn, run, None)?;
    let hosts: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT DISTINCT y.hostname FROM resource r JOIN try y ON y.run_id = r.run_id AND y.task_id = r.task_id \
             AND y.try_id = r.try_id WHERE r.run_id = ?1 AND y.hostname IS NOT NULL ORDER BY y.hostname LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![run, MAX_HOSTS as i64], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let usage_by_host = if hosts.len() > 1 {
        hosts.into_iter().map(|h| usage_on(conn, run, &h).map(|u| (h, u))).collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        hosts.into_iter().map(|h| (h, Usage::default())).collect() // one host: the run's chart is that host's
    };
    Ok(Some(Summary {
        workflow,
        states: STATES.to_vec(),
        now,
        timeline,
        apps,
        tries,
        tries_total,
        blocks,
        nodes,
        pools,
        usage,
        usage_by_host,
    }))
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank).copied()
}

const SAMPLE_COLUMNS: &str = "psutil_process_pid, coalesce(psutil_process_time_user, 0) + \
     coalesce(psutil_process_time_system, 0), coalesce(psutil_process_memory_resident, 0)";

/// Resource use over time, from the `resource` samples: CPU (from each process's
/// growing CPU time) and resident memory, summed over processes, in time buckets.
pub fn usage(conn: &Connection, run: &str, task: Option<i64>) -> rusqlite::Result<Usage> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {}, {SAMPLE_COLUMNS} FROM resource WHERE run_id = ?1 AND (?2 IS NULL OR task_id = ?2) ORDER BY timestamp",
        secs("timestamp")
    ))?;
    let rows = stmt.query_map(params![run, task], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(bucketed(&rows.collect::<rusqlite::Result<Vec<_>>>()?))
}

/// [`usage`] of the processes on one host.
fn usage_on(conn: &Connection, run: &str, host: &str) -> rusqlite::Result<Usage> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {}, {SAMPLE_COLUMNS} FROM resource r JOIN try y ON y.run_id = r.run_id AND y.task_id = r.task_id \
         AND y.try_id = r.try_id WHERE r.run_id = ?1 AND y.hostname = ?2 ORDER BY r.timestamp",
        secs("r.timestamp")
    ))?;
    let rows = stmt.query_map(params![run, host], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(bucketed(&rows.collect::<rusqlite::Result<Vec<_>>>()?))
}

/// The shortest span a process's CPU use is measured over (see [`bucketed`]).
const MIN_CPU_SPAN: f64 = 1.0;

/// Samples `(time, pid, CPU seconds, RSS bytes)`, in time order, into chart buckets.
///
/// CPU: the CPU time each process spent between two of its samples is spread evenly over
/// that interval and added to the buckets it overlaps; a bucket's value is the CPU time
/// spent in it over its width. A process is never counted twice (it used to be, once per
/// sample that fell in a bucket: two single-threaded workers read 357 %), so N
/// single-threaded processes stay within N × 100 %. Memory: each process alive in a
/// bucket (between its first and last sample) counts once, with its last sampled RSS, even
/// when it was not sampled in that bucket (a sum over only the processes sampled there
/// jumped between one worker and two).
fn bucketed(samples: &[(f64, i64, f64, f64)]) -> Usage {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else { return Usage::default() };
    let buckets = 120usize;
    let (start, span) = (first.0, (last.0 - first.0).max(1e-3));
    let width = span / buckets as f64;
    let bucket = |t: f64| (((t - start) / width).max(0.0) as usize).min(buckets);
    let mut cpu_seconds = vec![0.0f64; buckets + 1];
    let mut rss: Vec<HashMap<i64, f64>> = vec![HashMap::new(); buckets + 1];
    let mut covered = vec![false; buckets + 1];
    // Per process: its last sample's time and memory, and every `(t, CPU s)` it gave.
    let mut previous: HashMap<i64, (f64, f64)> = HashMap::new();
    let mut cpu: HashMap<i64, Vec<(f64, f64)>> = HashMap::new();
    for &(t, pid, cpu_s, rss_b) in samples {
        let mib = rss_b / (1024.0 * 1024.0);
        let b = bucket(t);
        covered[b] = true;
        rss[b].insert(pid, mib);
        cpu.entry(pid).or_default().push((t, cpu_s));
        let Some((t_last, mib0)) = previous.insert(pid, (t, mib)) else { continue };
        for (k, held) in rss.iter_mut().enumerate().take(b).skip(bucket(t_last) + 1) {
            // alive, not sampled here: its last sampled memory
            held.entry(pid).or_insert(mib0);
            covered[k] = true;
        }
    }
    // CPU times move in clock ticks (10 ms): over samples a few ms apart (a task's end
    // soon after an interval's look) one tick would read as a burst of several hundred
    // percent. So a process's CPU is counted over spans of at least MIN_CPU_SPAN between
    // its samples (a short last span joins the one before), where a tick is at most 1 %.
    for points in cpu.values() {
        let mut marks = vec![0usize];
        for (i, p) in points.iter().enumerate().skip(1) {
            if p.0 - points[marks[marks.len() - 1]].0 >= MIN_CPU_SPAN {
                marks.push(i);
            }
        }
        let end = points.len() - 1;
        if marks[marks.len() - 1] != end {
            if marks.len() > 1 {
                marks.pop();
            }
            marks.push(end);
        }
        for pair in marks.windows(2) {
            let ((t0, c0), (t, c)) = (points[pair[0]], points[pair[1]]);
            if t <= t0 || c < c0 {
                continue;
            }
            let per_second = (c - c0) / (t - t0);
            for (k, spent) in cpu_seconds.iter_mut().enumerate().take(bucket(t) + 1).skip(bucket(t0)) {
                let (lo, hi) = (start + k as f64 * width, start + (k + 1) as f64 * width);
                let overlap = t.min(hi) - t0.max(lo);
                if overlap > 0.0 {
                    *spent += per_second * overlap;
                }
            }
        }
    }
    let mut out = Usage::default();
    for b in 0..=buckets {
        if covered[b] {
            out.t.push(start + b as f64 * width);
            out.cpu_percent.push(cpu_seconds[b] / width * 100.0);
            out.rss_mib.push(rss[b].values().sum());
        }
    }
    out
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn microseconds_survive() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let at = |text: &str| -> f64 { conn.query_row(&format!("SELECT {}", super::secs("?1")), [text], |r| r.get(0)).unwrap() };
        let (a, b) = (at("2026-11-26 10:00:00.999700"), at("2026-11-26 10:00:01.000330"));
        assert!(((b - a) - 0.000630).abs() < 1e-7, "{}", b - a);
        assert_eq!(at("1970-01-01 00:00:10"), 10.0);
        let null: Option<f64> = conn.query_row(&format!("SELECT {}", super::secs("NULL")), [], |r| r.get(0)).unwrap();
        assert_eq!(null, None);
    }
}

#[cfg(test)]
mod pool_tests {
    use super::{pools_of, NodeEvent};

    #[test]
    fn heartbeat_rows_make_one_pool_and_only_changes_reach_the_chart() {
        let row = |uid: &str, active: bool, t: f64| NodeEvent {
            hostname: "h".into(),
            block: "0".into(),
            uid: uid.into(),
            workers: 2,
            active,
            t,
        };
        let rows = vec![row("a", true, 1.0), row("a", true, 2.0), row("b", true, 2.5), row("a", true, 3.0), row("a", false, 4.0)];
        let (pools, changes) = pools_of(rows);
        assert_eq!(pools.len(), 2);
        assert_eq!((pools[0].first, pools[0].last, pools[0].active), (1.0, 4.0, false));
        assert_eq!(changes.iter().map(|c| (c.uid.as_str(), c.t)).collect::<Vec<_>>(), [("a", 1.0), ("b", 2.5), ("a", 4.0)]);
    }
}

#[cfg(test)]
mod usage_tests {
    use super::bucketed;

    /// Two single-threaded processes, each busy all the time, sampled ten times a second
    /// at different phases, each holding 30 MiB.
    fn two_busy_workers(seconds: f64) -> Vec<(f64, i64, f64, f64)> {
        let mut samples = Vec::new();
        for i in 0..(seconds * 10.0) as usize {
            for (pid, phase) in [(1, 0.0), (2, 0.05)] {
                let t = i as f64 / 10.0 + phase;
                samples.push((t, pid, t, 30.0 * 1024.0 * 1024.0));
            }
        }
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        samples
    }

    #[test]
    fn n_single_threaded_workers_stay_within_n_hundred_percent() {
        let usage = bucketed(&two_busy_workers(60.0));
        let peak = usage.cpu_percent.iter().cloned().fold(0.0, f64::max);
        assert!(peak <= 200.0 + 1e-6, "peak {peak} %");
        // and it reads what it is: both busy, in the buckets after the first sample of each
        let inner = &usage.cpu_percent[2..usage.cpu_percent.len() - 2];
        assert!(inner.iter().all(|c| (c - 200.0).abs() < 1.0), "{inner:?}");
    }

    #[test]
    fn a_clock_tick_between_close_samples_is_no_burst() {
        // Busy all the time, sampled each second by the interval, and again 5 ms after
        // each look as a task ends: the CPU time read then is one tick (10 ms) further on.
        let mut samples = Vec::new();
        for i in 0..30 {
            let t = i as f64;
            samples.push((t, 1, t, 1e6));
            samples.push((t + 0.005, 1, t + 0.010, 1e6));
        }
        let usage = bucketed(&samples);
        let peak = usage.cpu_percent.iter().cloned().fold(0.0, f64::max);
        assert!(peak <= 101.0, "peak {peak} %");
    }

    #[test]
    fn memory_counts_each_live_process_once_in_every_bucket() {
        // Sampled once every 5 s over 60 s, at different phases: most buckets hold no
        // sample of either, many a sample of one only.
        let mib = 30.0 * 1024.0 * 1024.0;
        let mut samples: Vec<_> =
            (0..=12).flat_map(|i| [(i as f64 * 5.0, 1, i as f64, mib), (i as f64 * 5.0 + 2.5, 2, i as f64, mib)]).collect();
        // both live from the first sample to the last
        samples.pop();
        samples.push((60.0, 2, 12.0, mib));
        samples.insert(0, (0.0, 2, 0.0, mib));
        let usage = bucketed(&samples);
        let inner = &usage.rss_mib[1..usage.rss_mib.len() - 1];
        assert!(inner.iter().all(|m| (m - 60.0).abs() < 1e-6), "{inner:?}");
    }
}

#[derive(Debug, Serialize)]
pub struct TaskDetail {
    pub task_id: i64,
    pub app: String,
    pub depends: String,
    pub memoize: String,
    pub hashsum: Option<String>,
    pub inputs: Option<String>,
    pub outputs: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub invoked: Option<f64>,
    pub returned: Option<f64>,
    pub fail_count: i64,
    pub fail_cost: f64,
    pub tries: Vec<TryDetail>,
    pub states: Vec<(String, i64, f64)>,
    pub usage: Usage,
}

#[derive(Debug, Serialize)]
pub struct TryDetail {
    pub try_id: i64,
    pub executor: String,
    pub hostname: Option<String>,
    pub block: Option<String>,
    pub launched: Option<f64>,
    pub running: Option<f64>,
    pub returned: Option<f64>,
    pub error: Option<String>,
}

/// One task: its row, its tries, every state it went through, its resource use.
pub fn task(conn: &Connection, run: &str, task_id: i64) -> rusqlite::Result<Option<TaskDetail>> {
    let found = conn
        .query_row(
            &format!(
                "SELECT task_func_name, coalesce(task_depends, ''), task_memoize, task_hashsum, task_inputs, \
                 task_outputs, task_stdout, task_stderr, {}, {}, task_fail_count, task_fail_cost \
                 FROM task WHERE run_id = ?1 AND task_id = ?2",
                secs("task_time_invoked"),
                secs("task_time_returned")
            ),
            params![run, task_id],
            |r| {
                Ok(TaskDetail {
                    task_id,
                    app: r.get(0)?,
                    depends: r.get(1)?,
                    memoize: r.get(2)?,
                    hashsum: r.get(3)?,
                    inputs: r.get(4)?,
                    outputs: r.get(5)?,
                    stdout: r.get(6)?,
                    stderr: r.get(7)?,
                    invoked: r.get(8)?,
                    returned: r.get(9)?,
                    fail_count: r.get(10)?,
                    fail_cost: r.get(11)?,
                    tries: Vec::new(),
                    states: Vec::new(),
                    usage: Usage::default(),
                })
            },
        )
        .optional()?;
    let Some(mut detail) = found else { return Ok(None) };
    let mut stmt = conn.prepare(&format!(
        "SELECT try_id, task_executor, hostname, block_id, {}, {}, {}, task_fail_history FROM try \
         WHERE run_id = ?1 AND task_id = ?2 ORDER BY try_id",
        secs("task_try_time_launched"),
        secs("task_try_time_running"),
        secs("task_try_time_returned")
    ))?;
    detail.tries = stmt
        .query_map(params![run, task_id], |r| {
            let error: Option<String> = r.get(7)?;
            Ok(TryDetail {
                try_id: r.get(0)?,
                executor: r.get(1)?,
                hostname: r.get(2)?,
                block: r.get(3)?,
                launched: r.get(4)?,
                running: r.get(5)?,
                returned: r.get(6)?,
                error: error.filter(|e| !e.is_empty()),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = conn.prepare(&format!(
        "SELECT task_status_name, try_id, {} FROM status WHERE run_id = ?1 AND task_id = ?2 ORDER BY timestamp, rowid",
        secs("timestamp")
    ))?;
    detail.states = stmt
        .query_map(params![run, task_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    detail.usage = usage(conn, run, Some(task_id))?;
    Ok(Some(detail))
}

#[derive(Debug, Serialize)]
pub struct Graph {
    /// `(task id, app, final state)` for each task drawn.
    pub tasks: Vec<(i64, String, String)>,
    /// `(from, to)`: `to` depends on `from`.
    pub edges: Vec<(i64, i64)>,
    /// Tasks in the run; only the first [`MAX_GRAPH`] are drawn.
    pub total: i64,
}

/// The task graph is drawn for at most this many tasks.
pub const MAX_GRAPH: i64 = 10_000;

/// Each task's last state (of those with ids below `below`), from its status rows.
fn last_states(conn: &Connection, run: &str, below: i64) -> rusqlite::Result<HashMap<i64, String>> {
    let mut last = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT task_id, task_status_name FROM status WHERE run_id = ?1 AND task_id < ?2 ORDER BY timestamp, rowid",
    )?;
    let mut rows = stmt.query(params![run, below])?;
    while let Some(r) = rows.next()? {
        last.insert(r.get(0)?, r.get(1)?);
    }
    Ok(last)
}

pub fn graph(conn: &Connection, run: &str) -> rusqlite::Result<Graph> {
    let total: i64 = conn.query_row("SELECT count(*) FROM task WHERE run_id = ?1", [run], |r| r.get(0))?;
    let last = last_states(conn, run, MAX_GRAPH)?;
    let mut tasks = Vec::new();
    let mut edges = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT task_id, task_func_name, coalesce(task_depends, '') FROM task WHERE run_id = ?1 AND task_id < ?2 \
         ORDER BY task_id",
    )?;
    let mut rows = stmt.query(params![run, MAX_GRAPH])?;
    while let Some(r) = rows.next()? {
        let (id, app, depends): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        for dep in depends.split(',').filter_map(|d| d.trim().parse::<i64>().ok()) {
            edges.push((dep, id));
        }
        tasks.push((id, app, last.get(&id).cloned().unwrap_or_default()));
    }
    Ok(Graph { tasks, edges, total })
}

/// One task in the task list: where it ended and why.
#[derive(Debug, Serialize, Clone)]
pub struct TaskLine {
    pub task: i64,
    pub app: String,
    /// Its last state (empty before its first).
    pub state: String,
    /// Host of its last try that ran.
    pub host: Option<String>,
    pub invoked: Option<f64>,
    pub returned: Option<f64>,
    pub tries: i64,
    /// The error of its last failed try (`task_fail_history`).
    pub error: Option<String>,
}

/// What the task list is narrowed to; every field optional.
#[derive(Debug, Default, serde::Deserialize)]
pub struct TaskFilter {
    pub app: Option<String>,
    /// A state, or a counter's group of them: `done`, `failures`, `active`, `queued`, `waiting`.
    pub state: Option<String>,
    pub host: Option<String>,
    /// Text looked for in the task id, app and error.
    pub q: Option<String>,
    /// Invoked at or after / before these times (the page's seconds).
    pub after: Option<f64>,
    pub before: Option<f64>,
    pub limit: Option<usize>,
}

/// The task list answers at most this many lines (the count says how many matched).
pub const MAX_TASK_LINES: usize = 1_000;

#[derive(Debug, Serialize)]
pub struct TaskList {
    pub tasks: Vec<TaskLine>,
    pub matched: usize,
    /// The choices the filters offer: apps, states and hosts of this run.
    pub apps: Vec<String>,
    pub states: Vec<String>,
    pub hosts: Vec<String>,
}

/// Every task of a run with its last state, last host and last error.
fn task_lines(conn: &Connection, run: &str) -> rusqlite::Result<Vec<TaskLine>> {
    let mut lines: Vec<TaskLine> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT task_id, task_func_name, {}, {} FROM task WHERE run_id = ?1 ORDER BY task_id",
            secs("task_time_invoked"),
            secs("task_time_returned")
        ))?;
        let mut rows = stmt.query([run])?;
        while let Some(r) = rows.next()? {
            let task: i64 = r.get(0)?;
            index.insert(task, lines.len());
            lines.push(TaskLine {
                task,
                app: r.get(1)?,
                state: String::new(),
                host: None,
                invoked: r.get(2)?,
                returned: r.get(3)?,
                tries: 0,
                error: None,
            });
        }
    }
    let mut last = last_states(conn, run, i64::MAX)?;
    for line in lines.iter_mut() {
        line.state = last.remove(&line.task).unwrap_or_default();
    }
    let mut stmt = conn.prepare(
        "SELECT task_id, hostname, task_fail_history, task_try_time_launched IS NOT NULL FROM try \
         WHERE run_id = ?1 ORDER BY task_id, try_id",
    )?;
    let mut rows = stmt.query([run])?;
    while let Some(r) = rows.next()? {
        let Some(&i) = index.get(&r.get::<_, i64>(0)?) else { continue };
        let line = &mut lines[i];
        let (host, error, launched): (Option<String>, Option<String>, bool) = (r.get(1)?, r.get(2)?, r.get(3)?);
        if launched {
            line.tries += 1;
        }
        if host.is_some() {
            line.host = host;
        }
        if let Some(e) = error.filter(|e| !e.is_empty()) {
            line.error = Some(e);
        }
    }
    Ok(lines)
}

fn matches(line: &TaskLine, f: &TaskFilter) -> bool {
    let state_ok = match f.state.as_deref() {
        None | Some("") => true,
        // the page's counters, each a group of states
        Some("done") => matches!(line.state.as_str(), "exec_done" | "memo_done"),
        Some("failures") => matches!(line.state.as_str(), "failed" | "dep_fail"),
        Some("active") => matches!(line.state.as_str(), "running" | "running_ended" | "joining"),
        Some("queued") => line.state == "launched",
        Some("waiting") => matches!(line.state.as_str(), "pending" | "fail_retryable"),
        Some(s) => line.state == s,
    };
    let text_ok = match f.q.as_deref().map(str::trim) {
        None | Some("") => true,
        Some(q) => {
            let q = q.to_lowercase();
            line.task.to_string() == q
                || line.app.to_lowercase().contains(&q)
                || line.error.as_deref().is_some_and(|e| e.to_lowercase().contains(&q))
        }
    };
    state_ok
        && text_ok
        && f.app.as_deref().is_none_or(|a| a.is_empty() || line.app == a)
        && f.host.as_deref().is_none_or(|h| h.is_empty() || line.host.as_deref() == Some(h))
        && f.after.is_none_or(|t| line.invoked.is_some_and(|i| i >= t))
        && f.before.is_none_or(|t| line.invoked.is_some_and(|i| i < t))
}

/// The run's tasks that pass `filter` (the first [`MAX_TASK_LINES`], by task id), and
/// what the filters can choose from.
pub fn tasks(conn: &Connection, run: &str, filter: &TaskFilter) -> rusqlite::Result<TaskList> {
    let lines = task_lines(conn, run)?;
    let distinct = |get: &dyn Fn(&TaskLine) -> Option<String>| -> Vec<String> {
        let mut v: Vec<String> = lines.iter().filter_map(get).collect();
        v.sort();
        v.dedup();
        v
    };
    let apps = distinct(&|l| Some(l.app.clone()));
    let states = distinct(&|l| Some(l.state.clone()).filter(|s| !s.is_empty()));
    let hosts = distinct(&|l| l.host.clone());
    let limit = filter.limit.unwrap_or(MAX_TASK_LINES).min(MAX_TASK_LINES);
    let mut matched = 0;
    let mut tasks = Vec::new();
    for line in lines.into_iter().filter(|l| matches(l, filter)) {
        matched += 1;
        if tasks.len() < limit {
            tasks.push(line);
        }
    }
    Ok(TaskList { tasks, matched, apps, states, hosts })
}

/// Failed tasks that failed the same way.
#[derive(Debug, Serialize)]
pub struct FailureGroup {
    /// The error with its numbers as `N` (so `bad 17` and `bad 18` fall together).
    pub key: String,
    /// One of the errors, as written.
    pub example: String,
    pub count: usize,
    /// `failed` and `dep_fail` counts.
    pub failed: usize,
    pub dep_fail: usize,
    /// `(app, tasks)`, most first.
    pub apps: Vec<(String, usize)>,
    /// The first task ids (at most [`GROUP_TASKS`]).
    pub tasks: Vec<i64>,
}

/// Task ids listed per failure group.
pub const GROUP_TASKS: usize = 50;

/// An error's text with every run of digits as `N`, cut to its first line.
pub fn error_key(error: &str) -> String {
    let first = error.lines().next().unwrap_or("").trim();
    let mut key = String::with_capacity(first.len());
    let mut in_digits = false;
    for ch in first.chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                key.push('N');
            }
            in_digits = true;
        } else {
            in_digits = false;
            key.push(ch);
        }
    }
    key
}

/// The run's failed and dep_fail tasks, grouped by error, largest group first.
pub fn failures(conn: &Connection, run: &str) -> rusqlite::Result<Vec<FailureGroup>> {
    let mut groups: Vec<FailureGroup> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut apps: Vec<HashMap<String, usize>> = Vec::new();
    for line in task_lines(conn, run)? {
        if !matches!(line.state.as_str(), "failed" | "dep_fail") {
            continue;
        }
        let example = line.error.clone().unwrap_or_else(|| "(no error recorded)".into());
        let key = error_key(&example);
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push(FailureGroup { key, example, count: 0, failed: 0, dep_fail: 0, apps: Vec::new(), tasks: Vec::new() });
            apps.push(HashMap::new());
            groups.len() - 1
        });
        let g = &mut groups[i];
        g.count += 1;
        if line.state == "failed" {
            g.failed += 1;
        } else {
            g.dep_fail += 1;
        }
        if g.tasks.len() < GROUP_TASKS {
            g.tasks.push(line.task);
        }
        *apps[i].entry(line.app).or_default() += 1;
    }
    for (g, a) in groups.iter_mut().zip(apps) {
        g.apps = a.into_iter().collect();
        g.apps.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    Ok(groups)
}

#[cfg(test)]
mod failure_tests {
    #[test]
    fn numbers_do_not_split_a_group() {
        assert_eq!(super::error_key("ValueError('bad 17 of 200')"), "ValueError('bad N of N')");
        assert_eq!(super::error_key("ValueError('bad 18 of 200')\nmore"), "ValueError('bad N of N')");
        assert_eq!(super::error_key(""), "");
    }
}
