//! The wire between the interchange (in the client) and the pools (on compute nodes).
//!
//! A connection is a stream of frames: a 4-byte big-endian length, then that many
//! bytes of body. A body is one message: a tag byte and its fields, integers
//! big-endian, byte strings length-prefixed. Task payloads (pickled functions and
//! arguments, pickled results) are opaque bytes to everything here.
//!
//! Decoding is strict and total: any byte sequence either decodes to a message or
//! gives a [`DecodeError`] — never a panic, never an allocation larger than the frame
//! that was read. A peer that sends a malformed frame is a peer to disconnect; what it
//! sent is never handed to Python.
//!
//! The first frame on every connection is the pool's [`Hello`], which carries the
//! protocol version and the run's secret token; the interchange answers `Welcome` or
//! `Reject` and sends nothing else before that.

mod codec;
mod frame;
mod message;
pub mod worker;

pub use codec::DecodeError;
pub use frame::{batches, encode_frame, FrameDecoder, FrameError, FRAME_BATCH_BYTES, LARGE_PAYLOAD, MAX_FRAME_DEFAULT, MAX_PAYLOAD};
pub use message::{FunctionMsg, Hello, Outcome, ResourceSample, TaskMsg, TaskResult, ToInterchange, ToPool, PROTOCOL_VERSION};

/// Compares two secrets in time that does not depend on where they differ.
pub fn tokens_match(expected: &[u8], presented: &[u8]) -> bool {
    if expected.len() != presented.len() {
        return false;
    }
    expected.iter().zip(presented).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}
