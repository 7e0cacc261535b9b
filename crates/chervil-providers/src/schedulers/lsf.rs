//! IBM Spectrum LSF: `bsub` a script, one `bjobs` for many blocks, `bkill`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{table, with_ids};
use crate::batch::{directive, script_body, walltime_minutes, BlockSpec, JobFiles, Scheduler};
use crate::JobState;

pub struct Lsf;

/// `bjobs` STAT values.
pub fn bjobs_state(code: &str) -> JobState {
    match code {
        "PEND" | "WAIT" => JobState::Pending,
        "RUN" => JobState::Running,
        "DONE" => JobState::Completed,
        "EXIT" | "ZOMBI" => JobState::Failed,
        "PSUSP" | "USUSP" | "SSUSP" => JobState::Held,
        _ => JobState::Unknown,
    }
}

impl Scheduler for Lsf {
    fn name(&self) -> &'static str {
        "lsf"
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, _tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        let mut s = String::from("#!/bin/bash\n");
        let d = |s: &mut String, line: String| directive(s, "#BSUB", line);
        d(&mut s, format!("-W {}", walltime_minutes(&spec.walltime)));
        d(&mut s, format!("-J {}", job.name));
        d(&mut s, format!("-o {}", job.stdout.display()));
        d(&mut s, format!("-e {}", job.stderr.display()));
        if let Some(p) = spec.account.as_deref().filter(|p| !p.is_empty()) {
            d(&mut s, format!("-P {p}"));
        }
        if let Some(q) = spec.queue.as_deref().filter(|q| !q.is_empty()) {
            d(&mut s, format!("-q {q}"));
        }
        match (spec.cores_per_block, spec.cores_per_node) {
            (Some(cores), Some(per_node)) => {
                d(&mut s, format!("-n {cores}"));
                d(&mut s, format!("-R \"span[ptile={per_node}]\""));
            }
            _ => d(&mut s, format!("-nnodes {}", spec.nodes_per_block)),
        }
        script_body(&mut s, spec, &job.name, &[], command);
        vec![(job.path(".submit"), s)]
    }

    fn submit_argv(&self, spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        if spec.bsub_redirection {
            // Some sites read #BSUB lines only from stdin.
            vec!["sh".into(), "-c".into(), "bsub < \"$0\"".into(), submit_file.display().to_string()]
        } else {
            vec!["bsub".into(), submit_file.display().to_string()]
        }
    }

    /// `Job <1234> is submitted to queue <normal>.`
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().find_map(|l| {
            let rest = l.trim().strip_prefix("Job <")?;
            let (id, tail) = rest.split_once('>')?;
            tail.contains("is submitted").then(|| id.to_string())
        })
    }

    fn status_argv(&self, _spec: &BlockSpec, ids: &[&str]) -> Vec<String> {
        with_ids(&["bjobs", "-noheader", "-o", "jobid stat"], ids, &[])
    }

    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        table(stdout, 1, |code| (bjobs_state(code), ""))
    }

    /// bjobs exits non-zero with `Job <n> is not found` for jobs that have left.
    fn status_failure_is_benign(&self, _code: i32, stderr: &str) -> bool {
        stderr.lines().filter(|l| !l.trim().is_empty()).all(|l| l.contains("is not found"))
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        with_ids(&["bkill"], ids, &[])
    }
}
