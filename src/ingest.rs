//! Ingest: drives one source through the pipeline
//! (fetch → decode → parse → normalize → identify → tag → store) and reports what happened.
//!
//! The part between the fetch and the store is one pure function,
//! [`process_source`]: a fetched body in, the items that would be stored out
//! (identified and tagged), with what `kurator preview` shows besides. The
//! preview calls it too, and follows a page to its feed by the same rule
//! ([`linked_feed`]), so what it shows is what a fetch stores.
//!
//! An item is read as feed-rs's entry or scrape's `ScrapedItem` (what the
//! parser found, with what preview shows of it), becomes a
//! [`normalize::Item`], and from identify on is one record,
//! [`crate::dedup::Identified`]: the item, moved in, enriched in place with
//! its identity, its topics and its dedup keys, until the store writes it.
//!
//! Rules:
//! * A source that failed never affects another: every error ends up in that
//!   source's [`Report`] and its stored state, nothing propagates.
//! * `Retry-After` and `410 Gone` are honoured across runs unless forced.
//! * A `304`, or a body identical to the last one, writes no items.
//! * CPU work (decoding, parsing, sanitizing) runs on the blocking pool so the
//!   fetches of other sources keep flowing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tracing::Instrument;
use url::Url;

use crate::dedup::{Identified, SeenItems};
use crate::fetch::{FetchError, Fetcher, Response, Validators};
use crate::identify::identify;
use crate::parse::ParseError;
use crate::redact::Redacted;
use crate::rules::TopicSet;
use crate::schedule::SourceTimes;
use crate::source::{Source, SourceKind};
use crate::store::{Counts, FetchRecord, PendingFetch, StoreError, StoreWriter};
use crate::tag::Tagger;
use crate::time::{duration_secs, format_time, secs_duration, unix_now};
use crate::{decode, normalize, parse};

/// What happened to one source.
#[derive(Debug)]
pub struct Report {
    pub source_id: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// Advice for the operator, e.g. a permanent redirect to put in the config.
    pub hints: Vec<String>,
}

#[derive(Debug)]
pub enum Outcome {
    Stored(Counts),
    /// The server answered `304 Not Modified`.
    NotModified,
    /// The body was byte-for-byte the one stored last time.
    Unchanged,
    /// Not fetched: the server asked to wait until this time (seconds since the epoch).
    Deferred {
        until: i64,
    },
    Failed(IngestError),
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the server said 410 Gone on {}; polling stopped: remove the source, change its `url`, or use --force to try again",
        format_time(*.since)
    )]
    Gone { since: i64 },
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    /// How a body that is no feed starts: see [`ParseError::body_start`].
    pub fn body_start(&self) -> Option<&str> {
        match self {
            IngestError::Parse(err) => err.body_start(),
            _ => None,
        }
    }
}

/// What a successful fetch brought.
enum Received {
    NotModified,
    SameBody,
    NewBody,
}

/// Fetches and stores sources; shared by all concurrent fetches of a run.
pub struct Ingester {
    fetcher: Fetcher,
    store: StoreWriter,
    /// Replaced when a reload changes the topics.
    topics: std::sync::RwLock<Arc<TopicSet>>,
    /// `[storage] keep_days`: new items older than this are not stored.
    keep: Option<Duration>,
    /// Sources being polled, fetch to commit: `concurrency`. Holding it
    /// until the commit bounds the bodies in memory (fetched but not yet
    /// stored), however many sources fall due at once.
    in_flight: tokio::sync::Semaphore,
    /// Bodies being decoded, parsed and tagged at once: one per core.
    /// More only interleave CPU work and each hold a parse's memory.
    processing: tokio::sync::Semaphore,
    /// Whether new items are grouped (`[dedup] mode` is not `off`), so
    /// their dedup keys are worth computing while processing.
    grouping: std::sync::atomic::AtomicBool,
    /// Items whose keys are not computed again (see [`SeenItems`]).
    seen: Arc<SeenItems>,
    /// Feeds found on the pages of `kind = "auto"` sources, by source id:
    /// (the page's URL, the feed's). Polled directly from then on; forgotten
    /// when fetching the feed fails, so the page is read again.
    discovered: std::sync::Mutex<std::collections::HashMap<String, (Url, Url)>>,
}

