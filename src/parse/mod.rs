//! Parse: UTF-8 text to a `feed_rs::model::Feed`, whatever shape the feed is in.
//!
//! feed-rs does the parsing; this module stands in front of it:
//! * recognizes what is not a feed at all (empty bodies, HTML pages, with the
//!   feed links they advertise) and says so;
//! * refuses documents that declare entities (billion laughs, XXE);
//! * [`repair`]s HTML entities and raw `&`, and [`dialect`] upgrades old or odd
//!   dialects (RSS 0.90/0.93/0.94, Atom 0.3, `<rss xmlns>`) that feed-rs empties
//!   or rejects;
//! * runs feed-rs under `catch_unwind`, so a parser bug costs one source, not the daemon;
//! * turns failures into errors with a line and column;
//! * parses a large feed in [`pieces`], so feed-rs's model of it stays small.
//!
//! Content is not sanitized here (feed-rs's sanitizer is off): [`crate::normalize`]
//! does it once, with our own allowlist.

pub mod dates;
pub mod dialect;
pub mod html;
pub mod pieces;
pub mod repair;
pub mod scrape;

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use feed_rs::model::Feed;
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use quick_xml::Reader;
use quick_xml::events::Event;
use url::Url;

use crate::text::line_column;

pub use dialect::Upgrade;
pub use html::AlternateLink;
pub use pieces::{MAX_ENTRIES, parse_pieces};

/// A parsed feed and what had to be repaired to get it.
#[derive(Debug)]
pub struct Parsed {
    pub feed: Feed,
    pub repairs: Vec<Repair>,
}

/// A repair applied before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// The XML declaration claimed a non-UTF-8 encoding, or appeared mid-document.
    Declaration,
    /// HTML entities or raw `&` were rewritten.
    Entities,
    /// A dialect was upgraded.
    Dialect(Upgrade),
    /// The final closing tag lacked its `>`.
    FinalTag,
    /// Atom text constructs had MIME types (or nothing) as their `type`.
    TextTypes,
    /// Dates in German forms were rewritten to RFC 3339.
    Dates,
}

/// Why a document yielded no feed.
///
/// The texts quote nothing of the body (they are stored and served).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the response body is empty")]
    Empty,
    #[error("this is an HTML page, not a feed{}", alternates_hint(.alternates))]
    HtmlPage { alternates: Vec<AlternateLink> },
    #[error(
        "the document declares XML entities (<!ENTITY …> at byte {offset}); Kurator refuses to expand them because that is how billion-laughs and XXE attacks work"
    )]
    EntityDeclarations { offset: usize },
    /// The text names no byte of the body: it is stored and served on
    /// `/sources`, and a body can be anything the URL reaches (a `file://`
    /// source could be a secret). [`ParseError::body_start`] has the bytes,
    /// for the CLI only.
    #[error(
        "not a feed: the body is neither XML nor JSON; check that `url` points at the feed (`kurator preview SOURCE` shows how the body starts)"
    )]
    NotXml { start: String },
    #[error("not a feed: the root element is <{name}>; expected <rss>, <feed> or <rdf:RDF>")]
    UnknownRoot { name: String },
    #[error("unsupported content type in the feed: {detail}")]
    UnsupportedTextType { detail: String },
    #[error("malformed XML at line {line}, column {column}: {detail}")]
    MalformedXml {
        line: usize,
        column: usize,
        detail: String,
    },
    #[error(
        "the document is cut off: it ends inside <{open}> (a truncated download or a broken server)"
    )]
    Truncated { open: String },
    #[error("malformed JSON Feed: {detail}")]
    MalformedJson { detail: String },
    #[error("the feed could not be parsed: {detail}")]
    Other { detail: String },
    #[error("the feed parser crashed on this document ({detail}); other sources are not affected")]
    Panicked { detail: String },
    #[error(transparent)]
    Scrape(#[from] scrape::ScrapeError),
}

impl ParseError {
    /// The first characters of a body that is no feed, for a person at the
    /// CLI: never part of the error text, which is stored and served.
    pub fn body_start(&self) -> Option<&str> {
        match self {
            ParseError::NotXml { start } => Some(start),
            _ => None,
        }
    }
}

fn alternates_hint(alternates: &[AlternateLink]) -> String {
    if alternates.is_empty() {
        return "; the page advertises no feed (<link rel=\"alternate\">): check the source's `url`, or, if the page lists the items itself, read it with kind = \"html\" and [source.select] selectors".into();
    }
    let list: Vec<String> = alternates.iter().map(|a| a.url.to_string()).collect();
    format!(
        "; the page links to these feeds, use one as the source's `url`: {}",
        list.join(", ")
    )
}

