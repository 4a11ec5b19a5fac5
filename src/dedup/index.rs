//! The window index: recent items by LSH band, canonical link and cited link.
//!
//! Only items published within the window can group, so only they are
//! indexed, in memory: finding a new item's candidates is a handful of hash
//! lookups whatever the size of the database, and the index holds a few
//! hundred bytes per recent item.
//!
//! The MinHash sketch is taken over an item's *telling* terms: those found in
//! few indexed items. Terms such as "Stadt" or "Digitalisierung" appear in a
//! good share of any municipal window; left in, they would make unrelated
//! items share band keys (every one a candidate to score) and dilute the
//! similarity of true rewrites, which share the rare terms (names, places,
//! amounts). It is rebuilt from the database when the
//! writer starts and once a day (dropping items that left the window), and
//! catches up on items other processes stored before each write.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use super::Keys;
use super::background::Background;
use super::score::TermSet;
use super::sketch::{self, BANDS, BandKeys, ROWS};

/// What the index keeps of an item besides its keys: its LSH band keys (if
/// it has enough telling terms) and the sum of its term weights (only with
/// bands: an item without is never a text candidate, so never scored).
#[derive(Debug, Clone, PartialEq)]
pub struct Sketch {
    pub bands: Option<BandKeys>,
    pub weight_sum: f64,
}

/// An item's LSH band keys, and for each band how many indexed items have
/// the term its key comes from (about how long the band's chain is).
#[derive(Debug, Clone, PartialEq)]
pub struct Bands {
    pub keys: BandKeys,
    pub sharing: [u32; BANDS],
}

/// Marks a band key's head as a [`Chain`] number rather than a slot.
const CHAIN_TAG: u32 = 1 << 31;

/// A term in more than this many indexed items, and in more than one in
/// [`COMMON_SHARE`] of them, is too common to sketch.
const COMMON_AT_LEAST: usize = 8;
const COMMON_SHARE: usize = 50;

/// Fewest telling terms an item needs to group by text.
const MIN_TELLING_TERMS: usize = 3;

/// The items a [`Chain`] keeps, and so the most read from one band: the
/// newest, as many as fill two adjacent cache lines (128 bytes, which
/// processors fetch together). Keeping 15 (one line) found 2% fewer planted
/// rewrites among 100,000 indexed items.
const CHAIN_KEPT: usize = 31;

/// The newest items (slots, oldest first) with one band key, once it has
/// more than one. Only the newest [`CHAIN_KEPT`] of a key are ever read,
/// so older ones are dropped; and all of them lie side by side, so
/// reading a key's items costs one memory access, not one per item (a
/// linked list through the items scatters them over the whole index, and
/// following it waited for a cache miss at every step).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Chain {
    len: u32,
    slots: [u32; CHAIN_KEPT],
}

impl Chain {
    fn of(older: u32, newer: u32) -> Chain {
        let mut slots = [0; CHAIN_KEPT];
        slots[0] = older;
        slots[1] = newer;
        Chain { len: 2, slots }
    }

    fn push(&mut self, slot: u32) {
        let len = self.len as usize;
        if len < CHAIN_KEPT {
            self.slots[len] = slot;
            self.len += 1;
        } else {
            self.slots.copy_within(1.., 0);
            self.slots[CHAIN_KEPT - 1] = slot;
        }
    }

    /// Newest first.
    fn newest_first(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots[..self.len as usize].iter().rev().copied()
    }
}

/// Items added one by one before their counts are taken as weights, at
/// the least (see [`Index::insert_decided`]): a run of fewer new items is
/// judged by the same weights throughout, so its order does not matter.
const RECOUNT_FROM: u32 = 1000;

/// Most chain entries read for one item, over all its bands.
const MAX_WALK: usize = 64;

/// Most text candidates scored for one item: those sharing the most bands.
const MAX_SCORED: usize = 12;

/// Most text candidates scored from one cluster.
const MAX_SCORED_PER_CLUSTER: usize = 3;

/// Fewest indexed items of a source before its home place is trusted.
const HOME_MIN_ITEMS: u32 = 5;

/// Most distinct places counted per source (a press office names few).
const MAX_PLACES_COUNTED: usize = 16;

