//! Editors' corrections to stories: `kurator split` takes a report out of
//! its story for good, `kurator join` merges two stories.
//!
//! Rules:
//! * Entry ids stay: a story keeps its entry id whichever report leaves it.
//!   A report split off gets its own entry: its uid, or, if it was the
//!   story's first report (whose uid is the story's entry id), a new id
//!   derived from that one ([`StoredItem::entry_id`]). A join keeps the
//!   story of the report named first; the other story's entry goes.
//! * A correction is recorded (`story_corrections`, by uid) in the
//!   transaction that makes it, with the versions of the feeds the stories
//!   are in: the server re-renders them. The writer's dedup index is
//!   rebuilt when it sees a new correction (`grouping`), also in the
//!   daemon when another process corrected.
//! * A report split off is held apart: it is not indexed, so no later
//!   report groups with it, until an editor joins it.
//! * The rows say the stories; retagging does not touch them, and pruning
//!   takes a story whole. A correction of a pruned report stays recorded and
//!   harmless.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::error::Context;
use super::items::{ITEM_COLUMNS, stored_item};
use super::stories::{self, story_entry_id};
use super::topics::{ALL_FEED, bump_feed_versions, topics_of};
use super::{Store, StoreError, StoredItem, write_transaction};

/// Which correction an editor made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrectionKind {
    Split,
    Join,
}

impl CorrectionKind {
    fn as_str(self) -> &'static str {
        match self {
            CorrectionKind::Split => "split",
            CorrectionKind::Join => "join",
        }
    }
}

/// A recorded correction of one report's story, for `kurator explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub kind: CorrectionKind,
    /// Split: the entry id of the story the report left. Join: the uid of
    /// the report whose story it went into (or, for the report named
    /// first, of the report whose story joined it).
    pub other_uid: String,
    /// When (seconds since the epoch).
    pub at: i64,
}

/// Why a correction was not made: the editor's request does not fit the
/// stories as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The report is alone: there is no story to take it out of.
    Alone,
    /// Both reports are in one story already.
    SameStory,
}

/// What `kurator split` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The entry id the report now shows as.
    pub entry_id: String,
    /// The entry id of the story it left (unchanged).
    pub story_entry_id: String,
    /// How many reports the story has left.
    pub remaining: usize,
}

/// What `kurator join` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The entry id of the joined story (the first report's story's).
    pub story_entry_id: String,
    /// The entry id that went (the second report's story's).
    pub gone_entry_id: String,
    /// How many reports the story has now.
    pub reports: usize,
}

impl Store {
    /// The stored item an editor names: its row id, or its uid or entry id
    /// (32 hex digits, also as `urn:uuid:…`), as feeds, `kurator clusters`
    /// and `kurator explain` show them.
    pub fn find_item(&self, reference: &str) -> Result<Option<StoredItem>, StoreError> {
        let reference = reference.trim();
        if let Ok(id) = reference.parse::<i64>() {
            return self.item_by_id(id);
        }
        let hex: String = reference
            .strip_prefix("urn:uuid:")
            .unwrap_or(reference)
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        // The report with this uid first: an entry id a story kept is also
        // the uid of the report that was split off it.
        for column in ["uid", "entry_uid"] {
            let found = self
                .conn
                .query_row(
                    &format!("SELECT {ITEM_COLUMNS} FROM items WHERE {column} = ?1 LIMIT 1"),
                    [&hex],
                    stored_item,
                )
                .optional()
                .context("looking up an item")?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The corrections recorded for the report `uid`, oldest first.
    pub fn corrections_of(&self, uid: &str) -> Result<Vec<Correction>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT kind, CASE WHEN item_uid = ?1 THEN other_uid ELSE item_uid END, at
                 FROM story_corrections WHERE item_uid = ?1 OR (kind = 'join' AND other_uid = ?1)
                 ORDER BY id",
            )
            .context("reading story corrections")?;
        let rows = statement
            .query_map([uid], |row| {
                let kind: String = row.get(0)?;
                Ok(Correction {
                    kind: if kind == "split" {
                        CorrectionKind::Split
                    } else {
                        CorrectionKind::Join
                    },
                    other_uid: row.get(1)?,
                    at: row.get(2)?,
                })
            })
            .context("reading story corrections")?;
        rows.collect::<Result<_, _>>()
            .context("reading story corrections")
    }

