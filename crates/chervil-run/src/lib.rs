//! The run: what a workflow's life decides, decided once for both fronts.
//!
//! Chervil has two fronts over one engine — the `chervil` Python package and the
//! `chervil` Rust crate. Whatever a run decides (where its directory is and who may
//! read it, which earlier checkpoints it answers from, how many workers a block is
//! expected to bring) is decided here, and both fronts ask, so they cannot drift
//! apart: before this crate the Rust front made run directories with the umask's mode
//! while the Python front made them private, ordered checkpoint directories by name
//! while the Python front ordered them by number, and loaded no checkpoints unless
//! named while the Python front (as Parsl) loaded every earlier run's. (How many
//! workers a block brings is the pool's rule, `chervil_htex::WorkerSlots`, which both
//! fronts now ask too.)
//!
//! This is where the engine's driver grows (ARCHITECTURE.md, "The run"): each rule
//! that moves here is deleted from both fronts.

pub mod blocks;
pub mod checkpoints;
pub mod memo;
pub mod monitoring;
pub mod progress;
pub mod rundir;
pub mod shell;
pub mod ticker;

pub use checkpoints::{all_checkpoints, checkpoints_to_load, last_checkpoint};
pub use rundir::{make_run_dir, RunDirError};
pub use ticker::Ticker;
