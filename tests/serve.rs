//! `kurator serve` as subscribers and operators meet it: real processes, a
//! real fixture server for the sources, raw HTTP on 127.0.0.1.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::http::{Response, get, request};
use support::process::Running;
use support::server::{Behaviour, TestServer};
use support::{Tool, feedparser_summary, run_kurator, validate_atom};

const PRESSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Stadt Musterhausen</title>
<item><title>Gemeinderat beschließt Haushalt für 2027</title><link>https://www.musterhausen.de/p/1?utm_source=rss</link><guid>p1</guid>
<description><![CDATA[<p onclick="steal()">Der <b>Stadtrat</b> stimmt zu.<script>alert(1)</script> Die Bürgerinnen und Bürger wurden beteiligt; die Kämmerei legt den Plan im Rathaus aus.</p>]]></description>
<category>Politik</category><pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate></item>
<item><title>Smart City: Sensoren in der Königstraße</title><link>https://www.musterhausen.de/p/2</link><guid>p2</guid>
<description>Luftqualität &amp; Verkehr werden gemessen.</description><pubDate>Tue, 14 Apr 2026 10:00:00 +0200</pubDate></item>
<item><title>Straßenfest</title><link>https://www.musterhausen.de/p/3</link><guid>p3</guid>
<description>Musik und Essen.</description><pubDate>Wed, 15 Apr 2026 10:00:00 +0200</pubDate></item>
</channel></rss>"#;

const NEW_ITEM: &str = r#"<item><title>Gemeinderat wählt neuen Bürgermeister</title><link>https://www.musterhausen.de/p/4</link><guid>p4</guid>
<description>Die Sitzung dauerte bis Mitternacht.</description><pubDate>Thu, 16 Apr 2026 10:00:00 +0200</pubDate></item>
</channel>"#;

const TOPICS: &str = "[[topic]]\nslug = \"politik\"\ntitle = \"Politik\"\ndescription = \"Kommunalpolitik\"\nmatch = 'gemeinderat OR stadtrat*'\n\n\
                      [[topic]]\nslug = \"smart-city\"\ntitle = \"Smart City\"\nmatch = '\"smart city\" OR sensor*'\n";

struct Setup {
    dir: tempfile::TempDir,
    upstream: TestServer,
    config: PathBuf,
}

fn write_config(setup_dir: &Path, upstream: &TestServer, topics: &str) -> PathBuf {
    let config = setup_dir.join("feeds.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"https://feeds.example.de/\"\n\
             header_timeout = \"1s\"\nmax_connections = 4\n\n\
             [[source]]\nid = \"musterhausen\"\ntitle = \"Stadt Musterhausen\"\nurl = \"{}\"\ntags = [\"kommune\"]\n\n{topics}",
            upstream.url("/presse.xml")
        ),
    )
    .unwrap();
    config
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let upstream = TestServer::start();
    upstream.route("/presse.xml", Behaviour::ok("application/rss+xml", PRESSE));
    let config = write_config(dir.path(), &upstream, TOPICS);
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Setup {
        dir,
        upstream,
        config,
    }
}

/// A running `kurator serve`, stopped when dropped.
struct Served;

impl Served {
    fn start(config: &Path) -> Running {
        Running::start(config, "serve", "serving ")
    }
}

fn render(config: &Path, slug: &str, format: &str) -> Vec<u8> {
    let output = run_kurator(config, &["render", slug, "--format", format]);
    assert!(output.status.success());
    output.stdout
}

