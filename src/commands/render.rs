//! `kurator render`: writes a topic feed (or `all`) to stdout.

use std::io::Write;
use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use crate::config::{Config, resolve_db_path};
use crate::render::{Entry, EntrySource, FeedInfo, Format, render};
use crate::store::{Store, StoreError, StoredItem};
use crate::tag::Tagger;

pub fn run(options: &GlobalOptions, slug: &str, format: Format, limit: usize) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if slug != "all" && config.topics.get(slug).is_none() {
        let mut valid: Vec<&str> = config
            .topics
            .topics()
            .iter()
            .map(|t| t.slug.as_str())
            .collect();
        valid.push("all");
        eprintln!("no topic `{slug}`; valid: {}", valid.join(", "));
        return ExitCode::from(EXIT_CONFIG);
    }
    let result = Store::open(&resolve_db_path(&config, options.db.as_deref()))
        .and_then(|store| feed(&store, &config, slug, format, limit));
    match result {
        Ok(bytes) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                return ExitCode::from(EXIT_FAILED);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Stored items as feed entries, with their tags.
pub fn entries(
    store: &Store,
    config: &Config,
    items: Vec<StoredItem>,
) -> Result<Vec<Entry>, StoreError> {
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let topics = store.topics_of(item.id)?;
        let tags = Tagger::for_source(config, &item.source_id).tags((&item).into(), &topics);
        let source = config.source(&item.source_id);
        entries.push(Entry {
            title: item.title,
            link: item.link,
            summary: item.summary,
            content: item.content,
            author: item.author,
            published: item.published,
            updated: item.updated,
            source: EntrySource {
                title: source.map_or_else(|| item.source_id.clone(), |s| s.title.clone()),
                url: source.map_or_else(String::new, |s| s.url.to_string()),
                id: item.source_id,
            },
            uid: item.uid,
            tags,
        });
    }
    Ok(entries)
}

/// Renders the feed of `slug` (a topic, or `all`).
pub fn feed(
    store: &Store,
    config: &Config,
    slug: &str,
    format: Format,
    limit: usize,
) -> Result<Vec<u8>, StoreError> {
    let topic = config.topics.get(slug);
    let items = store.feed_items(topic.map(|t| t.slug.as_str()), limit)?;
    let entries = entries(store, config, items)?;
    let base = &config.server.base_url;
    let self_url = base
        .join(&format!("feeds/{slug}.{}", format.extension()))
        .expect("slugs are URL-safe")
        .to_string();
    let info = FeedInfo {
        title: topic.map_or_else(|| "Kurator: all items".to_owned(), |t| t.title.clone()),
        description: topic
            .and_then(|t| t.description.clone())
            .unwrap_or_else(|| {
                if slug == "all" {
                    "Every item Kurator has stored, newest first".to_owned()
                } else {
                    format!("Kurator topic feed `{slug}`")
                }
            }),
        id: base
            .join(&format!("feeds/{slug}"))
            .expect("slugs are URL-safe")
            .to_string(),
        self_url,
        home_url: base.to_string(),
    };
    Ok(render(format, &info, &entries))
}
