//! Grouping new items into stories: the decision, kept apart from the SQL
//! that records it.
//!
//! Per new item of a fetch, in feed order, [`Grouping::decide`] asks the
//! writer's index of recent items ([`crate::dedup::Index`]) which story the
//! item joins; the item's row is then written with that decision as given
//! ([`super::items::ItemWriter::insert`], [`super::stories::found`]), and
//! [`Grouping::inserted`] notes the item for the index. Deciding touches no
//! table; the SQL that records a decision makes none.
//!
//! The index is built from the database (the items published in the
//! window) and caught up before every write with what other writers stored.
//! A fetch's changes to it are applied ([`Dedup::apply`]) only once the
//! fetch's savepoint is released: a later fetch of the same group commit is
//! grouped against the earlier ones' items, a fetch rolled back leaves
//! nothing in the index, and a failed commit drops the index (it is rebuilt
//! on the next write).

use std::collections::HashSet;

use rusqlite::{Connection, params};

use super::StoreError;
use super::error::Context;
use crate::dedup::Identified;
use crate::dedup::{Decided, Decision, Index, Keys, Settings};

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
    /// The newest editor's correction (`story_corrections.id`) the index
    /// reflects: a split or join, possibly by another process, changes the
    /// stories of items indexed already, so the index is rebuilt.
    corrections_seen: i64,
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
    /// Story `from` became part of story `into`.
    Merge {
        from: i64,
        into: i64,
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
        let corrections = match newest_correction(conn) {
            Ok(corrections) => corrections,
            Err(err) => {
                self.index = None;
                return Err(err);
            }
        };
        if self.index.is_none()
            || now - self.built_at >= REBUILD_EVERY
            || corrections != self.corrections_seen
        {
            self.index = Some(Index::default());
            self.built_at = now;
            self.corrections_seen = corrections;
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
                IndexChange::Merge { from, into } => index.merge(from, into),
            }
        }
    }
}

/// The id of the newest editor's correction to stories (0: none).
fn newest_correction(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT coalesce(max(id), 0) FROM story_corrections")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .context("reading the newest story correction")
}

/// Indexes the items with ids above the index's last, published after
/// `horizon`. A report an editor split off its story (and did not join
/// since) is not indexed: no later report groups with it, so it never
/// rejoins its story, nor starts another.
fn load_after(conn: &Connection, index: &mut Index, horizon: i64) -> Result<(), StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT id, cluster_id, source_id, published, link, title, summary,
                    substr(content, 1, ?3)
             FROM items WHERE id > ?1 AND published >= ?2
               AND NOT EXISTS (
                   SELECT 1 FROM story_corrections AS split
                   WHERE split.item_uid = items.uid AND split.kind = 'split'
                     AND NOT EXISTS (
                         SELECT 1 FROM story_corrections AS joined
                         WHERE joined.kind = 'join' AND joined.id > split.id
                           AND items.uid IN (joined.item_uid, joined.other_uid)))
             ORDER BY id",
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

/// Groups the new items of one fetch of `source`.
pub(super) struct Grouping<'a> {
    /// None when grouping is off or the index could not be built: new
    /// items then stay alone (grouping is never worth losing items over).
    index: Option<&'a Index>,
    settings: Settings,
    source: &'a str,
    /// What the index learns from this fetch, once it is kept.
    changes: Vec<IndexChange>,
    /// Stories whose topics' feeds this transaction already bumped (in
    /// fetches that were kept): a join to them needs no topic lookup.
    bumped: &'a HashSet<i64>,
    /// Stories whose topics' feeds this fetch bumps.
    bumping: Vec<i64>,
    /// Stories this fetch merged into another (from, into): the index
    /// learns of them only when the fetch is kept, and a later item of the
    /// fetch may still find the story merged away.
    merged: Vec<(i64, i64)>,
}

/// What [`Grouping::decide`] decided for one new item, with the keys it
/// took from the item (the index keeps them).
pub(super) struct Grouped {
    keys: Keys,
    decided: Decided,
}

impl Grouped {
    /// The story the item joins, if any.
    pub fn decision(&self) -> Option<&Decision> {
        self.decided.decision.as_ref()
    }
}

