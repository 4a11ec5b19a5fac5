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
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// RFC 3339 in UTC, for messages.
pub fn format_time(secs: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}
