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

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::Regex;

use super::Topic;
use super::blocks::{self, Block};
use super::markup;
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

/// A trie over folded words in a double array, so that it stays in the
/// first-level cache: each byte any key contains has a class (upper-case
/// ASCII the class of its lower case), every other byte class 0, which leads
/// nowhere. Nodes are slots; the child of node `n` by class `c` is slot
/// `base(n) + c` if that slot's parent is `n`. One row of children per node
/// (the first design) took 180 KB for 20 topics, and the step's load missed
/// the cache on most words; the double array takes a few KB.
#[derive(Debug, Clone)]
struct Trie {
    class: Box<[u8; 256]>,
    /// Per slot: the node it is a child of ([`FREE`] if none) and the base
    /// of its children, with [`HAS_PREFIX`] set if a prefix key ends there.
    /// Long enough that `base + class` is in range for every node.
    slots: Vec<Slot>,
    /// The exact-word key that ends at each slot, or [`NONE`].
    exact: Vec<u32>,
    /// The prefix key that ends at each slot, or [`NONE`].
    prefix: Vec<u32>,
    /// Per byte, the root's child by it, or [`DEAD`]: most words leave the
    /// trie after a byte or two, and this spares their first step a load.
    first: Box<[u32; 256]>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    parent: u32,
    base: u32,
}

/// The parent of a slot no node uses (and of the root, node 0).
const FREE: u32 = u32::MAX;

/// Set in a slot's base if a prefix key ends there, so that a step learns
/// it from the load it makes anyway.
const HAS_PREFIX: u32 = 1 << 31;

impl Trie {
    /// `keys`: (folded word, is a prefix); a key's id is its index. Only the
    /// keys `wanted` are in the trie.
    fn new(keys: &[(String, bool)], wanted: impl Fn(usize) -> bool) -> Trie {
        let wanted: Vec<usize> = (0..keys.len()).filter(|&id| wanted(id)).collect();
        let mut class = Box::new([0u8; 256]);
        let mut width = 1;
        for &id in &wanted {
            for b in keys[id].0.bytes() {
                if class[b as usize] == 0 {
                    // Folded words are UTF-8 without ASCII punctuation: far
                    // fewer than 255 distinct bytes.
                    class[b as usize] = u8::try_from(width).expect("under 256 byte classes");
                    width += 1;
                }
            }
        }
        for upper in b'A'..=b'Z' {
            // Folded keys never contain upper case: this overwrites nothing.
            class[upper as usize] = class[upper.to_ascii_lowercase() as usize];
        }

        // First a plain trie: per node its children (class, node) in class
        // order, and the keys that end there.
        let mut children: Vec<Vec<(u8, usize)>> = vec![Vec::new()];
        let mut ends = vec![(NONE, NONE)];
        for &id in &wanted {
            let (word, is_prefix) = &keys[id];
            let mut node = 0;
            for b in word.bytes() {
                let c = class[b as usize];
                node = match children[node].binary_search_by_key(&c, |&(c, _)| c) {
                    Ok(at) => children[node][at].1,
                    Err(at) => {
                        let child = children.len();
                        children[node].insert(at, (c, child));
                        children.push(Vec::new());
                        ends.push((NONE, NONE));
                        child
                    }
                };
            }
            if *is_prefix {
                ends[node].1 = id as u32;
            } else {
                ends[node].0 = id as u32;
            }
        }

        // Then each node's children placed at the lowest base where their
        // slots are all free, breadth first from the root in slot 0.
        let mut slots = vec![Slot {
            parent: FREE,
            base: 0,
        }];
        let mut exact = vec![ends[0].0];
        let mut prefix = vec![ends[0].1];
        let mut used = vec![true];
        let mut queue = std::collections::VecDeque::from([(0usize, 0usize)]);
        // Every slot below this one is used.
        let mut first_free = 1;
        while let Some((node, slot)) = queue.pop_front() {
            let kids = &children[node];
            let Some(&(lowest, _)) = kids.first() else {
                continue;
            };
            while used.get(first_free) == Some(&true) {
                first_free += 1;
            }
            let mut base = first_free.saturating_sub(lowest as usize);
            while kids
                .iter()
                .any(|&(c, _)| used.get(base + c as usize) == Some(&true))
            {
                base += 1;
            }
            let end = base + kids.last().map_or(0, |&(c, _)| c as usize) + 1;
            if used.len() < end {
                used.resize(end, false);
                slots.resize(
                    end,
                    Slot {
                        parent: FREE,
                        base: 0,
                    },
                );
                exact.resize(end, NONE);
                prefix.resize(end, NONE);
            }
            slots[slot].base = u32::try_from(base).expect("a small trie");
            for &(c, kid) in kids {
                let at = base + c as usize;
                used[at] = true;
                slots[at].parent = slot as u32;
                (exact[at], prefix[at]) = ends[kid];
                queue.push_back((kid, at));
            }
        }
        assert!(slots.len() < HAS_PREFIX as usize, "too many trie nodes");
        // Room for `base + class` of every node, whatever the byte.
        let max_base = slots.iter().map(|s| s.base as usize).max().unwrap_or(0);
        let len = max_base + width;
        if slots.len() < len {
            slots.resize(
                len,
                Slot {
                    parent: FREE,
                    base: 0,
                },
            );
            exact.resize(len, NONE);
            prefix.resize(len, NONE);
        }
        for (slot, key) in slots.iter_mut().zip(&prefix) {
            if *key != NONE {
                slot.base |= HAS_PREFIX;
            }
        }
        let root_base = slots[0].base & !HAS_PREFIX;
        let first = Box::new(std::array::from_fn(|b| {
            let child = root_base + u32::from(class[b]);
            if class[b] != 0 && slots[child as usize].parent == 0 {
                child
            } else {
                DEAD
            }
        }));
        Trie {
            class,
            slots,
            exact,
            prefix,
            first,
        }
    }
}

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

