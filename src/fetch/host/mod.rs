//! Per-host state: how many requests run at once, in total and per host, how
//! closely requests to one host may follow each other, and until when a host
//! asked to be left alone.
//!
//! Rules:
//! * Politeness is per host, not per source: the five feeds of one publisher
//!   share one server, so they share one `per_host` budget and one
//!   `host_delay` gap ([`HostKey`] names the host).
//! * The gap is measured between the starts of requests, and holds for every
//!   request, including redirect hops.
//! * A server's `Retry-After` (with `429` or `503`) holds for the whole host:
//!   no request goes to it before that time, whichever of its sources is due.
//! * A host's state is kept while it matters and forgotten when it no longer
//!   does (no request running or waiting, no delay or `Retry-After` ahead),
//!   so a daemon whose sources move hosts does not collect dead entries.

mod key;
mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub use key::HostKey;
use state::Host;
pub use state::HostPermit;

/// Below this many known hosts nothing is forgotten: the scan would cost
/// more than the entries.
const FORGET_ABOVE: usize = 64;

/// The hosts Kurator talks to, and the shared concurrency budget.
#[derive(Debug)]
pub struct HostPool {
    global: Arc<Semaphore>,
    per_host: usize,
    host_delay: Duration,
    hosts: Mutex<Hosts>,
}

#[derive(Debug)]
struct Hosts {
    known: HashMap<HostKey, Arc<Host>>,
    /// Idle hosts are forgotten when `known` grows to this size; it then
    /// doubles the size left, so the scans cost O(1) per new host.
    sweep_at: usize,
}

/// Held for one whole fetch (all redirect hops).
#[derive(Debug)]
pub struct FetchPermit {
    _global: OwnedSemaphorePermit,
}

impl HostPool {
    pub fn new(concurrency: usize, per_host: usize, host_delay: Duration) -> HostPool {
        HostPool {
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            per_host: per_host.max(1),
            host_delay,
            hosts: Mutex::new(Hosts {
                known: HashMap::new(),
                sweep_at: FORGET_ABOVE,
            }),
        }
    }

    /// Waits for a slot in the global budget.
    pub async fn fetch_slot(&self) -> FetchPermit {
        let permit = self.global.clone().acquire_owned().await;
        FetchPermit {
            _global: permit.expect("the global semaphore is never closed"),
        }
    }

    /// Waits for a slot for `host`, and then until `host_delay` has passed
    /// since the previous request to it started.
    pub async fn host_slot(&self, host: &HostKey) -> HostPermit {
        let state = self.host(host);
        state.slot(self.host_delay).await
    }

    /// `host` asked that nothing be sent to it before `until`: every source
    /// on it waits.
    pub fn defer(&self, host: &HostKey, until: SystemTime) {
        self.host(host).defer(until);
    }

    /// Until when `host` asked not to be asked, if that is still ahead.
    pub fn deferred_until(&self, host: &HostKey) -> Option<SystemTime> {
        let state = self.lock().known.get(host).cloned()?;
        state.deferred_until(SystemTime::now())
    }

    /// How many hosts the pool holds state for.
    pub fn known_hosts(&self) -> usize {
        self.lock().known.len()
    }

