//! A program whose `main` forgets `chervil::init()`: its block starts this program as a
//! pool, which would run the workflow again instead of serving it. The block's process
//! says so and exits; the executor sees every block failed and fails the task with an
//! error that names `chervil::init()` as the fix — in seconds, not a `result()` that
//! waits forever while blocks are started again and again. (The same path covers HTEX
//! inside a plain `#[test]`: the test binary cannot call `init()` first either.)
//!
//! Its own `main` (`harness = false`), deliberately without `chervil::init()`.

use std::time::{Duration, Instant};

use chervil::{Config, HighThroughputExecutor, LocalProvider};

mod support;

const NAME: &str = "forgot_init::an_error_names_the_fix";

#[chervil::app]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {
    // No chervil::init() here: that is the mistake under test.
    if !support::should_run(NAME) {
        return;
    }
    let t0 = Instant::now();
    let dir = std::env::temp_dir().join(format!("chervil-rs-noinit-{}", std::process::id()));
    let config = Config::new()
        .run_dir(dir.join("runinfo"))
        .strategy_period(Duration::from_millis(200))
        .executor(HighThroughputExecutor::new().provider(LocalProvider::new().init_blocks(1).max_blocks(4)));
    let dfk = chervil::load(config).expect("load");
    let err = add(1, 2).result().expect_err("no pool can serve this task");
    let text = err.to_string();
    if std::env::var_os("SHOW").is_some() {
        eprintln!("{text}");
    }
    assert!(text.contains("chervil::init()") && text.contains("first line of main"), "{text}");
    assert!(text.contains("harness = false"), "says what a test should do: {text}");
    assert!(t0.elapsed() < Duration::from_secs(60), "took {:?}", t0.elapsed());
    let late = add(3, 4).result().expect_err("the executor stopped").to_string();
    assert!(late.contains("chervil::init()"), "{late}");
    dfk.cleanup();
    let _ = std::fs::remove_dir_all(&dir);
    println!("test {NAME} ... ok ({:.1} s)", t0.elapsed().as_secs_f64());
}
