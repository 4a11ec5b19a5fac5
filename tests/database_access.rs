//! How commands open the database, through the real binary on real files:
//! readers (`status`, `query`, `render`, `clusters`, `explain`, `serve`)
//! never write it, not even on a read-only file in a read-only directory,
//! and never migrate it; errors name the file and the reason.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kurator::store::schema::MIGRATIONS;
use support::process::Running;
use support::server::{Behaviour, TestServer};

const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Stadt Musterhausen</title>
<item><title>Gemeinderat beschließt Haushalt</title><link>https://www.musterhausen.de/p/1</link><guid>p1</guid>
<description>Der Stadtrat stimmt zu.</description><pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate></item>
<item><title>Straßenfest in der Altstadt</title><link>https://www.musterhausen.de/p/2</link><guid>p2</guid>
<description>Musik und Essen.</description><pubDate>Tue, 14 Apr 2026 10:00:00 +0200</pubDate></item>
</channel></rss>"#;

/// A directory others may enter (the read-only checks run as another user
/// when the tests run as root), with a config for one source at `upstream`
/// and the database at `DIR/data/kurator.db`.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(upstream: &TestServer) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let config = dir.path().join("feeds.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\npath = \"{}\"\n\n\
                 [[source]]\nid = \"musterhausen\"\ntitle = \"Stadt Musterhausen\"\nurl = \"{}\"\n\n\
                 [[topic]]\nslug = \"politik\"\ntitle = \"Politik\"\nmatch = 'gemeinderat'\n",
                dir.path().join("data/kurator.db").display(),
                upstream.url("/presse.xml")
            ),
        )
        .unwrap();
        Setup { dir, config }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("data/kurator.db")
    }

    /// `kurator -c CONFIG ARGS` as this user.
    fn kurator(&self, args: &[&str]) -> Output {
        support::run_kurator(&self.config, args)
    }

    /// `kurator -c CONFIG ARGS` as a user the file modes bind.
    fn unprivileged(&self, args: &[&str]) -> Command {
        let mut command = if running_as_root() {
            let mut command = Command::new("setpriv");
            command
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_kurator"));
            command
        } else {
            Command::new(env!("CARGO_BIN_EXE_kurator"))
        };
        command.arg("-c").arg(&self.config).args(args);
        command
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A database at schema `version`, as an older kurator left it.
fn database_at(path: &Path, version: usize) {
    let conn = rusqlite::Connection::open(path).unwrap();
    for migration in &MIGRATIONS[..version] {
        conn.execute_batch(migration).unwrap();
    }
    conn.pragma_update(None, "user_version", u32::try_from(version).unwrap())
        .unwrap();
}

fn schema_version(path: &Path) -> usize {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get::<_, usize>(0))
        .unwrap()
}

