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
//! * The schema is versioned ([`schema::MIGRATIONS`]); opening a database migrates it.

mod clusters;
mod retention;
pub mod schema;
mod writer;

pub use clusters::{Related, StoryExplanation};
pub use retention::{Backup, Pruned, backup};
pub use writer::{MAX_BATCH, StoreWriter};

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::dedup::Identified;
use crate::fetch::Validators;
use crate::schedule::SourceTimes;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "cannot open the database {}: the disk that holds it is full; free space on it",
        path.display()
    )]
    OpenDiskFull { path: PathBuf },
    #[error(
        "the database {} has schema version {found}, but this kurator only knows up to {known}; run a newer kurator or restore a backup",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("the database writer stopped; see the log for why")]
    Stopped,
    #[error("the database could not commit: {0}")]
    Commit(String),
    #[error("backup failed: {0}")]
    Backup(String),
    /// The database cannot take writes at all (full disk, a lock held by
    /// another process, a read-only file): every write fails alike until
    /// the cause is fixed, so no source is to blame.
    #[error("database not writable: {fault} (while {action}); {}", fault.advice())]
    NotWritable {
        fault: WriteFault,
        action: &'static str,
    },
    /// Storing one fetch panicked (a bug): that fetch is dropped, the
    /// writer goes on.
    #[error(
        "internal error while storing this fetch ({0}); the fetch was not stored and is tried again at its next slot; please report this with the source's feed"
    )]
    Panicked(String),
    #[error("database error while {action}: {source}")]
    Sql {
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Why the database takes no writes, if that is what this error is.
    pub fn write_fault(&self) -> Option<WriteFault> {
        match self {
            StoreError::NotWritable { fault, .. } => Some(*fault),
            _ => None,
        }
    }
}

/// Why a database takes no writes: faults of the database as a whole, not
/// of the fetch being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// `SQLITE_FULL`: the disk (or the file system's quota) is full.
    DiskFull,
    /// `SQLITE_BUSY`/`SQLITE_LOCKED`: another process held the write lock
    /// for longer than the busy timeout.
    Locked,
    /// The file, its directory or the file system is read-only.
    ReadOnly,
    /// `SQLITE_IOERR`: the operating system failed a read or write.
    Io,
}

impl WriteFault {
    /// Classifies an SQLite error; `None` when the error is not a fault of
    /// the database as a whole.
    pub fn of(error: &rusqlite::Error) -> Option<WriteFault> {
        use rusqlite::ErrorCode;
        let rusqlite::Error::SqliteFailure(failure, _) = error else {
            return None;
        };
        Some(match failure.code {
            ErrorCode::DiskFull => WriteFault::DiskFull,
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => WriteFault::Locked,
            ErrorCode::ReadOnly => WriteFault::ReadOnly,
            ErrorCode::SystemIoFailure => WriteFault::Io,
            _ => return None,
        })
    }

    /// What the operator can do about it.
    pub fn advice(self) -> String {
        match self {
            WriteFault::DiskFull => {
                "free space on the disk that holds the database; nothing stored is lost, and fetches are tried again at their next slots".to_owned()
            }
            WriteFault::Locked => format!(
                "another process (another kurator, a sqlite3 shell, a backup tool) held the write lock for more than {} s; let it finish or stop it; fetches are tried again at their next slots",
                BUSY_TIMEOUT.as_secs()
            ),
            WriteFault::ReadOnly => {
                "make the database file, its -wal and -shm files and their directory writable by the user running kurator".to_owned()
            }
            WriteFault::Io => {
                "the disk failed a read or write: check that it is not full (`df`) and the kernel log (`dmesg`) for disk errors".to_owned()
            }
        }
    }
}

impl std::fmt::Display for WriteFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteFault::DiskFull => "disk full",
            WriteFault::Locked => "locked by another process",
            WriteFault::ReadOnly => "the database is read-only",
            WriteFault::Io => "disk I/O error",
        })
    }
}

/// A file system with less room than this is full, as far as SQLite is
/// concerned: it writes whole pages, WAL frames and shared-memory blocks.
const FULL_BELOW_BYTES: u64 = 1 << 20;

