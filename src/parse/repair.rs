//! Repairs the damage real feeds carry before the XML parser sees them.
//!
//! * HTML named entities (`&auml;`, `&nbsp;`, `&euro;`) are not defined in XML,
//!   but German feeds are full of them. They become numeric references, which
//!   every XML parser understands, so the text comes out as `ä`.
//! * A raw `&` (`Kinder & Jugend`) or an unknown entity (`&doesnotexist;`)
//!   becomes `&amp;`, keeping the text visible instead of losing the feed.
//! * Numeric references to characters XML forbids (`&#0;`, `&#x1B;`) are dropped.
//! * Inside CDATA sections and comments nothing is touched: `&` is literal there.
//!
//! The common case, a clean document, costs one `memchr` pass and no copy.

use std::borrow::Cow;

use memchr::{memchr, memchr2, memmem};

/// The result of checking one `&`.
enum Reference {
    /// Valid XML as it stands.
    Valid,
    /// Replace the `len` bytes starting at the `&` with this text.
    Replace { len: usize, with: String },
}

/// Repairs entity references outside CDATA sections and comments.
pub fn repair_entities(text: &str) -> Cow<'_, str> {
    if !needs_repair(text) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    let mut copied = 0;
    let mut i = 0;
    while let Some(offset) = memchr2(b'&', b'<', &bytes[i..]) {
        let at = i + offset;
        if bytes[at] == b'<' {
            i = skip_markup(bytes, at);
            continue;
        }
        match classify(&text[at..]) {
            Reference::Valid => i = at + 1,
            Reference::Replace { len, with } => {
                out.push_str(&text[copied..at]);
                out.push_str(&with);
                copied = at + len;
                i = copied;
            }
        }
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Fast check: is any `&` in the document not already a valid XML reference?
/// A false positive only costs the careful pass, which knows about CDATA.
fn needs_repair(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(offset) = memchr(b'&', &bytes[i..]) {
        let at = i + offset;
        if !matches!(classify(&text[at..]), Reference::Valid) {
            return true;
        }
        i = at + 1;
    }
    false
}

/// Skips a CDATA section, comment or processing instruction starting at `at`;
/// any other `<` is just stepped over.
fn skip_markup(bytes: &[u8], at: usize) -> usize {
    let rest = &bytes[at..];
    let (opener, closer): (&[u8], &[u8]) = if rest.starts_with(b"<![CDATA[") {
        (b"<![CDATA[", b"]]>")
    } else if rest.starts_with(b"<!--") {
        (b"<!--", b"-->")
    } else if rest.starts_with(b"<?") {
        (b"<?", b"?>")
    } else {
        return at + 1;
    };
    let body = at + opener.len();
    match memmem::find(&bytes[body..], closer) {
        Some(end) => body + end + closer.len(),
        None => bytes.len(),
    }
}

/// Classifies the reference at the start of `rest` (which starts with `&`).
fn classify(rest: &str) -> Reference {
    let bytes = rest.as_bytes();
    let escape_amp = || Reference::Replace {
        len: 1,
        with: "&amp;".into(),
    };
    if bytes.get(1) == Some(&b'#') {
        let (digits_start, radix) = match bytes.get(2) {
            Some(b'x' | b'X') => (3, 16),
            _ => (2, 10),
        };
        let digits_len = bytes[digits_start..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        let end = digits_start + digits_len;
        if digits_len == 0 || bytes.get(end) != Some(&b';') {
            return escape_amp();
        }
        let digits = &rest[digits_start..end];
        let valid = u32::from_str_radix(digits, radix)
            .ok()
            .and_then(char::from_u32)
            .is_some_and(is_xml_char);
        return match (valid, bytes[2]) {
            // XML only knows a lower-case `x`; HTML accepts both.
            (true, b'X') => Reference::Replace {
                len: end + 1,
                with: format!("&#x{digits};"),
            },
            (true, _) => Reference::Valid,
            (false, _) => Reference::Replace {
                len: end + 1,
                with: String::new(),
            },
        };
    }
    let name_len = bytes[1..]
        .iter()
        .take(40)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if name_len == 0 || bytes.get(1 + name_len) != Some(&b';') {
        return escape_amp();
    }
    let name_with_semicolon = &rest[1..name_len + 2];
    if matches!(
        name_with_semicolon,
        "amp;" | "lt;" | "gt;" | "quot;" | "apos;"
    ) {
        return Reference::Valid;
    }
    match markup5ever::data::NAMED_ENTITIES.get(name_with_semicolon) {
        Some(&(first, second)) => {
            let mut with = format!("&#{first};");
            if second != 0 {
                with.push_str(&format!("&#{second};"));
            }
            Reference::Replace {
                len: name_len + 2,
                with,
            }
        }
        None => escape_amp(),
    }
}

/// The text is UTF-8 by now, so the XML declaration must not claim otherwise
/// (quick-xml would switch decoders, and panics doing so mid-document), and a
/// declaration anywhere but at the start is a concatenation artifact. The first
/// becomes a plain UTF-8 declaration; later ones are removed.
pub fn repair_declarations(text: &str) -> Cow<'_, str> {
    let Cow::Owned(mut repaired) = repair_declarations_once(text) else {
        return Cow::Borrowed(text);
    };
    // Removing `<?xml …?>` from `<?<?xml …?>xml …?>` splices a new declaration
    // together; repeat until none is left (each pass removes at least one).
    while let Cow::Owned(again) = repair_declarations_once(&repaired) {
        repaired = again;
    }
    Cow::Owned(repaired)
}

fn repair_declarations_once(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let is_declaration = |at: usize| {
        bytes[at..].starts_with(b"<?xml")
            && bytes
                .get(at + 5)
                .is_some_and(|b| b.is_ascii_whitespace() || *b == b'?')
    };
    let first_end = if is_declaration(0) {
        memmem::find(bytes, b"?>").map(|end| end + 2)
    } else {
        None
    };
    let first_is_clean = first_end.is_none_or(|end| {
        let declaration = text[..end].to_ascii_lowercase();
        !declaration.contains("encoding") || declaration.contains("utf-8")
    });
    let search_from = first_end.unwrap_or(0);
    let later = memmem::find_iter(&bytes[search_from..], b"<?xml")
        .map(|offset| search_from + offset)
        .filter(|&at| at > 0 && is_declaration(at))
        .collect::<Vec<_>>();
    if first_is_clean && later.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    if let Some(end) = first_end.filter(|_| !first_is_clean) {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        copied = end;
    }
    for at in later {
        if at < copied {
            continue;
        }
        let end = memmem::find(&bytes[at..], b"?>").map_or(bytes.len(), |e| at + e + 2);
        out.push_str(&text[copied..at]);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Characters allowed in XML 1.0 documents.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Documents that declare entities in an internal DTD subset are refused.
///
/// That is how "billion laughs" and external-entity (XXE) attacks start, and
/// no real feed needs it. Returns the offending declaration's position.
pub fn find_entity_declaration(text: &str) -> Option<usize> {
    // Declarations can only appear in the prolog, before the root element.
    let prolog_end = root_start(text).unwrap_or(text.len());
    memmem::find(&text.as_bytes()[..prolog_end], b"<!ENTITY")
}

/// Byte offset of the root element's `<`, skipping the XML declaration,
/// comments, processing instructions and the DOCTYPE (with its internal subset).
pub fn root_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(offset) = memchr(b'<', &bytes[i..]) {
        let at = i + offset;
        let rest = &bytes[at..];
        if rest.starts_with(b"<?") || rest.starts_with(b"<!--") {
            i = skip_markup(bytes, at);
        } else if rest.starts_with(b"<!") {
            i = skip_doctype(bytes, at);
        } else if rest
            .get(1)
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        {
            return Some(at);
        } else {
            i = at + 1;
        }
    }
    None
}

/// Skips `<!DOCTYPE … [ … ]>`, whose internal subset may contain `>`.
fn skip_doctype(bytes: &[u8], at: usize) -> usize {
    let mut depth = 0usize;
    let mut quote = None;
    for (offset, &b) in bytes[at..].iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'[') => depth += 1,
            (None, b']') => depth = depth.saturating_sub(1),
            (None, b'>') if depth == 0 => return at + offset + 1,
            _ => {}
        }
    }
    bytes.len()
}

