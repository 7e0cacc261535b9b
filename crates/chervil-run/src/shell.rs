//! A bash app's command line, run as Parsl runs it: `/bin/bash -c <command>`, its
//! standard output and error sent where the app said, killed with its whole process
//! group when the walltime passes. Both fronts start their commands here, in a worker
//! or on a client's thread. A command has no input: its stdin is `/dev/null` wherever
//! it runs, so a `cat` ends instead of waiting on a pipe or the user's terminal.
//!
//! Why not `std::process::Command` or Python's `subprocess`: starting the command is
//! most of a short bash app's cost beside bash itself. `posix_spawn` (a vfork under
//! glibc: no page tables copied, however big the worker) with the caller's `environ`
//! as it is, and nothing else done in the parent, costs a fraction of `Popen`'s
//! Python; and it lets the child get Python's `restore_signals` (SIGPIPE and SIGXFSZ
//! back to their defaults, which a Python worker ignores) and its own session, which
//! `Command` cannot give without falling back to fork.

use std::ffi::{CString, NulError};
use std::io;
use std::os::fd::RawFd;
use std::sync::mpsc;
use std::time::Duration;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellEnd {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it.
    Signalled(i32),
    /// The walltime passed first; its process group was killed.
    TimedOut,
}

/// Why a command did not run to an end.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("the command line holds a NUL byte, which no program can receive: {0}")]
    Nul(#[from] NulError),
    #[error("cannot start /bin/bash: {0}")]
    Start(io::Error),
    #[error("cannot wait for the command: {0}")]
    Wait(io::Error),
}

/// One command to run.
#[derive(Debug, Clone, Copy)]
pub struct Shell<'a> {
    pub command: &'a str,
    /// Descriptor for the command's standard output; `None` keeps the caller's.
    pub stdout: Option<RawFd>,
    /// Descriptor for its standard error; `None` keeps the caller's.
    pub stderr: Option<RawFd>,
    /// Start it in a session of its own (so the walltime can kill all it starts).
    /// Always so when a walltime is set.
    pub new_session: bool,
    pub walltime: Option<Duration>,
}

/// Runs the command and waits for it (or for its walltime).
pub fn run(shell: &Shell<'_>) -> Result<ShellEnd, ShellError> {
    let new_session = shell.new_session || shell.walltime.is_some();
    let pid = spawn(shell.command, shell.stdout, shell.stderr, new_session, close_rule())?;
    let Some(limit) = shell.walltime else {
        return wait(pid).map_err(ShellError::Wait);
    };
    // A thread waits, so the deadline is a channel's timeout: no polling, and it
    // works on kernels without pidfd. Only commands with a walltime pay for it.
    let (tx, rx) = mpsc::channel();
    let watcher = std::thread::Builder::new().name("chervil-walltime".into()).spawn(move || {
        let _ = tx.send(wait(pid));
    });
    if let Err(e) = watcher {
        // No thread to wait with (the process is out of them): the command cannot be
        // held to its walltime, so it does not run on unwatched.
        // SAFETY: kill(2) on the session made for this command, not yet reaped.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = wait(pid);
        return Err(ShellError::Wait(io::Error::new(e.kind(), format!("no thread to keep the walltime: {e}"))));
    }
    match rx.recv_timeout(limit) {
        Ok(end) => end.map_err(ShellError::Wait),
        Err(_) => {
            // SAFETY: kill(2) on the session (and process group) made for this
            // command, whose leader is not yet reaped (the waiting thread reaps it
            // only after it dies), so the id cannot have been reused.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = rx.recv();
            Ok(ShellEnd::TimedOut)
        }
    }
}

extern "C" {
    static environ: *const *const libc::c_char;
}

/// Error codes of posix_spawn's helpers, as `io::Error`.
fn check(code: libc::c_int) -> Result<(), ShellError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ShellError::Start(io::Error::from_raw_os_error(code)))
    }
}

/// posix_spawn's attribute and file-action objects, each destroyed on the way out of
/// `spawn` if it was initialised.
struct SpawnState {
    attr: libc::posix_spawnattr_t,
    actions: libc::posix_spawn_file_actions_t,
    attr_ready: bool,
    actions_ready: bool,
}

