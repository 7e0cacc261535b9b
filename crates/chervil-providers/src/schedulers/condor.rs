//! HTCondor: a submit description plus the block's script, `condor_submit`,
//! `condor_q -af:jr JobStatus` for many blocks, `condor_rm`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{table, with_ids};
use crate::batch::{BlockSpec, JobFiles, Scheduler};
use crate::JobState;

pub struct Condor;

/// HTCondor's numeric JobStatus.
pub fn job_status(code: &str) -> (JobState, &'static str) {
    match code {
        "1" => (JobState::Pending, "idle"),
        "2" | "6" => (JobState::Running, ""),
        "3" => (JobState::Cancelled, "removed"),
        "4" => (JobState::Completed, ""),
        // Held jobs wait for a person (a missing input, a policy); Parsl counts them failed.
        "5" => (JobState::Failed, "held"),
        "7" => (JobState::Held, "suspended"),
        _ => (JobState::Unknown, ""),
    }
}

/// A value inside the double-quoted `environment` string: single quotes around
/// it, quote characters doubled (condor_submit's "new" syntax).
fn env_value(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''").replace('"', "\"\""))
}

impl Scheduler for Condor {
    fn name(&self) -> &'static str {
        "condor"
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, _tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        let script = job.path(".script");
        let mut body = String::new();
        let mut options = spec.scheduler_options.trim_end().to_string();
        if let Some(m) = spec.mem_per_node_gb {
            options.push_str(&format!("\nRequestMemory = {}", (m * 1024.0).ceil() as u64));
            body.push_str(&format!("export PARSL_MEMORY_GB={m}\n"));
        }
        if let Some(c) = spec.cores_per_node {
            options.push_str(&format!("\nRequestCpus = {c}"));
            body.push_str(&format!("export PARSL_CORES={c}\n"));
        }
        body.push_str(&spec.worker_init);
        body.push('\n');
        body.push_str(command);
        body.push('\n');
        let mut env = vec![format!("JOBNAME={}", env_value(&job.name))];
        env.extend(spec.environment.iter().map(|(k, v)| format!("{k}={}", env_value(v))));
        let inputs: Vec<String> = std::iter::once(script.display().to_string()).chain(spec.transfer_input_files.iter().cloned()).collect();
        let mut sub = format!(
            "universe = vanilla\nshould_transfer_files = YES\nwhen_to_transfer_output = ON_EXIT_OR_EVICT\ntransfer_executable = false\n\
             transfer_input_files = {inputs}\nmachine_count = {nodes}\noutput = {out}\nerror = {err}\nlog = {log}\n\
             executable = /bin/bash\narguments = {arg}\nleave_in_queue = TRUE\nenvironment = \"{env}\"\n",
            inputs = inputs.join(","),
            nodes = spec.nodes_per_block,
            out = job.stdout.display(),
            err = job.stderr.display(),
            log = job.path(".log").display(),
            arg = script.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            env = env.join(" "),
        );
        if !spec.requirements.trim().is_empty() {
            sub.push_str(&format!("requirements = {}\n", spec.requirements.trim()));
        }
        if let Some(p) = spec.account.as_deref().filter(|p| !p.is_empty()) {
            sub.push_str(&format!("+projectname = \"{p}\"\n"));
        }
        if !options.trim().is_empty() {
            sub.push_str(options.trim_start());
            sub.push('\n');
        }
        sub.push_str("queue\n");
        vec![(job.path(".submit"), sub), (script, body)]
    }

    fn submit_argv(&self, _spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        vec!["condor_submit".into(), submit_file.display().to_string()]
    }

    /// "1 job(s) submitted to cluster 4242." → "4242.0" (one process per block).
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().find_map(|l| {
            let (_, cluster) = l.split_once("submitted to cluster ")?;
            let cluster = cluster.trim().trim_end_matches('.');
            (!cluster.is_empty() && cluster.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{cluster}.0"))
        })
    }

    fn status_argv(&self, _spec: &BlockSpec, ids: &[&str]) -> Vec<String> {
        with_ids(&["condor_q"], ids, &["-af:jr", "JobStatus"])
    }

    /// `condor_q … -af:jr JobStatus`: "4242.0 2".
    /// `condor_q … -af:jr JobStatus`: "4242.0 2".
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        table(stdout, 1, job_status)
    }

    fn cancel_argv(&self, _spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        with_ids(&["condor_rm"], ids, &[])
    }
}
