//! Limits: how many requests run at once, in total and per host.
//!
//! Politeness is per host, not per source: the five feeds of one publisher
//! share one server, so they share one `per_host` budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Shared concurrency budgets.
#[derive(Debug)]
pub struct HostLimits {
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
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
    pub fn new(concurrency: usize, per_host: usize) -> HostLimits {
        HostLimits {
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            per_host: per_host.max(1),
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

    /// Waits for a slot for `host` (lower-cased host name or IP literal, with port).
    pub async fn host_slot(&self, host: &str) -> HostPermit {
        let semaphore = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts
                .entry(host.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                .clone()
        };
        let permit = semaphore.acquire_owned().await;
        HostPermit {
            _host: permit.expect("host semaphores are never closed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn per_host_budget_blocks_only_that_host() {
        let limits = HostLimits::new(8, 1);
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
        let limits = HostLimits::new(2, 2);
        let _a = limits.fetch_slot().await;
        let _b = limits.fetch_slot().await;
        let third = tokio::time::timeout(Duration::from_millis(50), limits.fetch_slot()).await;
        assert!(third.is_err());
    }
}
