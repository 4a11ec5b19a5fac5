//! Upkeep: pruning old items and consistent backups.
//!
//! Rules:
//! * An item is pruned when its published date is older than `keep_days`.
//!   Its uid is remembered in `pruned`, so a feed that still carries it
//!   never brings it back as new; ingest also refuses new items already
//!   older than the horizon.
//! * Pruning deletes in small transactions, so the daemon's fetches wait
//!   milliseconds, not seconds, for the write lock; every transaction moves
//!   the versions of the feeds it changed, so served feeds follow.
//! * A backup is `VACUUM INTO`: one read transaction, so the copy is a
//!   consistent snapshot even while the daemon writes, and compact. The copy
//!   is checked (`PRAGMA integrity_check`) before it is reported done.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use super::error::Context;
use super::topics::{ALL_FEED, bump_feed_versions};
use super::{Store, StoreError, row_count, sql_limit};

/// Items deleted per transaction.
const PRUNE_BATCH: usize = 2_000;

/// What [`Store::prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub items: u64,
}

/// What [`backup`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    pub bytes: u64,
    pub items: u64,
}

impl Store {
    /// Deletes items published before `cutoff` (seconds since the epoch),
    /// except reports of a story that has a newer report (stories go whole),
    /// remembering their uids. `now` dates the feed version changes.
    pub fn prune(&mut self, cutoff: i64, now: i64) -> Result<Pruned, StoreError> {
        let mut pruned = Pruned::default();
        loop {
            let batch = self.prune_batch(cutoff, now)?;
            if batch.items == 0 {
                return Ok(pruned);
            }
            pruned.items += batch.items;
        }
    }

    /// One transaction of [`Store::prune`]: at most `PRUNE_BATCH` items.
    /// Zero items means done.
    pub fn prune_batch(&mut self, cutoff: i64, now: i64) -> Result<Pruned, StoreError> {
        let tx = super::write_transaction(&mut self.conn, "starting a prune")?;
        let ids: Vec<i64> = {
            let mut select = tx
                .prepare_cached(
                    // A story goes as a whole: not while a report of it is still kept.
                    "SELECT id FROM items AS old WHERE published < ?1
                       AND (cluster_id IS NULL OR NOT EXISTS (
                             SELECT 1 FROM items AS kept
                             WHERE kept.cluster_id = old.cluster_id AND kept.published >= ?1))
                     ORDER BY published LIMIT ?2",
                )
                .context("finding items to prune")?;
            let rows = select
                .query_map(params![cutoff, sql_limit(PRUNE_BATCH)], |row| row.get(0))
                .context("finding items to prune")?;
            rows.collect::<Result<_, _>>()
                .context("finding items to prune")?
        };
        if ids.is_empty() {
            return Ok(Pruned::default());
        }
        let mut touched: BTreeSet<String> = BTreeSet::new();
        touched.insert(ALL_FEED.to_owned());
        {
            let mut topics = tx
                .prepare_cached("SELECT topic FROM item_topics WHERE item_id = ?1")
                .context("reading topics of pruned items")?;
            let mut remember = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO pruned (uid, pruned_at)
                         SELECT uid, ?2 FROM items WHERE id = ?1",
                )
                .context("preparing to remember pruned items")?;
            let mut delete = tx
                .prepare_cached("DELETE FROM items WHERE id = ?1")
                .context("preparing to prune")?;
            for &id in &ids {
                let rows = topics
                    .query_map([id], |row| row.get::<_, String>(0))
                    .context("reading topics of pruned items")?;
                for topic in rows {
                    touched.insert(topic.context("reading topics of pruned items")?);
                }
                remember
                    .execute(params![id, now])
                    .context("remembering a pruned item")?;
                // item_topics rows go with it (ON DELETE CASCADE).
                delete.execute([id]).context("pruning an item")?;
            }
        }
        bump_feed_versions(&tx, touched.iter().map(String::as_str), now)?;
        tx.commit().context("committing a prune")?;
        Ok(Pruned {
            items: ids.len() as u64,
        })
    }

    /// How many items [`Store::prune`] would delete.
    pub fn count_older_than(&self, cutoff: i64) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM items AS old WHERE published < ?1
                   AND (cluster_id IS NULL OR NOT EXISTS (
                         SELECT 1 FROM items AS kept
                         WHERE kept.cluster_id = old.cluster_id AND kept.published >= ?1))",
                [cutoff],
                |row| row.get(0),
            )
            .context("counting old items")?;
        Ok(row_count(count))
    }
}

