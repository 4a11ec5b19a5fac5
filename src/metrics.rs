//! Metrics: counters the daemon and the server keep, written in the
//! Prometheus text format at `/metrics`.
//!
//! Counters live in memory and start at zero with the process (Prometheus
//! handles resets); per-source facts that must survive restarts (the last
//! success, consecutive errors) and the database size are read when scraped.
//! Source ids are `[a-z0-9-]+`, so they need no escaping as label values.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the fetch duration histogram, in seconds.
const DURATION_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Debug, Default)]
pub struct Metrics {
    /// By (source, outcome).
    fetches: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// New items stored, by source.
    items_ingested: Mutex<BTreeMap<String, u64>>,
    durations: Mutex<Histogram>,
    feed_requests: AtomicU64,
    not_modified: AtomicU64,
    searches_timed_out: AtomicU64,
    searches_refused: AtomicU64,
    connections_shed: AtomicU64,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Per bucket of [`DURATION_BUCKETS`] (not cumulative), then +Inf.
    counts: [u64; DURATION_BUCKETS.len() + 1],
    sum: f64,
}

/// What the scrape reads from the database.
#[derive(Debug, Default)]
pub struct StoredFacts {
    /// Per source: last success (seconds since the epoch), consecutive errors.
    pub sources: Vec<(String, Option<i64>, u32)>,
    pub database_bytes: u64,
}

impl Metrics {
    /// One finished fetch. `outcome`: `stored`, `not_modified`, `unchanged`,
    /// `deferred` or `failed`.
    pub fn fetched(&self, source: &str, outcome: &'static str, took: Duration, new_items: usize) {
        *lock(&self.fetches)
            .entry((source.to_owned(), outcome))
            .or_default() += 1;
        if new_items > 0 {
            *lock(&self.items_ingested)
                .entry(source.to_owned())
                .or_default() += new_items as u64;
        }
        let seconds = took.as_secs_f64();
        let mut histogram = lock(&self.durations);
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(DURATION_BUCKETS.len());
        histogram.counts[bucket] += 1;
        histogram.sum += seconds;
    }

