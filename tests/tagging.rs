//! Ingest tags items through the compiled path (`Tagger::topics`, which runs
//! `TopicSet::tag_item`); `kurator query` and `kurator explain` evaluate rules
//! on a `Document` (`TopicSet::tag` on `Tagger::document`). Both must give
//! the same topics for every item, or a stored item would not be found by the
//! rule that tagged it. Checked here on every item of the test corpus (`tests/corpus/`) and
//! on generated German texts full of umlauts, ß, hyphens, entities and markup,
//! against the 20 topics of the benchmark, the shipped ones, and rules written
//! to hit the corners of the language.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "made-up test data and counts, not values from outside"
)]

mod support;

use std::path::{Path, PathBuf};

use kurator::config::Config;
use kurator::dedup::Identified;
use kurator::ingest::process;
use kurator::rules::{Rule, Topic, TopicSet};
use kurator::tag::{ItemView, Tagger};
use url::Url;

const NOW: i64 = 1_900_000_000;

fn municipal_topics() -> TopicSet {
    Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/topics-municipal.toml"))
        .expect("tests/topics-municipal.toml is valid")
        .topics
}

/// Rules that probe the corners: phrases at field boundaries, prefixes of
/// phrases, folding of non-German letters, every field, NOT, `tag:` with
/// prefixes and regexes.
fn corner_topics() -> TopicSet {
    let rules = [
        (
            "a",
            "\"stadt darmstadt\" OR \"darmstadt die\" OR \"ende anfang\"",
        ),
        (
            "b",
            "title:\"smart cit*\" OR summary:\"online por*\" OR content:\"die stra*\"",
        ),
        (
            "c",
            "strasse OR straße* OR \"bürger service\" OR buerger* -bürgerinnen",
        ),
        (
            "d",
            "café OR istanbul* OR i̇stanbul OR ǆ* OR ω* OR 2026 OR \"1 2\"",
        ),
        (
            "e",
            "tag:a OR tag:b* OR tag:/^c$/ OR (tag:fach* AND NOT tag:verband)",
        ),
        (
            "f",
            "category:\"smart city\" OR category:verw* OR category:/e-gov/",
        ),
        (
            "g",
            "author:presse* OR author:\"amt für\" OR author:/müller/ OR link:utm*",
        ),
        (
            "h",
            "link:\"presse meldungen\" OR source:feed* OR source:/^corpus$/",
        ),
        (
            "i",
            "text:/Straße|straße/ OR summary:/^\\s*Die/ OR content:/Rathaus/",
        ),
        (
            "j",
            "tag:e OR tag:\"kommunal digital\" OR (x NOT y) OR NOT (a OR e OR i)",
        ),
        (
            "k",
            "\"a a a\" OR \"the the\" OR \"ab ab*\" OR \"s s*\" OR nbsp OR amp",
        ),
        (
            "l",
            "title:(news OR neu*) summary:(der OR die) -content:das",
        ),
    ];
    TopicSet::new(
        rules
            .iter()
            .map(|(slug, rule)| Topic {
                slug: (*slug).into(),
                title: (*slug).into(),
                description: None,
                rule: Rule::parse(rule).unwrap_or_else(|e| panic!("{}", e.caret(rule))),
            })
            .collect(),
    )
    .unwrap()
}

fn topic_sets() -> Vec<(&'static str, TopicSet)> {
    vec![
        ("municipal", municipal_topics()),
        ("shipped", support::shipped_topics().clone()),
        ("corners", corner_topics()),
    ]
}

/// Compares both paths for `item` under a few sources; returns how many
/// topics matched in all.
fn compare(sets: &[(&str, TopicSet)], item: ItemView<'_>, what: &str) -> usize {
    let tag_lists = [
        vec![],
        vec!["fachpresse".to_owned(), "digitalisierung".to_owned()],
        vec![" Verband ".to_owned(), "Fach-Presse".to_owned()],
    ];
    let mut matched = 0;
    for (name, topics) in sets {
        for (source_id, source_tags) in [("kommune21", &tag_lists[1]), ("corpus", &tag_lists[0])]
            .into_iter()
            .chain([("egov-x", &tag_lists[2])])
        {
            let tagger = Tagger {
                topics,
                source_id,
                source_tags,
            };
            let fast = tagger.topics(item);
            let mut document = tagger.document(item);
            let general: Vec<String> = topics
                .tag(&mut document)
                .into_iter()
                .map(str::to_owned)
                .collect();
            assert_eq!(
                fast, general,
                "{what}: topic set {name}, source {source_id}: the compiled path disagrees\n{item:#?}"
            );
            matched += fast.len();
        }
    }
    matched
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            corpus_files(&path, out);
        } else {
            let name = path.file_name().unwrap().to_string_lossy();
            if !(name.starts_with("LICENSE") || name.ends_with(".md") || name.ends_with(".tsv")) {
                out.push(path);
            }
        }
    }
}

