//! The trie that all topics' words are compiled into.

use super::{DEAD, NONE, id32};

/// A trie over folded words in a double array, so that it stays in the
/// first-level cache: each byte any key contains has a class (upper-case
/// ASCII the class of its lower case), every other byte class 0, which leads
/// nowhere. Nodes are slots; the child of node `n` by class `c` is slot
/// `base(n) + c` if that slot's parent is `n`. One row of children per node
/// (the first design) took 180 KB for 20 topics, and the step's load missed
/// the cache on most words; the double array takes a few KB.
#[derive(Debug, Clone)]
pub(super) struct Trie {
    pub(super) class: Box<[u8; 256]>,
    /// Per slot: the node it is a child of ([`FREE`] if none) and the base
    /// of its children, with [`HAS_PREFIX`] set if a prefix key ends there.
    /// Long enough that `base + class` is in range for every node.
    pub(super) slots: Vec<Slot>,
    /// The exact-word key that ends at each slot, or [`NONE`].
    pub(super) exact: Vec<u32>,
    /// The prefix key that ends at each slot, or [`NONE`].
    pub(super) prefix: Vec<u32>,
    /// Per byte, the root's child by it, or [`DEAD`]: most words leave the
    /// trie after a byte or two, and this spares their first step a load.
    pub(super) first: Box<[u32; 256]>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub(super) parent: u32,
    pub(super) base: u32,
}

/// The parent of a slot no node uses (and of the root, node 0).
const FREE: u32 = u32::MAX;

/// Set in a slot's base if a prefix key ends there, so that a step learns
/// it from the load it makes anyway.
pub(super) const HAS_PREFIX: u32 = 1 << 31;

impl Trie {
    /// `keys`: (folded word, is a prefix); a key's id is its index. Only the
    /// keys `wanted` are in the trie.
    pub(super) fn new(keys: &[(String, bool)], wanted: impl Fn(usize) -> bool) -> Trie {
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
                ends[node].1 = id32(id);
            } else {
                ends[node].0 = id32(id);
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
                slots[at].parent = id32(slot);
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
