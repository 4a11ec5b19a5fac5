//! The server's state, shared by every request handler: the site shown, the
//! database connections, the response cache and the feed versions it is
//! checked against; the watcher that keeps those versions current and the
//! database's health known; and [`ConfigHandle`], which swaps the site on
//! reload.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use axum::http::HeaderValue;
use tokio::sync::{Semaphore, watch};
use tracing::warn;

use super::cache::{Rendered, ResponseCache, Versions};
use super::site::{Shown, Site};
use super::{CACHE_BYTES, WATCH_INTERVAL, pages, routes, stopping};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::time::unix_now;

/// Database connections kept for rendering.
const POOL_SIZE: usize = 4;
/// Renders that read the database at once; the rest wait their turn.
const RENDERS_AT_ONCE: usize = 2;

/// Open database connections, reused across renders.
pub(super) struct StorePool {
    pub(super) path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl StorePool {
    pub(super) fn with<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let store = match idle {
            Some(store) => store,
            None => Store::open_reader(&self.path)?,
        };
        let result = work(&store);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push(store);
        }
        result
    }
}

/// What the watcher last saw of the database.
#[derive(Debug, Default)]
pub(super) struct Health {
    /// Milliseconds after `started` of the last successful look.
    pub(super) last_ok_ms: AtomicI64,
    pub(super) error: Mutex<Option<String>>,
}

/// See [`Server::set_liveness`](super::Server::set_liveness).
pub type LivenessCheck = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Everything a request handler needs.
pub struct AppState {
    /// Replaced as a whole on reload: see [`ConfigHandle`].
    site: RwLock<Arc<Shown>>,
    pub(super) stores: StorePool,
    pub(super) cache: ResponseCache,
    versions: RwLock<Arc<Versions>>,
    /// Renders and snapshot reads at once; the permit goes with the work to
    /// the blocking thread.
    pub(super) renders: Arc<Semaphore>,
    pub(super) searches: routes::SearchGate,
    /// Set when shutdown begins: running searches stop.
    pub(super) stopping: Arc<AtomicBool>,
    pub(super) sources_snapshot: routes::SnapshotSlot<Vec<crate::status::SourceStatus>>,
    pub(super) facts_snapshot: routes::SnapshotSlot<crate::metrics::StoredFacts>,
    pub(super) cache_control: HeaderValue,
    opml: RwLock<Arc<Rendered>>,
    /// The address bound: links follow it when no base URL is configured.
    local: SocketAddr,
    pub(super) metrics: Arc<Metrics>,
    pub(super) started: Instant,
    /// Seconds since the epoch at start: Last-Modified of a feed that has no dates.
    pub(super) started_unix: i64,
    pub(super) health: Health,
    /// Another part of the process `/healthz` answers for (the daemon's
    /// scheduler): `Err` is the reason it is not healthy.
    pub(super) liveness: OnceLock<LivenessCheck>,
    /// Failures the daemon could not store, shown on `/sources`.
    pub(super) unrecorded: OnceLock<Arc<crate::status::UnrecordedFailures>>,
}

impl AppState {
    /// The state of a server bound to `local`, showing `site`, that reads
    /// the database at `db_path` and knows its feeds' `versions`.
    pub(super) fn new(
        site: Box<dyn Site>,
        local: SocketAddr,
        db_path: PathBuf,
        versions: Versions,
        cache_control: HeaderValue,
    ) -> AppState {
        let site = Shown::new(site, local);
        let opml = opml_of(&site);
        AppState {
            stores: StorePool {
                path: db_path,
                idle: Mutex::new(Vec::new()),
            },
            cache: ResponseCache::new(CACHE_BYTES),
            versions: RwLock::new(Arc::new(versions)),
            renders: Arc::new(Semaphore::new(RENDERS_AT_ONCE)),
            searches: routes::SearchGate::new(),
            stopping: Arc::new(AtomicBool::new(false)),
            sources_snapshot: tokio::sync::Mutex::new(None),
            facts_snapshot: tokio::sync::Mutex::new(None),
            cache_control,
            opml: RwLock::new(Arc::new(opml)),
            local,
            metrics: Arc::new(Metrics::default()),
            started: Instant::now(),
            started_unix: unix_now(),
            health: Health::default(),
            liveness: OnceLock::new(),
            unrecorded: OnceLock::new(),
            site: RwLock::new(Arc::new(site)),
        }
    }

    pub(super) fn site(&self) -> Arc<Shown> {
        self.site.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn opml(&self) -> Arc<Rendered> {
        self.opml.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn versions(&self) -> Arc<Versions> {
        self.versions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Replaces what a running server shows (on `SIGHUP`): topics, titles,
/// sources, base URL and search limits. Listening, threads and limits
/// ([`Settings`](super::Settings)) stay as started.
#[derive(Clone)]
pub struct ConfigHandle {
    pub(super) state: Arc<AppState>,
}

impl ConfigHandle {
    pub fn replace(&self, site: impl Site + 'static) {
        let site = Shown::new(Box::new(site), self.state.local);
        let opml = Arc::new(opml_of(&site));
        *self.state.site.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(site);
        *self.state.opml.write().unwrap_or_else(|e| e.into_inner()) = opml;
        // Every rendered response may show a title or topic that changed.
        self.state.cache.clear();
    }
}

fn opml_of(site: &Shown) -> Rendered {
    Rendered::new(
        "text/x-opml; charset=utf-8",
        pages::opml(site, unix_now()),
        unix_now(),
        0,
    )
}

/// Copies the feed versions from the database whenever another connection
/// has committed, and records whether the database answers (`/healthz`).
pub(super) async fn watch_versions(
    state: Arc<AppState>,
    store: Store,
    mut stop: watch::Receiver<bool>,
) {
    let mut store = Some(store);
    let mut seen_data_version = None;
    loop {
        let Some(current) = store.take() else { return };
        let looked = tokio::task::spawn_blocking(move || {
            let result = current.data_version().and_then(|data_version| {
                if Some(data_version) == seen_data_version {
                    Ok((data_version, None))
                } else {
                    Ok((data_version, Some(current.feed_versions()?)))
                }
            });
            (current, result)
        })
        .await;
        let Ok((back, result)) = looked else { return };
        store = Some(back);
        match result {
            Ok((data_version, versions)) => {
                seen_data_version = Some(data_version);
                if let Some(versions) = versions {
                    *state.versions.write().unwrap_or_else(|e| e.into_inner()) =
                        Arc::new(Versions::new(versions).at_data_version(data_version));
                }
                let elapsed = crate::time::duration_millis(state.started.elapsed());
                state.health.last_ok_ms.store(elapsed, Ordering::Relaxed);
                *state.health.error.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            Err(err) => {
                warn!(error = %err, "cannot read feed versions");
                *state.health.error.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(err.to_string());
            }
        }
        tokio::select! {
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
            () = stopping(&mut stop) => return,
        }
    }
}