/// Parses a decoded document. `base_url` (the URL that served it) resolves relative links.
pub fn parse(text: &str, base_url: &Url) -> Result<Parsed, ParseError> {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.trim_end().is_empty() {
        return Err(ParseError::Empty);
    }
    if trimmed.starts_with('{') {
        return run_feed_rs(trimmed, base_url).map(|feed| Parsed {
            feed,
            repairs: Vec::new(),
        });
    }
    if html::looks_like_html(trimmed) {
        return Err(ParseError::HtmlPage {
            alternates: html::alternate_links(trimmed, base_url),
        });
    }
    if !trimmed.starts_with('<') {
        return Err(ParseError::NotXml {
            start: trimmed.chars().take(40).collect(),
        });
    }
    if let Some(offset) = repair::find_entity_declaration(trimmed) {
        return Err(ParseError::EntityDeclarations { offset });
    }
    let Some(root) = dialect::root(trimmed) else {
        return Err(locate_xml_error(trimmed).unwrap_or(ParseError::Other {
            detail: "no root element found".into(),
        }));
    };
    if !matches!(root.local_name.as_str(), "rss" | "RDF" | "feed" | "entry") {
        return Err(ParseError::UnknownRoot {
            name: root.local_name,
        });
    }

    let mut repairs = Vec::new();
    let mut document: Cow<str> = repair::repair_declarations(trimmed);
    if matches!(document, Cow::Owned(_)) {
        repairs.push(Repair::Declaration);
    }
    if let Cow::Owned(repaired) = repair::repair_entities(&document) {
        document = Cow::Owned(repaired);
        repairs.push(Repair::Entities);
    }
    if let Some(closed) = repair::close_final_tag(&document) {
        document = Cow::Owned(closed);
        repairs.push(Repair::FinalTag);
    }
    if let Some((upgraded, kind)) = dialect::upgrade(&document) {
        document = Cow::Owned(upgraded);
        repairs.push(Repair::Dialect(kind));
    }

    match run_feed_rs(&document, base_url) {
        Ok(feed)
            if feed
                .entries
                .iter()
                .any(|e| e.published.is_none() && e.updated.is_none()) =>
        {
            // Undated entries: perhaps German dates feed-rs cannot read.
            if let Some(redated) = dialect::repair_dates(&document)
                && let Ok(redated) = run_feed_rs(&redated, base_url)
            {
                repairs.push(Repair::Dates);
                return Ok(Parsed {
                    feed: redated,
                    repairs,
                });
            }
            Ok(Parsed { feed, repairs })
        }
        Ok(feed) => Ok(Parsed { feed, repairs }),
        Err(ParseError::UnsupportedTextType { detail }) => {
            let repaired = dialect::repair_text_types(&document)
                .ok_or(ParseError::UnsupportedTextType { detail })?;
            repairs.push(Repair::TextTypes);
            run_feed_rs(&repaired, base_url).map(|feed| Parsed { feed, repairs })
        }
        Err(first_error) => {
            if let Some(problem) = locate_xml_error(&document) {
                return Err(problem);
            }
            if root.local_name == "rss" && !document.contains("<channel") {
                // Well-formed, but nothing in it: a feed with no entries yet.
                let empty =
                    run_feed_rs("<rss version=\"2.0\"><channel></channel></rss>", base_url)?;
                return Ok(Parsed {
                    feed: empty,
                    repairs,
                });
            }
            Err(first_error)
        }
    }
}

/// Runs feed-rs with our settings, turning panics into errors.
fn run_feed_rs(text: &str, base_url: &Url) -> Result<Feed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base_url.as_str()))
        // An empty id tells `identify` that the feed gave none; feed-rs would
        // otherwise invent one that changes when the title is edited.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    let result = catch_unwind(AssertUnwindSafe(|| parser.parse(text.as_bytes())));
    match result {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(err)) => Err(feed_rs_error(err)),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(%detail, "feed-rs panicked");
            Err(ParseError::Panicked { detail })
        }
    }
}

/// What went wrong in a JSON body, and where, without the values serde
/// quotes ("invalid type: string \"…\""): the text is stored and served.
fn json_error_detail(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match err.classify() {
        Category::Syntax => "invalid JSON".to_owned(),
        Category::Eof => "the JSON ends too early".to_owned(),
        Category::Io => "the JSON could not be read".to_owned(),
        // "missing field `title`" names the JSON Feed's own field.
        Category::Data if err.to_string().starts_with("missing field") => err
            .to_string()
            .split(" at line")
            .next()
            .unwrap_or_default()
            .to_owned(),
        Category::Data => "a value has the wrong type for a JSON Feed".to_owned(),
    };
    format!("{what} at line {}, column {}", err.line(), err.column())
}

fn feed_rs_error(err: ParseFeedError) -> ParseError {
    match err {
        ParseFeedError::JsonSerde(e) => ParseError::MalformedJson {
            detail: json_error_detail(&e),
        },
        // The version as written is the body's: not quoted.
        ParseFeedError::JsonUnsupportedVersion(_) => ParseError::MalformedJson {
            detail:
                "unsupported JSON Feed version (expected https://jsonfeed.org/version/1 or 1.1)"
                    .into(),
        },
        ParseFeedError::ParseError(kind @ ParseErrorKind::UnknownMimeType { .. }) => {
            ParseError::UnsupportedTextType {
                detail: kind.to_string(),
            }
        }
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => ParseError::Other {
            detail: "no feed root element (expected <rss><channel>, <feed> or <rdf:RDF>)".into(),
        },
        other => ParseError::Other {
            detail: other.to_string(),
        },
    }
}

