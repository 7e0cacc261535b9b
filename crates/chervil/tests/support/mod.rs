//! For the test files with a `main` of their own (`harness = false`: their pools and
//! workers are the test program itself, so `main` must call `chervil::init()` first).

/// Speaks enough of libtest's command line for `cargo nextest` and `cargo test`:
/// answers `--list` with the one test `name` (none for `--ignored`), and says whether
/// `name` should run — it should unless a filter is given that it does not contain.
pub fn should_run(name: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("{name}: test");
        }
        return false;
    }
    args.iter().skip(1).find(|a| !a.starts_with('-')).is_none_or(|f| name.contains(f.as_str()))
}
