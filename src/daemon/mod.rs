//! Daemon: `kurator run`, the scheduler and the HTTP server in one process.
//!
//! Rules:
//! * Start-up order: the database is opened (and migrated), the port bound,
//!   and only then polling starts; a failure in either ends the start with a
//!   message and exit code 1, before anything is fetched.
//! * `SIGTERM`/`SIGINT`: scheduling stops at once, running fetches get
//!   [`STOP_GRACE`] to finish (each is committed whole or not at all), the
//!   server finishes its requests, the database is closed, and the process
//!   exits 0.
//! * `SIGHUP`: `feeds.toml` is read again ([`reload`]). A file that fails
//!   validation is logged and ignored, and the daemon runs on with the old
//!   one; a good one replaces the sources, their schedules and the topics
//!   (stored items are retagged in the background).
//! * Under systemd ([`systemd`]): `READY=1` once the database is open and the
//!   port bound, `RELOADING=1`/`READY=1` around every reload, `STOPPING=1`,
//!   a `STATUS=` line, and watchdog pings only while healthy.
//! * A source's stored state counts only while its `url` is the one it was
//!   fetched from: a changed `url` starts it over (a `410 Gone` is forgotten).

pub(crate) mod memory;
mod reload;
mod systemd;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use reload::Reloader;

use crate::config::{Config, Source};
use crate::fetch::Fetcher;
use crate::ingest::{IngestError, Ingester, Outcome, Report};
use crate::metrics::Metrics;
use crate::schedule::{Clock, Command, Heartbeat, Planned, Poller, Scheduler, SourceTimes};
use crate::serve::Server;
use crate::status::UnrecordedFailures;
use crate::store::{Store, StoreError, StoreWriter};

/// How long running fetches may take to finish after a stop signal.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Polls a source through the whole ingest pipeline and logs the outcome.
pub struct IngestPoller {
    ingester: Arc<Ingester>,
    clock: Clock,
    metrics: Arc<Metrics>,
    unrecorded: Arc<UnrecordedFailures>,
}

impl Poller for IngestPoller {
    type Source = Source;

    async fn poll(&self, source: Source) -> SourceTimes {
        let report = self.ingester.ingest(&source, false).await;
        log_report(&report);
        let (outcome, new_items) = match &report.outcome {
            Outcome::Stored(counts) => ("stored", counts.new),
            Outcome::NotModified => ("not_modified", 0),
            Outcome::Unchanged => ("unchanged", 0),
            Outcome::Deferred { .. } => ("deferred", 0),
            Outcome::Failed(_) => ("failed", 0),
        };
        self.metrics
            .fetched(&source.id, outcome, report.elapsed, new_items);
        match &report.outcome {
            // The outcome could not be written: only memory knows of it.
            Outcome::Failed(IngestError::Store(err)) => {
                self.unrecorded
                    .failed(&source.id, err.to_string(), self.clock.now())
            }
            // Nothing was written, so nothing changed.
            Outcome::Deferred { .. } => {}
            _ => self.unrecorded.recorded(&source.id),
        }
        match self.ingester.source_times(&source.id).await {
            Ok(times) => times,
            Err(err) => {
                tracing::error!(source = %source.id, "cannot read the source's state back: {err}");
                // Back off as after an error rather than poll again at once.
                SourceTimes {
                    last_attempt: Some(self.clock.now()),
                    consecutive_errors: 1,
                    ..SourceTimes::default()
                }
            }
        }
    }
}

