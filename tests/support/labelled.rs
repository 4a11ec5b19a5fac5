//! The labelled story sets of `tests/dedup/` (their README says more): each
//! `[[story]]` one event, its `[[story.report]]`s the reports of it.

use std::path::Path;

use serde::Deserialize;

#[derive(Deserialize)]
pub struct StorySet {
    pub story: Vec<Story>,
}

#[derive(Deserialize)]
pub struct Story {
    pub id: String,
    /// Stories of one group are hard negatives of each other.
    pub group: Option<String>,
    pub report: Vec<Report>,
}

#[derive(Deserialize)]
pub struct Report {
    pub source: String,
    pub title: String,
    pub summary: String,
    pub published: String,
    /// Where the report was published (`real.toml`: its provenance).
    #[serde(default)]
    pub link: String,
    /// Kept for provenance but not measured (`real.toml`: a report whose
    /// stored page did not show its headline).
    #[serde(default)]
    pub skip: bool,
}

/// Reads `tests/dedup/NAME`.
pub fn read(name: &str) -> StorySet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/dedup")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    toml::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}
