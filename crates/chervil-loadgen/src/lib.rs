//! Load tools for the interchange, and what its two binaries share.
//!
//! - `chervil-loadgen` drives a real interchange (the one the Python front runs in the
//!   client) with many fake pools over real TCP, speaking the real protocol: register,
//!   heartbeat, answer tasks at once or after a delay, go silent on request. It measures
//!   dispatch rate, heartbeat timeliness, memory per pool and how soon a silent pool is
//!   noticed.
//! - `chervil-sim` drives the dispatch core and the scaling strategy — both state machines
//!   without I/O — at sizes one machine cannot host: a million workers, ten thousand
//!   blocks, on a virtual clock.
//!
//! Both print one JSON object on stdout (the table in docs/speed.md is made from them).

use std::collections::HashMap;
use std::str::FromStr;

/// `--name value` pairs, and bare `--flag`s.
pub struct Args {
    given: HashMap<String, Option<String>>,
}

impl Args {
    pub fn parse(usage: &str) -> Result<Args, String> {
        let mut given = HashMap::new();
        let mut it = std::env::args().skip(1).peekable();
        while let Some(a) = it.next() {
            if a == "-h" || a == "--help" {
                return Err(usage.to_string());
            }
            let Some(name) = a.strip_prefix("--") else { return Err(format!("unexpected argument {a:?}\n{usage}")) };
            let value = it.next_if(|v| !v.starts_with("--"));
            given.insert(name.to_string(), value);
        }
        Ok(Args { given })
    }

    /// The value of `--name`, or `default` when it is not given.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.given.get(name) {
            None => Ok(default),
            Some(None) => Err(format!("--{name} needs a value")),
            Some(Some(v)) => v.parse().map_err(|_| format!("--{name} {v:?} is not a valid value")),
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        self.given.contains_key(name)
    }
}

/// This process's resident memory, in bytes (from /proc; 0 where there is none).
pub fn rss_bytes() -> u64 {
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map_or(0, |pages| pages * page)
}

/// Raises this process's open-file limit to its hard limit (a thousand pools are a
/// thousand sockets; the usual soft limit is 1024). Returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

/// A small, fast, seeded generator (xorshift64*): the simulator's task durations
/// must be the same from run to run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi.saturating_sub(lo) + 1)
    }
}
