//! The interchange's dispatch logic, without sockets.
//!
//! It keeps the queue of tasks waiting for a worker, the pools that have proved the
//! run's secret, which tasks each pool holds, and when each was last heard from. The
//! socket side (next: tokio tasks in the client process) turns frames into calls
//! here and carries out the returned [`Action`]s; payloads stay there, by task id.
//!
//! Guarantees, each tested below with plain calls:
//! - a task is held by at most one pool at a time, and a pool never holds more than
//!   its workers plus `prefetch_capacity`;
//! - when a pool is lost (disconnected, or silent past `heartbeat_threshold`), every
//!   task it held is reported lost exactly once, and a late result for one of them
//!   is refused, so no task completes twice;
//! - a pool that is draining gets no new tasks;
//! - tasks with a priority go first, the lowest first, then by task id (Parsl's
//!   `priority` resource specification); the rest follow in the order they came.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::time::{Duration, Instant};

use chervil_proto::{tokens_match, Hello, PROTOCOL_VERSION};

pub type TaskId = u64;
pub type PoolId = u32;

#[derive(Debug, Clone)]
pub struct InterchangeConfig {
    /// Tasks a pool may hold beyond one per worker, to hide the round trip.
    pub prefetch_capacity: u32,
    /// Silence after which a pool is declared lost.
    pub heartbeat_threshold: Duration,
    /// How often a pool is sent a heartbeat when nothing else is sent to it.
    pub heartbeat_period: Duration,
    /// The run's secret, which a pool must present.
    pub token: Vec<u8>,
    /// Which pool with a free slot gets tasks first.
    pub selector: ManagerSelector,
}

/// The order in which pools with free slots are given tasks (Parsl's
/// `manager_selector`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManagerSelector {
    /// Each round starts after the pool served last: load spreads evenly (the default).
    #[default]
    RoundRobin,
    /// Each round starts at a pool picked at random (Parsl's `RandomManagerSelector`).
    Random,
    /// The newest block first (the highest number; pools whose block is not a number
    /// last): tasks fill the newest blocks and leave the oldest idle, so the strategy
    /// scales those in (Parsl's `BlockIdManagerSelector`, whose interchange takes
    /// managers from the end of the sorted list).
    BlockId,
}

/// What a pool told us about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolInfo {
    pub hostname: String,
    pub block_id: String,
    pub workers: u32,
    pub cores: u32,
    pub memory_mb: u64,
    /// The Python its workers run, and the Chervil it runs.
    pub python_version: String,
    pub package_version: String,
}

/// Why a pool was refused; the text is sent to it, and logged on both sides.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the pool presented the wrong secret token; it was not started by this run")]
    WrongToken,
    #[error("protocol version mismatch: the pool speaks version {pool}, this interchange version {interchange}; install the same Chervil version on the workers as on the client")]
    VersionMismatch { pool: u16, interchange: u16 },
    #[error("the pool offers no workers; check max_workers_per_node, cores_per_worker and mem_per_worker against the node")]
    NoWorkers,
    #[error("block {0} was scaled in; its pools take no more tasks")]
    Retired(String),
}

/// Why tasks were lost with their pool (Parsl's `ManagerLost`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolLoss {
    pub pool: PoolId,
    pub hostname: String,
    pub why: String,
}

/// What the socket side must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these tasks' payloads to the pool, in one frame.
    Send { pool: PoolId, tasks: Vec<TaskId> },
    /// Send the pool a heartbeat.
    Heartbeat { pool: PoolId },
    /// Close the pool's connection (its tasks, if any, are reported by `Lost`).
    Close { pool: PoolId },
    /// Tell the pool to finish and exit: its block is being scaled in.
    Retire { pool: PoolId },
    /// These tasks died with their pool: fail each with ManagerLost (retries apply).
    Lost { tasks: Vec<TaskId>, loss: PoolLoss },
}

#[derive(Debug)]
struct Pool {
    info: PoolInfo,
    capacity: u32,
    held: HashSet<TaskId>,
    last_heard: Instant,
    last_sent: Instant,
    draining: bool,
    /// Since when the pool has held no task (None while it holds some).
    idle_since: Option<Instant>,
    /// Its block's place in `BlockId` order: the block's number + 1, or 0 when it has none.
    rank: u64,
}

/// Capacity figures for the scaling strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    pub pending: usize,
    pub held: usize,
    pub capacity: u64,
    pub pools: usize,
}

