//! The front page (topics, subscribe links, autodiscovery, latest items,
//! every source's state) and the OPML file that subscribes a reader to
//! every topic at once. Readers see the front page: its text is German.

use std::fmt::Write;

use crate::feeds::{Catalog, feed_url, search_url};
use crate::normalize::sanitize::escape_text;
use crate::normalize::strip_forbidden;
use crate::render::Format;
use crate::status::{Outcome, SourceStatus};
use crate::store::{ALL_FEED, StoredItem};
use crate::time::format_time;

/// What the front page shows of one feed.
#[derive(Debug, Clone)]
pub struct FeedSummary {
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    /// Its newest items, newest first.
    pub latest: Vec<StoredItem>,
}

const FORMATS: [(Format, &str); 3] = [
    (Format::Rss, "RSS"),
    (Format::Atom, "Atom"),
    (Format::Json, "JSON Feed"),
];

/// Escapes text for HTML and XML content and double-quoted attribute values,
/// without the characters XML forbids.
pub fn escape(text: &str) -> String {
    escape_text(&strip_forbidden(text))
}

/// A source's state, as the front page says it.
fn state_de(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Disabled => "abgeschaltet",
        Outcome::NeverFetched => "noch nicht abgerufen",
        Outcome::Ok => "in Ordnung",
        Outcome::NotModified => "unverändert",
        Outcome::Failing => "Fehler",
        Outcome::Gone => "entfernt (410 Gone)",
    }
}

/// The front page: the topics with their newest items, then every source
/// with its state and last error, linking to `/sources` for the details.
pub fn index_html(site: &dyn Catalog, feeds: &[FeedSummary], sources: &[SourceStatus]) -> Vec<u8> {
    let base = site.base_url();
    let mut html = String::with_capacity(8192);
    html.push_str("<!DOCTYPE html>\n<html lang=\"de\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str("<title>Kurator: Themen-Feeds</title>\n");
    for feed in feeds {
        for (format, name) in FORMATS {
            let media = format.content_type().split(';').next().unwrap_or_default();
            let _ = writeln!(
                html,
                "<link rel=\"alternate\" type=\"{media}\" title=\"{} ({name})\" href=\"{}\">",
                escape(&feed.title),
                escape(feed_url(base, &feed.slug, format).as_str())
            );
        }
    }
    html.push_str(
        "<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.45}\
         h2{margin-bottom:.2rem}.subscribe a{margin-right:.8rem}li{margin:.3rem 0}.meta{color:#555;font-size:.9em}\
         table{border-collapse:collapse}td,th{padding:.3rem .8rem .3rem 0;text-align:left;vertical-align:top}.error{color:#a00}</style>\n",
    );
    html.push_str("</head>\n<body>\n<h1>Kurator: Themen-Feeds</h1>\n");
    let _ = writeln!(
        html,
        "<p>Abonnieren Sie ein Thema in einem beliebigen Feedreader oder <a href=\"{}\">alle Themen auf einmal (OPML)</a>.</p>",
        escape(base.join("opml").expect("a fixed path").as_str())
    );
    for feed in feeds {
        let _ = writeln!(
            html,
            "<section id=\"{}\">\n<h2>{}</h2>",
            escape(&feed.slug),
            escape(&feed.title)
        );
        if let Some(description) = &feed.description {
            let _ = writeln!(html, "<p>{}</p>", escape(description));
        }
        html.push_str("<p class=\"subscribe\">Abonnieren: ");
        for (index, (format, name)) in FORMATS.into_iter().enumerate() {
            if index > 0 {
                html.push_str(" · ");
            }
            let _ = write!(
                html,
                "<a href=\"{}\">{name}</a>",
                escape(feed_url(base, &feed.slug, format).as_str())
            );
        }
        html.push_str("</p>\n");
        if feed.latest.is_empty() {
            html.push_str("<p class=\"meta\">Noch keine Meldungen.</p>\n");
        } else {
            html.push_str("<ul>\n");
            for item in &feed.latest {
                let date = format_time(item.published);
                let title = escape(&item.title);
                let shown = match &item.link {
                    Some(link) => format!("<a href=\"{}\">{title}</a>", escape(link)),
                    None => title,
                };
                let source = site
                    .source(&item.source_id)
                    .map_or(item.source_id.as_str(), |s| s.title.as_str());
                let _ = writeln!(
                    html,
                    "<li>{shown} <span class=\"meta\">{} · {}</span></li>",
                    escape(source),
                    &date[..10]
                );
            }
            html.push_str("</ul>\n");
        }
        html.push_str("</section>\n");
    }
    let example = search_url(base, "\"smart city\" OR digitalstadt*", Format::Atom);
    let _ = writeln!(
        html,
        "<h2>Such-Feeds</h2>\n<p>Jede Regel der Themensprache ist auch ein Feed, z.&nbsp;B. \
         <a href=\"{}\"><code>{}</code></a>; dazu <code>search.rss</code>, \
         <code>search.atom</code> oder <code>search.json</code> mit <code>?q=REGEL</code> \
         und wahlweise <code>&amp;limit=1…500</code>.</p>",
        escape(example.as_str()),
        escape(example.as_str())
    );
    sources_section(&mut html, site, sources);
    html.push_str("</body>\n</html>\n");
    html.into_bytes()
}

/// Every source with its state, its last fetch and its last error.
fn sources_section(html: &mut String, site: &dyn Catalog, sources: &[SourceStatus]) {
    let details = site.base_url().join("sources").expect("a fixed path");
    let _ = writeln!(
        html,
        "<section id=\"quellen\">\n<h2>Quellen</h2>\n<p>Wie der letzte Abruf jeder Quelle ausging; \
         <a href=\"{}\">alle Einzelheiten (nächster Abruf, Fehlerzahl, Meldungen)</a>.</p>",
        escape(details.as_str())
    );
    if sources.is_empty() {
        html.push_str("<p class=\"meta\">Keine Quellen eingerichtet.</p>\n</section>\n");
        return;
    }
    html.push_str(
        "<table>\n<tr><th>Quelle</th><th>Zustand</th><th>Letzter Abruf</th><th>Letzter Fehler</th></tr>\n",
    );
    for source in sources {
        let mut state = state_de(source.outcome).to_owned();
        if let Some(status) = source
            .http_status
            .filter(|_| source.outcome != Outcome::Disabled)
        {
            let _ = write!(state, " ({status})");
        }
        let last = source.last_fetch.map_or_else(
            || "–".to_owned(),
            |at| {
                let at = format_time(at);
                format!(
                    "<time datetime=\"{at}\">{} UTC</time>",
                    &at[..16].replace('T', " ")
                )
            },
        );
        let error = source.error.as_deref().map_or_else(String::new, |error| {
            format!("<span class=\"error\">{}</span>", escape(error))
        });
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{last}</td><td>{error}</td></tr>",
            escape(&source.title),
            escape(&state)
        );
    }
    html.push_str("</table>\n</section>\n");
}

