//! Tagging throughput (issue 3): items per second of `Tagger::topics`, the
//! call ingest makes for every item (HTML summary and content included),
//! against the 20 municipal / e-government topics of
//! `tests/topics-municipal.toml`, on one thread, and on as many threads as
//! there are cores (`compiled×2` here), each tagging its share of the items
//! as concurrent fetches do in ingest.
//!
//! ```text
//! cargo bench --bench tagging
//! KURATOR_BENCH_RUNS=3 KURATOR_BENCH_FEEDS=50 cargo bench --bench tagging   # smoke run
//! ```
//!
//! Two item sets, both parsed and normalized by kurator itself, as ingest
//! would store them:
//! * `municipal`: the synthetic German municipal news of `benches/ingest.rs`
//!   (`KURATOR_BENCH_FEEDS` feeds × 35 items, default 200 feeds);
//! * `german`: the real German captures of the test corpus (heise, Golem,
//!   laut.de, anime2you, SPIEGEL), repeated to at least 5,000 items.
//!
//! Each set is timed on the compiled path (`Tagger::topics`) and on the
//! general path it replaced (`TopicSet::tag` on `Tagger::document`, which
//! `kurator query` and `kurator explain` still use), each also against the
//! three shipped topics; runs are interleaved, and every item is checked to
//! get the same topics on both paths first.
//!
//! Environment: `KURATOR_BENCH_RUNS` (default 9), `KURATOR_BENCH_FEEDS`
//! (default 200), `KURATOR_BENCH_ONLY` (`compiled` or `general`: one path only,
//! for profilers; it also skips the agreement check, which would swamp a profile).

// The synthetic corpus generator, and mimalloc as the global allocator (as
// `kurator` itself uses).
#[allow(dead_code)]
#[path = "ingest.rs"]
mod ingest;

use std::path::Path;
use std::time::{Duration, Instant};

use kurator::config::Config;
use kurator::normalize::Item;
use kurator::rules::TopicSet;
use kurator::tag::Tagger;

use ingest::{env_usize, thousands};

const DEFAULT_RUNS: usize = 9;
const DEFAULT_FEEDS: usize = 200;
const GERMAN_MIN_ITEMS: usize = 5_000;

/// The real German feeds of the test corpus (`tests/corpus/`).
const GERMAN_FILES: &[&str] = &[
    "real/rbren__rss-parser/heise.atom",
    "real/miniflux__v2/encoding_ISO-8859-1.xml",
    "real/spacecowboy__Feeder/golem-de.xml",
    "real/spacecowboy__Feeder/rss_golem_2.xml",
    "real/spacecowboy__Feeder/rss_anime2you.xml",
    "real/laminas__laminas-feed/laut.de-rdf.xml",
    "feed-rs/fixture/rss2/rss_2.0_spiegel.xml",
];

/// Source ids and tags, in turn: some items come from a source whose tags
/// the `tag:` terms see.
const SOURCES: &[(&str, &[&str])] = &[
    ("kommune21", &["fachpresse", "digitalisierung"]),
    ("stadt-presse", &[]),
    ("egovernment", &["fachpresse"]),
];

/// Items to tag, with the index of their source in [`SOURCES`].
struct ItemSet {
    name: &'static str,
    items: Vec<(usize, Item)>,
}

impl ItemSet {
    /// Average bytes of title, summary and content (HTML as stored).
    fn average_size(&self) -> usize {
        let total: usize = self
            .items
            .iter()
            .map(|(_, i)| {
                i.title.len()
                    + i.summary.as_ref().map_or(0, String::len)
                    + i.content.as_ref().map_or(0, String::len)
            })
            .sum();
        total / self.items.len().max(1)
    }
}

fn parse_items(bytes: Vec<u8>, content_type: Option<&str>, url: &url::Url) -> Vec<Item> {
    let untagged = TopicSet::default();
    let tagger = Tagger {
        topics: &untagged,
        source_id: "bench",
        source_tags: &[],
    };
    kurator::ingest::process(&tagger, bytes, content_type, url, ingest::NOW)
        .map(|p| p.items)
        .expect("the bench corpus parses")
        .into_iter()
        .map(|identified| identified.item)
        .collect()
}

fn municipal(feeds: usize) -> ItemSet {
    let mut items = Vec::new();
    for (index, feed) in ingest::make_corpus(feeds).into_iter().enumerate() {
        let parsed = parse_items(feed.bytes, feed.content_type, &feed.url);
        items.extend(parsed.into_iter().map(|item| (index % SOURCES.len(), item)));
    }
    ItemSet {
        name: "municipal",
        items,
    }
}

fn german() -> ItemSet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let url = url::Url::parse("https://www.example.de/feed.xml").unwrap();
    let mut once = Vec::new();
    for (index, file) in GERMAN_FILES.iter().enumerate() {
        let bytes = std::fs::read(root.join(file))
            .unwrap_or_else(|err| panic!("{}: {err}", root.join(file).display()));
        let parsed = parse_items(bytes, None, &url);
        once.extend(parsed.into_iter().map(|item| (index % SOURCES.len(), item)));
    }
    assert!(!once.is_empty(), "no German items in the corpus");
    let mut items = Vec::new();
    while items.len() < GERMAN_MIN_ITEMS {
        items.extend(once.iter().cloned());
    }
    ItemSet {
        name: "german",
        items,
    }
}

fn load_topics(file: &str) -> TopicSet {
    Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .unwrap_or_else(|err| panic!("{file}: {err}"))
        .topics
}

