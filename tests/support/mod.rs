#![allow(dead_code)]

pub mod http;
pub mod labelled;
pub mod process;
pub mod server;

use std::path::Path;
use std::sync::OnceLock;

use kurator::config::Config;
use kurator::rules::TopicSet;

/// The topics of the shipped `feeds.toml`, so pipeline tests tag as production does.
pub fn shipped_topics() -> &'static TopicSet {
    static TOPICS: OnceLock<TopicSet> = OnceLock::new();
    TOPICS.get_or_init(|| {
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml"))
            .expect("the shipped feeds.toml is valid")
            .topics
    })
}

/// Runs the `kurator` binary with `-c config` and `args`.
pub fn run_kurator(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kurator"))
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .expect("the kurator binary runs")
}

/// Parses (sanitized) HTML the way a browser would and names the first thing
/// in it that could run code: an active element, an event handler, a style
/// attribute or a script URL.
pub fn dangerous_markup(html: &str) -> Option<String> {
    let fragment = scraper::Html::parse_fragment(html);
    for node in fragment.tree.nodes() {
        let Some(element) = node.value().as_element() else {
            continue;
        };
        if matches!(
            element.name(),
            "script"
                | "style"
                | "iframe"
                | "object"
                | "embed"
                | "applet"
                | "meta"
                | "link"
                | "form"
                | "frame"
                | "frameset"
        ) {
            return Some(format!("<{}>", element.name()));
        }
        for (name, value) in element.attrs() {
            let value = value.trim().to_ascii_lowercase();
            if name.starts_with("on")
                || name == "style"
                || value.starts_with("javascript:")
                || value.starts_with("vbscript:")
                || value.starts_with("data:text/html")
            {
                return Some(format!("{name}=\"{value}\""));
            }
        }
    }
    None
}

/// Validates an Atom file against the RFC 4287 RELAX NG schema with xmllint.
pub fn validate_atom(path: &Path) -> Result<(), String> {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/schemas/atom.rng");
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--relaxng")
        .arg(&schema)
        .arg(path)
        .output()
        .expect("xmllint is needed for this test: apt-get install libxml2-utils");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Python's feedparser on a feed file: `bozo`, the entry count, the version,
/// then the first entry's id and title, on one line.
pub fn feedparser_summary(path: &Path) -> String {
    let script = "import sys, feedparser\n\
                  d = feedparser.parse(open(sys.argv[1], 'rb').read())\n\
                  print(d.bozo, len(d.entries), d.version, d.entries[0].id if d.entries else '', d.entries[0].title if d.entries else '')\n";
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("python3 is needed for this test");
    assert!(
        output.status.success(),
        "feedparser is needed for this test (pip install feedparser): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