#[test]
fn readers_serve_a_read_only_database_in_a_read_only_directory_and_change_nothing() {
    let upstream = TestServer::start();
    upstream.route("/presse.xml", Behaviour::ok("application/rss+xml", FEED));
    let setup = Setup::new(&upstream);
    let fetched = setup.kurator(&["fetch"]);
    assert!(fetched.status.success(), "{:?}", text(&fetched));
    let data = setup.db().parent().unwrap().to_path_buf();
    // The writer closed cleanly: only the database file is left.
    assert_eq!(listing(&data), ["kurator.db"]);
    let before = std::fs::read(setup.db()).unwrap();
    set_mode(&setup.db(), 0o444);
    set_mode(&data, 0o555);

    let status = setup.unprivileged(&["status"]).output().unwrap();
    let (out, err) = text(&status);
    assert!(status.status.success(), "status: {err}");
    assert!(out.contains("musterhausen") && out.contains("ok"), "{out}");

    let query = setup
        .unprivileged(&["query", "gemeinderat"])
        .output()
        .unwrap();
    let (out, err) = text(&query);
    assert!(query.status.success(), "query: {err}");
    assert!(out.contains("Gemeinderat beschließt Haushalt"), "{out}");

    let render = setup
        .unprivileged(&["render", "politik", "--format", "json"])
        .output()
        .unwrap();
    let (out, err) = text(&render);
    assert!(render.status.success(), "render: {err}");
    assert!(out.contains("Gemeinderat beschließt Haushalt"), "{out}");

    for args in [&["clusters"][..], &["explain", "1"]] {
        let output = setup.unprivileged(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {:?}", text(&output));
    }

    let served = Running::spawn(setup.unprivileged(&["serve"]), "serving ");
    let feed = served.get("/feeds/politik.json");
    assert_eq!(feed.status, 200, "{}", served.log_text());
    assert!(feed.text().contains("Gemeinderat beschließt Haushalt"));
    assert_eq!(served.get("/").status, 200);
    served.stop();

    // A backup reads it the same way, into a directory the user may write.
    let out = setup.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    set_mode(&out, 0o777);
    let copy = out.join("copy.db");
    let backup = setup
        .unprivileged(&["backup", copy.to_str().unwrap()])
        .output()
        .unwrap();
    let (out, err) = text(&backup);
    assert!(backup.status.success(), "backup: {err}");
    assert!(out.contains("backed up 2 item(s)"), "{out}");

    // Not a byte written, not even the -wal and -shm files beside it.
    set_mode(&data, 0o755);
    assert_eq!(listing(&data), ["kurator.db"]);
    assert!(std::fs::read(setup.db()).unwrap() == before);
}

#[test]
fn readers_do_not_migrate_an_older_schema_and_refuse_a_newer_one() {
    let upstream = TestServer::start();
    let setup = Setup::new(&upstream);
    let older = MIGRATIONS.len() - 2;
    database_at(&setup.db(), older);
    for args in [
        &["status"][..],
        &["query", "gemeinderat"],
        &["render", "politik"],
        &["clusters"],
    ] {
        let output = setup.kurator(args);
        let (_, err) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("schema version {older}"))
                && err.contains(
                    "restart the daemon (or run `kurator fetch`) with this kurator to migrate it"
                ),
            "{args:?}: {err}"
        );
        assert_eq!(schema_version(&setup.db()), older, "{args:?}");
    }
    let mut serve = setup.unprivileged(&["serve"]);
    let refused = serve.output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).1.contains("restart the daemon"),
        "{:?}",
        text(&refused)
    );
    assert_eq!(schema_version(&setup.db()), older);

    let newer = setup.dir.path().join("newer.db");
    database_at(&newer, MIGRATIONS.len());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    for args in [&["status"][..], &["fetch"]] {
        let mut with_db = vec!["--db", newer.to_str().unwrap()];
        with_db.extend_from_slice(args);
        let output = setup.kurator(&with_db);
        let (_, err) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(newer.to_str().unwrap()) && err.contains("schema version 99"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_reader_before_the_first_fetch_says_what_creates_the_database() {
    let upstream = TestServer::start();
    let setup = Setup::new(&upstream);
    let output = setup.kurator(&["status"]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(setup.db().to_str().unwrap()) && err.contains("`kurator fetch`"),
        "{err}"
    );
    let copy = setup.dir.path().join("copy.db");
    let backup = setup.kurator(&["backup", copy.to_str().unwrap()]);
    let (_, err) = text(&backup);
    assert_eq!(backup.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("no database at {} yet", setup.db().display())),
        "{err}"
    );
    assert!(!setup.db().exists(), "a reader created the database");
}

#[test]
fn database_errors_name_the_path_and_the_reason() {
    let upstream = TestServer::start();
    upstream.route("/presse.xml", Behaviour::ok("application/rss+xml", FEED));
    let setup = Setup::new(&upstream);
    let expect = |db: &Path, command: &str, unprivileged: bool, reason: &str| {
        let args = ["--db", db.to_str().unwrap(), command];
        let output = if unprivileged {
            setup.unprivileged(&args).output().unwrap()
        } else {
            setup.kurator(&args)
        };
        let (_, err) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{command} {db:?}: {err}");
        assert!(
            err.contains(&format!("cannot open the database {}", db.display()))
                && err.contains(reason),
            "{command} {db:?}: expected {reason:?} in: {err}"
        );
        assert!(!err.contains("unable to open database file"), "{err}");
    };
    let missing = setup.dir.path().join("no/such/dir/kurator.db");
    let reason = format!(
        "the directory {} does not exist; create it",
        missing.parent().unwrap().display()
    );
    for command in ["fetch", "status"] {
        expect(&missing, command, false, &reason);
    }

    let not_a_database = setup.dir.path().join("notes.txt");
    std::fs::write(
        &not_a_database,
        "Einkaufsliste: Brot, Milch, Käse\n".repeat(40),
    )
    .unwrap();
    for command in ["fetch", "status"] {
        expect(
            &not_a_database,
            command,
            false,
            "it is not an SQLite database",
        );
    }

    let locked = setup.dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o555);
    expect(
        &locked.join("kurator.db"),
        "fetch",
        true,
        &format!(
            "permission denied: the directory {} is not writable",
            locked.display()
        ),
    );
    let fetched = setup.kurator(&["fetch"]);
    assert!(fetched.status.success(), "{:?}", text(&fetched));
    set_mode(&setup.db(), 0o444);
    expect(
        &setup.db(),
        "fetch",
        true,
        &format!(
            "permission denied: the file {} is not writable",
            setup.db().display()
        ),
    );
    set_mode(&setup.db(), 0o600);
    expect(
        &setup.db(),
        "status",
        true,
        &format!(
            "permission denied: the file {} is not readable",
            setup.db().display()
        ),
    );
}