/// A pattern matched against a whole value (`source:`, `tag:`) as
/// [`whole_value`] matches it, without folding the value into new strings:
/// the value's words are compared byte by byte as they are folded, and most
/// values differ in their first byte.
#[derive(Debug, Clone)]
struct Whole {
    pattern: Pattern,
    /// The words of the pattern joined by spaces.
    joined: String,
}

impl Whole {
    fn new(pattern: &Pattern) -> Whole {
        let joined = match pattern {
            Pattern::Words(words) | Pattern::Prefix(words) => words.join(" "),
            Pattern::Regex(_) => String::new(),
        };
        Whole {
            pattern: pattern.clone(),
            joined,
        }
    }

    /// `whole_value(pattern, &fold::fold(value))`. Folded words contain no
    /// spaces, so comparing the words joined by spaces compares the words.
    fn matches(&self, value: &str) -> bool {
        let wanted = self.joined.as_bytes();
        let mut matched = 0;
        let whole = match &self.pattern {
            Pattern::Regex(regex) => return regex.is_match(&fold::fold(value)),
            Pattern::Words(_) => true,
            Pattern::Prefix(_) => false,
        };
        let all = joined_words(value, |b| {
            if matched < wanted.len() && wanted[matched] == b {
                matched += 1;
                true
            } else {
                false
            }
        });
        matched == wanted.len() && (all || !whole)
    }
}

