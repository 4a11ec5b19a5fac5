//! What happened, however it is written: words that name one kind of event
//! ("Hackerangriff", "Cyber-Attacke", "gehackt"; "Bewährungsstrafe", "zwei
//! Jahre Gefängnis") stand for one term, their concept.
//!
//! Outlets rewrite an agency's headline on purpose, so two reports of one
//! event rarely share the word for what happened: of the real reports in
//! `tests/dedup/real-holdout.toml`, most same-story pairs the rules missed
//! named the event in different words (*Hackerangriff* / *Cyber-Attacke* /
//! *Cyberangriff*). Cutting terms to their first letters
//! ([`super::text`]) catches inflections and compounds that share a start,
//! not synonyms nor compounds that share an end.
//!
//! A concept's weight comes from its words' frequencies added up (the
//! background list is read through the same code, [`super::background`]),
//! so "Angriff" and "Attacke" together weigh as a common word, not a rare
//! one. The list is short and about events news tells of (attacks, verdicts,
//! deaths, arrests, outages, bombs, evacuations, data theft): a concept
//! says *what* happened, and the places, names and numbers around it still
//! tell two such events apart ([`super::score`]).

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

/// Each concept and the (folded) word pieces that name it anywhere in a
/// word: "hacker" in "Hackerangriff" and "Hacker", "angriff" in
/// "Messerangriff". A word may name several ("Hackerangriff": a
/// cyberattack, an attack).
const CONCEPTS: &[(&str, &[&str])] = &[
    (
        "cyberangriff",
        &[
            "hacker",
            "hackang",
            "gehackt",
            "cyberang",
            "cyberatt",
            "cyberkrimin",
            "emotet",
            "ransomware",
            "schadsoftware",
            "malware",
            "trojaner",
            "erpressersoftware",
            "erpressungssoftware",
        ],
    ),
    (
        "angriff",
        &[
            "angriff",
            "angegriff",
            "angreif",
            "attack",
            "attenta",
            "anschlag",
        ],
    ),
    ("messer", &["messer", "niedergestoch", "erstoch"]),
    (
        "urteil",
        &[
            "urteil",
            "bewaehrung",
            "haftstraf",
            "gefaengnis",
            "freispruch",
            "freigesproch",
        ],
    ),
    (
        "tod",
        &["toedlich", "todes", "gestorben", "stirbt", "verstorb"],
    ),
    (
        "festnahme",
        &["festnahm", "festgenomm", "verhaft", "haftbefehl"],
    ),
    (
        "ausfall",
        &["ausfall", "ausgefall", "lahmgeleg", "lahmleg", "offline"],
    ),
    (
        "bombe",
        &[
            "bomb",
            "blindgaeng",
            "luftmine",
            "sprengkoerp",
            "sprengsatz",
        ],
    ),
    ("evakuierung", &["evakuier"]),
    (
        "datendiebstahl",
        &["darknet", "datenleck", "datenabfl", "datendiebst", "erbeut"],
    ),
];

/// Whole words (folded) that name a concept only on their own: "Cyber" of
/// "Cyber-Attacke", "tot", "lahm" of "legt … lahm", "down".
const WHOLE_WORDS: &[(&str, &str)] = &[
    ("cyber", "cyberangriff"),
    ("hack", "cyberangriff"),
    ("tod", "tod"),
    ("tot", "tod"),
    ("tote", "tod"),
    ("toten", "tod"),
    ("toter", "tod"),
    ("lahm", "ausfall"),
    ("down", "ausfall"),
    ("starb", "tod"),
    ("starben", "tod"),
];

/// Word pieces that, found in a word, mean it does not name the concept
/// its other pieces suggest: an assessment ("Beurteilung") or a prejudice
/// ("Vorurteil") is no verdict, a cost estimate ("veranschlagt") no attack,
/// a "Durchmesser" no knife.
const NOT_NAMING: &[(&str, &[&str])] = &[
    ("urteil", &["beurteil", "vorurteil"]),
    ("angriff", &["veranschlag"]),
    ("messer", &["durchmesser"]),
];

