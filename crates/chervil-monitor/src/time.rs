//! Timestamps as Parsl's database holds them.
//!
//! Parsl stores `datetime.now()` — local wall-clock time, no zone — and SQLAlchemy
//! writes it into SQLite as text, `YYYY-MM-DD HH:MM:SS.ffffff`. Rust's standard library
//! knows no time zones, so the front tells the [`Clock`] the local offset from UTC once
//! (Python: `time.localtime().tm_gmtoff`); a daylight-saving change during a run shifts
//! later rows by an hour, as a naive local clock does anyway.

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
        let local = unix_us + self.utc_offset_s * 1_000_000;
        let secs = local.div_euclid(1_000_000);
        let micros = local.rem_euclid(1_000_000);
        let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06}",
            of_day / 3600,
            of_day % 3600 / 60,
            of_day % 60
        )
    }
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
}
