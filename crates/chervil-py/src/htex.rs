//! The HighThroughputExecutor's engine as Python sees it: the interchange (in the
//! client) and the pool's entry point (on compute nodes).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use chervil_htex::pool::{self, Affinity, PoolError, PoolExit, PoolOptions, WorkerSlots};
use chervil_htex::tls::{self, PinnedTlsConnector, TlsError, TlsIdentity};
use chervil_htex::{ClientEvent, InterchangeConfig, InterchangeHandle, ManagerSelector, Plain, PoolSeen, Queued, ResultsHook, ServerConfig, ServerError};
use chervil_proto::{Outcome, MAX_FRAME_DEFAULT};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use chervil_run::monitoring::Recorder;

use crate::splice::{Splices, Template};
use crate::{encode, monitor, KernelCell, KernelHandle, PyCommand, LAUNCH, LAUNCHED};

/// The interchange's ids for tries the engine launches itself (`splice`): a range of
/// their own, apart from the front's, which count up from 0.
const ENGINE_TASK_IDS: u64 = 1 << 62;

/// Event kinds as `Interchange.wait` reports them.
pub(crate) const DONE_OK: u8 = 0;
pub(crate) const DONE_ERR: u8 = 1;
pub(crate) const WORKER_LOST: u8 = 2;
pub(crate) const POOL_LOST: u8 = 3;
pub(crate) const REFUSED: u8 = 4;

/// The kinds of the outcomes `wait` hands the front, named in `_core`.
fn secs(s: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| PyValueError::new_err(format!("{what} must be a non-negative number of seconds, not {s}")))
}

fn tls_err(e: TlsError) -> PyErr {
    crate::errors::interchange(e)
}

fn server_err(e: ServerError) -> PyErr {
    crate::errors::interchange(e)
}

/// The interchange: listens for pools, hands them tasks, collects results.
#[pyclass(frozen, module = "chervil._core")]
pub struct Interchange {
    inner: InterchangeHandle,
    cert_sha256: Option<String>,
    book: Arc<Book>,
    /// The front's functions this side calls, once a kernel is attached.
    front: OnceLock<FrontLink>,
}

/// Who waits for each task sent, and what this side does with a result before the
/// front's thread wakes for it: shared with the interchange thread as its results hook.
struct Book {
    /// When the run is monitored: where each try ran and its resource samples go from
    /// here to the monitor, with no Python on the way.
    recorder: OnceLock<Recorder>,
    /// Who waits for each task sent and not yet answered: this map alone, so a result
    /// and a shutdown's `take_pending` can never both answer one task.
    pending: Mutex<HashMap<u64, Waiter>>,
    /// The DataFlowKernel's, once attached: its tries' successes go to the kernel here.
    kernel: OnceLock<Arc<KernelCell>>,
    /// Tasks this side launches when their dependencies return (see `splice`).
    splices: Mutex<Splices>,
    next_engine_task: AtomicU64,
    /// Cleared when the executor fails its tasks (`stop_splicing`): nothing more is sent
    /// from here, and the front's own launch reports the executor's state.
    splicing: AtomicBool,
    /// What the results hook did, until `wait` takes it with the results it saw.
    notes: Mutex<Notes>,
}

/// Results the hook reported to the kernel (by the interchange's task id), and the
/// kernel's commands.
#[derive(Default)]
struct Notes {
    reported: HashSet<u64>,
    commands: Vec<PyCommand>,
}

/// Who waits for a task's outcome.
enum Waiter {
    /// A try of the DataFlowKernel's task (`submit_try`): a success is reported to the
    /// kernel from here, and Python hears only of the task finishing.
    Try { task: u64, try_id: u32 },
    /// Anything else the front gave (`submit_soon`): a Future, or a callback and its key.
    Front(Py<PyAny>),
}

/// What `attach_kernel` gave besides the kernel: the front's functions this side calls.
struct FrontLink {
    /// Called as `on_done(task, try, ok, outcome)` for a try that did not simply succeed.
    on_done: Py<PyAny>,
    /// Turns a result's bytes into its value (the front's `loads`).
    loads: Py<PyAny>,
    /// A result of this class is an exception in disguise (Parsl's
    /// `RemoteExceptionWrapper`): the front's future raises it.
    wrapper: Py<PyAny>,
}

