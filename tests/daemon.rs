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

const POLITIK: &str =
    "[[topic]]\nslug = \"politik\"\ntitle = \"Politik\"\nmatch = 'gemeinderat'\n\n";

fn write_config(dir: &Path, sources: &[(&str, String)], extra_fetch: &str) -> PathBuf {
    write_config_with_topics(dir, sources, extra_fetch, POLITIK)
}

fn write_config_with_topics(
    dir: &Path,
    sources: &[(&str, String)],
    extra_fetch: &str,
    topics: &str,
) -> PathBuf {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[fetch]\nschedule = \"* * * * * *\"\njitter = \"0s\"\n{extra_fetch}\n\n{topics}"
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
    // A publisher that asks to slow down, with a second feed on the same host.
    let busy_host = TestServer::start();
    busy_host.route(
        "/busy.xml",
        Behaviour::RetryAfter {
            status: 429,
            retry_after: "4".into(),
        },
    );
    busy_host.route(
        "/nachbar.xml",
        Behaviour::ok("application/rss+xml", FEED.replace("/p/1", "/p/9")),
    );
    upstream.route("/broken.xml", Behaviour::status(500));
    upstream.route(
        "/max-age.xml",
        Behaviour::Feed {
            status: 200,
            content_type: "application/rss+xml".into(),
            body: FEED.replace("/p/1", "/p/2").into_bytes(),
            etag: None,
            last_modified: None,
            extra_headers: vec![("Cache-Control".into(), "public, max-age=3".into())],
            gzip: false,
        },
    );
    upstream.route(
        "/ttl.xml",
        Behaviour::ok(
            "application/rss+xml",
            FEED.replace("<channel>", "<channel><ttl>1</ttl>")
                .replace("/p/1", "/p/3"),
        ),
    );
    let config = write_config(
        dir.path(),
        &[
            ("presse", upstream.url("/presse.xml")),
            ("busy", busy_host.url("/busy.xml")),
            ("nachbar", busy_host.url("/nachbar.xml")),
            ("broken", upstream.url("/broken.xml")),
            ("max-age", upstream.url("/max-age.xml")),
            ("ttl", upstream.url("/ttl.xml")),
        ],
        "host_delay = \"100ms\"",
    );
    let daemon = start_daemon(&config);
    let mut timeline = Timeline::new();
    let mut busy_timeline = Timeline::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(9) {
        timeline.sample(&upstream);
        busy_timeline.sample(&busy_host);
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
    let busy = busy_timeline.of("/busy.xml");
    assert!(busy.len() >= 2, "{} requests", busy.len());
    for gap in gaps(&busy) {
        assert!(gap >= 3.9, "Retry-After ignored: {:?}", gaps(&busy));
    }
    // Nor is any other source on that host: the whole host waits.
    let nachbar = busy_timeline.of("/nachbar.xml");
    for (asked, _) in &nachbar {
        for (refused, _) in &busy {
            let after = asked.saturating_duration_since(*refused).as_secs_f64();
            assert!(
                !(0.1..3.9).contains(&after),
                "the host's Retry-After ignored: nachbar asked {after:.1} s after the 429"
            );
        }
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
    // Cache-Control: max-age=3 and <ttl>1</ttl> (a minute) ask for longer
    // than the schedule's second: honoured.
    let max_age = timeline.of("/max-age.xml");
    assert!(max_age.len() >= 2, "{} requests", max_age.len());
    for gap in gaps(&max_age) {
        assert!(gap >= 2.5, "max-age ignored: {:?}", gaps(&max_age));
    }
    assert_eq!(timeline.of("/ttl.xml").len(), 1, "<ttl> ignored");
    assert_eq!(get(daemon.addr, "/healthz", &[]).status, 200);

    // /sources.json and /sources: per source what happened and what is next.
    let status = daemon.get("/sources.json");
    assert_eq!(status.status, 200);
    assert_eq!(status.header("content-type"), Some("application/json"));
    let document: serde_json::Value = serde_json::from_slice(&status.body).unwrap();
    let source = |id: &str| {
        document["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {document}"))
            .clone()
    };
    let presse = source("presse");
    assert_eq!(presse["outcome"], "not modified", "{presse}");
    assert_eq!(presse["items"], 1);
    assert!(presse["next_fetch"].is_string() && presse["last_fetch"].is_string());
    let broken = source("broken");
    assert_eq!(broken["outcome"], "error");
    assert_eq!(broken["http_status"], 500);
    assert!(broken["consecutive_errors"].as_u64().unwrap() >= 2);
    assert!(
        broken["error"].as_str().unwrap().contains("HTTP 500"),
        "{broken}"
    );
    let busy = source("busy");
    assert_eq!(busy["http_status"], 429);
    assert!(busy["retry_after"].is_string() || busy["next_fetch"].is_string());
    let page = daemon.get("/sources");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<code>broken</code>") && page.text().contains("HTTP 500"));

    // /metrics, as Prometheus scrapes it; a 304 round trip is counted.
    let etag = feed.header("etag").unwrap().to_owned();
    let again = get(
        daemon.addr,
        "/feeds/politik.atom",
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    let metrics = daemon.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    assert_eq!(
        value("kurator_fetches_total{source=\"presse\",outcome=\"stored\"}"),
        1.0
    );
    assert!(value("kurator_fetches_total{source=\"presse\",outcome=\"not_modified\"}") >= 4.0);
    assert!(value("kurator_fetches_total{source=\"broken\",outcome=\"failed\"}") >= 2.0);
    assert_eq!(
        value("kurator_items_ingested_total{source=\"presse\"}"),
        1.0
    );
    assert!(value("kurator_fetch_duration_seconds_count") >= 10.0);
    assert!(value("kurator_source_last_success_timestamp_seconds{source=\"presse\"}") > 1.7e9);
    assert!(value("kurator_source_consecutive_errors{source=\"broken\"}") >= 2.0);
    assert_eq!(value("kurator_feed_requests_total"), 2.0);
    assert_eq!(value("kurator_feed_not_modified_total"), 1.0);
    assert!(value("kurator_database_size_bytes") > 10_000.0);

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

    // `kurator status` tells the same from the database.
    let output = support::run_kurator(&config, &["status"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8_lossy(&output.stdout);
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("SOURCE") && header.contains("NEXT FETCH"),
        "{table}"
    );
    let row = table.lines().find(|l| l.starts_with("broken ")).unwrap();
    assert!(row.contains("error (500)"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("broken: HTTP 500")),
        "{table}"
    );
    let row = table.lines().find(|l| l.starts_with("presse ")).unwrap();
    assert!(
        row.contains("not modified (304)") && row.trim_end().ends_with(" 1"),
        "{table}"
    );
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

    assert_eq!(daemon.get("/feeds/digital.atom").status, 404);

    // A good config: a new source is polled, a removed one no longer, and a
    // new topic shows the items already stored.
    let topics = format!(
        "{POLITIK}[[topic]]\nslug = \"digital\"\ntitle = \"Digitales\"\nmatch = 'digital*'\n\n"
    );
    write_config_with_topics(
        dir.path(),
        &[("stadt-b", upstream.url("/b.xml"))],
        "host_delay = \"0s\"\nuser_agent = \"Kurator-Test/2\"",
        &topics,
    );
    daemon.signal("HUP");
    eventually("the new source's poll", Duration::from_secs(10), || {
        !upstream.requests_for("/b.xml").is_empty()
    });
    eventually("the reload is logged", Duration::from_secs(5), || {
        daemon.log_contains("configuration reloaded")
    });
    // What only a restart applies is named, by its key.
    assert!(
        daemon.log_contains("user_agent changed: that takes effect at the next restart"),
        "{}",
        daemon.log_text()
    );
    eventually("the retag", Duration::from_secs(10), || {
        daemon.log_contains("retagged stored items")
    });
    let digital = daemon.get("/feeds/digital.atom");
    assert_eq!(digital.status, 200);
    assert!(
        digital
            .text()
            .contains("Gemeinderat beschließt Digitalstrategie")
    );
    assert!(daemon.get("/opml").text().contains("Digitales"));
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

/// Messages the daemon sends to a `NOTIFY_SOCKET` of the test's own.
struct NotifySocket {
    messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl NotifySocket {
    fn bind(path: &Path) -> NotifySocket {
        let socket = std::os::unix::net::UnixDatagram::bind(path).unwrap();
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let received = messages.clone();
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buffer) {
                let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                received.lock().unwrap().push(text);
            }
        });
        NotifySocket { messages }
    }

    fn all(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Messages from index `from` on.
    fn since(&self, from: usize) -> Vec<String> {
        self.all().into_iter().skip(from).collect()
    }

    fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }
}

/// The position of the first message at or after `from` with `line` as one
/// of its lines.
fn find(messages: &[String], from: usize, line: &str) -> Option<usize> {
    (from..messages.len()).find(|&i| messages[i].lines().any(|l| l == line))
}

#[test]
fn systemd_is_told_ready_reloading_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = TestServer::start();
    upstream.route("/a.xml", Behaviour::ok("application/rss+xml", FEED));
    upstream.route("/b.xml", Behaviour::ok("application/rss+xml", FEED));
    let config = write_config(dir.path(), &[("stadt-a", upstream.url("/a.xml"))], "");
    let socket_path = dir.path().join("notify.sock");
    let socket = NotifySocket::bind(&socket_path);
    let daemon = Running::start_with_env(
        &config,
        "run",
        "polling ",
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );

    // READY once the port is bound (the start line is printed first), with a status.
    eventually("READY=1", Duration::from_secs(5), || {
        find(&socket.all(), 0, "READY=1").is_some()
    });
    let ready = &socket.all()[find(&socket.all(), 0, "READY=1").unwrap()];
    assert!(ready.contains("STATUS=1 source(s), 0 failing; "), "{ready}");
    // The watchdog is pinged at half of WATCHDOG_USEC while healthy.
    let before = socket.count();
    std::thread::sleep(Duration::from_millis(2600));
    let pings = socket
        .since(before)
        .iter()
        .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
        .count();
    assert!(
        (3..=7).contains(&pings),
        "{pings} pings in 2.6 s: {:?}",
        socket.all()
    );

    // A good reload: RELOADING=1 with MONOTONIC_USEC, then READY=1.
    write_config(
        dir.path(),
        &[
            ("stadt-a", upstream.url("/a.xml")),
            ("stadt-b", upstream.url("/b.xml")),
        ],
        "",
    );
    let before = socket.count();
    daemon.signal("HUP");
    eventually("READY=1 after the reload", Duration::from_secs(5), || {
        let all = socket.all();
        find(&all, before, "RELOADING=1").is_some_and(|r| find(&all, r + 1, "READY=1").is_some())
    });
    let all = socket.all();
    let reloading = &all[find(&all, before, "RELOADING=1").unwrap()];
    let usec = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC with RELOADING=1: {reloading:?}"));
    assert!(usec.parse::<u64>().unwrap() > 0);
    let ready = &all[find(&all, before, "READY=1").unwrap()];
    assert!(ready.contains("STATUS=2 source(s)"), "{ready}");

    // A bad reload: the same sequence, and the old configuration stays.
    std::fs::write(&config, "[fetch\n").unwrap();
    let before = socket.count();
    daemon.signal("HUP");
    eventually(
        "READY=1 after the bad reload",
        Duration::from_secs(5),
        || {
            let all = socket.all();
            find(&all, before, "RELOADING=1")
                .is_some_and(|r| find(&all, r + 1, "READY=1").is_some())
        },
    );
    assert!(daemon.log_contains("still running on the old one"));
    let all = socket.all();
    let ready = &all[find(&all, before, "READY=1").unwrap()];
    assert!(ready.contains("STATUS=2 source(s)"), "{ready}");

    // A topic nested 6,000 deep: rejected at its column, not a stack overflow.
    let rejections = || {
        daemon
            .log_text()
            .matches("still running on the old one")
            .count()
    };
    let before = rejections();
    write_config_with_topics(
        dir.path(),
        &[("stadt-b", upstream.url("/b.xml"))],
        "host_delay = \"0s\"",
        &format!(
            "[[topic]]\nslug = \"tief\"\nmatch = '{}a'\n",
            "(".repeat(6_000)
        ),
    );
    daemon.signal("HUP");
    eventually("the deep rule is rejected", Duration::from_secs(5), || {
        rejections() > before
    });
    assert!(daemon.log_contains("the rule nests ( and NOT more than 32 deep"));
    assert_eq!(daemon.get("/healthz").status, 200);

    // SIGTERM: STOPPING=1, exit 0.
    let before = socket.count();
    daemon.stop();
    let after = socket.since(before);
    assert!(
        after.iter().any(|m| m.lines().any(|l| l == "STOPPING=1")),
        "{after:?}"
    );
}
