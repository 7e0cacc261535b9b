//! Blocks on a fixed list of machines reached over SSH (Parsl's `AdHocProvider`).
//!
//! Each block takes one host not already running a block. The job script goes
//! over the ssh connection's stdin (never on a command line, since it carries the
//! run's secret) into a private file in `remote_dir`, and runs there detached in a
//! session of its own, so that cancelling can signal the whole process group. Its
//! exit code is written beside it, so status can tell completed from failed. All
//! of a host's blocks are asked about in one ssh call.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cli;
use crate::{JobState, JobStatus, ProviderError};

struct Job {
    host: usize,
    pid: u32,
    name: String,
    last: JobState,
    cancelled: bool,
}

pub struct AdHocProvider {
    hosts: Vec<String>,
    /// `ssh` and its options, before the host.
    ssh: Vec<String>,
    remote_dir: String,
    cmd_timeout: Duration,
    jobs: BTreeMap<String, Job>,
    next: u64,
}

/// Quotes for the remote shell.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl AdHocProvider {
    pub fn new(hosts: Vec<String>, ssh_options: Vec<String>, remote_dir: String, cmd_timeout: Duration) -> Result<Self, ProviderError> {
        if hosts.is_empty() {
            return Err(ProviderError::Config("AdHocProvider needs at least one host".into()));
        }
        let mut ssh = vec!["ssh".to_string(), "-o".into(), "BatchMode=yes".into()];
        ssh.extend(ssh_options);
        Ok(AdHocProvider { hosts, ssh, remote_dir, cmd_timeout, jobs: BTreeMap::new(), next: 0 })
    }

    fn ssh(&self, host: usize, remote: &str, input: Option<Vec<u8>>) -> Result<cli::Output, ProviderError> {
        let mut argv: Vec<&str> = self.ssh.iter().map(String::as_str).collect();
        argv.push(&self.hosts[host]);
        argv.push(remote);
        cli::run_with_input(&argv, None, self.cmd_timeout, input)?.success(format!("ssh {} …", self.hosts[host]))
    }

    fn busy(&self, host: usize) -> bool {
        self.jobs.values().any(|j| j.host == host && !j.last.is_terminal())
    }

    /// Starts `script` on the first free host; the job id is `host:pid`.
    pub fn submit(&mut self, script: &str, job_name: &str) -> Result<String, ProviderError> {
        let host = (0..self.hosts.len()).find(|h| !self.busy(*h)).ok_or_else(|| ProviderError::Submit {
            job_name: job_name.to_string(),
            error: format!("every host already runs a block ({}); raise the host list or lower max_blocks", self.hosts.join(", ")),
        })?;
        self.next += 1;
        let name = format!("{job_name}.{}", self.next);
        let path = format!("{}/{name}", self.remote_dir);
        let remote = format!(
            "mkdir -p {dir} && umask 077 && cat > {sh} && \
             (setsid bash -c 'bash \"$0\"; echo $? > \"$0.exit\"' {sh} > {out} 2> {err} < /dev/null & echo $!)",
            dir = q(&self.remote_dir),
            sh = q(&format!("{path}.sh")),
            out = q(&format!("{path}.stdout")),
            err = q(&format!("{path}.stderr")),
        );
        let out = self.ssh(host, &remote, Some(format!("#!/bin/bash\n{script}\n").into_bytes()))?;
        let pid: u32 = out.stdout.trim().parse().map_err(|_| ProviderError::Submit { job_name: job_name.to_string(), error: format!("the remote shell printed no pid: {:?}", out.stdout.trim()) })?;
        let id = format!("{}:{pid}", self.hosts[host]);
        tracing::info!(job = %id, "ad hoc block started");
        self.jobs.insert(id.clone(), Job { host, pid, name, last: JobState::Running, cancelled: false });
        Ok(id)
    }

    /// One ssh call per host with live blocks.
    pub fn status(&mut self, ids: &[String]) -> Result<Vec<JobStatus>, ProviderError> {
        let mut by_host: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for id in ids {
            if let Some(j) = self.jobs.get(id).filter(|j| !j.last.is_terminal()) {
                by_host.entry(j.host).or_default().push(id.clone());
            }
        }
        for (host, live) in by_host {
            let checks: Vec<String> = live
                .iter()
                .filter_map(|id| self.jobs.get(id))
                .map(|j| {
                    let exit = q(&format!("{}/{}.sh.exit", self.remote_dir, j.name));
                    format!("if kill -0 {pid} 2>/dev/null; then echo {pid} R; elif [ -f {exit} ]; then echo {pid} X $(cat {exit}); else echo {pid} X 255; fi", pid = j.pid)
                })
                .collect();
            let out = self.ssh(host, &checks.join("; "), None)?;
            for line in out.stdout.lines() {
                let c: Vec<&str> = line.split_whitespace().collect();
                let (Some(pid), Some(state)) = (c.first().and_then(|p| p.parse::<u32>().ok()), c.get(1)) else { continue };
                let Some(job) = self.jobs.values_mut().find(|j| j.host == host && j.pid == pid) else { continue };
                job.last = match (*state, c.get(2)) {
                    ("R", _) => JobState::Running,
                    _ if job.cancelled => JobState::Cancelled,
                    (_, Some(&"0")) => JobState::Completed,
                    _ => JobState::Failed,
                };
            }
        }
        Ok(ids
            .iter()
            .map(|id| match self.jobs.get(id) {
                Some(j) => {
                    let base = format!("{}/{}", self.remote_dir, j.name);
                    JobStatus { state: j.last, message: None, exit_code: None, stdout_path: Some(format!("{base}.stdout").into()), stderr_path: Some(format!("{base}.stderr").into()) }
                }
                None => JobStatus { state: JobState::Missing, message: Some(format!("job {id} was not submitted by this provider")), exit_code: None, stdout_path: None, stderr_path: None },
            })
            .collect())
    }

    /// Signals each block's process group (TERM, then KILL after two seconds).
    pub fn cancel(&mut self, ids: &[String]) -> Result<Vec<bool>, ProviderError> {
        let mut ok = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(j) = self.jobs.get(id) else {
                ok.push(false);
                continue;
            };
            let remote = format!("kill -TERM -- -{p} 2>/dev/null; (sleep 2; kill -KILL -- -{p} 2>/dev/null) > /dev/null 2>&1 & true", p = j.pid);
            let done = self.ssh(j.host, &remote, None).is_ok();
            if let Some(j) = self.jobs.get_mut(id) {
                j.cancelled |= done;
                if done {
                    j.last = JobState::Cancelled;
                }
            }
            ok.push(done);
        }
        Ok(ok)
    }
}
