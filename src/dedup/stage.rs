//! Where in its event's course a headline stands: looking ahead (a
//! preview, a suspicion, a yes-or-no question), telling of an incident
//! under way (an evacuation, an outage, an attack) or telling the outcome
//! (a result, a verdict, the all-clear, systems back online).
//!
//! Reports of one event mostly stand at the same point. A preview and the
//! result of the same vote share every name and place ("Bekommt Wangerooge
//! erstmals eine Inselbürgermeisterin?" and "Wangerooge: Frau von der Insel
//! setzt sich als Bürgermeisterin durch"), as do the bomb scare and its
//! all-clear ("Mögliche Weltkriegsbombe in Riehl" and "… Stadt gibt
//! Entwarnung!"), yet a reader wants both: [`super::score`] counts a
//! headline that looks ahead against one that tells the outcome as evidence
//! of two events. An incident and its outcome are one story within a news
//! cycle (the evacuation in the morning, the bomb defused at noon) but two
//! when half a day or more apart (the outage, and the city back online the
//! next day; the attack on a candidate, and her election).
//!
//! Only headlines are read, and only words that say so in any context: a
//! lead recaps what came before ("Bei der Wahl am 17. August hatte keiner
//! …"), and words such as "vor" or "neuer" say nothing of the course
//! ("Angst vor der NPD", "Neue Bezahlkarte").

use crate::fold;

/// The point in its event's course a headline tells of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stage {
    /// Neither: most headlines.
    #[default]
    Unknown,
    /// A preview, a suspicion, a threat, a yes-or-no question.
    Ahead,
    /// An incident under way: an evacuation, an outage, an attack.
    Underway,
    /// A result, a verdict, an all-clear, an arrest, a restart.
    Outcome,
}

impl Stage {
    /// How `kurator explain` names it.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Unknown => "neither",
            Stage::Ahead => "looks ahead",
            Stage::Underway => "tells of an incident",
            Stage::Outcome => "tells the outcome",
        }
    }

    /// Whether one of `self` and `other` tells of an incident and the
    /// other of its outcome.
    pub fn incident_and_outcome(self, other: Stage) -> bool {
        matches!(
            (self, other),
            (Stage::Underway, Stage::Outcome) | (Stage::Outcome, Stage::Underway)
        )
    }

    /// Whether one of `self` and `other` looks ahead and the other tells
    /// the outcome.
    pub fn differs_from(self, other: Stage) -> bool {
        matches!(
            (self, other),
            (Stage::Ahead, Stage::Outcome) | (Stage::Outcome, Stage::Ahead)
        )
    }
}

/// Words (folded) that tell an outcome wherever they stand.
const OUTCOME: &[&str] = &[
    "abgewaehlt",
    "aufgehoben",
    "beendet",
    "entschaerft",
    "entwarnung",
    "ergebnis",
    "fehlalarm",
    "festgenommen",
    "festnahme",
    "freigesprochen",
    "freispruch",
    "gefasst",
    "gesiegt",
    "gesprengt",
    "gewaehlt",
    "gewinnt",
    "gewonnen",
    "sieg",
    "siegt",
    "unterlag",
    "unterlegen",
    "unterliegt",
    "urteil",
    "verliert",
    "verloren",
    "verurteilt",
    "wahlsieg",
    "wiedergewaehlt",
    "wiederhergestellt",
    "zurueckgetreten",
];

/// With "wieder" in the same headline, an outcome: "Stadt Potsdam wieder
/// per E-Mail erreichbar".
const BACK: &[&str] = &[
    "erreichbar",
    "freigegeben",
    "geoeffnet",
    "offen",
    "online",
    "verfuegbar",
];

/// Words (folded) that look ahead wherever they stand. Not "soll" or
/// "will": reports of a decision say what it is meant to do ("Kabinett
/// beschließt OZG 2.0" and "OZG 2.0 soll Verwaltung digitaler machen").
const AHEAD: &[&str] = &[
    "bevor",
    "drohen",
    "droht",
    "koennte",
    "koennten",
    "moeglich",
    "moegliche",
    "moeglichen",
    "moeglicher",
    "moegliches",
    "morgen",
    "verdacht",
    "vorschau",
];

