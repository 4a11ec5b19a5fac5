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
//!   (`axum::serve` has none of this) bounds connections, in all and per
//!   client address, closes the longest-idle ones when full ([`clients`]),
//!   and bounds the time to send request headers (also for idle keep-alive
//!   connections), the time a client may stall reading a response, and the
//!   size of URIs and headers.
//! * Searches run one at a time for at most `[server] search_timeout`, and
//!   stop at the next item when their client hangs up or the server stops.
//!   Status pages and metrics read the database at most once a second.
//! * `[server] threads` workers, each a single-threaded runtime (nginx's
//!   model: no work stealing on the hot path); the acceptor hands every
//!   connection to the worker serving the fewest.

pub mod cache;
mod clients;
pub mod negotiate;
pub mod pages;
mod routes;
pub mod sendfile;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::time::unix_now;
use cache::{Rendered, ResponseCache, Versions};
use clients::{Admission, Admitted, Busy, Clients};
use sendfile::SendfileStream;

/// How often the watcher looks for changes made by other connections.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a client may stall reading a response before it is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Request line plus headers; larger requests get 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Rendered responses kept in memory, all codings counted.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Database connections kept for rendering.
const POOL_SIZE: usize = 4;
/// Renders that read the database at once; the rest wait their turn.
const RENDERS_AT_ONCE: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Open database connections, reused across renders.
struct StorePool {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl StorePool {
    fn with<T, E: From<StoreError>>(
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
struct Health {
    /// Milliseconds after `started` of the last successful look.
    last_ok_ms: AtomicI64,
    error: Mutex<Option<String>>,
}

/// Everything a request handler needs.
pub struct AppState {
    /// Replaced as a whole on reload: see [`ConfigHandle`].
    config: RwLock<Arc<Config>>,
    stores: StorePool,
    cache: ResponseCache,
    versions: RwLock<Arc<Versions>>,
    /// Renders and snapshot reads at once; the permit goes with the work to
    /// the blocking thread.
    renders: Arc<Semaphore>,
    searches: routes::SearchGate,
    /// Set when shutdown begins: running searches stop.
    stopping: Arc<AtomicBool>,
    sources_snapshot: routes::SnapshotSlot<Vec<crate::status::SourceStatus>>,
    facts_snapshot: routes::SnapshotSlot<crate::metrics::StoredFacts>,
    cache_control: HeaderValue,
    opml: RwLock<Arc<Rendered>>,
    /// The address bound: links follow it when `base_url` is not configured.
    local: SocketAddr,
    metrics: Arc<Metrics>,
    started: Instant,
    /// Seconds since the epoch at start: Last-Modified of a feed that has no dates.
    started_unix: i64,
    health: Health,
    /// Another part of the process `/healthz` answers for (the daemon's
    /// scheduler): `Err` is the reason it is not healthy.
    liveness: OnceLock<LivenessCheck>,
    /// Failures the daemon could not store, shown on `/sources`.
    unrecorded: OnceLock<Arc<crate::status::UnrecordedFailures>>,
}

/// See [`Server::set_liveness`].
pub type LivenessCheck = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

impl AppState {
    fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn opml(&self) -> Arc<Rendered> {
        self.opml.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn versions(&self) -> Arc<Versions> {
        self.versions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Replaces a running server's configuration (on `SIGHUP`): topics, titles
/// and sources as shown. Listening, threads and limits stay as started.
#[derive(Clone)]
pub struct ConfigHandle {
    state: Arc<AppState>,
}

impl ConfigHandle {
    pub fn replace(&self, mut config: Config) {
        links_follow(&mut config, self.state.local);
        let opml = Arc::new(opml_of(&config));
        *self.state.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        *self.state.opml.write().unwrap_or_else(|e| e.into_inner()) = opml;
        // Every rendered response may show a title or topic that changed.
        self.state.cache.clear();
    }
}

/// Without a configured `base_url`, links use the address actually bound
/// (so `listen = "127.0.0.1:0"` works).
fn links_follow(config: &mut Config, local: SocketAddr) {
    if !config.server.base_url_configured {
        config.server.base_url =
            url::Url::parse(&format!("http://{local}/")).expect("a socket address makes a URL");
    }
}

fn opml_of(config: &Config) -> Rendered {
    Rendered::new(
        "text/x-opml; charset=utf-8",
        pages::opml(config, unix_now()),
        unix_now(),
        0,
    )
}

/// A server bound to its address, not yet serving.
pub struct Server {
    listener: std::net::TcpListener,
    state: Arc<AppState>,
    watcher_store: Store,
}

impl Server {
    /// Opens the database and binds `[server] listen`. When the config
    /// gives no `base_url`, links follow the address actually bound (so
    /// `listen = "127.0.0.1:0"` works).
    pub async fn bind(mut config: Config, db_path: PathBuf) -> Result<Server, ServeError> {
        let addr = config.server.listen;
        if let Some(limit) = sendfile::raise_open_file_limit() {
            debug!(limit, "open file limit");
        }
        let bind_error = |source| ServeError::Bind { addr, source };
        let listener = listen(addr).map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        links_follow(&mut config, local);
        let watcher_store = Store::open_reader(&db_path)?;
        let versions = Versions::new(watcher_store.feed_versions()?);
        let opml = opml_of(&config);
        let cache_control = HeaderValue::from_str(&format!(
            "public, max-age={}",
            config.server.cache_max_age.as_secs().max(1)
        ))
        .expect("digits");
        let state = Arc::new(AppState {
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
            config: RwLock::new(Arc::new(config)),
        });
        Ok(Server {
            listener,
            state,
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

    /// Whether `base_url` came from the config (else it follows the address).
    pub fn base_url_configured(&self) -> bool {
        self.state.config().server.base_url_configured
    }

    /// The base URL links are built from.
    pub fn base_url(&self) -> url::Url {
        self.state.config().server.base_url.clone()
    }

    /// The counters `/metrics` serves; the daemon adds its fetches.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.state.metrics.clone()
    }

    /// A handle that replaces the configuration while the server runs.
    pub fn config_handle(&self) -> ConfigHandle {
        ConfigHandle {
            state: self.state.clone(),
        }
    }

    /// Serves until `shutdown` completes, then lets open connections finish
    /// their current request (for at most a few seconds). Serves on the
    /// calling runtime (a current-thread one is best) and on one thread of
    /// its own for each further listener.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Server {
            listener,
            state,
            watcher_store,
        } = self;
        let config = state.config();
        let server = &config.server;
        let listener = TcpListener::from_std(listener).map_err(|source| ServeError::Bind {
            addr: server.listen,
            source,
        })?;
        let router = routes::router(state.clone());
        let connections = Arc::new(Semaphore::new(server.max_connections));
        let clients = Arc::new(Clients::new(server.max_connections, state.metrics.clone()));
        let (stop_tx, stop_rx) = watch::channel(false);
        let watcher = tokio::spawn(watch_versions(
            state.clone(),
            watcher_store,
            stop_rx.clone(),
        ));
        let serving = Serving {
            router,
            stop: stop_rx,
            header_timeout: server.header_timeout,
            epoch: clients.epoch(),
        };
        // One worker per core, each a single-threaded runtime, as nginx runs
        // one worker process per core: no work stealing and no cross-thread
        // wake-ups while serving. This thread is the first worker and also
        // accepts, handing each connection to the worker serving the fewest
        // (readers keep connections open, so even counts mean even load).
        let (first, receiver) = Worker::new();
        let mut workers = vec![first];
        tokio::spawn(serving.clone().run(receiver, workers[0].active.clone()));
        let mut threads = Vec::new();
        for index in 1..server.threads {
            let (worker, receiver) = Worker::new();
            let serving = serving.clone();
            let active = worker.active.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("kurator-http-{index}"))
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(err) => {
                            warn!(error = %err, "cannot start a server thread");
                            return;
                        }
                    };
                    runtime.block_on(serving.run(receiver, active));
                });
            match spawned {
                Ok(thread) => {
                    threads.push(thread);
                    workers.push(worker);
                }
                Err(err) => warn!(error = %err, "serving on fewer threads"),
            }
        }
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = &mut shutdown => break,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause, don't spin.
                    warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let admitted = match clients.admit(peer.ip()) {
                Admission::Serve(admitted) => admitted,
                Admission::Refuse => {
                    debug!(%peer, "refused: this client's connections are all busy");
                    continue;
                }
            };
            // Every slot taken: close the longest-idle connection rather
            // than make this one wait (it may be a health check).
            let permit = match connections.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    if clients.shed_idle() {
                        debug!("closed the longest-idle connection to make room");
                    }
                    tokio::select! {
                        permit = connections.clone().acquire_owned() => permit.expect("never closed"),
                        () = &mut shutdown => break,
                    }
                }
            };
            let Ok(stream) = stream.into_std() else {
                continue;
            };
            let worker = workers
                .iter()
                .min_by_key(|w| w.active.load(Ordering::Relaxed))
                .expect("at least the first worker");
            worker.active.fetch_add(1, Ordering::Relaxed);
            if let Err(returned) = worker.sender.send((stream, peer, permit, admitted)) {
                // That worker's thread is gone: this thread serves it.
                worker.active.fetch_sub(1, Ordering::Relaxed);
                workers[0].active.fetch_add(1, Ordering::Relaxed);
                let _ = workers[0].sender.send(returned.0);
            }
        }
        info!("shutting down: no new connections");
        state.stopping.store(true, Ordering::Relaxed);
        let _ = stop_tx.send(true);
        drop(workers);
        let all = u32::try_from(server.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(Duration::from_secs(5), connections.acquire_many(all)).await;
        watcher.abort();
        for thread in threads {
            let _ = thread.join();
        }
        Ok(())
    }
}

