//! Limits: how many requests run at once, in total and per host, and how
//! closely requests to one host may follow each other.
//!
//! Politeness is per host, not per source: the five feeds of one publisher
//! share one server, so they share one `per_host` budget and one `host_delay`
//! gap. The gap is measured between the starts of requests, and holds for
//! every request, including redirect hops. For the same reason a server's
//! `Retry-After` (with `429` or `503`) holds for the whole host: no request
//! goes to it before that time, whichever of its sources is due.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use std::time::{Duration, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Shared concurrency budgets.
#[derive(Debug)]
pub struct HostLimits {
    global: Arc<Semaphore>,
    per_host: usize,
    host_delay: Duration,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

#[derive(Debug)]
struct Host {
    slots: Arc<Semaphore>,
    /// When the next request to this host may start.
    next_start: Mutex<Option<Instant>>,
    /// Until when the host asked not to be asked (`Retry-After`).
    retry_after: Mutex<Option<SystemTime>>,
}

/// Held while a request to one host runs.
#[derive(Debug)]
pub struct HostPermit {
    _host: OwnedSemaphorePermit,
}

/// Held for one whole fetch (all redirect hops).
#[derive(Debug)]
pub struct FetchPermit {
    _global: OwnedSemaphorePermit,
}

impl HostLimits {
    pub fn new(concurrency: usize, per_host: usize, host_delay: Duration) -> HostLimits {
        HostLimits {
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            per_host: per_host.max(1),
            host_delay,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot in the global budget.
    pub async fn fetch_slot(&self) -> FetchPermit {
        let permit = self.global.clone().acquire_owned().await;
        FetchPermit {
            _global: permit.expect("the global semaphore is never closed"),
        }
    }

    /// `host` asked that nothing be sent to it before `until`: every source
    /// on it waits (the later of two such times holds).
    pub fn defer(&self, host: &str, until: SystemTime) {
        let state = self.host(host);
        let mut retry_after = state.retry_after.lock().unwrap_or_else(|p| p.into_inner());
        *retry_after = Some(retry_after.map_or(until, |known| known.max(until)));
    }

    /// Until when `host` asked not to be asked, if that is still ahead.
    pub fn deferred_until(&self, host: &str) -> Option<SystemTime> {
        let state = self
            .hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(host)
            .cloned()?;
        let until = *state.retry_after.lock().unwrap_or_else(|p| p.into_inner());
        until.filter(|&until| until > SystemTime::now())
    }

    /// Waits for a slot for `host` (lower-cased host name or IP literal, with
    /// port), and then until `host_delay` has passed since the previous
    /// request to it started.
    pub async fn host_slot(&self, host: &str) -> HostPermit {
        let state = self.host(host);
        let permit = state.slots.clone().acquire_owned().await;
        // Reserve the next start time under the lock, then wait for it
        // outside: requests that queue up get consecutive slots.
        let start = {
            let mut next_start = state.next_start.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = next_start.map_or(now, |at| at.max(now));
            *next_start = Some(start + self.host_delay);
            start
        };
        tokio::time::sleep_until(start).await;
        HostPermit {
            _host: permit.expect("host semaphores are never closed"),
        }
    }

    /// The state of `host`, made on first use.
    fn host(&self, host: &str) -> Arc<Host> {
        {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts
                .entry(host.to_owned())
                .or_insert_with(|| {
                    Arc::new(Host {
                        slots: Arc::new(Semaphore::new(self.per_host)),
                        next_start: Mutex::new(None),
                        retry_after: Mutex::new(None),
                    })
                })
                .clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn per_host_budget_blocks_only_that_host() {
        let limits = HostLimits::new(8, 1, Duration::ZERO);
        let first = limits.host_slot("a.example:443").await;
        let blocked =
            tokio::time::timeout(Duration::from_millis(50), limits.host_slot("a.example:443"))
                .await;
        assert!(
            blocked.is_err(),
            "a second request to the same host must wait"
        );
        let other =
            tokio::time::timeout(Duration::from_millis(50), limits.host_slot("b.example:443"))
                .await;
        assert!(other.is_ok(), "another host is not affected");
        drop(first);
        let after =
            tokio::time::timeout(Duration::from_millis(50), limits.host_slot("a.example:443"))
                .await;
        assert!(after.is_ok(), "the slot is free again");
    }

    #[tokio::test]
    async fn global_budget() {
        let limits = HostLimits::new(2, 2, Duration::ZERO);
        let _a = limits.fetch_slot().await;
        let _b = limits.fetch_slot().await;
        let third = tokio::time::timeout(Duration::from_millis(50), limits.fetch_slot()).await;
        assert!(third.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_start_host_delay_apart() {
        let limits = Arc::new(HostLimits::new(8, 2, Duration::from_secs(1)));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..4 {
            let limits = limits.clone();
            let host = if n < 3 {
                "a.example:443"
            } else {
                "b.example:443"
            };
            tasks.spawn(async move {
                let _permit = limits.host_slot(host).await;
                let started = start.elapsed();
                // Each request takes 5 s: per_host = 2 holds the third back
                // until one of them ends.
                tokio::time::sleep(Duration::from_secs(5)).await;
                (host, started)
            });
        }
        let mut a = Vec::new();
        let mut b = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (host, started) = done.unwrap();
            if host.starts_with('a') {
                a.push(started)
            } else {
                b.push(started)
            }
        }
        a.sort();
        let secs: Vec<u64> = a.iter().map(|d| d.as_secs()).collect();
        assert_eq!(
            secs,
            vec![0, 1, 5],
            "1 s apart, and the third waits for a slot"
        );
        assert_eq!(b, vec![Duration::ZERO], "another host is not held back");
    }
}