/// Finds where a document stops being well-formed, with a line and column,
/// by scanning it with quick-xml (only on the failure path).
fn locate_xml_error(text: &str) -> Option<ParseError> {
    let mut reader = Reader::from_str(text);
    let mut open: Vec<String> = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => open.push(e.name().as_ref().to_owned()),
            Ok(Event::End(_)) => {
                open.pop();
            }
            Ok(Event::Eof) => {
                return open.pop().map(|open| ParseError::Truncated { open });
            }
            Ok(_) => {}
            Err(err) => {
                let offset = usize::try_from(reader.error_position())
                    .unwrap_or(usize::MAX)
                    .min(text.len());
                let (line, column) = line_column(text, offset);
                return Some(ParseError::MalformedXml {
                    line,
                    column,
                    detail: err.to_string(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://www.example.de/feed.xml").unwrap()
    }

    #[test]
    fn german_dates_in_a_feed_are_read() {
        let text = "<rss version=\"2.0\"><channel><title>Stadt</title>\
            <item><title>Bürgerbüro</title><link>/a</link><pubDate>Montag, 12. April 2021, 14:30 Uhr</pubDate></item>\
            <item><title>Kita</title><link>/b</link><pubDate>13.04.2021</pubDate></item>\
            </channel></rss>";
        let parsed = parse(text, &base()).unwrap();
        assert_eq!(parsed.repairs, vec![Repair::Dates]);
        let published: Vec<i64> = parsed
            .feed
            .entries
            .iter()
            .map(|e| e.published.expect("dated").timestamp())
            .collect();
        // 12:30 UTC, and midnight in Berlin.
        assert_eq!(published, [1_618_230_600, 1_618_264_800]);
        // A feed with readable dates is not touched.
        let plain = "<rss version=\"2.0\"><channel><item><title>A</title>\
            <pubDate>Tue, 13 Apr 2021 14:30:00 +0200</pubDate></item></channel></rss>";
        assert_eq!(parse(plain, &base()).unwrap().repairs, vec![]);
    }

    #[test]
    fn parses_with_entity_repairs() {
        let text = "<rss version=\"2.0\"><channel><title>Stadt &amp; Land</title><item><title>M&uuml;nchen & K&ouml;ln&nbsp;heute</title><link>/a</link></item></channel></rss>";
        let parsed = parse(text, &base()).unwrap();
        assert_eq!(parsed.repairs, vec![Repair::Entities]);
        let entry = &parsed.feed.entries[0];
        assert_eq!(
            entry.title.as_ref().unwrap().content,
            "München & Köln\u{a0}heute"
        );
        assert_eq!(entry.links[0].href, "https://www.example.de/a");
        assert_eq!(entry.id, "", "no guid means no id");
    }

    #[test]
    fn clear_errors() {
        assert!(matches!(parse("  \n", &base()), Err(ParseError::Empty)));
        let secret = "root:$6$salt$hash:19000:0:99999:7:::";
        let err = parse(secret, &base()).unwrap_err();
        assert!(matches!(err, ParseError::NotXml { .. }), "{err}");
        assert!(
            !err.to_string().contains("root"),
            "the error text quotes no content: {err}"
        );
        assert_eq!(err.body_start(), Some(secret));
        assert!(matches!(
            parse("<opml version=\"2.0\"/>", &base()),
            Err(ParseError::UnknownRoot { .. })
        ));
        let err = parse(
            "<rss version=\"2.0\"><channel><item><title>a</title></channel></rss>",
            &base(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ParseError::MalformedXml { line: 1, .. }),
            "{err}"
        );
        let err = parse(
            "<rss version=\"2.0\"><channel><item><title>a</title>",
            &base(),
        )
        .unwrap_err();
        assert!(matches!(err, ParseError::Truncated { .. }), "{err}");
        let empty = parse("<rss version=\"2.0\"></rss>", &base()).unwrap();
        assert!(empty.feed.entries.is_empty());
        let err = parse("{\"version\": 1, ", &base()).unwrap_err();
        assert!(matches!(err, ParseError::MalformedJson { .. }), "{err}");
    }

    #[test]
    fn json_errors_quote_no_values() {
        for body in [
            r#"{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": "geheim-passwort"}"#,
            r#"{"version": "geheim-passwort", "title": "t", "items": []}"#,
            r#"{"version": "https://jsonfeed.org/version/1.1", "title": ["geheim-passwort"], "items": []}"#,
        ] {
            let err = parse(body, &base()).unwrap_err();
            assert!(matches!(err, ParseError::MalformedJson { .. }), "{err}");
            assert!(!err.to_string().contains("geheim"), "{err}");
        }
        let err = parse(
            r#"{"version": "https://jsonfeed.org/version/1.1"}"#,
            &base(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("missing field `title` at line 1"),
            "{err}"
        );
    }

    #[test]
    fn html_page_names_its_feeds() {
        let page = "<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/rss.xml\"></head></html>";
        let err = parse(page, &base()).unwrap_err();
        assert!(
            err.to_string().contains("https://www.example.de/rss.xml"),
            "{err}"
        );
    }
}
