//! `kurator preview` and `kurator fetch` agree: for every feed of the test
//! corpus's real feeds and of the fuzz seeds, for HTML sources read with
//! selectors and for a page that links to its feed, all served from
//! 127.0.0.1, the items preview lists as stored (title, link, id, in order)
//! are exactly the items a fetch stores, and a source preview cannot read
//! is one the fetch stores nothing from.

mod support;

use std::path::{Path, PathBuf};

use kurator::store::Store;
use support::run_kurator;
use support::server::{Behaviour, TestServer};

/// One item as stored, or as preview says it would be: title, link, id.
type Shown = (String, Option<String>, String);

/// The data files of the real feeds in the test corpus (`tests/corpus/`), and the fuzz
/// seeds. HTML pages are left out: they may link to feeds off this machine.
fn feed_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        root.join("tests/corpus/real"),
        root.join("tests/fuzz-seeds"),
    ] {
        collect(&dir, &mut files);
    }
    files.retain(|path| {
        let name = path.file_name().unwrap().to_string_lossy();
        !(name.starts_with("LICENSE")
            || name.starts_with("README")
            || name.ends_with(".md")
            || name.ends_with(".tsv")
            || name.ends_with(".html"))
    });
    files.sort();
    assert!(
        files.len() > 50,
        "the corpus is missing: only {} feed files found",
        files.len()
    );
    files
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/feed+json",
        Some("atom") => "application/atom+xml",
        Some("rss") => "application/rss+xml",
        _ => "application/xml",
    }
}

/// A news list with an item without a link, a link repeated with a tracking
/// parameter, and one whose title is markup-heavy.
const TEASERS: &str = r#"<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Presse</title></head><body>
<div class="news">
  <div class="item"><h2><a href="meldungen/kita.html">Neue  Kita in
      Arheilgen eröffnet</a></h2><span class="datum">5. März 2025</span>
      <p>Die Stadt eröffnet eine <strong>neue Kita</strong>.</p></div>
  <div class="item"><h2>Ohne Link</h2><span class="datum">4. März 2025</span></div>
  <div class="item"><h2><a href="/rathaus/presse/meldungen/kita.html?utm_source=liste">Kita (noch einmal)</a></h2></div>
  <div class="item"><h2><a href="/presse/meldungen/sperrung.html?utm_source=liste#oben">Sperrung der <em>Heinrichstraße</em></a></h2>
      <span class="datum">03.03.2025</span></div>
  <div class="item"><h2><a href="https://www.stadt.example/extern.html"></a></h2><p>Ein Bericht ohne Titel.</p></div>
</div></body></html>"#;

/// A page without a feed of its own that links to one on this server.
fn page_linking(feed: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html><head><title>Stadt</title>
        <link rel="alternate" type="application/rss+xml" title="Presse" href="{feed}">
        </head><body><h1>Willkommen</h1></body></html>"#
    )
}

/// The items `kurator preview` lists as stored: those shown with an id.
fn previewed(stdout: &str) -> Vec<Shown> {
    let mut shown = Vec::new();
    let mut current: Option<(String, Option<String>)> = None;
    for line in stdout.lines() {
        // `  1. Title`; the fields under it are indented further.
        let title = (!line.starts_with("     "))
            .then(|| line.trim_start().split_once(". "))
            .flatten()
            .filter(|(number, _)| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()));
        if let Some((_, title)) = title {
            current = Some((title.to_owned(), None));
        } else if let Some(link) = line.strip_prefix("     link: ") {
            if let Some((_, shown_link)) = &mut current {
                *shown_link = (link != "-").then(|| link.to_owned());
            }
        } else if let Some(id) = line.strip_prefix("     id: ")
            && let Some((title, link)) = current.take()
        {
            shown.push((title, link, id.to_owned()));
        }
    }
    shown
}

fn stored(db: &Path, source: &str) -> Vec<Shown> {
    let store = Store::open_reader(db).unwrap();
    let mut items = store.items_of_source(source).unwrap();
    // In the order the fetch read them.
    items.sort_by_key(|item| item.id);
    items
        .into_iter()
        .map(|item| (item.title, item.link, item.uid))
        .collect()
}

