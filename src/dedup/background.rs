//! Background statistics for German: how common a term is in text at large.
//!
//! A young database has stored a few dozen items and cannot tell a rare word
//! from a common one by its own counts: "WLAN" and "Innenstadt" look equally
//! telling after one fetch. General German word frequencies (wordfreq's
//! `large_de`, CC BY-SA 4.0; `data/wordfreq-de/` says where they come from
//! and `tools/wordfreq_de.py` writes them) give every term a prior: the
//! share of texts of an item's length that contain it. Local counts take
//! over as they grow.
//!
//! Words are turned into terms exactly as items are ([`super::text::terms`]),
//! so the frequencies of words sharing a term ("Stadt", "Städte", "städtisch")
//! add up. Words rarer than once per million are not listed: they count as
//! rare, which is what they are.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::LazyLock;

use super::index::AlreadyHashed;

/// The list, as shipped.
const FREQUENCIES: &str = include_str!("../../data/wordfreq-de/frequencies.txt");

/// Words an item is compared by (its title and lead: [`super::LEAD_WORDS`]
/// and a headline), for [`Background::share_of_item`].
pub const ITEM_WORDS: u32 = 70;

/// Term frequencies per word of running text.
#[derive(Debug, Default)]
pub struct Background {
    by_term: HashMap<u64, f64, BuildHasherDefault<AlreadyHashed>>,
}

static GERMAN: LazyLock<Background> = LazyLock::new(|| Background::parse(FREQUENCIES));

impl Background {
    /// German, from the shipped list (built on first use, a few ms).
    pub fn german() -> &'static Background {
        &GERMAN
    }

    /// Reads lines of `centibels<TAB>word word …`; `#` lines are comments.
    fn parse(text: &str) -> Background {
        let mut by_term: HashMap<u64, f64, BuildHasherDefault<AlreadyHashed>> = HashMap::default();
        let mut terms = Vec::new();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((bucket, words)) = line.split_once('\t') else {
                continue;
            };
            let Ok(centibels) = bucket.parse::<u16>() else {
                continue;
            };
            let frequency = 10f64.powf(-f64::from(centibels) / 100.0);
            for word in words.split(' ') {
                terms.clear();
                super::text::terms(word, &mut terms);
                for &term in &terms {
                    *by_term.entry(term).or_default() += frequency;
                }
            }
        }
        Background { by_term }
    }

    /// The share of German texts as long as an item's that contain `term`.
    pub fn share_of_item(&self, term: u64) -> f64 {
        self.share_of_texts(term, ITEM_WORDS)
    }

    /// How often `term` occurs per word of German text (0 if rarer than
    /// once per million words).
    pub fn frequency(&self, term: u64) -> f64 {
        self.by_term.get(&term).copied().unwrap_or(0.0).min(1.0)
    }

    /// The share of German texts of `words` words that contain `term`.
    pub fn share_of_texts(&self, term: u64, words: u32) -> f64 {
        1.0 - (1.0 - self.frequency(term)).powi(i32::try_from(words).unwrap_or(i32::MAX))
    }

    /// How many terms the list knows.
    pub fn len(&self) -> usize {
        self.by_term.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_term.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(word: &str) -> u64 {
        let mut terms = Vec::new();
        super::super::text::terms(word, &mut terms);
        assert_eq!(terms.len(), 1, "{word} is one term");
        terms[0]
    }

    #[test]
    fn the_shipped_list_knows_common_german_words_and_not_rare_ones() {
        let german = Background::german();
        assert!(german.len() > 15_000, "{} terms", german.len());
        let common = german.frequency(term("Stadt"));
        let plain = german.frequency(term("Innenstadt"));
        let rare = german.frequency(term("Raguhn"));
        assert!(common > 1e-4, "Stadt: {common}");
        assert!(plain > 0.0 && plain < common, "Innenstadt: {plain}");
        assert_eq!(rare, 0.0, "Raguhn is rarer than once per million words");
        // Folded as items are: umlauts and ß do not split a word's counts.
        assert!(german.frequency(term("Straße")) > 1e-5);
        assert!(german.frequency(term("Bürgermeister")) > 1e-6);
    }

    #[test]
    fn inflected_forms_add_up_and_longer_texts_contain_more() {
        let list = Background::parse("# a comment\n300\tstadt\n400\tstaedte\nnot a line\n");
        let frequency = list.frequency(term("Stadt"));
        let expected = 10f64.powf(-3.0)
            + if term("Städte") == term("Stadt") {
                1e-4
            } else {
                0.0
            };
        assert!((frequency - expected).abs() < 1e-12, "{frequency}");
        let short = list.share_of_texts(term("Stadt"), 10);
        let long = list.share_of_texts(term("Stadt"), 100);
        assert!(short > 0.0 && short < long && long < 1.0, "{short} {long}");
        assert_eq!(list.share_of_texts(term("Kiel"), 100), 0.0);
    }
}
