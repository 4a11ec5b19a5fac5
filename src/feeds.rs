//! Feeds: what each output feed contains, read from the store and rendered.
//!
//! Three kinds of feed exist: a topic's newest items, `all` (every item), and
//! a search (the newest items matching an ad-hoc rule). `kurator render`,
//! `kurator query` and the server all build them here, so a feed is the same
//! bytes whichever way it is asked for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use url::Url;

use crate::render::{AlsoReported, Entry, EntrySource, FeedInfo, Format, render};
use crate::rules::Rule;
use crate::store::{ALL_FEED, Store, StoreError, StoredItem};
use crate::tag::Tag;

/// What the feeds need of the configuration: its topics, its sources (titles,
/// priorities, tags) and the public address links are built from. The
/// config implements it.
pub trait Catalog: crate::tag::Taggers {
    fn topics(&self) -> &crate::rules::TopicSet;
    fn source(&self, id: &str) -> Option<&crate::source::Source>;
    fn base_url(&self) -> &url::Url;
}

/// A rendered feed.
#[derive(Debug, Clone)]
pub struct RenderedFeed {
    pub bytes: Vec<u8>,
    /// The newest `updated` time among its entries (seconds since the epoch).
    pub newest: Option<i64>,
}

/// Which report of a story its entry shows.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    /// Any report: the `all` feed.
    Any,
    /// A report in this topic: a topic feed never heads an entry with a
    /// report that does not match the topic.
    Topic(&'a str),
    /// The report that was found (search, `kurator query`).
    Found,
}

/// Stored items as feed entries, with their tags. An item of a cluster
/// becomes the cluster's entry: see [`cluster_entry`].
pub fn entries(
    store: &Store,
    config: &dyn Catalog,
    items: Vec<StoredItem>,
    shown: Shown<'_>,
) -> Result<Vec<Entry>, StoreError> {
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        if let Some(cluster) = item.cluster_id {
            let members = store.cluster_members(cluster)?;
            if members.len() > 1 {
                let found = item.id;
                let eligible = |member: &StoredItem, topics: &[String]| match shown {
                    Shown::Any => true,
                    Shown::Topic(slug) => topics.iter().any(|t| t == slug),
                    Shown::Found => member.id == found,
                };
                entries.push(cluster_entry(store, config, cluster, members, eligible)?);
                continue;
            }
        }
        let tags = item_tags(store, config, &item)?;
        entries.push(single_entry(config, item, tags));
    }
    Ok(entries)
}

fn item_tags(
    store: &Store,
    config: &dyn Catalog,
    item: &StoredItem,
) -> Result<Vec<Tag>, StoreError> {
    let topics = store.topics_of(item.id)?;
    Ok(config.tagger(&item.source_id).tags(item.into(), &topics))
}

fn entry_source(config: &dyn Catalog, source_id: &str) -> EntrySource {
    let source = config.source(source_id);
    EntrySource {
        title: source.map_or_else(|| source_id.to_owned(), |s| s.title.clone()),
        url: source.map_or_else(String::new, |s| s.url.to_string()),
        id: source_id.to_owned(),
    }
}

fn single_entry(config: &dyn Catalog, item: StoredItem, tags: Vec<Tag>) -> Entry {
    let uid = item.entry_id().to_owned();
    Entry {
        source: entry_source(config, &item.source_id),
        title: item.title,
        link: item.link,
        summary: item.summary,
        content: item.content,
        author: item.author,
        published: item.published,
        updated: item.updated,
        uid,
        tags,
        also: Vec::new(),
    }
}

