//! The HighThroughputExecutor's engine.
//!
//! - [`interchange`]: the dispatch core — which pool gets which task, and what is lost
//!   when a pool goes silent. A state machine without I/O, tested with plain calls.
//! - [`server`]: the interchange's sockets (tokio, in the client process) around that
//!   core, and the queue the client drains results from in batches.
//! - [`pool`]: the worker pool that runs on compute nodes (`chervil-pool`): registers,
//!   supervises `python -m chervil.worker` processes, forwards tasks over pipes.
//! - [`link`]: how a connected socket becomes the protocol's link, on either end.
//! - [`local`]: the interchange's Unix socket for pools on the client's own machine.
//! - [`tls`]: TLS for links that leave the machine, with a per-run certificate that
//!   pools pin by fingerprint.

mod frames;
pub mod interchange;
pub mod link;
pub mod local;
mod outbox;
pub mod pool;
mod procfs;
pub mod server;
pub mod slots;
pub mod tls;

pub use interchange::{Action, Interchange, InterchangeConfig, Load, ManagerSelector, PoolId, PoolInfo, PoolLoss, Rejection, TaskId};
pub use slots::{NodeShape, WorkerSlots, MPI_CORES_PER_WORKER};
pub use link::{Plain, Transport};
pub use server::{BlockLoad, ClientEvent, InterchangeHandle, PoolSeen, Queued, ResultsHook, ServerConfig, ServerError};
pub use tls::{PinnedTlsConnector, TlsAcceptor, TlsError, TlsIdentity};