impl Drop for SpawnState {
    fn drop(&mut self) {
        // SAFETY: each is destroyed once, and only after its init succeeded.
        unsafe {
            if self.attr_ready {
                libc::posix_spawnattr_destroy(&mut self.attr);
            }
            if self.actions_ready {
                libc::posix_spawn_file_actions_destroy(&mut self.actions);
            }
        }
    }
}

fn spawn(command: &str, stdout: Option<RawFd>, stderr: Option<RawFd>, new_session: bool, close: Close) -> Result<libc::pid_t, ShellError> {
    let program = CString::new("/bin/bash")?;
    let argv_owned = [program.clone(), CString::new("-c")?, CString::new(command)?];
    let argv: [*mut libc::c_char; 4] = [
        argv_owned[0].as_ptr() as *mut _,
        argv_owned[1].as_ptr() as *mut _,
        argv_owned[2].as_ptr() as *mut _,
        std::ptr::null_mut(),
    ];
    // SAFETY: the attribute and file-action objects are initialised in place before
    // use and destroyed by SpawnState's drop; every pointer handed to posix_spawn
    // (program, argv, environ) outlives the call; the descriptors are the caller's and
    // only duplicated in the child.
    unsafe {
        let mut state = SpawnState { attr: std::mem::zeroed(), actions: std::mem::zeroed(), attr_ready: false, actions_ready: false };
        check(libc::posix_spawnattr_init(&mut state.attr))?;
        state.attr_ready = true;
        check(libc::posix_spawn_file_actions_init(&mut state.actions))?;
        state.actions_ready = true;
        // Python ignores SIGPIPE and SIGXFSZ; the command gets them back (Popen's
        // restore_signals), with nothing blocked.
        let mut defaults: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut defaults);
        libc::sigaddset(&mut defaults, libc::SIGPIPE);
        libc::sigaddset(&mut defaults, libc::SIGXFSZ);
        check(libc::posix_spawnattr_setsigdefault(&mut state.attr, &defaults))?;
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        check(libc::posix_spawnattr_setsigmask(&mut state.attr, &empty))?;
        let mut flags = (libc::POSIX_SPAWN_SETSIGDEF | libc::POSIX_SPAWN_SETSIGMASK) as libc::c_short;
        if new_session {
            flags |= libc::POSIX_SPAWN_SETSID as libc::c_short;
        }
        check(libc::posix_spawnattr_setflags(&mut state.attr, flags))?;
        check(libc::posix_spawn_file_actions_addopen(&mut state.actions, 0, c"/dev/null".as_ptr(), libc::O_RDONLY, 0))?;
        for (fd, target) in [(stdout, 1), (stderr, 2)] {
            if let Some(fd) = fd {
                check(libc::posix_spawn_file_actions_adddup2(&mut state.actions, fd, target))?;
            }
        }
        add_closes(&mut state.actions, close)?;
        let mut pid: libc::pid_t = 0;
        check(libc::posix_spawn(&mut pid, program.as_ptr(), &state.actions, &state.attr, argv.as_ptr(), environ as *const *mut _))?;
        Ok(pid)
    }
}

type AddCloseFrom = unsafe extern "C" fn(*mut libc::posix_spawn_file_actions_t, libc::c_int) -> libc::c_int;