    /// The state of `host`, made on first use.
    fn host(&self, key: &HostKey) -> Arc<Host> {
        let mut hosts = self.lock();
        if let Some(host) = hosts.known.get(key) {
            return host.clone();
        }
        if hosts.known.len() >= hosts.sweep_at {
            let (now, wall_now) = (Instant::now(), SystemTime::now());
            // Only the map holds an idle host: a caller between `host()` and
            // its slot holds a clone, so its host is kept.
            hosts
                .known
                .retain(|_, host| Arc::strong_count(host) > 1 || !host.is_idle(now, wall_now));
            hosts.sweep_at = (hosts.known.len() * 2).max(FORGET_ABOVE);
        }
        let host = Arc::new(Host::new(self.per_host));
        hosts.known.insert(key.clone(), host.clone());
        host
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Hosts> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(host: &str) -> HostKey {
        HostKey::of(&url::Url::parse(&format!("https://{host}/")).unwrap())
    }

    #[tokio::test]
    async fn per_host_budget_blocks_only_that_host() {
        let pool = HostPool::new(8, 1, Duration::ZERO);
        let first = pool.host_slot(&key("a.example")).await;
        let blocked =
            tokio::time::timeout(Duration::from_millis(50), pool.host_slot(&key("a.example")))
                .await;
        assert!(
            blocked.is_err(),
            "a second request to the same host must wait"
        );
        let other =
            tokio::time::timeout(Duration::from_millis(50), pool.host_slot(&key("b.example")))
                .await;
        assert!(other.is_ok(), "another host is not affected");
        drop(first);
        let after =
            tokio::time::timeout(Duration::from_millis(50), pool.host_slot(&key("a.example")))
                .await;
        assert!(after.is_ok(), "the slot is free again");
    }

    #[tokio::test]
    async fn global_budget() {
        let pool = HostPool::new(2, 2, Duration::ZERO);
        let _a = pool.fetch_slot().await;
        let _b = pool.fetch_slot().await;
        let third = tokio::time::timeout(Duration::from_millis(50), pool.fetch_slot()).await;
        assert!(third.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_start_host_delay_apart() {
        let pool = Arc::new(HostPool::new(8, 2, Duration::from_secs(1)));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..4 {
            let pool = pool.clone();
            let host = if n < 3 { "a.example" } else { "b.example" };
            tasks.spawn(async move {
                let _permit = pool.host_slot(&key(host)).await;
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

    #[tokio::test]
    async fn retry_after_holds_for_the_host_not_for_others() {
        let pool = HostPool::new(8, 2, Duration::ZERO);
        let later = SystemTime::now() + Duration::from_secs(600);
        pool.defer(&key("a.example"), later);
        pool.defer(
            &key("a.example"),
            SystemTime::now() + Duration::from_secs(60),
        );
        assert_eq!(
            pool.deferred_until(&key("a.example")),
            Some(later),
            "the later of two times holds"
        );
        assert_eq!(pool.deferred_until(&key("b.example")), None);
        pool.defer(
            &key("c.example"),
            SystemTime::now() - Duration::from_secs(1),
        );
        assert_eq!(
            pool.deferred_until(&key("c.example")),
            None,
            "past times lapse"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_hosts_are_forgotten_and_busy_ones_kept() {
        let pool = HostPool::new(8, 1, Duration::from_secs(1));
        let busy = pool.host_slot(&key("busy.example")).await;
        pool.defer(
            &key("deferred.example"),
            SystemTime::now() + Duration::from_secs(3600),
        );
        for n in 0..1_000 {
            drop(pool.host_slot(&key(&format!("h{n}.example"))).await);
            // Past every host's delay, so the ones before are idle.
            tokio::time::advance(Duration::from_secs(2)).await;
        }
        assert!(
            pool.known_hosts() <= 2 * FORGET_ABOVE + 2,
            "{} hosts kept of 1,002",
            pool.known_hosts()
        );
        assert!(
            pool.deferred_until(&key("deferred.example")).is_some(),
            "a Retry-After still ahead is kept"
        );
        let second = tokio::time::timeout(
            Duration::from_millis(50),
            pool.host_slot(&key("busy.example")),
        )
        .await;
        assert!(
            second.is_err(),
            "a host with a running request keeps its budget"
        );
        drop(busy);
    }

    #[tokio::test(start_paused = true)]
    async fn a_forgotten_host_keeps_its_delay_until_it_has_passed() {
        let pool = HostPool::new(8, 1, Duration::from_secs(30));
        drop(pool.host_slot(&key("a.example")).await);
        // Many new hosts while a.example's gap is still running.
        for n in 0..200 {
            drop(pool.host_slot(&key(&format!("h{n}.example"))).await);
        }
        let start = Instant::now();
        drop(pool.host_slot(&key("a.example")).await);
        assert_eq!(
            start.elapsed().as_secs(),
            30,
            "the gap after the last request still holds"
        );
    }
}
