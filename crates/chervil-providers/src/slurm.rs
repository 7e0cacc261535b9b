//! Blocks as Slurm batch jobs (Parsl's `SlurmProvider`): `sbatch` a generated
//! script, one `squeue` call for the status of every block, `scancel` to cancel.
//!
//! With accounting off (common on small clusters, and here), a job that has ended
//! disappears from `squeue`; like Parsl we then call it completed, unless we
//! cancelled it ourselves, which we remember.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli;
use crate::{JobState, JobStatus, ProviderError};

/// What each block asks Slurm for, with Parsl's parameter names.
#[derive(Debug, Clone, Default)]
pub struct SlurmSpec {
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    pub constraint: Option<String>,
    pub clusters: Option<String>,
    pub nodes_per_block: u32,
    pub cores_per_node: Option<u32>,
    pub mem_per_node_gb: Option<u32>,
    pub gpus_per_node: Option<u32>,
    pub gres: Option<String>,
    /// `HH:MM:SS`, as Parsl takes it.
    pub walltime: String,
    pub exclusive: bool,
    /// Extra `#SBATCH` lines, verbatim.
    pub scheduler_options: String,
    pub worker_init: String,
    pub cmd_timeout: Duration,
}

/// Checks `HH:MM:SS` (hours may exceed 24) so a typo fails at configuration time.
pub fn check_walltime(w: &str) -> Result<(), ProviderError> {
    let parts: Vec<&str> = w.split(':').collect();
    let ok = parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[1].parse::<u32>().is_ok_and(|m| m < 60)
        && parts[2].parse::<u32>().is_ok_and(|s| s < 60);
    if ok {
        Ok(())
    } else {
        Err(ProviderError::Config(format!("walltime {w:?} is not HH:MM:SS (for example \"01:30:00\")")))
    }
}

/// The batch script for one block. `command` is already wrapped by the launcher.
pub fn batch_script(spec: &SlurmSpec, job_name: &str, stdout: &Path, stderr: &Path, tasks_per_node: u32, command: &str) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let mut opt = |line: String| {
        s.push_str("#SBATCH ");
        s.push_str(&line);
        s.push('\n');
    };
    opt(format!("--job-name={job_name}"));
    opt(format!("--output={}", stdout.display()));
    opt(format!("--error={}", stderr.display()));
    opt(format!("--nodes={}", spec.nodes_per_block));
    opt(format!("--time={}", spec.walltime));
    opt(format!("--ntasks-per-node={tasks_per_node}"));
    if spec.exclusive {
        opt("--exclusive".into());
    }
    for (flag, value) in [
        ("partition", &spec.partition),
        ("account", &spec.account),
        ("qos", &spec.qos),
        ("constraint", &spec.constraint),
        ("clusters", &spec.clusters),
        ("gres", &spec.gres),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            opt(format!("--{flag}={v}"));
        }
    }
    if let Some(g) = spec.gpus_per_node {
        opt(format!("--gpus-per-node={g}"));
    }
    if let Some(m) = spec.mem_per_node_gb {
        opt(format!("--mem={m}g"));
    }
    // Parsl's split: the node's cores shared out among its tasks.
    let cpus_per_task = spec.cores_per_node.map(|c| (c / tasks_per_node.max(1)).max(1));
    if let Some(c) = cpus_per_task {
        opt(format!("--cpus-per-task={c}"));
    }
    let mut out = s;
    if !spec.scheduler_options.trim().is_empty() {
        out.push_str(spec.scheduler_options.trim_end());
        out.push('\n');
    }
    out.push('\n');
    if let Some(m) = spec.mem_per_node_gb {
        out.push_str(&format!("export PARSL_MEMORY_GB={m}\n"));
    }
    if let Some(c) = cpus_per_task {
        out.push_str(&format!("export PARSL_CORES={c}\n"));
    }
    out.push_str(&spec.worker_init);
    out.push_str(&format!("\nexport JOBNAME=\"{job_name}\"\n\n{command}\n"));
    out
}