/// `error`, with a failed read or write that is really a full disk said so:
/// SQLite reports some writes that fail for want of space (growing the
/// `-shm` file, for one) as a plain I/O error.
pub fn explain_fault(error: StoreError, db_path: &Path) -> StoreError {
    match error {
        StoreError::NotWritable {
            fault: WriteFault::Io,
            action,
        } if disk_full(db_path) => StoreError::NotWritable {
            fault: WriteFault::DiskFull,
            action,
        },
        other => other,
    }
}

/// Why the database at `path` cannot take writes, as far as can be seen
/// without writing: a file system with no room left.
pub fn write_outlook(path: &Path) -> Result<(), StoreError> {
    if disk_full(path) {
        return Err(StoreError::NotWritable {
            fault: WriteFault::DiskFull,
            action: "checking the free space beside it",
        });
    }
    Ok(())
}

/// Whether the file system that holds `path` has no room left for SQLite.
fn disk_full(path: &Path) -> bool {
    free_bytes(path).is_some_and(|free| free < FULL_BELOW_BYTES)
}

/// Bytes an unprivileged writer may still use on the file system that holds
/// `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let stats = rustix::fs::statvfs(dir.unwrap_or(Path::new("."))).ok()?;
        Some(stats.f_bavail.saturating_mul(stats.f_frsize))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}

/// How long a connection waits for another's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

trait Context<T> {
    fn context(self, action: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, action: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| match WriteFault::of(&source) {
            Some(fault) => StoreError::NotWritable { fault, action },
            None => StoreError::Sql { action, source },
        })
    }
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
     effective_url, moved_to, feed_ttl, fresh_until";

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

/// How many items one fetch added, changed and left alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Counts for status lines and health checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Counted only when asked for: it reads a whole index.
    pub items: Option<u64>,
    /// Sources whose last fetch failed.
    pub failing_sources: u64,
}

/// Where one output feed stands: see [`Store::feed_versions`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedVersion {
    pub version: i64,
    /// Seconds since the epoch.
    pub changed_at: i64,
}

/// A stored item, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub id: i64,
    pub uid: String,
    pub source_id: String,
    pub identity: String,
    pub link: Option<String>,
    pub title: String,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub author: Option<String>,
    pub categories: Vec<String>,
    pub published: i64,
    pub updated: i64,
    pub first_seen: i64,
    /// The cluster (the id of its first item) when the story has several reports.
    pub cluster_id: Option<i64>,
}

impl StoredItem {
    /// The cluster this item shows as: its own id when alone.
    pub fn cluster(&self) -> i64 {
        self.cluster_id.unwrap_or(self.id)
    }
}

