//! Stories: which stored items are one story (clusters), read back for
//! feeds and `kurator explain`, and the writer's index they are grouped by.
//!
//! `items.cluster_id` is `NULL` for an item alone, else the id of the
//! cluster's first item (whose `uid` is the id of the cluster's feed entry,
//! forever). `cluster_reason` and `cluster_score` record why an item joined.
//! Decisions are made by [`crate::dedup`] against its window index, which
//! this module builds from the database and keeps in step with the
//! transactions: index changes of a fetch are applied only once its
//! savepoint is released, and a failed commit drops the index (it is rebuilt
//! on the next write).

use rusqlite::{Connection, OptionalExtension, params};

use super::error::Context;
use super::items::{ITEM_COLUMNS, stored_item};
use super::{StoreError, StoredItem};
use crate::dedup::{self, Index, Keys, Settings};

/// Longest stretch of content read to compare an item without a summary.
const CONTENT_CHARS: i64 = 4000;

/// How often the index is rebuilt, dropping items that left the window.
const REBUILD_EVERY: i64 = 86_400;

/// The writer's dedup state.
#[derive(Debug, Default)]
pub struct Dedup {
    pub settings: Settings,
    index: Option<Index>,
    built_at: i64,
}

/// A change to the index, applied when the fetch that made it is kept.
// Nearly every change is an insert, and boxing it would cost an allocation
// per new item on the single writer.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum IndexChange {
    /// A new item of the fetch's source.
    Insert {
        id: i64,
        cluster: i64,
        published: i64,
        keys: Keys,
        sketch: crate::dedup::index::Sketch,
    },
    SetCluster {
        id: i64,
        cluster: i64,
    },
}

impl Dedup {
    /// Changes the settings; a new window needs a new index.
    pub fn configure(&mut self, settings: Settings) {
        if settings.window_secs != self.settings.window_secs {
            self.index = None;
        }
        self.settings = settings;
    }

    /// Drops the index (after a failed commit: it may hold rolled-back items).
    pub fn invalidate(&mut self) {
        self.index = None;
    }

    /// The index, if prepared.
    pub fn index(&self) -> Option<&Index> {
        self.index.as_ref()
    }

    /// [`Dedup::prepare`] for a write: if the index cannot be built, the
    /// write goes on and its new items stay alone (grouping is never worth
    /// losing items over).
    pub fn prepare_or_skip(&mut self, conn: &Connection, now: i64) {
        if let Err(err) = self.prepare(conn, now) {
            tracing::warn!("story grouping is skipped for this write: {err}");
        }
    }

    /// Builds the index, or catches it up with items other writers stored.
    pub fn prepare(&mut self, conn: &Connection, now: i64) -> Result<(), StoreError> {
        if self.settings.mode == crate::dedup::Mode::Off {
            self.index = None;
            return Ok(());
        }
        let horizon = now - self.settings.window_secs - REBUILD_EVERY;
        if self.index.is_none() || now - self.built_at >= REBUILD_EVERY {
            self.index = Some(Index::default());
            self.built_at = now;
        }
        let index = self.index.as_mut().expect("set above");
        if let Err(err) = load_after(conn, index, horizon) {
            self.index = None;
            return Err(err);
        }
        Ok(())
    }

    /// Applies the changes a fetch of `source` made, once it is kept.
    pub fn apply(&mut self, source: &str, changes: Vec<IndexChange>) {
        let Some(index) = self.index.as_mut() else {
            return;
        };
        for change in changes {
            match change {
                IndexChange::Insert {
                    id,
                    cluster,
                    published,
                    keys,
                    sketch,
                } => index.insert_decided(id, cluster, source, published, keys, sketch),
                IndexChange::SetCluster { id, cluster } => index.set_cluster(id, cluster),
            }
        }
    }
}

