//! Running a scheduler's command-line tools with a time limit.
//!
//! Every scheduler call goes through [`run`]: it never blocks longer than
//! `cmd_timeout`, and a failure carries the tool's own words (its stderr), which is
//! what a user needs to fix an account or partition name.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::ProviderError;

/// `word` as a shell reads it back as one word: as is when it holds nothing special,
/// else in single quotes (a single quote inside is closed, escaped and reopened).
pub fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:,=+@".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The command's failure, quoting its stderr (`command` is how to show it).
    pub fn failure(&self, command: impl Into<String>) -> ProviderError {
        ProviderError::Scheduler { command: command.into(), code: self.code, stderr: self.stderr.trim().to_string() }
    }

    /// This output if the command succeeded, else [`Output::failure`].
    pub fn success(self, command: impl Into<String>) -> Result<Output, ProviderError> {
        if self.code == 0 {
            Ok(self)
        } else {
            Err(self.failure(command))
        }
    }
}

/// Runs `argv` (no shell) in `cwd`, waiting at most `timeout`; kills it after that.
pub fn run(argv: &[&str], cwd: Option<&std::path::Path>, timeout: Duration) -> Result<Output, ProviderError> {
    run_with_input(argv, cwd, timeout, None)
}

/// [`run`], with `input` written to the command's stdin (a script for `ssh … bash -s`).
pub fn run_with_input(argv: &[&str], cwd: Option<&std::path::Path>, timeout: Duration, input: Option<Vec<u8>>) -> Result<Output, ProviderError> {
    let shown = argv.join(" ");
    let (program, args) = argv.split_first().ok_or_else(|| ProviderError::Command { command: shown.clone(), error: "empty command".into() })?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().map_err(|e| ProviderError::Command { command: shown.clone(), error: e.to_string() })?;
    let pid = child.id();
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        // A writer of its own, so a command that does not read cannot block us.
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&bytes);
        });
    }
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_string(&mut stdout);
        }
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut stderr);
        }
        let status = child.wait();
        let _ = tx.send((status, stdout, stderr));
    });
    match rx.recv_timeout(timeout) {
        Ok((Ok(status), stdout, stderr)) => Ok(Output { code: status.code().unwrap_or(-1), stdout, stderr }),
        Ok((Err(e), _, _)) => Err(ProviderError::Command { command: shown, error: e.to_string() }),
        Err(_) => {
            // SAFETY: kill(2) on the pid of a child the waiting thread has not reaped
            // (it is still waiting, or we would have its result).
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            Err(ProviderError::Timeout { command: shown, seconds: timeout.as_secs_f64() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_codes_and_timeouts() {
        let ok = run(&["sh", "-c", "echo out; echo err >&2; exit 3"], None, Duration::from_secs(10)).expect("runs");
        assert_eq!((ok.code, ok.stdout.as_str(), ok.stderr.as_str()), (3, "out\n", "err\n"));
        let slow = run(&["sleep", "30"], None, Duration::from_millis(200));
        assert!(matches!(slow, Err(ProviderError::Timeout { .. })), "{slow:?}");
        assert!(matches!(run(&["/no/such/tool"], None, Duration::from_secs(1)), Err(ProviderError::Command { .. })));
    }
}
