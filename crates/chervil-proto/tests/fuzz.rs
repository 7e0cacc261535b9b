//! Every decoder that reads another process's bytes, fed arbitrary and mutated input:
//! the interchange ← pool messages, pool ← interchange messages, pool ← worker replies
//! and the frame decoder. None may panic, and none may allocate much more than the
//! input it was given (a forged count must not make it reserve memory).
//!
//! Seeds are real encodings of every message kind; each case mutates one (bit flips,
//! overwritten bytes, forged 32/64-bit counts, cut, spliced, grown) or is random bytes.
//! The generator is a fixed-seed generator, so a failure names a case that replays.
//! `CHERVIL_FUZZ_CASES` sets the cases per decoder (default 20,000 — the CI run);
//! `make fuzz` runs millions.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use chervil_proto::worker::decode_reply;
use chervil_proto::{FrameDecoder, FunctionMsg, Hello, Outcome, ResourceSample, TaskMsg, TaskResult, ToInterchange, ToPool};

/// The largest single allocation since the last reset: what a decoder asked for at once.
struct Largest;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the pointer came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// The allocation record is global: tests take turns so one's buffers are not blamed on another.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A number in `0..n` (0 when n is 0).
fn below(rng: &mut fastrand::Rng, n: usize) -> usize {
    rng.usize(..n.max(1))
}

fn cases() -> usize {
    std::env::var("CHERVIL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

fn sample(task: u64) -> ResourceSample {
    ResourceSample {
        task,
        at_us: 1_700_000_000_000_000,
        pid: 4242,
        cpu_num: 1,
        state: b'R',
        user_s: 0.5,
        system_s: 0.1,
        rss_bytes: 1 << 26,
        vms_bytes: 1 << 28,
        memory_percent: 0.4,
        read_bytes: 10,
        write_bytes: 20,
        ctx_voluntary: 3,
        ctx_involuntary: 1,
        children: 0,
    }
}

fn seeds_up() -> Vec<Vec<u8>> {
    let result = |task, outcome| TaskResult { task, outcome, started_us: 5, ended_us: 9 };
    vec![
        ToInterchange::Hello(Hello {
            version: chervil_proto::PROTOCOL_VERSION,
            token: vec![7; 32],
            hostname: "node-01".into(),
            block_id: "0".into(),
            workers: 4,
            cores: 8,
            memory_mb: 16_000,
            python_version: "3.11.7".into(),
            package_version: env!("CARGO_PKG_VERSION").into(),
        })
        .encode(),
        ToInterchange::Results(vec![
            result(1, Outcome::Ok(b"\x80\x04K\x02.".to_vec())),
            result(2, Outcome::Err(b"pickled exception".to_vec())),
            result(3, Outcome::WorkerLost("SIGKILL".into())),
            result(4, Outcome::Refused("num_nodes 9 > 3".into())),
        ])
        .encode(),
        ToInterchange::Resources(vec![sample(1), sample(2)]).encode(),
        ToInterchange::Heartbeat.encode(),
        ToInterchange::Draining.encode(),
    ]
}

fn seeds_down() -> Vec<Vec<u8>> {
    vec![
        ToPool::Welcome { pool: 3, heartbeat_period_ms: 30_000 }.encode(),
        ToPool::Reject { reason: "wrong secret".into() }.encode(),
        ToPool::Functions(vec![FunctionMsg { function: 1, blob: vec![0x80; 40] }]).encode(),
        ToPool::Tasks(vec![
            TaskMsg { task: 1, function: 1, payload: vec![1; 30], spec: vec![] },
            TaskMsg { task: 2, function: 1, payload: vec![2; 10], spec: vec![("num_nodes".into(), "2".into())] },
        ])
        .encode(),
        ToPool::Heartbeat.encode(),
        ToPool::Shutdown.encode(),
    ]
}

fn seeds_worker() -> Vec<Vec<u8>> {
    let reply = |task: u64, ok: u8, value: &[u8]| {
        let mut b = task.to_be_bytes().to_vec();
        b.push(ok);
        b.extend_from_slice(value);
        b
    };
    vec![reply(1, 0, b"\x80\x04K\x02."), reply(2, 1, b"exception")]
}

/// One case: a mutated seed, or (one case in eight) bytes from nowhere.
fn case(rng: &mut fastrand::Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if below(rng, 8) == 0 {
        let n = below(rng, 256);
        return (0..n).map(|_| rng.u8(..)).collect();
    }
    let mut b = seeds[below(rng, seeds.len())].clone();
    for _ in 0..1 + below(rng, 4) {
        match below(rng, 7) {
            0 if !b.is_empty() => {
                let i = below(rng, b.len());
                b[i] ^= 1 << below(rng, 8);
            }
            1 if !b.is_empty() => {
                let i = below(rng, b.len());
                b[i] = rng.u8(..);
            }
            2 if b.len() >= 4 => {
                // a forged count or length: huge, or just past what is there
                let i = below(rng, b.len() - 3);
                let v: u32 = if below(rng, 2) == 0 { u32::MAX - below(rng, 16) as u32 } else { b.len() as u32 + 1 };
                b[i..i + 4].copy_from_slice(&v.to_be_bytes());
            }
            3 if b.len() >= 8 => {
                let i = below(rng, b.len() - 7);
                b[i..i + 8].copy_from_slice(&(u64::MAX - below(rng, 16) as u64).to_be_bytes());
            }
            4 => b.truncate(below(rng, b.len() + 1)),
            5 => {
                let other = seeds[below(rng, seeds.len())].clone();
                let at = below(rng, b.len() + 1);
                b.splice(at..at, other);
            }
            _ => {
                let n = below(rng, 32);
                b.extend((0..n).map(|_| rng.u8(..)));
            }
        }
    }
    b
}

/// Decodes `n` cases; returns how many decoded without error. Panics (the test fails)
/// on a decoder panic or on an allocation far beyond the input's size.
fn fuzz(name: &str, seed: u64, seeds: &[Vec<u8>], decode: impl Fn(&[u8]) -> bool) -> usize {
    let rng = &mut fastrand::Rng::with_seed(seed);
    let mut ok = 0;
    for i in 0..cases() {
        let input = case(rng, seeds);
        LARGEST.store(0, Ordering::Relaxed);
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(&input)));
        let largest = LARGEST.load(Ordering::Relaxed);
        match decoded {
            Ok(true) => ok += 1,
            Ok(false) => {}
            Err(_) => panic!("{name}: case {i} panicked on {input:?}"),
        }
        // Decoded messages own copies of the input's fields, in a few containers.
        let bound = 64 * input.len() + 4096;
        assert!(largest <= bound, "{name}: case {i} allocated {largest} bytes at once for {} input bytes: {input:?}", input.len());
    }
    println!("{name}: {} cases, {ok} decoded, the rest refused, no panic", cases());
    ok
}

