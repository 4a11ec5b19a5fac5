//! How alike two items' texts are, from 0 (nothing shared) to 1.
//!
//! Terms are weighted by how rare they are among recent items and in German
//! at large ([`idf`]): sharing "Entega", "Glasfaser" and "2,5 Millionen"
//! says much more than sharing "Stadt" and "Digitalisierung"; a place's name
//! weighs little, since where is judged as a place. The score is the
//! weighted share of the smaller text's terms that the other text also has,
//! damped by how much the larger one adds: a short teaser contained in a
//! long press release still scores high, while two texts on one topic that
//! share only the topic's vocabulary score low. Evidence of difference
//! (other places, streets, states, offices, numbers, headline nouns, a
//! preview against an outcome, days apart) then lowers it;
//! [`factors_with_homes`] names each finding.

use super::stage::Stage;

/// How many items the background statistics count as ([`idf`]): a
/// database with far fewer items in its window weighs terms mostly by
/// German at large; one with many more, mostly by its own counts.
pub const BACKGROUND_ITEMS: f64 = 1000.0;

/// The most a place's or state's name weighs ([`super::text::is_place`]):
/// that of a word in about one item in ten.
pub const PLACE_WEIGHT: f64 = 2.3;

/// Distinct terms of one item, sorted, and the places and streets it
/// names ([`super::entities`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermSet {
    terms: Vec<u64>,
    entities: Vec<u64>,
    /// The headline's nouns, folded, separated by spaces
    /// ([`super::text::headline_terms`]).
    keys: Box<str>,
    /// The same nouns as terms, for comparing them on the database writer
    /// without hashing words: for each, in order, its term, the number of
    /// its parts, then the parts (the terms of the word and of its parts as
    /// a compound that are German words; [`names_it`]).
    nouns: Box<[u64]>,
    /// Where in its event's course the headline stands.
    stage: Stage,
    /// The headline's distinct terms, sorted.
    headline: Box<[u64]>,
}

impl TermSet {
    pub fn new(terms: Vec<u64>) -> TermSet {
        TermSet::with_entities(terms, Vec::new())
    }

    pub fn with_entities(mut terms: Vec<u64>, mut entities: Vec<u64>) -> TermSet {
        terms.sort_unstable();
        terms.dedup();
        entities.sort_unstable();
        entities.dedup();
        TermSet {
            terms,
            entities,
            keys: Box::default(),
            nouns: Box::default(),
            stage: Stage::Unknown,
            headline: Box::default(),
        }
    }

    /// With `keys` as the headline's nouns (folded words, separated by spaces).
    pub fn with_keys(mut self, keys: String) -> TermSet {
        use super::text::{term_of_folded, word_and_parts};
        let german = super::background::Background::german();
        let mut nouns = Vec::new();
        let mut concepts = Vec::new();
        for key in keys.split(' ').filter(|word| !word.is_empty()) {
            // A noun that names what happened is its first concept, as in
            // the item's terms; all its concepts are parts.
            concepts.clear();
            super::concept::of_word(key, |concept| concepts.push(concept));
            let whole = term_of_folded(key);
            nouns.push(whole);
            let count_at = nouns.len();
            nouns.push(0);
            for &concept in &concepts {
                if !nouns[count_at + 1..].contains(&concept) {
                    nouns.push(concept);
                }
            }
            // A compound's long starts share one term ("weltkr…"): each
            // is looked up in the (large) word list only once.
            for part in word_and_parts(key) {
                if !nouns[count_at + 1..].contains(&part) && german.frequency(part) > 0.0 {
                    nouns.push(part);
                }
            }
            nouns[count_at] = (nouns.len() - count_at - 1) as u64;
        }
        self.keys = keys.into_boxed_str();
        self.nouns = nouns.into_boxed_slice();
        self
    }

