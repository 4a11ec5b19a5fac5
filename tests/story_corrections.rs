//! An editor corrects stories: `kurator split` takes a report out of its
//! story for good, `kurator join` merges two. Real sources on loopback, the
//! real binary and database; the corrections hold through fetching again,
//! `kurator retag`, `kurator prune` and a running daemon, and entry ids
//! stay as readers saw them.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kurator::store::Store;
use support::process::Running;
use support::run_kurator;
use support::server::{Behaviour, TestServer};

const GLASFASER: &str = "https://www.darmstadt.de/nachrichten/glasfaser-eberstadt";

fn rfc822_hours_ago(hours: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now - hours * 3600))
        .replace("GMT", "+0000")
}

/// An RSS feed of (guid, title, link, summary, hours ago).
fn rss(reports: &[(&str, &str, &str, &str, u64)]) -> String {
    let mut items = String::new();
    for (guid, title, link, summary, hours) in reports {
        items.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>{}</link>\
             <description><![CDATA[{summary}]]></description><pubDate>{}</pubDate></item>",
            link.replace('&', "&amp;"),
            rfc822_hours_ago(*hours)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <link>https://example.org/</link><description>d</description>{items}</channel></rss>"
    )
}

const K21_ARTICLE: &str = "https://www.kommune21.de/meldung_41234.html";

const K21_GLASFASER: (&str, &str, &str, &str, u64) = (
    "k21-1",
    "Eberstadt bekommt Glasfaser",
    K21_ARTICLE,
    "Rund 4.200 Haushalte werden angeschlossen, wie die Stadt \
     <a href=\"https://www.darmstadt.de/nachrichten/glasfaser-eberstadt?utm_source=k21\">mitteilt</a>.",
    20,
);

const ECHO_GLASFASER: (&str, &str, &str, &str, u64) = (
    "echo-1",
    "Schnelles Netz für Eberstadt",
    "https://www.echo-online.de/lokales/schnelles-netz-1234",
    "Die Bagger rollen, wie die Stadt <a href=\"https://www.darmstadt.de/nachrichten/glasfaser-eberstadt\">mitteilt</a>.",
    10,
);

/// The city's Glasfaser release (the story's first report, 30 hours old)
/// and a Kita notice; Kommune21 and the Echo link to the release.
fn serve_sources() -> TestServer {
    let server = TestServer::start();
    let stadt = rss(&[
        (
            "stadt-1",
            "Glasfaserausbau in Eberstadt startet",
            GLASFASER,
            "Die Stadt und die Entega starten den Glasfaserausbau in Eberstadt.",
            30,
        ),
        (
            "stadt-2",
            "Neue Kita in Arheilgen eröffnet",
            "https://www.darmstadt.de/nachrichten/kita-arheilgen",
            "Die Kita bietet 90 Plätze.",
            28,
        ),
    ]);
    server.route("/stadt.xml", Behaviour::ok("application/rss+xml", stadt));
    server.route(
        "/kommune21.xml",
        Behaviour::ok("application/rss+xml", rss(&[K21_GLASFASER])),
    );
    server.route(
        "/echo.xml",
        Behaviour::ok("application/rss+xml", rss(&[ECHO_GLASFASER])),
    );
    server
}

fn write_config(dir: &Path, server: &TestServer, extra: &str) -> PathBuf {
    let text = format!(
        "{extra}[storage]\npath = \"kurator.db\"\n[fetch]\nhost_delay = \"0s\"\n\
         [[topic]]\nslug = \"digitalisierung\"\ntitle = \"Digitalisierung\"\nmatch = 'glasfaser* OR netz*'\n\
         [[topic]]\nslug = \"kinder\"\ntitle = \"Kinder\"\nmatch = 'kita*'\n\
         [[source]]\nid = \"stadt\"\ntitle = \"Stadt Darmstadt\"\nurl = \"{}\"\npriority = 10\n\
         [[source]]\nid = \"kommune21\"\ntitle = \"Kommune21\"\nurl = \"{}\"\n\
         [[source]]\nid = \"echo\"\ntitle = \"Darmstädter Echo\"\nurl = \"{}\"\n",
        server.url("/stadt.xml"),
        server.url("/kommune21.xml"),
        server.url("/echo.xml"),
    );
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn kurator(config: &Path, args: &[&str]) -> String {
    let output = run_kurator(config, args);
    assert!(
        output.status.success(),
        "kurator {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// One feed entry: its title and the sources of the other reports listed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    title: String,
    also: Vec<String>,
    /// The uids of the other reports.
    also_uids: Vec<String>,
}

/// The entries of a JSON feed by their uid (the id without the URN).
fn entries(json: &str) -> BTreeMap<String, Shown> {
    let feed: serde_json::Value = serde_json::from_str(json).unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let others = item["_kurator"]["also_reported_by"].as_array().unwrap();
            let field = |name: &str| -> Vec<String> {
                others
                    .iter()
                    .map(|r| r.pointer(name).unwrap().as_str().unwrap().to_owned())
                    .collect()
            };
            let shown = Shown {
                title: item["title"].as_str().unwrap().to_owned(),
                also: field("/source/id"),
                also_uids: field("/uid"),
            };
            (item["_kurator"]["uid"].as_str().unwrap().to_owned(), shown)
        })
        .collect()
}