/// One line per poll. The message says everything on its own (the journal
/// shows messages, not fields); the `source` field is there for filtering
/// (`journalctl F_SOURCE=…`) and for the plain-text log.
fn log_report(report: &Report) {
    let source = report.source_id.as_str();
    let seconds = report.elapsed.as_secs_f64();
    match &report.outcome {
        Outcome::Stored(c) => tracing::info!(
            source,
            "{source}: fetched: {} new, {} updated, {} unchanged ({seconds:.2}s)",
            c.new,
            c.updated,
            c.unchanged
        ),
        Outcome::NotModified => tracing::info!(source, "{source}: not modified ({seconds:.2}s)"),
        Outcome::Unchanged => {
            tracing::info!(
                source,
                "{source}: not modified, same content ({seconds:.2}s)"
            )
        }
        Outcome::Deferred { until } => tracing::info!(
            source,
            "{source}: deferred: the server asked us to wait until {}",
            crate::time::format_time(*until)
        ),
        Outcome::Failed(err) => {
            tracing::warn!(source, "{source}: fetch failed: {err} ({seconds:.2}s)")
        }
    }
    for hint in &report.hints {
        tracing::warn!(source, "{source}: {hint}");
    }
}

/// Every enabled source of `config` with its schedule and stored past.
fn plan_sources(config: &Config, store: &Store) -> Result<Vec<Planned<Source>>, StoreError> {
    let mut planned = Vec::new();
    for source in config.sources.iter().filter(|s| s.enabled) {
        let times = match store.source_state(&source.id)? {
            Some(state) if state.url == source.url.as_str() => state.times(),
            _ => SourceTimes::default(),
        };
        planned.push(Planned {
            timing: config.timing(source),
            source: source.clone(),
            times,
        });
    }
    Ok(planned)
}

/// Why `kurator run` did not start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Nothing was fetched: the database, the port or a thread could not be
    /// had. The message says which and why.
    #[error("{0}")]
    Start(String),
    /// It ran and stopped, but a part of it failed on the way (logged).
    #[error("the daemon stopped with errors; the log says which")]
    Stopped,
}

/// Page cache of the daemon's writing connection, in KiB.
const DAEMON_WRITER_CACHE_KIB: u32 = 8 * 1024;

/// What start-up opened, in the order it must be opened.
struct Started {
    planned: Vec<Planned<Source>>,
    fetcher: Fetcher,
    server: Server,
    writer: StoreWriter,
    writer_thread: std::thread::JoinHandle<Store>,
}

/// Opens the database, plans the sources and binds the port; a failure is
/// the message to print.
async fn start(config: &Config, db_path: &Path) -> Result<Started, String> {
    let mut store = Store::open(db_path).map_err(|err| err.to_string())?;
    store.set_dedup(config.dedup);
    // The daemon ingests a few items per poll, not a bulk import: a smaller
    // page cache than `kurator fetch` uses keeps it within its memory budget.
    store
        .set_cache_kib(DAEMON_WRITER_CACHE_KIB)
        .map_err(|err| err.to_string())?;
    let planned = plan_sources(config, &store).map_err(|err| err.to_string())?;
    let fetcher = Fetcher::new(&config.fetch.limits).map_err(|err| err.to_string())?;
    let settings = config.serve_settings();
    let server = Server::bind(settings, config.clone(), db_path.to_path_buf())
        .await
        .map_err(|err| err.to_string())?;
    let (writer, writer_thread) = StoreWriter::spawn(store)
        .map_err(|err| format!("cannot start the database writer: {err}"))?;
    Ok(Started {
        planned,
        fetcher,
        server,
        writer,
        writer_thread,
    })
}

