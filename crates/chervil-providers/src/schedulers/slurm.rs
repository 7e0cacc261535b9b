//! Slurm: `sbatch` a script, one `squeue` for many blocks, `scancel`.
//!
//! With accounting off (common on small clusters, and here), a job that has ended
//! disappears from `squeue`: the provider then calls it completed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::batch::{directive, script_body, BlockSpec, JobFiles, Scheduler};
use crate::JobState;

pub struct Slurm;

/// Slurm's short state codes (`squeue %t`) in Parsl's terms.
pub fn squeue_state(code: &str) -> JobState {
    match code {
        "PD" | "CF" | "RQ" | "RF" | "RH" => JobState::Pending,
        "R" | "CG" | "SO" | "ST" => JobState::Running,
        "CA" => JobState::Cancelled,
        "CD" => JobState::Completed,
        "F" | "NF" | "RV" | "SE" | "BF" | "OOM" => JobState::Failed,
        "TO" | "DL" | "PR" => JobState::Timeout,
        "S" | "RS" => JobState::Held,
        _ => JobState::Unknown,
    }
}

fn clusters(spec: &BlockSpec) -> Option<String> {
    spec.clusters.as_deref().filter(|c| !c.is_empty()).map(|c| format!("--clusters={c}"))
}

impl Scheduler for Slurm {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn files(&self, spec: &BlockSpec, job: &JobFiles, tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)> {
        let mut s = String::from("#!/bin/bash\n");
        let d = |s: &mut String, line: String| directive(s, "#SBATCH", line);
        d(&mut s, format!("--job-name={}", job.name));
        d(&mut s, format!("--output={}", job.stdout.display()));
        d(&mut s, format!("--error={}", job.stderr.display()));
        d(&mut s, format!("--nodes={}", spec.nodes_per_block));
        d(&mut s, format!("--time={}", spec.walltime));
        d(&mut s, format!("--ntasks-per-node={tasks_per_node}"));
        if spec.exclusive {
            d(&mut s, "--exclusive".into());
        }
        for (flag, value) in [
            ("partition", &spec.queue),
            ("account", &spec.account),
            ("qos", &spec.qos),
            ("constraint", &spec.constraint),
            ("clusters", &spec.clusters),
            ("gres", &spec.gres),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                d(&mut s, format!("--{flag}={v}"));
            }
        }
        if let Some(g) = spec.gpus_per_node {
            d(&mut s, format!("--gpus-per-node={g}"));
        }
        let mut exports = Vec::new();
        if let Some(m) = spec.mem_per_node_gb {
            d(&mut s, format!("--mem={}g", m.ceil() as u64));
            exports.push(format!("export PARSL_MEMORY_GB={m}"));
        }
        // Parsl's split: the node's cores shared out among its tasks.
        if let Some(c) = spec.cores_per_node.map(|c| (c / tasks_per_node.max(1)).max(1)) {
            d(&mut s, format!("--cpus-per-task={c}"));
            exports.push(format!("export PARSL_CORES={c}"));
        }
        script_body(&mut s, spec, &job.name, &exports, command);
        vec![(job.path(".submit"), s)]
    }

    fn submit_argv(&self, _spec: &BlockSpec, submit_file: &Path) -> Vec<String> {
        vec!["sbatch".into(), submit_file.display().to_string()]
    }

    /// "Submitted batch job 42", optionally "on cluster x".
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().find_map(|l| l.trim().strip_prefix("Submitted batch job ")).and_then(|rest| rest.split_whitespace().next()).map(str::to_string)
    }

    fn status_argv(&self, spec: &BlockSpec, ids: &[&str]) -> Vec<String> {
        let mut argv = vec!["squeue".into(), "--noheader".into(), "--format=%i %t %r".into(), format!("--jobs={}", ids.join(","))];
        argv.extend(clusters(spec));
        argv
    }

    /// `squeue --noheader --format='%i %t %r'` lines.
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)> {
        stdout
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let id = it.next()?;
                let code = it.next()?;
                Some((id.to_string(), (squeue_state(code), it.collect::<Vec<_>>().join(" "))))
            })
            .collect()
    }

    /// squeue exits 1 with "Invalid job id specified" once every job listed is gone.
    fn status_failure_is_benign(&self, _code: i32, stderr: &str) -> bool {
        stderr.contains("Invalid job id")
    }

    fn cancel_argv(&self, spec: &BlockSpec, ids: &[String]) -> Vec<String> {
        let mut argv = vec!["scancel".to_string()];
        argv.extend(clusters(spec));
        argv.extend(ids.iter().cloned());
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn script_has_the_requested_resources() {
        let spec = BlockSpec {
            nodes_per_block: 2,
            walltime: "01:30:00".into(),
            exclusive: true,
            queue: Some("debug".into()),
            account: Some("proj1".into()),
            cores_per_node: Some(8),
            mem_per_node_gb: Some(16.0),
            scheduler_options: "#SBATCH --mail-type=NONE".into(),
            worker_init: "module load python".into(),
            cmd_timeout: Duration::from_secs(10),
            ..Default::default()
        };
        let job = JobFiles { name: "b0".into(), dir: "/r".into(), stdout: "/r/b0.stdout".into(), stderr: "/r/b0.stderr".into() };
        let files = Slurm.files(&spec, &job, 2, "srun pool");
        let text = &files[0].1;
        for want in [
            "#SBATCH --job-name=b0\n",
            "#SBATCH --output=/r/b0.stdout\n",
            "#SBATCH --nodes=2\n",
            "#SBATCH --time=01:30:00\n",
            "#SBATCH --ntasks-per-node=2\n",
            "#SBATCH --exclusive\n",
            "#SBATCH --partition=debug\n",
            "#SBATCH --account=proj1\n",
            "#SBATCH --mem=16g\n",
            "#SBATCH --cpus-per-task=4\n",
            "#SBATCH --mail-type=NONE\n",
            "export PARSL_CORES=4\n",
            "module load python\n",
            "srun pool\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("--qos"), "unset options are left out");
    }

    #[test]
    fn parses_recorded_slurm_output() {
        assert_eq!(Slurm.parse_submit("Submitted batch job 4213\n").as_deref(), Some("4213"));
        assert_eq!(Slurm.parse_submit("Submitted batch job 17 on cluster perlmutter\n").as_deref(), Some("17"));
        assert_eq!(Slurm.parse_submit("sbatch: error: Batch job submission failed\n"), None);
        let q = Slurm.parse_status("4213 PD Resources\n4214 R None\n4215 CG None\n4216 TO None\n");
        assert_eq!(q["4213"], (JobState::Pending, "Resources".to_string()));
        assert_eq!(q["4214"].0, JobState::Running);
        assert_eq!(q["4215"].0, JobState::Running);
        assert_eq!(q["4216"].0, JobState::Timeout);
    }
}
