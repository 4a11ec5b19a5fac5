//! Tagging at ingest speed: all topics at once, one pass over an item's words.
//!
//! [`Document`](super::Document) folds an item into a sorted word index and
//! then looks every term of every topic up in it, so its cost grows with the
//! number of terms and it pays for a sort per item. Ingest tags every item
//! against every topic, so [`Compiled`] turns that around: the words of all
//! topics' word and phrase terms are compiled once into one trie over folded
//! bytes (exact words and `prefix*`es alike), and each item's title, summary
//! and content (and author, link and categories, where rules look at them)
//! are folded and walked through it byte by byte, straight from the HTML,
//! without building any string. Only words some rule asks for are recorded:
//! for each term word, the fields it occurs in, and (for words of phrases)
//! its positions, so a phrase still has to be consecutive words of one field
//! (one category). Most words leave the trie after a byte or two, and the
//! rest of such a word is skipped.
//!
//! Regexes, `source:` and `tag:` are rare and small, and are evaluated as the
//! general matcher does, from values prepared lazily per item. The result
//! must be the same as [`TopicSet::tag`](super::TopicSet::tag) on a
//! `Document` for every item; tests compare the two.
//!
//! Files: `trie.rs` holds the double-array trie the words are compiled into;
//! `scan.rs` walks an item's folded text through it and records what rules
//! ask for; `eval.rs` evaluates the compiled rules against that record;
//! this file compiles the rules and ties the three together.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::Regex;

use super::Topic;
use super::matcher::whole_value;
use super::parser::{Expr, Field, Pattern, Term};
use crate::fold;

/// No key ends at a trie node.
const NONE: u32 = u32::MAX;
/// The state of a word that no key starts like.
const DEAD: u32 = u32::MAX;

/// Field bits: of the per-key occurrence masks, and of term fields.
const TITLE: u8 = 1;
const SUMMARY: u8 = 2;
const CONTENT: u8 = 4;
const AUTHOR: u8 = 8;
const LINK: u8 = 16;
const CATEGORY: u8 = 32;

