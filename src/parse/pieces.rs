//! Pieces: a large feed parsed a few hundred entries at a time.
//!
//! feed-rs builds its model of a whole document at once, and that model is
//! several times the size of the document: a 10 MB feed with 20,000 entries
//! took 68 MB of heap in feed-rs alone (its event buffer holds the whole
//! document, its entry list another 24 MB). A document larger than
//! [`PIECE_BYTES`] is therefore cut between its entries into pieces that each
//! repeat the document's head (root, channel, namespaces) and tail, and each
//! piece is parsed on its own; the caller keeps what it needs of one piece
//! (normalized items) before the next is parsed.
//!
//! Cutting needs well-formed XML around the entries; a document that is not
//! (or whose head or tail is large) is parsed whole, as before.

use std::ops::Range;

use quick_xml::Reader;
use quick_xml::events::Event;
use url::Url;

use super::{ParseError, Parsed, parse};

/// How much of a document's entries one piece holds, at least.
pub const PIECE_BYTES: usize = 1 << 20;

/// Parses `text` as [`parse`] does, handing the result to `each` one piece
/// at a time, and returns what `each` made of each piece, in document order.
/// A document that is small or cannot be cut is one piece. Should any piece
/// fail, the whole document is parsed instead, so errors are those of [`parse`].
pub fn parse_pieces<T>(
    text: &str,
    base_url: &Url,
    mut each: impl FnMut(Parsed) -> T,
) -> Result<Vec<T>, ParseError> {
    if text.len() > 2 * PIECE_BYTES
        && let Some(pieces) = cut(text)
    {
        let mut results = Vec::with_capacity(pieces.len());
        for piece in &pieces {
            let document = [
                &text[..piece.head_end],
                &text[piece.entries.clone()],
                &text[piece.tail_start..],
            ]
            .concat();
            match parse(&document, base_url) {
                Ok(parsed) => results.push(each(parsed)),
                Err(_) => {
                    tracing::debug!("a piece failed to parse; parsing the document whole");
                    results.clear();
                    return parse(text, base_url).map(|parsed| vec![each(parsed)]);
                }
            }
        }
        return Ok(results);
    }
    parse(text, base_url).map(|parsed| vec![each(parsed)])
}

/// One piece: the document's head (`..head_end`), some entries, its tail (`tail_start..`).
#[derive(Debug, PartialEq, Eq)]
struct Piece {
    head_end: usize,
    entries: Range<usize>,
    tail_start: usize,
}

/// The pieces of a document, or `None` when it is not cut (not well-formed,
/// no entries, a head or tail too large to repeat, or one piece would do).
fn cut(text: &str) -> Option<Vec<Piece>> {
    let entries = entry_ranges(text)?;
    let head_end = entries.first()?.start;
    let tail_start = entries.last()?.end;
    // The head and tail are repeated in every piece: only a small one keeps
    // the work linear.
    if head_end + (text.len() - tail_start) > PIECE_BYTES / 4 {
        return None;
    }
    let mut pieces: Vec<Piece> = Vec::new();
    let mut start = head_end;
    for entry in &entries {
        if entry.end - start >= PIECE_BYTES {
            pieces.push(Piece {
                head_end,
                entries: start..entry.end,
                tail_start,
            });
            start = entry.end;
        }
    }
    if start < tail_start {
        pieces.push(Piece {
            head_end,
            entries: start..tail_start,
            tail_start,
        });
    }
    (pieces.len() > 1).then_some(pieces)
}