    /// Takes the report `item_id` out of its story for good (see the
    /// module's rules); `now` dates the correction.
    pub fn split_item(
        &mut self,
        item_id: i64,
        now: i64,
    ) -> Result<Result<Split, Refused>, StoreError> {
        let tx = write_transaction(&mut self.conn, "starting a split")?;
        let item = item_in(&tx, item_id)?;
        let Some(cluster) = item.cluster_id else {
            return Ok(Err(Refused::Alone));
        };
        let members = members_in(&tx, cluster)?;
        if members.len() < 2 {
            return Ok(Err(Refused::Alone));
        }
        let feeds = story_feeds(&tx, &members)?;
        let story_entry_id = story_entry_id(cluster, &members).to_owned();
        let rest: Vec<&StoredItem> = members.iter().filter(|m| m.id != item.id).collect();
        let mut entry_id = item.entry_id().to_owned();
        // The story's first report leaves: the next keeps the story, and
        // its entry id.
        let key = if item.id == cluster {
            rest.iter().map(|m| m.id).min().unwrap_or(item.id)
        } else {
            cluster
        };
        if key != cluster {
            tx.execute(
                "UPDATE items SET entry_uid = ?2 WHERE id = ?1",
                params![key, story_entry_id],
            )
            .context("keeping the story's entry id")?;
            entry_id = split_entry_id(&story_entry_id, &item.uid);
            tx.execute(
                "UPDATE items SET entry_uid = ?2 WHERE id = ?1",
                params![item.id, entry_id],
            )
            .context("giving the split report its own entry id")?;
        }
        // One report left is alone again.
        let story = (rest.len() > 1).then_some(key);
        tx.execute(
            "UPDATE items SET cluster_id = ?2 WHERE cluster_id = ?1 AND id != ?3",
            params![cluster, story, item.id],
        )
        .context("regrouping the story's reports")?;
        tx.execute(
            "UPDATE items SET cluster_id = NULL, cluster_reason = NULL, cluster_score = NULL
             WHERE id = ?1",
            [item.id],
        )
        .context("taking the report out of its story")?;
        record(&tx, &item.uid, CorrectionKind::Split, &story_entry_id, now)?;
        bump_feed_versions(&tx, feeds.iter().map(String::as_str), now)?;
        tx.commit().context("committing a split")?;
        Ok(Ok(Split {
            entry_id,
            story_entry_id,
            remaining: rest.len(),
        }))
    }

    /// Merges the story of `other_id` into the story of `into_id`, which
    /// keeps its entry id; `now` dates the correction.
    pub fn join_stories(
        &mut self,
        into_id: i64,
        other_id: i64,
        now: i64,
    ) -> Result<Result<Joined, Refused>, StoreError> {
        let tx = write_transaction(&mut self.conn, "starting a join")?;
        let into = item_in(&tx, into_id)?;
        let other = item_in(&tx, other_id)?;
        let (key, other_key) = (into.cluster(), other.cluster());
        if key == other_key {
            return Ok(Err(Refused::SameStory));
        }
        let story = story_of(&tx, &into)?;
        let joining = story_of(&tx, &other)?;
        let gone_entry_id = story_entry_id(other_key, &joining).to_owned();
        let story_entry_id = story_entry_id(key, &story).to_owned();
        let mut feeds = story_feeds(&tx, &story)?;
        feeds.extend(story_feeds(&tx, &joining)?);
        stories::found(&tx, key)?;
        stories::merge(&tx, other_key, key)?;
        tx.execute(
            "UPDATE items SET cluster_reason = 'editor', cluster_score = 1.0 WHERE id = ?1",
            [other_key],
        )
        .context("recording why the story joined")?;
        record(&tx, &other.uid, CorrectionKind::Join, &into.uid, now)?;
        bump_feed_versions(&tx, feeds.iter().map(String::as_str), now)?;
        tx.commit().context("committing a join")?;
        Ok(Ok(Joined {
            story_entry_id,
            gone_entry_id,
            reports: story.len() + joining.len(),
        }))
    }
}

