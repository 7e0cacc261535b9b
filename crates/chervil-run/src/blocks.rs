//! An executor's blocks as both fronts keep them: the engine's [`BlockBook`] (which
//! blocks exist, their jobs, when to poll, what to cancel), with every change of a
//! block's state logged and recorded in monitoring's `block` table here, once.
//!
//! The fronts only carry out what the book says through their provider: the Rust
//! front through `chervil-providers` directly, the Python front through whatever
//! `ExecutionProvider` the script gave (Chervil's own call the same providers).

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chervil_htex::BlockLoad;
use chervil_monitor::{Clock, Event, Monitor};
use chervil_providers::JobStatus;
use chervil_scaling::{BlockBook, Change, Decision, Load, NewBlock, Scaler};

/// See the module doc. Reads go straight to the book (`Deref`); what changes a
/// block's state goes through here, so no change is missed by the log or monitoring.
pub struct Blocks {
    book: BlockBook,
    monitor: Option<Arc<Monitor>>,
}

impl Deref for Blocks {
    type Target = BlockBook;
    fn deref(&self) -> &BlockBook {
        &self.book
    }
}

impl Blocks {
    /// The blocks of executor `label`, its provider polled at most every `poll_every`.
    pub fn new(label: impl Into<String>, poll_every: Duration, monitor: Option<Arc<Monitor>>) -> Self {
        Blocks { book: BlockBook::new(label, poll_every), monitor }
    }

    /// From now on block changes are recorded in `monitor` too.
    pub fn set_monitor(&mut self, monitor: Option<Arc<Monitor>>) {
        self.monitor = monitor;
    }

    pub fn next_block(&mut self) -> NewBlock {
        self.book.next_block()
    }

    pub fn started(&mut self, block: &str, job: &str) {
        let change = self.book.started(block, job);
        tracing::info!(executor = %self.book.label(), block, job, "block started");
        self.record([change]);
    }

    pub fn start_failed(&mut self, block: &str, why: &str, pools_register: bool) {
        let change = self.book.start_failed(block, why, pools_register);
        tracing::error!(executor = %self.book.label(), block, why, "block could not be started");
        self.record([change]);
    }

    pub fn poll_soon(&mut self) {
        self.book.poll_soon();
    }

    pub fn set_poll_every(&mut self, every: Duration) {
        self.book.set_poll_every(every);
    }

    pub fn polled(&mut self, now: Instant, answers: impl IntoIterator<Item = (String, JobStatus)>, registered: Option<&[String]>) {
        let changes = self.book.polled(now, answers, registered);
        self.record(changes);
    }

    pub fn poll_failed(&mut self, now: Instant, why: &str) {
        tracing::warn!(executor = %self.book.label(), why, "the provider could not say how the blocks are; asking again later");
        self.book.poll_failed(now);
    }

    /// `blocks` were drained: the jobs to cancel (they are `SCALED_IN` now).
    pub fn retired(&mut self, blocks: &[String]) -> Vec<String> {
        let (jobs, changes) = self.book.retired(blocks);
        self.record(changes);
        jobs
    }

    /// Every job to cancel at shutdown (the blocks not ended are `SCALED_IN` now).
    pub fn shutdown(&mut self) -> Vec<String> {
        let (jobs, changes) = self.book.shutdown();
        self.record(changes);
        jobs
    }

    fn record(&self, changes: impl IntoIterator<Item = Change>) {
        let label = self.book.label();
        for c in changes {
            match &c.message {
                Some(m) => tracing::info!(executor = %label, block = %c.block, state = c.state.name(), message = %m, "block state"),
                None => tracing::info!(executor = %label, block = %c.block, state = c.state.name(), "block state"),
            }
            if let Some(monitor) = &self.monitor {
                monitor.send(Event::Block {
                    executor: label.to_string(),
                    block_id: c.block,
                    job_id: c.job,
                    status: c.state.name().to_string(),
                    at_us: Clock::now_us(),
                });
            }
        }
    }
}

/// The interchange's [`BlockLoad`]s as the book reads them.
pub fn load_from(loads: BTreeMap<String, BlockLoad>) -> BTreeMap<String, Load> {
    loads.into_iter().map(|(b, l)| (b, Load { pools: l.pools, held: l.held, idle_for: l.idle_for })).collect()
}

/// What a front does for its blocks: the calls to its provider and its interchange.
/// The driver functions below ([`start`], [`poll`], [`retire`], [`round`], [`shutdown`])
/// decide, in the same order on both fronts, and call these; they never hold the book's
/// lock while a front call runs (a Python provider may take seconds, or call back).
pub trait BlockFront {
    /// Submits a block's job; its id, or why not (the scheduler's words).
    fn submit(&mut self, block: &str, job_name: &str) -> Result<String, String>;
    /// The status of each of these jobs, in order; or why the provider could not say.
    fn status(&mut self, jobs: &[String]) -> Result<Vec<JobStatus>, String>;
    /// Cancels these jobs (a failure is the front's to log).
    fn cancel(&mut self, jobs: &[String]);
    /// Stops sending `block` work and tells its pools to leave; false (and nothing
    /// changed) when it holds tasks and `only_if_idle`.
    fn retire(&mut self, block: &str, only_if_idle: bool) -> bool;
    /// Tasks not yet finished, and what each connected block's pools are doing.
    fn load(&mut self) -> (usize, BTreeMap<String, Load>);
    /// Every block whose pools ever registered with the interchange; None for an
    /// executor whose workers do not register (then no block is `MISSING` for it).
    fn registered_blocks(&mut self) -> Option<Vec<String>>;
    /// The executor's block error handler, after a poll: true once the executor has
    /// stopped (then no block is started or retired).
    fn judge(&mut self, book: &BlockBook) -> bool;
}