/// Page cache of a reading connection, in KiB.
const READER_CACHE_KIB: u32 = 2048;

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Grouping of new items into stories; used by writers only.
    dedup: clusters::Dedup,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |source: rusqlite::Error| match WriteFault::of(&source) {
            Some(WriteFault::DiskFull | WriteFault::Io) if disk_full(path) => {
                StoreError::OpenDiskFull {
                    path: path.to_path_buf(),
                }
            }
            _ => StoreError::Open {
                path: path.to_path_buf(),
                source,
            },
        };
        let conn = Connection::open(path).map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        // page_size only takes effect before the first table exists; 16 KiB pages
        // make inserts about 50% faster and the file a third smaller. A 32 MiB
        // page cache (an upper bound, filled only as pages are used) keeps the
        // randomly keyed uid index in memory: about 35% more ingest throughput.
        conn.execute_batch(
            "PRAGMA page_size = 16384;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -32768;",
        )
        .map_err(open_error)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            dedup: clusters::Dedup::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Bounds this connection's page cache (an upper bound; pages fill it
    /// only as they are read).
    pub fn set_cache_kib(&self, kib: u32) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{kib};"))
            .context("setting the page cache size")
    }

    /// The schema version this database is at.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .context("reading the schema version")
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        let known = schema::MIGRATIONS.len() as u32;
        if found > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known,
            });
        }
        for (index, migration) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = write_transaction(&mut self.conn, "starting a migration")?;
            // Another process may have migrated while this one waited for the lock.
            let current: u32 = tx
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .context("reading the schema version")?;
            if current > index as u32 {
                continue;
            }
            tx.execute_batch(migration)
                .context("migrating the schema")?;
            tx.pragma_update(None, "user_version", index as u32 + 1)
                .context("recording the schema version")?;
            tx.commit().context("committing a migration")?;
            tracing::info!(version = index + 1, "database schema migrated");
        }
        Ok(())
    }

    /// [`Store::open`] for a connection that only reads (the server's):
    /// a small page cache. The big one pays off for the writer, whose
    /// inserts probe the whole uid index; a reader would only fill it with
    /// pages a search once scanned, for every pooled connection.
    pub fn open_reader(path: &Path) -> Result<Store, StoreError> {
        let store = Store::open(path)?;
        store.set_cache_kib(READER_CACHE_KIB)?;
        Ok(store)
    }

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

    /// Stored items per source id.
    pub fn item_counts_by_source(&self) -> Result<HashMap<String, u64>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT source_id, count(*) FROM items GROUP BY source_id")
            .context("counting items per source")?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })
            .context("counting items per source")?;
        rows.collect::<Result<_, _>>()
            .context("counting items per source")
    }

    /// Records one fetch of a source: its items (if any) and its new state, in
    /// one transaction. `now` is seconds since the epoch. The items' dedup
    /// keys are taken (the window index keeps them).
    pub fn record_fetch(
        &mut self,
        source_id: &str,
        url: &str,
        record: &FetchRecord,
        items: &mut [Identified],
        now: i64,
    ) -> Result<Counts, StoreError> {
        let tx = write_transaction(&mut self.conn, "starting a transaction")?;
        self.dedup.prepare_or_skip(&tx, now);
        let mut changes = Vec::new();
        let (bumped, mut bumping) = (HashSet::new(), Vec::new());
        let dedup = DedupContext::of(&self.dedup, &mut changes, &bumped, &mut bumping);
        let counts = apply_fetch(&tx, source_id, url, record, items, now, None, dedup)?;
        if let Err(err) = tx.commit() {
            self.dedup.invalidate();
            return Err(err).context("committing a fetch");
        }
        self.dedup.apply(source_id, changes);
        Ok(counts)
    }

    /// Sets how new items group into stories (`[dedup]`).
    pub fn set_dedup(&mut self, settings: crate::dedup::Settings) {
        self.dedup.configure(settings);
    }

    /// Records several fetches in one commit (group commit). Each fetch runs in
    /// its own savepoint, so a fetch that fails leaves nothing behind while the
    /// others are kept; a crash before the commit keeps none of them, so no
    /// fetch is ever half-written either way.
    ///
    /// Why: a commit writes every page it touched to the WAL. Fetches that
    /// finish together share index pages, and committing them together writes
    /// those pages once instead of once per fetch.
    ///
    /// The items' dedup keys are taken (the window index keeps them).
    pub fn record_fetches(
        &mut self,
        fetches: &mut [PendingFetch],
    ) -> Result<Vec<Result<Counts, StoreError>>, StoreError> {
        let Store { conn, dedup, .. } = self;
        let mut tx = write_transaction(conn, "starting a transaction")?;
        let now = fetches.iter().map(|f| f.now).max().unwrap_or_default();
        dedup.prepare_or_skip(&tx, now);
        let mut results = Vec::with_capacity(fetches.len());
        let mut bumped = HashSet::new();
        for fetch in fetches {
            let savepoint = tx.savepoint().context("starting a savepoint")?;
            let mut changes = Vec::new();
            let mut bumping = Vec::new();
            let result = apply_fetch(
                &savepoint,
                &fetch.source_id,
                &fetch.url,
                &fetch.record,
                &mut fetch.items,
                fetch.now,
                fetch.oldest_kept,
                DedupContext::of(dedup, &mut changes, &bumped, &mut bumping),
            );
            match result {
                Ok(_) => {
                    if let Err(err) = savepoint.commit().context("releasing a savepoint") {
                        dedup.invalidate();
                        return Err(err);
                    }
                    dedup.apply(&fetch.source_id, changes);
                    bumped.extend(bumping);
                }
                // A fault of the whole database (a full disk, a lost lock)
                // may have rolled back the whole transaction, fetches
                // already applied included: none of the batch is kept.
                Err(err) if err.write_fault().is_some() => {
                    drop(savepoint);
                    drop(tx);
                    dedup.invalidate();
                    return Err(err);
                }
                // Dropping the savepoint rolls it back.
                Err(_) => drop(savepoint),
            }
            results.push(result);
        }
        if let Err(err) = tx.commit() {
            dedup.invalidate();
            return Err(err).context("committing fetches");
        }
        Ok(results)
    }

    /// Failing sources, and with `count_items` the number of items.
    pub fn stats(&self, count_items: bool) -> Result<StoreStats, StoreError> {
        let items = if count_items {
            let items: i64 = self
                .conn
                .query_row("SELECT count(*) FROM items", [], |row| row.get(0))
                .context("counting items")?;
            Some(items as u64)
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
            failing_sources: failing as u64,
        })
    }

    /// Number of stored items, optionally of one source.
    pub fn item_count(&self, source_id: Option<&str>) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM items WHERE ?1 IS NULL OR source_id = ?1",
                [source_id],
                |row| row.get(0),
            )
            .context("counting items")
    }

    /// Stored items of one source, newest first.
    pub fn items_of_source(&self, source_id: &str) -> Result<Vec<StoredItem>, StoreError> {
        let mut items = Vec::new();
        self.scan_items(Some(source_id), |item| {
            items.push(item);
            true
        })?;
        Ok(items)
    }

    /// Calls `visit` with stored items, newest first (all sources, or one),
    /// until it returns `false`. Items are streamed, not collected, so a
    /// query over a large database stops as soon as it has enough.
    pub fn scan_items(
        &self,
        source_id: Option<&str>,
        mut visit: impl FnMut(StoredItem) -> bool,
    ) -> Result<(), StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE ?1 IS NULL OR source_id = ?1
                 ORDER BY published DESC, id DESC"
            ))
            .context("reading items")?;
        let mut rows = statement.query([source_id]).context("reading items")?;
        while let Some(row) = rows.next().context("reading items")? {
            let item = stored_item(row).context("reading an item")?;
            if !visit(item) {
                break;
            }
        }
        Ok(())
    }

    /// Up to `limit` items with ids above `after_id`, in id order: pages for
    /// maintenance passes that also write (`kurator retag`).
    pub fn items_after(&self, after_id: i64, limit: usize) -> Result<Vec<StoredItem>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .context("reading items")?;
        let rows = statement
            .query_map(params![after_id, limit as i64], stored_item)
            .context("reading items")?;
        rows.collect::<Result<_, _>>().context("reading items")
    }

    /// One item by its row id.
    pub fn item_by_id(&self, id: i64) -> Result<Option<StoredItem>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"),
                [id],
                stored_item,
            )
            .optional()
            .context("reading an item")
    }

    /// Items with this (canonical) link, newest first.
    pub fn items_by_link(&self, link: &str) -> Result<Vec<StoredItem>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE link = ?1 ORDER BY published DESC"
            ))
            .context("reading items")?;
        let rows = statement
            .query_map([link], stored_item)
            .context("reading items")?;
        rows.collect::<Result<_, _>>().context("reading items")
    }

    /// The newest `limit` items of a topic (or of all items), newest first.
    pub fn feed_items(
        &self,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, StoreError> {
        // Newest first, one item per cluster (its newest in the feed). A
        // LIMIT lets SQLite keep only the newest rows while sorting; clusters
        // make some rows repeats, so it reads a few times `limit` rows and
        // only reads on when that was not enough.
        let sql = match topic {
            Some(_) => format!(
                "SELECT {ITEM_COLUMNS} FROM item_topics JOIN items ON items.id = item_topics.item_id
                 WHERE item_topics.topic = ?1 ORDER BY items.published DESC, items.id DESC LIMIT ?2"
            ),
            None => format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE ?1 IS NULL ORDER BY published DESC, id DESC LIMIT ?2"
            ),
        };
        let mut statement = self.conn.prepare_cached(&sql).context("reading a feed")?;
        let mut rows_wanted = limit.saturating_mul(4).max(64);
        loop {
            let mut rows = statement
                .query(params![topic, rows_wanted as i64])
                .context("reading a feed")?;
            let mut seen = std::collections::HashSet::new();
            let mut items = Vec::with_capacity(limit.min(512));
            let mut rows_read = 0;
            while items.len() < limit
                && let Some(row) = rows.next().context("reading a feed")?
            {
                rows_read += 1;
                let item = stored_item(row).context("reading a feed item")?;
                if seen.insert(item.cluster()) {
                    items.push(item);
                }
            }
            // Enough clusters, or every row read.
            if items.len() >= limit || rows_read < rows_wanted {
                return Ok(items);
            }
            rows_wanted = rows_wanted.saturating_mul(8).min(i64::MAX as usize);
        }
    }

    /// The items of a cluster, oldest first.
    pub fn cluster_members(&self, cluster: i64) -> Result<Vec<StoredItem>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE cluster_id = ?1 ORDER BY published, id"
            ))
            .context("reading a cluster")?;
        let rows = statement
            .query_map([cluster], stored_item)
            .context("reading a cluster")?;
        rows.collect::<Result<_, _>>().context("reading a cluster")
    }

    /// Why an item joined its cluster: the reason (`link`, `cites`, `text`)
    /// and the score, if it joined one.
    pub fn cluster_reason(&self, item_id: i64) -> Result<Option<(String, f64)>, StoreError> {
        self.conn
            .query_row(
                "SELECT cluster_reason, cluster_score FROM items
                 WHERE id = ?1 AND cluster_reason IS NOT NULL",
                [item_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .context("reading a cluster reason")
    }

    /// The slugs of the topics one item is stored under, sorted.
    pub fn topics_of(&self, item_id: i64) -> Result<Vec<String>, StoreError> {
        topics_of(&self.conn, item_id)
    }

    /// Every feed's version and when it last changed (seconds since the
    /// epoch); a feed never changed has none.
    pub fn feed_versions(&self) -> Result<HashMap<String, FeedVersion>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT feed, version, changed_at FROM feed_versions")
            .context("reading feed versions")?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    FeedVersion {
                        version: row.get(1)?,
                        changed_at: row.get(2)?,
                    },
                ))
            })
            .context("reading feed versions")?;
        rows.collect::<Result<_, _>>()
            .context("reading feed versions")
    }

    /// SQLite's `data_version`: changes when another connection commits.
    /// Reading it touches no table, so it is the cheap way to notice that
    /// `kurator fetch` or `kurator retag` ran in another process.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .context("reading the data version")
    }

    /// Replaces the topics of many items in one transaction; returns how many
    /// items' topics actually changed.
    pub fn replace_topics(
        &mut self,
        updates: &[(i64, Vec<String>)],
        now: i64,
    ) -> Result<usize, StoreError> {
        let tx = write_transaction(&mut self.conn, "starting a transaction")?;
        let mut changed = 0;
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for (item_id, topics) in updates {
            let current = topics_of(&tx, *item_id)?;
            let mut wanted = topics.clone();
            wanted.sort();
            wanted.dedup();
            if current != wanted {
                write_topics(&tx, *item_id, &wanted)?;
                // Only the topics the item enters or leaves change.
                touched.extend(current.iter().filter(|t| !wanted.contains(t)).cloned());
                touched.extend(wanted.iter().filter(|t| !current.contains(t)).cloned());
                changed += 1;
            }
        }
        bump_feed_versions(&tx, touched.iter().map(String::as_str), now)?;
        tx.commit().context("committing topics")?;
        Ok(changed)
    }

    /// Direct access for maintenance commands and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// The columns [`stored_item`] reads, in its order.
