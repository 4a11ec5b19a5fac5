//! Normalize: feed-rs entries into [`Item`]s with one clean shape.
//!
//! Rules:
//! * Titles are plain text: tags and bidi controls stripped, whitespace collapsed, trimmed;
//!   an empty title falls back to the start of the summary, then the link.
//! * Summary and content are sanitized HTML ([`sanitize`]), with relative URLs
//!   made absolute against `xml:base`, then the feed URL.
//! * Links are absolute http(s) URLs; anything else (`javascript:`, `mailto:`) is dropped.
//! * Dates: a date in the future is not trusted (clocks and time zones in feeds
//!   are often wrong); the store then dates the item by when it was first seen.
//! * Characters XML cannot carry are removed, so every later output stays valid.

pub mod sanitize;

use feed_rs::model::{Entry, Feed, Text};
use scraper::Html;
use url::Url;

use crate::parse::repair::is_xml_char;
pub use sanitize::Sanitizer;

/// An entry, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The feed's own id for the entry (`guid`, Atom `id`), if it has one.
    pub guid: Option<String>,
    /// The absolute link to the original article.
    pub link: Option<String>,
    pub title: String,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub author: Option<String>,
    /// The feed's own categories, trimmed and deduplicated.
    pub categories: Vec<String>,
    /// Seconds since the epoch; `None` when missing or in the future.
    pub published: Option<i64>,
    pub updated: Option<i64>,
}

/// Longest title kept; beyond this it is a body pasted into the wrong field.
const MAX_TITLE_CHARS: usize = 500;
/// Length of a title made from the summary when the feed gives none.
const FALLBACK_TITLE_CHARS: usize = 100;

/// Normalizes every entry of `feed`. `base` is the URL the feed was fetched from;
/// `now` (seconds since the epoch) bounds dates.
pub fn normalize(feed: &Feed, base: &Url, now: i64) -> Vec<Item> {
    let mut sanitizers: Vec<(Url, Sanitizer)> = Vec::new();
    feed.entries
        .iter()
        .map(|entry| normalize_entry(entry, base, now, &mut sanitizers))
        .collect()
}

/// Normalizes the items of an HTML source ([`crate::parse::scrape`]): as a
/// feed's entries, except that they have no id of their own (the link
/// identifies them) and only items with a link are kept.
pub fn normalize_scraped<'a>(
    items: impl IntoIterator<Item = &'a crate::parse::scrape::ScrapedItem>,
    base: &Url,
    now: i64,
) -> Vec<Item> {
    let sanitizer = Sanitizer::new(base);
    items
        .into_iter()
        .filter_map(|scraped| {
            let link = scraped.link.clone()?;
            let summary = scraped
                .summary_html
                .as_deref()
                .map(|html| clean_output(sanitizer.clean_html(html)))
                .filter(|summary| !summary.trim().is_empty());
            let title = scraped
                .title
                .as_deref()
                .map(|title| {
                    truncate_chars(
                        &plain_text(&clean_output(title.to_owned())),
                        MAX_TITLE_CHARS,
                    )
                })
                .filter(|title| !title.is_empty())
                .unwrap_or_else(|| fallback_title(summary.as_deref(), Some(&link)));
            Some(Item {
                guid: None,
                link: Some(link),
                title,
                summary,
                content: None,
                author: None,
                categories: Vec::new(),
                published: scraped.published.filter(|&t| t <= now),
                updated: None,
            })
        })
        .collect()
}

