//! Store: the SQLite database, the only place state lives.
//!
//! Rules:
//! * WAL mode with `synchronous=NORMAL`: readers never block the writer, and a
//!   crash loses at most the last transactions, never consistency.
//! * Each source fetch is atomic ([`Store::record_fetch`], or a savepoint of
//!   its own in a group commit, [`Store::record_fetches`]): the items and the
//!   source's state land together or not at all.
//! * Unchanged items are not rewritten; changed ones are updated in place, keeping
//!   their row id and `uid`; items that leave the feed stay stored.
//! * Every change to what an output feed shows bumps that feed's version in
//!   the same transaction ([`Store::feed_versions`]), which is how the server
//!   knows a rendered feed is stale without reading items.
//! * The schema is versioned ([`schema::MIGRATIONS`]); a writer opening a
//!   database migrates it, a reader ([`Store::open_reader`]) opens it read-only
//!   and refuses a schema other than its own.
//! * The story a new item joins is decided before its row is written, by
//!   code that touches no table (`grouping`), against the items stored
//!   before it: those of earlier fetches, including earlier fetches of the
//!   same group commit. The SQL records the decision it is given.
//!
//! One fetch is written in this order (`fetches`): per item, in feed order,
//! it is looked up; a new one gets its story decided, its row inserted with
//! that decision, its topics, and the story founded on its first report; a
//! changed one is updated in place with its topics replaced. Then the
//! versions of the feeds that changed move on, and last the source's state
//! is recorded.
//!
//! One file per entity, each with its own tests against real SQLite files:
//! * `migrations`: opening a database (connection settings) and bringing its
//!   schema up to date; `schema` holds the migrations themselves.
//! * `sources`: what is remembered of each source between fetches.
//! * `items`: the item rows: inserting, updating, reading them back.
//! * `stories`: which items are one story (clusters), recorded and read back.
//! * `corrections`: editors' splits and joins of stories, which hold.
//! * `grouping`: which story a new item joins, decided against the writer's
//!   index of recent items before the item's row is written; the row then
//!   records the decision as given (the SQL makes none).
//! * `topics`: the topics of each item and the versions of the output feeds.
//! * `retention`: pruning old items, and backups.
//! * `fetches`: recording one fetch (or a group of them) in one transaction,
//!   writing each of the entities above.
//! * `writer`: the writer thread that batches fetches into group commits.
//! * `error`: what goes wrong, and which faults are the database's as a whole.

mod corrections;
mod error;
mod fetches;
mod grouping;
mod items;
mod migrations;
mod retention;
pub mod schema;
mod sources;
mod stories;
mod topics;
mod writer;

pub use corrections::{Correction, CorrectionKind, Joined, Refused, Split};
pub use error::{StoreError, WriteFault, explain_fault, write_outlook};
pub use fetches::{Counts, PendingFetch, skipped_note};
pub use items::StoredItem;
pub use migrations::{BUSY_TIMEOUT, DatabaseFound};
pub use retention::{Backup, Pruned, backup};
pub use sources::{FetchRecord, SourceState, StoreStats};
pub use stories::{Related, StoryExplanation, story_entry_id};
pub use topics::{ALL_FEED, FeedVersion};
pub use writer::{MAX_BATCH, StoreWriter};

use std::path::PathBuf;

use rusqlite::Connection;

use error::Context;

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Grouping of new items into stories; used by writers only.
    dedup: grouping::Dedup,
}

impl Store {
    /// SQLite's `data_version`: changes when another connection commits.
    /// Reading it touches no table, so it is the cheap way to notice that
    /// `kurator fetch` or `kurator retag` ran in another process.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .context("reading the data version")
    }

    /// Direct access for maintenance commands and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// A count SQLite returned (`COUNT(*)`, `SUM`), which is never negative.
fn row_count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A row limit as SQLite takes it.
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Starts a write transaction that takes the write lock at once
/// (`BEGIN IMMEDIATE`), so waiting for another writer goes through the busy
/// timeout; a deferred transaction that reads first and then wants to write
/// fails at once with `SQLITE_BUSY` instead.
fn write_transaction<'c>(
    conn: &'c mut Connection,
    action: &'static str,
) -> Result<rusqlite::Transaction<'c>, StoreError> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .context(action)
}

#[cfg(test)]
mod testing;
