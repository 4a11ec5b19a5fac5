//! Dialect upgrades: rewrites old or odd feed dialects into the modern form
//! feed-rs understands, instead of forking a parser.
//!
//! feed-rs 3.0 rejects or silently empties these, all seen in real feeds:
//! * `<rss>` without `version`, or with 0.93, 0.94, 2.01, 2.1: treated as 2.0
//!   (the element sets are compatible).
//! * `<rss xmlns="…">`: the stray default namespace hides every element from
//!   feed-rs; it is removed.
//! * RSS 0.90 (`my.netscape.com/rdf/simple/0.9/`): the namespace becomes RSS 1.0's,
//!   whose structure 0.90 already has.
//! * Atom 0.3 (`purl.org/atom/ns#`): the namespace becomes Atom 1.0's and the
//!   renamed elements and attributes are mapped (`issued`→`published`,
//!   `modified`→`updated`, `tagline`→`subtitle`, `copyright`→`rights`,
//!   `mode="escaped"`→`type="html"`).

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, Event};
use quick_xml::{Reader, Writer};

use super::repair::root_start;

const RSS090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS10_NS: &str = "http://purl.org/rss/1.0/";
const ATOM03_NS: &str = "http://purl.org/atom/ns#";
const ATOM10_NS: &str = "http://www.w3.org/2005/Atom";

/// Which dialect upgrade was applied, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    RssVersion,
    RssNamespace,
    Rss090,
    Atom03,
}

/// What the root element looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// Local name without prefix (`rss`, `RDF`, `feed`, `html`).
    pub local_name: String,
    pub version: Option<String>,
    /// Values of all `xmlns` and `xmlns:*` attributes.
    pub namespaces: Vec<String>,
    /// Byte range of the root start tag in the document.
    start: usize,
    end: usize,
}

/// Reads the root start tag, if the document has one.
pub fn root(text: &str) -> Option<Root> {
    let start = root_start(text)?;
    let mut reader = Reader::from_str(&text[start..]);
    let (element, end) = match reader.read_event().ok()? {
        Event::Start(e) | Event::Empty(e) => (
            e,
            start.saturating_add(usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)),
        ),
        _ => return None,
    };
    let mut root = Root {
        local_name: element.local_name().as_ref().to_owned(),
        version: None,
        namespaces: Vec::new(),
        start,
        end,
    };
    for attr in element.attributes().with_checks(false).flatten() {
        let key = attr.key.as_ref();
        let value = attr.value.clone().into_owned();
        if key == "version" {
            root.version = Some(value);
        } else if key == "xmlns" || key.starts_with("xmlns:") {
            root.namespaces.push(value);
        }
    }
    Some(root)
}

/// Applies the upgrade the document needs, if any.
pub fn upgrade(text: &str) -> Option<(String, Upgrade)> {
    let root = root(text)?;
    match root.local_name.as_str() {
        "rss" => {
            let version_ok = matches!(root.version.as_deref(), Some("2.0" | "0.91" | "0.92"));
            let has_default_ns = !root.namespaces.is_empty();
            if version_ok && !has_default_ns {
                return None;
            }
            let rewritten = rewrite_root(text, &root, |start| {
                let mut out = BytesStart::new("rss");
                for attr in start.attributes().with_checks(false).flatten() {
                    match attr.key.as_ref() {
                        "version" | "xmlns" => {}
                        _ => out.push_attribute(attr),
                    }
                }
                out.push_attribute(("version", "2.0"));
                out
            })?;
            let kind = if has_default_ns {
                Upgrade::RssNamespace
            } else {
                Upgrade::RssVersion
            };
            Some((rewritten, kind))
        }
        "RDF" if root.namespaces.iter().any(|ns| ns == RSS090_NS) => {
            let rewritten = rewrite_root(text, &root, |start| {
                let mut out = BytesStart::new(start.name().as_ref().to_owned());
                for attr in start.attributes().with_checks(false).flatten() {
                    if attr.value.as_ref() == RSS090_NS {
                        out.push_attribute(Attribute {
                            key: attr.key,
                            value: Cow::Borrowed(RSS10_NS),
                        });
                    } else {
                        // Raw (still escaped) values pass through untouched.
                        out.push_attribute(attr);
                    }
                }
                out
            })?;
            Some((rewritten, Upgrade::Rss090))
        }
        "feed"
            if root.namespaces.iter().any(|ns| ns == ATOM03_NS)
                || root.version.as_deref() == Some("0.3") =>
        {
            upgrade_atom03(text).map(|t| (t, Upgrade::Atom03))
        }
        _ => None,
    }
}

