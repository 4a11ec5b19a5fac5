//! `kurator run` as ops run it: the real binary, real sources on loopback,
//! schedules of a second, signals.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::http::get;
use support::process::Running;
use support::server::{Behaviour, RecordedRequest, TestServer};

const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Stadt Musterhausen</title><link>https://www.musterhausen.de/</link>
<item><title>Gemeinderat beschließt Digitalstrategie</title><link>https://www.musterhausen.de/p/1</link><guid>p1</guid>
<description>Die Stadt wird digital.</description><pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate></item>
</channel></rss>"#;

/// Starts `kurator run`; it prints its address once the port is bound.
fn start_daemon(config: &Path) -> Running {
    Running::start(config, "run", "polling ")
}

fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_config(dir: &Path, sources: &[(&str, String)], extra_fetch: &str) -> PathBuf {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[fetch]\nschedule = \"* * * * * *\"\njitter = \"0s\"\n{extra_fetch}\n\n\
         [[topic]]\nslug = \"politik\"\ntitle = \"Politik\"\nmatch = 'gemeinderat'\n\n"
    );
    for (id, url) in sources {
        text.push_str(&format!("[[source]]\nid = \"{id}\"\nurl = \"{url}\"\n\n"));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Seconds between consecutive requests.
fn gaps(requests: &[(Instant, RecordedRequest)]) -> Vec<f64> {
    requests
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).as_secs_f64())
        .collect()
}

/// The test server records requests without times; this samples them.
struct Timeline {
    seen: Vec<(Instant, RecordedRequest)>,
}

impl Timeline {
    fn new() -> Timeline {
        Timeline { seen: Vec::new() }
    }

    /// Takes the requests that arrived since the last call, stamped now.
    fn sample(&mut self, server: &TestServer) {
        let all = server.requests();
        let now = Instant::now();
        for request in all.into_iter().skip(self.seen.len()) {
            self.seen.push((now, request));
        }
    }

    fn of(&self, path: &str) -> Vec<(Instant, RecordedRequest)> {
        self.seen
            .iter()
            .filter(|(_, r)| r.path_without_query() == path)
            .cloned()
            .collect()
    }
}

#[test]
fn run_polls_on_schedule_backs_off_honours_retry_after_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = TestServer::start();
    upstream.route(
        "/presse.xml",
        Behaviour::conditional(FEED, "\"v1\"", "Mon, 13 Apr 2026 08:00:00 GMT"),
    );
    upstream.route(
        "/busy.xml",
        Behaviour::RetryAfter {
            status: 429,
            retry_after: "4".into(),
        },
    );
    upstream.route("/broken.xml", Behaviour::status(500));
    let config = write_config(
        dir.path(),
        &[
            ("presse", upstream.url("/presse.xml")),
            ("busy", upstream.url("/busy.xml")),
            ("broken", upstream.url("/broken.xml")),
        ],
        "host_delay = \"100ms\"",
    );
    let daemon = start_daemon(&config);
    let mut timeline = Timeline::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(9) {
        timeline.sample(&upstream);
        std::thread::sleep(Duration::from_millis(20));
    }

    // The feed is polled every second, conditionally after the first time.
    let presse = timeline.of("/presse.xml");
    assert!(presse.len() >= 6, "polled {} times in 9 s", presse.len());
    assert!(presse[0].1.header("if-none-match").is_none());
    for (_, request) in &presse[1..] {
        assert_eq!(request.header("if-none-match"), Some("\"v1\""));
    }
    // What was fetched is served by the same process.
    let feed = get(daemon.addr, "/feeds/politik.atom", &[]);
    assert_eq!(feed.status, 200);
    assert!(
        feed.text()
            .contains("Gemeinderat beschließt Digitalstrategie")
    );

    // 429 with Retry-After: 4 s: not asked again sooner.
    let busy = timeline.of("/busy.xml");
    assert!(busy.len() >= 2, "{} requests", busy.len());
    for gap in gaps(&busy) {
        assert!(gap >= 3.9, "Retry-After ignored: {:?}", gaps(&busy));
    }
    // 500s: each error doubles the wait (2 s, 4 s, …), counted in whole
    // seconds from the second of the last attempt.
    let broken = timeline.of("/broken.xml");
    let broken_gaps = gaps(&broken);
    assert!(broken.len() >= 2 && broken.len() <= 4, "{broken_gaps:?}");
    assert!(broken_gaps[0] >= 1.0, "{broken_gaps:?}");
    if let Some(second) = broken_gaps.get(1) {
        assert!(*second >= 3.0, "{broken_gaps:?}");
    }
    let log = daemon.stop();
    assert!(log.contains("stopping"), "{log}");
    assert!(
        log.contains("source=\"broken\""),
        "failures name the source:\n{log}"
    );

    // Closed cleanly: the database is whole and has the item once.
    let store = kurator::store::Store::open(&dir.path().join("kurator.db")).unwrap();
    let check: String = store
        .connection()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(store.item_count(Some("presse")).unwrap(), 1);
    let state = store.source_state("broken").unwrap().unwrap();
    assert!(state.consecutive_errors >= 2);
}

#[test]
fn sighup_applies_a_good_config_and_keeps_running_on_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = TestServer::start();
    upstream.route("/a.xml", Behaviour::ok("application/rss+xml", FEED));
    upstream.route("/b.xml", Behaviour::ok("application/rss+xml", FEED));
    let one = [("stadt-a", upstream.url("/a.xml"))];
    let config = write_config(dir.path(), &one, "host_delay = \"0s\"");
    let daemon = start_daemon(&config);
    eventually("the first poll", Duration::from_secs(10), || {
        !upstream.requests_for("/a.xml").is_empty()
    });
    assert!(upstream.requests_for("/b.xml").is_empty());

    // A good config: a new source is polled, a removed one no longer.
    write_config(
        dir.path(),
        &[("stadt-b", upstream.url("/b.xml"))],
        "host_delay = \"0s\"",
    );
    daemon.signal("HUP");
    eventually("the new source's poll", Duration::from_secs(10), || {
        !upstream.requests_for("/b.xml").is_empty()
    });
    eventually("the reload is logged", Duration::from_secs(5), || {
        daemon.log_contains("configuration reloaded")
    });
    std::thread::sleep(Duration::from_millis(1500));
    let a_before = upstream.requests_for("/a.xml").len();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        upstream.requests_for("/a.xml").len(),
        a_before,
        "a removed source is not polled"
    );

    // A bad config: logged with its line, ignored; polling goes on.
    std::fs::write(
        &config,
        "[fetch]\nschedule = \"every minute\"\n[[source]]\nid = \"stadt-b\"\nurl = \"x\"\n",
    )
    .unwrap();
    daemon.signal("HUP");
    eventually("the rejection is logged", Duration::from_secs(5), || {
        daemon.log_contains("still running on the old one")
    });
    assert!(
        daemon.log_contains("feeds.toml:2:"),
        "{}",
        daemon.log_text()
    );
    let b_before = upstream.requests_for("/b.xml").len();
    eventually("polling goes on", Duration::from_secs(5), || {
        upstream.requests_for("/b.xml").len() > b_before + 1
    });
    daemon.stop();
}
