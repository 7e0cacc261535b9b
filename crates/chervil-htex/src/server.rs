//! The interchange's sockets: tokio tasks that move frames between pools and the
//! dispatch core ([`Interchange`]), and a queue the client drains in batches.
//!
//! Threads: the runtime runs on one thread of its own. The client submits from its
//! own threads into an inbox the runtime takes in batches; when it is about to wait
//! ([`InterchangeHandle::flush`]) it takes the inbox itself: the core's lock, the
//! dispatch logic, and the frames written to the pools' sockets from its own thread
//! (see the private `outbox` module), so a task goes out without waiting for the runtime to be
//! scheduled. Results flow the other way into `Events`, which the client drains with
//! one blocking call per batch. A front's [`ResultsHook`] sees each batch as it is
//! queued, on the runtime's thread, and may hand back tasks that leave at once: the
//! Python front launches a waiting dependant from there, before its own thread wakes.
//!
//! Per pool connection there are two tasks: a reader (frames → core) and a writer (what
//! the socket did not take at once → socket, coalesced). The `Link` in the core owns the
//! connection's outbox and a close signal; dropping it ends both tasks, which is how the
//! core closes a connection.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::frames::read_frame;
use crate::outbox::Outbox;
use crate::link::Transport;
use chervil_proto::{batches, FrameDecoder, FunctionMsg, Hello, Outcome, ResourceSample, TaskMsg, ToInterchange, ToPool, PROTOCOL_VERSION};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};

use chervil_admission::{Gate, Pass};
use crate::interchange::{Action, Interchange, InterchangeConfig, Load, PoolId, PoolInfo, Rejection, TaskId};

/// How long a new connection may take to present its Hello (and finish TLS).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest first frame (a Hello is a few hundred bytes): a stranger announcing a huge
/// frame is refused at once instead of making the interchange buffer it.
const HELLO_MAX_FRAME: usize = 64 * 1024;
/// Once the table of unproven connections is full, one older than this is closed to make
/// room for a newcomer (see `chervil_admission`); a real pool says Hello within milliseconds.
const UNPROVEN_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: IpAddr,
    /// Ports to try, inclusive; the first free one is used. `(0, 0)` lets the OS choose.
    pub port_range: (u16, u16),
    pub interchange: InterchangeConfig,
    /// Largest frame a pool may send.
    pub max_frame: usize,
    /// Also listen on a local socket ([`crate::local`]) for pools on this machine; when the
    /// name is taken or the system has none, the interchange goes without (pools use TCP).
    pub local_socket: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("no free port for the interchange on {bind} in {lo}..={hi}: {last}; widen interchange_port_range")]
    NoPort { bind: IpAddr, lo: u16, hi: u16, last: io::Error },
    #[error("cannot start the interchange's runtime: {0}")]
    Runtime(io::Error),
}

/// A task waiting in the interchange: `(function id, pickled arguments, MPI
/// specification as text pairs, empty for other tasks)`.
pub type Queued = (u64, Vec<u8>, Vec<(String, String)>);

/// A connected pool as `connected_managers` shows it: [`InterchangeHandle::pools`].
#[derive(Debug, Clone, PartialEq)]
pub struct PoolStatus {
    pub id: PoolId,
    pub info: PoolInfo,
    /// Tasks it holds now.
    pub held: usize,
    /// How long it has held none (`None` while it holds some).
    pub idle_for: Option<Duration>,
    /// It takes no more tasks (its drain period is over) and leaves once idle.
    pub draining: bool,
}

/// One block's pools as the strategy reads them: [`InterchangeHandle::block_load`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLoad {
    pub pools: usize,
    pub held: usize,
    pub idle_for: Option<Duration>,
}

/// A connected pool, as the client sees it (monitoring's `node` rows; where a try ran).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSeen {
    pub pool: PoolId,
    pub hostname: Arc<str>,
    pub block_id: Arc<str>,
    pub workers: u32,
    pub cores: u32,
    pub memory_mb: u64,
    pub python_version: Arc<str>,
}

/// What the client learns, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A try finished on a worker (or its worker died: [`Outcome::WorkerLost`]), on
    /// this pool, between these wall-clock times (µs since the epoch; 0 if unknown).
    Done { task: TaskId, outcome: Outcome, on: Arc<PoolSeen>, started_us: u64, ended_us: u64 },
    /// The pool holding this task was lost (Parsl's ManagerLost).
    PoolLost { task: TaskId, hostname: Arc<str>, why: Arc<str> },
    /// Samples of the worker processes of a pool, by task.
    Resources(Vec<ResourceSample>),
    /// A pool registered.
    PoolJoined(Arc<PoolSeen>),
    /// A registered pool is gone (disconnected, retired, or the interchange stopped).
    PoolLeft(Arc<PoolSeen>),
    /// A pool's heartbeat (it sends one when it has had nothing else to send for a
    /// heartbeat period): monitoring's periodic `node` row.
    PoolHeartbeat(Arc<PoolSeen>),
}