fn entry_ids(bytes: &[u8]) -> Vec<String> {
    feed_rs::parser::parse(bytes)
        .expect("our feed parses")
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// Polls until `check` holds (the server notices other processes' writes
/// within about a second).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn served_feeds_are_valid_and_the_same_as_rendered() {
    let setup = setup();
    let served = Served::start(&setup.config);
    for slug in ["politik", "smart-city", "all"] {
        for (format, media) in [
            ("rss", "application/rss+xml; charset=utf-8"),
            ("atom", "application/atom+xml; charset=utf-8"),
            ("json", "application/feed+json; charset=utf-8"),
        ] {
            let response = served.get(&format!("/feeds/{slug}.{format}"));
            assert_eq!(response.status, 200, "{slug}.{format}: {}", response.text());
            assert_eq!(response.header("content-type"), Some(media));
            assert_eq!(
                response.header("cache-control"),
                Some("public, max-age=300")
            );
            assert_eq!(
                response.body,
                render(&setup.config, slug, format),
                "{slug}.{format}: the server and `kurator render` agree"
            );
            let path = setup.dir.path().join(format!("{slug}.{format}"));
            std::fs::write(&path, &response.body).unwrap();
            match format {
                "atom" => validate_atom(&path).unwrap_or_else(|e| panic!("{slug}: {e}")),
                "json" => {
                    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
                    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
                }
                _ => {}
            }
            if format != "json"
                && let Some(summary) = feedparser_summary(&path)
            {
                assert!(summary.starts_with("False "), "{slug}.{format}: {summary}");
            }
        }
    }
    let politik = served.get("/feeds/politik.atom").text();
    assert!(politik.contains("Gemeinderat beschließt Haushalt"));
    assert!(!politik.contains("Straßenfest"));
    assert!(!politik.to_ascii_lowercase().contains("<script"));
    assert!(!politik.contains("onclick"));
    let limited = served.get("/feeds/all.json?limit=2");
    assert_eq!(entry_ids(&limited.body).len(), 2);

    // The soft limit on open files is raised for connections and bodies.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", served.child.id())).unwrap();
    let open_files: Vec<u64> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let (soft, hard) = (open_files[0], open_files[1]);
    assert!(soft >= hard.min(65_536), "{soft} of {hard}");
}

#[test]
fn conditional_requests_compression_and_head() {
    let setup = setup();
    let served = Served::start(&setup.config);
    let first = served.get("/feeds/all.atom");
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("an ETag").to_owned();
    let modified = first
        .header("last-modified")
        .expect("Last-Modified")
        .to_owned();
    assert_eq!(first.header("vary"), Some("accept-encoding"));

    let again = get(served.addr, "/feeds/all.atom", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let since = get(
        served.addr,
        "/feeds/all.atom",
        &[("If-Modified-Since", &modified)],
    );
    assert_eq!(since.status, 304);
    let stale = get(
        served.addr,
        "/feeds/all.atom",
        &[("If-None-Match", "\"something-else\"")],
    );
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, first.body);

    let gzip = get(
        served.addr,
        "/feeds/all.atom",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&gzip.body[..])
        .read_to_end(&mut inflated)
        .unwrap();
    assert_eq!(inflated, first.body);
    let brotli = get(
        served.addr,
        "/feeds/all.atom",
        &[("Accept-Encoding", "gzip, deflate, br")],
    );
    assert_eq!(brotli.header("content-encoding"), Some("br"));
    assert!(brotli.body.len() < first.body.len() / 2);
    let mut decoded = Vec::new();
    brotli::Decompressor::new(&brotli.body[..], 4096)
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, first.body);
    // A compressed copy revalidates too: its ETag names the same content.
    let br_etag = brotli.header("etag").unwrap().to_owned();
    assert_ne!(br_etag, etag);
    let revalidated = get(
        served.addr,
        "/feeds/all.atom",
        &[("If-None-Match", &br_etag), ("Accept-Encoding", "br")],
    );
    assert_eq!(revalidated.status, 304);

    let head = request(served.addr, "HEAD", "/feeds/all.atom", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(first.body.len().to_string().as_str())
    );
    assert_eq!(head.header("etag"), Some(etag.as_str()));
}