/// The byte ranges of the entries: `<item>` in `<rss><channel>` or
/// `<rdf:RDF>`, `<entry>` in `<feed>`, all at one depth. `None` when the
/// document is not well-formed XML or has no entries.
fn entry_ranges(text: &str) -> Option<Vec<Range<usize>>> {
    let mut reader = Reader::from_str(text);
    let mut depth = 0usize;
    let mut entry_depth: Option<usize> = None;
    let mut open_entry: Option<usize> = None;
    let mut ranges = Vec::new();
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let after = usize::try_from(reader.buffer_position()).ok()?;
        let is_entry_at = |name: &str, depth: usize| {
            matches!(name, "item" | "entry")
                && matches!(depth, 2 | 3)
                && entry_depth.is_none_or(|d| d == depth)
        };
        match event {
            Event::Start(start) => {
                depth += 1;
                if open_entry.is_none() && is_entry_at(start.local_name().into_inner(), depth) {
                    entry_depth = Some(depth);
                    open_entry = Some(before);
                }
            }
            Event::End(_) => {
                if entry_depth == Some(depth)
                    && let Some(start) = open_entry.take()
                {
                    ranges.push(start..after);
                }
                depth = depth.checked_sub(1)?;
            }
            Event::Empty(empty)
                if open_entry.is_none()
                    && is_entry_at(empty.local_name().into_inner(), depth + 1) =>
            {
                entry_depth = Some(depth + 1);
                ranges.push(before..after);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (depth == 0 && !ranges.is_empty()).then_some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss(items: usize, description: &str) -> String {
        let mut text = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Stadt</title><ttl>30</ttl>\n",
        );
        for n in 0..items {
            text.push_str(&format!(
                "<item><title>Meldung {n}</title><link>https://www.stadt.example/m/{n}</link><guid>m{n}</guid>\
                 <dc:creator>Presse</dc:creator><description><![CDATA[<p>{description} </item> {n}</p>]]></description></item>\n"
            ));
        }
        text.push_str("</channel></rss>\n");
        text
    }

    fn base() -> Url {
        Url::parse("https://www.stadt.example/feed.xml").unwrap()
    }

    #[test]
    fn a_large_feed_is_parsed_in_pieces_with_every_entry_in_order() {
        let text = rss(12_000, &"Text ".repeat(60));
        assert!(text.len() > 3 * PIECE_BYTES);
        let pieces = parse_pieces(&text, &base(), |parsed| {
            assert_eq!(parsed.feed.ttl, Some(30), "the head is in every piece");
            parsed
                .feed
                .entries
                .iter()
                .map(|e| (e.id.clone(), e.authors.len()))
                .collect::<Vec<_>>()
        })
        .unwrap();
        assert!(pieces.len() >= 3, "{} pieces", pieces.len());
        let ids: Vec<(String, usize)> = pieces.into_iter().flatten().collect();
        let expected: Vec<(String, usize)> = (0..12_000).map(|n| (format!("m{n}"), 1)).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn what_cannot_be_cut_is_parsed_whole() {
        let mut text = rss(12_000, &"Text ".repeat(60));
        // Not well-formed at the end: parsed whole, and the error is the whole document's.
        text.truncate(text.len() - 10);
        let whole = parse(&text, &base()).map(|p| p.feed.entries.len());
        let pieces = parse_pieces(&text, &base(), |p| p.feed.entries.len())
            .map(|counts| counts.into_iter().sum::<usize>());
        assert_eq!(format!("{whole:?}"), format!("{pieces:?}"));
        // Small documents are one piece.
        let small = rss(3, "x");
        assert_eq!(cut(&small).map(|p| p.len()), None);
        assert_eq!(
            parse_pieces(&small, &base(), |p| p.feed.entries.len()).unwrap(),
            vec![3]
        );
    }

    #[test]
    fn atom_entries_are_found_at_their_depth() {
        let text = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>\
            <entry><id>a</id><content type=\"xhtml\"><div><item>x</item></div></content></entry><entry/></feed>";
        let ranges = entry_ranges(text).unwrap();
        assert_eq!(ranges.len(), 2);
        assert!(text[ranges[0].clone()].starts_with("<entry><id>a"));
        assert_eq!(&text[ranges[1].clone()], "<entry/>");
    }
}
