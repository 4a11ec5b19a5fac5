//! Health: whether the daemon is alive (the scheduler turns, the database
//! answers, its writer is not stuck), the systemd `STATUS=` line, and the
//! watchdog pings sent only while healthy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::systemd;
use crate::schedule::{Clock, Heartbeat};
use crate::store::StoreWriter;

/// The scheduler loop turns at least once a minute; this much silence means
/// it is stuck.
const STALE_AFTER: i64 = 150;

/// How often the status line is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// The database must answer a health check within this.
const DATABASE_ANSWER: Duration = Duration::from_secs(10);

/// A database writer that finished nothing for this long is stuck (each of
/// its batches waits at most the busy timeout for a lock).
const WRITER_STUCK_AFTER: Duration = Duration::from_secs(45);

pub(super) fn scheduler_alive(heartbeat: &Heartbeat, clock: Clock) -> Result<(), String> {
    let silent = clock.now() - heartbeat.last();
    if silent > STALE_AFTER {
        Err(format!("the scheduler has not run for {silent} s"))
    } else {
        Ok(())
    }
}

/// What `STATUS=` says.
#[derive(Clone)]
pub(super) struct Status {
    pub sources: Arc<AtomicUsize>,
    pub writer: StoreWriter,
}

impl Status {
    pub async fn line(&self) -> String {
        let sources = self.sources.load(Ordering::Relaxed);
        match tokio::time::timeout(DATABASE_ANSWER, self.writer.stats(true)).await {
            Ok(Ok(stats)) => {
                let line = format!(
                    "{sources} source(s), {} failing; {} item(s)",
                    stats.failing_sources,
                    stats.items.unwrap_or_default()
                );
                match self.writer.write_health().check() {
                    Ok(()) => line,
                    Err(reason) => format!("{line}; {reason}"),
                }
            }
            _ => format!("{sources} source(s); the database does not answer"),
        }
    }
}

/// Pings the watchdog (if systemd asked for it) while the scheduler turns
/// and the database answers, and refreshes the status line.
pub(super) async fn monitor(heartbeat: Arc<Heartbeat>, status: Status, clock: Clock) {
    let watchdog = systemd::watchdog_period();
    let tick = watchdog.map_or(STATUS_EVERY, |period| period.min(STATUS_EVERY));
    let mut status_sent = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let database = tokio::time::timeout(DATABASE_ANSWER, status.writer.stats(false)).await;
        let writes = status.writer.write_health();
        let health = scheduler_alive(&heartbeat, clock).and(match database {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(format!("the database does not answer: {err}")),
            // Slow, but turning: it waits for another process's lock, one
            // batch after the other. A restart would not help, and it would
            // poll every source again at once.
            Err(_) if writes.idle_for() < WRITER_STUCK_AFTER => Ok(()),
            Err(_) => Err(format!(
                "the database did not answer within {}",
                humantime::format_duration(DATABASE_ANSWER)
            )),
        });
        match health {
            Ok(()) => {
                if watchdog.is_some() {
                    systemd::watchdog();
                }
                if status_sent.elapsed() >= STATUS_EVERY {
                    systemd::status(&status.line().await);
                    status_sent = tokio::time::Instant::now();
                }
            }
            Err(reason) => {
                tracing::error!("unhealthy, not pinging the watchdog: {reason}");
                systemd::status(&format!("unhealthy: {reason}"));
            }
        }
    }
}
