//! Named places and streets in German news text.
//!
//! Reports of different events on one topic share the topic's words:
//! "Bürgerbüro am Freitag geschlossen" in Kassel and in Offenbach, the
//! Wochenmarkt moved in Gießen and in Hanau, a street closed for sewer work
//! on two streets of one city. What tells them apart is *where*. An entity is
//! a place from a short gazetteer (German cities, Hessian towns, districts
//! and counties) or a street (`…straße`, `…str.`, `…allee`, `…gasse`,
//! "Frankfurter Straße"). Two texts that both name places (or both name
//! streets) but share none of them are about different places, whatever
//! else they share ([`super::score`] weighs that).
//!
//! Two more kinds tell events apart only against their own kind: a state
//! ("Erster AfD-Landrat in Brandenburg?" and "… Bürgermeister
//! Sachsen-Anhalts"; a report on Darmstadt and one on Hessen still agree)
//! and an office ("Landrat", "Bürgermeister", "Ministerpräsident": a
//! county's head and a town's mayor are different people, so different
//! events). So does a party: the first AfD mayor and the first SPD mayor
//! since 1990 are two stories.
//!
//! Entities are kept as hashes with their kind in the low bits.

use std::hash::BuildHasherDefault;

use super::index::AlreadyHashed;
use super::text::{FNV_OFFSET, fnv_step, hash_term, mix};

/// The kind of a named thing (the low three bits of its hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Place = 1,
    Street = 2,
    /// A federal state.
    State = 3,
    /// A public office ("Landrat", "Bürgermeister").
    Office = 4,
    /// A political party ("CDU", "Grünen").
    Party = 5,
}

/// The bits of an entity hash that hold its kind.
const KIND_BITS: u64 = 7;

/// `hash` (of a name) as an entity of `kind`.
fn with_kind(hash: u64, kind: Kind) -> u64 {
    (hash & !KIND_BITS) | kind as u64
}

/// The hash of an entity of `kind` called `name`.
fn entity(kind: Kind, name: &str) -> u64 {
    with_kind(hash_term(name), kind)
}

/// The kind of an entity hash.
pub fn kind_of(entity: u64) -> Option<Kind> {
    match entity & KIND_BITS {
        1 => Some(Kind::Place),
        2 => Some(Kind::Street),
        3 => Some(Kind::State),
        4 => Some(Kind::Office),
        5 => Some(Kind::Party),
        _ => None,
    }
}

