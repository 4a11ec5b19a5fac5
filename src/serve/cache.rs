//! The cache of rendered responses, and the feed versions that say when one
//! is stale.
//!
//! Every feed, search result and the front page is rendered once, compressed
//! once per encoding and kept with the version of the feeds it shows. A
//! request compares that version with the current one (both in memory) and
//! serves the stored bytes: an unchanged feed costs no database work and no
//! compression. The store bumps a feed's version whenever its content
//! changes, and the watcher in [`super`] copies the versions in.

use std::collections::HashMap;
use std::io::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::http::HeaderValue;
use sha2::{Digest, Sha256};

use super::sendfile;
use crate::render::Format;
use crate::store::{ALL_FEED, FeedVersion};

/// What a cached response is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A topic feed or `all`.
    Feed {
        slug: String,
        format: Format,
        limit: usize,
    },
    /// A `/search` feed, keyed by the rule exactly as written.
    Search {
        rule: String,
        format: Format,
        limit: usize,
    },
    /// The front page.
    Index,
}

/// The content codings we store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => "-gz",
            Coding::Brotli => "-br",
        }
    }

    pub fn header(self) -> Option<HeaderValue> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some(HeaderValue::from_static("gzip")),
            Coding::Brotli => Some(HeaderValue::from_static("br")),
        }
    }
}

/// Bodies smaller than this are not worth compressing.
const MIN_COMPRESS: usize = 512;

/// One rendered response body in every coding, with its validators.
#[derive(Debug)]
pub struct Rendered {
    pub content_type: HeaderValue,
    identity: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
    /// A digest of the identity bytes; each coding's ETag adds a suffix
    /// (a compressed body is a different representation).
    etag_base: String,
    etags: [HeaderValue; 3],
    /// Seconds since the epoch.
    pub last_modified: i64,
    pub last_modified_header: HeaderValue,
    /// The version of what it shows when it was rendered.
    pub version: i64,
    last_used: AtomicU64,
}

impl Rendered {
    /// Compresses `body` and derives the validators from it.
    pub fn new(
        content_type: &'static str,
        body: Vec<u8>,
        last_modified: i64,
        version: i64,
    ) -> Rendered {
        let digest = Sha256::digest(&body);
        let etag_base: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        let etag = |coding: Coding| {
            HeaderValue::from_str(&format!("\"{etag_base}{}\"", coding.etag_suffix()))
                .expect("hex digits and quotes")
        };
        let compress = body.len() >= MIN_COMPRESS;
        let gzip = compress.then(|| sendfile::file_backed(gzip(&body)));
        let brotli = compress.then(|| sendfile::file_backed(brotli(&body)));
        let modified = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(last_modified).unwrap_or(0));
        Rendered {
            content_type: HeaderValue::from_static(content_type),
            etags: [
                etag(Coding::Identity),
                etag(Coding::Gzip),
                etag(Coding::Brotli),
            ],
            etag_base,
            identity: sendfile::file_backed(body),
            gzip,
            brotli,
            last_modified,
            last_modified_header: HeaderValue::from_str(&httpdate::fmt_http_date(modified))
                .expect("an HTTP date is ASCII"),
            version,
            last_used: AtomicU64::new(0),
        }
    }

    /// The body in `coding`, or `None` if it is not stored compressed.
    pub fn body(&self, coding: Coding) -> Option<&Bytes> {
        match coding {
            Coding::Identity => Some(&self.identity),
            Coding::Gzip => self.gzip.as_ref(),
            Coding::Brotli => self.brotli.as_ref(),
        }
    }

    pub fn etag(&self, coding: Coding) -> &HeaderValue {
        &self.etags[coding as usize]
    }

    /// Whether an entity tag from `If-None-Match` names this content in any
    /// coding (a weak comparison, as RFC 9110 asks for `If-None-Match`).
    pub fn matches_etag(&self, tag: &str) -> bool {
        let tag = tag.trim();
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        let Some(opaque) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return false;
        };
        let opaque = opaque
            .strip_suffix("-gz")
            .or_else(|| opaque.strip_suffix("-br"))
            .unwrap_or(opaque);
        opaque == self.etag_base
    }

    /// Bytes held, a file-backed body counted twice (heap and file).
    fn size(&self) -> usize {
        [
            Some(&self.identity),
            self.gzip.as_ref(),
            self.brotli.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|body| body.len() * if sendfile::is_file_backed(body) { 2 } else { 1 })
        .sum()
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::new(6),
    );
    encoder.write_all(body).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

fn brotli(body: &[u8]) -> Vec<u8> {
    // Quality 6 with a 1 MiB window: on rendered feeds within 2% of quality
    // 9's size at a quarter of the time, and its hash table is 4 MiB where
    // quality 9's is 32 MiB, allocated (and touched) per compression, which
    // a daemon's resident memory would show (see BENCHMARKS.md).
    let mut encoder =
        brotli::CompressorWriter::new(Vec::with_capacity(body.len() / 4), 4096, 6, 20);
    encoder.write_all(body).expect("writing to a Vec");
    encoder.into_inner()
}

/// Rendered responses by key, bounded in bytes (least recently used go first).
#[derive(Debug)]
pub struct ResponseCache {
    entries: RwLock<HashMap<Key, std::sync::Arc<Rendered>>>,
    max_bytes: usize,
    clock: AtomicU64,
}

