//! Story grouping as a subscriber meets it: the real German reports of
//! `tests/dedup/real.toml` served as one RSS feed per outlet on loopback,
//! fetched into a fresh database with the shipped `[dedup]` defaults, and
//! judged on the `all` JSON feed (an entry's report plus its
//! `also_reported_by` are one story). Pairs of reports from different
//! outlets published within the window are the positives; every pair of
//! reports in one entry is a grouped pair.
//!
//! The same reports fetched with the outlets in the opposite order must end
//! in the same stories.
//!
//! `cargo test --release --test dedup_real_feeds -- --nocapture` prints the
//! figures BENCHMARKS.md reports.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use kurator::links::canonical_link;
use support::labelled;
use support::run_kurator;
use support::server::{Behaviour, TestServer};

/// One measured report.
struct Known {
    story: usize,
    outlet: String,
    published: i64,
}

/// `[dedup] window_days` as shipped.
const WINDOW_SECS: i64 = 7 * 86_400;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The measured reports by canonical link, and each outlet's RSS feed.
fn load(name: &str) -> (HashMap<String, Known>, Vec<(String, String)>) {
    let set = labelled::read(name);
    let mut known = HashMap::new();
    let mut items: HashMap<String, String> = HashMap::new();
    for (story, reports) in set.story.iter().enumerate() {
        for report in reports.report.iter().filter(|r| !r.skip) {
            let published = chrono::DateTime::parse_from_rfc3339(&report.published).unwrap();
            items
                .entry(report.source.clone())
                .or_default()
                .push_str(&format!(
                    "<item><guid isPermaLink=\"false\">{}</guid><title>{}</title><link>{}</link>\
                 <description>{}</description><pubDate>{}</pubDate></item>",
                    escape(&report.link),
                    escape(&report.title),
                    escape(&report.link),
                    escape(&report.summary),
                    published.to_rfc2822()
                ));
            known.insert(
                canonical_link(&report.link),
                Known {
                    story,
                    outlet: report.source.clone(),
                    published: published.timestamp(),
                },
            );
        }
    }
    let mut feeds: Vec<(String, String)> = items
        .into_iter()
        .map(|(outlet, items)| {
            let rss = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
                 <title>{outlet}</title><link>https://example.org/</link><description>d</description>\
                 {items}</channel></rss>"
            );
            (outlet, rss)
        })
        .collect();
    feeds.sort();
    (known, feeds)
}