/// Cities and towns, districts and counties (as written; folded when
/// loaded). `District=City` names a city's district: it stands for the
/// city, so a press release on Darmstadt and a report on Eberstadt do not
/// disagree (streets still tell two districts' closures apart). Names that
/// are also common words ("Essen", "Halle", "Siegen", "Langen", "Linden")
/// are left out, and so are the states: a report on Darmstadt and one on
/// "Hessen" are not about different places. Of a name in several words,
/// the telling one is listed ("Homburg" for Bad Homburg); parts of a
/// hyphenated name are names each ("Darmstadt-Dieburg").
const PLACES: &str = "
Aachen Augsburg Bamberg Bayreuth Berlin Bielefeld Bochum Bonn Bottrop Braunschweig Bremen
Bremerhaven Chemnitz Cottbus Darmstadt Dessau Dortmund Dresden Duisburg Düren Düsseldorf Erfurt
Erlangen Esslingen Flensburg Frankfurt Freiburg Fulda Fürth Gelsenkirchen Gera Gießen Göttingen
Gütersloh Hamburg Hamm Hanau Hannover Heidelberg Heilbronn Herne Hildesheim Ingolstadt Iserlohn
Jena Kaiserslautern Karlsruhe Kassel Kiel Koblenz Köln Krefeld Leipzig Leverkusen Lübeck
Ludwigsburg Ludwigshafen Lüneburg Magdeburg Mainz Mannheim Marburg Moers Mönchengladbach Mülheim
München Münster Neuss Nürnberg Oberhausen Offenbach Oldenburg Osnabrück Paderborn Pforzheim Potsdam
Recklinghausen Regensburg Remscheid Reutlingen Rostock Saarbrücken Salzgitter Schwerin Solingen
Stuttgart Trier Tübingen Ulm Wiesbaden Wolfsburg Worms Wuppertal Würzburg Zwickau
Bensheim Heppenheim Viernheim Lampertheim Weiterstadt Griesheim Pfungstadt Dieburg Babenhausen
Umstadt Ramstadt Mühltal Jugenheim Seeheim Erbach Michelstadt Reinheim Rüsselsheim Raunheim
Kelsterbach Walldorf Homburg Oberursel Friedrichsdorf Königstein Kronberg Vilbel Friedberg Nauheim
Butzbach Büdingen Wetzlar Limburg Weilburg Herborn Dillenburg Alsfeld Lauterbach Hersfeld
Rotenburg Eschwege Witzenhausen Korbach Frankenberg Homberg Melsungen Baunatal Vellmar Hofgeismar
Wolfhagen Gelnhausen Schlüchtern Maintal Bruchköbel Dreieich Isenburg Rodgau Dietzenbach
Seligenstadt Obertshausen Heusenstamm Eschborn Hofheim Hattersheim Flörsheim Idstein Taunusstein
Schwalbach Eltville Rüdesheim Geisenheim Biedenkopf Allendorf Kirchhain Gladenbach Hungen Grünberg
Laubach Pohlheim Hohenstein
Eberstadt=Darmstadt Arheilgen=Darmstadt Kranichstein=Darmstadt Bessungen=Darmstadt
Wixhausen=Darmstadt Biebrich=Wiesbaden Schierstein=Wiesbaden Dotzheim=Wiesbaden Kastel=Wiesbaden
Sachsenhausen=Frankfurt Bornheim=Frankfurt Höchst=Frankfurt Bockenheim=Frankfurt Cappel=Marburg
Wehrda=Marburg Bürgel=Offenbach Bieber=Offenbach Lauterborn=Offenbach Bettenhausen=Kassel
Oberzwehren=Kassel Wilhelmshöhe=Kassel
Odenwald Odenwaldkreis Vogelsberg Vogelsbergkreis Wetterau Wetteraukreis Kinzig Rheingau
Hochtaunus Hochtaunuskreis Schwalm Waldeck Werra Bergstraße Gerau Gersprenztal Dill
";

/// German places from GeoNames (`data/places-de/`, CC BY 4.0): towns
/// and villages of at least 500 inhabitants, by the words of their names,
/// without those that are common German words. [`PLACES`] is read after
/// them, so its districts (`Eberstadt=Darmstadt`) stand for their city.
const GEONAMES: &str = include_str!("../../data/places-de/places.txt");

/// The federal states, as [`Kind::State`]: `Word=State` as in [`PLACES`],
/// each part of a name in several words standing for the state. "Sachsen"
/// is Saxony unless "Anhalt" follows (see [`named`]); city states are
/// places already.
const STATES: &str = "
Baden=BadenWürttemberg Württemberg=BadenWürttemberg Bayern Brandenburg Hessen
Mecklenburg=MecklenburgVorpommern Vorpommern=MecklenburgVorpommern Niedersachsen
Nordrhein=NordrheinWestfalen Westfalen=NordrheinWestfalen Rheinland=RheinlandPfalz
Pfalz=RheinlandPfalz Saarland Sachsen Anhalt=SachsenAnhalt Thüringen
Schleswig=SchleswigHolstein Holstein=SchleswigHolstein
";

/// The folded gazetteer: the term hash of each name with the entity (place
/// or state) it stands for, and which three-letter starts the names have (most words
/// are rejected by their start, without hashing).
struct Gazetteer {
    names: std::collections::HashMap<u64, u64, BuildHasherDefault<AlreadyHashed>>,
    /// A bit per three-letter start: 2 KiB, which stay in the nearest
    /// cache (a byte per start did not, and every word is looked up).
    starts: Vec<u64>,
}

impl Gazetteer {
    fn has_start(&self, start: usize) -> bool {
        self.starts[start / 64] & (1 << (start % 64)) != 0
    }
}

/// The index of a word's first three letters, if they are ASCII letters.
fn start_of(word: &str) -> Option<usize> {
    let bytes = word.as_bytes();
    let letter = |at: usize| {
        bytes
            .get(at)
            .filter(|b| b.is_ascii_lowercase())
            .map(|b| usize::from(b - b'a'))
    };
    Some((letter(0)? * 26 + letter(1)?) * 26 + letter(2)?)
}