impl ResponseCache {
    pub fn new(max_bytes: usize) -> ResponseCache {
        ResponseCache {
            entries: RwLock::new(HashMap::new()),
            max_bytes,
            clock: AtomicU64::new(1),
        }
    }

    /// The cached response for `key` if it was rendered at `version`.
    pub fn get(&self, key: &Key, version: i64) -> Option<std::sync::Arc<Rendered>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let found = entries.get(key).filter(|r| r.version == version)?;
        found.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        Some(found.clone())
    }

    pub fn insert(&self, key: Key, rendered: std::sync::Arc<Rendered>) {
        rendered.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.insert(key, rendered);
        let mut total: usize = entries.values().map(|r| r.size()).sum();
        while total > self.max_bytes && entries.len() > 1 {
            let oldest = entries
                .iter()
                .min_by_key(|(_, r)| r.last_used.load(Ordering::Relaxed))
                .map(|(k, r)| (k.clone(), r.size()))
                .expect("not empty");
            entries.remove(&oldest.0);
            total -= oldest.1;
        }
    }

    /// Forgets every response (the configuration they were rendered with changed).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Number of cached responses (for tests and status).
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The feed versions as last read from the store.
#[derive(Debug, Clone, Default)]
pub struct Versions {
    feeds: HashMap<String, FeedVersion>,
    /// The sum of all versions: moves whenever any feed changes.
    generation: i64,
    /// SQLite's `data_version` as the watcher last saw it: moves with
    /// every commit, also those that change no feed (a fetch that failed).
    data_version: i64,
}

impl Versions {
    pub fn new(feeds: HashMap<String, FeedVersion>) -> Versions {
        let generation = feeds.values().map(|v| v.version).sum();
        Versions {
            feeds,
            generation,
            data_version: 0,
        }
    }

    /// These versions, as of the database's `data_version`.
    #[must_use]
    pub fn at_data_version(self, data_version: i64) -> Versions {
        Versions {
            data_version,
            ..self
        }
    }

    pub fn feed(&self, slug: &str) -> FeedVersion {
        self.feeds.get(slug).copied().unwrap_or_default()
    }

    /// The version a cached response for `key` must have.
    pub fn of(&self, key: &Key) -> FeedVersion {
        match key {
            Key::Feed { slug, .. } => self.feed(slug),
            Key::Search { .. } => self.feed(ALL_FEED),
            // The front page shows every source's state too, which
            // changes without a feed changing.
            Key::Index => FeedVersion {
                version: self.generation.wrapping_add(self.data_version),
                changed_at: self.feeds.values().map(|v| v.changed_at).max().unwrap_or(0),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn feed(n: usize) -> Key {
        Key::Feed {
            slug: format!("t{n}"),
            format: Format::Atom,
            limit: 50,
        }
    }

    #[test]
    fn etags_match_every_coding_weakly() {
        let body = "<feed>".repeat(200).into_bytes();
        let rendered = Rendered::new("application/atom+xml", body, 0, 1);
        let strong = rendered.etag(Coding::Identity).to_str().unwrap().to_owned();
        let gz = rendered.etag(Coding::Gzip).to_str().unwrap().to_owned();
        assert_ne!(strong, gz);
        assert!(rendered.matches_etag(&strong));
        assert!(rendered.matches_etag(&gz));
        assert!(rendered.matches_etag(&format!("W/{strong}")));
        assert!(!rendered.matches_etag("\"other\""));
        assert!(!rendered.matches_etag(strong.trim_matches('"')));
        assert!(rendered.body(Coding::Brotli).unwrap().len() < 200);
    }

    #[test]
    fn stale_versions_miss_and_the_oldest_go_first() {
        let body = vec![b'x'; 100];
        let cache = ResponseCache::new(250);
        cache.insert(
            feed(1),
            Arc::new(Rendered::new("text/plain", body.clone(), 0, 1)),
        );
        assert!(cache.get(&feed(1), 1).is_some());
        assert!(
            cache.get(&feed(1), 2).is_none(),
            "a newer version is a miss"
        );
        cache.insert(
            feed(2),
            Arc::new(Rendered::new("text/plain", body.clone(), 0, 1)),
        );
        assert!(cache.get(&feed(1), 1).is_some(), "feed 1 used last");
        cache.insert(feed(3), Arc::new(Rendered::new("text/plain", body, 0, 1)));
        assert_eq!(cache.len(), 2);
        assert!(
            cache.get(&feed(2), 1).is_none(),
            "least recently used evicted"
        );
        assert!(cache.get(&feed(1), 1).is_some());
    }

    #[test]
    fn versions_per_key() {
        let mut feeds = HashMap::new();
        feeds.insert(
            "politik".to_owned(),
            FeedVersion {
                version: 3,
                changed_at: 10,
            },
        );
        feeds.insert(
            "all".to_owned(),
            FeedVersion {
                version: 5,
                changed_at: 20,
            },
        );
        let versions = Versions::new(feeds);
        assert_eq!(versions.of(&feed(9)).version, 0);
        let search = Key::Search {
            rule: "x".into(),
            format: Format::Rss,
            limit: 5,
        };
        assert_eq!(versions.of(&search).version, 5);
        assert_eq!(
            versions.of(&Key::Index),
            FeedVersion {
                version: 8,
                changed_at: 20
            }
        );
    }
}