fn item_in(conn: &Connection, id: i64) -> Result<StoredItem, StoreError> {
    conn.query_row(
        &format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"),
        [id],
        stored_item,
    )
    .context("reading the item to correct")
}

fn members_in(conn: &Connection, cluster: i64) -> Result<Vec<StoredItem>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE cluster_id = ?1 ORDER BY id"
        ))
        .context("reading a story")?;
    let rows = statement
        .query_map([cluster], stored_item)
        .context("reading a story")?;
    rows.collect::<Result<_, _>>().context("reading a story")
}

/// The reports of `item`'s story: itself alone, or its cluster's.
fn story_of(conn: &Connection, item: &StoredItem) -> Result<Vec<StoredItem>, StoreError> {
    match item.cluster_id {
        Some(cluster) => members_in(conn, cluster),
        None => Ok(vec![item.clone()]),
    }
}

/// The new entry id of `report`, a story's first report split off the
/// story, which keeps `story_entry_id`: derived from both (a story can lose
/// several first reports in turn), 32 hex digits like a uid.
fn split_entry_id(story_entry_id: &str, report: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"kurator split\0");
    hasher.update(story_entry_id.as_bytes());
    hasher.update([0]);
    hasher.update(report.as_bytes());
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The feeds a story shows in: `all` and every report's topics.
fn story_feeds(conn: &Connection, members: &[StoredItem]) -> Result<BTreeSet<String>, StoreError> {
    let mut feeds = BTreeSet::from([ALL_FEED.to_owned()]);
    for member in members {
        feeds.extend(topics_of(conn, member.id)?);
    }
    Ok(feeds)
}

