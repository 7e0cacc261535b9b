//! The HighThroughputExecutor's engine.
//!
//! [`interchange`] is the dispatch core: which pool gets which task, and what is lost
//! when a pool goes silent. It is a state machine without I/O; the tokio edges that
//! accept pools on a socket, and the `chervil-pool` process that runs workers, are
//! built on it next (issue 3).

pub mod interchange;

pub use interchange::{Action, Interchange, InterchangeConfig, Load, PoolId, PoolInfo, PoolLoss, Rejection, TaskId};
