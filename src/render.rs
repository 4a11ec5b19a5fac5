//! Render: topic feeds as RSS 2.0, Atom 1.0 and JSON Feed 1.1.
//!
//! Rules every format follows:
//! * An entry's id is derived from the item's uid (`urn:uuid:…`), so it never
//!   changes across restarts, retags or re-renders: readers never show an item twice.
//! * Newest first; titles are plain text; summary and content are the stored,
//!   sanitized HTML; categories are the item's tags.
//! * Characters XML forbids are removed from every string, whatever its origin;
//!   bidi controls from every plain-text one (titles, names, categories).
//! * Every link is absolute: feed links are built from `[server] base_url`.
//! * A source's URL is shown without credentials ([`crate::redact`]).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::json;

use crate::normalize::sanitize::escape_text;
use crate::normalize::strip_forbidden;
use crate::tag::Tag;
use crate::time::format_time;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    /// The media type, as served.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The format a file extension names.
    pub fn from_extension(extension: &str) -> Option<Format> {
        match extension {
            "rss" => Some(Format::Rss),
            "atom" => Some(Format::Atom),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }
}

/// What a feed says about itself.
#[derive(Debug, Clone)]
pub struct FeedInfo {
    pub title: String,
    pub description: String,
    /// This feed's own URL (`…/feeds/smart-city.atom`).
    pub self_url: String,
    /// The page the feed belongs to (the server's front page).
    pub home_url: String,
    /// A stable IRI for the feed (Atom `id`).
    pub id: String,
}

/// Where an entry came from.
#[derive(Debug, Clone)]
pub struct EntrySource {
    pub id: String,
    pub title: String,
    /// The configured URL, credentials and all: shown only as [`EntrySource::shown_url`].
    pub url: String,
}

impl EntrySource {
    /// The URL as every output shows it: without credentials ([`crate::redact`]).
    pub fn shown_url(&self) -> String {
        crate::redact::redacted_text(&self.url)
    }
}

/// One entry, ready to render.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The item's uid (32 hex digits).
    pub uid: String,
    pub title: String,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub author: Option<String>,
    /// Seconds since the epoch.
    pub published: i64,
    pub updated: i64,
    pub source: EntrySource,
    pub tags: Vec<Tag>,
    /// The other reports of the same story (dedup), oldest first.
    pub also: Vec<AlsoReported>,
}

/// Another source's report of an entry's story.
#[derive(Debug, Clone)]
pub struct AlsoReported {
    pub source: EntrySource,
    pub title: String,
    pub link: Option<String>,
    pub uid: String,
    pub published: i64,
}

/// The paragraph that lists the other reports: "Auch berichtet von:
/// Kommune21 („Titel“), …", each title linking to its report.
fn also_reported_html(also: &[AlsoReported]) -> String {
    let mut html = String::from("<p>Auch berichtet von: ");
    for (n, report) in also.iter().enumerate() {
        if n > 0 {
            html.push_str(", ");
        }
        html.push_str(&escape_text(&crate::text::strip_bidi_controls(
            &report.source.title,
        )));
        html.push_str(" (");
        let title = format!(
            "„{}“",
            escape_text(&crate::text::strip_bidi_controls(&report.title))
        );
        match &report.link {
            Some(link) => {
                html.push_str("<a href=\"");
                html.push_str(&escape_text(link));
                html.push_str("\">");
                html.push_str(&title);
                html.push_str("</a>");
            }
            None => html.push_str(&title),
        }
        html.push(')');
    }
    html.push_str("</p>");
    html
}

impl Entry {
    /// Summary and content as rendered: with the list of other reports
    /// appended when the story has several.
    fn shown_html(&self) -> (Option<String>, Option<String>) {
        if self.also.is_empty() {
            return (self.summary.clone(), self.content.clone());
        }
        let list = also_reported_html(&self.also);
        let append = |html: &Option<String>| html.as_ref().map(|h| format!("{h}\n{list}"));
        let summary = append(&self.summary);
        let content = append(&self.content);
        if summary.is_none() && content.is_none() {
            return (Some(list), None);
        }
        (summary, content)
    }
}

impl Entry {
    /// The entry's permanent id: the uid as a UUID URN (a registered,
    /// valid IRI in every format).
    pub fn id(&self) -> String {
        let u = &self.uid;
        if u.len() == 32 && u.bytes().all(|b| b.is_ascii_hexdigit()) {
            format!(
                "urn:uuid:{}-{}-{}-{}-{}",
                &u[..8],
                &u[8..12],
                &u[12..16],
                &u[16..20],
                &u[20..]
            )
        } else {
            format!("urn:kurator:{u}")
        }
    }

