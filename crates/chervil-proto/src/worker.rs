//! The pool ↔ worker pipe (`python -m chervil.worker`, or a Rust binary in worker mode).
//!
//! Frames as everywhere else. To a worker, either a task: its id (8 bytes), the id
//! of the function it calls (8 bytes) and the pickled `(args, kwargs)`; or, before
//! the first task calling a function, the function: [`FUNCTION_DEF`] in place of a
//! task id, then the function id and the pickled function; or, just before an MPI task,
//! its environment ([`TASK_ENV`]). From a worker: the task id, an outcome byte (0 result, 1 exception) and the
//! pickled value. Kept minimal because a worker decodes it in Python on every task.

use crate::codec::DecodeError;

/// What a worker sent back for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerReply {
    pub task: u64,
    /// False when the value is a pickled exception.
    pub ok: bool,
    pub value: Vec<u8>,
}

/// In a frame to a worker, the task id that means "this is a function definition".
pub const FUNCTION_DEF: u64 = u64::MAX;

/// The body of a frame asking a worker to run `task`, which calls `function`.
/// A request as a whole frame (length first) appended to `out`: what
/// `encode_frame(&encode_request(..))` gives, without copying the payload twice — it
/// can be hundreds of megabytes.
pub fn encode_request_frame(task: u64, function: u64, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(20 + payload.len());
    crate::frame::encode_frame_with(out, |out| {
        out.extend_from_slice(&task.to_be_bytes());
        out.extend_from_slice(&function.to_be_bytes());
        out.extend_from_slice(payload);
    });
}

pub fn encode_request(task: u64, function: u64, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(16 + payload.len());
    body.extend_from_slice(&task.to_be_bytes());
    body.extend_from_slice(&function.to_be_bytes());
    body.extend_from_slice(payload);
    body
}

/// In a frame to a worker, the task id that means "environment variables for the next
/// task" (an MPI task's `PARSL_MPI_PREFIX` and the rest): `KEY=value` pairs, each ended
/// by a NUL byte, in place of the function id and payload.
pub const TASK_ENV: u64 = u64::MAX - 1;

/// The body of a frame setting environment variables for the worker's next task only.
pub fn encode_env(vars: &[(&str, String)]) -> Vec<u8> {
    let mut body = TASK_ENV.to_be_bytes().to_vec();
    for (k, v) in vars {
        body.extend_from_slice(k.as_bytes());
        body.push(b'=');
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body
}

/// The body of a frame giving a worker `function`'s pickled bytes.
pub fn encode_function(function: u64, blob: &[u8]) -> Vec<u8> {
    encode_request(FUNCTION_DEF, function, blob)
}

/// A worker's reply, from a frame's body, whose bytes become the value's: a result of
/// hundreds of megabytes is not copied again here.
pub fn decode_reply(mut body: Vec<u8>) -> Result<WorkerReply, DecodeError> {
    if body.len() < 9 {
        return Err(DecodeError::Truncated { field: "worker reply header", needed: 9 - body.len() });
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&body[..8]);
    let ok = match body[8] {
        0 => true,
        1 => false,
        tag => return Err(DecodeError::UnknownTag { kind: "worker outcome", tag }),
    };
    body.drain(..9);
    Ok(WorkerReply { task: u64::from_be_bytes(id), ok, value: body })
}