impl Ingester {
    pub fn new(fetcher: Fetcher, store: StoreWriter, topics: Arc<TopicSet>) -> Ingester {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ingester {
            in_flight: tokio::sync::Semaphore::new(fetcher.concurrency()),
            processing: tokio::sync::Semaphore::new(cores),
            fetcher,
            store,
            topics: std::sync::RwLock::new(topics),
            keep: None,
            grouping: std::sync::atomic::AtomicBool::new(true),
            seen: Arc::default(),
            discovered: Default::default(),
        }
    }

    /// How new items group (`[dedup] mode`): with `off`, no dedup keys are
    /// computed.
    pub fn grouping(self, mode: crate::dedup::Mode) -> Ingester {
        self.set_grouping(mode);
        self
    }

    /// [`Ingester::grouping`] after a reload.
    pub fn set_grouping(&self, mode: crate::dedup::Mode) {
        self.grouping.store(
            mode != crate::dedup::Mode::Off,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Items published longer ago than `keep` are not stored as new (pruning
    /// would delete them at once).
    pub fn keeping(mut self, keep: Option<Duration>) -> Ingester {
        self.keep = keep;
        self
    }

    /// Items fetched from now on are tagged with `topics`.
    pub fn set_topics(&self, topics: Arc<TopicSet>) {
        *self.topics.write().unwrap_or_else(|e| e.into_inner()) = topics;
    }

    /// The feed found on `source`'s page, if it is still the configured page.
    fn discovered_feed(&self, source: &Source) -> Option<Url> {
        let discovered = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
        discovered
            .get(&source.id)
            .filter(|(page, _)| *page == source.url && source.kind == SourceKind::Auto)
            .map(|(_, feed)| feed.clone())
    }

    fn remember_discovery(&self, source: &Source, feed: Url) {
        let mut discovered = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
        discovered.insert(source.id.clone(), (source.url.clone(), feed));
    }

    fn forget_discovery(&self, source: &Source) {
        let mut discovered = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
        discovered.remove(&source.id);
    }

    /// What the scheduler needs to know of a source, as stored.
    pub async fn source_times(&self, source_id: &str) -> Result<SourceTimes, StoreError> {
        let state = self.store.source_state(source_id).await?;
        Ok(state.map(|s| s.times()).unwrap_or_default())
    }

    /// Polls one source. `force` ignores `Retry-After`, `410 Gone` and the
    /// stored validators, and re-reads the body even if it did not change.
    pub async fn ingest(&self, source: &Source, force: bool) -> Report {
        // At error level so the source id shows on every log line whatever the filter.
        let span = tracing::error_span!("source", source = %source.id);
        let _in_flight = self.in_flight.acquire().await.expect("never closed");
        let started = Instant::now();
        let mut hints = Vec::new();
        let outcome = self
            .ingest_inner(source, force, &mut hints)
            .instrument(span)
            .await;
        Report {
            source_id: source.id.clone(),
            outcome,
            elapsed: started.elapsed(),
            hints,
        }
    }

    async fn ingest_inner(&self, source: &Source, force: bool, hints: &mut Vec<String>) -> Outcome {
        let state = match self.store.source_state(&source.id).await {
            Ok(state) => state.unwrap_or_default(),
            Err(err) => return Outcome::Failed(IngestError::Store(err)),
        };
        let now = unix_now();
        if !force {
            if let Some(since) = state.gone_since {
                return Outcome::Failed(IngestError::Gone { since });
            }
            if let Some(until) = state.retry_after.filter(|&until| until > now) {
                return Outcome::Deferred { until };
            }
        }
        let validators = if force {
            Validators::default()
        } else {
            state.validators.clone()
        };

        // A page's feed, once found, is polled directly.
        let following = self.discovered_feed(source);
        let target = following.as_ref().unwrap_or(&source.url);
        let fetched = match self
            .fetcher
            .fetch_found_on(target, &validators, &source.url)
            .await
        {
            Ok(fetched) => fetched,
            Err(err) => {
                // The caller reports the outcome; this is for tracing the steps.
                tracing::debug!(error = %err, "fetch failed");
                if following.is_some() {
                    self.forget_discovery(source);
                }
                return self.record_failure(source, IngestError::Fetch(err)).await;
            }
        };
        let effective_url = fetched.final_url.to_string();
        let moved_to = fetched.moved_permanently_to.as_ref().map(Url::to_string);
        if let Some(target) = &fetched.moved_permanently_to {
            hints.push(format!(
                "the feed moved permanently to {}; update `url` in the config",
                Redacted(target)
            ));
        }

        // What was received decides what is stored; the record is written once.
        // A feed's `<ttl>` is known again only when its body is parsed.
        let mut feed_ttl = state.feed_ttl;
        let (status, validators, body_sha256, items, received) = match fetched.response {
            Response::NotModified => (304, None, None, Vec::new(), Received::NotModified),
            Response::Body(body) => {
                let body_sha256: [u8; 32] = Sha256::digest(&body.bytes).into();
                if !force && state.body_sha256.as_deref() == Some(body_sha256.as_slice()) {
                    (
                        200,
                        Some(body.validators),
                        Some(body_sha256),
                        Vec::new(),
                        Received::SameBody,
                    )
                } else {
                    match self
                        .process_on_blocking_pool(
                            source,
                            body.bytes,
                            body.content_type,
                            &fetched.final_url,
                        )
                        .await
                    {
                        Ok(processed) => {
                            if processed.items_dropped {
                                hints.push(format!(
                                    "the feed holds more than {MAX_ITEMS_PER_FETCH} items; only the first {MAX_ITEMS_PER_FETCH} are read (ask the publisher for a feed of recent items)"
                                ));
                            }
                            feed_ttl = processed.ttl.map(duration_secs);
                            (
                                200,
                                Some(body.validators),
                                Some(body_sha256),
                                processed.items,
                                Received::NewBody,
                            )
                        }
                        Err(IngestError::Parse(err))
                            if following.is_none() && linked_feed(&source.kind, &err).is_some() =>
                        {
                            // A page that links to its feed: follow it (the
                            // fetch guards it like a redirect).
                            let feed = linked_feed(&source.kind, &err).expect("checked above");
                            hints.push(format!(
                                "{} is an HTML page; Kurator reads the feed it links to, {} (set that as `url` to save a request)",
                                Redacted(&source.url),
                                Redacted(&feed)
                            ));
                            tracing::info!(feed = %Redacted(&feed), "followed the page's feed link");
                            self.remember_discovery(source, feed);
                            return Box::pin(self.ingest_inner(source, force, hints)).await;
                        }
                        Err(err) => {
                            if following.is_some() {
                                self.forget_discovery(source);
                            }
                            return self.record_failure(source, err).await;
                        }
                    }
                }
            }
        };
        let record = FetchRecord::Success {
            status,
            validators,
            body_sha256,
            effective_url,
            moved_to,
            feed_ttl,
            fresh_until: fresh_until(now, feed_ttl, fetched.max_age),
        };
        match self.record(source, record, items).await {
            Ok(counts) => match received {
                Received::NotModified => Outcome::NotModified,
                Received::SameBody => Outcome::Unchanged,
                Received::NewBody => Outcome::Stored(counts),
            },
            Err(err) => Outcome::Failed(err),
        }
    }

    /// Waits until every poll that had started has been recorded (new ones
    /// wait meanwhile). After [`Ingester::set_topics`], this is the point
    /// from which every item not yet stored is tagged with the new topics,
    /// so a retag of the stored items that starts here misses none.
    pub async fn settled(&self) {
        let all = u32::try_from(self.fetcher.concurrency()).unwrap_or(u32::MAX);
        let _all = self
            .in_flight
            .acquire_many(all)
            .await
            .expect("never closed");
    }

    /// Decoding, parsing and sanitizing are CPU work; they run on the blocking
    /// pool so other sources' network I/O keeps flowing.
    async fn process_on_blocking_pool(
        &self,
        source: &Source,
        bytes: Vec<u8>,
        content_type: Option<String>,
        url: &Url,
    ) -> Result<Processed, IngestError> {
        let _processing = self.processing.acquire().await.expect("never closed");
        let source_id = source.id.clone();
        let source_tags = source.tags.clone();
        let kind = source.kind.clone();
        let topics = self
            .topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let url = url.clone();
        let grouping = self.grouping.load(std::sync::atomic::Ordering::Relaxed);
        let seen = Arc::clone(&self.seen);
        // Logs from the blocking pool keep the source id.
        let span = tracing::Span::current();
        let processed = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let tagger = Tagger {
                topics: &topics,
                source_id: &source_id,
                source_tags: &source_tags,
            };
            let mut processed = process_source(
                &kind,
                &tagger,
                bytes,
                content_type.as_deref(),
                &url,
                unix_now(),
            )?;
            // What dedup compares new items by, here rather than on the
            // single database writer.
            if grouping {
                seen.add_keys_of_new(&source_id, &mut processed.items);
            }
            Ok(processed)
        })
        .await;
        match processed {
            Ok(Ok(processed)) => Ok(processed),
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "parse failed");
                Err(IngestError::Parse(err))
            }
            Err(join_error) => Err(IngestError::Internal(format!(
                "processing the feed failed: {join_error}"
            ))),
        }
    }

    async fn record_failure(&self, source: &Source, error: IngestError) -> Outcome {
        let (status, retry_after, gone) = match &error {
            IngestError::Fetch(fetch) => (
                fetch.status(),
                match fetch {
                    // Rounded up: a second early would be too early.
                    FetchError::RateLimited { retry_at, .. } => retry_at
                        .map(|at| crate::time::system_time_secs(at + Duration::from_millis(999))),
                    FetchError::HostDeferred { until, .. } => Some(crate::time::system_time_secs(
                        *until + Duration::from_millis(999),
                    )),
                    _ => None,
                },
                matches!(fetch, FetchError::Gone),
            ),
            _ => (None, None, false),
        };
        let record = FetchRecord::Failure {
            status,
            error: error.to_string(),
            retry_after,
            gone,
        };
        match self.record(source, record, Vec::new()).await {
            Ok(_) => Outcome::Failed(error),
            Err(store_error) => Outcome::Failed(store_error),
        }
    }

    async fn record(
        &self,
        source: &Source,
        record: FetchRecord,
        items: Vec<Identified>,
    ) -> Result<Counts, IngestError> {
        let now = unix_now();
        let fetch = PendingFetch {
            source_id: source.id.clone(),
            url: source.url.to_string(),
            record,
            items,
            now,
            oldest_kept: self
                .keep
                .map(|keep| now.saturating_sub(duration_secs(keep))),
        };
        self.store.record(fetch).await.map_err(IngestError::Store)
    }
}

