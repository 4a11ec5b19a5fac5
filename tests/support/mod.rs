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
