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
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
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
        stdout.contains("added source `stadt-beispiel-presse`"),
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
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
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
