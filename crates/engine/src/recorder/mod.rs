//! The recorder: the one way anything is written to the Access Log.
//!
//! Callers hand it an [`Event`] and wait for a [`Receipt`], which exists only once the
//! entry is durably committed. A single writer task drains every request waiting at that
//! moment into one transaction (group commit), so throughput grows with concurrency while
//! each caller still waits only for its own entry. After commits, it signs checkpoints,
//! and every [`INDEX_BATCH`] entries (and once a second) it has the new entries copied
//! into the review table, whose indexes the review searches use: in large batches, in a
//! task of its own beside the commits, so those indexes cost callers nothing.

mod checkpointer;
mod receipt;

use std::sync::Arc;
use std::time::Duration;

use accesslog_core::Clock;
use accesslog_core::entry::Event;
use accesslog_store::{LogHead, LogStore, StoreError};
use tokio::sync::{mpsc, oneshot};

pub use checkpointer::{CheckpointPolicy, Checkpointer};
pub use receipt::Receipt;

/// Why an event was not recorded. Whatever it is, the action must not go ahead.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("the event is not valid: {0}")]
    Invalid(String),
    #[error("the Access Log cannot be written: {0}")]
    Unavailable(String),
    #[error("the Access Log recorder has stopped")]
    Stopped,
}

#[derive(Clone, Copy, Debug)]
pub struct RecorderConfig {
    /// At most this many entries per transaction.
    pub max_batch: usize,
    /// Requests waiting for the writer beyond this make callers wait (back-pressure).
    pub queue: usize,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            max_batch: 4096,
            queue: 65_536,
        }
    }
}

struct Job {
    event: Event,
    reply: oneshot::Sender<Result<Receipt, RecordError>>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Recorder {
    jobs: mpsc::Sender<Job>,
    flushes: mpsc::UnboundedSender<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("event", &self.event).finish()
    }
}

impl Recorder {
    /// Starts the writer task. `checkpointer` signs checkpoints as the log grows.
    pub fn start(
        store: Arc<dyn LogStore>,
        clock: Arc<dyn Clock>,
        checkpointer: Option<Checkpointer>,
        config: RecorderConfig,
    ) -> Self {
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let (flushes, flush_requests) = mpsc::unbounded_channel();
        tokio::spawn(writer(
            store,
            clock,
            checkpointer,
            config,
            queue,
            flush_requests,
        ));
        Self { jobs, flushes }
    }

    /// Signs a checkpoint now for whatever this recorder committed since the last one, and
    /// waits for it: call before shutting down, so the last entries do not wait for the
    /// next start to be covered by a signature.
    pub async fn checkpoint_now(&self) {
        let (done, wait) = oneshot::channel();
        if self.flushes.send(done).is_ok() {
            let _ = wait.await;
        }
    }

    /// Records `event` and returns its receipt once the entry is durable. On any error the
    /// entry was not written and the caller must refuse the action. The event is bounded
    /// first ([`Event::bounded`]: NUL replaced, over-long fields cut and marked), so what is
    /// recorded may differ from what was given, and size or NUL never refuses it.
    pub async fn record(&self, event: Event) -> Result<Receipt, RecordError> {
        let event = event.bounded();
        event
            .validate()
            .map_err(|e| RecordError::Invalid(e.to_string()))?;
        let (reply, receipt) = oneshot::channel();
        self.jobs
            .send(Job { event, reply })
            .await
            .map_err(|_| RecordError::Stopped)?;
        receipt.await.map_err(|_| RecordError::Stopped)?
    }
}

/// Entries copied into the review table per `index_for_review` call, and how many new
/// ones start a copy: large enough that each index page written takes many entries (a
/// commit of a few dozen would scatter them over as many pages; measured when the copy
/// still ran on the writer's thread: batches of 2,048 let 64 writers append 61,700/s,
/// 8,192 77,000/s, 16,384 no more), small enough that the review's tail stays short (up
/// to ~1 ms a query).
pub const INDEX_BATCH: u32 = 8192;

/// A batch at least this large means many callers are waiting on the log.
const CONVOY: usize = 2;
/// How many times the writer yields before taking a batch after a large one.
const YIELDS: usize = 4;

