//! The matcher: evaluates a compiled rule against one item.
//!
//! An item is prepared once into a [`Document`]: title, summary and content
//! are folded into one word index (with the boundaries between them kept),
//! sorted so that each term costs one binary search instead of a scan,
//! however many topics ask.

use std::ops::Range;

use super::parser::{Expr, Field, Pattern, Term};
use crate::fold::{self, FoldedWords};

/// Folded words with a sorted index for exact and prefix lookups.
#[derive(Debug, Default, Clone)]
struct Index {
    words: FoldedWords,
    /// Word indexes sorted by word.
    sorted: Vec<u32>,
}

impl Index {
    fn new(words: FoldedWords) -> Index {
        // Comparing an 8-byte big-endian prefix first orders most pairs with
        // one integer comparison instead of a string comparison.
        let keys: Vec<u64> = (0..words.len())
            .map(|i| {
                let mut key = [0u8; 8];
                let word = words.word(i).as_bytes();
                let n = word.len().min(8);
                key[..n].copy_from_slice(&word[..n]);
                u64::from_be_bytes(key)
            })
            .collect();
        let count = u32::try_from(words.len()).expect("items hold fewer than 2^32 words");
        let mut sorted: Vec<u32> = (0..count).collect();
        sorted.sort_unstable_by(|&a, &b| {
            keys[a as usize]
                .cmp(&keys[b as usize])
                .then_with(|| words.word(a as usize).cmp(words.word(b as usize)))
        });
        Index { words, sorted }
    }

    fn of(raw: &str) -> Index {
        Index::new(FoldedWords::new(raw))
    }

    /// Positions where `first` occurs (exactly, or as a prefix).
    fn positions<'a>(&'a self, first: &'a str, prefix: bool) -> impl Iterator<Item = usize> + 'a {
        let start = self
            .sorted
            .partition_point(|&i| self.words.word(i as usize) < first);
        self.sorted[start..]
            .iter()
            .take_while(move |&&i| {
                let word = self.words.word(i as usize);
                if prefix {
                    word.starts_with(first)
                } else {
                    word == first
                }
            })
            .map(|&i| i as usize)
    }

    /// The first position where `words` occur consecutively, all inside one
    /// of `ranges` (phrases never span two fields); with `prefix`, the last
    /// word may be the start of a longer one.
    fn find(&self, words: &[String], prefix: bool, ranges: &[Range<usize>]) -> Option<usize> {
        let last = words.len() - 1;
        self.positions(&words[0], prefix && last == 0)
            .find(|&start| {
                let Some(range) = ranges.iter().find(|r| r.contains(&start)) else {
                    return false;
                };
                start + last < range.end
                    && words.iter().enumerate().skip(1).all(|(offset, wanted)| {
                        let word = self.words.word(start + offset);
                        if prefix && offset == last {
                            word.starts_with(wanted.as_str())
                        } else {
                            word == wanted
                        }
                    })
            })
    }

    fn matches(&self, pattern: &Pattern, raw: &str) -> bool {
        let all = 0..self.words.len();
        match pattern {
            Pattern::Regex(regex) => regex.is_match(raw),
            Pattern::Words(words) => self
                .find(words, false, std::slice::from_ref(&all))
                .is_some(),
            Pattern::Prefix(words) => self.find(words, true, std::slice::from_ref(&all)).is_some(),
        }
    }
}

/// An item prepared for matching.
#[derive(Debug, Default, Clone)]
pub struct Document {
    title: String,
    summary: String,
    content: String,
    /// Title, summary and content words, in that order.
    text: Index,
    /// Word ranges of title, summary and content within `text`.
    fields: [Range<usize>; 3],
    author: (String, Index),
    link: (String, Index),
    categories: Vec<(String, Index)>,
    /// Folded source id and tags: matched whole, not by words.
    source: String,
    tags: Vec<String>,
}

/// The parts of an item a rule can see. Summary and content are plain text
/// (markup already stripped).
#[derive(Debug, Default, Clone)]
pub struct DocumentFields<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub content: &'a str,
    pub author: &'a str,
    pub link: &'a str,
    pub categories: &'a [String],
    pub source: &'a str,
    pub tags: &'a [String],
}

const TEXT_FIELDS: [Field; 3] = [Field::Title, Field::Summary, Field::Content];

