//! Connections: the accept loop, the workers that serve what it accepts, and
//! what every connection is held to.
//!
//! Our own loop rather than `axum::serve`, which has none of this (measured
//! against it in BENCHMARKS.md, "Own accept loop or `axum::serve`"):
//! * Connections are bounded, in all (`[server] max_connections`) and per
//!   client address; when full, the longest-idle one is closed ([`clients`]).
//! * The time to send request headers is bounded (also for idle keep-alive
//!   connections), and so are the time a client may stall reading a
//!   response and the size of URIs and headers.
//! * `[server] threads` workers, each a single-threaded runtime (nginx's
//!   model: no work stealing on the hot path); the acceptor hands every
//!   connection to the worker serving the fewest.
//! * Large cached bodies leave with `sendfile(2)` ([`sendfile`]).
//!
//! [`clients`]: super::clients
//! [`sendfile`]: super::sendfile

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tracing::{debug, warn};

use super::clients::{self, Admission, Admitted, Busy, Clients};
use super::sendfile::SendfileStream;
use super::{MAX_HEADER_BYTES, Settings, WRITE_TIMEOUT, routes, stopping};
use crate::metrics::Metrics;

/// How long open connections may take to finish once shutdown has begun.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A listening socket on `addr` with a backlog deep enough for bursts.
pub(super) fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// The serving workers, and the bounds on the connections they serve.
pub(super) struct Workers {
    workers: Vec<Worker>,
    threads: Vec<std::thread::JoinHandle<()>>,
    connections: Arc<Semaphore>,
    max_connections: usize,
    clients: Arc<Clients>,
}

impl Workers {
    /// Starts `settings.threads` workers serving `router`: the first on the
    /// calling runtime, each further one on a thread of its own. They let
    /// their connections finish once `stop` turns true.
    pub(super) fn start(
        router: axum::Router,
        settings: &Settings,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
    ) -> Workers {
        let clients = Arc::new(Clients::new(settings.max_connections, metrics));
        let serving = Serving {
            router,
            stop,
            header_timeout: settings.header_timeout,
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
        for index in 1..settings.threads {
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
        Workers {
            workers,
            threads,
            connections: Arc::new(Semaphore::new(settings.max_connections)),
            max_connections: settings.max_connections,
            clients,
        }
    }

    /// Accepts connections on `listener` and hands them to the workers until
    /// `shutdown` completes.
    pub(super) async fn accept(&self, listener: &TcpListener, shutdown: impl Future<Output = ()>) {
        let Workers {
            workers,
            connections,
            clients,
            ..
        } = self;
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
    }

    /// Waits (for at most a few seconds) until the connections being served
    /// have finished, and the workers' threads with them. Call once the
    /// stop signal given to [`Workers::start`] is sent.
    pub(super) async fn finish(self) {
        let Workers {
            workers,
            threads,
            connections,
            max_connections,
            ..
        } = self;
        drop(workers);
        let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, connections.acquire_many(all)).await;
        for thread in threads {
            let _ = thread.join();
        }
    }
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
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
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
