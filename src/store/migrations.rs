//! Opening a database: the connection's settings, and its schema brought up
//! to date by applying the migrations of [`super::schema`] in order.
//!
//! Only writers migrate ([`Store::open`]). Readers ([`Store::open_reader`]:
//! `status`, `query`, `render`, `explain`, `clusters`, the server) open the
//! file read-only and refuse a schema other than this binary's, so a newer
//! `kurator status` never migrates a database under an older daemon that
//! still writes it, and a database on a read-only file or directory can
//! still be read.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::{Context, describe_open_failure, disk_full, permission_problem};
use super::{Store, StoreError, WriteFault, grouping, schema, write_transaction};

/// How long a connection waits for another's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache of a reading connection, in KiB.
const READER_CACHE_KIB: u32 = 2048;

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = missing_directory(path) {
            return Err(StoreError::NoDirectory {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
            });
        }
        let open_error = |source: rusqlite::Error| match WriteFault::of(&source) {
            Some(WriteFault::DiskFull | WriteFault::Io) if disk_full(path) => {
                StoreError::OpenDiskFull {
                    path: path.to_path_buf(),
                }
            }
            _ => describe_open_failure(path, &source, true),
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

    /// Brings the schema up to [`newest_version`] and says so in one log
    /// line: a new database was created, or an older one migrated.
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
        let mut migrated_from = None;
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
            migrated_from.get_or_insert(current);
        }
        match migrated_from {
            Some(0) => tracing::info!(
                "created database {} (schema version {known})",
                self.path.display()
            ),
            Some(from) => tracing::info!(
                "migrated database {} from schema version {from} to {known}",
                self.path.display()
            ),
            None => {}
        }
        Ok(())
    }

    /// Opens the database at `path` for reading only: the server's
    /// connections and the commands that change nothing. It never creates,
    /// migrates or otherwise writes the file (not even its `-wal` and `-shm`
    /// files where the directory is read-only), keeps a small page cache,
    /// and refuses a schema that is not this binary's: older ones are
    /// migrated by a writer (`kurator check`, `kurator fetch`, the daemon),
    /// never under a daemon that may still be writing with the older schema.
    ///
    /// The big page cache pays off for the writer, whose inserts probe the
    /// whole uid index; a reader would only fill it with pages a search once
    /// scanned, for every pooled connection.
    pub fn open_reader(path: &Path) -> Result<Store, StoreError> {
        let conn = open_existing_read_only(path)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
            dedup: grouping::Dedup::default(),
        };
        store.set_cache_kib(READER_CACHE_KIB)?;
        let found = store.schema_version()?;
        let known = newest_version();
        if found > known {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        if found < known {
            return Err(StoreError::Outdated {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        Ok(store)
    }
}

/// What [`Store::check_path`] found where the database belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseFound {
    /// No file yet: the first writer creates it.
    Absent,
    /// A database at this binary's schema version.
    Current { version: u32 },
    /// A database at an older version, which the next writer to start
    /// migrates (not `kurator check`: under systemd it runs on reload too,
    /// where the daemon still running may be the older binary).
    Older { found: u32, newest: u32 },
}

impl Store {
    /// For `kurator check`: whether a writer can use the database at
    /// `path`: its directory exists and is writable, and the file is absent
    /// or an SQLite database with a schema this binary knows. Nothing is
    /// written: an older schema is reported, a new file is not created.
    pub fn check_path(path: &Path) -> Result<DatabaseFound, StoreError> {
        if let Some(dir) = missing_directory(path) {
            return Err(StoreError::NoDirectory {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
            });
        }
        if let Some(problem) = permission_problem(path, true) {
            return Err(StoreError::Unopenable {
                path: path.to_path_buf(),
                problem,
            });
        }
        if matches!(std::fs::metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
            return Ok(DatabaseFound::Absent);
        }
        let found: u32 = open_read_only(path)?
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .context("reading the schema version")?;
        let newest = newest_version();
        if found > newest {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known: newest,
            });
        }
        Ok(if found < newest {
            DatabaseFound::Older { found, newest }
        } else {
            DatabaseFound::Current { version: found }
        })
    }
}

/// [`open_read_only`] for a database that must exist already: a missing
/// directory or file is said so, not as SQLite's "unable to open".
pub(super) fn open_existing_read_only(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = missing_directory(path) {
        return Err(StoreError::NoDirectory {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    if matches!(std::fs::metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
        return Err(StoreError::NoDatabase {
            path: path.to_path_buf(),
        });
    }
    open_read_only(path)
}

/// A read-only connection to the database at `path` that has answered a
/// first read, which is where a file that is no database, or one that
/// cannot be read, shows.
///
/// A WAL database needs its `-shm` index even to be read. Where that file
/// is gone (the last connection closed cleanly) and the directory is
/// read-only, it cannot be made; then no writer can be at work either (it
/// would need the same files), so the file is read as `immutable`, which
/// needs no index. A `-wal` file left behind holds commits the main file
/// lacks, so a file that is not empty is never ignored that way.
fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let first_read = |conn: Connection| -> rusqlite::Result<Connection> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.query_row("PRAGMA user_version", [], |row| row.get::<_, u32>(0))?;
        Ok(conn)
    };
    let error = match Connection::open_with_flags(path, flags).and_then(first_read) {
        Ok(conn) => return Ok(conn),
        Err(error) => error,
    };
    let no_index = matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
    );
    let wal_empty = std::fs::metadata(sidecar(path, "-wal")).map_or_else(
        |e| e.kind() == std::io::ErrorKind::NotFound,
        |wal| wal.len() == 0,
    );
    if no_index
        && wal_empty
        && let Some(uri) = immutable_uri(path)
        && let Ok(conn) = Connection::open_with_flags(uri, flags).and_then(first_read)
    {
        return Ok(conn);
    }
    Err(describe_open_failure(path, &error, false))
}

/// `path` with `suffix` appended to its file name (`kurator.db-wal`).
fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// An SQLite URI that opens `path` as a file nothing changes.
fn immutable_uri(path: &Path) -> Option<String> {
    let text = path.to_str()?;
    let mut uri = String::from("file:");
    for c in text.chars() {
        match c {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", u32::from(c))),
            _ => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    Some(uri)
}

/// The directory that should hold `path`, if it does not exist.
fn missing_directory(path: &Path) -> Option<&Path> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    matches!(dir.try_exists(), Ok(false)).then_some(dir)
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