/// How the command is kept to descriptors 0-2 (Popen's `close_fds`), even one the app's
/// body made inheritable.
#[derive(Clone, Copy)]
enum Close {
    /// glibc 2.34's one action.
    From(AddCloseFrom),
    /// An older glibc: a close for each descriptor open now.
    EachOpen,
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np`, looked up at run time so the
/// wheel still loads on a glibc older than 2.34.
fn close_rule() -> Close {
    static RULE: std::sync::OnceLock<Close> = std::sync::OnceLock::new();
    *RULE.get_or_init(|| {
        // SAFETY: dlsym with a NUL-terminated name; a symbol found under this name has
        // this C signature.
        let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"posix_spawn_file_actions_addclosefrom_np".as_ptr()) };
        if found.is_null() {
            Close::EachOpen
        } else {
            Close::From(unsafe { std::mem::transmute::<*mut libc::c_void, AddCloseFrom>(found) })
        }
    })
}

/// # Safety
/// `actions` must be initialised.
unsafe fn add_closes(actions: &mut libc::posix_spawn_file_actions_t, rule: Close) -> Result<(), ShellError> {
    match rule {
        // SAFETY: the caller's initialised actions.
        Close::From(closefrom) => check(unsafe { closefrom(actions, 3) }),
        Close::EachOpen => {
            let open: Vec<libc::c_int> = std::fs::read_dir("/proc/self/fd")
                .map_err(ShellError::Start)?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter(|fd| *fd > 2)
                .collect();
            for fd in open {
                // One closed since (the listing's own) is skipped by glibc's child.
                // SAFETY: the caller's initialised actions.
                check(unsafe { libc::posix_spawn_file_actions_addclose(actions, fd) })?;
            }
            Ok(())
        }
    }
}

fn wait(pid: libc::pid_t) -> io::Result<ShellEnd> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid(2) on our own child, writing only `status`.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(if libc::WIFEXITED(status) {
        ShellEnd::Exited(libc::WEXITSTATUS(status))
    } else {
        ShellEnd::Signalled(libc::WTERMSIG(status))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    fn shell(command: &str) -> Shell<'_> {
        Shell { command, stdout: None, stderr: None, new_session: false, walltime: None }
    }

    #[test]
    fn exit_codes_and_signals_come_back() {
        assert_eq!(run(&shell("true")).unwrap(), ShellEnd::Exited(0));
        assert_eq!(run(&shell("exit 3")).unwrap(), ShellEnd::Exited(3));
        assert_eq!(run(&shell("kill -TERM $$")).unwrap(), ShellEnd::Signalled(libc::SIGTERM));
    }

    #[test]
    fn output_goes_to_the_given_descriptors_and_sigpipe_is_the_default() {
        let dir = std::env::temp_dir().join(format!("chervil-shell-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = std::fs::File::create(dir.join("out")).unwrap();
        let err = std::fs::File::create(dir.join("err")).unwrap();
        // `trap -p` prints nothing for a signal at its default; an ignored SIGPIPE
        // would show as `trap -- '' SIGPIPE`.
        let s = Shell {
            command: "echo to-out; echo to-err >&2; trap -p PIPE XFSZ; cat",
            stdout: Some(out.as_raw_fd()),
            stderr: Some(err.as_raw_fd()),
            new_session: false,
            walltime: None,
        };
        assert_eq!(run(&s).unwrap(), ShellEnd::Exited(0));
        let mut text = String::new();
        std::fs::File::open(dir.join("out")).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "to-out\n");
        assert_eq!(std::fs::read_to_string(dir.join("err")).unwrap(), "to-err\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_walltime_kills_the_whole_tree() {
        // The pipe's end of input comes only when every process holding its write end
        // has died: the background sleep as well as bash.
        let (mut reader, writer) = std::io::pipe().unwrap();
        let s = Shell {
            stdout: Some(writer.as_raw_fd()),
            walltime: Some(Duration::from_millis(200)),
            ..shell("sleep 30 & sleep 30; wait")
        };
        let started = std::time::Instant::now();
        assert_eq!(run(&s).unwrap(), ShellEnd::TimedOut);
        drop(writer);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        // A deadline, not a speed claim: the 30 s sleeps must not be waited for.
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn only_descriptors_0_to_2_reach_the_command_with_either_rule() {
        let (_reader, writer) = std::io::pipe().unwrap();
        // SAFETY: fcntl on a descriptor this test owns: the pipe's end made inheritable.
        unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETFD, 0) };
        let rules = [Some(close_rule()).filter(|r| matches!(r, Close::From(_))), Some(Close::EachOpen)];
        for rule in rules.into_iter().flatten() {
            let (mut out, into) = std::io::pipe().unwrap();
            // Not the last command: bash forks ls rather than becoming it.
            let pid = spawn("ls /proc/$$/fd; true", Some(into.as_raw_fd()), None, false, rule).unwrap();
            drop(into);
            let mut text = String::new();
            out.read_to_string(&mut text).unwrap();
            assert_eq!(wait(pid).unwrap(), ShellEnd::Exited(0));
            assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2"]);
        }
    }

    #[test]
    fn a_nul_byte_is_named() {
        let e = run(&shell("echo a\0b")).unwrap_err();
        assert!(e.to_string().contains("NUL byte"), "{e}");
    }
}