fn tagger<'a>(topics: &'a TopicSet, source: usize, tags: &'a [Vec<String>]) -> Tagger<'a> {
    Tagger {
        topics,
        source_id: SOURCES[source].0,
        source_tags: &tags[source],
    }
}

/// Tags every item once; returns the time and the number of topic matches.
fn run(
    set: &ItemSet,
    topics: &TopicSet,
    tags: &[Vec<String>],
    compiled: bool,
) -> (Duration, usize) {
    run_items(&set.items, topics, tags, compiled)
}

fn run_items(
    items: &[(usize, Item)],
    topics: &TopicSet,
    tags: &[Vec<String>],
    compiled: bool,
) -> (Duration, usize) {
    let mut matched = 0;
    let start = Instant::now();
    for (source, item) in items {
        let tagger = tagger(topics, *source, tags);
        let found = if compiled {
            tagger.topics(item.into())
        } else {
            let mut document = tagger.document(item.into());
            topics
                .tag(&mut document)
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        matched += std::hint::black_box(found).len();
    }
    (start.elapsed(), matched)
}

/// Tags every item once on `threads` threads, each taking an equal share of
/// the items (as concurrent fetches tag their items in ingest); the wall time.
fn run_threads(
    set: &ItemSet,
    topics: &TopicSet,
    tags: &[Vec<String>],
    compiled: bool,
    threads: usize,
) -> Duration {
    if threads == 1 {
        return run(set, topics, tags, compiled).0;
    }
    let share = set.items.len().div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for items in set.items.chunks(share) {
            scope.spawn(move || run_items(items, topics, tags, compiled));
        }
    });
    start.elapsed()
}

fn check_agreement(set: &ItemSet, topics: &TopicSet, tags: &[Vec<String>]) {
    for (source, item) in &set.items {
        let tagger = tagger(topics, *source, tags);
        let mut document = tagger.document(item.into());
        let general: Vec<String> = topics
            .tag(&mut document)
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            tagger.topics(item.into()),
            general,
            "{}: the compiled path disagrees on {:?}",
            set.name,
            item.title
        );
    }
}

fn main() {
    let runs = env_usize("KURATOR_BENCH_RUNS", DEFAULT_RUNS).max(1);
    let feeds = env_usize("KURATOR_BENCH_FEEDS", DEFAULT_FEEDS).max(1);
    let only = std::env::var("KURATOR_BENCH_ONLY").ok();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // (name, compiled, threads)
    let mut paths = vec![("compiled", true, 1)];
    if threads > 1 {
        paths.push(("compiled×N", true, threads));
    }
    paths.push(("general", false, 1));
    paths.retain(|&(_, compiled, _)| match only.as_deref() {
        None => true,
        Some("compiled") => compiled,
        Some("general") => !compiled,
        Some(other) => panic!("KURATOR_BENCH_ONLY is compiled or general, not {other:?}"),
    });

    let topic_sets = [
        ("20 topics", load_topics("tests/topics-municipal.toml")),
        ("3 shipped topics", load_topics("feeds.toml")),
    ];
    let tags: Vec<Vec<String>> = SOURCES
        .iter()
        .map(|(_, tags)| tags.iter().map(|t| (*t).to_owned()).collect())
        .collect();
    let sets = [municipal(feeds), german()];

    println!(
        "Kurator tagging benchmark: Tagger::topics per item, 1 thread (and {threads} for compiled×{threads}), {runs} runs"
    );
    for set in &sets {
        println!(
            "  {}: {} items, {} B of title + summary + content per item on average",
            set.name,
            set.items.len(),
            set.average_size()
        );
        for (label, topics) in &topic_sets {
            // Skipped for profilers, whose profile it would swamp.
            if only.is_none() {
                check_agreement(set, topics, &tags);
            }
            let (_, matched) = run(set, topics, &tags, true);
            println!(
                "    {label}: {:.2} matches per item{}",
                matched as f64 / set.items.len() as f64,
                if only.is_none() {
                    "; both paths agree on every item"
                } else {
                    ""
                }
            );
        }
    }
    println!();

    // (set, topics, compiled) → times; rounds interleave everything, so
    // that each series samples the same stretches of this shared machine.
    let mut series: Vec<(usize, usize, usize, Vec<Duration>)> = Vec::new();
    for set in 0..sets.len() {
        for topics in 0..topic_sets.len() {
            for path in 0..paths.len() {
                series.push((set, topics, path, Vec::new()));
            }
        }
    }
    for _ in 0..runs {
        for (set, topics, path, times) in &mut series {
            let (_, compiled, threads) = paths[*path];
            let time = run_threads(
                &sets[*set],
                &topic_sets[*topics].1,
                &tags,
                compiled,
                threads,
            );
            times.push(time);
        }
    }

    println!(
        "{:<10} {:<17} {:<9} {:>14} {:>14} {:>10}",
        "items", "topics", "path", "median/s", "best/s", "µs/item"
    );
    for (set, topics, path, times) in &mut series {
        times.sort();
        let median = times[times.len() / 2];
        let best = times[0];
        let items = sets[*set].items.len() as f64;
        println!(
            "{:<10} {:<17} {:<9} {:>14} {:>14} {:>10.2}",
            sets[*set].name,
            topic_sets[*topics].0,
            paths[*path].0.replace('N', &threads.to_string()),
            thousands(items / median.as_secs_f64()),
            thousands(items / best.as_secs_f64()),
            median.as_secs_f64() * 1e6 / items
        );
    }
}
