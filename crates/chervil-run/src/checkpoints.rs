//! Which earlier runs' checkpoints a run answers from.

use std::path::{Path, PathBuf};

use crate::rundir::runs_by_number;

/// The `checkpoint` directories of every run under `runs` (e.g. `runinfo`), oldest
/// first by run number (run 1000 after run 999), as absolute paths (Parsl's
/// `get_all_checkpoints`). Missing `runs`: none.
pub fn all_checkpoints(runs: &Path) -> Vec<PathBuf> {
    let Ok(runs) = std::path::absolute(runs) else { return Vec::new() };
    runs_by_number(&runs).into_iter().filter_map(|(_, dir)| checkpoint_of(dir)).collect()
}

/// The `checkpoint` directory of the latest run under `runs` that has one: zero or
/// one paths (Parsl's `get_last_checkpoint`).
pub fn last_checkpoint(runs: &Path) -> Vec<PathBuf> {
    let Ok(runs) = std::path::absolute(runs) else { return Vec::new() };
    runs_by_number(&runs).into_iter().rev().find_map(|(_, dir)| checkpoint_of(dir)).into_iter().collect()
}

fn checkpoint_of(run: PathBuf) -> Option<PathBuf> {
    let checkpoint = run.join("checkpoint");
    checkpoint.is_dir().then_some(checkpoint)
}

/// The checkpoint directories a run loads: those the config names, or — when it names
/// none (`None`, not an empty list) and checkpointing is on — every earlier run's under
/// `runs` (Parsl's rule: a workflow that checkpoints resumes from its earlier runs
/// without being told where they are). `own` (the run's own, still empty) is left out.
pub fn checkpoints_to_load(named: Option<&[PathBuf]>, checkpointing: bool, runs: &Path, own: &Path) -> Vec<PathBuf> {
    match named {
        Some(named) => named.to_vec(),
        None if checkpointing => {
            let own = own.join("checkpoint");
            all_checkpoints(runs).into_iter().filter(|d| *d != own).collect()
        }
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_found_by_run_number_and_the_last_is_the_newest() {
        let runs = std::env::temp_dir().join(format!("chervil-run-{}-ckpt", std::process::id()));
        let _ = std::fs::remove_dir_all(&runs);
        for (run, with) in [("000", true), ("002", false), ("010", true), ("999", true), ("1000", true)] {
            let dir = runs.join(run);
            std::fs::create_dir_all(if with { dir.join("checkpoint") } else { dir }).unwrap();
        }
        std::fs::create_dir_all(runs.join("scratch").join("checkpoint")).unwrap();
        let names = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter().map(|p| p.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned()).collect()
        };
        let all = all_checkpoints(&runs);
        assert!(all.iter().all(|p| p.is_absolute() && p.ends_with("checkpoint")));
        assert_eq!(names(all), ["000", "010", "999", "1000"]);
        assert_eq!(names(last_checkpoint(&runs)), ["1000"]);
        assert!(all_checkpoints(&runs.join("missing")).is_empty());
        assert!(last_checkpoint(&runs.join("missing")).is_empty());

        let own = runs.join("1000");
        assert_eq!(names(checkpoints_to_load(None, true, &runs, &own)), ["000", "010", "999"]);
        assert!(checkpoints_to_load(None, false, &runs, &own).is_empty());
        let named = [runs.join("010").join("checkpoint")];
        assert_eq!(checkpoints_to_load(Some(&named), true, &runs, &own), named);
        assert!(checkpoints_to_load(Some(&[]), true, &runs, &own).is_empty());
        std::fs::remove_dir_all(&runs).unwrap();
    }
}