/// `(task, value, loaded)` of each try reported to the kernel as a success, in the order
/// the results came; when not `loaded`, `value` is why the client cannot read it (what
/// unpickling raised, or the `wrapper` it unpickled to).
type PySucceeded<'py> = Vec<(u64, Bound<'py, PyAny>, bool)>;

/// `(waiter, task, kind, value, hostname)`: an outcome the front must turn into a value
/// or an exception. The waiter is the front's object, or `(on_done, task, try)` for a
/// kernel's try; the task is the interchange's id.
type PyEvent<'py> = (Bound<'py, PyAny>, u64, u8, Bound<'py, PyAny>, Bound<'py, PyString>);

/// `(active, pool id, hostname, block id, workers, cores, memory MB, python version)`:
/// a pool joined or sent a heartbeat (active), or left.
type PyPoolChange = (bool, u32, String, String, u32, u32, u64, String);

/// `(pool id, hostname, block id, workers, tasks held, seconds idle or None, draining,
/// python version, chervil version)`: a connected pool, for `connected_managers`.
type PyPoolStatus = (u32, String, String, u32, usize, Option<f64>, bool, String, String);

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Book {
    /// Records who waits for `task` (and, when monitored, the kernel's `key` it runs).
    fn expect(&self, task: u64, waiter: Waiter, key: Option<(u64, u32)>) {
        if let (Some(r), Some(key)) = (self.recorder.get(), key) {
            r.remember(task, key);
        }
        locked(&self.pending).insert(task, waiter);
    }

    /// Try `try_id` of the kernel's `task` from its template, recorded and ready to
    /// queue; None when it cannot be spliced (see `Splices::payload`) or splicing has
    /// stopped.
    fn templated_try(&self, task: u64, try_id: u32) -> Option<(u64, Queued)> {
        if !self.splicing.load(Ordering::Acquire) {
            return None;
        }
        let queued = locked(&self.splices).payload(task)?;
        let id = self.next_engine_task.fetch_add(1, Ordering::Relaxed);
        self.expect(id, Waiter::Try { task, try_id }, Some((task, try_id)));
        Some((id, queued))
    }
}

impl ResultsHook for Book {
    /// Reports the tries among `events` that returned a value a template waits on to
    /// the kernel (such a value is a success when it arrives, before the front
    /// unpickles it: see `splice`), and returns a try of each task the kernel then
    /// launches that has a template. What it did waits in `notes` for `wait`, those
    /// launches as `LAUNCHED`. Other tries are reported by `wait`, once their values
    /// are read.
    fn queued(&self, events: &[ClientEvent]) -> Vec<(u64, Queued)> {
        let Some(kernel) = self.kernel.get() else { return Vec::new() };
        let mut tries = Vec::new();
        let mut reported = Vec::new();
        {
            let mut splices = locked(&self.splices);
            if splices.waiting_on_none() {
                return Vec::new(); // (most batches: no lock of `pending` under the events' lock)
            }
            let pending = locked(&self.pending);
            for e in events {
                if let ClientEvent::Done { task, outcome: Outcome::Ok(bytes), .. } = e {
                    if let Some(Waiter::Try { task: kt, try_id }) = pending.get(task) {
                        if splices.wants(*kt) {
                            splices.returned(*kt, bytes);
                            tries.push((*kt, *try_id));
                            reported.push(*task);
                        }
                    }
                }
            }
        }
        if tries.is_empty() {
            return Vec::new();
        }
        let mut commands = report_successes(kernel, &tries);
        let mut launched = Vec::new();
        for c in &mut commands {
            if c.0 == LAUNCH {
                if let Some(task) = self.templated_try(c.1, c.2) {
                    c.0 = LAUNCHED;
                    launched.push(task);
                }
            }
        }
        let mut notes = locked(&self.notes);
        notes.reported.extend(reported);
        notes.commands.extend(commands);
        launched
    }
}

impl Interchange {
    fn with(inner: InterchangeHandle, cert_sha256: Option<String>) -> Self {
        let book = Arc::new(Book {
            recorder: OnceLock::new(),
            pending: Mutex::default(),
            kernel: OnceLock::new(),
            splices: Mutex::default(),
            next_engine_task: AtomicU64::new(ENGINE_TASK_IDS),
            splicing: AtomicBool::new(true),
            notes: Mutex::default(),
        });
        inner.set_results_hook(book.clone());
        Interchange { inner, cert_sha256, book, front: OnceLock::new() }
    }

