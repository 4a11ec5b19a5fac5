//! Recording fetches: each fetch in one transaction (or a savepoint of its
//! own in a group commit) that writes its new and changed items, their
//! topics, the stories new items join, and the source's state. Each new
//! item is grouped before the next is looked at: [`super::grouping`]
//! decides its story, the item's row records it.

use std::collections::{BTreeSet, HashSet};

use rusqlite::Connection;

use super::error::Context;
use super::grouping::{Grouped, Grouping};
use super::items::ItemWriter;
use super::sources::record_outcome;
use super::sources::record_skipped;
use super::topics::{ALL_FEED, bump_feed_versions, insert_topics, topics_of, write_topics};
use super::{FetchRecord, Store, StoreError, stories, write_transaction};
use crate::dedup::Identified;

/// How many items one fetch added, changed, left alone and skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// New items not stored because they are older than `[storage]
    /// keep_days` (pruning would delete them at once).
    pub too_old: usize,
    /// `keep_days` as this fetch applied it, in whole days.
    pub keep_days: Option<u64>,
}

impl Counts {
    /// `skipped 3 older than 365 days (keep_days)`, when items were skipped.
    pub fn skipped_note(&self) -> Option<String> {
        skipped_note(
            u64::try_from(self.too_old).unwrap_or(u64::MAX),
            self.keep_days,
        )
    }
}

/// What a fetch that skipped `count` items older than `keep_days` days says
/// (in `kurator fetch`, the daemon's log and `kurator status` alike).
pub fn skipped_note(count: u64, keep_days: Option<u64>) -> Option<String> {
    (count > 0).then(|| match keep_days {
        Some(days) => format!("skipped {count} older than {days} days (keep_days)"),
        None => format!("skipped {count} older than keep_days"),
    })
}

/// One fetch waiting to be recorded by [`Store::record_fetches`].
#[derive(Debug, Clone)]
pub struct PendingFetch {
    pub source_id: String,
    pub url: String,
    pub record: FetchRecord,
    pub items: Vec<Identified>,
    pub now: i64,
    /// New items published before this (seconds since the epoch) are not
    /// stored: pruning would delete them again (`[storage] keep_days`).
    pub oldest_kept: Option<i64>,
}

impl Store {
    /// Records one fetch of a source: its items (if any) and its new state, in
    /// one transaction. `now` is seconds since the epoch. The items' dedup
    /// keys are taken (the window index keeps them).
    pub fn record_fetch(
        &mut self,
        source_id: &str,
        url: &str,
        record: &FetchRecord,
        items: &mut [Identified],
        now: i64,
    ) -> Result<Counts, StoreError> {
        let tx = write_transaction(&mut self.conn, "starting a transaction")?;
        self.dedup.prepare_or_skip(&tx, now);
        let bumped = HashSet::new();
        let mut grouping = Grouping::new(&self.dedup, source_id, &bumped);
        let counts = apply_fetch(&tx, source_id, url, record, items, now, None, &mut grouping)?;
        let (changes, _) = grouping.finish();
        if let Err(err) = tx.commit() {
            self.dedup.invalidate();
            return Err(err).context("committing a fetch");
        }
        self.dedup.apply(source_id, changes);
        Ok(counts)
    }

    /// Sets how new items group into stories (`[dedup]`).
    pub fn set_dedup(&mut self, settings: crate::dedup::Settings) {
        self.dedup.configure(settings);
    }

    /// Records several fetches in one commit (group commit). Each fetch runs in
    /// its own savepoint, so a fetch that fails leaves nothing behind while the
    /// others are kept; a crash before the commit keeps none of them, so no
    /// fetch is ever half-written either way.
    ///
    /// Why: a commit writes every page it touched to the WAL. Fetches that
    /// finish together share index pages, and committing them together writes
    /// those pages once instead of once per fetch.
    ///
    /// The items' dedup keys are taken (the window index keeps them).
    pub fn record_fetches(
        &mut self,
        fetches: &mut [PendingFetch],
    ) -> Result<Vec<Result<Counts, StoreError>>, StoreError> {
        let Store { conn, dedup, .. } = self;
        let mut tx = write_transaction(conn, "starting a transaction")?;
        let now = fetches.iter().map(|f| f.now).max().unwrap_or_default();
        dedup.prepare_or_skip(&tx, now);
        let mut results = Vec::with_capacity(fetches.len());
        let mut bumped = HashSet::new();
        for fetch in fetches {
            let savepoint = tx.savepoint().context("starting a savepoint")?;
            let mut grouping = Grouping::new(dedup, &fetch.source_id, &bumped);
            let result = apply_fetch(
                &savepoint,
                &fetch.source_id,
                &fetch.url,
                &fetch.record,
                &mut fetch.items,
                fetch.now,
                fetch.oldest_kept,
                &mut grouping,
            );
            let (changes, bumping) = grouping.finish();
            match result {
                Ok(_) => {
                    if let Err(err) = savepoint.commit().context("releasing a savepoint") {
                        dedup.invalidate();
                        return Err(err);
                    }
                    dedup.apply(&fetch.source_id, changes);
                    bumped.extend(bumping);
                }
                // A fault of the whole database (a full disk, a lost lock)
                // may have rolled back the whole transaction, fetches
                // already applied included: none of the batch is kept.
                Err(err) if err.write_fault().is_some() => {
                    drop(savepoint);
                    drop(tx);
                    dedup.invalidate();
                    return Err(err);
                }
                // Dropping the savepoint rolls it back.
                Err(_) => drop(savepoint),
            }
            results.push(result);
        }
        if let Err(err) = tx.commit() {
            dedup.invalidate();
            return Err(err).context("committing fetches");
        }
        Ok(results)
    }
}

