//! Sources: what the store remembers about each source between fetches
//! (validators, errors in a row, the times the scheduler plans with), and
//! the outcome of each fetch recorded into it.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::error::Context;
use super::{Store, StoreError, row_count};
use crate::fetch::Validators;
use crate::schedule::SourceTimes;

/// What the store remembers about a source between fetches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    pub url: String,
    pub validators: Validators,
    pub body_sha256: Option<Vec<u8>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub consecutive_errors: u32,
    /// Seconds since the epoch before which the server asked not to be polled.
    pub retry_after: Option<i64>,
    /// When the server first answered `410 Gone`.
    pub gone_since: Option<i64>,
    pub last_fetched: Option<i64>,
    pub last_success: Option<i64>,
    pub effective_url: Option<String>,
    pub moved_to: Option<String>,
    /// The feed's `<ttl>` in seconds, as last parsed.
    pub feed_ttl: Option<i64>,
    /// Until when the feed asked not to be polled (`<ttl>`, `max-age`).
    pub fresh_until: Option<i64>,
    /// New items the last read of the feed's items skipped as older than
    /// `keep_days`, and the days that applied then.
    pub skipped_old: u64,
    pub skipped_keep_days: Option<u64>,
}

impl SourceState {
    /// What the scheduler plans with.
    pub fn times(&self) -> SourceTimes {
        SourceTimes {
            last_attempt: self.last_fetched,
            consecutive_errors: self.consecutive_errors,
            retry_after: self.retry_after,
            fresh_until: self.fresh_until,
            gone: self.gone_since.is_some(),
        }
    }
}

const SOURCE_STATE_COLUMNS: &str = "id, url, etag, last_modified, body_sha256, last_status, \
     last_error, consecutive_errors, retry_after, gone_since, last_fetched, last_success, \
     effective_url, moved_to, feed_ttl, fresh_until, skipped_old, skipped_keep_days";

fn source_state_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, SourceState)> {
    Ok((
        row.get(0)?,
        SourceState {
            url: row.get(1)?,
            validators: Validators {
                etag: row.get(2)?,
                last_modified: row.get(3)?,
            },
            body_sha256: row.get(4)?,
            last_status: row.get(5)?,
            last_error: row.get(6)?,
            consecutive_errors: row.get(7)?,
            retry_after: row.get(8)?,
            gone_since: row.get(9)?,
            last_fetched: row.get(10)?,
            last_success: row.get(11)?,
            effective_url: row.get(12)?,
            moved_to: row.get(13)?,
            feed_ttl: row.get(14)?,
            fresh_until: row.get(15)?,
            skipped_old: row_count(row.get(16)?),
            skipped_keep_days: row
                .get::<_, Option<i64>>(17)?
                .and_then(|d| u64::try_from(d).ok()),
        },
    ))
}

/// The result of one fetch, as the store records it.
#[derive(Debug, Clone)]
pub enum FetchRecord {
    Success {
        status: u16,
        /// New validators; `None` keeps the stored ones (a `304` sends none).
        validators: Option<Validators>,
        body_sha256: Option<[u8; 32]>,
        effective_url: String,
        moved_to: Option<String>,
        feed_ttl: Option<i64>,
        fresh_until: Option<i64>,
    },
    Failure {
        status: Option<u16>,
        error: String,
        retry_after: Option<i64>,
        gone: bool,
    },
}

/// Counts for status lines and health checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Counted only when asked for: it reads a whole index.
    pub items: Option<u64>,
    /// Sources whose last fetch failed.
    pub failing_sources: u64,
}

impl Store {
    /// The remembered state of a source, if it was ever fetched.
    pub fn source_state(&self, source_id: &str) -> Result<Option<SourceState>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {SOURCE_STATE_COLUMNS} FROM sources WHERE id = ?1"),
                [source_id],
                |row| source_state_row(row).map(|(_, state)| state),
            )
            .optional()
            .context("reading source state")
    }

    /// The state of every source ever fetched, by id.
    pub fn source_states(&self) -> Result<HashMap<String, SourceState>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!("SELECT {SOURCE_STATE_COLUMNS} FROM sources"))
            .context("reading source states")?;
        let rows = statement
            .query_map([], source_state_row)
            .context("reading source states")?;
        rows.collect::<Result<_, _>>()
            .context("reading source states")
    }

    /// Failing sources, and with `count_items` the number of items.
    pub fn stats(&self, count_items: bool) -> Result<StoreStats, StoreError> {
        let items = if count_items {
            let items: i64 = self
                .conn
                .query_row("SELECT count(*) FROM items", [], |row| row.get(0))
                .context("counting items")?;
            Some(row_count(items))
        } else {
            None
        };
        let failing: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sources WHERE consecutive_errors > 0",
                [],
                |row| row.get(0),
            )
            .context("counting failing sources")?;
        Ok(StoreStats {
            items,
            failing_sources: row_count(failing),
        })
    }
}

/// Records the outcome of one fetch of `source_id`: a success resets the
/// error count and keeps the validators a `304` does not send; a failure
/// counts up, and a `410 Gone` notes when the source first went.
/// How many items the source's last read of its items skipped as older
/// than `keep_days`, and the days that applied.
pub(super) fn record_skipped(
    conn: &Connection,
    source_id: &str,
    counts: &super::Counts,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE sources SET skipped_old = ?2, skipped_keep_days = ?3 WHERE id = ?1",
    )
    .and_then(|mut statement| {
        statement.execute(rusqlite::params![
            source_id,
            i64::try_from(counts.too_old).unwrap_or(i64::MAX),
            counts
                .keep_days
                .map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
        ])
    })
    .context("recording skipped items")?;
    Ok(())
}

