//! The scan: an item's text folded and walked through the trie, recording
//! only the words some rule asks for.

use super::super::blocks::{self, Block};
use super::super::markup;
use super::trie::{HAS_PREFIX, Trie};
use super::{DEAD, NONE};
use crate::fold;

/// Folds an item's text and walks it through the trie.
pub(super) struct Scan<'a> {
    pub(super) trie: &'a Trie,
    pub(super) in_phrase: &'a [bool],
    /// Where the current word is in the trie, or [`DEAD`].
    pub(super) node: u32,
    pub(super) in_word: bool,
    /// Words before the current one, over all fields.
    pub(super) position: u32,
    /// The bit of the field being read.
    pub(super) field: u8,
    pub(super) seen: &'a mut [u8],
    /// The keys seen, each once.
    pub(super) touched: &'a mut Vec<u32>,
    pub(super) occurrences: &'a mut Vec<(u32, u32)>,
    /// Per segment (title, summary, content, then author, link and each
    /// category if scanned): the position after its last word, and its field.
    pub(super) ends: &'a mut Vec<u32>,
    pub(super) segment_fields: &'a mut Vec<u8>,
    /// Where the text of the markup being read goes, if a regex needs it.
    pub(super) plain: Option<&'a mut String>,
}

impl Scan<'_> {
    /// Plain text, or with `MARKUP` sanitized HTML: tags and entities read
    /// as [`markup::for_each_piece`] reads them, without a call per piece.
    ///
    /// The text is classified 64 bytes at a time ([`blocks`]); within a
    /// block the scan jumps from a word's start to its end and over runs of
    /// separators, and only non-ASCII bytes, tags and entities take the
    /// careful path, a character at a time.
    pub(super) fn text<const MARKUP: bool>(&mut self, text: &str) {
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
    pub(super) fn careful<const MARKUP: bool>(
        &mut self,
        text: &str,
        i: usize,
        flushed: &mut usize,
    ) -> usize {
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
    pub(super) fn walk(&mut self, bytes: &[u8]) {
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
    pub(super) fn first(&mut self, bytes: &[u8]) {
        let node = self.trie.first[bytes[0] as usize];
        self.node = node;
        if node != DEAD {
            if self.trie.slots[node as usize].base & HAS_PREFIX != 0 {
                self.record(self.trie.prefix[node as usize]);
            }
            self.walk(&bytes[1..]);
        }
    }

    pub(super) fn char(&mut self, c: char) {
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

    pub(super) fn other_char(&mut self, c: char) {
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
    pub(super) fn step(&mut self, b: u8) {
        if self.node != DEAD {
            self.walk(&[b]);
        }
    }

    pub(super) fn end_word(&mut self) {
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
    pub(super) fn record(&mut self, key: u32) {
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
    pub(super) fn end_segment(&mut self) {
        self.end_word();
        self.ends.push(self.position);
        self.segment_fields.push(self.field);
    }
}
