//! Serve: the topic feeds over HTTP.
//!
//! Rules:
//! * Feeds, search results and the front page are rendered once per version
//!   of what they show and served from memory ([`cache`]); the versions are
//!   bumped by the store in the transaction that changes a feed, and a
//!   watcher copies them in about once a second, so an unchanged feed costs
//!   no database work — whether `kurator fetch` runs in this process or another.
//! * Every response a reader caches carries an ETag and Last-Modified derived
//!   from the content, honours `If-None-Match`/`If-Modified-Since` with 304,
//!   and comes brotli- or gzip-compressed when the client accepts it.
//! * Slow or hostile clients cannot hold the server: our own accept loop
//!   (`accept`; `axum::serve` has none of this) bounds connections, in all
//!   and per client address, closes the longest-idle ones when full
//!   (`clients`), and bounds the time to send request headers (also for
//!   idle keep-alive connections), the time a client may stall reading a
//!   response, and the size of URIs and headers.
//! * Searches run one at a time for at most `[server] search_timeout`, and
//!   stop at the next item when their client hangs up or the server stops.
//!   Status pages and metrics read the database at most once a second.
//! * `[server] threads` workers, each a single-threaded runtime (nginx's
//!   model: no work stealing on the hot path); the acceptor hands every
//!   connection to the worker serving the fewest.
//! * What it shows (topics, sources, base URL, search limits: a [`Site`]) is
//!   replaced while it runs ([`ConfigHandle`]); how it listens and what it
//!   bounds ([`Settings`]) stays as started.
//!
//! The parts: [`Server`] here binds and runs; `accept` holds the
//! connections; `state` the state every handler shares; `routes` the
//! handlers; `site` what the server is given to show.

mod accept;
pub mod cache;
mod clients;
pub mod negotiate;
pub mod pages;
mod routes;
pub mod sendfile;
mod site;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, info};

use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use accept::Workers;
use cache::Versions;
pub use site::{Listen, SearchLimits, Settings, Site};
pub use state::{AppState, ConfigHandle, LivenessCheck};

/// How often the watcher looks for changes made by other connections.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a client may stall reading a response before it is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Request line plus headers; larger requests get 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Rendered responses kept in memory, all codings counted.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot listen on `{listen}`: the host name does not resolve ({source}); write an IP address and port, e.g. listen = \"127.0.0.1:8080\" or \"[::1]:8080\""
    )]
    Resolve {
        listen: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A socket on the first of `listen`'s addresses that can be bound (a host
/// name is looked up now, not when the config was read).
fn bind_first(listen: &Listen) -> Result<std::net::TcpListener, ServeError> {
    let addresses = listen.addresses().map_err(|source| ServeError::Resolve {
        listen: listen.to_string(),
        source,
    })?;
    let mut failure = None;
    for address in addresses {
        match accept::listen(address) {
            Ok(listener) => return Ok(listener),
            Err(source) => {
                failure.get_or_insert(ServeError::Bind {
                    addr: match listen {
                        Listen::Address(_) => address.to_string(),
                        Listen::Host { .. } => format!("{listen} ({address})"),
                    },
                    source,
                });
            }
        }
    }
    Err(failure.expect("at least one address was tried"))
}

/// A server bound to its address, not yet serving.
pub struct Server {
    listener: std::net::TcpListener,
    settings: Settings,
    state: Arc<AppState>,
    watcher_store: Store,
}

impl Server {
    /// Opens the database and binds `settings.listen`, to show `site`. When
    /// the site configures no base URL, links follow the address actually
    /// bound (so `listen = "127.0.0.1:0"` works).
    pub async fn bind(
        settings: Settings,
        site: impl Site + 'static,
        db_path: PathBuf,
    ) -> Result<Server, ServeError> {
        if let Some(limit) = sendfile::raise_open_file_limit() {
            debug!(limit, "open file limit");
        }
        let listener = bind_first(&settings.listen)?;
        let local = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: settings.listen.to_string(),
            source,
        })?;
        let watcher_store = Store::open_reader(&db_path)?;
        let versions = Versions::new(watcher_store.feed_versions()?);
        let cache_control = HeaderValue::from_str(&format!(
            "public, max-age={}",
            settings.cache_max_age.as_secs().max(1)
        ))
        .expect("digits");
        let state = AppState::new(Box::new(site), local, db_path, versions, cache_control);
        Ok(Server {
            listener,
            settings,
            state: Arc::new(state),
            watcher_store,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Makes `/healthz` answer for more than the database: `check` returns
    /// why the process is unhealthy, if it is. Only the first call counts.
    pub fn set_liveness(&self, check: LivenessCheck) {
        let _ = self.state.liveness.set(check);
    }

    /// Makes `/sources` show the failures the daemon could not store. Only
    /// the first call counts.
    pub fn set_unrecorded(&self, failures: Arc<crate::status::UnrecordedFailures>) {
        let _ = self.state.unrecorded.set(failures);
    }

    /// Whether the base URL was configured (else it follows the address).
    pub fn base_url_configured(&self) -> bool {
        self.state.site().base_url_configured()
    }

    /// The base URL links are built from.
    pub fn base_url(&self) -> url::Url {
        use crate::feeds::Catalog;
        self.state.site().base_url().clone()
    }

    /// The counters `/metrics` serves; the daemon adds its fetches.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.state.metrics.clone()
    }

    /// The listening socket and the routes, with the request-target cap as
    /// an axum middleware, for serving under the stock `axum::serve`: the
    /// serve benchmark measures that path against [`Server::run`]
    /// (BENCHMARKS.md). Nothing else uses it; the feed versions are not
    /// watched.
    #[doc(hidden)]
    pub fn into_stock(self) -> (std::net::TcpListener, axum::Router) {
        let cap = axum::middleware::from_fn(
            |request: axum::extract::Request, next: axum::middleware::Next| async move {
                let length = request
                    .uri()
                    .path_and_query()
                    .map_or(0, |p| p.as_str().len());
                if length > routes::MAX_URI_BYTES {
                    return routes::uri_too_long(length);
                }
                next.run(request).await
            },
        );
        (self.listener, routes::router(self.state).layer(cap))
    }

    /// A handle that replaces what the server shows while it runs.
    pub fn config_handle(&self) -> ConfigHandle {
        ConfigHandle {
            state: self.state.clone(),
        }
    }

    /// Serves until `shutdown` completes, then lets open connections finish
    /// their current request (for at most a few seconds). Serves on the
    /// calling runtime (a current-thread one is best) and on one thread of
    /// its own for each further worker.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Server {
            listener,
            settings,
            state,
            watcher_store,
        } = self;
        let listener = TcpListener::from_std(listener).map_err(|source| ServeError::Bind {
            addr: settings.listen.to_string(),
            source,
        })?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let watcher = tokio::spawn(state::watch_versions(
            state.clone(),
            watcher_store,
            stop_rx.clone(),
        ));
        let router = routes::router(state.clone());
        let workers = Workers::start(router, &settings, state.metrics.clone(), stop_rx);
        workers.accept(&listener, shutdown).await;
        info!("shutting down: no new connections");
        state.stopping.store(true, Ordering::Relaxed);
        let _ = stop_tx.send(true);
        workers.finish().await;
        watcher.abort();
        Ok(())
    }
}

/// Completes once shutdown has begun (or the sender is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}
