//! The routes: feeds, search, OPML, the front page and the health check.
//!
//! Each handler names the response it wants ([`Key`]) and how to render it;
//! [`cached`] serves it from memory when its version is current and renders
//! it (on a blocking thread, a few at a time) when not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, LAST_MODIFIED, RETRY_AFTER, VARY,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{error, warn};

use super::cache::{Coding, Key, Rendered};
use super::pages::{self, FeedSummary};
use super::site::Shown;
use super::{AppState, WATCH_INTERVAL, negotiate};
use crate::feeds::{self, Catalog, RenderedFeed, SearchBudget, SearchError};
use crate::render::Format;
use crate::rules::Rule;
use crate::store::{ALL_FEED, Store, StoreError};
use crate::time::duration_millis;

/// Longest request target (path and query) served; longer gets 414.
pub const MAX_URI_BYTES: usize = 4096;
/// Longest `q` rule, in characters.
pub const MAX_RULE_CHARS: usize = 500;
/// `?limit=` bounds and default.
pub const MAX_LIMIT: usize = 500;
pub const DEFAULT_LIMIT: usize = 50;
/// Searches that may wait while one runs; more are told to retry at once.
const SEARCHES_WAITING: usize = 8;
/// How long a search waits for its turn before the client is told to retry.
const GATE_WAIT: Duration = Duration::from_secs(10);
/// Items per feed on the front page.
const FRONT_PAGE_ITEMS: usize = 5;

static CACHE_STATUS: HeaderName = HeaderName::from_static("x-kurator-cache");
static NOSNIFF: HeaderName = HeaderName::from_static("x-content-type-options");
static CSP: HeaderName = HeaderName::from_static("content-security-policy");
/// Feeds opened in a browser run no script and load nothing.
const CSP_VALUE: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src *";

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/opml", get(opml))
        .route("/healthz", get(healthz))
        .route("/sources", get(sources_html))
        .route("/sources.json", get(sources_json))
        .route("/metrics", get(metrics))
        .route("/feeds/{file}", get(feed))
        .route("/search.rss", get(search_rss))
        .route("/search.atom", get(search_atom))
        .route("/search.json", get(search_json))
        .fallback(not_found)
        .with_state(state)
}

/// A plain-text answer that no cache keeps.
fn plain(status: StatusCode, text: String) -> Response {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(CACHE_CONTROL, "no-store")
        .header(&NOSNIFF, "nosniff")
        .body(Body::from(text))
        .expect("valid static headers")
}

/// The answer to a request target longer than [`MAX_URI_BYTES`].
pub fn uri_too_long(length: usize) -> Response {
    plain(
        StatusCode::URI_TOO_LONG,
        format!("the request target is {length} bytes long; at most {MAX_URI_BYTES} are served\n"),
    )
}

fn valid_feeds(site: &Shown) -> String {
    feeds::feed_slugs(site).join(", ")
}

async fn not_found(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    plain(
        StatusCode::NOT_FOUND,
        format!(
            "nothing at {}\nfeeds are at /feeds/SLUG.rss, .atom or .json; slugs: {}\n\
             also: /search.atom?q=RULE, /opml, / (the front page)\n",
            uri.path(),
            valid_feeds(&state.site())
        ),
    )
}

/// `limit` and `q` from the query string.
struct FeedQuery {
    limit: usize,
    rule: Option<String>,
}

