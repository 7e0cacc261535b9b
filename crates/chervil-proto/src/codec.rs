//! Reading and writing message fields. The reader checks every length against what
//! is left in the frame before it allocates, so a hostile length costs nothing.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the message ends early: needed {needed} more bytes for {field}")]
    Truncated { field: &'static str, needed: usize },
    #[error("unknown message tag {tag} for {kind}")]
    UnknownTag { kind: &'static str, tag: u8 },
    #[error("{trailing} unexpected bytes after the end of the message")]
    Trailing { trailing: usize },
    #[error("field {field} is not valid UTF-8")]
    BadUtf8 { field: &'static str },
    #[error("field {field} is empty, which the protocol does not allow")]
    Empty { field: &'static str },
}

/// Appends a message's fields to a buffer the caller owns (a frame being built, so a
/// payload is copied once, straight into the bytes that go on the wire).
pub(crate) struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>, tag: u8) -> Self {
        buf.push(tag);
        Writer { buf }
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
    }
    pub(crate) fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
}

/// Decodes `body` with `decode_with`, copying payloads out except the first one of
/// [`crate::LARGE_PAYLOAD`] or more, which then becomes the body's own buffer, cut to it
/// in place (`payload_mut` finds its slot in the message: payloads are counted in the
/// order they were read).
pub(crate) fn decode_owned<M>(
    mut body: Vec<u8>,
    decode_with: fn(&[u8], &mut TakePayload<'_>) -> Result<M, DecodeError>,
    payload_mut: fn(&mut M, usize) -> Option<&mut Vec<u8>>,
) -> Result<M, DecodeError> {
    let mut read = 0usize;
    let mut kept: Option<(usize, std::ops::Range<usize>)> = None;
    let mut msg = {
        let bytes = body.as_slice();
        decode_with(bytes, &mut |at: std::ops::Range<usize>| {
            let index = read;
            read += 1;
            if kept.is_none() && at.len() >= crate::LARGE_PAYLOAD {
                kept = Some((index, at));
                Vec::new()
            } else {
                bytes[at].to_vec()
            }
        })?
    };
    if let Some((index, at)) = kept {
        body.truncate(at.end);
        body.drain(..at.start);
        if let Some(slot) = payload_mut(&mut msg, index) {
            *slot = body;
        }
    }
    Ok(msg)
}

pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    len: usize,
}

/// Makes a payload's bytes from where it lies in the body: a copy, or (see
/// `decode_owned`) nothing yet, for a large one that will take the body's own buffer.
pub(crate) type TakePayload<'t> = dyn FnMut(std::ops::Range<usize>) -> Vec<u8> + 't;

impl<'a> Reader<'a> {
    pub(crate) fn new(body: &'a [u8]) -> Self {
        Reader { rest: body, len: body.len() }
    }

    /// A length-prefixed payload (a task's call, a result, a function), made by `take`.
    pub(crate) fn payload(&mut self, field: &'static str, take: &mut TakePayload<'_>) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32(field)? as usize;
        let start = self.len - self.rest.len();
        self.take(n, field)?;
        Ok(take(start..start + n))
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated { field, needed: n - self.rest.len() });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    pub(crate) fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32(field)? as usize;
        Ok(self.take(n, field)?.to_vec())
    }
    pub(crate) fn str(&mut self, field: &'static str) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes(field)?).map_err(|_| DecodeError::BadUtf8 { field })
    }
    /// A count of items that each take at least `min_item` bytes: checked against
    /// what is left, so a forged count cannot make us reserve memory.
    pub(crate) fn count(&mut self, field: &'static str, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u32(field)? as usize;
        let needed = n.saturating_mul(min_item);
        if needed > self.rest.len() {
            return Err(DecodeError::Truncated { field, needed: needed - self.rest.len() });
        }
        Ok(n)
    }
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing { trailing: self.rest.len() })
        }
    }
}
