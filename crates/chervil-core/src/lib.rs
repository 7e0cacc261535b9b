//! The engine's core: the DataFlowKernel as a state machine without I/O.
//!
//! [`Kernel`] holds the task table and the dependency graph and decides what happens
//! next; it knows nothing of Python, sockets or threads. A front feeds it events
//! (a task submitted, a try succeeded or failed, a join app returned futures) and
//! carries out the [`Command`]s it returns (launch this try, complete that future).
//! The Python package and the Rust crate are two such fronts over the same kernel.

mod error;
mod kernel;
pub mod progress;
mod state;

pub use error::KernelError;
pub use kernel::{Command, Dependencies, FailCause, Kernel, KernelConfig, TaskId, TaskInfo, TaskSpec, Transition};
pub use state::TaskState;