/// Writes a consistent, compact copy of the database at `db_path` to
/// `target`, which must not exist yet. Works while the daemon writes.
pub fn backup(db_path: &Path, target: &Path) -> Result<Backup, StoreError> {
    let open_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Open { path, source }
    };
    if target.exists() {
        return Err(StoreError::Backup(format!(
            "{} exists already; choose a new file (a backup never overwrites)",
            target.display()
        )));
    }
    // Read-only: a backup must not migrate or otherwise change the
    // original, and works on a read-only file or directory.
    let source = super::migrations::open_existing_read_only(db_path)?;
    source
        .busy_timeout(std::time::Duration::from_secs(30))
        .map_err(open_error(db_path))?;
    let target_text = target
        .to_str()
        .ok_or_else(|| StoreError::Backup(format!("{} is not a UTF-8 path", target.display())))?;
    source
        .execute("VACUUM INTO ?1", [target_text])
        .map_err(|err| StoreError::Backup(format!("writing {}: {err}", target.display())))?;

    let copy = Connection::open_with_flags(target, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(open_error(target))?;
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .context("checking the backup")?;
    if check != "ok" {
        return Err(StoreError::Backup(format!(
            "the copy {} failed its integrity check: {check}",
            target.display()
        )));
    }
    let items: i64 = copy
        .query_row("SELECT count(*) FROM items", [], |row| row.get(0))
        .context("counting items in the backup")?;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    Ok(Backup {
        path: target.to_path_buf(),
        bytes,
        items: row_count(items),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, NOW};

    #[test]
    fn a_backup_is_a_checked_copy_and_never_overwrites() {
        let (dir, mut store) = testing::open();
        let items = vec![
            testing::item("a", "1", "Sperrung der Brücke", "https://a.example/1"),
            testing::item("a", "2", "Neue Kita eröffnet", "https://a.example/2"),
        ];
        testing::record(&mut store, "a", items);
        let target = dir.path().join("copy.db");
        let done = backup(&dir.path().join("kurator.db"), &target).unwrap();
        assert_eq!((done.items, &done.path), (2, &target));
        assert_eq!(done.bytes, std::fs::metadata(&target).unwrap().len());
        let copy = Store::open(&target).unwrap();
        assert_eq!(
            copy.items_of_source("a").unwrap(),
            store.items_of_source("a").unwrap()
        );

        let again = backup(&dir.path().join("kurator.db"), &target).unwrap_err();
        assert!(
            again.to_string().contains("a backup never overwrites"),
            "{again}"
        );
    }

    #[test]
    fn a_pruned_item_is_remembered_and_not_stored_again() {
        let (_dir, mut store) = testing::open();
        let item = || testing::item("a", "1", "Sperrung der Brücke", "https://a.example/1");
        testing::record(&mut store, "a", vec![item()]);
        assert_eq!(store.count_older_than(NOW).unwrap(), 1);
        assert_eq!(store.prune(NOW, NOW).unwrap(), Pruned { items: 1 });
        assert_eq!(store.item_count(None).unwrap(), 0);
        assert_eq!(store.feed_versions().unwrap()[ALL_FEED].version, 2);
        let counts = testing::record(&mut store, "a", vec![item()]);
        assert_eq!((counts.new, counts.unchanged), (0, 1));
        assert_eq!(store.item_count(None).unwrap(), 0);
    }
}