#[derive(Debug)]
pub struct Interchange {
    config: InterchangeConfig,
    pending: Pending,
    pools: BTreeMap<PoolId, Pool>,
    next_pool: PoolId,
    /// Pools that could take a task now (not draining, below capacity): dispatch
    /// visits only these, so its cost follows the tasks sent, not the pools connected
    /// (a round over a thousand pools for every result was the interchange's limit).
    open: BTreeSet<PoolId>,
    /// The same pools by block (`ManagerSelector::BlockId` only).
    ranked: BTreeSet<(u64, PoolId)>,
    /// Where the last dispatch round stopped, so rounds start at different pools.
    cursor: PoolId,
    /// `ManagerSelector::Random`'s generator (xorshift; no need for more).
    random: u64,
    /// Blocks being scaled in: their pools get no tasks, and late pools are refused.
    retired: HashSet<String>,
    /// Every block a pool has registered from, in the order they first did (Parsl's
    /// `connected_blocks`: a block whose pools have left stays listed). A block that
    /// ends without ever being here is `MISSING` (`chervil_scaling::BlockBook`).
    blocks_seen: Vec<String>,
}

impl Interchange {
    pub fn new(config: InterchangeConfig) -> Self {
        Interchange {
            config,
            pending: Pending::default(),
            pools: BTreeMap::new(),
            open: BTreeSet::new(),
            ranked: BTreeSet::new(),
            next_pool: 0,
            cursor: 0,
            random: 0x9E37_79B9_7F4A_7C15,
            retired: HashSet::new(),
            blocks_seen: Vec::new(),
        }
    }

    /// A task is ready to run.
    pub fn submit(&mut self, task: TaskId, now: Instant) -> Vec<Action> {
        self.submit_all([task], now)
    }

    /// Tasks are ready to run: one dispatch round for all of them, so a pool gets
    /// them in as few frames as its free slots allow.
    pub fn submit_all(&mut self, tasks: impl IntoIterator<Item = TaskId>, now: Instant) -> Vec<Action> {
        self.pending.fifo.extend(tasks);
        self.dispatch(now)
    }

    /// [`Interchange::submit_all`] for tasks that may carry a priority (finite; lower
    /// runs first). Tasks without one run after every task with one.
    pub fn submit_prioritized(&mut self, tasks: impl IntoIterator<Item = (TaskId, Option<f64>)>, now: Instant) -> Vec<Action> {
        for (task, priority) in tasks {
            match priority {
                Some(p) => {
                    self.pending.ranked.insert((Priority(p), task));
                }
                None => self.pending.fifo.push_back(task),
            }
        }
        self.dispatch(now)
    }

    /// A pool's Hello arrived. On success it is given an id and, at once, tasks.
    pub fn register(&mut self, hello: &Hello, now: Instant) -> Result<(PoolId, Vec<Action>), Rejection> {
        if !tokens_match(&self.config.token, &hello.token) {
            return Err(Rejection::WrongToken);
        }
        if hello.version != PROTOCOL_VERSION {
            return Err(Rejection::VersionMismatch { pool: hello.version, interchange: PROTOCOL_VERSION });
        }
        if hello.workers == 0 {
            return Err(Rejection::NoWorkers);
        }
        if self.retired.contains(&hello.block_id) {
            return Err(Rejection::Retired(hello.block_id.clone()));
        }
        let id = self.next_pool;
        self.next_pool += 1;
        let info = PoolInfo {
            hostname: hello.hostname.clone(),
            block_id: hello.block_id.clone(),
            workers: hello.workers,
            cores: hello.cores,
            memory_mb: hello.memory_mb,
            python_version: hello.python_version.clone(),
            package_version: hello.package_version.clone(),
        };
        tracing::info!(pool = id, host = %info.hostname, block = %info.block_id, workers = info.workers, "pool registered");
        if !self.blocks_seen.contains(&info.block_id) {
            self.blocks_seen.push(info.block_id.clone());
        }
        self.pools.insert(
            id,
            Pool {
                capacity: hello.workers.saturating_add(self.config.prefetch_capacity),
                info,
                held: HashSet::new(),
                last_heard: now,
                last_sent: now,
                draining: false,
                idle_since: Some(now),
                rank: hello.block_id.trim().parse::<u64>().map_or(0, |b| b.saturating_add(1)),
            },
        );
        self.reopen(id);
        Ok((id, self.dispatch(now)))
    }

