//! End to end: `kurator fetch` against a farm of good and hostile feeds served
//! from a real HTTP server on 127.0.0.1, stored in a real SQLite file.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::run_kurator;
use support::server::{Behaviour, TestServer};

const RSS_LATIN1: &str = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0"><channel><title>Stadt Musterhausen – Pressestelle</title><link>https://www.musterhausen.de/</link>
<item><title>Bürgerbüro öffnet länger</title><link>https://www.musterhausen.de/presse/1?utm_source=rss</link>
<guid isPermaLink="false">presse-1</guid><description>Ab Montag gelten neue Öffnungszeiten für das Bürgerbüro.</description>
<pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate></item>
<item><title>Straßensperrung in der Königstraße</title><link>https://www.musterhausen.de/presse/2</link>
<guid isPermaLink="false">presse-2</guid><description>Wegen Bauarbeiten ist die Königstraße gesperrt.</description>
<pubDate>Tue, 14 Apr 2026 09:30:00 +0200</pubDate></item>
</channel></rss>"#;

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Digitalisierung aktuell</title><id>urn:x:feed</id><updated>2026-04-14T08:00:00Z</updated>
<entry><title type="html">&lt;b&gt;Onlinezugangsgesetz&lt;/b&gt;: Fristen für Kommunen</title><id>urn:x:1</id>
<link href="/artikel/ozg"/><updated>2026-04-14T08:00:00Z</updated><summary>Was Gemeinden jetzt wissen müssen.</summary></entry>
</feed>"#;

const JSON_FEED: &str = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "Smart City Blog",
 "items": [{"id": "sc-1", "url": "https://smart.example.de/posts/1", "title": "Sensoren für die Müllabfuhr",
            "content_html": "<p>Füllstände <script>alert(1)</script>melden</p>", "date_published": "2026-04-10T12:00:00Z"}]}"#;

const HTML_PAGE: &str = r#"<!DOCTYPE html><html lang="de"><head><title>Presse</title>
<link rel="alternate" type="application/rss+xml" title="Pressemitteilungen" href="/presse/rss.xml"></head>
<body><h1>Pressemitteilungen</h1></body></html>"#;

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><title>&lol3;</title><item><title>&lol3;</title></item></channel></rss>"#;

