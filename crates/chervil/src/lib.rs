//! Parsl's model for Rust programs: plain functions become parallel tasks, futures are
//! dependencies, and one program runs on threads, on pools of worker processes, or on a
//! Slurm cluster by changing its config alone. The engine — the DataFlowKernel's state
//! machine, the HighThroughputExecutor's interchange and pools, the providers, the
//! checkpoint files — is the one the Python package `chervil` drives.
//!
//! # Thirty seconds
//!
//! ```
//! #[chervil::app]
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! fn main() -> Result<(), chervil::Error> {
//!     chervil::init(); // the first line of main: see below
//!     let dfk = chervil::load(chervil::Config::new())?;
//!     let x = add(1, 2); // returns at once: an AppFuture<i64>
//!     let y = add(&x, 10); // waits for x, then gets its value
//!     assert_eq!(y.result()?, 13);
//!     dfk.cleanup();
//!     Ok(())
//! }
//! ```
//!
//! # Apps
//!
//! - `#[chervil::app]` on a function whose arguments and result are serde types: calling
//!   it submits a task and returns an [`AppFuture`]. Each argument may be given as a
//!   value, or as a future of that type (owned or borrowed) — the task then waits for it.
//!   A body returning `Result<T, E>` (`E: Display`) makes an `AppFuture<T>` whose
//!   `Err` is [`Error::App`] with `E`'s type name and text; a panic is
//!   [`Error::Panicked`]. `#[chervil::app(cache)]` memoizes results on the encoded
//!   arguments (and, with a [`CheckpointMode`], in checkpoint files a later run loads).
//! - `#[chervil::bash_app]`: the body returns the command line; the future's value is
//!   the exit code 0, any other code is [`Error::BashExitFailure`].
//! - `#[chervil::join_app]`: the body runs in the client and returns an `AppFuture<T>`
//!   or a `Vec<AppFuture<T>>`; the task completes with that value (or `Vec<T>`).
//!
//! Each app also gets `<name>::with(Opts, …)` for Parsl's per-call keyword arguments:
//! `stdout`, `stderr`, `walltime`, `executors`, `outputs`, `cache`. It is a function in
//! a module named after the app, so it cannot collide with another function's name.
//! An argument may be given as a value, a reference to one (`&String`, `&Vec<T>`, a
//! `&[T]` for a `Vec<T>`, a `&Path` for a `PathBuf`), a future, or a list of futures.
//!
//! # Executors, and why `init` comes first
//!
//! The default config runs tasks on threads. A [`HighThroughputExecutor`] runs them on
//! pools of worker processes — this same program, started again by the pool. That is
//! why [`init`] is the first line of `main`: in a pool or worker it does that work and
//! exits; in the client it returns at once. Apps are found in a worker by their path
//! (`crate::module::function`), registered at compile time, so client and workers must
//! be the same build.
//!
//! ```no_run
//! use chervil::{Config, HighThroughputExecutor, LocalProvider};
//! # #[chervil::app] fn add(a: i64, b: i64) -> i64 { a + b }
//! fn main() -> Result<(), chervil::Error> {
//!     chervil::init();
//!     let config = Config::new().executor(
//!         HighThroughputExecutor::new().max_workers_per_node(4).provider(LocalProvider::new()),
//!     );
//!     // On a cluster: .provider(chervil::SlurmProvider::new().partition("debug"))
//!     let dfk = chervil::load(config)?;
//!     let futures: Vec<_> = (0..100).map(|i| add(i, i)).collect();
//!     let total: i64 = futures.iter().map(|f| f.result()).sum::<Result<i64, _>>()?;
//!     println!("{total}");
//!     dfk.cleanup();
//!     Ok(())
//! }
//! ```
//!
//! # Futures
//!
//! [`AppFuture::result`] blocks; `.await` works on any async runtime. A failed
//! dependency fails the dependent task with [`Error::DependencyError`] naming it.
//!
//! # Files
//!
//! A [`File`] names a path or a URL. Given to an app, an `http://`, `https://` or
//! `ftp://` file is fetched first by a task of its own on the same executor (into its
//! `working_dir`), as Parsl's default staging does; the app reads it at
//! [`File::filepath`]. A file an app writes is one of its `outputs`
//! ([`Opts::outputs`]): a [`DataFuture`] another app can wait for. Workers without the
//! client's file system get local files over rsync (`storage_access([Staging::RSync(..)])`,
//! Parsl's `RSyncStaging`): copied in before the task, its outputs copied back after.
//!
//! # MPI tasks
//!
//! [`HighThroughputExecutor::mpi`] (Parsl's `MPIExecutor`) shares each block's nodes among
//! tasks that ask for nodes and ranks; each finds `$PARSL_MPI_PREFIX` where it runs:
//!
//! ```no_run
//! use chervil::{Config, HighThroughputExecutor, Opts, ResourceSpec, SlurmProvider, Launcher};
//! #[chervil::bash_app]
//! fn simulate(step: u32) -> String {
//!     format!("$PARSL_MPI_PREFIX ./simulate --step {step}")
//! }
//! fn main() -> Result<(), chervil::Error> {
//!     chervil::init();
//!     let block = SlurmProvider::new().nodes_per_block(8).launcher(Launcher::Simple);
//!     let dfk = chervil::load(Config::new().executor(HighThroughputExecutor::mpi().max_workers_per_node(4).provider(block)))?;
//!     let spec = ResourceSpec::new().num_nodes(2).ranks_per_node(16);
//!     let runs: Vec<_> = (0..10).map(|s| simulate::with(Opts::new().resource_specification(spec.clone()), s)).collect();
//!     for r in runs {
//!         r.result()?;
//!     }
//!     dfk.cleanup();
//!     Ok(())
//! }
//! ```
//!
//! # Watching a run
//!
//! With `CHERVIL_PROGRESS=1` and stderr on a terminal, a live line shows the run's
//! progress and ends with its summary, as under `python -m chervil run`;
//! [`Config::monitoring`] records every task, try and state in Parsl's database, which
//! `chervil dashboard` and `parsl-visualize` read.

// The crate's own apps (the staging fetch) use its attributes, which name `::chervil`.
extern crate self as chervil;

mod app;
mod blocks;
mod codec;
mod config;
mod dfk;
mod error;
mod executors;
mod future;
mod staging;
mod walltime;
mod worker;

/// Makes a function an app: calling it submits a task and returns an [`AppFuture`] at
/// once; the body runs where the executor runs tasks (a thread, or a worker process).
///
/// For `#[chervil::app] fn add(a: i64, b: i64) -> i64` it generates:
///
/// - `fn add(a: impl IntoArg<i64>, b: impl IntoArg<i64>) -> AppFuture<i64>` — each
///   argument a value, a reference to one, or a future of one (the task then waits);
/// - `mod add { pub fn with(opts: Opts, a: impl IntoArg<i64>, b: impl IntoArg<i64>) -> AppFuture<i64> }`
///   — the same with per-call [`Opts`] (Parsl's `walltime=`, `stdout=`, `executors=`,
///   `outputs=`, `cache=`);
/// - a registered definition holding the body, found by the function's path
///   (`crate::module::add`) in a worker.
///
/// A body returning `Result<T, E>` (`E: Display`) gives an `AppFuture<T>`; its `Err` is
/// [`Error::App`]. `#[chervil::app(cache)]` memoizes: a second call with equal encoded
/// arguments is answered from the first once it has ended — a failure too, as Parsl's,
/// though failures are never checkpointed (and from checkpoints, see
/// [`Config::checkpoint_mode`]); `Opts::cache` overrides it per call.
///
/// ```
/// use chervil::{Config, Error, Opts};
///
/// #[chervil::app]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// #[chervil::app(cache)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// #[chervil::app]
/// fn parse(text: String) -> Result<i64, std::num::ParseIntError> {
///     text.parse()
/// }
///
/// fn main() -> Result<(), Error> {
///     let dfk = chervil::load(Config::new())?;
///     let x = add(1, 2);
///     assert_eq!(add(&x, 10).result()?, 13); // waits for x, gets its value
///     assert_eq!(add::with(Opts::new().walltime(5.0), 2, 2).result()?, 4);
///     assert_eq!(square(9).result()?, square(9).result()?); // the second is a memo hit
///     assert!(matches!(parse("x".to_string()).result(), Err(Error::App { .. })));
///     dfk.cleanup();
///     Ok(())
/// }
/// ```
#[doc(inline)]
pub use chervil_macros::app;

/// Makes a function a bash app: its body returns the command line, which runs with
/// `bash -c` where the task runs. The future's value is the exit code, 0; any other code
/// fails the task with [`Error::BashExitFailure`]. It generates the same pair as
/// [`app`] — `name(…) -> AppFuture<i32>` and `name::with(Opts, …)`, where
/// [`Opts::stdout`]/[`Opts::stderr`] redirect (appending) and [`Opts::walltime`] kills
/// the command's whole process group at the deadline ([`Error::AppTimeout`]).
///
/// ```
/// use chervil::{Config, Error, Opts};
///
/// #[chervil::bash_app]
/// fn greet(name: String) -> String {
///     format!("echo hello {name}")
/// }
///
/// #[chervil::bash_app]
/// fn fail(code: i32) -> String {
///     format!("exit {code}")
/// }
///
/// fn main() -> Result<(), Error> {
///     let dfk = chervil::load(Config::new())?;
///     let out = std::env::temp_dir().join(format!("chervil-doc-{}.txt", std::process::id()));
///     let code = greet::with(Opts::new().stdout(out.to_string_lossy()), "you".to_string()).result()?;
///     assert_eq!(code, 0);
///     assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello you\n");
///     assert!(matches!(fail(3).result(), Err(Error::BashExitFailure { code: 3, .. })));
///     let _ = std::fs::remove_file(out);
///     dfk.cleanup();
///     Ok(())
/// }
/// ```
#[doc(inline)]
pub use chervil_macros::bash_app;

/// Makes a function a join app: its body runs in the client (not on an executor) and
/// returns an `AppFuture<T>` or a `Vec<AppFuture<T>>`; the task completes with that
/// value (a `Vec<T>`) once they have. If one fails, the task fails with
/// [`Error::JoinError`]. It generates the same pair as [`app`].
///
/// ```
/// use chervil::{AppFuture, Config, Error};
///
/// #[chervil::app]
/// fn double(x: i64) -> i64 {
///     2 * x
/// }
///
/// #[chervil::join_app]
/// fn doubles(n: i64) -> Vec<AppFuture<i64>> {
///     (0..n).map(double).collect()
/// }
///
/// fn main() -> Result<(), Error> {
///     let dfk = chervil::load(Config::new())?;
///     assert_eq!(doubles(4).result()?, vec![0, 2, 4, 6]);
///     dfk.cleanup();
///     Ok(())
/// }
/// ```
#[doc(inline)]
pub use chervil_macros::join_app;
pub use config::{
    AdHocProvider, Aws, Azure, BatchSettings, BlockErrorHandler, CheckpointMode, CobaltProvider, CondorProvider, Config, ExecutorConfig,
    GoogleCloud, GridEngineProvider, HighThroughputExecutor, Kubernetes, Launcher, LocalProvider, LsfProvider,
    MonitoringHub, OpenStack, Opts, PbsProProvider, PodProvider, Provider, ResourceSpec, RetryHandler, SlurmProvider, TaskView,
    ThreadPoolExecutor,
    TorqueProvider,
};
pub use dfk::{dfk, get_all_checkpoints, get_last_checkpoint, load, Dfk};
pub use error::Error;
pub use future::{AppFuture, Arg, DataFuture, File, IntoArg};
pub use staging::{RSyncStaging, Staging, StagingError};
pub use worker::init;

/// What the app attributes expand to; not for direct use.
#[doc(hidden)]
pub mod __private {
    pub use crate::app::{app_error, decode_arg, encode_result, AppDef, IntoJoined, Joined, Registered, Runner};
    pub use crate::dfk::submit;
    pub use crate::future::ErasedArg;
    pub use inventory;
}