    /// Results arrived from a pool. Returns the tasks whose results count (to be
    /// forwarded to the client) and the actions that follow; results for tasks the
    /// pool does not hold — stale, after the pool was declared lost — are dropped.
    pub fn results(&mut self, pool: PoolId, tasks: &[TaskId], now: Instant) -> (Vec<TaskId>, Vec<Action>) {
        let Some(p) = self.pools.get_mut(&pool) else {
            tracing::warn!(pool, count = tasks.len(), "results from a pool that is no longer registered were dropped");
            return (Vec::new(), Vec::new());
        };
        p.last_heard = now;
        let mut accepted = Vec::with_capacity(tasks.len());
        for &t in tasks {
            if p.held.remove(&t) {
                accepted.push(t);
            } else {
                tracing::warn!(pool, task = t, "a result for a task this pool does not hold was dropped");
            }
        }
        if p.held.is_empty() && p.idle_since.is_none() {
            p.idle_since = Some(now);
        }
        self.reopen(pool);
        (accepted, self.dispatch(now))
    }

    /// Any frame from the pool shows it is alive.
    pub fn heard_from(&mut self, pool: PoolId, now: Instant) {
        if let Some(p) = self.pools.get_mut(&pool) {
            p.last_heard = now;
        }
    }

    /// The pool will take no more tasks.
    pub fn draining(&mut self, pool: PoolId, now: Instant) -> Vec<Action> {
        if let Some(p) = self.pools.get_mut(&pool) {
            p.draining = true;
            p.last_heard = now;
        }
        self.close(pool);
        Vec::new()
    }

    /// The pool's connection closed (or broke, or sent garbage).
    pub fn disconnected(&mut self, pool: PoolId, why: &str, now: Instant) -> Vec<Action> {
        let mut out = self.lose(pool, why);
        out.extend(self.dispatch(now));
        out
    }

