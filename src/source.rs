//! Source: one configured source as the stages see it (what to fetch, how
//! to read it, how it is tagged and scheduled). `config` builds it from
//! `feeds.toml`; ingest, schedule and status take it from there.

use url::Url;

use crate::schedule::{CronSchedule, Scheduled};

/// One configured source.
#[derive(Debug, Clone)]
pub struct Source {
    /// Stable key (`[a-z0-9-]+`); items are stored under it, so renaming it starts over.
    pub id: String,
    pub title: String,
    pub url: Url,
    pub tags: Vec<String>,
    pub enabled: bool,
    /// Overrides `[fetch] schedule` for this source.
    pub schedule: Option<CronSchedule>,
    /// When several sources report one story, the highest priority's report
    /// represents it (ties: the earliest published). Default 0.
    pub priority: i64,
    /// What the URL serves: a feed, or an HTML page read with selectors.
    pub kind: SourceKind,
}

impl Scheduled for Source {
    fn id(&self) -> &str {
        &self.id
    }

    /// Stored times belong to the `url` they were fetched from.
    fn address(&self) -> &str {
        self.url.as_str()
    }
}

/// What a source's URL serves (`kind`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SourceKind {
    /// A feed (RSS, Atom, JSON Feed); an HTML page that advertises one
    /// (`<link rel="alternate">`) is followed to it (`kind = "auto"`, the default).
    #[default]
    Auto,
    /// A feed, and nothing else (`kind = "feed"`).
    Feed,
    /// An HTML page without a feed, read with CSS selectors (`kind = "html"`,
    /// or `[source.select]` with `"auto"` or no `kind`). A feed served there
    /// instead is read as a feed.
    Html(Box<crate::parse::scrape::Selectors>),
}