const ITEM_COLUMNS: &str = "items.id, items.uid, items.source_id, items.identity, items.link, \
                            items.title, items.summary, items.content, items.author, items.categories, \
                            items.published, items.updated, items.first_seen, items.cluster_id";

fn stored_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredItem> {
    let categories: String = row.get(9)?;
    Ok(StoredItem {
        id: row.get(0)?,
        uid: row.get(1)?,
        source_id: row.get(2)?,
        identity: row.get(3)?,
        link: row.get(4)?,
        title: row.get(5)?,
        summary: row.get(6)?,
        content: row.get(7)?,
        author: row.get(8)?,
        categories: serde_json::from_str(&categories).unwrap_or_default(),
        published: row.get(10)?,
        updated: row.get(11)?,
        first_seen: row.get(12)?,
        cluster_id: row.get(13)?,
    })
}

/// One fetch waiting to be recorded by [`Store::record_fetches`].
#[derive(Debug, Clone)]
pub struct PendingFetch {
    pub source_id: String,
    pub url: String,
    pub record: FetchRecord,
    pub items: Vec<Identified>,
    pub now: i64,
    /// New items published before this (seconds since the epoch) are not
    /// stored: pruning would delete them again (`[storage] keep_days`).
    pub oldest_kept: Option<i64>,
}

