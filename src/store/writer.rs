//! The store's writer thread: the one place that talks to SQLite while
//! fetches run concurrently.
//!
//! SQLite allows one writer at a time anyway, so rather than fetch tasks
//! queueing on a lock and committing one by one, they send their results
//! here. The thread takes whatever has queued up (at most [`MAX_BATCH`]) and
//! records it with one commit ([`Store::record_fetches`]). Under light load a
//! batch is a single fetch, so nothing waits for company.
//!
//! Rules:
//! * A panic while storing (a bug in grouping or tagging, met by some feed
//!   text) fails only the fetch that caused it: the batch is rolled back and
//!   its fetches are stored again one by one, each guarded; the culprit gets
//!   a clear error (recorded as the source's failure, so it backs off and
//!   shows in `status`), and the writer goes on.
//! * Whether the database takes writes at all is tracked in
//!   [`WriteHealth`]: a full disk or a lock held elsewhere marks it
//!   unhealthy until a write succeeds again (`/healthz` answers 503).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{
    Counts, FetchRecord, PendingFetch, Pruned, SourceState, Store, StoreError, StoreStats,
};

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
    health: Arc<WriteHealth>,
}

/// Whether the database took the writer's last write: a full disk or a lock
/// held by another process fails every write alike, until a write succeeds.
#[derive(Debug)]
pub struct WriteHealth {
    fault: Mutex<Option<String>>,
    /// When the writer last finished a piece of work, good or bad.
    progressed: Mutex<std::time::Instant>,
}

impl Default for WriteHealth {
    fn default() -> WriteHealth {
        WriteHealth {
            fault: Mutex::default(),
            progressed: Mutex::new(std::time::Instant::now()),
        }
    }
}

