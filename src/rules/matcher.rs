//! The matcher: evaluates a compiled rule against one item.
//!
//! An item is prepared once into a [`Document`]: every field split into
//! folded words, with a sorted index per field, so each term costs a binary
//! search instead of a scan, however many topics there are.

use super::fold;
use super::parser::{Expr, Field, Pattern, Term};

/// The words of one field (or of one value, for multi-valued fields).
#[derive(Debug, Default, Clone)]
struct Words {
    /// The original text, for regexes.
    raw: String,
    /// Folded words in order.
    words: Vec<String>,
    /// Indexes into `words`, sorted by word: exact and prefix lookups.
    sorted: Vec<u32>,
}

impl Words {
    fn new(raw: &str) -> Words {
        let words = fold::words(raw);
        let mut sorted: Vec<u32> = (0..words.len() as u32).collect();
        sorted.sort_by(|&a, &b| words[a as usize].cmp(&words[b as usize]));
        Words {
            raw: raw.to_owned(),
            words,
            sorted,
        }
    }

    /// Positions where `first` occurs (exactly, or as a prefix).
    fn positions<'a>(&'a self, first: &'a str, prefix: bool) -> impl Iterator<Item = usize> + 'a {
        let start = self
            .sorted
            .partition_point(|&i| self.words[i as usize].as_str() < first);
        self.sorted[start..]
            .iter()
            .take_while(move |&&i| {
                let word = &self.words[i as usize];
                if prefix {
                    word.starts_with(first)
                } else {
                    word == first
                }
            })
            .map(|&i| i as usize)
    }

    fn matches(&self, pattern: &Pattern) -> bool {
        match pattern {
            Pattern::Regex(regex) => regex.is_match(&self.raw),
            Pattern::Words(words) => self.phrase_at_any(words, false),
            Pattern::Prefix(words) => self.phrase_at_any(words, true),
        }
    }

    /// Whether `words` occur consecutively; with `prefix`, the last one may
    /// be the start of a longer word.
    fn phrase_at_any(&self, words: &[String], prefix: bool) -> bool {
        let last = words.len() - 1;
        let first_is_prefix = prefix && last == 0;
        self.positions(&words[0], first_is_prefix).any(|start| {
            words.iter().enumerate().skip(1).all(|(offset, wanted)| {
                self.words.get(start + offset).is_some_and(|word| {
                    if prefix && offset == last {
                        word.starts_with(wanted.as_str())
                    } else {
                        word == wanted
                    }
                })
            })
        })
    }
}

/// An item prepared for matching.
#[derive(Debug, Default, Clone)]
pub struct Document {
    title: Words,
    summary: Words,
    content: Words,
    author: Words,
    link: Words,
    categories: Vec<Words>,
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

impl Document {
    pub fn new(fields: &DocumentFields<'_>) -> Document {
        Document {
            title: Words::new(fields.title),
            summary: Words::new(fields.summary),
            content: Words::new(fields.content),
            author: Words::new(fields.author),
            link: Words::new(fields.link),
            categories: fields.categories.iter().map(|c| Words::new(c)).collect(),
            source: fold::fold(fields.source),
            tags: fields.tags.iter().map(|t| fold::fold(t.trim())).collect(),
        }
    }

    /// Adds a tag (a matched topic's slug), so later topics can refer to it with `tag:`.
    pub fn add_tag(&mut self, tag: &str) {
        self.tags.push(fold::fold(tag));
    }

    fn term_matches(&self, term: &Term) -> Option<Field> {
        let pattern = &term.pattern;
        let hit = |field: Field, words: &Words| words.matches(pattern).then_some(field);
        match term.field {
            Field::Title => hit(Field::Title, &self.title),
            Field::Summary => hit(Field::Summary, &self.summary),
            Field::Content => hit(Field::Content, &self.content),
            Field::Text => hit(Field::Title, &self.title)
                .or_else(|| hit(Field::Summary, &self.summary))
                .or_else(|| hit(Field::Content, &self.content)),
            Field::Author => hit(Field::Author, &self.author),
            Field::Link => hit(Field::Link, &self.link),
            Field::Category => self.categories.iter().find_map(|c| hit(Field::Category, c)),
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
fn whole_value(pattern: &Pattern, value: &str) -> bool {
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
