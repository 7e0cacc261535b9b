//! Blocks as batch jobs, for any scheduler with a submit / status / cancel CLI.
//!
//! [`BatchProvider`] does what every batch provider does the same way: write the
//! job's files, submit, ask for the status of all live blocks in as few calls as
//! `status_batch_size` allows, remember the blocks it cancelled, and turn every
//! failure into an error that quotes the scheduler. A [`Scheduler`] (Slurm, PBS
//! Pro, Torque, Grid Engine, LSF, HTCondor) only says what its files look like,
//! which commands to run, and how to read their answers.
//!
//! A job missing from a status answer has ended; like Parsl we call it completed,
//! unless we cancelled it ourselves.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli;
use crate::{JobState, JobStatus, ProviderError};

/// What each block asks for, with Parsl's parameter names. One struct for every
/// scheduler: each reads the fields it has a directive for.
#[derive(Debug, Clone)]
pub struct BlockSpec {
    pub nodes_per_block: u32,
    /// `HH:MM:SS`.
    pub walltime: String,
    /// Slurm's partition, the queue elsewhere.
    pub queue: Option<String>,
    /// Slurm/PBS account, LSF/HTCondor project.
    pub account: Option<String>,
    pub qos: Option<String>,
    pub constraint: Option<String>,
    pub clusters: Option<String>,
    pub gres: Option<String>,
    /// Slurm cores_per_node, PBS Pro cpus_per_node, HTCondor cores_per_slot.
    pub cores_per_node: Option<u32>,
    pub mem_per_node_gb: Option<f64>,
    pub gpus_per_node: Option<u32>,
    pub exclusive: bool,
    /// PBS Pro: appended to the `select` statement.
    pub select_options: String,
    /// LSF: ask for cores (`-n`, `span[ptile=]`) instead of nodes.
    pub cores_per_block: Option<u32>,
    /// LSF: `bsub < script` instead of `bsub script`.
    pub bsub_redirection: bool,
    /// HTCondor.
    pub requirements: String,
    pub environment: Vec<(String, String)>,
    pub transfer_input_files: Vec<String>,
    /// Extra directives or submit-file lines, verbatim.
    pub scheduler_options: String,
    pub worker_init: String,
    pub cmd_timeout: Duration,
    pub status_batch_size: usize,
}

impl Default for BlockSpec {
    fn default() -> Self {
        BlockSpec {
            nodes_per_block: 1,
            walltime: "00:10:00".into(),
            queue: None,
            account: None,
            qos: None,
            constraint: None,
            clusters: None,
            gres: None,
            cores_per_node: None,
            mem_per_node_gb: None,
            gpus_per_node: None,
            exclusive: false,
            select_options: String::new(),
            cores_per_block: None,
            bsub_redirection: false,
            requirements: String::new(),
            environment: Vec::new(),
            transfer_input_files: Vec::new(),
            scheduler_options: String::new(),
            worker_init: String::new(),
            cmd_timeout: Duration::from_secs(60),
            status_batch_size: 50,
        }
    }
}

