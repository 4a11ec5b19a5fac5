//! The SQLite store on real files: migrations from older schemas, one
//! transaction per fetch, updates in place, stable ids.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "made-up test data and counts, not values from outside"
)]

use kurator::dedup::Identified;
use kurator::fetch::Validators;
use kurator::identify::identify;
use kurator::normalize::Item;
use kurator::store::{Counts, FetchRecord, PendingFetch, Store, schema::MIGRATIONS};

const NOW: i64 = 1_800_000_000;

fn item(guid: &str, title: &str) -> Item {
    Item {
        guid: Some(guid.into()),
        link: Some(format!("https://www.example.de/{guid}")),
        title: title.into(),
        summary: Some("<p>Zusammenfassung</p>".into()),
        content: None,
        author: None,
        categories: vec!["Verwaltung".into()],
        published: Some(NOW - 3600),
        updated: None,
    }
}

fn success() -> FetchRecord {
    FetchRecord::Success {
        feed_ttl: None,
        fresh_until: None,
        status: 200,
        validators: Some(Validators {
            etag: Some("\"e1\"".into()),
            last_modified: None,
        }),
        body_sha256: Some([7; 32]),
        effective_url: "https://www.example.de/feed".into(),
        moved_to: None,
    }
}

fn record(store: &mut Store, mut items: Vec<Identified>) -> Counts {
    store
        .record_fetch(
            "src",
            "https://www.example.de/feed",
            &success(),
            &mut items,
            NOW,
        )
        .unwrap()
}

#[test]
fn new_updated_unchanged_and_stable_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db")).unwrap();
    let first = record(
        &mut store,
        identify("src", vec![item("a", "Alpha"), item("b", "Beta")]),
    );
    assert_eq!(
        first,
        Counts {
            new: 2,
            updated: 0,
            unchanged: 0,
            ..Counts::default()
        }
    );
    let before = store.items_of_source("src").unwrap();

    let second = record(
        &mut store,
        identify(
            "src",
            vec![item("a", "Alpha"), item("b", "Beta, korrigiert")],
        ),
    );
    assert_eq!(
        second,
        Counts {
            new: 0,
            updated: 1,
            unchanged: 1,
            ..Counts::default()
        }
    );
    let after = store.items_of_source("src").unwrap();
    let beta_before = before.iter().find(|i| i.identity == "guid:b").unwrap();
    let beta_after = after.iter().find(|i| i.identity == "guid:b").unwrap();
    assert_eq!(beta_after.title, "Beta, korrigiert");
    assert_eq!(beta_after.id, beta_before.id, "updated in place");
    assert_eq!(
        beta_after.uid, beta_before.uid,
        "the public id never changes"
    );
    assert_eq!(beta_after.published, beta_before.published);
    assert_eq!(beta_after.updated, NOW);

    // An item that disappears from the feed stays stored.
    let third = record(&mut store, identify("src", vec![item("c", "Gamma")]));
    assert_eq!(
        third,
        Counts {
            new: 1,
            updated: 0,
            unchanged: 0,
            ..Counts::default()
        }
    );
    assert_eq!(store.item_count(Some("src")).unwrap(), 3);

    let state = store.source_state("src").unwrap().unwrap();
    assert_eq!(state.validators.etag.as_deref(), Some("\"e1\""));
    assert_eq!(state.consecutive_errors, 0);
}

#[test]
fn missing_and_future_dates_use_first_seen() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db")).unwrap();
    let mut undated = item("u", "Ohne Datum");
    undated.published = None;
    record(&mut store, identify("src", vec![undated]));
    let stored = &store.items_of_source("src").unwrap()[0];
    assert_eq!(stored.published, NOW);
    assert_eq!(stored.first_seen, NOW);
}

#[test]
fn failures_count_up_and_success_resets() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db")).unwrap();
    for _ in 0..3 {
        let failure = FetchRecord::Failure {
            status: Some(503),
            error: "HTTP 503".into(),
            retry_after: Some(NOW + 60),
            gone: false,
        };
        store
            .record_fetch("src", "https://x/", &failure, &mut [], NOW)
            .unwrap();
    }
    let state = store.source_state("src").unwrap().unwrap();
    assert_eq!(state.consecutive_errors, 3);
    assert_eq!(state.retry_after, Some(NOW + 60));
    assert_eq!(state.last_error.as_deref(), Some("HTTP 503"));
    record(&mut store, Vec::new());
    let state = store.source_state("src").unwrap().unwrap();
    assert_eq!(state.consecutive_errors, 0);
    assert_eq!(state.retry_after, None);
    assert_eq!(state.last_error, None);
}

#[test]
fn a_failing_fetch_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let mut store = Store::open(&path).unwrap();
    // Make the third insert fail, as a full disk or a crash would.
    store
        .connection()
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON items WHEN NEW.title = 'Boom'
             BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
        )
        .unwrap();
    let mut items = identify(
        "src",
        vec![item("a", "Alpha"), item("b", "Beta"), item("c", "Boom")],
    );
    let result = store.record_fetch(
        "src",
        "https://www.example.de/feed",
        &success(),
        &mut items,
        NOW,
    );
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("simulated failure")
    );
    assert_eq!(
        store.item_count(None).unwrap(),
        0,
        "no item of the failed fetch is stored"
    );
    assert_eq!(
        store.source_state("src").unwrap(),
        None,
        "nor its source state"
    );
}

