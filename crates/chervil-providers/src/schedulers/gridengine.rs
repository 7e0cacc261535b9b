//! (Son of) Grid Engine: `qsub -terse` a script, one `qstat` for all the user's
//! jobs, `qdel`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{table, with_ids};
use crate::batch::{directive, script_body, BlockSpec, JobFiles, Scheduler};
use crate::JobState;

pub struct GridEngine;

/// `qstat`'s state column (letters combine: `hqw`, `Eqw`, `dr`, …): errors first,
/// then deletion, suspension, waiting, running.
pub fn qstat_state(code: &str) -> JobState {
    if code.contains('E') {
        JobState::Failed
    } else if code.contains('d') {
        JobState::Completed
    } else if code.contains('s') || code.contains('S') || code.contains('T') {
        JobState::Held
    } else if code.contains('q') || code.contains('w') {
        JobState::Pending
    } else if code.contains('r') || code.contains('t') || code.contains('R') {
        JobState::Running
    } else {
        JobState::Unknown
    }
}

impl Scheduler for GridEngine {
    fn name(&self) -> &'static str {
        "grid_engine"
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, _tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        let mut s = String::from("#!/bin/bash\n");
        let d = |s: &mut String, line: String| directive(s, "#$", line);
        d(&mut s, "-S /bin/bash".into());
        d(&mut s, format!("-N {}", job.name));
        d(&mut s, format!("-o {}", job.stdout.display()));
        d(&mut s, format!("-e {}", job.stderr.display()));
        d(&mut s, "-cwd".into());
        d(&mut s, format!("-l h_rt={}", spec.walltime));
        if let Some(q) = spec.queue.as_deref().filter(|q| !q.is_empty()) {
            d(&mut s, format!("-q {q}"));
        }
        script_body(&mut s, spec, &job.name, &[], command);
        vec![(job.path(".submit"), s)]
    }

    fn submit_argv(&self, _spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        vec!["qsub".into(), "-terse".into(), submit_file.display().to_string()]
    }

    /// `-terse` prints the id alone ("4321", or "4321.1-4:1" for an array).
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        let line = stdout.lines().map(str::trim).find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
        Some(line.split('.').next().unwrap_or(line).to_string())
    }

    fn status_lists_all(&self) -> bool {
        true
    }

    fn status_argv(&self, _spec: &BlockSpec, _ids: &[&str]) -> Vec<String> {
        vec!["qstat".into()]
    }

    /// `job-ID prior name user state submit/start at queue slots ja-task-ID`.
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        table(stdout, 4, |code| (qstat_state(code), ""))
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        with_ids(&["qdel"], ids, &[])
    }
}