    fn categories(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(|t| t.name.as_str())
    }
}

/// Renders a feed.
pub fn render(format: Format, info: &FeedInfo, entries: &[Entry]) -> Vec<u8> {
    match format {
        Format::Rss => rss(info, entries),
        Format::Atom => atom(info, entries),
        Format::Json => json_feed(info, entries),
    }
}

fn clean(text: &str) -> String {
    strip_forbidden(text).into_owned()
}

/// [`clean`] for plain text (titles, names, categories): bidi controls go too,
/// also from items stored before normalizing removed them.
fn clean_plain(text: &str) -> String {
    crate::text::strip_bidi_controls(&strip_forbidden(text)).into_owned()
}

fn rfc822(secs: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + crate::time::secs_duration(secs))
}

fn rss(info: &FeedInfo, entries: &[Entry]) -> Vec<u8> {
    let mut channel = ::rss::Channel::default();
    channel.set_title(clean_plain(&info.title));
    channel.set_link(info.home_url.clone());
    channel.set_description(clean_plain(&info.description));
    channel.set_generator(Some(format!("kurator {}", env!("CARGO_PKG_VERSION"))));
    if let Some(newest) = entries.iter().map(|e| e.updated.max(e.published)).max() {
        channel.set_last_build_date(Some(rfc822(newest)));
    }
    let items = entries
        .iter()
        .map(|entry| {
            let mut item = ::rss::Item::default();
            let (summary, content) = entry.shown_html();
            item.set_title(Some(clean_plain(&entry.title)));
            item.set_link(entry.link.clone());
            item.set_description(summary.as_deref().or(content.as_deref()).map(clean));
            item.set_content(content.as_deref().map(clean));
            item.set_guid(Some(::rss::Guid {
                value: entry.id(),
                permalink: false,
            }));
            item.set_pub_date(Some(rfc822(entry.published)));
            item.set_source((!entry.source.url.is_empty()).then(|| ::rss::Source {
                url: entry.source.shown_url(),
                title: Some(clean_plain(&entry.source.title)),
            }));
            item.set_categories(
                entry
                    .categories()
                    .map(|c| ::rss::Category {
                        name: clean_plain(c),
                        domain: None,
                    })
                    .collect::<Vec<_>>(),
            );
            if let Some(author) = &entry.author {
                // RSS <author> wants an e-mail address; Dublin Core takes a name.
                let mut dc = ::rss::extension::dublincore::DublinCoreExtension::default();
                dc.set_creators(vec![clean_plain(author)]);
                item.set_dublin_core_ext(Some(dc));
            }
            item
        })
        .collect::<Vec<_>>();
    channel.set_items(items);
    // <atom:link rel="self">, which feed validators ask RSS feeds for.
    let mut namespaces = std::collections::BTreeMap::new();
    namespaces.insert("atom".to_owned(), "http://www.w3.org/2005/Atom".to_owned());
    channel.set_namespaces(namespaces);
    let self_link = ::rss::extension::Extension {
        name: "atom:link".into(),
        value: None,
        attrs: [
            ("href".to_owned(), info.self_url.clone()),
            ("rel".to_owned(), "self".to_owned()),
            ("type".to_owned(), "application/rss+xml".to_owned()),
        ]
        .into(),
        children: Default::default(),
    };
    let mut extensions = ::rss::extension::ExtensionMap::new();
    extensions
        .entry("atom".to_owned())
        .or_default()
        .insert("link".to_owned(), vec![self_link]);
    channel.set_extensions(extensions);
    let mut out = Vec::with_capacity(4096 + entries.len() * 2048);
    // Compact: the pretty writer puts whitespace inside the empty
    // <atom:link>, which the W3C feed validator flags.
    channel
        .write_to(&mut out)
        .expect("writing to a Vec cannot fail");
    out.push(b'\n');
    out
}

