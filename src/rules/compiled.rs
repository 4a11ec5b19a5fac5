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

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};

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

/// A trie over folded words, flat and in depth-first order, so that it stays
/// small and a chain of single children lies in consecutive entries. Nodes
/// with many children (the root, and the first letters of many keys) have a
/// dense row indexed by byte; the others, most of them, a short list of
/// edge bytes: a dense row for every node would take a kilobyte each and
/// miss the cache at every step.
#[derive(Debug, Clone)]
struct Trie {
    nodes: Vec<TrieNode>,
    /// The dense rows, 256 entries each.
    dense: Vec<u32>,
    /// The bytes of each sparse node's edges (`first..first + count`)...
    labels: Vec<u8>,
    /// ...and the children they lead to. Node 0 is the root, nobody's child,
    /// so 0 means none.
    targets: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct TrieNode {
    /// The node's row in `dense`, or [`NONE`] if its edges are listed.
    dense: u32,
    first: u32,
    count: u32,
    /// The exact-word key that ends here, or [`NONE`].
    exact: u32,
    /// The prefix key that ends here, or [`NONE`].
    prefix: u32,
}

/// Nodes with at least this many children get a dense row.
const DENSE_FROM: usize = 4;

impl Trie {
    /// `keys`: (folded word, is a prefix); a key's id is its index.
    fn new(keys: &[(String, bool)]) -> Trie {
        let mut children: Vec<BTreeMap<u8, usize>> = vec![BTreeMap::new()];
        let mut ends = vec![(NONE, NONE)];
        for (id, (word, is_prefix)) in keys.iter().enumerate() {
            let mut node = 0;
            for b in word.bytes() {
                node = match children[node].get(&b) {
                    Some(&child) => child,
                    None => {
                        children.push(BTreeMap::new());
                        ends.push((NONE, NONE));
                        let child = children.len() - 1;
                        children[node].insert(b, child);
                        child
                    }
                };
            }
            let end = &mut ends[node];
            if *is_prefix {
                end.1 = id as u32;
            } else {
                end.0 = id as u32;
            }
        }

        let mut preorder = Vec::with_capacity(children.len());
        let mut new_id = vec![0u32; children.len()];
        let mut stack = vec![0usize];
        while let Some(node) = stack.pop() {
            new_id[node] = preorder.len() as u32;
            preorder.push(node);
            stack.extend(children[node].values().rev());
        }
        let mut trie = Trie {
            nodes: Vec::with_capacity(preorder.len()),
            dense: Vec::new(),
            labels: Vec::with_capacity(preorder.len()),
            targets: Vec::with_capacity(preorder.len()),
        };
        for &old in &preorder {
            let edges = &children[old];
            let mut node = TrieNode {
                dense: NONE,
                first: trie.labels.len() as u32,
                count: 0,
                exact: ends[old].0,
                prefix: ends[old].1,
            };
            // The root always gets a row: every word starts there.
            if old == 0 || edges.len() >= DENSE_FROM {
                node.dense = (trie.dense.len() / 256) as u32;
                let row = trie.dense.len();
                trie.dense.resize(row + 256, 0);
                for (&b, &child) in edges {
                    trie.dense[row + b as usize] = new_id[child];
                }
            } else {
                node.count = edges.len() as u32;
                for (&b, &child) in edges {
                    trie.labels.push(b);
                    trie.targets.push(new_id[child]);
                }
            }
            trie.nodes.push(node);
        }
        trie
    }

