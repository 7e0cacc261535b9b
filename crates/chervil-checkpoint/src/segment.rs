//! One segment file: written whole or not at all, read strictly.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::crc::{crc32, Crc};
use crate::CheckpointError;

const MAGIC: &[u8; 8] = b"CHVCKPT\0";
/// Each record starts with `RECORD`; the trailer with `END`.
const RECORD: u8 = b'R';
const END: u8 = b'E';
const VERSION: u32 = 1;
pub const SEGMENT_SUFFIX: &str = ".ckpt";

/// One finished task: its memo hash and its result, as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub hash: String,
    pub payload: Vec<u8>,
}

fn encode(records: &[Record]) -> Vec<u8> {
    let size: usize = records.iter().map(|r| r.hash.len() + r.payload.len() + 16).sum();
    let mut out = Vec::with_capacity(size + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    for r in records {
        out.push(RECORD);
        out.extend_from_slice(&(r.hash.len() as u32).to_le_bytes());
        out.extend_from_slice(r.hash.as_bytes());
        out.extend_from_slice(&(r.payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&r.payload);
        out.extend_from_slice(&Crc::new().update(r.hash.as_bytes()).update(&r.payload).finish().to_le_bytes());
    }
    out.push(END);
    out.extend_from_slice(&(records.len() as u64).to_le_bytes());
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A cursor that turns running out of bytes into a named problem.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or_else(|| format!("it ends in the middle of {what} at byte {} (truncated?)", self.at))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().map_err(|_| what.to_string())?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().map_err(|_| what.to_string())?))
    }
}

fn decode(bytes: &[u8]) -> Result<Vec<Record>, String> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len(), "the header").map_err(|_| "it is too short to be a checkpoint segment".to_string())? != MAGIC {
        return Err("it is not a Chervil checkpoint segment (wrong magic bytes)".into());
    }
    let version = r.u32("the header")?;
    if version != VERSION {
        return Err(format!("it is format version {version}; this Chervil reads version {VERSION}"));
    }
    let mut records = Vec::new();
    loop {
        let n = records.len() + 1;
        let tag = r.take(1, &format!("record {n} or the trailer"))?[0];
        if tag == END {
            let count = r.u64("the trailer")?;
            let crc_at = r.at;
            let crc = r.u32("the trailer")?;
            if count != records.len() as u64 {
                return Err(format!("its trailer counts {count} records but it holds {}", records.len()));
            }
            if crc != crc32(&bytes[..crc_at]) {
                return Err("its checksum does not match its contents".into());
            }
            if r.at != bytes.len() {
                return Err(format!("{} unexpected bytes follow its trailer", bytes.len() - r.at));
            }
            return Ok(records);
        }
        if tag != RECORD {
            return Err(format!("byte {} should start record {n} or the trailer", r.at - 1));
        }
        let hash_len = r.u32(&format!("record {n}"))? as usize;
        let hash = r.take(hash_len, &format!("record {n}'s hash"))?;
        let payload_len = r.u64(&format!("record {n}"))?;
        let payload_len = usize::try_from(payload_len).map_err(|_| format!("record {n} claims {payload_len} bytes"))?;
        let payload = r.take(payload_len, &format!("record {n}'s result"))?;
        let crc = r.u32(&format!("record {n}'s checksum"))?;
        if crc != Crc::new().update(hash).update(payload).finish() {
            return Err(format!("record {n}'s checksum does not match its contents"));
        }
        let hash = std::str::from_utf8(hash).map_err(|_| format!("record {n}'s hash is not text"))?;
        records.push(Record { hash: hash.to_string(), payload: payload.to_vec() });
    }
}

