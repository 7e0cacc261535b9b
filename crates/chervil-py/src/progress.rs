//! The live progress line on stderr (its text is `chervil_core::progress`): redrawn in
//! place while a run goes, only when stderr is a terminal, so redirected output never
//! holds it. A thread of its own reads the kernel's state counts every half second; the
//! task path does nothing for it.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chervil_core::progress::{render, Counts};
use chervil_core::Kernel;

/// The thread that draws the line; stopping it draws the last one and ends it with a
/// newline.
pub struct Progress {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

pub fn stderr_is_terminal() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(2) == 1 }
}

impl Progress {
    pub fn start(kernel: Arc<Mutex<Kernel>>, every: Duration) -> std::io::Result<Progress> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("chervil-progress".into()).spawn(move || {
            let read = || Counts::of(&kernel.lock().unwrap_or_else(|p| p.into_inner()));
            let mut last = (Instant::now(), read().done + read().failed);
            let mut rate = 0.0f64;
            let (lock, cv) = &*flag;
            let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                let (guard, _) = cv.wait_timeout(stopped, every).unwrap_or_else(|p| p.into_inner());
                stopped = guard;
                let c = read();
                let now = Instant::now();
                let finished = c.done + c.failed;
                let dt = now.duration_since(last.0).as_secs_f64();
                if dt > 0.0 {
                    let instant = finished.saturating_sub(last.1) as f64 / dt;
                    rate = if rate == 0.0 { instant } else { 0.7 * rate + 0.3 * instant };
                }
                last = (now, finished);
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{}", render(c, rate));
                if *stopped {
                    let _ = writeln!(err);
                    let _ = err.flush();
                    return;
                }
                let _ = err.flush();
            }
        })?;
        Ok(Progress { stop, thread: Some(thread) })
    }

    pub fn stop(&mut self) {
        {
            let (lock, cv) = &*self.stop;
            *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
            cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}
