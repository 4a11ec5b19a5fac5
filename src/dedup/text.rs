//! German text to comparable terms.
//!
//! Two reports of one story rarely share a sentence; they share names,
//! places, numbers and key nouns, inflected differently ("Glasfaserausbau in
//! Eberstadt startet" / "Eberstädter Glasfaser: Ausbau beginnt"). A term is a
//! word folded like the topic rules fold it (case, `ä → ae`, `ß → ss`),
//! with the common inflection endings cut off and cut to its first six
//! characters, unless it is a stop word.
//! Numbers are terms too ("2,5 Millionen Euro" and "2.5 Mio. €" give the same
//! terms), because dates and amounts are what set recurring headlines apart.
//!
//! Terms are kept as 64-bit hashes: that is all the comparison needs.

use super::{concept, entities};
use crate::fold::fold_char;

/// Words too common to say anything about a story (already folded).
const STOP_WORDS: &[&str] = &[
    "aber", "alle", "allem", "allen", "aller", "alles", "als", "also", "am", "an", "ans", "auch",
    "auf", "aus", "bei", "beim", "bereits", "bis", "bisher", "bzw", "da", "dabei", "damit", "dann",
    "darf", "das", "dass", "dem", "den", "denen", "der", "deren", "des", "dessen", "die", "dies",
    "diese", "diesem", "diesen", "dieser", "dieses", "doch", "dort", "durch", "ein", "eine",
    "einem", "einen", "einer", "eines", "er", "es", "etwa", "fuer", "gegen", "hat", "hatte",
    "hier", "ihr", "ihre", "ihrem", "ihren", "ihrer", "im", "in", "ins", "ist", "ja", "jetzt",
    "kann", "kein", "keine", "mehr", "mit", "muss", "nach", "neben", "nicht", "noch", "nun", "nur",
    "ob", "oder", "ohne", "rund", "sei", "seien", "sein", "seine", "seinem", "seinen", "seiner",
    "seit", "sich", "sie", "sind", "so", "soll", "sollen", "sowie", "ueber", "um", "und", "uns",
    "unter", "vom", "von", "vor", "wann", "war", "waren", "was", "weiter", "weitere", "weiteren",
    "wenn", "wer", "werde", "werden", "wie", "wieder", "will", "wir", "wird", "wo", "wurde",
    "wurden", "zu", "zum", "zur", "zwischen", "sagte", "sagt", "heute", "gestern", "morgen",
    "neue", "neuen", "neuer", "neues", "erste", "ersten", "sowohl", "ab", "mal", "man", "viele",
    "vielen", "einen", "haben", "habe", "hatten", "worden", "the", "of", "and", "to", "for", "uhr",
];

pub(crate) fn is_stop_word(word: &str) -> bool {
    // Stop words are at most 8 bytes: each is packed into a u64 and kept in
    // a small open-addressing table, so a lookup is a multiply and a probe
    // or two (every word of every item's title and lead is looked up).
    static TABLE: std::sync::OnceLock<[u64; STOP_TABLE]> = std::sync::OnceLock::new();
    let Some(packed) = pack(word) else {
        return false;
    };
    let table = TABLE.get_or_init(|| {
        let mut table = [0; STOP_TABLE];
        for packed in STOP_WORDS.iter().filter_map(|w| pack(w)) {
            let mut slot = stop_slot(packed);
            while table[slot] != 0 && table[slot] != packed {
                slot = (slot + 1) % STOP_TABLE;
            }
            table[slot] = packed;
        }
        table
    });
    let mut slot = stop_slot(packed);
    loop {
        match table[slot] {
            0 => return false,
            found if found == packed => return true,
            _ => slot = (slot + 1) % STOP_TABLE,
        }
    }
}

/// Slots of the stop-word table: a power of two, at most a third full.
const STOP_TABLE: usize = 512;

#[expect(
    clippy::cast_possible_truncation,
    reason = "hash bits: keeping the low ones is the point"
)]
fn stop_slot(packed: u64) -> usize {
    (packed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - STOP_TABLE.trailing_zeros())) as usize
}

/// A word of at most 8 bytes as one integer.
fn pack(word: &str) -> Option<u64> {
    let bytes = word.as_bytes();
    // A shift per byte: a copy of a variable length would call memcpy.
    (bytes.len() <= 8).then(|| {
        bytes
            .iter()
            .rev()
            .fold(0u64, |packed, &byte| (packed << 8) | u64::from(byte))
    })
}

