//! Decode: turns the raw bytes of a fetched document into UTF-8 text.
//!
//! Everything after this step (feed parsing, normalizing, storing) works on
//! UTF-8 only, so the charset question is answered once, here, and the XML
//! parser never sees anything but UTF-8. The charset is taken from the first
//! rule that applies:
//!
//! 1. **Byte order mark**: UTF-8, UTF-32LE/BE, UTF-16BE/LE. The UTF-32LE mark
//!    `FF FE 00 00` is tested before UTF-16LE `FF FE`, which is its prefix.
//!    The mark is removed.
//! 2. **Zero-byte pattern** of UTF-16/UTF-32 text that starts with `<` or
//!    whitespace (XML 1.0, appendix F), e.g. `00 3C 00 3F` for UTF-16BE.
//!    BOM-less UTF-16 must be converted here: quick-xml 0.42 panics on some of it.
//! 3. **Valid UTF-8** is UTF-8, whatever the HTTP header or XML declaration
//!    says. Legacy 8-bit or multi-byte text is almost never valid UTF-8 by
//!    accident, while feeds that declare ISO-8859-1 and contain UTF-8 are
//!    common (laut.de does). Two refinements: a multi-byte sequence cut off
//!    at the very end (a truncated download) does not disqualify UTF-8, and
//!    a document declared as ISO-2022-JP that contains an escape byte is
//!    decoded as declared, because that 7-bit encoding is always valid UTF-8.
//! 4. **Declared charset**: the HTTP `charset` parameter, then the XML
//!    declaration's `encoding`, then (for HTML documents) a `<meta>` charset
//!    within the first 4 KiB. Labels are resolved the WHATWG way
//!    ([`Encoding::for_label_no_replacement`]), so ISO-8859-1 and US-ASCII
//!    mean windows-1252, which is what servers that say so really send. A
//!    label is skipped when it is unknown, or names UTF-8 (rule 3 proved the
//!    bytes are not) or UTF-16 (rules 1–2 proved they are not); the next
//!    source is tried instead.
//! 5. **Guess**: chardetng's statistical detector, helped by the URL's
//!    top-level domain.
//!
//! Then:
//!
//! 6. **Decode** with `encoding_rs`, or by hand for UTF-32, which it lacks.
//!    Malformed sequences become U+FFFD (reported in [`Decoded::had_errors`]).
//! 7. **Rewrite the XML declaration**: its `encoding` now says `UTF-8`, so a
//!    parser that honours the declaration does not decode a second time.
//!
//! Valid UTF-8, the common case, costs one validation pass plus one copy in
//! [`decode`] and no copy at all in [`decode_owned`].

use std::borrow::Cow;
use std::ops::Range;
use std::str::Utf8Error;

use chardetng::EncodingDetector;
use encoding_rs::{Encoding, ISO_2022_JP, UTF_8, UTF_16BE, UTF_16LE};

/// How far into the document the XML declaration may reach (it is normally
/// under 60 bytes; the bound keeps a missing `?>` from costing a full scan).
const XML_DECLARATION_WINDOW: usize = 1024;

/// How much text, from the first non-ASCII byte on, the charset guesser reads.
const GUESS_WINDOW: usize = 64 * 1024;

/// How far into an HTML document `<meta charset>` is looked for. WHATWG says
/// 1024 bytes, but CMS pages often put scripts and styles before the meta tag.
const HTML_META_WINDOW: usize = 4096;

/// The result of decoding a document.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The document as UTF-8, without a BOM. If the document has an XML
    /// declaration, its `encoding` pseudo-attribute now says "UTF-8" (or is
    /// left as is when it already says so or is absent), so that an XML parser
    /// that honours the declaration (quick-xml with its `encoding` feature
    /// does) does not decode a second time.
    pub text: String,
    /// The encoding the bytes were read as (e.g. `encoding_rs::WINDOWS_1252`),
    /// or `None` for UTF-32, which `encoding_rs` does not implement; `charset`
    /// names it in every case.
    pub encoding: Option<&'static Encoding>,
    /// The name of the charset the bytes were read as: [`Encoding::name`]
    /// ("UTF-8", "windows-1252", "UTF-16LE", ...) or "UTF-32LE" / "UTF-32BE".
    pub charset: &'static str,
    /// How the encoding was chosen (for logs and tests).
    pub source: CharsetSource,
    /// True when malformed byte sequences were replaced with U+FFFD.
    pub had_errors: bool,
}

/// Which rule chose the charset; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetSource {
    /// Rule 1: a byte order mark, which was removed from the text.
    ByteOrderMark,
    /// Rule 2: the zero bytes around a leading `<` showed UTF-16 or UTF-32.
    Utf16Or32Pattern,
    /// Rule 3: the bytes are valid UTF-8 (possibly cut off at the end).
    ValidUtf8,
    /// Rule 4: the `charset` parameter of the HTTP `Content-Type` header.
    HttpHeader,
    /// Rule 4: the `encoding` pseudo-attribute of the XML declaration.
    XmlDeclaration,
    /// Rule 4: `<meta charset>` or `<meta http-equiv="Content-Type">` in an HTML document.
    HtmlMeta,
    /// Rule 5: chardetng's statistical guess.
    Guessed,
}

/// What the bytes are read as: an `encoding_rs` encoding, or UTF-32, which
/// `encoding_rs` leaves out because the Web never uses it (feeds rarely do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Encoding(&'static Encoding),
    Utf32 { big_endian: bool },
}

impl Charset {
    fn encoding(self) -> Option<&'static Encoding> {
        match self {
            Charset::Encoding(encoding) => Some(encoding),
            Charset::Utf32 { .. } => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Charset::Encoding(encoding) => encoding.name(),
            Charset::Utf32 { big_endian: true } => "UTF-32BE",
            Charset::Utf32 { big_endian: false } => "UTF-32LE",
        }
    }

    /// Decodes `bytes` (BOM already removed) and reports whether anything was replaced.
    fn decode(self, bytes: &[u8]) -> (Cow<'_, str>, bool) {
        match self {
            Charset::Encoding(encoding) => encoding.decode_without_bom_handling(bytes),
            Charset::Utf32 { big_endian } => {
                let (text, had_errors) = decode_utf32(bytes, big_endian);
                (Cow::Owned(text), had_errors)
            }
        }
    }
}