#[test]
fn migrates_from_every_older_schema() {
    for version in 1..MIGRATIONS.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // Build the database as an older kurator left it.
            let conn = rusqlite::Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..version] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", version as u32)
                .unwrap();
            conn.execute(
                "INSERT INTO sources (id, url, etag) VALUES ('old', 'https://x/', '\"v\"')",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO items (uid, source_id, identity, title, published, updated, first_seen, content_hash)
                 VALUES ('u1', 'old', 'guid:1', 'Alter Eintrag', 1, 1, 1, x'00')",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
        assert_eq!(
            store.item_count(Some("old")).unwrap(),
            1,
            "from v{version}: items survive"
        );
        let state = store.source_state("old").unwrap().unwrap();
        assert_eq!(state.validators.etag.as_deref(), Some("\"v\""));
        assert_eq!(state.effective_url, None);
    }
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&path).err().expect("a newer schema is refused");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn wal_mode_and_page_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("k.db")).unwrap();
    let mode: String = store
        .connection()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let page_size: i64 = store
        .connection()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(page_size, 16384);
}

#[test]
fn group_commit_keeps_each_fetch_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db")).unwrap();
    store
        .connection()
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON items WHEN NEW.title = 'Boom'
             BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
        )
        .unwrap();
    let fetch = |source: &str, items: Vec<Item>| PendingFetch {
        source_id: source.into(),
        url: format!("https://www.example.de/{source}"),
        record: success(),
        items: identify(source, items),
        now: NOW,
        oldest_kept: None,
    };
    let results = store
        .record_fetches(&mut [
            fetch("one", vec![item("a", "Alpha")]),
            fetch("two", vec![item("b", "Beta"), item("c", "Boom")]),
            fetch("three", vec![item("d", "Delta")]),
        ])
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().new, 1);
    assert!(
        results[1]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("simulated failure")
    );
    assert_eq!(results[2].as_ref().unwrap().new, 1);
    assert_eq!(store.item_count(Some("one")).unwrap(), 1);
    assert_eq!(
        store.item_count(Some("two")).unwrap(),
        0,
        "the failed fetch left nothing"
    );
    assert_eq!(store.source_state("two").unwrap(), None);
    assert_eq!(store.item_count(Some("three")).unwrap(), 1);
}

/// Items with topics, as ingest hands them to the store.
fn with_topics(items: Vec<Identified>, topics: &[&[&str]]) -> Vec<Identified> {
    items
        .into_iter()
        .zip(topics)
        .map(|(mut item, topics)| {
            item.topics = topics.iter().map(|t| t.to_string()).collect();
            item
        })
        .collect()
}

#[test]
fn feed_versions_move_only_for_feeds_that_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db")).unwrap();
    let version = |store: &Store, feed: &str| {
        store
            .feed_versions()
            .unwrap()
            .get(feed)
            .map_or(0, |v| v.version)
    };
    assert!(store.feed_versions().unwrap().is_empty());

    let items = || identify("src", vec![item("a", "Alpha"), item("b", "Beta")]);
    record(&mut store, with_topics(items(), &[&["politik"], &[]]));
    assert_eq!(version(&store, "all"), 1);
    assert_eq!(version(&store, "politik"), 1);
    assert_eq!(version(&store, "smart-city"), 0);

    // The same items again: nothing changes, no version moves.
    record(&mut store, with_topics(items(), &[&["politik"], &[]]));
    assert_eq!(version(&store, "all"), 1);
    assert_eq!(version(&store, "politik"), 1);

    // An update moves the topic the item leaves and the one it enters.
    let changed = identify("src", vec![item("a", "Alpha, korrigiert")]);
    record(&mut store, with_topics(changed, &[&["smart-city"]]));
    assert_eq!(version(&store, "all"), 2);
    assert_eq!(version(&store, "politik"), 2, "left");
    assert_eq!(version(&store, "smart-city"), 1, "entered");

    // Retagging moves exactly the topics whose membership changes.
    let b = store.items_of_source("src").unwrap()[1].id;
    let a = store.items_of_source("src").unwrap()[0].id;
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    let changed = store
        .replace_topics(
            &[(a, vec!["smart-city".into()]), (b, vec!["politik".into()])],
            NOW,
        )
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(version(&store, "smart-city"), 1, "item a stays");
    assert_eq!(version(&store, "politik"), 3, "item b enters");
    assert_eq!(version(&store, "all"), 2, "all shows the same items");
    let versions = store.feed_versions().unwrap();
    assert_eq!(versions["politik"].changed_at, NOW);
}

fn dated(guid: &str, published: i64) -> Item {
    Item {
        published: Some(published),
        ..item(guid, &format!("Meldung {guid}"))
    }
}

