//! Municipal pages without feeds, read with selectors (`kind = "html"`):
//! pages in the style of real CMSs on loopback (a teaser list, a table of
//! press releases, a Latin-1 page), relative links, German dates, counters
//! that change on every request, and a selector that matches nothing.

mod support;

use std::path::{Path, PathBuf};

use kurator::store::{Store, StoredItem};
use support::run_kurator;
use support::server::{Behaviour, TestServer};

/// A Rathaus news list: teasers with relative links, dates as text, and a
/// visitor counter that differs on every request.
fn teaser_page(visitors: u32) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>Pressemitteilungen – Stadt Musterstadt</title></head>
<body>
<nav><a href="/">Startseite</a> <a href="/kontakt">Kontakt</a></nav>
<main>
  <h1>Pressemitteilungen</h1>
  <div class="newslist">
    <div class="news-item">
      <h2 class="news-title"><a href="meldungen/2025/kita-arheilgen.html">Neue Kita in Arheilgen eröffnet</a></h2>
      <div class="news-date">Mittwoch, 5. März 2025, 10:15 Uhr</div>
      <div class="news-teaser"><p>Die Stadt eröffnet eine <strong>neue Kita</strong> mit 80 Plätzen.</p></div>
    </div>
    <div class="news-item">
      <h2 class="news-title"><a href="/presse/meldungen/2025/sperrung-heinrichstrasse.html?utm_source=liste">Sperrung der Heinrichstraße</a></h2>
      <div class="news-date">03.03.2025</div>
      <div class="news-teaser"><p>Wegen Kanalarbeiten ist die Heinrichstraße gesperrt.</p></div>
    </div>
  </div>
</main>
<footer>Sie sind Besucher Nr. {visitors} · Stand: {visitors} Sekunden</footer>
</body></html>"#
    )
}

/// A table of press releases, as association sites print them.
const TABLE_PAGE: &str = r#"<!DOCTYPE html>
<html><head><title>DStGB Pressemitteilungen</title></head><body>
<table class="pressemitteilungen">
  <thead><tr><th>Datum</th><th>Titel</th></tr></thead>
  <tbody>
    <tr><td>13.04.2021</td><td><a href="https://www.dstgb.example/pm/2021-04-13-digitalpakt/">Digitalpakt Kommunen jetzt umsetzen</a></td></tr>
    <tr><td>12.4.21</td><td><a href="/pm/2021-04-12-glasfaser/">Glasfaserausbau beschleunigen</a></td></tr>
  </tbody>
</table>
</body></html>"#;

/// A page in ISO-8859-1 that says so only in its `<meta http-equiv>`.
fn latin1_page() -> Vec<u8> {
    let html = r#"<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">
<title>Landkreis</title></head><body>
<ul id="aktuelles">
  <li><a href="/aktuell/1">Bürgerbüro in Groß-Gerau geschlossen</a> <span>7. Februar 2025</span></li>
  <li><a href="/aktuell/2">Straßenfest: Änderungen im Busverkehr</a> <span>6. Feb. 2025</span></li>
</ul></body></html>"#;
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(html);
    assert!(!unmappable);
    bytes.into_owned()
}

fn serve_pages() -> TestServer {
    let server = TestServer::start();
    server.route(
        "/rathaus/presse/index.php",
        Behaviour::ok("text/html; charset=utf-8", teaser_page(48_213)),
    );
    server.route("/dstgb/presse/", Behaviour::ok("text/html", TABLE_PAGE));
    server.route(
        "/kreis/aktuelles.html",
        Behaviour::ok("text/html", latin1_page()),
    );
    server
}

