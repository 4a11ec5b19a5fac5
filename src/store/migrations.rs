//! Opening a database: the connection's settings, and its schema brought up
//! to date by applying the migrations of [`super::schema`] in order.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::error::{Context, disk_full};
use super::{Store, StoreError, WriteFault, grouping, schema, write_transaction};

/// How long a connection waits for another's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache of a reading connection, in KiB.
const READER_CACHE_KIB: u32 = 2048;

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
            dedup: grouping::Dedup::default(),
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
        let known = newest_version();
        if found > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known,
            });
        }
        for (version, migration) in (1u32..).zip(schema::MIGRATIONS).skip(found as usize) {
            let tx = write_transaction(&mut self.conn, "starting a migration")?;
            // Another process may have migrated while this one waited for the lock.
            let current: u32 = tx
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .context("reading the schema version")?;
            if current >= version {
                continue;
            }
            tx.execute_batch(migration)
                .context("migrating the schema")?;
            tx.pragma_update(None, "user_version", version)
                .context("recording the schema version")?;
            tx.commit().context("committing a migration")?;
            tracing::info!(version, "database schema migrated");
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
}

/// The schema version of a database with every migration applied.
fn newest_version() -> u32 {
    u32::try_from(schema::MIGRATIONS.len()).expect("a few dozen migrations")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, NOW};

    #[test]
    fn a_new_database_is_at_the_newest_version_and_reopening_changes_nothing() {
        let (dir, mut store) = testing::open();
        let newest = newest_version();
        assert_eq!(store.schema_version().unwrap(), newest);
        testing::record(&mut store, "src", vec![]);
        drop(store);
        let store = Store::open(&dir.path().join("kurator.db")).unwrap();
        assert_eq!(store.schema_version().unwrap(), newest);
        let state = store.source_state("src").unwrap().expect("kept");
        assert_eq!(state.last_success, Some(NOW));
    }

    #[test]
    fn a_database_half_way_up_is_migrated_the_rest_of_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kurator.db");
        let half = schema::MIGRATIONS.len() / 2;
        let conn = Connection::open(&path).unwrap();
        for migration in &schema::MIGRATIONS[..half] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", u32::try_from(half).unwrap())
            .unwrap();
        drop(conn);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), newest_version());
        // The tables and columns of the later migrations are there.
        assert!(store.feed_versions().unwrap().is_empty());
        assert!(store.recent_clusters(0).unwrap().is_empty());
    }

    #[test]
    fn a_reader_keeps_a_small_page_cache() {
        let (dir, store) = testing::open();
        let cache = |store: &Store| -> i64 {
            store
                .connection()
                .query_row("PRAGMA cache_size", [], |row| row.get(0))
                .unwrap()
        };
        assert_eq!(cache(&store), -32768);
        let reader = Store::open_reader(&dir.path().join("kurator.db")).unwrap();
        assert_eq!(cache(&reader), -i64::from(READER_CACHE_KIB));
    }
}
