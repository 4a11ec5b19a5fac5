//! The parts of the daemon that apply a reloaded configuration while it
//! runs, each a [`Consumer`] of the one channel a reload goes through
//! ([`super::reload`]), each taking what concerns it:
//! * [`Scheduling`]: the sources and their schedules.
//! * [`Serving`]: titles, topics and sources as shown (the server drops its
//!   cached responses).
//! * [`Grouping`]: `[dedup]`, for items stored from then on; stored clusters
//!   stay as they are.
//! * [`Tagging`]: when topics or source tags changed, items fetched from then
//!   on are tagged with the new rules, and every stored item is retagged, a
//!   page per transaction on the writer thread, in the background.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::reload::{Consumer, Live};
use crate::config::{Config, Source};
use crate::ingest::{Ingester, retag_page};
use crate::schedule::Command;
use crate::serve::ConfigHandle;
use crate::store::StoreWriter;

/// The scheduler's sources, and the count `STATUS=` shows.
pub(super) struct Scheduling {
    pub commands: mpsc::Sender<Command<Source>>,
    pub sources: Arc<AtomicUsize>,
}

impl Consumer for Scheduling {
    async fn apply(&mut self, _old: &Arc<Live>, new: &Arc<Live>) {
        self.sources.store(new.planned.len(), Ordering::Relaxed);
        let _ = self
            .commands
            .send(Command::Replace(new.planned.clone()))
            .await;
    }
}

/// The server's configuration.
pub(super) struct Serving(pub ConfigHandle);

impl Consumer for Serving {
    async fn apply(&mut self, _old: &Arc<Live>, new: &Arc<Live>) {
        self.0.replace(new.config.clone());
    }
}

/// How new items group into stories: the ingester's and the writer's part.
pub(super) struct Grouping {
    pub ingester: Arc<Ingester>,
    pub writer: StoreWriter,
}

impl Consumer for Grouping {
    async fn apply(&mut self, old: &Arc<Live>, new: &Arc<Live>) {
        if old.config.dedup == new.config.dedup {
            return;
        }
        // Applies to items stored from now on; stored clusters stay.
        let settings = new.config.dedup;
        self.ingester.set_grouping(settings.mode);
        let _ = self
            .writer
            .run(move |store| store.set_dedup(settings))
            .await;
    }
}

/// The topics new items are tagged with, and the retag of stored ones.
pub(super) struct Tagging {
    pub ingester: Arc<Ingester>,
    pub writer: StoreWriter,
    /// A retag still running from an earlier reload.
    pub retagging: Option<JoinHandle<()>>,
}

impl Consumer for Tagging {
    async fn apply(&mut self, old: &Arc<Live>, new: &Arc<Live>) {
        if tagging(&old.config) == tagging(&new.config) {
            return;
        }
        self.ingester
            .set_topics(Arc::new(new.config.topics.clone()));
        if let Some(running) = self.retagging.take() {
            running.abort();
        }
        let ingester = self.ingester.clone();
        let writer = self.writer.clone();
        let live = new.clone();
        self.retagging = Some(tokio::spawn(async move {
            // Polls already under way were tagged with the old topics:
            // their items must be stored before the retag passes them.
            ingester.settled().await;
            retag_all(writer, live).await;
        }));
    }

    /// Stops a running retag: its pages are whole transactions.
    async fn stop(&mut self) {
        if let Some(running) = self.retagging.take() {
            running.abort();
            let _ = running.await;
        }
    }
}

/// What decides an item's topics: each topic's rule and each source's tags.
type Topics<'a> = (Vec<(&'a str, &'a str)>, Vec<(&'a str, &'a [String])>);

fn tagging(config: &Config) -> Topics<'_> {
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
async fn retag_all(writer: StoreWriter, live: Arc<Live>) {
    let (mut after, mut seen, mut changed) = (0, 0, 0);
    loop {
        let live = live.clone();
        match writer
            .run(move |store| retag_page(store, &live.config, after))
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