#[test]
fn fetch_and_retag_invalidate_exactly_the_changed_feeds() {
    let setup = setup();
    let served = Served::start(&setup.config);
    let politik = served.get("/feeds/politik.atom");
    let smart = served.get("/feeds/smart-city.atom");
    let politik_again = served.get("/feeds/politik.atom");
    assert_eq!(politik_again.header("x-kurator-cache"), Some("hit"));

    // Upstream publishes a new council item; another process fetches it.
    setup.upstream.route(
        "/presse.xml",
        Behaviour::ok(
            "application/rss+xml",
            PRESSE.replace("</channel>", NEW_ITEM),
        ),
    );
    let output = run_kurator(&setup.config, &["fetch"]);
    assert!(output.status.success());
    let mut fresh = None;
    eventually("the new item in the politik feed", || {
        let response = served.get("/feeds/politik.atom");
        let found = response.text().contains("neuen Bürgermeister");
        fresh = Some(response);
        found
    });
    let fresh = fresh.unwrap();
    assert_ne!(fresh.header("etag"), politik.header("etag"));
    let old_etag = politik.header("etag").unwrap();
    assert_eq!(
        get(
            served.addr,
            "/feeds/politik.atom",
            &[("If-None-Match", old_etag)]
        )
        .status,
        200,
        "a reader holding the old version gets the new one"
    );
    let smart_after = served.get("/feeds/smart-city.atom");
    assert_eq!(
        smart_after.header("x-kurator-cache"),
        Some("hit"),
        "smart-city did not change"
    );
    assert_eq!(smart_after.header("etag"), smart.header("etag"));

    // A rule change applied by `kurator retag` reaches the served feed.
    let topics = TOPICS.replace(
        "'\"smart city\" OR sensor*'",
        "'\"smart city\" OR sensor* OR stadtfest OR strassenfest'",
    );
    write_config(setup.dir.path(), &setup.upstream, &topics);
    let output = run_kurator(&setup.config, &["retag"]);
    assert!(output.status.success());
    eventually("the retagged item in the smart-city feed", || {
        served
            .get("/feeds/smart-city.atom")
            .text()
            .contains("Straßenfest")
    });
    assert_eq!(
        served.get("/feeds/politik.atom").header("x-kurator-cache"),
        Some("hit"),
        "retag left politik alone"
    );
}

#[test]
fn ids_are_stable_across_server_processes() {
    let setup = setup();
    let first: Vec<Vec<String>> = {
        let served = Served::start(&setup.config);
        let ids = ["rss", "atom", "json"]
            .iter()
            .map(|f| entry_ids(&served.get(&format!("/feeds/all.{f}")).body))
            .collect();
        served.stop();
        ids
    };
    assert_eq!(first[0].len(), 3);
    assert!(
        first.iter().all(|ids| ids == &first[0]),
        "one id in every format"
    );
    let output = run_kurator(&setup.config, &["fetch", "--force"]);
    assert!(output.status.success());
    let served = Served::start(&setup.config);
    let second: Vec<Vec<String>> = ["rss", "atom", "json"]
        .iter()
        .map(|f| entry_ids(&served.get(&format!("/feeds/all.{f}")).body))
        .collect();
    assert_eq!(first, second);
}

#[test]
fn search_feeds_use_the_rule_language() {
    let setup = setup();
    let served = Served::start(&setup.config);
    let titles = |target: &str| -> Vec<String> {
        let response = served.get(target);
        assert_eq!(response.status, 200, "{target}: {}", response.text());
        feed_rs::parser::parse(&response.body[..])
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.title.unwrap().content)
            .collect()
    };
    assert_eq!(titles("/search.atom?q=strassenfest"), ["Straßenfest"]);
    assert_eq!(
        titles("/search.rss?q=B%C3%9CRGERINNEN"),
        ["Gemeinderat beschließt Haushalt für 2027"],
        "folded: BÜRGERINNEN"
    );
    assert_eq!(
        titles("/search.json?q=k%C3%B6nigstr*+OR+title:stra%C3%9Fenfest"),
        ["Straßenfest", "Smart City: Sensoren in der Königstraße"]
    );
    assert_eq!(
        titles("/search.json?q=tag:politik"),
        ["Gemeinderat beschließt Haushalt für 2027"]
    );
    assert_eq!(
        titles("/search.atom?q=source:musterhausen&limit=1").len(),
        1
    );
    assert!(titles("/search.atom?q=%22haushalt+2027%22+-gemeinderat").is_empty());
    let atom = served.get("/search.atom?q=sensor*");
    let path = setup.dir.path().join("search.atom");
    std::fs::write(&path, &atom.body).unwrap();
    validate_atom(&path).unwrap();
    assert!(atom.text().contains(
        "<link rel=\"self\" type=\"application/atom+xml\" href=\"https://feeds.example.de/search.atom?q=sensor*\"/>"
    ));
}

