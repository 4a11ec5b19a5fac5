//! Small text helpers shared by the stages.

/// 1-based line and column (in characters) of a byte offset, for messages
/// that point into a file or document. Offsets past the end or inside a
/// character are moved back to the nearest character boundary.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Whether `c` is a Unicode bidi control: the embeddings and overrides
/// (U+202A–U+202E), the isolates (U+2066–U+2069) and the marks (U+200E,
/// U+200F, U+061C). In a title they can make text read in another order than
/// it is stored (`RLO` turns `gpj.exe` into `exe.jpg`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// `text` without bidi controls ([`is_bidi_control`]), for plain-text fields
/// (titles, names, categories); borrowed when there are none.
pub fn strip_bidi_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(is_bidi_control) {
        std::borrow::Cow::Owned(text.chars().filter(|&c| !is_bidi_control(c)).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The deepest element nesting an HTML fragment or page keeps. html5ever's
/// tree builder walks the stack of open elements on most tags, so its cost
/// grows with depth × tags: 300,000 nested `<div>`s took minutes. Real feed
/// and page markup stays far below this; what is deeper is flattened.
pub const MAX_HTML_DEPTH: usize = 256;

/// Elements html5ever never leaves open (no end tag, no depth).
const VOID_ELEMENTS: [&[u8]; 15] = [
    b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"keygen", b"link",
    b"meta", b"param", b"source", b"track", b"wbr",
];

/// Elements that close an open sibling of the same kind (`<p>a<p>b`, `<li>`
/// lists without `</li>`), so sloppy but flat markup does not look deep.
const CLOSES_OPEN_SIBLING: [&[u8]; 9] = [
    b"p", b"li", b"dt", b"dd", b"option", b"tr", b"td", b"th", b"rt",
];

/// Elements an end tag of a [`CLOSES_IMPLIED`] element closes on its way
/// (html5ever's "generate implied end tags"): the `<li>` in `<ul><li>a</ul>`.
const IMPLIED_END: [&[u8]; 10] = [
    b"p",
    b"li",
    b"dt",
    b"dd",
    b"option",
    b"optgroup",
    b"rb",
    b"rp",
    b"rt",
    b"rtc",
];

/// Block elements whose end tag, when they are open, closes the
/// [`IMPLIED_END`] elements inside them too.
const CLOSES_IMPLIED: [&[u8]; 10] = [
    b"ul",
    b"ol",
    b"dl",
    b"div",
    b"blockquote",
    b"section",
    b"article",
    b"nav",
    b"menu",
    b"details",
];

/// `html` with every tag nested deeper than [`MAX_HTML_DEPTH`] removed (their
/// text stays), so parsing it costs time linear in its length. Markup within
/// the bound is returned unchanged, without copying.
///
/// The depth is over-estimated on purpose, never under-estimated: every start
/// tag except void elements opens an element, an end tag closes one only when
/// it matches the innermost open element (or, for a list or block, the one
/// below open `<li>`/`<p>`… that html5ever closes with it), and text inside comments, scripts
/// and attribute values is scanned for tags too. html5ever may close more
/// (implied end tags) but never keeps more open, so what it builds from the
/// result is no deeper than the bound (give or take the few elements a table
/// implies). The result is still untrusted markup: it is sanitized as before.
pub fn bound_html_depth(html: &str) -> std::borrow::Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut open: Vec<&[u8]> = Vec::new();
    // Start tags removed beyond the bound whose end tags are still to come.
    let mut dropped_open = 0usize;
    let mut flattened: Option<String> = None;
    let mut copied_up_to = 0;
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'<', &bytes[at..]) {
        let tag_start = at + found;
        let is_end = bytes.get(tag_start + 1) == Some(&b'/');
        let name_start = tag_start + 1 + usize::from(is_end);
        if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            at = tag_start + 1;
            continue;
        }
        // A tag runs to the first `>`; html5ever's may run further (a `>` in a
        // quoted value), which only makes this scan see more tags.
        let Some(length) = memchr::memchr(b'>', &bytes[name_start..]) else {
            break; // An unterminated tag: html5ever drops the rest.
        };
        let tag_end = name_start + length + 1;
        let name_end = bytes[name_start..tag_end]
            .iter()
            .position(|b| matches!(b, b'\t' | b'\n' | b'\r' | b'\x0C' | b' ' | b'/' | b'>'))
            .map_or(tag_end, |n| name_start + n);
        let name = &bytes[name_start..name_end];
        let same = |other: &&[u8]| other.eq_ignore_ascii_case(name);
        let keep = if is_end {
            if dropped_open > 0 {
                dropped_open -= 1;
                false
            } else {
                if open.last().is_some_and(same) {
                    open.pop();
                } else if CLOSES_IMPLIED.iter().any(same) {
                    let implied = open
                        .iter()
                        .rev()
                        .take_while(|open| IMPLIED_END.iter().any(|e| e.eq_ignore_ascii_case(open)))
                        .count();
                    let below = open.len() - implied;
                    if below > 0 && open[below - 1].eq_ignore_ascii_case(name) {
                        open.truncate(below - 1);
                    }
                }
                true
            }
        } else if VOID_ELEMENTS.iter().any(same) {
            true
        } else {
            if CLOSES_OPEN_SIBLING.iter().any(same) && open.last().is_some_and(same) {
                open.pop();
            }
            if open.len() < MAX_HTML_DEPTH {
                open.push(name);
                true
            } else {
                // `<x/>` has no end tag to come (html5ever still opens an HTML
                // element for it, which is why it is removed too).
                if bytes[tag_end - 2] != b'/' {
                    dropped_open += 1;
                }
                false
            }
        };
        if !keep {
            let out = flattened.get_or_insert_with(|| String::with_capacity(html.len()));
            out.push_str(&html[copied_up_to..tag_start]);
            copied_up_to = tag_end;
        }
        at = tag_end;
    }
    match flattened {
        None => std::borrow::Cow::Borrowed(html),
        Some(mut out) => {
            out.push_str(&html[copied_up_to..]);
            std::borrow::Cow::Owned(out)
        }
    }
}

