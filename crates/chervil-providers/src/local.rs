//! Blocks as process groups on this machine (Parsl's `LocalProvider`).
//!
//! Each block is `bash <script>` in a process group of its own, its output in
//! `<script>.out` / `<script>.err`. Cancelling signals the whole group (TERM, then
//! KILL after a grace period), so the pools and their workers go with it; dropping
//! the provider cancels every block still running, so a crashed client leaves no
//! pools behind on its own machine.
//!
//! A job's state is its process's: `COMPLETED` for exit code 0, as Parsl's local
//! provider says, whatever ended the script. (A block that ended before its pool ever
//! registered is `MISSING` by the block book's rule, `chervil_scaling::BlockBook`.)

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{JobState, JobStatus, ProviderError};

struct Job {
    child: Child,
    script: PathBuf,
    cancelled: bool,
    exit: Option<std::process::ExitStatus>,
}

pub struct LocalProvider {
    script_dir: PathBuf,
    jobs: BTreeMap<String, Job>,
    /// How long a cancelled block has between SIGTERM and SIGKILL.
    pub grace: Duration,
}

impl LocalProvider {
    pub fn new(script_dir: impl Into<PathBuf>) -> Self {
        LocalProvider { script_dir: script_dir.into(), jobs: BTreeMap::new(), grace: Duration::from_secs(2) }
    }

    /// Writes `script` (the whole job: worker_init and the launched command) and runs
    /// it. Returns the job id (the process group's id, as text).
    pub fn submit(&mut self, script: &str, job_name: &str) -> Result<String, ProviderError> {
        fs::create_dir_all(&self.script_dir)
            .map_err(|error| ProviderError::Script { path: self.script_dir.clone(), error })?;
        let path = self.script_dir.join(format!("{job_name}.sh"));
        let write = || -> std::io::Result<(File, File)> {
            // The script carries the run's secret, and what the block prints may quote it
            // (`set -x` in worker_init): only their owner may read them, from the start.
            crate::private_file::write(&path, &format!("#!/bin/bash\n{script}\n"), 0o700)?;
            Ok((crate::private_file::create(&with_ext(&path, "out"), 0o600)?, crate::private_file::create(&with_ext(&path, "err"), 0o600)?))
        };
        let (out, err) = write().map_err(|error| ProviderError::Script { path: path.clone(), error })?;
        let child = Command::new("/bin/bash")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| ProviderError::Submit { job_name: job_name.to_string(), error: e.to_string() })?;
        let id = child.id().to_string();
        tracing::info!(job = %id, script = %path.display(), "local block started");
        self.jobs.insert(id.clone(), Job { child, script: path, cancelled: false, exit: None });
        Ok(id)
    }

    pub fn status(&mut self, ids: &[String]) -> Vec<JobStatus> {
        ids.iter().map(|id| self.status_of(id)).collect()
    }

    fn status_of(&mut self, id: &str) -> JobStatus {
        let Some(job) = self.jobs.get_mut(id) else {
            return JobStatus { state: JobState::Unknown, message: Some(format!("no block {id} was started by this provider")), exit_code: None, stdout_path: None, stderr_path: None };
        };
        if job.exit.is_none() {
            job.exit = job.child.try_wait().ok().flatten();
        }
        let (out, err) = (Some(with_ext(&job.script, "out")), Some(with_ext(&job.script, "err")));
        let (state, message, code) = match (job.cancelled, job.exit) {
            (true, _) => (JobState::Cancelled, None, job.exit.and_then(|e| e.code())),
            (false, None) => (JobState::Running, None, None),
            (false, Some(e)) if e.success() => (JobState::Completed, None, Some(0)),
            (false, Some(e)) => {
                let how = match e.code() {
                    Some(c) => format!("exited with code {c}"),
                    None => "was killed by a signal".to_string(),
                };
                let msg = format!("block {id} {how}; see {}", with_ext(&job.script, "err").display());
                (JobState::Failed, Some(msg), e.code())
            }
        };
        JobStatus { state, message, exit_code: code, stdout_path: out, stderr_path: err }
    }

    /// Stops blocks: SIGTERM to each process group, SIGKILL to what is left after the
    /// grace period. Returns, per id, whether it was a block of this provider.
    pub fn cancel(&mut self, ids: &[String]) -> Vec<bool> {
        let mut known = Vec::with_capacity(ids.len());
        let mut signalled = Vec::new();
        for id in ids {
            match self.jobs.get_mut(id) {
                Some(job) => {
                    known.push(true);
                    job.cancelled = true;
                    if job.exit.is_none() {
                        signal_group(job.child.id(), libc::SIGTERM);
                        signalled.push(id.clone());
                    }
                }
                None => known.push(false),
            }
        }
        let deadline = Instant::now() + self.grace;
        for id in signalled {
            let Some(job) = self.jobs.get_mut(&id) else { continue };
            loop {
                if let Ok(Some(status)) = job.child.try_wait() {
                    job.exit = Some(status);
                    break;
                }
                if Instant::now() >= deadline {
                    signal_group(job.child.id(), libc::SIGKILL);
                    job.exit = job.child.wait().ok();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            // The script's shell may be gone while a pool it started lingers.
            signal_group(job.child.id(), libc::SIGKILL);
        }
        known
    }

    pub fn job_ids(&self) -> Vec<String> {
        self.jobs.keys().cloned().collect()
    }
}

impl Drop for LocalProvider {
    fn drop(&mut self) {
        let running: Vec<String> = self.jobs.iter().filter(|(_, j)| j.exit.is_none() && !j.cancelled).map(|(id, _)| id.clone()).collect();
        if !running.is_empty() {
            self.grace = Duration::from_millis(200);
            self.cancel(&running);
        }
    }
}

fn signal_group(pgid: u32, sig: libc::c_int) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        if pgid > 0 {
            // SAFETY: killpg on a process group this provider created.
            unsafe {
                libc::killpg(pgid, sig);
            }
        }
    }
}