fn record(
    conn: &Connection,
    item_uid: &str,
    kind: CorrectionKind,
    other_uid: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO story_corrections (item_uid, kind, other_uid, at) VALUES (?1, ?2, ?3, ?4)",
        params![item_uid, kind.as_str(), other_uid, now],
    )
    .context("recording the correction")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, NOW, tagged};

    const STORY: &str = "https://www.example.de/story";

    /// A report of the one story (the same link, tracked per source).
    fn report(source: &str, guid: &str, title: &str) -> crate::dedup::Identified {
        testing::item(source, guid, title, &format!("{STORY}?utm_source={source}"))
    }

    fn item_of(store: &Store, source: &str) -> StoredItem {
        store.items_of_source(source).unwrap().remove(0)
    }

    /// A story of three reports (`a` first, then `b` and `c`), by link.
    fn story_of_three(store: &mut Store) -> (StoredItem, StoredItem, StoredItem) {
        testing::record(
            store,
            "a",
            vec![tagged(report("a", "1", "Brücke gesperrt"), &["verkehr"])],
        );
        testing::record(
            store,
            "b",
            vec![tagged(report("b", "2", "Sperrung der Brücke"), &["bau"])],
        );
        testing::record(store, "c", vec![report("c", "3", "Brücke dicht")]);
        let (a, b, c) = (
            item_of(store, "a"),
            item_of(store, "b"),
            item_of(store, "c"),
        );
        assert_eq!(
            [a.cluster_id, b.cluster_id, c.cluster_id],
            [Some(a.id); 3],
            "one story by link"
        );
        (a, b, c)
    }

    #[test]
    fn a_split_report_leaves_its_story_for_good_and_moves_the_feeds_it_was_in() {
        let (dir, mut store) = testing::open();
        let (a, b, c) = story_of_three(&mut store);
        let before = store.feed_versions().unwrap();

        let split = store.split_item(b.id, NOW + 60).unwrap().unwrap();
        assert_eq!(
            split,
            Split {
                entry_id: b.uid.clone(),
                story_entry_id: a.uid.clone(),
                remaining: 2
            }
        );
        let b_now = store.item_by_id(b.id).unwrap().unwrap();
        assert_eq!((b_now.cluster_id, b_now.entry_id()), (None, b.uid.as_str()));
        assert_eq!(store.cluster_reason(b.id).unwrap(), None);
        let rest: Vec<i64> = store
            .cluster_members(a.id)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(rest, [a.id, c.id], "the story keeps its id and the others");
        let after = store.feed_versions().unwrap();
        for feed in [ALL_FEED, "verkehr", "bau"] {
            assert_eq!(after[feed].version, before[feed].version + 1, "{feed}");
            assert_eq!(after[feed].changed_at, NOW + 60);
        }
        assert_eq!(
            store.corrections_of(&b.uid).unwrap(),
            [Correction {
                kind: CorrectionKind::Split,
                other_uid: a.uid.clone(),
                at: NOW + 60
            }]
        );
        assert_eq!(store.split_item(b.id, NOW).unwrap(), Err(Refused::Alone));

        // A later report with the same link joins the story, not the split
        // report, also after a restart; its re-fetch changes nothing.
        drop(store);
        let mut store = Store::open(&dir.path().join("kurator.db")).unwrap();
        testing::record(&mut store, "d", vec![report("d", "4", "Brücke zu")]);
        testing::record(
            &mut store,
            "b",
            vec![report("b", "2", "Sperrung der Brücke!")],
        );
        assert_eq!(item_of(&store, "d").cluster_id, Some(a.id));
        assert_eq!(item_of(&store, "b").cluster_id, None, "never rejoins");
    }

    #[test]
    fn a_story_whose_first_report_is_split_off_keeps_its_entry_id() {
        let (_dir, mut store) = testing::open();
        let (a, b, c) = story_of_three(&mut store);
        let split = store.split_item(a.id, NOW).unwrap().unwrap();
        assert_eq!(split.story_entry_id, a.uid, "the story's entry id stays");
        assert_ne!(split.entry_id, a.uid, "the split report gets a new one");
        assert_eq!(split.entry_id.len(), 32);

        let a_now = store.item_by_id(a.id).unwrap().unwrap();
        assert_eq!(
            (a_now.cluster_id, a_now.entry_id()),
            (None, split.entry_id.as_str())
        );
        let b_now = store.item_by_id(b.id).unwrap().unwrap();
        assert_eq!(
            b_now.cluster_id,
            Some(b.id),
            "the next report leads the story"
        );
        assert_eq!(b_now.entry_id(), a.uid, "and shows under its entry id");
        assert_eq!(
            store.item_by_id(c.id).unwrap().unwrap().cluster_id,
            Some(b.id)
        );
        // Both entry ids find their item: the uid the report, the story's
        // other id the story.
        assert_eq!(store.find_item(&a.uid).unwrap().unwrap().id, a.id);
        assert_eq!(store.find_item(&split.entry_id).unwrap().unwrap().id, a.id);

        // Split again: the story (now `c` alone) still shows as `a`'s entry.
        let again = store.split_item(b.id, NOW).unwrap().unwrap();
        assert_eq!(
            (again.story_entry_id.as_str(), again.remaining),
            (a.uid.as_str(), 1)
        );
        assert_ne!(again.entry_id, split.entry_id);
        let c_now = store.item_by_id(c.id).unwrap().unwrap();
        assert_eq!((c_now.cluster_id, c_now.entry_id()), (None, a.uid.as_str()));
    }

    #[test]
    fn a_join_keeps_the_first_story_and_survives_a_restart() {
        let (dir, mut store) = testing::open();
        let first = testing::item("a", "1", "Brücke gesperrt", "https://a.example/1");
        let second = testing::item("b", "2", "Neue Kita eröffnet", "https://b.example/2");
        testing::record(&mut store, "a", vec![tagged(first, &["verkehr"])]);
        testing::record(&mut store, "b", vec![tagged(second, &["kinder"])]);
        let (a, b) = (item_of(&store, "a"), item_of(&store, "b"));
        let before = store.feed_versions().unwrap();

        let joined = store.join_stories(b.id, a.id, NOW).unwrap().unwrap();
        assert_eq!(
            joined,
            Joined {
                story_entry_id: b.uid.clone(),
                gone_entry_id: a.uid.clone(),
                reports: 2
            }
        );
        assert_eq!(
            store.join_stories(a.id, b.id, NOW).unwrap(),
            Err(Refused::SameStory)
        );
        let after = store.feed_versions().unwrap();
        for feed in [ALL_FEED, "verkehr", "kinder"] {
            assert_eq!(after[feed].version, before[feed].version + 1, "{feed}");
        }
        drop(store);
        let store = Store::open(&dir.path().join("kurator.db")).unwrap();
        let members: Vec<i64> = store
            .cluster_members(b.id)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(members, [a.id, b.id]);
        assert_eq!(
            store.cluster_reason(a.id).unwrap(),
            Some(("editor".into(), 1.0))
        );
        let seen_by = |uid: &str| store.corrections_of(uid).unwrap().remove(0).other_uid;
        assert_eq!(
            (seen_by(&a.uid), seen_by(&b.uid)),
            (b.uid.clone(), a.uid.clone())
        );
    }

    #[test]
    fn no_later_report_groups_with_a_split_report() {
        let (dir, mut store) = testing::open();
        let release = "https://a.example/release";
        let article = "https://b.example/article";
        testing::record(
            &mut store,
            "a",
            vec![testing::item("a", "1", "Brücke gesperrt", release)],
        );
        let mut citing = testing::item("b", "2", "Sperrung", article);
        citing.item.summary = Some(format!("Die Stadt <a href=\"{release}\">meldet</a> es."));
        testing::record(&mut store, "b", vec![citing]);
        let (a, b) = (item_of(&store, "a"), item_of(&store, "b"));
        assert_eq!(b.cluster_id, Some(a.id), "joined by citing");
        store.split_item(b.id, NOW).unwrap().unwrap();

        // The same article through another source would join `b`.
        testing::record(
            &mut store,
            "d",
            vec![testing::item("d", "4", "Sperrung", article)],
        );
        let d = item_of(&store, "d");
        assert_eq!(
            (item_of(&store, "b").cluster_id, d.cluster_id),
            (None, None)
        );
        // Also after a restart: a third report joins `d`, not `b`.
        drop(store);
        let mut store = Store::open(&dir.path().join("kurator.db")).unwrap();
        testing::record(
            &mut store,
            "e",
            vec![testing::item("e", "5", "Sperrung", article)],
        );
        assert_eq!(item_of(&store, "e").cluster_id, Some(d.id));
        assert_eq!(item_of(&store, "b").cluster_id, None, "held apart");

        // Until an editor joins it: then it groups again.
        store.join_stories(b.id, a.id, NOW).unwrap().unwrap();
        let mut citing = testing::item("f", "6", "Sperrung", "https://f.example/6");
        citing.item.summary = Some(format!("Wie <a href=\"{article}\">berichtet</a>."));
        testing::record(&mut store, "f", vec![citing]);
        assert_eq!(item_of(&store, "f").cluster_id, Some(b.id));
    }

    #[test]
    fn a_writer_sees_a_split_another_process_made() {
        let (dir, mut daemon) = testing::open();
        let (a, b, _) = story_of_three(&mut daemon);
        // The daemon's index knows the story; `kurator split` runs beside it.
        let mut editor = Store::open(&dir.path().join("kurator.db")).unwrap();
        editor.split_item(a.id, NOW).unwrap().unwrap();
        testing::record(&mut daemon, "d", vec![report("d", "4", "Brücke zu")]);
        let d = item_of(&daemon, "d");
        assert_eq!(d.cluster_id, Some(b.id), "joins the story as it is now");
        assert_eq!(daemon.item_by_id(a.id).unwrap().unwrap().cluster_id, None);
    }

    #[test]
    fn an_item_is_found_by_number_uid_or_entry_urn() {
        let (_dir, mut store) = testing::open();
        let (a, _, _) = story_of_three(&mut store);
        let urn = format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &a.uid[..8],
            &a.uid[8..12],
            &a.uid[12..16],
            &a.uid[16..20],
            &a.uid[20..]
        );
        for reference in [a.id.to_string(), a.uid.to_uppercase(), urn] {
            assert_eq!(
                store.find_item(&reference).unwrap().unwrap().id,
                a.id,
                "{reference}"
            );
        }
        assert_eq!(store.find_item("0123").unwrap(), None);
        assert_eq!(store.find_item("kein-eintrag").unwrap(), None);
    }
}