/// Words written in several ways, mapped to one (already folded).
const SYNONYMS: &[(&str, &str)] = &[
    ("mio", "millionen"),
    ("million", "millionen"),
    ("mrd", "milliarden"),
    ("milliarde", "milliarden"),
    ("eur", "euro"),
    ("proz", "prozent"),
];

/// Appends the term hashes of `text` to `out` (duplicates included), read
/// as a headline is: a word that names what happened stands for its
/// [`concept`]. The background list is read this way, so a concept weighs
/// as all its words together.
pub fn terms(text: &str, out: &mut Vec<u64>) {
    read_words(text, usize::MAX, out, &mut Vec::new(), None, true);
}

/// The terms of the first `words` words of a lead `text` (markup does not
/// count; stop words and numbers do), also appending the [`entities`] the
/// text names to `entities`. Returns how many words it read.
///
/// A lead's words stand for themselves, not for their [`concept`]: a lead
/// recaps what came before ("Nach dem Messerangriff von Solingen hat …"),
/// and its concepts would tie every follow-up to the event it follows.
pub fn terms_and_entities(
    text: &str,
    words: usize,
    out: &mut Vec<u64>,
    entities: &mut Vec<u64>,
) -> usize {
    read_words(text, words, out, entities, None, false)
}

/// The terms and [`entities`] of a headline, its words read as [`terms`]
/// reads them, also appending to `keys` the (folded) words that begin with
/// a capital letter and name nothing ([`entities`]) nor a number: in a
/// German headline, the nouns that say what happened ("Bussen",
/// "Innenstadt", "Parkplatzsuche"; see [`super::score::key_words_differ`]).
pub fn headline_terms(
    text: &str,
    out: &mut Vec<u64>,
    entities: &mut Vec<u64>,
    keys: &mut String,
) -> usize {
    read_words(text, usize::MAX, out, entities, Some(keys), true)
}

/// Reads `text` word by word into the terms `out`, the `entities` and the
/// headline nouns `keys` (if wanted); words that name what happened stand
/// for their [`concept`] when `concepts` is set.
fn read_words(
    text: &str,
    words: usize,
    out: &mut Vec<u64>,
    entities: &mut Vec<u64>,
    keys: Option<&mut String>,
    concepts: bool,
) -> usize {
    thread_local! {
        // The word being read and the one before: buffers reused for every
        // text (three per new item) instead of two allocations each.
        static BUFFERS: std::cell::Cell<(String, String)> =
            const { std::cell::Cell::new((String::new(), String::new())) };
    }
    let (mut word, mut previous) = BUFFERS.take();
    word.clear();
    previous.clear();
    let mut sink = Sink {
        concepts,
        terms: out,
        entities,
        keys,
        previous,
        words_left: words,
        capitalized: false,
    };
    let out = &mut sink;
    // Byte by byte: most of the text is ASCII, and every item's title and
    // lead pass through here (on re-ingest too). Other characters are
    // decoded and folded one by one.
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() && out.words_left > 0 {
        let byte = bytes[at];
        if byte.is_ascii() {
            at += 1;
            match byte {
                // Summaries are sanitized HTML: skip markup.
                b'<' => {
                    finish_word(&mut word, out);
                    at = bytes[at..]
                        .iter()
                        .position(|&b| b == b'>')
                        .map_or(bytes.len(), |end| at + end + 1);
                }
                // An entity only splits words.
                b'&' => {
                    finish_word(&mut word, out);
                    while at < bytes.len()
                        && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'#')
                    {
                        at += 1;
                    }
                }
                b'%' => {
                    finish_word(&mut word, out);
                    push_term("prozent", out);
                }
                b if b.is_ascii_alphanumeric() => {
                    let digit = b.is_ascii_digit();
                    split_at_digits(&mut word, digit, out);
                    if word.is_empty() {
                        out.capitalized = b.is_ascii_uppercase();
                    }
                    // The rest of the run of ASCII letters (or digits) at
                    // once: nothing in it ends or starts a word.
                    let run = bytes[at..]
                        .iter()
                        .position(|b| !b.is_ascii_alphanumeric() || b.is_ascii_digit() != digit)
                        .map_or(bytes.len(), |end| at + end);
                    let from = word.len();
                    word.push_str(&text[at - 1..run]);
                    word[from..].make_ascii_lowercase();
                    at = run;
                }
                _ => finish_word(&mut word, out),
            }
            continue;
        }
        let c = text[at..]
            .chars()
            .next()
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        at += c.len_utf8();
        match c {
            '€' => {
                finish_word(&mut word, out);
                push_term("euro", out);
            }
            c if is_word_char(c) => {
                split_at_digits(&mut word, c.is_ascii_digit(), out);
                if word.is_empty() {
                    out.capitalized = c.is_uppercase();
                }
                fold_char(c, |folded| word.push(folded));
            }
            _ => finish_word(&mut word, out),
        }
    }
    finish_word(&mut word, out);
    let read = words - out.words_left;
    BUFFERS.set((word, std::mem::take(&mut sink.previous)));
    read
}

