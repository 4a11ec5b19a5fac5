//! Story grouping: does finding a new item's candidates grow with the number
//! of indexed items? The window index is filled with 100,000 and then
//! 1,000,000 synthetic items (far more than any 7-day window holds; the
//! database's older items are never indexed at all), and 20,000 new items
//! are decided against it: half rewrites of an indexed item, half unrelated.
//!
//! ```sh
//! cargo bench --bench dedup
//! KURATOR_BENCH_SIZES=10000,100000 cargo bench --bench dedup   # quicker
//! ```
//!
//! Items are bags of words drawn from a 200,000-word vocabulary with a
//! Zipf-like distribution (a few words in most items, most words rare), 30
//! words and 2 numbers each, as titles and leads of news items have.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "made-up test data and counts, not values from outside"
)]

#[allow(dead_code)]
#[path = "ingest.rs"]
mod ingest;

use std::time::Instant;

use ingest::Rng;

use kurator::dedup::text::term_hash;
use kurator::dedup::{Index, Keys, Settings, TermSet};

const VOCABULARY: u64 = 200_000;
const WORDS: usize = 30;
const PROBES: usize = 20_000;

/// The Zipf-like word draw on the ingest bench's generator.
trait Words {
    /// A word index, small ones far more often (roughly Zipf).
    fn word(&mut self) -> u64;
}

impl Words for Rng {
    fn word(&mut self) -> u64 {
        let uniform = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (VOCABULARY as f64).powf(uniform) as u64
    }
}

fn item(rng: &mut Rng) -> Vec<u64> {
    let mut terms: Vec<u64> = (0..WORDS)
        .map(|_| term_hash(&format!("w{}", rng.word())))
        .collect();
    for _ in 0..2 {
        terms.push(term_hash(&(rng.next() % 10_000).to_string()));
    }
    terms
}

/// A rewrite: half the words and one number kept, the rest new.
fn rewrite(rng: &mut Rng, of: &[u64]) -> Vec<u64> {
    let mut terms: Vec<u64> = of[..WORDS / 2].to_vec();
    terms.push(of[WORDS]);
    terms.extend((0..WORDS / 2).map(|_| term_hash(&format!("w{}", rng.word()))));
    terms
}

fn keys(terms: Vec<u64>) -> Keys {
    Keys {
        terms: TermSet::new(terms),
        ..Keys::default()
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("KURATOR_BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("KURATOR_BENCH_SIZES: numbers"))
        .collect();
    println!("Kurator dedup candidate lookup: {PROBES} new items decided against the window index");
    println!();
    println!(
        "| indexed items | index built in | decide, µs per new item | candidates scored per item | rewrites found | unrelated grouped |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for size in sizes {
        let mut rng = Rng(0x0064_6564_7570);
        let items: Vec<Vec<u64>> = (0..size).map(|_| item(&mut rng)).collect();
        let started = Instant::now();
        let mut index = Index::default();
        index.insert_many(
            items
                .iter()
                .enumerate()
                .map(|(n, terms)| {
                    let id = n as i64 + 1;
                    (id, id, format!("s{}", n % 500), 0, keys(terms.clone()))
                })
                .collect(),
        );
        let built = started.elapsed();
        let probes: Vec<(bool, Keys)> = (0..PROBES)
            .map(|n| {
                if n % 2 == 0 {
                    let of = &items[(rng.next() % size as u64) as usize];
                    (true, keys(rewrite(&mut rng, of)))
                } else {
                    (false, keys(item(&mut rng)))
                }
            })
            .collect();
        let settings = Settings::default();
        let started = Instant::now();
        let (mut found, mut wrong, mut scored) = (0, 0, 0);
        for (is_rewrite, probe) in &probes {
            let bands = index.bands_for(&probe.terms, 1);
            scored += index.candidates(probe, bands.as_ref()).len();
            let decision = index.decide(probe, "new-source", 0, &settings);
            match (is_rewrite, decision.is_some()) {
                (true, true) => found += 1,
                (false, true) => wrong += 1,
                _ => {}
            }
        }
        // Candidates were looked up twice per probe (once to count them).
        let per_item = started.elapsed().as_secs_f64() * 1e6 / PROBES as f64 / 2.0;
        println!(
            "| {size} | {:.1} s | {per_item:.1} | {:.1} | {found} of {} | {wrong} of {} |",
            built.as_secs_f64(),
            scored as f64 / PROBES as f64,
            PROBES / 2,
            PROBES / 2
        );
    }
}