#[test]
fn pruning_deletes_old_items_for_good_and_moves_their_feeds() {
    const DAY: i64 = 86_400;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db")).unwrap();
    let items = || {
        with_topics(
            identify(
                "src",
                vec![
                    dated("alt-1", NOW - 400 * DAY),
                    dated("alt-2", NOW - 366 * DAY),
                    dated("neu", NOW - 10 * DAY),
                ],
            ),
            &[&["politik"], &["smart-city"], &["politik"]],
        )
    };
    assert_eq!(record(&mut store, items()).new, 3);
    let before = store.feed_versions().unwrap();

    let cutoff = NOW - 365 * DAY;
    assert_eq!(store.count_older_than(cutoff).unwrap(), 2);
    let pruned = store.prune(cutoff, NOW).unwrap();
    assert_eq!(pruned.items, 2);
    let left: Vec<String> = store
        .items_of_source("src")
        .unwrap()
        .into_iter()
        .map(|i| i.identity)
        .collect();
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("neu"), "{left:?}");
    let after = store.feed_versions().unwrap();
    for feed in ["all", "politik", "smart-city"] {
        assert!(
            after[feed].version > before[feed].version,
            "{feed} shows pruned items: its version must move"
        );
    }
    let orphans: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM item_topics WHERE item_id NOT IN (SELECT id FROM items)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "topic rows go with their items");

    // The feed still carries them: they do not come back as new.
    let again = record(&mut store, items());
    assert_eq!(again.new, 0, "{again:?}");
    assert_eq!(store.item_count(None).unwrap(), 1);
    assert_eq!(
        store.prune(cutoff, NOW).unwrap().items,
        0,
        "nothing left to prune"
    );
}

#[test]
fn items_older_than_the_horizon_are_not_stored_as_new() {
    const DAY: i64 = 86_400;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db")).unwrap();
    let pending = PendingFetch {
        source_id: "src".into(),
        url: "https://www.example.de/feed".into(),
        record: success(),
        items: identify(
            "src",
            vec![
                dated("archiv", NOW - 1000 * DAY),
                dated("aktuell", NOW - DAY),
            ],
        ),
        now: NOW,
        oldest_kept: Some(NOW - 365 * DAY),
    };
    let counts = store
        .record_fetches(&mut [pending])
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(
        (
            counts.new,
            counts.unchanged,
            counts.too_old,
            counts.keep_days
        ),
        (1, 0, 1, Some(365))
    );
    assert_eq!(store.item_count(None).unwrap(), 1);
    let state = store.source_state("src").unwrap().unwrap();
    assert_eq!((state.skipped_old, state.skipped_keep_days), (1, Some(365)));
}

#[test]
fn a_feed_page_shows_each_story_once_however_many_reports_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.db")).unwrap();
    // An older story alone, then one story that 100 sources carry under the
    // same link (more reports than a page's first read of rows).
    let mut older = item("alone", "Ältere Meldung");
    older.published = Some(NOW - 7200);
    store
        .record_fetch(
            "first",
            "https://a.example/feed",
            &success(),
            &mut identify("first", vec![older]),
            NOW,
        )
        .unwrap();
    for n in 0..100 {
        let source = format!("s{n}");
        let mut report = item(&format!("r{n}"), &format!("Bericht {n}"));
        report.link = Some(format!("https://www.example.de/story?utm_source=s{n}"));
        let mut items = identify(&source, vec![report]);
        store
            .record_fetch(
                &source,
                "https://b.example/feed",
                &success(),
                &mut items,
                NOW,
            )
            .unwrap();
    }
    let page = store.feed_items(None, 2).unwrap();
    let titles: Vec<&str> = page.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(page.len(), 2, "{titles:?}");
    assert_eq!(titles[1], "Ältere Meldung");
    assert!(page[0].cluster_id.is_some());
    assert_eq!(store.cluster_members(page[0].cluster()).unwrap().len(), 100);
}

#[test]
fn a_story_stores_its_cluster_with_its_first_report_also_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    // Reports of one story under one link, each from another source; the
    // store is reopened (its window index rebuilt from the database)
    // between some of them.
    let report = |source: &str| {
        let mut report = item(source, &format!("Bericht von {source}"));
        report.link = Some(format!("https://www.example.de/story?utm_source={source}"));
        identify(source, vec![report])
    };
    let record = |store: &mut Store, source: &str| {
        store
            .record_fetch(
                source,
                "https://x.example/feed",
                &success(),
                &mut report(source),
                NOW,
            )
            .unwrap()
    };
    let mut store = Store::open(&path).unwrap();
    record(&mut store, "first");
    drop(store);
    let mut store = Store::open(&path).unwrap();
    record(&mut store, "second");
    record(&mut store, "third");
    drop(store);
    let mut store = Store::open(&path).unwrap();
    record(&mut store, "fourth");
    let page = store.feed_items(None, 10).unwrap();
    assert_eq!(page.len(), 1, "one entry for the story");
    let members = store.cluster_members(page[0].cluster()).unwrap();
    let sources: Vec<&str> = members.iter().map(|m| m.source_id.as_str()).collect();
    assert_eq!(sources, ["first", "second", "third", "fourth"]);
    let first = members[0].id;
    for member in &members {
        assert_eq!(member.cluster_id, Some(first), "{}", member.source_id);
    }
}
