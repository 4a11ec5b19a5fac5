//! German-aware folding: one spelling for every way a word gets written.
//!
//! `Bürgerservice`, `Buergerservice` and `BÜRGERSERVICE` must match each other,
//! because feeds write umlauts whichever way their CMS allows. Folding lowercases,
//! writes `ä ö ü` as `ae oe ue` and `ß` as `ss`, and drops the accents of
//! other Latin letters (`é` → `e`), which German text borrows freely.

/// Folds one character into `out`.
fn push_folded(c: char, out: &mut String) {
    match c {
        'ä' | 'Ä' => out.push_str("ae"),
        'ö' | 'Ö' => out.push_str("oe"),
        'ü' | 'Ü' => out.push_str("ue"),
        'ß' | 'ẞ' => out.push_str("ss"),
        'à' | 'á' | 'â' | 'ã' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Å' => out.push('a'),
        'ç' | 'Ç' => out.push('c'),
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => out.push('e'),
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => out.push('i'),
        'ñ' | 'Ñ' => out.push('n'),
        'ò' | 'ó' | 'ô' | 'õ' | 'Ò' | 'Ó' | 'Ô' | 'Õ' => out.push('o'),
        'ù' | 'ú' | 'û' | 'Ù' | 'Ú' | 'Û' => out.push('u'),
        'ý' | 'ÿ' | 'Ý' => out.push('y'),
        c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
        c => out.extend(c.to_lowercase()),
    }
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
    fn word_splitting() {
        assert_eq!(
            words("Smart-City: Darmstadt's „Digitalstadt“ 2026!"),
            ["smart", "city", "darmstadt", "s", "digitalstadt", "2026"]
        );
        assert!(words(" -- ").is_empty());
    }
}
