//! Walltime for a Rust app body in a worker process.
//!
//! A Rust body cannot be stopped from outside its thread. In a worker process it runs
//! in a child process of the worker (`fork`: the worker is single-threaded, so the
//! child is a whole copy of it), and at the deadline that child's process group is
//! killed — the body, and anything it started, stop there and perform no more side
//! effects — while the worker goes on to its next task. Only tasks with a `walltime`
//! pay for the fork. (On a `ThreadPoolExecutor` the body shares the client's process,
//! which cannot be forked safely: there the task fails at the deadline and the body
//! runs on to its end; `Error::AppTimeout` says which.)

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::codec;
use crate::error::Error;

/// Runs `body` in a child process, for at most `secs` seconds.
pub(crate) fn run_in_child(
    body: impl FnOnce() -> Result<Vec<u8>, Error>,
    secs: f64,
    app: &str,
) -> Result<Vec<u8>, Error> {
    let lost = |why: String| Error::WorkerLost { host: chervil_htex::pool::hostname(), why };
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(lost(format!("cannot make a pipe for the app's process: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: both descriptors were just made and are owned by nothing else.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the worker process has one thread (run_worker's loop), so the child is a
    // consistent copy; the child only runs the body, writes, and _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(lost(format!("cannot start the app's process: {}", std::io::Error::last_os_error())));
    }
    if pid == 0 {
        drop(read_end);
        // SAFETY: a new process group of its own, so the kill reaches what the body starts.
        unsafe { libc::setpgid(0, 0) };
        let outcome = body();
        let bytes = codec::encode(&outcome, "the app's outcome").unwrap_or_default();
        let mut out = std::fs::File::from(write_end);
        let _ = std::io::Write::write_all(&mut out, &bytes);
        let _ = std::io::Write::flush(&mut std::io::stdout());
        // SAFETY: ends the child without running the worker's exit handlers twice.
        unsafe { libc::_exit(0) };
    }
    drop(write_end);
    let deadline = Instant::now() + Duration::from_secs_f64(secs.max(0.0));
    let mut bytes = Vec::new();
    let timed_out = !read_until(&mut std::fs::File::from(read_end), deadline, &mut bytes);
    if timed_out {
        // SAFETY: signals to the child's group and the child, which we made.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let mut status = 0;
    // SAFETY: reaps our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if timed_out {
        return Err(Error::AppTimeout { app: app.to_string(), seconds: secs });
    }
    if bytes.is_empty() {
        let why = if libc::WIFSIGNALED(status) {
            format!("the app's process (under walltime) was killed by signal {}", libc::WTERMSIG(status))
        } else {
            format!("the app's process (under walltime) exited with code {} and no outcome", libc::WEXITSTATUS(status))
        };
        return Err(lost(why));
    }
    codec::decode::<Result<Vec<u8>, Error>>(&bytes, "the app's outcome")?
}

/// Reads `fd` to its end; false if `deadline` came first.
fn read_until(file: &mut std::fs::File, deadline: Instant, into: &mut Vec<u8>) -> bool {
    use std::os::fd::AsRawFd;
    let mut buf = [0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut pfd = libc::pollfd { fd: file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one pollfd, owned here, for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return true; // nothing more can be read; what arrived is decoded
        }
        if ready == 0 {
            continue; // the deadline is checked at the top
        }
        match file.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}