/// Escapes plain text for use as HTML.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Formats a byte count the way the config accepts it back (`10MiB`).
pub fn format_byte_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ä\nöx", 5), (2, 2));
        assert_eq!(line_column("ä", 1), (1, 1), "inside a character");
        assert_eq!(line_column("ab", 99), (1, 3), "past the end");
    }

    #[test]
    fn shallow_markup_is_kept_as_it_is() {
        let html = "<ul><li>a<li>b</ul><p>x<p>y<br><img src=a><div><b>z</b></div>";
        assert!(matches!(
            bound_html_depth(html),
            std::borrow::Cow::Borrowed(_)
        ));
        // Sloppy but flat: 10,000 unclosed paragraphs are not 10,000 levels,
        // nor are 1,000 lists whose items are never closed.
        let paragraphs = "<p>Absatz ".repeat(10_000);
        assert!(matches!(
            bound_html_depth(&paragraphs),
            std::borrow::Cow::Borrowed(_)
        ));
        let lists = "<ul><li>a<ul><li>b<p>c</ul><li>d</ul>".repeat(1_000);
        assert!(matches!(
            bound_html_depth(&lists),
            std::borrow::Cow::Borrowed(_)
        ));
        // An end tag does not close through an element html5ever keeps open.
        let through_span = format!("{}x", "<ul><span><li></ul>".repeat(MAX_HTML_DEPTH));
        assert!(matches!(
            bound_html_depth(&through_span),
            std::borrow::Cow::Owned(_)
        ));
    }

    #[test]
    fn deep_markup_is_flattened_and_keeps_its_text() {
        let depth = MAX_HTML_DEPTH + 1_000;
        let html = format!(
            "{}x{}<p>y</p>",
            "<DIV class=a>".repeat(depth),
            "</div>".repeat(depth)
        );
        let flat = bound_html_depth(&html);
        assert_eq!(
            flat,
            format!(
                "{}x{}<p>y</p>",
                "<DIV class=a>".repeat(MAX_HTML_DEPTH),
                "</div>".repeat(MAX_HTML_DEPTH)
            )
        );
        // End tags that match nothing do not let the depth run away.
        let stray = "<div></span>".repeat(depth);
        assert_eq!(
            bound_html_depth(&stray).matches("<div>").count(),
            MAX_HTML_DEPTH
        );
        // html5ever keeps `<div/>` open, so it counts and is removed too.
        let self_closed = format!("{}z", "<div/>".repeat(depth));
        assert_eq!(
            bound_html_depth(&self_closed),
            format!("{}z", "<div/>".repeat(MAX_HTML_DEPTH))
        );
    }

    #[test]
    fn bidi_controls_are_stripped() {
        assert_eq!(
            strip_bidi_controls(
                "Rechnung\u{202E}fdp.exe\u{202C} \u{2066}x\u{2069}\u{200F}\u{061C}"
            ),
            "Rechnungfdp.exe x"
        );
        assert!(matches!(
            strip_bidi_controls("Straße – ٱلعربية"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