/// Where finished words go.
struct Sink<'a> {
    terms: &'a mut Vec<u64>,
    entities: &'a mut Vec<u64>,
    /// The word before (for two-word street names: "Frankfurter Straße").
    previous: String,
    /// Words still to read.
    words_left: usize,
    /// Whether the word being read began with a capital letter.
    capitalized: bool,
    /// Where capitalized words go (folded, separated by spaces), if wanted.
    keys: Option<&'a mut String>,
    /// Whether a word that names what happened stands for its [`concept`].
    concepts: bool,
}

/// Whether a non-ASCII character belongs to a word. German letters
/// (`ä`, `ß`, `é` …, the Latin-1 letters) are answered without the Unicode
/// tables, which are slow and asked about every umlaut.
pub(crate) fn is_word_char(c: char) -> bool {
    match c {
        '\u{c0}'..='\u{ff}' => c != '×' && c != '÷',
        c => c.is_alphanumeric(),
    }
}

/// Digits and letters do not mix in one term ("2025er" → 2025): ends the
/// word when the next character is of the other kind.
fn split_at_digits(word: &mut String, digit: bool, out: &mut Sink) {
    if word
        .as_bytes()
        .last()
        .is_some_and(|last| last.is_ascii_digit() != digit)
    {
        finish_word(word, out);
    }
}

fn finish_word(word: &mut String, out: &mut Sink) {
    if word.is_empty() || out.words_left == 0 {
        word.clear();
        return;
    }
    out.words_left -= 1;
    // A stop word or a single letter is neither a term nor a name (no stop
    // word names a place or a street, and numbers name neither): about
    // half the words of German text end here.
    let numeric = word.as_bytes()[0].is_ascii_digit();
    if !numeric && is_no_term(word) {
        std::mem::swap(&mut out.previous, word);
        word.clear();
        return;
    }
    // Places, streets, states and offices are nouns and names, written
    // with a capital letter: lowercase words are not looked up (about half
    // of the words that reach here).
    let named = if numeric || !out.capitalized {
        None
    } else {
        record_entity(word, out)
    };
    let names_place = matches!(named, Some(entities::Kind::Place | entities::Kind::State));
    // A word that names what happened stands for its concept (or concepts:
    // "Hackerangriff") instead of its own start.
    let terms = &mut *out.terms;
    let conceptual = out.concepts && !numeric && !names_place;
    if !conceptual || !concept::of_word(word, |term| terms.push(term)) {
        let term = term_hash(term_of_word(word));
        let term = if names_place { term | PLACE_FLAG } else { term };
        out.terms.push(term);
    }
    if let Some(keys) = out.keys.as_deref_mut()
        && out.capitalized
        && named.is_none()
        && !numeric
        && word.len() >= 4
    {
        if !keys.is_empty() {
            keys.push(' ');
        }
        keys.push_str(word);
    }
    std::mem::swap(&mut out.previous, word);
    word.clear();
}

/// Notes the place or street `word` names, if any (see [`entities::named`]);
/// the kind of what it names.
fn record_entity(word: &str, out: &mut Sink) -> Option<entities::Kind> {
    let named = entities::named(&out.previous, word).or_else(|| {
        entities::district(&out.previous, word, out.capitalized).map(entities::Named::New)
    });
    let entity = match named {
        Some(entities::Named::New(entity)) => entity,
        Some(entities::Named::Replace(entity)) => {
            if out.entities.last().copied() == entities::place_entity(&out.previous) {
                out.entities.pop();
            }
            entity
        }
        None => return None,
    };
    out.entities.push(entity);
    entities::kind_of(entity)
}