/// How many members have a term: when the counts were last taken, and now.
#[derive(Debug, Clone, Copy, Default)]
struct TermCount {
    counted: u32,
    now: u32,
}

/// How often a source's indexed items name each place.
#[derive(Debug, Default)]
struct SourcePlaces {
    items: u32,
    places: Vec<(u64, u32)>,
}

/// A hasher for keys that are hashes already (terms, links, band keys):
/// hashing them again would only cost time.
#[derive(Default)]
pub struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u32(&mut self, n: u32) {
        // Spread 32-bit keys over the high bits the table also uses.
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write_i64(&mut self, n: i64) {
        // Item and cluster ids are counted, not hashed: taken as they are
        // (the default passes them to `write_u64`), every small id has the
        // high bits the table keeps as a tag all zero, so every entry of a
        // probed group matched the tag and had its key compared.
        self.0 = n.cast_unsigned().wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type HashedMap<K, V> = HashMap<K, V, BuildHasherDefault<AlreadyHashed>>;

/// Slots by a key that most items have alone (a link): the one slot in
/// the map itself, a list only for keys that several items share, so
/// indexing an item costs no allocation.
#[derive(Debug, Default)]
struct SlotsByKey {
    /// Key → its one slot, or (with [`CHAIN_TAG`]) the number of its list.
    heads: HashedMap<u64, u32>,
    shared: Vec<Vec<u32>>,
}

impl SlotsByKey {
    fn insert(&mut self, key: u64, slot: u32) {
        match self.heads.entry(key) {
            Entry::Vacant(vacant) => {
                vacant.insert(slot);
            }
            Entry::Occupied(mut occupied) => {
                let head = *occupied.get();
                if head & CHAIN_TAG == 0 {
                    *occupied.get_mut() = index32(self.shared.len()) | CHAIN_TAG;
                    self.shared.push(vec![head, slot]);
                } else {
                    self.shared[(head & !CHAIN_TAG) as usize].push(slot);
                }
            }
        }
    }

    fn get(&self, key: u64) -> &[u32] {
        match self.heads.get(&key) {
            None => &[],
            Some(head) if head & CHAIN_TAG == 0 => std::slice::from_ref(head),
            Some(head) => &self.shared[(head & !CHAIN_TAG) as usize],
        }
    }
}

/// One indexed item.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: i64,
    /// The cluster's id: the id of its first item (the item's own id when alone).
    pub cluster: i64,
    pub source: u32,
    /// Whether its cluster has several reports, so the cluster id is
    /// stored with the cluster's first item too. Only ever true when
    /// known: a load cannot tell an alone item from the first of a cluster
    /// unless the database says so.
    pub in_story: bool,
    pub published: i64,
    /// Its terms, to score it as a text candidate; empty when it has no
    /// band keys (it is never one).
    pub terms: TermSet,
    /// The sum of its terms' weights when it was indexed: scoring a
    /// candidate then needs the weights of the shared terms only (the new
    /// item's), not a term-count lookup per candidate term. Term counts
    /// drift slowly; the daily rebuild recomputes it.
    pub weight_sum: f64,
}

/// Why a candidate was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// The same canonical link.
    SameLink,
    /// One links to the other's canonical link.
    Cites,
    /// Title and lead alike.
    Text,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SameLink => "link",
            Reason::Cites => "cites",
            Reason::Text => "text",
        }
    }
}

/// The in-memory index of the items in the window.
#[derive(Debug)]
pub struct Index {
    members: Vec<Member>,
    /// Band key (mixed with the band number) → the one slot with that key,
    /// or (with [`CHAIN_TAG`]) the number of its [`Chain`]. 32 bits: a
    /// collision between bands only adds a candidate to score.
    band_heads: HashedMap<u32, u32>,
    chains: Vec<Chain>,
    /// Canonical link hash → slots with that link.
    by_link: SlotsByKey,
    /// Cited link hash → slots whose content links there.
    citing: SlotsByKey,
    /// Term → how many members had it when the counts were last taken
    /// (see [`Index::insert_many`]: the local half of term weights), and
    /// how many have it now. One map for both: deciding an item reads its
    /// terms' entries, and indexing it right after finds the same ones in
    /// the cache (and taking the counts copies no table).
    term_counts: HashedMap<u64, TermCount>,
    /// How many items the counts taken counted.
    items_counted: u32,
    /// How many members there are now (counts are taken as weights at a
    /// bulk load and whenever the index has doubled since; see
    /// `RECOUNT_FROM`).
    items_seen: u32,
    /// General German, the other half of term weights.
    background: &'static Background,
    sources: HashMap<String, u32>,
    /// By source number: the places its bulk-loaded items name.
    source_places: Vec<SourcePlaces>,
    /// Clusters merged into another since the index was built (see
    /// [`Index::merge`]): cluster → the cluster it is now part of.
    merged: HashedMap<i64, i64>,
    /// The highest item id indexed.
    pub last_id: i64,
}