/// Reports the pool as gone however its connection task ends.
struct Membership {
    shared: Arc<Shared>,
    seen: Arc<PoolSeen>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let seen = self.seen.clone();
        self.shared.with_core(|_, events| {
            events.push(ClientEvent::PoolLeft(seen));
            ((), Vec::new())
        });
    }
}

/// What a front does with each batch of events on the thread that produced it, before
/// the client takes them (see [`InterchangeHandle::set_results_hook`]).
pub trait ResultsHook: Send + Sync {
    /// Sees `events` as they are queued for the client (under the queue's lock, so what
    /// it records is taken with them: [`InterchangeHandle::wait_then`]); returns tasks
    /// to send at once.
    fn queued(&self, events: &[ClientEvent]) -> Vec<(TaskId, Queued)>;
}

/// Events waiting for the client, and whether more can come.
#[derive(Default)]
struct Events {
    queue: Mutex<EventQueue>,
    ready: Condvar,
    hook: OnceLock<Arc<dyn ResultsHook>>,
}

#[derive(Default)]
struct EventQueue {
    items: Vec<ClientEvent>,
    closed: bool,
    /// Threads asleep in [`InterchangeHandle::wait`]. A push wakes only when there is one:
    /// a condvar's notify is a system call even with nobody waiting, and the results
    /// thread is usually busy with the last batch when the next arrives.
    sleepers: usize,
}

impl Events {
    /// Queues `items` for the client; what the hook wants sent at once.
    #[must_use = "the hook's tasks must be dispatched"]
    fn push(&self, mut items: Vec<ClientEvent>) -> Vec<(TaskId, Queued)> {
        if items.is_empty() {
            return Vec::new();
        }
        let mut q = lock(&self.queue);
        let launched = self.hook.get().map(|h| h.queued(&items)).unwrap_or_default();
        if q.items.is_empty() {
            std::mem::swap(&mut q.items, &mut items);
        } else {
            q.items.append(&mut items);
        }
        let wake = q.sleepers > 0;
        drop(q);
        if wake {
            self.ready.notify_all();
        }
        launched
    }

    fn close(&self) {
        lock(&self.queue).closed = true;
        self.ready.notify_all();
    }
}

/// The core's connection to one pool: dropping it closes the connection.
struct Link {
    outbox: Arc<Outbox>,
    /// Functions this pool has been sent.
    functions: HashSet<u64>,
    _close: oneshot::Sender<()>,
}

