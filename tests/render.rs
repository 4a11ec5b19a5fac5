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
        let Some(stdout) = feedparser_summary(&path) else {
            return;
        };
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
    let corpus = support::test_data("corpus/feedparser/wellformed/sanitize");
    // Many of these files share a link: grouped, they would show as a few
    // entries; every item is checked on its own.
    let mut config = String::from("[dedup]\nmode = \"off\"\n");
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

/// One element of an XML document: its path from the root (`rss/channel/item`),
/// its attributes and its text (CDATA included).
struct Element {
    path: String,
    attributes: Vec<(String, String)>,
    text: String,
}

/// Every element of an XML document, in document order.
fn elements(bytes: &[u8]) -> Vec<Element> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut stack: Vec<usize> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut found: Vec<Element> = Vec::new();
    let mut buffer = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buffer).expect("well-formed");
        let mut open = |start: &quick_xml::events::BytesStart<'_>, path: &mut Vec<String>| {
            path.push(start.name().into_inner().to_owned());
            let attributes = start
                .attributes()
                .map(|a| {
                    let a = a.expect("a valid attribute");
                    (
                        a.key.into_inner().to_owned(),
                        quick_xml::escape::unescape(&a.value)
                            .expect("valid escapes")
                            .into_owned(),
                    )
                })
                .collect();
            found.push(Element {
                path: path.join("/"),
                attributes,
                text: String::new(),
            });
            found.len() - 1
        };
        match event {
            Event::Start(start) => stack.push(open(&start, &mut path)),
            Event::Empty(start) => {
                open(&start, &mut path);
                path.pop();
            }
            Event::End(_) => {
                stack.pop();
                path.pop();
            }
            Event::Text(text) => {
                if let Some(&at) = stack.last() {
                    found[at].text.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(&at) = stack.last() {
                    if let Ok(Some(c)) = reference.resolve_char_ref() {
                        found[at].text.push(c);
                        buffer.clear();
                        continue;
                    }
                    let name = reference.into_inner();
                    let character = match name.as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "?",
                    };
                    found[at].text.push_str(character);
                }
            }
            Event::CData(data) => {
                if let Some(&at) = stack.last() {
                    found[at].text.push_str(&data.into_inner());
                }
            }
            Event::Eof => return found,
            _ => {}
        }
        buffer.clear();
    }
}

impl Element {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The W3C feed validator's rules that apply to what we emit, checked
/// directly (the validator itself is a web service): required elements,
/// date formats, absolute links, a self link that names the feed, unique
/// ids, permalink-free guids, authors, and empty link elements.
#[test]
fn feeds_follow_the_w3c_validator_rules() {
    let setup = setup();
    let rfc822 = regex::Regex::new(
        r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$",
    )
    .unwrap();
    let rfc3339 =
        regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
            .unwrap();
    let padded_link = regex::Regex::new(r"<atom:link[^>]*>\s+</atom:link>").unwrap();
    let absolute = |url: &str| url.starts_with("https://") || url.starts_with("http://");
    for topic in ["politik", "smart-city", "all"] {
        // RSS 2.0
        let rss = render(&setup, topic, "rss");
        let text = String::from_utf8(rss.clone()).unwrap();
        assert!(
            !padded_link.is_match(&text),
            "{topic}: whitespace inside atom:link"
        );
        let all = elements(&rss);
        let one = |path: &str| -> Vec<&Element> { all.iter().filter(|e| e.path == path).collect() };
        for required in [
            "rss/channel/title",
            "rss/channel/link",
            "rss/channel/description",
        ] {
            let found = one(required);
            assert_eq!(found.len(), 1, "{topic}: {required}");
            assert!(
                !found[0].text.trim().is_empty(),
                "{topic}: {required} is empty"
            );
        }
        assert!(absolute(&one("rss/channel/link")[0].text));
        let self_links = one("rss/channel/atom:link");
        assert_eq!(self_links.len(), 1, "{topic}: one atom:link");
        assert_eq!(self_links[0].attribute("rel"), Some("self"));
        assert_eq!(
            self_links[0].attribute("href"),
            Some(format!("https://feeds.example.de/feeds/{topic}.rss").as_str())
        );
        assert_eq!(self_links[0].attribute("type"), Some("application/rss+xml"));
        for date in one("rss/channel/lastBuildDate")
            .into_iter()
            .chain(one("rss/channel/item/pubDate"))
        {
            assert!(
                rfc822.is_match(&date.text),
                "{topic}: RFC 822 date {:?}",
                date.text
            );
        }
        let items = one("rss/channel/item");
        assert!(!items.is_empty());
        let guids = one("rss/channel/item/guid");
        assert_eq!(guids.len(), items.len(), "{topic}: a guid per item");
        let mut seen = std::collections::HashSet::new();
        for guid in &guids {
            assert_eq!(guid.attribute("isPermaLink"), Some("false"));
            assert!(seen.insert(guid.text.clone()), "{topic}: duplicate guid");
        }
        assert_eq!(one("rss/channel/item/pubDate").len(), items.len());
        assert_eq!(one("rss/channel/item/title").len(), items.len());
        for link in one("rss/channel/item/link") {
            assert!(absolute(&link.text), "{topic}: item link {:?}", link.text);
        }
        for source in one("rss/channel/item/source") {
            assert!(source.attribute("url").is_some_and(|u| u.contains("://")));
        }

        // Atom 1.0 (beyond the schema)
        let atom = render(&setup, topic, "atom");
        let all = elements(&atom);
        let one = |path: &str| -> Vec<&Element> { all.iter().filter(|e| e.path == path).collect() };
        let self_link = one("feed/link")
            .into_iter()
            .find(|e| e.attribute("rel") == Some("self"))
            .expect("a self link");
        assert_eq!(
            self_link.attribute("href"),
            Some(format!("https://feeds.example.de/feeds/{topic}.atom").as_str())
        );
        for date in one("feed/updated")
            .into_iter()
            .chain(one("feed/entry/updated"))
            .chain(one("feed/entry/published"))
        {
            assert!(
                rfc3339.is_match(&date.text),
                "{topic}: RFC 3339 date {:?}",
                date.text
            );
        }
        let entries = one("feed/entry");
        let ids = one("feed/entry/id");
        assert_eq!(ids.len(), entries.len());
        let unique: std::collections::HashSet<&str> = ids.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(unique.len(), ids.len(), "{topic}: unique entry ids");
        assert!(ids.iter().all(|id| id.text.starts_with("urn:uuid:")));
        let authors = one("feed/entry/author/name");
        assert_eq!(authors.len(), entries.len(), "{topic}: an author per entry");
        assert!(authors.iter().all(|a| !a.text.trim().is_empty()));
        for link in one("feed/entry/link") {
            assert!(absolute(link.attribute("href").unwrap()));
        }
        for summary in one("feed/entry/summary") {
            assert!(!summary.text.trim().is_empty(), "{topic}: blank summary");
        }
    }
}
