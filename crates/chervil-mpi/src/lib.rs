//! MPI tasks inside a block, as Parsl runs them with its `MPIExecutor`: a block of
//! several nodes is shared among tasks that each ask for some nodes and ranks
//! (`parsl_resource_specification`), and each task launches its ranks through a
//! prefix (`$PARSL_MPI_PREFIX`) composed for the nodes it was given.
//!
//! Everything here is logic without I/O, so it is tested with plain calls:
//! - [`spec`]: a task's resource specification, checked and completed;
//! - [`hostlist`]: a block's nodes from what the batch scheduler tells the job
//!   (`SLURM_NODELIST`'s compressed form, PBS and Cobalt node files, LSF's host lists);
//! - [`nodes`]: which free nodes each task gets, in submission order;
//! - [`prefix`]: Parsl's launch prefixes and environment, text for text;
//! - [`accept`](mod@accept): what an executor lets a task carry at submission (both fronts ask it);
//! - [`mode`]: what MPI mode needs of the executor itself (both fronts ask it).

pub mod accept;
pub mod hostlist;
pub mod mode;
pub mod nodes;
pub mod prefix;
pub mod spec;

pub use nodes::{Grant, NodeScheduler, ScheduleError};
pub use accept::{accept, take_priority, Refused, PRIORITY};
pub use mode::{check_mode, ModeError};
pub use spec::{MpiSpec, SpecError};
