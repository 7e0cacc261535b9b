//! Cobalt (ALCF's scheduler, Parsl's `CobaltProvider`): `qsub --mode script` with the
//! node count and walltime on the command line, `qstat` for many blocks, `qdel`.
//!
//! Cobalt takes the walltime in minutes and does not read directives from the script,
//! so the script is only the block's body. Inside the job `$COBALT_NODEFILE` lists the
//! block's nodes (read by MPI mode, `chervil-mpi`'s `hostlist`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{table, with_ids};
use crate::batch::{script_body, walltime_seconds, BlockSpec, JobFiles, Scheduler};
use crate::JobState;

pub struct Cobalt;

/// `qstat`'s state column.
pub fn qstat_state(state: &str) -> JobState {
    match state {
        "queued" | "starting" => JobState::Pending,
        "running" | "exiting" => JobState::Running,
        "killing" => JobState::Cancelled,
        s if s.ends_with("_hold") => JobState::Held,
        "done" => JobState::Completed,
        _ => JobState::Unknown,
    }
}

impl Scheduler for Cobalt {
    fn name(&self) -> &'static str {
        "cobalt"
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, _tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        let mut s = String::from("#!/bin/bash -el\n");
        script_body(&mut s, spec, &job.name, &[], command);
        vec![(job.path(".submit"), s)]
    }

    fn submit_argv(&self, spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        let name = submit_file.file_name().map(|n| n.to_string_lossy().trim_end_matches(".submit").to_string()).unwrap_or_default();
        let dir = submit_file.parent().map(Path::to_path_buf).unwrap_or_default();
        // Cobalt counts whole minutes; a walltime under a minute still gets one.
        let minutes = walltime_seconds(&spec.walltime).div_ceil(60).max(1);
        let mut argv = vec![
            "qsub".to_string(),
            "--mode".into(),
            "script".into(),
            "-n".into(),
            spec.nodes_per_block.to_string(),
            "-t".into(),
            minutes.to_string(),
            "-O".into(),
            dir.join(&name).display().to_string(),
        ];
        if let Some(q) = spec.queue.as_deref().filter(|q| !q.is_empty()) {
            argv.extend(["-q".into(), q.to_string()]);
        }
        if let Some(a) = spec.account.as_deref().filter(|a| !a.is_empty()) {
            argv.extend(["-A".into(), a.to_string()]);
        }
        // scheduler_options: extra qsub arguments, as Parsl's CobaltProvider passed them.
        argv.extend(spec.scheduler_options.split_whitespace().map(str::to_string));
        argv.push(submit_file.display().to_string());
        argv
    }

    /// qsub prints the job id alone, after any warnings.
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().map(str::trim).rfind(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())).map(str::to_string)
    }

    fn status_argv(&self, _spec: &BlockSpec, ids: &[&str]) -> Vec<String> {
        with_ids(&["qstat"], ids, &[])
    }

    /// `JobID  User  WallTime  Nodes  State  Location`.
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        table(stdout, 4, |state| (qstat_state(state), ""))
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        with_ids(&["qdel"], ids, &[])
    }
}