/// Words (folded) that tell of an incident under way.
const UNDERWAY: &[&str] = &[
    "angegriffen",
    "beginnt",
    "begonnen",
    "down",
    "evakuieren",
    "evakuiert",
    "evakuierung",
    "gesperrt",
    "laeuft",
    "lahm",
    "lahmgelegt",
    "laufen",
    "niedergestochen",
    "offline",
    "verlassen",
];

/// Endings (folded) of nouns that name an attack: "Cyberangriff",
/// "Messerattacke", "Anschlag".
const ATTACKS: &[&str] = &["angriff", "anschlag", "attacke"];

/// Question words: a headline asking "Wer ist Hannes Loth?" portrays, it
/// does not look ahead.
const QUESTION_WORDS: &[&str] = &[
    "wann", "warum", "was", "welche", "welcher", "welches", "wem", "wen", "wer", "weshalb", "wie",
    "wieso", "wo", "woher", "wohin",
];

/// The stage `title` tells of. An outcome word wins over a word that looks
/// ahead ("Möglicher Bombenfund in Köln-Riehl: Stadt gibt Entwarnung!").
pub fn of_headline(title: &str) -> Stage {
    let mut found = Found::default();
    // Word by word into one buffer: every new item's headline passes here.
    let mut word = String::with_capacity(32);
    for c in title.chars() {
        if c.is_alphanumeric() {
            fold::push_folded(c, &mut word);
        } else if !word.is_empty() {
            found.note(&word);
            word.clear();
        }
    }
    if !word.is_empty() {
        found.note(&word);
    }
    // A separable verb's particle closes the sentence: "… setzt sich als
    // Bürgermeisterin durch".
    if found.outcome || (found.again && found.back) || found.last_is_durch {
        return Stage::Outcome;
    }
    let asks_yes_or_no = title.trim_end().ends_with('?') && !found.question_word;
    if found.ahead || asks_yes_or_no {
        Stage::Ahead
    } else if found.underway {
        Stage::Underway
    } else {
        Stage::Unknown
    }
}

/// What the words of a headline said so far.
#[derive(Default)]
struct Found {
    outcome: bool,
    again: bool,
    back: bool,
    ahead: bool,
    underway: bool,
    question_word: bool,
    last_is_durch: bool,
}

/// Which of the lists a listed word is in.
const IS_OUTCOME: u8 = 1;
const IS_BACK: u8 = 2;
const IS_AHEAD: u8 = 4;
const IS_UNDERWAY: u8 = 8;
const IS_QUESTION_WORD: u8 = 16;

/// Each list with its flag.
const LISTS: [(&[&str], u8); 5] = [
    (OUTCOME, IS_OUTCOME),
    (BACK, IS_BACK),
    (AHEAD, IS_AHEAD),
    (UNDERWAY, IS_UNDERWAY),
    (QUESTION_WORDS, IS_QUESTION_WORD),
];

/// Longest listed word, in bytes (a longer one is in no list).
const LONGEST: usize = 32;

/// Every listed word with the lists it is in, sorted; and for each first
/// letter, a bit per length that a listed word of that start has. Every
/// word of every new item's headline is asked about: most are rejected by
/// their first letter and length, the rest found by one search instead of
/// one per list.
struct Listed {
    words: Vec<(&'static str, u8)>,
    lengths: [u32; 26],
}

fn listed() -> &'static Listed {
    static LISTED: std::sync::OnceLock<Listed> = std::sync::OnceLock::new();
    LISTED.get_or_init(|| {
        let mut words: Vec<(&'static str, u8)> = Vec::new();
        for (list, flag) in LISTS {
            words.extend(list.iter().map(|&word| (word, flag)));
        }
        words.sort_unstable();
        words.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 |= later.1;
            }
            same
        });
        let mut lengths = [0; 26];
        for (word, _) in &words {
            let first = word.as_bytes()[0];
            assert!(
                first.is_ascii_lowercase() && word.len() < LONGEST,
                "{word}: listed words are folded and short"
            );
            lengths[usize::from(first - b'a')] |= 1 << word.len();
        }
        Listed { words, lengths }
    })
}

