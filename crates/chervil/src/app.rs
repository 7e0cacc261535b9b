//! Apps as the runtime sees them: a name and a runner, registered at compile time, so
//! a worker — the same program started again — finds any app by its name.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::{self, RunOptions};
use crate::error::Error;
use crate::future::{AppFuture, Slot};

/// One app: what `#[chervil::app]` (and the bash and join forms) generate.
#[doc(hidden)]
pub struct AppDef {
    /// `module::path::function`: how a worker finds it.
    pub name: &'static str,
    /// `#[app(cache)]`: results are memoized on the encoded arguments.
    pub cache: bool,
    pub runner: Runner,
}

impl std::fmt::Debug for AppDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppDef({})", self.name)
    }
}

/// An app body called on its encoded arguments, returning its encoded result.
#[doc(hidden)]
pub type ValueRunner = fn(&[&[u8]]) -> Result<Vec<u8>, Error>;

/// How an app's body is called: each takes the encoded arguments.
#[doc(hidden)]
pub enum Runner {
    /// Returns the encoded result.
    Value(ValueRunner),
    /// Returns the command line for `bash -c`.
    Bash(fn(&[&[u8]]) -> Result<String, Error>),
    /// Runs in the client and returns futures to wait for.
    Join(fn(&[&[u8]]) -> Result<Joined, Error>),
}

/// An app in the program's registry (collected with `inventory`).
#[doc(hidden)]
pub struct Registered(pub &'static AppDef);

inventory::collect!(Registered);

/// The app of this program named `name`.
pub(crate) fn find(name: &str) -> Option<&'static AppDef> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static AppDef>> = OnceLock::new();
    BY_NAME
        .get_or_init(|| inventory::iter::<Registered>.into_iter().map(|r| (r.0.name, r.0)).collect())
        .get(name)
        .copied()
}

/// What a join app's body returned: the futures the task waits for.
#[doc(hidden)]
pub struct Joined {
    pub(crate) slots: Vec<Arc<Slot>>,
    /// A list (the result is a `Vec` of their values) or one future (its value).
    pub(crate) list: bool,
}

/// What a join app may return: one future, or a list of them.
#[doc(hidden)]
pub trait IntoJoined {
    type Output;
    fn into_joined(self) -> Joined;
}

impl<T> IntoJoined for AppFuture<T> {
    type Output = T;
    fn into_joined(self) -> Joined {
        Joined { slots: vec![self.slot], list: false }
    }
}

impl<T> IntoJoined for Vec<AppFuture<T>> {
    type Output = Vec<T>;
    fn into_joined(self) -> Joined {
        Joined { slots: self.into_iter().map(|f| f.slot).collect(), list: true }
    }
}

#[doc(hidden)]
pub fn decode_arg<T: DeserializeOwned>(args: &[&[u8]], index: usize, name: &str) -> Result<T, Error> {
    let bytes = args
        .get(index)
        .ok_or_else(|| Error::serialization(format!("decode argument {name}"), "the task carries too few arguments"))?;
    codec::decode(bytes, &format!("argument {name}"))
}

#[doc(hidden)]
pub fn encode_result<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    codec::encode(value, "the result")
}

/// An app's `Err(e)`: its type and text travel back to the client.
#[doc(hidden)]
pub fn app_error<E: std::fmt::Display>(e: E) -> Error {
    Error::App { type_name: std::any::type_name::<E>().to_string(), message: e.to_string() }
}

/// Where an app runs, which decides how its walltime is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A thread of the client's pool: a timed-out body runs on (it cannot be stopped).
    Thread,
    /// A worker process: a body with a walltime runs in a child process, killed at the
    /// deadline (see [`crate::walltime`]).
    Worker,
}

/// Runs an app (not a join app) on an encoded payload, where the task runs: in a
/// thread of the client's pool, or in a worker process.
pub(crate) fn execute(def: &'static AppDef, payload: &[u8], place: Place) -> Result<Vec<u8>, Error> {
    let (opts, args) = codec::decode_payload(payload)?;
    if let Some(files) = &opts.files {
        files.stage_in()?;
    }
    let result = run_app(def, &opts, &args, place)?;
    if let Some(files) = &opts.files {
        files.stage_out(&opts.app)?;
    }
    Ok(result)
}

/// The app itself, on decoded arguments.
fn run_app(def: &'static AppDef, opts: &RunOptions, args: &[&[u8]], place: Place) -> Result<Vec<u8>, Error> {
    match (&def.runner, opts.walltime) {
        (Runner::Value(run), None) => guarded(|| run(args)),
        (Runner::Value(run), Some(secs)) if place == Place::Worker => {
            crate::walltime::run_in_child(|| guarded(|| run(args)), secs, &opts.app)
        }
        (Runner::Value(run), Some(secs)) => {
            // On a thread a Rust body cannot be stopped from outside: it runs on a thread of
            // its own and the task fails at the deadline, while the body runs on until it
            // returns.
            let run = *run;
            let owned: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let refs: Vec<&[u8]> = owned.iter().map(|a| &a[..]).collect();
                let _ = tx.send(guarded(|| run(&refs)));
            });
            rx.recv_timeout(Duration::from_secs_f64(secs.max(0.0)))
                .unwrap_or_else(|_| Err(Error::AppTimeout { app: opts.app.clone(), seconds: secs }))
        }
        (Runner::Bash(make), _) => {
            let cmd = guarded(|| make(args))?;
            let code = run_bash(&cmd, opts)?;
            if code == 0 {
                codec::encode(&0i32, "the exit code")
            } else {
                Err(Error::BashExitFailure { app: opts.app.clone(), code })
            }
        }
        (Runner::Join(_), _) => Err(Error::Executor(format!("join app {} runs in the client, not on an executor", def.name))),
    }
}

fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let text = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Err(Error::Panicked(text))
    })
}

/// `bash -c cmd` with Parsl's redirections (appending to `stdout`/`stderr` files, made
/// with their directories) and walltime (the command's session is killed, exit code
/// stands for Parsl's `AppTimeout`), started by the engine's one runner, as the Python
/// front's bash apps are. Returns the exit code (128 + the signal that ended it).
fn run_bash(cmd: &str, opts: &RunOptions) -> Result<i32, Error> {
    use chervil_run::shell::{self, Shell, ShellEnd};
    use std::os::fd::AsRawFd;
    let open = |path: &Option<String>| -> Result<Option<std::fs::File>, Error> {
        let Some(path) = path else { return Ok(None) };
        if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Executor(format!("cannot make {}: {e}", dir.display())))?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(Some)
            .map_err(|e| Error::Executor(format!("bash app {}: cannot open {path}: {e}", opts.app)))
    };
    let (stdout, stderr) = (open(&opts.stdout)?, open(&opts.stderr)?);
    let command = Shell {
        command: cmd,
        stdout: stdout.as_ref().map(|f| f.as_raw_fd()),
        stderr: stderr.as_ref().map(|f| f.as_raw_fd()),
        new_session: true,
        walltime: opts.walltime.and_then(|secs| Duration::try_from_secs_f64(secs.max(0.0)).ok()),
    };
    match shell::run(&command) {
        Ok(ShellEnd::Exited(code)) => Ok(code),
        Ok(ShellEnd::Signalled(signal)) => Ok(128 + signal),
        Ok(ShellEnd::TimedOut) => Err(Error::AppTimeout { app: opts.app.clone(), seconds: opts.walltime.unwrap_or(0.0) }),
        Err(e) => Err(Error::Executor(format!("bash app {}: {e}", opts.app))),
    }
}