impl Link {
    /// Queues a frame (written once the core's lock is let go: [`Core::touched`]).
    fn send(&self, touched: &mut Vec<Arc<Outbox>>, msg: &ToPool) -> bool {
        match self.outbox.push(framed(msg)) {
            None => false,
            Some(first) => {
                if first {
                    touched.push(self.outbox.clone());
                }
                true
            }
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.outbox.close();
    }
}

struct Core {
    ix: Interchange,
    /// Tasks not yet sent to a pool: (function, pickled arguments). A payload leaves
    /// with its task; a retry is a new submission, so the client's memory stays flat.
    /// Each queued task's function, pickled arguments and MPI specification (text pairs).
    payloads: HashMap<TaskId, Queued>,
    /// Every function of the run, by id: sent to each pool once, before its first
    /// task that calls it.
    functions: HashMap<u64, Vec<u8>>,
    links: HashMap<PoolId, Link>,
    closed: bool,
    /// Outboxes that got frames under this hold of the lock, to flush once it is let go.
    touched: Vec<Arc<Outbox>>,
}

/// Tasks the client submitted that the interchange thread has not taken yet.
#[derive(Default)]
struct Inbox {
    tasks: Vec<(TaskId, Queued)>,
    /// Set by `shutdown`: from then on submissions are answered at once (as lost).
    closed: bool,
    /// The flusher sleeps until woken (nothing waits here, and nothing is out or
    /// nothing was submitted for [`QUIET_ROUNDS`] rounds).
    flusher_parked: bool,
    /// A `submit_soon` came since the flusher's round began: the client is still
    /// submitting, so the deadline keeps running.
    submitted: bool,
}

struct Shared {
    core: Mutex<Core>,
    /// The client's submissions wait here, and the interchange thread takes them in
    /// batches: a submit costs the client a push (and one wake per burst), not a
    /// dispatch round and a frame per task — that work moves to the other core.
    inbox: Mutex<Inbox>,
    inbox_ready: Notify,
    /// Wakes the flusher thread (see [`InterchangeHandle::submit_soon`]).
    flusher: Condvar,
    /// Tasks submitted whose outcome the client has not taken yet: with none, the
    /// flusher parks at once.
    in_flight: AtomicUsize,
    events: Events,
    writers: AtomicUsize,
    writers_done: Notify,
    stop: Notify,
    max_frame: usize,
    heartbeat_period_ms: u32,
    /// Connections that have not proved the secret.
    unproven: Arc<Gate>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is complete before anything can panic, so a
    // poisoned lock still holds consistent state.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn framed(msg: &ToPool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    msg.encode_frame(&mut out);
    out
}

impl Core {
    /// Carries out the dispatch core's actions; returns what the client must learn.
    fn apply(&mut self, actions: Vec<Action>, events: &mut Vec<ClientEvent>) {
        for action in actions {
            match action {
                Action::Send { pool, tasks } => {
                    let msgs: Vec<TaskMsg> = tasks
                        .iter()
                        .map(|t| {
                            let (function, payload, spec) = self.payloads.remove(t).unwrap_or_default();
                            TaskMsg { task: *t, function, payload, spec }
                        })
                        .collect();
                    let sent = self.links.get_mut(&pool).map(|l| {
                        let mut new = Vec::new();
                        for m in &msgs {
                            if l.functions.insert(m.function) {
                                let blob = self.functions.get(&m.function).cloned().unwrap_or_default();
                                new.push(FunctionMsg { function: m.function, blob });
                            }
                        }
                        let touched = &mut self.touched;
                        batches(new, |f| f.blob.len()).into_iter().all(|new| l.send(touched, &ToPool::Functions(new)))
                            && batches(msgs, |m| m.payload.len()).into_iter().all(|msgs| l.send(touched, &ToPool::Tasks(msgs)))
                    });
                    if sent != Some(true) {
                        // The writer is gone: the reader will report the disconnect and
                        // the dispatch core will give these tasks back as lost.
                        tracing::debug!(pool, "tasks queued for a pool whose connection is closing");
                    }
                }
                Action::Heartbeat { pool } => {
                    if let Some(l) = self.links.get(&pool) {
                        let _ = l.send(&mut self.touched, &ToPool::Heartbeat);
                    }
                }
                Action::Close { pool } => {
                    self.links.remove(&pool);
                }
                Action::Retire { pool } => {
                    if let Some(l) = self.links.get(&pool) {
                        let _ = l.send(&mut self.touched, &ToPool::Shutdown);
                    }
                }
                Action::Lost { tasks, loss } => {
                    let hostname: Arc<str> = Arc::from(loss.hostname.as_str());
                    let why: Arc<str> = Arc::from(loss.why.as_str());
                    for task in tasks {
                        self.payloads.remove(&task);
                        events.push(ClientEvent::PoolLost { task, hostname: hostname.clone(), why: why.clone() });
                    }
                }
            }
        }
    }
}

impl Shared {
    /// Runs `f` on the core, carries out its actions and publishes the events.
    fn with_core<R>(&self, f: impl FnOnce(&mut Core, &mut Vec<ClientEvent>) -> (R, Vec<Action>)) -> R {
        let mut events = Vec::new();
        let (r, touched) = {
            let mut core = lock(&self.core);
            let (r, actions) = f(&mut core, &mut events);
            core.apply(actions, &mut events);
            (r, std::mem::take(&mut core.touched))
        };
        for outbox in touched {
            outbox.flush_here();
        }
        let launched = self.events.push(events);
        if !launched.is_empty() {
            self.in_flight.fetch_add(launched.len(), Ordering::AcqRel);
            self.dispatch(launched);
        }
        r
    }
}

/// The running interchange, as the client holds it.
pub struct InterchangeHandle {
    shared: Arc<Shared>,
    port: u16,
    local_address: Option<String>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl InterchangeHandle {
    /// Binds the listening socket and starts the runtime thread.
    pub fn start<A: Transport>(config: ServerConfig, acceptor: A) -> Result<InterchangeHandle, ServerError> {
        let open_files = chervil_admission::raise_open_file_limit();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ServerError::Runtime)?;
        let listener = rt.block_on(bind(config.bind, config.port_range))?;
        let port = listener.local_addr().map_err(ServerError::Runtime)?.port();
        let local = if config.local_socket {
            let name = crate::local::name_for(std::process::id(), port);
            match rt.block_on(async { crate::local::bind(&name) }) {
                Ok(l) => Some((l, name)),
                Err(e) => {
                    tracing::warn!(name, error = %e, "no local socket for pools on this machine: they connect over TCP");
                    None
                }
            }
        } else {
            None
        };
        let local_address = local.as_ref().map(|(_, name)| format!("{}{name}", crate::local::PREFIX));
        let heartbeat_period = config.interchange.heartbeat_period;
        let threshold = config.interchange.heartbeat_threshold;
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                ix: Interchange::new(config.interchange),
                payloads: HashMap::new(),
                functions: HashMap::new(),
                links: HashMap::new(),
                closed: false,
                touched: Vec::new(),
            }),
            inbox: Mutex::new(Inbox::default()),
            inbox_ready: Notify::new(),
            flusher: Condvar::new(),
            in_flight: AtomicUsize::new(0),
            events: Events::default(),
            writers: AtomicUsize::new(0),
            writers_done: Notify::new(),
            stop: Notify::new(),
            max_frame: config.max_frame,
            heartbeat_period_ms: u32::try_from(heartbeat_period.as_millis()).unwrap_or(u32::MAX),
            unproven: Gate::new(chervil_admission::cap_for_open_file_limit(open_files), UNPROVEN_GRACE),
        });
        let tick = (heartbeat_period.min(threshold) / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("chervil-interchange".into())
            .spawn(move || {
                rt.block_on(async move {
                    let acceptor = Arc::new(acceptor);
                    tokio::select! {
                        _ = accept_loop(s.clone(), listener, acceptor) => {}
                        _ = accept_local(s.clone(), local.map(|(l, _)| l)) => {}
                        _ = ticker(s.clone(), tick) => {}
                        _ = take_submissions(s.clone()) => {}
                        _ = s.stop.notified() => {}
                    }
                    // Let the writers flush the Shutdown frames queued by `shutdown`.
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        loop {
                            let done = s.writers_done.notified();
                            if s.writers.load(Ordering::Acquire) == 0 {
                                break;
                            }
                            done.await;
                        }
                    })
                    .await;
                });
                rt.shutdown_timeout(Duration::from_millis(100));
            })
            .map_err(ServerError::Runtime)?;
        let s = shared.clone();
        std::thread::Builder::new()
            .name("chervil-ix-flusher".into())
            .spawn(move || s.flusher())
            .map_err(ServerError::Runtime)?;
        tracing::info!(port, local = local_address.as_deref().unwrap_or("none"), "interchange listening");
        Ok(InterchangeHandle { shared, port, local_address, thread: Mutex::new(Some(thread)) })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The local socket's address for pools on this machine (`@name`), when the
    /// interchange has one.
    pub fn local_address(&self) -> Option<&str> {
        self.local_address.as_deref()
    }

    /// What a block's pools are told to connect to (`--addresses`): the local socket
    /// first, when there is one, then `tcp` (comma-separated hosts for the TCP port).
    pub fn pool_addresses(&self, tcp: &str) -> String {
        match &self.local_address {
            Some(local) => format!("{local},{tcp}"),
            None => tcp.to_string(),
        }
    }

    /// Makes a function known to the run, before the first task that calls it.
    pub fn register_function(&self, function: u64, blob: Vec<u8>) {
        lock(&self.shared.core).functions.insert(function, blob);
    }

    /// Queues tasks — each id with its function id, pickled arguments and MPI
    /// specification — for the pools. Tasks submitted after `shutdown` are returned
    /// as lost at once.
    pub fn submit(&self, tasks: Vec<(TaskId, Queued)>) {
        let Some((inbox, was_empty)) = self.enqueue(tasks) else { return };
        drop(inbox);
        if was_empty {
            // Otherwise the interchange thread has not taken the earlier ones yet, and
            // takes these with them.
            self.shared.inbox_ready.notify_one();
        }
    }

    /// As [`submit`](Self::submit), without waking the interchange thread for it:
    /// the tasks wait in the inbox until 256 are there, until [`flush`](Self::flush),
    /// or for at most [`SOON`]. Waking a sleeping thread costs more than the rest of a
    /// short task's trip through the client, and a client submitting in a loop pays it
    /// once per burst this way; a front flushes before it blocks on a result and after
    /// each batch of results it handles, so nothing waits on the deadline when someone
    /// is waiting for it.
    pub fn submit_soon(&self, tasks: Vec<(TaskId, Queued)>) {
        let Some((mut inbox, _)) = self.enqueue(tasks) else { return };
        inbox.submitted = true;
        if inbox.tasks.len() >= SOON_BATCH {
            drop(inbox);
            self.shared.inbox_ready.notify_one();
        } else if inbox.flusher_parked {
            inbox.flusher_parked = false;
            drop(inbox);
            self.shared.flusher.notify_one();
        }
    }

    /// Counts `tasks` in flight and puts them in the inbox, which it returns still
    /// locked, with whether it was empty before; after `shutdown` they are answered at
    /// once as lost, and there is nothing to return.
    fn enqueue(&self, tasks: Vec<(TaskId, Queued)>) -> Option<(MutexGuard<'_, Inbox>, bool)> {
        self.shared.in_flight.fetch_add(tasks.len(), Ordering::AcqRel);
        let mut inbox = lock(&self.shared.inbox);
        if inbox.closed {
            drop(inbox);
            self.shared.dispatch(tasks);
            return None;
        }
        let was_empty = inbox.tasks.is_empty();
        inbox.tasks.extend(tasks);
        Some((inbox, was_empty))
    }

    /// Sends what [`submit_soon`](Self::submit_soon) left waiting, now, from this
    /// thread: the dispatch decides, and the frames go to the pools' sockets from here
    /// as far as they take them at once (the rest through the interchange thread).
    pub fn flush(&self) {
        self.shared.take_inbox();
    }

    /// Tasks submitted whose outcome has not been taken with [`wait`](Self::wait) yet.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Acquire)
    }

    /// From now on `hook` sees each batch of events as it is queued for the client,
    /// on the thread that produced it (the interchange thread, for results), and the
    /// tasks it returns are dispatched at once. A front uses it to act on results
    /// before its own thread wakes: the Python front's kernel launches a dependent
    /// task from there. False if a hook was set already.
    pub fn set_results_hook(&self, hook: Arc<dyn ResultsHook>) -> bool {
        self.shared.events.hook.set(hook).is_ok()
    }

    /// Waits up to `timeout` for events and takes them all. `None` once the
    /// interchange is shut down and every event has been taken.
    pub fn wait(&self, timeout: Duration) -> Option<Vec<ClientEvent>> {
        self.wait_then(timeout, || ())
    }

    /// [`wait`](Self::wait), running `then` under the events' lock as they are taken:
    /// what the results hook recorded for exactly these events can be taken with them.
    pub fn wait_then(&self, timeout: Duration, then: impl FnOnce()) -> Option<Vec<ClientEvent>> {
        let events = &self.shared.events;
        let mut q = lock(&events.queue);
        if q.items.is_empty() && !q.closed {
            q.sleepers += 1;
            q = events.ready.wait_timeout(q, timeout).unwrap_or_else(|p| p.into_inner()).0;
            q.sleepers -= 1;
        }
        if q.items.is_empty() && q.closed {
            return None;
        }
        let taken = std::mem::take(&mut q.items);
        then();
        drop(q);
        let answered = taken.iter().filter(|e| matches!(e, ClientEvent::Done { .. } | ClientEvent::PoolLost { .. })).count();
        let _ = self.shared.in_flight.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(answered)));
        Some(taken)
    }

    pub fn load(&self) -> Load {
        lock(&self.shared.core).ix.load()
    }

    /// Every block a pool has registered from, in the order they first did (Parsl's
    /// `connected_blocks`).
    pub fn connected_blocks(&self) -> Vec<String> {
        lock(&self.shared.core).ix.connected_blocks().to_vec()
    }

    /// The pools connected now, with the tasks each holds and how long it has
    /// held none.
    pub fn pools(&self) -> Vec<PoolStatus> {
        let now = Instant::now();
        let core = lock(&self.shared.core);
        let ids: Vec<PoolId> = core.links.keys().copied().collect();
        ids.into_iter()
            .filter_map(|id| {
                core.ix.pool(id).map(|info| PoolStatus {
                    id,
                    info: info.clone(),
                    held: core.ix.held_by(id).len(),
                    idle_for: core.ix.idle_for(id, now),
                    draining: core.ix.is_draining(id),
                })
            })
            .collect()
    }

    /// Per block with a connected pool: its pools, the tasks they hold, and how long
    /// all of them have held none (`None` while any is busy) — the strategy's view.
    pub fn block_load(&self) -> BTreeMap<String, BlockLoad> {
        let mut by_block: BTreeMap<String, BlockLoad> = BTreeMap::new();
        for p in self.pools() {
            let b = by_block.entry(p.info.block_id).or_insert(BlockLoad { pools: 0, held: 0, idle_for: p.idle_for });
            b.pools += 1;
            b.held += p.held;
            b.idle_for = b.idle_for.zip(p.idle_for).map(|(a, b)| a.min(b));
        }
        by_block
    }

    /// Scales in a block: see [`Interchange::retire_block`]. `Err(n)`: with
    /// `only_if_idle`, the block's pools hold `n` tasks, and nothing changed.
    pub fn retire_block(&self, block: &str, only_if_idle: bool) -> Result<(), usize> {
        self.shared.with_core(|core, _| match core.ix.retire_block(block, only_if_idle) {
            Ok(actions) => (Ok(()), actions),
            Err(held) => (Err(held), Vec::new()),
        })
    }

    /// Tells every pool to stop, closes the connections and the listener. Events
    /// already queued can still be taken with `wait`.
    pub fn shutdown(&self) {
        {
            lock(&self.shared.core).closed = true;
            // Submissions not taken yet, and any from now on, come back as lost.
            let waiting = {
                let mut inbox = lock(&self.shared.inbox);
                inbox.closed = true;
                inbox.flusher_parked = false;
                std::mem::take(&mut inbox.tasks)
            };
            self.shared.flusher.notify_all();
            self.shared.dispatch(waiting);
            let mut core = lock(&self.shared.core);
            let mut touched = Vec::new();
            for link in core.links.values() {
                let _ = link.send(&mut touched, &ToPool::Shutdown);
            }
            core.links.clear();
            drop(core);
            for outbox in touched {
                outbox.flush_here();
            }
        }
        self.shared.stop.notify_one();
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
        self.shared.events.close();
    }
}

