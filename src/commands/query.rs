//! `kurator query`: stored items that match a rule, newest first; changes nothing.
//! A dry run for a new topic before it goes into `feeds.toml`.

use std::io::Write;
use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::resolve_db_path;
use kurator::feeds;
use kurator::render::{Format, render};
use kurator::rules::Rule;
use kurator::store::Store;
use kurator::time::format_time;

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
            eprintln!("{}", err.report(rule_text));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let store = match Store::open_reader(&resolve_db_path(&config, options.db.as_deref())) {
        Ok(store) => store,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let mut out = std::io::stdout().lock();
    let unlimited = feeds::SearchBudget::unlimited();
    let result = feeds::search(
        &store,
        &config,
        &rule,
        limit,
        usize::MAX,
        &unlimited,
        |item| {
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
        },
    );
    let (matched, scanned) = match result {
        Ok(found) => found,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let found = matched.len();
    if format == QueryFormat::Json {
        let entries = match feeds::entries(&store, &config, matched, feeds::Shown::Found) {
            Ok(entries) => entries,
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::from(EXIT_FAILED);
            }
        };
        let info = feeds::search_info(&config, rule_text, Format::Json);
        let _ = out.write_all(&render(Format::Json, &info, &entries));
    }
    eprintln!("{found} matching item(s); {scanned} stored item(s) scanned, newest first");
    ExitCode::SUCCESS
}