/// The pieces of all concepts, found in one pass over a word.
struct Pieces {
    matcher: AhoCorasick,
    /// The concept (index into [`CONCEPTS`]) of each piece.
    concept_of: Vec<usize>,
    /// Each concept's term.
    terms: Vec<u64>,
    /// [`WHOLE_WORDS`] with their concept's index.
    whole_words: Vec<(&'static str, usize)>,
    /// [`NOT_NAMING`] with their concept's index.
    not_naming: Vec<(usize, &'static [&'static str])>,
}

/// The index in [`CONCEPTS`] of the concept called `name`.
fn index_of(name: &str) -> usize {
    CONCEPTS
        .iter()
        .position(|(concept, _)| *concept == name)
        .unwrap_or_else(|| panic!("{name} is a listed concept"))
}

static PIECES: LazyLock<Pieces> = LazyLock::new(|| {
    let mut pieces = Vec::new();
    let mut concept_of = Vec::new();
    for (index, (_, words)) in CONCEPTS.iter().enumerate() {
        for word in *words {
            pieces.push(*word);
            concept_of.push(index);
        }
    }
    Pieces {
        matcher: AhoCorasick::new(pieces).expect("concept pieces are plain words"),
        concept_of,
        terms: CONCEPTS.iter().map(|(name, _)| term(name)).collect(),
        whole_words: WHOLE_WORDS
            .iter()
            .map(|&(word, concept)| (word, index_of(concept)))
            .collect(),
        not_naming: NOT_NAMING
            .iter()
            .map(|&(concept, pieces)| (index_of(concept), pieces))
            .collect(),
    }
});

/// A concept's term: its name hashed apart from every word's term (a
/// folded word has no control characters).
fn term(name: &str) -> u64 {
    super::text::term_hash(&format!("\u{1}{name}"))
}

/// The terms of the concepts a folded word names (at most a few), in the
/// order of [`CONCEPTS`]; none for most words. The few words shorter than
/// four letters are only looked up as whole words.
pub fn of_word(word: &str, mut visit: impl FnMut(u64)) -> bool {
    let pieces = &*PIECES;
    let mut found = 0u32;
    if let Some(&(_, index)) = pieces.whole_words.iter().find(|(whole, _)| *whole == word) {
        found |= 1 << index;
    } else if word.len() >= 4 {
        for piece in pieces.matcher.find_overlapping_iter(word) {
            found |= 1 << pieces.concept_of[piece.pattern().as_usize()];
        }
    }
    if found != 0 {
        for &(index, not_naming) in &pieces.not_naming {
            if not_naming.iter().any(|piece| word.contains(piece)) {
                found &= !(1 << index);
            }
        }
    }
    let any = found != 0;
    while found != 0 {
        let index = found.trailing_zeros() as usize;
        visit(pieces.terms[index]);
        found &= found - 1;
    }
    any
}

/// Whether `term` is a concept's (see [`of_word`]).
pub fn is_concept(term: u64) -> bool {
    PIECES.terms.contains(&term)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concepts(word: &str) -> Vec<u64> {
        let mut found = Vec::new();
        of_word(word, |term| found.push(term));
        found
    }

    #[test]
    fn ways_of_writing_one_event_share_its_concept() {
        let cyber = concepts("cyber")[0];
        let attack = term("angriff");
        assert_eq!(concepts("hackerangriff"), [cyber, attack]);
        assert_eq!(concepts("cyberangriff"), [cyber, attack]);
        assert_eq!(concepts("attacke"), [attack]);
        assert_eq!(concepts("gehackt"), [cyber]);
        assert_eq!(
            concepts("bewaehrungsstrafe"),
            concepts("gefaengnis"),
            "both are a verdict"
        );
        assert_eq!(concepts("toedlicher"), concepts("stirbt"));
        assert!(is_concept(cyber) && is_concept(attack));
    }

    #[test]
    fn most_words_name_no_concept() {
        for word in [
            "rathaus",
            "stadt",
            "glasfaser",
            "hackfleisch",
            "to",
            "ob",
            "beurteilung",
            "vorurteile",
            "veranschlagt",
            "durchmesser",
            "starbucks",
            "gastarbeiter",
        ] {
            assert!(!of_word(word, |_| ()), "{word}");
        }
        assert!(CONCEPTS.len() <= 32, "concepts are bits of a u32");
    }
}
