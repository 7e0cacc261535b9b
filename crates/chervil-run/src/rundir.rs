//! Numbered run directories: `runinfo/000`, `runinfo/001`, …

use std::path::{Path, PathBuf};

/// The variable that widens a run directory's mode (octal, e.g. `750`).
pub const MODE_VARIABLE: &str = "CHERVIL_RUN_DIR_MODE";

#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("{MODE_VARIABLE}={0:?} is not an octal mode: use e.g. 700 (private) or 750 (readable by your group)")]
    BadMode(String),
    #[error("cannot make the run directory {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
}

/// The mode run directories get: 0700 unless [`MODE_VARIABLE`] says otherwise.
pub fn run_dir_mode() -> Result<u32, RunDirError> {
    match std::env::var(MODE_VARIABLE) {
        Err(_) => Ok(0o700),
        Ok(given) => match u32::from_str_radix(given.trim(), 8) {
            Ok(mode) if mode <= 0o7777 => Ok(mode),
            _ => Err(RunDirError::BadMode(given)),
        },
    }
}

/// Makes the next numbered directory under `base` (made too when missing) and returns
/// its absolute path.
///
/// The number is one past the highest already there (Parsl's rule: a gap left by a
/// deleted run is not reused, so run numbers keep their order in time), written with
/// at least three digits. Several workflows starting at once in one place each get
/// their own: a number another process took first is skipped. The directory is
/// private (0700, whatever the umask): block scripts, job output and logs below it
/// may carry the run's secret or the user's data; [`MODE_VARIABLE`] widens it.
pub fn make_run_dir(base: &Path) -> Result<PathBuf, RunDirError> {
    let mode = run_dir_mode()?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| RunDirError::Io { path, error }
    };
    std::fs::create_dir_all(base).map_err(io(base))?;
    let base = std::path::absolute(base).map_err(io(base))?;
    let mut next = runs_by_number(&base).last().map_or(0, |(n, _)| n + 1);
    loop {
        let dir = base.join(format!("{next:03}"));
        match create_private(&dir, mode) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
            Err(e) => return Err(io(&dir)(e)),
        }
    }
}

/// The run directories under `base` (names made of digits only) with their numbers,
/// in order of number (run 1000 after run 999).
pub(crate) fn runs_by_number(base: &Path) -> Vec<(u64, PathBuf)> {
    let mut runs: Vec<(u64, PathBuf)> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit()))?;
            Some((name.parse().ok()?, e.path()))
        })
        .collect();
    runs.sort();
    runs
}

fn create_private(dir: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().mode(mode).create(dir)?;
    // The mode given to mkdir passes through the umask; this one does not.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("chervil-run-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn runs_are_numbered_past_the_highest_and_private() {
        let base = scratch("numbers");
        let first = make_run_dir(&base).unwrap();
        assert!(first.is_absolute() && first.ends_with("000"), "{first:?}");
        assert_eq!(mode(&first), 0o700);
        std::fs::create_dir(base.join("007")).unwrap();
        std::fs::write(base.join("monitoring.db"), b"").unwrap();
        std::fs::create_dir(base.join("notes")).unwrap();
        assert!(make_run_dir(&base).unwrap().ends_with("008"));
        std::fs::create_dir(base.join("999")).unwrap();
        // run 1000 comes after run 999, and the one after it is found by number
        assert!(make_run_dir(&base).unwrap().ends_with("1000"));
        assert!(make_run_dir(&base).unwrap().ends_with("1001"));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn runs_started_at_once_get_their_own_directories() {
        let base = scratch("race");
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| make_run_dir(&base).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut unique = dirs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8, "{dirs:?}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
