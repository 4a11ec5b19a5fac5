//! Tagging at ingest speed: all topics at once, one pass over an item's words.
//!
//! [`Document`](super::Document) folds an item into a sorted word index and
//! then looks every term of every topic up in it, so its cost grows with the
//! number of terms and it pays for a sort per item. Ingest tags every item
//! against every topic, so [`Compiled`] turns that around: the words of all
//! topics' text terms are compiled once into one byte trie over folded words
//! (exact words and `prefix*`es alike), and each item's title, summary and
//! content are folded and walked through it byte by byte, straight from the
//! HTML, without building any string. Only words some rule asks for are
//! recorded: for each term word, the fields it occurs in, and (for words of
//! phrases) its positions, so a phrase still has to be consecutive words of
//! one field. Most words leave the trie after a byte or two, and the rest of
//! such a word is skipped.
//!
//! The rest of a rule (regexes, `author:`, `link:`, `category:`, `source:`,
//! `tag:`) is rare and small, and is evaluated with the same functions as the
//! general matcher, from values prepared lazily per item. The result must be
//! the same as [`TopicSet::tag`](super::TopicSet::tag) on a `Document` for
//! every item; tests compare the two.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;

use regex::Regex;

use super::Topic;
use super::fold::{self, FoldedWords};
use super::markup::{self, Piece};
use super::matcher::whole_value;
use super::parser::{Expr, Field, Pattern, Term};

/// No key ends at a trie node.
const NONE: u32 = u32::MAX;
/// The state of a word that no key starts like.
const DEAD: u32 = u32::MAX;

/// Field bits of the per-key occurrence masks.
const TITLE: u8 = 1;
const SUMMARY: u8 = 2;
const CONTENT: u8 = 4;

fn field_bits(field: Field) -> u8 {
    match field {
        Field::Title => TITLE,
        Field::Summary => SUMMARY,
        Field::Content => CONTENT,
        _ => TITLE | SUMMARY | CONTENT,
    }
}

/// The parts of an item tagging reads. Summary and content are sanitized
/// HTML, as stored; the other fields are plain text.
#[derive(Debug, Clone, Copy, Default)]
pub struct ItemFields<'a> {
    pub title: &'a str,
    pub summary: Option<&'a str>,
    pub content: Option<&'a str>,
    pub author: &'a str,
    pub link: &'a str,
    pub categories: &'a [String],
    pub source: &'a str,
    /// The source's tags; rules see them, and the categories, through `tag:`.
    pub source_tags: &'a [String],
}

/// A byte trie over folded words. Bytes are mapped to classes first (class 0:
/// a byte no key contains), so that a node's transitions are one short row.
#[derive(Debug, Clone)]
struct Trie {
    class: Box<[u8; 256]>,
    /// Classes per row.
    width: usize,
    /// `next[node * width + class]`: the child, or 0 (the root is nobody's child).
    next: Vec<u32>,
    /// The exact-word key that ends at each node, or [`NONE`].
    exact: Vec<u32>,
    /// The prefix key that ends at each node, or [`NONE`].
    prefix: Vec<u32>,
}

impl Trie {
    /// `keys`: (folded word, is a prefix); a key's id is its index.
    fn new(keys: &[(String, bool)]) -> Trie {
        let mut class = Box::new([0u8; 256]);
        let mut width = 1;
        for (word, _) in keys {
            for b in word.bytes() {
                if class[b as usize] == 0 {
                    // Folded words are UTF-8 without ASCII punctuation: far
                    // fewer than 255 distinct bytes.
                    class[b as usize] = u8::try_from(width).expect("under 256 byte classes");
                    width += 1;
                }
            }
        }
        let mut trie = Trie {
            class,
            width,
            next: vec![0; width],
            exact: vec![NONE],
            prefix: vec![NONE],
        };
        for (id, (word, is_prefix)) in keys.iter().enumerate() {
            let mut node = 0usize;
            for b in word.bytes() {
                let slot = node * width + trie.class[b as usize] as usize;
                if trie.next[slot] == 0 {
                    trie.next[slot] = trie.exact.len() as u32;
                    trie.next.resize(trie.next.len() + width, 0);
                    trie.exact.push(NONE);
                    trie.prefix.push(NONE);
                }
                node = trie.next[slot] as usize;
            }
            let ends = if *is_prefix {
                &mut trie.prefix
            } else {
                &mut trie.exact
            };
            ends[node] = id as u32;
        }
        trie
    }
}

