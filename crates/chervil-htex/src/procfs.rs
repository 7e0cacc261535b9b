//! What a worker process is using, read from Linux's `/proc` (monitoring's `resource`
//! rows; Parsl reads the same through psutil, in a process per task).
//!
//! Every read is best-effort: a process that has just exited, or a file this kernel
//! does not have (`io` under some containers), gives zeros for those fields, never an
//! error for the pool.

use std::sync::OnceLock;

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

/// A look at process `pid`, which runs task `task`; `None` when it is gone.
pub fn sample(pid: u32, task: u64, at_us: u64) -> Option<ResourceSample> {
    let m = machine();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (in parentheses) may hold spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|c| c.split_whitespace().count() as u32)
        .unwrap_or(0);
    // Field numbers are proc(5)'s, minus 3 (the pid and name come before `rest`).
    let rss_bytes = num(21) * m.page_bytes;
    Some(ResourceSample {
        task,
        at_us,
        pid,
        cpu_num: num(36) as u32,
        state: f.first().and_then(|s| s.bytes().next()).unwrap_or(b'?'),
        user_s: num(11) as f64 / m.ticks_per_s,
        system_s: num(12) as f64 / m.ticks_per_s,
        rss_bytes,
        vms_bytes: num(20),
        memory_percent: if m.memory_bytes > 0 { rss_bytes as f64 * 100.0 / m.memory_bytes as f64 } else { 0.0 },
        read_bytes: field(&io, "read_bytes:").unwrap_or(0),
        write_bytes: field(&io, "write_bytes:").unwrap_or(0),
        ctx_voluntary: field(&status, "voluntary_ctxt_switches:").unwrap_or(0),
        ctx_involuntary: field(&status, "nonvoluntary_ctxt_switches:").unwrap_or(0),
        children,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let me = std::process::id();
        let s = sample(me, 7, 1).expect("this process exists");
        assert_eq!((s.task, s.pid, s.at_us), (7, me, 1));
        assert!(s.rss_bytes > 0 && s.vms_bytes >= s.rss_bytes, "{s:?}");
        assert!(s.memory_percent > 0.0 && s.memory_percent < 100.0);
        assert!(matches!(s.state, b'R' | b'S' | b'D'), "state {}", s.state as char);
        assert!(sample(u32::MAX - 1, 0, 0).is_none(), "no such process");
    }
}