/// What a fetched document yields: the items that would be stored, and
/// what `kurator preview` shows besides.
#[derive(Debug)]
pub struct Processed {
    /// Identified and tagged; dedup's keys are not computed yet.
    pub items: Vec<Identified>,
    /// The feed's `<ttl>`: how long it says it stays fresh.
    pub ttl: Option<Duration>,
    /// The feed held more than [`MAX_ITEMS_PER_FETCH`] items; the rest
    /// were not read.
    pub items_dropped: bool,
    /// For a page read with selectors: every element the `item` selector
    /// matched, in page order, as read (with the fields each selector
    /// missed). Empty for a feed.
    pub scraped: Vec<ScrapedElement>,
}

/// One element an HTML source's `item` selector matched, as read.
#[derive(Debug)]
pub struct ScrapedElement {
    pub read: parse::scrape::ScrapedItem,
    /// The index in [`Processed::items`] of the item it became; `None` when
    /// it is left out (it has no link, or an element before it has the same).
    pub stored_as: Option<usize>,
}

/// The feed to read instead, when `error` says that the address of a source
/// of `kind` is an HTML page that links to its feed: only `kind = "auto"`
/// sources follow such a link. The caller follows it once; a linked feed
/// that is a page too is an error.
pub fn linked_feed(kind: &SourceKind, error: &ParseError) -> Option<Url> {
    match error {
        ParseError::HtmlPage { alternates } if *kind == SourceKind::Auto => {
            parse::html::followed_feed(alternates).cloned()
        }
        _ => None,
    }
}