impl Drop for InterchangeHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The longest a task given to [`InterchangeHandle::submit_soon`] waits in the inbox.
pub const SOON: Duration = Duration::from_millis(1);
/// So many tasks waiting in the inbox wake the interchange thread at once.
const SOON_BATCH: usize = 256;
/// The flusher parks after so many rounds of [`SOON`] in which nothing was submitted,
/// even with tasks out: a client waiting on long tasks then sleeps, instead of waking
/// a thousand times a second (2 % of a core here, and most of a bash app's wake-ups).
/// A client that keeps submitting never parks it, and pays no wake per task.
const QUIET_ROUNDS: u32 = 4;

impl Shared {
    /// Wakes the interchange thread for what `submit_soon` left in the inbox, within
    /// [`SOON`]. While the client submits it runs on that deadline (a timer, cheaper
    /// than a wake per task); with nothing waiting, and nothing out or nothing submitted
    /// for [`QUIET_ROUNDS`] rounds, it sleeps until a task comes.
    fn flusher(&self) {
        let mut inbox = lock(&self.inbox);
        let mut quiet = 0;
        while !inbox.closed {
            if inbox.tasks.is_empty() && (quiet >= QUIET_ROUNDS || self.in_flight.load(Ordering::Acquire) == 0) {
                inbox.flusher_parked = true;
                quiet = 0;
                inbox = self.flusher.wait(inbox).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            inbox.submitted = false;
            inbox = self.flusher.wait_timeout(inbox, SOON).unwrap_or_else(|p| p.into_inner()).0;
            if !inbox.tasks.is_empty() {
                self.inbox_ready.notify_one();
            }
            quiet = if inbox.submitted { 0 } else { quiet + 1 };
        }
    }

    /// Takes what the client submitted since the last time, in one go.
    fn take_inbox(&self) {
        let tasks = std::mem::take(&mut lock(&self.inbox).tasks);
        if !tasks.is_empty() {
            self.dispatch(tasks);
        }
    }

    /// Puts tasks in the dispatch core's queue and carries out what follows.
    fn dispatch(&self, tasks: Vec<(TaskId, Queued)>) {
        let now = Instant::now();
        self.with_core(|core, events| {
            if core.closed {
                for (task, _) in tasks {
                    events.push(ClientEvent::PoolLost {
                        task,
                        hostname: Arc::from("-"),
                        why: Arc::from("the executor was shut down before the task could be sent"),
                    });
                }
                return ((), Vec::new());
            }
            let mut ids = Vec::with_capacity(tasks.len());
            for (task, mut queued) in tasks {
                // (a plain task's priority is for the queue here, not for its pool)
                let priority = if queued.2.is_empty() { None } else { chervil_mpi::take_priority(&mut queued.2) };
                core.payloads.insert(task, queued);
                ids.push((task, priority));
            }
            let actions = core.ix.submit_prioritized(ids, now);
            ((), actions)
        })
    }
}

/// The interchange thread's side of the inbox.
async fn take_submissions(shared: Arc<Shared>) {
    loop {
        shared.inbox_ready.notified().await;
        shared.take_inbox();
    }
}

async fn bind(ip: IpAddr, (lo, hi): (u16, u16)) -> Result<TcpListener, ServerError> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "the port range is empty");
    for port in lo..=hi.max(lo) {
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(ServerError::NoPort { bind: ip, lo, hi, last })
}

