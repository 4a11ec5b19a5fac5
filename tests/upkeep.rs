//! Upkeep as ops do it: `kurator backup` while the daemon writes, and
//! retention with `kurator prune`.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use support::process::Running;
use support::run_kurator;
use support::server::{Behaviour, TestServer};

/// RSS items numbered `first..first + count`, published `age_days` ago.
fn items(source: usize, first: usize, count: usize, age_days: u64) -> String {
    let date = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(age_days * 86_400));
    (first..first + count)
        .map(|n| {
            format!(
                "<item><title>Pressemitteilung {source}-{n}: Gemeinderat tagt</title>\
                 <link>https://www.stadt.example/{source}/{n}</link><guid>{source}-{n}</guid>\
                 <description>Die Sitzung {n} behandelt den Haushalt.</description><pubDate>{date}</pubDate></item>"
            )
        })
        .collect()
}

fn rss(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Stadt</title>\
         <link>https://www.stadt.example/</link>{items}</channel></rss>"
    )
}

fn feed(source: usize, first: usize, count: usize, age_days: u64) -> String {
    rss(&items(source, first, count, age_days))
}

fn write_config(
    dir: &Path,
    upstream: &TestServer,
    sources: usize,
    extra: &str,
) -> std::path::PathBuf {
    let mut text = format!(
        "[storage]\npath = \"kurator.db\"\n{extra}\n[server]\nlisten = \"127.0.0.1:0\"\n\
         [fetch]\nschedule = \"* * * * * *\"\njitter = \"0s\"\nhost_delay = \"0s\"\n\n"
    );
    for n in 0..sources {
        text.push_str(&format!(
            "[[source]]\nid = \"stadt-{n}\"\nurl = \"{}\"\n\n",
            upstream.url(&format!("/feed-{n}.xml"))
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn integrity_and_count(path: &Path) -> (String, i64) {
    let copy =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    let items: i64 = copy
        .query_row("SELECT count(*) FROM items", [], |row| row.get(0))
        .unwrap();
    (check, items)
}

#[test]
fn backups_are_consistent_while_the_daemon_writes() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Arc::new(TestServer::start());
    const SOURCES: usize = 4;
    for n in 0..SOURCES {
        upstream.route(
            &format!("/feed-{n}.xml"),
            Behaviour::ok("application/rss+xml", feed(n, 0, 100, 1)),
        );
    }
    let config = write_config(dir.path(), &upstream, SOURCES, "");
    let daemon = Running::start(&config, "run", "polling ");

    // New items every 200 ms on every feed while the backups run.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (upstream, writing) = (upstream.clone(), writing.clone());
        std::thread::spawn(move || {
            let mut generation = 1;
            while writing.load(Ordering::Relaxed) {
                for n in 0..SOURCES {
                    let body = feed(n, generation * 100, 100, 1);
                    upstream.route(
                        &format!("/feed-{n}.xml"),
                        Behaviour::ok("application/rss+xml", body),
                    );
                }
                generation += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    let mut previous = 0;
    for round in 0..3 {
        let target = dir.path().join(format!("backup-{round}.db"));
        let output = run_kurator(&config, &["backup", target.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("integrity checked"), "{stdout}");
        let (check, items) = integrity_and_count(&target);
        assert_eq!(check, "ok");
        assert!(
            items >= previous && items > 0,
            "round {round}: {items} items after {previous}"
        );
        assert!(
            stdout.contains(&format!("backed up {items} item(s)")),
            "{stdout}"
        );
        previous = items;
        std::thread::sleep(Duration::from_millis(700));
    }
    writing.store(false, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(previous > 100, "the backups saw the writes: {previous}");

    // A backup never overwrites.
    let existing = dir.path().join("backup-0.db");
    let output = run_kurator(&config, &["backup", existing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("exists already"), "{stderr}");
    daemon.stop();
}

#[test]
fn prune_deletes_old_items_and_they_do_not_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = TestServer::start();
    // Five items from last year, three from this week.
    let body = rss(&(items(0, 0, 5, 400) + &items(0, 5, 3, 2)));
    upstream.route("/feed-0.xml", Behaviour::ok("application/rss+xml", body));

    // A dry run only reads: before the first fetch it says there is no
    // database and creates none.
    let config = write_config(dir.path(), &upstream, 1, "keep_days = 365");
    let output = run_kurator(&config, &["prune", "--dry-run"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no database at"),
        "{output:?}"
    );
    assert!(!dir.path().join("kurator.db").exists());

    // Kept forever at first: all eight are stored.
    let config = write_config(dir.path(), &upstream, 1, "keep_days = 0");
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("new 8,"));
    let output = run_kurator(&config, &["prune"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("kept forever"));

    // A year's retention: the five old ones go.
    let config = write_config(dir.path(), &upstream, 1, "keep_days = 365");
    let output = run_kurator(&config, &["prune", "--dry-run"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("would prune 5 item(s)"), "{stdout}");
    let output = run_kurator(&config, &["prune"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        stdout.contains("pruned 5 item(s)") && stdout.contains("keep_days = 365"),
        "{stdout}"
    );
    let (_, items) = integrity_and_count(&dir.path().join("kurator.db"));
    assert_eq!(items, 3);

    // The feed still carries them; they are not new again.
    let output = run_kurator(&config, &["fetch", "--force"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("new 0,"), "{stdout}");
    let (_, items) = integrity_and_count(&dir.path().join("kurator.db"));
    assert_eq!(items, 3);

    // A bad value is a config error with its line.
    let config = write_config(dir.path(), &upstream, 1, "keep_days = -3");
    let output = run_kurator(&config, &["prune"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("feeds.toml:3:") && stderr.contains("keep_days"),
        "{stderr}"
    );
}
