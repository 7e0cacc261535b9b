//! Getting compute and starting pools on it.
//!
//! A *provider* turns "a block" (one job: `nodes_per_block` nodes) into something a
//! scheduler runs, and reports and cancels it. A *launcher* is a pure function from
//! the pool command to the command a job runs, so that the command starts once per
//! node or per rank (single node, srun, mpiexec, …).
//!
//! Job states carry Parsl's `JobState` names and values, which user code and the
//! monitoring database rely on.

pub mod adhoc;
pub mod batch;
pub mod cli;
pub mod launchers;
pub mod local;
pub mod schedulers;

use std::path::PathBuf;

pub use adhoc::AdHocProvider;
pub use local::LocalProvider;
pub use batch::{BatchProvider, BlockSpec, Scheduler};

/// Parsl's `JobState`, with its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum JobState {
    Unknown = 0,
    Pending = 1,
    Running = 2,
    Cancelled = 3,
    Completed = 4,
    Failed = 5,
    Timeout = 6,
    Held = 7,
    Missing = 8,
    ScaledIn = 9,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Cancelled | JobState::Completed | JobState::Failed | JobState::Timeout | JobState::Missing | JobState::ScaledIn
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub state: JobState,
    pub message: Option<String>,
    pub exit_code: Option<i32>,
    pub stdout_path: Option<PathBuf>,
    pub stderr_path: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("cannot write the submit script {path}: {error}")]
    Script { path: PathBuf, error: std::io::Error },
    #[error("cannot start block {job_name}: {error}")]
    Submit { job_name: String, error: String },
    #[error("`{command}` could not run: {error}")]
    Command { command: String, error: String },
    #[error("`{command}` did not finish within {seconds} s (cmd_timeout); is the scheduler responding?")]
    Timeout { command: String, seconds: f64 },
    #[error("`{command}` failed (exit code {code}): {stderr}")]
    Scheduler { command: String, code: i32, stderr: String },
    #[error("{0}")]
    Config(String),
}
