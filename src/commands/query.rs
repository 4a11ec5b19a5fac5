//! `kurator query`: stored items that match a rule, newest first; changes nothing.
//! A dry run for a new topic before it goes into `feeds.toml`.

use std::io::Write;
use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use crate::config::resolve_db_path;
use crate::ingest::format_time;
use crate::rules::Rule;
use crate::store::Store;
use crate::tag::Tagger;

pub fn run(options: &GlobalOptions, rule_text: &str, limit: usize) -> ExitCode {
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
    let (mut scanned, mut found) = (0usize, 0usize);
    let result = store.scan_items(None, |item| {
        scanned += 1;
        let tagger = Tagger::for_source(&config, &item.source_id);
        // Topics first, so the rule can use their slugs with tag:.
        let mut doc = tagger.document((&item).into());
        config.topics.tag(&mut doc);
        if rule.matches(&doc) {
            found += 1;
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
        found < limit
    });
    if let Err(err) = result {
        eprintln!("{err}");
        return ExitCode::from(EXIT_FAILED);
    }
    eprintln!("{found} matching item(s); {scanned} stored item(s) scanned, newest first");
    ExitCode::SUCCESS
}