/// Hands the bytes of `fold::words(&fold::fold(value)).join(" ")` to `take`
/// until it declines one; returns whether it took them all.
fn joined_words(value: &str, take: impl FnMut(u8) -> bool) -> bool {
    struct Joined<F> {
        take: F,
        in_word: bool,
        started: bool,
        taking: bool,
    }
    impl<F: FnMut(u8) -> bool> Joined<F> {
        fn byte(&mut self, b: u8) {
            self.taking = self.taking && (self.take)(b);
        }
        /// One character of `fold::fold(value)`, which `fold::words` folds again.
        fn folded(&mut self, c: char) {
            if !c.is_alphanumeric() {
                self.in_word = false;
                return;
            }
            if !self.in_word {
                if self.started {
                    self.byte(b' ');
                }
                self.in_word = true;
                self.started = true;
            }
            fold::fold_char(c, |again| {
                let mut buf = [0u8; 4];
                for &b in again.encode_utf8(&mut buf).as_bytes() {
                    self.byte(b);
                }
            });
        }
    }
    let mut joined = Joined {
        take,
        in_word: false,
        started: false,
        taking: true,
    };
    for c in value.chars() {
        fold::fold_char(c, |folded| joined.folded(folded));
        if !joined.taking {
            return false;
        }
    }
    true
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
                (self.list.len() - 1) as u32
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
                per_key[key as usize].push((set as u32, fields));
            }
        }
        let mut key_word_sets = vec![0];
        let mut word_sets = Vec::new();
        for sets_of_key in per_key {
            word_sets.extend(sets_of_key);
            key_word_sets.push(word_sets.len() as u32);
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
                    topics_of_key[key as usize].push(topic as u32);
                }
            }
        }
        let mut key_topic_starts = vec![0];
        let mut key_topics = Vec::new();
        for topics in topics_of_key {
            key_topics.extend(topics);
            key_topic_starts.push(key_topics.len() as u32);
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
            *node = Node::AnyWord((sets.len() - 1) as u32);
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

/// Folds an item's text and walks it through the trie.
struct Scan<'a> {
    trie: &'a Trie,
    in_phrase: &'a [bool],
    /// Where the current word is in the trie, or [`DEAD`].
    node: u32,
    in_word: bool,
    /// Words before the current one, over all fields.
    position: u32,
    /// The bit of the field being read.
    field: u8,
    seen: &'a mut [u8],
    /// The keys seen, each once.
    touched: &'a mut Vec<u32>,
    occurrences: &'a mut Vec<(u32, u32)>,
    /// Per segment (title, summary, content, then author, link and each
    /// category if scanned): the position after its last word, and its field.
    ends: &'a mut Vec<u32>,
    segment_fields: &'a mut Vec<u8>,
    /// Where the text of the markup being read goes, if a regex needs it.
    plain: Option<&'a mut String>,
}

