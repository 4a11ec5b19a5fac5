//! `kurator prune`: deletes items older than `[storage] keep_days` (the
//! daemon does the same once a day).

use std::process::ExitCode;

use super::{EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::resolve_db_path;
use kurator::store::Store;
use kurator::time::{format_time, unix_now};

pub fn run(options: &GlobalOptions, dry_run: bool) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(keep) = config.storage.keep else {
        println!("keep_days = 0: items are kept forever; nothing to prune");
        return ExitCode::SUCCESS;
    };
    let db_path = resolve_db_path(&config, options.db.as_deref());
    // A dry run only reads: it neither creates nor migrates the database.
    let opened = if dry_run {
        Store::open_reader(&db_path)
    } else {
        Store::open(&db_path)
    };
    let mut store = match opened {
        Ok(store) => store,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let now = unix_now();
    let cutoff = now.saturating_sub(kurator::time::duration_secs(keep));
    let days = keep.as_secs() / 86_400;
    let result = if dry_run {
        store.count_older_than(cutoff).map(|count| {
            println!(
                "would prune {count} item(s) published before {} (keep_days = {days})",
                format_time(cutoff)
            )
        })
    } else {
        store.prune(cutoff, now).map(|pruned| {
            println!(
                "pruned {} item(s) published before {} (keep_days = {days})",
                pruned.items,
                format_time(cutoff)
            )
        })
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
