//! Timestamps as Parsl's database holds them.
//!
//! Parsl stores `datetime.now()` — local wall-clock time, no zone — and SQLAlchemy
//! writes it into SQLite as text, `YYYY-MM-DD HH:MM:SS.ffffff`. Rust's standard library
//! knows no time zones, so the front tells the [`Clock`] the local offset from UTC once
//! (Python: `time.localtime().tm_gmtoff`); a daylight-saving change during a run shifts
//! later rows by an hour, as a naive local clock does anyway.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in Parsl's database form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    utc_offset_s: i64,
}

impl Clock {
    pub fn new(utc_offset_s: i64) -> Self {
        Clock { utc_offset_s }
    }

    /// Microseconds since the Unix epoch, UTC.
    pub fn now_us() -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_micros() as i64,
            Err(e) => -(e.duration().as_micros() as i64),
        }
    }

    /// `unix_us` (UTC) as local time in SQLAlchemy's text form.
    pub fn format(&self, unix_us: i64) -> String {
        let (secs, micros) = self.split(unix_us);
        let mut out = second_text(secs);
        push_micros(&mut out, micros);
        out
    }

    fn split(&self, unix_us: i64) -> (i64, u32) {
        let local = unix_us + self.utc_offset_s * 1_000_000;
        (local.div_euclid(1_000_000), local.rem_euclid(1_000_000) as u32)
    }
}

/// [`Clock::format`] for many times close together (the writer's rows): the
/// `YYYY-MM-DD HH:MM:SS` part is computed once per second.
#[derive(Debug)]
pub struct Formatter {
    clock: Clock,
    /// The last second formatted, and its text.
    last: RefCell<(i64, String)>,
}

impl Formatter {
    pub fn new(clock: Clock) -> Self {
        Formatter { clock, last: RefCell::new((i64::MIN, String::new())) }
    }

    pub fn format(&self, unix_us: i64) -> String {
        let (secs, micros) = self.clock.split(unix_us);
        let mut last = self.last.borrow_mut();
        if last.0 != secs {
            *last = (secs, second_text(secs));
        }
        let mut out = String::with_capacity(26);
        out.push_str(&last.1);
        push_micros(&mut out, micros);
        out
    }
}

fn second_text(secs: i64) -> String {
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", of_day / 3600, of_day % 3600 / 60, of_day % 60)
}

fn push_micros(out: &mut String, micros: u32) {
    out.push('.');
    let mut digits = [b'0'; 6];
    let mut v = micros;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend(digits.iter().map(|&b| b as char));
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_sqlalchemy() {
        let utc = Clock::new(0);
        assert_eq!(utc.format(0), "1970-01-01 00:00:00.000000");
        // 2026-11-25 20:22:34.123456 UTC
        assert_eq!(utc.format(1_795_638_154_123_456), "2026-11-25 20:22:34.123456");
        // a leap day, and an offset that crosses midnight backwards
        assert_eq!(utc.format(951_782_400_000_001), "2000-02-29 00:00:00.000001");
        assert_eq!(Clock::new(-3600).format(951_782_400_000_000), "2000-02-28 23:00:00.000000");
        assert_eq!(Clock::new(5 * 3600 + 1800).format(0), "1970-01-01 05:30:00.000000");
    }

    #[test]
    fn the_formatter_agrees_with_the_clock_across_seconds() {
        let clock = Clock::new(-7 * 3600);
        let f = Formatter::new(clock);
        for us in [1_795_638_154_999_999, 1_795_638_155_000_000, 1_795_638_155_000_042, 1_795_638_154_000_001, -1] {
            assert_eq!(f.format(us), clock.format(us));
        }
    }
}
