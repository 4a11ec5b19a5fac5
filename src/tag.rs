//! Tag: which tags an item carries, and what rules see of it.
//!
//! An item's tags are its source's `tags`, its feed categories and the slug of
//! every topic it matches. Topics are matched at ingest and stored in the same
//! transaction as the item (`kurator retag` recomputes them when rules
//! change); the other two are read from where they live, the config and the
//! item, so they are never stale. Topics see the source tags, the categories
//! and each other's slugs (in dependency order) through `tag:`.

use crate::normalize::Item;
pub use crate::rules::markup::markup_to_text;
use crate::rules::{Document, DocumentFields, ItemFields, TopicSet};

/// Where a tag comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagKind {
    /// The source's `tags` in `feeds.toml`.
    Source,
    /// One of the feed's own categories.
    Category,
    /// A topic whose rule the item matches.
    Topic,
}

impl TagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TagKind::Source => "source",
            TagKind::Category => "category",
            TagKind::Topic => "topic",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    pub kind: TagKind,
    pub name: String,
}

/// The parts of an item that tagging reads; summary and content are HTML.
#[derive(Debug, Clone, Copy)]
pub struct ItemView<'a> {
    pub title: &'a str,
    pub summary: Option<&'a str>,
    pub content: Option<&'a str>,
    pub author: Option<&'a str>,
    pub link: Option<&'a str>,
    pub categories: &'a [String],
}

impl<'a> From<&'a Item> for ItemView<'a> {
    fn from(item: &'a Item) -> Self {
        ItemView {
            title: &item.title,
            summary: item.summary.as_deref(),
            content: item.content.as_deref(),
            author: item.author.as_deref(),
            link: item.link.as_deref(),
            categories: &item.categories,
        }
    }
}

/// Hands out the tagger of each source's items (the configuration does).
pub trait Taggers {
    fn tagger<'a>(&'a self, source_id: &'a str) -> Tagger<'a>;
}

/// Tags the items of one source.
#[derive(Debug, Clone, Copy)]
pub struct Tagger<'a> {
    pub topics: &'a TopicSet,
    pub source_id: &'a str,
    pub source_tags: &'a [String],
}

impl<'a> Tagger<'a> {
    /// What rules see of `item`: its text without markup, its categories,
    /// its source, and the source tags and categories as `tag:` values.
    pub fn document(&self, item: ItemView<'_>) -> Document {
        let summary = item.summary.map(markup_to_text).unwrap_or_default();
        let content = item.content.map(markup_to_text).unwrap_or_default();
        let mut tags: Vec<String> = self.source_tags.to_vec();
        tags.extend(item.categories.iter().cloned());
        Document::new(&DocumentFields {
            title: item.title,
            summary: &summary,
            content: &content,
            author: item.author.unwrap_or_default(),
            link: item.link.unwrap_or_default(),
            categories: item.categories,
            source: self.source_id,
            tags: &tags,
        })
    }

    /// The slugs of the topics `item` matches, in evaluation order: what
    /// ingest stores. Takes the compiled path ([`TopicSet::tag_item`]), which
    /// gives the same answer as [`TopicSet::tag`] on [`Tagger::document`].
    pub fn topics(&self, item: ItemView<'_>) -> Vec<String> {
        if self.topics.topics().is_empty() {
            return Vec::new();
        }
        let mut slugs = Vec::new();
        self.topics.for_each_match(
            &ItemFields {
                title: item.title,
                summary: item.summary,
                content: item.content,
                author: item.author.unwrap_or_default(),
                link: item.link.unwrap_or_default(),
                categories: item.categories,
                source: self.source_id,
                source_tags: self.source_tags,
            },
            |slug| slugs.push(slug.to_owned()),
        );
        slugs
    }

    /// Every tag of `item`, given the topics it is stored under; sorted and
    /// without duplicates.
    pub fn tags(&self, item: ItemView<'_>, topics: &[String]) -> Vec<Tag> {
        let mut tags: Vec<Tag> =
            Vec::with_capacity(self.source_tags.len() + item.categories.len() + topics.len());
        let mut add = |kind, name: &str| {
            tags.push(Tag {
                kind,
                name: name.to_owned(),
            })
        };
        self.source_tags
            .iter()
            .for_each(|t| add(TagKind::Source, t));
        item.categories
            .iter()
            .for_each(|c| add(TagKind::Category, c));
        topics.iter().for_each(|t| add(TagKind::Topic, t));
        tags.sort();
        tags.dedup();
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Rule, Topic};

    #[test]
    fn tags_of_an_item() {
        let topics = TopicSet::new(vec![
            Topic {
                slug: "digitalisierung".into(),
                title: "Digitalisierung".into(),
                description: None,
                rule: Rule::parse("digital* OR tag:fachpresse").unwrap(),
            },
            Topic {
                slug: "politik".into(),
                title: "Politik".into(),
                description: None,
                rule: Rule::parse("gemeinderat").unwrap(),
            },
        ])
        .unwrap();
        let source_tags = vec!["fachpresse".to_owned()];
        let tagger = Tagger {
            topics: &topics,
            source_id: "k21",
            source_tags: &source_tags,
        };
        let categories = vec!["E-Government".to_owned()];
        let item = ItemView {
            title: "Neues Portal",
            summary: Some("<p>Die Verwaltung wird <b>digitaler</b></p>"),
            content: None,
            author: None,
            link: None,
            categories: &categories,
        };
        let topics = tagger.topics(item);
        assert_eq!(topics, ["digitalisierung"]);
        let tags = tagger.tags(item, &topics);
        let shown: Vec<String> = tags
            .iter()
            .map(|t| format!("{}:{}", t.kind.as_str(), t.name))
            .collect();
        assert_eq!(
            shown,
            [
                "source:fachpresse",
                "category:E-Government",
                "topic:digitalisierung"
            ]
        );
    }
}