fn with_ext(script: &Path, ext: &str) -> PathBuf {
    let mut s = script.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_state(p: &mut LocalProvider, id: &str, want: JobState) -> JobStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = p.status(&[id.to_string()]).remove(0);
            if s.state == want || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn blocks_complete_fail_and_cancel_with_their_children() {
        let dir = std::env::temp_dir().join(format!("chervil-local-{}", std::process::id()));
        let mut p = LocalProvider::new(&dir);
        let ok = p.submit("echo hi", "ok").unwrap();
        let s = wait_state(&mut p, &ok, JobState::Completed);
        assert_eq!(s.state, JobState::Completed);
        assert_eq!(fs::read_to_string(s.stdout_path.unwrap()).unwrap(), "hi\n");

        // ended early with code 0 (an `exit` in worker_init): completed, as Parsl says
        // (whether its pool ever registered is the block book's question)
        let early = p.submit("echo setting up; exit 0\necho the pool", "early").unwrap();
        let s = wait_state(&mut p, &early, JobState::Completed);
        assert_eq!((s.state, s.exit_code), (JobState::Completed, Some(0)));

        let bad = p.submit("echo oops >&2; exit 3", "bad").unwrap();
        let s = wait_state(&mut p, &bad, JobState::Failed);
        assert_eq!((s.state, s.exit_code), (JobState::Failed, Some(3)));
        assert!(s.message.unwrap().contains("bad.sh.err"));

        // a block whose child ignores SIGTERM still goes, child and all
        let pidfile = dir.join("child.pid");
        let long = p.submit(&format!("bash -c 'trap \"\" TERM; echo $$ > {}; sleep 600' & wait", pidfile.display()), "long").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pidfile.exists() || fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
            assert!(Instant::now() < deadline, "the block never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        let child: i32 = fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        p.grace = Duration::from_millis(300);
        assert_eq!(p.cancel(&[long.clone(), "nope".into()]), vec![true, false]);
        assert_eq!(p.status(&[long]).remove(0).state, JobState::Cancelled);
        let deadline = Instant::now() + Duration::from_secs(5);
        // SAFETY: signal 0 only checks whether the pid exists.
        while unsafe { libc::kill(child, 0) } == 0 && !is_zombie(child) {
            assert!(Instant::now() < deadline, "the block's child outlived the cancel");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(p.status(&["nope".into()]).remove(0).state, JobState::Unknown);
        let _ = fs::remove_dir_all(&dir);
    }

    fn is_zombie(pid: i32) -> bool {
        fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
    }
}