/// Decodes a fetched document to UTF-8; see the module documentation for the rules.
///
/// `http_content_type`: the full Content-Type header value if any, e.g.
/// `text/xml; charset="ISO-8859-1"`.
/// `tld_hint`: the top-level domain of the URL (e.g. "de") for the statistical
/// guesser, if known. Any case, a trailing dot or a whole host name are fine;
/// a non-ASCII (not Punycode) label is ignored.
#[must_use]
pub fn decode(bytes: &[u8], http_content_type: Option<&str>, tld_hint: Option<&str>) -> Decoded {
    if let Some((charset, source, bom_len)) = sniff_unicode(bytes) {
        return decode_as(&bytes[bom_len..], charset, source);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => decode_valid_utf8(Cow::Borrowed(text), http_content_type),
        Err(err) => decode_invalid_utf8(bytes, err, http_content_type, tld_hint),
    }
}

/// Like [`decode`], but takes the buffer so that valid UTF-8 (the common
/// case) becomes the `text` without a copy: only a UTF-8 BOM (a move within
/// the buffer) or an XML declaration rewrite (an in-place splice) touch it.
#[must_use]
pub fn decode_owned(
    mut bytes: Vec<u8>,
    http_content_type: Option<&str>,
    tld_hint: Option<&str>,
) -> Decoded {
    match sniff_unicode(&bytes) {
        Some((Charset::Encoding(encoding), source, bom_len)) if encoding == UTF_8 => {
            bytes.drain(..bom_len);
            return match String::from_utf8(bytes) {
                Ok(text) => Decoded::new(
                    finish(Cow::Owned(text)),
                    Charset::Encoding(UTF_8),
                    source,
                    false,
                ),
                // The BOM is authoritative: decode as UTF-8 with replacements.
                Err(err) => decode_as(err.as_bytes(), Charset::Encoding(UTF_8), source),
            };
        }
        Some((charset, source, bom_len)) => return decode_as(&bytes[bom_len..], charset, source),
        None => {}
    }
    match String::from_utf8(bytes) {
        Ok(text) => decode_valid_utf8(Cow::Owned(text), http_content_type),
        Err(err) => {
            let utf8_error = err.utf8_error();
            decode_invalid_utf8(err.as_bytes(), utf8_error, http_content_type, tld_hint)
        }
    }
}

/// Extracts the charset parameter from a Content-Type value (case-insensitive,
/// quotes, spaces around `=` as in `charset = us-ascii`).
///
/// Every `;`-separated part is looked at, so `charset=utf-8` without a media
/// type (as in some `<meta content>` values) is found too.
#[must_use]
pub fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim();
        let value = value.strip_prefix(['"', '\'']).unwrap_or(value);
        let value = value.strip_suffix(['"', '\'']).unwrap_or(value).trim();
        (!value.is_empty()).then_some(value)
    })
}

impl Decoded {
    fn new(text: String, charset: Charset, source: CharsetSource, had_errors: bool) -> Self {
        Decoded {
            text,
            encoding: charset.encoding(),
            charset: charset.name(),
            source,
            had_errors,
        }
    }
}

fn decode_as(bytes: &[u8], charset: Charset, source: CharsetSource) -> Decoded {
    let (text, had_errors) = charset.decode(bytes);
    Decoded::new(finish(text), charset, source, had_errors)
}

/// Rule 3 for bytes that passed UTF-8 validation.
fn decode_valid_utf8(text: Cow<'_, str>, http_content_type: Option<&str>) -> Decoded {
    if let Some((encoding, source)) = declared_charset(text.as_bytes(), http_content_type) {
        // ISO-2022-JP switches to Japanese with escape sequences and is
        // otherwise ASCII, so its text always passes as UTF-8.
        if encoding == ISO_2022_JP && text.as_bytes().contains(&0x1B) {
            return decode_as(text.as_bytes(), Charset::Encoding(encoding), source);
        }
    }
    Decoded::new(
        finish(text),
        Charset::Encoding(UTF_8),
        CharsetSource::ValidUtf8,
        false,
    )
}

/// Rules 3 (truncated UTF-8), 4 and 5 for bytes that failed UTF-8 validation with `err`.
fn decode_invalid_utf8(
    bytes: &[u8],
    err: Utf8Error,
    http_content_type: Option<&str>,
    tld_hint: Option<&str>,
) -> Decoded {
    // `error_len() == None` means only the final sequence is incomplete, as
    // when a download is cut off at a size limit. That is still UTF-8 if the
    // rest proves it by containing multi-byte sequences; an ASCII text with
    // one stray high byte at the end does not prove anything.
    if err.error_len().is_none() && !bytes[..err.valid_up_to()].is_ascii() {
        return decode_as(bytes, Charset::Encoding(UTF_8), CharsetSource::ValidUtf8);
    }
    let (encoding, source) = declared_charset(bytes, http_content_type)
        .unwrap_or_else(|| (guess(bytes, tld_hint), CharsetSource::Guessed));
    decode_as(bytes, Charset::Encoding(encoding), source)
}

/// Rules 1 and 2: returns the charset, the rule, and the length of the BOM to skip.
fn sniff_unicode(bytes: &[u8]) -> Option<(Charset, CharsetSource, usize)> {
    let utf32le = Charset::Utf32 { big_endian: false };
    let utf32be = Charset::Utf32 { big_endian: true };
    let byte_order_marks: [(&[u8], Charset); 5] = [
        (b"\xEF\xBB\xBF", Charset::Encoding(UTF_8)),
        // Before UTF-16LE, whose mark is a prefix of this one.
        (b"\xFF\xFE\x00\x00", utf32le),
        (b"\x00\x00\xFE\xFF", utf32be),
        (b"\xFE\xFF", Charset::Encoding(UTF_16BE)),
        (b"\xFF\xFE", Charset::Encoding(UTF_16LE)),
    ];
    for (mark, charset) in byte_order_marks {
        if bytes.starts_with(mark) {
            return Some((charset, CharsetSource::ByteOrderMark, mark.len()));
        }
    }

    // XML 1.0 appendix F: an XML document starts with `<` (or, leniently,
    // whitespace), so the position of the zero bytes in the first code unit
    // gives the width and byte order away.
    let &[b0, b1, b2, b3, ..] = bytes else {
        return None;
    };
    let opens = |b: u8| b == b'<' || is_xml_space(b);
    let charset = match [b0, b1, b2, b3] {
        [0, 0, 0, c] if opens(c) => utf32be,
        [c, 0, 0, 0] if opens(c) => utf32le,
        [0, c, 0, next] if opens(c) && next != 0 => Charset::Encoding(UTF_16BE),
        [c, 0, next, 0] if opens(c) && next != 0 => Charset::Encoding(UTF_16LE),
        _ => return None,
    };
    Some((charset, CharsetSource::Utf16Or32Pattern, 0))
}

