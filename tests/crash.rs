//! Crash safety: `kill -9` during heavy ingest, again and again, must lose
//! nothing that was committed, store nothing twice and leave the database
//! whole.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use support::process::Running;
use support::run_kurator;
use support::server::{Behaviour, TestServer};

const SOURCES: usize = 4;
/// Items every feed starts with, and how many each generation adds.
const FIRST: usize = 200;
const PER_GENERATION: usize = 10;

/// Feed `source` as of `generation`: every item it ever had (so a final
/// fetch can see them all), newest first.
fn feed(source: usize, generation: usize) -> String {
    let count = FIRST + generation * PER_GENERATION;
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Stadt</title>\
         <link>https://www.stadt.example/</link>",
    );
    for n in (0..count).rev() {
        xml.push_str(&format!(
            "<item><title>Meldung {source}-{n}: Gemeinderat beschließt Haushalt</title>\
             <link>https://www.stadt.example/{source}/{n}</link><guid>{source}-{n}</guid>\
             <description>&lt;p&gt;Die Sitzung {n} dauerte bis in den Abend.&lt;/p&gt;</description>\
             <pubDate>Mon, 13 Apr 2026 10:00:00 GMT</pubDate></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    xml
}

fn stored_uids(db: &Path) -> (String, BTreeSet<String>, i64) {
    let store = kurator::store::Store::open(db).unwrap();
    let conn = store.connection();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    let duplicates: i64 = conn
        .query_row(
            "SELECT count(*) - count(DISTINCT source_id || ' ' || identity) FROM items",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let mut statement = conn.prepare("SELECT uid FROM items").unwrap();
    let uids = statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .collect::<Result<BTreeSet<_>, _>>()
        .unwrap();
    (check, uids, duplicates)
}

#[test]
fn kill_9_during_ingest_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Arc::new(TestServer::start());
    for source in 0..SOURCES {
        upstream.route(
            &format!("/feed-{source}.xml"),
            Behaviour::ok("application/rss+xml", feed(source, 0)),
        );
    }
    let mut text = String::from(
        "[storage]\npath = \"kurator.db\"\nkeep_days = 0\n[server]\nlisten = \"127.0.0.1:0\"\n\
         [fetch]\nschedule = \"* * * * * *\"\njitter = \"0s\"\nhost_delay = \"0s\"\n\
         [[topic]]\nslug = \"politik\"\nmatch = 'gemeinderat'\n",
    );
    for source in 0..SOURCES {
        text.push_str(&format!(
            "[[source]]\nid = \"stadt-{source}\"\nurl = \"{}\"\n",
            upstream.url(&format!("/feed-{source}.xml"))
        ));
    }
    let config = dir.path().join("feeds.toml");
    std::fs::write(&config, text).unwrap();
    let db = dir.path().join("kurator.db");

    // New items every 150 ms on every feed, all along.
    let generation = Arc::new(AtomicUsize::new(0));
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (upstream, generation, writing) =
            (upstream.clone(), generation.clone(), writing.clone());
        std::thread::spawn(move || {
            while writing.load(Ordering::Relaxed) {
                let next = generation.load(Ordering::Relaxed) + 1;
                for source in 0..SOURCES {
                    upstream.route(
                        &format!("/feed-{source}.xml"),
                        Behaviour::ok("application/rss+xml", feed(source, next)),
                    );
                }
                generation.store(next, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };

    let mut committed: BTreeSet<String> = BTreeSet::new();
    // Kill at different moments: just after start, mid-fetch, mid-commit.
    let lifetimes_ms = [400, 1300, 700, 2100, 900, 1700, 550, 2600];
    for (round, lifetime) in lifetimes_ms.iter().enumerate() {
        let daemon = Running::start(&config, "run", "polling ");
        std::thread::sleep(Duration::from_millis(*lifetime));
        daemon.kill();
        let (check, uids, duplicates) = stored_uids(&db);
        assert_eq!(check, "ok", "round {round}: integrity");
        assert_eq!(duplicates, 0, "round {round}: an item stored twice");
        let lost: Vec<&String> = committed.difference(&uids).collect();
        assert!(
            lost.is_empty(),
            "round {round}: committed items lost: {lost:?}"
        );
        committed = uids;
    }
    writing.store(false, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(
        committed.len() > FIRST,
        "the daemon stored items between kills: {}",
        committed.len()
    );

    // A clean fetch afterwards completes the set: every item served, once.
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let (check, uids, duplicates) = stored_uids(&db);
    assert_eq!(check, "ok");
    assert_eq!(duplicates, 0);
    let served = SOURCES * (FIRST + generation.load(Ordering::Relaxed) * PER_GENERATION);
    assert_eq!(
        uids.len(),
        served,
        "every item served is stored exactly once"
    );
    assert!(committed.is_subset(&uids));
}
