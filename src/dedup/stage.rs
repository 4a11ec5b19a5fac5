//! Where in its event's course a headline stands: looking ahead (a
//! preview, a suspicion, a yes-or-no question) or telling the outcome (a
//! result, a verdict, the all-clear, systems back online).
//!
//! Reports of one event mostly stand at the same point. A preview and the
//! result of the same vote share every name and place ("Bekommt Wangerooge
//! erstmals eine Inselbürgermeisterin?" and "Wangerooge: Frau von der Insel
//! setzt sich als Bürgermeisterin durch"), as do the bomb scare and its
//! all-clear ("Mögliche Weltkriegsbombe in Riehl" and "… Stadt gibt
//! Entwarnung!"), yet a reader wants both: [`super::score`] counts a
//! headline that looks ahead against one that tells the outcome as evidence
//! of two events.
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
    /// A result, a verdict, an all-clear, an arrest, a restart.
    Outcome,
}

impl Stage {
    /// How `kurator explain` names it.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Unknown => "neither",
            Stage::Ahead => "looks ahead",
            Stage::Outcome => "tells the outcome",
        }
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

/// Question words: a headline asking "Wer ist Hannes Loth?" portrays, it
/// does not look ahead.
const QUESTION_WORDS: &[&str] = &[
    "wann", "warum", "was", "welche", "welcher", "welches", "wem", "wen", "wer", "weshalb", "wie",
    "wieso", "wo", "woher", "wohin",
];

/// The stage `title` tells of. An outcome word wins over a word that looks
/// ahead ("Möglicher Bombenfund in Köln-Riehl: Stadt gibt Entwarnung!").
pub fn of_headline(title: &str) -> Stage {
    let words = fold::words(title);
    let has = |list: &[&str], word: &str| list.binary_search(&word).is_ok();
    let outcome = words.iter().any(|w| has(OUTCOME, w))
        || (words.iter().any(|w| w == "wieder") && words.iter().any(|w| has(BACK, w)))
        // A separable verb's particle closes the sentence: "… setzt sich
        // als Bürgermeisterin durch".
        || words.last().is_some_and(|w| w == "durch");
    if outcome {
        return Stage::Outcome;
    }
    let suspected = words
        .iter()
        .any(|w| has(AHEAD, w) || w.ends_with("verdacht"));
    let asks_yes_or_no =
        title.trim_end().ends_with('?') && !words.iter().any(|w| has(QUESTION_WORDS, w));
    if suspected || asks_yes_or_no {
        Stage::Ahead
    } else {
        Stage::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_are_sorted_for_binary_search() {
        for list in [OUTCOME, BACK, AHEAD, QUESTION_WORDS] {
            assert!(list.is_sorted(), "{list:?}");
            for word in list {
                assert_eq!(fold::fold(word), *word, "{word} is folded");
            }
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
