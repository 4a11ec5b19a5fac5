//! What Kurator knows about one host: its request slots, when the next
//! request may start, and until when it asked to be left alone.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The state of one host, shared by every source on it.
#[derive(Debug)]
pub(super) struct Host {
    /// `per_host` request slots.
    slots: Arc<Semaphore>,
    per_host: usize,
    /// When the next request to this host may start (`host_delay` after the
    /// start of the previous one).
    next_start: Mutex<Option<Instant>>,
    /// Until when the host asked not to be asked (`Retry-After`).
    retry_after: Mutex<Option<SystemTime>>,
}

/// Held while a request to one host runs.
#[derive(Debug)]
pub struct HostPermit {
    _slot: OwnedSemaphorePermit,
}

impl Host {
    pub(super) fn new(per_host: usize) -> Host {
        Host {
            slots: Arc::new(Semaphore::new(per_host)),
            per_host,
            next_start: Mutex::new(None),
            retry_after: Mutex::new(None),
        }
    }

    /// Waits for a slot, then until `delay` has passed since the previous
    /// request started.
    pub(super) async fn slot(&self, delay: Duration) -> HostPermit {
        let permit = self.slots.clone().acquire_owned().await;
        // Reserve the start time under the lock, then wait for it outside:
        // requests that queue up get consecutive starts.
        let start = {
            let mut next_start = lock(&self.next_start);
            let now = Instant::now();
            let start = next_start.map_or(now, |at| at.max(now));
            *next_start = Some(start + delay);
            start
        };
        tokio::time::sleep_until(start).await;
        HostPermit {
            _slot: permit.expect("host semaphores are never closed"),
        }
    }

    /// No request before `until` (the later of two such times holds).
    pub(super) fn defer(&self, until: SystemTime) {
        let mut retry_after = lock(&self.retry_after);
        *retry_after = Some(retry_after.map_or(until, |known| known.max(until)));
    }

    /// Until when the host asked not to be asked, if that is still ahead.
    pub(super) fn deferred_until(&self, now: SystemTime) -> Option<SystemTime> {
        lock(&self.retry_after).filter(|&until| until > now)
    }

    /// Whether forgetting this host changes nothing: no request holds or
    /// waits for a slot, the delay after the last start has passed, and no
    /// `Retry-After` is still ahead. A host met again later starts afresh,
    /// exactly as this one would behave.
    pub(super) fn is_idle(&self, now: Instant, wall_now: SystemTime) -> bool {
        self.slots.available_permits() == self.per_host
            && lock(&self.next_start).is_none_or(|at| at <= now)
            && self.deferred_until(wall_now).is_none()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