fn gazetteer() -> &'static Gazetteer {
    static GAZETTEER: std::sync::OnceLock<Gazetteer> = std::sync::OnceLock::new();
    GAZETTEER.get_or_init(|| {
        let mut gazetteer = Gazetteer {
            names: Default::default(),
            starts: vec![0; (26 * 26 * 26usize).div_ceil(64)],
        };
        for (names, kind) in [
            (GEONAMES, Kind::Place),
            (PLACES, Kind::Place),
            (STATES, Kind::State),
        ] {
            for entry in names
                .lines()
                .filter(|line| !line.starts_with('#'))
                .flat_map(|line| line.split(|c: char| c.is_whitespace() || c == '-'))
                .filter(|entry| !entry.is_empty())
            {
                let (name, stands_for) = entry.split_once('=').unwrap_or((entry, entry));
                let folded = crate::fold::fold(name);
                let named = with_kind(hash_term(&crate::fold::fold(stands_for)), kind);
                gazetteer.names.insert(hash_term(&folded), named);
                if let Some(start) = start_of(&folded) {
                    gazetteer.starts[start / 64] |= 1 << (start % 64);
                }
            }
        }
        gazetteer
    })
}

/// Endings of inhabitants and adjectives made from a place name
/// ("Kasseler", "Offenbacherin", "Wiesbadens"), longest first.
const PLACE_ENDINGS: &[&str] = &["erinnen", "erin", "ern", "er", "s"];

/// The place or state a folded word names (as an entity), if any.
fn place(word: &str) -> Option<u64> {
    let gazetteer = gazetteer();
    if !start_of(word).is_some_and(|start| gazetteer.has_start(start)) {
        return None;
    }
    let known = &gazetteer.names;
    // The word and its bases without an ending, in that order of
    // preference. All are starts of the word: one pass hashes them all.
    let bytes = word.as_bytes();
    let mut lengths = [0usize; 1 + PLACE_ENDINGS.len()];
    lengths[0] = bytes.len();
    let mut wanted = 1;
    for ending in PLACE_ENDINGS {
        if word.ends_with(ending) && bytes.len() >= ending.len() + 3 {
            lengths[wanted] = bytes.len() - ending.len();
            wanted += 1;
        }
    }
    let lengths = &lengths[..wanted];
    let mut hashes = [0u64; 1 + PLACE_ENDINGS.len()];
    let mut state = FNV_OFFSET;
    for (at, &byte) in bytes.iter().enumerate() {
        state = fnv_step(state, byte);
        for (slot, &length) in lengths.iter().enumerate() {
            if length == at + 1 {
                hashes[slot] = mix(state);
            }
        }
    }
    for (&length, hash) in lengths.iter().zip(hashes) {
        if let Some(&place) = known.get(&hash) {
            return Some(place);
        }
        // "Darmstädter" → "darmstaedt" → "darmstadt".
        if let Some(stem) = word[..length].strip_suffix("staedt")
            && let Some(&place) = known.get(&hash_term(&format!("{stem}stadt")))
        {
            return Some(place);
        }
    }
    None
}

/// Words for a street, as the end of a name ("Heinrichstraße") or after
/// it ("Frankfurter Straße").
const STREET_WORDS: &[&str] = &["strasse", "str", "allee", "gasse"];

/// Starts of "…straße" words that are kinds of roads, not names.
const NOT_STREET_NAMES: &[&str] = &[
    "bundes",
    "landes",
    "kreis",
    "neben",
    "einbahn",
    "umgehungs",
    "zufahrts",
    "durchgangs",
    "haupt",
    "wohn",
    "spiel",
    "anlieger",
    "fahrrad",
    "gemeinde",
    "stadt",
    "innenstadt",
    "quer",
    "seiten",
    "ausfall",
];

/// Offices by a part of their folded word ("Oberbürgermeisterin",
/// "AfD-Landrat", "Landratsamt"), longest first; a lord mayor and a mayor
/// are one office (reports call the same person either).
const OFFICES: &[(&str, &str)] = &[
    ("ministerpraesident", "ministerpraesident"),
    ("buergermeister", "buergermeister"),
    ("landraet", "landrat"),
    ("landrat", "landrat"),
];