fn render_all(config: &Path, feed: &str) -> BTreeMap<String, Shown> {
    entries(&kurator(config, &["render", feed, "--format", "json"]))
}

/// The entry id showing `title`.
fn id_of(feed: &BTreeMap<String, Shown>, title: &str) -> String {
    feed.iter()
        .find(|(_, shown)| shown.title == title)
        .unwrap_or_else(|| panic!("{title} in {feed:#?}"))
        .0
        .clone()
}

fn versions(dir: &Path) -> BTreeMap<String, i64> {
    let store = Store::open(&dir.join("kurator.db")).unwrap();
    store
        .feed_versions()
        .unwrap()
        .into_iter()
        .map(|(feed, version)| (feed, version.version))
        .collect()
}

#[test]
fn a_story_split_off_its_first_report_keeps_its_entry_and_the_report_never_rejoins() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_sources();
    let config = write_config(dir.path(), &server, "");
    // The city first: its release is the story's first report.
    kurator(&config, &["fetch", "stadt"]);
    kurator(&config, &["fetch"]);
    let before = render_all(&config, "all");
    assert_eq!(before.len(), 2, "{before:#?}");
    let story = id_of(&before, "Glasfaserausbau in Eberstadt startet");
    let kita = id_of(&before, "Neue Kita in Arheilgen eröffnet");
    assert_eq!(before[&story].also, ["kommune21", "echo"]);

    // The city's release is the story's first report: its uid is the
    // story's entry id, which is what the editor has at hand.
    let versions_before = versions(dir.path());
    let said = kurator(&config, &["split", &format!("urn:uuid:{story}")]);
    assert!(said.contains("out of its story for good"), "{said}");
    let versions_after = versions(dir.path());
    for feed in ["all", "digitalisierung"] {
        assert_eq!(
            versions_after[feed],
            versions_before[feed] + 1,
            "{feed} moves"
        );
    }
    assert_eq!(versions_after["kinder"], versions_before["kinder"]);

    let expect_split = |feed: &BTreeMap<String, Shown>| {
        assert_eq!(feed.len(), 3, "{feed:#?}");
        // The story keeps its id, now shown by Kommune21's report.
        assert_eq!(feed[&story].title, "Eberstadt bekommt Glasfaser");
        assert_eq!(feed[&story].also, ["echo"]);
        let release = id_of(feed, "Glasfaserausbau in Eberstadt startet");
        assert!(feed[&release].also.is_empty(), "alone: {feed:#?}");
        assert!(release != story && release != kita);
        assert_eq!(feed[&kita].title, "Neue Kita in Arheilgen eröffnet");
        release
    };
    let release = expect_split(&render_all(&config, "all"));
    let digital = render_all(&config, "digitalisierung");
    assert_eq!(digital.keys().collect::<Vec<_>>().len(), 2, "{digital:#?}");

    let explained = kurator(&config, &["explain", &story]);
    assert!(explained.contains("split by an editor on"), "{explained}");
    assert!(explained.contains("story: alone"), "{explained}");
    // The release's new entry id names it too.
    let explained = kurator(&config, &["explain", &release]);
    assert!(explained.contains("split by an editor on"), "{explained}");
    assert!(
        explained.contains(&format!("entry id   {release}")),
        "{explained}"
    );

    // Fetching everything again, retagging: nothing changes.
    kurator(&config, &["fetch", "--force"]);
    assert_eq!(expect_split(&render_all(&config, "all")), release);
    kurator(&config, &["retag"]);
    assert_eq!(expect_split(&render_all(&config, "all")), release);

    // Pruning the release (30 hours old) and the Kita notice: the story
    // stays under its id, and a fetch does not bring the release back.
    let config = write_config(dir.path(), &server, "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("[storage]\n", "[storage]\nkeep_days = 1\n"),
    )
    .unwrap();
    let said = kurator(&config, &["prune"]);
    assert!(said.contains('2'), "{said}");
    kurator(&config, &["fetch", "--force"]);
    let after = render_all(&config, "all");
    assert_eq!(after.keys().collect::<Vec<_>>(), [&story], "{after:#?}");
    assert_eq!(after[&story].also, ["echo"]);
}

