//! Fold: German-aware folding, one spelling for every way a word gets written.
//!
//! `Bürgerservice`, `Buergerservice` and `BÜRGERSERVICE` must match each other,
//! because feeds write umlauts whichever way their CMS allows. Folding lowercases,
//! writes `ä ö ü` as `ae oe ue` and `ß` as `ss`, and drops the accents of
//! other Latin letters (`é` → `e`), which German text borrows freely.
//!
//! A leaf: the rule language, German dates and story grouping all fold words
//! alike, and it imports nothing of the crate.

/// Folds one character, handing out the characters it becomes.
#[inline]
pub(crate) fn fold_char(c: char, mut out: impl FnMut(char)) {
    let mut two = |a, b| {
        out(a);
        out(b);
    };
    match c {
        'ä' | 'Ä' => two('a', 'e'),
        'ö' | 'Ö' => two('o', 'e'),
        'ü' | 'Ü' => two('u', 'e'),
        'ß' | 'ẞ' => two('s', 's'),
        'à' | 'á' | 'â' | 'ã' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Å' => out('a'),
        'ç' | 'Ç' => out('c'),
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => out('e'),
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => out('i'),
        'ñ' | 'Ñ' => out('n'),
        'ò' | 'ó' | 'ô' | 'õ' | 'Ò' | 'Ó' | 'Ô' | 'Õ' => out('o'),
        'ù' | 'ú' | 'û' | 'Ù' | 'Ú' | 'Û' => out('u'),
        'ý' | 'ÿ' | 'Ý' => out('y'),
        c if c.is_ascii() => out(c.to_ascii_lowercase()),
        c => c.to_lowercase().for_each(out),
    }
}

/// Folds one character into `out`.
#[inline]
pub(crate) fn push_folded(c: char, out: &mut String) {
    fold_char(c, |folded| out.push(folded));
}

/// A byte offset into folded text as spans keep it: item texts are capped
/// far below 4 GiB, and an offset past that would only end a span early.
fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

/// Folds a whole string (no word splitting).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        push_folded(c, &mut out);
    }
    out
}

/// Splits text into folded words: runs of letters and digits. Everything else
/// (spaces, hyphens, punctuation, markup leftovers) separates words, so
/// `Smart-City` is the two words `smart city`.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            push_folded(c, &mut current);
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The folded words of a text in one buffer: what the matcher indexes.
/// One allocation for the text and one for the spans, instead of one per word.
#[derive(Debug, Default, Clone)]
pub struct FoldedWords {
    text: String,
    spans: Vec<(u32, u32)>,
}

impl FoldedWords {
    pub fn new(raw: &str) -> FoldedWords {
        let mut words = FoldedWords {
            text: String::with_capacity(raw.len() + 8),
            spans: Vec::with_capacity(raw.len() / 6),
        };
        words.append(raw);
        words
    }

    /// Adds the words of `raw` after the ones already here.
    pub fn append(&mut self, raw: &str) {
        let bytes = raw.as_bytes();
        let mut start: Option<usize> = None;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            // ASCII, most of any German text, takes the short way.
            let (is_word, width) = if b < 0x80 {
                (b.is_ascii_alphanumeric(), 1)
            } else {
                let c = raw[i..].chars().next().expect("i is on a char boundary");
                (c.is_alphanumeric(), c.len_utf8())
            };
            if is_word {
                start.get_or_insert(self.text.len());
                if width == 1 {
                    self.text.push(b.to_ascii_lowercase() as char);
                } else {
                    let c = raw[i..].chars().next().expect("i is on a char boundary");
                    push_folded(c, &mut self.text);
                }
            } else if let Some(begin) = start.take() {
                self.spans.push((offset(begin), offset(self.text.len())));
            }
            i += width;
        }
        if let Some(begin) = start {
            self.spans.push((offset(begin), offset(self.text.len())));
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `index`-th word.
    pub fn word(&self, index: usize) -> &str {
        let (start, end) = self.spans[index];
        &self.text[start as usize..end as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umlauts_and_case() {
        assert_eq!(fold("Bürgerservice"), "buergerservice");
        assert_eq!(fold("BÜRGERSERVICE"), "buergerservice");
        assert_eq!(fold("Buergerservice"), "buergerservice");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("Café Österreich"), "cafe oesterreich");
    }

    #[test]
    fn folded_words_agree_with_words() {
        let text = "Smart-City: Darmstadt's „Digitalstadt“ Straße 2026!";
        let folded = FoldedWords::new(text);
        let collected: Vec<&str> = (0..folded.len()).map(|i| folded.word(i)).collect();
        assert_eq!(collected, words(text));
        assert!(FoldedWords::new(" -- ").is_empty());
    }

    #[test]
    fn word_splitting() {
        assert_eq!(
            words("Smart-City: Darmstadt's „Digitalstadt“ 2026!"),
            ["smart", "city", "darmstadt", "s", "digitalstadt", "2026"]
        );
        assert!(words(" -- ").is_empty());
    }
}
