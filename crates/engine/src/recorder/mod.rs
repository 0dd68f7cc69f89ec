//! The recorder: the one way anything is written to the Access Log.
//!
//! Callers hand it an [`Event`] and wait for a [`Receipt`], which exists only once the
//! entry is durably committed. A single committer drains every request waiting at that
//! moment into one transaction (group commit), so throughput grows with concurrency while
//! each caller still waits only for its own entry ([`commit`]). The committer answers the
//! callers itself: on SQLite it is a thread that owns the log's connection, so a commit
//! costs two thread hand-offs (caller to committer and back), not four.
//!
//! Everything else happens beside the commits, in a task of its own ([`housekeeping`]):
//! signing checkpoints (the committer tells it of each head at which one is due) and,
//! every [`INDEX_BATCH`] entries and once a second, copying new entries into the review
//! table, whose indexes the review searches use. So neither costs callers anything.

mod checkpointer;
mod commit;
mod housekeeping;
mod receipt;

use std::sync::{Arc, Mutex};

use accesslog_core::Clock;
use accesslog_core::entry::Event;
use accesslog_store::{LogHead, LogStore};
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
    /// Starts the committer and the housekeeping task. `checkpointer` signs checkpoints as
    /// the log grows. The committer is a thread of its own when the store offers a
    /// [`BlockingAppend`](accesslog_store::BlockingAppend) (SQLite), else a task.
    pub fn start(
        store: Arc<dyn LogStore>,
        clock: Arc<dyn Clock>,
        checkpointer: Option<Checkpointer>,
        config: RecorderConfig,
    ) -> Self {
        Self::start_tapped(store, clock, checkpointer, config, None)
    }

    /// As [`Recorder::start`], and hands each committed batch of entries to `tap` once
    /// its callers have their receipts (if the tap has room; see [`commit`]). For readers
    /// of what is committed, such as the alert rules, that should not read it back.
    pub fn start_tapped(
        store: Arc<dyn LogStore>,
        clock: Arc<dyn Clock>,
        checkpointer: Option<Checkpointer>,
        config: RecorderConfig,
        tap: Option<mpsc::Sender<Vec<accesslog_core::entry::Entry>>>,
    ) -> Self {
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let (flushes, flush_requests) = mpsc::unbounded_channel();
        let (heads, due_heads) = mpsc::unbounded_channel();
        let latest = Arc::new(Mutex::new(None::<LogHead>));
        let announcer = commit::Announcer::new(
            heads,
            latest.clone(),
            checkpointer.as_ref().map(Checkpointer::cadence),
        );
        let committer = commit::Committer {
            clock: clock.clone(),
            max_batch: config.max_batch.max(1),
            queue,
            announcer,
            tap,
        };
        match store.blocking_appender() {
            Ok(Some(appender)) => committer.spawn_thread(appender),
            Ok(None) => {
                tokio::spawn(committer.run_task(store.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "no connection of the recorder's own; committing through the store's pool");
                tokio::spawn(committer.run_task(store.clone()));
            }
        }
        tokio::spawn(housekeeping::run(
            store,
            clock,
            checkpointer,
            due_heads,
            latest,
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

    /// Whether the committer is still taking entries (it stops only when it failed for
    /// good or the store was closed).
    pub fn is_running(&self) -> bool {
        !self.jobs.is_closed()
    }

    /// Entries waiting for the committer, and how many may wait at most.
    pub fn queue_depth(&self) -> (usize, usize) {
        let max = self.jobs.max_capacity();
        (max - self.jobs.capacity(), max)
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