/// What grouping new items needs: the prepared index (none when it could
/// not be built; items then stay alone) and where to note index changes.
struct DedupContext<'a> {
    index: Option<&'a crate::dedup::Index>,
    settings: crate::dedup::Settings,
    changes: &'a mut Vec<clusters::IndexChange>,
    /// Stories whose topics' feeds this transaction already bumped (in
    /// fetches that were kept): a join to them needs no topic lookup.
    bumped: &'a HashSet<i64>,
    /// Stories whose topics' feeds this fetch bumps.
    bumping: &'a mut Vec<i64>,
}

impl<'a> DedupContext<'a> {
    fn of(
        dedup: &'a clusters::Dedup,
        changes: &'a mut Vec<clusters::IndexChange>,
        bumped: &'a HashSet<i64>,
        bumping: &'a mut Vec<i64>,
    ) -> DedupContext<'a> {
        DedupContext {
            index: dedup.index(),
            settings: dedup.settings,
            changes,
            bumped,
            bumping,
        }
    }
}

/// Writes one fetch: the items, then the source's state.
#[allow(clippy::too_many_arguments)]
fn apply_fetch(
    conn: &Connection,
    source_id: &str,
    url: &str,
    record: &FetchRecord,
    items: &mut [Identified],
    now: i64,
    oldest_kept: Option<i64>,
    dedup: DedupContext<'_>,
) -> Result<Counts, StoreError> {
    let counts = upsert_items(conn, source_id, items, now, oldest_kept, dedup)?;
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
    Ok(counts)
}

