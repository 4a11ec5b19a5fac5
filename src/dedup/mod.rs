//! Dedup: which stored story a new item is another report of.
//!
//! The city publishes a press release; trade press and the regional paper
//! report it the same day under other titles. Kurator groups such reports
//! into one cluster and shows the cluster once. Two items belong together
//! when, published within `[dedup] window_days` of each other,
//! 1. they have the same canonical link (identify's normalization), or
//! 2. one's content links to the other's canonical link, or
//! 3. their title and lead are near-duplicates ([`score::similarity`] at or
//!    above the threshold). Terms weigh by how rare they are, in German at
//!    large ([`background`]) and among the items the index counted when it
//!    was built; evidence of difference lowers the score: other places,
//!    streets, states or offices ([`entities`]), numbers, headline nouns
//!    the other report does not name, reports a day or more apart
//!    ([`score::apart`]: a follow-up). Candidates come from a MinHash LSH
//!    index ([`sketch`]), so finding them costs a few lookups however many
//!    items are stored.
//!
//! A story is every report linked to another of it by one of these rules:
//! a new item joins the oldest story it is a report of, and any other story
//! it is a report of merges into that one (which keeps its id). Term
//! weights and home places change only when the index is built (at start
//! and daily) or has doubled, not item by item, so the same reports end in
//! the same stories whatever order they arrive in.

pub mod background;
pub mod concept;
pub mod entities;
pub mod index;
pub mod score;
pub mod sketch;
pub mod stage;
pub mod text;

pub use index::{Index, Reason};
pub use score::{TermSet, similarity};

use std::collections::{HashMap, HashSet};

use crate::links::canonical_link;

/// How items group (`[dedup] mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Same link, links between items, and near-duplicate text.
    Cluster,
    /// Only the same canonical link.
    Exact,
    /// No grouping: every item is an entry of its own.
    Off,
}

/// The `[dedup]` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub mode: Mode,
    /// Text similarity at and above which two items are one story.
    pub threshold: f64,
    /// Items further apart than this (seconds, by publication) never group.
    pub window_secs: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            mode: Mode::Cluster,
            threshold: DEFAULT_THRESHOLD,
            window_secs: DEFAULT_WINDOW_DAYS * 86_400,
        }
    }
}

/// `[dedup] window_days` when not set.
pub const DEFAULT_WINDOW_DAYS: i64 = 7;

/// Fewest terms two texts must share to be scored at all.
const MIN_SHARED_TERMS: usize = 2;

/// Most links read from one item's content.
const MAX_CITED_LINKS: usize = 32;

/// An identified item as it goes to the store, with what dedup compares it by.
pub type Identified = crate::identify::Identified<Keys>;

/// What an item is compared by, computed once per item (off the writer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keys {
    pub terms: TermSet,
    /// Hash of the canonical link.
    pub link: Option<u64>,
    /// Hashes of the canonical links the summary and content point to.
    pub cites: Vec<u64>,
}

impl Keys {
    /// `link` is the item's canonical link (as stored).
    pub fn of(
        link: Option<&str>,
        title: &str,
        summary: Option<&str>,
        content: Option<&str>,
    ) -> Keys {
        let terms = item_terms(title, summary, content);
        let own = link.map(text::hash_term);
        let mut cites: Vec<u64> = [summary, content]
            .into_iter()
            .flatten()
            .flat_map(hrefs)
            .map(|href| text::hash_term(&canonical_link(href)))
            .filter(|&hash| Some(hash) != own)
            .take(MAX_CITED_LINKS)
            .collect();
        cites.sort_unstable();
        cites.dedup();
        Keys {
            terms,
            link: own,
            cites,
        }
    }
}

impl Keys {
    /// The keys of a normalized, identified item (its link is canonical).
    pub fn of_item(item: &crate::normalize::Item) -> Keys {
        Keys::of(
            item.link.as_deref(),
            &item.title,
            item.summary.as_deref(),
            item.content.as_deref(),
        )
    }
}

/// Computes the keys of items that lack them (ingest does this off the
/// database writer, which otherwise computes them itself).
pub fn add_keys(items: &mut [Identified]) {
    for identified in items {
        if identified.keys.is_none() {
            identified.keys = Some(Keys::of_item(&identified.item));
        }
    }
}

/// The items of each source's last processed body (hashes of their uids).
///
/// Only a new item is ever grouped, so only its keys are needed; but a feed
/// that changed still carries mostly items stored before, and working out
/// keys for all of them cost ingest about as much as deciding the new ones.
/// An item in the source's previous body was stored then, so its keys are
/// skipped. Nothing depends on this being right: an item skipped wrongly
/// (the previous write failed, two uids share a hash) gets its keys from
/// the database writer, which computes what an item lacks.
#[derive(Debug, Default)]
pub struct SeenItems {
    by_source: std::sync::Mutex<HashMap<String, UidSet>>,
}

/// Uids by their first 64 bits: they are hashes already.
type UidSet = HashSet<u64, std::hash::BuildHasherDefault<index::AlreadyHashed>>;

