//! Monitoring: what happened in a run, in Parsl's monitoring database.
//!
//! Fronts and engine parts send [`Event`]s — a workflow began, a task was submitted,
//! changed state, a try ran on a host, a block or a node came or went — to a
//! [`Monitor`]. Sending never blocks and never fails: events go over a channel to one
//! writer thread, which turns them into rows of Parsl's tables (`workflow`, `task`,
//! `try`, `status`, `block`, `node`, `resource`; see [`schema`]) and commits them in
//! batches, one transaction each, in WAL mode. A database that cannot be written
//! (read-only, disk full, locked by another program) stops the recording, not the run:
//! the writer logs the first error, counts what it could not record, and [`Monitor::close`]
//! reports both ([`Summary`]).
//!
//! The file is Parsl's: same tables, columns and types, timestamps in SQLAlchemy's
//! SQLite text form, so Parsl's `parsl-visualize` reads a database Chervil wrote,
//! and several runs (Chervil's or Parsl's) share one file.

mod event;
mod many;
pub mod schema;
mod time;
mod writer;

pub use event::{Event, ResourceRow, TaskRow};
pub use time::Clock;
pub use writer::{Monitor, Summary};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(
        "logging_endpoint {0:?} is not supported: Chervil writes monitoring to SQLite only; give \
         'sqlite:///relative/path.db' or 'sqlite:////absolute/path.db' (or leave it unset for \
         runinfo/monitoring.db)"
    )]
    UnsupportedUrl(String),
    #[error("cannot open the monitoring database {path}: {error}")]
    Open { path: PathBuf, error: rusqlite::Error },
    #[error("cannot start the monitoring writer thread: {0}")]
    Thread(std::io::Error),
}

/// The file a `logging_endpoint` names: SQLAlchemy's `sqlite:///path` form (three
/// slashes then the path, so an absolute path has four).
pub fn sqlite_path(url: &str) -> Result<PathBuf, MonitorError> {
    match url.strip_prefix("sqlite:///") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(MonitorError::UnsupportedUrl(url.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_files_and_others_are_refused() {
        assert_eq!(sqlite_path("sqlite:////tmp/x/monitoring.db").unwrap(), PathBuf::from("/tmp/x/monitoring.db"));
        assert_eq!(sqlite_path("sqlite:///runinfo/monitoring.db").unwrap(), PathBuf::from("runinfo/monitoring.db"));
        for bad in ["postgresql://db/parsl", "sqlite://", "sqlite:///", "monitoring.db"] {
            let err = sqlite_path(bad).unwrap_err().to_string();
            assert!(err.contains("SQLite only") && err.contains(bad), "{err}");
        }
    }
}
