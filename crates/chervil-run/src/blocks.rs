//! An executor's blocks as both fronts keep them: the engine's [`BlockBook`] (which
//! blocks exist, their jobs, when to poll, what to cancel), with every change of a
//! block's state logged and recorded in monitoring's `block` table here, once.
//!
//! The fronts only carry out what the book says through their provider: the Rust
//! front through `chervil-providers` directly, the Python front through whatever
//! `ExecutionProvider` the script gave (Chervil's own call the same providers).

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chervil_htex::BlockLoad;
use chervil_monitor::{Clock, Event, Monitor};
use chervil_providers::JobStatus;
use chervil_scaling::{BlockBook, Change, Load, NewBlock};

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

    pub fn start_failed(&mut self, block: &str, why: &str) {
        let change = self.book.start_failed(block, why);
        tracing::error!(executor = %self.book.label(), block, why, "block could not be started");
        self.record([change]);
    }

    pub fn poll_soon(&mut self) {
        self.book.poll_soon();
    }

    pub fn polled(&mut self, now: Instant, answers: impl IntoIterator<Item = (String, JobStatus)>) {
        let changes = self.book.polled(now, answers);
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
pub fn load_from(loads: &BTreeMap<String, BlockLoad>) -> impl Fn(&str) -> Option<Load> + '_ {
    |block| loads.get(block).map(|l| Load { pools: l.pools, held: l.held, idle_for: l.idle_for })
}
