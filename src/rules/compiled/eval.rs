//! Evaluating compiled rules against what the scan recorded, and matching
//! whole values (`source:`, `tag:`) without building strings.

use std::cell::Cell;

use regex::Regex;

use super::super::parser::{Field, Pattern};
use super::{CONTENT, ItemFields, Node, SUMMARY, TITLE, id32};
use crate::fold;

/// A pattern matched against a whole value (`source:`, `tag:`) as
/// [`whole_value`](super::super::matcher::whole_value) matches it, without folding the value into new strings:
/// the value's words are compared byte by byte as they are folded, and most
/// values differ in their first byte.
#[derive(Debug, Clone)]
pub(super) struct Whole {
    pub(super) pattern: Pattern,
    /// The words of the pattern joined by spaces.
    pub(super) joined: String,
}

impl Whole {
    pub(super) fn new(pattern: &Pattern) -> Whole {
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
    pub(super) fn matches(&self, value: &str) -> bool {
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
pub(super) fn joined_words(value: &str, take: impl FnMut(u8) -> bool) -> bool {
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

/// What rules are evaluated against: the scan's results, and the item's
/// other values, prepared when a rule first asks for them.
pub(super) struct Context<'a> {
    pub(super) item: &'a ItemFields<'a>,
    /// Per [`Node::AnyWord`]: whether one of its words occurred.
    pub(super) any_word: &'a [bool],
    pub(super) seen: &'a [u8],
    pub(super) occurrences: &'a [(u32, u32)],
    pub(super) ends: &'a [u32],
    pub(super) segment_fields: &'a [u8],
    /// Summary and content as text, if a regex needs them.
    pub(super) plain: [&'a str; 2],
    /// Results that depend on the source only, kept from item to item.
    pub(super) per_source: &'a [Cell<Option<bool>>],
}

impl Context<'_> {
    /// `matched`: per topic evaluated so far, whether it matched.
    pub(super) fn eval(&self, node: &Node, matched: &[bool]) -> bool {
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

    pub(super) fn phrase(&self, keys: &[u32], fields: u8) -> bool {
        // Most phrases lack a word altogether: no need to look at positions.
        if self.seen[keys[0] as usize] & fields == 0
            || keys[1..].iter().any(|&key| self.seen[key as usize] == 0)
        {
            return false;
        }
        let last = id32(keys.len() - 1);
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

    pub(super) fn occurs(&self, position: u32, key: u32) -> bool {
        let from = self.occurrences.partition_point(|&(p, _)| p < position);
        self.occurrences[from..]
            .iter()
            .take_while(|&&(p, _)| p == position)
            .any(|&(_, k)| k == key)
    }

    pub(super) fn text_regex(&self, regex: &Regex, fields: u8) -> bool {
        (fields & TITLE != 0 && regex.is_match(self.item.title))
            || (fields & SUMMARY != 0 && regex.is_match(self.plain[0]))
            || (fields & CONTENT != 0 && regex.is_match(self.plain[1]))
    }

    /// The result in `slot`, worked out by `result` for the first item of
    /// a source.
    pub(super) fn per_source(&self, slot: u32, result: impl FnOnce() -> bool) -> bool {
        let cell = &self.per_source[slot as usize];
        cell.get().unwrap_or_else(|| {
            let result = result();
            cell.set(Some(result));
            result
        })
    }
}
