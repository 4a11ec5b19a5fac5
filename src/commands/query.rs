//! `kurator query`: stored items that match a rule, newest first; changes nothing.
//! A dry run for a new topic before it goes into `feeds.toml`.

use std::io::Write;
use std::process::ExitCode;

use super::render::entries;
use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use crate::config::resolve_db_path;
use crate::ingest::format_time;
use crate::render::{FeedInfo, Format, render};
use crate::rules::Rule;
use crate::store::Store;
use crate::tag::Tagger;

/// How `kurator query` prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryFormat {
    /// One line per item, for people.
    Text,
    /// A JSON Feed 1.1 document, like the server's search feed.
    Json,
}

pub fn run(
    options: &GlobalOptions,
    rule_text: &str,
    limit: usize,
    format: QueryFormat,
) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let rule = match Rule::parse(rule_text) {
        Ok(rule) => rule,
        Err(err) => {
            eprintln!(
                "error in the rule at column {}:\n  {}",
                err.column,
                err.caret(rule_text).replace('\n', "\n  ")
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let store = match Store::open(&resolve_db_path(&config, options.db.as_deref())) {
        Ok(store) => store,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let mut out = std::io::stdout().lock();
    let (mut scanned, mut matched) = (0usize, Vec::new());
    let result = store.scan_items(None, |item| {
        scanned += 1;
        let tagger = Tagger::for_source(&config, &item.source_id);
        // Topics first, so the rule can use their slugs with tag:.
        let mut doc = tagger.document((&item).into());
        config.topics.tag(&mut doc);
        if rule.matches(&doc) {
            if format == QueryFormat::Text {
                let date = format_time(item.published);
                let _ = writeln!(
                    out,
                    "{}  {}  {}",
                    &date[..16].replace('T', " "),
                    item.source_id,
                    item.title
                );
                let number = format!("#{}", item.id);
                let _ = writeln!(
                    out,
                    "{number:>16}  {}",
                    item.link.as_deref().unwrap_or("(no link)")
                );
            }
            matched.push(item);
        }
        matched.len() < limit
    });
    if let Err(err) = result {
        eprintln!("{err}");
        return ExitCode::from(EXIT_FAILED);
    }
    let found = matched.len();
    if format == QueryFormat::Json {
        let entries = match entries(&store, &config, matched) {
            Ok(entries) => entries,
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::from(EXIT_FAILED);
            }
        };
        let mut self_url = config
            .server
            .base_url
            .join("search.json")
            .expect("a fixed path");
        self_url.query_pairs_mut().append_pair("q", rule_text);
        let info = FeedInfo {
            title: format!("Kurator: {rule_text}"),
            description: format!("Items matching {rule_text}"),
            id: self_url.to_string(),
            self_url: self_url.to_string(),
            home_url: config.server.base_url.to_string(),
        };
        let _ = out.write_all(&render(Format::Json, &info, &entries));
    }
    eprintln!("{found} matching item(s); {scanned} stored item(s) scanned, newest first");
    ExitCode::SUCCESS
}