fn latin1(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// The Latin-1 press feed, with validators for conditional requests.
fn latin1_route(text: &str, version: &str, last_modified: &str, gzip: bool) -> Behaviour {
    Behaviour::Feed {
        status: 200,
        content_type: "application/rss+xml; charset=ISO-8859-1".into(),
        body: latin1(text),
        etag: Some(format!("\"{version}\"")),
        last_modified: Some(last_modified.into()),
        extra_headers: vec![],
        gzip,
    }
}

/// UTF-16LE with a byte order mark, as some Windows-based CMSs emit.
fn utf16le(text: &str) -> Vec<u8> {
    let text = text.replace("encoding=\"ISO-8859-1\"", "encoding=\"UTF-16\"");
    std::iter::once(0xfeff_u16)
        .chain(text.encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect()
}

struct Run {
    code: i32,
    stdout: String,
    elapsed: Duration,
}

impl Run {
    /// The output line of one source.
    fn line(&self, id: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no line for {id} in:\n{}", self.stdout))
    }
}

fn kurator(config: &Path, args: &[&str]) -> Run {
    let started = Instant::now();
    let output = run_kurator(config, args);
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        elapsed: started.elapsed(),
    }
}

fn write_config(dir: &Path, sources: &[(&str, String)]) -> PathBuf {
    let mut text = String::from(
        "[storage]\npath = \"farm.db\"\n[fetch]\ntimeout = \"4s\"\nconnect_timeout = \"2s\"\nread_timeout = \"2s\"\nmax_bytes = \"1MiB\"\nper_host = 4\n# Every \"publisher\" of the farm is on one loopback host.\nhost_delay = \"0s\"\n",
    );
    for (id, url) in sources {
        text.push_str(&format!("[[source]]\nid = \"{id}\"\nurl = \"{url}\"\n"));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn titles(db: &Path, source: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare("SELECT title FROM items WHERE source_id = ?1 ORDER BY published")
        .unwrap();
    statement
        .query_map([source], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn farm_of_good_and_hostile_feeds() {
    let server = TestServer::start();
    server.route(
        "/latin1.xml",
        latin1_route(RSS_LATIN1, "v1", "Tue, 14 Apr 2026 10:00:00 GMT", true),
    );

    server.route("/atom.xml", Behaviour::ok("application/atom+xml", ATOM));
    server.route(
        "/feed.json",
        Behaviour::ok("application/feed+json", JSON_FEED),
    );
    server.route(
        "/utf16.xml",
        Behaviour::ok("application/xml", utf16le(RSS_LATIN1)),
    );
    server.route("/as-html.xml", Behaviour::ok("text/html", ATOM));
    server.route(
        "/moved",
        Behaviour::Redirect {
            status: 301,
            location: "/atom.xml".into(),
        },
    );
    server.route(
        "/drip",
        Behaviour::Drip {
            content_type: "application/rss+xml".into(),
            body: RSS_LATIN1.as_bytes().to_vec(),
            interval: Duration::from_millis(500),
        },
    );
    server.route("/stall", Behaviour::Stall);
    server.route(
        "/endless",
        Behaviour::Endless {
            content_type: "application/rss+xml".into(),
        },
    );
    server.route(
        "/bomb",
        Behaviour::GzipBomb {
            inflated_bytes: 1 << 30,
        },
    );
    server.route(
        "/loop-a",
        Behaviour::Redirect {
            status: 302,
            location: "/loop-b".into(),
        },
    );
    server.route(
        "/loop-b",
        Behaviour::Redirect {
            status: 302,
            location: "/loop-a".into(),
        },
    );
    for hop in 0..12 {
        server.route(
            &format!("/hop{hop}"),
            Behaviour::Redirect {
                status: 302,
                location: format!("/hop{}", hop + 1),
            },
        );
    }
    // On a host of its own: its Retry-After holds for every source on its host.
    let limited_host = TestServer::start();
    limited_host.route(
        "/limited",
        Behaviour::RetryAfter {
            status: 429,
            retry_after: "3600".into(),
        },
    );
    server.route("/gone", Behaviour::status(410));
    server.route("/broken", Behaviour::status(500));
    server.route("/missing", Behaviour::status(404));
    server.route(
        "/page.html",
        Behaviour::ok("text/html; charset=utf-8", HTML_PAGE),
    );
    server.route(
        "/truncated.xml",
        Behaviour::ok("application/rss+xml", &RSS_LATIN1[..RSS_LATIN1.len() / 2]),
    );
    server.route("/empty.xml", Behaviour::ok("application/rss+xml", ""));
    server.route(
        "/laughs.xml",
        Behaviour::ok("application/rss+xml", BILLION_LAUGHS),
    );
    server.route("/hangup", Behaviour::Hangup);

    let dir = tempfile::tempdir().unwrap();
    let sources: Vec<(&str, String)> = vec![
        ("latin1", server.url("/latin1.xml")),
        ("atom", server.url("/atom.xml")),
        ("json", server.url("/feed.json")),
        ("utf16", server.url("/utf16.xml")),
        ("served-as-html", server.url("/as-html.xml")),
        ("moved", server.url("/moved")),
        ("drip", server.url("/drip")),
        ("stall", server.url("/stall")),
        ("endless", server.url("/endless")),
        ("bomb", server.url("/bomb")),
        ("loop", server.url("/loop-a")),
        ("hops", server.url("/hop0")),
        ("limited", limited_host.url("/limited")),
        ("gone", server.url("/gone")),
        ("broken", server.url("/broken")),
        ("missing", server.url("/missing")),
        ("page", server.url("/page.html")),
        ("truncated", server.url("/truncated.xml")),
        ("empty", server.url("/empty.xml")),
        ("laughs", server.url("/laughs.xml")),
        ("hangup", server.url("/hangup")),
    ];
    let config = write_config(dir.path(), &sources);
    let db = dir.path().join("farm.db");

    let first = kurator(&config, &["fetch"]);
    assert_eq!(first.code, 1, "some sources fail:\n{}", first.stdout);
    assert!(
        first.elapsed < Duration::from_secs(4 + 5),
        "took {:?}",
        first.elapsed
    );

    assert!(
        first
            .line("latin1")
            .contains("new 2, updated 0, unchanged 0"),
        "{}",
        first.stdout
    );
    assert!(first.line("atom").contains("new 1,"));
    assert!(first.line("json").contains("new 1,"));
    assert!(
        first.line("utf16").contains("new 2,"),
        "{}",
        first.line("utf16")
    );
    assert!(first.line("served-as-html").contains("new 1,"));
    assert!(first.line("moved").contains("new 1,"));
    assert!(
        first
            .stdout
            .contains("hint: the feed moved permanently to http://127.0.0.1:")
    );
    assert!(
        first.line("drip").contains("error: timed out after 4s"),
        "{}",
        first.line("drip")
    );
    assert!(
        first
            .line("stall")
            .contains("error: the server sent nothing for 2s"),
        "{}",
        first.line("stall")
    );
    assert!(
        first
            .line("endless")
            .contains("larger than `max_bytes` (1MiB)"),
        "{}",
        first.line("endless")
    );
    assert!(
        first
            .line("bomb")
            .contains("larger than `max_bytes` (1MiB)"),
        "{}",
        first.line("bomb")
    );
    assert!(
        first.line("loop").contains("error: redirect loop"),
        "{}",
        first.line("loop")
    );
    assert!(
        first.line("hops").contains("error: more than 10 redirects"),
        "{}",
        first.line("hops")
    );
    assert!(
        first
            .line("limited")
            .contains("error: HTTP 429 Too Many Requests"),
        "{}",
        first.line("limited")
    );
    assert!(first.line("limited").contains("retry after"));
    assert!(first.line("gone").contains("error: HTTP 410 Gone"));
    assert!(
        first
            .line("broken")
            .contains("error: HTTP 500 Internal Server Error")
    );
    assert!(first.line("missing").contains("error: HTTP 404 Not Found"));
    assert!(
        // The page links to a feed (`kind = "auto"` follows it), which is missing.
        first.line("page").contains("error: HTTP 404 Not Found"),
        "{}",
        first.line("page")
    );
    assert!(first.line("page").contains(&server.url("/presse/rss.xml")));
    assert!(
        first
            .line("truncated")
            .contains("error: the document is cut off"),
        "{}",
        first.line("truncated")
    );
    assert!(
        first
            .line("empty")
            .contains("error: the response body is empty")
    );
    assert!(
        first.line("laughs").contains("declares XML entities"),
        "{}",
        first.line("laughs")
    );
    assert!(
        first.line("hangup").contains("error:"),
        "{}",
        first.line("hangup")
    );

    // The good sources are stored, with their umlauts intact.
    assert_eq!(
        titles(&db, "latin1"),
        vec![
            "Bürgerbüro öffnet länger",
            "Straßensperrung in der Königstraße"
        ]
    );
    assert_eq!(titles(&db, "utf16"), titles(&db, "latin1"));
    assert_eq!(
        titles(&db, "atom"),
        vec!["Onlinezugangsgesetz: Fristen für Kommunen"]
    );
    assert_eq!(titles(&db, "json"), vec!["Sensoren für die Müllabfuhr"]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (link, content): (String, String) = conn
        .query_row(
            "SELECT link, content FROM items WHERE source_id = 'json'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(link, "https://smart.example.de/posts/1");
    assert!(!content.contains("script"), "{content}");
    let link: String = conn
        .query_row(
            "SELECT link FROM items WHERE source_id = 'latin1' AND guid = 'presse-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        link, "https://www.musterhausen.de/presse/1",
        "tracking parameters are removed"
    );
    let atom_link: String = conn
        .query_row("SELECT link FROM items WHERE source_id = 'atom'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        atom_link,
        server.url("/artikel/ozg"),
        "relative links resolve against the feed URL"
    );
    let (gone_since, retry_after): (Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT (SELECT gone_since FROM sources WHERE id = 'gone'), (SELECT retry_after FROM sources WHERE id = 'limited')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(gone_since.is_some());
    assert!(retry_after.unwrap() > kurator::time::unix_now() + 3000);
    drop(conn);

    // Second run: conditional GET, Retry-After and 410 honoured.
    let before = server.requests_for("/limited").len() + server.requests_for("/gone").len();
    let second = kurator(&config, &["fetch", "latin1", "atom", "limited", "gone"]);
    assert_eq!(second.code, 1, "{}", second.stdout);
    assert!(
        second.line("latin1").contains("not modified"),
        "{}",
        second.stdout
    );
    assert!(
        second.line("atom").contains("not modified (same content)"),
        "{}",
        second.stdout
    );
    assert!(
        second.line("limited").contains("deferred"),
        "{}",
        second.stdout
    );
    assert!(
        second.line("gone").contains("410 Gone on"),
        "{}",
        second.stdout
    );
    assert_eq!(
        server.requests_for("/limited").len() + server.requests_for("/gone").len(),
        before,
        "deferred and gone sources are not requested"
    );
    let last = server.requests_for("/latin1.xml").pop().unwrap();
    assert_eq!(last.header("if-none-match"), Some("\"v1\""));
    assert_eq!(
        last.header("if-modified-since"),
        Some("Tue, 14 Apr 2026 10:00:00 GMT")
    );
    assert!(last.header("user-agent").unwrap().starts_with("kurator/"));

    // An item added upstream appears exactly once.
    let extended = RSS_LATIN1.replace(
        "</channel>",
        "<item><title>Neue Kita eröffnet</title><link>https://www.musterhausen.de/presse/3</link>\
         <guid isPermaLink=\"false\">presse-3</guid><pubDate>Wed, 15 Apr 2026 08:00:00 +0200</pubDate></item></channel>",
    );
    server.route(
        "/latin1.xml",
        latin1_route(&extended, "v2", "Wed, 15 Apr 2026 10:00:00 GMT", false),
    );

    let third = kurator(&config, &["fetch", "latin1"]);
    assert_eq!(third.code, 0, "{}", third.stdout);
    assert!(
        third
            .line("latin1")
            .contains("new 1, updated 0, unchanged 2"),
        "{}",
        third.stdout
    );
    let fourth = kurator(&config, &["fetch", "latin1", "--force"]);
    assert!(
        fourth
            .line("latin1")
            .contains("new 0, updated 0, unchanged 3"),
        "{}",
        fourth.stdout
    );
    assert_eq!(titles(&db, "latin1").len(), 3);

    // --force fetches deferred and gone sources again.
    let forced = kurator(&config, &["fetch", "--force", "limited"]);
    assert!(
        forced.line("limited").contains("HTTP 429"),
        "{}",
        forced.stdout
    );
}

#[test]
fn unknown_source_id_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[("a", "http://127.0.0.1:9/feed".into())]);
    let output = Command::new(env!("CARGO_BIN_EXE_kurator"))
        .args(["-c", config.to_str().unwrap(), "fetch", "nope"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("no source with id `nope`; known ids: a"),
        "{stderr}"
    );
}

/// A proxy from the environment would resolve and connect to the targets
/// itself, out of the address guard's sight: Kurator connects directly.
#[test]
fn environment_proxies_are_not_used() {
    let server = TestServer::start();
    server.route("/atom.xml", Behaviour::ok("application/atom+xml", ATOM));
    let proxy = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[("atom", server.url("/atom.xml"))]);
    let mut command = Command::new(env!("CARGO_BIN_EXE_kurator"));
    command.arg("-c").arg(&config).arg("fetch");
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env(name, proxy.base_url());
    }
    let output = command
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        proxy.requests().is_empty(),
        "the proxy was used: {:?}\n{stdout}",
        proxy.requests()
    );
    assert_eq!(server.requests_for("/atom.xml").len(), 1, "{stdout}");
    assert!(stdout.contains("new 1,"), "{stdout}");
}