#[test]
fn messages_to_the_interchange() {
    let _turn = turn();
    let seeds = seeds_up();
    for s in &seeds {
        assert!(ToInterchange::decode(s).is_ok(), "a seed must decode");
    }
    fuzz("ToInterchange::decode", 0x9E37_79B9_7F4A_7C15, &seeds, |b| ToInterchange::decode(b).is_ok());
    fuzz("Hello::peek_version", 0x2545_F491_4F6C_DD1D, &seeds, |b| Hello::peek_version(b).is_some());
}

#[test]
fn messages_to_a_pool() {
    let _turn = turn();
    let seeds = seeds_down();
    for s in &seeds {
        assert!(ToPool::decode(s).is_ok(), "a seed must decode");
    }
    fuzz("ToPool::decode", 0xD1B5_4A32_D192_ED03, &seeds, |b| ToPool::decode(b).is_ok());
}

#[test]
fn worker_replies() {
    let _turn = turn();
    fuzz("worker::decode_reply", 0xA076_1D64_78BD_642F, &seeds_worker(), |b| decode_reply(b.to_vec()).is_ok());
}

/// Streams of frames cut at random points: whole frames come out in order, a length over
/// the limit is an error, and nothing is buffered beyond what arrived.
#[test]
fn frame_streams() {
    let _turn = turn();
    let rng = &mut fastrand::Rng::with_seed(0xE703_7ED1_A0B4_28DB);
    let max = 1 << 16;
    for i in 0..cases() / 10 {
        let mut stream = Vec::new();
        let mut frames = Vec::new();
        for _ in 0..below(rng, 6) {
            let body: Vec<u8> = (0..below(rng, 300)).map(|_| rng.u8(..)).collect();
            chervil_proto::encode_frame(&body, &mut stream);
            frames.push(body);
        }
        let forged = below(rng, 4) == 0;
        if forged {
            stream.extend_from_slice(&(max as u32 + 1 + below(rng, 1000) as u32).to_be_bytes());
        }
        let mut dec = FrameDecoder::new(max);
        let (mut got, mut failed, mut at) = (Vec::new(), false, 0);
        while at < stream.len() && !failed {
            let n = 1 + below(rng, 64);
            let end = (at + n).min(stream.len());
            dec.extend(&stream[at..end]);
            at = end;
            assert!(dec.buffered() <= stream.len(), "case {i}: buffered more than arrived");
            loop {
                match dec.next_frame() {
                    Ok(Some(f)) => got.push(f),
                    Ok(None) => break,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
        }
        assert_eq!(got, frames, "case {i}: frames out of order or lost");
        assert_eq!(failed, forged, "case {i}: a frame over the limit is an error, and only that");
    }
    println!("FrameDecoder: {} streams cut at random points, all frames in order", cases() / 10);
}
