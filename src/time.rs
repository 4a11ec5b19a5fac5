//! Time: seconds since the epoch, as everything stores and compares them,
//! and how they are written for people. A leaf: it imports nothing of the
//! crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in whole seconds since the epoch.
pub fn unix_now() -> i64 {
    system_time_secs(SystemTime::now())
}

/// `time` in whole seconds since the epoch (0 before it).
pub fn system_time_secs(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, duration_secs)
}

/// `duration` in whole seconds, as the database and the schedule count them
/// (saturating: no duration Kurator meets comes near 292 billion years).
pub fn duration_secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// `duration` in whole milliseconds (saturating).
pub fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Fractional seconds, rounded down to whole ones. Rust's float-to-integer
/// `as` saturates at the ends and maps NaN to 0, which is what a schedule
/// wants of an out-of-range value.
#[expect(
    clippy::cast_possible_truncation,
    reason = "saturating by the language's definition, and wanted so"
)]
pub fn whole_secs(secs: f64) -> i64 {
    secs as i64
}

/// Whole seconds as a duration; a negative count is none.
pub fn secs_duration(secs: i64) -> Duration {
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// RFC 3339 in UTC, for messages.
pub fn format_time(secs: i64) -> String {
    let time = UNIX_EPOCH + secs_duration(secs);
    humantime::format_rfc3339_seconds(time).to_string()
}
