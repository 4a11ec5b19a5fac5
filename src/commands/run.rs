//! `kurator run`: the daemon (scheduled polling and the server) until SIGTERM.

use std::process::ExitCode;

use super::{GlobalOptions, load_config};
use crate::config::resolve_db_path;

pub fn run(options: &GlobalOptions) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let db_path = resolve_db_path(&config, options.db.as_deref());
    crate::daemon::run(config, db_path)
}
