//! `kurator retag`: recomputes every stored item's topics after rules or
//! source tags changed. Works in pages, one transaction each, so it can run on a big
//! database without holding the write lock for long.

use std::process::ExitCode;

use super::{EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::resolve_db_path;
use kurator::ingest::retag_page;
use kurator::store::{Store, StoreError};

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
    config: &kurator::config::Config,
) -> Result<(usize, usize), StoreError> {
    let (mut seen, mut changed, mut after) = (0, 0, 0);
    while let Some(page) = retag_page(store, config, after)? {
        after = page.last_id;
        seen += page.seen;
        changed += page.changed;
    }
    Ok((seen, changed))
}