    /// The child of `node` by folded byte `b`, or 0.
    #[inline]
    fn child(&self, node: u32, b: u8) -> u32 {
        let n = &self.nodes[node as usize];
        if n.dense != NONE {
            return self.dense[((n.dense as usize) << 8) | b as usize];
        }
        let first = n.first as usize;
        let labels = &self.labels[first..first + n.count as usize];
        match labels.iter().position(|&label| label == b) {
            Some(at) => self.targets[first + at],
            None => 0,
        }
    }
}

/// Bit 7 of each byte of `chunk` set where that byte is an ASCII letter or
/// digit (eight bytes at once: skipping the rest of a word is most of the
/// bytes of a text).
#[inline]
fn alnum_bytes(chunk: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let ascii = !chunk & HIGH;
    // Seven bits per byte: the additions below cannot carry into the next byte.
    let low = chunk & !HIGH;
    let at_least = |x: u64, lo: u8| x + ONES * (0x80 - lo as u64);
    let above = |x: u64, hi: u8| x + ONES * (0x7f - hi as u64);
    let digit = at_least(low, b'0') & !above(low, b'9');
    let lower = low | (ONES * 0x20);
    let letter = at_least(lower, b'a') & !above(lower, b'z');
    (digit | letter) & ascii
}

/// The index of the first byte from `i` on that is not an ASCII letter or digit.
#[inline]
fn skip_alnum(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let chunk = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let others = !alnum_bytes(chunk) & 0x8080_8080_8080_8080;
        if others != 0 {
            return i + (others.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
        i += 1;
    }
    i
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
    /// `source:`: the whole source id.
    Source(Whole),
    /// `tag:`: a topic evaluated earlier (those whose slug the pattern
    /// matches, by index), or one of the item's own tags.
    Tag {
        topics: Box<[usize]>,
        whole: Whole,
    },
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
}

impl Node {
    /// Whether evaluating the node touches more than the scan's results.
    fn is_costly(&self) -> bool {
        match self {
            Node::Words(_) | Node::Phrase { .. } | Node::Tag { .. } => false,
            Node::TextRegex { .. } | Node::ValueRegex { .. } | Node::Source(_) => true,
            Node::And(parts) | Node::Or(parts) => parts.iter().any(Node::is_costly),
            Node::Not(inner) => inner.is_costly(),
        }
    }
}

/// A pattern matched against a whole value (`source:`, `tag:`), with what
/// [`whole_value`] would compute from it every time computed once.
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

    /// [`whole_value`], on a value prepared once per item.
    fn matches(&self, value: &WholeValue) -> bool {
        match &self.pattern {
            Pattern::Regex(regex) => regex.is_match(&value.folded),
            Pattern::Words(words) => {
                value.words.len() == words.len()
                    && words
                        .iter()
                        .enumerate()
                        .all(|(i, word)| value.words.word(i) == word)
            }
            Pattern::Prefix(_) => value.joined.starts_with(&self.joined),
        }
    }
}

/// A folded source id or tag, with its words.
struct WholeValue {
    folded: String,
    words: FoldedWords,
    joined: String,
}

impl WholeValue {
    fn new(folded: String) -> WholeValue {
        let words = FoldedWords::new(&folded);
        let joined = (0..words.len())
            .map(|i| words.word(i))
            .collect::<Vec<_>>()
            .join(" ");
        WholeValue {
            folded,
            words,
            joined,
        }
    }
}

/// Collects the keys of all topics while they are compiled.
#[derive(Default)]
struct Keys {
    ids: HashMap<(String, bool), u32>,
    list: Vec<(String, bool)>,
    in_phrase: Vec<bool>,
    /// The fields word terms look at.
    fields: u8,
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
    /// The fields any word term looks at: author, link and categories are
    /// scanned only if some rule asks.
    fields: u8,
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
            fields: keys.fields,
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
                folded,
                matched,
            } = scratch;
            seen.clear();
            seen.resize(self.in_phrase.len(), 0);
            occurrences.clear();
            ends.clear();
            segment_fields.clear();
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
                ends,
                segment_fields,
                folded,
            };
            scan.text(item.title);
            scan.end_segment();
            scan.field = SUMMARY;
            if let Some(html) = item.summary {
                scan.markup(html);
            }
            scan.end_segment();
            scan.field = CONTENT;
            if let Some(html) = item.content {
                scan.markup(html);
            }
            scan.end_segment();
            if self.fields & AUTHOR != 0 {
                scan.field = AUTHOR;
                scan.text(item.author);
                scan.end_segment();
            }
            if self.fields & LINK != 0 {
                scan.field = LINK;
                scan.text(item.link);
                scan.end_segment();
            }
            if self.fields & CATEGORY != 0 {
                scan.field = CATEGORY;
                for category in item.categories {
                    scan.text(category);
                    scan.end_segment();
                }
            }

            let context = Context {
                item,
                seen,
                occurrences,
                ends,
                segment_fields,
                plain: OnceCell::new(),
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
    ends: Vec<u32>,
    segment_fields: Vec<u8>,
    folded: String,
    matched: Vec<bool>,
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
        (Field::Source, _) => Node::Source(Whole::new(pattern)),
        (Field::Tag, _) => Node::Tag {
            topics: (0..slugs.len())
                .filter(|&i| whole_value(pattern, &slugs[i]))
                .collect(),
            whole: Whole::new(pattern),
        },
        (Field::Title | Field::Summary | Field::Content | Field::Text, Pattern::Regex(regex)) => {
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
            keys.fields |= fields;
            let prefix = matches!(pattern, Pattern::Prefix(_));
            let last = words.len() - 1;
            if last == 0 {
                return Node::Words(Box::new([(keys.id(&words[0], prefix, false), fields)]));
            }
            let keys = words
                .iter()
                .enumerate()
                .map(|(i, word)| keys.id(word, prefix && i == last, true))
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
    occurrences: &'a mut Vec<(u32, u32)>,
    /// Per segment (title, summary, content, then author, link and each
    /// category if scanned): the position after its last word, and its field.
    ends: &'a mut Vec<u32>,
    segment_fields: &'a mut Vec<u8>,
    folded: &'a mut String,
}

impl Scan<'_> {
    /// Plain text.
    fn text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let trie = self.trie;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b >= 0x80 {
                let c = text[i..].chars().next().expect("i is on a char boundary");
                self.char(c);
                i += c.len_utf8();
                continue;
            }
            if !b.is_ascii_alphanumeric() {
                self.end_word();
                i += 1;
                continue;
            }
            // A run of ASCII letters and digits, walked with the state in a
            // register.
            if !self.in_word {
                self.in_word = true;
                self.node = 0;
            }
            let mut node = self.node;
            while node != DEAD {
                let next = trie.child(node, bytes[i].to_ascii_lowercase());
                i += 1;
                if next == 0 {
                    node = DEAD;
                } else {
                    node = next;
                    let key = trie.nodes[next as usize].prefix;
                    if key != NONE {
                        self.record(key);
                    }
                }
                if i == bytes.len() || !bytes[i].is_ascii_alphanumeric() {
                    break;
                }
            }
            self.node = node;
            // No key goes on like this: skip the rest of the run.
            if node == DEAD {
                i = skip_alnum(bytes, i);
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
        let next = self.trie.child(self.node, b);
        if next == 0 {
            self.node = DEAD;
            return;
        }
        self.node = next;
        let key = self.trie.nodes[next as usize].prefix;
        if key != NONE {
            self.record(key);
        }
    }

    fn end_word(&mut self) {
        if !self.in_word {
            return;
        }
        if self.node != DEAD {
            let key = self.trie.nodes[self.node as usize].exact;
            if key != NONE {
                self.record(key);
            }
        }
        self.in_word = false;
        self.position += 1;
    }

    #[inline(never)]
    fn record(&mut self, key: u32) {
        self.seen[key as usize] |= self.field;
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
    seen: &'a [u8],
    occurrences: &'a [(u32, u32)],
    ends: &'a [u32],
    segment_fields: &'a [u8],
    /// Summary and content as text.
    plain: OnceCell<[Cow<'a, str>; 2]>,
    source: OnceCell<WholeValue>,
    /// The source tags and categories, folded as `Document` folds them.
    tags: OnceCell<Vec<WholeValue>>,
}

impl Context<'_> {
    /// `matched`: per topic evaluated so far, whether it matched.
    fn eval(&self, node: &Node, matched: &[bool]) -> bool {
        match node {
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
            Node::Source(whole) => whole.matches(
                self.source
                    .get_or_init(|| WholeValue::new(fold::fold(self.item.source))),
            ),
            Node::Tag { topics, whole } => {
                topics.iter().any(|&i| matched[i])
                    || self
                        .tags
                        .get_or_init(|| {
                            let item = self.item;
                            item.source_tags
                                .iter()
                                .chain(item.categories)
                                .map(|t| WholeValue::new(fold::fold(t.trim())))
                                .collect()
                        })
                        .iter()
                        .any(|t| whole.matches(t))
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
        let item = self.item;
        let plain = self.plain.get_or_init(|| {
            [item.summary, item.content]
                .map(|html| html.map(markup::markup_to_text).unwrap_or_default())
        });
        (fields & TITLE != 0 && regex.is_match(item.title))
            || (fields & SUMMARY != 0 && regex.is_match(&plain[0]))
            || (fields & CONTENT != 0 && regex.is_match(&plain[1]))
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
    fn eight_bytes_at_once() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut chunk = [b'a'; 8];
                chunk[at] = b;
                let mask = alnum_bytes(u64::from_le_bytes(chunk));
                assert_eq!(
                    (mask >> (at * 8 + 7)) & 1 == 1,
                    b.is_ascii_alphanumeric(),
                    "byte {b:#x} at {at}"
                );
            }
        }
        let text = b"Digitalisierungsstrategie2026 und Stra\xc3\x9fe";
        assert_eq!(skip_alnum(text, 0), 29);
        assert_eq!(skip_alnum(text, 30), 33);
        assert_eq!(skip_alnum(text, 34), 38);
        assert_eq!(skip_alnum(text, 40), 41);
    }

    #[test]
    fn no_topics() {
        assert!(TopicSet::default().tag_item(&item()).is_empty());
    }
}