fn write_config(dir: &Path, server: &TestServer, broken: bool) -> PathBuf {
    let mut text = format!(
        r##"[storage]
path = "kurator.db"
# The pages' dates are years old: keep them.
keep_days = 0
[fetch]
host_delay = "0s"

[[source]]
id = "rathaus"
title = "Stadt Musterstadt"
url = "{rathaus}"
kind = "html"
[source.select]
item = ".newslist .news-item"
title = ".news-title"
link = ".news-title a@href"
date = ".news-date"
summary = ".news-teaser"

[[source]]
id = "dstgb"
url = "{dstgb}"
kind = "html"
[source.select]
item = "table.pressemitteilungen tbody tr"
title = "td:nth-child(2)"
link = "td:nth-child(2) a@href"
date = "td:first-child"

[[source]]
id = "kreis"
url = "{kreis}"
[source.select]
item = "#aktuelles li"
title = "a"
link = "a@href"
date = "span"
"##,
        rathaus = server.url("/rathaus/presse/index.php"),
        dstgb = server.url("/dstgb/presse/"),
        kreis = server.url("/kreis/aktuelles.html"),
    );
    if broken {
        text.push_str(&format!(
            "\n[[source]]\nid = \"umgebaut\"\nurl = \"{}\"\nkind = \"html\"\n[source.select]\n\
             item = \"article.teaser\"\ntitle = \"h3\"\nlink = \"h3 a@href\"\n",
            server.url("/rathaus/presse/index.php"),
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn items(dir: &Path, source: &str) -> Vec<StoredItem> {
    let store = Store::open_reader(&dir.join("kurator.db")).unwrap();
    let mut items = store.items_of_source(source).unwrap();
    // In page order.
    items.sort_by_key(|item| item.id);
    items
}

/// Seconds since the epoch of a UTC time.
fn utc(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

#[test]
fn pages_without_feeds_yield_items_with_titles_absolute_links_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_pages();
    let config = write_config(dir.path(), &server, false);
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let rathaus = items(dir.path(), "rathaus");
    let summary: Vec<(&str, &str, i64)> = rathaus
        .iter()
        .map(|i| (i.title.as_str(), i.link.as_deref().unwrap(), i.published))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "Neue Kita in Arheilgen eröffnet",
                server
                    .url("/rathaus/presse/meldungen/2025/kita-arheilgen.html")
                    .as_str(),
                utc("2025-03-05T09:15:00Z"),
            ),
            (
                "Sperrung der Heinrichstraße",
                // Relative to the host, and without the tracking parameter.
                server
                    .url("/presse/meldungen/2025/sperrung-heinrichstrasse.html")
                    .as_str(),
                utc("2025-03-02T23:00:00Z"),
            ),
        ]
    );
    assert_eq!(
        rathaus[0].summary.as_deref(),
        Some("<p>Die Stadt eröffnet eine <strong>neue Kita</strong> mit 80 Plätzen.</p>")
    );

    let dstgb = items(dir.path(), "dstgb");
    let summary: Vec<(&str, &str, i64)> = dstgb
        .iter()
        .map(|i| (i.title.as_str(), i.link.as_deref().unwrap(), i.published))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "Digitalpakt Kommunen jetzt umsetzen",
                "https://www.dstgb.example/pm/2021-04-13-digitalpakt/",
                utc("2021-04-12T22:00:00Z"),
            ),
            (
                "Glasfaserausbau beschleunigen",
                server.url("/pm/2021-04-12-glasfaser/").as_str(),
                utc("2021-04-11T22:00:00Z"),
            ),
        ]
    );

    let kreis = items(dir.path(), "kreis");
    let titles: Vec<&str> = kreis.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Bürgerbüro in Groß-Gerau geschlossen",
            "Straßenfest: Änderungen im Busverkehr"
        ]
    );
    assert_eq!(kreis[1].published, utc("2025-02-05T23:00:00Z"));
}

#[test]
fn a_page_that_changes_on_every_request_yields_each_item_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_pages();
    let config = write_config(dir.path(), &server, false);
    assert!(run_kurator(&config, &["fetch"]).status.success());
    let first = items(dir.path(), "rathaus");
    for visitors in [48_214, 48_990] {
        server.route(
            "/rathaus/presse/index.php",
            Behaviour::ok("text/html; charset=utf-8", teaser_page(visitors)),
        );
        let output = run_kurator(&config, &["fetch"]);
        assert!(output.status.success());
        let again = items(dir.path(), "rathaus");
        let ids = |items: &[StoredItem]| -> Vec<(String, i64)> {
            items.iter().map(|i| (i.uid.clone(), i.published)).collect()
        };
        assert_eq!(ids(&again), ids(&first), "same items, same ids");
    }
}