/// Appends the term a folded word stands for, if any.
fn push_term(word: &str, out: &mut Sink) {
    if let Some(term) = term_of(word) {
        out.terms.push(term_hash(term));
    }
}

/// The term a folded word stands for, if any.
fn term_of(word: &str) -> Option<&str> {
    let numeric = word.as_bytes()[0].is_ascii_digit();
    (numeric || !is_no_term(word)).then(|| term_of_word(word))
}

/// Whether a folded word of letters stands for no term.
fn is_no_term(word: &str) -> bool {
    word.len() < 2 || is_stop_word(word)
}

/// The term of a number, or of a word that is no stop word.
fn term_of_word(word: &str) -> &str {
    if word.as_bytes()[0].is_ascii_digit() {
        // Leading zeros differ between writers ("05.03." / "5.3.").
        let trimmed = word.trim_start_matches('0');
        return if trimmed.is_empty() { "0" } else { trimmed };
    }
    let word = SYNONYMS
        .iter()
        .find(|(from, _)| *from == word)
        .map_or(word, |(_, to)| *to);
    truncate(stem(word))
}

/// The term of a folded word (as [`terms`] makes it, for a word that
/// names no place): its first [`concept`]'s, if it names one.
pub fn term_of_folded(word: &str) -> u64 {
    let mut first = None;
    concept::of_word(word, |term| {
        first.get_or_insert(term);
    });
    first.unwrap_or_else(|| term_hash(term_of_word(word)))
}

/// The terms of a folded word and of its parts as a compound, each of at
/// least four letters: its head ("Weltkriegsbombe" → "bombe") and its
/// first part ("Bombenfund" → "bomben"). Two headline nouns with a part
/// in common name one thing. A term may come more than once.
pub fn word_and_parts(word: &str) -> impl Iterator<Item = u64> + '_ {
    const PART: usize = 4;
    let splits = word
        .char_indices()
        .map(|(at, _)| at)
        .filter(move |&at| at >= PART && word.len() - at >= PART);
    // A compound's longer starts mostly cut to one term ("weltkr…"): a
    // start whose term is the one before is not hashed again.
    let whole = term_of_word(word);
    let mut last_start = whole;
    std::iter::once(term_hash(whole)).chain(
        splits
            .flat_map(move |at| {
                let start = term_of_word(&word[..at]);
                let repeated = std::mem::replace(&mut last_start, start) == start;
                [
                    Some(term_of_folded(&word[at..])),
                    (!repeated).then(|| term_hash(start)),
                ]
            })
            .flatten(),
    )
}

/// Keeps the first [`TERM_CHARS`] characters: German compounds and
/// derivations share their start (*Glasfaserausbau* / *Glasfaser*,
/// *Eberstadt* / *Eberstädter*, *Bauanträge* / *Bauantrag*). On the labelled
/// set this finds a third more same-story pairs than whole stems, for a
/// little precision (BENCHMARKS.md).
fn truncate(stem: &str) -> &str {
    if stem.len() <= TERM_CHARS {
        return stem;
    }
    if stem.as_bytes()[..TERM_CHARS].is_ascii() {
        return &stem[..TERM_CHARS];
    }
    stem.char_indices()
        .nth(TERM_CHARS)
        .map_or(stem, |(at, _)| &stem[..at])
}

/// Characters a term keeps.
const TERM_CHARS: usize = 6;

/// Cuts one common German inflection ending, keeping at least four letters:
/// "Sperrungen" → "sperrung", "digitalen" → "digital", "Straße" → "strass".
fn stem(word: &str) -> &str {
    const ENDINGS: &[&str] = &["ern", "en", "er", "em", "es", "e", "s", "n"];
    for ending in ENDINGS {
        if let Some(stem) = word.strip_suffix(ending)
            && stem.len() >= 4
        {
            return stem;
        }
    }
    word
}

/// Set in the hash of a number term, clear in a word's: numbers are told
/// apart without a second list. MinHash reads other bits (the low six and
/// the high 32), so the flag does not bias sketches.
const NUMBER_FLAG: u64 = 1 << 20;