pub(super) fn record_outcome(
    conn: &Connection,
    source_id: &str,
    url: &str,
    record: &FetchRecord,
    now: i64,
) -> Result<(), StoreError> {
    match record {
        FetchRecord::Success {
            status,
            validators,
            body_sha256,
            effective_url,
            moved_to,
            feed_ttl,
            fresh_until,
        } => {
            conn.prepare_cached(
                "INSERT INTO sources (id, url, etag, last_modified, body_sha256, last_status,
                                      consecutive_errors, last_fetched, last_success, effective_url, moved_to,
                                      feed_ttl, fresh_until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7, ?8, ?9, ?11, ?12)
                 ON CONFLICT (id) DO UPDATE SET
                    url = excluded.url,
                    etag = CASE WHEN ?10 THEN excluded.etag ELSE etag END,
                    last_modified = CASE WHEN ?10 THEN excluded.last_modified ELSE last_modified END,
                    body_sha256 = COALESCE(excluded.body_sha256, body_sha256),
                    last_status = excluded.last_status,
                    last_error = NULL,
                    consecutive_errors = 0,
                    retry_after = NULL,
                    gone_since = NULL,
                    last_fetched = excluded.last_fetched,
                    last_success = excluded.last_success,
                    effective_url = excluded.effective_url,
                    moved_to = excluded.moved_to,
                    feed_ttl = excluded.feed_ttl,
                    fresh_until = excluded.fresh_until",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    source_id,
                    url,
                    validators.as_ref().and_then(|v| v.etag.as_deref()),
                    validators.as_ref().and_then(|v| v.last_modified.as_deref()),
                    body_sha256.as_ref().map(|h| h.as_slice()),
                    status,
                    now,
                    effective_url,
                    moved_to,
                    validators.is_some(),
                    feed_ttl,
                    fresh_until,
                ])
            })
            .context("recording a successful fetch")?;
        }
        FetchRecord::Failure {
            status,
            error,
            retry_after,
            gone,
        } => {
            conn.prepare_cached(
                "INSERT INTO sources (id, url, last_status, last_error, consecutive_errors,
                                      retry_after, gone_since, last_fetched)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, CASE WHEN ?6 THEN ?7 END, ?7)
                 ON CONFLICT (id) DO UPDATE SET
                    url = excluded.url,
                    last_status = excluded.last_status,
                    last_error = excluded.last_error,
                    consecutive_errors = consecutive_errors + 1,
                    retry_after = excluded.retry_after,
                    gone_since = CASE WHEN ?6 THEN COALESCE(gone_since, ?7) END,
                    last_fetched = excluded.last_fetched,
                    fresh_until = NULL",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    source_id,
                    url,
                    status,
                    error,
                    retry_after,
                    gone,
                    now
                ])
            })
            .context("recording a failed fetch")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, NOW};

    fn outcome(store: &mut Store, record: FetchRecord, now: i64) -> SourceState {
        store
            .record_fetch("src", "https://www.example.de/feed", &record, &mut [], now)
            .unwrap();
        store.source_state("src").unwrap().expect("recorded")
    }

    #[test]
    fn a_304_keeps_the_validators_and_gone_dates_from_the_first_410() {
        let (_dir, mut store) = testing::open();
        let first = outcome(&mut store, testing::success(), NOW);
        assert_eq!(first.validators.etag.as_deref(), Some("\"e1\""));
        assert_eq!(first.last_success, Some(NOW));

        // A `304` sends no validators: the stored ones stay.
        let not_modified = FetchRecord::Success {
            status: 304,
            validators: None,
            body_sha256: None,
            effective_url: "https://www.example.de/feed".into(),
            moved_to: None,
            feed_ttl: None,
            fresh_until: Some(NOW + 600),
        };
        let state = outcome(&mut store, not_modified, NOW + 60);
        assert_eq!(state.validators.etag.as_deref(), Some("\"e1\""));
        assert_eq!(state.body_sha256.as_deref(), Some(&[7u8; 32][..]));
        assert_eq!(state.last_status, Some(304));
        assert_eq!(state.times().fresh_until, Some(NOW + 600));

        let gone = FetchRecord::Failure {
            status: Some(410),
            error: "410 Gone".into(),
            retry_after: None,
            gone: true,
        };
        outcome(&mut store, gone.clone(), NOW + 120);
        let state = outcome(&mut store, gone, NOW + 180);
        assert_eq!(state.gone_since, Some(NOW + 120), "when it first went");
        assert_eq!(state.consecutive_errors, 2);
        assert_eq!(
            state.fresh_until, None,
            "a failure ends a freshness promise"
        );
        assert!(state.times().gone);
        assert_eq!(store.stats(false).unwrap().failing_sources, 1);

        // Back: the errors are forgotten.
        let state = outcome(&mut store, testing::success(), NOW + 240);
        assert_eq!((state.gone_since, state.consecutive_errors), (None, 0));
        assert_eq!(state.last_error, None);
        assert_eq!(store.stats(false).unwrap().failing_sources, 0);
        assert_eq!(store.source_states().unwrap()["src"], state);
    }
}