#[test]
fn bad_requests_get_clear_errors() {
    let setup = setup();
    let served = Served::start(&setup.config);
    let expect = |target: &str, status: u16, needle: &str| {
        let response = served.get(target);
        assert_eq!(response.status, status, "{target}: {}", response.text());
        assert!(
            response.text().contains(needle),
            "{target}: {:?} lacks {needle:?}",
            response.text()
        );
    };
    expect(
        "/feeds/sport.atom",
        404,
        "no topic `sport`; valid: politik, smart-city, all",
    );
    expect(
        "/feeds/politik.xml",
        404,
        "feeds end in .rss, .atom or .json",
    );
    expect("/feeds/politik", 404, "feeds end in .rss, .atom or .json");
    expect("/nowhere", 404, "slugs: politik, smart-city, all");
    expect(
        "/search.atom?q=(gemeinderat",
        400,
        "expected ) to close the ( at column 1",
    );
    expect(
        "/search.atom?q=%22smart",
        400,
        "error in the rule at column",
    );
    expect("/search.atom", 400, "add the rule to search for as ?q=");
    expect(
        "/feeds/all.atom?limit=0",
        400,
        "`limit` must be a whole number from 1 to 500, not `0`",
    );
    expect("/feeds/all.atom?limit=501", 400, "not `501`");
    expect("/feeds/all.atom?limit=viele", 400, "not `viele`");
    let long_rule = "a".repeat(600);
    expect(
        &format!("/search.atom?q={long_rule}"),
        400,
        "`q` is 600 characters long; at most 500",
    );
    let long_uri = format!("/feeds/all.atom?x={}", "b".repeat(5000));
    expect(&long_uri, 414, "at most 4096 are served");
    let post = request(
        served.addr,
        "POST",
        "/feeds/all.atom",
        &[("Content-Length", "0")],
    );
    assert_eq!(post.status, 405);
    let huge_header = "c".repeat(20_000);
    let response = get(
        served.addr,
        "/feeds/all.atom",
        &[("X-Padding", &huge_header)],
    );
    assert_eq!(response.status, 431, "headers beyond the cap are refused");
    // After all of that the server is fine.
    expect("/healthz", 200, "ok");
}

#[test]
fn front_page_and_opml_subscribe_to_every_topic() {
    let setup = setup();
    let served = Served::start(&setup.config);
    let page = served.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    for slug in ["politik", "smart-city", "all"] {
        for (format, media) in [
            ("rss", "application/rss+xml"),
            ("atom", "application/atom+xml"),
            ("json", "application/feed+json"),
        ] {
            let link = format!(
                "<link rel=\"alternate\" type=\"{media}\" title=\"{}",
                if slug == "all" {
                    "Alle Meldungen"
                } else if slug == "politik" {
                    "Politik"
                } else {
                    "Smart City"
                }
            );
            assert!(html.contains(&link), "{link}");
            let href = format!("href=\"https://feeds.example.de/feeds/{slug}.{format}\"");
            assert!(html.contains(&href), "{href}");
        }
    }
    assert!(html.contains("Gemeinderat beschließt Haushalt für 2027"));
    assert!(!html.contains("<script"));

    let opml = served.get("/opml");
    assert_eq!(opml.status, 200);
    let path = setup.dir.path().join("kurator.opml");
    std::fs::write(&path, &opml.body).unwrap();
    if Tool::Xmllint.available_for("checking that /opml is well-formed XML") {
        let lint = Command::new("xmllint")
            .arg("--noout")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            lint.status.success(),
            "{}",
            String::from_utf8_lossy(&lint.stderr)
        );
    }
    let text = opml.text();
    for slug in ["politik", "smart-city", "all"] {
        assert!(
            text.contains(&format!(
                "xmlUrl=\"https://feeds.example.de/feeds/{slug}.rss\""
            )),
            "{text}"
        );
    }
    assert!(text.contains("text=\"Politik\""));
    let conditional = get(
        served.addr,
        "/opml",
        &[("If-None-Match", opml.header("etag").unwrap())],
    );
    assert_eq!(conditional.status, 304);
}

