//! What a task can fail with: Parsl's exceptions, as one enum.

use serde::{Deserialize, Serialize};

/// Why an [`AppFuture`](crate::AppFuture) holds no value. The cases and their words
/// follow Parsl's exceptions, so a user of both sees the same failures.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum Error {
    /// The app returned `Err(e)`: `e`'s type name and its `Display` text.
    #[error("{type_name}: {message}")]
    App { type_name: String, message: String },
    /// The app panicked; the panic's message.
    #[error("the app panicked: {0}")]
    Panicked(String),
    /// A bash app's command exited with a code other than 0 (Parsl's `BashExitFailure`).
    #[error("bash app {app} failed with unix exit code {code}")]
    BashExitFailure { app: String, code: i32 },
    /// The task ran longer than its `walltime` (Parsl's `AppTimeout`). On a
    /// HighThroughputExecutor it was stopped: a Rust body with a walltime runs in a
    /// process of its own, killed with what it started at the deadline; a bash app's
    /// command is killed with its process group. On a `ThreadPoolExecutor` a Rust body
    /// cannot be stopped and runs on to its end (its result is dropped).
    #[error("task {app} exceeded its walltime of {seconds} s")]
    AppTimeout { app: String, seconds: f64 },
    /// A task this one depended on failed: each failed dependency and its error
    /// (Parsl's `DependencyError`). Each is named `"task N"`, N being the failed task's
    /// [`AppFuture::tid`](crate::AppFuture::tid); its error is the dependency's own (a
    /// `DependencyError` itself when the failure came from further up).
    #[error("dependency failure for task {task}: {}", describe(.failed))]
    DependencyError { task: u64, failed: Vec<(String, Error)> },
    /// A future a join app returned failed (Parsl's `JoinError`).
    #[error("join failure for task {task}: {}", describe(.failed))]
    JoinError { task: u64, failed: Vec<(String, Error)> },
    /// The worker process running the task died (Parsl's `WorkerLost`).
    #[error("a worker on {host} was lost running the task: {why}")]
    WorkerLost { host: String, why: String },
    /// The pool holding the task was lost (Parsl's `ManagerLost`).
    #[error("the pool on {host} holding the task was lost: {why}")]
    ManagerLost { host: String, why: String },
    /// An argument or a result could not be encoded or decoded.
    #[error("cannot {what}: {why}")]
    Serialization { what: String, why: String },
    /// The worker did not know the app: it runs a different build of the program.
    #[error("the worker has no app {0}; workers run the client's own program, so rebuild and restart both together")]
    UnknownApp(String),
    /// The executor cannot take the task (it is shut down, or the config is wrong).
    #[error("{0}")]
    Executor(String),
    /// A file could not be copied to or from where the task ran (rsync staging; the
    /// fetch of a remote input fails its own task with a [`StagingError`](crate::StagingError)).
    #[error("could not stage {file}: {why}")]
    Staging { file: String, why: String },
    /// The app succeeded but did not write these of its `outputs` (Parsl's `MissingOutputs`).
    #[error("app {app} is missing outputs {files:?}: {why}")]
    MissingOutputs { app: String, files: Vec<String>, why: String },
    /// The task's resource specification does not fit its executor (Parsl's
    /// `InvalidResourceSpecification`): the keys at fault and what to do instead.
    #[error("invalid resource specification keys {keys:?}: {message}")]
    InvalidResourceSpecification { keys: Vec<String>, message: String },
}

fn describe(failed: &[(String, Error)]) -> String {
    failed.iter().map(|(what, e)| format!("{what}: {e}")).collect::<Vec<_>>().join("; ")
}

impl Error {
    pub(crate) fn serialization(what: impl Into<String>, why: impl std::fmt::Display) -> Self {
        Error::Serialization { what: what.into(), why: why.to_string() }
    }
}
