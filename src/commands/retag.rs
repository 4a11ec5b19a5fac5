//! `kurator retag`: recomputes every stored item's topics after rules or
//! source tags changed. Works in pages, one transaction each, so it can run on a big
//! database without holding the write lock for long.

use std::process::ExitCode;

use super::{EXIT_FAILED, GlobalOptions, load_config};
use crate::config::resolve_db_path;
use crate::store::{Store, StoreError};
use crate::tag::Tagger;

/// Items per transaction.
const PAGE: usize = 1000;

pub fn run(options: &GlobalOptions) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let result = Store::open(&resolve_db_path(&config, options.db.as_deref()))
        .and_then(|mut store| retag(&mut store, &config));
    match result {
        Ok((items, changed)) => {
            println!("retagged {items} item(s): topics changed on {changed}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Returns (items seen, items whose tags changed).
pub fn retag(
    store: &mut Store,
    config: &crate::config::Config,
) -> Result<(usize, usize), StoreError> {
    let (mut seen, mut changed, mut after) = (0, 0, 0);
    loop {
        let page = store.items_after(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let updates: Vec<_> = page
            .iter()
            .map(|item| {
                let tagger = Tagger::for_source(config, &item.source_id);
                (item.id, tagger.topics(item.into()))
            })
            .collect();
        seen += updates.len();
        changed += store.replace_topics(&updates, crate::ingest::unix_now())?;
    }
    Ok((seen, changed))
}
