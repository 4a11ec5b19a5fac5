//! Status: what each source is doing, for `kurator status`, `/sources` and
//! `/sources.json`.
//!
//! Everything comes from the database and the configuration, so the command
//! (another process) and the daemon's own pages tell the same story. The
//! next fetch time is worked out by the scheduler's own rules
//! ([`crate::schedule::plan`]). URLs and errors are shown without the
//! source's credentials ([`crate::redact`]).

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::json;

use crate::normalize::sanitize::escape_text;
use crate::redact;
use crate::schedule::Timing;
use crate::schedule::plan::{self, Next};
use crate::source::Source;
use crate::store::{SourceState, Store, StoreError};
use crate::time::format_time;

/// How the last fetch of a source went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Disabled,
    NeverFetched,
    Ok,
    NotModified,
    Failing,
    /// `410 Gone`: not polled again.
    Gone,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Disabled => "disabled",
            Outcome::NeverFetched => "never fetched",
            Outcome::Ok => "ok",
            Outcome::NotModified => "not modified",
            Outcome::Failing => "error",
            Outcome::Gone => "gone",
        }
    }
}

/// One source's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    pub id: String,
    pub title: String,
    pub url: String,
    pub outcome: Outcome,
    /// The HTTP status of the last fetch, if it got one.
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub consecutive_errors: u32,
    /// Seconds since the epoch.
    pub last_fetch: Option<i64>,
    pub last_success: Option<i64>,
    /// `None`: not polled again (disabled, or gone).
    pub next_fetch: Option<i64>,
    /// Set when the server asked us to wait (`Retry-After`).
    pub retry_after: Option<i64>,
    pub items: u64,
    /// Where the last successful fetch really read from, when that is not
    /// `url`: the feed a page links to (`kind = "auto"`), or a redirect's target.
    pub reads_from: Option<String>,
    /// New items the last read of the feed skipped as older than
    /// `keep_days`, and the days that applied then.
    pub skipped_old: u64,
    pub skipped_keep_days: Option<u64>,
}

impl SourceStatus {
    /// `skipped 3 older than 365 days (keep_days)`, if the last read skipped any.
    pub fn skipped_note(&self) -> Option<String> {
        crate::store::skipped_note(self.skipped_old, self.skipped_keep_days)
    }
}

/// Every configured source's status at `now`, in config order.
/// `timing` says when a source is polled (the config knows: its own
/// schedule or the default, and the jitter).
pub fn sources(
    sources: &[Source],
    timing: impl Fn(&Source) -> Timing,
    store: &Store,
    now: i64,
) -> Result<Vec<SourceStatus>, StoreError> {
    let counts = store.item_counts_by_source()?;
    with_counts(sources, timing, store, now, &counts)
}

/// [`sources`] without counting items (every `items` is 0): counting reads
/// a whole index, and the front page, rendered again after every commit,
/// shows no counts.
pub fn sources_uncounted(
    sources: &[Source],
    timing: impl Fn(&Source) -> Timing,
    store: &Store,
    now: i64,
) -> Result<Vec<SourceStatus>, StoreError> {
    with_counts(sources, timing, store, now, &HashMap::new())
}

fn with_counts(
    sources: &[Source],
    timing: impl Fn(&Source) -> Timing,
    store: &Store,
    now: i64,
    counts: &HashMap<String, u64>,
) -> Result<Vec<SourceStatus>, StoreError> {
    let states: HashMap<String, SourceState> = store.source_states()?;
    let mut rows = Vec::with_capacity(sources.len());
    for source in sources {
        // State recorded for another URL belongs to the source's past.
        let state = states
            .get(&source.id)
            .filter(|state| state.url == source.url.as_str());
        let outcome = match state {
            _ if !source.enabled => Outcome::Disabled,
            None => Outcome::NeverFetched,
            Some(state) if state.gone_since.is_some() => Outcome::Gone,
            Some(state) if state.consecutive_errors > 0 => Outcome::Failing,
            Some(state) if state.last_status == Some(304) => Outcome::NotModified,
            Some(_) => Outcome::Ok,
        };
        let times = state.map(SourceState::times).unwrap_or_default();
        let next_fetch = if source.enabled {
            match plan::next_fetch(&timing(source), &source.id, &times, now) {
                Next::At(at) => Some(at),
                Next::Stopped => None,
            }
        } else {
            None
        };
        rows.push(SourceStatus {
            id: source.id.clone(),
            title: source.title.clone(),
            // Shown in the terminal and on /sources: never with credentials.
            url: redact::redacted(&source.url),
            outcome,
            http_status: state.and_then(|s| s.last_status),
            error: state
                .and_then(|s| s.last_error.as_deref())
                .map(|error| redact::scrub(&without_body(error), &source.url)),
            consecutive_errors: state.map_or(0, |s| s.consecutive_errors),
            last_fetch: state.and_then(|s| s.last_fetched),
            last_success: state.and_then(|s| s.last_success),
            next_fetch,
            retry_after: state.and_then(|s| s.retry_after).filter(|&at| at > now),
            items: counts.get(&source.id).copied().unwrap_or(0),
            reads_from: state
                .and_then(|s| s.effective_url.as_deref())
                .filter(|effective| *effective != source.url.as_str())
                .map(|effective| redact::scrub(&redact::redacted_text(effective), &source.url)),
            skipped_old: state.map_or(0, |s| s.skipped_old),
            skipped_keep_days: state.and_then(|s| s.skipped_keep_days),
        });
    }
    Ok(rows)
}