async fn writer(
    store: Arc<dyn LogStore>,
    clock: Arc<dyn Clock>,
    mut checkpointer: Option<Checkpointer>,
    config: RecorderConfig,
    mut queue: mpsc::Receiver<Job>,
    mut flush_requests: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
) {
    if let Some(c) = checkpointer.as_mut()
        && let Err(e) = c.resume(&*store).await
    {
        tracing::error!(error = %e, "could not read the latest checkpoint; checkpoints restart from the log head");
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch: Vec<Job> = Vec::with_capacity(config.max_batch);
    let mut last_batch = 0usize;
    let mut unindexed = 0usize;
    let mut indexer = Indexing::default();
    loop {
        tokio::select! {
            job = queue.recv() => {
                let Some(job) = job else { break };
                batch.push(job);
                // After a large commit, the callers it just answered are about to come back:
                // let them queue up for this batch rather than wait a whole commit for the
                // next (otherwise closed-loop writers split into two half-size convoys).
                if last_batch >= CONVOY {
                    for _ in 0..YIELDS {
                        tokio::task::yield_now().await;
                    }
                }
                while batch.len() < config.max_batch {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                last_batch = batch.len();
                let head = commit(&*store, &*clock, &mut batch).await;
                if let (Some(c), Some(head)) = (checkpointer.as_mut(), head) {
                    c.after_commit(&*store, &*clock, head).await;
                }
                unindexed += last_batch;
                if unindexed >= INDEX_BATCH as usize && indexer.start(&store) {
                    unindexed = 0;
                }
            }
            _ = tick.tick() => {
                if let Some(c) = checkpointer.as_mut() {
                    c.on_tick(&*store, &*clock).await;
                }
                // What is left below a batch, and anything other processes appended.
                if indexer.start(&store) {
                    unindexed = 0;
                }
            }
            Some(done) = flush_requests.recv() => {
                if let Some(c) = checkpointer.as_mut() {
                    c.flush(&*store, &*clock).await;
                }
                let _ = done.send(());
            }
        }
    }
    if let Some(c) = checkpointer.as_mut() {
        c.flush(&*store, &*clock).await;
    }
}

/// The copying of new entries into the review table, in a task of its own so that commits
/// go on meanwhile; one run at a time.
#[derive(Default)]
struct Indexing {
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Indexing {
    /// Starts a run unless one is still going; says whether it started one.
    fn start(&mut self, store: &Arc<dyn LogStore>) -> bool {
        if self.running.as_ref().is_some_and(|run| !run.is_finished()) {
            return false;
        }
        let store = store.clone();
        self.running = Some(tokio::spawn(async move {
            index_for_review(&*store).await;
        }));
        true
    }
}

/// Copies batches until one comes back short (a backlog, after a restart or another
/// process's appends, is worked off in one run). A failure costs only search speed, never
/// an entry: it is logged and left to the next run.
async fn index_for_review(store: &dyn LogStore) {
    loop {
        match store.index_for_review(INDEX_BATCH).await {
            Ok(n) if n >= u64::from(INDEX_BATCH) => continue,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not index new entries for review; searches read them from the log until the next try");
                return;
            }
        }
    }
}

/// Commits one batch and answers every caller in it; returns the new tree head.
async fn commit(store: &dyn LogStore, clock: &dyn Clock, batch: &mut Vec<Job>) -> Option<LogHead> {
    let events: Vec<Event> = batch.iter().map(|j| j.event.clone()).collect();
    let result = store.append_entries(&events, clock.now()).await;
    match result {
        Ok(appended) => {
            for (job, (entry, leaf)) in batch
                .drain(..)
                .zip(appended.entries.iter().zip(&appended.leaf_hashes))
            {
                let _ = job
                    .reply
                    .send(Ok(Receipt::new(entry.seq, entry.timestamp, *leaf)));
            }
            Some(LogHead {
                size: appended.size,
                root: appended.root,
            })
        }
        Err(e) => {
            let error = match e {
                StoreError::Unavailable(m) => RecordError::Unavailable(m),
                other => RecordError::Unavailable(other.to_string()),
            };
            tracing::error!(error = %error, entries = batch.len(), "could not record; refusing the actions");
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(error.clone()));
            }
            None
        }
    }
}