/// The first 64 bits of a uid (32 hex digits), or a hash of it if it is not one.
fn uid_key(uid: &str) -> u64 {
    uid.get(..16)
        .and_then(|start| u64::from_str_radix(start, 16).ok())
        .unwrap_or_else(|| text::hash_term(uid))
}

impl SeenItems {
    /// [`add_keys`] for the items of `source` that were not in its previous
    /// body; remembers this body's items for the next one.
    pub fn add_keys_of_new(&self, source: &str, items: &mut [Identified]) {
        let previous = self.lock().remove(source).unwrap_or_default();
        let mut seen = UidSet::with_capacity_and_hasher(items.len(), Default::default());
        for identified in items.iter_mut() {
            let uid = uid_key(&identified.uid);
            seen.insert(uid);
            if identified.keys.is_none() && !previous.contains(&uid) {
                identified.keys = Some(Keys::of_item(&identified.item));
            }
        }
        self.lock().insert(source.to_owned(), seen);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UidSet>> {
        // The map holds no invariant a panic could break halfway.
        self.by_source.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The absolute http(s) links in an HTML fragment (sanitized HTML quotes
/// attributes with `"`).
fn hrefs(html: &str) -> impl Iterator<Item = &str> {
    // memmem's vectorized search: every new item's summary and content are
    // scanned, and `str::split` by a string was a tenth of the keys' cost.
    const HREF: &str = "href=\"";
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(HREF));
    FINDER.find_iter(html.as_bytes()).filter_map(|at| {
        let rest = &html[at + HREF.len()..];
        let link = &rest[..memchr::memchr(b'"', rest.as_bytes())?];
        (link.starts_with("http://") || link.starts_with("https://")).then_some(link)
    })
}

/// The cluster a new item joins, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The cluster id (the id of its first item).
    pub cluster: i64,
    /// The indexed item it matched.
    pub partner: i64,
    /// Whether the cluster already has several reports (its first item
    /// stores the cluster id already): the partner is in a story.
    pub founded: bool,
    pub reason: Reason,
    /// 1 for links; the text similarity otherwise.
    pub score: f64,
    /// Other clusters the item is also a report of, to be merged into
    /// `cluster` (the oldest): a story is every report linked to another by
    /// a link or alike text, whatever order they arrive in.
    pub merges: Vec<i64>,
}

/// What [`Index::decide`] found: the cluster to join, if any, and the band
/// keys it computed (for [`Index::insert_decided`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub decision: Option<Decision>,
    /// What the index keeps of the item, as the decision computed it.
    pub sketch: index::Sketch,
}

impl Index {
    /// Which cluster an item from `source` published at `published` joins,
    /// if any. Same-source items group only by link: a source does not
    /// report one event twice, but it does repeat headlines ("Sperrung der
    /// …"), and a source linking its own earlier article is a follow-up.
    pub fn decide(
        &self,
        keys: &Keys,
        source: &str,
        published: i64,
        settings: &Settings,
    ) -> Option<Decision> {
        self.decide_with_bands(keys, source, published, settings)
            .decision
    }

