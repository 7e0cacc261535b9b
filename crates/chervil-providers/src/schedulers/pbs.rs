//! PBS Pro and Torque: `qsub` a script, `qstat` for many blocks, `qdel`.
//!
//! The two differ in how a block asks for nodes (`select=` against `nodes=:ppn=`)
//! and in whether finished jobs are listed (PBS Pro's `qstat -x`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{table, with_ids};
use crate::batch::{directive, script_body, BlockSpec, JobFiles, Scheduler};
use crate::JobState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbs {
    Pro,
    Torque,
}

/// `qstat`'s one-letter states (PBS Pro and Torque man pages).
pub fn qstat_state(code: &str) -> JobState {
    match code {
        "Q" | "W" | "T" => JobState::Pending,
        "R" | "B" | "E" => JobState::Running,
        "C" | "F" | "X" => JobState::Completed,
        "H" | "S" | "U" => JobState::Held,
        _ => JobState::Unknown,
    }
}

/// Job ids as printed may be cut short ("1234.pbs01.exa" → "1234.pbs01"); the
/// sequence number before the first dot is what identifies a job on its server.
fn key(id: &str) -> String {
    id.split('.').next().unwrap_or(id).to_string()
}

impl Scheduler for Pbs {
    fn name(&self) -> &'static str {
        match self {
            Pbs::Pro => "pbspro",
            Pbs::Torque => "torque",
        }
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        let mut s = String::from("#!/bin/bash\n");
        let d = |s: &mut String, line: String| directive(s, "#PBS", line);
        d(&mut s, "-S /bin/bash".into());
        d(&mut s, format!("-N {}", job.name));
        d(&mut s, "-m n".into());
        d(&mut s, format!("-l walltime={}", spec.walltime));
        match self {
            Pbs::Pro => {
                let ncpus = spec.cores_per_node.unwrap_or(1);
                let extra = spec.select_options.trim();
                let sep = if extra.is_empty() || extra.starts_with(':') { "" } else { ":" };
                d(&mut s, format!("-l select={}:ncpus={ncpus}{sep}{extra}", spec.nodes_per_block));
            }
            Pbs::Torque => d(&mut s, format!("-l nodes={}:ppn={tasks_per_node}", spec.nodes_per_block)),
        }
        d(&mut s, format!("-o {}", job.stdout.display()));
        d(&mut s, format!("-e {}", job.stderr.display()));
        if let Some(q) = spec.queue.as_deref().filter(|q| !q.is_empty()) {
            d(&mut s, format!("-q {q}"));
        }
        if let Some(a) = spec.account.as_deref().filter(|a| !a.is_empty()) {
            d(&mut s, format!("-A {a}"));
        }
        // PBS starts jobs in $HOME; the launchers expect the submit directory.
        script_body(&mut s, spec, &job.name, &["cd \"${PBS_O_WORKDIR:-.}\"".to_string()], command);
        vec![(job.path(".submit"), s)]
    }

    fn submit_argv(&self, _spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        vec!["qsub".into(), submit_file.display().to_string()]
    }

    /// qsub prints the job id alone ("1234.pbs01").
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().map(str::trim).find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())).map(str::to_string)
    }

    fn status_argv(&self, _spec: &BlockSpec, ids: &[&str]) -> Vec<String> {
        with_ids(if *self == Pbs::Pro { &["qstat", "-x"] } else { &["qstat"] }, ids, &[])
    }

    /// The default table: `Job id  Name  User  Time Use  S  Queue`.
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        table(stdout, 4, |code| (qstat_state(code), ""))
    }

    fn job_key(&self, id: &str) -> String {
        key(id)
    }

    /// qstat fails with "Unknown Job Id" for a job that has left, yet lists the others.
    fn status_failure_is_benign(&self, _code: i32, stderr: &str) -> bool {
        stderr.lines().filter(|l| !l.trim().is_empty()).all(|l| l.contains("Unknown Job Id") || l.contains("Job has finished"))
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        with_ids(&["qdel"], ids, &[])
    }
}