/// The CPU part of the pipeline for a feed: decode, parse, normalize,
/// identify, tag. `url` is where the document came from; `now` bounds dates.
pub fn process(
    tagger: &Tagger<'_>,
    bytes: Vec<u8>,
    content_type: Option<&str>,
    url: &Url,
    now: i64,
) -> Result<Processed, ParseError> {
    process_source(&SourceKind::Feed, tagger, bytes, content_type, url, now)
}

/// [`process`] for a source of any `kind`: an HTML source's page is read
/// with its selectors instead of parsed as a feed.
pub fn process_source(
    kind: &SourceKind,
    tagger: &Tagger<'_>,
    bytes: Vec<u8>,
    content_type: Option<&str>,
    url: &Url,
    now: i64,
) -> Result<Processed, ParseError> {
    let tld = url.domain().and_then(|d| d.rsplit('.').next());
    let decoded = decode::decode_owned(bytes, content_type, tld);
    let mut dropped = false;
    let mut scraped = Vec::new();
    let (items, ttl) = match kind {
        // A source with selectors whose address serves a feed after all
        // (the site added one) is read as a feed.
        SourceKind::Html(selectors) if parse::html::looks_like_html(&decoded.text) => {
            let page = parse::scrape::scrape_all(&decoded.text, url, selectors)?;
            let kept = parse::scrape::kept(&page.items);
            let items = normalize::normalize_scraped(
                page.items
                    .iter()
                    .zip(&kept)
                    .filter_map(|(item, &kept)| kept.then_some(item)),
                &page.base,
                now,
            );
            // Kept elements have distinct links, so each is one item, in order.
            let mut stored = 0..items.len();
            scraped = page
                .items
                .into_iter()
                .zip(kept)
                .map(|(read, kept)| ScrapedElement {
                    read,
                    stored_as: if kept { stored.next() } else { None },
                })
                .collect();
            (items, None)
        }
        _ => {
            // A piece at a time: only one piece's feed-rs model is held at once.
            let mut room = MAX_ITEMS_PER_FETCH;
            let pieces = parse::parse_pieces(&decoded.text, url, |mut parsed| {
                if !parsed.repairs.is_empty() {
                    tracing::debug!(repairs = ?parsed.repairs, "document repaired before parsing");
                }
                if parsed.feed.entries.len() > room {
                    parsed.feed.entries.truncate(room);
                    dropped = true;
                }
                room -= parsed.feed.entries.len();
                (
                    normalize::normalize(&parsed.feed, url, now),
                    parsed.feed.ttl,
                )
            })?;
            let ttl = pieces
                .iter()
                .find_map(|(_, ttl)| *ttl)
                .map(|minutes| Duration::from_secs(u64::from(minutes) * 60));
            let mut items = Vec::with_capacity(pieces.iter().map(|(items, _)| items.len()).sum());
            for (piece, _) in pieces {
                items.extend(piece);
            }
            (items, ttl)
        }
    };
    drop(decoded);
    let mut identified = identify(tagger.source_id, items);
    debug_assert!(
        scraped.is_empty()
            || scraped.iter().filter(|e| e.stored_as.is_some()).count() == identified.len(),
        "a page's kept elements are identified one by one"
    );
    for item in &mut identified {
        item.topics = tagger.topics((&item.item).into());
    }
    Ok(Processed {
        items: identified,
        ttl,
        items_dropped: dropped,
        scraped,
    })
}