/// A rule with its text terms turned into key lookups.
#[derive(Debug, Clone)]
enum Node {
    /// A one-word term (exact or prefix) in some of title, summary, content.
    Word {
        key: u32,
        fields: u8,
    },
    /// Consecutive words, all in one field, starting in one of `fields`.
    Phrase {
        keys: Box<[u32]>,
        fields: u8,
    },
    /// A regex over the text of title, summary or content.
    TextRegex {
        regex: Regex,
        fields: u8,
    },
    /// `author:`, `link:`, `category:`: words (or a regex) within a value.
    Value {
        field: Field,
        pattern: Pattern,
    },
    /// `source:`: the whole source id.
    Source(Pattern),
    /// `tag:`: a topic evaluated earlier (those whose slug the pattern
    /// matches, by index), or one of the item's own tags.
    Tag {
        topics: Box<[usize]>,
        pattern: Pattern,
    },
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
}

impl Node {
    /// Whether evaluating the node touches more than the scan's results.
    fn is_costly(&self) -> bool {
        match self {
            Node::Word { .. } | Node::Phrase { .. } | Node::Tag { .. } => false,
            Node::TextRegex { .. } | Node::Value { .. } | Node::Source(_) => true,
            Node::And(parts) | Node::Or(parts) => parts.iter().any(Node::is_costly),
            Node::Not(inner) => inner.is_costly(),
        }
    }
}

/// Collects the keys of all topics while they are compiled.
#[derive(Default)]
struct Keys {
    ids: HashMap<(String, bool), u32>,
    list: Vec<(String, bool)>,
    in_phrase: Vec<bool>,
}

impl Keys {
    fn id(&mut self, word: &str, prefix: bool, in_phrase: bool) -> u32 {
        let id = *self
            .ids
            .entry((word.to_owned(), prefix))
            .or_insert_with(|| {
                self.list.push((word.to_owned(), prefix));
                self.in_phrase.push(false);
                (self.list.len() - 1) as u32
            });
        self.in_phrase[id as usize] |= in_phrase;
        id
    }
}

/// Topics compiled for tagging, in the evaluation order of their `TopicSet`.
#[derive(Debug, Clone)]
pub struct Compiled {
    trie: Trie,
    /// Per key: whether a phrase uses it (so its positions are recorded).
    in_phrase: Vec<bool>,
    topics: Vec<Node>,
}

impl Default for Compiled {
    fn default() -> Compiled {
        Compiled::new(&[])
    }
}

impl Compiled {
    /// Compiles `topics`, which are in evaluation order.
    pub fn new(topics: &[Topic]) -> Compiled {
        let mut keys = Keys::default();
        let slugs: Vec<String> = topics.iter().map(|t| fold::fold(&t.slug)).collect();
        let nodes = topics
            .iter()
            .enumerate()
            .map(|(index, topic)| compile(&topic.rule.expr, &mut keys, &slugs[..index]))
            .collect();
        Compiled {
            trie: Trie::new(&keys.list),
            in_phrase: keys.in_phrase,
            topics: nodes,
        }
    }

    /// Calls `found` with the index of every topic `item` matches, in order.
    pub fn matching(&self, item: &ItemFields<'_>, mut found: impl FnMut(usize)) {
        thread_local! {
            static SCRATCH: RefCell<Scratch> = RefCell::default();
        }
        SCRATCH.with_borrow_mut(|scratch| {
            let Scratch {
                seen,
                occurrences,
                folded,
                matched,
            } = scratch;
            seen.clear();
            seen.resize(self.in_phrase.len(), 0);
            occurrences.clear();
            matched.clear();
            matched.resize(self.topics.len(), false);

            let mut scan = Scan {
                trie: &self.trie,
                in_phrase: &self.in_phrase,
                node: DEAD,
                in_word: false,
                position: 0,
                field: TITLE,
                seen,
                occurrences,
                folded,
            };
            scan.text(item.title);
            let title_end = scan.end_field();
            if let Some(html) = item.summary {
                scan.markup(html);
            }
            let summary_end = scan.end_field();
            if let Some(html) = item.content {
                scan.markup(html);
            }
            let content_end = scan.end_field();

            let context = Context {
                item,
                seen,
                occurrences,
                ends: [title_end, summary_end, content_end],
                plain: OnceCell::new(),
                author: OnceCell::new(),
                link: OnceCell::new(),
                categories: OnceCell::new(),
                source: OnceCell::new(),
                tags: OnceCell::new(),
            };
            for (index, node) in self.topics.iter().enumerate() {
                if context.eval(node, matched) {
                    matched[index] = true;
                    found(index);
                }
            }
        });
    }
}