/// Replaces the root start tag with what `edit` makes of it.
fn rewrite_root(
    text: &str,
    root: &Root,
    edit: impl FnOnce(&BytesStart) -> BytesStart<'static>,
) -> Option<String> {
    let tag = &text[root.start..root.end];
    let mut reader = Reader::from_str(tag);
    let (element, empty) = match reader.read_event().ok()? {
        Event::Start(e) => (e, false),
        Event::Empty(e) => (e, true),
        _ => return None,
    };
    let edited = edit(&element);
    let mut writer = Writer::new(Vec::with_capacity(tag.len() + 16));
    let event = if empty {
        Event::Empty(edited)
    } else {
        Event::Start(edited)
    };
    writer.write_event(event).ok()?;
    let new_tag = String::from_utf8(writer.into_inner()).ok()?;
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..root.start]);
    out.push_str(&new_tag);
    out.push_str(&text[root.end..]);
    Some(out)
}

/// What [`rewrite_elements`] does with one element.
enum Edit {
    Keep,
    Replace(BytesStart<'static>),
    /// Leave the element and everything inside it out.
    Drop,
}

/// Streams the whole document through quick-xml, letting `edit` rename,
/// re-attribute or drop elements; end tags follow their start tags' new names.
fn rewrite_elements(text: &str, mut edit: impl FnMut(&BytesStart) -> Edit) -> Option<String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut writer = Writer::new(Vec::with_capacity(text.len() + 256));
    // New names of the open elements, to rename their end tags.
    let mut open: Vec<Option<String>> = Vec::new();
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) => break,
            // A broken document keeps what was converted so far; feed-rs reports the damage.
            Err(_) => break,
            Ok(event) => event,
        };
        let converted = match event {
            Event::Start(start) => match edit(&start) {
                Edit::Keep => {
                    open.push(None);
                    Event::Start(start)
                }
                Edit::Replace(new) => {
                    open.push(Some(new.name().as_ref().to_owned()));
                    Event::Start(new)
                }
                Edit::Drop => {
                    reader.read_to_end(start.name()).ok()?;
                    continue;
                }
            },
            Event::Empty(start) => match edit(&start) {
                Edit::Keep => Event::Empty(start),
                Edit::Replace(new) => Event::Empty(new),
                Edit::Drop => continue,
            },
            Event::End(end) => match open.pop().flatten() {
                Some(name) => Event::End(BytesEnd::new(name)),
                None => Event::End(end),
            },
            other => other,
        };
        writer.write_event(converted).ok()?;
    }
    String::from_utf8(writer.into_inner()).ok()
}

/// Elements that hold a date, by local name (RSS, Atom, Dublin Core).
const DATE_ELEMENTS: [&str; 7] = [
    "pubDate",
    "lastBuildDate",
    "date",
    "published",
    "updated",
    "issued",
    "modified",
];

