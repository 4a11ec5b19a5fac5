//! The first hour with Kurator, through the real binary and sources on
//! loopback: a fresh database, feeds whose items are older than
//! `keep_days`, a source that fails; what `kurator fetch`, `kurator
//! status`, the daemon's log and its front page say about them.

mod support;

use std::path::{Path, PathBuf};

use support::run_kurator;
use support::server::{Behaviour, TestServer};

/// A feed whose three items are years old: older than the default
/// `keep_days` (365).
const OLD_FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Archiv Musterhausen</title>
<item><title>Haushalt 2019 beschlossen</title><link>https://www.musterhausen.de/a/1</link><guid>a1</guid><pubDate>Mon, 14 Jan 2019 10:00:00 +0100</pubDate></item>
<item><title>Stadtfest 2019</title><link>https://www.musterhausen.de/a/2</link><guid>a2</guid><pubDate>Tue, 15 Jan 2019 10:00:00 +0100</pubDate></item>
<item><title>Neue Bücherei eröffnet</title><link>https://www.musterhausen.de/a/3</link><guid>a3</guid><pubDate>Wed, 16 Jan 2019 10:00:00 +0100</pubDate></item>
</channel></rss>"#;

fn write_config(dir: &Path, fetch: &str, sources: &[(&str, String)]) -> PathBuf {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[fetch]\n{fetch}\n\n\
         [[topic]]\nslug = \"politik\"\ntitle = \"Politik\"\nmatch = 'gemeinderat'\n\n"
    );
    for (id, url) in sources {
        text.push_str(&format!(
            "[[source]]\nid = \"{id}\"\ntitle = \"Quelle {id}\"\nurl = \"{url}\"\n\n"
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn items_older_than_keep_days_are_counted_as_skipped_not_unchanged() {
    let upstream = TestServer::start();
    upstream.route(
        "/archiv.xml",
        Behaviour::ok("application/rss+xml", OLD_FEED),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &[("archiv", upstream.url("/archiv.xml"))]);

    let fetched = run_kurator(&config, &["fetch"]);
    let out = stdout_of(&fetched);
    assert!(fetched.status.success(), "{out}");
    assert!(
        out.contains("new 0, updated 0, unchanged 0, skipped 3 older than 365 days (keep_days)"),
        "{out}"
    );

    let status = run_kurator(&config, &["status"]);
    let out = stdout_of(&status);
    assert!(
        status.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(
        out.contains("archiv: skipped 3 older than 365 days (keep_days) at the last fetch"),
        "{out}"
    );
    let json = run_kurator(&config, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["sources"][0]["skipped_old"], 3);
    assert_eq!(json["sources"][0]["items"], 0, "nothing was stored");

    // An unchanged body reads no items: the last count stands. With a
    // longer keep_days the items are new.
    let config = write_config(dir.path(), "", &[("archiv", upstream.url("/archiv.xml"))]);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("[storage]\nkeep_days = 0\n\n{text}")).unwrap();
    let fetched = run_kurator(&config, &["fetch", "--force"]);
    let out = stdout_of(&fetched);
    assert!(out.contains("new 3, updated 0, unchanged 0"), "{out}");
    assert!(!out.contains("skipped"), "{out}");
    let status = stdout_of(&run_kurator(&config, &["status"]));
    assert!(!status.contains("skipped"), "{status}");
}