/// Runs until SIGTERM or SIGINT, on the caller's multi-threaded runtime.
pub async fn run(config: Config, db_path: PathBuf) -> Result<(), DaemonError> {
    let Started {
        planned,
        fetcher,
        server,
        writer,
        writer_thread,
    } = match start(&config, &db_path).await {
        Ok(started) => started,
        Err(message) => return Err(DaemonError::Start(message)),
    };
    let clock = Clock::System;
    let sources = Arc::new(AtomicUsize::new(planned.len()));
    let ingester = Arc::new(
        Ingester::new(fetcher, writer.clone(), Arc::new(config.topics.clone()))
            .keeping(config.storage.keep)
            .grouping(config.dedup.mode),
    );
    let unrecorded = Arc::new(UnrecordedFailures::default());
    server.set_unrecorded(unrecorded.clone());
    let poller = Arc::new(IngestPoller {
        ingester: ingester.clone(),
        clock,
        metrics: server.metrics(),
        unrecorded,
    });
    let scheduler = Scheduler::new(poller, clock, planned);
    let heartbeat = scheduler.heartbeat();
    {
        let heartbeat = heartbeat.clone();
        let writes = writer.write_health();
        server.set_liveness(Box::new(move || {
            scheduler_alive(&heartbeat, clock).and_then(|()| writes.check())
        }));
    }

    let listen = server.local_addr();
    // Scripts and tests read this line to learn the address.
    eprintln!(
        "polling {} source(s); serving {} topic feed(s) on http://{listen}/ (links use {})",
        sources.load(Ordering::Relaxed),
        config.topics.topics().len(),
        server.base_url()
    );
    let server_config = server.config_handle();
    let (stop_server, server_stopped) = watch::channel(false);
    let server_thread = match spawn_server(server, server_stopped) {
        Ok(thread) => thread,
        Err(err) => {
            return Err(DaemonError::Start(format!(
                "cannot start the server thread: {err}"
            )));
        }
    };
    let (commands, receiver) = mpsc::channel(4);
    let scheduling = tokio::spawn(scheduler.run(receiver));
    let status = Status {
        sources: sources.clone(),
        writer,
    };
    systemd::ready(&status.line().await);
    let monitoring = tokio::spawn(monitor(heartbeat, status.clone(), clock));
    let pruning = config
        .storage
        .keep
        .map(|keep| tokio::spawn(prune_daily(status.writer.clone(), keep)));

    let mut reloader = Reloader {
        config,
        db_path,
        commands,
        sources,
        ingester,
        server: server_config,
        writer: status.writer.clone(),
        retagging: None,
    };
    let signals = handle_signals(&mut reloader, &status).await;
    let stopped = scheduling.await;
    reloader.stop().await;
    drop(reloader);
    monitoring.abort();
    let _ = monitoring.await;
    if let Some(pruning) = pruning {
        pruning.abort();
        let _ = pruning.await;
    }
    // The last handle to the writer outside the scheduler.
    drop(status);
    let _ = stop_server.send(true);
    let mut clean = true;
    if let Err(err) = stopped {
        tracing::error!("internal error: the scheduler failed: {err}");
        clean = false;
    }
    match server_thread.join() {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::error!("{err}");
            clean = false;
        }
        Err(_) => {
            tracing::error!("internal error: the server thread crashed");
            clean = false;
        }
    }
    // The scheduler and its polls are gone, and with them every handle to
    // the writer: it commits what is queued and closes the database.
    match tokio::task::spawn_blocking(move || writer_thread.join()).await {
        Ok(Ok(store)) => drop(store),
        _ => {
            tracing::error!("internal error: the database writer crashed");
            clean = false;
        }
    }
    if let Err(err) = signals {
        tracing::error!("{err}");
        clean = false;
    }
    tracing::info!("stopped");
    if clean {
        Ok(())
    } else {
        Err(DaemonError::Stopped)
    }
}

/// The scheduler loop turns at least once a minute; this much silence means
/// it is stuck.
const STALE_AFTER: i64 = 150;

/// How often the status line is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// The database must answer a health check within this.
const DATABASE_ANSWER: Duration = Duration::from_secs(10);

/// A database writer that finished nothing for this long is stuck (each of
/// its batches waits at most the busy timeout for a lock).
const WRITER_STUCK_AFTER: Duration = Duration::from_secs(45);

fn scheduler_alive(heartbeat: &Heartbeat, clock: Clock) -> Result<(), String> {
    let silent = clock.now() - heartbeat.last();
    if silent > STALE_AFTER {
        Err(format!("the scheduler has not run for {silent} s"))
    } else {
        Ok(())
    }
}

/// What `STATUS=` says.
#[derive(Clone)]
struct Status {
    sources: Arc<AtomicUsize>,
    writer: StoreWriter,
}