/// Rule 4: the first usable label from the HTTP header, the XML declaration
/// or an HTML `<meta>`. `bytes` must be ASCII-compatible (rules 1–2 did not apply).
fn declared_charset(
    bytes: &[u8],
    http_content_type: Option<&str>,
) -> Option<(&'static Encoding, CharsetSource)> {
    // The replacement encoding (for ISO-2022-KR and similar) would turn the
    // whole document into one U+FFFD; a guess is more useful.
    let usable = |label: &[u8]| {
        Encoding::for_label_no_replacement(label)
            .filter(|&encoding| encoding != UTF_8 && encoding != UTF_16LE && encoding != UTF_16BE)
    };
    if let Some(encoding) = http_content_type
        .and_then(charset_param)
        .and_then(|label| usable(label.as_bytes()))
    {
        return Some((encoding, CharsetSource::HttpHeader));
    }
    if let Some(encoding) = xml_declaration_encoding(bytes).and_then(|range| usable(&bytes[range]))
    {
        return Some((encoding, CharsetSource::XmlDeclaration));
    }
    html_meta_charset(bytes)
        .and_then(usable)
        .map(|encoding| (encoding, CharsetSource::HtmlMeta))
}

/// Rule 5. The bytes are known not to be UTF-8, so UTF-8 is not allowed as an answer.
fn guess(bytes: &[u8], tld_hint: Option<&str>) -> &'static Encoding {
    // chardetng reads non-ASCII text at roughly 10 MB/s, so a 10 MiB feed
    // would take a second. The first stretch of non-ASCII text settles the
    // guess; the ASCII before it costs next to nothing.
    let end = Encoding::ascii_valid_up_to(bytes).saturating_add(GUESS_WINDOW);
    let sample = &bytes[..bytes.len().min(end)];
    let mut detector = EncodingDetector::new();
    // `last` only when the sample is the whole document: otherwise a
    // multi-byte character cut off by the window would count against its encoding.
    detector.feed(sample, sample.len() == bytes.len());
    let tld = tld_hint.and_then(tld_label);
    detector.guess(tld.as_deref().map(str::as_bytes), false)
}

/// The form chardetng accepts: one lower-case ASCII label. It panics on
/// upper case, dots and non-ASCII, so anything else becomes `None`
/// (an internationalized TLD would need Punycode, which we cannot produce here).
fn tld_label(hint: &str) -> Option<String> {
    let label = hint.trim().trim_end_matches('.').rsplit('.').next()?;
    (!label.is_empty() && label.is_ascii()).then(|| label.to_ascii_lowercase())
}