    /// One request for a feed (topic, `all` or search); `not_modified` if it
    /// was answered `304`.
    pub fn feed_request(&self, not_modified: bool) {
        self.feed_requests.fetch_add(1, Ordering::Relaxed);
        if not_modified {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A search stopped at `[server] search_timeout`.
    pub fn search_timed_out(&self) {
        self.searches_timed_out.fetch_add(1, Ordering::Relaxed);
    }

    /// A search told to retry: too many ran or waited already.
    pub fn search_refused(&self) {
        self.searches_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// An idle connection closed to make room for another.
    pub fn connection_shed(&self) {
        self.connections_shed.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, facts: &StoredFacts) -> String {
        let mut out = String::with_capacity(4096);
        header(
            &mut out,
            "kurator_fetches_total",
            "counter",
            "Fetches by source and outcome since start.",
        );
        for ((source, outcome), count) in lock(&self.fetches).iter() {
            let _ = writeln!(
                out,
                "kurator_fetches_total{{source=\"{source}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        header(
            &mut out,
            "kurator_fetch_duration_seconds",
            "histogram",
            "Time from a fetch's start to its items being stored.",
        );
        {
            let histogram = lock(&self.durations);
            let mut cumulative = 0;
            for (bound, count) in DURATION_BUCKETS.iter().zip(histogram.counts) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "kurator_fetch_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += histogram.counts[DURATION_BUCKETS.len()];
            let _ = writeln!(
                out,
                "kurator_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
            );
            let _ = writeln!(out, "kurator_fetch_duration_seconds_sum {}", histogram.sum);
            let _ = writeln!(out, "kurator_fetch_duration_seconds_count {cumulative}");
        }
        header(
            &mut out,
            "kurator_items_ingested_total",
            "counter",
            "New items stored, by source, since start.",
        );
        for (source, count) in lock(&self.items_ingested).iter() {
            let _ = writeln!(
                out,
                "kurator_items_ingested_total{{source=\"{source}\"}} {count}"
            );
        }
        header(
            &mut out,
            "kurator_source_last_success_timestamp_seconds",
            "gauge",
            "When each source was last fetched successfully (Unix time).",
        );
        for (source, last_success, _) in &facts.sources {
            if let Some(at) = last_success {
                let _ = writeln!(
                    out,
                    "kurator_source_last_success_timestamp_seconds{{source=\"{source}\"}} {at}"
                );
            }
        }
        header(
            &mut out,
            "kurator_source_consecutive_errors",
            "gauge",
            "Failed fetches in a row, by source (0 after a success).",
        );
        for (source, _, errors) in &facts.sources {
            let _ = writeln!(
                out,
                "kurator_source_consecutive_errors{{source=\"{source}\"}} {errors}"
            );
        }
        let singles: [(&str, &str, &str, u64); 6] = [
            (
                "kurator_feed_requests_total",
                "counter",
                "Requests for feeds (topics, all, search).",
                self.feed_requests.load(Ordering::Relaxed),
            ),
            (
                "kurator_feed_not_modified_total",
                "counter",
                "Feed requests answered 304 Not Modified.",
                self.not_modified.load(Ordering::Relaxed),
            ),
            (
                "kurator_searches_timed_out_total",
                "counter",
                "Searches stopped at search_timeout (answered 503).",
                self.searches_timed_out.load(Ordering::Relaxed),
            ),
            (
                "kurator_searches_refused_total",
                "counter",
                "Searches told to retry because too many ran or waited (503).",
                self.searches_refused.load(Ordering::Relaxed),
            ),
            (
                "kurator_connections_shed_total",
                "counter",
                "Idle connections closed to make room for others.",
                self.connections_shed.load(Ordering::Relaxed),
            ),
            (
                "kurator_database_size_bytes",
                "gauge",
                "The SQLite database with its write-ahead log.",
                facts.database_bytes,
            ),
        ];
        for (name, kind, help, value) in singles {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let metrics = Metrics::default();
        metrics.fetched("kommune21", "stored", Duration::from_millis(300), 4);
        metrics.fetched("kommune21", "not_modified", Duration::from_millis(40), 0);
        metrics.fetched("dstgb", "failed", Duration::from_secs(90), 0);
        metrics.feed_request(false);
        metrics.feed_request(true);
        metrics.search_timed_out();
        metrics.connection_shed();
        metrics.connection_shed();
        let facts = StoredFacts {
            sources: vec![
                ("kommune21".into(), Some(1_800_000_000), 0),
                ("dstgb".into(), None, 3),
            ],
            database_bytes: 123_456,
        };
        let text = metrics.render(&facts);
        for line in [
            "kurator_fetches_total{source=\"kommune21\",outcome=\"stored\"} 1",
            "kurator_fetches_total{source=\"dstgb\",outcome=\"failed\"} 1",
            "kurator_fetch_duration_seconds_bucket{le=\"0.05\"} 1",
            "kurator_fetch_duration_seconds_bucket{le=\"0.5\"} 2",
            "kurator_fetch_duration_seconds_bucket{le=\"60\"} 2",
            "kurator_fetch_duration_seconds_bucket{le=\"+Inf\"} 3",
            "kurator_fetch_duration_seconds_count 3",
            "kurator_items_ingested_total{source=\"kommune21\"} 4",
            "kurator_source_last_success_timestamp_seconds{source=\"kommune21\"} 1800000000",
            "kurator_source_consecutive_errors{source=\"dstgb\"} 3",
            "kurator_feed_requests_total 2",
            "kurator_feed_not_modified_total 1",
            "kurator_searches_timed_out_total 1",
            "kurator_searches_refused_total 0",
            "kurator_connections_shed_total 2",
            "kurator_database_size_bytes 123456",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
        // Every sample belongs to a family declared with HELP and TYPE.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
        }
    }
}