impl Status {
    async fn line(&self) -> String {
        let sources = self.sources.load(Ordering::Relaxed);
        match tokio::time::timeout(DATABASE_ANSWER, self.writer.stats(true)).await {
            Ok(Ok(stats)) => {
                let line = format!(
                    "{sources} source(s), {} failing; {} item(s)",
                    stats.failing_sources,
                    stats.items.unwrap_or_default()
                );
                match self.writer.write_health().check() {
                    Ok(()) => line,
                    Err(reason) => format!("{line}; {reason}"),
                }
            }
            _ => format!("{sources} source(s); the database does not answer"),
        }
    }
}

/// Pings the watchdog (if systemd asked for it) while the scheduler turns
/// and the database answers, and refreshes the status line.
async fn monitor(heartbeat: Arc<Heartbeat>, status: Status, clock: Clock) {
    let watchdog = systemd::watchdog_period();
    let tick = watchdog.map_or(STATUS_EVERY, |period| period.min(STATUS_EVERY));
    let mut status_sent = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let database = tokio::time::timeout(DATABASE_ANSWER, status.writer.stats(false)).await;
        let writes = status.writer.write_health();
        let health = scheduler_alive(&heartbeat, clock).and(match database {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(format!("the database does not answer: {err}")),
            // Slow, but turning: it waits for another process's lock, one
            // batch after the other. A restart would not help, and it would
            // poll every source again at once.
            Err(_) if writes.idle_for() < WRITER_STUCK_AFTER => Ok(()),
            Err(_) => Err(format!(
                "the database did not answer within {}",
                humantime::format_duration(DATABASE_ANSWER)
            )),
        });
        match health {
            Ok(()) => {
                if watchdog.is_some() {
                    systemd::watchdog();
                }
                if status_sent.elapsed() >= STATUS_EVERY {
                    systemd::status(&status.line().await);
                    status_sent = tokio::time::Instant::now();
                }
            }
            Err(reason) => {
                tracing::error!("unhealthy, not pinging the watchdog: {reason}");
                systemd::status(&format!("unhealthy: {reason}"));
            }
        }
    }
}

/// Deletes items older than `keep` now and then once a day, a batch at a
/// time, so fetches are recorded in between.
async fn prune_daily(writer: StoreWriter, keep: Duration) {
    loop {
        let now = crate::time::unix_now();
        let cutoff = now - keep.as_secs() as i64;
        let mut pruned = 0;
        loop {
            match writer.prune_batch(cutoff, now).await {
                Ok(batch) if batch.items == 0 => break,
                Ok(batch) => pruned += batch.items,
                Err(err) => {
                    tracing::error!("pruning old items failed: {err}");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(
                "pruned {pruned} item(s) published before {} (keep_days)",
                crate::time::format_time(cutoff)
            );
        }
        tokio::time::sleep(PRUNE_EVERY).await;
    }
}

const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The server on a thread of its own with a single-threaded runtime, as
/// `kurator serve` runs it, so fetching and parsing never delay a response.
fn spawn_server(
    server: Server,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<Result<(), crate::serve::ServeError>>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("kurator-serve".into())
        .spawn(move || {
            runtime.block_on(server.run(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }))
        })
}

/// Turns signals into scheduler commands until a stop signal; returns an
/// error only if signals cannot be received at all.
async fn handle_signals(reloader: &mut Reloader, status: &Status) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|err| format!("cannot listen for {name}: {err}"))
    };
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM")?;
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT")?;
    let mut hangup = listen(SignalKind::hangup(), "SIGHUP")?;
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => {
                systemd::reloading();
                reloader.reload().await;
                // Good or bad, the daemon is running again.
                systemd::ready(&status.line().await);
            }
        }
    }
    systemd::stopping();
    tracing::info!(
        "stopping: no new fetches; running ones get {} to finish",
        humantime::format_duration(STOP_GRACE)
    );
    let _ = reloader
        .commands
        .send(Command::Stop { grace: STOP_GRACE })
        .await;
    Ok(())
}