impl WriteHealth {
    /// How long ago the writer last finished a piece of work. A writer that
    /// waits for another process's lock is slow to answer but still turns;
    /// one that finished nothing for minutes is stuck.
    pub fn idle_for(&self) -> std::time::Duration {
        self.progressed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    fn progressed(&self) {
        *self.progressed.lock().unwrap_or_else(|e| e.into_inner()) = std::time::Instant::now();
    }

    /// `Err` says why the database takes no writes ("database not
    /// writable: disk full …").
    pub fn check(&self) -> Result<(), String> {
        match &*self.fault.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }

    fn wrote(&self) {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn failed(&self, error: &StoreError) {
        if error.write_fault().is_some() {
            *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = Some(error.to_string());
        }
    }
}

/// How one batch of fetches is written: [`Store::record_fetches`], but for
/// tests that need a writer that fails in a chosen way.
type Recorder = dyn FnMut(&mut Store, &mut [PendingFetch]) -> Result<Vec<Result<Counts, StoreError>>, StoreError>
    + Send;

/// The writer thread stopped (it only does when the database is gone).
fn stopped() -> StoreError {
    StoreError::Stopped
}

impl StoreWriter {
    /// Moves `store` to a new thread. The thread ends, handing the store back
    /// through the join handle, once every `StoreWriter` clone is dropped.
    pub fn spawn(store: Store) -> std::io::Result<(StoreWriter, JoinHandle<Store>)> {
        Self::spawn_with(
            store,
            Box::new(|store, fetches| store.record_fetches(fetches)),
        )
    }

    fn spawn_with(
        store: Store,
        recorder: Box<Recorder>,
    ) -> std::io::Result<(StoreWriter, JoinHandle<Store>)> {
        let (requests, inbox) = mpsc::channel();
        let health = Arc::new(WriteHealth::default());
        let writer = Writer {
            store,
            recorder,
            health: health.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("kurator-store".into())
            .spawn(move || writer.serve(inbox))?;
        Ok((StoreWriter { requests, health }, thread))
    }

    /// Whether the database takes writes, as the last write found.
    pub fn write_health(&self) -> Arc<WriteHealth> {
        self.health.clone()
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

/// The writer thread's own state.
struct Writer {
    store: Store,
    recorder: Box<Recorder>,
    health: Arc<WriteHealth>,
}

impl Writer {
    fn serve(mut self, inbox: mpsc::Receiver<Request>) -> Store {
        while let Ok(first) = inbox.recv() {
            let mut fetches = Vec::new();
            let mut replies = Vec::new();
            let mut next = Some(first);
            while let Some(request) = next.take() {
                self.answer(request, &mut fetches, &mut replies);
                if fetches.len() < MAX_BATCH {
                    next = inbox.try_recv().ok();
                }
            }
            if !fetches.is_empty() {
                self.record(fetches, replies);
            }
            self.health.progressed();
        }
        self.store
    }

    /// Answers `request` at once, or queues a fetch for the batch's commit.
    fn answer(
        &mut self,
        request: Request,
        fetches: &mut Vec<PendingFetch>,
        replies: &mut Vec<Reply>,
    ) {
        let store = &mut self.store;
        match request {
            Request::SourceState { source_id, reply } => {
                let _ = reply.send(store.source_state(&source_id));
            }
            Request::Record { fetch, reply } => {
                fetches.push(*fetch);
                replies.push(reply);
            }
            Request::PruneBatch { cutoff, now, reply } => {
                let pruned = guarded(|| store.prune_batch(cutoff, now));
                self.note(&pruned);
                let _ = reply.send(pruned);
            }
            Request::Run(job) => {
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| job(store))) {
                    // The job's reply is gone with it: its caller learns
                    // that the work failed.
                    store.dedup.invalidate();
                    tracing::error!(
                        "internal error: maintenance work on the database panicked ({}); the writer goes on",
                        panic_message(&panic)
                    );
                }
            }
            Request::Stats { count_items, reply } => {
                let _ = reply.send(store.stats(count_items));
            }
        }
    }

    /// Records a batch in one commit; after a panic, each fetch on its own.
    fn record(&mut self, mut fetches: Vec<PendingFetch>, replies: Vec<Reply>) {
        let Writer {
            store, recorder, ..
        } = self;
        let batch = catch_unwind(AssertUnwindSafe(|| recorder(store, &mut fetches)));
        match batch {
            Ok(Ok(results)) => {
                self.health.wrote();
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Ok(Err(err)) => {
                let err = super::explain_fault(err, &self.store.path);
                tracing::error!(fetches = fetches.len(), "storing fetches failed: {err}");
                self.health.failed(&err);
                for reply in replies {
                    let _ = reply.send(Err(same_error(&err)));
                }
            }
            Err(_) => {
                // The transaction was rolled back as the panic unwound it;
                // the index may hold changes of fetches that are now gone.
                self.store.dedup.invalidate();
                for (fetch, reply) in fetches.into_iter().zip(replies) {
                    let _ = reply.send(self.record_alone(fetch));
                }
            }
        }
    }

    /// One fetch in a commit of its own; a panic fails only this fetch.
    fn record_alone(&mut self, mut fetch: PendingFetch) -> Result<Counts, StoreError> {
        let Writer {
            store, recorder, ..
        } = self;
        let one = catch_unwind(AssertUnwindSafe(|| {
            recorder(store, std::slice::from_mut(&mut fetch))
        }));
        let panic = match one {
            Ok(Ok(mut results)) => {
                self.health.wrote();
                return results.pop().unwrap_or(Err(StoreError::Stopped));
            }
            Ok(Err(err)) => {
                let err = super::explain_fault(err, &self.store.path);
                self.health.failed(&err);
                return Err(err);
            }
            Err(panic) => panic,
        };
        self.store.dedup.invalidate();
        let error = StoreError::Panicked(panic_message(&panic));
        let source = fetch.source_id.clone();
        tracing::error!(source, "{source}: {error}");
        // Recorded as the source's failure (without its items), so it backs
        // off and `status` shows it; the same body then fails again at the
        // next slot, never in a loop.
        let mut failure = PendingFetch {
            record: FetchRecord::Failure {
                status: None,
                error: error.to_string(),
                retry_after: None,
                gone: false,
            },
            items: Vec::new(),
            ..fetch
        };
        let recorded = catch_unwind(AssertUnwindSafe(|| {
            self.store
                .record_fetches(std::slice::from_mut(&mut failure))
        }));
        if !matches!(recorded, Ok(Ok(_))) {
            self.store.dedup.invalidate();
            tracing::error!(source, "{source}: the failure could not be recorded either");
        }
        Err(error)
    }

    /// Tracks whether a write went through.
    fn note<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) => self.health.wrote(),
            Err(err) => self.health.failed(err),
        }
    }
}

type Reply = oneshot::Sender<Result<Counts, StoreError>>;

/// `work`, with a panic turned into an error.
fn guarded<T>(work: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    catch_unwind(AssertUnwindSafe(work))
        .unwrap_or_else(|panic| Err(StoreError::Panicked(panic_message(&panic))))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// A batch-wide error again, for each fetch of the batch.
fn same_error(err: &StoreError) -> StoreError {
    match err {
        StoreError::NotWritable { fault, action } => StoreError::NotWritable {
            fault: *fault,
            action,
        },
        other => StoreError::Commit(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch(source_id: &str) -> PendingFetch {
        PendingFetch {
            source_id: source_id.to_owned(),
            url: format!("https://{source_id}.example/feed"),
            record: FetchRecord::Success {
                status: 200,
                validators: None,
                body_sha256: None,
                effective_url: format!("https://{source_id}.example/feed"),
                moved_to: None,
                feed_ttl: None,
                fresh_until: None,
            },
            items: Vec::new(),
            now: 1_764_000_000,
            oldest_kept: None,
        }
    }

    /// Stands in for a bug met by one source's feed text: storing the
    /// fetches of `culprit` panics, everything else is stored for real.
    fn panicking_for(culprit: &'static str) -> Box<Recorder> {
        Box::new(move |store: &mut Store, fetches: &mut [PendingFetch]| {
            if fetches
                .iter()
                .any(|f| f.source_id == culprit && matches!(f.record, FetchRecord::Success { .. }))
            {
                panic!("index out of bounds: the len is 0 but the index is 3");
            }
            store.record_fetches(fetches)
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_fails_only_its_fetch_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kurator.db")).unwrap();
        let (writer, thread) = StoreWriter::spawn_with(store, panicking_for("boom")).unwrap();
        // Sent together, so they usually share a batch.
        let (boom, good) = tokio::join!(writer.record(fetch("boom")), writer.record(fetch("good")));
        let error = boom.unwrap_err().to_string();
        assert!(error.starts_with("internal error while storing"), "{error}");
        assert!(error.contains("index out of bounds"), "{error}");
        good.expect("the other fetch of the batch is stored");

        // The writer goes on, and the culprit's failure is on record.
        writer.record(fetch("later")).await.unwrap();
        let boom = writer.source_state("boom").await.unwrap().unwrap();
        assert_eq!(boom.consecutive_errors, 1);
        assert!(
            boom.last_error.unwrap().contains("internal error"),
            "status shows it"
        );
        assert!(writer.source_state("good").await.unwrap().is_some());

        // A maintenance job that panics does not stop the writer either.
        let job = writer
            .run(|_| -> () { panic!("a retag page panicked") })
            .await;
        assert!(job.is_err());
        writer.record(fetch("after-job")).await.unwrap();
        assert_eq!(writer.write_health().check(), Ok(()));
        drop(writer);
        thread.join().expect("the writer thread ends normally");
    }
}
