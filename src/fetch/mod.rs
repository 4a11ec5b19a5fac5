//! Fetch: the polite, defensive HTTP client.
//!
//! Rules:
//! * Limits hold for every request: `concurrency` in total, `per_host` per host.
//! * Three timeouts: connecting, silence between reads, and the whole fetch
//!   (a server that drips one byte a second still ends at `timeout`).
//! * Bodies are read in chunks and capped at `max_bytes` *after* decompression,
//!   so a gzip bomb stops at the cap with bounded memory. A body that is gzip
//!   data without `Content-Encoding` (a `feed.xml.gz` served as XML) is
//!   recognised by its magic bytes and decompressed under the same cap.
//! * Redirects are followed by hand (at most [`MAX_REDIRECTS`]) so that every
//!   hop is checked by the [`guard`] and permanent moves can be reported.
//! * No proxy from the environment (`HTTP_PROXY`, ...): a proxy would connect
//!   to targets the [`guard`] never sees.
//! * Conditional GET with the stored validators; `304` is a normal outcome.
//! * Status codes that carry meaning (`410`, `429`, `503`) become their own
//!   errors so the caller can store what they ask for.

pub mod guard;
mod host;

use std::error::Error as _;
use std::io::Read;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use url::Url;

use crate::redact::{Redacted, redacted};
use crate::text::format_byte_size;
use guard::{AddressPolicy, GuardedResolver, Reach, Refused, SourceKind};
pub use host::{HostKey, HostPool};

/// The default `User-Agent`: names the program, its version and where to learn about it,
/// so that a site operator who sees us in their logs can find out who polls them.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "kurator/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/kurator-feeds/kurator)"
);

/// What the fetcher needs to know: `[fetch]` in `feeds.toml`, which the
/// config reads and builds this from. All of it needs a restart to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Upper bound for one whole fetch: connecting, redirects and reading the body.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Longest silence allowed between two reads of the response.
    pub read_timeout: Duration,
    /// Largest body accepted, counted after decompression.
    pub max_bytes: u64,
    /// Fetches running at once, over all hosts.
    pub concurrency: usize,
    /// Requests running at once against one host.
    pub per_host: usize,
    /// Least time between the starts of two requests to one host.
    pub host_delay: Duration,
    pub user_agent: String,
}

impl Settings {
    pub const DEFAULT_HOST_DELAY: Duration = Duration::from_secs(1);
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(15),
            max_bytes: 10 << 20,
            concurrency: 16,
            per_host: 2,
            host_delay: Settings::DEFAULT_HOST_DELAY,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
        }
    }
}

/// More hops than this is a misconfigured server, not a feed.
pub const MAX_REDIRECTS: usize = 10;

