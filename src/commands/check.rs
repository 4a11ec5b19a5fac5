//! `kurator check`: validates the config, warns about rules that name
//! sources or tags nothing carries, checks that the database can be used
//! (an older schema is reported, not migrated: under systemd `check` also
//! runs on reload, while the older daemon still writes), and says so in
//! one line.

use std::process::ExitCode;

use super::{EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::{reference_warnings, resolve_db_path};
use kurator::store::{DatabaseFound, Store};

/// `strict`: warnings fail the check (exit 1), as errors do.
pub fn run(options: &GlobalOptions, strict: bool) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let warnings = reference_warnings(&config);
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let db_path = resolve_db_path(&config, options.db.as_deref());
    let database = match Store::check_path(&db_path) {
        Ok(DatabaseFound::Absent) => format!(
            "database {} (not there yet: the first fetch creates it)",
            db_path.display()
        ),
        Ok(DatabaseFound::Current { version }) => {
            format!("database {} (schema version {version})", db_path.display())
        }
        Ok(DatabaseFound::Older { found, newest }) => format!(
            "database {} (schema version {found}; this kurator migrates it to {newest} when the daemon restarts or `kurator fetch` runs)",
            db_path.display()
        ),
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let enabled = config.sources.iter().filter(|s| s.enabled).count();
    let verdict = match warnings.len() {
        0 => "OK".to_owned(),
        n => format!("OK with {n} warning(s)"),
    };
    println!(
        "{}: {verdict}: {} sources ({} enabled), {} topics, {database}",
        config.path.display(),
        config.sources.len(),
        enabled,
        config.topics.topics().len(),
    );
    if strict && !warnings.is_empty() {
        eprintln!(
            "{} warning(s), and --strict makes warnings fail the check",
            warnings.len()
        );
        return ExitCode::from(EXIT_FAILED);
    }
    ExitCode::SUCCESS
}
