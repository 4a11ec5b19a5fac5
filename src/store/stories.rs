//! Stories: which stored items are one story (clusters), as recorded and
//! as read back for feeds and `kurator explain`.
//!
//! `items.cluster_id` is `NULL` for an item alone, else the id of the
//! cluster's first item (whose `uid` is the id of the cluster's feed entry,
//! forever). `cluster_reason` and `cluster_score` record why an item joined.
//! Which story a new item joins is decided in [`super::grouping`]; this
//! module only records decisions and reads stories back.

use rusqlite::{Connection, OptionalExtension};

use super::error::Context;
use super::grouping::Dedup;
use super::{StoreError, StoredItem};
use crate::dedup::{self, Keys, Settings};

/// Makes `cluster` explicit on its first item, in case that item was alone
/// until now (a new item joining it stores the cluster with itself).
pub(super) fn found(conn: &Connection, cluster: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE items SET cluster_id = ?1 WHERE id = ?1 AND cluster_id IS NULL")
        .and_then(|mut statement| statement.execute([cluster]))
        .context("founding a cluster")?;
    Ok(())
}

/// Makes story `from` (an item alone or a cluster) part of story `into`,
/// which keeps its entry id.
pub(super) fn merge(conn: &Connection, from: i64, into: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE items SET cluster_id = ?2 WHERE cluster_id = ?1 OR id = ?1")
        .and_then(|mut statement| statement.execute(rusqlite::params![from, into]))
        .context("merging two stories")?;
    Ok(())
}

/// The topics of every item of a cluster: the feeds its entry shows in.
pub(super) fn cluster_topics(conn: &Connection, cluster: i64) -> Result<Vec<String>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT DISTINCT item_topics.topic FROM items
             JOIN item_topics ON item_topics.item_id = items.id
             WHERE items.cluster_id = ?1 OR items.id = ?1",
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
    pub findings: Vec<String>,
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
        self.select_items(
            "WHERE cluster_id = ?1 ORDER BY published, id",
            [cluster],
            "reading a cluster",
        )
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
    ) -> Result<StoryExplanation, StoreError> {
        let mut dedup = Dedup::default();
        dedup.configure(Settings {
            mode: crate::dedup::Mode::Cluster,
            ..settings
        });
        // The window around the item, however old it is.
        dedup.prepare(&self.conn, item.published)?;
        let index = dedup.index().expect("prepared in cluster mode");
        let keys = dedup_keys_of_stored(item);
        // As the decision weighs them: a text that names no place is about
        // its source's home place.
        let home = |source: &str| index.source_id(source).and_then(|s| index.home_place(s));
        let related = |store: &super::Store, other: StoredItem| {
            let other_terms = dedup_keys_of_stored(&other).terms;
            let homes = [home(&item.source_id), home(&other.source_id)];
            // As the decision weighs it: reports days apart count less.
            let gap = item.published - other.published;
            let weight = |t| index.weight(t);
            // The headline nouns on both sides, when they tell two events apart.
            let key_words = dedup::score::key_words_differ(&keys.terms, &other_terms, weight);
            let findings: Vec<String> =
                dedup::score::factors_with_homes(&keys.terms, &other_terms, weight, homes, gap)
                    .into_iter()
                    .map(|(finding, _)| match key_words {
                        Some((ours, theirs)) if finding == dedup::score::KEYS_DIFFER => {
                            format!("{finding} ({ours} / {theirs})")
                        }
                        _ if finding == dedup::score::STAGES_DIFFER => format!(
                            "{finding} ({} / {})",
                            keys.terms.stage().describe(),
                            other_terms.stage().describe()
                        ),
                        _ => finding.to_owned(),
                    })
                    .collect();
            Ok::<_, StoreError>(Related {
                similarity: dedup::score::similarity_at_home(
                    &keys.terms,
                    &other_terms,
                    weight,
                    homes,
                    gap,
                ),
                findings,
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
        let window = Some((item.published, settings.window_secs));
        for (slot, _) in index.candidates_within(&keys, bands.as_ref(), window) {
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

/// The id readers know story `cluster` by, as the feeds show it: its first
/// report's entry id (or, if that was pruned, its oldest member's).
pub fn story_entry_id(cluster: i64, members: &[StoredItem]) -> &str {
    members
        .iter()
        .find(|m| m.id == cluster)
        .or_else(|| members.iter().min_by_key(|m| m.id))
        .map_or("", StoredItem::entry_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, NOW, tagged};

    #[test]
    fn a_story_is_founded_once_and_read_back_with_its_reports_and_topics() {
        let (_dir, mut store) = testing::open();
        let first = testing::item("a", "1", "Sperrung der Brücke", "https://a.example/1");
        let second = testing::item("b", "2", "Neue Kita eröffnet", "https://b.example/2");
        testing::record(&mut store, "a", vec![tagged(first, &["verkehr"])]);
        testing::record(&mut store, "b", vec![tagged(second, &["kinder"])]);
        let a = store.items_of_source("a").unwrap().remove(0).id;
        let b = store.items_of_source("b").unwrap().remove(0).id;
        assert!(store.recent_clusters(0).unwrap().is_empty(), "both alone");

        // What a write records when `b` joins the story of `a`.
        store
            .conn
            .execute(
                "UPDATE items SET cluster_id = ?1, cluster_reason = 'text', cluster_score = 0.25
                 WHERE id = ?2",
                [a, b],
            )
            .unwrap();
        found(&store.conn, a).unwrap();
        found(&store.conn, a).unwrap();

        let members = store.cluster_members(a).unwrap();
        let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
        assert_eq!(ids, [a, b]);
        assert!(members.iter().all(|m| m.cluster_id == Some(a)));
        assert_eq!(
            store.cluster_reason(a).unwrap(),
            None,
            "the first joined none"
        );
        assert_eq!(
            store.cluster_reason(b).unwrap(),
            Some(("text".into(), 0.25))
        );
        let mut topics = cluster_topics(&store.conn, a).unwrap();
        topics.sort();
        assert_eq!(topics, ["kinder", "verkehr"]);
        assert_eq!(store.recent_clusters(NOW - 7200).unwrap(), [(a, members)]);
        assert!(
            store.recent_clusters(NOW).unwrap().is_empty(),
            "older reports only"
        );
    }
}