/// Indexes the items with ids above the index's last, published after `horizon`.
fn load_after(conn: &Connection, index: &mut Index, horizon: i64) -> Result<(), StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT id, cluster_id, source_id, published, link, title, summary,
                    substr(content, 1, ?3)
             FROM items WHERE id > ?1 AND published >= ?2 ORDER BY id",
        )
        .context("preparing the dedup index load")?;
    let mut rows = statement
        .query(params![index.last_id, horizon, CONTENT_CHARS])
        .context("loading the dedup index")?;
    let mut batch = Vec::new();
    // The first items of clusters: their stored cluster id says they are
    // in a story (an alone item stores none).
    let mut founders = Vec::new();
    while let Some(row) = rows.next().context("loading the dedup index")? {
        let mut read = || -> rusqlite::Result<_> {
            let id: i64 = row.get(0)?;
            let cluster: Option<i64> = row.get(1)?;
            if cluster == Some(id) {
                founders.push(id);
            }
            let cluster = cluster.unwrap_or(id);
            let source: String = row.get(2)?;
            let published: i64 = row.get(3)?;
            let link: Option<String> = row.get(4)?;
            let title: String = row.get(5)?;
            let summary: Option<String> = row.get(6)?;
            let content: Option<String> = row.get(7)?;
            let keys = Keys::of(
                link.as_deref(),
                &title,
                summary.as_deref(),
                content.as_deref(),
            );
            Ok((id, cluster, source, published, keys))
        };
        batch.push(read().context("reading an item for the dedup index")?);
    }
    index.insert_many(batch);
    for founder in founders {
        index.set_cluster(founder, founder);
    }
    // Items published before the horizon are not indexed, but must not be
    // read again on every catch-up (which runs before every commit, so the
    // statement is cached).
    let newest: Option<i64> = conn
        .prepare_cached("SELECT max(id) FROM items")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .context("reading the newest item id")?;
    index.last_id = index.last_id.max(newest.unwrap_or(0));
    Ok(())
}

/// Makes `cluster` explicit on its first item, in case that item was alone
/// until now (a new item joining it stores the cluster with itself).
/// Returns the index change to apply once the fetch is kept.
pub fn found(conn: &Connection, cluster: i64) -> Result<IndexChange, StoreError> {
    conn.prepare_cached("UPDATE items SET cluster_id = ?1 WHERE id = ?1 AND cluster_id IS NULL")
        .and_then(|mut statement| statement.execute([cluster]))
        .context("founding a cluster")?;
    Ok(IndexChange::SetCluster {
        id: cluster,
        cluster,
    })
}

/// The topics of every item of a cluster: the feeds its entry shows in.
pub fn cluster_topics(conn: &Connection, cluster: i64) -> Result<Vec<String>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT DISTINCT item_topics.topic FROM items
             JOIN item_topics ON item_topics.item_id = items.id
             WHERE items.cluster_id = ?1",
        )
        .context("reading a cluster's topics")?;
    let rows = statement
        .query_map([cluster], |row| row.get(0))
        .context("reading a cluster's topics")?;
    rows.collect::<Result<_, _>>()
        .context("reading a cluster's topics")
}

/// Another item as `kurator explain` shows it next to the explained one.
#[derive(Debug, Clone)]
pub struct Related {
    pub item: StoredItem,
    /// Text similarity to the explained item, weighted as dedup weighs it.
    pub similarity: f64,
    /// What raised or lowered it ("places differ", "same place", …).
    pub findings: Vec<&'static str>,
    /// Why it joined its cluster (`link`, `cites`, `text`) and the score then.
    pub joined: Option<(String, f64)>,
}

/// An item's story, for `kurator explain`.
#[derive(Debug, Clone)]
pub struct StoryExplanation {
    /// The cluster, when the story has several reports.
    pub cluster: Option<i64>,
    /// How the explained item joined it (reason and score), unless it was first.
    pub joined: Option<(String, f64)>,
    /// The other reports of the story, oldest first.
    pub members: Vec<Related>,
    /// For an item alone: the most similar recent items from other
    /// sources, most similar first (why they did not group shows in the score).
    pub nearest: Vec<Related>,
}

