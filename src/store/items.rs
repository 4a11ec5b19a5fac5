//! Items: the rows of stored items. New ones are inserted with the story
//! they join as given to them; changed ones are updated in place, keeping
//! their row id and `uid`; and every read query on items.

use std::collections::HashMap;

use rusqlite::{CachedStatement, Connection, OptionalExtension, params};

use super::error::Context;
use super::{Store, StoreError, row_count, sql_limit};
use crate::dedup::Decision;
use crate::dedup::Identified;

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
    /// The id of the entry it shows as (alone, or as its story's first
    /// report) when that is not its `uid`: see [`StoredItem::entry_id`].
    pub entry_uid: Option<String>,
}

impl StoredItem {
    /// The cluster this item shows as: its own id when alone.
    pub fn cluster(&self) -> i64 {
        self.cluster_id.unwrap_or(self.id)
    }

    /// The id of the entry this item shows as when it is alone or its
    /// story's first report: its uid, unless an editor split a story's first
    /// report off (the story keeps the entry id it had, the report gets a
    /// new one; see `kurator split`).
    pub fn entry_id(&self) -> &str {
        self.entry_uid.as_deref().unwrap_or(&self.uid)
    }
}

impl Store {
    /// Stored items per source id.
    pub fn item_counts_by_source(&self) -> Result<HashMap<String, u64>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT source_id, count(*) FROM items GROUP BY source_id")
            .context("counting items per source")?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row_count(row.get(1)?)))
            })
            .context("counting items per source")?;
        rows.collect::<Result<_, _>>()
            .context("counting items per source")
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
        self.select_items(
            "WHERE id > ?1 ORDER BY id LIMIT ?2",
            params![after_id, sql_limit(limit)],
            "reading items",
        )
    }

    /// The items `SELECT … FROM items {tail}` finds; `doing` names the read
    /// in errors.
    pub(super) fn select_items(
        &self,
        tail: &str,
        params: impl rusqlite::Params,
        doing: &'static str,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM items {tail}"))
            .context(doing)?;
        let rows = statement.query_map(params, stored_item).context(doing)?;
        rows.collect::<Result<_, _>>().context(doing)
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
        self.select_items(
            "WHERE link = ?1 ORDER BY published DESC",
            [link],
            "reading items",
        )
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
                .query(params![topic, sql_limit(rows_wanted)])
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
            rows_wanted = rows_wanted.saturating_mul(8);
        }
    }
}

/// The columns [`stored_item`] reads, in its order.
pub(super) const ITEM_COLUMNS: &str = "items.id, items.uid, items.source_id, items.identity, items.link, \
                            items.title, items.summary, items.content, items.author, items.categories, \
                            items.published, items.updated, items.first_seen, items.cluster_id, \
                            items.entry_uid";

pub(super) fn stored_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredItem> {
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
        entry_uid: row.get(14)?,
    })
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

/// The statements that write one fetch's items, prepared once per fetch.
pub(super) struct ItemWriter<'c> {
    conn: &'c Connection,
    find: CachedStatement<'c>,
    was_pruned: CachedStatement<'c>,
    insert: CachedStatement<'c>,
    update: CachedStatement<'c>,
}

impl<'c> ItemWriter<'c> {
    pub fn prepare(conn: &'c Connection) -> Result<ItemWriter<'c>, StoreError> {
        Ok(ItemWriter {
            conn,
            find: conn
                .prepare_cached("SELECT id, content_hash FROM items WHERE uid = ?1")
                .context("preparing item lookup")?,
            was_pruned: conn
                .prepare_cached("SELECT 1 FROM pruned WHERE uid = ?1")
                .context("preparing the pruned lookup")?,
            insert: conn
                .prepare_cached(
                    "INSERT INTO items (uid, source_id, identity, guid, link, title, summary, content, author,
                                        categories, published, updated, first_seen, content_hash,
                                        cluster_id, cluster_reason, cluster_score)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                )
                .context("preparing item insert")?,
            update: conn
                .prepare_cached(
                    "UPDATE items SET guid = ?2, link = ?3, title = ?4, summary = ?5, content = ?6,
                                      author = ?7, categories = ?8, updated = ?9, content_hash = ?10
                     WHERE id = ?1",
                )
                .context("preparing item update")?,
        })
    }

    /// The row id and content hash of the item stored under `uid`.
    pub fn find(&mut self, uid: &str) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        self.find
            .query_row([uid], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .context("looking up an item")
    }