#[test]
fn a_selector_that_matches_nothing_is_an_error_for_its_source_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_pages();
    let config = write_config(dir.path(), &server, true);
    let output = run_kurator(&config, &["fetch"]);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !output.status.success(),
        "a failed source fails the run: {report}"
    );
    let line = report
        .lines()
        .find(|line| line.contains("umgebaut"))
        .unwrap_or_else(|| panic!("the source is named: {report}"));
    assert!(
        line.contains("the `item` selector `article.teaser` matched 0 elements"),
        "{report}"
    );
    // The other sources are stored all the same.
    assert_eq!(items(dir.path(), "rathaus").len(), 2);
    assert_eq!(items(dir.path(), "dstgb").len(), 2);
}

/// A recent RSS feed, for the page that links to it.
fn linked_feed() -> String {
    let now = chrono::Utc::now();
    let item = |title: &str, link: &str, hours: i64| {
        format!(
            "<item><title>{title}</title><link>{link}</link><pubDate>{}</pubDate></item>",
            (now - chrono::Duration::hours(hours)).to_rfc2822()
        )
    };
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Stadt</title>{}{}</channel></rss>",
        item(
            "Haushalt 2026 beschlossen",
            "https://stadt.example/haushalt",
            2
        ),
        item(
            "Neues Bürgerportal online",
            "https://stadt.example/portal",
            5
        ),
    )
}