/// German feeds write dates as German sites print them (`13.04.2021 14:30`,
/// `Di, 13. April 2021`), which feed-rs cannot read, so their items come out
/// undated. Rewrites every date that is not RFC 2822 or RFC 3339 but is one
/// of [`super::dates`]' forms to RFC 3339 in UTC; `None` if there is none.
pub fn repair_dates(text: &str) -> Option<String> {
    use quick_xml::events::BytesText;
    // Feeds whose entries are undated usually have no date elements at all:
    // no rewriting pass for them.
    if !DATE_ELEMENTS.iter().any(|name| text.contains(name)) {
        return None;
    }
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut writer = Writer::new(Vec::with_capacity(text.len() + 256));
    let mut in_date = false;
    let mut changed = false;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) => break,
            Err(_) => return None,
            Ok(event) => event,
        };
        let event = match event {
            Event::Start(start) => {
                let name = start.local_name();
                in_date = DATE_ELEMENTS.contains(&name.as_ref());
                Event::Start(start)
            }
            Event::Text(raw) if in_date => {
                // Raw (escaped) text: a date has nothing to escape.
                let date: &str = raw.as_ref();
                let date = date.trim();
                let readable = chrono::DateTime::parse_from_rfc2822(date).is_ok()
                    || chrono::DateTime::parse_from_rfc3339(date).is_ok();
                match super::dates::parse(date).filter(|_| !readable) {
                    Some(instant) => {
                        changed = true;
                        let utc = chrono::DateTime::from_timestamp(instant, 0)?;
                        Event::Text(BytesText::new(&utc.to_rfc3339()).into_owned())
                    }
                    None => Event::Text(raw),
                }
            }
            other => {
                if matches!(other, Event::End(_)) {
                    in_date = false;
                }
                other
            }
        };
        writer.write_event(event).ok()?;
    }
    if !changed {
        return None;
    }
    String::from_utf8(writer.into_inner()).ok()
}

/// Atom 0.3 to Atom 1.0.
fn upgrade_atom03(text: &str) -> Option<String> {
    rewrite_elements(text, |start| Edit::Replace(atom03_start(start)))
}

/// Atom text constructs (`title`, `summary`, …) may only be `text`, `html`
/// or `xhtml`; feeds also write MIME types there (`text/html`,
/// `application/xhtml+xml`) or nothing at all, and feed-rs then rejects the
/// whole document. Those are mapped; base64 payloads (`application/octet-stream`)
/// cannot be shown as text, so such elements are dropped.
pub fn repair_text_types(text: &str) -> Option<String> {
    rewrite_elements(text, |start| {
        let name = start.local_name();
        let is_text_construct = matches!(
            name.as_ref(),
            "title" | "subtitle" | "summary" | "rights" | "content"
        );
        let Some(kind) = start
            .attributes()
            .with_checks(false)
            .flatten()
            .find(|a| a.key.as_ref() == "type")
            .map(|a| a.value.trim().to_ascii_lowercase())
        else {
            return Edit::Keep;
        };
        if !is_text_construct {
            return Edit::Keep;
        }
        let mapped = match kind.as_str() {
            "text" | "html" | "xhtml" => return Edit::Keep,
            "" | "text/plain" => "text",
            "text/html" => "html",
            "application/xhtml+xml" => "xhtml",
            // Content may carry any media type; only text constructs are strict.
            _ if name.as_ref() == "content" => return Edit::Keep,
            _ => return Edit::Drop,
        };
        let mut out = BytesStart::new(start.name().as_ref().to_owned());
        for attr in start.attributes().with_checks(false).flatten() {
            if !matches!(attr.key.as_ref(), "type" | "mode") {
                out.push_attribute(attr);
            }
        }
        out.push_attribute(("type", mapped));
        Edit::Replace(out)
    })
}

fn atom03_name(name: &str) -> &str {
    match name {
        "issued" => "published",
        "modified" => "updated",
        "tagline" => "subtitle",
        "copyright" => "rights",
        other => other,
    }
}