/// Buffers reused from item to item on one thread.
#[derive(Default)]
struct Scratch {
    seen: Vec<u8>,
    occurrences: Vec<(u32, u32)>,
    folded: String,
    matched: Vec<bool>,
}

/// `slugs`: the folded slugs of the topics evaluated before this one.
fn compile(expr: &Expr, keys: &mut Keys, slugs: &[String]) -> Node {
    match expr {
        Expr::Term(term) => compile_term(term, keys, slugs),
        Expr::And(parts) => Node::And(compile_parts(parts, keys, slugs)),
        Expr::Or(parts) => Node::Or(compile_parts(parts, keys, slugs)),
        Expr::Not(inner) => Node::Not(Box::new(compile(inner, keys, slugs))),
    }
}

/// The parts of AND or OR, the cheap ones first: the result is the same in
/// any order, and a cheap part often decides it.
fn compile_parts(parts: &[Expr], keys: &mut Keys, slugs: &[String]) -> Box<[Node]> {
    let mut nodes: Vec<Node> = parts.iter().map(|p| compile(p, keys, slugs)).collect();
    nodes.sort_by_key(Node::is_costly);
    nodes.into()
}

fn compile_term(term: &Term, keys: &mut Keys, slugs: &[String]) -> Node {
    let pattern = &term.pattern;
    match term.field {
        Field::Title | Field::Summary | Field::Content | Field::Text => {
            let fields = field_bits(term.field);
            let (words, prefix) = match pattern {
                Pattern::Regex(regex) => {
                    return Node::TextRegex {
                        regex: regex.clone(),
                        fields,
                    };
                }
                Pattern::Words(words) => (words, false),
                Pattern::Prefix(words) => (words, true),
            };
            let last = words.len() - 1;
            if last == 0 {
                return Node::Word {
                    key: keys.id(&words[0], prefix, false),
                    fields,
                };
            }
            let keys = words
                .iter()
                .enumerate()
                .map(|(i, word)| keys.id(word, prefix && i == last, true))
                .collect();
            Node::Phrase { keys, fields }
        }
        Field::Author | Field::Link | Field::Category => Node::Value {
            field: term.field,
            pattern: pattern.clone(),
        },
        Field::Source => Node::Source(pattern.clone()),
        Field::Tag => Node::Tag {
            topics: (0..slugs.len())
                .filter(|&i| whole_value(pattern, &slugs[i]))
                .collect(),
            pattern: pattern.clone(),
        },
    }
}

/// Folds an item's text and walks it through the trie.
struct Scan<'a> {
    trie: &'a Trie,
    in_phrase: &'a [bool],
    /// Where the current word is in the trie, or [`DEAD`].
    node: u32,
    in_word: bool,
    /// Words before the current one, over title, summary and content.
    position: u32,
    /// The bit of the field being read.
    field: u8,
    seen: &'a mut [u8],
    occurrences: &'a mut Vec<(u32, u32)>,
    folded: &'a mut String,
}