/// Writes one fetch: the items, then the source's state.
#[allow(clippy::too_many_arguments)]
fn apply_fetch(
    conn: &Connection,
    source_id: &str,
    url: &str,
    record: &FetchRecord,
    items: &mut [Identified],
    now: i64,
    oldest_kept: Option<i64>,
    grouping: &mut Grouping<'_>,
) -> Result<Counts, StoreError> {
    let read_items = !items.is_empty();
    let mut counts = upsert_items(conn, source_id, items, now, oldest_kept, grouping)?;
    counts.keep_days = oldest_kept.map(|oldest| {
        // Whole days, as configured; rounded against clock drift.
        u64::try_from((now - oldest + 43_200) / 86_400).unwrap_or(0)
    });
    record_outcome(conn, source_id, url, record, now)?;
    // A 304 or an unchanged body reads no items: the last count stands.
    if read_items && matches!(record, FetchRecord::Success { .. }) {
        record_skipped(conn, source_id, &counts)?;
    }
    Ok(counts)
}

/// Stores the new items and updates the changed ones, in feed order; each
/// new item is grouped (decided, then recorded) before the next is looked
/// at. Moves on the versions of the feeds that change.
fn upsert_items(
    tx: &Connection,
    source_id: &str,
    items: &mut [Identified],
    now: i64,
    oldest_kept: Option<i64>,
    grouping: &mut Grouping<'_>,
) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    if items.is_empty() {
        return Ok(counts);
    }
    let mut rows = ItemWriter::prepare(tx)?;
    // The feeds whose content this fetch changes: `all`, and every topic an
    // item enters or leaves.
    let mut touched: BTreeSet<&str> = BTreeSet::new();
    let mut old_topics: Vec<String> = Vec::new();
    let mut story_topics: Vec<String> = Vec::new();
    for identified in items {
        match rows.find(&identified.uid)? {
            None => {
                let item = &identified.item;
                let published = item.published.or(item.updated).unwrap_or(now);
                // Pruned once, or old enough to be pruned at once: not new.
                if oldest_kept.is_some_and(|oldest| published < oldest) {
                    counts.too_old += 1;
                    continue;
                }
                if rows.was_pruned(&identified.uid)? {
                    counts.unchanged += 1;
                    continue;
                }
                let updated = item.updated.unwrap_or(published).max(published);
                // The story it joins, decided before the row is written so
                // the row is written once.
                let grouped = grouping.decide(identified, published);
                let story = grouped.as_ref().and_then(Grouped::decision);
                let id = rows.insert(identified, source_id, published, updated, now, story)?;
                insert_topics(tx, id, &identified.topics)?;
                touched.extend(identified.topics.iter().map(String::as_str));
                counts.new += 1;
                if let Some(story) = story {
                    if !story.founded {
                        stories::found(tx, story.cluster)?;
                    }
                    // The item is a report of other stories too: they
                    // become part of the oldest, and their entries leave
                    // their topics' feeds.
                    for &other in &story.merges {
                        story_topics.extend(stories::cluster_topics(tx, other)?);
                        stories::merge(tx, other, story.cluster)?;
                    }
                    // The story's entry now lists this report too: its
                    // topics' feeds change (read once per commit).
                    if grouping.first_join_to(story.cluster) {
                        story_topics.extend(stories::cluster_topics(tx, story.cluster)?);
                    }
                }
                if let Some(grouped) = grouped {
                    grouping.inserted(id, published, grouped);
                }
            }
            Some((_, hash)) if hash == identified.content_hash => counts.unchanged += 1,
            Some((id, _)) => {
                rows.update(id, identified, now)?;
                old_topics.extend(topics_of(tx, id)?);
                write_topics(tx, id, &identified.topics)?;
                touched.extend(identified.topics.iter().map(String::as_str));
                counts.updated += 1;
            }
        }
    }
    if counts.new + counts.updated > 0 {
        touched.insert(ALL_FEED);
        touched.extend(old_topics.iter().map(String::as_str));
        touched.extend(story_topics.iter().map(String::as_str));
        bump_feed_versions(tx, touched, now)?;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, NOW, tagged};

    fn fetch(source: &str, items: Vec<Identified>) -> PendingFetch {
        PendingFetch {
            source_id: source.into(),
            url: format!("https://{source}.example/feed"),
            record: testing::success(),
            items,
            now: NOW,
            oldest_kept: None,
        }
    }

    #[test]
    fn a_fetch_in_a_group_commit_joins_the_story_of_a_fetch_before_it() {
        let (_dir, mut store) = testing::open();
        let story = "https://www.example.de/story";
        let first = testing::item("a", "1", "Brücke gesperrt", story);
        let second = testing::item("b", "2", "Sperrung", &format!("{story}?utm_source=b"));
        let other = testing::item("c", "3", "Neue Kita eröffnet", "https://c.example/3");
        let mut fetches = vec![
            fetch("a", vec![tagged(first, &["verkehr"])]),
            fetch("b", vec![tagged(second, &["stadt"])]),
            fetch("c", vec![other]),
        ];
        let results = store.record_fetches(&mut fetches).unwrap();
        for result in results {
            assert_eq!(result.unwrap().new, 1);
        }
        let item = |source: &str| store.items_of_source(source).unwrap().remove(0);
        let (a, b, c) = (item("a"), item("b"), item("c"));
        assert_eq!(a.cluster_id, Some(a.id), "founded with its second report");
        assert_eq!(b.cluster_id, Some(a.id));
        assert_eq!(c.cluster_id, None);
        assert_eq!(
            store.cluster_reason(b.id).unwrap(),
            Some(("link".into(), 1.0))
        );
        // The story's entry shows in both topics' feeds: `verkehr` moved
        // again when `b` joined.
        let versions = store.feed_versions().unwrap();
        assert_eq!(versions["verkehr"].version, 2);
        assert_eq!(versions["stadt"].version, 1);
        assert_eq!(versions[ALL_FEED].version, 3);
    }

    #[test]
    fn items_older_than_kept_are_not_new_and_move_no_feed() {
        let (_dir, mut store) = testing::open();
        let old = testing::item("a", "1", "Brücke gesperrt", "https://a.example/1");
        let mut fetches = vec![PendingFetch {
            oldest_kept: Some(NOW),
            ..fetch("a", vec![old])
        }];
        let counts = store
            .record_fetches(&mut fetches)
            .unwrap()
            .remove(0)
            .unwrap();
        assert_eq!(
            counts,
            Counts {
                new: 0,
                updated: 0,
                unchanged: 0,
                too_old: 1,
                keep_days: counts.keep_days,
            }
        );
        assert_eq!(store.item_count(None).unwrap(), 0);
        assert!(store.feed_versions().unwrap().is_empty());
        assert!(
            store.source_state("a").unwrap().is_some(),
            "the fetch is recorded"
        );
    }

    #[test]
    fn a_report_of_two_stories_merges_them_into_the_older() {
        let (_dir, mut store) = testing::open();
        let first = testing::item("a", "1", "Brücke gesperrt", "https://a.example/1");
        let second = testing::item("b", "2", "Neue Kita eröffnet", "https://b.example/2");
        testing::record(&mut store, "a", vec![tagged(first, &["verkehr"])]);
        testing::record(&mut store, "b", vec![tagged(second, &["kinder"])]);
        let older = store.items_of_source("a").unwrap().remove(0);
        let newer = store.items_of_source("b").unwrap().remove(0);
        let before = store.feed_versions().unwrap();

        // A roundup links both: it is a report of each, so they are one story.
        let mut roundup = testing::item("c", "3", "Kurz gemeldet", "https://c.example/3");
        roundup.item.summary = Some(
            r#"<p>Die <a href="https://a.example/1">Brücke</a> ist gesperrt, die
               <a href="https://b.example/2">Kita</a> eröffnet.</p>"#
                .into(),
        );
        testing::record(&mut store, "c", vec![roundup]);
        let roundup = store.items_of_source("c").unwrap().remove(0);
        let members: Vec<i64> = store
            .cluster_members(older.id)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(members, [older.id, newer.id, roundup.id]);
        assert_eq!(
            store
                .cluster_reason(roundup.id)
                .unwrap()
                .map(|(reason, _)| reason),
            Some("cites".to_owned())
        );
        // The story keeps the older entry's id; the other entry left its
        // topic's feed, which moves on.
        let stories = store.recent_clusters(0).unwrap();
        assert_eq!(stories.len(), 1);
        assert_eq!(stories[0].0, older.id);
        assert_eq!(
            crate::store::story_entry_id(older.id, &stories[0].1),
            older.entry_id()
        );
        let after = store.feed_versions().unwrap();
        for feed in ["verkehr", "kinder", "all"] {
            assert!(
                after[feed].version > before[feed].version,
                "{feed}: {before:?} {after:?}"
            );
        }

        // A later report of the merged story joins it as one.
        let later = testing::item(
            "d",
            "4",
            "Kita eröffnet",
            "https://b.example/2?utm_source=d",
        );
        testing::record(&mut store, "d", vec![later]);
        assert_eq!(
            store.items_of_source("d").unwrap()[0].cluster_id,
            Some(older.id)
        );
    }
}
