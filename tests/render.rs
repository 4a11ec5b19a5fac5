//! `kurator render`: topic feeds in RSS, Atom and JSON Feed that parse
//! strictly, validate (Atom against the RFC 4287 RELAX NG schema), keep their
//! ids, and carry nothing dangerous.

mod support;

use std::path::{Path, PathBuf};

use support::{dangerous_markup, feedparser_summary, run_kurator, validate_atom};

const PRESSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Stadt Musterhausen</title>
<item><title>Gemeinderat beschließt Haushalt für 2027</title><link>https://www.musterhausen.de/p/1?utm_source=rss</link><guid>p1</guid>
<description><![CDATA[<p onclick="steal()">Der <b>Stadtrat</b> stimmt zu.<script>alert(1)</script> <a href="javascript:alert(2)">mehr</a> <iframe src="https://evil.example/"></iframe></p>]]></description>
<category>Politik</category><pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate></item>
<item><title>Smart City: Sensoren in der Königstraße</title><link>https://www.musterhausen.de/p/2</link><guid>p2</guid>
<description>Luftqualität &amp; Verkehr werden gemessen.</description><pubDate>Tue, 14 Apr 2026 10:00:00 +0200</pubDate></item>
<item><title>Straßenfest</title><link>https://www.musterhausen.de/p/3</link><guid>p3</guid>
<description>Musik und Essen.</description><pubDate>Wed, 15 Apr 2026 10:00:00 +0200</pubDate></item>
</channel></rss>"#;

struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("presse.xml");
    std::fs::write(&feed, PRESSE).unwrap();
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbase_url = \"https://feeds.example.de/\"\n\n\
             [[source]]\nid = \"musterhausen\"\ntitle = \"Stadt Musterhausen\"\nurl = \"file://{}\"\ntags = [\"kommune\"]\n\n\
             [[topic]]\nslug = \"politik\"\ntitle = \"Politik\"\ndescription = \"Kommunalpolitik\"\nmatch = 'gemeinderat OR stadtrat*'\n\n\
             [[topic]]\nslug = \"smart-city\"\ntitle = \"Smart City\"\nmatch = '\"smart city\" OR sensor*'\n",
            feed.display()
        ),
    )
    .unwrap();
    let setup = Setup { _dir: dir, config };
    let (code, out, err) = kurator(&setup.config, &["fetch"]);
    assert_eq!(code, 0, "{}{err}", String::from_utf8_lossy(&out));
    setup
}