/// The feed key of the feed of every item (topic slugs cannot be `all`).
pub const ALL_FEED: &str = "all";

/// Moves the version of each of `feeds` on: their rendered bytes are stale.
fn bump_feed_versions<'a>(
    conn: &Connection,
    feeds: impl IntoIterator<Item = &'a str>,
    now: i64,
) -> Result<(), StoreError> {
    let mut bump = conn
        .prepare_cached(
            "INSERT INTO feed_versions (feed, version, changed_at) VALUES (?1, 1, ?2)
             ON CONFLICT (feed) DO UPDATE SET version = version + 1,
                                              changed_at = MAX(changed_at, excluded.changed_at)",
        )
        .context("preparing a feed version update")?;
    for feed in feeds {
        bump.execute(params![feed, now])
            .context("updating a feed version")?;
    }
    Ok(())
}

/// The topics of one item, sorted.
fn topics_of(conn: &Connection, item_id: i64) -> Result<Vec<String>, StoreError> {
    let mut statement = conn
        .prepare_cached("SELECT topic FROM item_topics WHERE item_id = ?1 ORDER BY topic")
        .context("reading topics")?;
    let rows = statement
        .query_map([item_id], |row| row.get(0))
        .context("reading topics")?;
    rows.collect::<Result<_, _>>().context("reading topics")
}

/// Replaces the topics of one item.
fn write_topics(conn: &Connection, item_id: i64, topics: &[String]) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM item_topics WHERE item_id = ?1")
        .and_then(|mut statement| statement.execute([item_id]))
        .context("clearing topics")?;
    insert_topics(conn, item_id, topics)
}

/// Adds topics to an item that has none yet.
fn insert_topics(conn: &Connection, item_id: i64, topics: &[String]) -> Result<(), StoreError> {
    if topics.is_empty() {
        return Ok(());
    }
    let mut insert = conn
        .prepare_cached("INSERT OR IGNORE INTO item_topics (topic, item_id) VALUES (?1, ?2)")
        .context("preparing topic insert")?;
    for topic in topics {
        insert
            .execute(params![topic, item_id])
            .context("storing a topic")?;
    }
    Ok(())
}