impl Default for Index {
    fn default() -> Index {
        Index {
            members: Vec::new(),
            band_heads: HashedMap::default(),
            chains: Vec::new(),
            by_link: SlotsByKey::default(),
            citing: SlotsByKey::default(),
            term_counts: HashedMap::default(),
            items_counted: 0,
            items_seen: 0,
            background: Background::german(),
            sources: HashMap::new(),
            source_places: Vec::new(),
            merged: HashedMap::default(),
            last_id: 0,
        }
    }
}

impl Index {
    pub fn member(&self, slot: u32) -> &Member {
        &self.members[slot as usize]
    }

    /// The number of a source id, if it has indexed items.
    pub fn source_id(&self, source: &str) -> Option<u32> {
        self.sources.get(source).copied()
    }

    /// The interned number of a source id.
    fn source_number(&mut self, source: &str) -> u32 {
        // Looked up before inserting: the entry API would allocate a key
        // for every item.
        if let Some(&number) = self.sources.get(source) {
            return number;
        }
        let next = index32(self.sources.len());
        self.sources.insert(source.to_owned(), next);
        next
    }

    /// Counts the places an indexed item of `source` names.
    fn count_places(&mut self, source: u32, keys: &Keys) {
        let source = source as usize;
        if self.source_places.len() <= source {
            self.source_places
                .resize_with(source + 1, SourcePlaces::default);
        }
        let counts = &mut self.source_places[source];
        counts.items += 1;
        for &place in keys.terms.entities() {
            if super::entities::kind_of(place) != Some(super::entities::Kind::Place) {
                continue;
            }
            if let Some((_, count)) = counts.places.iter_mut().find(|(p, _)| *p == place) {
                *count += 1;
            } else if counts.places.len() < MAX_PLACES_COUNTED {
                counts.places.push((place, 1));
            }
        }
    }

    /// The place a source reports on, learned from its indexed items: the
    /// place at least half of them name, once it has `HOME_MIN_ITEMS`. A
    /// city's press office rarely names its own city ("Das Bürgerbüro bleibt
    /// am Freitag geschlossen"); its items that name no place are taken to
    /// be about it.
    pub fn home_place(&self, source: u32) -> Option<u64> {
        let counts = self.source_places.get(source as usize)?;
        if counts.items < HOME_MIN_ITEMS {
            return None;
        }
        let &(place, count) = counts.places.iter().max_by_key(|(_, count)| *count)?;
        (count * 2 >= counts.items).then_some(place)
    }

    /// Adds an item; `cluster` is its cluster id (its own id when alone).
    pub fn insert(&mut self, id: i64, cluster: i64, source: &str, published: i64, keys: &Keys) {
        self.insert_many(vec![(
            id,
            cluster,
            source.to_owned(),
            published,
            keys.clone(),
        )]);
    }

    /// Adds the item [`Index::decide`] was just asked about, with the band
    /// keys it computed then. Term weights and home places change only with
    /// a bulk load ([`Index::insert_many`]), so that the items of one run
    /// are judged by the same weights whatever the order they come in; the
    /// item's terms are counted, and the counts taken as weights once the
    /// index has doubled and grown by `RECOUNT_FROM` items since they were
    /// last (a first fetch of thousands of items would otherwise weigh every
    /// word by German at large alone).
    pub fn insert_decided(
        &mut self,
        id: i64,
        cluster: i64,
        source: &str,
        published: i64,
        keys: Keys,
        sketch: Sketch,
    ) {
        if id <= self.last_id {
            return;
        }
        self.last_id = id;
        self.count_terms(&keys);
        if self.items_seen
            >= self
                .items_counted
                .saturating_mul(2)
                .saturating_add(RECOUNT_FROM)
        {
            self.take_counts();
        }
        self.add_member(id, cluster, source, published, keys, sketch);
    }