/// Parties by their folded names, each with the party it names ("Grüne"
/// and "Grünen" are one party).
const PARTIES: &[(&str, &str)] = &[
    ("afd", "afd"),
    ("bsw", "bsw"),
    ("cdu", "cdu"),
    ("csu", "csu"),
    ("fdp", "fdp"),
    ("gruene", "gruene"),
    ("gruenen", "gruene"),
    ("linke", "linke"),
    ("linken", "linke"),
    ("linkspartei", "linke"),
    ("npd", "npd"),
    ("oedp", "oedp"),
    ("spd", "spd"),
];

/// The party a folded word names, if any.
fn party(word: &str) -> Option<u64> {
    PARTIES
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, party)| entity(Kind::Party, party))
}

/// The office a folded word names, if any (an office word is never a
/// place or a street).
fn office(word: &str) -> Option<u64> {
    // Every word is asked: most are too short to hold an office's name.
    if word.len() < 7 {
        return None;
    }
    // A plain scan for each part's first letter: the words are short, and
    // setting up a substring search for every long word of every new item
    // cost more than the search.
    let bytes = word.as_bytes();
    let contains = |part: &[u8]| {
        bytes.len() >= part.len()
            && (0..=bytes.len() - part.len())
                .any(|at| bytes[at] == part[0] && bytes[at..].starts_with(part))
    };
    OFFICES
        .iter()
        .find(|(part, _)| contains(part.as_bytes()))
        .map(|(_, office)| entity(Kind::Office, office))
}

/// The entity a folded word names, if any; `previous` is the word before.
/// `Replace` means the previous word's entity was part of this one (the
/// "Frankfurter" of "Frankfurter Straße" is a street, not Frankfurt; the
/// "Sachsen" of "Sachsen-Anhalt" is not Saxony).
pub fn named(previous: &str, word: &str) -> Option<Named> {
    if let Some(office) = office(word) {
        return Some(Named::New(office));
    }
    if let Some(party) = party(word) {
        return Some(Named::New(party));
    }
    if previous == "sachsen" && word.starts_with("anhalt") {
        return place_entity(word).map(Named::Replace);
    }
    for suffix in STREET_WORDS {
        if word == *suffix {
            // "Frankfurter Straße", "Berliner Allee": the name is the word
            // before, an adjective made from a place or a person.
            let named = previous.len() >= 5
                && previous.ends_with("er")
                && previous.as_bytes()[0].is_ascii_alphabetic()
                && !super::text::is_stop_word(previous);
            return named.then(|| Named::Replace(entity(Kind::Street, previous)));
        }
        if let Some(name) = word.strip_suffix(suffix) {
            // "str" is only an abbreviation at the end of a long word.
            let shortest = if *suffix == "str" { 5 } else { 3 };
            if name.len() >= shortest && !NOT_STREET_NAMES.contains(&name) {
                return Some(Named::New(entity(Kind::Street, name)));
            }
        }
    }
    place_entity(word).map(Named::New)
}

/// Words after which a capitalized word names a district ("Landkreis
/// Harz", "Kreisverwaltung Prignitz"): districts are too many, and too
/// often named like regions, for the gazetteer.
const DISTRICT_WORDS: &[&str] = &[
    "landkreis",
    "landkreises",
    "kreis",
    "kreises",
    "kreisverwaltung",
    "kreisstadt",
    "samtgemeinde",
    "verbandsgemeinde",
];

/// The district a capitalized `word` after `previous` names, as a place
/// ("Landkreis Harz"), if it is not in the gazetteer already.
pub fn district(previous: &str, word: &str, capitalized: bool) -> Option<u64> {
    (capitalized
        && word.len() >= 4
        && DISTRICT_WORDS.contains(&previous)
        && !super::text::is_stop_word(word)
        && place(word).is_none())
    .then(|| entity(Kind::Place, word))
}

/// What [`named`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    New(u64),
    /// Replaces the entity of the word before, if it had one.
    Replace(u64),
}

/// The place or state a word names, as an entity, if any.
pub fn place_entity(word: &str) -> Option<u64> {
    place(word)
}