/// The most items one fetch reads from a feed, in document order (feeds
/// list their newest first). Real feeds hold a few hundred; a document of
/// hundreds of thousands of tiny entries within `max_bytes` is an archive
/// or an attack, and reading it whole would cost over a kilobyte of memory
/// per item: this keeps a fetch's peak memory bounded whatever it holds.
pub const MAX_ITEMS_PER_FETCH: usize = parse::MAX_ENTRIES;

/// The longest a feed's `<ttl>` or `max-age` may keep us away: a hostile or
/// misconfigured feed must not park itself for weeks.
pub const MAX_FRESHNESS: Duration = Duration::from_secs(24 * 3600);

/// Until when the server said the feed stays fresh: the longer of its `<ttl>`
/// (seconds) and `max-age`, at most [`MAX_FRESHNESS`], counted from `now`
/// (whole seconds, so one more: never a fraction of a second too early).
pub fn fresh_until(now: i64, feed_ttl: Option<i64>, max_age: Option<Duration>) -> Option<i64> {
    let ttl = feed_ttl.map(secs_duration);
    let fresh = ttl.max(max_age)?.min(MAX_FRESHNESS);
    (!fresh.is_zero()).then(|| now.saturating_add(duration_secs(fresh)).saturating_add(1))
}

/// Items per retag transaction.
const RETAG_PAGE: usize = 1000;