impl<'a> Grouping<'a> {
    pub fn new(dedup: &'a Dedup, source: &'a str, bumped: &'a HashSet<i64>) -> Grouping<'a> {
        Grouping {
            index: dedup.index(),
            settings: dedup.settings,
            source,
            changes: Vec::new(),
            bumped,
            bumping: Vec::new(),
            merged: Vec::new(),
        }
    }

    /// Which story the new item `identified`, published at `published`,
    /// joins: `None` without an index. Takes the item's keys (computing
    /// them if ingest did not), to be moved into the index.
    pub fn decide(&self, identified: &mut Identified, published: i64) -> Option<Grouped> {
        let index = self.index?;
        let keys = identified
            .keys
            .take()
            .unwrap_or_else(|| Keys::of_item(&identified.item));
        let mut decided = index.decide_with_bands(&keys, self.source, published, &self.settings);
        if let Some(decision) = decided.decision.as_mut() {
            self.after_merges(decision);
        }
        Some(Grouped { keys, decided })
    }

    /// Points `decision` at the stories its clusters were merged into
    /// earlier in this fetch.
    fn after_merges(&self, decision: &mut Decision) {
        if self.merged.is_empty() {
            return;
        }
        let now_in = |mut cluster: i64| {
            while let Some(&(_, into)) = self.merged.iter().find(|(from, _)| *from == cluster) {
                cluster = into;
            }
            cluster
        };
        let mut clusters: Vec<i64> = std::iter::once(decision.cluster)
            .chain(decision.merges.iter().copied())
            .map(now_in)
            .collect();
        clusters.sort_unstable();
        clusters.dedup();
        if clusters[0] != decision.cluster {
            // Founded by the merge, if not before (founding twice is harmless).
            decision.founded = false;
        }
        decision.cluster = clusters[0];
        decision.merges = clusters[1..].to_vec();
    }

    /// Whether this fetch is the first in the commit to add a report to
    /// `cluster`: the story's entry changes in the feeds of its topics,
    /// which are then to be read (once per commit, not once per report).
    pub fn first_join_to(&mut self, cluster: i64) -> bool {
        if self.bumped.contains(&cluster) || self.bumping.contains(&cluster) {
            return false;
        }
        self.bumping.push(cluster);
        true
    }

    /// Notes the new item, stored as row `id`, for the index.
    pub fn inserted(&mut self, id: i64, published: i64, grouped: Grouped) {
        let Grouped { keys, decided } = grouped;
        let mut cluster = id;
        if let Some(decision) = decided.decision {
            cluster = decision.cluster;
            if !decision.founded {
                self.changes.push(IndexChange::SetCluster {
                    id: cluster,
                    cluster,
                });
            }
            for &from in &decision.merges {
                self.changes.push(IndexChange::Merge {
                    from,
                    into: cluster,
                });
                self.merged.push((from, cluster));
            }
        }
        self.changes.push(IndexChange::Insert {
            id,
            cluster,
            published,
            keys,
            sketch: decided.sketch,
        });
    }

    /// The index changes to apply once the fetch is kept, and the stories
    /// whose feeds it bumped.
    pub fn finish(self) -> (Vec<IndexChange>, Vec<i64>) {
        (self.changes, self.bumping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::{Mode, Reason};
    use crate::store::testing::{self, NOW};

    const STORY: &str = "https://www.example.de/story";

    fn report(source: &str, title: &str) -> Identified {
        let link = format!("{STORY}?utm_source={source}");
        let mut report = testing::item(source, title, title, &link);
        crate::dedup::add_keys(std::slice::from_mut(&mut report));
        report
    }

    #[test]
    fn a_new_item_joins_an_indexed_story_and_hands_its_keys_to_the_index() {
        let (_dir, mut store) = testing::open();
        testing::record(&mut store, "a", vec![report("a", "Brücke gesperrt")]);
        let first = store.items_of_source("a").unwrap().remove(0).id;
        let mut dedup = Dedup::default();
        dedup.prepare(&store.conn, NOW).unwrap();
        let bumped = HashSet::new();

        let mut grouping = Grouping::new(&dedup, "b", &bumped);
        let mut second = report("b", "Sperrung der Brücke");
        let grouped = grouping.decide(&mut second, NOW).expect("an index");
        assert!(second.keys.is_none(), "moved to the index, not copied");
        let decision = grouped.decision().expect("the same link");
        assert_eq!(
            (decision.cluster, decision.founded, decision.reason),
            (first, false, Reason::SameLink)
        );
        assert!(grouping.first_join_to(first));
        assert!(!grouping.first_join_to(first), "its topics are read once");
        let stored_as = first + 1;
        grouping.inserted(stored_as, NOW, grouped);
        let (changes, bumping) = grouping.finish();
        assert_eq!(bumping, [first]);
        assert!(matches!(
            changes[..],
            [
                IndexChange::SetCluster { id, cluster },
                IndexChange::Insert { id: new, cluster: joined, .. },
            ] if (id, cluster, new, joined) == (first, first, stored_as, first)
        ));

        // Once the fetch is kept, the index knows the story has two reports.
        dedup.apply("b", changes);
        let grouping = Grouping::new(&dedup, "c", &bumped);
        let grouped = grouping.decide(&mut report("c", "Brücke dicht"), NOW);
        let decision = grouped.as_ref().and_then(Grouped::decision).unwrap();
        assert_eq!((decision.cluster, decision.founded), (first, true));
    }

    #[test]
    fn without_an_index_an_item_stays_alone_and_keeps_its_keys() {
        let (_dir, mut store) = testing::open();
        testing::record(&mut store, "a", vec![report("a", "Brücke gesperrt")]);
        let mut dedup = Dedup::default();
        dedup.configure(Settings {
            mode: Mode::Off,
            ..Settings::default()
        });
        dedup.prepare(&store.conn, NOW).unwrap();
        let bumped = HashSet::new();
        let grouping = Grouping::new(&dedup, "b", &bumped);
        let mut second = report("b", "Sperrung der Brücke");
        assert!(grouping.decide(&mut second, NOW).is_none());
        assert!(second.keys.is_some());
    }
}