/// Every topic feed (and `all`) as an OPML 2.0 subscription list.
pub fn opml(site: &dyn Catalog, now: i64) -> Vec<u8> {
    let base = site.base_url();
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n<head>\n");
    out.push_str("<title>Kurator topic feeds</title>\n");
    let _ = writeln!(
        out,
        "<dateCreated>{}</dateCreated>",
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + crate::time::secs_duration(now))
    );
    out.push_str("</head>\n<body>\n");
    let topics = site.topics().topics().iter().map(|t| {
        (
            t.slug.as_str(),
            t.title.as_str(),
            t.description.as_deref().unwrap_or(""),
        )
    });
    let all = std::iter::once((
        ALL_FEED,
        "Kurator: all items",
        "Every item Kurator has stored",
    ));
    for (slug, title, description) in topics.chain(all) {
        let description = if description.trim().is_empty() {
            String::new()
        } else {
            format!(" description=\"{}\"", escape(description))
        };
        let _ = writeln!(
            out,
            "<outline type=\"rss\" text=\"{title}\" title=\"{title}\"{description} xmlUrl=\"{}\" htmlUrl=\"{}\"/>",
            escape(feed_url(base, slug, Format::Rss).as_str()),
            escape(base.as_str()),
            title = escape(title),
        );
    }
    out.push_str("</body>\n</opml>\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_forbidden_characters() {
        assert_eq!(
            escape("<a href=\"x\">Tom & 'Jerry'</a>\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; 'Jerry'&lt;/a&gt;"
        );
    }
}
