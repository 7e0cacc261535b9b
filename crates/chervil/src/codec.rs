//! Bytes on the wire: values in postcard (compact, no schema, serde), and a task's
//! payload — its options and each argument's bytes — in a small framing of our own, so
//! a worker can hand each argument to its own decoder.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;

pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<Vec<u8>, Error> {
    postcard::to_stdvec(value).map_err(|e| Error::serialization(format!("encode {what}"), e))
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::serialization(format!("decode {what}"), e))
}

/// What a task needs besides its arguments, where it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunOptions {
    /// The app's name, for messages.
    pub app: String,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub walltime: Option<f64>,
    /// Files copied in before the app runs and back after it (rsync staging).
    pub files: Option<crate::staging::TaskFiles>,
}

/// `[u32 options length][options][u32 count]([u32 length][argument])*`, big-endian.
pub(crate) fn encode_payload(opts: &RunOptions, args: &[&[u8]]) -> Result<Vec<u8>, Error> {
    let opts = encode(opts, "the task's options")?;
    let mut out = Vec::with_capacity(8 + opts.len() + args.iter().map(|a| 4 + a.len()).sum::<usize>());
    put(&mut out, &opts)?;
    out.extend_from_slice(&len32(args.len())?.to_be_bytes());
    for a in args {
        put(&mut out, a)?;
    }
    Ok(out)
}

pub(crate) fn decode_payload(payload: &[u8]) -> Result<(RunOptions, Vec<&[u8]>), Error> {
    let bad = |why: &str| Error::serialization("read a task's payload", why);
    let mut rest = payload;
    let opts = take(&mut rest).ok_or_else(|| bad("truncated options"))?;
    let opts: RunOptions = decode(opts, "the task's options")?;
    let count = take_u32(&mut rest).ok_or_else(|| bad("truncated argument count"))? as usize;
    if count > rest.len() / 4 {
        return Err(bad("more arguments announced than bytes sent"));
    }
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        args.push(take(&mut rest).ok_or_else(|| bad("truncated argument"))?);
    }
    if !rest.is_empty() {
        return Err(bad("bytes after the last argument"));
    }
    Ok((opts, args))
}

fn len32(n: usize) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| Error::serialization("encode a task", "an argument is over 4 GiB"))
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Error> {
    out.extend_from_slice(&len32(bytes.len())?.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn take_u32(rest: &mut &[u8]) -> Option<u32> {
    let (head, tail) = rest.split_first_chunk::<4>()?;
    *rest = tail;
    Some(u32::from_be_bytes(*head))
}

fn take<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = take_u32(rest)? as usize;
    if rest.len() < n {
        return None;
    }
    let (bytes, tail) = rest.split_at(n);
    *rest = tail;
    Some(bytes)
}

/// The postcard encoding of a `Vec<T>` made of the encodings of its elements: a
/// varint length, then the elements one after another. A join app that returned a
/// list of futures completes with this, without decoding them.
pub(crate) fn concat_as_vec(items: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = items.len() as u64;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    for i in items {
        out.extend_from_slice(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_round_trips_and_damage_is_an_error() {
        let opts = RunOptions { app: "m::add".into(), stdout: Some("o.txt".into()), ..Default::default() };
        let a = encode(&41i64, "a").unwrap();
        let b = encode(&"x".to_string(), "b").unwrap();
        let payload = encode_payload(&opts, &[&a, &b]).unwrap();
        let (got, args) = decode_payload(&payload).unwrap();
        assert_eq!(got, opts);
        assert_eq!(args, vec![&a[..], &b[..]]);
        for cut in 0..payload.len() {
            assert!(decode_payload(&payload[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = payload.clone();
        long.push(0);
        assert!(decode_payload(&long).is_err());
    }

    #[test]
    fn joined_results_decode_as_a_vec() {
        let parts: Vec<Vec<u8>> = (0..200u32).map(|i| encode(&i, "i").unwrap()).collect();
        let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        let v: Vec<u32> = decode(&concat_as_vec(&refs), "v").unwrap();
        assert_eq!(v, (0..200).collect::<Vec<_>>());
    }
}