async fn ticker(shared: Arc<Shared>, period: Duration) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let now = Instant::now();
        shared.with_core(|core, _| ((), core.ix.tick(now)));
    }
}

async fn accept_loop<A: Transport>(shared: Arc<Shared>, listener: TcpListener, acceptor: Arc<A>) {
    loop {
        let (tcp, peer, place, evicted) = shared.unproven.accept(&listener).await;
        let peer = Peer::Tcp(peer);
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(until_evicted(handshake_and_serve(shared, acceptor, tcp, peer, place), evicted, peer));
    }
}

/// Serves pools connecting to the local socket, if there is one. No handshake: like
/// loopback, the socket reaches only this machine (see [`crate::local`]); strangers are
/// counted and shed as on the TCP port, as if from loopback.
async fn accept_local(shared: Arc<Shared>, listener: Option<tokio::net::UnixListener>) {
    let Some(listener) = listener else { return std::future::pending().await };
    loop {
        let (stream, _, place, evicted) = shared.unproven.accept(&listener).await;
        let stream = match crate::local::LocalStream::accepted(stream) {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "a connection to the local socket could not be registered; closed");
                continue;
            }
        };
        let raw = std::os::fd::AsRawFd::as_raw_fd(&stream);
        tokio::spawn(until_evicted(serve_pool(shared.clone(), stream, Some(raw), Peer::Local, place), evicted, Peer::Local));
    }
}