/// The lists (`IS_…` flags) `word` is in.
fn lists_of(word: &str) -> u8 {
    let listed = listed();
    let bytes = word.as_bytes();
    let Some(&first) = bytes.first().filter(|b| b.is_ascii_lowercase()) else {
        return 0;
    };
    if bytes.len() >= LONGEST || listed.lengths[usize::from(first - b'a')] & (1 << bytes.len()) == 0
    {
        return 0;
    }
    listed
        .words
        .binary_search_by(|(listed, _)| listed.cmp(&word))
        .map_or(0, |at| listed.words[at].1)
}

impl Found {
    fn note(&mut self, word: &str) {
        let lists = lists_of(word);
        let has = |flag: u8| lists & flag != 0;
        self.outcome |= has(IS_OUTCOME);
        self.again |= word == "wieder";
        self.back |= has(IS_BACK);
        self.ahead |= has(IS_AHEAD) || word.ends_with("verdacht");
        self.underway |= has(IS_UNDERWAY) || ATTACKS.iter().any(|attack| word.ends_with(attack));
        self.question_word |= has(IS_QUESTION_WORD);
        self.last_is_durch = word == "durch";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_are_sorted_for_binary_search() {
        for (list, _) in LISTS {
            assert!(list.is_sorted(), "{list:?}");
            for word in list {
                assert_eq!(fold::fold(word), *word, "{word} is folded");
            }
        }
    }

    #[test]
    fn one_lookup_finds_every_listed_word_in_its_lists() {
        for (list, flag) in LISTS {
            for word in list {
                assert_ne!(lists_of(word) & flag, 0, "{word}");
            }
        }
        for word in ["", "wiede", "wiederx", "urteile", "2025", "übel", "zzz"] {
            assert_eq!(lists_of(word), 0, "{word}");
        }
    }

    #[test]
    fn previews_and_outcomes_are_told_apart() {
        let ahead = [
            "Bekommt Wangerooge erstmals eine Inselbürgermeisterin?",
            "Mögliche Weltkriegsbombe in Riehl",
            "Bombenverdacht in der Innenstadt",
            "Stadt droht Haushaltssperre",
        ];
        for title in ahead {
            assert_eq!(of_headline(title), Stage::Ahead, "{title}");
        }
        let outcome = [
            "Wangerooge: Frau von der Insel setzt sich als Bürgermeisterin durch",
            "Möglicher Bombenfund in Köln-Riehl: Stadt gibt Entwarnung!",
            "Weltkriegsbombe im Hamburger Schanzenviertel entschärft",
            "Nach drohendem Cyberangriff: Stadt Potsdam wieder per E-Mail erreichbar",
            "Doch kein AfD-Bürgermeister in Bitterfeld: CDU-Kandidat gewinnt Stichwahl knapp",
        ];
        for title in outcome {
            assert_eq!(of_headline(title), Stage::Outcome, "{title}");
        }
        let underway = [
            "Malware: Städte Frankfurt und Bad Homburg sind down",
            "Bombenfund in Frankfurt: Die Evakuierung hat begonnen",
            "Cyberangriff auf die Kreisverwaltung",
        ];
        for title in underway {
            assert_eq!(of_headline(title), Stage::Underway, "{title}");
        }
        assert_eq!(
            of_headline("Nach Cyberangriff: Stadt Potsdam wieder per E-Mail erreichbar"),
            Stage::Outcome,
            "the outcome wins"
        );
        assert!(Stage::Underway.incident_and_outcome(Stage::Outcome));
        assert!(
            !Stage::Underway.differs_from(Stage::Outcome),
            "only with time"
        );
        let neither = [
            "Deutschlands erster gewählter AfD-Bürgermeister: Wer ist Hannes Loth?",
            "Bürgermeister tritt aus Angst vor der NPD zurück",
            "Neue Bezahlkarte für Geflüchtete wird erstmals ausgegeben",
            "Stichwahl um das Bürgermeisteramt auf Wangerooge",
            "OZG 2.0 soll Verwaltung digitaler machen",
            "",
        ];
        for title in neither {
            // "gewählter" is not "gewählt": a portrait of the winner does
            // not report the vote.
            assert_eq!(of_headline(title), Stage::Unknown, "{title}");
        }
        assert!(Stage::Ahead.differs_from(Stage::Outcome));
        assert!(Stage::Outcome.differs_from(Stage::Ahead));
        assert!(!Stage::Outcome.differs_from(Stage::Outcome));
        assert!(!Stage::Unknown.differs_from(Stage::Ahead));
    }
}