fn upsert_items(
    tx: &Connection,
    source_id: &str,
    items: &mut [Identified],
    now: i64,
    oldest_kept: Option<i64>,
    dedup: DedupContext<'_>,
) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    if items.is_empty() {
        return Ok(counts);
    }
    let mut find = tx
        .prepare_cached("SELECT id, content_hash FROM items WHERE uid = ?1")
        .context("preparing item lookup")?;
    let mut was_pruned = tx
        .prepare_cached("SELECT 1 FROM pruned WHERE uid = ?1")
        .context("preparing the pruned lookup")?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO items (uid, source_id, identity, guid, link, title, summary, content, author,
                                categories, published, updated, first_seen, content_hash,
                                cluster_id, cluster_reason, cluster_score)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )
        .context("preparing item insert")?;
    let mut update = tx
        .prepare_cached(
            "UPDATE items SET guid = ?2, link = ?3, title = ?4, summary = ?5, content = ?6,
                              author = ?7, categories = ?8, updated = ?9, content_hash = ?10
             WHERE id = ?1",
        )
        .context("preparing item update")?;
    // The feeds whose content this fetch changes: `all`, and every topic an
    // item enters or leaves.
    let mut touched: BTreeSet<&str> = BTreeSet::new();
    let mut old_topics: Vec<String> = Vec::new();
    let mut cluster_topics: Vec<String> = Vec::new();
    for identified in items {
        let item = &identified.item;
        let existing: Option<(i64, Vec<u8>)> = find
            .query_row([&identified.uid], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .context("looking up an item")?;
        let categories = serde_json::to_string(&item.categories).unwrap_or_else(|_| "[]".into());
        match existing {
            None => {
                let published = item.published.or(item.updated).unwrap_or(now);
                // Pruned once, or old enough to be pruned at once: not new.
                if oldest_kept.is_some_and(|oldest| published < oldest)
                    || was_pruned
                        .exists([&identified.uid])
                        .context("looking up pruned items")?
                {
                    counts.unchanged += 1;
                    continue;
                }
                let updated = item.updated.unwrap_or(published).max(published);
                // The story it joins, decided before the row is written so
                // the row is written once.
                let grouping = dedup.index.map(|index| {
                    // The index keeps the keys: taken, not copied.
                    let keys = identified
                        .keys
                        .take()
                        .unwrap_or_else(|| crate::dedup::Keys::of_item(&identified.item));
                    let decided =
                        index.decide_with_bands(&keys, source_id, published, &dedup.settings);
                    (keys, decided)
                });
                let decision = grouping.as_ref().and_then(|(_, d)| d.decision.as_ref());
                insert
                    .execute(params![
                        identified.uid,
                        source_id,
                        identified.identity,
                        item.guid,
                        item.link,
                        item.title,
                        item.summary,
                        item.content,
                        item.author,
                        categories,
                        published,
                        updated,
                        now,
                        identified.content_hash.as_slice(),
                        decision.map(|d| d.cluster),
                        decision.map(|d| d.reason.as_str()),
                        decision.map(|d| d.score),
                    ])
                    .context("inserting an item")?;
                let id = tx.last_insert_rowid();
                insert_topics(tx, id, &identified.topics)?;
                touched.extend(identified.topics.iter().map(String::as_str));
                counts.new += 1;
                if let Some((keys, decided)) = grouping {
                    let mut cluster = id;
                    if let Some(decision) = decided.decision {
                        cluster = decision.cluster;
                        if !decision.founded {
                            dedup.changes.push(clusters::found(tx, cluster)?);
                        }
                        // The cluster's entry now lists this report too:
                        // its topics' feeds change (read once per commit).
                        if !dedup.bumped.contains(&cluster) && !dedup.bumping.contains(&cluster) {
                            cluster_topics.extend(clusters::cluster_topics(tx, cluster)?);
                            dedup.bumping.push(cluster);
                        }
                    }
                    dedup.changes.push(clusters::IndexChange::Insert {
                        id,
                        cluster,
                        published,
                        keys,
                        sketch: decided.sketch,
                    });
                }
            }
            Some((_, hash)) if hash == identified.content_hash => counts.unchanged += 1,
            Some((id, _)) => {
                update
                    .execute(params![
                        id,
                        item.guid,
                        item.link,
                        item.title,
                        item.summary,
                        item.content,
                        item.author,
                        categories,
                        now,
                        identified.content_hash.as_slice(),
                    ])
                    .context("updating an item")?;
                old_topics.extend(topics_of(tx, id)?);
                write_topics(tx, id, &identified.topics)?;
                touched.extend(identified.topics.iter().map(String::as_str));
                counts.updated += 1;
            }
        }
    }
    if counts.new + counts.updated > 0 {
        touched.insert(ALL_FEED);
        touched.extend(old_topics.iter().map(String::as_str));
        touched.extend(cluster_topics.iter().map(String::as_str));
        bump_feed_versions(tx, touched, now)?;
    }
    Ok(counts)
}

/// What rules see of a stored item.
impl<'a> From<&'a StoredItem> for crate::tag::ItemView<'a> {
    fn from(item: &'a StoredItem) -> Self {
        crate::tag::ItemView {
            title: &item.title,
            summary: item.summary.as_deref(),
            content: item.content.as_deref(),
            author: item.author.as_deref(),
            link: item.link.as_deref(),
            categories: &item.categories,
        }
    }
}
