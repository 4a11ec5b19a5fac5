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
    let mut rest = html;
    while let Some(at) = memchr::memchr2(b'<', b'&', rest.as_bytes()) {
        if at > 0 {
            piece(Piece::Text(&rest[..at]));
        }
        rest = &rest[at..];
        if rest.starts_with('<') {
            piece(Piece::Tag);
            rest = memchr::memchr(b'>', rest.as_bytes()).map_or("", |end| &rest[end + 1..]);
            continue;
        }
        // An entity ends at the first `;`, at most 40 bytes on.
        let window = &rest.as_bytes()[..rest.len().min(41)];
        let decoded = memchr::memchr(b';', window)
            .and_then(|end| decode_entity(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                piece(Piece::Char(c));
                rest = &rest[end + 1..];
            }
            None => {
                piece(Piece::Char('&'));
                rest = &rest[1..];
            }
        }
    }
    if !rest.is_empty() {
        piece(Piece::Text(rest));
    }
}

/// The text of sanitized HTML, for matching: tags become spaces, entities
/// characters.
pub fn markup_to_text(html: &str) -> Cow<'_, str> {
    if !html.contains(['<', '&']) {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    for_each_piece(html, |piece| match piece {
        Piece::Text(text) => out.push_str(text),
        Piece::Char(c) => out.push(c),
        Piece::Tag => out.push(' '),
    });
    Cow::Owned(out)
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