/// Whether `a` and `b` (sorted entity hashes) both name things of `kind` but
/// share none.
pub fn disagree(a: &[u64], b: &[u64], kind: Kind) -> bool {
    let of_kind = |entity: &&u64| kind_of(**entity) == Some(kind);
    a.iter().any(|e| of_kind(&e))
        && b.iter().any(|e| of_kind(&e))
        && !a.iter().filter(of_kind).any(|e| b.binary_search(e).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Vec<u64> {
        let (mut terms, mut entities) = (Vec::new(), Vec::new());
        super::super::text::terms_and_entities(text, usize::MAX, &mut terms, &mut entities);
        entities.sort_unstable();
        entities.dedup();
        entities
    }

    #[test]
    fn places_are_found_with_their_endings() {
        assert_eq!(of("in Darmstadt"), of("die Darmstädter Verwaltung"));
        assert_eq!(of("Kassel"), of("Kasseler Bürgerbüro"));
        assert_eq!(of("Köln"), of("den Kölnern"));
        assert_eq!(of("Landkreis Hohenstein").len(), 1);
        assert!(
            of("Essen auf Rädern, ein Bad und eine Halle in Hessen")
                .iter()
                .all(|&e| kind_of(e) == Some(Kind::State)),
            "no place (Hessen is a state)"
        );
        // A district stands for its city.
        assert_eq!(of("in Eberstadt"), of("in Darmstadt"));
    }

    #[test]
    fn states_and_offices_are_named_things_of_their_own() {
        let brandenburg = of("Erster AfD-Landrat in Brandenburg?");
        let sachsen_anhalt = of("Erster AfD-Bürgermeister Sachsen-Anhalts");
        assert!(disagree(&brandenburg, &sachsen_anhalt, Kind::State));
        assert!(disagree(&brandenburg, &sachsen_anhalt, Kind::Office));
        // Sachsen-Anhalt is not Saxony, but is itself.
        assert!(disagree(&of("in Sachsen"), &sachsen_anhalt, Kind::State));
        let the_state = of("Sachsen-Anhalt kündigt Vertrag");
        assert!(!disagree(&the_state, &sachsen_anhalt, Kind::State));
        assert_eq!(the_state.len(), 1);
        assert_eq!(of("Baden-Württemberg"), of("Württemberg"));
        // A state is no place: a report on Darmstadt and one on Hessen agree.
        assert!(!disagree(&of("Darmstadt"), &of("Hessen"), Kind::Place));
        assert!(!disagree(&of("Darmstadt"), &of("Hessen"), Kind::State));
        // A lord mayor is a mayor; the county's office is the Landrat's.
        assert_eq!(of("Oberbürgermeisterin"), of("Bürgermeister"));
        assert_eq!(of("Landratsamt"), of("Landrätin"));
        assert!(
            of("Bürgermeister Benz")
                .iter()
                .all(|&e| kind_of(e) == Some(Kind::Office))
        );
    }

    #[test]
    fn parties_are_named_things_of_their_own() {
        let afd = of("Erster AfD-Bürgermeister gewählt");
        let spd = of("Erster SPD-Bürgermeister seit 1990 gewählt");
        assert!(disagree(&afd, &spd, Kind::Party));
        assert!(!disagree(&afd, &spd, Kind::Office), "both are mayors");
        // "Grüne" and "Grünen" are one party; a report naming two parties
        // agrees with one naming either.
        assert_eq!(of("Die Grünen"), of("Grüne"));
        assert!(!disagree(
            &of("CDU und Grüne"),
            &of("die Grünen"),
            Kind::Party
        ));
        // A word that only contains a party's letters names none.
        assert!(of("Spdx Linkes Ufer").is_empty());
    }

    #[test]
    fn streets_are_found_in_one_or_two_words() {
        assert_eq!(of("Heinrichstraße"), of("Heinrichstr. 5"));
        assert_eq!(of("Frankfurter Straße").len(), 1, "a street, not Frankfurt");
        assert!(of("eine gesperrte Straße, die Bundesstraße").is_empty());
        let closure_a = of("Sperrung der Heinrichstraße");
        let closure_b = of("Sperrung der Hügelstraße");
        assert!(disagree(&closure_a, &closure_b, Kind::Street));
        assert!(!disagree(&closure_a, &closure_a, Kind::Street));
        assert!(!disagree(&closure_a, &of("in Darmstadt"), Kind::Street));
    }
}