fn normalize_entry(
    entry: &Entry,
    base: &Url,
    now: i64,
    sanitizers: &mut Vec<(Url, Sanitizer)>,
) -> Item {
    let link = entry_link(entry, base);

    // Content is resolved against its own xml:base when it has one.
    let content_base = entry
        .content
        .as_ref()
        .and_then(|c| c.src.as_ref())
        .and_then(|l| base.join(&l.href).ok())
        .unwrap_or_else(|| base.clone());
    let content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .filter(|body| !body.trim().is_empty())
        .map(|body| clean_output(sanitizer_for(sanitizers, &content_base).clean_html(body)));
    let summary_base = entry
        .summary
        .as_ref()
        .and_then(|s| s.src.as_deref())
        .and_then(|src| base.join(src).ok())
        .unwrap_or_else(|| base.clone());
    let summary = entry
        .summary
        .as_ref()
        .filter(|s| !s.content.trim().is_empty())
        .map(|s| {
            clean_output(if is_html(s) {
                sanitizer_for(sanitizers, &summary_base).clean_html(&s.content)
            } else {
                sanitize::escape_text(&s.content)
            })
        });

    let mut title = entry.title.as_ref().map(plain_title).unwrap_or_default();
    if title.is_empty() {
        title = fallback_title(summary.as_deref().or(content.as_deref()), link.as_deref());
    }

    let authors: Vec<String> = entry
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref().or(p.email.as_deref()))
        .map(|name| plain_text(&strip_forbidden(name)))
        .filter(|name| !name.is_empty())
        .collect();

    let mut categories: Vec<String> = Vec::new();
    for category in &entry.categories {
        let term = category
            .label
            .as_deref()
            .filter(|l| !l.trim().is_empty())
            .unwrap_or(&category.term);
        let term = plain_text(&strip_forbidden(term));
        if !term.is_empty() && !categories.iter().any(|c| c.eq_ignore_ascii_case(&term)) {
            categories.push(term);
        }
    }

    let not_future = |t: i64| (t <= now).then_some(t);
    Item {
        guid: Some(strip_forbidden(entry.id.trim()).into_owned()).filter(|id| !id.is_empty()),
        link,
        title,
        summary,
        content,
        author: (!authors.is_empty()).then(|| authors.join(", ")),
        categories,
        published: entry.published.map(|d| d.timestamp()).and_then(not_future),
        updated: entry.updated.map(|d| d.timestamp()).and_then(not_future),
    }
}

fn sanitizer_for<'a>(sanitizers: &'a mut Vec<(Url, Sanitizer)>, base: &Url) -> &'a Sanitizer {
    let index = match sanitizers.iter().position(|(b, _)| b == base) {
        Some(index) => index,
        None => {
            sanitizers.push((base.clone(), Sanitizer::new(base)));
            sanitizers.len() - 1
        }
    };
    &sanitizers[index].1
}

/// The entry's alternate link (or its first link), absolute, http(s) only.
fn entry_link(entry: &Entry, base: &Url) -> Option<String> {
    let preferred = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first())?;
    let url = base.join(preferred.href.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

fn is_html(text: &Text) -> bool {
    let subtype = text.content_type.subty().as_str();
    subtype.eq_ignore_ascii_case("html") || subtype.eq_ignore_ascii_case("xhtml+xml")
}

/// A title as plain text. HTML titles (Atom `type="html"`, or RSS titles with
/// tags in them) lose their markup.
fn plain_title(text: &Text) -> String {
    let raw = &text.content;
    let looks_tagged = raw.contains('<') && raw.contains('>');
    // Titles in CDATA often carry HTML entities (`M&uuml;nchen`, `&#8211;`)
    // that were meant to be decoded; a bare `&` survives decoding unchanged.
    let has_entities = raw.contains('&') && raw.contains(';');
    let plain = if is_html(text) || looks_tagged || has_entities {
        html_to_text(raw)
    } else {
        raw.clone()
    };
    truncate_chars(&plain_text(&clean_output(plain)), MAX_TITLE_CHARS)
}

fn fallback_title(html: Option<&str>, link: Option<&str>) -> String {
    let from_body = html
        .map(html_to_text)
        .map(|t| plain_text(&t))
        .unwrap_or_default();
    if !from_body.is_empty() {
        return truncate_chars(&clean_output(from_body), FALLBACK_TITLE_CHARS);
    }
    link.unwrap_or("(untitled)").to_owned()
}

/// The text of an HTML fragment, entities decoded.
pub fn html_to_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return html.to_owned();
    }
    let fragment = Html::parse_fragment(&crate::text::bound_html_depth(html));
    fragment.root_element().text().collect()
}

/// A plain-text field (title, name, category) as shown: bidi controls
/// removed ([`crate::text::is_bidi_control`]), whitespace collapsed, trimmed.
fn plain_text(text: &str) -> String {
    let text = crate::text::strip_bidi_controls(text);
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_owned(),
    }
}

/// Drops forbidden characters from finished text. It runs on the output,
/// not the input, because decoding HTML can create them (`&#4` without a
/// semicolon is a valid HTML reference to U+0004).
fn clean_output(text: String) -> String {
    match strip_forbidden(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(cleaned) => cleaned,
    }
}