#[test]
fn check_checks_the_database_path_and_migrates_an_older_schema() {
    let upstream = TestServer::start();
    let setup = Setup::new(&upstream);
    let check = |db: &Path, unprivileged: bool| {
        let args = ["--db", db.to_str().unwrap(), "check"];
        let output = if unprivileged {
            setup.unprivileged(&args).output().unwrap()
        } else {
            setup.kurator(&args)
        };
        let (out, err) = text(&output);
        (output.status.code(), out, err)
    };

    let (code, out, err) = check(&setup.db(), false);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("not there yet: the first fetch creates it"),
        "{out}"
    );
    assert!(!setup.db().exists(), "check created the database");

    let missing = setup.dir.path().join("nowhere/kurator.db");
    let (code, _, err) = check(&missing, false);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("the directory") && err.contains("does not exist"),
        "{err}"
    );

    let locked = setup.dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o555);
    let (code, _, err) = check(&locked.join("kurator.db"), true);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "permission denied: the directory {} is not writable",
            locked.display()
        )),
        "{err}"
    );

    let notes = setup.dir.path().join("notes.txt");
    std::fs::write(&notes, "Einkaufsliste: Brot, Milch, Käse\n".repeat(40)).unwrap();
    let (code, _, err) = check(&notes, false);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("it is not an SQLite database"), "{err}");

    let older = MIGRATIONS.len() - 2;
    database_at(&setup.db(), older);
    let (code, out, err) = check(&setup.db(), false);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!(
            "schema version {older}; this kurator migrates it to {} when the daemon restarts",
            MIGRATIONS.len()
        )),
        "{out}"
    );
    // `check` runs on reload under systemd, while the older daemon still
    // writes: it leaves the schema alone; a writer migrates it.
    assert_eq!(schema_version(&setup.db()), older);
    let fetched = setup.kurator(&["fetch"]);
    assert!(
        fetched.status.success() || fetched.status.code() == Some(1),
        "{:?}",
        text(&fetched)
    );
    assert_eq!(schema_version(&setup.db()), MIGRATIONS.len());
    // Readers take it now.
    let status = setup.kurator(&["status"]);
    assert!(status.status.success(), "{:?}", text(&status));

    rusqlite::Connection::open(setup.db())
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let (code, _, err) = check(&setup.db(), false);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("schema version 99"), "{err}");
}
