//! Credentials in a source URL (`user:pass@`, `?token=`) are used to fetch,
//! and shown nowhere: not in the topic feeds, `/sources`, `/sources.json`,
//! `kurator status`, error messages, hints or the log.

mod support;

use support::process::Running;
use support::run_kurator;
use support::server::{Behaviour, TestServer};

const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Intranet Musterhausen</title>
<item><title>Gemeinderat tagt</title><link>https://www.musterhausen.de/p/1</link><guid>p1</guid>
<description>Tagesordnung.</description><pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate></item>
</channel></rss>"#;

/// Every secret in the config below contains this word.
const SECRET: &str = "geheim";

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.to_lowercase().contains(SECRET),
        "{what} shows a secret:\n{text}"
    );
}

#[test]
fn credentials_in_source_urls_are_shown_nowhere() {
    let upstream = TestServer::start();
    upstream.route("/feed.xml", Behaviour::ok("application/rss+xml", FEED));
    upstream.route("/broken.xml", Behaviour::status(500));
    upstream.route(
        "/moved.xml",
        Behaviour::Redirect {
            status: 301,
            location: upstream.url("/feed.xml?page=2&access_token=tok-geheim"),
        },
    );
    let with_user = upstream
        .url("/feed.xml?token=abc-geheim&page=1")
        .replace("http://", "http://user-geheim:pw-geheim@");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n\
             [[source]]\nid = \"intranet\"\nurl = \"{with_user}\"\n\n\
             [[source]]\nid = \"kaputt\"\nurl = \"{}\"\n\n\
             [[source]]\nid = \"umgezogen\"\nurl = \"{}\"\n\n\
             [[topic]]\nslug = \"politik\"\nmatch = 'gemeinderat'\n",
            upstream.url("/broken.xml?api_key=key-geheim"),
            upstream.url("/moved.xml?Signature=sig-geheim"),
        ),
    )
    .unwrap();

    // The real URL is what is fetched: user info as Basic auth, the token in the query.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kurator"))
        .arg("-c")
        .arg(&config)
        .arg("fetch")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let fetched = upstream.requests_for("/feed.xml");
    assert!(
        fetched
            .iter()
            .any(|r| r.path.contains("token=abc-geheim") && r.header("authorization").is_some()),
        "{fetched:?}"
    );
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(shown.contains("500"), "the failure is reported: {shown}");
    assert!(
        shown.contains("moved permanently"),
        "the move is reported: {shown}"
    );
    assert_no_secret("kurator fetch", &shown);

    let status = run_kurator(&config, &["status"]);
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(status_text.contains("intranet"), "{status_text}");
    assert!(status_text.contains("127.0.0.1"), "{status_text}");
    assert_no_secret("kurator status", &status_text);

    for format in ["rss", "atom", "json"] {
        let rendered = run_kurator(&config, &["render", "all", "--format", format]);
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("Gemeinderat tagt"), "{format}: {text}");
        assert!(text.contains("/feed.xml?token=***"), "{format}: {text}");
        assert_no_secret(format, &text);
    }

    let server = Running::start_with_env(&config, "serve", "serving ", &[("RUST_LOG", "debug")]);
    for target in [
        "/sources.json",
        "/sources",
        "/feeds/all.atom",
        "/feeds/politik.json",
    ] {
        let response = server.get(target);
        assert_eq!(response.status, 200, "{target}");
        assert_no_secret(target, &response.text());
    }
    assert!(server.get("/sources.json").text().contains("intranet"));
    assert_no_secret("kurator serve (log)", &server.stop());
}