    /// Each headline noun's term and parts, in the order of [`TermSet::keys`].
    fn nouns(&self) -> impl Iterator<Item = (u64, &[u64])> {
        let mut rest = &self.nouns[..];
        std::iter::from_fn(move || {
            let (&whole, after) = rest.split_first()?;
            let (&count, after) = after.split_first()?;
            let (parts, after) = after.split_at(usize::try_from(count).ok()?.min(after.len()));
            rest = after;
            Some((whole, parts))
        })
    }

    /// With `terms` as the headline's terms.
    pub fn with_headline(mut self, mut terms: Vec<u64>) -> TermSet {
        terms.sort_unstable();
        terms.dedup();
        self.headline = terms.into_boxed_slice();
        self
    }

    /// The headline's distinct terms, sorted.
    pub fn headline(&self) -> &[u64] {
        &self.headline
    }

    /// With `stage` as where the headline stands in its event's course.
    pub fn with_stage(mut self, stage: Stage) -> TermSet {
        self.stage = stage;
        self
    }

    /// Where the headline stands in its event's course.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The headline's nouns, folded.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.split(' ').filter(|word| !word.is_empty())
    }

    pub fn terms(&self) -> &[u64] {
        &self.terms
    }

    pub fn entities(&self) -> &[u64] {
        &self.entities
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// The weight of a term found in `df` of `n` counted items, and in a share
/// `background` of German texts as long as an item's: rare terms weigh up
/// to about `ln(n + BACKGROUND_ITEMS)`, a term in every item next to
/// nothing. The background counts as [`BACKGROUND_ITEMS`] more items, so a
/// young database, whose few dozen items say little about how common a
/// word is, judges by German at large ("Innenstadt" is common, "Raguhn"
/// rare), and the local counts (municipal news repeats "Digitalisierung")
/// take over as they grow. The item being compared counts as one of the
/// items with the term.
pub fn idf(df: u32, n: u32, background: f64) -> f64 {
    let items = f64::from(n) + BACKGROUND_ITEMS + 1.0;
    let with_term = f64::from(df) + 1.0 + background * BACKGROUND_ITEMS;
    (items / (with_term + 0.5)).ln().max(0.05)
}

/// What one merge of two sorted term lists finds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlap {
    /// How many terms both have.
    pub shared: usize,
    /// The weight of the shared terms (by the first list's weights).
    pub shared_weight: f64,
    /// Both give numbers (dates, amounts, house numbers; not years) and
    /// share none of them: a sign of different events ("Sperrung der
    /// Heinrichstraße vom 3. bis 14. März" and "… vom 21. April bis 9. Mai"),
    /// though rewrites of one event sometimes quote different figures.
    pub numbers_differ: bool,
    /// Each headline has a telling noun the other text lacks (set by the
    /// caller from [`key_words_differ`]: it needs both items' weights).
    pub keys_differ: bool,
    /// How alike the two headlines are on their own ([`headlines_alike`],
    /// set by the caller).
    pub headlines_alike: f64,
}

/// Compares two sorted term lists in one merge; `a_weights` are the
/// weights of `a`'s terms. This runs for every candidate scored, on the
/// database writer, so it is one pass without branches on the terms' order
/// (which a processor cannot predict): each step advances one list or both.
pub fn overlap(a: &[u64], a_weights: &[f64], b: &[u64]) -> Overlap {
    use super::text::is_number;
    assert_eq!(a.len(), a_weights.len(), "one weight per term");
    let (mut i, mut j) = (0, 0);
    let mut shared = 0;
    let mut shared_weight = 0.0;
    let (mut a_number, mut b_number, mut shared_number) = (false, false, false);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        let equal = x == y;
        shared += usize::from(equal);
        shared_weight += a_weights[i] * f64::from(u8::from(equal));
        a_number |= is_number(x);
        b_number |= is_number(y);
        shared_number |= equal & is_number(x);
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    a_number |= a[i..].iter().any(|&t| is_number(t));
    b_number |= b[j..].iter().any(|&t| is_number(t));
    Overlap {
        shared,
        shared_weight,
        numbers_differ: a_number && b_number && !shared_number,
        keys_differ: false,
        headlines_alike: 0.0,
    }
}

