//! `SIGHUP`: reads `feeds.toml` again and applies what can change while the
//! daemon runs.
//!
//! Rules:
//! * A file that fails validation changes nothing; the error is logged with
//!   its `FILE:LINE:COL`.
//! * Sources and schedules go to the scheduler; titles, topics and sources
//!   as shown go to the server (its cached responses are dropped).
//! * When topics or source tags changed, items fetched from then on are
//!   tagged with the new rules, and every stored item is retagged, a page
//!   per transaction on the writer thread, in the background.
//! * What only a restart applies ([`crate::config::Startup`]) is named in a
//!   warning, so nobody waits for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::plan_sources;
use crate::config::{Config, Source};
use crate::ingest::Ingester;
use crate::ingest::retag_page;
use crate::schedule::Command;
use crate::serve::ConfigHandle;
use crate::store::{Store, StoreWriter};

pub(super) struct Reloader {
    pub config: Config,
    pub db_path: PathBuf,
    pub commands: mpsc::Sender<Command<Source>>,
    pub sources: Arc<AtomicUsize>,
    pub ingester: Arc<Ingester>,
    pub server: ConfigHandle,
    pub writer: StoreWriter,
    /// A retag still running from an earlier reload.
    pub retagging: Option<JoinHandle<()>>,
}

impl Reloader {
    pub async fn reload(&mut self) {
        let path = self.config.path.clone();
        tracing::info!(
            "reloading the configuration from {} (SIGHUP)",
            path.display()
        );
        let config = match Config::load(&path) {
            Ok(config) => config,
            Err(err) => {
                tracing::error!(
                    "the new configuration is not valid; still running on the old one:\n{err}"
                );
                return;
            }
        };
        let planned = {
            let (db_path, config) = (self.db_path.clone(), config.clone());
            tokio::task::spawn_blocking(move || {
                Store::open_reader(&db_path).and_then(|store| plan_sources(&config, &store))
            })
            .await
        };
        let planned = match planned {
            Ok(Ok(planned)) => planned,
            Ok(Err(err)) => {
                tracing::error!("reload failed, still running on the old configuration: {err}");
                return;
            }
            Err(err) => {
                tracing::error!("internal error during reload: {err}");
                return;
            }
        };
        for section in self.config.startup().changes(&config.startup()) {
            tracing::warn!("{section} changed: that takes effect at the next restart");
        }
        self.sources.store(planned.len(), Ordering::Relaxed);
        tracing::info!("configuration reloaded: {} source(s)", planned.len());
        let _ = self.commands.send(Command::Replace(planned)).await;
        self.server.replace(config.clone());
        if self.config.dedup != config.dedup {
            // Applies to items stored from now on; stored clusters stay.
            let settings = config.dedup;
            self.ingester.set_grouping(settings.mode);
            let _ = self
                .writer
                .run(move |store| store.set_dedup(settings))
                .await;
        }
        if tagging(&self.config) != tagging(&config) {
            self.ingester.set_topics(Arc::new(config.topics.clone()));
            if let Some(running) = self.retagging.take() {
                running.abort();
            }
            let ingester = self.ingester.clone();
            let writer = self.writer.clone();
            let retag_config = Arc::new(config.clone());
            self.retagging = Some(tokio::spawn(async move {
                // Polls already under way were tagged with the old topics:
                // their items must be stored before the retag passes them.
                ingester.settled().await;
                retag_all(writer, retag_config).await;
            }));
        }
        self.config = config;
    }

    /// Stops a running retag (at shutdown): its pages are whole transactions.
    pub async fn stop(&mut self) {
        if let Some(running) = self.retagging.take() {
            running.abort();
            let _ = running.await;
        }
    }
}

/// What decides an item's topics: each topic's rule and each source's tags.
type Tagging<'a> = (Vec<(&'a str, &'a str)>, Vec<(&'a str, &'a [String])>);

fn tagging(config: &Config) -> Tagging<'_> {
    let topics = config
        .topics
        .topics()
        .iter()
        .map(|t| (t.slug.as_str(), t.rule.text.as_str()))
        .collect();
    let tags = config
        .sources
        .iter()
        .map(|s| (s.id.as_str(), s.tags.as_slice()))
        .collect();
    (topics, tags)
}

/// Retags every stored item, a page per writer-thread turn.
async fn retag_all(writer: StoreWriter, config: Arc<Config>) {
    let (mut after, mut seen, mut changed) = (0, 0, 0);
    loop {
        let config = config.clone();
        match writer
            .run(move |store| retag_page(store, &*config, after))
            .await
        {
            Ok(Ok(Some(page))) => {
                after = page.last_id;
                seen += page.seen;
                changed += page.changed;
            }
            Ok(Ok(None)) => break,
            Ok(Err(err)) | Err(err) => {
                tracing::error!("retagging after the reload failed: {err}; run `kurator retag`");
                return;
            }
        }
    }
    tracing::info!(
        "retagged stored items for the new topics: {seen} item(s), topics changed on {changed}"
    );
}