impl Document {
    pub fn new(fields: &DocumentFields<'_>) -> Document {
        let mut words = FoldedWords::new(fields.title);
        let title_end = words.len();
        words.append(fields.summary);
        let summary_end = words.len();
        words.append(fields.content);
        let content_end = words.len();
        let with_index = |raw: &str| (raw.to_owned(), Index::of(raw));
        Document {
            title: fields.title.to_owned(),
            summary: fields.summary.to_owned(),
            content: fields.content.to_owned(),
            text: Index::new(words),
            fields: [
                0..title_end,
                title_end..summary_end,
                summary_end..content_end,
            ],
            author: with_index(fields.author),
            link: with_index(fields.link),
            categories: fields.categories.iter().map(|c| with_index(c)).collect(),
            source: fold::fold(fields.source),
            tags: fields.tags.iter().map(|t| fold::fold(t.trim())).collect(),
        }
    }

    /// Adds a tag (a matched topic's slug), so later topics can refer to it with `tag:`.
    pub fn add_tag(&mut self, tag: &str) {
        self.tags.push(fold::fold(tag));
    }

    /// Which of title, summary and content (by position in `fields`) a field means.
    fn text_fields(field: Field) -> Range<usize> {
        match field {
            Field::Title => 0..1,
            Field::Summary => 1..2,
            Field::Content => 2..3,
            _ => 0..3,
        }
    }

    fn raw(&self, field: Field) -> &str {
        match field {
            Field::Title => &self.title,
            Field::Summary => &self.summary,
            _ => &self.content,
        }
    }

    fn term_matches(&self, term: &Term) -> Option<Field> {
        let pattern = &term.pattern;
        match term.field {
            Field::Title | Field::Summary | Field::Content | Field::Text => {
                let wanted = Document::text_fields(term.field);
                let (words, prefix) = match pattern {
                    Pattern::Regex(regex) => {
                        return TEXT_FIELDS[wanted]
                            .iter()
                            .copied()
                            .find(|&f| regex.is_match(self.raw(f)));
                    }
                    Pattern::Words(words) => (words, false),
                    Pattern::Prefix(words) => (words, true),
                };
                let at = self.text.find(words, prefix, &self.fields[wanted])?;
                let index = self
                    .fields
                    .iter()
                    .position(|r| r.contains(&at))
                    .expect("inside a field");
                Some(TEXT_FIELDS[index])
            }
            Field::Author => self
                .author
                .1
                .matches(pattern, &self.author.0)
                .then_some(Field::Author),
            Field::Link => self
                .link
                .1
                .matches(pattern, &self.link.0)
                .then_some(Field::Link),
            Field::Category => self
                .categories
                .iter()
                .any(|(raw, index)| index.matches(pattern, raw))
                .then_some(Field::Category),
            Field::Source => whole_value(pattern, &self.source).then_some(Field::Source),
            Field::Tag => self
                .tags
                .iter()
                .any(|t| whole_value(pattern, t))
                .then_some(Field::Tag),
        }
    }
}

/// Source ids and tags are matched as whole values (`source:kommune21`),
/// or by prefix with `*`.
pub(super) fn whole_value(pattern: &Pattern, value: &str) -> bool {
    match pattern {
        Pattern::Regex(regex) => regex.is_match(value),
        Pattern::Words(words) => fold::words(value) == *words,
        Pattern::Prefix(words) => {
            let joined = words.join(" ");
            fold::words(value).join(" ").starts_with(&joined)
        }
    }
}

/// One term that matched, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub term: String,
    pub field: Field,
}

/// Evaluates `expr` against `doc`.
pub fn matches(expr: &Expr, doc: &Document) -> bool {
    match expr {
        Expr::Term(term) => doc.term_matches(term).is_some(),
        Expr::And(parts) => parts.iter().all(|p| matches(p, doc)),
        Expr::Or(parts) => parts.iter().any(|p| matches(p, doc)),
        Expr::Not(inner) => !matches(inner, doc),
    }
}

/// Every term of `expr` that matches `doc`, whether or not the whole rule
/// does: the raw material for `kurator explain`.
pub fn hits(expr: &Expr, doc: &Document) -> Vec<Hit> {
    let mut found = Vec::new();
    collect_hits(expr, doc, &mut found);
    found
}