    fn count_terms(&mut self, keys: &Keys) {
        for &term in keys.terms.terms() {
            self.term_counts.entry(term).or_default().now += 1;
        }
        self.items_seen = self.items_seen.saturating_add(1);
    }

    /// How many members had `term` when the counts were last taken.
    fn counted(&self, term: u64) -> u32 {
        self.term_counts.get(&term).map_or(0, |count| count.counted)
    }

    /// Takes the current counts as the ones term weights use.
    fn take_counts(&mut self) {
        for count in self.term_counts.values_mut() {
            count.counted = count.now;
        }
        self.items_counted = self.items_seen;
    }

    /// Adds items (in id order): first their terms and places are counted,
    /// then their sketches are taken, so a bulk load sketches every item
    /// against the same term counts, which term weights use from then on.
    /// The writer loads the window so when it starts and once a day; items
    /// it adds one by one in between ([`Index::insert_decided`]) change the
    /// weights only once the index has doubled.
    pub fn insert_many(&mut self, items: Vec<(i64, i64, String, i64, Keys)>) {
        let items: Vec<_> = items
            .into_iter()
            .filter(|(id, ..)| {
                // Not indexed already (stored by this writer, then caught up).
                *id > self.last_id
            })
            .collect();
        for (id, .., keys) in &items {
            self.last_id = self.last_id.max(*id);
            self.count_terms(keys);
        }
        // A catch-up that found nothing new (before every write) leaves the
        // weights as they are.
        if !items.is_empty() {
            self.take_counts();
        }
        for (id, cluster, source, published, keys) in items {
            let bands = self.bands_for(&keys.terms, 0).map(|bands| bands.keys);
            let weight_sum = match bands {
                Some(_) => keys.terms.terms().iter().map(|&t| self.weight(t)).sum(),
                None => 0.0,
            };
            let sketch = Sketch { bands, weight_sum };
            let number = self.source_number(&source);
            self.count_places(number, &keys);
            self.add_member(id, cluster, &source, published, keys, sketch);
        }
    }

    fn add_member(
        &mut self,
        id: i64,
        cluster: i64,
        source: &str,
        published: i64,
        keys: Keys,
        sketch: Sketch,
    ) {
        let Sketch { bands, weight_sum } = sketch;
        let source = self.source_number(source);
        // An item without bands is never a text candidate, so its terms are
        // never read again: most items of a busy window, and most of the
        // index's memory.
        let terms = match bands {
            Some(_) => keys.terms,
            None => TermSet::default(),
        };
        let slot = index32(self.members.len());
        // Slots below the tag: two billion items are far beyond any window.
        assert!(slot < CHAIN_TAG, "the window index is full");
        for (band, key) in bands.iter().flat_map(BandKeys::iter) {
            match self.band_heads.entry(band_key(band, key)) {
                Entry::Vacant(vacant) => {
                    vacant.insert(slot);
                }
                Entry::Occupied(mut occupied) => {
                    let head = *occupied.get();
                    if head & CHAIN_TAG == 0 {
                        let chain = index32(self.chains.len());
                        self.chains.push(Chain::of(head, slot));
                        *occupied.get_mut() = chain | CHAIN_TAG;
                    } else {
                        self.chains[(head & !CHAIN_TAG) as usize].push(slot);
                    }
                }
            }
        }
        if let Some(link) = keys.link {
            self.by_link.insert(link, slot);
        }
        for &cited in &keys.cites {
            self.citing.insert(cited, slot);
        }
        self.members.push(Member {
            id,
            cluster,
            source,
            in_story: cluster != id,
            published,
            terms,
            weight_sum,
        });
    }

    /// Whether `term`, found in `df` counted items, is too common to
    /// sketch: counted, or by the background, in too many items.
    fn is_common(&self, term: u64, df: u32) -> bool {
        let items = f64::from(self.items_counted) + super::score::BACKGROUND_ITEMS;
        let share = self.background.share_of_item(term);
        let expected = f64::from(df) + share * super::score::BACKGROUND_ITEMS;
        expected > (COMMON_AT_LEAST as f64).max(items / COMMON_SHARE as f64)
    }

