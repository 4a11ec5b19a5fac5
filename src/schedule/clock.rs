//! The scheduler's clock: wall time in production, tokio's (pausable) time in
//! tests, so a test can run a day of schedules in milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::time::duration_millis;

/// The longest single sleep: the scheduler wakes at least this often, so a
/// wall-clock step (NTP, a resumed VM) is noticed within a minute.
const MAX_SLEEP: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's wall clock.
    System,
    /// Starts at `origin` (milliseconds since the epoch) and advances with
    /// `tokio::time`, which tests pause and advance.
    Tokio {
        origin_millis: i64,
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that reads `origin` (seconds since the epoch) now and then
    /// follows tokio's time. Must be created inside a runtime.
    pub fn tokio_starting_at(origin: i64) -> Clock {
        Clock::Tokio {
            origin_millis: origin * 1000,
            start: tokio::time::Instant::now(),
        }
    }

    pub fn now_millis(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, duration_millis),
            Clock::Tokio {
                origin_millis,
                start,
            } => origin_millis.saturating_add(duration_millis(start.elapsed())),
        }
    }

    /// Seconds since the epoch.
    pub fn now(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Sleeps until `at` (seconds since the epoch) or for a minute, whichever
    /// comes first; the caller looks at the time again either way.
    pub async fn sleep_until(&self, at: i64) {
        let wait = at.saturating_mul(1000).saturating_sub(self.now_millis());
        let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
        tokio::time::sleep(wait.min(MAX_SLEEP)).await;
    }
}