/// Whether `set`'s title or lead has the headline noun whose term is
/// `whole`, or its headline a noun with a part in common with it as a
/// compound ("Weltkriegsbombe" and "Bombenfund";
/// [`super::text::word_and_parts`]). A part counts only if it is a German
/// word of its own: "Ermittlungen" and "Anfeindungen" end alike, but
/// "ungen" names nothing.
fn names_it(set: &TermSet, whole: u64, parts: &[u64]) -> bool {
    let has = |term: &u64| set.terms().binary_search(term).is_ok();
    has(&whole)
        || parts
            .iter()
            .any(|part| super::concept::is_concept(*part) && has(part))
        || set.nouns().any(|(other, other_parts)| {
            other == whole || other_parts.iter().any(|part| parts.contains(part))
        })
}

/// The heaviest headline noun ([`TermSet::keys`]) of each of `a` and `b`
/// that the other does not name (`names_it`: "Weltkriegsbombe" and
/// "Bombe" agree), if both have one weighing at
/// least [`KEY_WEIGHT`]: "Kiel schaltet kostenloses WLAN in Bussen frei"
/// and "… WLAN in der Innenstadt frei", "Freiburg startet Bürger-App für
/// Parkplatzsuche" and "… Mängelmelder-App" are other events. A rewrite
/// of one event mostly names, in its lead, what the other's headline says
/// happened; a headline noun both lack is not evidence of difference.
pub fn key_words_differ<'a>(
    a: &'a TermSet,
    b: &'a TermSet,
    weight: impl Fn(u64) -> f64,
) -> Option<(&'a str, &'a str)> {
    let missing = |from: &'a TermSet, other: &TermSet| {
        from.keys()
            .zip(from.nouns())
            .filter(|(_, (whole, parts))| !names_it(other, *whole, parts))
            .map(|(key, (whole, _))| (weight(whole), key))
            .filter(|&(weight, _)| weight >= KEY_WEIGHT)
            .max_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, key)| key)
    };
    Some((missing(a, b)?, missing(b, a)?))
}

/// Weighted similarity of `a` and `b` published at the same time; `weight`
/// gives a term's weight.
pub fn similarity(a: &TermSet, b: &TermSet, weight: impl Fn(u64) -> f64) -> f64 {
    similarity_at_home(a, b, weight, [None, None], 0)
}

/// [`similarity`] of two items published `gap_secs` apart, where a text
/// that names no place is taken to be about its source's home place
/// (`homes`, for `a` and `b`; see [`super::Index::home_place`]): as a
/// decision weighs them.
pub fn similarity_at_home(
    a: &TermSet,
    b: &TermSet,
    weight: impl Fn(u64) -> f64,
    homes: [Option<u64>; 2],
    gap_secs: i64,
) -> f64 {
    let (mut found, a_sum, b_sum) = weighed(a, b, &weight);
    found.keys_differ = key_words_differ(a, b, &weight).is_some();
    found.headlines_alike = headlines_alike(a, b, &weight);
    score(&found, a, a_sum, b, b_sum, homes) * in_time(gap_secs, a.stage(), b.stage())
}

/// The [`Overlap`] of `a`'s and `b`'s terms, weighed by `weight`, and the
/// sums of their weights.
fn weighed(a: &TermSet, b: &TermSet, weight: &impl Fn(u64) -> f64) -> (Overlap, f64, f64) {
    let a_weights: Vec<f64> = a.terms().iter().map(|&t| weight(t)).collect();
    let a_sum = a_weights.iter().sum();
    let b_sum = b.terms().iter().map(|&t| weight(t)).sum();
    (overlap(a.terms(), &a_weights, b.terms()), a_sum, b_sum)
}