fn collect_hits(expr: &Expr, doc: &Document, found: &mut Vec<Hit>) {
    match expr {
        Expr::Term(term) => {
            if let Some(field) = doc.term_matches(term) {
                found.push(Hit {
                    term: term.source.clone(),
                    field,
                });
            }
        }
        Expr::And(parts) | Expr::Or(parts) => {
            parts.iter().for_each(|p| collect_hits(p, doc, found))
        }
        Expr::Not(inner) => collect_hits(inner, doc, found),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::*;

    fn doc() -> Document {
        Document::new(&DocumentFields {
            title: "Darmstadt wird Smart-City: Bürgerservice jetzt digital",
            summary: "Die Stadtverwaltung startet das Online-Portal für Bürgerinnen und Bürger.",
            content: "Mit der Digitalisierung der Verwaltung spart die Straßenverkehrsbehörde Zeit.",
            author: "Pressestelle Darmstadt",
            link: "https://www.darmstadt.de/presse/smart-city?id=7",
            categories: &["Smart City".to_owned(), "Verwaltung".to_owned()],
            source: "darmstadt-presse",
            tags: &["kommunen".to_owned()],
        })
    }

    fn check(rule: &str) -> bool {
        let expr = parse(rule).unwrap_or_else(|e| panic!("{}", e.caret(rule)));
        matches(&expr, &doc())
    }

    #[test]
    fn german_folding() {
        assert!(check("bürgerservice"));
        assert!(check("Buergerservice"));
        assert!(check("BÜRGERSERVICE"));
        assert!(check("strassenverkehrsbehoerde"));
        assert!(check("Straßenverkehrsbehörde"));
    }

    #[test]
    fn word_boundaries_and_wildcards() {
        assert!(
            !check("stadt"),
            "no match inside Darmstadt or Stadtverwaltung"
        );
        assert!(check("stadt*"), "Stadtverwaltung");
        assert!(check("digital*"), "Digitalisierung");
        assert!(check("digital"));
        assert!(!check("digitalis"));
        assert!(check("bürger*"), "Bürgerinnen, Bürger");
    }

    #[test]
    fn phrases() {
        assert!(
            check("\"smart city\""),
            "Smart-City is the two words smart city"
        );
        assert!(
            check("smart-city"),
            "an unquoted hyphenated term is a phrase"
        );
        assert!(!check("\"city smart\""));
        assert!(check("\"online portal\""));
        assert!(check("\"bürgerservice jetzt dig*\""));
    }

    #[test]
    fn fields() {
        assert!(check("title:darmstadt"));
        assert!(!check("summary:darmstadt"));
        assert!(check("content:digitalisierung"));
        assert!(!check("title:digitalisierung"));
        assert!(check("category:\"Smart City\""));
        assert!(
            !check("category:\"city verwaltung\""),
            "a phrase does not span two categories"
        );
        assert!(check("source:darmstadt-presse"));
        assert!(!check("source:darmstadt"));
        assert!(check("source:darmstadt*"));
        assert!(check("tag:kommunen"));
        assert!(check("author:pressestelle"));
        assert!(check("link:darmstadt.de"));
        assert!(check("title:/smart-city:/"));
        assert!(!check("title:/^smart/"));
    }

    #[test]
    fn boolean_logic() {
        assert!(check("darmstadt AND digital*"));
        assert!(!check("darmstadt AND berlin"));
        assert!(check("berlin OR darmstadt"));
        assert!(check("darmstadt -berlin"));
        assert!(!check("darmstadt NOT digitalisierung"));
        assert!(check("(berlin OR hamburg) OR (smart AND city)"));
        assert!(check(
            r#""smart city" OR digitalstadt* OR category:"Smart City" OR (digital* AND stadt*)"#
        ));
    }

    #[test]
    fn hits_name_term_and_field() {
        let expr = parse("darmstadt OR berlin OR category:verwaltung").unwrap();
        let found = hits(&expr, &doc());
        assert_eq!(
            found,
            vec![
                Hit {
                    term: "darmstadt".into(),
                    field: Field::Title
                },
                Hit {
                    term: "verwaltung".into(),
                    field: Field::Category
                },
            ]
        );
    }
}
