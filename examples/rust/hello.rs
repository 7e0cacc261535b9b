//! Hello world in Rust: an app and a bash app, on a HighThroughputExecutor whose pool
//! and workers are this program, started again (hence `chervil::init()` first).
//!
//!     cargo run --release --example hello

use chervil::{Config, HighThroughputExecutor, LocalProvider, Opts};

#[chervil::app]
fn hello(name: String) -> String {
    format!("Hello, {name}!")
}

#[chervil::bash_app]
fn echo(message: String) -> String {
    format!("echo '{message}'")
}

fn main() -> Result<(), chervil::Error> {
    chervil::init();
    let config = Config::new().executor(HighThroughputExecutor::new().provider(LocalProvider::new()));
    let dfk = chervil::load(config)?;
    println!("{}", hello("World").result()?);
    echo::with(Opts::new().stdout("hello-stdout.txt"), "Hello from bash").result()?;
    print!("{}", std::fs::read_to_string("hello-stdout.txt").unwrap_or_default());
    let _ = std::fs::remove_file("hello-stdout.txt");
    dfk.cleanup();
    Ok(())
}
