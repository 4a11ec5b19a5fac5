//! Tag: which tags an item carries, and what rules see of it.
//!
//! An item's tags are its source's `tags`, its feed categories and the slug of
//! every topic it matches. Topics are matched at ingest and stored in the same
//! transaction as the item (`kurator retag` recomputes them when rules
//! change); the other two are read from where they live, the config and the
//! item, so they are never stale. Topics see the source tags, the categories
//! and each other's slugs (in dependency order) through `tag:`.

use std::borrow::Cow;

use crate::config::Config;
use crate::normalize::Item;
use crate::rules::{Document, DocumentFields, TopicSet};
use crate::store::StoredItem;

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

impl<'a> From<&'a StoredItem> for ItemView<'a> {
    fn from(item: &'a StoredItem) -> Self {
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

/// Tags the items of one source.
#[derive(Debug, Clone, Copy)]
pub struct Tagger<'a> {
    pub topics: &'a TopicSet,
    pub source_id: &'a str,
    pub source_tags: &'a [String],
}

impl<'a> Tagger<'a> {
    /// The tagger for a configured source's items (an unknown source, one
    /// removed from the config, has no source tags).
    pub fn for_source(config: &'a Config, source_id: &'a str) -> Tagger<'a> {
        Tagger {
            topics: &config.topics,
            source_id,
            source_tags: config.source(source_id).map_or(&[], |s| s.tags.as_slice()),
        }
    }

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

    /// The slugs of the topics `item` matches, in evaluation order.
    pub fn topics(&self, item: ItemView<'_>) -> Vec<String> {
        if self.topics.topics().is_empty() {
            return Vec::new();
        }
        let mut document = self.document(item);
        self.topics
            .tag(&mut document)
            .into_iter()
            .map(str::to_owned)
            .collect()
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

/// The text of sanitized HTML, for matching: tags become spaces, entities
/// characters. Not a general HTML parser, and it need not be: its input has
/// been through the sanitizer, and words are all that matter here.
pub fn markup_to_text(html: &str) -> Cow<'_, str> {
    if !html.contains(['<', '&']) {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            out.push(' ');
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            continue;
        }
        let decoded = rest
            .find(';')
            .filter(|&end| end <= 40)
            .and_then(|end| decode_entity(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(value);
    }
    let (first, _) = markup5ever::data::NAMED_ENTITIES.get(format!("{name};").as_str())?;
    char::from_u32(*first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Rule, Topic};

    #[test]
    fn markup_becomes_words() {
        assert_eq!(markup_to_text("plain"), "plain");
        assert_eq!(
            markup_to_text(
                "<p>Stra&szlig;e&nbsp;und <a href=\"x\">B&uuml;rger</a> &amp; &#246;&#x41; &bogus</p>"
            ),
            " Straße\u{a0}und  Bürger  & öA &bogus "
        );
    }

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