/// Runs a connection's service unless it is closed first to make room for a newcomer.
async fn until_evicted(serve: impl std::future::Future<Output = ()>, evicted: chervil_admission::Evicted, peer: Peer) {
    tokio::select! {
        _ = serve => {}
        _ = evicted.wait() => tracing::warn!(%peer, "connection closed: it had not proved the secret, and its place was needed"),
    }
}

/// Who is on the other end of a connection, for the log.
#[derive(Debug, Clone, Copy)]
enum Peer {
    Tcp(SocketAddr),
    Local,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(addr) => addr.fmt(f),
            Peer::Local => f.write_str("local socket"),
        }
    }
}

async fn handshake_and_serve<A: Transport>(shared: Arc<Shared>, acceptor: Arc<A>, tcp: TcpStream, peer: Peer, place: Pass) {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.establish(tcp)).await {
        Ok(Ok(stream)) => {
            let raw = A::raw_socket(&stream);
            serve_pool(shared, stream, raw, peer, place).await
        }
        Ok(Err(e)) => tracing::warn!(%peer, error = %e, "connection refused: TLS handshake failed"),
        Err(_) => tracing::warn!(%peer, "connection refused: no TLS handshake within the time allowed"),
    }
}

async fn serve_pool<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    shared: Arc<Shared>,
    stream: S,
    raw: Option<std::os::fd::RawFd>,
    peer: Peer,
    place: Pass,
) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut dec = FrameDecoder::new(HELLO_MAX_FRAME.min(shared.max_frame));
    let mut buf = vec![0u8; 64 * 1024];

    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_frame(&mut rd, &mut dec, &mut buf)).await {
        Ok(Ok(Some(body))) => body,
        Ok(Ok(None)) => return,
        Ok(Err(why)) => {
            tracing::warn!(%peer, why, "connection refused before registering");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "connection refused: no Hello within the time allowed");
            return;
        }
    };
    let hello = match ToInterchange::decode(&first) {
        Ok(ToInterchange::Hello(h)) => h,
        other => {
            let reason = match Hello::peek_version(&first) {
                Some(v) if v != PROTOCOL_VERSION => {
                    Rejection::VersionMismatch { pool: v, interchange: PROTOCOL_VERSION }.to_string()
                }
                _ => format!("the first message must be a Hello, got {other:?}"),
            };
            tracing::warn!(%peer, reason, "connection refused");
            let _ = wr.write_all(&framed(&ToPool::Reject { reason })).await;
            return;
        }
    };

    // SAFETY: `raw` is the socket of `stream`, whose halves `rd` and `wr` are held here.
    let direct = raw.and_then(|fd| unsafe { crate::link::direct_writer(fd) });
    let outbox = Arc::new(Outbox::new(direct));
    let (close_tx, mut close_rx) = oneshot::channel();
    let registered = shared.with_core(|core, events| {
        if core.closed {
            return (Err("the interchange is shutting down".to_string()), Vec::new());
        }
        match core.ix.register(&hello, Instant::now()) {
            Ok((pool, actions)) => {
                let welcome = ToPool::Welcome { pool, heartbeat_period_ms: shared.heartbeat_period_ms };
                let link = Link { outbox: outbox.clone(), functions: HashSet::new(), _close: close_tx };
                let _ = link.send(&mut core.touched, &welcome);
                core.links.insert(pool, link);
                let seen = Arc::new(PoolSeen {
                    pool,
                    hostname: Arc::from(hello.hostname.as_str()),
                    block_id: Arc::from(hello.block_id.as_str()),
                    workers: hello.workers,
                    cores: hello.cores,
                    memory_mb: hello.memory_mb,
                    python_version: Arc::from(hello.python_version.as_str()),
                });
                events.push(ClientEvent::PoolJoined(seen.clone()));
                (Ok((pool, seen)), actions)
            }
            Err(rejection) => (Err(rejection.to_string()), Vec::new()),
        }
    });
    let (pool, seen) = match registered {
        Ok(registered) => registered,
        Err(reason) => {
            tracing::warn!(%peer, host = %hello.hostname, reason, "pool refused");
            let _ = wr.write_all(&framed(&ToPool::Reject { reason })).await;
            return;
        }
    };
    tracing::info!(pool, %peer, "pool connected");
    drop(place); // it proved the secret: no longer counted among strangers
    dec.set_max(shared.max_frame); // and results may be large now
    let _membership = Membership { shared: shared.clone(), seen: seen.clone() };

    shared.writers.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(write_frames(shared.clone(), wr, outbox));

    let why = loop {
        let frame = tokio::select! {
            f = read_frame(&mut rd, &mut dec, &mut buf) => f,
            _ = &mut close_rx => return, // the core closed this link and has dealt with its tasks
        };
        let body = match frame {
            Ok(Some(body)) => body,
            Ok(None) => break "the pool closed its connection".to_string(),
            Err(why) => break why,
        };
        if let Err(why) = on_frames(&shared, pool, &seen, body, &mut dec) {
            break why;
        }
    };
    let now = Instant::now();
    shared.with_core(|core, _| {
        core.links.remove(&pool);
        ((), core.ix.disconnected(pool, &why, now))
    });
}

