//! Monitoring as Python sees it: the run's [`Monitor`] handle. State changes do not
//! pass through Python at all: the kernel handle sends them straight to the writer
//! (see `KernelHandle::attach_monitor`); Python adds what only it knows (the workflow,
//! blocks, a task's memo hash).

use std::sync::Arc;

use chervil_monitor::{sqlite_path, Clock, Event, Monitor as Engine};
use chervil_proto::ResourceSample;
use chervil_run::monitoring::{resource_event, try_ran_events};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

#[pyclass(frozen, module = "chervil._core")]
pub struct Monitor {
    pub(crate) inner: Arc<Engine>,
}

#[pymethods]
impl Monitor {
    /// Records run `run_id` into the SQLite database `url` names (`sqlite:///path`);
    /// `utc_offset_s` is the local time zone's offset, for Parsl's local timestamps.
    #[new]
    fn new(url: &str, run_id: String, utc_offset_s: i64) -> PyResult<Self> {
        let path = sqlite_path(url).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let inner = Engine::start(path, run_id, Clock::new(utc_offset_s)).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Monitor { inner: Arc::new(inner) })
    }

    #[pyo3(signature = (name, version, host, user, rundir))]
    fn workflow_started(&self, name: Option<String>, version: Option<String>, host: String, user: String, rundir: String) {
        self.inner.send(Event::WorkflowStarted { name, version, began_us: Clock::now_us(), host, user, rundir });
    }

    /// A try's failure that the kernel did not see as one (a dependency failure): its
    /// `task_fail_history`.
    fn try_failed(&self, task_id: u64, try_id: u32, error: String) {
        self.inner.send(Event::TryFailed { task_id, try_id, error });
    }

    fn task_hashsum(&self, task_id: u64, hashsum: String) {
        self.inner.send(Event::TaskHashsum { task_id, hashsum });
    }

    /// The task's `inputs` with their futures' values, once it has them (Parsl's text).
    fn task_inputs(&self, task_id: u64, inputs: String) {
        self.inner.send(Event::TaskInputs { task_id, inputs });
    }

    #[pyo3(signature = (executor, block_id, job_id, status))]
    fn block(&self, executor: String, block_id: String, job_id: Option<String>, status: String) {
        self.inner.send(Event::Block { executor, block_id, job_id, status, at_us: Clock::now_us() });
    }

    /// Try `try_id` of `task_id` ran on `hostname` (block `block_id`) between these
    /// wall-clock times (µs since the epoch): its host and block, and Parsl's `running`
    /// and `running_ended` states. Sent before the try's outcome reaches the kernel.
    /// (HTEX's tries are recorded by the interchange handle itself: `attach_monitor`.)
    #[pyo3(signature = (task_id, try_id, hostname, block_id, started_us, ended_us))]
    fn try_ran(&self, task_id: u64, try_id: u32, hostname: String, block_id: Option<String>, started_us: u64, ended_us: u64) {
        self.inner.send_all(try_ran_events(task_id, try_id, hostname, block_id, started_us, ended_us));
    }

    /// A sample of the process that ran try `try_id` of `task_id`, taken where it ran (the
    /// Work Queue and TaskVine executors take one as each task ends): a `resource` row.
    /// `sample` is three tuples: `(at_us, pid, cpu_num, state)` with `state` a `/proc`
    /// state letter, `(user_s, system_s, rss_bytes, vms_bytes, memory_percent)` and
    /// `(read_bytes, write_bytes, ctx_voluntary, ctx_involuntary, children)`.
    #[pyo3(signature = (task_id, try_id, interval_s, sample))]
    #[allow(clippy::type_complexity)]
    fn resource(
        &self,
        task_id: u64,
        try_id: u32,
        interval_s: f64,
        sample: ((u64, u32, u32, String), (f64, f64, u64, u64, f64), (u64, u64, u64, u64, u32)),
    ) {
        let ((at_us, pid, cpu_num, state), (user_s, system_s, rss_bytes, vms_bytes, memory_percent),
             (read_bytes, write_bytes, ctx_voluntary, ctx_involuntary, children)) = sample;
        let state = state.bytes().next().unwrap_or(b'?');
        let r = ResourceSample {
            task: task_id, at_us, pid, cpu_num, state, user_s, system_s, rss_bytes, vms_bytes, memory_percent,
            read_bytes, write_bytes, ctx_voluntary, ctx_involuntary, children,
        };
        self.inner.send(resource_event(task_id, try_id, interval_s, &r));
    }

    /// Waits until everything sent so far is in the database.
    fn flush(&self, py: Python<'_>) {
        py.detach(|| self.inner.flush());
    }

    /// Stops recording; returns `(recorded, lost, first_error)`.
    fn close(&self, py: Python<'_>) -> (u64, u64, Option<String>) {
        let s = py.detach(|| self.inner.close());
        (s.recorded, s.lost, s.first_error)
    }
}
