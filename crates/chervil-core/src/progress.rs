//! The progress line's text: what a front shows while a run goes (done, failed,
//! running, pending, rate, time left), from the kernel's state counts. No I/O here;
//! drawing it is the front's business.

use crate::{Kernel, TaskState};

/// What the line shows, read from the kernel in one lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub done: u64,
    pub failed: u64,
    /// Handed to an executor: running, or queued there for a worker (or joining).
    pub running: u64,
    pub pending: u64,
}

impl Counts {
    pub fn of(k: &Kernel) -> Self {
        let c = |s| k.count(s);
        Counts {
            done: c(TaskState::ExecDone) + c(TaskState::MemoDone),
            failed: c(TaskState::Failed) + c(TaskState::DepFail),
            running: c(TaskState::Launched) + c(TaskState::Joining) + c(TaskState::Running),
            pending: c(TaskState::Pending) + c(TaskState::FailRetryable),
        }
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Columns `text` takes on a terminal (every character here is one column wide).
pub fn columns(text: &str) -> usize {
    text.chars().count()
}

/// The first of `candidates` that fits in `width` columns, or the last one cut to fit.
/// One column is kept free: a line that fills the last column leaves some terminals
/// waiting to wrap, and the next redraw would then land on a row of its own.
fn fit(candidates: &[String], width: usize) -> String {
    let room = width.saturating_sub(1).max(1);
    match candidates.iter().find(|c| columns(c) <= room) {
        Some(c) => c.clone(),
        None => candidates.last().map(|c| c.chars().take(room).collect()).unwrap_or_default(),
    }
}

/// The line for these counts, at `rate` tasks finishing per second, in at most `width`
/// columns: the same fields in fewer words as the terminal narrows.
pub fn render(c: Counts, rate: f64, width: usize) -> String {
    let (done, failed, running, pending) =
        (thousands(c.done), thousands(c.failed), thousands(c.running), thousands(c.pending));
    let left = c.running + c.pending;
    let moving = rate >= 0.05;
    let eta = if moving && left > 0 { Some(clock(left as f64 / rate)) } else { None };
    let per_s = thousands(rate.round() as u64);
    let tail = |long: bool| -> String {
        let mut t = String::new();
        if moving {
            t.push_str(&if long { format!(" · {per_s} tasks/s") } else { format!(" · {per_s}/s") });
            if let Some(eta) = &eta {
                t.push_str(&format!(" · ETA {eta}"));
            }
        }
        t
    };
    let candidates = [
        format!("chervil: {done} done · {failed} failed · {running} launched · {pending} pending{}", tail(true)),
        format!("chervil: {done} done · {failed} failed · {running} launched · {pending} pending{}", tail(false)),
        format!("{done} done · {failed} failed · {running} launched · {pending} pending{}", tail(false)),
        format!("{done} done · {failed} fail · {running} run · {pending} wait{}", tail(false)),
        format!("{done}✓ {failed}✗ {running}▶ {pending}…{}", eta.as_ref().map(|e| format!(" {e}")).unwrap_or_default()),
    ];
    fit(&candidates, width)
}

/// The run's last line, in place of the live one: how many tasks finished in how long,
/// how many failed, and the rate over the whole run (not the last moments').
pub fn summary(c: Counts, elapsed_s: f64, width: usize) -> String {
    let finished = c.done + c.failed;
    let took = if elapsed_s < 120.0 { format!("{elapsed_s:.1} s") } else { clock(elapsed_s) };
    let average = if elapsed_s > 0.0 { finished as f64 / elapsed_s } else { 0.0 };
    let average = if average >= 10.0 { thousands(average.round() as u64) } else { format!("{average:.1}") };
    let (tasks, failed) = (thousands(finished), thousands(c.failed));
    let unfinished = c.running + c.pending;
    let left = if unfinished > 0 { format!(" · {} unfinished", thousands(unfinished)) } else { String::new() };
    let candidates = [
        format!("chervil: {tasks} tasks in {took} · {failed} failed{left} · {average} tasks/s on average"),
        format!("chervil: {tasks} tasks in {took} · {failed} failed{left} · {average}/s"),
        format!("{tasks} tasks in {took} · {failed} failed{left}"),
    ];
    fit(&candidates, width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reads_well() {
        let c = Counts { done: 12_345, failed: 2, running: 8, pending: 1_200 };
        assert_eq!(render(c, 0.0, 200), "chervil: 12,345 done · 2 failed · 8 launched · 1,200 pending");
        assert_eq!(
            render(c, 402.4, 200),
            "chervil: 12,345 done · 2 failed · 8 launched · 1,200 pending · 402 tasks/s · ETA 0:03"
        );
        let slow = Counts { done: 1, failed: 0, running: 1, pending: 7_199 };
        assert!(render(slow, 1.0, 200).ends_with("1 tasks/s · ETA 2:00:00"));
        assert!(!render(Counts { done: 5, ..Counts::default() }, 10.0, 200).contains("ETA"), "nothing left");
    }

    #[test]
    fn the_line_fits_every_width_and_keeps_its_numbers_while_it_can() {
        let c = Counts { done: 1_234_567, failed: 89, running: 128, pending: 98_765 };
        for width in 1..=200 {
            let line = render(c, 4_321.0, width);
            assert!(columns(&line) < width.max(2), "{width}: {line:?}");
        }
        for width in [80, 60, 40] {
            let line = render(c, 4_321.0, width);
            for n in ["1,234,567", "89", "128", "98,765", "0:23"] {
                assert!(line.contains(n), "{width} columns: {line:?} lacks {n}");
            }
        }
        assert_eq!(render(c, 4_321.0, 80), "1,234,567 done · 89 failed · 128 launched · 98,765 pending · 4,321/s · ETA 0:23");
    }

    #[test]
    fn the_summary_tells_the_whole_run() {
        let c = Counts { done: 1_993, failed: 8, running: 0, pending: 0 };
        assert_eq!(summary(c, 49.5, 80), "chervil: 2,001 tasks in 49.5 s · 8 failed · 40 tasks/s on average");
        assert_eq!(summary(c, 49.5, 40), "2,001 tasks in 49.5 s · 8 failed");
        let cut_short = Counts { done: 10, failed: 0, running: 2, pending: 5 };
        assert!(summary(cut_short, 600.0, 120).contains("7 unfinished · 0.0 tasks/s"), "{}", summary(cut_short, 600.0, 120));
    }
}
