//! The poller the daemon's scheduler drives: one source through the whole
//! ingest pipeline per slot, its outcome logged, counted in the metrics and,
//! when it could not be stored, kept in memory for `/sources`.

use std::sync::Arc;

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
}

impl Poller for IngestPoller {
    type Source = Source;

    async fn poll(&self, source: Source) -> SourceTimes {
        let report = self.ingester.ingest(&source, false).await;
        log_report(&report);
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