fn atom(info: &FeedInfo, entries: &[Entry]) -> Vec<u8> {
    let mut writer =
        Writer::new_with_indent(Vec::with_capacity(4096 + entries.len() * 2048), b' ', 2);
    let w = &mut writer;
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
        .expect("Vec");
    let mut feed = BytesStart::new("feed");
    feed.push_attribute(("xmlns", "http://www.w3.org/2005/Atom"));
    w.write_event(Event::Start(feed)).expect("Vec");
    text_element(w, "id", &info.id, None);
    text_element(w, "title", &info.title, Some("text"));
    if !info.description.is_empty() {
        text_element(w, "subtitle", &info.description, Some("text"));
    }
    let newest = entries
        .iter()
        .map(|e| e.updated.max(e.published))
        .max()
        .unwrap_or(0);
    text_element(w, "updated", &format_time(newest), None);
    link(w, &info.self_url, "self", Some("application/atom+xml"));
    link(w, &info.home_url, "alternate", Some("text/html"));
    let mut generator = BytesStart::new("generator");
    generator.push_attribute(("version", env!("CARGO_PKG_VERSION")));
    w.write_event(Event::Start(generator)).expect("Vec");
    w.write_event(Event::Text(BytesText::new("kurator")))
        .expect("Vec");
    w.write_event(Event::End(BytesEnd::new("generator")))
        .expect("Vec");
    for entry in entries {
        w.write_event(Event::Start(BytesStart::new("entry")))
            .expect("Vec");
        text_element(w, "id", &entry.id(), None);
        text_element(w, "title", &entry.title, Some("text"));
        text_element(
            w,
            "updated",
            &format_time(entry.updated.max(entry.published)),
            None,
        );
        text_element(w, "published", &format_time(entry.published), None);
        // Atom requires an author per entry (or per feed); the source stands in.
        w.write_event(Event::Start(BytesStart::new("author")))
            .expect("Vec");
        text_element(
            w,
            "name",
            entry.author.as_deref().unwrap_or(&entry.source.title),
            None,
        );
        w.write_event(Event::End(BytesEnd::new("author")))
            .expect("Vec");
        if let Some(href) = &entry.link {
            link(w, href, "alternate", Some("text/html"));
        }
        for name in entry.categories() {
            let mut category = BytesStart::new("category");
            category.push_attribute(("term", clean_plain(name).as_str()));
            w.write_event(Event::Empty(category)).expect("Vec");
        }
        // A source removed from the config has no URL left to name.
        if !entry.source.url.is_empty() {
            w.write_event(Event::Start(BytesStart::new("source")))
                .expect("Vec");
            let url = entry.source.shown_url();
            text_element(w, "id", &url, None);
            text_element(w, "title", &entry.source.title, Some("text"));
            link(w, &url, "self", None);
            w.write_event(Event::End(BytesEnd::new("source")))
                .expect("Vec");
        }
        for report in &entry.also {
            if let Some(href) = &report.link {
                let mut element = BytesStart::new("link");
                element.push_attribute(("rel", "related"));
                element.push_attribute(("type", "text/html"));
                element.push_attribute(("href", clean(href).as_str()));
                element.push_attribute((
                    "title",
                    clean_plain(&format!("{}: {}", report.source.title, report.title)).as_str(),
                ));
                w.write_event(Event::Empty(element)).expect("Vec");
            }
        }
        let (summary, content) = entry.shown_html();
        if let Some(summary) = &summary {
            text_element(w, "summary", summary, Some("html"));
        }
        if let Some(content) = &content {
            text_element(w, "content", content, Some("html"));
        }
        w.write_event(Event::End(BytesEnd::new("entry")))
            .expect("Vec");
    }
    w.write_event(Event::End(BytesEnd::new("feed")))
        .expect("Vec");
    let mut out = writer.into_inner();
    out.push(b'\n');
    out
}

fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str, kind: Option<&str>) {
    let mut start = BytesStart::new(name);
    if let Some(kind) = kind {
        start.push_attribute(("type", kind));
    }
    w.write_event(Event::Start(start)).expect("Vec");
    let text = if kind == Some("html") {
        clean(text)
    } else {
        clean_plain(text)
    };
    w.write_event(Event::Text(BytesText::new(&text)))
        .expect("Vec");
    w.write_event(Event::End(BytesEnd::new(name))).expect("Vec");
}

fn link(w: &mut Writer<Vec<u8>>, href: &str, rel: &str, media_type: Option<&str>) {
    let mut element = BytesStart::new("link");
    element.push_attribute(("rel", rel));
    if let Some(media_type) = media_type {
        element.push_attribute(("type", media_type));
    }
    element.push_attribute(("href", clean(href).as_str()));
    w.write_event(Event::Empty(element)).expect("Vec");
}

