//! Topics: which topics each item is stored under (`item_topics`), and the
//! version of every output feed (`feed_versions`), moved on in the same
//! transaction as every change to what the feed shows.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{Connection, params};

use super::error::Context;
use super::{Store, StoreError, write_transaction};

/// Where one output feed stands: see [`Store::feed_versions`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedVersion {
    pub version: i64,
    /// Seconds since the epoch.
    pub changed_at: i64,
}

/// The feed key of the feed of every item (topic slugs cannot be `all`).
pub const ALL_FEED: &str = "all";

/// Moves the version of each of `feeds` on: their rendered bytes are stale.
pub(super) fn bump_feed_versions<'a>(
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
pub(super) fn topics_of(conn: &Connection, item_id: i64) -> Result<Vec<String>, StoreError> {
    let mut statement = conn
        .prepare_cached("SELECT topic FROM item_topics WHERE item_id = ?1 ORDER BY topic")
        .context("reading topics")?;
    let rows = statement
        .query_map([item_id], |row| row.get(0))
        .context("reading topics")?;
    rows.collect::<Result<_, _>>().context("reading topics")
}

/// Replaces the topics of one item.
pub(super) fn write_topics(
    conn: &Connection,
    item_id: i64,
    topics: &[String],
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM item_topics WHERE item_id = ?1")
        .and_then(|mut statement| statement.execute([item_id]))
        .context("clearing topics")?;
    insert_topics(conn, item_id, topics)
}

/// Adds topics to an item that has none yet.
pub(super) fn insert_topics(
    conn: &Connection,
    item_id: i64,
    topics: &[String],
) -> Result<(), StoreError> {
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

impl Store {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, NOW, tagged};

    #[test]
    fn replacing_topics_moves_only_the_feeds_an_item_enters_or_leaves() {
        let (_dir, mut store) = testing::open();
        let item = testing::item("a", "1", "Sperrung der Brücke", "https://a.example/1");
        testing::record(&mut store, "a", vec![tagged(item, &["verkehr", "bau"])]);
        let id = store.items_of_source("a").unwrap().remove(0).id;
        assert_eq!(store.topics_of(id).unwrap(), ["bau", "verkehr"]);
        let before = store.feed_versions().unwrap();
        assert_eq!(before[ALL_FEED].version, 1);

        let wanted = vec![
            "verkehr".to_owned(),
            "umwelt".to_owned(),
            "umwelt".to_owned(),
        ];
        assert_eq!(store.replace_topics(&[(id, wanted)], NOW + 60).unwrap(), 1);
        assert_eq!(store.topics_of(id).unwrap(), ["umwelt", "verkehr"]);
        let after = store.feed_versions().unwrap();
        assert_eq!(after["bau"].version, before["bau"].version + 1, "left");
        assert_eq!(after["umwelt"].version, 1, "entered");
        assert_eq!(after["umwelt"].changed_at, NOW + 60);
        assert_eq!(after["verkehr"], before["verkehr"], "stayed");
        assert_eq!(after[ALL_FEED], before[ALL_FEED], "the same items");

        let same = vec!["umwelt".to_owned(), "verkehr".to_owned()];
        assert_eq!(store.replace_topics(&[(id, same)], NOW + 120).unwrap(), 0);
        assert_eq!(store.feed_versions().unwrap(), after);
    }
}