    /// Records who waits for `task` (and, when monitored, the kernel's `key` it runs),
    /// then queues it without waking the interchange's thread.
    fn queue(&self, task: u64, function: u64, payload: &[u8], spec: Vec<(String, String)>, waiter: Waiter, key: Option<(u64, u32)>) {
        self.book.expect(task, waiter, key);
        self.inner.submit_soon(vec![(task, (function, payload.to_vec(), spec))]);
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<u64, Waiter>> {
        locked(&self.book.pending)
    }

    /// The front's object for `waiter`: its own, or `(on_done, task, try)`.
    fn front_object<'py>(&self, py: Python<'py>, waiter: Waiter) -> PyResult<Bound<'py, PyAny>> {
        match waiter {
            Waiter::Front(target) => Ok(target.into_bound(py)),
            Waiter::Try { task, try_id } => {
                let on_done = self.front.get().map(|k| k.on_done.bind(py).clone()).unwrap_or_else(|| py.None().into_bound(py));
                Ok(PyTuple::new(py, [on_done, task.into_pyobject(py)?.into_any(), try_id.into_pyobject(py)?.into_any()])?.into_any())
            }
        }
    }
}

#[pymethods]
impl Interchange {
    #[new]
    #[pyo3(signature = (bind, port_min, port_max, token, *, prefetch_capacity = 0, heartbeat_period = 30.0, heartbeat_threshold = 120.0, max_frame = MAX_FRAME_DEFAULT, tls = false, selector = "round_robin", local_socket = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        bind: &str,
        port_min: u16,
        port_max: u16,
        token: Vec<u8>,
        prefetch_capacity: u32,
        heartbeat_period: f64,
        heartbeat_threshold: f64,
        max_frame: usize,
        tls: bool,
        selector: &str,
        local_socket: bool,
    ) -> PyResult<Self> {
        let selector = match selector {
            "round_robin" => ManagerSelector::RoundRobin,
            "random" => ManagerSelector::Random,
            "block_id" => ManagerSelector::BlockId,
            other => {
                return Err(PyValueError::new_err(format!(
                    "selector must be 'round_robin', 'random' or 'block_id', not {other:?}"
                )))
            }
        };
        let bind = bind.parse().map_err(|_| PyValueError::new_err(format!("{bind:?} is not an IP address to listen on")))?;
        let config = ServerConfig {
            bind,
            port_range: (port_min, port_max),
            interchange: InterchangeConfig {
                prefetch_capacity,
                heartbeat_threshold: secs(heartbeat_threshold, "heartbeat_threshold")?,
                heartbeat_period: secs(heartbeat_period, "heartbeat_period")?,
                token,
                selector,
            },
            max_frame,
            local_socket,
        };
        if !tls {
            let inner = py.detach(|| InterchangeHandle::start(config, Plain)).map_err(server_err)?;
            return Ok(Interchange::with(inner, None));
        }
        let identity = TlsIdentity::generate().map_err(tls_err)?;
        let acceptor = identity.acceptor().map_err(tls_err)?;
        let inner = py.detach(|| InterchangeHandle::start(config, acceptor)).map_err(server_err)?;
        Ok(Interchange::with(inner, Some(tls::to_hex(&identity.fingerprint()))))
    }

    /// The SHA-256 of this run's TLS certificate (hex) that pools must pin; None without TLS.
    #[getter]
    fn cert_sha256(&self) -> Option<String> {
        self.cert_sha256.clone()
    }

    #[getter]
    fn port(&self) -> u16 {
        self.inner.port()
    }

    /// The local socket's address (`@name`) for pools on this machine; None when the
    /// interchange has none (`local_socket=False`, or it could not have one).
    #[getter]
    fn local_address(&self) -> Option<String> {
        self.inner.local_address().map(str::to_owned)
    }

    /// What a block's pools are told to connect to: the local socket first, when there
    /// is one, then `tcp` (comma-separated hosts for the TCP port).
    fn pool_addresses(&self, tcp: &str) -> String {
        self.inner.pool_addresses(tcp)
    }

    /// Makes a function (id, pickled) known before the first task that calls it.
    fn register_function(&self, function: u64, blob: &[u8]) {
        self.inner.register_function(function, blob.to_vec());
    }

    /// Queues one task without waking the interchange's thread for it (it goes out with
    /// the next 255, at `flush()`, or within a millisecond): its id, its function's id,
    /// its pickled arguments, for an MPI task its resource specification as text pairs,
    /// and who waits for its outcome (handed back by `wait` and `take_pending`).
    /// `key`, when monitored, is the DataFlowKernel's `(task, try)` this task runs.
    #[pyo3(signature = (task, function, payload, spec, waiter, key = None))]
    fn submit_soon(
        &self,
        task: u64,
        function: u64,
        payload: &[u8],
        spec: Vec<(String, String)>,
        waiter: Py<PyAny>,
        key: Option<(u64, u32)>,
    ) {
        self.queue(task, function, payload, spec, Waiter::Front(waiter), key);
    }

    /// As `submit_soon`, for try `try_id` of the attached kernel's task `kernel_task`:
    /// when it succeeds, the kernel hears of it from this side (`attach_kernel`).
    #[pyo3(signature = (task, function, payload, spec, kernel_task, try_id))]
    fn submit_try(
        &self,
        task: u64,
        function: u64,
        payload: &[u8],
        spec: Vec<(String, String)>,
        kernel_task: u64,
        try_id: u32,
    ) -> PyResult<()> {
        if self.book.kernel.get().is_none() {
            return Err(PyRuntimeError::new_err("submit_try needs a kernel: call attach_kernel first"));
        }
        self.queue(task, function, payload, spec, Waiter::Try { task: kernel_task, try_id }, Some((kernel_task, try_id)));
        Ok(())
    }

    /// From now on the successes of tries sent with `submit_try` go to `kernel` from
    /// here: `wait` hands the front the values and the kernel's commands. `on_done(task,
    /// try, ok, outcome)` is what the front calls for any other outcome, `loads` turns a
    /// result's bytes into its value, and a value of class `wrapper` is an exception the
    /// front re-raises (so it is handed over as an outcome, not a success).
    fn attach_kernel(&self, kernel: &KernelHandle, on_done: Py<PyAny>, loads: Py<PyAny>, wrapper: Py<PyAny>) -> PyResult<()> {
        let taken = || PyRuntimeError::new_err("this interchange already has a kernel");
        // (the front's side first: a try reported by the hook is handed over by `wait`)
        self.front.set(FrontLink { on_done, loads, wrapper }).map_err(|_| taken())?;
        self.book.kernel.set(Arc::clone(&kernel.cell)).map_err(|_| taken())
    }

    /// Keeps the call of the kernel's `task` (its `function`, `call` pickled with a
    /// `chervil.serialize.Slot(i)` for the result of kernel task `deps[i]`, an MPI
    /// task's `spec`): once the kernel launches it, a try goes out from here with those
    /// results spliced in, or from `launch_spliced` (see `splice`).
    fn splice_template(&self, task: u64, function: u64, call: Vec<u8>, deps: Vec<u64>, spec: Vec<(String, String)>) {
        locked(&self.book.splices).add(task, Template { function, call, deps, spec });
    }

    /// Queues try `try_id` of the kernel's `task` from its template (waking nobody, as
    /// `submit_try`); false when there is none or a result it needs is not here: the
    /// front then launches the task its own way.
    fn launch_spliced(&self, task: u64, try_id: u32) -> PyResult<bool> {
        if self.book.kernel.get().is_none() {
            return Err(PyRuntimeError::new_err("launch_spliced needs a kernel: call attach_kernel first"));
        }
        let Some(task) = self.book.templated_try(task, try_id) else { return Ok(false) };
        self.inner.submit_soon(vec![task]);
        Ok(true)
    }

    /// The kernel's `task` finished: its template, and the results only it waited on, go.
    fn forget_splice(&self, task: u64) {
        locked(&self.book.splices).forget(task);
    }

    /// `(templates, results)` held for spliced launches.
    fn splices_held(&self) -> (usize, usize) {
        locked(&self.book.splices).held()
    }

    /// No more launches from templates: the executor is failing its tasks.
    fn stop_splicing(&self) {
        self.book.splicing.store(false, Ordering::Release);
    }

    /// Everyone still waiting, taken at once (a result arriving later is dropped): each
    /// `submit_soon` waiter, and `(on_done, task, try)` for each kernel's try.
    fn take_pending<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let taken: Vec<Waiter> = self.pending().drain().map(|(_, w)| w).collect();
        taken.into_iter().map(|w| self.front_object(py, w)).collect()
    }

    /// Tasks sent and not yet answered.
    #[getter]
    fn outstanding(&self) -> usize {
        self.pending().len()
    }

    /// From now on where each keyed task's try ran (`try` row, `running` and
    /// `running_ended`) and its workers' resource samples (when `interval_s` is given)
    /// go to `monitor` straight from here.
    #[pyo3(signature = (monitor, interval_s = None))]
    fn attach_monitor(&self, monitor: &monitor::Monitor, interval_s: Option<f64>) -> PyResult<()> {
        let recorder = Recorder::new(Arc::clone(&monitor.inner), interval_s.unwrap_or(0.0));
        self.book.recorder.set(recorder).map_err(|_| PyRuntimeError::new_err("this interchange already has a monitor"))
    }

    /// Sends what `submit_soon` left waiting, now.
    fn flush(&self) {
        self.inner.flush();
    }

    /// Waits up to `timeout` seconds; returns `(succeeded, commands, outcomes, pool
    /// changes)` that arrived, or `None` after shutdown.
    ///
    /// A kernel's try that returned a value is reported to the kernel: by the results
    /// hook, on the interchange thread as it came in, when a template waits on it (the
    /// tasks that then launched with a template went out from there: `splice`); else
    /// here, once its value is read (one lock for the batch). `succeeded` holds `(task,
    /// value, loaded)` for each, and `commands` what the kernel answered (as
    /// `KernelHandle`'s methods return them, with `LAUNCHED` for the hook's launches).
    /// Every other outcome is `(waiter, task, kind, value, hostname)` for the front to
    /// decide: kind 0 result (value: pickled), 1 exception (pickled), 2 worker lost
    /// (why), 3 pool lost (why), 4 refused by the pool (why). A result that does not
    /// unpickle, or unpickles to the `wrapper` class, and that the hook did not report,
    /// is handed over as kind 0 with its bytes (a failed try). Pool changes are
    /// [`PyPoolChange`]s, for monitoring's `node` rows.
    #[allow(clippy::type_complexity)]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        timeout: f64,
    ) -> PyResult<Option<(PySucceeded<'py>, Vec<PyCommand>, Vec<PyEvent<'py>>, Vec<PyPoolChange>)>> {
        let t = secs(timeout, "timeout")?;
        let recorder = self.book.recorder.get();
        let mut notes = Notes::default();
        let Some(events) = py.detach(|| {
            let events = self.inner.wait_then(t, || notes = std::mem::take(&mut *locked(&self.book.notes)))?;
            if let Some(r) = recorder {
                r.record(&events);
            }
            Some(events)
        }) else {
            return Ok(None);
        };
        let mut succeeded = Vec::new();
        let mut tries = Vec::new();
        let mut out = Vec::new();
        let mut pools = Vec::new();
        let link = self.front.get();
        for e in events {
            // `Err(why)`: the task's pool was lost
            let (task, mut outcome, hostname) = match e {
                ClientEvent::Done { task, outcome, on, .. } => (task, Ok(outcome), on.hostname.clone()),
                ClientEvent::PoolLost { task, hostname, why } => (task, Err(why), hostname),
                // recorded above when monitored; nobody asked for them otherwise
                ClientEvent::Resources(_) => continue,
                ClientEvent::PoolJoined(p) | ClientEvent::PoolHeartbeat(p) => {
                    pools.push(pool_change(true, &p));
                    continue;
                }
                ClientEvent::PoolLeft(p) => {
                    pools.push(pool_change(false, &p));
                    continue;
                }
            };
            let Some(waiter) = self.pending().remove(&task) else {
                tracing::warn!(task, host = %hostname, "a result for a task nobody waits for (failed at shutdown?) is dropped");
                continue;
            };
            if let (Waiter::Try { task: kt, try_id }, Ok(Outcome::Ok(bytes)), Some(link)) = (&waiter, &mut outcome, link) {
                // Ok: the value; Err: why this side cannot read it (what unpickling raised,
                // or the `wrapper` it unpickled to)
                let read = match unpickle(py, link.loads.bind(py), bytes) {
                    Ok(value) if !value.is_instance(link.wrapper.bind(py)).unwrap_or(true) => Ok(value),
                    Ok(wrapper) => Err(wrapper),
                    Err(e) => Err(e.into_value(py).into_bound(py).into_any()),
                };
                if notes.reported.contains(&task) {
                    // the results hook reported it (`Book::queued`): a success whatever this side reads
                    succeeded.push(match read {
                        Ok(value) => (*kt, value, true),
                        Err(why) => (*kt, why, false),
                    });
                    continue;
                }
                if let Ok(value) = read {
                    succeeded.push((*kt, value, true));
                    tries.push((*kt, *try_id));
                    continue;
                }
                // else the front says why, as for any result it cannot read: a failed try
            }
            let (kind, value) = match outcome {
                Ok(Outcome::Ok(v)) => (DONE_OK, PyBytes::new(py, &v).into_any()),
                Ok(Outcome::Err(v)) => (DONE_ERR, PyBytes::new(py, &v).into_any()),
                Ok(Outcome::WorkerLost(why)) => (WORKER_LOST, PyString::new(py, &why).into_any()),
                Ok(Outcome::Refused(why)) => (REFUSED, PyString::new(py, &why).into_any()),
                Err(why) => (POOL_LOST, PyString::new(py, &why).into_any()),
            };
            match self.front_object(py, waiter) {
                Ok(waiter) => out.push((waiter, task, kind, value, PyString::new(py, &hostname))),
                // (only if Python cannot make a 3-tuple; the batch's successes still count)
                Err(e) => tracing::error!(task, "an outcome could not be handed to the front: {e}"),
            }
        }
        let mut commands = notes.commands;
        if let (Some(kernel), false) = (self.book.kernel.get(), tries.is_empty()) {
            commands.extend(report_successes(kernel, &tries));
        }
        Ok(Some((succeeded, commands, out, pools)))
    }

    /// `(pending, held by pools, capacity, pools)`.
    fn load(&self) -> (usize, usize, u64, usize) {
        let l = self.inner.load();
        (l.pending, l.held, l.capacity, l.pools)
    }

    /// Every block a pool has registered from, in the order they first did.
    fn connected_blocks(&self) -> Vec<String> {
        self.inner.connected_blocks()
    }

    /// The pools connected now (`PyPoolStatus`).
    fn pools(&self) -> Vec<PyPoolStatus> {
        self.inner
            .pools()
            .into_iter()
            .map(|p| {
                let i = p.info;
                let idle = p.idle_for.map(|d| d.as_secs_f64());
                (p.id, i.hostname, i.block_id, i.workers, p.held, idle, p.draining, i.python_version, i.package_version)
            })
            .collect()
    }

    /// `{block id: (pools, tasks held, seconds all its pools have been idle, or None)}`.
    fn block_load(&self) -> std::collections::BTreeMap<String, (usize, usize, Option<f64>)> {
        self.inner
            .block_load()
            .into_iter()
            .map(|(block, l)| (block, (l.pools, l.held, l.idle_for.map(|d| d.as_secs_f64()))))
            .collect()
    }

    /// Scales in a block: its pools get no more tasks and are told to exit. With
    /// `only_if_idle`, a block whose pools hold tasks is left alone (returns False).
    #[pyo3(signature = (block, only_if_idle=true))]
    fn retire_block(&self, block: &str, only_if_idle: bool) -> bool {
        self.inner.retire_block(block, only_if_idle).is_ok()
    }

    fn shutdown(&self, py: Python<'_>) {
        py.detach(|| self.inner.shutdown());
    }
}