/// The query string's `limit` and `q`, or a 400 message.
fn feed_query(uri: &Uri) -> Result<FeedQuery, String> {
    let mut query = FeedQuery {
        limit: DEFAULT_LIMIT,
        rule: None,
    };
    for (name, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "limit" => {
                query.limit = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{value}`\n"
                        )
                    })?;
            }
            "q" => query.rule = Some(value.into_owned()),
            _ => {}
        }
    }
    Ok(query)
}

// Handlers take the whole request rather than the `Uri` and `HeaderMap`
// extractors, which clone them: this is the hot path.
async fn feed(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let uri = request.uri();
    let headers = request.headers();
    let file = uri.path().strip_prefix("/feeds/").unwrap_or_default();
    let (slug, format) = match file.rsplit_once('.') {
        Some((slug, extension)) => (slug, Format::from_extension(extension)),
        None => (file, None),
    };
    let Some(format) = format else {
        return plain(
            StatusCode::NOT_FOUND,
            format!(
                "no feed `{file}`: feeds end in .rss, .atom or .json, e.g. /feeds/{slug}.atom\n"
            ),
        );
    };
    let site = state.site();
    if !feeds::is_feed(&*site, slug) {
        return plain(
            StatusCode::NOT_FOUND,
            format!("no topic `{slug}`; valid: {}\n", valid_feeds(&site)),
        );
    }
    let query = match feed_query(uri) {
        Ok(query) => query,
        Err(message) => return plain(StatusCode::BAD_REQUEST, message),
    };
    let key = Key::Feed {
        slug: slug.to_owned(),
        format,
        limit: query.limit,
    };
    let slug = slug.to_owned();
    let response = cached(
        &state,
        key,
        headers,
        None,
        format.content_type(),
        move |store, site| {
            let RenderedFeed { bytes, newest } =
                feeds::topic_feed(store, site, &slug, format, query.limit)?;
            Ok((bytes, newest))
        },
    )
    .await;
    count_feed_request(&state, response)
}

fn count_feed_request(state: &AppState, response: Response) -> Response {
    state
        .metrics
        .feed_request(response.status() == StatusCode::NOT_MODIFIED);
    response
}

async fn search_rss(state: State<Arc<AppState>>, request: Request) -> Response {
    search(state, request, Format::Rss).await
}

async fn search_atom(state: State<Arc<AppState>>, request: Request) -> Response {
    search(state, request, Format::Atom).await
}

async fn search_json(state: State<Arc<AppState>>, request: Request) -> Response {
    search(state, request, Format::Json).await
}

async fn search(State(state): State<Arc<AppState>>, request: Request, format: Format) -> Response {
    let headers = request.headers();
    let query = match feed_query(request.uri()) {
        Ok(query) => query,
        Err(message) => return plain(StatusCode::BAD_REQUEST, message),
    };
    let Some(text) = query.rule.filter(|q| !q.trim().is_empty()) else {
        return plain(
            StatusCode::BAD_REQUEST,
            format!(
                "add the rule to search for as ?q=, e.g. /search.{}?q=%22smart+city%22+OR+digitalstadt*\n",
                format.extension()
            ),
        );
    };
    let length = text.chars().count();
    if length > MAX_RULE_CHARS {
        return plain(
            StatusCode::BAD_REQUEST,
            format!("`q` is {length} characters long; at most {MAX_RULE_CHARS} are allowed\n"),
        );
    }
    let key = Key::Search {
        rule: text.clone(),
        format,
        limit: query.limit,
    };
    let limits = state.site().search_limits();
    // Set when this request ends, also when it is dropped because the
    // client hung up: the scan on the blocking thread stops at the next item.
    let client_gone = SetOnDrop(Arc::new(AtomicBool::new(false)));
    let stops = vec![client_gone.0.clone(), state.stopping.clone()];
    let response = cached(
        &state,
        key,
        headers,
        Some(&state.searches),
        format.content_type(),
        move |store, site| {
            // Parsed here, in its turn, not on arrival: compiling a rule's
            // regexes takes milliseconds and megabytes, which a flood of
            // waiting requests must not multiply (nor spend on the event loop).
            let rule = Rule::parse(&text)
                .map_err(|err| Failure::BadRule(format!("{}\n", err.report(&text))))?;
            let budget = SearchBudget::new(limits.timeout, stops);
            let RenderedFeed { bytes, newest } = feeds::search_feed(
                store,
                site,
                &rule,
                format,
                query.limit,
                limits.depth,
                &budget,
            )?;
            Ok((bytes, newest))
        },
    )
    .await;
    count_feed_request(&state, response)
}

/// Searches: one runs, a few wait their turn (for at most [`GATE_WAIT`]),
/// and the rest are told at once to retry, so waiting searches cannot fill
/// the connection slots that `/healthz` and feed readers need.
pub(super) struct SearchGate {
    places: Arc<Semaphore>,
    turn: Arc<Semaphore>,
}

impl SearchGate {
    pub(super) fn new() -> SearchGate {
        SearchGate {
            places: Arc::new(Semaphore::new(1 + SEARCHES_WAITING)),
            turn: Arc::new(Semaphore::new(1)),
        }
    }

    /// A place and the turn, or `None` when too many wait or the wait is too long.
    async fn enter(&self) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let place = self.places.clone().try_acquire_owned().ok()?;
        let turn = tokio::time::timeout(GATE_WAIT, self.turn.clone().acquire_owned())
            .await
            .ok()?
            .expect("never closed");
        Some((place, turn))
    }
}

/// Why [`cached`] rendered nothing.
enum Failure {
    /// The `?q=` rule does not parse: the report with its caret.
    BadRule(String),
    Search(SearchError),
}

impl From<SearchError> for Failure {
    fn from(err: SearchError) -> Failure {
        Failure::Search(err)
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Failure {
        Failure::Search(err.into())
    }
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

async fn index(State(state): State<Arc<AppState>>, request: Request) -> Response {
    cached(
        &state,
        Key::Index,
        request.headers(),
        None,
        "text/html; charset=utf-8",
        |store, site| {
            let mut summaries = Vec::new();
            let topics = site.topics().topics().iter().map(|t| {
                (
                    Some(t.slug.as_str()),
                    t.slug.clone(),
                    t.title.clone(),
                    t.description.clone(),
                )
            });
            let all = std::iter::once((
                None,
                ALL_FEED.to_owned(),
                "Alle Meldungen".to_owned(),
                Some("Alle Meldungen aller Quellen, die neuesten zuerst".to_owned()),
            ));
            for (topic, slug, title, description) in topics.chain(all) {
                summaries.push(FeedSummary {
                    latest: store.feed_items(topic, FRONT_PAGE_ITEMS)?,
                    slug,
                    title,
                    description,
                });
            }
            let newest = summaries
                .iter()
                .flat_map(|s| &s.latest)
                .map(|item| item.updated.max(item.published))
                .max();
            // Every source's state: the page is rendered again whenever
            // the database changes (`Versions::of`), fetch states included.
            let sources = crate::status::sources_uncounted(
                site.sources(),
                |s| site.timing(s),
                store,
                crate::time::unix_now(),
            )?;
            Ok((pages::index_html(site, &summaries, &sources), newest))
        },
    )
    .await
}

async fn opml(State(state): State<Arc<AppState>>, request: Request) -> Response {
    respond(&state, &state.opml(), request.headers(), "hit")
}

async fn sources_html(State(state): State<Arc<AppState>>) -> Response {
    sources(state, "text/html; charset=utf-8", crate::status::html).await
}

async fn sources_json(State(state): State<Arc<AppState>>) -> Response {
    sources(state, "application/json", crate::status::json).await
}

/// What a status page read from the database, and when: `/sources`,
/// `/sources.json` and `/metrics` share one read a second however many
/// clients ask, so a flood of them costs no more database work than one.
pub(super) struct Snapshot<T> {
    taken: Instant,
    /// Seconds since the epoch when it was read: "3 min ago" counts from it.
    unix: i64,
    value: Arc<T>,
}

/// Where a [`Snapshot`] is kept; requests wait here (as futures, not
/// threads) while one of them reads.
pub(super) type SnapshotSlot<T> = tokio::sync::Mutex<Option<Snapshot<T>>>;

/// The snapshot in `slot`, read anew by `read` (on the blocking pool, under
/// the render limit) when it is older than [`WATCH_INTERVAL`].
async fn snapshot<T: Send + Sync + 'static>(
    state: &Arc<AppState>,
    slot: &SnapshotSlot<T>,
    what: &'static str,
    read: fn(&AppState, i64) -> Result<T, StoreError>,
) -> Result<(Arc<T>, i64), Response> {
    let mut held = slot.lock().await;
    if let Some(fresh) = held
        .as_ref()
        .filter(|taken| taken.taken.elapsed() < WATCH_INTERVAL)
    {
        return Ok((fresh.value.clone(), fresh.unix));
    }
    let permit = state
        .renders
        .clone()
        .acquire_owned()
        .await
        .expect("never closed");
    let worker = state.clone();
    let now = crate::time::unix_now();
    let read = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        read(&worker, now)
    })
    .await;
    match read {
        Ok(Ok(value)) => {
            let value = Arc::new(value);
            *held = Some(Snapshot {
                taken: Instant::now(),
                unix: now,
                value: value.clone(),
            });
            Ok((value, now))
        }
        Ok(Err(err)) => {
            warn!(error = %err, "{what} failed");
            Err(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot read the database: {err}\n"),
            ))
        }
        Err(err) => {
            error!(error = %err, "{what} failed");
            Err(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{what} failed; see the server log\n"),
            ))
        }
    }
}

/// The source status, at most a second old: what an operator checks after
/// changing something, so never cached by clients.
async fn sources(
    state: Arc<AppState>,
    content_type: &'static str,
    format: fn(&[crate::status::SourceStatus], i64) -> Vec<u8>,
) -> Response {
    let read = |state: &AppState, now| {
        let site = state.site();
        let mut rows = state
            .stores
            .with(|store| crate::status::sources(site.sources(), |s| site.timing(s), store, now))?;
        if let Some(unrecorded) = state.unrecorded.get() {
            unrecorded.apply(&mut rows);
        }
        Ok(rows)
    };
    match snapshot(
        &state,
        &state.sources_snapshot,
        "reading the source status",
        read,
    )
    .await
    {
        Ok((rows, now)) => uncached(content_type, format(&rows, now)),
        Err(response) => response,
    }
}

/// Prometheus metrics: the counters, plus per-source facts and the database
/// size, at most a second old.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let read = |state: &AppState, _| {
        let states = state.stores.with(|store| store.source_states())?;
        let mut sources: Vec<_> = states
            .into_iter()
            .map(|(id, state)| (id, state.last_success, state.consecutive_errors))
            .collect();
        sources.sort();
        let path = &state.stores.path;
        let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        Ok(crate::metrics::StoredFacts {
            sources,
            database_bytes: size(path) + size(std::path::Path::new(&wal)),
        })
    };
    match snapshot(&state, &state.facts_snapshot, "collecting metrics", read).await {
        Ok((facts, _)) => uncached(
            "text/plain; version=0.0.4; charset=utf-8",
            state.metrics.render(&facts).into_bytes(),
        ),
        Err(response) => response,
    }
}

/// A response no cache keeps.
fn uncached(content_type: &'static str, body: Vec<u8>) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, content_type)
        .header(CACHE_CONTROL, "no-store")
        .header(&NOSNIFF, "nosniff")
        .header(&CSP, CSP_VALUE)
        .body(Body::from(body))
        .expect("valid static headers")
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if let Some(error) = state
        .health
        .error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {error}\n"),
        );
    }
    let last_ok = state
        .health
        .last_ok_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    let silent_ms = duration_millis(state.started.elapsed()) - last_ok;
    if silent_ms > 10 * duration_millis(WATCH_INTERVAL) {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database has not answered for {} s\n", silent_ms / 1000),
        );
    }
    if let Some(Err(reason)) = state.liveness.get().map(|check| check()) {
        return plain(StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n"));
    }
    plain(StatusCode::OK, "ok\n".to_owned())
}

/// Serves `key` from the cache if current, else renders it with `render`
/// (which returns the body and the newest item time), caches and serves it.
/// `gate` limits how many such renders run and wait (searches scan items).
async fn cached(
    state: &Arc<AppState>,
    key: Key,
    headers: &HeaderMap,
    gate: Option<&SearchGate>,
    content_type: &'static str,
    render: impl FnOnce(&Store, &Shown) -> Result<(Vec<u8>, Option<i64>), Failure> + Send + 'static,
) -> Response {
    let version = state.versions().of(&key);
    if let Some(hit) = state.cache.get(&key, version.version) {
        return respond(state, &hit, headers, "hit");
    }
    let gate = match gate {
        Some(gate) => match gate.enter().await {
            Some(permits) => Some(permits),
            None => {
                state.metrics.search_refused();
                let mut response = plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many searches at once; try again in a few seconds\n".to_owned(),
                );
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("10"));
                return response;
            }
        },
        None => None,
    };
    let render_permit = state
        .renders
        .clone()
        .acquire_owned()
        .await
        .expect("never closed");
    // Another request may have rendered it while this one waited.
    if let Some(hit) = state.cache.get(&key, version.version) {
        return respond(state, &hit, headers, "hit");
    }
    let worker = state.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        // The permits go with the work: a render whose client left still
        // counts until it really ends, so dropped requests cannot pile up
        // renders on the blocking pool.
        let _permits = (gate, render_permit);
        let site = worker.site();
        let (bytes, newest) = worker.stores.with(|store| render(store, &site))?;
        // Last-Modified never goes back: a feed that loses its newest item
        // still changed when its version did.
        let mut last_modified = newest.unwrap_or(0).max(version.changed_at);
        if last_modified == 0 {
            last_modified = worker.started_unix;
        }
        Ok::<_, Failure>(Rendered::new(
            content_type,
            bytes,
            last_modified,
            version.version,
        ))
    })
    .await;
    match rendered {
        Ok(Ok(rendered)) => {
            let rendered = Arc::new(rendered);
            state.cache.insert(key, rendered.clone());
            respond(state, &rendered, headers, "miss")
        }
        Ok(Err(Failure::BadRule(report))) => plain(StatusCode::BAD_REQUEST, report),
        Ok(Err(Failure::Search(err @ SearchError::OutOfTime { .. }))) => {
            state.metrics.search_timed_out();
            plain(StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n"))
        }
        Ok(Err(Failure::Search(err @ SearchError::Cancelled))) => {
            plain(StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n"))
        }
        Ok(Err(Failure::Search(err))) => {
            error!(error = %err, "cannot render a feed");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the database: {err}\n"),
            )
        }
        Err(err) => {
            error!(error = %err, "rendering a feed failed");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "rendering failed; see the server log\n".to_owned(),
            )
        }
    }
}

/// The response for `rendered`: 304 if the client's copy is current, else
/// the body in the best coding the client accepts.
fn respond(
    state: &AppState,
    rendered: &Rendered,
    headers: &HeaderMap,
    cache_status: &'static str,
) -> Response {
    let wanted = negotiate::coding(headers);
    let (coding, body) = match rendered.body(wanted) {
        Some(body) => (wanted, body),
        None => (
            Coding::Identity,
            rendered.body(Coding::Identity).expect("always stored"),
        ),
    };
    let not_modified = negotiate::not_modified(headers, rendered);
    let mut response = if not_modified {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        Response::new(Body::from(body.clone()))
    };
    let out = response.headers_mut();
    out.reserve(10);
    out.insert(ETAG, rendered.etag(coding).clone());
    out.insert(LAST_MODIFIED, rendered.last_modified_header.clone());
    out.insert(CACHE_CONTROL, state.cache_control.clone());
    out.insert(VARY, HeaderValue::from_static("accept-encoding"));
    out.insert(&CACHE_STATUS, HeaderValue::from_static(cache_status));
    if not_modified {
        return response;
    }
    if let Some(encoding) = coding.header() {
        out.insert(CONTENT_ENCODING, encoding);
    }
    out.insert(CONTENT_TYPE, rendered.content_type.clone());
    out.insert(&NOSNIFF, HeaderValue::from_static("nosniff"));
    out.insert(&CSP, HeaderValue::from_static(CSP_VALUE));
    response
}
