//! `kurator fetch`: polls sources once and prints one line per source.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::{Source, resolve_db_path};
use kurator::fetch::Fetcher;
use kurator::ingest::{Ingester, Outcome, Report};
use kurator::store::{Store, StoreWriter};
use kurator::time::format_time;

pub fn run(options: &GlobalOptions, force: bool, only: &[String]) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let mut sources: Vec<Source> = Vec::new();
    for id in only {
        match config.source(id) {
            Some(source) => sources.push(source.clone()),
            None => {
                let known: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
                eprintln!(
                    "{}: no source with id `{id}`; known ids: {}",
                    config.path.display(),
                    known.join(", ")
                );
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    if only.is_empty() {
        sources = config
            .sources
            .iter()
            .filter(|s| s.enabled)
            .cloned()
            .collect();
        if sources.is_empty() {
            eprintln!(
                "{}: no enabled sources; add a [[source]] block or set enabled = true",
                config.path.display()
            );
            return ExitCode::SUCCESS;
        }
    }

    let db_path = resolve_db_path(&config, options.db.as_deref());
    let new_database = !db_path.exists();
    let mut store = match Store::open(&db_path) {
        Ok(store) => store,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    if new_database {
        // The log says so too, but a one-shot command logs only errors.
        if let Ok(version) = store.schema_version() {
            eprintln!(
                "created database {} (schema version {version})",
                db_path.display()
            );
        }
    }
    let fetcher = match Fetcher::new(&config.fetch.limits) {
        Ok(fetcher) => fetcher,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let runtime = match super::start_runtime(&mut tokio::runtime::Builder::new_multi_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    store.set_dedup(config.dedup);
    let (writer, writer_thread) = match StoreWriter::spawn(store) {
        Ok(spawned) => spawned,
        Err(err) => {
            eprintln!("cannot start the database writer: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let ingester = Arc::new(
        Ingester::new(fetcher, writer, Arc::new(config.topics.clone()))
            .keeping(config.storage.keep)
            .grouping(config.dedup.mode),
    );
    let failed = runtime.block_on(fetch_all(ingester, sources, force));
    // Every handle is gone now; the writer finishes its queue and closes the database.
    if writer_thread.join().is_err() {
        eprintln!("internal error: the database writer crashed");
        return ExitCode::from(EXIT_FAILED);
    }
    if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs all fetches concurrently (the fetcher enforces the limits) and prints
/// each line as its source finishes. Returns whether any source failed.
async fn fetch_all(ingester: Arc<Ingester>, sources: Vec<Source>, force: bool) -> bool {
    let width = sources.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let total = sources.len();
    let mut tasks = tokio::task::JoinSet::new();
    for source in sources {
        let ingester = ingester.clone();
        tasks.spawn(async move { ingester.ingest(&source, force).await });
    }
    let progress = Progress::new(total);
    let mut failed = false;
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        done += 1;
        let report = match joined {
            Ok(report) => report,
            Err(err) => {
                progress.clear();
                eprintln!("internal error: a fetch task failed: {err}");
                failed = true;
                continue;
            }
        };
        failed |= report.outcome.is_failure();
        progress.clear();
        print_report(&report, width);
        progress.show(done);
    }
    progress.clear();
    failed
}

fn print_report(report: &Report, width: usize) {
    let outcome = match &report.outcome {
        Outcome::Stored(c) => {
            let counts = format!(
                "new {}, updated {}, unchanged {}",
                c.new, c.updated, c.unchanged
            );
            match c.skipped_note() {
                Some(skipped) => format!("{counts}, {skipped}"),
                None => counts,
            }
        }
        Outcome::NotModified => "not modified".to_owned(),
        Outcome::Unchanged => "not modified (same content)".to_owned(),
        Outcome::Deferred { until } => {
            format!(
                "deferred: the server asked us to wait until {} (use --force to fetch now)",
                format_time(*until)
            )
        }
        // The terminal may see how the body starts; the stored error never does.
        Outcome::Failed(err) => match err.body_start() {
            Some(start) => format!("error: {err} (it starts with {start:?})"),
            None => format!("error: {err}"),
        },
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<width$}  {outcome}  ({:.2}s)",
        report.source_id,
        report.elapsed.as_secs_f64()
    );
    for hint in &report.hints {
        let _ = writeln!(out, "{:<width$}  hint: {hint}", "");
    }
}

/// A one-line counter on stderr, only when stderr is a terminal.
struct Progress {
    total: usize,
    enabled: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let progress = Progress {
            total,
            enabled: std::io::stderr().is_terminal() && total > 1,
        };
        progress.show(0);
        progress
    }

    fn show(&self, done: usize) {
        if self.enabled && done < self.total {
            eprint!("\r[{done}/{}] fetching…", self.total);
            let _ = std::io::stderr().flush();
        }
    }

    fn clear(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}