fn lock(blocks: &Mutex<Blocks>) -> MutexGuard<'_, Blocks> {
    blocks.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts `n` blocks; their ids. A block the provider refuses is a failed block, and
/// the error says why (the blocks before it are started).
pub fn start(blocks: &Mutex<Blocks>, front: &mut dyn BlockFront, n: u32) -> Result<Vec<String>, String> {
    let mut new = Vec::new();
    for _ in 0..n {
        let b = lock(blocks).next_block();
        match front.submit(&b.id, &b.job_name) {
            Ok(job) => {
                lock(blocks).started(&b.id, &job);
                new.push(b.id);
            }
            Err(why) => {
                let why = format!("the provider could not start block {}: {why}", b.id);
                let pools_register = front.registered_blocks().is_some();
                lock(blocks).start_failed(&b.id, &why, pools_register);
                return Err(why);
            }
        }
    }
    Ok(new)
}

/// Asks the provider about the blocks not yet ended when a poll is due (or `force`).
pub fn poll(blocks: &Mutex<Blocks>, front: &mut dyn BlockFront, force: bool) {
    let now = Instant::now();
    let live = {
        let book = lock(blocks);
        if !force && !book.poll_due(now) {
            return;
        }
        book.live_jobs()
    };
    if live.is_empty() {
        lock(blocks).polled(now, [], None);
        return;
    }
    let jobs: Vec<String> = live.iter().map(|(_, job)| job.clone()).collect();
    match front.status(&jobs) {
        Ok(answers) => {
            // asked after the status, so a pool that registered before its job ended is counted
            let registered = front.registered_blocks();
            lock(blocks).polled(now, live.into_iter().map(|(block, _)| block).zip(answers), registered.as_deref());
        }
        Err(why) => lock(blocks).poll_failed(now, &why),
    }
}

/// Retires `chosen` blocks (only idle ones unless `force`) and cancels their jobs; the
/// ones retired. A block that took a task first is kept, and `scaler` counts it again.
pub fn retire(
    blocks: &Mutex<Blocks>,
    front: &mut dyn BlockFront,
    chosen: Vec<String>,
    force: bool,
    mut scaler: Option<&mut Scaler>,
) -> Vec<String> {
    let label = lock(blocks).label().to_string();
    let mut retired = Vec::new();
    for b in chosen {
        if front.retire(&b, !force) {
            retired.push(b);
        } else {
            tracing::info!(executor = %label, block = %b, "the block took a task before it could be retired; kept");
            if let Some(s) = scaler.as_deref_mut() {
                s.keep(&b);
            }
        }
    }
    let jobs = lock(blocks).retired(&retired);
    if !jobs.is_empty() {
        front.cancel(&jobs);
    }
    retired
}

/// One strategy round: poll when due, let the error handler judge, then at most one
/// scaling decision of `scaler` (none with the `none` strategy), carried out.
pub fn round(blocks: &Mutex<Blocks>, scaler: Option<&mut Scaler>, front: &mut dyn BlockFront) {
    poll(blocks, front, false);
    let stopped = {
        // the handler reads a snapshot: it may call back into the book
        let book = lock(blocks).book.clone();
        front.judge(&book)
    };
    if stopped {
        return;
    }
    let Some(scaler) = scaler else { return };
    let (outstanding, load) = front.load();
    let views = lock(blocks).views(|b| load.get(b).copied());
    let label = lock(blocks).label().to_string();
    match scaler.step(Instant::now(), outstanding, &views) {
        None => {}
        Some(Decision::ScaleOut { blocks: n, reason }) => {
            tracing::info!(executor = %label, blocks = n, %reason, "scaling out");
            if let Err(why) = start(blocks, front, n) {
                tracing::error!(executor = %label, %why, "scaling out failed; counted as a failed block");
            }
        }
        Some(Decision::ScaleIn { blocks: chosen, reason }) => {
            tracing::info!(executor = %label, blocks = ?chosen, %reason, "scaling in");
            retire(blocks, front, chosen, false, Some(scaler));
        }
    }
}

/// At shutdown: every block's job cancelled, the blocks not ended `SCALED_IN`.
pub fn shutdown(blocks: &Mutex<Blocks>, front: &mut dyn BlockFront) {
    let jobs = lock(blocks).shutdown();
    if !jobs.is_empty() {
        front.cancel(&jobs);
    }
}
