//! What rules see of sanitized HTML: tags become word breaks, entities
//! become characters.
//!
//! Not a general HTML parser, and it need not be: its input has been through
//! the sanitizer, and words are all that matter here. [`markup_to_text`]
//! builds the text (for regexes, `kurator explain` and the JSON summary);
//! [`for_each_piece`] hands out the same text in pieces without building it,
//! so tagging can fold the words of an item without copying its HTML first.
//! Both are one loop, so they cannot disagree.

use std::borrow::Cow;

/// A piece of the text of some HTML, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text as it stands in the HTML.
    Text(&'a str),
    /// The character of an entity (`&szlig;` → `ß`), or a lone `&`.
    Char(char),
    /// A tag, which reads as a space.
    Tag,
}

/// Calls `piece` with the text of `html`, piece by piece.
pub fn for_each_piece<'a>(html: &'a str, mut piece: impl FnMut(Piece<'a>)) {
    let mut at = 0;
    while let Some(found) = memchr::memchr2(b'<', b'&', &html.as_bytes()[at..]) {
        if found > 0 {
            piece(Piece::Text(&html[at..at + found]));
        }
        at += found;
        if html.as_bytes()[at] == b'<' {
            piece(Piece::Tag);
            at = tag_end(html, at);
            continue;
        }
        match entity(html, at) {
            Some((c, next)) => {
                piece(Piece::Char(c));
                at = next;
            }
            None => {
                piece(Piece::Char('&'));
                at += 1;
            }
        }
    }
    if at < html.len() {
        piece(Piece::Text(&html[at..]));
    }
}

/// Where the tag that starts at `at` (a `<`) ends: just past its `>`, or at
/// the end of `html` if it is never closed.
pub(crate) fn tag_end(html: &str, at: usize) -> usize {
    memchr::memchr(b'>', &html.as_bytes()[at..]).map_or(html.len(), |end| at + end + 1)
}

/// The character of the entity that starts at `at` (an `&`), and where it
/// ends (just past its `;`, at most 40 bytes on); `None` if it is none.
pub(crate) fn entity(html: &str, at: usize) -> Option<(char, usize)> {
    let rest = &html.as_bytes()[at..];
    let end = memchr::memchr(b';', &rest[..rest.len().min(41)])?;
    decode_entity(&html[at + 1..at + end]).map(|c| (c, at + end + 1))
}

/// The text of sanitized HTML, for matching: tags become spaces, entities
/// characters.
pub fn markup_to_text(html: &str) -> Cow<'_, str> {
    if !html.contains(['<', '&']) {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    push_text(html, &mut out);
    Cow::Owned(out)
}

/// Appends the text of `html` to `out`, as [`markup_to_text`] makes it.
pub fn push_text(html: &str, out: &mut String) {
    for_each_piece(html, |piece| match piece {
        Piece::Text(text) => out.push_str(text),
        Piece::Char(c) => out.push(c),
        Piece::Tag => out.push(' '),
    });
}

/// The character an entity name (without `&` and `;`) stands for.
fn decode_entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(value);
    }
    // The entities sanitized HTML is made of, without a table lookup.
    match name {
        "amp" => return Some('&'),
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "quot" => return Some('"'),
        "nbsp" => return Some('\u{a0}'),
        _ => {}
    }
    // The table's keys end in `;`; a name is at most 39 bytes long.
    let mut key = [0u8; 40];
    key[..name.len()].copy_from_slice(name.as_bytes());
    key[name.len()] = b';';
    let key = std::str::from_utf8(&key[..=name.len()]).ok()?;
    let (first, _) = markup5ever::data::NAMED_ENTITIES.get(key)?;
    char::from_u32(*first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_words() {
        assert_eq!(markup_to_text("plain"), "plain");
        assert_eq!(
            markup_to_text(
                "<p>Stra&szlig;e&nbsp;und <a href=\"x\">B&uuml;rger</a> &amp; &#246;&#x41; &bogus</p>"
            ),
            " Straße\u{a0}und  Bürger  & öA &bogus "
        );
        assert_eq!(markup_to_text("a <b unclosed"), "a  ");
        assert_eq!(markup_to_text("&amp"), "&amp");
        assert_eq!(markup_to_text("&lt;b&gt; &quot;x&quot;"), "<b> \"x\"");
        let far = format!("&{};", "a".repeat(40));
        assert_eq!(markup_to_text(&far), far, "an entity is at most 40 bytes");
    }

    #[test]
    fn pieces_in_order() {
        let mut pieces = Vec::new();
        for_each_piece("a<b>&uuml;c&x", |p| pieces.push(p));
        assert_eq!(
            pieces,
            [
                Piece::Text("a"),
                Piece::Tag,
                Piece::Char('ü'),
                Piece::Text("c"),
                Piece::Char('&'),
                Piece::Text("x"),
            ]
        );
    }
}
