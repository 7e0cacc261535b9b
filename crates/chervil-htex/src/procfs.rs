//! What a worker process is using, read from Linux's `/proc` (monitoring's `resource`
//! rows; Parsl reads the same through psutil, in a process per task).
//!
//! Every read is best-effort: a process that has just exited, or a file this kernel
//! does not have (`io` under some containers), gives zeros for those fields, never an
//! error for the pool.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;
use std::time::Instant;

use chervil_proto::ResourceSample;

struct Machine {
    ticks_per_s: f64,
    page_bytes: u64,
    memory_bytes: u64,
}

fn machine() -> &'static Machine {
    static M: OnceLock<Machine> = OnceLock::new();
    M.get_or_init(|| {
        // SAFETY: sysconf only reads system constants.
        let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        let memory_kb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| field(&m, "MemTotal:"))
            .unwrap_or(0);
        Machine {
            ticks_per_s: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_bytes: if page > 0 { page as u64 } else { 4096 },
            memory_bytes: memory_kb * 1024,
        }
    })
}

/// The number after `name` on its line (`/proc/<pid>/status`, `io`, `/proc/meminfo`).
fn field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// A worker process being watched: its `/proc` files, opened once and read again in
/// place (`pread`), so a look costs a read, not an open and a close per file — 4 µs
/// for `stat` here, where opening all four files afresh cost 61 µs. A handle held past
/// the process's exit reads nothing (the kernel ties it to that process, not to its
/// pid), so a reused pid is never sampled in a dead worker's name.
pub struct Watched {
    pid: u32,
    stat: File,
    status: Option<File>,
    io: Option<File>,
    buf: Vec<u8>,
    /// The counters only a full look reads, as of the last one.
    counters: Counters,
    /// The last reading of `stat`, and when it was taken.
    last: Option<(ResourceSample, Instant)>,
}

#[derive(Clone, Copy, Default)]
struct Counters {
    read_bytes: u64,
    write_bytes: u64,
    ctx_voluntary: u64,
    ctx_involuntary: u64,
    children: u32,
}

impl Watched {
    /// `None` when the process is gone (or `/proc` is not mounted).
    pub fn open(pid: u32) -> Option<Watched> {
        let file = |name: &str| File::open(format!("/proc/{pid}/{name}")).ok();
        Some(Watched {
            pid,
            stat: file("stat")?,
            status: file("status"),
            io: file("io"),
            buf: Vec::with_capacity(2048),
            counters: Counters::default(),
            last: None,
        })
    }

    /// Everything: CPU times, memory, state, I/O bytes, context switches, children.
    /// `None` once the process is gone.
    pub fn sample(&mut self, task: u64, at_us: u64) -> Option<ResourceSample> {
        let mut c = Counters::default();
        if let Some(io) = read_at_start(self.io.as_ref(), &mut self.buf) {
            c.read_bytes = field(io, "read_bytes:").unwrap_or(0);
            c.write_bytes = field(io, "write_bytes:").unwrap_or(0);
        }
        if let Some(status) = read_at_start(self.status.as_ref(), &mut self.buf) {
            c.ctx_voluntary = field(status, "voluntary_ctxt_switches:").unwrap_or(0);
            c.ctx_involuntary = field(status, "nonvoluntary_ctxt_switches:").unwrap_or(0);
        }
        c.children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.pid))
            .map(|text| text.split_whitespace().count() as u32)
            .unwrap_or(0);
        self.counters = c;
        self.read_stat(task, at_us)
    }

    /// `stat` alone (CPU times, memory, state, CPU): what a task's end needs, cheaply.
    /// I/O bytes, context switches and children are those of the last [`sample`](Self::sample).
    ///
    /// Within one clock tick of the last reading (10 ms at the usual 100 Hz) the file is
    /// not read again: the kernel counts CPU time in ticks, so a fresher read could not
    /// show more, and a flood of sub-millisecond tasks then costs a copy per task instead
    /// of a 4–8 µs `stat` read (the kernel formats all 52 fields each time).
    pub fn glance(&mut self, task: u64, at_us: u64) -> Option<ResourceSample> {
        if let Some((last, when)) = &self.last {
            if when.elapsed().as_secs_f64() * machine().ticks_per_s < 1.0 {
                return Some(ResourceSample { task, at_us, ..last.clone() });
            }
        }
        self.read_stat(task, at_us)
    }

    fn read_stat(&mut self, task: u64, at_us: u64) -> Option<ResourceSample> {
        let m = machine();
        let stat = read_at_start(Some(&self.stat), &mut self.buf)?;
        // The command name (in parentheses) may hold spaces: fields start after the last ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // Field numbers are proc(5)'s, minus 3 (the pid and name come before `rest`).
        let rss_bytes = num(21) * m.page_bytes;
        let c = self.counters;
        let sample = ResourceSample {
            task,
            at_us,
            pid: self.pid,
            cpu_num: num(36) as u32,
            state: f.first().and_then(|s| s.bytes().next()).unwrap_or(b'?'),
            user_s: num(11) as f64 / m.ticks_per_s,
            system_s: num(12) as f64 / m.ticks_per_s,
            rss_bytes,
            vms_bytes: num(20),
            memory_percent: if m.memory_bytes > 0 { rss_bytes as f64 * 100.0 / m.memory_bytes as f64 } else { 0.0 },
            read_bytes: c.read_bytes,
            write_bytes: c.write_bytes,
            ctx_voluntary: c.ctx_voluntary,
            ctx_involuntary: c.ctx_involuntary,
            children: c.children,
        };
        self.last = Some((sample.clone(), Instant::now()));
        Some(sample)
    }
}

