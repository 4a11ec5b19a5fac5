//! Recording fetches: each fetch in one transaction (or a savepoint of its
//! own in a group commit) that writes its new and changed items, their
//! topics, the stories new items join, and the source's state.

use std::collections::{BTreeSet, HashSet};

use rusqlite::{Connection, OptionalExtension, params};

use super::error::Context;
use super::sources::record_outcome;
use super::topics::{ALL_FEED, bump_feed_versions, insert_topics, topics_of, write_topics};
use super::{FetchRecord, Store, StoreError, stories, write_transaction};
use crate::identify::Identified;

/// How many items one fetch added, changed and left alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
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
        let mut changes = Vec::new();
        let (bumped, mut bumping) = (HashSet::new(), Vec::new());
        let dedup = DedupContext::of(&self.dedup, &mut changes, &bumped, &mut bumping);
        let counts = apply_fetch(&tx, source_id, url, record, items, now, None, dedup)?;
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
            let mut changes = Vec::new();
            let mut bumping = Vec::new();
            let result = apply_fetch(
                &savepoint,
                &fetch.source_id,
                &fetch.url,
                &fetch.record,
                &mut fetch.items,
                fetch.now,
                fetch.oldest_kept,
                DedupContext::of(dedup, &mut changes, &bumped, &mut bumping),
            );
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

/// What grouping new items needs: the prepared index (none when it could
/// not be built; items then stay alone) and where to note index changes.
struct DedupContext<'a> {
    index: Option<&'a crate::dedup::Index>,
    settings: crate::dedup::Settings,
    changes: &'a mut Vec<stories::IndexChange>,
    /// Stories whose topics' feeds this transaction already bumped (in
    /// fetches that were kept): a join to them needs no topic lookup.
    bumped: &'a HashSet<i64>,
    /// Stories whose topics' feeds this fetch bumps.
    bumping: &'a mut Vec<i64>,
}

impl<'a> DedupContext<'a> {
    fn of(
        dedup: &'a stories::Dedup,
        changes: &'a mut Vec<stories::IndexChange>,
        bumped: &'a HashSet<i64>,
        bumping: &'a mut Vec<i64>,
    ) -> DedupContext<'a> {
        DedupContext {
            index: dedup.index(),
            settings: dedup.settings,
            changes,
            bumped,
            bumping,
        }
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
    dedup: DedupContext<'_>,
) -> Result<Counts, StoreError> {
    let counts = upsert_items(conn, source_id, items, now, oldest_kept, dedup)?;
    record_outcome(conn, source_id, url, record, now)?;
    Ok(counts)
}

fn upsert_items(
    tx: &Connection,
    source_id: &str,
    items: &mut [Identified],
    now: i64,
    oldest_kept: Option<i64>,
    dedup: DedupContext<'_>,
) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    if items.is_empty() {
        return Ok(counts);
    }
    let mut find = tx
        .prepare_cached("SELECT id, content_hash FROM items WHERE uid = ?1")
        .context("preparing item lookup")?;
    let mut was_pruned = tx
        .prepare_cached("SELECT 1 FROM pruned WHERE uid = ?1")
        .context("preparing the pruned lookup")?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO items (uid, source_id, identity, guid, link, title, summary, content, author,
                                categories, published, updated, first_seen, content_hash,
                                cluster_id, cluster_reason, cluster_score)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )
        .context("preparing item insert")?;
    let mut update = tx
        .prepare_cached(
            "UPDATE items SET guid = ?2, link = ?3, title = ?4, summary = ?5, content = ?6,
                              author = ?7, categories = ?8, updated = ?9, content_hash = ?10
             WHERE id = ?1",
        )
        .context("preparing item update")?;
    // The feeds whose content this fetch changes: `all`, and every topic an
    // item enters or leaves.
    let mut touched: BTreeSet<&str> = BTreeSet::new();
    let mut old_topics: Vec<String> = Vec::new();
    let mut cluster_topics: Vec<String> = Vec::new();
    for identified in items {
        let item = &identified.item;
        let existing: Option<(i64, Vec<u8>)> = find
            .query_row([&identified.uid], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .context("looking up an item")?;
        let categories = serde_json::to_string(&item.categories).unwrap_or_else(|_| "[]".into());
        match existing {
            None => {
                let published = item.published.or(item.updated).unwrap_or(now);
                // Pruned once, or old enough to be pruned at once: not new.
                if oldest_kept.is_some_and(|oldest| published < oldest)
                    || was_pruned
                        .exists([&identified.uid])
                        .context("looking up pruned items")?
                {
                    counts.unchanged += 1;
                    continue;
                }
                let updated = item.updated.unwrap_or(published).max(published);
                // The story it joins, decided before the row is written so
                // the row is written once.
                let grouping = dedup.index.map(|index| {
                    // The index keeps the keys: taken, not copied.
                    let keys = identified
                        .keys
                        .take()
                        .unwrap_or_else(|| crate::dedup::Keys::of_item(&identified.item));
                    let decided =
                        index.decide_with_bands(&keys, source_id, published, &dedup.settings);
                    (keys, decided)
                });
                let decision = grouping.as_ref().and_then(|(_, d)| d.decision.as_ref());
                insert
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
                        categories,
                        published,
                        updated,
                        now,
                        identified.content_hash.as_slice(),
                        decision.map(|d| d.cluster),
                        decision.map(|d| d.reason.as_str()),
                        decision.map(|d| d.score),
                    ])
                    .context("inserting an item")?;
                let id = tx.last_insert_rowid();
                insert_topics(tx, id, &identified.topics)?;
                touched.extend(identified.topics.iter().map(String::as_str));
                counts.new += 1;
                if let Some((keys, decided)) = grouping {
                    let mut cluster = id;
                    if let Some(decision) = decided.decision {
                        cluster = decision.cluster;
                        if !decision.founded {
                            dedup.changes.push(stories::found(tx, cluster)?);
                        }
                        // The cluster's entry now lists this report too:
                        // its topics' feeds change (read once per commit).
                        if !dedup.bumped.contains(&cluster) && !dedup.bumping.contains(&cluster) {
                            cluster_topics.extend(stories::cluster_topics(tx, cluster)?);
                            dedup.bumping.push(cluster);
                        }
                    }
                    dedup.changes.push(stories::IndexChange::Insert {
                        id,
                        cluster,
                        published,
                        keys,
                        sketch: decided.sketch,
                    });
                }
            }
            Some((_, hash)) if hash == identified.content_hash => counts.unchanged += 1,
            Some((id, _)) => {
                update
                    .execute(params![
                        id,
                        item.guid,
                        item.link,
                        item.title,
                        item.summary,
                        item.content,
                        item.author,
                        categories,
                        now,
                        identified.content_hash.as_slice(),
                    ])
                    .context("updating an item")?;
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
        touched.extend(cluster_topics.iter().map(String::as_str));
        bump_feed_versions(tx, touched, now)?;
    }
    Ok(counts)
}
