//! `kurator split` and `kurator join`: an editor's corrections to stories.
//! They hold through restarts, retagging and pruning, and the daemon picks
//! them up while it runs (see `store::corrections`).

use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::resolve_db_path;
use kurator::store::{Refused, Store, StoreError, StoredItem};
use kurator::time::unix_now;

pub fn split(options: &GlobalOptions, wanted: &str) -> ExitCode {
    let mut store = match open(options) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let item = match find(&store, wanted) {
        Ok(item) => item,
        Err(code) => return code,
    };
    match store.split_item(item.id, unix_now()) {
        Ok(Ok(split)) => {
            println!(
                "item {} „{}“ is out of its story for good: its own entry {}; the story keeps entry {} with {} report(s)",
                item.id, item.title, split.entry_id, split.story_entry_id, split.remaining
            );
            ExitCode::SUCCESS
        }
        Ok(Err(_)) => {
            eprintln!(
                "item {} is alone, not in a story; nothing to split (`kurator clusters` lists stories)",
                item.id
            );
            ExitCode::from(EXIT_CONFIG)
        }
        Err(err) => failed(&err),
    }
}

pub fn join(options: &GlobalOptions, into: &str, other: &str) -> ExitCode {
    let mut store = match open(options) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let (into, other) = match (find(&store, into), find(&store, other)) {
        (Ok(into), Ok(other)) => (into, other),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    match store.join_stories(into.id, other.id, unix_now()) {
        Ok(Ok(joined)) => {
            println!(
                "item {}'s story joined item {}'s: one entry {} with {} reports (entry {} is gone)",
                other.id, into.id, joined.story_entry_id, joined.reports, joined.gone_entry_id
            );
            ExitCode::SUCCESS
        }
        Ok(Err(Refused::SameStory | Refused::Alone)) => {
            eprintln!(
                "items {} and {} are in one story already; nothing to join",
                into.id, other.id
            );
            ExitCode::from(EXIT_CONFIG)
        }
        Err(err) => failed(&err),
    }
}

fn open(options: &GlobalOptions) -> Result<Store, ExitCode> {
    let config = load_config(options)?;
    Store::open(&resolve_db_path(&config, options.db.as_deref())).map_err(|err| failed(&err))
}

/// The item `wanted` names (a row id, a uid or an entry id), or the exit code.
fn find(store: &Store, wanted: &str) -> Result<StoredItem, ExitCode> {
    match store.find_item(wanted) {
        Ok(Some(item)) => Ok(item),
        Ok(None) => {
            eprintln!(
                "no item `{wanted}`; give its number or id as `kurator clusters` and `kurator explain` show them (`kurator clusters` lists stories)"
            );
            Err(ExitCode::from(EXIT_CONFIG))
        }
        Err(err) => Err(failed(&err)),
    }
}

fn failed(err: &StoreError) -> ExitCode {
    eprintln!("{err}");
    ExitCode::from(EXIT_FAILED)
}
