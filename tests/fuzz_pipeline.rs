//! A mutation fuzzer (a property test): arbitrary bytes derived from the seed
//! corpus in `tests/fuzz-seeds/` go through decode → parse → normalize →
//! identify. Properties: no panic, bounded time, and every item that comes out
//! is clean (no XML-forbidden characters, no script in sanitized HTML).
//!
//! The default run is short so `cargo test` stays fast; a long run:
//! `KURATOR_FUZZ_ITERATIONS=200000 cargo test --release --test fuzz_pipeline -- --nocapture`.
//! A failing input is written to `target/fuzz-failure-<n>.bin` to reproduce it.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "made-up test data and counts, not values from outside"
)]

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use kurator::ingest::process;
use kurator::tag::Tagger;
use support::{dangerous_markup, shipped_topics};
use url::Url;

/// Tokens that steer mutations towards the interesting parts of the pipeline.
const DICTIONARY: &[&[u8]] = &[
    b"&",
    b"&amp;",
    b"&auml;",
    b"&nbsp;",
    b"&#X41;",
    b"&#0;",
    b"&#x1F600;",
    b"&bogus;",
    b"<",
    b">",
    b"\"",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<!ENTITY x \"y\">",
    b"<!DOCTYPE rss [",
    b"]>",
    b"<?xml version=\"1.0\" encoding=\"utf-16\"?>",
    b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>",
    b"<item>",
    b"</item>",
    b"<entry>",
    b"</entry>",
    b"<title>",
    b"</title>",
    b"<link>",
    b"</link>",
    b"<channel>",
    b"</channel>",
    b"<rss version=\"0.93\">",
    b"<rss>",
    b"</rss",
    b"xmlns=\"http://purl.org/atom/ns#\"",
    b"xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"",
    b"type=\"application/octet-stream\"",
    b"mode=\"escaped\"",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\x00",
    b"\xc3",
    b"\xe4",
    b"\x80",
    b"javascript:alert(1)",
    b"<script>",
    b"xml:base=\"../\"",
    b"href=\"//evil\"",
    b"{\"version\":",
    b"\"items\": [",
    b"<html>",
    b"<pubDate>",
    b"Mon, 99 Foo 2026",
];

/// splitmix64: small, fast, and reproducible from the seed printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(input.len() + 1);
        match rng.below(8) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 => input.insert(at, rng.next() as u8),
            2 if !input.is_empty() => {
                let end = (at + 1 + rng.below(64)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                input.splice(at..at, token.iter().copied());
            }
            4 if !input.is_empty() => {
                let start = rng.below(input.len());
                let end = (start + 1 + rng.below(256)).min(input.len());
                let copy = input[start..end].to_vec();
                input.splice(at..at, copy);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(other.len() + 1);
                input.truncate(at);
                input.extend_from_slice(&other[cut..]);
            }
            6 => input.truncate(at),
            _ => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                if at < input.len() {
                    let end = (at + token.len()).min(input.len());
                    input.splice(at..end, token.iter().copied());
                }
            }
        }
        // Keep inputs small enough to run many of them.
        input.truncate(64 * 1024);
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-seeds");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(
        seeds.len() >= 10,
        "seed corpus missing in {}",
        dir.display()
    );
    seeds
}

fn check_one(input: &[u8], content_type: Option<&str>) -> Result<(), String> {
    let url = Url::parse("https://www.stadt.example/presse/feed.xml").unwrap();
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let tagger = Tagger {
            topics: shipped_topics(),
            source_id: "fuzz",
            source_tags: &[],
        };
        process(&tagger, input.to_vec(), content_type, &url, 1_900_000_000).map(|p| p.items)
    }));
    let elapsed = started.elapsed();
    if elapsed > Duration::from_secs(5) {
        return Err(format!("took {elapsed:?}"));
    }
    let items = match outcome {
        Err(_) => return Err("panicked".into()),
        Ok(Err(error)) => {
            // A parser panic is caught and reported, so it never takes the
            // daemon down; but each one is an input we should repair first.
            if matches!(error, kurator::parse::ParseError::Panicked { .. }) {
                return Err(format!("the parser panicked: {error}"));
            }
            if error.to_string().len() < 15 {
                return Err(format!("unclear error: {error}"));
            }
            return Ok(());
        }
        Ok(Ok(items)) => items,
    };
    for identified in items {
        let item = &identified.item;
        let texts = [
            Some(&item.title),
            item.summary.as_ref(),
            item.content.as_ref(),
            item.link.as_ref(),
            item.author.as_ref(),
        ];
        for text in texts.into_iter().flatten() {
            if let Some(c) = text
                .chars()
                .find(|&c| !kurator::parse::repair::is_xml_char(c))
            {
                return Err(format!("XML-forbidden character {c:?} in {text:?}"));
            }
        }
        for html in [&item.summary, &item.content].into_iter().flatten() {
            if let Some(problem) = dangerous_markup(html) {
                return Err(format!("unsafe HTML survived ({problem}): {html}"));
            }
        }
        if let Some(link) = &item.link
            && !(link.starts_with("http://") || link.starts_with("https://"))
        {
            return Err(format!("non-http link {link}"));
        }
    }
    Ok(())
}

#[test]
fn seeds_themselves_pass() {
    for seed in seeds() {
        check_one(&seed, None).unwrap();
        check_one(&seed, Some("text/xml; charset=iso-8859-1")).unwrap();
    }
}

#[test]
fn mutated_inputs_never_break_the_pipeline() {
    let iterations: usize = std::env::var("KURATOR_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let start_seed: u64 = std::env::var("KURATOR_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x006b_7572_6174_6f72);
    let seeds = seeds();
    let content_types = [
        None,
        Some("application/rss+xml; charset=utf-8"),
        Some("text/xml; charset=ISO-8859-1"),
        Some("text/html"),
    ];
    let mut rng = Rng(start_seed);
    let started = Instant::now();
    for n in 0..iterations {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &mut input, &seeds);
        let content_type = content_types[rng.below(content_types.len())];
        if let Err(problem) = check_one(&input, content_type) {
            let dump =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/fuzz-failure-{n}.bin"));
            let _ = std::fs::write(&dump, &input);
            panic!(
                "iteration {n} (seed {start_seed}): {problem}; input saved to {}",
                dump.display()
            );
        }
    }
    println!(
        "{iterations} mutated inputs in {:?}, no failures",
        started.elapsed()
    );
}