/// One entry for a story several sources reported.
///
/// * Its id is the cluster's first item's entry id (its uid, unless an
///   editor split the story's first report off), whichever report shows: an
///   entry once emitted keeps its id when later reports join or leave.
/// * The report shown (the representative) is, of the `eligible` ones (in
///   the feed's topic, or the one found), the one from the source with the
///   highest `priority`, then the earliest published.
/// * The other reports are listed ([`Entry::also`]); the entry's tags are
///   every report's, and it counts as updated when a report joined.
pub fn cluster_entry(
    store: &Store,
    config: &dyn Catalog,
    cluster: i64,
    members: Vec<StoredItem>,
    eligible: impl Fn(&StoredItem, &[String]) -> bool,
) -> Result<Entry, StoreError> {
    let uid = crate::store::story_entry_id(cluster, &members).to_owned();
    let priority = |m: &StoredItem| config.source(&m.source_id).map_or(0, |s| s.priority);
    let mut tags: Vec<Tag> = Vec::new();
    let mut eligible_members = Vec::with_capacity(members.len());
    for member in &members {
        let topics = store.topics_of(member.id)?;
        eligible_members.push(eligible(member, &topics));
        for tag in config
            .tagger(&member.source_id)
            .tags(member.into(), &topics)
        {
            if !tags.iter().any(|t| t.name == tag.name) {
                tags.push(tag);
            }
        }
    }
    // None eligible (a member's topics changed since the feed was read):
    // any report rather than none.
    let any_eligible = eligible_members.contains(&true);
    let representative = members
        .iter()
        .enumerate()
        .filter(|(at, _)| eligible_members[*at] || !any_eligible)
        .min_by_key(|(_, m)| (std::cmp::Reverse(priority(m)), m.published, m.id))
        .map(|(at, _)| at)
        .unwrap_or(0);
    let joined = members
        .iter()
        .enumerate()
        .filter(|(at, _)| *at != representative)
        .map(|(_, m)| m.first_seen)
        .max()
        .unwrap_or(0);
    let mut members = members;
    let shown = members.remove(representative);
    let also = members
        .into_iter()
        .map(|m| AlsoReported {
            source: entry_source(config, &m.source_id),
            title: m.title,
            link: m.link,
            uid: m.uid,
            published: m.published,
        })
        .collect();
    let mut entry = single_entry(config, shown, tags);
    entry.uid = uid;
    entry.updated = entry.updated.max(joined);
    entry.also = also;
    Ok(entry)
}

/// Whether `slug` names a feed: a configured topic, or `all`.
pub fn is_feed(config: &dyn Catalog, slug: &str) -> bool {
    slug == ALL_FEED || config.topics().get(slug).is_some()
}

/// Every feed slug, topics in config order then `all`: for "valid are …" messages.
pub fn feed_slugs(config: &dyn Catalog) -> Vec<&str> {
    let mut slugs: Vec<&str> = config
        .topics()
        .topics()
        .iter()
        .map(|t| t.slug.as_str())
        .collect();
    slugs.sort_unstable();
    slugs.push(ALL_FEED);
    slugs
}

/// The URL of a feed of the server at `base`.
pub fn feed_url(base: &Url, slug: &str, format: Format) -> Url {
    base.join(&format!("feeds/{slug}.{}", format.extension()))
        .expect("slugs are URL-safe")
}

/// Renders the feed of `slug` (a topic, or `all`): its newest `limit` items.
pub fn topic_feed(
    store: &Store,
    config: &dyn Catalog,
    slug: &str,
    format: Format,
    limit: usize,
) -> Result<RenderedFeed, StoreError> {
    let topic = config.topics().get(slug);
    let items = store.feed_items(topic.map(|t| t.slug.as_str()), limit)?;
    let shown = match topic {
        Some(topic) => Shown::Topic(&topic.slug),
        None => Shown::Any,
    };
    let entries = entries(store, config, items, shown)?;
    let base = config.base_url();
    let info = FeedInfo {
        title: topic.map_or_else(|| "Kurator: all items".to_owned(), |t| t.title.clone()),
        description: topic
            .and_then(|t| t.description.clone())
            .unwrap_or_else(|| {
                if slug == ALL_FEED {
                    "Every item Kurator has stored, newest first".to_owned()
                } else {
                    format!("Kurator topic feed `{slug}`")
                }
            }),
        id: base
            .join(&format!("feeds/{slug}"))
            .expect("slugs are URL-safe")
            .to_string(),
        self_url: feed_url(base, slug, format).to_string(),
        home_url: base.to_string(),
    };
    Ok(finish(format, &info, &entries))
}

/// Why a search gave no feed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(
        "the search took longer than {} s and was stopped after {scanned} items; narrow the rule (more words, fewer or simpler /regex/ terms)",
        .allowed.as_secs_f64()
    )]
    OutOfTime { allowed: Duration, scanned: usize },
    #[error("the search was stopped: the client left or the server is stopping")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long a search may run, and the flags that stop it early (the client