fn json_feed(info: &FeedInfo, entries: &[Entry]) -> Vec<u8> {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|entry| {
            let mut item = serde_json::Map::new();
            item.insert("id".into(), json!(entry.id()));
            if let Some(url) = &entry.link {
                item.insert("url".into(), json!(url));
            }
            item.insert("title".into(), json!(clean_plain(&entry.title)));
            let (summary, content) = entry.shown_html();
            if let Some(content) = content.as_deref().or(summary.as_deref()) {
                item.insert("content_html".into(), json!(clean(content)));
            } else {
                item.insert("content_text".into(), json!(""));
            }
            if let (Some(summary), Some(_)) = (&entry.summary, &entry.content) {
                item.insert("summary".into(), json!(crate::tag::markup_to_text(summary).trim()));
            }
            item.insert("date_published".into(), json!(format_time(entry.published)));
            item.insert("date_modified".into(), json!(format_time(entry.updated.max(entry.published))));
            if let Some(author) = &entry.author {
                item.insert("authors".into(), json!([{ "name": clean_plain(author) }]));
            }
            let tags: Vec<String> = entry.categories().map(clean_plain).collect();
            if !tags.is_empty() {
                item.insert("tags".into(), json!(tags));
            }
            item.insert(
                "_kurator".into(),
                json!({
                    "about": "https://github.com/kurator-feeds/kurator",
                    "source": { "id": entry.source.id, "title": clean_plain(&entry.source.title), "url": entry.source.shown_url() },
                    "uid": entry.uid,
                    "also_reported_by": entry.also.iter().map(|r| json!({
                        "source": { "id": r.source.id, "title": clean_plain(&r.source.title), "url": r.source.shown_url() },
                        "title": clean_plain(&r.title),
                        "url": r.link,
                        "uid": r.uid,
                        "date_published": format_time(r.published),
                    })).collect::<Vec<_>>(),
                }),
            );
            serde_json::Value::Object(item)
        })
        .collect();
    let feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": clean_plain(&info.title),
        "home_page_url": info.home_url,
        "feed_url": info.self_url,
        "description": clean_plain(&info.description),
        "items": items,
    });
    let mut out = serde_json::to_vec_pretty(&feed).expect("JSON values always serialize");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_of_other_reports_escapes_what_sources_wrote() {
        let also = [AlsoReported {
            source: EntrySource {
                id: "echo".into(),
                title: "Echo <b>&</b>".into(),
                url: String::new(),
            },
            title: "<script>alert(1)</script> „Zitat“".into(),
            link: Some("https://echo.example/a?x=1&y=\"2\"".into()),
            uid: "0".repeat(32),
            published: 0,
        }];
        let html = also_reported_html(&also);
        assert_eq!(
            html,
            "<p>Auch berichtet von: Echo &lt;b&gt;&amp;&lt;/b&gt; (<a href=\"https://echo.example/a?x=1&amp;y=&quot;2&quot;\">\
             „&lt;script&gt;alert(1)&lt;/script&gt; „Zitat““</a>)</p>"
        );
    }

    #[test]
    fn plain_text_fields_lose_bidi_controls_and_urls_their_credentials() {
        let source = EntrySource {
            id: "intranet".into(),
            title: "Stadt\u{202E}nretsum".into(),
            url: "https://user:pw-geheim@feeds.example/feed?token=tok-geheim".into(),
        };
        let entry = Entry {
            uid: "0".repeat(32),
            title: "Rechnung\u{202E}fdp.exe\u{2066}".into(),
            link: Some("https://feeds.example/a".into()),
            summary: Some("<p>Text</p>".into()),
            content: None,
            author: Some("\u{200F}Redaktion".into()),
            published: 1_776_067_200,
            updated: 1_776_067_200,
            source: source.clone(),
            tags: vec![Tag {
                kind: crate::tag::TagKind::Topic,
                name: "Amt\u{202D}".into(),
            }],
            also: vec![AlsoReported {
                source,
                title: "\u{202E}Zweit".into(),
                link: None,
                uid: "1".repeat(32),
                published: 1_776_067_200,
            }],
        };
        let info = FeedInfo {
            title: "Alle\u{2067}".into(),
            description: "Alles".into(),
            self_url: "https://kurator.example/feeds/all.atom".into(),
            home_url: "https://kurator.example/".into(),
            id: "urn:kurator:all".into(),
        };
        for format in [Format::Rss, Format::Atom, Format::Json] {
            let text =
                String::from_utf8(render(format, &info, std::slice::from_ref(&entry))).unwrap();
            assert!(
                !text.contains(crate::text::is_bidi_control),
                "{format:?}: {text}"
            );
            assert!(!text.contains("geheim"), "{format:?}: {text}");
            assert!(text.contains("Rechnungfdp.exe"), "{format:?}: {text}");
            assert!(
                text.contains("feeds.example/feed?token=***"),
                "{format:?}: {text}"
            );
        }
    }
}