/// Rule 6 for UTF-32: four-byte units to chars, anything that is not a
/// Unicode scalar value (surrogates, > U+10FFFF, a partial unit at the end) to U+FFFD.
fn decode_utf32(bytes: &[u8], big_endian: bool) -> (String, bool) {
    let units = bytes.chunks_exact(4);
    let partial_unit = !units.remainder().is_empty();
    let mut had_errors = partial_unit;
    // Exact for ASCII, which is what most of an XML document is.
    let mut text = String::with_capacity(bytes.len() / 4);
    for unit in units {
        let unit = [unit[0], unit[1], unit[2], unit[3]];
        let value = if big_endian {
            u32::from_be_bytes(unit)
        } else {
            u32::from_le_bytes(unit)
        };
        text.push(char::from_u32(value).unwrap_or_else(|| {
            had_errors = true;
            char::REPLACEMENT_CHARACTER
        }));
    }
    if partial_unit {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    (text, had_errors)
}

/// Rule 7: makes the XML declaration's `encoding` say UTF-8, copying a
/// borrowed text once and splicing an owned one in place.
fn finish(text: Cow<'_, str>) -> String {
    let stale = xml_declaration_encoding(text.as_bytes()).filter(|range| {
        text.get(range.clone())
            .is_some_and(|value| !value.eq_ignore_ascii_case("UTF-8"))
    });
    let Some(range) = stale else {
        return text.into_owned();
    };
    match text {
        Cow::Borrowed(text) => [&text[..range.start], "UTF-8", &text[range.end..]].concat(),
        Cow::Owned(mut text) => {
            text.replace_range(range, "UTF-8");
            text
        }
    }
}

/// The byte range of the `encoding` value in the XML declaration that opens
/// `doc` (after optional whitespace), without its quotes. Every bound of the
/// range is next to an ASCII delimiter, so it is also a `str` char boundary.
fn xml_declaration_encoding(doc: &[u8]) -> Option<Range<usize>> {
    let window = &doc[..doc.len().min(XML_DECLARATION_WINDOW)];
    let start = window.iter().position(|&b| !is_xml_space(b))?;
    let after_target = window[start..].strip_prefix(b"<?xml")?;
    // `<?xml-stylesheet ...?>` is a processing instruction, not the declaration.
    if !after_target.first().is_some_and(|&b| is_xml_space(b)) {
        return None;
    }
    let mut pos = start + b"<?xml".len();
    loop {
        pos = skip(window, pos, is_xml_space);
        let name_start = pos;
        pos = skip(window, pos, |b| {
            !is_xml_space(b) && !matches!(b, b'=' | b'?' | b'>')
        });
        if pos == name_start {
            // `?>`, a stray character, or the end of the window.
            return None;
        }
        let name = &window[name_start..pos];
        pos = skip(window, pos, is_xml_space);
        if window.get(pos) != Some(&b'=') {
            return None;
        }
        pos = skip(window, pos + 1, is_xml_space);
        let value = match *window.get(pos)? {
            quote @ (b'"' | b'\'') => {
                let len = window[pos + 1..].iter().position(|&b| b == quote)?;
                pos + 1..pos + 1 + len
            }
            // Not XML, but seen in the wild and harmless to accept. The
            // delimiter must be inside the window so the range ends on it.
            _ => {
                let len = window[pos..]
                    .iter()
                    .position(|&b| is_xml_space(b) || b == b'?' || b == b'>')
                    .filter(|&len| len > 0)?;
                pos..pos + len
            }
        };
        // A runaway value (missing closing quote) would reach past `?>`.
        if window[value.clone()]
            .iter()
            .any(|&b| b == b'<' || b == b'>')
        {
            return None;
        }
        if name == b"encoding" {
            return Some(value);
        }
        pos = value.end;
        if matches!(window.get(pos), Some(b'"' | b'\'')) {
            pos += 1;
        }
    }
}

/// The charset label of the first `<meta charset>` or
/// `<meta http-equiv="Content-Type" content="...; charset=...">` in an HTML
/// document, a simplified form of the WHATWG prescan.
fn html_meta_charset(doc: &[u8]) -> Option<&[u8]> {
    let window = &doc[..doc.len().min(HTML_META_WINDOW)];
    // Feeds are not HTML: a `<meta>` in one would describe embedded content.
    let looks_like_html = window.iter().enumerate().any(|(pos, &b)| {
        b == b'<'
            && (starts_with_ignore_ascii_case(&window[pos..], b"<html")
                || starts_with_ignore_ascii_case(&window[pos..], b"<!doctype html"))
    });
    if !looks_like_html {
        return None;
    }
    let mut pos = 0;
    while let Some(offset) = window[pos..].iter().position(|&b| b == b'<') {
        pos += offset;
        let rest = &window[pos..];
        if rest.starts_with(b"<!--") {
            // A commented-out `<meta>` does not count.
            pos += 4 + find(&rest[4..], b"-->")? + 3;
        } else if starts_with_ignore_ascii_case(rest, b"<meta")
            && rest.get(5).is_some_and(|&b| is_xml_space(b) || b == b'/')
        {
            let (label, end) = meta_charset(window, pos + 5);
            if label.is_some() {
                return label;
            }
            pos = end;
        } else {
            pos += 1;
        }
    }
    None
}

/// Reads the attributes of a `<meta` tag from `pos` to its `>`; returns the
/// charset label it declares, if any, and the position after the tag.
fn meta_charset(window: &[u8], mut pos: usize) -> (Option<&[u8]>, usize) {
    let mut charset = None;
    let mut content = None;
    let mut content_type = false;
    loop {
        pos = skip(window, pos, |b| is_xml_space(b) || b == b'/');
        match window.get(pos) {
            None => break,
            Some(b'>') => {
                pos += 1;
                break;
            }
            Some(_) => {}
        }
        let name_start = pos;
        pos = skip(window, pos + 1, |b| {
            !is_xml_space(b) && !matches!(b, b'=' | b'>' | b'/')
        });
        let name = &window[name_start..pos];
        pos = skip(window, pos, is_xml_space);
        let mut value: &[u8] = b"";
        if window.get(pos) == Some(&b'=') {
            pos = skip(window, pos + 1, is_xml_space);
            match window.get(pos) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let value_start = pos + 1;
                    pos = skip(window, value_start, |b| b != quote);
                    value = &window[value_start..pos];
                    pos += 1;
                }
                _ => {
                    let value_start = pos;
                    pos = skip(window, pos, |b| !is_xml_space(b) && b != b'>');
                    value = &window[value_start..pos];
                }
            }
        }
        if name.eq_ignore_ascii_case(b"charset") {
            charset.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"content") {
            content.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"http-equiv") {
            content_type |= value.eq_ignore_ascii_case(b"content-type");
        }
    }
    let label = charset.or_else(|| {
        let content = std::str::from_utf8(content.filter(|_| content_type)?).ok()?;
        charset_param(content).map(str::as_bytes)
    });
    (label, pos)
}