/// One page of a retag.
#[derive(Debug, Clone, Copy)]
pub struct RetagPage {
    /// Where the next page starts (after this item id).
    pub last_id: i64,
    pub seen: usize,
    pub changed: usize,
}

/// Retags the items after `after` (one transaction); `None` when there are
/// none left. The daemon runs it page by page on its writer thread.
pub fn retag_page(
    store: &mut crate::store::Store,
    taggers: &dyn crate::tag::Taggers,
    after: i64,
) -> Result<Option<RetagPage>, StoreError> {
    let page = store.items_after(after, RETAG_PAGE)?;
    let Some(last) = page.last() else {
        return Ok(None);
    };
    let updates: Vec<_> = page
        .iter()
        .map(|item| {
            let tagger = taggers.tagger(&item.source_id);
            (item.id, tagger.topics(item.into()))
        })
        .collect();
    let changed = store.replace_topics(&updates, crate::time::unix_now())?;
    Ok(Some(RetagPage {
        last_id: last.id,
        seen: updates.len(),
        changed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_of_more_items_than_a_fetch_reads_is_cut_after_the_first() {
        let entries: String = (0..MAX_ITEMS_PER_FETCH + 10)
            .map(|n| format!("<item><guid>g{n}</guid><title>Meldung {n}</title></item>"))
            .collect();
        let text =
            format!("<rss version=\"2.0\"><channel><title>t</title>{entries}</channel></rss>");
        let topics = TopicSet::default();
        let tagger = Tagger {
            topics: &topics,
            source_id: "archiv",
            source_tags: &[],
        };
        let url = Url::parse("https://www.stadt.example/feed.xml").unwrap();
        let processed = process(&tagger, text.into_bytes(), None, &url, 1_764_000_000).unwrap();
        assert!(processed.items_dropped);
        assert_eq!(processed.items.len(), MAX_ITEMS_PER_FETCH);
        assert_eq!(processed.items[0].item.title, "Meldung 0", "the first ones");
        let last = &processed.items[MAX_ITEMS_PER_FETCH - 1].item.title;
        assert_eq!(last, &format!("Meldung {}", MAX_ITEMS_PER_FETCH - 1));
    }

    #[test]
    fn a_feed_read_in_pieces_yields_what_it_yields_whole() {
        let mut xml =
            String::from("<rss version=\"2.0\"><channel><title>Stadt</title><ttl>45</ttl>\n");
        for n in 0..8_000 {
            xml.push_str(&format!(
                "<item><title>Meldung {n} &amp; mehr</title><link>/m/{n}?utm_source=rss</link>\
                 <description><![CDATA[<p onclick=\"x()\">Der Gemeinderat {n} tagt. {}</p>]]></description>\
                 <pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate></item>\n",
                "Text ".repeat(40)
            ));
        }
        xml.push_str("</channel></rss>");
        assert!(xml.len() > 3 * parse::pieces::PIECE_BYTES);
        let url = Url::parse("https://www.stadt.example/feed.xml").unwrap();
        let topics = TopicSet::default();
        let tagger = Tagger {
            topics: &topics,
            source_id: "stadt",
            source_tags: &[],
        };
        let processed = process(&tagger, xml.clone().into_bytes(), None, &url, i64::MAX).unwrap();
        assert_eq!(processed.ttl, Some(Duration::from_secs(45 * 60)));
        let whole: Vec<Identified> = identify(
            "stadt",
            normalize::normalize(&parse::parse(&xml, &url).unwrap().feed, &url, i64::MAX),
        );
        let whole: Vec<(String, normalize::Item)> =
            whole.into_iter().map(|i| (i.uid, i.item)).collect();
        let pieces: Vec<(String, normalize::Item)> = processed
            .items
            .into_iter()
            .map(|i| (i.uid, i.item))
            .collect();
        assert_eq!(pieces.len(), 8_000);
        if let Some(n) = (0..whole.len()).find(|&n| pieces[n] != whole[n]) {
            panic!("item {n} differs:\n{:?}\n{:?}", pieces[n], whole[n]);
        }
    }

    #[test]
    fn only_an_auto_source_follows_a_page_to_the_feed_it_links() {
        let page = "<!DOCTYPE html><html><head>\
            <link rel=\"alternate\" type=\"application/rss+xml\" href=\"/presse.rss\">\
            </head><body>Presse</body></html>";
        let url = Url::parse("https://www.stadt.example/").unwrap();
        let topics = TopicSet::default();
        let tagger = Tagger {
            topics: &topics,
            source_id: "stadt",
            source_tags: &[],
        };
        let read = |kind: &SourceKind| {
            process_source(kind, &tagger, page.into(), None, &url, 1_764_000_000).unwrap_err()
        };
        assert_eq!(
            linked_feed(&SourceKind::Auto, &read(&SourceKind::Auto)).map(String::from),
            Some("https://www.stadt.example/presse.rss".to_owned())
        );
        assert_eq!(
            linked_feed(&SourceKind::Feed, &read(&SourceKind::Feed)),
            None
        );
        let empty = ParseError::Empty;
        assert_eq!(linked_feed(&SourceKind::Auto, &empty), None);
    }

    #[test]
    fn freshness_is_the_longer_of_ttl_and_max_age_and_capped() {
        let now = 1_000_000;
        assert_eq!(fresh_until(now, None, None), None);
        assert_eq!(fresh_until(now, Some(0), Some(Duration::ZERO)), None);
        assert_eq!(fresh_until(now, Some(3600), None), Some(now + 3601));
        assert_eq!(
            fresh_until(now, Some(60), Some(Duration::from_secs(600))),
            Some(now + 601)
        );
        assert_eq!(
            fresh_until(now, Some(10_000_000), None),
            Some(now + 86_401),
            "a day at most"
        );
    }
}
