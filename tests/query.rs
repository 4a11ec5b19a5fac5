//! `kurator query`: rules select exactly the right stored items.

mod support;

use std::path::Path;

use support::run_kurator;

const PRESSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Stadt Musterhausen</title>
<item><title>Neues Bürgerservice-Portal online</title><link>https://www.musterhausen.de/p/1</link><guid>p1</guid>
<description>Die Stadtverwaltung startet ihr Online-Portal.</description><category>Verwaltung</category>
<pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate></item>
<item><title>Musterhausen wird Smart City</title><link>https://www.musterhausen.de/p/2</link><guid>p2</guid>
<description>Sensoren messen die Luftqualität in der Innenstadt.</description><category>Smart City</category>
<pubDate>Tue, 14 Apr 2026 10:00:00 +0200</pubDate></item>
<item><title>Gemeinderat beschließt Haushalt</title><link>https://www.musterhausen.de/p/3</link><guid>p3</guid>
<description>Der Stadtrat stimmt dem Etat zu.</description>
<pubDate>Wed, 15 Apr 2026 10:00:00 +0200</pubDate></item>
<item><title>Straßenfest in der Altstadt</title><link>https://www.musterhausen.de/p/4</link><guid>p4</guid>
<description>Buergerinnen und Buerger feiern.</description>
<pubDate>Thu, 16 Apr 2026 10:00:00 +0200</pubDate></item>
</channel></rss>"#;

fn kurator(config: &Path, args: &[&str]) -> (i32, String, String) {
    let output = run_kurator(config, args);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn titles(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split("  ").nth(2).unwrap_or(""))
        .collect()
}

#[test]
fn rules_select_exactly_the_right_items() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("presse.xml");
    std::fs::write(&feed, PRESSE).unwrap();
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        format!(
            "[[source]]\nid = \"musterhausen\"\nurl = \"file://{}\"\ntags = [\"kommune\"]\n\n\
             [[topic]]\nslug = \"smart-city\"\nmatch = '\"smart city\" OR sensor*'\n",
            feed.display()
        ),
    )
    .unwrap();
    let (code, stdout, _) = kurator(&config, &["fetch"]);
    assert_eq!(code, 0, "{stdout}");

    let cases: [(&str, &[&str]); 10] = [
        ("bürgerservice*", &["Neues Bürgerservice-Portal online"]),
        ("BUERGERSERVICE", &["Neues Bürgerservice-Portal online"]),
        (
            "bürger*",
            &[
                "Straßenfest in der Altstadt",
                "Neues Bürgerservice-Portal online",
            ],
        ),
        ("strassenfest", &["Straßenfest in der Altstadt"]),
        ("stadt", &[]),
        ("\"smart city\"", &["Musterhausen wird Smart City"]),
        (
            "title:stadtrat OR summary:stadtrat",
            &["Gemeinderat beschließt Haushalt"],
        ),
        (
            "category:verwaltung",
            &["Neues Bürgerservice-Portal online"],
        ),
        ("tag:smart-city", &["Musterhausen wird Smart City"]),
        (
            "tag:kommune -gemeinderat -bürger*",
            &["Musterhausen wird Smart City"],
        ),
    ];
    for (rule, expected) in cases {
        let (code, stdout, stderr) = kurator(&config, &["query", rule]);
        assert_eq!(code, 0, "{rule}: {stderr}");
        assert_eq!(titles(&stdout), expected, "{rule}:\n{stdout}");
    }

    let (_, stdout, _) = kurator(
        &config,
        &["query", "musterhausen OR stadt*", "--limit", "1"],
    );
    assert_eq!(titles(&stdout).len(), 1);
}

#[test]
fn bad_rules_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    std::fs::write(&config, "").unwrap();
    let (code, _, stderr) = kurator(&config, &["query", "digital AND (stadt OR"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("error in the rule at column 22"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  digital AND (stadt OR\n                       ^ expected a word"),
        "{stderr}"
    );
}

#[test]
fn deeply_nested_rules_are_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    std::fs::write(&config, "").unwrap();
    let rule = "(".repeat(10_000) + "a";
    let (code, _, stderr) = kurator(&config, &["query", &rule]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("error in the rule at column 33"),
        "{}",
        &stderr[..stderr.len().min(500)]
    );
    let caret = format!(
        "\n  {}^ the rule nests ( and NOT more than 32 deep",
        " ".repeat(32)
    );
    assert!(
        stderr.contains(&caret),
        "{}",
        &stderr[..stderr.len().min(500)]
    );
}

fn topic_members(db: &Path, topic: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT items.title FROM item_topics JOIN items ON items.id = item_topics.item_id
             WHERE item_topics.topic = ?1 ORDER BY items.published",
        )
        .unwrap();
    statement
        .query_map([topic], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn tags_are_stored_at_ingest_and_recomputed_by_retag() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("presse.xml");
    std::fs::write(&feed, PRESSE).unwrap();
    let config = dir.path().join("feeds.toml");
    let db = dir.path().join("kurator.db");
    let write_config = |rule: &str| {
        std::fs::write(
            &config,
            format!(
                "[[source]]\nid = \"musterhausen\"\nurl = \"file://{}\"\ntags = [\"kommune\"]\n\n\
                 [[topic]]\nslug = \"politik\"\nmatch = '{rule}'\n\
                 [[topic]]\nslug = \"kommunalpolitik\"\nmatch = 'tag:politik AND tag:kommune'\n",
                feed.display()
            ),
        )
        .unwrap();
    };
    write_config("gemeinderat OR stadtrat");
    let (code, stdout, _) = kurator(&config, &["fetch"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        topic_members(&db, "politik"),
        ["Gemeinderat beschließt Haushalt"]
    );
    assert_eq!(
        topic_members(&db, "kommunalpolitik"),
        ["Gemeinderat beschließt Haushalt"]
    );

    // A changed rule takes effect on stored items with retag.
    write_config("gemeinderat OR stadtrat OR bürger*");
    let (code, stdout, _) = kurator(&config, &["retag"]);
    assert_eq!(code, 0);
    assert_eq!(stdout.trim(), "retagged 4 item(s): topics changed on 2");
    assert_eq!(
        topic_members(&db, "politik"),
        [
            "Neues Bürgerservice-Portal online",
            "Gemeinderat beschließt Haushalt",
            "Straßenfest in der Altstadt"
        ]
    );
    let (_, again, _) = kurator(&config, &["retag"]);
    assert_eq!(
        again.trim(),
        "retagged 4 item(s): topics changed on 0",
        "retag is idempotent"
    );

    // explain by link (with tracking parameters, which canonicalization removes) and by number.
    let (code, stdout, stderr) = kurator(
        &config,
        &["explain", "https://www.musterhausen.de/p/3?utm_source=x"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("item 3  Gemeinderat beschließt Haushalt"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ politik: matches; hits: gemeinderat in title, stadtrat in summary"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ kommunalpolitik: matches; hits: politik in tag, kommune in tag"),
        "{stdout}"
    );
    let (_, stdout, _) = kurator(&config, &["explain", "2"]);
    assert!(
        stdout.contains("✗ politik: no term of the rule occurs in the item"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "✗ kommunalpolitik: hits: kommune in tag, but the rule as a whole does not match"
        ),
        "{stdout}"
    );
    let (code, _, stderr) = kurator(&config, &["explain", "999"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no stored item has the id or link `999`"),
        "{stderr}"
    );
}
