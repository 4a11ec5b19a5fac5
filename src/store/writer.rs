//! The store's writer thread: the one place that talks to SQLite while
//! fetches run concurrently.
//!
//! SQLite allows one writer at a time anyway, so rather than fetch tasks
//! queueing on a lock and committing one by one, they send their results
//! here. The thread takes whatever has queued up (at most [`MAX_BATCH`]) and
//! records it with one commit ([`Store::record_fetches`]). Under light load a
//! batch is a single fetch, so nothing waits for company.

use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{Counts, PendingFetch, Pruned, SourceState, Store, StoreError, StoreStats};

/// Fetches recorded in one commit at most; bounds the time a batch holds the
/// write lock and the memory of queued items.
pub const MAX_BATCH: usize = 64;

enum Request {
    SourceState {
        source_id: String,
        reply: oneshot::Sender<Result<Option<SourceState>, StoreError>>,
    },
    Record {
        fetch: Box<PendingFetch>,
        reply: oneshot::Sender<Result<Counts, StoreError>>,
    },
    PruneBatch {
        cutoff: i64,
        now: i64,
        reply: oneshot::Sender<Result<Pruned, StoreError>>,
    },
    /// Maintenance work that must not race the writes (a retag page).
    Run(Box<dyn FnOnce(&mut Store) + Send>),
    Stats {
        count_items: bool,
        reply: oneshot::Sender<Result<StoreStats, StoreError>>,
    },
}

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct StoreWriter {
    requests: mpsc::Sender<Request>,
}

/// The writer thread stopped (it only does when the database is gone).
fn stopped() -> StoreError {
    StoreError::Stopped
}

impl StoreWriter {
    /// Moves `store` to a new thread. The thread ends, handing the store back
    /// through the join handle, once every `StoreWriter` clone is dropped.
    pub fn spawn(store: Store) -> std::io::Result<(StoreWriter, JoinHandle<Store>)> {
        let (requests, inbox) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("kurator-store".into())
            .spawn(move || serve(store, inbox))?;
        Ok((StoreWriter { requests }, thread))
    }

    pub async fn source_state(&self, source_id: &str) -> Result<Option<SourceState>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let request = Request::SourceState {
            source_id: source_id.to_owned(),
            reply,
        };
        self.requests.send(request).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Counts for status lines; the round trip also shows that the writer
    /// thread and the database answer.
    pub async fn stats(&self, count_items: bool) -> Result<StoreStats, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Stats { count_items, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// One batch of [`Store::prune`]; fetches recorded in between wait for
    /// one batch at most.
    pub async fn prune_batch(&self, cutoff: i64, now: i64) -> Result<Pruned, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::PruneBatch { cutoff, now, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `work` on the writer thread, between two batches of fetches.
    /// Keep it short (a page of items): fetches wait while it runs.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(move |store: &mut Store| {
            let _ = reply.send(work(store));
        });
        self.requests
            .send(Request::Run(job))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }

    pub async fn record(&self, fetch: PendingFetch) -> Result<Counts, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Record {
                fetch: Box::new(fetch),
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn serve(mut store: Store, inbox: mpsc::Receiver<Request>) -> Store {
    while let Ok(first) = inbox.recv() {
        let mut fetches = Vec::new();
        let mut replies = Vec::new();
        let mut next = Some(first);
        while let Some(request) = next.take() {
            match request {
                Request::SourceState { source_id, reply } => {
                    let _ = reply.send(store.source_state(&source_id));
                }
                Request::Record { fetch, reply } => {
                    fetches.push(*fetch);
                    replies.push(reply);
                }
                Request::PruneBatch { cutoff, now, reply } => {
                    let _ = reply.send(store.prune_batch(cutoff, now));
                }
                Request::Run(job) => job(&mut store),
                Request::Stats { count_items, reply } => {
                    let _ = reply.send(store.stats(count_items));
                }
            }
            if fetches.len() < MAX_BATCH {
                next = inbox.try_recv().ok();
            }
        }
        if fetches.is_empty() {
            continue;
        }
        match store.record_fetches(&mut fetches) {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, fetches = fetches.len(), "committing fetches failed");
                let message = err.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Commit(message.clone())));
                }
            }
        }
    }
    store
}
