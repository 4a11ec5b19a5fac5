//! `kurator check`: validates the config and says so in one line.

use std::process::ExitCode;

use super::{GlobalOptions, load_config};
use kurator::config::resolve_db_path;

pub fn run(options: &GlobalOptions) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let enabled = config.sources.iter().filter(|s| s.enabled).count();
    println!(
        "{}: OK: {} sources ({} enabled), {} topics, database {}",
        config.path.display(),
        config.sources.len(),
        enabled,
        config.topics.topics().len(),
        resolve_db_path(&config, options.db.as_deref()).display()
    );
    ExitCode::SUCCESS
}