/// Handles `first` and every whole frame already read behind it. Results in frames side
/// by side (a pool sends each worker's as soon as it has it; two often arrive in one read)
/// are handled as one batch: one pass of the core, one write of the tasks that follow to
/// each pool, one wake of the client. Any other message is handled in its place, after the
/// results before it: a pool that says it is draining must get no task for a later result.
fn on_frames(shared: &Shared, pool: PoolId, seen: &Arc<PoolSeen>, first: Vec<u8>, dec: &mut FrameDecoder) -> Result<(), String> {
    let mut results = Vec::new();
    let mut next = Some(first);
    let outcome = loop {
        let Some(body) = next.take() else { break Ok(()) };
        match ToInterchange::decode_owned(body) {
            Ok(ToInterchange::Results(batch)) => results.extend(batch),
            Ok(msg) => {
                if !results.is_empty() {
                    on_message(shared, pool, seen, ToInterchange::Results(std::mem::take(&mut results)));
                }
                on_message(shared, pool, seen, msg);
            }
            Err(e) => break Err(format!("the pool sent a malformed message: {e}")),
        }
        match dec.next_frame() {
            Ok(body) => next = body,
            Err(e) => break Err(e.to_string()),
        }
    };
    if !results.is_empty() {
        on_message(shared, pool, seen, ToInterchange::Results(results));
    }
    outcome
}