#[test]
fn preview_lists_exactly_what_fetch_stores_for_every_fixture() {
    let server = TestServer::start();
    let mut sources: Vec<(String, String)> = Vec::new();
    let mut config = String::from(
        "[storage]\npath = \"kurator.db\"\n# The fixtures' dates are years old: keep them.\nkeep_days = 0\n\
         [fetch]\nhost_delay = \"0s\"\n",
    );
    for (number, path) in feed_files().iter().enumerate() {
        let route = format!("/feed/{number}");
        server.route(
            &route,
            Behaviour::ok(content_type(path), std::fs::read(path).unwrap()),
        );
        let id = format!("feed-{number}");
        config.push_str(&format!(
            "\n[[source]]\nid = \"{id}\"\nurl = \"{}\"\n",
            server.url(&route)
        ));
        sources.push((id, path.display().to_string()));
    }
    // A page that links to a feed of the corpus (`kind = "auto"` follows it).
    server.route(
        "/stadt/",
        Behaviour::ok("text/html", page_linking("/feed/0")),
    );
    config.push_str(&format!(
        "\n[[source]]\nid = \"stadt\"\nurl = \"{}\"\n",
        server.url("/stadt/")
    ));
    sources.push(("stadt".into(), "a page linking to feed 0".into()));
    // Pages read with selectors: a news list, and a feed where a page was.
    server.route(
        "/rathaus/presse/",
        Behaviour::ok("text/html; charset=utf-8", TEASERS),
    );
    for (id, route) in [("rathaus", "/rathaus/presse/"), ("umgestellt", "/feed/0")] {
        config.push_str(&format!(
            "\n[[source]]\nid = \"{id}\"\nurl = \"{}\"\nkind = \"html\"\n[source.select]\n\
             item = \".news .item\"\ntitle = \"h2\"\nlink = \"h2 a@href\"\ndate = \".datum\"\nsummary = \"p\"\n",
            server.url(route)
        ));
        sources.push((id.into(), format!("an HTML source at {route}")));
    }
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("feeds.toml");
    std::fs::write(&config_path, config).unwrap();

    // Some fixtures are no feed at all: the fetch then fails for them only.
    let fetch = run_kurator(&config_path, &["fetch"]);
    let fetch_out = String::from_utf8_lossy(&fetch.stdout).into_owned();
    let db = dir.path().join("kurator.db");

    let previews: Vec<std::process::Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .chunks(sources.len().div_ceil(4))
            .map(|chunk| {
                let config_path = &config_path;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(id, _)| run_kurator(config_path, &["preview", id]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect()
    });

    let (mut agreed, mut unread, mut items) = (0, Vec::new(), 0);
    for ((id, what), preview) in sources.iter().zip(&previews) {
        let stdout = String::from_utf8_lossy(&preview.stdout);
        let stored = stored(&db, id);
        let fetched = fetch_out
            .lines()
            .find(|line| line.split_whitespace().next() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("no line for {id} in:\n{fetch_out}"));
        if !preview.status.success() {
            // What preview cannot read, a fetch cannot either.
            assert!(
                stored.is_empty() && fetched.contains("error:"),
                "{id} ({what}): preview failed ({}) but the fetch said {fetched:?} and stored {} items",
                String::from_utf8_lossy(&preview.stderr),
                stored.len()
            );
            unread.push(id.as_str());
            continue;
        }
        assert!(
            !fetched.contains("error:"),
            "{id} ({what}): preview read it but the fetch said {fetched:?}"
        );
        let shown = previewed(&stdout);
        let titles_and_links = |items: &[Shown]| -> Vec<(String, Option<String>)> {
            items
                .iter()
                .map(|(t, l, _)| (t.clone(), l.clone()))
                .collect()
        };
        assert_eq!(
            titles_and_links(&shown),
            titles_and_links(&stored),
            "{id} ({what}): preview's items (left) are not the stored ones (right); preview said:\n{stdout}"
        );
        assert_eq!(
            shown, stored,
            "{id} ({what}): the ids preview shows are not the stored ones"
        );
        agreed += 1;
        items += stored.len();
    }
    println!(
        "{agreed} sources agree on {items} items; {} unreadable by both: {unread:?}",
        unread.len()
    );
    assert!(
        agreed > 50 && items > 500,
        "{agreed} sources, {items} items"
    );
    assert!(!unread.is_empty(), "the hostile fixtures fail in both");
    for id in ["feed-0", "stadt", "rathaus", "umgestellt"] {
        assert!(!unread.contains(&id), "{id} is read");
    }
    // The page was followed to its feed: the feed's items, under the page's source.
    assert_eq!(stored(&db, "stadt").len(), stored(&db, "feed-0").len());

    // The HTML source lists every element, and says which are not stored.
    let rathaus = &previews[sources.iter().position(|(id, _)| id == "rathaus").unwrap()];
    let text = String::from_utf8_lossy(&rathaus.stdout);
    assert!(
        text.contains("3 of 5 items have a link and would be stored"),
        "{text}"
    );
    assert!(
        text.contains("not stored: an item above has the same link"),
        "{text}"
    );
}
