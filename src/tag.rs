//! Tag: what a rule sees of a stored item, and which topics it belongs to.
//!
//! An item's tags are its source's `tags`, its feed categories and the slug of
//! every topic it matches. Topics see the first two (and each other's slugs,
//! in dependency order) through `tag:`.

use crate::config::Config;
use crate::normalize::html_to_text;
use crate::rules::{Document, DocumentFields};
use crate::store::StoredItem;

/// Prepares a stored item for matching. Summary and content are matched as
/// text, without their markup.
pub fn document(item: &StoredItem, config: &Config) -> Document {
    let source_tags: &[String] = config
        .source(&item.source_id)
        .map(|s| s.tags.as_slice())
        .unwrap_or_default();
    let summary = item
        .summary
        .as_deref()
        .map(html_to_text)
        .unwrap_or_default();
    let content = item
        .content
        .as_deref()
        .map(html_to_text)
        .unwrap_or_default();
    let mut tags: Vec<String> = source_tags.to_vec();
    tags.extend(item.categories.iter().cloned());
    Document::new(&DocumentFields {
        title: &item.title,
        summary: &summary,
        content: &content,
        author: item.author.as_deref().unwrap_or_default(),
        link: item.link.as_deref().unwrap_or_default(),
        categories: &item.categories,
        source: &item.source_id,
        tags: &tags,
    })
}

/// The item's document with every matching topic's slug added to its tags,
/// and those slugs.
pub fn tagged_document(item: &StoredItem, config: &Config) -> (Document, Vec<String>) {
    let mut doc = document(item, config);
    let topics = config
        .topics
        .tag(&mut doc)
        .into_iter()
        .map(str::to_owned)
        .collect();
    (doc, topics)
}