/// Reports each try's success to the kernel under one lock, and returns its commands.
fn report_successes(cell: &KernelCell, tries: &[(u64, u32)]) -> Vec<PyCommand> {
    let mut kernel = cell.lock();
    let mut commands = Vec::new();
    for &(task, try_id) in tries {
        match kernel.try_succeeded(task, try_id, false) {
            Ok(c) => commands.extend(encode(c)),
            // a stale try (the task already failed, at shutdown): nothing to do
            Err(e) => tracing::warn!(task, try_id, "a try's success could not be reported to the kernel: {e}"),
        }
    }
    cell.observe(&mut kernel, None);
    commands
}

fn pool_change(joined: bool, p: &PoolSeen) -> PyPoolChange {
    (joined, p.pool, p.hostname.to_string(), p.block_id.to_string(), p.workers, p.cores, p.memory_mb, p.python_version.to_string())
}

fn pool_err(e: PoolError) -> PyErr {
    crate::errors::pool(e)
}

/// Runs a worker pool until the interchange stops it or goes away; returns why it
/// stopped. The GIL is released the whole time.
#[pyfunction]
#[pyo3(signature = (*, addresses, port, token, block_id, worker_command, logdir, max_workers_per_node = None, cores_per_worker = 1.0, mem_per_worker = None, accelerators = Vec::new(), cpu_affinity = "none", heartbeat_period = 30.0, heartbeat_threshold = 120.0, drain_period = None, connect_timeout = 60.0, cert_sha256 = None, resource_interval = None, mpi_launcher = None))]
#[allow(clippy::too_many_arguments)]
pub fn run_pool(
    py: Python<'_>,
    addresses: Vec<String>,
    port: u16,
    token: Vec<u8>,
    block_id: String,
    worker_command: Vec<String>,
    logdir: PathBuf,
    max_workers_per_node: Option<u32>,
    cores_per_worker: f64,
    mem_per_worker: Option<f64>,
    accelerators: Vec<String>,
    cpu_affinity: &str,
    heartbeat_period: f64,
    heartbeat_threshold: f64,
    drain_period: Option<f64>,
    connect_timeout: f64,
    cert_sha256: Option<String>,
    resource_interval: Option<f64>,
    mpi_launcher: Option<&str>,
) -> PyResult<String> {
    let mpi = mpi_launcher.map(pool::MpiMode::from_environment).transpose().map_err(PyValueError::new_err)?;
    let opts = PoolOptions {
        addresses,
        port,
        token,
        block_id,
        worker_command,
        slots: WorkerSlots { max_workers_per_node, cores_per_worker, mem_per_worker_gb: mem_per_worker, accelerators },
        affinity: Affinity::parse(cpu_affinity).map_err(PyValueError::new_err)?,
        heartbeat_period: secs(heartbeat_period, "heartbeat_period")?,
        heartbeat_threshold: secs(heartbeat_threshold, "heartbeat_threshold")?,
        drain_period: drain_period.map(|d| secs(d, "drain_period")).transpose()?,
        logdir,
        connect_timeout: secs(connect_timeout, "connect_timeout")?,
        resource_interval: resource_interval.filter(|s| *s > 0.0).map(|s| secs(s, "resource_interval")).transpose()?,
        mpi,
        python_version: {
            let v = py.version_info();
            format!("{}.{}.{}", v.major, v.minor, v.patch)
        },
    };
    let exit = match cert_sha256 {
        None => py.detach(|| pool::run(opts, Plain)),
        Some(hex) => {
            let pin = tls::parse_fingerprint(&hex).map_err(|e| PyValueError::new_err(e.to_string()))?;
            let connector = PinnedTlsConnector::new(pin).map_err(tls_err)?;
            py.detach(|| pool::run(opts, connector))
        }
    }
    .map_err(pool_err)?;
    Ok(match exit {
        PoolExit::Shutdown => "shutdown".into(),
        PoolExit::Drained => "drained".into(),
        PoolExit::InterchangeGone(why) => format!("interchange gone: {why}"),
        PoolExit::InterchangeSilent => "interchange silent past heartbeat_threshold".into(),
    })
}