/// Where one block's files go.
#[derive(Debug, Clone)]
pub struct JobFiles {
    pub name: String,
    pub dir: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl JobFiles {
    fn new(dir: &Path, name: &str) -> Self {
        JobFiles { name: name.into(), dir: dir.into(), stdout: dir.join(format!("{name}.stdout")), stderr: dir.join(format!("{name}.stderr")) }
    }

    pub fn path(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{suffix}", self.name))
    }
}

/// One scheduler's files, commands and answers.
pub trait Scheduler: Send {
    fn name(&self) -> &'static str;
    /// The files to write (path, text); the first is the one submitted.
    fn files(&self, spec: &BlockSpec, job: &JobFiles, tasks_per_node: u32, command: &str) -> Vec<(PathBuf, String)>;
    fn submit_argv(&self, spec: &BlockSpec, submit_file: &Path) -> Vec<String>;
    /// The job id in the submit command's output.
    fn parse_submit(&self, stdout: &str) -> Option<String>;
    fn status_argv(&self, spec: &BlockSpec, ids: &[&str]) -> Vec<String>;
    /// Job id → (state, the scheduler's reason or message, may be empty).
    fn parse_status(&self, stdout: &str) -> BTreeMap<String, (JobState, String)>;
    /// The key a status answer uses for job `id` (some tools shorten ids).
    fn job_key(&self, id: &str) -> String {
        id.to_string()
    }
    /// The status tool lists every job of the user, whatever ids it is given: one
    /// call does for all blocks.
    fn status_lists_all(&self) -> bool {
        false
    }
    /// Whether a failed status call still answered (some tools exit non-zero when
    /// a listed job has already left the queue).
    fn status_failure_is_benign(&self, _code: i32, _stderr: &str) -> bool {
        false
    }
    fn cancel_argv(&self, spec: &BlockSpec, ids: &[String]) -> Vec<String>;
    /// How often to ask about the blocks by default: Parsl's, a minute for every batch
    /// scheduler, cloud and Kubernetes alike (both fronts read it from here).
    fn status_polling_interval(&self) -> std::time::Duration {
        crate::BATCH_STATUS_POLLING_INTERVAL
    }
    /// Anything to learn from the scheduler before the first submit (a cloud's
    /// zone); called once, with the provider's command timeout.
    fn prepare(&mut self, _spec: &BlockSpec) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The `#DIRECTIVE` header lines shared by shell-script schedulers.
pub(crate) fn directive(out: &mut String, prefix: &str, line: impl AsRef<str>) {
    out.push_str(prefix);
    out.push(' ');
    out.push_str(line.as_ref());
    out.push('\n');
}

/// The body every shell batch script ends with: options, worker_init, the job name
/// and the launcher's command.
pub(crate) fn script_body(out: &mut String, spec: &BlockSpec, job_name: &str, exports: &[String], command: &str) {
    if !spec.scheduler_options.trim().is_empty() {
        out.push_str(spec.scheduler_options.trim_end());
        out.push('\n');
    }
    out.push('\n');
    for e in exports {
        out.push_str(e);
        out.push('\n');
    }
    out.push_str(&spec.worker_init);
    out.push_str(&format!("\nexport JOBNAME=\"{job_name}\"\n\n{command}\n"));
}

/// `HH:MM:SS` → seconds (0 for anything else; walltimes are checked at configuration).
pub fn walltime_seconds(w: &str) -> u64 {
    let p: Vec<u64> = w.split(':').map(|x| x.parse().unwrap_or(0)).collect();
    match p.as_slice() {
        [h, m, s] => h * 3600 + m * 60 + s,
        _ => 0,
    }
}

/// `HH:MM:SS` → whole minutes, rounded up (LSF's `-W`).
pub fn walltime_minutes(w: &str) -> u64 {
    walltime_seconds(w).div_ceil(60)
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

struct Job {
    files: JobFiles,
    last: JobState,
    cancelled: bool,
}

pub struct BatchProvider {
    pub spec: BlockSpec,
    scheduler: Box<dyn Scheduler>,
    script_dir: PathBuf,
    jobs: BTreeMap<String, Job>,
    prepared: bool,
    runner: Option<Box<dyn CommandRunner>>,
}

/// Where a provider's scheduler commands run when not here: a front's hook (Parsl's
/// `execute_wait`, which a script may override to reach a login node, or to stand in
/// for the scheduler in a test). `Ok(None)` runs the command here after all.
pub trait CommandRunner: Send {
    fn run(&self, argv: &[String], cwd: Option<&Path>, timeout: Duration) -> Result<Option<cli::Output>, ProviderError>;
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

impl BatchProvider {
    /// The scheduler this provider submits to.
    pub fn scheduler(&self) -> &dyn Scheduler {
        self.scheduler.as_ref()
    }

    pub fn new(scheduler: Box<dyn Scheduler>, spec: BlockSpec, script_dir: impl Into<PathBuf>) -> Result<Self, ProviderError> {
        check_walltime(&spec.walltime)?;
        if spec.nodes_per_block == 0 {
            return Err(ProviderError::Config("nodes_per_block must be at least 1".into()));
        }
        Ok(BatchProvider { spec, scheduler, script_dir: script_dir.into(), jobs: BTreeMap::new(), prepared: false, runner: None })
    }

    /// From now on scheduler commands go to `runner` first.
    pub fn set_runner(&mut self, runner: Box<dyn CommandRunner>) {
        self.runner = Some(runner);
    }

    /// A job's stdout and stderr files (None for a job this provider did not submit).
    pub fn job_files(&self, id: &str) -> Option<(&Path, &Path)> {
        self.jobs.get(id).map(|j| (j.files.stdout.as_path(), j.files.stderr.as_path()))
    }

    fn run(&self, argv: &[String], cwd: Option<&Path>) -> Result<cli::Output, ProviderError> {
        if let Some(runner) = &self.runner {
            if let Some(out) = runner.run(argv, cwd, self.spec.cmd_timeout)? {
                return Ok(out);
            }
        }
        cli::run(&strs(argv), cwd, self.spec.cmd_timeout)
    }

    /// Writes the job's files and submits; returns the scheduler's job id.
    pub fn submit(&mut self, command: &str, tasks_per_node: u32, job_name: &str) -> Result<String, ProviderError> {
        if !self.prepared {
            self.scheduler.prepare(&self.spec)?;
            self.prepared = true;
        }
        fs::create_dir_all(&self.script_dir).map_err(|error| ProviderError::Script { path: self.script_dir.clone(), error })?;
        let files = JobFiles::new(&self.script_dir, job_name);
        let written = self.scheduler.files(&self.spec, &files, tasks_per_node, command);
        for (path, text) in &written {
            crate::private_file::write(path, text, 0o700)
                .map_err(|error| ProviderError::Script { path: path.clone(), error })?;
        }
        let submit_file = written.first().map(|(p, _)| p.clone()).unwrap_or_else(|| files.path(".submit"));
        let argv = self.scheduler.submit_argv(&self.spec, &submit_file);
        let out = self.run(&argv, Some(&self.script_dir))?.success(argv.join(" "))?;
        let id = self.scheduler.parse_submit(&out.stdout).ok_or_else(|| ProviderError::Submit {
            job_name: job_name.to_string(),
            error: format!("{} printed no job id: {:?} {:?}", argv[0], out.stdout.trim(), out.stderr.trim()),
        })?;
        tracing::info!(scheduler = self.scheduler.name(), job = %id, script = %submit_file.display(), "block submitted");
        self.jobs.insert(id.clone(), Job { files, last: JobState::Pending, cancelled: false });
        Ok(id)
    }

    /// Status of `ids`: one status call per `status_batch_size` live blocks.
    pub fn status(&mut self, ids: &[String]) -> Result<Vec<JobStatus>, ProviderError> {
        let live: Vec<&str> = ids.iter().filter(|id| self.jobs.get(*id).is_some_and(|j| !j.last.is_terminal())).map(String::as_str).collect();
        let mut seen = BTreeMap::new();
        let batch = if self.scheduler.status_lists_all() { live.len() } else { self.spec.status_batch_size.max(1) };
        for chunk in live.chunks(batch.max(1)) {
            let argv = self.scheduler.status_argv(&self.spec, chunk);
            let out = self.run(&argv, None)?;
            if out.code != 0 && !self.scheduler.status_failure_is_benign(out.code, &out.stderr) {
                return Err(out.failure(argv.join(" ")));
            }
            seen.extend(self.scheduler.parse_status(&out.stdout).into_iter().map(|(id, v)| (self.scheduler.job_key(&id), v)));
        }
        Ok(ids
            .iter()
            .map(|id| {
                let Some(job) = self.jobs.get_mut(id) else {
                    return JobStatus { state: JobState::Missing, message: Some(format!("job {id} was not submitted by this provider")), exit_code: None, stdout_path: None, stderr_path: None };
                };
                let mut message = None;
                if !job.last.is_terminal() {
                    job.last = match seen.get(&self.scheduler.job_key(id)) {
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
                JobStatus { state: job.last, message, exit_code: None, stdout_path: Some(job.files.stdout.clone()), stderr_path: Some(job.files.stderr.clone()) }
            })
            .collect())
    }

    /// Cancels the jobs; true for each the scheduler accepted.
    pub fn cancel(&mut self, ids: &[String]) -> Result<Vec<bool>, ProviderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let argv = self.scheduler.cancel_argv(&self.spec, ids);
        let out = self.run(&argv, None)?;
        let ok = out.code == 0;
        if !ok {
            tracing::warn!(command = %argv.join(" "), code = out.code, stderr = %out.stderr.trim(), "cancel failed");
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

    #[test]
    fn walltimes() {
        assert!(check_walltime("00:10:00").is_ok());
        assert!(check_walltime("100:00:00").is_ok());
        for bad in ["10", "00:61:00", "1:2", "aa:bb:cc"] {
            let e = check_walltime(bad).expect_err(bad).to_string();
            assert!(e.contains("HH:MM:SS"), "{e}");
        }
        assert_eq!(walltime_minutes("01:30:00"), 90);
        assert_eq!(walltime_minutes("00:00:01"), 1);
    }
}
