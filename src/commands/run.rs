//! `kurator run`: the daemon (scheduled polling and the server) until SIGTERM.

use std::process::ExitCode;

use super::{EXIT_FAILED, GlobalOptions, load_config, start_runtime};
use kurator::config::resolve_db_path;

pub fn run(options: &GlobalOptions) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let db_path = resolve_db_path(&config, options.db.as_deref());
    let runtime = match start_runtime(
        tokio::runtime::Builder::new_multi_thread().thread_name("kurator-ingest"),
    ) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(kurator::daemon::run(config, db_path, |listening| {
        eprintln!("{listening}")
    })) {
        Ok(()) => ExitCode::SUCCESS,
        // The log already said what failed on the way.
        Err(kurator::daemon::DaemonError::Stopped) => ExitCode::from(EXIT_FAILED),
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