/// The job id from `sbatch`'s answer ("Submitted batch job 42", optionally "on cluster x").
pub fn parse_sbatch(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|l| l.trim().strip_prefix("Submitted batch job ")).and_then(|rest| rest.split_whitespace().next()).map(str::to_string)
}

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

/// `squeue --noheader --format='%i %t %r'` lines: job id → (state, reason).
pub fn parse_squeue(stdout: &str) -> BTreeMap<String, (JobState, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let id = it.next()?;
            let code = it.next()?;
            let reason = it.collect::<Vec<_>>().join(" ");
            Some((id.to_string(), (squeue_state(code), reason)))
        })
        .collect()
}

struct Job {
    stdout: PathBuf,
    stderr: PathBuf,
    last: JobState,
    cancelled: bool,
}

pub struct SlurmProvider {
    pub spec: SlurmSpec,
    script_dir: PathBuf,
    jobs: BTreeMap<String, Job>,
}

impl SlurmProvider {
    pub fn new(spec: SlurmSpec, script_dir: impl Into<PathBuf>) -> Result<Self, ProviderError> {
        check_walltime(&spec.walltime)?;
        if spec.nodes_per_block == 0 {
            return Err(ProviderError::Config("nodes_per_block must be at least 1".into()));
        }
        Ok(SlurmProvider { spec, script_dir: script_dir.into(), jobs: BTreeMap::new() })
    }

    fn clusters_arg(&self) -> Option<String> {
        self.spec.clusters.as_deref().filter(|c| !c.is_empty()).map(|c| format!("--clusters={c}"))
    }

    /// Writes the script and `sbatch`es it; returns Slurm's job id.
    pub fn submit(&mut self, command: &str, tasks_per_node: u32, job_name: &str) -> Result<String, ProviderError> {
        fs::create_dir_all(&self.script_dir).map_err(|error| ProviderError::Script { path: self.script_dir.clone(), error })?;
        let script = self.script_dir.join(format!("{job_name}.submit"));
        let stdout = self.script_dir.join(format!("{job_name}.stdout"));
        let stderr = self.script_dir.join(format!("{job_name}.stderr"));
        let text = batch_script(&self.spec, job_name, &stdout, &stderr, tasks_per_node, command);
        fs::write(&script, text)
            .and_then(|_| fs::set_permissions(&script, fs::Permissions::from_mode(0o700)))
            .map_err(|error| ProviderError::Script { path: script.clone(), error })?;
        let script_arg = script.display().to_string();
        let out = cli::run(&["sbatch", &script_arg], Some(&self.script_dir), self.spec.cmd_timeout)?;
        if out.code != 0 {
            return Err(ProviderError::Scheduler { command: format!("sbatch {script_arg}"), code: out.code, stderr: out.stderr.trim().to_string() });
        }
        let id = parse_sbatch(&out.stdout).ok_or_else(|| ProviderError::Submit {
            job_name: job_name.to_string(),
            error: format!("sbatch printed no job id: {:?} {:?}", out.stdout.trim(), out.stderr.trim()),
        })?;
        tracing::info!(job = %id, script = %script.display(), "slurm block submitted");
        self.jobs.insert(id.clone(), Job { stdout, stderr, last: JobState::Pending, cancelled: false });
        Ok(id)
    }