/// The share of the score kept for two items published `gap_secs` apart
/// whose headlines stand at `a` and `b` in their event's course ([`apart`],
/// [`course`]).
pub fn in_time(gap_secs: i64, a: Stage, b: Stage) -> f64 {
    apart(gap_secs).map_or(1.0, |(_, share)| share)
        * course(gap_secs, a, b).map_or(1.0, |(_, share)| share)
}

/// The similarity of `a` and `b` from their [`Overlap`] and the sums of
/// their term weights.
pub fn score(
    overlap: &Overlap,
    a: &TermSet,
    a_sum: f64,
    b: &TermSet,
    b_sum: f64,
    homes: [Option<u64>; 2],
) -> f64 {
    let shared = overlap.shared_weight;
    if a.is_empty() || b.is_empty() || shared <= 0.0 {
        return 0.0;
    }
    let texts = texts_alike(shared, a_sum, b_sum);
    let mut factor = 1.0;
    each_factor(a, b, overlap, homes, |_, f| factor *= f);
    (texts.max(overlap.headlines_alike * HEADLINE_SHARE) * factor).min(1.0)
}

/// How alike two texts whose terms weigh `a_sum` and `b_sum` are when
/// they share terms weighing `shared`.
fn texts_alike(shared: f64, a_sum: f64, b_sum: f64) -> f64 {
    let only_a = (a_sum - shared).max(0.0);
    let only_b = (b_sum - shared).max(0.0);
    alike(shared, only_a.min(only_b), only_a.max(only_b))
}

/// Containment carries most of the score; Jaccard damps pairs where one
/// text is a small part of a much longer one.
fn alike(shared: f64, smaller: f64, larger: f64) -> f64 {
    let containment = shared / (shared + smaller);
    let jaccard = shared / (shared + smaller + larger);
    (2.0 * containment + jaccard) / 3.0
}

/// What `kurator explain` calls a score carried by the headlines
/// ([`headlines_alike`]).
pub const HEADLINES_CARRY: &str = "the headlines alike on their own";

/// Whether the headlines of `a` and `b` make them more alike than their
/// texts do ([`score`]).
fn headlines_carry(a: &TermSet, b: &TermSet, weight: &impl Fn(u64) -> f64) -> bool {
    let (found, a_sum, b_sum) = weighed(a, b, weight);
    let texts = if found.shared_weight > 0.0 {
        texts_alike(found.shared_weight, a_sum, b_sum)
    } else {
        0.0
    };
    headlines_alike(a, b, weight) * HEADLINE_SHARE > texts
}

/// The share of two headlines' likeness that counts when it is more than
/// their texts' ([`headlines_alike`]).
const HEADLINE_SHARE: f64 = 0.45;

/// How alike the headlines of `a` and `b` are on their own, as [`score`]
/// weighs texts: two leads that tell one event from different angles
/// dilute headlines that agree ("Bundesrat stimmt OZG 2.0 nicht zu",
/// "Bundesrat stimmt gegen das OZG 2.0"). At least two terms must agree.
pub fn headlines_alike(a: &TermSet, b: &TermSet, weight: impl Fn(u64) -> f64) -> f64 {
    let (x, y) = (a.headline(), b.headline());
    // Most candidates share fewer than two headline terms: counted first,
    // without a weight looked up (this runs for every candidate scored).
    let shared_terms = x.iter().filter(|t| y.binary_search(t).is_ok()).count();
    if shared_terms < 2 {
        return 0.0;
    }
    let (mut shared, mut only_a) = (0.0, 0.0);
    for &term in x {
        if y.binary_search(&term).is_ok() {
            shared += weight(term);
        } else {
            only_a += weight(term);
        }
    }
    let only_b: f64 = y
        .iter()
        .filter(|t| x.binary_search(t).is_err())
        .map(|&t| weight(t))
        .sum();
    alike(shared, only_a.min(only_b), only_a.max(only_b))
}