#[test]
fn a_join_makes_one_entry_under_the_first_story_s_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_sources();
    let config = write_config(dir.path(), &server, "");
    kurator(&config, &["fetch", "stadt"]);
    kurator(&config, &["fetch"]);
    let before = render_all(&config, "all");
    let story = id_of(&before, "Glasfaserausbau in Eberstadt startet");
    let kita = id_of(&before, "Neue Kita in Arheilgen eröffnet");

    // What an editor gets wrong is said, with what to do.
    let output = run_kurator(&config, &["split", "kita-arheilgen"]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("no item `kita-arheilgen`"), "{said}");
    assert!(said.contains("`kurator clusters` lists stories"), "{said}");
    let output = run_kurator(&config, &["split", &kita]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("nothing to split"), "{said}");

    let versions_before = versions(dir.path());
    kurator(&config, &["join", &story, &kita]);
    let versions_after = versions(dir.path());
    for feed in ["all", "digitalisierung", "kinder"] {
        assert_eq!(
            versions_after[feed],
            versions_before[feed] + 1,
            "{feed} moves"
        );
    }
    let output = run_kurator(&config, &["join", &kita, &story]);
    assert_eq!(output.status.code(), Some(2));

    let expect_joined = |config: &Path| {
        for feed in ["all", "kinder", "digitalisierung"] {
            let shown = render_all(config, feed);
            assert_eq!(
                shown.keys().collect::<Vec<_>>(),
                [&story],
                "{feed}: {shown:#?}"
            );
            assert_eq!(shown[&story].also, ["stadt", "kommune21", "echo"]);
        }
    };
    expect_joined(&config);
    let explained = kurator(&config, &["explain", &kita]);
    assert!(explained.contains("joined by an editor on"), "{explained}");
    assert!(explained.contains("4 reports"), "{explained}");

    kurator(&config, &["fetch", "--force"]);
    expect_joined(&config);
    kurator(&config, &["retag"]);
    expect_joined(&config);
    kurator(&config, &["prune"]);
    expect_joined(&config);
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_running_daemon_serves_a_split_at_once_and_groups_later_reports_as_corrected() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_sources();
    let config = write_config(dir.path(), &server, "[server]\nlisten = \"127.0.0.1:0\"\n");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        // Every second, with the default host delay (`host_delay = "0s"`
        // with a schedule of every second made the daemon poll nonstop).
        text.replace(
            "host_delay = \"0s\"\n",
            "schedule = \"* * * * * *\"\njitter = \"0s\"\n",
        ),
    )
    .unwrap();
    let daemon = Running::start(&config, "run", "polling ");
    let served = || entries(&daemon.get("/feeds/all.json").text());
    // Which report is first depends on which source answered first.
    eventually("every source fetched", || {
        let shown = served();
        shown.len() == 2 && shown.values().any(|s| s.also.len() == 2)
    });
    let shown = served();
    let story = id_of(&shown, "Glasfaserausbau in Eberstadt startet");
    let at = shown[&story]
        .also
        .iter()
        .position(|s| s == "kommune21")
        .unwrap();
    let kommune21 = shown[&story].also_uids[at].clone();

    kurator(&config, &["split", &kommune21]);
    eventually("the split served", || served().len() == 3);
    let shown = served();
    assert_eq!(shown[&story].also, ["echo"], "{shown:#?}");
    let split_off = id_of(&shown, "Eberstadt bekommt Glasfaser");

    // The Echo links Kommune21's article under a headline of its own: it
    // would group with the split report only (the same link), which is
    // held apart, in the daemon too.
    let follow_up = (
        "echo-2",
        "Kurz notiert aus der Region",
        K21_ARTICLE,
        "Weitere Meldungen aus dem Landkreis.",
        1,
    );
    server.route(
        "/echo.xml",
        Behaviour::ok("application/rss+xml", rss(&[ECHO_GLASFASER, follow_up])),
    );
    eventually("the follow-up", || served().len() == 4);
    let shown = served();
    assert!(shown[&split_off].also.is_empty(), "{shown:#?}");
    assert_eq!(shown[&story].also, ["echo"], "{shown:#?}");
    let follow_up = id_of(&shown, "Kurz notiert aus der Region");
    assert!(shown[&follow_up].also.is_empty(), "{shown:#?}");
    daemon.stop();
}
