//! HTML pages where a feed was expected: recognize them and find the feed
//! links they advertise, so the error can say which URL to configure.

use std::sync::LazyLock;

use scraper::{Html, Selector};
use url::Url;

/// A feed advertised by `<link rel="alternate" type="…">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlternateLink {
    pub url: Url,
    pub title: Option<String>,
    pub media_type: String,
}

const FEED_TYPES: [&str; 5] = [
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
];

/// The feed a page's `<link rel="alternate">` list leads to: the first on
/// the web (http or https), as `kind = "auto"` follows it.
pub fn followed_feed(alternates: &[AlternateLink]) -> Option<&Url> {
    alternates
        .iter()
        .map(|alternate| &alternate.url)
        .find(|url| matches!(url.scheme(), "http" | "https"))
}

/// True when the document is an HTML page rather than XML or JSON.
///
/// Decided by the content, not the `Content-Type`: plenty of servers send
/// feeds as `text/html` and pages as `text/xml`.
pub fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(512)
        .flat_map(char::to_lowercase)
        .collect();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return true;
    }
    // `<?xml …?>` followed by an XHTML page, or a page starting with a comment.
    let start = super::repair::root_start(text).unwrap_or(0);
    let root: String = text[start..]
        .chars()
        .take(6)
        .flat_map(char::to_lowercase)
        .collect();
    root.starts_with("<html") || root.starts_with("<head") || root.starts_with("<body")
}

/// The feed links a page advertises, resolved against `<base href>` or `page_url`.
pub fn alternate_links(text: &str, page_url: &Url) -> Vec<AlternateLink> {
    static LINKS: LazyLock<Selector> =
        LazyLock::new(|| Selector::parse("link[rel][href]").expect("static selector"));
    static BASE: LazyLock<Selector> =
        LazyLock::new(|| Selector::parse("base[href]").expect("static selector"));

    let document = Html::parse_document(&crate::text::bound_html_depth(text));
    let base = document
        .select(&BASE)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|href| page_url.join(href).ok())
        .unwrap_or_else(|| page_url.clone());
    let mut found: Vec<AlternateLink> = Vec::new();
    for link in document.select(&LINKS) {
        let element = link.value();
        let is_alternate = element.attr("rel").is_some_and(|rel| {
            rel.split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case("alternate"))
        });
        let media_type = element
            .attr("type")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !is_alternate || !FEED_TYPES.contains(&media_type.as_str()) {
            continue;
        }
        let Some(url) = element
            .attr("href")
            .and_then(|href| base.join(href.trim()).ok())
        else {
            continue;
        };
        if found.iter().any(|f| f.url == url) {
            continue;
        }
        found.push(AlternateLink {
            url,
            title: element
                .attr("title")
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
            media_type,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_pages() {
        assert!(looks_like_html(
            "\n<!DOCTYPE html><html><body></body></html>"
        ));
        assert!(looks_like_html("<HTML><HEAD>"));
        assert!(looks_like_html(
            "<?xml version=\"1.0\"?>\n<!-- x -->\n<html xmlns=\"http://www.w3.org/1999/xhtml\">"
        ));
        assert!(!looks_like_html(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"></rss>"
        ));
        assert!(!looks_like_html(
            "{\"version\": \"https://jsonfeed.org/version/1.1\"}"
        ));
    }

    #[test]
    fn finds_alternates() {
        let page = r#"<!DOCTYPE html><html><head>
            <link rel="stylesheet" href="/style.css">
            <link rel="alternate" type="application/rss+xml" title="Pressemitteilungen" href="/presse/feed.rss">
            <link rel="Alternate" type="application/atom+xml" href="https://example.org/atom.xml">
            <link rel="alternate" type="text/html" hreflang="en" href="/en/">
            </head><body></body></html>"#;
        let links = alternate_links(
            page,
            &Url::parse("https://www.darmstadt.de/presse/").unwrap(),
        );
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0].url.as_str(),
            "https://www.darmstadt.de/presse/feed.rss"
        );
        assert_eq!(links[0].title.as_deref(), Some("Pressemitteilungen"));
        assert_eq!(links[1].media_type, "application/atom+xml");
    }
}
