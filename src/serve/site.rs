//! What the server is given by whoever starts it, in two parts: the
//! [`Settings`] it reads once, at start (a change needs a restart), and the
//! [`Site`] it shows, which [`ConfigHandle::replace`] swaps while it runs
//! (on `SIGHUP`). The config builds both; serve does not know the config file.
//!
//! [`ConfigHandle::replace`]: super::ConfigHandle::replace

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use crate::feeds::Catalog;
use crate::rules::TopicSet;
use crate::schedule::Timing;
use crate::source::Source;
use crate::tag::{Tagger, Taggers};

/// How the server listens and what it bounds: read once, when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Serving threads, each with a single-threaded runtime.
    pub threads: usize,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers; idle
    /// keep-alive connections are closed after it too.
    pub header_timeout: Duration,
    /// `Cache-Control: max-age` of feeds and pages.
    pub cache_max_age: Duration,
}

/// How far one `/search` may go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchLimits {
    /// How many of the newest items it looks through.
    pub depth: usize,
    /// How long it may take before it is stopped with a 503.
    pub timeout: Duration,
}

/// What the server shows: the feeds' topics, sources and base URL (the
/// [`Catalog`]), the sources on `/sources` with their schedules, and how far
/// a search may go. Replaced as a whole on reload; the config implements it.
pub trait Site: Catalog + Send + Sync {
    /// Whether the base URL was configured; without one, links follow the
    /// address the server bound (so `listen = "127.0.0.1:0"` works).
    fn base_url_configured(&self) -> bool;
    /// The configured sources, in config order.
    fn sources(&self) -> &[Source];
    /// How `source` is scheduled.
    fn timing(&self, source: &Source) -> Timing;
    fn search_limits(&self) -> SearchLimits;
}

/// A [`Site`] as served: with the base URL its links are built from, which
/// is the bound address when none is configured.
pub struct Shown {
    site: Box<dyn Site>,
    base_url: Url,
}

impl Shown {
    pub(super) fn new(site: Box<dyn Site>, local: SocketAddr) -> Shown {
        let base_url = if site.base_url_configured() {
            site.base_url().clone()
        } else {
            Url::parse(&format!("http://{local}/")).expect("a socket address makes a URL")
        };
        Shown { site, base_url }
    }

    pub fn base_url_configured(&self) -> bool {
        self.site.base_url_configured()
    }

    pub fn sources(&self) -> &[Source] {
        self.site.sources()
    }

    pub fn timing(&self, source: &Source) -> Timing {
        self.site.timing(source)
    }

    pub fn search_limits(&self) -> SearchLimits {
        self.site.search_limits()
    }
}

impl Taggers for Shown {
    fn tagger<'a>(&'a self, source_id: &'a str) -> Tagger<'a> {
        self.site.tagger(source_id)
    }
}

impl Catalog for Shown {
    fn topics(&self) -> &TopicSet {
        self.site.topics()
    }

    fn source(&self, id: &str) -> Option<&Source> {
        self.site.source(id)
    }

    fn base_url(&self) -> &Url {
        &self.base_url
    }
}
