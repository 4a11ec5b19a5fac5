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
//! * `SIGHUP`: `feeds.toml` is read again (`reload`). A file that fails
//!   validation is logged and ignored, and the daemon runs on with the old
//!   one; a good one is published on one channel, and each part that applies
//!   configuration live takes its share (`live`): the sources, their
//!   schedules and the topics (stored items are retagged in the background).
//!   What only a restart applies is named in a warning.
//! * Under systemd (`systemd`): `READY=1` once the database is open and the
//!   port bound, `RELOADING=1`/`READY=1` around every reload, `STOPPING=1`,
//!   a `STATUS=` line, and watchdog pings only while healthy.
//! * A source's stored state counts only while its `url` is the one it was
//!   fetched from: a changed `url` starts it over (a `410 Gone` is forgotten).
//!
//! This file starts the parts and stops them in order. The poller is in
//! `poller`, health and the status line in `health`, pruning in
//! `upkeep`, and the signals (shared with `kurator serve`) in [`signals`].

mod health;
mod live;
mod poller;
mod reload;
pub mod signals;
mod systemd;
mod upkeep;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use health::{Status, monitor, scheduler_alive};
use live::{Grouping, Scheduling, Serving, Tagging};
use poller::{FirstRound, IngestPoller};
use reload::{Live, Published, Reloader};
use signals::{Asked, Signals};
use upkeep::prune_daily;

use crate::config::{Config, Source};
use crate::fetch::Fetcher;
use crate::ingest::Ingester;
use crate::schedule::plan::next_fetch;
use crate::schedule::{Clock, Command, Next, Planned, Scheduler, SourceTimes};
use crate::serve::Server;
use crate::status::UnrecordedFailures;
use crate::store::{Store, StoreError, StoreWriter};

/// How long running fetches may take to finish after a stop signal.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

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

/// Where the daemon serves, once it does: the command line prints it
/// (scripts and tests read the line to learn the address).
#[derive(Debug, Clone)]
pub struct Listening {
    pub sources: usize,
    pub topics: usize,
    pub address: std::net::SocketAddr,
    /// The base URL of the links in the feeds.
    pub base_url: String,
}

impl std::fmt::Display for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "polling {} source(s); serving {} topic feed(s) on http://{}/ (links use {})",
            self.sources, self.topics, self.address, self.base_url
        )
    }
}

/// Runs until SIGTERM or SIGINT, on the caller's multi-threaded runtime;
/// `on_listening` hears where it serves as soon as it does.
pub async fn run(
    config: Config,
    db_path: PathBuf,
    on_listening: impl FnOnce(&Listening),
) -> Result<(), DaemonError> {
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
    let started_at = clock.now();
    let due_now = planned.iter().filter(|p| {
        matches!(
            next_fetch(&p.timing, &p.source.id, &p.times, started_at),
            Next::At(at) if at <= started_at
        )
    });
    let poller = Arc::new(IngestPoller {
        ingester: ingester.clone(),
        clock,
        metrics: server.metrics(),
        unrecorded,
        first_round: std::sync::Mutex::new(FirstRound::of(due_now.map(|p| p.source.id.clone()))),
    });
    let scheduler = Scheduler::new(poller, clock, planned.clone());
    let heartbeat = scheduler.heartbeat();
    {
        let heartbeat = heartbeat.clone();
        let writes = writer.write_health();
        server.set_liveness(Box::new(move || {
            scheduler_alive(&heartbeat, clock).and_then(|()| writes.check())
        }));
    }

    on_listening(&Listening {
        sources: sources.load(Ordering::Relaxed),
        topics: config.topics.topics().len(),
        address: server.local_addr(),
        base_url: server.base_url().to_string(),
    });
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

    let reloader = Reloader {
        db_path,
        published: Published::new(Live::new(config, planned)),
    };
    let published = &reloader.published;
    let consumers = [
        published.subscribe(Scheduling {
            commands: commands.clone(),
            sources,
        }),
        published.subscribe(Serving(server_config)),
        published.subscribe(Grouping {
            ingester: ingester.clone(),
            writer: status.writer.clone(),
        }),
        published.subscribe(Tagging {
            ingester,
            writer: status.writer.clone(),
            retagging: None,
        }),
    ];
    let signals = handle_signals(&reloader, &status, &commands).await;
    let stopped = scheduling.await;
    // No more reloads: each consumer stops (a running retag with it).
    drop(reloader);
    drop(commands);
    for consumer in consumers {
        let _ = consumer.await;
    }
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

/// Turns signals into reloads until a stop signal, then stops the
/// scheduler; returns an error only if signals cannot be received at all,
/// and then stops the scheduler at once: a daemon that could never be
/// stopped or reloaded must not run on.
async fn handle_signals(
    reloader: &Reloader,
    status: &Status,
    commands: &mpsc::Sender<Command<Source>>,
) -> Result<(), String> {
    let mut listening = Signals::listen(true);
    if let Ok(signals) = &mut listening {
        while signals.next().await == Asked::Reload {
            systemd::reloading();
            reloader.reload().await;
            // Good or bad, the daemon is running again.
            systemd::ready(&status.line().await);
        }
    }
    systemd::stopping();
    tracing::info!(
        "stopping: no new fetches; running ones get {} to finish",
        humantime::format_duration(STOP_GRACE)
    );
    let _ = commands.send(Command::Stop { grace: STOP_GRACE }).await;
    listening.map(drop)
}
