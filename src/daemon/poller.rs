//! The poller the daemon's scheduler drives: one source through the whole
//! ingest pipeline per slot, its outcome logged, counted in the metrics and,
//! when it could not be stored, kept in memory for `/sources`; and, once the
//! sources due at start have each been polled, one summary line.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::config::Source;
use crate::ingest::{IngestError, Ingester, Outcome, Report};
use crate::metrics::Metrics;
use crate::schedule::{Clock, Poller, SourceTimes};
use crate::status::UnrecordedFailures;

/// Polls a source through the whole ingest pipeline and logs the outcome.
pub(super) struct IngestPoller {
    pub ingester: Arc<Ingester>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub unrecorded: Arc<UnrecordedFailures>,
    pub first_round: Mutex<FirstRound>,
}

/// The sources due when the daemon started, until each has been polled
/// once; then one line sums their outcomes up (`5 sources: 4 ok, 1 error —
/// kurator status`), so a first start says how it went without reading
/// every source's line.
#[derive(Debug, Default)]
pub(super) struct FirstRound {
    waiting: HashSet<String>,
    polled: usize,
    ok: usize,
    errors: usize,
    deferred: usize,
}

impl FirstRound {
    pub(super) fn of(due: impl IntoIterator<Item = String>) -> FirstRound {
        FirstRound {
            waiting: due.into_iter().collect(),
            ..FirstRound::default()
        }
    }

    /// Counts `source_id`'s poll; the summary once it was the last one due.
    fn polled(&mut self, source_id: &str, outcome: &Outcome) -> Option<String> {
        if !self.waiting.remove(source_id) {
            return None;
        }
        self.polled += 1;
        match outcome {
            Outcome::Failed(_) => self.errors += 1,
            Outcome::Deferred { .. } => self.deferred += 1,
            _ => self.ok += 1,
        }
        if !self.waiting.is_empty() {
            return None;
        }
        let mut summary = format!("{} sources: {} ok", self.polled, self.ok);
        match self.errors {
            0 => {}
            1 => summary.push_str(", 1 error"),
            n => summary.push_str(&format!(", {n} errors")),
        }
        if self.deferred > 0 {
            summary.push_str(&format!(", {} deferred", self.deferred));
        }
        summary.push_str(" — kurator status");
        Some(summary)
    }
}

impl Poller for IngestPoller {
    type Source = Source;

    async fn poll(&self, source: Source) -> SourceTimes {
        let report = self.ingester.ingest(&source, false).await;
        log_report(&report);
        let summary = self
            .first_round
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .polled(&source.id, &report.outcome);
        if let Some(summary) = summary {
            tracing::info!("{summary}");
        }
        let (outcome, new_items) = match &report.outcome {
            Outcome::Stored(counts) => ("stored", counts.new),
            Outcome::NotModified => ("not_modified", 0),
            Outcome::Unchanged => ("unchanged", 0),
            Outcome::Deferred { .. } => ("deferred", 0),
            Outcome::Failed(_) => ("failed", 0),
        };
        self.metrics
            .fetched(&source.id, outcome, report.elapsed, new_items);
        match &report.outcome {
            // The outcome could not be written: only memory knows of it.
            Outcome::Failed(IngestError::Store(err)) => {
                self.unrecorded
                    .failed(&source.id, err.to_string(), self.clock.now())
            }
            // Nothing was written, so nothing changed.
            Outcome::Deferred { .. } => {}
            _ => self.unrecorded.recorded(&source.id),
        }
        match self.ingester.source_times(&source.id).await {
            Ok(times) => times,
            Err(err) => {
                tracing::error!(source = %source.id, "cannot read the source's state back: {err}");
                // Back off as after an error rather than poll again at once.
                SourceTimes {
                    last_attempt: Some(self.clock.now()),
                    consecutive_errors: 1,
                    ..SourceTimes::default()
                }
            }
        }
    }
}

/// One line per poll. The message says everything on its own (the journal
/// shows messages, not fields); the `source` field is there for filtering
/// (`journalctl F_SOURCE=…`) and for the plain-text log.
fn log_report(report: &Report) {
    let source = report.source_id.as_str();
    let seconds = report.elapsed.as_secs_f64();
    match &report.outcome {
        Outcome::Stored(c) => tracing::info!(
            source,
            "{source}: fetched: {} new, {} updated, {} unchanged{} ({seconds:.2}s)",
            c.new,
            c.updated,
            c.unchanged,
            c.skipped_note()
                .map_or_else(String::new, |note| format!(", {note}"))
        ),
        Outcome::NotModified => tracing::info!(source, "{source}: not modified ({seconds:.2}s)"),
        Outcome::Unchanged => {
            tracing::info!(
                source,
                "{source}: not modified, same content ({seconds:.2}s)"
            )
        }
        Outcome::Deferred { until } => tracing::info!(
            source,
            "{source}: deferred: the server asked us to wait until {}",
            crate::time::format_time(*until)
        ),
        Outcome::Failed(err) => {
            tracing::warn!(source, "{source}: fetch failed: {err} ({seconds:.2}s)")
        }
    }
    for hint in &report.hints {
        tracing::warn!(source, "{source}: {hint}");
    }
}