/// XML's whitespace, which is also HTML's apart from form feed.
fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The first position at or after `pos` whose byte does not satisfy `keep_going`.
fn skip(bytes: &[u8], pos: usize, keep_going: impl Fn(u8) -> bool) -> usize {
    bytes
        .get(pos..)
        .and_then(|rest| rest.iter().position(|&b| !keep_going(b)))
        .map_or(bytes.len(), |offset| pos + offset)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn starts_with_ignore_ascii_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{
        BIG5, EUC_JP, EUC_KR, GBK, KOI8_R, KOI8_U, SHIFT_JIS, WINDOWS_874, WINDOWS_1251,
        WINDOWS_1252, WINDOWS_1255,
    };
    use std::path::{Path, PathBuf};

    /// The test corpus of real feeds (tests/corpus/, see its README.md).
    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

    fn read(relative: &str) -> Vec<u8> {
        let path = Path::new(CORPUS).join(relative);
        std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    }

    /// Runs `decode` and `decode_owned` and checks that they agree.
    fn decode_both(bytes: &[u8], content_type: Option<&str>, tld: Option<&str>) -> Decoded {
        let borrowed = decode(bytes, content_type, tld);
        let owned = decode_owned(bytes.to_vec(), content_type, tld);
        assert_eq!(borrowed.text, owned.text);
        assert_eq!(borrowed.encoding, owned.encoding);
        assert_eq!(borrowed.charset, owned.charset);
        assert_eq!(borrowed.source, owned.source);
        assert_eq!(borrowed.had_errors, owned.had_errors);
        borrowed
    }

    fn decode_file(relative: &str, content_type: Option<&str>, tld: Option<&str>) -> Decoded {
        decode_both(&read(relative), content_type, tld)
    }

    /// The Python expression after `Expect:` in a feedparser test file's header comment.
    fn expectation(text: &str) -> &str {
        let start = text
            .find("Expect:")
            .expect("feedparser header has an Expect line")
            + 7;
        let len = text[start..].find("-->").expect("header comment is closed");
        text[start..start + len].trim()
    }

    /// The text between `prefix` and the next `'` in `haystack`.
    fn quoted_after<'a>(haystack: &'a str, prefix: &str) -> Option<&'a str> {
        let start = haystack.find(prefix)? + prefix.len();
        let len = haystack[start..].find('\'')?;
        Some(&haystack[start..start + len])
    }

    #[test]
    fn utf16_and_utf32_files_decode_as_their_expect_line_says() {
        use CharsetSource::{ByteOrderMark, Utf16Or32Pattern};
        let cases = [
            ("utf-16be-bom.xml", ByteOrderMark),
            ("utf-16le-bom.xml", ByteOrderMark),
            ("utf-32be-bom.xml", ByteOrderMark),
            ("utf-32le-bom.xml", ByteOrderMark),
            ("utf-16be-autodetect.xml", Utf16Or32Pattern),
            ("utf-16le-autodetect.xml", Utf16Or32Pattern),
            ("utf-32be-autodetect.xml", Utf16Or32Pattern),
            ("utf-32le-autodetect.xml", Utf16Or32Pattern),
            ("utf-16be.xml", Utf16Or32Pattern),
            ("utf-16le.xml", Utf16Or32Pattern),
            ("utf-32be.xml", Utf16Or32Pattern),
            ("utf-32le.xml", Utf16Or32Pattern),
            ("u16.xml", Utf16Or32Pattern),
            ("utf16.xml", Utf16Or32Pattern),
            ("utf_16.xml", Utf16Or32Pattern),
            ("utf_32.xml", Utf16Or32Pattern),
        ];
        for (file, source) in cases {
            let decoded = decode_file(&format!("feedparser/encoding/{file}"), None, None);
            // e.g. `not bozo and encoding == 'utf-16be'`
            let expect = expectation(&decoded.text);
            let expected = quoted_after(expect, "encoding == '")
                .unwrap_or_else(|| panic!("{file}: no encoding in {expect:?}"));
            assert!(
                decoded.charset.eq_ignore_ascii_case(expected),
                "{file}: {decoded:?}"
            );
            assert_eq!(decoded.source, source, "{file}");
            assert!(!decoded.had_errors, "{file}");
            assert_eq!(
                decoded.encoding.is_none(),
                expected.starts_with("utf-32"),
                "{file}"
            );
            // The declaration said utf-16, utf_32, u16, ...; the text is UTF-8 now.
            assert!(
                decoded
                    .text
                    .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!--"),
                "{file}: {:?}",
                decoded.text.lines().next()
            );
            assert!(decoded.text.trim_end().ends_with("<rss>\n</rss>"), "{file}");
            assert!(!decoded.text.contains(['\0', '\u{FEFF}']), "{file}");
        }
        let decoded = decode_file("feedparser/encoding/utf-16le-bom.xml", None, None);
        assert!(
            decoded
                .text
                .contains("Description:  Wellformed UTF-16 with Byte Order Mark (Little Endian)\n")
        );
        let decoded = decode_file("feedparser/encoding/utf-32be-autodetect.xml", None, None);
        assert!(
            decoded
                .text
                .contains("Description:  Wellformed UTF-32 (autodetected as Big Endian)\n")
        );
    }

    #[test]
    fn utf8_byte_order_mark_is_removed_and_wins() {
        let decoded = decode_file("feedparser/encoding/utf-8-bom.xml", None, None);
        assert_eq!(decoded.source, CharsetSource::ByteOrderMark);
        assert_eq!(decoded.encoding, Some(UTF_8));
        assert!(
            decoded
                .text
                .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>")
        );
        assert!(!decoded.had_errors);

        // Invalid UTF-8 after a UTF-8 BOM is still read as UTF-8.
        let decoded = decode_file(
            "feedparser/encoding/bozo_invalid-bytes-with-bom.xml",
            None,
            None,
        );
        assert_eq!(decoded.source, CharsetSource::ByteOrderMark);
        assert_eq!(decoded.encoding, Some(UTF_8));
        assert!(decoded.had_errors);
        assert!(decoded.text.starts_with("<!--"));
        assert!(decoded.text.contains('\u{FFFD}'));
    }

    #[test]
    fn golem_is_declared_and_encoded_as_iso_8859_1() {
        for content_type in [None, Some("text/xml")] {
            let decoded = decode_file(
                "real/spacecowboy__Feeder/golem-de.xml",
                content_type,
                Some("de"),
            );
            assert_eq!(decoded.source, CharsetSource::XmlDeclaration);
            assert_eq!(decoded.encoding, Some(WINDOWS_1252));
            assert!(!decoded.had_errors);
            assert!(
                decoded
                    .text
                    .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            );
            assert!(
                decoded.text.contains(
                    "<title>Apple: Jony Ive übernimmt wieder Apples Produktdesign</title>"
                )
            );
            assert!(decoded.text.contains('ö'));
            assert!(!decoded.text.contains("Ã¶") && !decoded.text.contains("Ã¼"));
        }
        let decoded = decode_file(
            "real/spacecowboy__Feeder/golem-de.xml",
            Some("application/rss+xml; charset=ISO-8859-1"),
            None,
        );
        assert_eq!(decoded.source, CharsetSource::HttpHeader);
        assert!(decoded.text.contains("übernimmt"));
    }

    #[test]
    fn laut_de_declares_iso_8859_1_but_is_utf8() {
        for content_type in [None, Some("text/xml; charset=ISO-8859-1")] {
            let decoded = decode_file(
                "real/laminas__laminas-feed/laut.de-rdf.xml",
                content_type,
                Some("de"),
            );
            assert_eq!(decoded.source, CharsetSource::ValidUtf8);
            assert_eq!(decoded.encoding, Some(UTF_8));
            assert!(!decoded.had_errors);
            assert!(decoded.text.contains(
                "<title>Michael Jackson: Video der letzten Probe veröffentlicht</title>"
            ));
            assert!(!decoded.text.contains('Ã'));
            // The declaration no longer tells a parser to decode again.
            assert!(
                decoded
                    .text
                    .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            );
        }
    }

    #[test]
    fn latin1_without_declaration_is_guessed() {
        for tld in [None, Some("fr")] {
            let decoded = decode_file("real/miniflux__v2/no_encoding_ISO-8859-1.xml", None, tld);
            assert_eq!(decoded.source, CharsetSource::Guessed);
            assert_eq!(decoded.encoding, Some(WINDOWS_1252));
            assert!(
                decoded
                    .text
                    .contains("<title>La criminalité liée surtout à... l'ennui ?</title>")
            );
            assert!(!decoded.had_errors);
        }
        for tld in [None, Some("br")] {
            let decoded = decode_file("real/rbren__rss-parser/uolNoticias.rss", None, tld);
            assert_eq!(decoded.source, CharsetSource::Guessed);
            assert_eq!(decoded.encoding, Some(WINDOWS_1252));
            assert!(
                decoded
                    .text
                    .contains("<title>UOL Noticias - Últimas Notícias</title>")
            );
            assert!(decoded.text.contains("simulações de 2º turno"));
        }
        // A server that names the charset saves the guess.
        let decoded = decode_file(
            "real/rbren__rss-parser/uolNoticias.rss",
            Some("text/xml; charset=iso-8859-1"),
            None,
        );
        assert_eq!(decoded.source, CharsetSource::HttpHeader);
        assert!(decoded.text.contains("Últimas Notícias"));
    }

    #[test]
    fn feedparser_http_files_use_their_content_type() {
        let dir = Path::new(CORPUS).join("feedparser/encoding");
        let mut checked = 0;
        let mut by_header = 0;
        for entry in std::fs::read_dir(&dir).expect("corpus directory") {
            let path = entry.expect("directory entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !name.starts_with("http_") {
                continue;
            }
            let bytes = std::fs::read(&path).expect("corpus file");
            // The header comment is ASCII even where the body is not.
            let header = String::from_utf8_lossy(&bytes);
            let content_type = header
                .lines()
                .filter_map(|line| line.trim().strip_prefix("Header:"))
                .find_map(|field| {
                    let (name, value) = field.split_once(':')?;
                    name.trim()
                        .eq_ignore_ascii_case("content-type")
                        .then(|| value.trim())
                });
            let decoded = decode_both(&bytes, content_type, None);
            assert!(decoded.text.trim_start().starts_with('<'), "{name}");
            if std::str::from_utf8(&bytes).is_ok() {
                assert_eq!(decoded.source, CharsetSource::ValidUtf8, "{name}");
            } else {
                assert_eq!(
                    decoded.source,
                    CharsetSource::HttpHeader,
                    "{name}: {content_type:?}"
                );
                by_header += 1;
            }
            checked += 1;
        }
        assert!(
            checked >= 40,
            "only {checked} http_* files found in {}",
            dir.display()
        );
        assert!(by_header >= 2);

        // The two windows-1252 ones, with feedparser's expected description.
        for file in [
            "http_text_xml_charset_2.xml",
            "http_text_xml_charset_overrides_encoding_2.xml",
        ] {
            let decoded = decode_file(
                &format!("feedparser/encoding/{file}"),
                Some("text/xml; charset=windows-1252"),
                None,
            );
            assert_eq!(decoded.source, CharsetSource::HttpHeader);
            assert_eq!(decoded.encoding, Some(WINDOWS_1252));
            assert!(expectation(&decoded.text).contains(r"'This is a \xa3\u201ctest.\u201d'"));
            assert!(
                decoded
                    .text
                    .contains("<description>This is a £“test.”</description>"),
                "{file}"
            );
        }
    }

    #[test]
    fn legacy_encodings_without_declaration_are_guessed() {
        let cases: [(&str, &[&Encoding], &str); 8] = [
            ("big5.xml", &[BIG5], "很容易"),
            ("eucjp.xml", &[EUC_JP], "ゲーム三昧な正月"),
            ("euckr.xml", &[EUC_KR], "한글닉네임 표시하기"),
            // GBK is the WHATWG superset of GB2312.
            ("gb2312.xml", &[GBK], "不归移民漫画系列：专业工作"),
            // KOI8-U differs from KOI8-R only in a few box-drawing positions.
            (
                "koi8r.xml",
                &[KOI8_R, KOI8_U],
                "Как пережить новогоднюю ночь",
            ),
            (
                "shiftjis.xml",
                &[SHIFT_JIS],
                "DrecomRSSに記事投稿が反映されない…",
            ),
            // windows-874 is the WHATWG superset of TIS-620.
            (
                "tis620.xml",
                &[WINDOWS_874],
                "สำนักงานส่งเสริมอุตสาหกรรมซอฟต์แวร์แห่งชาติ",
            ),
            (
                "windows1255.xml",
                &[WINDOWS_1255],
                "האם תדפיס נייר של אתר אינטרנט",
            ),
        ];
        for (file, families, sample) in cases {
            let decoded = decode_file(&format!("feedparser/illformed/chardet/{file}"), None, None);
            assert_eq!(decoded.source, CharsetSource::Guessed, "{file}");
            let encoding = decoded.encoding.expect("not UTF-32");
            assert!(
                families.contains(&encoding),
                "{file}: guessed {}",
                encoding.name()
            );
            assert!(decoded.text.contains(sample), "{file}");
            assert!(!decoded.had_errors, "{file}");
        }
    }

    #[test]
    fn declared_charsets_in_real_feeds() {
        let cases = [
            (
                "real/miniflux__v2/iso-8859-1.xml",
                WINDOWS_1252,
                "<title>Café</title>",
            ),
            (
                "real/miniflux__v2/windows-1252.xml",
                WINDOWS_1252,
                "<title>Euro €</title>",
            ),
            ("real/miniflux__v2/koi8r.xml", KOI8_R, "KOI8-R"),
            (
                "real/miniflux__v2/encoding_WINDOWS-1251.xml",
                WINDOWS_1251,
                "encoding=\"UTF-8\"",
            ),
            (
                "real/rbren__rss-parser/encoding.rss",
                WINDOWS_1252,
                "Jornal de Notícias - Últimas Notícias",
            ),
        ];
        for (file, encoding, sample) in cases {
            let decoded = decode_file(file, None, None);
            assert_eq!(decoded.source, CharsetSource::XmlDeclaration, "{file}");
            assert_eq!(decoded.encoding, Some(encoding), "{file}");
            assert!(decoded.text.contains(sample), "{file}");
        }
        // Declared windows-1252 or ISO-8859-1 but written in UTF-8, and an unknown label on UTF-8.
        for file in [
            "windows-1252-incorrect-prolog.xml",
            "utf8-incorrect-prolog.xml",
            "invalid-prolog.xml",
        ] {
            let decoded = decode_file(&format!("real/miniflux__v2/{file}"), None, None);
            assert_eq!(decoded.source, CharsetSource::ValidUtf8, "{file}");
            assert!(!decoded.text.contains('Ã'), "{file}");
            assert!(decoded.text.contains("encoding=\"UTF-8\""), "{file}");
        }
    }

    #[test]
    fn declaration_is_rewritten_to_utf8() {
        let decoded = decode_both(
            b"<?xml version=\"1.0\" encoding='iso-8859-1'?>\n<rss/>",
            None,
            None,
        );
        assert_eq!(
            decoded.text,
            "<?xml version=\"1.0\" encoding='UTF-8'?>\n<rss/>"
        );

        // Only the declaration changes, even when the text repeats its words.
        let decoded = decode_both(
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\" standalone=\"yes\"?>\
              <t a=\"x\">caf\xE9 encoding=\"latin1\"?></t>",
            None,
            None,
        );
        assert_eq!(decoded.source, CharsetSource::XmlDeclaration);
        assert_eq!(
            decoded.text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <t a=\"x\">café encoding=\"latin1\"?></t>"
        );

        // Leading whitespace, other whitespace inside, upper-case hex label.
        let decoded = decode_both(
            b"\n  <?xml\tversion='1.0'\r\n encoding = \"CP1252\" ?><a/>",
            None,
            None,
        );
        assert_eq!(
            decoded.text,
            "\n  <?xml\tversion='1.0'\r\n encoding = \"UTF-8\" ?><a/>"
        );
    }

    #[test]
    fn text_without_stale_declaration_is_untouched() {
        for doc in [
            "<rss version=\"2.0\"><title>encoding=\"latin1\"</title></rss>",
            "<?xml version=\"1.0\"?><rss/>",
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss/>",
            "<?xml-stylesheet type=\"text/xsl\" encoding=\"latin1\"?><rss/>",
            "<!-- <?xml version=\"1.0\" encoding=\"latin1\"?> --><rss/>",
            // Broken: the value runs past `?>`, so nothing is rewritten.
            "<?xml version=\"1.0\" encoding=\"latin1?><rss a=\"b\"/>",
            "",
        ] {
            let decoded = decode_both(doc.as_bytes(), None, None);
            assert_eq!(decoded.text, doc);
            assert_eq!(decoded.source, CharsetSource::ValidUtf8);
        }
    }

    #[test]
    fn charset_param_cases() {
        let cases = [
            ("text/xml; charset=\"ISO-8859-1\"", Some("ISO-8859-1")),
            ("text/xml;charset = us-ascii", Some("us-ascii")),
            ("application/rss+xml;charset= 'us-ascii'", Some("us-ascii")),
            ("TEXT/XML; CharSet=UTF-8", Some("UTF-8")),
            (
                "text/html; foo=bar; charset=windows-1252; q=1",
                Some("windows-1252"),
            ),
            ("text/xml; charset=\" utf-8 \"", Some("utf-8")),
            ("charset=utf-8", Some("utf-8")),
            ("text/xml", None),
            ("text/xml;", None),
            ("text/xml; charset:iso-8859-1", None),
            ("text/xml; qs=0.9", None),
            ("text/xml; charset=", None),
            ("text/xml; charset=\"\"", None),
            ("text/xml; xcharset=utf-8", None),
            ("", None),
        ];
        for (content_type, expected) in cases {
            assert_eq!(charset_param(content_type), expected, "{content_type}");
        }
    }

    #[test]
    fn unusable_labels_fall_through_to_the_next_source() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><t>Gr\xF6\xDFe</t>";
        // The header claims UTF-8, which the bytes disprove; the declaration is next.
        for content_type in [
            "text/xml; charset=utf-8",
            "text/xml; charset=utf-16",
            "text/xml; charset=bogus",
        ] {
            let decoded = decode_both(latin1, Some(content_type), None);
            assert_eq!(
                decoded.source,
                CharsetSource::XmlDeclaration,
                "{content_type}"
            );
            assert!(decoded.text.ends_with("<t>Größe</t>"));
        }
        // No usable label at all: guessed. ISO-2022-KR maps to the replacement encoding.
        for label in ["utf-8", "utf-16", "utf-32", "bogus", "iso-2022-kr"] {
            let doc = format!(r#"<?xml version="1.0" encoding="{label}"?><t>Größe und süß</t>"#);
            let (bytes, _, _) = WINDOWS_1252.encode(&doc);
            let decoded = decode_both(&bytes, None, Some("de"));
            assert_eq!(decoded.source, CharsetSource::Guessed, "{label}");
            assert_eq!(decoded.encoding, Some(WINDOWS_1252), "{label}");
            assert!(decoded.text.ends_with("<t>Größe und süß</t>"), "{label}");
            // Rewritten, except where it already said UTF-8.
            assert!(
                decoded.text[..38]
                    .eq_ignore_ascii_case("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
                "{label}"
            );
        }
    }

    #[test]
    fn html_meta_charset() {
        let (body, _, _) = WINDOWS_1251.encode("<p>Привет, мир</p>");
        for head in [
            "<!DOCTYPE html><html><head><meta charset=\"windows-1251\">",
            "<html><head><meta charset=cp1251 />",
            r#"<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=windows-1251">"#,
            "<html><head><meta content='text/html;charset=windows-1251' http-equiv='content-type'>",
            // Commented out, and a `content` without `http-equiv`: both ignored.
            concat!(
                r#"<!-- <meta charset="koi8-r"> --><html>"#,
                r#"<meta name="x" content="charset=koi8-r"><meta charset="windows-1251">"#
            ),
        ] {
            let bytes = [head.as_bytes(), &body].concat();
            let decoded = decode_both(&bytes, None, None);
            assert_eq!(decoded.source, CharsetSource::HtmlMeta, "{head}");
            assert_eq!(decoded.encoding, Some(WINDOWS_1251), "{head}");
            assert!(decoded.text.ends_with("<p>Привет, мир</p>"), "{head}");
        }
        // In a feed, a `<meta>` belongs to embedded content and is not believed.
        let (bytes, _, _) = WINDOWS_1252
            .encode("<rss><item><meta charset=\"koi8-r\"/><title>Größe</title></item></rss>");
        let decoded = decode_both(&bytes, None, Some("de"));
        assert_eq!(decoded.source, CharsetSource::Guessed);
        assert!(decoded.text.contains("Größe"));
    }

    #[test]
    fn unicode_patterns_with_leading_whitespace() {
        let doc = "\n <rss><title>Größe</title></rss>";
        // encoding_rs only encodes to ASCII-compatible encodings, so build these by hand.
        let utf16be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let utf16le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf32be: Vec<u8> = doc
            .chars()
            .flat_map(|c| u32::from(c).to_be_bytes())
            .collect();
        let utf32le: Vec<u8> = doc
            .chars()
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect();
        for (bytes, charset) in [
            (utf16be, "UTF-16BE"),
            (utf16le, "UTF-16LE"),
            (utf32be, "UTF-32BE"),
            (utf32le, "UTF-32LE"),
        ] {
            let decoded = decode_both(&bytes, None, None);
            assert_eq!(decoded.source, CharsetSource::Utf16Or32Pattern, "{charset}");
            assert_eq!(decoded.charset, charset);
            assert_eq!(decoded.text, doc);
        }
    }

    #[test]
    fn malformed_unicode_is_replaced() {
        // UTF-32LE BOM, '<', a value above U+10FFFF, a surrogate, then half a unit.
        let bytes = b"\xFF\xFE\x00\x00<\x00\x00\x00\x00\x00\x11\x00\x00\xD8\x00\x00>\x00";
        let decoded = decode_both(bytes, None, None);
        assert_eq!(decoded.source, CharsetSource::ByteOrderMark);
        assert_eq!(decoded.charset, "UTF-32LE");
        assert_eq!(decoded.encoding, None);
        assert!(decoded.had_errors);
        assert_eq!(decoded.text, "<\u{FFFD}\u{FFFD}\u{FFFD}");

        // UTF-16LE with an odd trailing byte.
        let decoded = decode_both(b"\xFF\xFE<\x00a\x00>", None, None);
        assert_eq!(decoded.encoding, Some(UTF_16LE));
        assert!(decoded.had_errors);
        assert_eq!(decoded.text, "<a\u{FFFD}");

        // UTF-32LE must not be taken for UTF-16LE (whose BOM is its prefix).
        let decoded = decode_both(b"\xFF\xFE\x00\x00<\x00\x00\x00", None, None);
        assert_eq!(decoded.text, "<");
    }

    #[test]
    fn truncated_utf8_is_still_utf8() {
        let mut bytes = "<rss><title>Größe über".as_bytes().to_vec();
        bytes.extend_from_slice(&"€".as_bytes()[..2]);
        let decoded = decode_both(&bytes, Some("text/xml; charset=iso-8859-1"), None);
        assert_eq!(decoded.source, CharsetSource::ValidUtf8);
        assert!(decoded.had_errors);
        assert_eq!(decoded.text, "<rss><title>Größe über\u{FFFD}");

        // ASCII with one high byte at the very end proves nothing about UTF-8.
        let decoded = decode_both(b"<rss><title>Caf\xE9", None, None);
        assert_eq!(decoded.source, CharsetSource::Guessed);
        assert_eq!(decoded.text, "<rss><title>Café");
    }

    #[test]
    fn iso_2022_jp_is_not_mistaken_for_utf8() {
        let (body, _, _) = ISO_2022_JP.encode("<t>こんにちは</t>");
        let bytes = [
            b"<?xml version=\"1.0\" encoding=\"ISO-2022-JP\"?>".as_slice(),
            &body,
        ]
        .concat();
        assert!(std::str::from_utf8(&bytes).is_ok());
        let decoded = decode_both(&bytes, None, None);
        assert_eq!(decoded.source, CharsetSource::XmlDeclaration);
        assert_eq!(decoded.encoding, Some(ISO_2022_JP));
        assert_eq!(
            decoded.text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>こんにちは</t>"
        );
        // Declared but pure ASCII: UTF-8 reads it the same.
        let decoded = decode_both(
            b"<?xml version=\"1.0\" encoding=\"ISO-2022-JP\"?><t/>",
            None,
            None,
        );
        assert_eq!(decoded.source, CharsetSource::ValidUtf8);
    }

    #[test]
    fn odd_tld_hints_do_not_panic() {
        let bytes = b"<rss><title>Gr\xF6\xDFe</title></rss>";
        for tld in [
            "DE",
            "example.de",
            "de.",
            ".",
            "",
            " ",
            "рф",
            "xn--p1ai",
            "co.uk",
        ] {
            let decoded = decode_both(bytes, None, Some(tld));
            assert_eq!(decoded.source, CharsetSource::Guessed, "{tld}");
        }
        assert_eq!(tld_label("Example.DE.").as_deref(), Some("de"));
        assert_eq!(tld_label("рф"), None);
    }

    #[test]
    fn short_inputs() {
        for bytes in [
            &b""[..],
            b"\xEF",
            b"\xFF\xFE",
            b"\xFE\xFF",
            b"\xEF\xBB\xBF",
            b"\x00\x00\xFE\xFF",
            b"<\x00",
            b"\x00<\x00",
            b"\xFF",
        ] {
            let decoded = decode_both(bytes, None, None);
            assert!(!decoded.text.starts_with('\u{FEFF}'), "{bytes:?}");
        }
    }

    #[test]
    fn decode_owned_reuses_the_buffer() {
        let bytes = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss><title>Größe</title></rss>"
            .as_bytes()
            .to_vec();
        let pointer = bytes.as_ptr();
        let decoded = decode_owned(bytes, None, None);
        assert_eq!(decoded.text.as_ptr(), pointer);

        // A shorter label is spliced in place.
        let bytes = b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><rss/>".to_vec();
        let pointer = bytes.as_ptr();
        let decoded = decode_owned(bytes, None, None);
        assert_eq!(
            decoded.text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss/>"
        );
        assert_eq!(decoded.text.as_ptr(), pointer);
    }

    fn files_under(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                files_under(&path, files);
            } else {
                files.push(path);
            }
        }
    }

    #[test]
    fn whole_corpus_decodes_without_panic() {
        let mut files = Vec::new();
        files_under(Path::new(CORPUS), &mut files);
        assert!(
            files.len() > 900,
            "only {} files under {CORPUS}",
            files.len()
        );
        for path in files {
            let bytes = std::fs::read(&path).expect("corpus file");
            for (content_type, tld) in [
                (None, None),
                (Some("text/xml; charset=iso-8859-1"), Some("de")),
            ] {
                let decoded = decode_both(&bytes, content_type, tld);
                let name = path.display();
                assert!(!decoded.text.starts_with('\u{FEFF}'), "{name}");
                if let Some(range) = xml_declaration_encoding(decoded.text.as_bytes()) {
                    assert!(decoded.text[range].eq_ignore_ascii_case("utf-8"), "{name}");
                }
            }
        }
    }
}
