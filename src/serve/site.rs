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
    pub listen: Listen,
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

/// `[server] listen`: an address and port, or a host name and port that is
/// looked up when the server binds (so `localhost:8080` follows the
/// machine's own idea of localhost, as every other server's does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Address(SocketAddr),
    Host { name: String, port: u16 },
}

impl Listen {
    /// Reads `127.0.0.1:8080`, `[::]:8080` or `localhost:8080`; the error
    /// says what is wrong with the text.
    pub fn parse(text: &str) -> Result<Listen, String> {
        let text = text.trim();
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(Listen::Address(address));
        }
        let Some((name, port)) = text.rsplit_once(':') else {
            return Err(format!("`{text}` has no port"));
        };
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{port}` in `{text}` is not a port (0 to 65535)"))?;
        let is_name = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !is_name {
            return Err(format!(
                "`{name}` in `{text}` is neither an IP address nor a host name"
            ));
        }
        Ok(Listen::Host {
            name: name.to_ascii_lowercase(),
            port,
        })
    }

    /// The addresses to bind, in the resolver's order.
    pub fn addresses(&self) -> std::io::Result<Vec<SocketAddr>> {
        use std::net::ToSocketAddrs;
        match self {
            Listen::Address(address) => Ok(vec![*address]),
            Listen::Host { name, port } => {
                let found: Vec<SocketAddr> = (name.as_str(), *port).to_socket_addrs()?.collect();
                if found.is_empty() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the name has no addresses",
                    ));
                }
                Ok(found)
            }
        }
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Address(address) => write!(f, "{address}"),
            Listen::Host { name, port } => write!(f, "{name}:{port}"),
        }
    }
}

impl From<SocketAddr> for Listen {
    fn from(address: SocketAddr) -> Listen {
        Listen::Address(address)
    }
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
