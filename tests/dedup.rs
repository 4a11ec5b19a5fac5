//! One story, one entry: sources on loopback report the same stories under
//! other titles, with tracking parameters on shared links and with links to
//! each other; same-topic items about different events stay apart; and a
//! source that reports a story later joins its entry without changing ids.

mod support;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use support::run_kurator;
use support::server::{Behaviour, TestServer};

fn rfc822_hours_ago(hours: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(now - hours * 3600))
        .replace("GMT", "+0000")
}

struct Report<'a> {
    guid: &'a str,
    title: &'a str,
    link: &'a str,
    summary: &'a str,
    hours_ago: u64,
}

fn rss(title: &str, reports: &[Report<'_>]) -> String {
    let mut items = String::new();
    for r in reports {
        items.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{}</guid><title>{}</title><link>{}</link>\
             <description><![CDATA[{}]]></description><pubDate>{}</pubDate></item>",
            r.guid,
            r.title,
            r.link.replace('&', "&amp;"),
            r.summary,
            rfc822_hours_ago(r.hours_ago)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>{title}</title>\
         <link>https://example.org/</link><description>d</description>{items}</channel></rss>"
    )
}

const STADT: &[Report<'static>] = &[
    Report {
        guid: "stadt-1",
        title: "Glasfaserausbau in Eberstadt startet",
        link: "https://www.darmstadt.de/nachrichten/glasfaser-eberstadt?utm_source=rss&utm_medium=feed",
        summary: "Die Wissenschaftsstadt Darmstadt und die Entega starten im März den Glasfaserausbau \
                  in Eberstadt. Rund 4.200 Haushalte erhalten bis Ende 2026 einen Anschluss; die Stadt \
                  investiert 2,5 Millionen Euro. Oberbürgermeister Hanno Benz: „Schnelles Internet ist \
                  Daseinsvorsorge.“",
        hours_ago: 30,
    },
    Report {
        guid: "stadt-2",
        title: "Digitale Bauakte: Bauanträge ab sofort online",
        link: "https://www.darmstadt.de/nachrichten/digitale-bauakte",
        summary: "Bauanträge können in Darmstadt ab sofort vollständig digital über das Bürgerportal \
                  eingereicht werden. Die Bauaufsicht führt dazu die digitale Bauakte ein.",
        hours_ago: 28,
    },
    Report {
        guid: "stadt-3",
        title: "Sperrung der Heinrichstraße wegen Kanalarbeiten",
        link: "https://www.darmstadt.de/nachrichten/sperrung-heinrichstrasse",
        summary: "Die Heinrichstraße wird zwischen Karlstraße und Hermannstraße vom 3. bis 14. März \
                  wegen Kanalarbeiten voll gesperrt. Eine Umleitung ist ausgeschildert.",
        hours_ago: 26,
    },
];

const KOMMUNE21: &[Report<'static>] = &[
    Report {
        guid: "k21-1",
        title: "Darmstadt: Eberstadt bekommt Glasfaser",
        link: "https://www.kommune21.de/meldung_41234_eberstadt-glasfaser.html",
        summary: "In Eberstadt beginnt der Glasfaserausbau: Rund 4.200 Haushalte des Darmstädter \
                  Stadtteils sollen bis Ende 2026 angeschlossen werden. Die Stadt stellt dafür \
                  2,5 Mio. Euro bereit, gebaut wird gemeinsam mit Entega.",
        hours_ago: 20,
    },
    // The same article as the city's, reached through a tracking link.
    Report {
        guid: "k21-2",
        title: "Bauanträge in Darmstadt jetzt digital",
        link: "https://www.darmstadt.de/nachrichten/digitale-bauakte?utm_campaign=k21&fbclid=abc",
        summary: "Kurz gemeldet: Die Stadt Darmstadt nimmt Bauanträge jetzt digital entgegen.",
        hours_ago: 19,
    },
];

const ECHO: &[Report<'static>] = &[
    Report {
        guid: "echo-1",
        title: "Schnelles Netz für Eberstadt",
        link: "https://www.echo-online.de/lokales/darmstadt/schnelles-netz-fuer-eberstadt-1234",
        summary: "Die Bagger rollen: Entega verlegt in Eberstadt Glasfaser für rund 4.200 Haushalte, \
                  die Stadt Darmstadt gibt 2,5 Millionen Euro dazu. Fertig sein soll der Ausbau Ende 2026.",
        hours_ago: 10,
    },
    // Links to the city's press release: the same story, in other words.
    Report {
        guid: "echo-2",
        title: "Kanalbau: Vollsperrung in der Innenstadt",
        link: "https://www.echo-online.de/lokales/darmstadt/kanalbau-vollsperrung-5678",
        summary: "Autofahrer müssen ab Montag umplanen, wie die Stadt <a href=\"https://www.darmstadt.de/nachrichten/sperrung-heinrichstrasse\">mitteilt</a>.",
        hours_ago: 9,
    },
    // Same topic and headline pattern, a different street and time: another event.
    Report {
        guid: "echo-3",
        title: "Sperrung der Frankfurter Straße wegen Kanalarbeiten",
        link: "https://www.echo-online.de/lokales/darmstadt/sperrung-frankfurter-strasse-9012",
        summary: "Die Frankfurter Straße wird zwischen Pallaswiesenstraße und Kasinostraße vom \
                  21. April bis 9. Mai wegen Kanalarbeiten gesperrt. Busse fahren eine Umleitung.",
        hours_ago: 8,
    },
];

/// The three sources' feeds on one loopback server.
fn serve_sources() -> TestServer {
    let server = TestServer::start();
    for (path, title, reports) in [
        ("/stadt.xml", "Stadt", STADT),
        ("/kommune21.xml", "Kommune21", KOMMUNE21),
        ("/echo.xml", "Echo", ECHO),
    ] {
        server.route(
            path,
            Behaviour::ok("application/rss+xml", rss(title, reports)),
        );
    }
    server
}

fn write_config(dir: &Path, server: &TestServer, with_echo: bool) -> PathBuf {
    let mut text = format!(
        "[storage]\npath = \"kurator.db\"\n[fetch]\nhost_delay = \"0s\"\n\
         [[topic]]\nslug = \"digitalisierung\"\ntitle = \"Digitalisierung\"\nmatch = 'glasfaser* OR bauakte OR digital*'\n\
         [[topic]]\nslug = \"verkehr\"\ntitle = \"Verkehr\"\nmatch = 'sperrung* OR kanal*'\n\
         [[source]]\nid = \"stadt\"\ntitle = \"Stadt Darmstadt\"\nurl = \"{}\"\npriority = 10\n\
         [[source]]\nid = \"kommune21\"\ntitle = \"Kommune21\"\nurl = \"{}\"\n",
        server.url("/stadt.xml"),
        server.url("/kommune21.xml"),
    );
    if with_echo {
        text.push_str(&format!(
            "[[source]]\nid = \"echo\"\ntitle = \"Darmstädter Echo\"\nurl = \"{}\"\n",
            server.url("/echo.xml")
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn render(config: &Path, topic: &str, format: &str) -> String {
    let output = run_kurator(config, &["render", topic, "--format", format]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// What `kurator explain ITEM` prints (it must succeed).
fn explain(config: &Path, item: &str) -> String {
    let output = run_kurator(config, &["explain", item]);
    let explained = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{explained}");
    explained
}

/// (id, title, related links) of each Atom entry.
fn atom_entries(atom: &str) -> Vec<(String, String, Vec<String>)> {
    atom.split("<entry>")
        .skip(1)
        .map(|entry| {
            let between = |open: &str, close: &str| {
                let start = entry.find(open).unwrap() + open.len();
                let end = start + entry[start..].find(close).unwrap();
                entry[start..end].to_owned()
            };
            let related = entry
                .split("<link rel=\"related\"")
                .skip(1)
                .map(|link| {
                    let start = link.find("href=\"").unwrap() + 6;
                    let end = start + link[start..].find('"').unwrap();
                    link[start..end].to_owned()
                })
                .collect();
            (
                between("<id>", "</id>"),
                between("<title type=\"text\">", "</title>"),
                related,
            )
        })
        .collect()
}

#[test]
fn each_story_appears_once_with_its_other_sources_and_ids_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_sources();

    // First the city and Kommune21.
    let config = write_config(dir.path(), &server, false);
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let before = atom_entries(&render(&config, "digitalisierung", "atom"));
    assert_eq!(
        before.len(),
        2,
        "glasfaser and bauakte, each once: {before:#?}"
    );
    // The city has the higher priority: its titles represent the stories.
    let titles: Vec<&str> = before.iter().map(|e| e.1.as_str()).collect();
    assert!(
        titles.contains(&"Glasfaserausbau in Eberstadt startet"),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Digitale Bauakte: Bauanträge ab sofort online"),
        "{titles:?}"
    );
    for (_, title, related) in &before {
        assert_eq!(
            related.len(),
            1,
            "{title}: the other source is listed: {related:?}"
        );
    }

    // The Echo reports later.
    let config = write_config(dir.path(), &server, true);
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let digital = render(&config, "digitalisierung", "atom");
    let after = atom_entries(&digital);
    assert_eq!(
        after.len(),
        2,
        "no new entry for the Echo's report: {after:#?}"
    );
    for (id, title, _) in &before {
        assert!(
            after.iter().any(|(i, t, _)| i == id && t == title),
            "{title} kept its id {id}: {after:#?}"
        );
    }
    let glasfaser = after
        .iter()
        .find(|e| e.1 == "Glasfaserausbau in Eberstadt startet")
        .unwrap();
    assert_eq!(
        glasfaser.2.len(),
        2,
        "Kommune21 and the Echo: {:?}",
        glasfaser.2
    );
    assert!(
        digital.contains("Auch berichtet von: Kommune21"),
        "{digital}"
    );
    assert!(digital.contains("Darmstädter Echo"), "{digital}");

    // Traffic: the Echo's report that links to the city's release joins it;
    // the other street closure is another event.
    let verkehr = atom_entries(&render(&config, "verkehr", "atom"));
    assert_eq!(verkehr.len(), 2, "{verkehr:#?}");
    let heinrich = verkehr
        .iter()
        .find(|e| e.1 == "Sperrung der Heinrichstraße wegen Kanalarbeiten")
        .unwrap();
    assert_eq!(
        heinrich.2,
        vec!["https://www.echo-online.de/lokales/darmstadt/kanalbau-vollsperrung-5678"]
    );
    let frankfurter = verkehr
        .iter()
        .find(|e| e.1 == "Sperrung der Frankfurter Straße wegen Kanalarbeiten")
        .unwrap();
    assert!(frankfurter.2.is_empty(), "{frankfurter:?}");

    // `all` shows every story once: glasfaser, bauakte, two closures.
    let all = atom_entries(&render(&config, "all", "atom"));
    assert_eq!(all.len(), 4, "{all:#?}");

    // JSON Feed lists the members in the extension.
    let json: serde_json::Value =
        serde_json::from_str(&render(&config, "digitalisierung", "json")).unwrap();
    let item = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Glasfaserausbau in Eberstadt startet")
        .unwrap();
    let members = item["_kurator"]["also_reported_by"].as_array().unwrap();
    let sources: Vec<&str> = members
        .iter()
        .map(|m| m["source"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(sources, vec!["kommune21", "echo"]);

    // The operator's view: the clusters, and one report's story.
    let output = run_kurator(&config, &["clusters"]);
    let listing = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{listing}");
    assert!(listing.contains("3 reports"), "{listing}");
    let entry = item["_kurator"]["uid"].as_str().unwrap();
    assert!(
        listing.contains(&format!("(entry {entry}): 3 reports")),
        "the story's entry id, as feeds show it: {listing}"
    );
    assert!(listing.contains("cites"), "{listing}");
    assert!(listing.contains("text 0."), "{listing}");
    assert!(
        listing.contains("3 stories with several reports"),
        "{listing}"
    );
    let explained = explain(&config, ECHO[0].link);
    assert!(explained.contains("story: cluster"), "{explained}");
    assert!(
        explained.contains("this item: joined by text, 0."),
        "{explained}"
    );
    assert!(
        explained.contains("Glasfaserausbau in Eberstadt startet"),
        "{explained}"
    );
    let explained = explain(&config, ECHO[2].link);
    assert!(explained.contains("story: alone"), "{explained}");

    // The Atom with related links is still valid RFC 4287.
    let atom_path = dir.path().join("digitalisierung.atom");
    std::fs::write(&atom_path, &digital).unwrap();
    support::validate_atom(&atom_path).unwrap();
}

#[test]
fn exact_mode_groups_only_the_same_link() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_sources();
    let config = write_config(dir.path(), &server, false);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[dedup]\nmode = \"exact\"\n");
    std::fs::write(&config, text).unwrap();
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let entries = atom_entries(&render(&config, "digitalisierung", "atom"));
    // Bauakte shares a link (once tracking is stripped); Glasfaser only text.
    assert_eq!(entries.len(), 3, "{entries:#?}");
}

/// A config with a citizen-services topic and `sources` (id, title, url).
fn citizen_services_config(dir: &Path, sources: &[(&str, &str, String)]) -> PathBuf {
    let mut text = String::from(
        "[storage]\npath = \"kurator.db\"\n[fetch]\nhost_delay = \"0s\"\n\
         [[topic]]\nslug = \"buergerservice\"\ntitle = \"Bürgerservice\"\nmatch = 'bürgerbüro*'\n",
    );
    for (id, title, url) in sources {
        text.push_str(&format!(
            "[[source]]\nid = \"{id}\"\ntitle = \"{title}\"\nurl = \"{url}\"\n"
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Serves one report per source (id, title, report), writes a
/// citizen-services config for them and fetches once.
fn serve_and_fetch<const N: usize>(
    dir: &Path,
    sources: [(&str, &str, Report<'_>); N],
) -> (TestServer, PathBuf) {
    let server = TestServer::start();
    let mut configured = Vec::new();
    for (id, title, report) in sources {
        let path = format!("/{id}.xml");
        server.route(
            &path,
            Behaviour::ok("application/rss+xml", rss(title, &[report])),
        );
        configured.push((id, title, server.url(&path)));
    }
    let config = citizen_services_config(dir, &configured);
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (server, config)
}

#[test]
fn the_same_notice_from_two_places_stays_two_stories() {
    // Two cities close their citizen offices on the same Friday: the notices
    // read alike, the places differ. A local paper rewrites one of them.
    let kassel = Report {
        guid: "ks-1",
        title: "Bürgerbüros am Freitag wegen Softwareumstellung geschlossen",
        link: "https://www.kassel.de/aktuelles/buergerbueros-geschlossen",
        summary: "Wegen der Umstellung auf ein neues Fachverfahren bleiben die Bürgerbüros der \
                  Stadt Kassel am Freitag, 23. Januar, ganztägig geschlossen. Bereits vereinbarte \
                  Termine werden verlegt.",
        hours_ago: 30,
    };
    let offenbach = Report {
        guid: "of-1",
        title: "Bürgerbüro am Freitag wegen Softwareumstellung geschlossen",
        link: "https://www.offenbach.de/aktuelles/buergerbuero-geschlossen",
        summary: "Wegen der Umstellung auf ein neues Fachverfahren bleibt das Bürgerbüro der \
                  Stadt Offenbach am Freitag, 23. Januar, ganztägig geschlossen. Bereits vereinbarte \
                  Termine werden verlegt.",
        hours_ago: 29,
    };
    let rewrite = Report {
        guid: "hna-1",
        title: "Neue Software: Kasseler Bürgerbüros einen Tag dicht",
        link: "https://www.hna.de/kassel/buergerbueros-dicht-123",
        summary: "Wer am Freitag einen Reisepass beantragen will, steht in Kassel vor verschlossenen \
                  Türen: Die Stadt stellt ihr Fachverfahren um, die Bürgerbüros bleiben zu. \
                  Gebuchte Termine werden verlegt.",
        hours_ago: 20,
    };
    let dir = tempfile::tempdir().unwrap();
    let (_server, config) = serve_and_fetch(
        dir.path(),
        [
            ("kassel", "Stadt Kassel", kassel),
            ("offenbach", "Stadt Offenbach", offenbach),
            ("hna", "HNA", rewrite),
        ],
    );
    let entries = atom_entries(&render(&config, "buergerservice", "atom"));
    assert_eq!(entries.len(), 2, "Kassel and Offenbach: {entries:#?}");
    let kassel_entry = entries
        .iter()
        .find(|e| e.1.starts_with("Bürgerbüros"))
        .unwrap();
    assert_eq!(
        kassel_entry.2,
        vec!["https://www.hna.de/kassel/buergerbueros-dicht-123"],
        "the HNA's rewrite joins Kassel's notice"
    );
    let offenbach_entry = entries
        .iter()
        .find(|e| e.1.starts_with("Bürgerbüro am"))
        .unwrap();
    assert!(offenbach_entry.2.is_empty(), "{offenbach_entry:?}");
    // The operator sees why: the nearest item names another place.
    let explained = explain(
        &config,
        "https://www.offenbach.de/aktuelles/buergerbuero-geschlossen",
    );
    assert!(explained.contains("story: alone"), "{explained}");
    assert!(explained.contains("places differ"), "{explained}");
}

#[test]
fn a_press_office_that_never_names_its_city_keeps_its_notices_apart() {
    // Two cities' press offices: earlier releases name the city; the next
    // day's notices do not, and read alike.
    let notice_title = "Bürgerbüro am Freitag geschlossen";
    let notice = "Wegen einer Softwareumstellung bleibt das Bürgerbüro am Freitag ganztägig \
                  geschlossen. Bereits vereinbarte Termine werden verlegt.";
    let server = TestServer::start();
    let serve = |with_notice: bool| {
        for (source, city) in [("kassel", "Kassel"), ("offenbach", "Offenbach")] {
            let earlier: Vec<(String, String, String)> = (0..5)
                .map(|n| {
                    (
                        format!("{source}-{n}"),
                        format!("{city}: Meldung {n} aus dem Rathaus, Vorgang {source}{n}"),
                        format!("https://www.{source}.de/aktuelles/meldung-{n}"),
                    )
                })
                .collect();
            let notice_link = format!("https://www.{source}.de/aktuelles/buergerbuero");
            let mut reports: Vec<Report<'_>> = earlier
                .iter()
                .map(|(guid, title, link)| Report {
                    guid,
                    title,
                    link,
                    summary: "Die Stadt informiert.",
                    hours_ago: 48,
                })
                .collect();
            if with_notice {
                reports.push(Report {
                    guid: "notice",
                    title: notice_title,
                    link: &notice_link,
                    summary: notice,
                    hours_ago: 5,
                });
            }
            server.route(
                &format!("/{source}.xml"),
                Behaviour::ok("application/rss+xml", rss(city, &reports)),
            );
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let config = citizen_services_config(
        dir.path(),
        &[
            ("kassel", "Stadt Kassel", server.url("/kassel.xml")),
            ("offenbach", "Stadt Offenbach", server.url("/offenbach.xml")),
        ],
    );
    let fetch = |args: &[&str]| {
        let output = run_kurator(&config, args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    serve(false);
    fetch(&["fetch"]);
    serve(true);
    fetch(&["fetch"]);
    let entries = atom_entries(&render(&config, "buergerservice", "atom"));
    assert_eq!(entries.len(), 2, "one notice per city: {entries:#?}");
    assert!(entries.iter().all(|e| e.2.is_empty()), "{entries:#?}");
}

#[test]
fn a_topic_feed_heads_a_story_with_a_report_in_that_topic() {
    // The city's release (the higher priority) is about the budget; the
    // trade press reports the same release for its broadband part. On the
    // digitalisation feed the story must not be headed by a budget headline.
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start();
    let city = [Report {
        guid: "haushalt-1",
        title: "Haushalt 2026: Stadt investiert 40 Millionen Euro in Schulen",
        link: "https://www.darmstadt.de/nachrichten/haushalt-2026",
        summary: "Die Stadtverordnetenversammlung hat den Haushalt 2026 beschlossen. \
                  Schwerpunkte sind Schulsanierungen und der Nahverkehr.",
        hours_ago: 20,
    }];
    let trade_press = [Report {
        guid: "k21-1",
        title: "Darmstadt bringt Glasfaser an alle Schulen",
        link: "https://www.kommune21.de/meldung_darmstadt-glasfaser-schulen",
        summary: "Mit dem <a href=\"https://www.darmstadt.de/nachrichten/haushalt-2026\">Haushalt 2026</a> \
                  schließt Darmstadt alle Schulen an das Glasfasernetz an.",
        hours_ago: 18,
    }];
    server.route(
        "/stadt.xml",
        Behaviour::ok("application/rss+xml", rss("Stadt", &city)),
    );
    server.route(
        "/kommune21.xml",
        Behaviour::ok("application/rss+xml", rss("Kommune21", &trade_press)),
    );
    let config = write_config(dir.path(), &server, false);
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let all = atom_entries(&render(&config, "all", "atom"));
    assert_eq!(all.len(), 1, "one story: {all:#?}");
    assert_eq!(
        all[0].1, "Haushalt 2026: Stadt investiert 40 Millionen Euro in Schulen",
        "the higher priority heads the story where any report may"
    );
    let digital = atom_entries(&render(&config, "digitalisierung", "atom"));
    assert_eq!(digital.len(), 1, "{digital:#?}");
    assert_eq!(
        digital[0].1, "Darmstadt bringt Glasfaser an alle Schulen",
        "the topic feed shows the report in the topic"
    );
    assert_eq!(digital[0].0, all[0].0, "one story, one id in every feed");
    assert_eq!(digital[0].2.len(), 1, "the other report is listed");
}

#[test]
fn a_landrat_and_a_mayor_in_two_states_stay_apart_and_explain_says_why() {
    // Issue 18's example: the same kind of first, in two states and two
    // offices. A report of the Landrat's election four days later is one
    // story with it, but scored lower (a follow-up is likelier then).
    let landrat = Report {
        guid: "bb-1",
        title: "Erster AfD-Landrat in Brandenburg gewählt",
        link: "https://bb.example/landrat-gewaehlt",
        summary: "Die AfD stellt erstmals einen Landrat in Brandenburg: Der Kandidat gewann die \
                  Stichwahl mit knapper Mehrheit, die Wahlbeteiligung lag bei 41 Prozent.",
        hours_ago: 100,
    };
    let mayor = Report {
        guid: "st-1",
        title: "Erster AfD-Bürgermeister in Sachsen-Anhalt gewählt",
        link: "https://st.example/buergermeister-gewaehlt",
        summary: "Die AfD stellt erstmals einen Bürgermeister in Sachsen-Anhalt: Der Kandidat \
                  gewann die Stichwahl mit knapper Mehrheit, die Wahlbeteiligung lag bei 41 Prozent.",
        hours_ago: 99,
    };
    let days_later = Report {
        guid: "wk-1",
        title: "Erster AfD-Landrat in Brandenburg gewählt: Stichwahl knapp gewonnen",
        link: "https://wochenblatt.example/landrat",
        summary: "Die AfD stellt erstmals einen Landrat in Brandenburg. Der Kandidat gewann die \
                  Stichwahl mit knapper Mehrheit bei 41 Prozent Wahlbeteiligung.",
        hours_ago: 2,
    };
    let dir = tempfile::tempdir().unwrap();
    let (_server, config) = serve_and_fetch(
        dir.path(),
        [
            ("bb", "BB", landrat),
            ("st", "ST", mayor),
            ("wk", "Wochenblatt", days_later),
        ],
    );
    let explained = explain(&config, "https://st.example/buergermeister-gewaehlt");
    assert!(explained.contains("story: alone"), "{explained}");
    assert!(
        explained.contains("states differ, offices differ"),
        "{explained}"
    );
    let explained = explain(&config, "https://wochenblatt.example/landrat");
    assert!(explained.contains("story: cluster"), "{explained}");
    assert!(explained.contains("published days apart"), "{explained}");
}
