//! A checkpoint segment is read back after crashes, full disks and other programs'
//! mistakes. Mutated real segments (bits flipped, bytes replaced, forged lengths, cut,
//! grown) and random bytes must either read back exactly what was written or be refused
//! as damaged: never a panic, never different records. `CHERVIL_FUZZ_CASES` sets the
//! number of cases (default 3,000; each is a file written and read).

use chervil_checkpoint::{read_segment, write_segment, Record};

fn below(rng: &mut fastrand::Rng, n: usize) -> usize {
    rng.usize(..n.max(1))
}

#[test]
fn damaged_segments_are_refused_never_misread() {
    let dir = std::env::temp_dir().join(format!("chervil-fuzz-segments-{}", std::process::id()));
    let records: Vec<Record> = (0..5)
        .map(|i| Record { hash: format!("{i:064x}"), payload: (0..i * 40).map(|b| b as u8).collect() })
        .collect();
    let seed = std::fs::read(write_segment(&dir, 0, &records, false).expect("a segment")).expect("its bytes");
    assert_eq!(read_segment(&dir.join("tasks-00000000.ckpt")).expect("reads back"), records);
    let cases: usize = std::env::var("CHERVIL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3_000);
    let rng = &mut fastrand::Rng::with_seed(0x1F83_D9AB_FB41_BD6B);
    let path = dir.join("case.ckpt");
    let (mut refused, mut intact) = (0, 0);
    for i in 0..cases {
        let mut b = if below(rng, 8) == 0 { (0..below(rng, 512)).map(|_| rng.u8(..)).collect() } else { seed.clone() };
        for _ in 0..1 + below(rng, 3) {
            match below(rng, 5) {
                0 if !b.is_empty() => {
                    let at = below(rng, b.len());
                    b[at] ^= 1 << below(rng, 8);
                }
                1 if !b.is_empty() => {
                    let at = below(rng, b.len());
                    b[at] = rng.u8(..);
                }
                2 if b.len() >= 8 => {
                    let at = below(rng, b.len() - 7);
                    b[at..at + 8].copy_from_slice(&(u64::MAX - below(rng, 16) as u64).to_le_bytes());
                }
                3 => b.truncate(below(rng, b.len() + 1)),
                _ => b.extend((0..below(rng, 16)).map(|_| rng.u8(..))),
            }
        }
        std::fs::write(&path, &b).expect("write the case");
        let read = std::panic::catch_unwind(|| read_segment(&path));
        match read {
            Err(_) => panic!("case {i} panicked on {b:?}"),
            Ok(Ok(got)) => {
                assert_eq!(got, records, "case {i}: a damaged segment was read as other records");
                intact += 1;
            }
            Ok(Err(_)) => refused += 1,
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("checkpoint segments: {cases} damaged cases, {refused} refused, {intact} unchanged by their mutation, no panic");
}