/// left, the server is stopping). Checked before every item, so a rule
/// that is slow to match stops within one item's time.
#[derive(Debug, Default)]
pub struct SearchBudget {
    /// When it must end, and how long it was given.
    deadline: Option<(Instant, Duration)>,
    /// Any of these set: stop.
    stops: Vec<Arc<AtomicBool>>,
}

impl SearchBudget {
    /// No limit: for `kurator query`, whose user can press Ctrl-C.
    pub fn unlimited() -> SearchBudget {
        SearchBudget::default()
    }

    /// `allowed` from now, and stopped early when any of `stops` is set.
    pub fn new(allowed: Duration, stops: Vec<Arc<AtomicBool>>) -> SearchBudget {
        SearchBudget {
            deadline: Some((Instant::now() + allowed, allowed)),
            stops,
        }
    }

    fn check(&self, scanned: usize) -> Result<(), SearchError> {
        if self.stops.iter().any(|stop| stop.load(Ordering::Relaxed)) {
            return Err(SearchError::Cancelled);
        }
        match self.deadline {
            Some((deadline, allowed)) if Instant::now() >= deadline => {
                Err(SearchError::OutOfTime { allowed, scanned })
            }
            _ => Ok(()),
        }
    }
}

/// The newest stored items that match `rule`, one per cluster: at most
/// `limit` of them, from the newest `depth` items, within `budget`.
/// `on_match` sees each match as it is found.
/// Returns the matches and how many items were looked at.
pub fn search(
    store: &Store,
    config: &dyn Catalog,
    rule: &Rule,
    limit: usize,
    depth: usize,
    budget: &SearchBudget,
    mut on_match: impl FnMut(&StoredItem),
) -> Result<(Vec<StoredItem>, usize), SearchError> {
    let (mut scanned, mut matched) = (0usize, Vec::new());
    if limit == 0 || depth == 0 {
        return Ok((matched, scanned));
    }
    let mut stopped = Ok(());
    // One match per story: a cluster shows once, whichever report matched.
    let mut clusters = std::collections::HashSet::new();
    store.scan_items(None, |item| {
        if let Err(stop) = budget.check(scanned) {
            stopped = Err(stop);
            return false;
        }
        scanned += 1;
        if item.cluster_id.is_some() && clusters.contains(&item.cluster()) {
            return scanned < depth;
        }
        let tagger = config.tagger(&item.source_id);
        // Topics first, so the rule can use their slugs with tag:.
        let mut doc = tagger.document((&item).into());
        config.topics().tag(&mut doc);
        if rule.matches(&doc) {
            clusters.insert(item.cluster());
            on_match(&item);
            matched.push(item);
        }
        matched.len() < limit && scanned < depth
    })?;
    stopped?;
    Ok((matched, scanned))
}

/// The URL of the search feed for `rule_text`.
pub fn search_url(base: &Url, rule_text: &str, format: Format) -> Url {
    let mut url = base
        .join(&format!("search.{}", format.extension()))
        .expect("a fixed path");
    url.query_pairs_mut().append_pair("q", rule_text);
    url
}

/// Renders the search feed for `rule` (see [`search`]).
pub fn search_feed(
    store: &Store,
    config: &dyn Catalog,
    rule: &Rule,
    format: Format,
    limit: usize,
    depth: usize,
    budget: &SearchBudget,
) -> Result<RenderedFeed, SearchError> {
    let (items, _) = search(store, config, rule, limit, depth, budget, |_| {})?;
    let entries = entries(store, config, items, Shown::Found)?;
    Ok(finish(
        format,
        &search_info(config, &rule.text, format),
        &entries,
    ))
}

/// What a search feed says about itself.
pub fn search_info(config: &dyn Catalog, rule_text: &str, format: Format) -> FeedInfo {
    let self_url = search_url(config.base_url(), rule_text, format).to_string();
    FeedInfo {
        title: format!("Kurator: {rule_text}"),
        description: format!("Items matching {rule_text}"),
        id: self_url.clone(),
        self_url,
        home_url: config.base_url().to_string(),
    }
}

fn finish(format: Format, info: &FeedInfo, entries: &[Entry]) -> RenderedFeed {
    RenderedFeed {
        bytes: render(format, info, entries),
        newest: entries.iter().map(|e| e.updated.max(e.published)).max(),
    }
}