/// Some feeds end with a closing tag cut short by one byte (`</rss`); the
/// missing `>` is the only thing between them and a parse.
pub fn close_final_tag(text: &str) -> Option<String> {
    let trimmed = text.trim_end();
    let last_open = trimmed.rfind('<')?;
    let tail = &trimmed[last_open..];
    let is_cut_close = tail.starts_with("</")
        && tail.len() > 2
        && tail[2..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'-' || b == b'_');
    is_cut_close.then(|| format!("{trimmed}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_documents_are_borrowed() {
        let text = "<rss><title>a &amp; b &lt; &#228; &#xE4;</title></rss>";
        assert!(matches!(repair_entities(text), Cow::Borrowed(_)));
    }

    #[test]
    fn html_entities_become_numeric() {
        let out = repair_entities("<t>M&uuml;nchen &amp; K&ouml;ln&nbsp;&euro; &ndash;</t>");
        assert_eq!(
            out,
            "<t>M&#252;nchen &amp; K&#246;ln&#160;&#8364; &#8211;</t>"
        );
    }

    #[test]
    fn raw_ampersands_and_unknown_entities_are_escaped() {
        let out = repair_entities("<t>Kinder & Jugend &doesnotexist; AT&T &#xZZ;</t>");
        assert_eq!(
            out,
            "<t>Kinder &amp; Jugend &amp;doesnotexist; AT&amp;T &amp;#xZZ;</t>"
        );
    }

    #[test]
    fn forbidden_characters_are_dropped() {
        assert_eq!(
            repair_entities("<t>a&#0;b&#x1B;c&#9;</t>"),
            "<t>abc&#9;</t>"
        );
        assert_eq!(repair_entities("<t>&#X41;</t>"), "<t>&#x41;</t>");
    }

    #[test]
    fn cdata_and_comments_are_left_alone() {
        let text = "<t><![CDATA[a & b &auml;]]> & <!-- x & y --></t>";
        assert_eq!(
            repair_entities(text),
            "<t><![CDATA[a & b &auml;]]> &amp; <!-- x & y --></t>"
        );
    }

    #[test]
    fn entity_declarations_are_found_in_the_prolog_only() {
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><rss/>";
        assert!(find_entity_declaration(laughs).is_some());
        assert!(find_entity_declaration("<rss><![CDATA[<!ENTITY x>]]></rss>").is_none());
        let netscape = "<!DOCTYPE rss PUBLIC \"-//Netscape Communications//DTD RSS 0.91//EN\" \"http://my.netscape.com/publish/formats/rss-0.91.dtd\"><rss version=\"0.91\"/>";
        assert_eq!(root_start(netscape), netscape.find("<rss"));
        assert!(find_entity_declaration(netscape).is_none());
    }

    #[test]
    fn declarations() {
        let clean =
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><?xml-stylesheet href=\"a.xsl\"?><rss/>";
        assert!(matches!(repair_declarations(clean), Cow::Borrowed(_)));
        assert_eq!(
            repair_declarations("<?xml version=\"1.0\" encoding=\"utf-16\"?><rss/>"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss/>"
        );
        assert_eq!(
            repair_declarations("<rss><?xml version=\"1.0\" encoding='latin1'?><channel/></rss>"),
            "<rss><channel/></rss>"
        );
        assert_eq!(
            repair_declarations(
                "<rss><?<?xml version=\"1.0\"?>xml version=\"1.0\" encoding=\"utf-16\"?></rss>"
            ),
            "<rss></rss>",
            "a declaration spliced together by a removal is removed too"
        );
    }

    #[test]
    fn cut_final_tag() {
        assert_eq!(
            close_final_tag("<rss><channel/></rss\n").as_deref(),
            Some("<rss><channel/></rss>")
        );
        assert_eq!(close_final_tag("<rss><channel/></rss>"), None);
        assert_eq!(close_final_tag("<rss><channel><item><title>cut"), None);
    }
}