fn kurator(config: &Path, args: &[&str]) -> (i32, Vec<u8>, String) {
    let output = run_kurator(config, args);
    (
        output.status.code().unwrap_or(-1),
        output.stdout,
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn render(setup: &Setup, topic: &str, format: &str) -> Vec<u8> {
    let (code, out, err) = kurator(&setup.config, &["render", topic, "--format", format]);
    assert_eq!(code, 0, "{err}");
    out
}

fn ids_and_titles(bytes: &[u8]) -> Vec<(String, String)> {
    let feed = feed_rs::parser::parse(bytes).expect("our own feed parses");
    feed.entries
        .into_iter()
        .map(|e| (e.id, e.title.map(|t| t.content).unwrap_or_default()))
        .collect()
}

#[test]
fn every_format_parses_with_the_right_entries() {
    let setup = setup();
    for format in ["rss", "atom", "json"] {
        let politik = ids_and_titles(&render(&setup, "politik", format));
        assert_eq!(politik.len(), 1, "{format}");
        assert_eq!(
            politik[0].1, "Gemeinderat beschließt Haushalt für 2027",
            "{format}"
        );
        assert!(
            politik[0].0.starts_with("urn:uuid:"),
            "{format}: {}",
            politik[0].0
        );
        let smart = ids_and_titles(&render(&setup, "smart-city", format));
        assert_eq!(smart.len(), 1, "{format}");
        let all = ids_and_titles(&render(&setup, "all", format));
        let titles: Vec<&str> = all.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Straßenfest",
                "Smart City: Sensoren in der Königstraße",
                "Gemeinderat beschließt Haushalt für 2027"
            ],
            "{format}: newest first"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&render(&setup, "politik", "json")).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(
        json["feed_url"],
        "https://feeds.example.de/feeds/politik.json"
    );
    assert_eq!(json["items"][0]["_kurator"]["source"]["id"], "musterhausen");
    assert_eq!(json["items"][0]["url"], "https://www.musterhausen.de/p/1");
    let tags: Vec<&str> = json["items"][0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags, ["kommune", "Politik", "politik"]);
    let rss = String::from_utf8(render(&setup, "politik", "rss")).unwrap();
    assert!(
        rss.contains(r#"<atom:link href="https://feeds.example.de/feeds/politik.rss" rel="self""#),
        "{rss}"
    );
    assert!(rss.contains(r#"<guid isPermaLink="false">urn:uuid:"#));
    assert!(rss.contains("<source url=\"file://"));
}

#[test]
fn atom_validates_against_the_rfc_4287_schema() {
    let setup = setup();
    for topic in ["politik", "smart-city", "all"] {
        let path = setup._dir.path().join(format!("{topic}.atom"));
        std::fs::write(&path, render(&setup, topic, "atom")).unwrap();
        if let Err(problem) = validate_atom(&path) {
            panic!("{topic}: {problem}");
        }
    }
}

#[test]
fn ids_never_change() {
    let setup = setup();
    let before = ["rss", "atom", "json"].map(|f| ids_and_titles(&render(&setup, "all", f)));
    // Another fetch, a forced one and a retag: the ids stay.
    kurator(&setup.config, &["fetch", "--force"]);
    kurator(&setup.config, &["retag"]);
    let after = ["rss", "atom", "json"].map(|f| ids_and_titles(&render(&setup, "all", f)));
    assert_eq!(before, after);
    // The same id in every format.
    assert_eq!(
        before[0].iter().map(|(id, _)| id).collect::<Vec<_>>(),
        before[1].iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
    assert_eq!(
        before[1].iter().map(|(id, _)| id).collect::<Vec<_>>(),
        before[2].iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
}

#[test]
fn hostile_markup_never_reaches_a_feed() {
    let setup = setup();
    for format in ["rss", "atom", "json"] {
        let text = String::from_utf8(render(&setup, "all", format))
            .unwrap()
            .to_ascii_lowercase();
        for banned in [
            "<script",
            "&lt;script",
            "\\u003cscript",
            "onclick",
            "javascript:",
            "<iframe",
            "&lt;iframe",
        ] {
            assert!(!text.contains(banned), "{format}: {banned} survived");
        }
        assert!(
            text.contains("stadtrat"),
            "{format}: the safe text survives"
        );
    }
}

#[test]
fn unknown_topics_list_the_valid_ones() {
    let setup = setup();
    let (code, _, err) = kurator(&setup.config, &["render", "sport", "--format", "rss"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no topic `sport`; valid: politik, smart-city, all"),
        "{err}"
    );
}

#[test]
fn items_of_a_removed_source_still_render_validly() {
    let setup = setup();
    std::fs::write(
        &setup.config,
        "[[topic]]\nslug = \"politik\"\nmatch = 'gemeinderat'\n",
    )
    .unwrap();
    let atom = render(&setup, "all", "atom");
    let path = setup._dir.path().join("orphans.atom");
    std::fs::write(&path, &atom).unwrap();
    if let Err(problem) = validate_atom(&path) {
        panic!("{problem}");
    }
    assert!(!String::from_utf8(atom).unwrap().contains("<source>"));
    assert_eq!(ids_and_titles(&render(&setup, "all", "rss")).len(), 3);
}

/// Python's feedparser reads our RSS and Atom without complaint (`bozo` is
/// false). Its released versions (6.x) do not read JSON Feed at all.
#[test]
fn python_feedparser_reads_rss_and_atom_cleanly() {
    let setup = setup();
    for format in ["rss", "atom"] {
        let path = setup._dir.path().join(format!("all.{format}"));
        std::fs::write(&path, render(&setup, "all", format)).unwrap();
        let stdout = feedparser_summary(&path);
        let expected_version = if format == "rss" { "rss20" } else { "atom10" };
        assert!(
            stdout.starts_with(&format!("False 3 {expected_version} urn:uuid:")),
            "{format}: {stdout}"
        );
        assert!(
            stdout.trim_end().ends_with("Straßenfest"),
            "{format}: {stdout}"
        );
    }
}

/// feedparser's sanitizer test files: script, iframe, on* handlers, applet,
/// embed, object, meta, style, comment tricks. Nothing dangerous may reach
/// any output format.
#[test]
fn xss_cases_from_the_corpus_leave_nothing_dangerous() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/feedparser/wellformed/sanitize");
    let mut config = String::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for (n, path) in files.iter().enumerate() {
        config.push_str(&format!(
            "[[source]]\nid = \"s{n}\"\nurl = \"file://{}\"\n",
            path.display()
        ));
    }
    assert!(files.len() > 50, "the sanitize corpus is missing");
    let config_path = dir.path().join("feeds.toml");
    std::fs::write(&config_path, config).unwrap();
    kurator(&config_path, &["fetch"]);
    let mut checked = 0;
    for format in ["rss", "atom", "json"] {
        let (code, bytes, err) = kurator(
            &config_path,
            &["render", "all", "--format", format, "--limit", "500"],
        );
        assert_eq!(code, 0, "{err}");
        let feed = feed_rs::parser::parse(&bytes[..]).expect("our feed parses");
        assert!(feed.entries.len() > 50, "{format}: {}", feed.entries.len());
        for entry in feed.entries {
            let bodies = [
                entry.summary.map(|s| s.content),
                entry.content.and_then(|c| c.body),
            ];
            for html in bodies.into_iter().flatten() {
                if let Some(problem) = dangerous_markup(&html) {
                    panic!("{format}: {problem} survived in {html}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} bodies checked");
}
