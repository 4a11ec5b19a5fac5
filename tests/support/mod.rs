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