/// Failures the daemon could not write to the database (a full disk, a lock
/// held by another process): they live only in its memory until a later
/// fetch of the source is recorded, and its `/sources` shows them over the
/// stored state, so no failure goes unseen.
#[derive(Debug, Default)]
pub struct UnrecordedFailures(std::sync::Mutex<HashMap<String, (String, i64)>>);

impl UnrecordedFailures {
    /// `source_id`'s poll at `at` failed with `error`, which was not stored.
    pub fn failed(&self, source_id: &str, error: String, at: i64) {
        self.lock().insert(source_id.to_owned(), (error, at));
    }

    /// `source_id`'s latest poll is in the database.
    pub fn recorded(&self, source_id: &str) {
        self.lock().remove(source_id);
    }

    /// Shows the unrecorded failures in `rows`.
    pub fn apply(&self, rows: &mut [SourceStatus]) {
        let failures = self.lock();
        for row in rows {
            if let Some((error, at)) = failures.get(&row.id) {
                row.outcome = Outcome::Failing;
                row.error = Some(format!("{error} (not recorded in the database)"));
                row.last_fetch = Some(*at);
                row.consecutive_errors = row.consecutive_errors.max(1);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, i64)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An error as stored, less the quoted start of the body that earlier
/// builds wrote into "not a feed" errors: `/sources` is public, and a
/// body can be anything its URL reaches.
fn without_body(error: &str) -> String {
    const QUOTE: &str = " (it starts with ";
    match error.find(QUOTE) {
        Some(at) if error.starts_with("not a feed:") => error[..at].to_owned(),
        _ => error.to_owned(),
    }
}

/// `3m ago`, `in 2h`, `now`: for people reading a terminal.
fn relative(at: i64, now: i64) -> String {
    let delta = at - now;
    let span = delta.unsigned_abs();
    let text = match span {
        0..=59 => format!("{span}s"),
        60..=3599 => format!("{}m", span / 60),
        3600..=86_399 => format!("{}h", span / 3600),
        _ => format!("{}d", span / 86_400),
    };
    match delta {
        -1..=1 => "now".to_owned(),
        d if d < 0 => format!("{text} ago"),
        _ => format!("in {text}"),
    }
}

/// The table `kurator status` prints, then the errors, one per line.
pub fn text(rows: &[SourceStatus], now: i64) -> String {
    let header = [
        "SOURCE",
        "OUTCOME",
        "LAST FETCH",
        "NEXT FETCH",
        "ERRORS",
        "ITEMS",
    ];
    let mut table: Vec<[String; 6]> = vec![header.map(str::to_owned)];
    for row in rows {
        let outcome = match row.http_status {
            Some(status) if row.outcome != Outcome::Disabled => {
                format!("{} ({status})", row.outcome.as_str())
            }
            _ => row.outcome.as_str().to_owned(),
        };
        table.push([
            row.id.clone(),
            outcome,
            row.last_fetch
                .map_or_else(|| "-".to_owned(), |at| relative(at, now)),
            row.next_fetch
                .map_or_else(|| "-".to_owned(), |at| relative(at, now)),
            row.consecutive_errors.to_string(),
            row.items.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|column| {
            table
                .iter()
                .map(|r| r[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &table {
        let mut text = String::new();
        for (column, cell) in line.iter().enumerate() {
            // Numbers right-aligned, text left-aligned.
            if column >= 4 {
                let _ = write!(text, "{cell:>width$}  ", width = widths[column]);
            } else {
                let _ = write!(text, "{cell:<width$}  ", width = widths[column]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    // Then the address each source really reads, what its last read
    // skipped, and each last error.
    for note in [
        (|row: &SourceStatus| row.reads_from.as_deref().map(|url| format!("reads {url}")))
            as fn(&SourceStatus) -> Option<String>,
        |row| {
            row.skipped_note()
                .map(|note| format!("{note} at the last fetch"))
        },
        |row| row.error.clone(),
    ] {
        let lines: Vec<(&str, String)> = rows
            .iter()
            .filter_map(|row| Some((row.id.as_str(), note(row)?)))
            .collect();
        if !lines.is_empty() {
            out.push('\n');
            for (id, line) in lines {
                let _ = writeln!(out, "{id}: {line}");
            }
        }
    }
    out
}

fn time_json(at: Option<i64>) -> serde_json::Value {
    at.map_or(serde_json::Value::Null, |at| json!(format_time(at)))
}

/// `/sources.json`.
pub fn json(rows: &[SourceStatus], now: i64) -> Vec<u8> {
    let sources: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            json!({
                "id": row.id,
                "title": row.title,
                "url": row.url,
                "outcome": row.outcome.as_str(),
                "http_status": row.http_status,
                "error": row.error,
                "consecutive_errors": row.consecutive_errors,
                "last_fetch": time_json(row.last_fetch),
                "last_success": time_json(row.last_success),
                "next_fetch": time_json(row.next_fetch),
                "retry_after": time_json(row.retry_after),
                "items": row.items,
                "reads_from": row.reads_from,
                "skipped_old": row.skipped_old,
            })
        })
        .collect();
    let document = json!({ "generated": format_time(now), "sources": sources });
    let mut bytes = serde_json::to_vec_pretty(&document).expect("JSON values serialize");
    bytes.push(b'\n');
    bytes
}

/// `/sources`: the same as a page.
pub fn html(rows: &[SourceStatus], now: i64) -> Vec<u8> {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Kurator: sources</title>\n\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
         .error{color:#a00}.num{text-align:right}</style>\n</head>\n<body>\n\
         <h1>Sources</h1>\n",
    );
    let _ = writeln!(
        html,
        "<p>As of {}. <a href=\"sources.json\">JSON</a> · <a href=\"./\">Topic feeds</a></p>",
        escape_text(&format_time(now))
    );
    html.push_str(
        "<table>\n<tr><th>Source</th><th>Outcome</th><th>Last fetch</th><th>Next fetch</th>\
         <th class=\"num\">Errors</th><th class=\"num\">Items</th></tr>\n",
    );
    for row in rows {
        let when = |at: Option<i64>| {
            at.map_or_else(
                || "–".to_owned(),
                |at| {
                    format!(
                        "<time datetime=\"{0}\">{0}</time>",
                        escape_text(&format_time(at))
                    )
                },
            )
        };
        let mut outcome = escape_text(row.outcome.as_str());
        if let Some(status) = row.http_status {
            let _ = write!(outcome, " ({status})");
        }
        if let Some(reads) = &row.reads_from {
            let _ = write!(outcome, "<br>reads <code>{}</code>", escape_text(reads));
        }
        if let Some(error) = &row.error {
            let _ = write!(
                outcome,
                "<br><span class=\"error\">{}</span>",
                escape_text(error)
            );
        }
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{url}\">{title}</a><br><code>{id}</code></td><td>{outcome}</td>\
             <td>{last}</td><td>{next}</td><td class=\"num\">{errors}</td><td class=\"num\">{items}</td></tr>",
            url = escape_text(&row.url),
            title = escape_text(&row.title),
            id = escape_text(&row.id),
            last = when(row.last_fetch),
            next = when(row.next_fetch),
            errors = row.consecutive_errors,
            items = row.items,
        );
    }
    html.push_str("</table>\n</body>\n</html>\n");
    html.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stored_by_older_versions_lose_the_quoted_body() {
        assert_eq!(
            without_body(
                "not a feed: the body is neither XML nor JSON (it starts with \"root:x\")"
            ),
            "not a feed: the body is neither XML nor JSON"
        );
        let other = "HTTP 500 (it starts with nothing)";
        assert_eq!(without_body(other), other);
    }

    #[test]
    fn relative_times() {
        let now = 1_000_000;
        assert_eq!(relative(now, now), "now");
        assert_eq!(relative(now - 30, now), "30s ago");
        assert_eq!(relative(now + 900, now), "in 15m");
        assert_eq!(relative(now - 7200, now), "2h ago");
        assert_eq!(relative(now + 3 * 86_400, now), "in 3d");
    }
}
