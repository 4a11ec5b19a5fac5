//! `kurator status`: per source, how its last fetch went and when the next
//! one is due, read from the database (works while the daemon runs).

use std::io::Write;
use std::process::ExitCode;

use super::{EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::resolve_db_path;
use kurator::store::Store;
use kurator::time::unix_now;

pub fn run(options: &GlobalOptions, json: bool) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let now = unix_now();
    let db_path = resolve_db_path(&config, options.db.as_deref());
    let rows = Store::open_reader(&db_path).and_then(|store| {
        kurator::status::sources(&config.sources, |s| config.timing(s), &store, now)
    });
    match rows {
        Ok(rows) => {
            // Fetches that cannot be stored leave no trace in the database:
            // say why here.
            if let Err(err) = kurator::store::write_outlook(&db_path) {
                eprintln!("warning: {err}");
            }
            let output = if json {
                kurator::status::json(&rows, now)
            } else {
                kurator::status::text(&rows, now).into_bytes()
            };
            let _ = std::io::stdout().lock().write_all(&output);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
