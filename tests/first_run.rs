//! The first hour with Kurator, through the real binary and sources on
//! loopback: a fresh database, feeds whose items are older than
//! `keep_days`, a source that fails; what `kurator fetch`, `kurator
//! status`, the daemon's log and its front page say about them.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::process::Running;
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
    let err = String::from_utf8_lossy(&fetched.stderr);
    assert!(
        err.contains(&format!(
            "created database {} (schema version ",
            dir.path().join("kurator.db").display()
        )),
        "{err}"
    );
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
/// A feed dated now, so that it is kept whatever day the tests run.
fn fresh_feed() -> String {
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Stadt Musterhausen</title>
<item><title>Gemeinderat beschließt Digitalstrategie</title><link>https://www.musterhausen.de/p/1</link><guid>p1</guid><pubDate>{now}</pubDate></item>
</channel></rss>"#
    )
}

fn eventually(what: &str, running: &Running, check: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check(&running.log_text()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            running.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_daemons_first_run_explains_itself() {
    let upstream = TestServer::start();
    upstream.route(
        "/presse.xml",
        Behaviour::ok("application/rss+xml", fresh_feed()),
    );
    upstream.route(
        "/archiv.xml",
        Behaviour::ok("application/rss+xml", OLD_FEED),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "schedule = \"* * * * * *\"\njitter = \"0s\"",
        &[
            ("presse", upstream.url("/presse.xml")),
            ("archiv", upstream.url("/archiv.xml")),
            ("kaputt", upstream.url("/gibt-es-nicht.xml")),
        ],
    );
    let daemon = Running::start(&config, "run", "polling ");
    eventually("the first round's summary", &daemon, |log| {
        log.contains("3 sources:")
    });
    let log = daemon.log_text();
    let db = dir.path().join("kurator.db");
    assert_eq!(
        log.matches(&format!("created database {}", db.display()))
            .count(),
        1,
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "created database {} (schema version ",
            db.display()
        )),
        "{log}"
    );
    assert!(!log.contains("migrated"), "{log}");
    assert!(
        log.contains("3 sources: 2 ok, 1 error — kurator status"),
        "{log}"
    );
    assert!(
        log.contains("archiv: fetched: 0 new, 0 updated, 0 unchanged, skipped 3 older than 365 days (keep_days)"),
        "{log}"
    );

    let page = daemon.get("/");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(
        html.contains("href=\"http://") && html.contains("/sources\""),
        "{html}"
    );
    for title in ["Quelle presse", "Quelle archiv", "Quelle kaputt"] {
        assert!(html.contains(title), "{title} missing:\n{html}");
    }
    assert!(html.contains("404"), "the error is shown:\n{html}");
    assert!(html.contains("Fehler"), "{html}");
    daemon.stop();
}