    /// The LSH band keys of a term set: the sketch of its telling terms.
    /// `pending` counts items not indexed yet that have these terms (the one
    /// being decided). An item with fewer than `MIN_TELLING_TERMS` telling
    /// terms gets none: what it says, many items say (a recurring notice,
    /// boilerplate), so its text cannot tell one story from another; it can
    /// still group by link.
    pub fn bands_for(&self, terms: &TermSet, pending: u32) -> Option<Bands> {
        self.bands_from_counts(terms, &self.term_counts(terms), pending)
    }

    /// How many indexed items have each of `terms` (one lookup each).
    pub fn term_counts(&self, terms: &TermSet) -> Vec<u32> {
        let mut counts = Vec::with_capacity(terms.terms().len());
        self.term_counts_into(terms, &mut counts);
        counts
    }

    /// [`Index::term_counts`] into a buffer the caller reuses (the writer
    /// asks for every new item's counts).
    pub fn term_counts_into(&self, terms: &TermSet, counts: &mut Vec<u32>) {
        counts.clear();
        counts.extend(terms.terms().iter().map(|term| self.counted(*term)));
    }

    /// The weight of `term`, found in `df` counted items ([`Index::weight`]).
    pub fn weight_of_count(&self, term: u64, df: u32) -> f64 {
        let weight = super::score::idf(df, self.items_counted, self.background.share_of_item(term));
        if super::text::is_place(term) {
            weight.min(super::score::PLACE_WEIGHT)
        } else {
            weight
        }
    }

