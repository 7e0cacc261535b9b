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

/// Files that may hold the run's secret (a block's script, its output), created with
/// their final mode: a file written first and `chmod`ed after is readable by anyone in
/// between (a reader got the token that way 3 times in 6 with a 0755 run directory).
pub mod private_file {
    use std::fs::{self, File, OpenOptions};
    use std::io::{self, Write};
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::Path;

    /// A new file at `path` with `mode` from its first byte. An old file there is
    /// removed, not truncated: someone who opened it while it was readable could still
    /// read what a truncating write puts in it.
    pub fn create(path: &Path, mode: u32) -> io::Result<File> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        OpenOptions::new().write(true).create_new(true).mode(mode).open(path)
    }

    /// [`create`], then `text` in it.
    pub fn write(path: &Path, text: &str, mode: u32) -> io::Result<()> {
        create(path, mode)?.write_all(text.as_bytes())
    }

    #[cfg(test)]
    mod tests {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};

        #[test]
        fn a_readable_old_file_is_replaced_not_reused() {
            let dir = std::env::temp_dir().join(format!("chervil-private-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("block.sh");
            std::fs::write(&path, "old").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            // Someone opened it while it was readable.
            let reader = std::fs::File::open(&path).unwrap();
            let old_inode = reader.metadata().unwrap().ino();
            super::write(&path, "export SECRET=1", 0o700).unwrap();
            let meta = std::fs::metadata(&path).unwrap();
            assert_eq!(meta.mode() & 0o777, 0o700);
            assert_ne!(meta.ino(), old_inode, "the reader's open file must not receive the secret");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "export SECRET=1");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

use std::path::PathBuf;

/// How often local blocks are asked about by default: every second, where Parsl waits
/// five — asking about processes on this machine costs nothing, and a block that dies
/// before its pool connects is then noticed within a second. Batch schedulers say their
/// own ([`batch::Scheduler::status_polling_interval`]).
pub const LOCAL_STATUS_POLLING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// How often ad hoc blocks are asked about by default (each poll is an `ssh` per host).
pub const ADHOC_STATUS_POLLING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// How often Parsl asks a batch scheduler, a cloud or Kubernetes about its blocks by
/// default (a minute: every one of Parsl's cluster and cloud providers says so).
pub const BATCH_STATUS_POLLING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// What asks about blocks, for [`default_status_polling_interval`].
#[derive(Clone, Copy)]
pub enum BlockSource<'a> {
    Local,
    AdHoc,
    /// A batch scheduler; `None` for a cloud or Kubernetes, which are made with their
    /// settings rather than by name.
    Batch(Option<&'a dyn batch::Scheduler>),
}

/// How often blocks are asked about when the provider's `status_polling_interval` is not
/// set: the one rule both fronts follow.
pub fn default_status_polling_interval(source: BlockSource<'_>) -> std::time::Duration {
    match source {
        BlockSource::Local => LOCAL_STATUS_POLLING_INTERVAL,
        BlockSource::AdHoc => ADHOC_STATUS_POLLING_INTERVAL,
        BlockSource::Batch(Some(scheduler)) => scheduler.status_polling_interval(),
        BlockSource::Batch(None) => BATCH_STATUS_POLLING_INTERVAL,
    }
}

pub use adhoc::AdHocProvider;
pub use local::LocalProvider;
pub use batch::{BatchProvider, BlockSpec, CommandRunner, Scheduler};

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
    /// Parsl's name (`JobState.<name>`), as monitoring's `block` rows hold it.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Unknown => "UNKNOWN",
            JobState::Pending => "PENDING",
            JobState::Running => "RUNNING",
            JobState::Cancelled => "CANCELLED",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Timeout => "TIMEOUT",
            JobState::Held => "HELD",
            JobState::Missing => "MISSING",
            JobState::ScaledIn => "SCALED_IN",
        }
    }

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