/// A config with every outlet as a source, in `order`; items are kept
/// whatever their age (the reports span ten years), grouping as shipped,
/// one fetch at a time so the order holds.
fn write_config(dir: &Path, server: &TestServer, outlets: &[&str]) -> PathBuf {
    let mut text = String::from(
        "[storage]\npath = \"kurator.db\"\nkeep_days = 0\n\
         [fetch]\nhost_delay = \"0s\"\nconcurrency = 1\n",
    );
    for (n, outlet) in outlets.iter().enumerate() {
        text.push_str(&format!(
            "[[source]]\nid = \"outlet-{n}\"\ntitle = \"{outlet}\"\nurl = \"{}\"\n",
            server.url(&format!("/{outlet}.xml"))
        ));
    }
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The stories of the `all` feed, each as its reports' canonical links.
fn stories(config: &Path) -> Vec<BTreeSet<String>> {
    let output = run_kurator(config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run_kurator(
        config,
        &["render", "all", "--format", "json", "--limit", "500"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let feed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let mut links = BTreeSet::from([item["url"].as_str().unwrap().to_owned()]);
            for also in item["_kurator"]["also_reported_by"].as_array().unwrap() {
                links.insert(also["url"].as_str().unwrap().to_owned());
            }
            links
        })
        .collect()
}

struct Figures {
    grouped: usize,
    right: usize,
    positives: usize,
    found: usize,
}

fn judge(known: &HashMap<String, Known>, stories: &[BTreeSet<String>]) -> Figures {
    let mut story_of: HashMap<&str, usize> = HashMap::new();
    for (n, links) in stories.iter().enumerate() {
        for link in links {
            assert!(known.contains_key(link), "an entry links {link}, no report");
            story_of.insert(link, n);
        }
    }
    assert_eq!(
        story_of.len(),
        known.len(),
        "every report is in the feed once"
    );
    let mut figures = Figures {
        grouped: 0,
        right: 0,
        positives: 0,
        found: 0,
    };
    let reports: Vec<(&String, &Known)> = known.iter().collect();
    for (i, (link_a, a)) in reports.iter().enumerate() {
        for (link_b, b) in &reports[i + 1..] {
            let same_story = a.story == b.story;
            let grouped = story_of[link_a.as_str()] == story_of[link_b.as_str()];
            if grouped {
                figures.grouped += 1;
                figures.right += usize::from(same_story);
            }
            if same_story
                && a.outlet != b.outlet
                && (a.published - b.published).abs() <= WINDOW_SECS
            {
                figures.positives += 1;
                figures.found += usize::from(grouped);
            }
        }
    }
    figures
}

/// What the shipped defaults reached on 2026-12-06, over three runs:
/// precision 0.740–0.743, recall 0.832–0.947, and 8–9 stories differing
/// with the opposite order; with background weights, GeoNames places,
/// reports a day apart counting less, headline nouns compared and stories
/// merged by a report of both, 0.901 / 0.885, and no story differing; with
/// compound parts that are words and a preview against its outcome as
/// evidence, 0.971 / 0.885; with a headline's words for what happened read
/// as their concept, 0.990 / 0.867. The test holds the targets of the issue on
/// grouping precision.
const PRECISION_FLOOR: f64 = 0.97;
const RECALL_FLOOR: f64 = 0.85;

/// A loopback server with each outlet's feed at `/OUTLET.xml`.
fn serve(feeds: &[(String, String)]) -> TestServer {
    let server = TestServer::start();
    for (outlet, rss) in feeds {
        server.route(
            &format!("/{outlet}.xml"),
            Behaviour::ok("application/rss+xml", rss.clone()),
        );
    }
    server
}

/// A labelled set served as one feed per outlet and fetched into fresh
/// databases in both orders, as a subscriber would: precision and recall of
/// the `all` feed's stories, with the stories that differ by order.
struct Served {
    precision: f64,
    recall: f64,
    positives: usize,
    differ: usize,
    /// The configuration of the forward run (its database is kept).
    config: PathBuf,
    _dir: tempfile::TempDir,
    _server: TestServer,
}

fn serve_and_judge(name: &str) -> Served {
    let (known, feeds) = load(name);
    let server = serve(&feeds);
    let outlets: Vec<&str> = feeds.iter().map(|(outlet, _)| outlet.as_str()).collect();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir.path().join("forward"), &server, &outlets);
    let forward = stories(&config);
    let reversed: Vec<&str> = outlets.iter().rev().copied().collect();
    let backward = stories(&write_config(
        &dir.path().join("backward"),
        &server,
        &reversed,
    ));

    let figures = judge(&known, &forward);
    let precision = figures.right as f64 / figures.grouped.max(1) as f64;
    let recall = figures.found as f64 / figures.positives.max(1) as f64;
    let forward_set: BTreeSet<&BTreeSet<String>> = forward.iter().collect();
    let differ = backward
        .iter()
        .filter(|story| !forward_set.contains(story))
        .inspect(|story| println!("  only in the opposite order: {story:?}"))
        .count();
    let backward_set: BTreeSet<&BTreeSet<String>> = backward.iter().collect();
    for story in forward.iter().filter(|story| !backward_set.contains(story)) {
        println!("  only in the first order: {story:?}");
    }
    println!(
        "{name} as {} feeds, {} reports: {} entries; precision {precision:.3} ({} of {} grouped pairs), \
         recall {recall:.3} ({} of {} same-story pairs within the window); \
         fetched in the opposite order, {differ} stories differ",
        feeds.len(),
        known.len(),
        forward.len(),
        figures.right,
        figures.grouped,
        figures.found,
        figures.positives,
    );
    Served {
        precision,
        recall,
        positives: figures.positives,
        differ,
        config,
        _dir: dir,
        _server: server,
    }
}

#[test]
fn real_reports_served_as_feeds_group_into_their_stories_in_any_order() {
    let served = serve_and_judge("real.toml");
    // `explain` names a preview against its outcome on both sides: the
    // report of a possible bomb and the all-clear hours later.
    let output = run_kurator(
        &served.config,
        &[
            "explain",
            "https://www.radiokoeln.de/artikel/moegliche-weltkriegsbombe-in-riehl-1960247.html",
        ],
    );
    let explained = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{explained}");
    assert!(explained.contains("story: alone"), "{explained}");
    assert!(
        explained.contains(
            "one headline looks ahead, the other tells the outcome (looks ahead / tells the outcome)"
        ),
        "{explained}"
    );
    assert!(served.positives >= 100, "{} positives", served.positives);
    assert_eq!(
        served.differ, 0,
        "the order of the sources changed the stories"
    );
    assert!(
        served.precision >= PRECISION_FLOOR && served.recall >= RECALL_FLOOR,
        "precision {:.3}, recall {:.3}",
        served.precision,
        served.recall
    );
}

/// `real-holdout.toml` served the same way: news the grouping was not
/// tuned on (see `tests/dedup_quality.rs` for its figures and what they
/// say). Held at what was reached: 0.787 / 0.797.
#[test]
fn real_reports_held_out_from_tuning_group_the_same_in_any_order() {
    let served = serve_and_judge("real-holdout.toml");
    assert!(served.positives >= 60, "{} positives", served.positives);
    assert_eq!(
        served.differ, 0,
        "the order of the sources changed the stories"
    );
    assert!(
        served.precision >= 0.78 && served.recall >= 0.79,
        "precision {:.3}, recall {:.3}",
        served.precision,
        served.recall
    );
}

/// `lookalikes.toml`: stories told by three trade-press sources, and six
/// other events in one story's pattern (the same service elsewhere, another
/// service in the same city, the same chamber deciding another law),
/// fetched into a fresh database in both orders: no look-alike joins a
/// story, and every story's reports are one entry.
#[test]
fn look_alike_events_stay_apart_and_each_story_is_one_entry() {
    let (known, feeds) = load("lookalikes.toml");
    let server = serve(&feeds);
    let outlets: Vec<&str> = feeds.iter().map(|(outlet, _)| outlet.as_str()).collect();
    let reversed: Vec<&str> = outlets.iter().rev().copied().collect();
    let dir = tempfile::tempdir().unwrap();
    let mut by_order = Vec::new();
    for (name, order) in [("forward", &outlets), ("backward", &reversed)] {
        let config = write_config(&dir.path().join(name), &server, order);
        let stories = stories(&config);
        let figures = judge(&known, &stories);
        println!(
            "lookalikes.toml, {name}: {} entries; {} of {} grouped pairs right, {} of {} same-story pairs grouped",
            stories.len(),
            figures.right,
            figures.grouped,
            figures.found,
            figures.positives
        );
        for story in &stories {
            let events: BTreeSet<usize> = story.iter().map(|link| known[link].story).collect();
            assert_eq!(
                events.len(),
                1,
                "{name}: one entry holds two events: {story:?}"
            );
        }
        assert_eq!(
            figures.found, figures.positives,
            "{name}: a story's reports are in several entries: {stories:#?}"
        );
        let mut stories = stories;
        stories.sort();
        by_order.push(stories);
        // `explain` names the evidence on both sides.
        let output = run_kurator(
            &config,
            &[
                "explain",
                "https://egovernment.example/kiel-wlan-innenstadt",
            ],
        );
        let explained = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{explained}");
        assert!(explained.contains("story: alone"), "{explained}");
        assert!(
            explained.contains("headline words differ (innenstadt / bussen)"),
            "{explained}"
        );
    }
    assert_eq!(by_order[0], by_order[1], "the order changed the stories");
}