    /// Whether an item stored under `uid` was pruned (and so is not new).
    pub fn was_pruned(&mut self, uid: &str) -> Result<bool, StoreError> {
        self.was_pruned
            .exists([uid])
            .context("looking up pruned items")
    }

    /// Stores a new item of `source_id` in the story `story` it joins (none:
    /// alone), as decided before (see [`super::grouping`]); returns its row id.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        identified: &Identified,
        source_id: &str,
        published: i64,
        updated: i64,
        now: i64,
        story: Option<&Decision>,
    ) -> Result<i64, StoreError> {
        let item = &identified.item;
        self.insert
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
                categories_json(&item.categories),
                published,
                updated,
                now,
                identified.content_hash.as_slice(),
                story.map(|d| d.cluster),
                story.map(|d| d.reason.as_str()),
                story.map(|d| d.score),
            ])
            .context("inserting an item")?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Rewrites the stored item `id` with what `identified` says now; its
    /// row id, `uid`, published date and story stay.
    pub fn update(&mut self, id: i64, identified: &Identified, now: i64) -> Result<(), StoreError> {
        let item = &identified.item;
        self.update
            .execute(params![
                id,
                item.guid,
                item.link,
                item.title,
                item.summary,
                item.content,
                item.author,
                categories_json(&item.categories),
                now,
                identified.content_hash.as_slice(),
            ])
            .context("updating an item")?;
        Ok(())
    }
}

fn categories_json(categories: &[String]) -> String {
    serde_json::to_string(categories).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::Reason;
    use crate::store::testing::{self, NOW};

    #[test]
    fn an_item_row_records_the_story_it_is_given_and_decides_none() {
        let (_dir, mut store) = testing::open();
        let first = testing::item("a", "1", "Sperrung der Brücke", "https://a.example/1");
        let second = testing::item("b", "2", "Neue Kita eröffnet", "https://b.example/2");
        let tx = store.conn.transaction().unwrap();
        let (a, b) = {
            let mut rows = ItemWriter::prepare(&tx).unwrap();
            let a = rows
                .insert(&first, "a", NOW - 60, NOW - 60, NOW, None)
                .unwrap();
            // Nothing alike: the row takes the story it is told.
            let story = Decision {
                cluster: a,
                partner: a,
                founded: false,
                reason: Reason::Cites,
                score: 0.5,
                merges: Vec::new(),
            };
            let b = rows
                .insert(&second, "b", NOW - 30, NOW, NOW, Some(&story))
                .unwrap();
            let hash = second.content_hash.to_vec();
            assert_eq!(rows.find(&second.uid).unwrap(), Some((b, hash)));
            assert!(!rows.was_pruned(&second.uid).unwrap());
            (a, b)
        };
        tx.commit().unwrap();

        let alone = store.item_by_id(a).unwrap().unwrap();
        assert_eq!((alone.cluster_id, alone.cluster()), (None, a));
        assert_eq!(store.cluster_reason(a).unwrap(), None);
        let joined = store.item_by_id(b).unwrap().unwrap();
        assert_eq!(joined.cluster_id, Some(a));
        assert_eq!(
            store.cluster_reason(b).unwrap(),
            Some(("cites".into(), 0.5))
        );
        assert_eq!(
            (joined.published, joined.updated, joined.first_seen),
            (NOW - 30, NOW, NOW)
        );
        assert_eq!(joined.categories, ["Verwaltung"]);
        assert_eq!(joined.uid, second.uid);
    }

    #[test]
    fn a_changed_item_is_rewritten_in_place() {
        let (_dir, mut store) = testing::open();
        let link = "https://a.example/1";
        testing::record(
            &mut store,
            "a",
            vec![testing::item("a", "1", "Sperrung", link)],
        );
        let before = store.items_of_source("a").unwrap().remove(0);
        let counts = testing::record(
            &mut store,
            "a",
            vec![testing::item("a", "1", "Sperrung aufgehoben", link)],
        );
        assert_eq!((counts.new, counts.updated), (0, 1));
        let after = store.item_by_id(before.id).unwrap().unwrap();
        assert_eq!(after.title, "Sperrung aufgehoben");
        assert_eq!(
            (&after.uid, after.published, after.first_seen),
            (&before.uid, before.published, before.first_seen)
        );
        assert_eq!(store.item_count(Some("a")).unwrap(), 1);
        assert_eq!(store.item_counts_by_source().unwrap()["a"], 1);
        assert_eq!(
            store.items_by_link(link).unwrap(),
            std::slice::from_ref(&after)
        );
        assert_eq!(store.items_after(0, 10).unwrap(), [after]);
    }
}