fn atom03_start(start: &BytesStart) -> BytesStart<'static> {
    let name = start.name().as_ref().to_owned();
    let mut out = BytesStart::new(atom03_name(&name).to_owned());
    let mut mime = None;
    let mut mode = None;
    for attr in start.attributes().with_checks(false).flatten() {
        let value = attr.value.as_ref();
        match attr.key.as_ref() {
            "version" if name == "feed" => {}
            "xmlns" if value == ATOM03_NS => out.push_attribute(("xmlns", ATOM10_NS)),
            "type" if name != "link" => mime = Some(value.to_owned()),
            "mode" => mode = Some(value.to_owned()),
            _ => out.push_attribute(attr),
        }
    }
    if mime.is_some() || mode.is_some() {
        let mime = mime.unwrap_or_else(|| "text/plain".into());
        let text_type = match (mode.as_deref(), mime.as_str()) {
            (_, "text/plain" | "text") => "text",
            (Some("escaped"), _) => "html",
            (_, "text/html" | "html") => "html",
            (_, "application/xhtml+xml" | "xhtml") => "xhtml",
            _ => "html",
        };
        out.push_attribute(("type", text_type));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_versions_are_normalized() {
        let (out, kind) =
            upgrade("<?xml version=\"1.0\"?>\n<rss version=\"0.94\"><channel/></rss>").unwrap();
        assert_eq!(kind, Upgrade::RssVersion);
        assert_eq!(
            out,
            "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel/></rss>"
        );
        let (out, _) = upgrade("<rss><channel/></rss>").unwrap();
        assert_eq!(out, "<rss version=\"2.0\"><channel/></rss>");
        assert!(upgrade("<rss version=\"2.0\"><channel/></rss>").is_none());
    }

    #[test]
    fn stray_rss_namespace_is_removed() {
        let text = "<rss xmlns=\"https://cyber.harvard.edu/rss/rss.html\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" version=\"2.0\"><channel/></rss>";
        let (out, kind) = upgrade(text).unwrap();
        assert_eq!(kind, Upgrade::RssNamespace);
        assert_eq!(
            out,
            "<rss xmlns:dc=\"http://purl.org/dc/elements/1.1/\" version=\"2.0\"><channel/></rss>"
        );
    }

    #[test]
    fn rss090_becomes_rss10() {
        let text = "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"><channel/></rdf:RDF>";
        let (out, kind) = upgrade(text).unwrap();
        assert_eq!(kind, Upgrade::Rss090);
        assert!(out.contains("xmlns=\"http://purl.org/rss/1.0/\""));
        assert!(out.ends_with("<channel/></rdf:RDF>"));
    }

    #[test]
    fn atom03_is_mapped() {
        let text = "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><tagline>t</tagline><entry><issued>2004-01-01T00:00:00Z</issued><modified>2004-01-02T00:00:00Z</modified><content type=\"text/html\" mode=\"escaped\">&lt;b&gt;x&lt;/b&gt;</content><link rel=\"alternate\" type=\"text/html\" href=\"http://e.org/\"/></entry></feed>";
        let (out, kind) = upgrade(text).unwrap();
        assert_eq!(kind, Upgrade::Atom03);
        assert!(
            out.starts_with("<feed xmlns=\"http://www.w3.org/2005/Atom\">"),
            "{out}"
        );
        assert!(out.contains("<subtitle>t</subtitle>"));
        assert!(out.contains("<published>2004-01-01T00:00:00Z</published>"));
        assert!(out.contains("<updated>2004-01-02T00:00:00Z</updated>"));
        assert!(
            out.contains("<content type=\"html\">&lt;b&gt;x&lt;/b&gt;</content>"),
            "{out}"
        );
        assert!(
            out.contains("<link rel=\"alternate\" type=\"text/html\" href=\"http://e.org/\"/>"),
            "{out}"
        );
    }

    #[test]
    fn text_construct_types_are_repaired() {
        let text = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title type=\"application/xhtml+xml\" mode=\"xml\"><div>x</div></title><summary type=\"application/octet-stream\">eA==</summary><rights type=\"\">r</rights></entry></feed>";
        let out = repair_text_types(text).unwrap();
        assert_eq!(
            out,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title type=\"xhtml\"><div>x</div></title><rights type=\"text\">r</rights></entry></feed>"
        );
    }

    #[test]
    fn german_dates_become_rfc3339() {
        let feed = "<rss version=\"2.0\"><channel><item><title>A</title>\
            <pubDate>13.04.2021 14:30 Uhr</pubDate></item><item><title>B</title>\
            <pubDate>Tue, 13 Apr 2021 14:30:00 +0200</pubDate></item></channel></rss>";
        let repaired = repair_dates(feed).expect("a German date");
        assert!(repaired.contains("<pubDate>2021-04-13T12:30:00+00:00</pubDate>"));
        assert!(repaired.contains("<pubDate>Tue, 13 Apr 2021 14:30:00 +0200</pubDate>"));
        assert_eq!(repair_dates(&repaired), None);
    }

    #[test]
    fn modern_feeds_are_untouched() {
        assert!(upgrade("<feed xmlns=\"http://www.w3.org/2005/Atom\"></feed>").is_none());
        assert!(upgrade("<rdf:RDF xmlns=\"http://purl.org/rss/1.0/\"></rdf:RDF>").is_none());
    }
}
