//! Monte Carlo estimate of the integral of sin(x)/(x + cos²x) over [0, 1], as
//! examples/monte_carlo.py: each task averages the integrand at `samples` random points;
//! `mean` takes the list of their futures (a fan-in), so it runs once all are done. The
//! exact value is 0.36358 (to five places).
//!
//!     cargo run --release --example monte_carlo [tasks] [samples-per-task]
//!
//! It runs on a HighThroughputExecutor whose one block is a pool of worker processes on
//! this machine (LocalProvider), one worker per core; with `SlurmProvider` instead, on a
//! cluster.

use std::time::Instant;

use chervil::{Config, HighThroughputExecutor, LocalProvider};

const EXACT: f64 = 0.36358;

#[chervil::app]
fn estimate(samples: u64, seed: u64) -> f64 {
    // splitmix64 → uniform [0, 1): no dependency for a random number
    let mut state = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x9e37_79b9_7f4a_7c15;
    let mut total = 0.0;
    for _ in 0..samples {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let x = ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64;
        total += x.sin() / (x + x.cos().powi(2));
    }
    total / samples as f64
}

#[chervil::app]
fn mean(parts: Vec<f64>) -> f64 {
    parts.iter().sum::<f64>() / parts.len() as f64
}

fn main() -> Result<(), chervil::Error> {
    chervil::init();
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().expect("numbers: tasks samples"));
    let tasks = args.next().unwrap_or(100);
    let samples = args.next().unwrap_or(20_000);
    let start = Instant::now();
    let config = Config::new().executor(HighThroughputExecutor::new().label("local_htex").provider(LocalProvider::new()));
    let dfk = chervil::load(config)?;
    let parts: Vec<_> = (0..tasks).map(|seed| estimate(samples, seed)).collect();
    let result = mean(parts).result()?;
    dfk.cleanup();
    println!(
        "estimate {result:.5} from {tasks} tasks x {samples} samples in {:.2} s; exact {EXACT}, error {:.5}",
        start.elapsed().as_secs_f64(),
        (result - EXACT).abs()
    );
    assert!((result - EXACT).abs() < 0.01, "the estimate is off");
    Ok(())
}