    /// Time passed: pools silent too long are lost; quiet links get heartbeats.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let threshold = self.config.heartbeat_threshold;
        let silent: Vec<PoolId> = self
            .pools
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last_heard) > threshold)
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for id in silent {
            out.push(Action::Close { pool: id });
            out.extend(self.lose(id, &format!("no message for more than {} s (heartbeat_threshold)", threshold.as_secs_f64())));
        }
        for (id, p) in self.pools.iter_mut() {
            if now.saturating_duration_since(p.last_sent) >= self.config.heartbeat_period {
                p.last_sent = now;
                out.push(Action::Heartbeat { pool: *id });
            }
        }
        out.extend(self.dispatch(now));
        out
    }

    pub fn load(&self) -> Load {
        Load {
            pending: self.pending.len(),
            held: self.pools.values().map(|p| p.held.len()).sum(),
            capacity: self.pools.values().filter(|p| !p.draining).map(|p| u64::from(p.capacity)).sum(),
            pools: self.pools.len(),
        }
    }

    /// Scales in `block`: its pools get no more tasks and are told to exit, and
    /// pools of it that connect later are refused. With `only_if_idle`, nothing
    /// changes when the block's pools hold tasks: `Err` gives how many.
    pub fn retire_block(&mut self, block: &str, only_if_idle: bool) -> Result<Vec<Action>, usize> {
        let ids: Vec<PoolId> = self.pools.iter().filter(|(_, p)| p.info.block_id == block).map(|(id, _)| *id).collect();
        let held: usize = ids.iter().filter_map(|id| self.pools.get(id)).map(|p| p.held.len()).sum();
        if only_if_idle && held > 0 {
            return Err(held);
        }
        self.retired.insert(block.to_string());
        tracing::info!(block, pools = ids.len(), held, "block retired");
        Ok(ids
            .into_iter()
            .filter_map(|id| {
                let p = self.pools.get_mut(&id)?;
                p.draining = true;
                self.close(id);
                Some(Action::Retire { pool: id })
            })
            .collect())
    }

    /// How long the pool has held no task (None while it holds some).
    pub fn idle_for(&self, pool: PoolId, now: Instant) -> Option<Duration> {
        self.pools.get(&pool)?.idle_since.map(|t| now.saturating_duration_since(t))
    }

    pub fn pool(&self, pool: PoolId) -> Option<&PoolInfo> {
        self.pools.get(&pool).map(|p| &p.info)
    }

    /// Every block a pool has registered from, in the order they first did.
    pub fn connected_blocks(&self) -> &[String] {
        &self.blocks_seen
    }

    /// Whether the pool has said it takes no more tasks (its `drain_period` is over).
    pub fn is_draining(&self, pool: PoolId) -> bool {
        self.pools.get(&pool).is_some_and(|p| p.draining)
    }

    /// Tasks a pool holds now (for tests and status).
    pub fn held_by(&self, pool: PoolId) -> Vec<TaskId> {
        let mut v: Vec<TaskId> = self.pools.get(&pool).map(|p| p.held.iter().copied().collect()).unwrap_or_default();
        v.sort_unstable();
        v
    }

    fn lose(&mut self, pool: PoolId, why: &str) -> Vec<Action> {
        self.close(pool);
        let Some(p) = self.pools.remove(&pool) else { return Vec::new() };
        let mut tasks: Vec<TaskId> = p.held.into_iter().collect();
        tasks.sort_unstable();
        tracing::warn!(pool, host = %p.info.hostname, lost = tasks.len(), why, "pool lost");
        if tasks.is_empty() {
            return Vec::new();
        }
        vec![Action::Lost { tasks, loss: PoolLoss { pool, hostname: p.info.hostname, why: why.to_string() } }]
    }

    /// Puts the pool in (or takes it out of) the set dispatch looks at.
    fn reopen(&mut self, id: PoolId) {
        match self.pools.get(&id) {
            Some(p) if !p.draining && p.held.len() < p.capacity as usize => {
                self.open.insert(id);
                if self.config.selector == ManagerSelector::BlockId {
                    self.ranked.insert((p.rank, id));
                }
            }
            _ => self.close(id),
        };
    }

    /// Takes the pool out of the sets dispatch looks at.
    fn close(&mut self, id: PoolId) {
        if self.open.remove(&id) && self.config.selector == ManagerSelector::BlockId {
            if let Some(p) = self.pools.get(&id) {
                self.ranked.remove(&(p.rank, id));
            } else {
                self.ranked.retain(|&(_, pool)| pool != id);
            }
        }
    }

    /// The pool to serve next, as the selector orders them.
    fn next_open(&mut self) -> Option<PoolId> {
        match self.config.selector {
            ManagerSelector::BlockId => self.ranked.iter().next_back().map(|&(_, id)| id),
            ManagerSelector::RoundRobin | ManagerSelector::Random => {
                self.open.range(self.cursor..).next().or_else(|| self.open.iter().next()).copied()
            }
        }
    }

    /// Hands pending tasks to pools with free slots, one batch per pool, starting
    /// after the pool that was served last so load spreads evenly.
    fn dispatch(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.config.selector == ManagerSelector::Random && !self.pending.is_empty() && self.next_pool > 0 {
            self.random ^= self.random << 13;
            self.random ^= self.random >> 7;
            self.random ^= self.random << 17;
            self.cursor = (self.random % u64::from(self.next_pool)) as PoolId;
        }
        while !self.pending.is_empty() {
            let Some(id) = self.next_open() else { break };
            self.cursor = id.wrapping_add(1);
            let Some(p) = self.pools.get_mut(&id) else {
                self.close(id);
                continue;
            };
            let free = (p.capacity as usize).saturating_sub(p.held.len());
            let n = free.min(self.pending.len());
            // Either the pool is now full, or the queue is empty and the loop ends.
            if n == free {
                self.open.remove(&id);
                self.ranked.remove(&(p.rank, id));
            }
            if n == 0 {
                continue;
            }
            let batch = self.pending.take(n);
            p.held.extend(batch.iter().copied());
            p.last_sent = now;
            p.idle_since = None;
            out.push(Action::Send { pool: id, tasks: batch });
        }
        out
    }
}

/// Tasks waiting for a pool: those with a priority (in order), then the others (in the
/// order they came). Two queues, so a run that uses no priorities pays nothing for them.
#[derive(Debug, Default)]
struct Pending {
    ranked: BTreeSet<(Priority, TaskId)>,
    fifo: VecDeque<TaskId>,
}

impl Pending {
    fn len(&self) -> usize {
        self.ranked.len() + self.fifo.len()
    }

    fn is_empty(&self) -> bool {
        self.ranked.is_empty() && self.fifo.is_empty()
    }

    /// The next `n` tasks (at most).
    fn take(&mut self, n: usize) -> Vec<TaskId> {
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            let Some((_, task)) = self.ranked.pop_first() else { break };
            batch.push(task);
        }
        let rest = (n - batch.len()).min(self.fifo.len());
        batch.extend(self.fifo.drain(..rest));
        batch
    }
}

/// A task's priority, ordered as numbers are (never NaN: refused at submission).
#[derive(Debug, Clone, Copy)]
struct Priority(f64);

impl PartialEq for Priority {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Priority {}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
