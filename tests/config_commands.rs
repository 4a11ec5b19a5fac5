//! `kurator add`, `import` and `remove` edit the config file through the
//! real binary: feeds served from 127.0.0.1, config files in temporary
//! directories. Every edit keeps the file's comments and permissions and
//! leaves a config that `kurator check` accepts.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::run_kurator;
use support::server::{Behaviour, TestServer};

const CONFIG: &str = "# Our sources, commented.
[storage]
path = \"kurator.db\"   # beside this file

# The press office's feed.
[[source]]
id = \"rathaus\"
title = \"Rathaus\"
url = \"http://127.0.0.1:9/rathaus.xml\"
tags = [\"stadt\"]

# Topics follow.
[[topic]]
slug = \"kita\"
match = \"kita*\"
";

const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Stadt Beispiel: Presse</title><link>http://127.0.0.1/</link>
<item><title>Ältere Meldung</title><link>http://127.0.0.1/a</link><pubDate>Mon, 03 Mar 2025 10:00:00 +0000</pubDate></item>
<item><title>Neue Kita eröffnet</title><link>http://127.0.0.1/b</link><pubDate>Wed, 05 Mar 2025 10:00:00 +0000</pubDate></item>
<item><title>Sperrung der Heinrichstraße</title><link>http://127.0.0.1/c</link><pubDate>Tue, 04 Mar 2025 10:00:00 +0000</pubDate></item>
</channel></rss>"#;

fn config_in(dir: &Path) -> PathBuf {
    let path = dir.join("feeds.toml");
    std::fs::write(&path, CONFIG).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    path
}

/// The standard output of a command that must have exited 0.
fn succeeded(output: &std::process::Output) -> String {
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    stdout
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_checks(config: &Path) {
    let output = run_kurator(config, &["check"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "kurator check refuses the edited config:\n{}\n{}",
        text(&output.stderr),
        std::fs::read_to_string(config).unwrap()
    );
}

#[test]
fn add_shows_the_feed_and_appends_a_source_keeping_the_file() {
    let server = TestServer::start();
    server.route("/presse.xml", Behaviour::ok("application/rss+xml", FEED));
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let url = server.url("/presse.xml");

    let output = run_kurator(&config, &["add", &url, "--tags", "stadt,presse"]);
    let stdout = succeeded(&output);
    assert!(
        stdout.contains("\"Stadt Beispiel: Presse\" with 3 items"),
        "{stdout}"
    );
    // Newest first, by date.
    let newest = stdout.find("Neue Kita eröffnet").expect(&stdout);
    assert!(
        newest < stdout.find("Sperrung der Heinrichstraße").unwrap(),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "added source `stadt-beispiel-presse` ({url}) to {}:\n[[source]]\nid = \"stadt-beispiel-presse\"\n",
            config.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("systemctl reload kurator"), "{stdout}");
    assert_eq!(server.requests_for("/presse.xml").len(), 1);

    let edited = std::fs::read_to_string(&config).unwrap();
    let block = format!(
        "\n[[source]]\nid = \"stadt-beispiel-presse\"\ntitle = \"Stadt Beispiel: Presse\"\nurl = \"{url}\"\ntags = [\"stadt\", \"presse\"]\n"
    );
    // The old text is all there, unchanged, with the new block after the last source.
    assert_eq!(edited.replacen(&block, "", 1), CONFIG, "{edited}");
    assert!(edited.find(&block).unwrap() < edited.find("# Topics follow.").unwrap());
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    assert_checks(&config);

    // The same address again, or the same id: refused, naming the source.
    let again = run_kurator(&config, &["add", &url]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("source `stadt-beispiel-presse` already has the address"),
        "{}",
        text(&again.stderr)
    );
    let taken = run_kurator(
        &config,
        &["add", &server.url("/other.xml"), "--id", "rathaus"],
    );
    assert_eq!(taken.status.code(), Some(2));
    assert!(
        text(&taken.stderr).contains("the id `rathaus` is taken"),
        "{}",
        text(&taken.stderr)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    // Refused before any request.
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn add_follows_a_page_to_the_feed_it_links_to() {
    let server = TestServer::start();
    server.route("/presse.xml", Behaviour::ok("application/rss+xml", FEED));
    server.route(
        "/",
        Behaviour::ok(
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><head><title>Stadt</title>\
             <link rel=\"alternate\" type=\"application/rss+xml\" title=\"Presse\" href=\"/presse.xml\">\
             </head><body>Willkommen</body></html>",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());

    let output = run_kurator(
        &config,
        &[
            "add",
            &server.url("/"),
            "--id",
            "presse",
            "--title",
            "Pressestelle",
        ],
    );
    let stdout = succeeded(&output);
    assert!(
        stdout.contains("an HTML page that links to its feed"),
        "{stdout}"
    );
    let edited = std::fs::read_to_string(&config).unwrap();
    assert!(
        edited.contains(&format!(
            "[[source]]\nid = \"presse\"\ntitle = \"Pressestelle\"\nurl = \"{}\"\n",
            server.url("/presse.xml")
        )),
        "{edited}"
    );
    assert_checks(&config);
}

#[test]
fn add_changes_nothing_when_the_address_serves_no_feed() {
    let server = TestServer::start();
    server.route("/gone.xml", Behaviour::status(404));
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());

    let output = run_kurator(&config, &["add", &server.url("/gone.xml")]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    assert!(stderr.contains("nothing was added"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), CONFIG);

    // --no-fetch adds it as given, without a request.
    server.clear_requests();
    let output = run_kurator(
        &config,
        &[
            "add",
            &server.url("/gone.xml"),
            "--no-fetch",
            "--id",
            "later",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(server.requests().is_empty());
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("id = \"later\"")
    );
    assert_checks(&config);
}

fn corpus_opml(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/opml")
        .join(name)
}

/// A real export (Flym, via Feeder's test data): eleven feeds in four
/// folders, written with single quotes and `title` attributes only. Its
/// addresses are on the internet: import fetches none of them.
#[test]
fn import_adds_every_feed_of_a_real_export_with_its_folder_as_tag() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let opml = corpus_opml("Flym_auto_backup.opml");
    let opml = opml.to_str().unwrap();

    let output = run_kurator(&config, &["import", opml]);
    let stdout = succeeded(&output);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("added ")).count(),
        11,
        "{stdout}"
    );
    assert!(stdout.contains("11 added, 0 skipped"), "{stdout}");
    assert!(stdout.contains("systemctl reload kurator"), "{stdout}");
    let edited = std::fs::read_to_string(&config).unwrap();
    for block in [
        "[[source]]\nid = \"smbc-comics\"\ntitle = \"SMBC\"\nurl = \"http://www.smbc-comics.com/rss.php\"\ntags = [\"black-humor\"]\n",
        "[[source]]\nid = \"archlinux\"\ntitle = \"Arch news\"\nurl = \"https://www.archlinux.org/feeds/news/\"\ntags = [\"tech\"]\n",
        "[[source]]\nid = \"grisebouille\"\ntitle = \"Grisebouille\"\nurl = \"https://grisebouille.net/feed/\"\ntags = [\"political-humour\"]\n",
    ] {
        assert!(edited.contains(block), "{block} missing:\n{edited}");
    }
    // Two feeds on one host get two ids.
    assert!(
        edited.contains("id = \"sandraandwoo\"") && edited.contains("id = \"sandraandwoo-2\""),
        "{edited}"
    );
    assert!(edited.starts_with("# Our sources, commented.") && edited.contains("# Topics follow."));
    assert_checks(&config);

    // Again: every address is configured now, nothing changes.
    let again = run_kurator(&config, &["import", opml]);
    let stdout = text(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("skipped ")).count(),
        11,
        "{stdout}"
    );
    assert!(stdout.contains("skipped http://www.smbc-comics.com/rss.php: source `smbc-comics` already has this address"), "{stdout}");
    assert!(stdout.contains("nothing to add (11 skipped)"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
}

/// A real RSS Guard export (via Feeder's test data): thirty feeds in five
/// folders named by `text`, with namespaced attributes and inline icons.
#[test]
fn import_reads_a_real_rss_guard_export() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let opml = corpus_opml("rssguard_1.opml");
    let output = run_kurator(&config, &["import", opml.to_str().unwrap()]);
    let stdout = succeeded(&output);
    assert!(stdout.contains("30 added, 0 skipped"), "{stdout}");
    let edited = std::fs::read_to_string(&config).unwrap();
    assert!(
        edited.contains("title = \"LinuxFr.org : les dépêches\"\nurl = \"http://linuxfr.org/news.atom\"\ntags = [\"actu-geek\"]\n"),
        "{edited}"
    );
    assert_checks(&config);
}

#[test]
fn import_skips_configured_and_repeated_addresses_and_reports_each() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let opml = dir.path().join("export.opml");
    std::fs::write(
        &opml,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Abos</title></head><body>
  <outline text="Kommunen"><outline text="Hessen">
    <outline type="rss" text="Rathaus" xmlUrl="http://127.0.0.1:9/rathaus.xml/"/>
    <outline type="rss" text="Darmstadt: Presse" xmlUrl="http://127.0.0.1:9/darmstadt.xml"/>
  </outline></outline>
  <outline type="rss" text="Noch einmal" xmlUrl="http://127.0.0.1:9/darmstadt.xml"/>
  <outline type="rss" text="Kaputt" xmlUrl="ftp://127.0.0.1/x"/>
</body></opml>"#,
    )
    .unwrap();
    let output = run_kurator(&config, &["import", opml.to_str().unwrap()]);
    let stdout = succeeded(&output);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "skipped http://127.0.0.1:9/rathaus.xml/: source `rathaus` already has this address"
    );
    assert_eq!(
        lines[1],
        "added   darmstadt-presse: http://127.0.0.1:9/darmstadt.xml (tags: kommunen, hessen)"
    );
    assert_eq!(
        lines[2],
        "skipped http://127.0.0.1:9/darmstadt.xml: listed twice in the file, added once as `darmstadt-presse`"
    );
    assert!(
        lines[3].starts_with("skipped `ftp://127.0.0.1/x` is not an http or https address"),
        "{stdout}"
    );
    assert!(stdout.contains("1 added, 3 skipped"), "{stdout}");
    assert_checks(&config);

    // Not OPML: refused, the config untouched.
    let before = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&opml, "<rss version=\"2.0\"><channel/></rss>").unwrap();
    let output = run_kurator(&config, &["import", opml.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("not an OPML document"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[test]
fn remove_takes_out_one_source_and_keeps_the_rest_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    let original = format!(
        "{CONFIG}\n# Pages without a feed.\n[[source]]\nid = \"seite\"\nurl = \"http://127.0.0.1:9/presse/\"\nkind = \"html\"\n[source.select]\nitem = \"li\"\ntitle = \"a\"\nlink = \"a@href\"\n\n# The end.\n"
    );
    std::fs::write(&config, &original).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();

    let output = run_kurator(&config, &["remove", "rathaus"]);
    let stdout = succeeded(&output);
    assert!(
        stdout.contains("removed source `rathaus` (Rathaus, http://127.0.0.1:9/rathaus.xml)"),
        "{stdout}"
    );
    assert!(stdout.contains("stored items stay"), "{stdout}");
    assert!(stdout.contains("systemctl reload kurator"), "{stdout}");
    let edited = std::fs::read_to_string(&config).unwrap();
    let block = "# The press office's feed.\n[[source]]\nid = \"rathaus\"\ntitle = \"Rathaus\"\nurl = \"http://127.0.0.1:9/rathaus.xml\"\ntags = [\"stadt\"]\n\n";
    assert_eq!(edited, original.replacen(block, "", 1), "{edited}");
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_checks(&config);

    // A source with selectors goes with its [source.select] and its comment.
    let output = run_kurator(&config, &["remove", "seite"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let edited = std::fs::read_to_string(&config).unwrap();
    assert!(
        !edited.contains("[source.select]") && !edited.contains("Pages without"),
        "{edited}"
    );
    assert!(
        edited.contains("# Topics follow.") && edited.ends_with("\n# The end.\n"),
        "{edited}"
    );
    assert_checks(&config);

    // An unknown id: refused, naming the ids there are.
    let output = run_kurator(&config, &["remove", "rathaus"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no source `rathaus`; the sources are: none"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
}