/// A listening socket on `addr` with a backlog deep enough for bursts.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// A connection handed to a worker, with its place under the connection
/// cap and among its client's connections.
type Handed = (
    std::net::TcpStream,
    SocketAddr,
    OwnedSemaphorePermit,
    Admitted,
);

/// The accepting side's view of one worker.
struct Worker {
    sender: mpsc::UnboundedSender<Handed>,
    /// Connections it serves now.
    active: Arc<AtomicUsize>,
}

impl Worker {
    fn new() -> (Worker, mpsc::UnboundedReceiver<Handed>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let worker = Worker {
            sender,
            active: Arc::new(AtomicUsize::new(0)),
        };
        (worker, receiver)
    }
}

/// What each worker needs to serve connections.
#[derive(Clone)]
struct Serving {
    router: axum::Router,
    stop: watch::Receiver<bool>,
    header_timeout: Duration,
    /// What [`Busy`] counts request times from.
    epoch: Instant,
}

impl Serving {
    /// Serves the connections handed to this worker until the acceptor is
    /// gone and they have all finished (bounded by the shutdown timeout).
    async fn run(self, mut handed: mpsc::UnboundedReceiver<Handed>, active: Arc<AtomicUsize>) {
        while let Some((stream, peer, permit, admitted)) = handed.recv().await {
            let stream = match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => stream,
                Err(err) => {
                    warn!(%peer, error = %err, "cannot serve a connection");
                    active.fetch_sub(1, Ordering::Relaxed);
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let mut stream = tokio_io_timeout::TimeoutStream::new(SendfileStream::new(stream));
            stream.set_write_timeout(Some(WRITE_TIMEOUT));
            let io = TokioIo::new(Box::pin(stream));
            let activity = admitted.activity.clone();
            let service = Entry {
                router: self.router.clone(),
                activity: activity.clone(),
                epoch: self.epoch,
            };
            let mut stop = self.stop.clone();
            let header_timeout = self.header_timeout;
            let active = active.clone();
            tokio::spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .max_buf_size(MAX_HEADER_BYTES)
                    .serve_connection(io, service);
                tokio::pin!(connection);
                let result = tokio::select! {
                    result = connection.as_mut() => result,
                    () = stopping(&mut stop) => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                    () = activity.shed() => {
                        if activity.is_idle() {
                            debug!(%peer, "closed while idle to make room");
                            Ok(())
                        } else {
                            // A request arrived meanwhile: answer it, then close.
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    }
                };
                if let Err(err) = result {
                    debug!(%peer, error = %err, "connection ended with an error");
                }
                active.fetch_sub(1, Ordering::Relaxed);
                drop(admitted);
                drop(permit);
            });
        }
        // The acceptor is gone: let this worker's connections finish.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while active.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The router behind the cap on request-target length. A hyper service of
/// our own rather than an axum middleware: no boxed future per request.
#[derive(Clone)]
struct Entry {
    router: axum::Router,
    /// The connection's: a request counts as in flight until answered.
    activity: Arc<clients::Activity>,
    epoch: Instant,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Entry {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = EntryFuture;

    fn call(&self, request: hyper::Request<hyper::body::Incoming>) -> EntryFuture {
        let length = request
            .uri()
            .path_and_query()
            .map_or(0, |p| p.as_str().len());
        let busy = Busy::new(self.activity.clone(), self.epoch);
        if length > routes::MAX_URI_BYTES {
            return EntryFuture {
                answer: Answer::Refused(Some(routes::uri_too_long(length))),
                _busy: busy,
            };
        }
        let mut router = self.router.clone();
        EntryFuture {
            answer: Answer::Routed(tower_service::Service::call(
                &mut router,
                request.map(axum::body::Body::new),
            )),
            _busy: busy,
        }
    }
}

struct EntryFuture {
    answer: Answer,
    /// The request is in flight while this future lives.
    _busy: Busy,
}

enum Answer {
    Refused(Option<axum::response::Response>),
    Routed(axum::routing::future::RouteFuture<std::convert::Infallible>),
}

impl Future for EntryFuture {
    type Output = Result<axum::response::Response, std::convert::Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match &mut self.get_mut().answer {
            Answer::Refused(response) => {
                std::task::Poll::Ready(Ok(response.take().expect("polled once")))
            }
            Answer::Routed(future) => std::pin::Pin::new(future).poll(cx),
        }
    }
}

/// Completes once shutdown has begun (or the sender is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// Copies the feed versions from the database whenever another connection
/// has committed, and records whether the database answers (`/healthz`).
async fn watch_versions(state: Arc<AppState>, store: Store, mut stop: watch::Receiver<bool>) {
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
                        Arc::new(Versions::new(versions));
                }
                let elapsed = state.started.elapsed().as_millis() as i64;
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
