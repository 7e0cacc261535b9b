//! A bash app's command, started by the engine from the worker (`chervil.app.bash`).

use std::time::Duration;

use chervil_run::shell::{self, Shell, ShellEnd, ShellError};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Runs `command` with `/bin/bash -c`, its output to the descriptors given (the
/// caller's own when None), its input `/dev/null`, no other descriptor inherited, and
/// waits for it. Returns its exit code as
/// `subprocess.Popen.returncode` has it (minus the signal that ended it), or None when
/// `walltime` seconds passed first and the command's whole session was killed.
#[pyfunction]
#[pyo3(signature = (command, *, stdout=None, stderr=None, new_session=false, walltime=None))]
pub fn run_shell(
    py: Python<'_>,
    command: &str,
    stdout: Option<i32>,
    stderr: Option<i32>,
    new_session: bool,
    walltime: Option<f64>,
) -> PyResult<Option<i32>> {
    // As Popen.wait's timeout: a negative walltime has passed already, an infinite one never does.
    let walltime = match walltime {
        Some(s) if s.is_nan() => return Err(PyValueError::new_err("walltime must be a number of seconds, not NaN")),
        Some(s) if s.is_finite() => Some(Duration::from_secs_f64(s.max(0.0))),
        _ => None,
    };
    let task = Shell { command, stdout, stderr, new_session, walltime };
    match py.detach(|| shell::run(&task)) {
        Ok(ShellEnd::Exited(code)) => Ok(Some(code)),
        Ok(ShellEnd::Signalled(signal)) => Ok(Some(-signal)),
        Ok(ShellEnd::TimedOut) => Ok(None),
        Err(e @ ShellError::Nul(_)) => Err(PyValueError::new_err(e.to_string())),
        Err(ShellError::Start(e) | ShellError::Wait(e)) => Err(e.into()),
    }
}