#[test]
fn slow_clients_cannot_hold_the_server() {
    let setup = setup();
    let served = Served::start(&setup.config);
    // Twice as many stalled connections as the server serves at once
    // (max_connections = 4): half send part of a request, half nothing.
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|n| {
            let addr = served.addr;
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                if n % 2 == 0 {
                    stream
                        .write_all(b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\n")
                        .unwrap();
                }
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let mut buffer = Vec::new();
                // The server closes the connection (perhaps after a 408)
                // rather than leaving it to our read timeout.
                let closed = stream.read_to_end(&mut buffer);
                assert!(
                    closed.is_ok()
                        || closed
                            .as_ref()
                            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
                    "{closed:?}"
                );
                assert!(
                    buffer.is_empty()
                        || String::from_utf8_lossy(&buffer).starts_with("HTTP/1.1 408"),
                    "{:?}",
                    String::from_utf8_lossy(&buffer)
                );
                started.elapsed()
            })
        })
        .collect();
    let mut closed_after: Vec<Duration> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    closed_after.sort();
    // One client holds at most half of max_connections = 4: each further
    // connection closes its longest-idle one at once (or is refused when
    // both it holds are busy reading a request), and header_timeout = 1s
    // closes the rest. At most two are left to the timeout; which two, and
    // whether one of them was shed as well, depends on the order the
    // threads' connections and partial requests reach the server.
    let at_once = closed_after
        .iter()
        .filter(|d| **d < Duration::from_millis(500))
        .count();
    assert!(at_once >= 6, "{closed_after:?}");
    assert!(closed_after[7] < Duration::from_secs(3), "{closed_after:?}");
    // And the server is free again.
    assert_eq!(served.get("/feeds/politik.atom").status, 200);
    assert_eq!(served.get("/healthz").status, 200);
}