fn on_message(shared: &Shared, pool: PoolId, seen: &Arc<PoolSeen>, msg: ToInterchange) {
    let now = Instant::now();
    match msg {
        ToInterchange::Results(results) => {
            let ids: Vec<TaskId> = results.iter().map(|r| r.task).collect();
            shared.with_core(|core, events| {
                let (accepted, actions) = core.ix.results(pool, &ids, now);
                let done = |r: chervil_proto::TaskResult| ClientEvent::Done {
                    task: r.task,
                    outcome: r.outcome,
                    on: seen.clone(),
                    started_us: r.started_us,
                    ended_us: r.ended_us,
                };
                if accepted.len() == results.len() {
                    events.extend(results.into_iter().map(done));
                } else {
                    let keep: std::collections::HashSet<TaskId> = accepted.into_iter().collect();
                    events.extend(results.into_iter().filter(|r| keep.contains(&r.task)).map(done));
                }
                ((), actions)
            });
        }
        ToInterchange::Resources(samples) => shared.with_core(|core, events| {
            core.ix.heard_from(pool, now);
            events.push(ClientEvent::Resources(samples));
            ((), Vec::new())
        }),
        ToInterchange::Heartbeat => shared.with_core(|core, events| {
            core.ix.heard_from(pool, now);
            events.push(ClientEvent::PoolHeartbeat(seen.clone()));
            ((), Vec::new())
        }),
        ToInterchange::Draining => shared.with_core(|core, _| ((), core.ix.draining(pool, now))),
        ToInterchange::Hello(_) => {
            tracing::warn!(pool, "a registered pool sent a second Hello; ignored");
        }
    }
}

async fn write_frames<W: AsyncWrite + Unpin>(shared: Arc<Shared>, mut wr: W, outbox: Arc<Outbox>) {
    while let Some(chunk) = outbox.next_chunk().await {
        let written = wr.write_all(&chunk).await;
        outbox.chunk_written();
        if let Err(e) = written {
            tracing::debug!(error = %e, "writing to a pool failed; its reader reports the loss");
            outbox.close();
            break;
        }
    }
    let _ = wr.shutdown().await;
    shared.writers.fetch_sub(1, Ordering::AcqRel);
    shared.writers_done.notify_waiters();
}

impl std::fmt::Debug for InterchangeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterchangeHandle").field("port", &self.port).finish()
    }
}
