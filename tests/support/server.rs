//! A deliberately misbehaving HTTP/1.1 server for integration tests.
//!
//! [`TestServer`] listens on `127.0.0.1` (ephemeral port) and answers each
//! path with a configurable [`Behaviour`]: ordinary feed responses (with
//! `ETag`/`Last-Modified` validators and optional gzip), redirects,
//! `Retry-After` answers, and a set of faults — responses that drip one byte
//! at a time, stall forever, never end, inflate into gigabytes (gzip bomb) or
//! hang up without answering.
//!
//! It is written directly on [`tokio::net::TcpListener`] rather than on
//! hyper/axum on purpose: a real HTTP stack normalises or refuses exactly the
//! kind of broken behaviour the fetcher must survive (missing
//! `Content-Length`, connections that close mid-request, bodies that never
//! end, bodies that lie about their encoding). Writing the bytes ourselves
//! makes every fault exact and reproducible, and it keeps the test
//! dependencies to `tokio` and `flate2`.
//!
//! # Threading
//!
//! The server runs on its own OS thread with its own multi-threaded tokio
//! runtime, so it works the same from plain `#[test]` functions, from
//! `#[tokio::test]` functions (any flavour), and while a test runs the
//! `kurator` binary as a child process. Dropping the [`TestServer`] stops
//! accepting, closes every open connection (including stalled and endless
//! ones) and joins the thread.
//!
//! # Connection handling
//!
//! Every connection is served by its own task, so a stalled or dripping
//! connection never delays requests to other routes.
//!
//! Finite responses (`Feed`, `Redirect`, `RetryAfter`, `GzipBomb`, the 404 for
//! unknown paths and error answers) support HTTP/1.1 keep-alive: the
//! connection stays open for further requests unless the client sent
//! `Connection: close`, spoke HTTP/1.0, or sent a request body the server
//! cannot delimit. The server never closes an idle keep-alive connection by
//! itself (only when it is dropped), so there is no idle-close race with a
//! client's connection pool. Call [`TestServer::set_keep_alive`]`(false)` to
//! answer every response with `Connection: close` instead. `Drip` and
//! `Endless` bodies are delimited by closing the connection (no
//! `Content-Length`, `Connection: close`); `Stall` and `Hangup` never answer.
//!
//! Requests are parsed leniently: the head is read until the first empty
//! line (`\r\n\r\n`, bare `\n\n` is accepted too) and capped at 64 KiB
//! (larger heads get `431` and a close). A `Content-Length` request body is
//! read and discarded. `HEAD` requests get the same headers as `GET` and no
//! body. Every request is recorded (see [`TestServer::requests`]) before it
//! is answered, so stalled and hung-up requests are recorded too.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "made-up test data and counts, not values from outside"
)]

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Largest accepted request head (request line plus headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a closing connection waits for the client to close its side
/// after the server has sent its last byte (avoids resetting the connection
/// while the client still reads the response).
const CLOSE_LINGER: Duration = Duration::from_secs(5);

/// Start of the document every [`Behaviour::Endless`] response sends.
const ENDLESS_PREFIX: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<rss version=\"2.0\"><channel><title>Endless</title>\
<link>http://127.0.0.1/</link><description>A feed that never ends</description>\n";

/// The item [`Behaviour::Endless`] repeats forever after the prefix.
const ENDLESS_FILLER: &[u8] = b"<item><title>x</title></item>\n";

/// Start of the document a [`Behaviour::GzipBomb`] inflates to.
const BOMB_PREFIX: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<rss version=\"2.0\"><channel><title>Bomb</title>\
<link>http://127.0.0.1/</link><description>";

/// End of the document a [`Behaviour::GzipBomb`] inflates to; everything
/// between [`BOMB_PREFIX`] and this is spaces.
const BOMB_SUFFIX: &[u8] = b"</description></channel></rss>\n";

/// Inflated size of one repeated deflate segment of a gzip bomb.
const BOMB_CHUNK: usize = 1 << 20;

/// A real HTTP/1.1 server on `127.0.0.1` with per-path behaviours.
///
/// See the module documentation for details. Dropping it shuts it down.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// State shared between the test thread and the server runtime.
struct Shared {
    routes: Mutex<HashMap<String, Arc<Behaviour>>>,
    requests: Mutex<Vec<RecordedRequest>>,
    keep_alive: AtomicBool,
}

impl Shared {
    fn lookup(&self, path: &str) -> Option<Arc<Behaviour>> {
        lock(&self.routes).get(path).cloned()
    }

    fn record(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test must not cascade into
/// unrelated panics in the server or in `Drop`).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TestServer {
    /// Binds `127.0.0.1:0` and serves on a dedicated background thread with
    /// its own tokio runtime (so it works both from `#[test]` fns and from
    /// `#[tokio::test]` fns, and while the test spawns a child process).
    /// Dropping the server shuts it down.
    ///
    /// The socket is listening when this returns.
    pub fn start() -> TestServer {
        TestServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("test server: bind 127.0.0.1:0")
    }

    /// Like [`TestServer::start`] on another loopback address or a given
    /// port (e.g. `127.0.0.2` on the port of a server on `127.0.0.1`, so one
    /// host name with two DNS answers reaches either). Fails when the address
    /// is taken.
    pub fn bind(addr: SocketAddr) -> std::io::Result<TestServer> {
        assert!(
            addr.ip().is_loopback(),
            "test servers listen on loopback only, not {addr}"
        );
        let listener = std::net::TcpListener::bind(addr)?;
        listener
            .set_nonblocking(true)
            .expect("test server: set listener non-blocking");
        let addr = listener
            .local_addr()
            .expect("test server: local address of listener");
        let shared = Arc::new(Shared {
            routes: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            keep_alive: AtomicBool::new(true),
        });
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || {
                // The runtime is created and dropped on this thread only, so
                // it never gets dropped inside a test's async context.
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("test-server-worker")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        let _ = ready_tx.send(Err(format!("building tokio runtime: {err}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => {
                            let _ = ready_tx.send(Err(format!("registering listener: {err}")));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    accept_loop(listener, thread_shared, shutdown_rx).await;
                });
                // Cancels every connection task, closing their sockets.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
            .expect("test server: spawn server thread");
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(message)) => panic!("test server failed to start: {message}"),
            Err(_) => panic!("test server thread exited before it was ready"),
        }
        Ok(TestServer {
            addr,
            shared,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// `"http://127.0.0.1:PORT"`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url() + path`
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Sets (or replaces) what `path` answers. `path` is matched exactly
    /// against the request path without its query string, so it must not
    /// contain `?`. Can be called while serving: later requests see the new
    /// route (a request already being answered keeps its old behaviour).
    ///
    /// A [`Behaviour::GzipBomb`] is built here (and cached per size for the
    /// whole test process), so serving it later is instant.
    pub fn route(&self, path: &str, behaviour: Behaviour) {
        assert!(
            !path.contains('?'),
            "TestServer::route: route paths match without the query string, got {path:?}"
        );
        if let Behaviour::GzipBomb { inflated_bytes } = behaviour {
            gzip_bomb(inflated_bytes);
        }
        lock(&self.shared.routes).insert(path.to_owned(), Arc::new(behaviour));
    }

    /// Removes the route for `path`; it answers 404 again.
    pub fn remove_route(&self, path: &str) {
        lock(&self.shared.routes).remove(path);
    }

    /// All requests received so far (in order).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Requests received for one path (compared without the query string,
    /// like routes).
    pub fn requests_for(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.shared.requests)
            .iter()
            .filter(|request| request.path_without_query() == path)
            .cloned()
            .collect()
    }

    /// Forgets all recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Blocks the calling thread until at least `count` requests for `path`
    /// were received or `timeout` passed, and returns the requests for `path`
    /// received by then (the caller asserts on the count).
    ///
    /// This sleeps the calling thread: use it while the client runs
    /// elsewhere (a child process, another thread or runtime), not from a
    /// current-thread `#[tokio::test]` whose own tasks do the requesting.
    pub fn wait_for_requests(
        &self,
        path: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<RecordedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests_for(path);
            if requests.len() >= count || Instant::now() >= deadline {
                return requests;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Enables (the default) or disables keep-alive for finite responses.
    /// When disabled, every response carries `Connection: close` and the
    /// connection is closed after it.
    pub fn set_keep_alive(&self, enabled: bool) {
        self.shared.keep_alive.store(enabled, Ordering::SeqCst);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The method as sent, e.g. `GET`.
    pub method: String,
    /// The request target including the query string, e.g.
    /// `/feed.xml?page=2` (an absolute-form target is reduced to this form).
    pub path: String,
    /// All headers in the order received; names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// All values of the headers called `name` (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// [`path`](Self::path) without the query string (what routes match on).
    pub fn path_without_query(&self) -> &str {
        route_path(&self.path)
    }
}

/// What a route answers.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// A normal response. If `etag` is set the server answers
    /// `304 Not Modified` (no body) when the request's `If-None-Match`
    /// matches it (`*`, a list and `W/` weak tags are understood); if
    /// `last_modified` is set it does the same when `If-Modified-Since` equals
    /// it exactly. As in RFC 9110, `If-Modified-Since` is only looked at when
    /// the request has no `If-None-Match`, and only 2xx statuses are turned
    /// into 304. Sends `Content-Length`. If the request's `Accept-Encoding`
    /// allows gzip and `gzip` is true, the body is gzip-compressed and
    /// `Content-Encoding: gzip` is set (`Vary: Accept-Encoding` is sent
    /// whenever `gzip` is true). `extra_headers` are appended as given.
    Feed {
        status: u16,
        content_type: String,
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
        extra_headers: Vec<(String, String)>,
        gzip: bool,
    },
    /// Sends headers (200, the content type, no `Content-Length`,
    /// `Connection: close`) at once, then waits `interval` before each byte of
    /// `body` (so the whole body takes `body.len() * interval`), then closes.
    /// Stops early when a write fails because the client went away.
    Drip {
        content_type: String,
        body: Vec<u8>,
        interval: Duration,
    },
    /// Reads the request and never answers. The socket stays open until the
    /// server is dropped (data the client sends is read and discarded).
    Stall,
    /// Sends 200 headers (the content type, no `Content-Length`,
    /// `Connection: close`), the start of an RSS document and then an endless
    /// stream of `<item><title>x</title></item>` lines, as fast as the client
    /// reads, never ending.
    Endless { content_type: String },
    /// A gzip bomb: `Content-Type: application/rss+xml`,
    /// `Content-Encoding: gzip` (regardless of `Accept-Encoding`) and a
    /// `Content-Length` of the small compressed body, which inflates to
    /// exactly `inflated_bytes` bytes: an RSS document whose `<description>`
    /// is filled with spaces. Roughly 1 KiB compressed per MiB inflated;
    /// built at `route()` time and cached per size.
    GzipBomb { inflated_bytes: u64 },
    /// Answers `status` with `Location: location` (sent verbatim, relative or
    /// absolute) and an empty body.
    Redirect { status: u16, location: String },
    /// Answers `status` with `Retry-After: retry_after` (verbatim) and a short
    /// text body.
    RetryAfter { status: u16, retry_after: String },
    /// Closes the connection right after reading the request, without
    /// answering.
    Hangup,
}

impl Behaviour {
    /// Convenience: 200 with the given content type and body, no validators,
    /// no gzip.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Behaviour {
        Behaviour::Feed {
            status: 200,
            content_type: content_type.to_owned(),
            body: body.into(),
            etag: None,
            last_modified: None,
            extra_headers: Vec::new(),
            gzip: false,
        }
    }

    /// Convenience: 200 `application/rss+xml` body with `ETag` and
    /// `Last-Modified` set.
    pub fn conditional(body: impl Into<Vec<u8>>, etag: &str, last_modified: &str) -> Behaviour {
        Behaviour::Feed {
            status: 200,
            content_type: "application/rss+xml".to_owned(),
            body: body.into(),
            etag: Some(etag.to_owned()),
            last_modified: Some(last_modified.to_owned()),
            extra_headers: Vec::new(),
            gzip: false,
        }
    }

    /// Convenience: a status with a short `text/plain` body (for 404, 410,
    /// 500…).
    pub fn status(status: u16) -> Behaviour {
        Behaviour::Feed {
            status,
            content_type: "text/plain; charset=utf-8".to_owned(),
            body: format!("{status} {}\n", reason_phrase(status)).into_bytes(),
            etag: None,
            last_modified: None,
            extra_headers: Vec::new(),
            gzip: false,
        }
    }
}

/// The reason phrase sent with `status`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Whether a response with `status` carries no body (and no
/// `Content-Length`).
fn status_has_no_body(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

// ---------------------------------------------------------------------------
// Serving
// ---------------------------------------------------------------------------

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            // Also fires if the sender is gone.
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // E.g. EMFILE: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

/// A parsed request head.
struct Request {
    recorded: RecordedRequest,
    is_head: bool,
    /// The client allows the connection to stay open after the response.
    keep_alive: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.recorded.header(name)
    }
}

enum ReadOutcome {
    Request(Request),
    /// The client closed the connection (or it failed) before a full request.
    Closed,
    /// Answer with this status and close.
    Reject(u16),
}

/// What to do with the connection after a response.
enum Next {
    KeepAlive,
    /// Close gracefully (flush, half-close, let the client finish reading).
    Close,
    /// Just drop the socket.
    Drop,
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    // Bytes read from the socket but not consumed yet (pipelined requests).
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let request = match read_request(&mut stream, &mut buffer).await {
            ReadOutcome::Request(request) => request,
            ReadOutcome::Closed => return,
            ReadOutcome::Reject(status) => {
                let body = format!("{status} {}\n", reason_phrase(status));
                let response = response_head(
                    status,
                    &[("Content-Type", "text/plain; charset=utf-8")],
                    Some(body.len()),
                    false,
                );
                if stream.write_all(&response).await.is_ok()
                    && stream.write_all(body.as_bytes()).await.is_ok()
                {
                    close_gracefully(stream).await;
                }
                return;
            }
        };
        shared.record(request.recorded.clone());
        let behaviour = shared
            .lookup(request.recorded.path_without_query())
            .unwrap_or_else(|| Arc::new(Behaviour::status(404)));
        let keep_alive = request.keep_alive && shared.keep_alive.load(Ordering::SeqCst);
        match respond(&mut stream, &request, &behaviour, keep_alive).await {
            Next::KeepAlive => continue,
            Next::Close => {
                close_gracefully(stream).await;
                return;
            }
            Next::Drop => return,
        }
    }
}

/// Flushes, half-closes and waits (bounded) until the client closes too, so
/// the client never sees a reset before it has read the whole response.
async fn close_gracefully(mut stream: TcpStream) {
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(CLOSE_LINGER, drain(&mut stream)).await;
}

/// Reads and discards until end of stream or an error.
async fn drain(stream: &mut TcpStream) {
    let mut sink = [0u8; 8192];
    while let Ok(n) = stream.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

/// Reads one request head (and discards its body, if delimited by
/// `Content-Length`). Bytes after the request stay in `buffer`.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> ReadOutcome {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        // RFC 9112 §2.2: ignore empty lines before the request line.
        let blank = buffer
            .iter()
            .take_while(|&&byte| byte == b'\r' || byte == b'\n')
            .count();
        buffer.drain(..blank);
        if let Some(end) = find_head_end(buffer) {
            if end > MAX_HEAD_BYTES {
                return ReadOutcome::Reject(431);
            }
            break end;
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return ReadOutcome::Reject(431);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return ReadOutcome::Closed,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head: Vec<u8> = buffer.drain(..head_end).collect();
    let Some(mut request) = parse_head(&head) else {
        return ReadOutcome::Reject(400);
    };

    // Discard a request body so it is not mistaken for the next request.
    if request.header("transfer-encoding").is_some() {
        // Not supported (feeds are fetched with GET); answer, then close.
        request.keep_alive = false;
    } else if let Some(length) = request.header("content-length") {
        let Ok(mut remaining) = length.trim().parse::<u64>() else {
            return ReadOutcome::Reject(400);
        };
        let buffered = remaining.min(buffer.len() as u64) as usize;
        buffer.drain(..buffered);
        remaining -= buffered as u64;
        while remaining > 0 {
            let want = remaining.min(chunk.len() as u64) as usize;
            match stream.read(&mut chunk[..want]).await {
                Ok(0) | Err(_) => return ReadOutcome::Closed,
                Ok(n) => remaining -= n as u64,
            }
        }
    }
    ReadOutcome::Request(request)
}

/// Index just past the empty line ending a request head, if complete.
fn find_head_end(buffer: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buffer.len() {
        if buffer[i] == b'\n' {
            match buffer.get(i + 1) {
                Some(b'\n') => return Some(i + 2),
                Some(b'\r') if buffer.get(i + 2) == Some(&b'\n') => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Parses the request line and headers; `None` if the request line is
/// malformed.
fn parse_head(head: &[u8]) -> Option<Request> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));

    let mut parts = lines.next()?.split_ascii_whitespace();
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/") {
        return None;
    }

    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: continue the previous header's value.
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }

    let recorded = RecordedRequest {
        method: method.to_owned(),
        path: origin_form(target),
        headers,
    };
    let connection_tokens: Vec<String> = recorded
        .header_all("connection")
        .iter()
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .collect();
    let keep_alive = version == "HTTP/1.1" && !connection_tokens.iter().any(|t| t == "close");
    Some(Request {
        is_head: method.eq_ignore_ascii_case("HEAD"),
        keep_alive,
        recorded,
    })
}

/// Reduces an absolute-form target (`http://host/path?q`) to `/path?q`.
fn origin_form(target: &str) -> String {
    let lower = target.to_ascii_lowercase();
    for scheme in ["http://", "https://"] {
        if lower.starts_with(scheme) {
            let rest = &target[scheme.len()..];
            return match rest.find(['/', '?']) {
                Some(i) if rest[i..].starts_with('/') => rest[i..].to_owned(),
                Some(i) => format!("/{}", &rest[i..]),
                None => "/".to_owned(),
            };
        }
    }
    target.to_owned()
}

/// The part of a request target routes match on: without query or fragment.
fn route_path(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

/// Builds a status line and headers. `content_length` is sent when given
/// (and allowed for the status).
fn response_head(
    status: u16,
    headers: &[(&str, &str)],
    content_length: Option<usize>,
    keep_alive: bool,
) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(length) = content_length.filter(|_| !status_has_no_body(status)) {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Writes a complete finite response (head plus body unless `HEAD` or a
/// body-less status).
async fn write_finite(
    stream: &mut TcpStream,
    request: &Request,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) -> Next {
    let mut response = response_head(status, headers, Some(body.len()), keep_alive);
    if !request.is_head && !status_has_no_body(status) {
        response.extend_from_slice(body);
    }
    match stream.write_all(&response).await {
        Ok(()) if keep_alive => Next::KeepAlive,
        Ok(()) => Next::Close,
        Err(_) => Next::Drop,
    }
}

async fn respond(
    stream: &mut TcpStream,
    request: &Request,
    behaviour: &Behaviour,
    keep_alive: bool,
) -> Next {
    match behaviour {
        Behaviour::Feed {
            status,
            content_type,
            body,
            etag,
            last_modified,
            extra_headers,
            gzip,
        } => {
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if let Some(etag) = etag {
                headers.push(("ETag", etag));
            }
            if let Some(last_modified) = last_modified {
                headers.push(("Last-Modified", last_modified));
            }
            if *gzip {
                headers.push(("Vary", "Accept-Encoding"));
            }
            let extra = extra_headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()));
            if (200..300).contains(status)
                && is_not_modified(request, etag.as_deref(), last_modified.as_deref())
            {
                headers.extend(extra);
                return write_finite(stream, request, 304, &headers, &[], keep_alive).await;
            }
            headers.push(("Content-Type", content_type));
            let compressed;
            let body: &[u8] = if *gzip && accepts_gzip(request) {
                headers.push(("Content-Encoding", "gzip"));
                compressed = gzip_bytes(body);
                &compressed
            } else {
                body
            };
            headers.extend(extra);
            write_finite(stream, request, *status, &headers, body, keep_alive).await
        }
        Behaviour::Drip {
            content_type,
            body,
            interval,
        } => {
            let head = response_head(200, &[("Content-Type", content_type)], None, false);
            if stream.write_all(&head).await.is_err() {
                return Next::Drop;
            }
            if request.is_head {
                return Next::Close;
            }
            for byte in body {
                tokio::time::sleep(*interval).await;
                if stream.write_all(std::slice::from_ref(byte)).await.is_err() {
                    return Next::Drop;
                }
            }
            Next::Close
        }
        Behaviour::Stall => {
            drain(stream).await;
            // The client may only have half-closed: keep the socket open
            // until the server is dropped.
            std::future::pending::<()>().await;
            Next::Drop
        }
        Behaviour::Endless { content_type } => {
            let head = response_head(200, &[("Content-Type", content_type)], None, false);
            if stream.write_all(&head).await.is_err() {
                return Next::Drop;
            }
            if request.is_head {
                return Next::Close;
            }
            if stream.write_all(ENDLESS_PREFIX).await.is_err() {
                return Next::Drop;
            }
            let filler = ENDLESS_FILLER.repeat(64 * 1024 / ENDLESS_FILLER.len());
            while stream.write_all(&filler).await.is_ok() {}
            Next::Drop
        }
        Behaviour::GzipBomb { inflated_bytes } => {
            let bomb = gzip_bomb(*inflated_bytes);
            let headers = [
                ("Content-Type", "application/rss+xml"),
                ("Content-Encoding", "gzip"),
            ];
            write_finite(stream, request, 200, &headers, &bomb, keep_alive).await
        }
        Behaviour::Redirect { status, location } => {
            let headers = [("Location", location.as_str())];
            write_finite(stream, request, *status, &headers, &[], keep_alive).await
        }
        Behaviour::RetryAfter {
            status,
            retry_after,
        } => {
            let body = format!("{status} {}: retry later\n", reason_phrase(*status));
            let headers = [
                ("Retry-After", retry_after.as_str()),
                ("Content-Type", "text/plain; charset=utf-8"),
            ];
            write_finite(
                stream,
                request,
                *status,
                &headers,
                body.as_bytes(),
                keep_alive,
            )
            .await
        }
        Behaviour::Hangup => Next::Close,
    }
}

/// RFC 9110 §13.2.2 order: `If-None-Match` decides when present, otherwise
/// `If-Modified-Since` (exact string comparison).
fn is_not_modified(request: &Request, etag: Option<&str>, last_modified: Option<&str>) -> bool {
    let method = request.recorded.method.as_str();
    if !(method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")) {
        return false;
    }
    if let Some(if_none_match) = request.header("if-none-match") {
        let Some(etag) = etag else {
            return false;
        };
        let weak = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
        return if_none_match.trim() == etag
            || if_none_match
                .split(',')
                .any(|tag| tag.trim() == "*" || weak(tag) == weak(etag));
    }
    match (request.header("if-modified-since"), last_modified) {
        (Some(since), Some(last_modified)) => since.trim() == last_modified.trim(),
        _ => false,
    }
}

/// Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*`, q > 0).
fn accepts_gzip(request: &Request) -> bool {
    let Some(accept) = request.header("accept-encoding") else {
        return false;
    };
    accept.split(',').any(|entry| {
        let mut params = entry.split(';');
        let coding = params.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = params.any(|param| {
            param
                .trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                == Some(0.0)
        });
        matches!(coding.as_str(), "gzip" | "x-gzip" | "*") && !refused
    })
}

/// Gzip-compresses `data` (default level).
pub fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

// ---------------------------------------------------------------------------
// Gzip bomb
// ---------------------------------------------------------------------------

/// The gzip bomb inflating to `inflated_bytes`, built once per size per
/// process.
pub fn gzip_bomb(inflated_bytes: u64) -> Arc<[u8]> {
    static CACHE: OnceLock<Mutex<HashMap<u64, Arc<[u8]>>>> = OnceLock::new();
    let mut cache = lock(CACHE.get_or_init(Default::default));
    Arc::clone(
        cache
            .entry(inflated_bytes)
            .or_insert_with(|| build_gzip_bomb(inflated_bytes).into()),
    )
}

/// Builds a gzip member whose content is [`BOMB_PREFIX`], spaces and
/// [`BOMB_SUFFIX`], `inflated_bytes` long in total (a truncated prefix and
/// suffix if that is shorter than both).
///
/// Compressing gigabytes is slow (especially with an unoptimised test
/// build), so the deflate stream is assembled from independently compressed
/// segments: one MiB of spaces is deflated once, ending with a sync flush so
/// it is byte-aligned and not final, and then repeated. Each segment only
/// refers back into itself, so the concatenation is a valid deflate stream.
/// The CRC-32 of the repeated segments is combined arithmetically instead of
/// being computed over the inflated data.
fn build_gzip_bomb(inflated_bytes: u64) -> Vec<u8> {
    // Magic, deflate, no flags, no mtime, no extra flags, unknown OS.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut crc = flate2::Crc::new();
    let frame = (BOMB_PREFIX.len() + BOMB_SUFFIX.len()) as u64;
    if inflated_bytes <= frame + BOMB_CHUNK as u64 {
        let document = if inflated_bytes < frame {
            let mut document = [BOMB_PREFIX, BOMB_SUFFIX].concat();
            document.truncate(inflated_bytes as usize);
            document
        } else {
            let mut document = BOMB_PREFIX.to_vec();
            document.resize(document.len() + (inflated_bytes - frame) as usize, b' ');
            document.extend_from_slice(BOMB_SUFFIX);
            document
        };
        crc.update(&document);
        out.extend(deflate_segment(&document, true));
    } else {
        let fill = inflated_bytes - frame;
        let chunks = fill / BOMB_CHUNK as u64;
        let rest = (fill % BOMB_CHUNK as u64) as usize;
        let spaces = vec![b' '; BOMB_CHUNK];
        let chunk_deflated = deflate_segment(&spaces, false);
        let mut chunk_crc = flate2::Crc::new();
        chunk_crc.update(&spaces);

        crc.update(BOMB_PREFIX);
        out.extend(deflate_segment(BOMB_PREFIX, false));
        out.reserve(chunk_deflated.len() * chunks as usize + 1024);
        for _ in 0..chunks {
            out.extend_from_slice(&chunk_deflated);
            crc.combine(&chunk_crc);
        }
        if rest > 0 {
            crc.update(&spaces[..rest]);
            out.extend(deflate_segment(&spaces[..rest], false));
        }
        crc.update(BOMB_SUFFIX);
        out.extend(deflate_segment(BOMB_SUFFIX, true));
    }
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the inflated size modulo 2^32.
    out.extend_from_slice(&(inflated_bytes as u32).to_le_bytes());
    out
}

/// Raw-deflates `data` with a fresh compressor. A non-`last` segment ends
/// with a sync flush (byte-aligned, no final block); a `last` one ends the
/// stream.
fn deflate_segment(data: &[u8], last: bool) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).expect("deflate into memory");
    if last {
        encoder.finish().expect("deflate into memory")
    } else {
        encoder.flush().expect("deflate into memory");
        // Take the output before the encoder's drop appends a final block.
        std::mem::take(encoder.get_mut())
    }
}