/// What raises or lowers the similarity of `a` and `b`, for `kurator
/// explain`: each finding with the factor it contributes.
pub fn factors_with_homes(
    a: &TermSet,
    b: &TermSet,
    weight: impl Fn(u64) -> f64,
    homes: [Option<u64>; 2],
    gap_secs: i64,
) -> Vec<(&'static str, f64)> {
    let unweighted = vec![0.0; a.terms().len()];
    let mut compared = overlap(a.terms(), &unweighted, b.terms());
    compared.keys_differ = key_words_differ(a, b, &weight).is_some();
    let mut found = Vec::new();
    if headlines_carry(a, b, &weight) {
        found.push((HEADLINES_CARRY, 1.0));
    }
    each_factor(a, b, &compared, homes, |finding, factor| {
        found.push((finding, factor))
    });
    found.extend(apart(gap_secs));
    found.extend(course(gap_secs, a.stage(), b.stage()));
    found
}

/// Calls `visit` with each finding and its factor (without allocating: this
/// runs for every candidate scored, on the database writer). Different
/// places, streets or numbers are another event: the same words about
/// another place ("Bürgerbüro geschlossen" in Kassel and in Offenbach).
/// `homes` stand in for a text that names no place (see
/// [`super::Index::home_place`]).
fn each_factor(
    a: &TermSet,
    b: &TermSet,
    compared: &Overlap,
    [a_home, b_home]: [Option<u64>; 2],
    mut visit: impl FnMut(&'static str, f64),
) {
    use super::entities::{Kind, disagree, kind_of};
    let mut any = false;
    if compared.numbers_differ {
        visit("numbers differ", NUMBERS_DISAGREE);
        any = true;
    }
    if compared.keys_differ {
        visit(KEYS_DIFFER, KEYS_DISAGREE);
        any = true;
    }
    if a.stage().differs_from(b.stage()) {
        visit(STAGES_DIFFER, STAGES_DISAGREE);
        any = true;
    }
    let is_place = |e: &&u64| kind_of(**e) == Some(Kind::Place);
    let names_place = |t: &TermSet| t.entities().iter().any(|e| is_place(&e));
    let places_differ = match (names_place(a), names_place(b)) {
        (true, true) => disagree(a.entities(), b.entities(), Kind::Place),
        (true, false) => b_home.is_some_and(|home| !a.entities().contains(&home)),
        (false, true) => a_home.is_some_and(|home| !b.entities().contains(&home)),
        (false, false) => matches!((a_home, b_home), (Some(x), Some(y)) if x != y),
    };
    if places_differ {
        visit("places differ", PLACES_DISAGREE);
        any = true;
    }
    if disagree(a.entities(), b.entities(), Kind::Street) {
        visit("streets differ", PLACES_DISAGREE);
        any = true;
    }
    if disagree(a.entities(), b.entities(), Kind::State) {
        visit("states differ", PLACES_DISAGREE);
        any = true;
    }
    if disagree(a.entities(), b.entities(), Kind::Office) {
        visit("offices differ", OFFICES_DISAGREE);
        any = true;
    }
    if disagree(a.entities(), b.entities(), Kind::Party) {
        visit("parties differ", PARTIES_DISAGREE);
        any = true;
    }
    // Naming the same place or street, and no other, is a sign of one
    // event: rewrites share few words but keep the where. (One state or
    // one office in common is not: many events share them.)
    let is_where = |e: &&u64| matches!(kind_of(**e), Some(Kind::Place | Kind::Street));
    if !any
        && a.entities()
            .iter()
            .filter(is_where)
            .any(|e| b.entities().binary_search(e).is_ok())
    {
        visit("same place", PLACES_AGREE);
    }
}

/// Reports of one event come out within hours of each other (of the real
/// reports in `tests/dedup/real.toml`, 109 of 113 pairs within a day); a
/// report on the same place and people a day or more later is mostly a
/// follow-up with news of its own (the result after the preview, the
/// all-clear after the bomb scare, the arrest after the attack: 47 of the
/// 60 such pairs within the window). Only lowered, not vetoed: weekly trade
/// press reports a press release days later in much the same words. The
/// finding and the share of the score kept for two items published
/// `gap_secs` apart, if that far apart.
pub fn apart(gap_secs: i64) -> Option<(&'static str, f64)> {
    const HOUR: i64 = 3_600;
    let gap = gap_secs.abs();
    if gap > DAYS_APART_HOURS * HOUR {
        Some(("published days apart", DAYS_APART))
    } else if gap > NEXT_DAY_HOURS * HOUR {
        Some(("published a day or more apart", NEXT_DAY))
    } else {
        None
    }
}

/// The finding and the share of the score kept for an incident and its
/// outcome told `gap_secs` apart, if that is half a day or more (see
/// [`super::stage`]): the outage and "wieder online" the next day, the
/// attack on a candidate and her election.
pub fn course(gap_secs: i64, a: Stage, b: Stage) -> Option<(&'static str, f64)> {
    const HOUR: i64 = 3_600;
    (a.incident_and_outcome(b) && gap_secs.abs() >= INCIDENT_HOURS * HOUR)
        .then_some((INCIDENT_AND_OUTCOME, STAGES_DISAGREE))
}

/// What `kurator explain` calls a [`course`] finding.
pub const INCIDENT_AND_OUTCOME: &str =
    "one headline tells of an incident, the other of its outcome half a day later";
/// From this many hours apart an incident and its outcome are two stories.
const INCIDENT_HOURS: i64 = 12;

/// Gaps up to this many hours are one story's news cycle.
const NEXT_DAY_HOURS: i64 = 24;
/// The share kept a day or more apart.
const NEXT_DAY: f64 = 0.6;
/// Gaps beyond this many hours are days apart.
const DAYS_APART_HOURS: i64 = 72;
/// The share kept days apart.
const DAYS_APART: f64 = 0.4;

/// What `kurator explain` calls a [`key_words_differ`] finding.
pub const KEYS_DIFFER: &str = "headline words differ";

/// The least weight of a headline noun whose absence is evidence
/// ([`key_words_differ`]): a word in fewer than about one item in ninety.
pub const KEY_WEIGHT: f64 = 4.5;
/// The share kept when each headline has a telling noun the other lacks.
const KEYS_DISAGREE: f64 = 0.5;

/// What `kurator explain` calls headlines at different points of an
/// event's course ([`super::stage`]).
pub const STAGES_DIFFER: &str = "one headline looks ahead, the other tells the outcome";
/// The share kept when one headline looks ahead and the other tells the
/// outcome: a preview and its result share every name and place.
const STAGES_DISAGREE: f64 = 0.4;

/// The share of the score kept when the numbers disagree.
const NUMBERS_DISAGREE: f64 = 0.5;
/// The share kept when the places (or the streets) disagree: below the
/// default threshold even for texts alike in every other word (two cities'
/// identical notices are two events).
const PLACES_DISAGREE: f64 = 0.1;
/// The share kept when both name offices but none in common (a Landrat's
/// and a mayor's story): strong evidence, though a report may name another
/// official of the same event.
const OFFICES_DISAGREE: f64 = 0.4;
/// The share kept when both name parties but none in common (an AfD
/// mayor's story and an SPD mayor's), though a report of an election may
/// name only the winner's party and another only the loser's.
const PARTIES_DISAGREE: f64 = 0.5;
/// The factor when they share a place or street and nothing disagrees.
const PLACES_AGREE: f64 = 1.4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_sets_score_one_and_disjoint_zero() {
        let a = TermSet::new(vec![3, 1, 2, 2]);
        assert_eq!(a.terms(), &[1, 2, 3]);
        assert!((similarity(&a, &a, |_| 1.0) - 1.0).abs() < 1e-9);
        let b = TermSet::new(vec![4, 5]);
        assert_eq!(similarity(&a, &b, |_| 1.0), 0.0);
        assert_eq!(similarity(&a, &TermSet::default(), |_| 1.0), 0.0);
    }

    #[test]
    fn other_states_other_offices_and_days_apart_are_evidence_of_difference() {
        let terms = |text: &str| crate::dedup::item_terms(text, None, None);
        let landrat = terms("Erster AfD-Landrat in Brandenburg gewählt");
        let mayor = terms("Erster AfD-Bürgermeister in Sachsen-Anhalt gewählt");
        let findings: Vec<&str> = factors_with_homes(&landrat, &mayor, |_| 1.0, [None, None], 0)
            .into_iter()
            .map(|(finding, _)| finding)
            .collect();
        assert_eq!(findings, ["states differ", "offices differ"]);
        let alike = similarity(&landrat, &mayor, |_| 1.0);
        assert!(alike < 0.14 * 0.5, "{alike}");
        // One office or state in common is no sign of one event.
        let other_mayor = terms("Bürgermeister in Sachsen-Anhalt tritt zurück");
        assert!(factors_with_homes(&mayor, &other_mayor, |_| 1.0, [None, None], 0).is_empty());

        assert_eq!(apart(20 * 3_600), None, "the same news cycle");
        assert_eq!(apart(-20 * 3_600), None, "either order");
        let (finding, next_day) = apart(30 * 3_600).unwrap();
        assert_eq!(finding, "published a day or more apart");
        let (finding, days) = apart(4 * 86_400).unwrap();
        assert_eq!(finding, "published days apart");
        assert!(days < next_day && next_day < 1.0);
    }

    #[test]
    fn rare_shared_terms_count_more_than_common_ones() {
        let a = TermSet::new(vec![1, 2, 3, 4]);
        let b = TermSet::new(vec![1, 2, 7, 8]);
        let common_shared = similarity(&a, &b, |t| if t <= 2 { 0.1 } else { 1.0 });
        let rare_shared = similarity(&a, &b, |t| if t <= 2 { 1.0 } else { 0.1 });
        assert!(
            rare_shared > 0.8 && common_shared < 0.2,
            "{rare_shared} {common_shared}"
        );
    }

    #[test]
    fn one_merge_counts_weighs_and_compares_numbers() {
        use crate::dedup::text::term_hash;
        let set = |words: &[&str]| {
            let mut terms: Vec<u64> = words.iter().map(|w| term_hash(w)).collect();
            terms.sort_unstable();
            terms
        };
        let a = set(&["sperrung", "heinrichstrasse", "3", "14", "maerz"]);
        let weights: Vec<f64> = (1..=a.len()).map(|w| w as f64).collect();
        let other_dates = set(&["sperrung", "heinrichstrasse", "21", "9", "mai"]);
        let found = overlap(&a, &weights, &other_dates);
        assert_eq!(found.shared, 2);
        let expected: f64 = a
            .iter()
            .zip(&weights)
            .filter(|(t, _)| other_dates.contains(t))
            .map(|(_, w)| w)
            .sum();
        assert_eq!(found.shared_weight, expected);
        assert!(found.numbers_differ, "no number in common");

        let one_date_shared = set(&["sperrung", "14", "april"]);
        assert!(!overlap(&a, &weights, &one_date_shared).numbers_differ);
        let no_numbers = set(&["sperrung", "heinrichstrasse", "2025"]);
        let found = overlap(&a, &weights, &no_numbers);
        assert!(!found.numbers_differ, "a year is not a number");
        assert_eq!(found.shared, 2);
        assert_eq!(overlap(&[], &[], &a).shared, 0);
    }
}