impl Scan<'_> {
    /// Plain text, or with `MARKUP` sanitized HTML: tags and entities read
    /// as [`markup::for_each_piece`] reads them, without a call per piece.
    ///
    /// The text is classified 64 bytes at a time ([`blocks`]); within a
    /// block the scan jumps from a word's start to its end and over runs of
    /// separators, and only non-ASCII bytes, tags and entities take the
    /// careful path, a character at a time.
    fn text<const MARKUP: bool>(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        // The text up to here is in `plain` (when it is wanted).
        let mut flushed = 0;
        'blocks: while i < bytes.len() {
            let block_bytes = &bytes[i..bytes.len().min(i + 64)];
            let Block { alnum, careful } = blocks::classify::<MARKUP>(block_bytes);
            let mut k = 0;
            while k < block_bytes.len() {
                let bit = 1u64 << k;
                if alnum & bit != 0 {
                    // The run of letters and digits ends at the first clear
                    // bit; at the block's end the word may go on in the next.
                    let end = k + (!(alnum >> k)).trailing_zeros() as usize;
                    if self.in_word {
                        if self.node != DEAD {
                            self.walk(&block_bytes[k..end]);
                        }
                    } else {
                        self.in_word = true;
                        self.first(&block_bytes[k..end]);
                    }
                    k = end;
                    // Most often separators follow (a space): the word ends
                    // here, without another round through the dispatch.
                    // (`k` may be 64 here: no shift before the bound check.)
                    if k < block_bytes.len() && (alnum | careful) >> k & 1 == 0 {
                        let rest = (alnum | careful) >> k;
                        self.end_word();
                        k = if rest == 0 {
                            block_bytes.len()
                        } else {
                            k + rest.trailing_zeros() as usize
                        };
                    }
                } else if careful & bit != 0 {
                    let next = self.careful::<MARKUP>(text, i + k, &mut flushed);
                    if next >= i + block_bytes.len() {
                        i = next;
                        continue 'blocks;
                    }
                    k = next - i;
                } else {
                    // Separators, up to the next byte of another class.
                    self.end_word();
                    let rest = (alnum | careful) >> k;
                    k = if rest == 0 {
                        block_bytes.len()
                    } else {
                        k + rest.trailing_zeros() as usize
                    };
                }
            }
            i += block_bytes.len();
        }
        if let Some(plain) = self.plain.as_deref_mut() {
            plain.push_str(&text[flushed..]);
        }
    }

    /// A non-ASCII character, or in markup a tag or an entity, at `i`;
    /// returns where the text goes on. `flushed`: how much of the text is in
    /// `plain` (when it is wanted).
    fn careful<const MARKUP: bool>(&mut self, text: &str, i: usize, flushed: &mut usize) -> usize {
        match text.as_bytes()[i] {
            b'<' if MARKUP => {
                self.end_word();
                if let Some(plain) = self.plain.as_deref_mut() {
                    plain.push_str(&text[*flushed..i]);
                    plain.push(' ');
                }
                let next = markup::tag_end(text, i);
                *flushed = next;
                next
            }
            b'&' if MARKUP => match markup::entity(text, i) {
                Some((c, next)) => {
                    self.char(c);
                    if let Some(plain) = self.plain.as_deref_mut() {
                        plain.push_str(&text[*flushed..i]);
                        plain.push(c);
                    }
                    *flushed = next;
                    next
                }
                None => {
                    self.end_word();
                    i + 1
                }
            },
            _ => {
                let c = text[i..].chars().next().expect("i is on a char boundary");
                self.char(c);
                i + c.len_utf8()
            }
        }
    }

    /// Walks the (folded, or upper-case ASCII) bytes of a word on from the
    /// current node.
    #[inline]
    fn walk(&mut self, bytes: &[u8]) {
        let Trie {
            class,
            slots,
            prefix,
            ..
        } = self.trie;
        let mut node = self.node;
        let mut base = slots[node as usize].base & !HAS_PREFIX;
        for &b in bytes {
            let child = base + u32::from(class[b as usize]);
            let slot = slots[child as usize];
            if slot.parent != node {
                node = DEAD;
                break;
            }
            node = child;
            base = slot.base & !HAS_PREFIX;
            if slot.base & HAS_PREFIX != 0 {
                self.record(prefix[child as usize]);
            }
        }
        self.node = node;
    }

    /// Walks a word that starts with ASCII `bytes` (at least one) from the
    /// root, the first step by [`Trie::first`].
    #[inline(always)]
    fn first(&mut self, bytes: &[u8]) {
        let node = self.trie.first[bytes[0] as usize];
        self.node = node;
        if node != DEAD {
            if self.trie.slots[node as usize].base & HAS_PREFIX != 0 {
                self.record(self.trie.prefix[node as usize]);
            }
            self.walk(&bytes[1..]);
        }
    }

    fn char(&mut self, c: char) {
        // German letters and punctuation, without the Unicode tables.
        let german: &[u8] = match c {
            'ä' | 'Ä' => b"ae",
            'ö' | 'Ö' => b"oe",
            'ü' | 'Ü' => b"ue",
            'ß' => b"ss",
            '„' | '“' | '”' | '‚' | '‘' | '’' | '–' | '—' | '…' | '\u{a0}' | '«' | '»' | '€'
            | '§' | '°' | '·' | '•' => b"",
            _ => return self.other_char(c),
        };
        if german.is_empty() {
            return self.end_word();
        }
        if !self.in_word {
            self.in_word = true;
            self.node = 0;
        }
        for &b in german {
            self.step(b);
        }
    }

    fn other_char(&mut self, c: char) {
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
                fold::fold_char(c, |folded| {
                    let mut buf = [0u8; 4];
                    for &b in folded.encode_utf8(&mut buf).as_bytes() {
                        self.step(b);
                    }
                });
            }
        } else {
            self.end_word();
        }
    }

    /// One byte of a folded word.
    #[inline]
    fn step(&mut self, b: u8) {
        if self.node != DEAD {
            self.walk(&[b]);
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

    #[inline(never)]
    fn record(&mut self, key: u32) {
        let seen = &mut self.seen[key as usize];
        if *seen == 0 {
            self.touched.push(key);
        }
        *seen |= self.field;
        if self.in_phrase[key as usize] {
            self.occurrences.push((self.position, key));
        }
    }

    /// Ends a field (or one category): phrases do not go on past it.
    fn end_segment(&mut self) {
        self.end_word();
        self.ends.push(self.position);
        self.segment_fields.push(self.field);
    }
}

/// What rules are evaluated against: the scan's results, and the item's
/// other values, prepared when a rule first asks for them.
struct Context<'a> {
    item: &'a ItemFields<'a>,
    /// Per [`Node::AnyWord`]: whether one of its words occurred.
    any_word: &'a [bool],
    seen: &'a [u8],
    occurrences: &'a [(u32, u32)],
    ends: &'a [u32],
    segment_fields: &'a [u8],
    /// Summary and content as text, if a regex needs them.
    plain: [&'a str; 2],
    /// Results that depend on the source only, kept from item to item.
    per_source: &'a [Cell<Option<bool>>],
}

impl Context<'_> {
    /// `matched`: per topic evaluated so far, whether it matched.
    fn eval(&self, node: &Node, matched: &[bool]) -> bool {
        match node {
            Node::AnyWord(set) => self.any_word[*set as usize],
            Node::Words(words) => words
                .iter()
                .any(|&(key, fields)| self.seen[key as usize] & fields != 0),
            Node::Phrase { keys, fields } => self.phrase(keys, *fields),
            Node::TextRegex { regex, fields } => self.text_regex(regex, *fields),
            Node::ValueRegex { field, regex } => match field {
                Field::Author => regex.is_match(self.item.author),
                Field::Link => regex.is_match(self.item.link),
                _ => self.item.categories.iter().any(|c| regex.is_match(c)),
            },
            Node::Source { whole, slot } => {
                self.per_source(*slot, || whole.matches(self.item.source))
            }
            Node::Tag {
                topics,
                whole,
                slot,
            } => {
                let item = self.item;
                // The item's tags as `Document` keeps them: trimmed.
                topics.iter().any(|&i| matched[i])
                    || self.per_source(*slot, || {
                        item.source_tags.iter().any(|tag| whole.matches(tag.trim()))
                    })
                    || item.categories.iter().any(|tag| whole.matches(tag.trim()))
            }
            Node::And(parts) => parts.iter().all(|p| self.eval(p, matched)),
            Node::Or(parts) => parts.iter().any(|p| self.eval(p, matched)),
            Node::Not(inner) => !self.eval(inner, matched),
        }
    }

    fn phrase(&self, keys: &[u32], fields: u8) -> bool {
        // Most phrases lack a word altogether: no need to look at positions.
        if self.seen[keys[0] as usize] & fields == 0
            || keys[1..].iter().any(|&key| self.seen[key as usize] == 0)
        {
            return false;
        }
        let last = keys.len() as u32 - 1;
        self.occurrences
            .iter()
            .filter(|&&(_, key)| key == keys[0])
            .any(|&(start, _)| {
                let segment = self.ends.partition_point(|&end| end <= start);
                fields & self.segment_fields[segment] != 0
                    && start + last < self.ends[segment]
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
        (fields & TITLE != 0 && regex.is_match(self.item.title))
            || (fields & SUMMARY != 0 && regex.is_match(self.plain[0]))
            || (fields & CONTENT != 0 && regex.is_match(self.plain[1]))
    }

    /// The result in `slot`, worked out by `result` for the first item of
    /// a source.
    fn per_source(&self, slot: u32, result: impl FnOnce() -> bool) -> bool {
        let cell = &self.per_source[slot as usize];
        cell.get().unwrap_or_else(|| {
            let result = result();
            cell.set(Some(result));
            result
        })
    }
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

    /// The topics of `item` through the general matcher.
    fn general<'s>(set: &'s TopicSet, item: &ItemFields<'_>) -> Vec<&'s str> {
        let text =
            |html: Option<&str>| markup::markup_to_text(html.unwrap_or_default()).into_owned();
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
        set.tag(&mut document)
    }

    /// Whether `rule` matches [`item`] through the compiled path (checked
    /// against the general matcher).
    fn check(rule: &str) -> bool {
        let set = topics(&[("t", rule)]);
        let fast = set.tag_item(&item());
        assert_eq!(fast, general(&set, &item()), "{rule}");
        !fast.is_empty()
    }

    #[test]
    fn words_across_block_boundaries() {
        // The scan classifies 64 bytes at a time: words, umlauts, entities
        // and tags at every offset around the first two block boundaries.
        let set = topics(&[
            ("buergerservice", "bürgerservice"),
            ("smart-city", "\"smart city\""),
            ("digital", "digitalisierungs*"),
            ("strasse", "straße"),
            ("portal", "summary:portal"),
        ]);
        for pad in 0..140 {
            let filler = "x".repeat(pad);
            for text in [
                format!("{filler} Bürgerservice"),
                format!("{filler}&amp;Smart City"),
                format!("{filler}. Digitalisierungs-Strategie Stra&szlig;e"),
                format!("{filler} <b>Bürger</b>service Straße"),
                format!("{filler}, Portal"),
            ] {
                let item = ItemFields {
                    title: &text,
                    summary: Some(&text),
                    ..item()
                };
                let fast = set.tag_item(&item);
                assert_eq!(fast, general(&set, &item), "{text}");
                assert!(!fast.is_empty(), "{text}");
            }
        }
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
    fn topics_without_their_words_are_skipped_only_when_they_need_one() {
        let rule = |slug: &str| {
            let set = topics(&[
                ("needs-berlin", "berlin AND NOT tag:x"),
                ("not-berlin", "NOT berlin"),
                ("by-source", "berlin OR source:darmstadt*"),
                ("by-regex", "hamburg OR /smart-city/"),
                ("berlin-and-source", "source:darmstadt* berlin"),
            ]);
            set.tag_item(&item()).contains(&slug)
        };
        assert!(!rule("needs-berlin"));
        assert!(rule("not-berlin"), "a NOT needs no word of its own");
        assert!(rule("by-source"), "an OR with a non-word alternative");
        assert!(rule("by-regex"));
        assert!(!rule("berlin-and-source"));
        assert!(check("darmstadt AND NOT berlin"));
        assert!(!check("berlin AND NOT darmstadt"));
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
    fn whole_values_fold_twice_like_document() {
        for value in [
            "Fach-Presse",
            " Smart  City ",
            "\u{212b}ngstr\u{f6}m \u{212a}elvin",
            "\u{130}stanbul",
            "Straße",
            "",
            "--",
            "e-Government 2026",
        ] {
            let mut bytes = Vec::new();
            assert!(joined_words(value, |b| {
                bytes.push(b);
                true
            }));
            let expected = fold::words(&fold::fold(value)).join(" ");
            assert_eq!(String::from_utf8(bytes).unwrap(), expected, "{value:?}");
            for (rule, wanted) in [
                (expected.clone(), !expected.is_empty()),
                (format!("{expected}x"), false),
            ] {
                if rule.is_empty() {
                    continue;
                }
                for pattern in [
                    Pattern::Words(fold::words(&rule)),
                    Pattern::Prefix(fold::words(&rule)),
                ] {
                    let folded = fold::fold(value);
                    assert_eq!(
                        Whole::new(&pattern).matches(value),
                        whole_value(&pattern, &folded),
                        "{value:?} {pattern:?}"
                    );
                    assert_eq!(Whole::new(&pattern).matches(value), wanted);
                }
            }
        }
        let prefix = Pattern::Prefix(vec!["fach".into()]);
        assert!(Whole::new(&prefix).matches("Fach-Presse"));
        assert!(!Whole::new(&Pattern::Words(vec!["fach".into()])).matches("Fach-Presse"));
    }

    #[test]
    fn no_topics() {
        assert!(TopicSet::default().tag_item(&item()).is_empty());
    }
}
