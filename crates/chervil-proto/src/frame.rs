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
    out.reserve(4 + body.len());
    encode_frame_with(out, |out| out.extend_from_slice(body));
}

/// From this size on, bytes on their way through are moved rather than copied: a frame
/// that has not fully arrived is collected in a buffer of its own, of its exact size, and
/// handed over as it is (no doubling of the read buffer, no copy at the end); an owned body
/// becomes its first payload this large (`decode_owned`); the client unpickles a result
/// this large from a view. (The Python worker's `_LARGE` is the same size.)
pub const LARGE_PAYLOAD: usize = 64 * 1024;

/// The read buffer gives its memory back once it is empty and has grown beyond this, so a
/// link that once carried a burst does not keep the burst's memory for the run's life.
const KEEP_AT_MOST: usize = 1024 * 1024;

/// Appends one frame whose body `body` writes to `out` (after the length, which is filled
/// in once the body is there), so the body is never built apart and copied in.
pub fn encode_frame_with(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    body(out);
    let len = out.len() - at - 4;
    debug_assert!(len <= MAX_FRAME_DEFAULT, "a frame of {len} bytes cannot be sent");
    out[at..at + 4].copy_from_slice(&(len as u32).to_be_bytes());
}

/// Collects stream bytes and yields whole frame bodies.
///
/// Memory follows the frames in flight, not the largest one ever seen: a large body is
/// gathered in its own buffer and given to the caller whole, and the read buffer shrinks
/// back when it empties.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max: usize,
    /// A large frame being gathered, and how many body bytes it will have.
    large: Option<(Vec<u8>, usize)>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(MAX_FRAME_DEFAULT)
    }
}

impl FrameDecoder {
    pub fn new(max: usize) -> Self {
        FrameDecoder { buf: Vec::new(), start: 0, max, large: None }
    }

    /// Changes the largest frame accepted from here on: a connection that has not yet
    /// proved the run's secret gets a small limit, raised once it has.
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// Adds bytes read from the stream.
    pub fn extend(&mut self, mut bytes: &[u8]) {
        if let Some((body, len)) = &mut self.large {
            let take = (*len - body.len()).min(bytes.len());
            body.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if bytes.is_empty() {
                return;
            }
        }
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame's body, if one has arrived. After an error the stream
    /// cannot be resynchronised: close the connection.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some((body, len)) = &self.large {
            if body.len() < *len {
                return Ok(None);
            }
            return Ok(self.large.take().map(|(body, _)| body));
        }
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if avail.len() < 4 + len {
            if len >= LARGE_PAYLOAD {
                // Reserved, not touched: pages are used only as bytes arrive. Where even
                // the reservation fails, the body grows as it comes instead.
                let mut body = Vec::new();
                let _ = body.try_reserve_exact(len);
                body.extend_from_slice(&avail[4..]);
                self.large = Some((body, len));
                self.start = self.buf.len();
                self.release_if_idle();
            }
            return Ok(None);
        }
        let body = avail[4..4 + len].to_vec();
        self.start += 4 + len;
        if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.release_if_idle();
        Ok(Some(body))
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start + self.large.as_ref().map_or(0, |(body, _)| 4 + body.len())
    }

    fn release_if_idle(&mut self) {
        if self.start == self.buf.len() && self.buf.capacity() > KEEP_AT_MOST {
            self.buf = Vec::new();
            self.start = 0;
        }
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

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(body, &mut out);
        out
    }

    #[test]
    fn a_large_frame_is_gathered_in_a_buffer_of_its_exact_size() {
        let big: Vec<u8> = (0..3 * LARGE_PAYLOAD + 17).map(|i| (i % 251) as u8).collect();
        let mut stream = frame(b"before");
        stream.extend(frame(&big));
        stream.extend(frame(b"after"));
        for cut in [1, 7, 4096, LARGE_PAYLOAD + 3] {
            let mut dec = FrameDecoder::default();
            let mut got = Vec::new();
            for chunk in stream.chunks(cut) {
                dec.extend(chunk);
                while let Some(body) = dec.next_frame().expect("valid frames") {
                    got.push(body);
                }
            }
            assert_eq!(got.len(), 3, "cut {cut}");
            assert_eq!((got[0].as_slice(), got[2].as_slice()), (&b"before"[..], &b"after"[..]), "cut {cut}");
            assert!(got[1] == big, "cut {cut}");
            if cut < big.len() {
                assert_eq!(got[1].capacity(), big.len(), "cut {cut}: no doubling, no spare");
            }
            assert_eq!(dec.buffered(), 0);
        }
    }

    #[test]
    fn the_read_buffer_gives_back_a_burst_once_it_is_empty() {
        let mut dec = FrameDecoder::default();
        // many small frames arriving at once: the buffer grows to hold them all
        let burst: Vec<u8> = (0..200_000).flat_map(|i: u32| frame(&i.to_be_bytes())).collect();
        dec.extend(&burst);
        let mut n = 0;
        while dec.next_frame().expect("valid").is_some() {
            n += 1;
        }
        assert_eq!(n, 200_000);
        assert_eq!(dec.buf.capacity(), 0, "released");
        // a large frame announced, then cut short: its bytes count as buffered
        dec.extend(&frame(&vec![1u8; LARGE_PAYLOAD])[..100]);
        assert_eq!(dec.next_frame(), Ok(None));
        assert_eq!(dec.buffered(), 100);
    }
}
