//! `kurator backup PATH`: a consistent copy of the database, safe to take
//! while the daemon runs.

use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::{format_byte_size, resolve_db_path};

pub fn run(options: &GlobalOptions, target: &Path) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let db_path = resolve_db_path(&config, options.db.as_deref());
    match kurator::store::backup(&db_path, target) {
        Ok(backup) => {
            println!(
                "backed up {} item(s) from {} to {} ({}; integrity checked)",
                backup.items,
                db_path.display(),
                backup.path.display(),
                format_byte_size(backup.bytes)
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
