#![allow(dead_code)]

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
