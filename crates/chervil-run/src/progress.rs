//! The live progress line on stderr (its text is `chervil_core::progress`): redrawn in
//! place while a run goes, only when stderr is a terminal, so redirected output never
//! holds it. A thread of its own reads the kernel's state counts every half second; the
//! task path does nothing for it. Both fronts draw it, when [`wanted`].
//!
//! The line shares the terminal with the script. The script's own writes (its `print`s,
//! through the Python front's stream wrappers) call [`Progress::aside`] first, which
//! erases the line and keeps it away, and [`Progress::back`] after, which draws it again
//! below them once the script's output has ended its line — so the two never share a
//! row. Each draw is one write (erase and text together) and fits the terminal's width
//! as it is now, so a narrow terminal never wraps the line into rows a redraw cannot
//! reach. The last line is a summary of the whole run.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chervil_core::progress::{render, summary, Counts};

/// Goes to the start of the row and erases it.
const ERASE: &str = "\r\x1b[2K";

#[derive(Default)]
struct Screen {
    stopped: bool,
    /// The line is on screen, the cursor at its end.
    shown: bool,
    /// Writes of the script's own output under way: the line keeps off the screen.
    aside: u32,
    /// The script's last output did not end its row: a line drawn now would be glued on.
    mid_line: bool,
    /// The text last drawn, to draw again after the script's output.
    text: String,
}

struct Shared {
    screen: Mutex<Screen>,
    wake: Condvar,
}

impl Shared {
    fn screen(&self) -> MutexGuard<'_, Screen> {
        self.screen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The thread that draws the line; stopping it draws the summary and ends it with a
/// newline.
pub struct Progress {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Whether a run draws the line: asked for (`CHERVIL_PROGRESS=1`; `python -m chervil
/// run` sets it unless `--no-progress`) and stderr is a terminal.
pub fn wanted() -> bool {
    std::env::var("CHERVIL_PROGRESS").as_deref() == Ok("1") && stderr_is_terminal()
}

pub fn stderr_is_terminal() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(2) == 1 }
}

/// The terminal's width now (it may have been resized), 80 when it does not say.
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills the winsize it is given and nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        size.ws_col as usize
    } else {
        80
    }
}

/// One write: a terminal never shows the row erased but not yet redrawn.
fn put(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

impl Progress {
    /// Draws the line every `every` from the counts `read` gives (the run's kernel's).
    pub fn start(read: impl Fn() -> Counts + Send + 'static, every: Duration) -> std::io::Result<Progress> {
        let shared = Arc::new(Shared { screen: Mutex::new(Screen::default()), wake: Condvar::new() });
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("chervil-progress".into()).spawn(move || {
            let began = Instant::now();
            let mut last = (began, read().done + read().failed);
            let mut rate = 0.0f64;
            let mut screen = state.screen();
            loop {
                let (guard, _) = state.wake.wait_timeout(screen, every).unwrap_or_else(|p| p.into_inner());
                let stopped = guard.stopped;
                drop(guard);
                let c = read();
                if stopped {
                    let mut screen = state.screen();
                    let end = if screen.mid_line { "\n" } else { ERASE };
                    put(&format!("{end}{}\n", summary(c, began.elapsed().as_secs_f64(), terminal_width())));
                    screen.shown = false;
                    return;
                }
                let now = Instant::now();
                let finished = c.done + c.failed;
                let dt = now.duration_since(last.0).as_secs_f64();
                if dt > 0.0 {
                    let instant = finished.saturating_sub(last.1) as f64 / dt;
                    rate = if rate == 0.0 { instant } else { 0.7 * rate + 0.3 * instant };
                }
                last = (now, finished);
                let text = render(c, rate, terminal_width());
                screen = state.screen();
                if screen.aside == 0 && !screen.mid_line {
                    put(&format!("{ERASE}{text}"));
                    screen.shown = true;
                }
                screen.text = text;
            }
        })?;
        Ok(Progress { shared, thread: Some(thread) })
    }

    /// The script is about to write to the terminal: the line is erased and stays away
    /// until [`back`](Self::back).
    pub fn aside(&self) {
        let mut screen = self.shared.screen();
        if screen.shown {
            put(ERASE);
            screen.shown = false;
        }
        screen.aside += 1;
    }

    /// The script's write is done; `ended_line` says whether its output ended its row.
    /// If it did (and no other write is under way), the line is drawn again below it.
    pub fn back(&self, ended_line: bool) {
        let mut screen = self.shared.screen();
        screen.aside = screen.aside.saturating_sub(1);
        screen.mid_line = !ended_line;
        if screen.aside == 0 && ended_line && !screen.stopped && !screen.text.is_empty() {
            put(&screen.text);
            screen.shown = true;
        }
    }

    pub fn stop(&mut self) {
        {
            let mut screen = self.shared.screen();
            screen.stopped = true;
            self.shared.wake.notify_all();
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
