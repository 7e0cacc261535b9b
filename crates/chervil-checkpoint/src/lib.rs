//! Checkpoints: the results of finished tasks, kept on disk by their memo hash so
//! a rerun of a workflow does not compute them again.
//!
//! A run's checkpoint is a directory (`runinfo/NNN/checkpoint/`, as in Parsl) of
//! *segment* files. Each write makes one new segment: written to a temporary name,
//! then renamed into place, so a segment either exists whole or not at all — a
//! client killed mid-write leaves only a `.tmp` file, which loading ignores. A
//! segment that is present but damaged (truncated, flipped bits, not ours) was
//! damaged after the fact, and loading it is a [`CheckpointError`] naming the file
//! and what is wrong, never a panic or a silently shorter table.
//!
//! Segment layout (little-endian): `CHVCKPT\0` · version u32 · records · `E` ·
//! record count u64 · CRC-32 of all bytes before it. Record: `R` · hash length
//! u32 · hash · payload length u64 · payload · CRC-32 of hash and payload. Payloads are opaque bytes (the Python
//! front stores pickles).
//!
//! When to write is the [`Policy`]'s business ([`Checkpointer`]): at each task's
//! exit, on a timer, at the end, or when asked. Many small segments are merged
//! into one now and then ([`compact`]), by the same write-then-rename rule.

mod crc;
mod segment;
mod writer;

pub use segment::{compact, load_dirs, read_segment, records, write_segment, Record, SEGMENT_SUFFIX};
pub use writer::{Checkpointer, Policy};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path} cannot be read: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("checkpoint {path} is damaged: {problem}. Remove it (or leave it out of checkpoint_files) to run without it")]
    Damaged { path: PathBuf, problem: String },
    #[error("checkpoint directory {0} does not exist; pass directories from get_all_checkpoints() or get_last_checkpoint()")]
    Missing(PathBuf),
    #[error("cannot write checkpoint {path}: {error}")]
    Write { path: PathBuf, error: std::io::Error },
}
