//! Scheduler and cloud CLI answers are another program's output: every parser is fed the
//! recorded answers mutated (lines cut, spliced, bytes replaced, columns dropped) and
//! random text. None may panic. Fixed-seed generator, so a failure replays;
//! `CHERVIL_FUZZ_CASES` sets the cases per parser (default 5,000).

use std::fs;
use std::path::PathBuf;

use chervil_providers::schedulers::cloud::{Aws, Azure, GoogleCloud, OpenStack};
use chervil_providers::schedulers::kubernetes::Kubernetes;
use chervil_providers::{schedulers, Scheduler};

fn recorded_answers() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/recorded");
    let mut texts: Vec<String> = fs::read_dir(&dir)
        .expect("recorded answers")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "README.md")
        .filter_map(|e| fs::read_to_string(e.path()).ok())
        .collect();
    texts.sort();
    assert!(texts.len() > 10, "the recorded answers are there");
    texts
}

/// A number in `0..n` (0 when n is 0).
fn below(rng: &mut fastrand::Rng, n: usize) -> usize {
    rng.usize(..n.max(1))
}

const ALPHABET: &[u8] = b" \t\n0123456789.:-_/[]()=,|RQHCEFPDSWXabcdefghijklmnopqrstuvwxyz\xc3\xa9";

fn mutate(rng: &mut fastrand::Rng, seeds: &[String]) -> String {
    if below(rng, 8) == 0 {
        let bytes: Vec<u8> = (0..below(rng, 300)).map(|_| ALPHABET[below(rng, ALPHABET.len())]).collect();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let mut lines: Vec<String> = seeds[below(rng, seeds.len())].lines().map(str::to_string).collect();
    for _ in 0..1 + below(rng, 4) {
        let n = lines.len();
        match below(rng, 5) {
            0 if n > 0 => {
                lines.remove(below(rng, n));
            }
            1 if n > 0 => {
                // drop or duplicate a column
                let i = below(rng, n);
                let mut cols: Vec<&str> = lines[i].split_whitespace().collect();
                if !cols.is_empty() {
                    let c = below(rng, cols.len());
                    if below(rng, 2) == 0 {
                        cols.remove(c);
                    } else {
                        cols.insert(c, cols[c]);
                    }
                }
                lines[i] = cols.join(if below(rng, 2) == 0 { " " } else { "\t" });
            }
            2 if n > 0 => {
                let i = below(rng, n);
                let mut b = lines[i].clone().into_bytes();
                if !b.is_empty() {
                    let at = below(rng, b.len());
                    b[at] = ALPHABET[below(rng, ALPHABET.len())];
                }
                lines[i] = String::from_utf8_lossy(&b).into_owned();
            }
            3 => {
                let other = &seeds[below(rng, seeds.len())];
                lines.insert(below(rng, n + 1), other.lines().next().unwrap_or("").to_string());
            }
            _ if n > 0 => {
                let i = below(rng, n);
                let cut = below(rng, lines[i].len() + 1);
                let cut = (0..=cut).rev().find(|c| lines[i].is_char_boundary(*c)).unwrap_or(0);
                lines[i].truncate(cut);
            }
            _ => {}
        }
    }
    lines.join("\n")
}

#[test]
fn no_parser_panics_on_mangled_answers() {
    let seeds = recorded_answers();
    let cases: usize = std::env::var("CHERVIL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let mut parsers: Vec<Box<dyn Scheduler>> = ["slurm", "pbspro", "torque", "grid_engine", "lsf", "condor", "cobalt"]
        .iter()
        .map(|n| schedulers::by_name(n).expect("a scheduler"))
        .collect();
    parsers.push(Box::new(Kubernetes::default()));
    parsers.push(Box::new(Aws::default()));
    parsers.push(Box::new(GoogleCloud::default()));
    parsers.push(Box::new(OpenStack::default()));
    parsers.push(Box::new(Azure::default()));
    let rng = &mut fastrand::Rng::with_seed(0x5851_F42D_4C95_7F2D);
    for p in &parsers {
        for i in 0..cases {
            let text = mutate(rng, &seeds);
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = p.parse_submit(&text);
                let _ = p.parse_status(&text);
            }));
            assert!(run.is_ok(), "{}: case {i} panicked on {text:?}", p.name());
        }
    }
    println!("{} parsers × {cases} mangled answers each: no panic", parsers.len());
}
