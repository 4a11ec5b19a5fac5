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
//! (or whose head or tail is large, or a JSON Feed) is parsed whole, as
//! before, but without its entries past [`MAX_ENTRIES`]: a large document
//! of tiny entries would otherwise cost feed-rs a model of each of them.

use std::borrow::Cow;
use std::ops::Range;

use quick_xml::Reader;
use quick_xml::events::Event;
use url::Url;

use super::{ParseError, Parsed, parse};

/// How much of a document's entries one piece holds, at least.
pub const PIECE_BYTES: usize = 1 << 20;

/// The most entries of one document anyone reads (see
/// `ingest::MAX_ITEMS_PER_FETCH`). A document parsed whole keeps one more,
/// so that its reader can tell that some were left out.
pub const MAX_ENTRIES: usize = 25_000;

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
                    let text = first_entries(text);
                    return parse(&text, base_url).map(|parsed| vec![each(parsed)]);
                }
            }
        }
        return Ok(results);
    }
    let text = if text.len() > 2 * PIECE_BYTES {
        first_entries(text)
    } else {
        Cow::Borrowed(text)
    };
    parse(&text, base_url).map(|parsed| vec![each(parsed)])
}

/// `text` without its entries after the first `MAX_ENTRIES + 1`: a JSON
/// Feed's `items` array is shortened, an XML document (well-formed or not,
/// for the repairs) is cut before the next `<item` or `<entry` tag. A
/// document with fewer entries, or that is not what it seems, is returned
/// as it is, and the parser says what is wrong with it.
fn first_entries(text: &str) -> Cow<'_, str> {
    let keep = MAX_ENTRIES + 1;
    if text.trim_start().starts_with('{') {
        return first_json_items(text, keep).map_or(Cow::Borrowed(text), Cow::Owned);
    }
    let bytes = text.as_bytes();
    let mut seen = 0;
    for at in memchr::memchr_iter(b'<', bytes) {
        let rest = &bytes[at + 1..];
        let name_len = if rest.starts_with(b"item") {
            4
        } else if rest.starts_with(b"entry") {
            5
        } else {
            continue;
        };
        if !matches!(
            rest.get(name_len),
            Some(b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r')
        ) {
            continue;
        }
        seen += 1;
        if seen > keep {
            // The document's tail (`</channel></rss>`) closes it again.
            let tail = ["</item>", "</entry>"]
                .iter()
                .filter_map(|end| text.rfind(end).map(|found| found + end.len()))
                .max()
                .filter(|&tail| tail >= at)
                .map_or("", |tail| &text[tail..]);
            return Cow::Owned([&text[..at], tail].concat());
        }
    }
    Cow::Borrowed(text)
}

/// A JSON Feed with at most `keep` items; `None` when `text` is not a JSON
/// object or has no more items than that.
fn first_json_items(text: &str, keep: usize) -> Option<String> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    /// Reads the feed object, keeping at most `keep` elements of `items`
    /// and skipping the others without building them.
    struct Feed {
        keep: usize,
        cut: bool,
    }
    struct Items<'a>(&'a mut Feed);

    impl<'de> DeserializeSeed<'de> for Items<'_> {
        type Value = Vec<Value>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Items<'_> {
        type Value = Vec<Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of items")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
            let mut items = Vec::new();
            while items.len() < self.0.keep {
                match seq.next_element::<Value>()? {
                    Some(item) => items.push(item),
                    None => return Ok(items),
                }
            }
            while seq.next_element::<IgnoredAny>()?.is_some() {
                self.0.cut = true;
            }
            Ok(items)
        }
    }
    impl<'de> Visitor<'de> for &mut Feed {
        type Value = Map<String, Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON Feed object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut object = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = if key == "items" {
                    Value::Array(map.next_value_seed(Items(&mut *self))?)
                } else {
                    map.next_value::<Value>()?
                };
                object.insert(key, value);
            }
            Ok(object)
        }
    }

    let mut feed = Feed { keep, cut: false };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let object = serde::Deserializer::deserialize_map(&mut deserializer, &mut feed).ok()?;
    feed.cut
        .then(|| serde_json::to_string(&object).ok())
        .flatten()
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
    fn documents_parsed_whole_keep_no_more_entries_than_anyone_reads() {
        let count = MAX_ENTRIES + 5;
        // A head too large to repeat in every piece: parsed whole.
        let head = format!("<description>{}</description>", "Kopf ".repeat(60_000));
        let large_head = rss(count, "Text").replacen("<ttl>", &format!("{head}<ttl>"), 1);
        assert!(large_head.len() > 2 * PIECE_BYTES);
        assert_eq!(cut(&large_head), None);
        let entries =
            parse_pieces(&large_head, &base(), |p| (p.feed.entries.len(), p.feed.ttl)).unwrap();
        assert_eq!(entries, vec![(MAX_ENTRIES + 1, Some(30))]);

        let items: Vec<String> = (0..count)
            .map(|n| {
                format!(
                    r#"{{"id":"m{n}","title":"Meldung {n} {}"}}"#,
                    "Text ".repeat(12)
                )
            })
            .collect();
        let json = format!(
            r#"{{"version":"https://jsonfeed.org/version/1.1","title":"Stadt","items":[{}]}}"#,
            items.join(",")
        );
        assert!(json.len() > 2 * PIECE_BYTES);
        let ids = parse_pieces(&json, &base(), |p| {
            (
                p.feed.title.map(|t| t.content),
                p.feed.entries.len(),
                p.feed.entries[0].id.clone(),
            )
        })
        .unwrap();
        assert_eq!(
            ids,
            vec![(Some("Stadt".to_owned()), MAX_ENTRIES + 1, "m0".to_owned())]
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
