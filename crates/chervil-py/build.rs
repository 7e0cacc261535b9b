//! Bakes the commit the extension was built from into `chervil._core.__commit__`, so
//! `chervil version` can say exactly which engine a cluster node runs. Outside a git
//! checkout (an sdist) the commit is `CHERVIL_COMMIT` from the environment, or "unknown".

use std::process::Command;

fn main() {
    let from_git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let commit = std::env::var("CHERVIL_COMMIT").ok().filter(|s| !s.is_empty()).or(from_git).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CHERVIL_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=CHERVIL_COMMIT");
    // Rebuild when HEAD moves (a commit, a checkout); harmless where there is no .git.
    for path in ["../../.git/HEAD", "../../.git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