/// The fields a word term of `field` looks at (none for `source:`/`tag:`,
/// which are matched whole).
fn field_bits(field: Field) -> u8 {
    match field {
        Field::Title => TITLE,
        Field::Summary => SUMMARY,
        Field::Content => CONTENT,
        Field::Text => TITLE | SUMMARY | CONTENT,
        Field::Author => AUTHOR,
        Field::Link => LINK,
        Field::Category => CATEGORY,
        Field::Source | Field::Tag => 0,
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

mod eval;
mod scan;
#[cfg(test)]
mod tests;
mod trie;

use eval::{Context, Whole};
use scan::Scan;
use trie::Trie;

/// A rule with its word terms turned into key lookups.
#[derive(Debug, Clone)]
enum Node {
    /// One-word terms (exact or prefix), each with the fields it looks at:
    /// true if any occurs. One node for all the one-word terms of an OR.
    Words(Box<[(u32, u8)]>),
    /// Consecutive words, all in one field (one category), starting in one
    /// of `fields`.
    Phrase {
        keys: Box<[u32]>,
        fields: u8,
    },
    /// A regex over the text of title, summary or content.
    TextRegex {
        regex: Regex,
        fields: u8,
    },
    /// A regex over the author, the link or any category.
    ValueRegex {
        field: Field,
        regex: Regex,
    },
    /// `source:`: the whole source id. `slot`: where the result is kept
    /// while items of the same source come (see [`Scratch::per_source`]).
    Source {
        whole: Whole,
        slot: u32,
    },
    /// `tag:`: a topic evaluated earlier (those whose slug the pattern
    /// matches, by index), one of the source's tags (the result kept in
    /// `slot`), or one of the item's categories.
    Tag {
        topics: Box<[usize]>,
        whole: Whole,
        slot: u32,
    },
    /// [`Node::Words`] once compiled: whether one of its words occurred is
    /// worked out once per item from the few keys that did, instead of by
    /// looking up every word of every topic.
    AnyWord(u32),
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
}

impl Node {
    /// Whether evaluating the node touches more than the scan's results.
    fn is_costly(&self) -> bool {
        match self {
            Node::Words(_) | Node::AnyWord(_) | Node::Phrase { .. } | Node::Tag { .. } => false,
            Node::TextRegex { .. } | Node::ValueRegex { .. } | Node::Source { .. } => true,
            Node::And(parts) | Node::Or(parts) => parts.iter().any(Node::is_costly),
            Node::Not(inner) => inner.is_costly(),
        }
    }
}

/// A count or position in the compiled tables, which hold `u32`s to stay
/// in the cache. The rules come from a configuration file of at most
/// 8 MiB, so they hold far fewer than 2^32 words.
pub(super) fn id32(n: usize) -> u32 {
    u32::try_from(n).expect("rules hold fewer than 2^32 words")
}

/// Collects the keys of all topics while they are compiled.
#[derive(Default)]
struct Keys {
    ids: HashMap<(String, bool), u32>,
    list: Vec<(String, bool)>,
    in_phrase: Vec<bool>,
    /// Per key, the fields terms look for it in.
    fields: Vec<u8>,
    /// Whether a regex looks at summary or content.
    plain: bool,
    /// The number of per-source results.
    per_source: u32,
}

impl Keys {
    fn per_source_slot(&mut self) -> u32 {
        self.per_source += 1;
        self.per_source - 1
    }

    fn id(&mut self, word: &str, prefix: bool, in_phrase: bool, fields: u8) -> u32 {
        let id = *self
            .ids
            .entry((word.to_owned(), prefix))
            .or_insert_with(|| {
                self.list.push((word.to_owned(), prefix));
                self.in_phrase.push(false);
                self.fields.push(0);
                id32(self.list.len() - 1)
            });
        self.in_phrase[id as usize] |= in_phrase;
        self.fields[id as usize] |= fields;
        id
    }
}

/// Topics compiled for tagging, in the evaluation order of their `TopicSet`.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The keys looked for in title, summary and content.
    text_trie: Trie,
    /// The keys looked for in author, link and categories: few, so that
    /// the words of those (a link has a lot of them) end their walk at once.
    value_trie: Trie,
    /// Per key: whether a phrase uses it (so its positions are recorded).
    in_phrase: Vec<bool>,
    /// The fields any word term looks at: author, link and categories are
    /// scanned only if some rule asks.
    fields: u8,
    /// Per key, `word_sets[key_word_sets[key]..key_word_sets[key + 1]]`: the
    /// [`Node::AnyWord`] sets it is in, and in which fields.
    key_word_sets: Vec<u32>,
    word_sets: Vec<(u32, u8)>,
    /// The number of [`Node::AnyWord`] sets.
    any_words: usize,
    /// Per key, `key_topics[key_topic_starts[key]..key_topic_starts[key + 1]]`:
    /// the gated topics whose rules contain it.
    key_topic_starts: Vec<u32>,
    key_topics: Vec<u32>,
    /// Per topic: whether its rule can only match if one of its words
    /// occurred, so that it need not be evaluated for an item without any.
    /// Most items contain the words of few topics.
    gated: Vec<bool>,
    /// Whether the text of summary and content is needed (for a regex).
    plain: bool,
    /// The number of results kept per source, and which compiled topics
    /// they are of (clones share the number: they have the same nodes).
    per_source: u32,
    id: u64,
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
        let mut sets = Vec::new();
        let nodes: Vec<Node> = topics
            .iter()
            .enumerate()
            .map(|(index, topic)| {
                let mut node = compile(&topic.rule.expr, &mut keys, &slugs[..index]);
                number_word_sets(&mut node, &mut sets);
                node
            })
            .collect();
        let mut per_key = vec![Vec::new(); keys.list.len()];
        for (set, words) in sets.iter().enumerate() {
            for &(key, fields) in words {
                per_key[key as usize].push((id32(set), fields));
            }
        }
        let mut key_word_sets = vec![0];
        let mut word_sets = Vec::new();
        for sets_of_key in per_key {
            word_sets.extend(sets_of_key);
            key_word_sets.push(id32(word_sets.len()));
        }
        let gated: Vec<bool> = nodes.iter().map(needs_word).collect();
        let mut topics_of_key = vec![Vec::new(); keys.list.len()];
        for (topic, node) in nodes.iter().enumerate() {
            if gated[topic] {
                let mut keys = Vec::new();
                node_keys(node, &sets, &mut keys);
                keys.sort_unstable();
                keys.dedup();
                for key in keys {
                    topics_of_key[key as usize].push(id32(topic));
                }
            }
        }
        let mut key_topic_starts = vec![0];
        let mut key_topics = Vec::new();
        for topics in topics_of_key {
            key_topics.extend(topics);
            key_topic_starts.push(id32(key_topics.len()));
        }
        let text = TITLE | SUMMARY | CONTENT;
        Compiled {
            text_trie: Trie::new(&keys.list, |id| keys.fields[id] & text != 0),
            value_trie: Trie::new(&keys.list, |id| keys.fields[id] & !text != 0),
            in_phrase: keys.in_phrase,
            fields: keys.fields.iter().fold(0, |all, &f| all | f),
            key_word_sets,
            word_sets,
            any_words: sets.len(),
            key_topic_starts,
            key_topics,
            gated,
            plain: keys.plain,
            per_source: keys.per_source,
            id: {
                static IDS: AtomicU64 = AtomicU64::new(0);
                IDS.fetch_add(1, Ordering::Relaxed)
            },
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
                ends,
                segment_fields,
                touched,
                any_word,
                candidates,
                plain: [summary_text, content_text],
                source,
                per_source,
                matched,
            } = scratch;
            let same_source = source.0 == self.id
                && source.1 == item.source
                && source.2.as_slice() == item.source_tags;
            if !same_source {
                source.0 = self.id;
                item.source.clone_into(&mut source.1);
                item.source_tags.clone_into(&mut source.2);
                per_source.clear();
                per_source.resize(self.per_source as usize, None);
            }
            summary_text.clear();
            content_text.clear();
            seen.clear();
            seen.resize(self.in_phrase.len(), 0);
            touched.clear();
            occurrences.clear();
            ends.clear();
            segment_fields.clear();
            matched.clear();
            matched.resize(self.topics.len(), false);

            let mut scan = Scan {
                trie: &self.text_trie,
                in_phrase: &self.in_phrase,
                node: DEAD,
                in_word: false,
                position: 0,
                field: TITLE,
                seen,
                touched,
                occurrences,
                ends,
                segment_fields,
                plain: None,
            };
            scan.text::<false>(item.title);
            scan.end_segment();
            scan.field = SUMMARY;
            if let Some(html) = item.summary {
                scan.plain = self.plain.then_some(&mut *summary_text);
                scan.text::<true>(html);
            }
            scan.end_segment();
            scan.field = CONTENT;
            if let Some(html) = item.content {
                scan.plain = self.plain.then_some(&mut *content_text);
                scan.text::<true>(html);
            }
            scan.plain = None;
            scan.end_segment();
            scan.trie = &self.value_trie;
            if self.fields & AUTHOR != 0 {
                scan.field = AUTHOR;
                scan.text::<false>(item.author);
                scan.end_segment();
            }
            if self.fields & LINK != 0 {
                scan.field = LINK;
                scan.text::<false>(item.link);
                scan.end_segment();
            }
            if self.fields & CATEGORY != 0 {
                scan.field = CATEGORY;
                for category in item.categories {
                    scan.text::<false>(category);
                    scan.end_segment();
                }
            }

            any_word.clear();
            any_word.resize(self.any_words, false);
            candidates.clear();
            candidates.resize(self.topics.len(), false);
            for &key in touched.iter() {
                let topics = self.key_topic_starts[key as usize] as usize
                    ..self.key_topic_starts[key as usize + 1] as usize;
                for &topic in &self.key_topics[topics] {
                    candidates[topic as usize] = true;
                }
                let fields = seen[key as usize];
                let range = self.key_word_sets[key as usize] as usize
                    ..self.key_word_sets[key as usize + 1] as usize;
                for &(set, wanted) in &self.word_sets[range] {
                    if fields & wanted != 0 {
                        any_word[set as usize] = true;
                    }
                }
            }

            let context = Context {
                item,
                any_word,
                seen,
                occurrences,
                ends,
                segment_fields,
                plain: [summary_text, content_text],
                per_source: Cell::from_mut(&mut per_source[..]).as_slice_of_cells(),
            };
            for (index, node) in self.topics.iter().enumerate() {
                if self.gated[index] && !candidates[index] {
                    continue;
                }
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
    ends: Vec<u32>,
    segment_fields: Vec<u8>,
    touched: Vec<u32>,
    any_word: Vec<bool>,
    /// Per topic: whether one of its words occurred (for gated topics).
    candidates: Vec<bool>,
    /// Summary and content as text, if a regex needs them.
    plain: [String; 2],
    /// The compiled topics (by id), source and source tags that
    /// `per_source` holds results for: tagging goes through the items of one
    /// source after another.
    source: (u64, String, Vec<String>),
    per_source: Vec<Option<bool>>,
    matched: Vec<bool>,
}

/// Whether `node` can only be true if one of its words occurred (in any
/// field): word terms and phrases can't be true without, an AND if one of
/// its parts can't, an OR if none of its alternatives can. Regexes,
/// `source:`, `tag:` and NOT can.
fn needs_word(node: &Node) -> bool {
    match node {
        Node::Words(_) | Node::AnyWord(_) | Node::Phrase { .. } => true,
        Node::And(parts) => parts.iter().any(needs_word),
        Node::Or(parts) => parts.iter().all(needs_word),
        _ => false,
    }
}

/// Appends the keys of every word term and phrase in `node`.
fn node_keys(node: &Node, sets: &[Box<[(u32, u8)]>], keys: &mut Vec<u32>) {
    match node {
        Node::Words(words) => keys.extend(words.iter().map(|&(key, _)| key)),
        Node::AnyWord(set) => keys.extend(sets[*set as usize].iter().map(|&(key, _)| key)),
        Node::Phrase { keys: phrase, .. } => keys.extend_from_slice(phrase),
        Node::And(parts) | Node::Or(parts) => {
            parts.iter().for_each(|part| node_keys(part, sets, keys));
        }
        Node::Not(inner) => node_keys(inner, sets, keys),
        _ => {}
    }
}

/// Turns every [`Node::Words`] into a numbered [`Node::AnyWord`], whose
/// words go to `sets`.
fn number_word_sets(node: &mut Node, sets: &mut Vec<Box<[(u32, u8)]>>) {
    match node {
        Node::Words(words) => {
            sets.push(std::mem::take(words));
            *node = Node::AnyWord(id32(sets.len() - 1));
        }
        Node::And(parts) | Node::Or(parts) => {
            parts.iter_mut().for_each(|p| number_word_sets(p, sets));
        }
        Node::Not(inner) => number_word_sets(inner, sets),
        _ => {}
    }
}

/// `slugs`: the folded slugs of the topics evaluated before this one.
fn compile(expr: &Expr, keys: &mut Keys, slugs: &[String]) -> Node {
    match expr {
        Expr::Term(term) => compile_term(term, keys, slugs),
        Expr::And(parts) => Node::And(compile_parts(parts, keys, slugs, false)),
        Expr::Or(parts) => Node::Or(compile_parts(parts, keys, slugs, true)),
        Expr::Not(inner) => Node::Not(Box::new(compile(inner, keys, slugs))),
    }
}

/// The parts of AND or OR, the cheap ones first: the result is the same in
/// any order, and a cheap part often decides it. For OR, the one-word terms
/// become one [`Node::Words`].
fn compile_parts(parts: &[Expr], keys: &mut Keys, slugs: &[String], or: bool) -> Box<[Node]> {
    let mut words = Vec::new();
    let mut nodes = Vec::new();
    for part in parts {
        match compile(part, keys, slugs) {
            Node::Words(these) if or => words.extend_from_slice(&these),
            node => nodes.push(node),
        }
    }
    nodes.sort_by_key(Node::is_costly);
    if !words.is_empty() {
        nodes.insert(0, Node::Words(words.into()));
    }
    nodes.into()
}

fn compile_term(term: &Term, keys: &mut Keys, slugs: &[String]) -> Node {
    let pattern = &term.pattern;
    let fields = field_bits(term.field);
    match (term.field, pattern) {
        (Field::Source, _) => Node::Source {
            whole: Whole::new(pattern),
            slot: keys.per_source_slot(),
        },
        (Field::Tag, _) => Node::Tag {
            topics: (0..slugs.len())
                .filter(|&i| whole_value(pattern, &slugs[i]))
                .collect(),
            whole: Whole::new(pattern),
            slot: keys.per_source_slot(),
        },
        (Field::Title | Field::Summary | Field::Content | Field::Text, Pattern::Regex(regex)) => {
            keys.plain |= fields & (SUMMARY | CONTENT) != 0;
            Node::TextRegex {
                regex: regex.clone(),
                fields,
            }
        }
        (field, Pattern::Regex(regex)) => Node::ValueRegex {
            field,
            regex: regex.clone(),
        },
        (_, Pattern::Words(words) | Pattern::Prefix(words)) => {
            let prefix = matches!(pattern, Pattern::Prefix(_));
            let last = words.len() - 1;
            if last == 0 {
                let key = keys.id(&words[0], prefix, false, fields);
                return Node::Words(Box::new([(key, fields)]));
            }
            let keys = words
                .iter()
                .enumerate()
                .map(|(i, word)| keys.id(word, prefix && i == last, true, fields))
                .collect();
            Node::Phrase { keys, fields }
        }
    }
}