/// newsboat, a real terminal feed reader, subscribes over HTTP, reads RSS
/// and Atom, keeps the German titles intact, and a second reload (with the
/// validators it stored) adds nothing.
#[test]
fn newsboat_reads_the_feeds_and_reloads_without_duplicates() {
    if !Tool::Newsboat.available_for("newsboat_reads_the_feeds_and_reloads_without_duplicates") {
        return;
    }
    let setup = setup();
    let served = Served::start(&setup.config);
    let home = setup.dir.path().join("newsboat");
    std::fs::create_dir_all(&home).unwrap();
    let urls = home.join("urls");
    std::fs::write(
        &urls,
        format!(
            "http://{0}/feeds/politik.rss\nhttp://{0}/feeds/smart-city.atom\n",
            served.addr
        ),
    )
    .unwrap();
    let settings = home.join("config");
    std::fs::write(&settings, "").unwrap();
    let cache = home.join("cache.db");
    let reload = || {
        let output = Command::new("newsboat")
            .env("HOME", &home)
            .arg("-u")
            .arg(&urls)
            .arg("-C")
            .arg(&settings)
            .arg("-c")
            .arg(&cache)
            .args(["-x", "reload", "print-unread"])
            .output()
            .expect("newsboat is needed for this test: apt-get install newsboat");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(reload(), "2 unread articles");
    assert_eq!(reload(), "2 unread articles", "a reload adds no duplicates");
    let db = rusqlite::Connection::open(&cache).unwrap();
    let mut titles: Vec<(String, String)> = db
        .prepare("SELECT feedurl, title FROM rss_item ORDER BY title")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    titles.iter_mut().for_each(|(url, _)| {
        *url = url.rsplit('/').next().unwrap().to_owned();
    });
    assert_eq!(
        titles,
        [
            (
                "politik.rss".to_owned(),
                "Gemeinderat beschließt Haushalt für 2027".to_owned()
            ),
            (
                "smart-city.atom".to_owned(),
                "Smart City: Sensoren in der Königstraße".to_owned()
            ),
        ]
    );
    // newsboat kept our validators, so its reloads can be answered with 304.
    let etags: Vec<String> = db
        .prepare("SELECT etag FROM rss_feed ORDER BY rssurl")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // (newsboat asks for gzip, and the gzip copy has an ETag of its own.)
    let politik = get(
        served.addr,
        "/feeds/politik.rss",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(etags[0], politik.header("etag").unwrap());
}

/// Reads one response off a keep-alive connection (by its Content-Length),
/// `chunk` bytes at a time with a pause between reads: a reader slower than
/// the server, so that the socket fills and the server's sends come back
/// partial and have to go on from where they stopped.
fn read_response(stream: &mut TcpStream, head_only: bool, chunk: usize) -> Response {
    let mut raw = Vec::new();
    let mut byte = [0u8];
    while !raw.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("a response head");
        raw.push(byte[0]);
    }
    let response = support::http::parse(&raw, true);
    let length: usize = response
        .header("content-length")
        .expect("a content length")
        .parse()
        .unwrap();
    if !head_only {
        let mut buffer = vec![0u8; chunk];
        while raw.len() < response_end(&raw) + length {
            let want = chunk.min(response_end(&raw) + length - raw.len());
            stream
                .read_exact(&mut buffer[..want])
                .expect("the whole body");
            raw.extend_from_slice(&buffer[..want]);
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    support::http::parse(&raw, head_only)
}

/// A connection whose receive buffer is a few KB (set before connecting, so
/// the advertised window stays small): a megabyte cannot go out in one send.
fn small_window_connection(addr: SocketAddr) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType, connect, socket, sockopt};
    let socket = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    sockopt::set_socket_recv_buffer_size(&socket, 8192).unwrap();
    connect(&socket, &addr).unwrap();
    TcpStream::from(socket)
}

fn response_end(raw: &[u8]) -> usize {
    raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4
}

/// Large feeds are sent from the kernel's page cache (`sendfile`); whatever
/// the path, every byte must arrive, in order, on a connection that goes on
/// being used, also when the reader is slow.
#[test]
fn large_feeds_arrive_whole_over_keep_alive_and_to_slow_readers() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = TestServer::start();
    // Larger than the most a socket buffers (tcp_wmem: 4 MiB), so that the
    // kernel takes it in several sends.
    let items: String = (0..500)
        .map(|n| {
            let text = format!(
                "Der Gemeinderat berät Vorlage {n} über den Haushalt des Jahres {}. ",
                2000 + n
            )
            .repeat(130);
            format!(
                "<item><title>Vorlage {n}</title><link>https://www.musterhausen.de/v/{n}</link>\
                 <guid>v{n}</guid><description>{text}</description>\
                 <pubDate>Mon, 13 Apr 2026 10:{:02}:{:02} +0200</pubDate></item>",
                n / 60,
                n % 60
            )
        })
        .collect();
    let feed = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>Ratsinformation</title>{items}</channel></rss>"
    );
    upstream.route("/presse.xml", Behaviour::ok("application/rss+xml", feed));
    let config = write_config(dir.path(), &upstream, TOPICS);
    assert!(run_kurator(&config, &["fetch"]).status.success());
    let expected = run_kurator(
        &config,
        &["render", "politik", "--format", "atom", "--limit", "500"],
    )
    .stdout;
    assert!(expected.len() > 4_500_000, "{} bytes", expected.len());

    let served = Served::start(&config);
    let mut stream = small_window_connection(served.addr);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let ask = |stream: &mut TcpStream, method: &str, target: &str, coding: &str| {
        let head =
            format!("{method} {target} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {coding}\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
    };
    let target = "/feeds/politik.atom?limit=500";
    // The first request renders (a cache miss), then the same bytes again
    // from the cache: to a slow reader, a fast one, after a HEAD, and
    // compressed, all on one connection.
    for (method, coding, chunk) in [
        ("GET", "identity", 4096),
        ("GET", "identity", 4096),
        ("GET", "identity", 1 << 20),
        ("HEAD", "identity", 4096),
        ("GET", "gzip", 4096),
        ("GET", "identity", 65536),
    ] {
        ask(&mut stream, method, target, coding);
        let response = read_response(&mut stream, method == "HEAD", chunk);
        assert_eq!(response.status, 200, "{method} {coding}");
        let body = if coding == "gzip" {
            assert_eq!(response.header("content-encoding"), Some("gzip"));
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&response.body[..])
                .read_to_end(&mut plain)
                .unwrap();
            plain
        } else {
            response.body
        };
        if method == "HEAD" {
            assert!(body.is_empty());
        } else {
            assert!(
                body == expected,
                "{method} {coding} {chunk}: the body differs"
            );
        }
    }
}