    /// [`Index::decide`], also handing out the band keys it computed.
    pub fn decide_with_bands(
        &self,
        keys: &Keys,
        source: &str,
        published: i64,
        settings: &Settings,
    ) -> Decided {
        if settings.mode == Mode::Off {
            return Decided {
                decision: None,
                sketch: index::Sketch {
                    bands: None,
                    weight_sum: 0.0,
                },
            };
        }
        let source = self.source_id(source);
        let home = source.and_then(|source| self.home_place(source));
        let mut best: Option<Decision> = None;
        // Every cluster the item is a report of (the oldest is joined, the
        // others merged into it), with whether its first item says so.
        let mut joined: Vec<(i64, bool)> = Vec::new();
        thread_local! {
            // The new item's term counts and weights: buffers reused for
            // every new item, on the single writer.
            static SCRATCH: std::cell::RefCell<(Vec<u32>, Vec<f64>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        let mut scratch = SCRATCH.take();
        let (counts, weights) = &mut scratch;
        // Each term's count is looked up once, for the sketch and the weights.
        self.term_counts_into(&keys.terms, counts);
        let bands = (settings.mode == Mode::Cluster)
            .then(|| self.bands_from_counts(&keys.terms, counts, 1))
            .flatten();
        // Weights are needed only to score text candidates, and only an
        // item with bands has any (and is ever one): most items say too
        // little that is rare to get bands, and skip this.
        weights.clear();
        if bands.is_some() {
            weights.extend(
                keys.terms
                    .terms()
                    .iter()
                    .zip(counts.iter())
                    .map(|(&term, &df)| self.weight_of_count(term, df)),
            );
        }
        let weight_sum: f64 = weights.iter().sum();
        let candidates = self.candidates_within(
            keys,
            bands.as_ref(),
            Some((published, settings.window_secs)),
        );
        // The candidates' members and term lists lie scattered over memory:
        // touching them all first lets their cache misses overlap, instead
        // of scoring waiting for each in turn.
        let touched = candidates.iter().fold(0u64, |acc, &(slot, _)| {
            acc ^ self
                .member(slot)
                .terms
                .terms()
                .first()
                .copied()
                .unwrap_or(0)
        });
        std::hint::black_box(touched);
        for (slot, reason) in candidates {
            let member = self.member(slot);
            if (member.published - published).abs() > settings.window_secs {
                continue;
            }
            let same_source = Some(member.source) == source;
            let (reason, score) = match (settings.mode, reason) {
                (_, Reason::SameLink) => (reason, 1.0),
                (Mode::Exact | Mode::Off, _) => continue,
                (Mode::Cluster, _) if same_source => continue,
                (Mode::Cluster, Reason::Cites) => (reason, 1.0),
                (Mode::Cluster, Reason::Text) => {
                    let mut overlap =
                        score::overlap(keys.terms.terms(), weights, member.terms.terms());
                    // Many band collisions share a term or two by chance,
                    // and one shared term never reaches a threshold.
                    if overlap.shared < MIN_SHARED_TERMS {
                        continue;
                    }
                    let homes = [home, self.home_place(member.source)];
                    let gap = member.published - published;
                    let in_time = score::in_time(gap, keys.terms.stage(), member.terms.stage());
                    overlap.headlines_alike =
                        score::headlines_alike(&keys.terms, &member.terms, |t| self.weight(t));
                    let scored = |overlap: &score::Overlap| {
                        score::score(
                            overlap,
                            &keys.terms,
                            weight_sum,
                            &member.terms,
                            member.weight_sum,
                            homes,
                        ) * in_time
                    };
                    let mut score = scored(&overlap);
                    if score < settings.threshold {
                        continue;
                    }
                    // Headline nouns only lower a score, and comparing them
                    // costs more than the rest: only for a pair that would
                    // otherwise be one story.
                    overlap.keys_differ =
                        score::key_words_differ(&keys.terms, &member.terms, |t| self.weight(t))
                            .is_some();
                    if overlap.keys_differ {
                        score = scored(&overlap);
                        if score < settings.threshold {
                            continue;
                        }
                    }
                    (reason, score)
                }
            };
            let cluster = self.cluster_of(member);
            match joined.iter_mut().find(|(c, _)| *c == cluster) {
                Some((_, founded)) => *founded |= member.in_story,
                None => joined.push((cluster, member.in_story)),
            }
            let better = best
                .as_ref()
                .is_none_or(|b| (reason, -score, member.id) < (b.reason, -b.score, b.partner));
            if better {
                best = Some(Decision {
                    cluster,
                    partner: member.id,
                    founded: false,
                    reason,
                    score,
                    merges: Vec::new(),
                });
            }
        }
        if let Some(decision) = best.as_mut() {
            joined.sort_unstable();
            let (oldest, founded) = joined[0];
            decision.cluster = oldest;
            decision.founded = founded;
            decision.merges = joined[1..].iter().map(|&(c, _)| c).collect();
        }
        SCRATCH.set(scratch);
        Decided {
            decision: best,
            sketch: index::Sketch {
                bands: bands.map(|bands| bands.keys),
                weight_sum,
            },
        }
    }
}

/// Words of the lead (the summary's or content's start) that count besides
/// the title: enough to carry the facts, before the texts go separate ways.
pub const LEAD_WORDS: usize = 60;

/// Similarity at and above which two texts are one story (`[dedup] threshold`).
pub const DEFAULT_THRESHOLD: f64 = 0.22;

/// The terms an item is compared by: its title and the start of its
/// summary (or, without one, of its content).
///
/// A lead's dateline ("Osnabrück. …", "Berlin (dpa) – …") names where the
/// report was written, often the outlet's or agency's town rather than the
/// event's: its place counts only when the item names no other place or
/// state (then it is mostly the event's: "Estorf (dpa) – Der Bürgermeister
/// …").
pub fn item_terms(title: &str, summary: Option<&str>, content: Option<&str>) -> TermSet {
    thread_local! {
        // The terms, entities, headline nouns and a dateline's entities as
        // they are found: buffers reused for every item, so that what the
        // item keeps is allocated once at its exact size. A fresh list per
        // item, grown as found, left most of its room unused in the index
        // (and zeroing fresh pages for it was a tenth of clustering's cost).
        static SCRATCH: std::cell::RefCell<TermScratch> =
            const { std::cell::RefCell::new(TermScratch::new()) };
    }
    // "Nach dem Hackerangriff: Stadt wieder online": what came before is
    // read as a lead is; the news is after the colon.
    let (recap, news) = split_recap(title);
    SCRATCH.with_borrow_mut(|scratch| {
        let TermScratch {
            terms,
            entities,
            keys,
            dateline_entities,
        } = scratch;
        terms.clear();
        entities.clear();
        keys.clear();
        dateline_entities.clear();
        text::terms_and_entities(recap, usize::MAX, terms, entities);
        let recapped = terms.len();
        text::headline_terms(news, terms, entities, keys);
        let headline = terms[recapped..].to_vec();
        if let Some(lead) = summary.filter(|s| !s.trim().is_empty()).or(content) {
            let (dateline, rest) = split_dateline(lead);
            let read = text::terms_and_entities(dateline, LEAD_WORDS, terms, dateline_entities);
            text::terms_and_entities(rest, LEAD_WORDS - read, terms, entities);
            let names_where = |e: &u64| {
                matches!(
                    entities::kind_of(*e),
                    Some(entities::Kind::Place | entities::Kind::State)
                )
            };
            let is_dateline = dateline_entities.iter().any(names_where);
            if !is_dateline || !entities.iter().any(names_where) {
                entities.append(dateline_entities);
            }
        }
        terms.sort_unstable();
        terms.dedup();
        entities.sort_unstable();
        entities.dedup();
        TermSet::with_entities(terms.to_vec(), entities.to_vec())
            .with_headline(headline)
            .with_keys(keys.as_str().into())
            .with_stage(stage::of_headline(news))
    })
}

/// What [`item_terms`] finds, before the item keeps it.
struct TermScratch {
    terms: Vec<u64>,
    entities: Vec<u64>,
    keys: String,
    dateline_entities: Vec<u64>,
}

impl TermScratch {
    const fn new() -> TermScratch {
        TermScratch {
            terms: Vec::new(),
            entities: Vec::new(),
            keys: String::new(),
            dateline_entities: Vec::new(),
        }
    }
}

/// Most bytes a headline's recap takes ([`split_recap`]).
const RECAP_BYTES: usize = 64;

/// A headline's recap of what came before and its news: "Nach Attentat:
/// Reker gewinnt Wahl in Köln" is the election, "Nach Palmers
/// Parteiaustritt: Respekt, Bedauern, Freude" the reactions. A headline
/// without one is all news.
fn split_recap(title: &str) -> (&str, &str) {
    let title = title.trim_start();
    if title.starts_with("Nach ")
        && let Some(colon) = title.find(':').filter(|&colon| colon <= RECAP_BYTES)
    {
        return (&title[..colon], &title[colon + 1..]);
    }
    ("", title)
}

/// Most bytes a dateline and its agency take.
const DATELINE_BYTES: usize = 48;

/// A lead's possible dateline and the rest: the start of the text, up to
/// three words, ending in ". ", an agency in brackets or a dash ("Berlin
/// (dpa) – ", "LUDWIGSBURG – ", "Osnabrück. "). Only a dateline that names
/// a place is treated as one ([`item_terms`]), so a false find ("Am 5. März")
/// changes nothing.
fn split_dateline(lead: &str) -> (&str, &str) {
    const ENDS: [&str; 5] = [". ", " (", " - ", " – ", " — "];
    let text = lead.trim_start();
    let mut limit = text.len().min(DATELINE_BYTES);
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let window = &text[..limit];
    // The first ending in the window (no two start at one byte). Scanned
    // once rather than searched for five times: every new item's lead
    // passes here, and setting up a substring search cost more than the
    // search.
    let found = window.bytes().enumerate().find_map(|(at, byte)| {
        matches!(byte, b'.' | b' ')
            .then(|| {
                ENDS.iter()
                    .find(|ending| window[at..].starts_with(**ending))
            })
            .flatten()
            .map(|ending| (at, *ending))
    });
    let Some((end, ending)) = found else {
        return ("", lead);
    };
    let head = &text[..end];
    let words = head.split_whitespace().count();
    if !(1..=3).contains(&words) || !head.starts_with(char::is_uppercase) || head.contains('<') {
        return ("", lead);
    }
    let mut rest = &text[end + ending.len()..];
    if ending == " (" {
        // The agency: "(dpa)", "(dpa/lhe)", then a dash, colon or full stop.
        match rest.find(')') {
            Some(close) if close < 16 => rest = &rest[close + 1..],
            _ => return ("", lead),
        }
        rest = rest.trim_start();
        rest = rest.strip_prefix(['-', '–', '—', ':', '.']).unwrap_or(rest);
    }
    (head, rest.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_is_cut_after_its_word_budget() {
        let filler = "Wort ".repeat(LEAD_WORDS - 1);
        let cut = item_terms("", Some(&format!("{filler}Eberstadt Glasfaser")), None);
        let whole = item_terms("", Some(&format!("{filler}Eberstadt")), None);
        assert_eq!(cut, whole, "the word after the budget is not read");
        // Markup does not use up the budget.
        let marked = item_terms(
            "",
            Some(&format!(
                "<a href=\"https://x.example/a/b\">{filler}</a>Eberstadt"
            )),
            None,
        );
        assert_eq!(marked, whole);
    }

    #[test]
    fn a_dateline_names_the_event_only_when_nothing_else_does() {
        assert_eq!(
            split_dateline("Berlin (dpa/lhe) – Die Städte fordern"),
            ("Berlin", "Die Städte fordern")
        );
        assert_eq!(
            split_dateline("Osnabrück. Das Land"),
            ("Osnabrück", "Das Land")
        );
        assert_eq!(
            split_dateline("LUDWIGSBURG – Das Amt"),
            ("LUDWIGSBURG", "Das Amt")
        );
        assert_eq!(
            split_dateline("Die Anwendung ist seit Monaten umstritten. Zuletzt").0,
            ""
        );
        // The agency's town is not where the event is.
        let with_dateline = item_terms(
            "Kiel kündigt den Vertrag",
            Some("Osnabrück. Kiel hat den Vertrag gekündigt."),
            None,
        );
        let without = item_terms(
            "Kiel kündigt den Vertrag",
            Some("Kiel hat den Vertrag gekündigt."),
            None,
        );
        assert_eq!(with_dateline.entities(), without.entities());
        // Naming nothing else, the dateline is the event's place.
        let only_dateline = item_terms(
            "Bürgerbüro geschlossen",
            Some("Kassel (dpa) – Das Bürgerbüro bleibt zu."),
            None,
        );
        assert_eq!(
            only_dateline.entities(),
            item_terms("Bürgerbüro in Kassel geschlossen", None, None).entities()
        );
        // The same words either way.
        assert_eq!(
            with_dateline.terms(),
            item_terms(
                "Kiel kündigt den Vertrag",
                Some("Osnabrück Kiel hat den Vertrag gekündigt."),
                None
            )
            .terms()
        );
    }

    #[test]
    fn summary_is_preferred_to_content() {
        let words = |set: TermSet| (set.terms().to_vec(), set.entities().to_vec());
        let with_summary = item_terms("Titel", Some("Glasfaser Eberstadt"), Some("Haushalt"));
        let expected = item_terms("Titel Glasfaser Eberstadt", None, None);
        assert_eq!(words(with_summary), words(expected));
        let content_only = item_terms("Titel", Some("  "), Some("Haushalt"));
        assert_eq!(
            words(content_only),
            words(item_terms("Titel Haushalt", None, None))
        );
    }

    #[test]
    fn the_headline_nouns_are_kept_for_comparing_what_happened() {
        let set = item_terms(
            "Kiel schaltet kostenloses WLAN in Bussen frei",
            Some("Die KVG hat 220 Busse umgerüstet."),
            None,
        );
        // Capitalized words that name no place nor office, of the headline only.
        assert_eq!(set.keys().collect::<Vec<_>>(), ["wlan", "bussen"]);
    }
}

#[cfg(test)]
mod decide_tests {
    use super::*;

    const CITY: (&str, &str) = (
        "Glasfaserausbau in Eberstadt startet",
        "Die Wissenschaftsstadt Darmstadt und die Entega starten im März den Glasfaserausbau \
         in Eberstadt. Rund 4.200 Haushalte erhalten bis Ende 2026 einen Anschluss; die Stadt \
         investiert 2,5 Millionen Euro. Oberbürgermeister Hanno Benz: „Schnelles Internet ist \
         Daseinsvorsorge.“",
    );
    const REWRITE: (&str, &str) = (
        "Darmstadt: Eberstadt bekommt Glasfaser",
        "In Eberstadt beginnt der Glasfaserausbau: Rund 4.200 Haushalte des Darmstädter \
         Stadtteils sollen bis Ende 2026 angeschlossen werden. Die Stadt stellt dafür \
         2,5 Mio. Euro bereit, gebaut wird gemeinsam mit Entega.",
    );
    const OTHER_EVENT: (&str, &str) = (
        "Sperrung der Heinrichstraße wegen Kanalarbeiten",
        "Die Heinrichstraße wird zwischen Karlstraße und Hermannstraße vom 3. bis 14. März \
         wegen Kanalarbeiten voll gesperrt. Eine Umleitung ist ausgeschildert.",
    );

    fn keys(link: &str, (title, summary): (&str, &str)) -> Keys {
        Keys::of(Some(link), title, Some(summary), None)
    }

    fn items_of(titles: &[&str]) -> Vec<Identified> {
        let items = titles
            .iter()
            .map(|title| crate::normalize::Item {
                guid: Some(format!("guid-{title}")),
                link: None,
                title: (*title).to_owned(),
                summary: None,
                content: None,
                author: None,
                categories: Vec::new(),
                published: None,
                updated: None,
            })
            .collect();
        crate::identify::identify("stadt", items)
    }

    #[test]
    fn keys_are_computed_only_for_items_not_in_the_previous_body() {
        let seen = SeenItems::default();
        let mut first = items_of(&["Glasfaser für Eberstadt", "Sperrung der Heinrichstraße"]);
        seen.add_keys_of_new("stadt", &mut first);
        assert!(
            first.iter().all(|i| i.keys.is_some()),
            "a first body is all new"
        );

        let mut second = items_of(&["Neue Kita in Arheilgen", "Glasfaser für Eberstadt"]);
        seen.add_keys_of_new("stadt", &mut second);
        assert_eq!(
            second[0].keys,
            Some(Keys::of_item(&second[0].item)),
            "the new item gets its keys"
        );
        assert_eq!(second[1].keys, None, "an item seen last time does not");

        // Another source's body is its own: the same uid is not seen there.
        let mut other = items_of(&["Neue Kita in Arheilgen"]);
        seen.add_keys_of_new("kommune21", &mut other);
        assert!(other[0].keys.is_some());
        // Only the last body counts: an item that left the feed and came
        // back is looked at again.
        let mut third = items_of(&["Sperrung der Heinrichstraße"]);
        seen.add_keys_of_new("stadt", &mut third);
        assert!(third[0].keys.is_some());
    }

    #[test]
    fn a_rewrite_from_another_source_joins_and_another_event_does_not() {
        let mut index = Index::default();
        index.insert(1, 1, "stadt", 1000, &keys("https://a.example/1", CITY));
        index.insert(
            2,
            2,
            "stadt",
            1000,
            &keys("https://a.example/2", OTHER_EVENT),
        );
        let settings = Settings::default();
        let rewrite = keys("https://b.example/1", REWRITE);
        let decision = index
            .decide(&rewrite, "kommune21", 5000, &settings)
            .unwrap();
        assert_eq!((decision.cluster, decision.reason), (1, Reason::Text));
        assert!(decision.score >= settings.threshold, "{decision:?}");
        // The same text from the same source is a repeated headline, not a report.
        assert!(index.decide(&rewrite, "stadt", 5000, &settings).is_none());
        // Outside the window nothing groups.
        let late = 1000 + settings.window_secs + 1;
        assert!(
            index
                .decide(&rewrite, "kommune21", late, &settings)
                .is_none()
        );
        // Exact mode groups links only.
        let exact = Settings {
            mode: Mode::Exact,
            ..settings
        };
        assert!(index.decide(&rewrite, "kommune21", 5000, &exact).is_none());
        let same_link = keys("https://a.example/1", REWRITE);
        assert_eq!(
            index
                .decide(&same_link, "kommune21", 5000, &exact)
                .map(|d| d.reason),
            Some(Reason::SameLink)
        );
    }

    #[test]
    fn a_press_office_that_never_names_its_city_is_taken_to_be_about_it() {
        let mut index = Index::default();
        // Two cities' press offices: most of their items name the city.
        let mut id = 0;
        for (source, city) in [("stadt-ks", "Kassel"), ("stadt-of", "Offenbach")] {
            for n in 0..5 {
                id += 1;
                let title = format!("{city}: Meldung{id} zu Vorgang{id}");
                let link = format!("https://{source}.example/{n}");
                index.insert(
                    id,
                    id,
                    source,
                    1000,
                    &Keys::of(Some(&link), &title, None, None),
                );
            }
        }
        let notice = (
            "Bürgerbüro am Freitag geschlossen",
            "Wegen einer Softwareumstellung bleibt das Bürgerbüro am Freitag ganztägig \
             geschlossen. Bereits vereinbarte Termine werden verlegt.",
        );
        id += 1;
        index.insert(
            id,
            id,
            "stadt-ks",
            2000,
            &keys("https://stadt-ks.example/n", notice),
        );
        // The other city's notice in the same words is another event.
        let other = keys("https://stadt-of.example/n", notice);
        let settings = Settings::default();
        assert!(index.decide(&other, "stadt-of", 2100, &settings).is_none());
        // From a source with no home place (trade press) it is a report of it.
        assert!(index.decide(&other, "kommune21", 2100, &settings).is_some());
    }

    #[test]
    fn a_young_index_weighs_words_by_german_at_large() {
        // Nothing indexed yet: only the background knows that "Innenstadt"
        // is a common word and "Raguhn" a rare one.
        let index = Index::default();
        let weight = |text: &str| {
            let set = item_terms(text, None, None);
            index.weight(set.terms()[0])
        };
        assert!(weight("Innenstadt") < weight("Parkplatzsuche"));
        assert!(weight("Stadt") < weight("Innenstadt"));
        // A place's name weighs as a common word: where is judged as a place.
        assert!(weight("Raguhn") <= score::PLACE_WEIGHT);
    }

    #[test]
    fn the_same_kind_of_news_about_another_thing_stays_apart_in_a_young_index() {
        // The wrong joins issue "Grouping that never hides a story" found on
        // a fresh database: each pair is two events.
        let pairs = [
            (
                (
                    "Kiel schaltet kostenloses WLAN in Bussen frei",
                    "Fahrgäste der KVG surfen ab sofort kostenlos: Alle 220 Busse der \
                     Landeshauptstadt haben einen offenen WLAN-Zugang.",
                ),
                (
                    "Kiel schaltet kostenloses WLAN in der Innenstadt frei",
                    "In der Fußgängerzone gibt es ab sofort freies WLAN: Die \
                     Landeshauptstadt hat 35 Zugangspunkte in Betrieb genommen.",
                ),
            ),
            (
                (
                    "Freiburg startet Mängelmelder-App",
                    "Schlaglöcher und defekte Laternen können in Freiburg ab sofort \
                     per App an die Verwaltung gemeldet werden.",
                ),
                (
                    "Freiburg startet Bürger-App für Parkplatzsuche",
                    "Freie Parkplätze in den Parkhäusern zeigt eine neue App der Stadt \
                     Freiburg in Echtzeit an.",
                ),
            ),
        ];
        let settings = Settings::default();
        for (first, second) in pairs {
            let mut index = Index::default();
            index.insert(1, 1, "kommune21", 1000, &keys("https://a.example/1", first));
            let other = keys("https://b.example/1", second);
            let found = index.decide(&other, "egovernment", 2000, &settings);
            assert!(found.is_none(), "{} / {}: {found:?}", first.0, second.0);
            let findings = score::factors_with_homes(
                &keys("", first).terms,
                &other.terms,
                |t| index.weight(t),
                [None, None],
                1000,
            );
            assert!(
                findings
                    .iter()
                    .any(|(finding, _)| *finding == "headline words differ"),
                "{findings:?}"
            );
        }
    }

    #[test]
    fn compounds_of_one_noun_are_the_same_thing() {
        let index = Index::default();
        let bomb = item_terms(
            "Weltkriegsbombe in Dresden entschärft",
            Some("Mehrere Tausend Menschen mussten ihre Wohnungen verlassen."),
            None,
        );
        let found = item_terms(
            "Evakuierung nach Bombenfund in Dresden",
            Some("Die Weltkriegsbombe wurde am Nachmittag entschärft."),
            None,
        );
        assert_eq!(
            score::key_words_differ(&bomb, &found, |t| index.weight(t)),
            None
        );
    }

    #[test]
    fn one_event_named_in_other_words_is_one_story() {
        // Headlines of real reports of one event
        // (tests/dedup/real-holdout.toml): a "Cyber-Attacke" is a
        // "Hackerangriff", and what "Hacker" do.
        let headline = |title| item_terms(title, None, None);
        let attack = headline("Cyber-Attacke auf Zulassungsbehörden");
        for other_words in [
            "Hackerangriff auf Zulassungsbehörden",
            "Cyberangriff auf Zulassungsbehörden",
            "Hacker-Angriff auf Zulassungsbehörden",
        ] {
            assert_eq!(
                headline(other_words).terms(),
                attack.terms(),
                "{other_words}"
            );
        }
        let index = Index::default();
        let weight = |term| index.weight(term);
        let closed = headline("Zulassungsstellen schließen nach Hackerangriff");
        let hackers =
            headline("Hacker greifen Zulassungsbehörden in Hessen und Rheinland-Pfalz an");
        assert_eq!(score::key_words_differ(&attack, &closed, weight), None);
        for (a, b) in [(&attack, &closed), (&attack, &hackers), (&closed, &hackers)] {
            let alike = score::similarity(a, b, weight);
            assert!(alike >= DEFAULT_THRESHOLD, "{alike}");
        }
    }

    #[test]
    fn headlines_that_agree_carry_leads_that_tell_it_differently() {
        // Two real reports of one vote (tests/dedup/real.toml): the leads
        // tell the story from two sides, the headlines agree.
        let index = Index::default();
        let weight = |term| index.weight(term);
        let no = item_terms(
            "Bundesrat stimmt OZG 2.0 nicht zu",
            Some(
                "Seit Monaten wird an einem Nachfolger für das Onlinezugangsgesetz gearbeitet. \
                 Der Bundestag hat dem Gesetz bereits zugestimmt. In der heutigen \
                 Plenarsitzung des Bundesrats hätte das Gesetz nun verabschiedet werden \
                 können, das Vorhaben fand jedoch keine Mehrheit.",
            ),
            None,
        );
        let against = item_terms(
            "Bundesrat stimmt gegen das OZG 2.0",
            Some(
                "Der Bundesrat hat am Freitag gegen das Onlinezugangs-Änderungsgesetz \
                 (OZG 2.0) gestimmt. Im Februar war es nach langen Verhandlungen vom \
                 Bundestag beschlossen worden.",
            ),
            None,
        );
        let alike = score::similarity(&no, &against, weight);
        assert!(alike >= DEFAULT_THRESHOLD, "{alike}");
        let findings = score::factors_with_homes(&no, &against, weight, [None, None], 0);
        assert_eq!(findings, [(score::HEADLINES_CARRY, 1.0)]);
        // One headline term in common is not enough.
        let other = item_terms("Bundesrat billigt Wohngeldreform", None, None);
        assert_eq!(score::headlines_alike(&no, &other, weight), 0.0);
    }

    #[test]
    fn a_headline_recap_of_what_came_before_is_read_as_a_lead() {
        assert_eq!(
            split_recap("Nach Attentat: Reker gewinnt Wahl in Köln"),
            ("Nach Attentat", " Reker gewinnt Wahl in Köln")
        );
        assert_eq!(
            split_recap("Reker: Nach dem Attentat"),
            ("", "Reker: Nach dem Attentat")
        );
        let long = "Nach einer langen Nacht voller Verhandlungen im Rathaus der Stadt: Einigung";
        assert_eq!(split_recap(long), ("", long), "a recap is short");
        // Real headlines (tests/dedup/real-holdout.toml): the election after
        // the attack names no attack, and its headline nouns are the news.
        let election = item_terms("Nach Attentat: Reker gewinnt Wahl in Köln", None, None);
        assert!(!election.terms().iter().any(|&t| concept::is_concept(t)));
        assert!(election.keys().all(|key| key != "attentat"));
        assert_eq!(
            election.stage(),
            stage::of_headline("Reker gewinnt Wahl in Köln")
        );
    }

    #[test]
    fn only_a_headline_names_what_happened_as_a_concept() {
        // A lead recaps the event a follow-up follows: "Nach dem
        // Messerangriff …" must not tie the follow-up to every report of
        // the attack through the concept of an attack.
        let concept_terms = |set: &TermSet| {
            set.terms()
                .iter()
                .filter(|&&term| concept::is_concept(term))
                .count()
        };
        let recap = item_terms(
            "Tatverdächtiger sollte abgeschoben werden",
            Some("Nach dem Messerangriff hat die Polizei einen Tatverdächtigen festgenommen."),
            None,
        );
        assert_eq!(concept_terms(&recap), 0);
        let attack = item_terms("Tote bei Messerangriff auf Stadtfest", None, None);
        assert_eq!(concept_terms(&attack), 3, "a death, an attack, a knife");
    }

    #[test]
    fn nouns_that_only_end_alike_are_different_things() {
        let index = Index::default();
        // The headlines of two real reports of one evening
        // (tests/dedup/real.toml): a mayor's resignation, and the police
        // inquiry that followed it.
        let resignation = item_terms(
            "Bürgermeister-Rücktritt wegen Anfeindungen",
            Some(
                "Der Bürgermeister der niedersächsischen Gemeinde ist wegen rechtsextremer Übergriffe zurückgetreten.",
            ),
            None,
        );
        let inquiry = item_terms(
            "Ermittlungen wegen Volksverhetzung",
            Some("Der Rücktritt als Bürgermeister schlägt überregional Wellen."),
            None,
        );
        // "Anfeindungen" and "Ermittlungen" share "ungen", which is no word.
        assert_eq!(
            score::key_words_differ(&resignation, &inquiry, |t| index.weight(t)),
            Some(("anfeindungen", "volksverhetzung"))
        );
    }

    #[test]
    fn a_preview_and_its_outcome_are_two_stories() {
        let mut index = Index::default();
        let preview = (
            "Mögliche Weltkriegsbombe in Riehl",
            "Im Kölner Stadtteil Riehl ist bei Bauarbeiten ein Verdachtspunkt entdeckt worden. \
             Der Kampfmittelräumdienst prüft den Fund am Seniorenzentrum.",
        );
        let all_clear = (
            "Möglicher Bombenfund in Köln-Riehl: Stadt gibt Entwarnung!",
            "Der Verdachtspunkt am Seniorenzentrum in Riehl war keine Weltkriegsbombe. \
             Der Kampfmittelräumdienst gab am Nachmittag Entwarnung.",
        );
        index.insert(1, 1, "radio", 1000, &keys("https://a.example/1", preview));
        let later = keys("https://b.example/1", all_clear);
        let settings = Settings::default();
        assert!(index.decide(&later, "zeitung", 9000, &settings).is_none());
        let findings = score::factors_with_homes(
            &keys("", preview).terms,
            &later.terms,
            |t| index.weight(t),
            [None, None],
            8000,
        );
        assert!(
            findings
                .iter()
                .any(|(finding, _)| *finding == score::STAGES_DIFFER),
            "{findings:?}"
        );
        // The same all-clear from another outlet still joins.
        index.insert(2, 2, "zeitung", 9000, &later);
        let again = keys(
            "https://c.example/1",
            (
                "Köln-Riehl: Entwarnung nach Bombenverdacht",
                "Der Verdachtspunkt am Seniorenzentrum in Riehl war keine Weltkriegsbombe, \
                 der Kampfmittelräumdienst gab Entwarnung.",
            ),
        );
        let joined = index.decide(&again, "sender", 9500, &settings).unwrap();
        assert_eq!(joined.cluster, 2);
    }

    #[test]
    fn a_report_days_later_counts_less() {
        let mut index = Index::default();
        index.insert(1, 1, "stadt", 1000, &keys("https://a.example/1", CITY));
        let settings = Settings::default();
        let rewrite = keys("https://b.example/1", REWRITE);
        let same_day = index.decide(&rewrite, "kommune21", 5000, &settings);
        let days_later = index.decide(&rewrite, "kommune21", 1000 + 4 * 86_400, &settings);
        let (same_day, days_later) = (same_day.unwrap().score, days_later.unwrap().score);
        assert!(days_later < same_day * 0.7, "{days_later} {same_day}");
    }

    #[test]
    fn a_link_to_a_stored_item_joins_its_cluster_both_ways() {
        let mut index = Index::default();
        index.insert(1, 1, "stadt", 1000, &keys("https://a.example/1", CITY));
        let citing = Keys::of(
            Some("https://b.example/9"),
            "Kurz gemeldet",
            Some(r#"Wie die Stadt <a href="https://a.example/1?utm_source=x">mitteilt</a>."#),
            None,
        );
        let decision = index
            .decide(&citing, "echo", 2000, &Settings::default())
            .unwrap();
        assert_eq!((decision.cluster, decision.reason), (1, Reason::Cites));
        // The other way round: the cited item arrives after the citing one.
        let mut index = Index::default();
        index.insert(5, 5, "echo", 1000, &citing);
        let cited = keys("https://a.example/1", CITY);
        let decision = index
            .decide(&cited, "stadt", 2000, &Settings::default())
            .unwrap();
        assert_eq!((decision.cluster, decision.reason), (5, Reason::Cites));
    }
}