impl Scan<'_> {
    /// Plain text.
    fn text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if b.is_ascii_alphanumeric() {
                    if !self.in_word {
                        self.in_word = true;
                        self.node = 0;
                    }
                    self.step(b.to_ascii_lowercase());
                    if self.node == DEAD {
                        // No key goes on like this: skip the rest of an ASCII word.
                        i += 1;
                        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                            i += 1;
                        }
                        continue;
                    }
                } else {
                    self.end_word();
                }
                i += 1;
            } else {
                let c = text[i..].chars().next().expect("i is on a char boundary");
                self.char(c);
                i += c.len_utf8();
            }
        }
    }

    /// Sanitized HTML.
    fn markup(&mut self, html: &str) {
        markup::for_each_piece(html, |piece| match piece {
            Piece::Text(text) => self.text(text),
            Piece::Char(c) => self.char(c),
            Piece::Tag => self.end_word(),
        });
    }

    fn char(&mut self, c: char) {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                if !self.in_word {
                    self.in_word = true;
                    self.node = 0;
                }
                self.step(c.to_ascii_lowercase() as u8);
            } else {
                self.end_word();
            }
        } else if c.is_alphanumeric() {
            if !self.in_word {
                self.in_word = true;
                self.node = 0;
            }
            if self.node != DEAD {
                let mut folded = std::mem::take(self.folded);
                folded.clear();
                fold::push_folded(c, &mut folded);
                for b in folded.bytes() {
                    self.step(b);
                }
                *self.folded = folded;
            }
        } else {
            self.end_word();
        }
    }

    /// One byte of a folded word.
    #[inline]
    fn step(&mut self, b: u8) {
        if self.node == DEAD {
            return;
        }
        let trie = self.trie;
        let next = trie.next[self.node as usize * trie.width + trie.class[b as usize] as usize];
        if next == 0 {
            self.node = DEAD;
            return;
        }
        self.node = next;
        let key = trie.prefix[next as usize];
        if key != NONE {
            self.record(key);
        }
    }

    fn end_word(&mut self) {
        if !self.in_word {
            return;
        }
        if self.node != DEAD {
            let key = self.trie.exact[self.node as usize];
            if key != NONE {
                self.record(key);
            }
        }
        self.in_word = false;
        self.position += 1;
    }

    fn record(&mut self, key: u32) {
        self.seen[key as usize] |= self.field;
        if self.in_phrase[key as usize] {
            self.occurrences.push((self.position, key));
        }
    }

    /// Ends the field being read; returns the position after its last word.
    fn end_field(&mut self) -> u32 {
        self.end_word();
        self.field <<= 1;
        self.position
    }
}

/// What rules are evaluated against: the scan's results, and the item's
/// other values, prepared when a rule first asks for them.
struct Context<'a> {
    item: &'a ItemFields<'a>,
    seen: &'a [u8],
    occurrences: &'a [(u32, u32)],
    /// Positions after the last word of title, summary and content.
    ends: [u32; 3],
    /// Summary and content as text.
    plain: OnceCell<[Cow<'a, str>; 2]>,
    author: OnceCell<FoldedWords>,
    link: OnceCell<FoldedWords>,
    categories: OnceCell<Vec<FoldedWords>>,
    source: OnceCell<String>,
    /// The source tags and categories, folded as `Document` folds them.
    tags: OnceCell<Vec<String>>,
}