/// A hostile server must not park a source forever with a huge `Retry-After`.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
                      application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, \
                      application/json;q=0.8, */*;q=0.5";

/// Validators from the previous successful fetch, for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful fetch.
#[derive(Debug)]
pub struct Fetched {
    /// The URL that answered, after redirects.
    pub final_url: Url,
    /// Set when the configured URL redirected permanently (301/308 all the way).
    pub moved_permanently_to: Option<Url>,
    /// How long the server said the response stays fresh (`Cache-Control:
    /// max-age`), on a `200` or a `304`.
    pub max_age: Option<Duration>,
    pub response: Response,
}

#[derive(Debug)]
pub enum Response {
    /// `304 Not Modified`.
    NotModified,
    Body(Body),
}

#[derive(Debug)]
pub struct Body {
    /// The decompressed body, at most `max_bytes` long.
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// New validators to store for the next conditional GET.
    pub validators: Validators,
}

/// Why a fetch failed. Each variant's message names the cause and, where
/// there is one, what to do.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {} (the whole fetch may take at most `timeout`)", humantime::format_duration(*.limit))]
    Timeout { limit: Duration },
    #[error("the server sent nothing for {} (`read_timeout`)", humantime::format_duration(*.limit))]
    ReadTimeout { limit: Duration },
    #[error("could not connect to {host} within {} (`connect_timeout`)", humantime::format_duration(*.limit))]
    ConnectTimeout { host: String, limit: Duration },
    #[error("could not connect to {host}: {detail}")]
    Connect { host: String, detail: String },
    /// The address guard refused a connection (see [`guard`] for the rules).
    #[error("{refused}")]
    NonPublic {
        /// The URL of the hop that was refused.
        url: String,
        refused: Refused,
    },
    #[error("the response is larger than `max_bytes` ({}); raise `max_bytes` if this feed is really that big", format_byte_size(*.limit))]
    TooLarge { limit: u64 },
    #[error("more than {MAX_REDIRECTS} redirects, last to {last}")]
    TooManyRedirects { last: String },
    #[error("redirect loop: {}", chain_text(.chain))]
    RedirectLoop { chain: Vec<Url> },
    #[error("bad redirect from {from}: {detail}")]
    BadRedirect { from: String, detail: String },
    #[error(
        "HTTP 410 Gone: the publisher removed this feed; remove the source or change its `url`"
    )]
    Gone,
    #[error("HTTP {status} {}: the server asks us to slow down{}", reason(*.status), retry_text(.retry_at))]
    RateLimited {
        status: u16,
        retry_at: Option<SystemTime>,
    },
    #[error(
        "not fetched: {host} asked to be left alone until {} (Retry-After, sent to another of its sources); every source on it waits",
        crate::time::format_time(crate::time::system_time_secs(*.until))
    )]
    HostDeferred { host: String, until: SystemTime },
    #[error("HTTP {status} {} from {url}", reason(*.status))]
    Status { status: u16, url: String },
    #[error("the response broke off: {detail}")]
    Body { detail: String },
    #[error(
        "the body is gzip data (it starts with the gzip magic bytes) but does not decompress ({detail}); the published file is broken: tell the publisher"
    )]
    CorruptGzip { detail: String },
    #[error("request to {url} failed: {detail}")]
    Request { url: String, detail: String },
    #[error("cannot read {path}: {detail}")]
    File { path: String, detail: String },
    #[error("refused to read {url}: a page on the web may not lead to a local file")]
    FileFromWeb { url: String },
}

impl FetchError {
    /// The HTTP status this error carries, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Gone => Some(410),
            FetchError::RateLimited { status, .. } | FetchError::Status { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

fn chain_text(chain: &[Url]) -> String {
    chain.iter().map(redacted).collect::<Vec<_>>().join(" → ")
}

fn retry_text(retry_at: &Option<SystemTime>) -> String {
    match retry_at {
        Some(at) => format!(
            " and retry after {}",
            humantime::format_rfc3339_seconds(*at)
        ),
        None => String::new(),
    }
}

/// `Cache-Control: max-age=N` (`s-maxage` is for shared caches; we are the
/// client). `no-cache`/`no-store` mean no freshness to honour.
fn cache_max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',') {
            let directive = directive.trim();
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                return None;
            }
            if name.eq_ignore_ascii_case("max-age") {
                max_age = argument
                    .and_then(|seconds| seconds.parse::<u64>().ok())
                    .map(Duration::from_secs);
            }
        }
    }
    max_age
}

/// The end of the time a fetch may take; moved later by the time spent
/// waiting for a host's turn.
struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
}

impl Deadline {
    async fn within<T>(&self, work: impl Future<Output = T>) -> Result<T, FetchError> {
        tokio::time::timeout_at(self.at, work)
            .await
            .map_err(|_| FetchError::Timeout { limit: self.limit })
    }
}

/// The HTTP client with its limits.
pub struct Fetcher {
    config: Settings,
    hosts: HostPool,
    policy: Arc<AddressPolicy>,
    clients: Clients,
    dns: Arc<guard::DnsOverrides>,
}

/// One HTTP client per [`Reach`], each with a resolver that connects only to
/// the addresses its reach allows. Separate clients also keep separate
/// connection pools, so a connection opened under one rule is never reused
/// under a laxer one.
struct Clients {
    public: reqwest::Client,
    as_configured: reqwest::Client,
    intranet_redirect: reqwest::Client,
    loopback_redirect: reqwest::Client,
}

impl Clients {
    fn of(&self, reach: Reach) -> &reqwest::Client {
        match reach {
            Reach::Public => &self.public,
            Reach::AsConfigured => &self.as_configured,
            Reach::IntranetRedirect { loopback: false } => &self.intranet_redirect,
            Reach::IntranetRedirect { loopback: true } => &self.loopback_redirect,
        }
    }
}

impl Fetcher {
    pub fn new(config: &Settings) -> Result<Fetcher, FetchError> {
        Fetcher::with_policy(config, AddressPolicy::default())
    }

    /// Like [`Fetcher::new`] with a custom address policy (tests use it to play
    /// a public server on loopback).
    pub fn with_policy(config: &Settings, policy: AddressPolicy) -> Result<Fetcher, FetchError> {
        Fetcher::with_policy_and_dns(config, policy, Default::default())
    }

    /// Like [`Fetcher::with_policy`], with DNS answers for some names (tests
    /// use it to give one name a "public" and a private loopback address).
    #[doc(hidden)]
    pub fn with_policy_and_dns(
        config: &Settings,
        policy: AddressPolicy,
        dns: guard::DnsOverrides,
    ) -> Result<Fetcher, FetchError> {
        let dns = Arc::new(dns);
        // reqwest is built without a default crypto backend so that `ring` (fast to
        // build) is used instead of aws-lc; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let policy = Arc::new(policy);
        let build = |reach: Reach| {
            reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .connect_timeout(config.connect_timeout)
                .read_timeout(config.read_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(config.per_host)
                // An environment proxy (`HTTP_PROXY`, ...) would resolve and
                // connect to every target itself, out of the guard's sight.
                .no_proxy()
                .dns_resolver(Arc::new(GuardedResolver {
                    policy: policy.clone(),
                    reach,
                    dns: dns.clone(),
                }))
                .build()
                .map_err(|err| FetchError::Request {
                    url: String::new(),
                    detail: format!("cannot set up the HTTP client: {}", root_cause(&err)),
                })
        };
        Ok(Fetcher {
            config: config.clone(),
            hosts: HostPool::new(config.concurrency, config.per_host, config.host_delay),
            clients: Clients {
                public: build(Reach::Public)?,
                as_configured: build(Reach::AsConfigured)?,
                intranet_redirect: build(Reach::IntranetRedirect { loopback: false })?,
                loopback_redirect: build(Reach::IntranetRedirect { loopback: true })?,
            },
            policy,
            dns,
        })
    }

    /// `[fetch] concurrency`.
    pub fn concurrency(&self) -> usize {
        self.config.concurrency.max(1)
    }

    /// Fetches `url`. Waiting for a free slot, or for `host_delay`, does
    /// not count against `timeout`: politeness must not time a fetch out.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        self.fetch_found_on(url, validators, url).await
    }

    /// [`Fetcher::fetch`] of an address found on the page `configured` (a
    /// feed it links to): guarded as a redirect from that page would be. A
    /// public page cannot lead Kurator into the local network, nor to a
    /// local file.
    pub async fn fetch_found_on(
        &self,
        url: &Url,
        validators: &Validators,
        configured: &Url,
    ) -> Result<Fetched, FetchError> {
        if url.scheme() == "file" && configured.scheme() != "file" {
            return Err(FetchError::FileFromWeb { url: redacted(url) });
        }
        let _slot = self.hosts.fetch_slot().await;
        let mut deadline = Deadline {
            at: tokio::time::Instant::now() + self.config.timeout,
            limit: self.config.timeout,
        };
        self.fetch_within_limits(url, validators, configured, &mut deadline)
            .await
    }

    async fn fetch_within_limits(
        &self,
        url: &Url,
        validators: &Validators,
        configured: &Url,
        deadline: &mut Deadline,
    ) -> Result<Fetched, FetchError> {
        if url.scheme() == "file" {
            return deadline.within(self.read_file(url)).await?;
        }
        let kind = deadline.within(self.source_kind(configured)).await??;

        let mut current = url.clone();
        let mut visited = vec![url.clone()];
        // A move is "permanent" only if every hop so far was 301 or 308.
        let mut moved_permanently_to = None;
        let mut only_permanent_hops = true;
        loop {
            let reach = Reach::of_hop(kind, configured, &current);
            self.check_ip_literal(&current, reach)?;
            let client = self.clients.of(reach);
            let waiting_since = tokio::time::Instant::now();
            let host = HostKey::of(&current);
            let _host_slot = self.hosts.host_slot(&host).await;
            deadline.at += waiting_since.elapsed();
            if let Some(until) = self.hosts.deferred_until(&host) {
                return Err(FetchError::HostDeferred {
                    host: current.host_str().unwrap_or_default().to_owned(),
                    until,
                });
            }
            let mut request = client.get(current.clone()).header(header::ACCEPT, ACCEPT);
            if let Some(etag) = &validators.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &validators.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, last_modified);
            }
            let response = deadline
                .within(request.send())
                .await?
                .map_err(|err| self.request_error(err, &current))?;
            let status = response.status();

            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let target = redirect_target(&current, response.headers())?;
                if visited.contains(&target) {
                    visited.push(target);
                    return Err(FetchError::RedirectLoop { chain: visited });
                }
                if visited.len() > MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects {
                        last: redacted(&target),
                    });
                }
                let permanent = matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                only_permanent_hops &= permanent;
                if only_permanent_hops {
                    moved_permanently_to = Some(target.clone());
                }
                tracing::debug!(from = %Redacted(&current), to = %Redacted(&target), status = status.as_u16(), "redirect");
                visited.push(target.clone());
                current = target;
                continue;
            }

            let max_age = cache_max_age(response.headers());
            let response = match status {
                StatusCode::NOT_MODIFIED => Response::NotModified,
                StatusCode::GONE => return Err(FetchError::Gone),
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                    let retry_at = retry_after(response.headers(), SystemTime::now());
                    if let Some(until) = retry_at {
                        self.hosts.defer(&host, until);
                    }
                    return Err(FetchError::RateLimited {
                        status: status.as_u16(),
                        retry_at,
                    });
                }
                s if s.is_success() => {
                    Response::Body(deadline.within(self.read_body(response)).await??)
                }
                s => {
                    return Err(FetchError::Status {
                        status: s.as_u16(),
                        url: redacted(&current),
                    });
                }
            };
            return Ok(Fetched {
                final_url: current,
                moved_permanently_to,
                max_age,
                response,
            });
        }
    }

    /// Guard rule 1: a source is an intranet source when its configured host
    /// is a non-public IP literal or all of its DNS answers are non-public.
    async fn source_kind(&self, configured: &Url) -> Result<SourceKind, FetchError> {
        let addresses: Vec<IpAddr> = match configured.host() {
            Some(url::Host::Ipv4(ip)) => vec![ip.into()],
            Some(url::Host::Ipv6(ip)) => vec![ip.into()],
            _ => {
                let host = configured.host_str().unwrap_or_default();
                let port = configured.port_or_known_default().unwrap_or(80);
                guard::lookup(&self.dns, host, port)
                    .await
                    .map_err(|err| FetchError::Connect {
                        host: host.to_owned(),
                        detail: format!("cannot resolve the host name: {err}"),
                    })?
                    .into_iter()
                    .map(|answer| answer.ip())
                    .collect()
            }
        };
        Ok(self.policy.source_kind(&addresses))
    }

    /// IP literals never reach the resolver, so the guard judges them here.
    fn check_ip_literal(&self, url: &Url, reach: Reach) -> Result<(), FetchError> {
        let ip: IpAddr = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.into(),
            Some(url::Host::Ipv6(ip)) => ip.into(),
            _ => return Ok(()),
        };
        match self.policy.refusal(reach, ip) {
            None => Ok(()),
            Some(refusal) => Err(FetchError::NonPublic {
                url: redacted(url),
                refused: Refused {
                    host: url.host_str().unwrap_or_default().to_owned(),
                    addr: ip,
                    refusal,
                },
            }),
        }
    }

    async fn read_body(&self, mut response: reqwest::Response) -> Result<Body, FetchError> {
        let limit = self.config.max_bytes;
        let headers = response.headers();
        let content_type = header_text(headers, header::CONTENT_TYPE);
        let validators = Validators {
            etag: header_text(headers, header::ETAG),
            last_modified: header_text(headers, header::LAST_MODIFIED),
        };
        // With transparent decompression the length is unknown; when it is known
        // and already too large, refuse before reading a byte.
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        let capacity = response.content_length().unwrap_or(64 * 1024).min(limit);
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        let mut bytes = Vec::with_capacity(capacity);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(FetchError::TooLarge { limit });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) if err.is_timeout() => {
                    return Err(FetchError::ReadTimeout {
                        limit: self.config.read_timeout,
                    });
                }
                Err(err) => {
                    let detail = if err.is_decode() {
                        format!("the compressed body is corrupt ({})", root_cause(&err))
                    } else {
                        root_cause(&err)
                    };
                    return Err(FetchError::Body { detail });
                }
            }
        }
        Ok(Body {
            bytes: gunzip_unlabelled(bytes, limit).await?,
            content_type,
            validators,
        })
    }

    async fn read_file(&self, url: &Url) -> Result<Fetched, FetchError> {
        let limit = self.config.max_bytes;
        let path = url.to_file_path().map_err(|()| FetchError::File {
            path: url.to_string(),
            detail: "not a local file path".into(),
        })?;
        let shown = path.display().to_string();
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut bytes = Vec::new();
            std::fs::File::open(&path)?
                .take(limit + 1)
                .read_to_end(&mut bytes)?;
            Ok(bytes)
        })
        .await
        .map_err(|err| FetchError::File {
            path: shown.clone(),
            detail: err.to_string(),
        })?;
        let bytes = read.map_err(|err| FetchError::File {
            path: shown,
            detail: err.to_string(),
        })?;
        if bytes.len() as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        let bytes = gunzip_unlabelled(bytes, limit).await?;
        Ok(Fetched {
            final_url: url.clone(),
            moved_permanently_to: None,
            max_age: None,
            response: Response::Body(Body {
                bytes,
                content_type: None,
                validators: Validators::default(),
            }),
        })
    }

    fn request_error(&self, err: reqwest::Error, url: &Url) -> FetchError {
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut source = err.source();
        while let Some(inner) = source {
            if let Some(refused) = inner.downcast_ref::<Refused>() {
                return FetchError::NonPublic {
                    url: redacted(url),
                    refused: refused.clone(),
                };
            }
            source = inner.source();
        }
        if err.is_connect() && err.is_timeout() {
            FetchError::ConnectTimeout {
                host,
                limit: self.config.connect_timeout,
            }
        } else if err.is_timeout() {
            FetchError::ReadTimeout {
                limit: self.config.read_timeout,
            }
        } else if err.is_connect() {
            FetchError::Connect {
                host,
                detail: root_cause(&err),
            }
        } else {
            FetchError::Request {
                url: redacted(url),
                detail: root_cause(&err),
            }
        }
    }
}

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decompresses a body that is gzip data although no `Content-Encoding`
/// said so (a `feed.xml.gz` published as `application/xml`), under the same
/// `limit` as every body, so a gzip bomb stops at the cap. Any other body is
/// returned as it is. Inflating is CPU work, so it runs off the async threads.
async fn gunzip_unlabelled(bytes: Vec<u8>, limit: u64) -> Result<Vec<u8>, FetchError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let inflated = tokio::task::spawn_blocking(move || {
        let mut inflated = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .take(limit + 1)
            .read_to_end(&mut inflated)
            .map(|_| inflated)
    })
    .await
    .map_err(|err| FetchError::CorruptGzip {
        detail: err.to_string(),
    })?
    .map_err(|err| FetchError::CorruptGzip {
        detail: err.to_string(),
    })?;
    if inflated.len() as u64 > limit {
        return Err(FetchError::TooLarge { limit });
    }
    Ok(inflated)
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn redirect_target(from: &Url, headers: &HeaderMap) -> Result<Url, FetchError> {
    let bad = |detail: String| FetchError::BadRedirect {
        from: redacted(from),
        detail,
    };
    let location = headers
        .get(header::LOCATION)
        .ok_or_else(|| bad("the response has no Location header".into()))?
        .to_str()
        .map_err(|_| bad("the Location header is not valid text".into()))?;
    let mut target = from
        .join(location.trim())
        .map_err(|err| bad(format!("`{location}` is not a valid URL ({err})")))?;
    if !matches!(target.scheme(), "http" | "https") {
        return Err(bad(format!("`{location}` is not an http or https URL")));
    }
    target.set_fragment(None);
    Ok(target)
}

/// Reads `Retry-After` (seconds or an HTTP date), capped at `MAX_RETRY_AFTER`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<SystemTime> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let at = match value.parse::<u64>() {
        Ok(seconds) => now + Duration::from_secs(seconds).min(MAX_RETRY_AFTER),
        Err(_) => httpdate::parse_http_date(value).ok()?,
    };
    Some(at.clamp(now, now + MAX_RETRY_AFTER))
}

/// The innermost error message, which is the one that says what happened
/// ("Connection refused") rather than where ("error sending request").
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn cache_control_max_age() {
        let max_age = |values: &[&'static str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::CACHE_CONTROL, HeaderValue::from_static(value));
            }
            cache_max_age(&headers)
        };
        assert_eq!(max_age(&[]), None);
        assert_eq!(
            max_age(&["public, max-age=600"]),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age(&["Max-Age=\"60\""]), Some(Duration::from_secs(60)));
        assert_eq!(
            max_age(&["public", "max-age=30"]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(max_age(&["max-age=600, no-cache"]), None);
        assert_eq!(max_age(&["no-store", "max-age=600"]), None);
        assert_eq!(max_age(&["max-age=soon"]), None);
        assert_eq!(
            max_age(&["s-maxage=600"]),
            None,
            "for shared caches, not us"
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(
            retry_after(&headers, now),
            Some(now + Duration::from_secs(120))
        );

        let later = now + Duration::from_secs(3600);
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        assert_eq!(retry_after(&headers, now), Some(later));

        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("99999999999"));
        assert_eq!(retry_after(&headers, now), Some(now + MAX_RETRY_AFTER));

        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&headers, now),
            Some(now),
            "a date in the past means now"
        );

        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn redirect_targets() {
        let from = Url::parse("https://example.org/a/feed").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LOCATION,
            HeaderValue::from_static("../b/feed.xml#top"),
        );
        assert_eq!(
            redirect_target(&from, &headers).unwrap().as_str(),
            "https://example.org/b/feed.xml"
        );
        headers.insert(
            header::LOCATION,
            HeaderValue::from_static("javascript:alert(1)"),
        );
        assert!(
            redirect_target(&from, &headers)
                .unwrap_err()
                .to_string()
                .contains("not an http")
        );
        assert!(
            redirect_target(&from, &HeaderMap::new())
                .unwrap_err()
                .to_string()
                .contains("no Location")
        );
    }
}