/// Set in the hash of a term that names a place or a state (see
/// [`is_place`]).
const PLACE_FLAG: u64 = 1 << 21;

/// Whether a term hash is a place's or a state's name: its weight is
/// capped, since where an event happened is weighed as a place
/// ([`super::score`]: the same place, or different places) and a city's
/// own name is in nearly all its press office's items, however rare the
/// name is in German at large.
pub fn is_place(term: u64) -> bool {
    term & PLACE_FLAG != 0
}

/// The hash of a term, flagged when it is a number that can tell events
/// apart. Years are not flagged: "2025" is in half of this year's news, and
/// two reports of one event need not both give it.
pub fn term_hash(term: &str) -> u64 {
    let hash = hash_term(term);
    if term.as_bytes().first().is_some_and(u8::is_ascii_digit) && !is_year(term) {
        (hash | NUMBER_FLAG) & !PLACE_FLAG
    } else {
        hash & !(NUMBER_FLAG | PLACE_FLAG)
    }
}

/// A year from 1900 to 2099, as a term.
fn is_year(term: &str) -> bool {
    term.len() == 4 && (term.starts_with("19") || term.starts_with("20"))
}

/// Whether a term hash is a number's (see [`term_hash`]).
pub fn is_number(term: u64) -> bool {
    term & NUMBER_FLAG != 0
}

/// FNV-1a with a final mix: stable across builds and machines, so stored
/// sketches stay comparable.
pub fn hash_term(term: &str) -> u64 {
    mix(term.bytes().fold(FNV_OFFSET, fnv_step))
}

/// FNV-1a's start; [`hash_term`] is `mix` of the folded [`fnv_step`]s, so
/// the hashes of all starts of a word come from one pass.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

pub(crate) fn fnv_step(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// The 64-bit finalizer of MurmurHash3: spreads every input bit over the output.
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Vec<u64> {
        let mut out = Vec::new();
        terms(text, &mut out);
        out
    }

    fn words(list: &[&str]) -> Vec<u64> {
        list.iter().map(|w| term_hash(w)).collect()
    }

    #[test]
    fn folds_stems_and_drops_stop_words() {
        assert_eq!(
            of("Die Sperrungen der Straße"),
            words(&["sperru", "strass"])
        );
        // Compounds and derivations share their start.
        assert_eq!(of("Glasfaserausbau"), of("Glasfaser"));
        assert_eq!(of("Eberstädter"), of("Eberstadt"));
        assert_eq!(of("Bürgerämter"), of("BUERGERAEMTER"));
        assert_eq!(of("digitalen Bauakte"), of("digitale Bauakten"));
    }

    #[test]
    fn numbers_and_amounts_compare_across_spellings() {
        assert_eq!(of("2,5 Mio. €"), of("2.5 Millionen Euro"));
        assert_eq!(of("am 05.03.2025"), of("am 5.3.2025"));
        assert_eq!(of("2025er"), words(&["2025"]));
        assert_eq!(of("10 %"), of("10 Prozent"));
    }

    #[test]
    fn every_stop_word_is_found() {
        for word in STOP_WORDS {
            assert!(pack(word).is_some(), "{word} is longer than 8 bytes");
            assert!(is_stop_word(word), "{word}");
        }
        assert!(!is_stop_word("rathaus"));
    }

    #[test]
    fn no_stop_word_names_a_place_or_street() {
        // `finish_word` skips the entity lookup for stop words.
        for word in STOP_WORDS {
            assert_eq!(entities::named("", word), None, "{word}");
            assert_eq!(entities::named("frankfurter", word), None, "{word}");
        }
    }

    #[test]
    fn number_terms_are_flagged() {
        let found = of("Am 14. April 2025 in Eberstadt");
        let numbers: Vec<bool> = found.iter().map(|&t| is_number(t)).collect();
        assert_eq!(
            numbers,
            [true, false, false, false],
            "years are not flagged"
        );
    }

    #[test]
    fn markup_and_entities_only_separate_words() {
        assert_eq!(
            of("<p>Stadt<b>rat</b> &amp; Magistrat</p>"),
            words(&["stadt", "rat", "magist"])
        );
        assert_eq!(of("Rat&nbsp;Haus"), of("Rat Haus"));
    }
}