impl Context<'_> {
    /// `matched`: per topic evaluated so far, whether it matched.
    fn eval(&self, node: &Node, matched: &[bool]) -> bool {
        match node {
            Node::Word { key, fields } => self.seen[*key as usize] & fields != 0,
            Node::Phrase { keys, fields } => self.phrase(keys, *fields),
            Node::TextRegex { regex, fields } => self.text_regex(regex, *fields),
            Node::Value { field, pattern } => self.value(*field, pattern),
            Node::Source(pattern) => whole_value(
                pattern,
                self.source.get_or_init(|| fold::fold(self.item.source)),
            ),
            Node::Tag { topics, pattern } => {
                topics.iter().any(|&i| matched[i])
                    || self
                        .tags
                        .get_or_init(|| {
                            let item = self.item;
                            item.source_tags
                                .iter()
                                .chain(item.categories)
                                .map(|t| fold::fold(t.trim()))
                                .collect()
                        })
                        .iter()
                        .any(|t| whole_value(pattern, t))
            }
            Node::And(parts) => parts.iter().all(|p| self.eval(p, matched)),
            Node::Or(parts) => parts.iter().any(|p| self.eval(p, matched)),
            Node::Not(inner) => !self.eval(inner, matched),
        }
    }

    /// Which field (0 title, 1 summary, 2 content) a word position is in.
    fn field_of(&self, position: u32) -> usize {
        self.ends
            .iter()
            .position(|&end| position < end)
            .unwrap_or(2)
    }

    fn phrase(&self, keys: &[u32], fields: u8) -> bool {
        let last = keys.len() as u32 - 1;
        self.occurrences
            .iter()
            .filter(|&&(_, key)| key == keys[0])
            .any(|&(start, _)| {
                let field = self.field_of(start);
                fields & (1 << field) != 0
                    && start + last < self.ends[field]
                    && (1..=last).all(|offset| self.occurs(start + offset, keys[offset as usize]))
            })
    }

    fn occurs(&self, position: u32, key: u32) -> bool {
        let from = self.occurrences.partition_point(|&(p, _)| p < position);
        self.occurrences[from..]
            .iter()
            .take_while(|&&(p, _)| p == position)
            .any(|&(_, k)| k == key)
    }

    fn text_regex(&self, regex: &Regex, fields: u8) -> bool {
        let item = self.item;
        let plain = self.plain.get_or_init(|| {
            [item.summary, item.content]
                .map(|html| html.map(markup::markup_to_text).unwrap_or_default())
        });
        (fields & TITLE != 0 && regex.is_match(item.title))
            || (fields & SUMMARY != 0 && regex.is_match(&plain[0]))
            || (fields & CONTENT != 0 && regex.is_match(&plain[1]))
    }

    fn value(&self, field: Field, pattern: &Pattern) -> bool {
        let item = self.item;
        let one = |raw: &str, words: &OnceCell<FoldedWords>| match pattern {
            Pattern::Regex(regex) => regex.is_match(raw),
            Pattern::Words(wanted) => {
                contains(words.get_or_init(|| FoldedWords::new(raw)), wanted, false)
            }
            Pattern::Prefix(wanted) => {
                contains(words.get_or_init(|| FoldedWords::new(raw)), wanted, true)
            }
        };
        match field {
            Field::Author => one(item.author, &self.author),
            Field::Link => one(item.link, &self.link),
            _ => {
                if let Pattern::Regex(regex) = pattern {
                    return item.categories.iter().any(|c| regex.is_match(c));
                }
                let (Pattern::Words(wanted) | Pattern::Prefix(wanted)) = pattern else {
                    unreachable!("regexes are handled above")
                };
                let prefix = matches!(pattern, Pattern::Prefix(_));
                self.categories
                    .get_or_init(|| {
                        item.categories
                            .iter()
                            .map(|c| FoldedWords::new(c))
                            .collect()
                    })
                    .iter()
                    .any(|words| contains(words, wanted, prefix))
            }
        }
    }
}