    /// [`Index::bands_for`] with the term counts looked up already.
    pub fn bands_from_counts(
        &self,
        terms: &TermSet,
        counts: &[u32],
        pending: u32,
    ) -> Option<Bands> {
        thread_local! {
            // The telling terms and their counts: buffers reused for every
            // new item instead of two allocations each.
            static TELLING: std::cell::RefCell<(Vec<u64>, Vec<u32>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        TELLING.with_borrow_mut(|(telling, telling_counts)| {
            telling.clear();
            telling_counts.clear();
            for (&term, &df) in terms.terms().iter().zip(counts) {
                if !self.is_common(term, df + pending) {
                    telling.push(term);
                    telling_counts.push(df);
                }
            }
            if telling.len() < MIN_TELLING_TERMS {
                return None;
            }
            let signature = sketch::signature(telling)?;
            let mut sharing = [0; BANDS];
            for (band, shared) in sharing.iter_mut().enumerate() {
                *shared = signature.sources[band * ROWS..(band + 1) * ROWS]
                    .iter()
                    .map(|&at| telling_counts[usize::from(at)])
                    .min()
                    .unwrap_or(0);
            }
            Some(Bands {
                keys: BandKeys::of(&signature),
                sharing,
            })
        })
    }

    /// Records that item `id` now belongs to `cluster`. Members are indexed
    /// in id order (the load reads by id, later items have higher ids).
    pub fn set_cluster(&mut self, id: i64, cluster: i64) {
        if let Ok(slot) = self.members.binary_search_by_key(&id, |m| m.id) {
            let member = &mut self.members[slot];
            member.cluster = cluster;
            member.in_story = true;
        }
    }

    /// The cluster `member` belongs to now, after merges.
    pub fn cluster_of(&self, member: &Member) -> i64 {
        if self.merged.is_empty() {
            return member.cluster;
        }
        self.resolve(member.cluster)
    }

    /// Records that cluster `from` is now part of cluster `into` (a new item
    /// was a report of both): its members are read as `into`'s from now on,
    /// without touching each (a merge costs one map entry; the daily
    /// rebuild reads the merged clusters from the database).
    pub fn merge(&mut self, from: i64, into: i64) {
        let (from, into) = (self.resolve(from), self.resolve(into));
        if from != into {
            self.merged.insert(from, into);
        }
        self.set_cluster(into, into);
    }

    fn resolve(&self, mut cluster: i64) -> i64 {
        while let Some(&into) = self.merged.get(&cluster) {
            cluster = into;
        }
        cluster
    }

    /// The weight of a term: rare among counted items and in German at
    /// large means telling.
    pub fn weight(&self, term: u64) -> f64 {
        self.weight_of_count(term, self.counted(term))
    }

    /// Slots of items that may be the same story as `keys`, each with the
    /// strongest reason it was found for. Text candidates still need scoring.
    pub fn candidates(&self, keys: &Keys, bands: Option<&Bands>) -> Vec<(u32, Reason)> {
        self.candidates_within(keys, bands, None)
    }

    /// [`Index::candidates`] published within `(published, window_secs)`
    /// of the item, if given: items that left the window (the index drops
    /// them only at its daily rebuild) take no place among the text
    /// candidates scored, which would otherwise depend on the order the
    /// items came in.
    pub fn candidates_within(
        &self,
        keys: &Keys,
        bands: Option<&Bands>,
        window: Option<(i64, i64)>,
    ) -> Vec<(u32, Reason)> {
        let mut found: Vec<(u32, Reason)> = Vec::new();
        if let Some(link) = keys.link {
            for &slot in self.by_link.get(link) {
                found.push((slot, Reason::SameLink));
            }
            for &slot in self.citing.get(link) {
                found.push((slot, Reason::Cites));
            }
        }
        for cited in &keys.cites {
            for &slot in self.by_link.get(*cited) {
                found.push((slot, Reason::Cites));
            }
        }
        if let Some(bands) = bands {
            // Every slot once per band it shares; the most shared are the
            // most alike, and only the first MAX_SCORED of them are scored.
            // The bands of the rarest terms are read first: their few items
            // are the likeliest reports of the same story, while a band of a
            // term in hundreds of items is read only for its newest.
            let mut order = [(0u32, 0usize, 0u32); BANDS];
            let keyed = bands.keys.len();
            for ((band, key), at) in bands.keys.iter().zip(&mut order) {
                *at = (bands.sharing[band], band, key);
            }
            let order = &mut order[..keyed];
            order.sort_unstable();
            // Fixed arrays: this runs for every new item, on the writer.
            let mut shared = [0u32; MAX_WALK];
            let mut walked_in_all = 0;
            // The bands' heads first, in one pass of independent lookups,
            // and the first slot of each chain touched: their cache misses
            // overlap instead of coming one after another.
            let mut heads = [None; BANDS];
            let mut touched = 0;
            for (head, &mut (_, band, key)) in heads.iter_mut().zip(order) {
                *head = self.band_heads.get(&band_key(band, key)).copied();
            }
            for &head in heads.iter().flatten() {
                if head & CHAIN_TAG != 0 {
                    touched ^= self.chains[(head & !CHAIN_TAG) as usize].len;
                }
            }
            std::hint::black_box(touched);
            for head in heads.into_iter().flatten() {
                // Newest first, and only so many: a band key shared by very
                // many items marks text they all repeat, not a story.
                let room = MAX_WALK - walked_in_all;
                if head & CHAIN_TAG == 0 {
                    shared[walked_in_all] = head;
                    walked_in_all += 1;
                } else {
                    let chain = &self.chains[(head & !CHAIN_TAG) as usize];
                    for slot in chain.newest_first().take(room) {
                        shared[walked_in_all] = slot;
                        walked_in_all += 1;
                    }
                }
                if walked_in_all == MAX_WALK {
                    break;
                }
            }
            let shared = &mut shared[..walked_in_all];
            shared.sort_unstable();
            let mut counted = [(0usize, 0u32); MAX_WALK];
            let mut distinct = 0;
            for run in shared.chunk_by(|a, b| a == b) {
                counted[distinct] = (run.len(), run[0]);
                distinct += 1;
            }
            let counted = &mut counted[..distinct];
            // Most bands shared first, then the newest; a few reports of
            // each story are enough to judge it, so a big story does not
            // crowd out the others.
            counted.sort_unstable_by(|a, b| b.cmp(a));
            let mut per_cluster = [(0i64, 0usize); MAX_SCORED];
            let mut clusters = 0;
            let mut scored = 0;
            for &(_, slot) in counted.iter() {
                if scored == MAX_SCORED {
                    break;
                }
                let member = &self.members[slot as usize];
                if window
                    .is_some_and(|(published, secs)| (member.published - published).abs() > secs)
                {
                    continue;
                }
                let cluster = self.cluster_of(member);
                match per_cluster[..clusters]
                    .iter_mut()
                    .find(|(c, _)| *c == cluster)
                {
                    Some((_, seen)) if *seen >= MAX_SCORED_PER_CLUSTER => continue,
                    Some((_, seen)) => *seen += 1,
                    None => {
                        per_cluster[clusters] = (cluster, 1);
                        clusters += 1;
                    }
                }
                found.push((slot, Reason::Text));
                scored += 1;
            }
        }
        // One entry per slot, with its strongest reason.
        found.sort_unstable();
        found.dedup_by_key(|(slot, _)| *slot);
        found
    }
}

fn band_key(band: usize, key: u32) -> u32 {
    (super::text::mix(((band as u64) << 32) | u64::from(key)) >> 32) as u32
}

/// A position in the index's tables, which count in `u32` to stay small:
/// two billion items are far beyond any window, and a table that outgrew
/// that would be a fault, not a number to wrap.
fn index32(n: usize) -> u32 {
    u32::try_from(n).expect("the window index is full")
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "small made-up counts"
)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_keeps_the_newest_items_newest_first() {
        let mut chain = Chain::of(0, 1);
        assert_eq!(chain.newest_first().collect::<Vec<_>>(), [1, 0]);
        for slot in 2..40 {
            chain.push(slot);
        }
        let kept: Vec<u32> = chain.newest_first().collect();
        assert_eq!(kept, (40 - CHAIN_KEPT as u32..40).rev().collect::<Vec<_>>());
        assert_eq!(std::mem::size_of::<Chain>(), 128, "two cache lines");
    }

    #[test]
    fn a_band_key_offers_its_newest_items() {
        let keys_of = |terms: Vec<u64>| Keys {
            terms: TermSet::new(terms.into_iter().map(super::super::text::mix).collect()),
            ..Keys::default()
        };
        // Two thousand unrelated items, then forty with one text: its terms
        // are in 2% of the window, still telling.
        let mut items: Vec<_> = (1..=2000u64)
            .map(|id| {
                let terms = (0..3).map(|k| 10_000 + 3 * id + k).collect();
                (id as i64, id as i64, format!("s{id}"), 0, keys_of(terms))
            })
            .collect();
        let alike = keys_of((1..=12).collect());
        items.extend((2001..=2040).map(|id| (id, id, format!("s{id}"), 0, alike.clone())));
        let mut index = Index::default();
        index.insert_many(items);
        let bands = index.bands_for(&alike.terms, 0).expect("telling terms");
        let found = index.candidates(&alike, Some(&bands));
        let mut ids: Vec<i64> = found
            .iter()
            .map(|&(slot, _)| index.member(slot).id)
            .collect();
        ids.sort_unstable();
        // All share every band: the newest are scored.
        let newest = 2041 - MAX_SCORED as i64;
        assert_eq!(ids, (newest..=2040).collect::<Vec<_>>());
    }

    #[test]
    fn counted_ids_spread_over_the_table() {
        let hashes: Vec<u64> = (1..=1024i64)
            .map(|id| {
                let mut hasher = AlreadyHashed::default();
                std::hash::Hash::hash(&id, &mut hasher);
                hasher.finish()
            })
            .collect();
        let distinct = |bits: fn(u64) -> u64| {
            hashes
                .iter()
                .map(|&hash| bits(hash))
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        // The table finds a slot by the low bits and tells entries apart
        // by the top seven (taken as they are, small ids had those all zero).
        assert_eq!(distinct(|hash| hash & 1023), 1024);
        assert!(distinct(|hash| hash >> 57) >= 64);
    }

    #[test]
    fn slots_by_key_keep_every_slot_of_a_key() {
        let mut slots = SlotsByKey::default();
        slots.insert(7, 1);
        slots.insert(9, 2);
        assert_eq!(slots.get(7), [1]);
        slots.insert(7, 3);
        slots.insert(7, 4);
        assert_eq!(slots.get(7), [1, 3, 4]);
        assert_eq!(slots.get(9), [2]);
        assert!(slots.get(8).is_empty());
    }
}