/// Checks what MPI mode needs of an executor (`chervil_mpi::check_mode`) with the
/// engine's reason, which the front completes with the fix in its own spelling: an
/// unknown `mpi_launcher` raises ValueError, a block that starts several pools TypeError
/// (Parsl's two exceptions for the two mistakes).
#[pyfunction]
pub fn check_mpi_mode(mpi_launcher: &str, block_starts_one_pool: bool) -> PyResult<()> {
    match chervil_mpi::check_mode(mpi_launcher, block_starts_one_pool) {
        Ok(_) => Ok(()),
        Err(e @ chervil_mpi::ModeError::NeedsSimpleLauncher) => Err(PyTypeError::new_err(e.to_string())),
        Err(e) => Err(PyValueError::new_err(e.to_string())),
    }
}

/// Parsl's `InvalidResourceSpecification` naming the keys at fault.
#[pyfunction]
#[pyo3(signature = (mpi_mode, pairs, nodes_per_block = None))]
pub fn accept_resource_specification(
    mpi_mode: bool,
    pairs: Vec<(String, Bound<'_, PyAny>)>,
    nodes_per_block: Option<u64>,
) -> PyResult<Vec<(String, String)>> {
    chervil_mpi::accept(mpi_mode, &spec_values(pairs)?, nodes_per_block).map_err(crate::errors::resource_specification)
}

/// A resource specification's values as the MPI spec reads them: ints as ints (not
/// bools), the rest as text.
fn spec_values(pairs: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<Vec<(String, chervil_mpi::spec::Value)>> {
    use chervil_mpi::spec::Value;
    let mut values = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        let value = if let Ok(i) = v.extract::<i64>() {
            if v.is_instance_of::<pyo3::types::PyBool>() {
                Value::Text(v.str()?.to_string())
            } else {
                Value::Int(i)
            }
        } else if let Ok(t) = v.extract::<String>() {
            Value::Text(t)
        } else {
            Value::Text(v.repr()?.to_string())
        };
        values.push((k, value));
    }
    Ok(values)
}

/// The environment an MPI task gets on `nodes` (`PARSL_MPI_PREFIX` and the rest), as
/// pools compose it: `launcher` is mpiexec, srun or aprun; `pairs` the task's resource
/// specification. Raises ValueError for a bad launcher or specification.
#[pyfunction]
pub fn mpi_environment(launcher: &str, pairs: Vec<(String, Bound<'_, PyAny>)>, nodes: Vec<String>) -> PyResult<Vec<(String, String)>> {
    let chosen = chervil_mpi::prefix::Launcher::named(launcher).map_err(PyValueError::new_err)?;
    let spec = chervil_mpi::MpiSpec::parse(&spec_values(pairs)?).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(chervil_mpi::prefix::environment(chosen, &spec, &nodes).into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Checks a `cpu_affinity` setting the way pools will read it.
#[pyfunction]
pub fn check_cpu_affinity(value: &str) -> PyResult<()> {
    Affinity::parse(value).map(|_| ()).map_err(PyValueError::new_err)
}

/// This machine's name, as pools report it.
#[pyfunction]
pub fn hostname() -> String {
    pool::hostname()
}

/// CPython's `PyBUF_READ` (memoryobject.h): a read-only view.
const PYBUF_READ: std::os::raw::c_int = 0x100;

/// `loads(bytes)`. A large value is read through a memoryview over `bytes` rather than a
/// bytes object made of them (a copy of hundreds of megabytes saved), and the view is
/// released before `bytes` can be freed. Unpickling copies what it keeps, so the release
/// succeeds; were something still holding a buffer of the view, `bytes` would be left
/// allocated for good rather than freed under it.
fn unpickle<'py>(py: Python<'py>, loads: &Bound<'py, PyAny>, bytes: &mut Vec<u8>) -> PyResult<Bound<'py, PyAny>> {
    if bytes.len() < chervil_proto::LARGE_PAYLOAD {
        return loads.call1((PyBytes::new(py, bytes),));
    }
    let len = pyo3::ffi::Py_ssize_t::try_from(bytes.len()).map_err(|_| PyValueError::new_err("a result too large to read"))?;
    // SAFETY: `bytes` is alive and unchanged for as long as the view can be read: the view
    // is read-only, and it is released (or `bytes` leaked) before this function returns.
    let view = unsafe {
        Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyMemoryView_FromMemory(bytes.as_mut_ptr().cast(), len, PYBUF_READ))
    }?;
    let value = loads.call1((&view,));
    if view.call_method0("release").is_err() {
        tracing::warn!(bytes = bytes.len(), "a result's buffer is still in use after unpickling; it is kept");
        std::mem::forget(std::mem::take(bytes));
    }
    value
}