#[test]
fn a_page_that_links_its_feed_is_followed_and_one_that_does_not_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start();
    server.route(
        "/stadt/",
        Behaviour::ok(
            "text/html; charset=utf-8",
            r#"<!DOCTYPE html><html><head><title>Stadt</title>
            <link rel="stylesheet" href="/style.css">
            <link rel="alternate" type="application/rss+xml" title="Pressemitteilungen" href="/stadt/presse.rss">
            </head><body><h1>Willkommen</h1></body></html>"#,
        ),
    );
    server.route(
        "/stadt/presse.rss",
        Behaviour::ok("application/rss+xml", linked_feed()),
    );
    server.route(
        "/verband/",
        Behaviour::ok(
            "text/html",
            "<!DOCTYPE html><html><body><ul><li>Meldung</li></ul></body></html>",
        ),
    );
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"kurator.db\"\n[fetch]\nhost_delay = \"0s\"\n\
             [[source]]\nid = \"stadt\"\nurl = \"{}\"\n\
             [[source]]\nid = \"verband\"\nurl = \"{}\"\n\
             [[source]]\nid = \"umgestellt\"\nurl = \"{}\"\n\
             [source.select]\nitem = \"li\"\ntitle = \"a\"\nlink = \"a@href\"\n",
            server.url("/stadt/"),
            server.url("/verband/"),
            // Selectors for a page that now serves a feed: read as a feed.
            server.url("/stadt/presse.rss"),
        ),
    )
    .unwrap();
    let output = run_kurator(&config, &["fetch"]);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let titles: Vec<String> = items(dir.path(), "stadt")
        .into_iter()
        .map(|i| i.title)
        .collect();
    assert_eq!(
        titles,
        ["Haushalt 2026 beschlossen", "Neues Bürgerportal online"],
        "{report}"
    );
    assert_eq!(items(dir.path(), "umgestellt").len(), 2, "{report}");
    assert!(
        report.contains(&format!(
            "Kurator reads the feed it links to, {}",
            server.url("/stadt/presse.rss")
        )),
        "{report}"
    );
    let verband = report
        .lines()
        .find(|line| line.starts_with("verband"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        verband.contains("advertises no feed") && verband.contains("kind = \"html\""),
        "{report}"
    );

    let status = run_kurator(&config, &["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains(&format!("stadt: reads {}", server.url("/stadt/presse.rss"))),
        "{status}"
    );
}

#[test]
fn preview_shows_what_each_selector_finds_without_storing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_pages();
    let config = write_config(dir.path(), &server, true);

    let output = run_kurator(&config, &["preview", "rathaus"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "`item` = `.newslist .news-item` matched 2 elements",
        "  1. Neue Kita in Arheilgen eröffnet",
        &format!(
            "link: {}",
            server.url("/rathaus/presse/meldungen/2025/kita-arheilgen.html")
        ),
        "date: Mittwoch, 5. März 2025, 10:15 Uhr → 2025-03-05T09:15:00Z",
        "summary: Die Stadt eröffnet eine neue Kita mit 80 Plätzen.",
        "date: 03.03.2025 → 2025-03-02T23:00:00Z",
        "2 of 2 items have a link and would be stored",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }

    // A selector that misses in some items says which, and where.
    let tuned = std::fs::read_to_string(&config).unwrap().replace(
        "summary = \".news-teaser\"",
        "summary = \".news-teaser p.lead\"",
    );
    std::fs::write(&config, tuned).unwrap();
    let output = run_kurator(&config, &["preview", "rathaus"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("missed: `summary` = `.news-teaser p.lead`"),
        "{text}"
    );
    assert!(text.contains("`summary` missed in 2"), "{text}");

    // One that matches nothing fails, with the reason.
    let output = run_kurator(&config, &["preview", "umgebaut"]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("the `item` selector `article.teaser` matched 0 elements"),
        "{error}"
    );
    let output = run_kurator(&config, &["preview", "nirgends"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("no source `nirgends`; the sources are: rathaus, dstgb, kreis, umgebaut")
    );

    // Nothing was stored.
    assert!(!dir.path().join("kurator.db").exists());
}

/// The daemon keeps polling a page's feed directly once it found it, and
/// reads the page again only when the feed fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_found_feed_is_polled_directly_until_it_fails() {
    use kurator::config::Config;
    use kurator::fetch::{Fetcher, Settings};
    use kurator::ingest::{Ingester, Outcome};
    use kurator::store::StoreWriter;

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start();
    server.route(
        "/stadt/",
        Behaviour::ok(
            "text/html",
            r#"<html><head><link rel="alternate" type="application/atom+xml" href="feed.rss"></head></html>"#,
        ),
    );
    server.route(
        "/stadt/feed.rss",
        Behaviour::ok("application/rss+xml", linked_feed()),
    );
    let config_path = dir.path().join("feeds.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[source]]\nid = \"stadt\"\nurl = \"{}\"\n",
            server.url("/stadt/")
        ),
    )
    .unwrap();
    let config = Config::load(&config_path).unwrap();
    let source = &config.sources[0];
    let store = Store::open(&dir.path().join("kurator.db")).unwrap();
    let (writer, writer_thread) = StoreWriter::spawn(store).unwrap();
    let fetch = Settings {
        host_delay: std::time::Duration::ZERO,
        ..Settings::default()
    };
    let ingester = Ingester::new(
        Fetcher::new(&fetch).unwrap(),
        writer,
        std::sync::Arc::new(config.topics.clone()),
    );

    for _ in 0..3 {
        let report = ingester.ingest(source, false).await;
        assert!(!report.outcome.is_failure(), "{:?}", report.outcome);
    }
    assert_eq!(server.requests_for("/stadt/").len(), 1, "the page once");
    assert_eq!(server.requests_for("/stadt/feed.rss").len(), 3);

    // The feed goes away: that poll fails, and the next reads the page again.
    server.route("/stadt/feed.rss", Behaviour::status(404));
    let report = ingester.ingest(source, false).await;
    assert!(report.outcome.is_failure());
    server.route(
        "/stadt/feed.rss",
        Behaviour::ok("application/rss+xml", linked_feed()),
    );
    let report = ingester.ingest(source, false).await;
    assert!(
        matches!(report.outcome, Outcome::Stored(_) | Outcome::Unchanged),
        "{:?}",
        report.outcome
    );
    assert_eq!(server.requests_for("/stadt/").len(), 2, "the page again");

    drop(ingester);
    writer_thread.join().unwrap();
}