#[test]
fn compiled_tagging_agrees_on_the_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files = Vec::new();
    corpus_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() > 900,
        "the corpus is missing under {}",
        root.display()
    );

    let sets = topic_sets();
    let untagged = TopicSet::default();
    let tagger = Tagger {
        topics: &untagged,
        source_id: "corpus",
        source_tags: &[],
    };
    let url = Url::parse("http://feeds.example.org/feed.xml").unwrap();
    let (mut items, mut matched) = (0, 0);
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let Ok(identified) = process(&tagger, bytes, None, &url, NOW).map(|p| p.items) else {
            continue;
        };
        for Identified { item, .. } in &identified {
            matched += compare(&sets, item.into(), &path.display().to_string());
            items += 1;
        }
    }
    println!("{items} corpus items, {matched} topic matches compared");
    assert!(items > 1500, "only {items} items");
    assert!(
        matched > 1000,
        "only {matched} matches: the topics hardly fire"
    );
}

/// splitmix64: deterministic test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[(self.next() % list.len() as u64) as usize]
    }
}

/// Words, pieces of words and markup that fold, split and join in every way
/// the rule language cares about.
const PIECES: &[&str] = &[
    "Stadt",
    "Darmstadt",
    "die",
    "Die",
    "Smart",
    "City",
    "Smart-City",
    "smart city",
    "Bürger",
    "BÜRGER",
    "Buerger",
    "Bürgerinnen",
    "Bürgerservice",
    "service",
    "Straße",
    "STRASSE",
    "Stra&szlig;e",
    "Stra<b>ß</b>e",
    "Stra&#223;e",
    "Straßenverkehrsbehörde",
    "ẞ",
    "Café",
    "CAFÉ",
    "İstanbul",
    "Istanbul",
    "ǅemal",
    "ΩΜΕΓΑ",
    "東京",
    "2026",
    "1",
    "2",
    "a",
    "A",
    "the",
    "ab",
    "s",
    "&amp;",
    "&nbsp;",
    "nbsp",
    "&bogus",
    "&lt;b&gt;",
    "<p>",
    "</p>",
    "<a href=\"/presse/x\">",
    "</a>",
    "<br/>",
    "<img alt=\"Rathaus Straße\">",
    "<unclosed",
    "-",
    " ",
    "  ",
    ", ",
    ". ",
    "\u{a0}",
    "’s",
    "„",
    "“",
    "digital",
    "Digitalisierung",
    "digitalisierungsstrategie",
    "OZG",
    "e-Government",
    "E-Akte",
    "KI",
    "Künstliche Intelligenz",
    "Haushalt",
    "haushaltsnahe Dienstleistungen",
    "Gemeinderat",
    "Ende",
    "Anfang",
    "online",
    "Portal",
    "Rathaus",
    "das",
    "der",
    "news",
    "Neuigkeiten",
    "Kommune",
    "Verwaltung",
    "Fußball",
    "Klimaschutz",
    "IT-Sicherheit",
    "CVE-2024-12345",
    "Schule",
    "Kita-Ausbau",
    "Bürgerbeteiligung",
    "öffentliche Auslegung",
    "Sensor",
    "IoT",
];

fn text(rng: &mut Rng, words: u64) -> String {
    let mut out = String::new();
    for _ in 0..rng.next() % words {
        out.push_str(rng.pick(PIECES));
        if !rng.next().is_multiple_of(3) {
            out.push(' ');
        }
    }
    out
}

#[test]
fn compiled_tagging_agrees_on_generated_texts() {
    let sets = topic_sets();
    let mut rng = Rng(0x7461_6767_696e_6721);
    let category_choices = [
        "Smart City",
        "Verwaltung",
        "E-Government",
        "Bauen & Wohnen",
        "Sicherheit & Ordnung",
        "Politik",
        " Umwelt ",
        "a",
        "b-c",
        "C",
        "",
    ];
    let author_choices = [
        "Pressestelle",
        "Amt für Kommunikation",
        "Sabine Müller-Weiß",
        "Redaktion",
    ];
    let link_choices = [
        "https://www.darmstadt.de/presse/meldungen/x.html?utm_source=rss",
        "https://www.stadt.de/bauen/wohnen",
        "",
    ];
    let mut matched = 0;
    for round in 0..3000 {
        let categories: Vec<String> = (0..rng.next() % 3)
            .map(|_| rng.pick(&category_choices).to_owned())
            .collect();
        let title = text(&mut rng, 8);
        let summary = (!rng.next().is_multiple_of(5)).then(|| text(&mut rng, 30));
        let content = rng.next().is_multiple_of(3).then(|| text(&mut rng, 60));
        let item = ItemView {
            title: &title,
            summary: summary.as_deref(),
            content: content.as_deref(),
            author: rng
                .next()
                .is_multiple_of(2)
                .then(|| rng.pick(&author_choices)),
            link: Some(rng.pick(&link_choices)).filter(|l| !l.is_empty()),
            categories: &categories,
        };
        matched += compare(&sets, item, &format!("generated item {round}"));
    }
    assert!(
        matched > 3000,
        "only {matched} matches: the topics hardly fire"
    );
}