/// How many near items an explanation of a lone item lists.
const NEAREST_SHOWN: usize = 5;

impl super::Store {
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

    /// The story of `item`: its cluster's other reports with their
    /// similarity to it, or, if it is alone, the nearest recent items.
    pub fn explain_story(
        &mut self,
        item: &StoredItem,
        settings: Settings,
        now: i64,
    ) -> Result<StoryExplanation, StoreError> {
        let mut dedup = Dedup::default();
        dedup.configure(Settings {
            mode: crate::dedup::Mode::Cluster,
            ..settings
        });
        dedup.prepare(&self.conn, now.max(item.published))?;
        let index = dedup.index().expect("prepared in cluster mode");
        let keys = dedup_keys_of_stored(item);
        // As the decision weighs them: a text that names no place is about
        // its source's home place.
        let home = |source: &str| index.source_id(source).and_then(|s| index.home_place(s));
        let related = |store: &super::Store, other: StoredItem| {
            let other_terms = dedup_keys_of_stored(&other).terms;
            let homes = [home(&item.source_id), home(&other.source_id)];
            Ok::<_, StoreError>(Related {
                similarity: dedup::score::similarity_at_home(
                    &keys.terms,
                    &other_terms,
                    |t| index.weight(t),
                    homes,
                ),
                findings: dedup::score::factors_with_homes(&keys.terms, &other_terms, homes)
                    .into_iter()
                    .map(|(finding, _)| finding)
                    .collect(),
                joined: store.cluster_reason(other.id)?,
                item: other,
            })
        };
        let mut explanation = StoryExplanation {
            cluster: item.cluster_id,
            joined: self.cluster_reason(item.id)?,
            members: Vec::new(),
            nearest: Vec::new(),
        };
        if let Some(cluster) = item.cluster_id {
            for member in self.cluster_members(cluster)? {
                if member.id != item.id {
                    explanation.members.push(related(self, member)?);
                }
            }
            return Ok(explanation);
        }
        let bands = index.bands_for(&keys.terms, 0);
        // Similarities from the stored items: the index keeps no terms of
        // items without bands.
        let mut near = Vec::new();
        for (slot, _) in index.candidates(&keys, bands.as_ref()) {
            let id = index.member(slot).id;
            if id == item.id {
                continue;
            }
            if let Some(other) = self.item_by_id(id)? {
                near.push(related(self, other)?);
            }
        }
        near.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
        near.truncate(NEAREST_SHOWN);
        explanation.nearest = near;
        Ok(explanation)
    }

    /// Stories with several reports whose newest report was published at or
    /// after `since`, newest first: (cluster id, reports oldest first).
    pub fn recent_clusters(&self, since: i64) -> Result<Vec<(i64, Vec<StoredItem>)>, StoreError> {
        let ids: Vec<i64> = {
            let mut statement = self
                .conn
                .prepare_cached(
                    "SELECT cluster_id FROM items WHERE cluster_id IS NOT NULL
                     GROUP BY cluster_id HAVING max(published) >= ?1 AND count(*) > 1
                     ORDER BY max(published) DESC",
                )
                .context("listing clusters")?;
            let rows = statement
                .query_map([since], |row| row.get(0))
                .context("listing clusters")?;
            rows.collect::<Result<_, _>>().context("listing clusters")?
        };
        ids.into_iter()
            .map(|id| Ok((id, self.cluster_members(id)?)))
            .collect()
    }
}

fn dedup_keys_of_stored(item: &StoredItem) -> Keys {
    // The same fields as `Keys::of_item` reads of a new item.
    Keys::of(
        item.link.as_deref(),
        &item.title,
        item.summary.as_deref(),
        item.content.as_deref(),
    )
}