/// Removes characters XML 1.0 cannot carry (most C0 controls, U+FFFE, U+FFFF);
/// they would make every feed we emit invalid.
pub fn strip_forbidden(text: &str) -> std::borrow::Cow<'_, str> {
    // In UTF-8 every forbidden character starts with a control byte or with
    // 0xEF (U+FFFE/U+FFFF), so a byte scan, which the compiler vectorizes,
    // clears the common case without decoding characters.
    let suspicious = |b: &u8| (*b < 0x20 && !matches!(*b, b'\t' | b'\n' | b'\r')) || *b == 0xEF;
    if !text.as_bytes().iter().any(suspicious) || text.chars().all(is_xml_char) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn items(xml: &str) -> Vec<Item> {
        let base = Url::parse("https://www.kommune21.de/feed/").unwrap();
        let parsed = parse(xml, &base).unwrap();
        normalize(&parsed.feed, &base, 1_900_000_000)
    }

    #[test]
    fn rss_item() {
        let xml = r#"<rss version="2.0"><channel><title>K21</title><item>
            <title>  Digitale
              Verwaltung:   &lt;b&gt;OZG&lt;/b&gt; 2.0 </title>
            <link>/meldung/123?utm_source=rss</link>
            <guid isPermaLink="false">k21-123</guid>
            <description>&lt;p onclick="x"&gt;Die &lt;a href="/ozg"&gt;OZG&lt;/a&gt;-Novelle&lt;/p&gt;</description>
            <category>E-Government</category><category> e-government </category><category>OZG</category>
            <author>redaktion@kommune21.de (Redaktion)</author>
            <pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate>
        </item></channel></rss>"#;
        let item = &items(xml)[0];
        assert_eq!(item.title, "Digitale Verwaltung: OZG 2.0");
        assert_eq!(
            item.link.as_deref(),
            Some("https://www.kommune21.de/meldung/123?utm_source=rss")
        );
        assert_eq!(item.guid.as_deref(), Some("k21-123"));
        assert_eq!(
            item.summary.as_deref(),
            Some(
                r#"<p>Die <a href="https://www.kommune21.de/ozg" rel="noopener noreferrer nofollow">OZG</a>-Novelle</p>"#
            )
        );
        assert_eq!(item.categories, vec!["E-Government", "OZG"]);
        assert_eq!(item.published, Some(1_776_067_200));
    }

    #[test]
    fn future_dates_are_dropped_and_titles_fall_back() {
        let xml = r#"<rss version="2.0"><channel><item>
            <description>Ein Beitrag ohne Titel über die Stadtverwaltung</description>
            <pubDate>Mon, 01 Jan 2035 10:00:00 +0000</pubDate>
        </item></channel></rss>"#;
        let item = &items(xml)[0];
        assert_eq!(item.published, None);
        assert_eq!(
            item.title,
            "Ein Beitrag ohne Titel über die Stadtverwaltung"
        );
        assert_eq!(item.guid, None);
    }

    #[test]
    fn entities_in_cdata_titles_are_decoded() {
        let xml = r#"<rss version="2.0"><channel><item><title><![CDATA[M&uuml;nchen &#8211; AT&T & Co]]></title></item></channel></rss>"#;
        assert_eq!(items(xml)[0].title, "München – AT&T & Co");
    }

    #[test]
    fn decoding_html_never_yields_forbidden_characters() {
        let xml = r#"<rss version="2.0"><channel><item><title><![CDATA[a &#4 b &amp;]]></title>
            <description><![CDATA[<p>x &#1; y</p>]]></description></item></channel></rss>"#;
        let item = &items(xml)[0];
        assert_eq!(item.title, "a b &");
        assert_eq!(item.summary.as_deref(), Some("<p>x  y</p>"));
    }

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(strip_forbidden("a\u{1}b\u{b}c\td"), "abc\td");
        assert!(matches!(
            strip_forbidden("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn bidi_controls_leave_titles_authors_and_categories() {
        let xml = "<rss version=\"2.0\"><channel><item><title>Rechnung\u{202E}fdp.exe\u{202C}</title>\
            <description>x</description><category>\u{2066}Amt\u{2069}</category>\
            <dc:creator xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\u{200F}Redaktion \u{202D}</dc:creator>\
            </item></channel></rss>";
        let item = &items(xml)[0];
        assert_eq!(item.title, "Rechnungfdp.exe");
        assert_eq!(item.categories, vec!["Amt"]);
        assert_eq!(item.author.as_deref(), Some("Redaktion"));
    }

    #[test]
    fn javascript_links_are_dropped() {
        let xml = r#"<rss version="2.0"><channel><item><title>x</title><link>javascript:alert(1)</link></item></channel></rss>"#;
        assert_eq!(items(xml)[0].link, None);
    }
}
