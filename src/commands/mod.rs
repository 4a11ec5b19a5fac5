//! Commands: one module per CLI subcommand. Each returns the process exit code,
//! so `main.rs` stays a thin argument parser.
//!
//! Exit codes: 0 success, 1 some work failed (the rest was done), 2 bad
//! configuration or usage.

pub mod add;
pub mod backup;
pub mod check;
pub mod clusters;
pub mod correct;
pub mod explain;
pub mod fetch;
pub mod import;
pub mod manual;
mod memory;
pub mod preview;
pub mod prune;
pub mod query;
pub mod remove;
pub mod render;
pub mod retag;
pub mod run;
pub mod serve;
pub mod status;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use kurator::config::{Config, ConfigError};

/// Options every command takes.
#[derive(Debug, Clone)]
pub struct GlobalOptions {
    pub config: PathBuf,
    pub db: Option<PathBuf>,
}

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;

/// Logs go to the systemd journal when the process runs under systemd
/// (`JOURNAL_STREAM` is set), with each event's fields (such as `source`) as
/// journal fields; otherwise to stderr, plain (no colour codes) unless stderr
/// is a terminal. The level comes from `RUST_LOG`, else `default_level`.
/// One-shot commands default to errors only: their output already reports
/// every source.
pub fn init_logging(default_level: &str) {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        match tracing_journald::layer() {
            Ok(journal) => {
                let _ = tracing_subscriber::registry()
                    .with(filter)
                    .with(journal.with_syslog_identifier("kurator".to_owned()))
                    .try_init();
                return;
            }
            // No journal socket after all (e.g. inside a container): stderr.
            Err(err) => eprintln!("cannot log to the journal, logging to stderr: {err}"),
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Starts the async runtime a command runs on (`builder` says which
/// kind), or prints why not and gives the exit code.
pub fn start_runtime(
    builder: &mut tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, ExitCode> {
    // Memory freed by one feed is given back before the next one needs it:
    // `kurator fetch` of a 10 MB feed peaked at 150 MB RSS without this, 105
    // MB with it (BENCHMARKS.md, "Peak memory of one fetch").
    memory::purge_freed_memory_at_once();
    builder.enable_all().build().map_err(|err| {
        eprintln!("cannot start the async runtime: {err}");
        ExitCode::from(EXIT_FAILED)
    })
}

/// Loads the config or prints why not.
pub fn load_config(options: &GlobalOptions) -> Result<Config, ExitCode> {
    Config::load(&options.config).map_err(|err: ConfigError| {
        eprintln!("{err}");
        ExitCode::from(EXIT_CONFIG)
    })
}