    /// Status of `ids`, from one `squeue` call for all blocks not yet ended.
    pub fn status(&mut self, ids: &[String]) -> Result<Vec<JobStatus>, ProviderError> {
        let live: Vec<&str> = ids.iter().filter(|id| self.jobs.get(*id).is_some_and(|j| !j.last.is_terminal())).map(String::as_str).collect();
        let mut seen = BTreeMap::new();
        if !live.is_empty() {
            let jobs = format!("--jobs={}", live.join(","));
            let mut argv = vec!["squeue", "--noheader", "--format=%i %t %r", jobs.as_str()];
            let clusters = self.clusters_arg();
            if let Some(c) = clusters.as_deref() {
                argv.push(c);
            }
            let out = cli::run(&argv, None, self.spec.cmd_timeout)?;
            // squeue exits 1 with "Invalid job id specified" once every job listed is gone.
            if out.code != 0 && !out.stderr.contains("Invalid job id") {
                return Err(ProviderError::Scheduler { command: argv.join(" "), code: out.code, stderr: out.stderr.trim().to_string() });
            }
            seen = parse_squeue(&out.stdout);
        }
        Ok(ids
            .iter()
            .map(|id| {
                let Some(job) = self.jobs.get_mut(id) else {
                    return JobStatus { state: JobState::Missing, message: Some(format!("job {id} was not submitted by this provider")), exit_code: None, stdout_path: None, stderr_path: None };
                };
                let mut message = None;
                if !job.last.is_terminal() {
                    job.last = match seen.get(id) {
                        Some((state, reason)) => {
                            if !reason.is_empty() && reason != "None" {
                                message = Some(reason.clone());
                            }
                            *state
                        }
                        None if job.cancelled => JobState::Cancelled,
                        None => JobState::Completed,
                    };
                }
                JobStatus { state: job.last, message, exit_code: None, stdout_path: Some(job.stdout.clone()), stderr_path: Some(job.stderr.clone()) }
            })
            .collect())
    }

    /// `scancel`s the jobs; true for each that Slurm accepted.
    pub fn cancel(&mut self, ids: &[String]) -> Result<Vec<bool>, ProviderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut argv: Vec<String> = vec!["scancel".into()];
        argv.extend(self.clusters_arg());
        argv.extend(ids.iter().cloned());
        let argv_ref: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = cli::run(&argv_ref, None, self.spec.cmd_timeout)?;
        let ok = out.code == 0;
        if !ok {
            tracing::warn!(code = out.code, stderr = %out.stderr.trim(), "scancel failed");
        }
        for id in ids {
            if let Some(j) = self.jobs.get_mut(id) {
                j.cancelled |= ok;
                if ok && !j.last.is_terminal() {
                    j.last = JobState::Cancelled;
                }
            }
        }
        Ok(vec![ok; ids.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SlurmSpec {
        SlurmSpec { nodes_per_block: 2, walltime: "01:30:00".into(), exclusive: true, cmd_timeout: Duration::from_secs(10), ..Default::default() }
    }

    #[test]
    fn script_has_the_requested_resources() {
        let mut s = spec();
        s.partition = Some("debug".into());
        s.account = Some("proj1".into());
        s.cores_per_node = Some(8);
        s.mem_per_node_gb = Some(16);
        s.scheduler_options = "#SBATCH --mail-type=NONE".into();
        s.worker_init = "module load python".into();
        let text = batch_script(&s, "b0", Path::new("/r/b0.stdout"), Path::new("/r/b0.stderr"), 2, "srun pool");
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
        assert_eq!(parse_sbatch("Submitted batch job 4213\n").as_deref(), Some("4213"));
        assert_eq!(parse_sbatch("Submitted batch job 17 on cluster perlmutter\n").as_deref(), Some("17"));
        assert_eq!(parse_sbatch("sbatch: error: Batch job submission failed\n"), None);
        let q = parse_squeue("4213 PD Resources\n4214 R None\n4215 CG None\n4216 TO None\n");
        assert_eq!(q["4213"], (JobState::Pending, "Resources".to_string()));
        assert_eq!(q["4214"].0, JobState::Running);
        assert_eq!(q["4215"].0, JobState::Running);
        assert_eq!(q["4216"].0, JobState::Timeout);
    }

    #[test]
    fn bad_walltime_is_named() {
        assert!(check_walltime("00:10:00").is_ok());
        assert!(check_walltime("100:00:00").is_ok());
        for bad in ["10", "00:61:00", "1:2", "aa:bb:cc"] {
            let e = check_walltime(bad).expect_err(bad).to_string();
            assert!(e.contains("HH:MM:SS"), "{e}");
        }
    }
}