/// Whether `wanted` occur consecutively in `words`; with `prefix`, the last
/// may be the start of a longer word.
fn contains(words: &FoldedWords, wanted: &[String], prefix: bool) -> bool {
    let last = wanted.len() - 1;
    (0..words.len()).any(|start| {
        start + last < words.len()
            && wanted.iter().enumerate().all(|(offset, want)| {
                let word = words.word(start + offset);
                if prefix && offset == last {
                    word.starts_with(want.as_str())
                } else {
                    word == want
                }
            })
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Rule, TopicSet};
    use super::*;

    fn topics(rules: &[(&str, &str)]) -> TopicSet {
        TopicSet::new(
            rules
                .iter()
                .map(|(slug, rule)| Topic {
                    slug: (*slug).into(),
                    title: (*slug).into(),
                    description: None,
                    rule: Rule::parse(rule).unwrap_or_else(|e| panic!("{}", e.caret(rule))),
                })
                .collect(),
        )
        .unwrap()
    }

    fn item() -> ItemFields<'static> {
        ItemFields {
            title: "Darmstadt wird Smart-City: BÜRGERSERVICE jetzt digital",
            summary: Some(
                "<p>Die Stadtverwaltung startet das Online-<b>Portal</b> f&uuml;r B&uuml;rger.</p>",
            ),
            content: Some(
                "Mit der Digitalisierung spart die Stra<i>ß</i>enverkehrsbeh&ouml;rde Zeit.",
            ),
            author: "Pressestelle Darmstadt",
            link: "https://www.darmstadt.de/presse/smart-city?id=7",
            categories: &[],
            source: "darmstadt-presse",
            source_tags: &[],
        }
    }

    /// Whether `rule` matches [`item`] through the compiled path (checked
    /// against the general matcher).
    fn check(rule: &str) -> bool {
        let set = topics(&[("t", rule)]);
        let item = item();
        let fast = set.tag_item(&item);
        let text = |html: Option<&'static str>| markup::markup_to_text(html.unwrap_or_default());
        let mut document = super::super::Document::new(&super::super::DocumentFields {
            title: item.title,
            summary: &text(item.summary),
            content: &text(item.content),
            author: item.author,
            link: item.link,
            categories: item.categories,
            source: item.source,
            tags: item.source_tags,
        });
        assert_eq!(fast, set.tag(&mut document), "{rule}");
        !fast.is_empty()
    }

    #[test]
    fn folding_in_text_and_markup() {
        assert!(check("bürgerservice"));
        assert!(check("Buergerservice"));
        assert!(check("bürger"), "B&uuml;rger is one word");
        assert!(check("für"));
        assert!(
            !check("straßenverkehrsbehörde"),
            "a tag inside a word splits it"
        );
        assert!(check("\"stra ß enverkehrsbehörde\""));
        assert!(check("Digitalisierung"), "an entity inside a word does not");
        assert!(!check("stadt"), "no match inside a longer word");
        assert!(!check("p OR b OR i"), "tags are not words");
    }

    #[test]
    fn prefixes() {
        assert!(check("digital*"));
        assert!(check("digital"));
        assert!(!check("digitalis"));
        assert!(check("digitalis*"), "Digitalisierung");
        assert!(check("stadt*"), "Stadtverwaltung");
        assert!(
            check("stadtverwaltung*"),
            "a prefix matches the whole word too"
        );
        assert!(check("darm*"));
        assert!(!check("darmstadtx*"));
    }

    #[test]
    fn phrases_stay_inside_one_field() {
        assert!(check("\"smart city\""));
        assert!(check("\"online portal\""));
        assert!(check("\"bürgerservice jetzt dig*\""));
        assert!(!check("\"city smart\""));
        assert!(
            !check("\"digital die\""),
            "the title's last word and the summary's first"
        );
        assert!(
            !check("\"bürger mit\""),
            "summary's last and content's first"
        );
        assert!(check("title:\"smart cit*\""));
        assert!(!check("summary:\"smart city\""));
        assert!(check("content:\"spart die\""));
    }

    #[test]
    fn fields_and_not() {
        assert!(check("title:darmstadt"));
        assert!(!check("summary:darmstadt"));
        assert!(check("summary:portal -title:portal"));
        assert!(!check("darmstadt NOT digitalisierung"));
        assert!(check("darmstadt NOT (berlin OR hamburg)"));
        assert!(check(
            "author:pressestelle link:\"smart city\" source:darmstadt*"
        ));
        assert!(!check("source:darmstadt"));
        assert!(check("summary:/Online- Portal/ content:/Stra ß e/"));
    }

    #[test]
    fn tag_dependencies() {
        let set = topics(&[
            ("kommunal-digital", "tag:digitalisierung AND darmstadt"),
            ("digitalisierung", "digital* OR ozg"),
            ("nie", "berlin"),
            ("ohne-nie", "NOT tag:nie AND tag:kommunal*"),
        ]);
        assert_eq!(
            set.tag_item(&item()),
            ["digitalisierung", "kommunal-digital", "ohne-nie"]
        );
        let tags = ["Digitalisierung ".to_owned()];
        let berlin = ItemFields {
            title: "Berlin",
            source_tags: &tags,
            ..ItemFields::default()
        };
        assert_eq!(
            set.tag_item(&berlin),
            ["nie"],
            "a source tag counts like a topic's slug"
        );
        let kommunal = ItemFields {
            title: "Darmstadt",
            ..berlin
        };
        assert_eq!(set.tag_item(&kommunal), ["kommunal-digital", "ohne-nie"]);
    }

    #[test]
    fn no_topics() {
        assert!(TopicSet::default().tag_item(&item()).is_empty());
    }
}
