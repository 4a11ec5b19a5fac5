//! `kurator remove ID`: takes a source's `[[source]]` block (with its
//! `[source.select]` and the comment right above it) out of the config
//! file; the rest of the file stays as it was. Its stored items stay in the
//! database until they are pruned by age.

use std::process::ExitCode;

use super::add::{RELOAD_REMINDER, read_text, write_checked};
use super::{EXIT_CONFIG, GlobalOptions, load_config};
use kurator::config::edit::{EditError, remove_source};

pub fn run(options: &GlobalOptions, id: &str) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let text = match read_text(&config) {
        Ok(text) => text,
        Err(code) => return code,
    };
    let (edited, removed) = match remove_source(&text, id) {
        Ok(done) => done,
        Err(EditError::NoSuchSource(_)) => {
            let ids: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
            eprintln!(
                "{}: no source `{id}`; the sources are: {}",
                config.path.display(),
                if ids.is_empty() {
                    "none".to_owned()
                } else {
                    ids.join(", ")
                }
            );
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(err) => {
            eprintln!("{}: {err}", config.path.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(code) = write_checked(&config, &edited) {
        return code;
    }
    let source = config.source(id);
    println!(
        "removed source `{id}` ({}, {}) from {}",
        removed.title.as_deref().unwrap_or(id),
        source.map_or_else(
            || removed.url.clone().unwrap_or_default(),
            |s| kurator::redact::Redacted(&s.url).to_string()
        ),
        config.path.display()
    );
    println!(
        "its stored items stay in the database until `kurator prune` (or the daemon's daily prune) removes them by age (`[storage] keep_days`)"
    );
    println!("{RELOAD_REMINDER}");
    ExitCode::SUCCESS
}