/// Writes `records` as segment `seq` of `dir`: to a temporary file, then renamed.
/// `durable` also syncs the data to disk before the rename (survives a power cut,
/// not only a killed process).
pub fn write_segment(dir: &Path, seq: u64, records: &[Record], durable: bool) -> Result<PathBuf, CheckpointError> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CheckpointError::Write { path, error }
    };
    fs::create_dir_all(dir).map_err(werr(dir))?;
    let path = dir.join(format!("tasks-{seq:08}{SEGMENT_SUFFIX}"));
    let tmp = dir.join(format!(".tasks-{seq:08}{SEGMENT_SUFFIX}.tmp"));
    let written = fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(&encode(records))?;
        if durable {
            f.sync_all()?;
        }
        Ok(())
    });
    if let Err(error) = written.and_then(|()| fs::rename(&tmp, &path)) {
        // A partial write (a full disk) would only hold on to the space it took.
        let _ = fs::remove_file(&tmp);
        return Err(CheckpointError::Write { path, error });
    }
    Ok(path)
}

pub fn read_segment(path: &Path) -> Result<Vec<Record>, CheckpointError> {
    let bytes = fs::read(path).map_err(|error| CheckpointError::Io { path: path.into(), error })?;
    decode(&bytes).map_err(|problem| CheckpointError::Damaged { path: path.into(), problem })
}

/// The segments of `dir` in write order (by sequence number), with their numbers.
pub(crate) fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, CheckpointError> {
    let entries = fs::read_dir(dir).map_err(|error| if error.kind() == std::io::ErrorKind::NotFound { CheckpointError::Missing(dir.into()) } else { CheckpointError::Io { path: dir.into(), error } })?;
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|error| CheckpointError::Io { path: dir.into(), error })?;
        let name = e.file_name().to_string_lossy().into_owned();
        // `.tmp` files are writes a crash interrupted: never complete, never read.
        let Some(seq) = name.strip_prefix("tasks-").and_then(|s| s.strip_suffix(SEGMENT_SUFFIX)).and_then(|s| s.parse::<u64>().ok()) else { continue };
        out.push((seq, e.path()));
    }
    out.sort();
    Ok(out)
}

/// Every record in the checkpoint directories, later ones winning for a hash.
/// A directory without segments is an empty checkpoint (a run that finished none).
pub fn load_dirs(dirs: &[PathBuf]) -> Result<BTreeMap<String, Vec<u8>>, CheckpointError> {
    let mut table = BTreeMap::new();
    for dir in dirs {
        for r in records(dir)? {
            table.insert(r.hash, r.payload);
        }
    }
    Ok(table)
}

/// Every record of one checkpoint directory in write order, a hash written twice
/// listed twice (what a check for duplicated work needs).
pub fn records(dir: &Path) -> Result<Vec<Record>, CheckpointError> {
    let mut out = Vec::new();
    for (_, path) in segments(dir)? {
        out.extend(read_segment(&path)?);
    }
    Ok(out)
}

/// Merges every segment of `dir` into one new segment `seq` (durably), then
/// removes the old ones. A crash in between leaves duplicates, never a loss.
pub fn compact(dir: &Path, seq: u64) -> Result<usize, CheckpointError> {
    let old = segments(dir)?;
    if old.len() < 2 {
        return Ok(old.len());
    }
    let mut merged: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (_, path) in &old {
        for r in read_segment(path)? {
            merged.insert(r.hash, r.payload);
        }
    }
    let records: Vec<Record> = merged.into_iter().map(|(hash, payload)| Record { hash, payload }).collect();
    write_segment(dir, seq, &records, true)?;
    for (_, path) in &old {
        let _ = fs::remove_file(path);
    }
    Ok(old.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs() -> Vec<Record> {
        vec![Record { hash: "a1".into(), payload: b"one".to_vec() }, Record { hash: "b2".into(), payload: vec![0, 1, 2, 255] }]
    }

    #[test]
    fn round_trip() {
        assert_eq!(decode(&encode(&recs())).expect("decodes"), recs());
        assert_eq!(decode(&encode(&[])).expect("empty"), vec![]);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_named() {
        let good = encode(&recs());
        for cut in 0..good.len() {
            let e = decode(&good[..cut]).expect_err("truncated");
            assert!(!e.is_empty());
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_err(), "flipping byte {i} went unnoticed");
        }
        assert!(decode(b"\x80\x04\x95pickle").expect_err("not ours").contains("not a Chervil checkpoint"));
    }
}