/// The whole of a small `/proc` file, read from its start into `buf`; `None` when it
/// cannot be read (the process is gone) or is not text.
fn read_at_start<'b>(file: Option<&File>, buf: &'b mut Vec<u8>) -> Option<&'b str> {
    let file = file?;
    buf.clear();
    let mut at = 0u64;
    loop {
        if buf.capacity() - buf.len() < 512 {
            buf.reserve(buf.capacity().max(1024));
        }
        let len = buf.len();
        buf.resize(buf.capacity(), 0);
        let n = file.read_at(&mut buf[len..], at).ok()?;
        buf.truncate(len + n);
        if n == 0 {
            break;
        }
        at += n as u64;
    }
    if buf.is_empty() {
        return None;
    }
    std::str::from_utf8(buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let me = std::process::id();
        let s = Watched::open(me).and_then(|mut w| w.sample(7, 1)).expect("this process exists");
        assert_eq!((s.task, s.pid, s.at_us), (7, me, 1));
        assert!(s.rss_bytes > 0 && s.vms_bytes >= s.rss_bytes, "{s:?}");
        assert!(s.memory_percent > 0.0 && s.memory_percent < 100.0);
        assert!(matches!(s.state, b'R' | b'S' | b'D'), "state {}", s.state as char);
        assert!(Watched::open(u32::MAX - 1).is_none(), "no such process");
    }

    #[test]
    fn a_glance_reads_fresh_times_and_keeps_the_last_counters() {
        let me = std::process::id();
        let mut w = Watched::open(me).expect("this process is watched");
        let full = w.sample(1, 10).expect("a full look");
        let quick = w.glance(2, 20).expect("a glance");
        assert_eq!((quick.task, quick.at_us, quick.pid), (2, 20, me));
        assert_eq!((quick.ctx_voluntary, quick.read_bytes, quick.children), (full.ctx_voluntary, full.read_bytes, full.children));
        assert!(quick.rss_bytes > 0 && quick.user_s >= full.user_s);

        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("sleep starts");
        let mut w = Watched::open(child.id()).expect("the child is watched");
        child.kill().expect("kill");
        child.wait().expect("reaped");
        assert!(w.glance(3, 30).is_none(), "a reaped process is not read through its old handle");
        assert!(w.sample(3, 30).is_none());
    }

    #[test]
    fn a_glance_within_a_clock_tick_repeats_the_last_reading() {
        let mut w = Watched::open(std::process::id()).expect("this process is watched");
        let started = Instant::now();
        let full = w.sample(1, 10).expect("a full look");
        let again = w.glance(2, 11).expect("a glance");
        // On a busy machine this thread may lose the CPU for longer than a tick in between:
        // the glance then reads afresh, and there is nothing to check.
        if started.elapsed().as_secs_f64() * machine().ticks_per_s < 1.0 {
            assert_eq!(again, ResourceSample { task: 2, at_us: 11, ..full });
        }
    }
}
