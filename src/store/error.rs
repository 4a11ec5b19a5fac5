//! What goes wrong in the store, said so a user knows what to do, and which
//! faults belong to the database as a whole (a full disk, a lock held by
//! another process, a read-only file) rather than to the fetch being written.

use std::path::{Path, PathBuf};

use super::BUSY_TIMEOUT;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// Opening failed for a reason said in words ([`describe_open_failure`]).
    #[error("cannot open the database {}: {problem}", path.display())]
    Unopenable { path: PathBuf, problem: String },
    #[error(
        "cannot open the database {}: the directory {} does not exist; create it (`mkdir -p {}`) or choose another path with --db or [storage] path",
        path.display(), dir.display(), dir.display()
    )]
    NoDirectory { path: PathBuf, dir: PathBuf },
    #[error(
        "no database at {} yet: `kurator fetch` or the daemon (`kurator run`) creates it; or choose another path with --db or [storage] path",
        path.display()
    )]
    NoDatabase { path: PathBuf },
    #[error(
        "the database {} has schema version {found}, older than this kurator's {known}; readers do not migrate it: restart the daemon (or run `kurator fetch`) with this kurator to migrate it",
        path.display()
    )]
    Outdated {
        path: PathBuf,
        found: u32,
        known: u32,
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

/// Why the database at `path` could not be opened, said so a user can fix
/// it: SQLite's own words ("unable to open database file") name neither
/// the cause nor the file. `writing`: whether it was opened to be written.
pub(super) fn describe_open_failure(
    path: &Path,
    error: &rusqlite::Error,
    writing: bool,
) -> StoreError {
    use rusqlite::ErrorCode;
    let unopenable = |problem: String| StoreError::Unopenable {
        path: path.to_path_buf(),
        problem,
    };
    let code = error.sqlite_error_code();
    if code == Some(ErrorCode::NotADatabase) {
        return unopenable(
            "it is not an SQLite database (SQLite says: file is not a database); check --db or [storage] path, or move the file away and let kurator create a new database"
                .to_owned(),
        );
    }
    if matches!(
        code,
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied)
    ) && let Some(denied) = permission_problem(path, writing)
    {
        return unopenable(denied);
    }
    unopenable(format!("{error}"))
}

/// What about the database file or its directory keeps this process from
/// reading (or, when `writing`, writing) it, if that is the trouble.
pub(super) fn permission_problem(path: &Path, writing: bool) -> Option<String> {
    use rustix::fs::{Access, access};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let user = rustix::process::geteuid().as_raw();
    let denied = |what: String, needed: &str| {
        Some(format!(
            "permission denied: {what} is not {needed} by this user (uid {user}); change its owner or mode (`ls -l` shows them), or run kurator as the user that owns the database"
        ))
    };
    let exists = path.try_exists().unwrap_or(false);
    if access(dir, Access::EXEC_OK).is_err() {
        return denied(format!("the directory {}", dir.display()), "searchable");
    }
    if exists && access(path, Access::READ_OK).is_err() {
        return denied(format!("the file {}", path.display()), "readable");
    }
    if writing {
        if exists && access(path, Access::WRITE_OK).is_err() {
            return denied(format!("the file {}", path.display()), "writable");
        }
        // New files, and the -wal and -shm files beside the database, are
        // made in its directory.
        if access(dir, Access::WRITE_OK).is_err() {
            return denied(format!("the directory {}", dir.display()), "writable");
        }
    }
    None
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
pub(super) fn disk_full(path: &Path) -> bool {
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

pub(super) trait Context<T> {
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

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};

    use super::*;
    use crate::store::testing;

    #[test]
    fn a_read_only_database_is_a_fault_of_the_whole_database() {
        let (dir, store) = testing::open();
        drop(store);
        let conn = Connection::open_with_flags(
            dir.path().join("kurator.db"),
            OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let error = conn
            .execute(
                "INSERT INTO sources (id, url) VALUES ('a', 'https://a.example/')",
                [],
            )
            .context("recording a fetch")
            .unwrap_err();
        assert_eq!(error.write_fault(), Some(WriteFault::ReadOnly));
        let message = error.to_string();
        assert!(message.contains("(while recording a fetch)"), "{message}");
        assert!(message.contains("writable by the user"), "{message}");
    }

    #[test]
    fn a_write_lock_held_by_another_connection_is_locked() {
        let (dir, store) = testing::open();
        store.connection().execute_batch("BEGIN IMMEDIATE").unwrap();
        let other = Connection::open(dir.path().join("kurator.db")).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        let error = other
            .execute_batch("BEGIN IMMEDIATE")
            .context("starting a transaction")
            .unwrap_err();
        assert_eq!(error.write_fault(), Some(WriteFault::Locked));
        assert!(error.to_string().contains("held the write lock"), "{error}");
    }

    #[test]
    fn a_failed_statement_blames_the_statement_not_the_database() {
        let (dir, store) = testing::open();
        let error = store
            .connection()
            .execute("INSERT INTO no_such_table VALUES (1)", [])
            .context("storing a thing")
            .unwrap_err();
        assert_eq!(error.write_fault(), None);
        assert!(matches!(
            error,
            StoreError::Sql {
                action: "storing a thing",
                ..
            }
        ));
        // Only an I/O error may turn out to be a full disk.
        let explained = explain_fault(error, &dir.path().join("kurator.db"));
        assert!(matches!(explained, StoreError::Sql { .. }), "{explained}");
        assert!(write_outlook(&dir.path().join("kurator.db")).is_ok());
    }
}
