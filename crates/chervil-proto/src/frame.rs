//! Length-delimited frames, cut out of a byte stream however it arrives.

/// Frames larger than this are refused unless a connection sets its own limit:
/// large enough for big pickled arguments, small enough that a forged length cannot
/// make a process allocate gigabytes.
pub const MAX_FRAME_DEFAULT: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame announced {len} bytes, over the limit of {max}; the peer is not speaking Chervil's protocol, or a task payload is too large")]
    TooLarge { len: usize, max: usize },
}

/// Appends one frame holding `body` to `out`.
pub fn encode_frame(body: &[u8], out: &mut Vec<u8>) {
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
