//! Length-delimited frames, cut out of a byte stream however it arrives.

/// The largest frame: as much as its 4-byte length can say (4 GiB − 1). Parsl carries a
/// 300 MB argument, and so must we; a decoder allocates only as bytes arrive, so a
/// forged length costs nothing until the bytes are really sent — and before a
/// connection proves the run's secret the interchange holds it to a small limit.
pub const MAX_FRAME_DEFAULT: usize = u32::MAX as usize;

/// The largest task payload or result one frame can carry beside its headers (the task
/// id, function id and message tags take a few dozen bytes; this leaves a margin).
pub const MAX_PAYLOAD: usize = MAX_FRAME_DEFAULT - 64 * 1024;

/// Senders pack several tasks (or results) into one frame only while it stays under
/// this, so a batch never needs a frame larger than its largest member.
pub const FRAME_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Splits `items` into runs whose summed `size` stays under [`FRAME_BATCH_BYTES`] (an
/// item larger than that goes alone), so each run fits one frame.
pub fn batches<T>(items: Vec<T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut current: Vec<T> = Vec::new();
    let mut bytes = 0usize;
    for item in items {
        let n = size(&item);
        if !current.is_empty() && bytes.saturating_add(n) > FRAME_BATCH_BYTES {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes = bytes.saturating_add(n);
        current.push(item);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame announced {len} bytes, over the limit of {max}; the peer is not speaking Chervil's protocol, or a task payload is too large")]
    TooLarge { len: usize, max: usize },
}

/// Appends one frame holding `body` to `out`. Callers keep bodies within
/// [`MAX_FRAME_DEFAULT`] (payloads are checked against [`MAX_PAYLOAD`] at submission).
pub fn encode_frame(body: &[u8], out: &mut Vec<u8>) {
    debug_assert!(body.len() <= MAX_FRAME_DEFAULT, "a frame of {} bytes cannot be sent", body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

/// Collects stream bytes and yields whole frame bodies.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(MAX_FRAME_DEFAULT)
    }
}

impl FrameDecoder {
    pub fn new(max: usize) -> Self {
        FrameDecoder { buf: Vec::new(), start: 0, max }
    }

    /// Changes the largest frame accepted from here on: a connection that has not yet
    /// proved the run's secret gets a small limit, raised once it has.
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// Adds bytes read from the stream.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame's body, if one has arrived. After an error the stream
    /// cannot be resynchronised: close the connection.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if avail.len() < 4 + len {
            return Ok(None);
        }
        let body = avail[4..4 + len].to_vec();
        self.start += 4 + len;
        if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(Some(body))
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_under_the_budget_and_big_items_go_alone() {
        let sizes = vec![1, FRAME_BATCH_BYTES, 5, 6, FRAME_BATCH_BYTES / 2, FRAME_BATCH_BYTES / 2 + 1, 7];
        let runs = batches(sizes, |n| *n);
        assert_eq!(runs, vec![vec![1], vec![FRAME_BATCH_BYTES], vec![5, 6, FRAME_BATCH_BYTES / 2], vec![FRAME_BATCH_BYTES / 2 + 1, 7]]);
        assert!(batches(Vec::<usize>::new(), |n| *n).is_empty());
    }
}
