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

/// The line for these counts, at `rate` tasks finishing per second.
pub fn render(c: Counts, rate: f64) -> String {
    let mut line = format!(
        "chervil: {} done · {} failed · {} launched · {} pending",
        thousands(c.done),
        thousands(c.failed),
        thousands(c.running),
        thousands(c.pending)
    );
    if rate >= 0.05 {
        line.push_str(&format!(" · {} tasks/s", thousands(rate.round() as u64)));
        let left = c.running + c.pending;
        if left > 0 {
            line.push_str(&format!(" · ETA {}", clock(left as f64 / rate)));
        }
    }
    line
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reads_well() {
        let c = Counts { done: 12_345, failed: 2, running: 8, pending: 1_200 };
        assert_eq!(render(c, 0.0), "chervil: 12,345 done · 2 failed · 8 launched · 1,200 pending");
        assert_eq!(
            render(c, 402.4),
            "chervil: 12,345 done · 2 failed · 8 launched · 1,200 pending · 402 tasks/s · ETA 0:03"
        );
        let slow = Counts { done: 1, failed: 0, running: 1, pending: 7_199 };
        assert!(render(slow, 1.0).ends_with("1 tasks/s · ETA 2:00:00"));
        assert!(!render(Counts { done: 5, ..Counts::default() }, 10.0).contains("ETA"), "nothing left");
    }
}
