//! What the recorder does beside the commits, in a task of its own so that callers never
//! wait for it: signing checkpoints and copying new entries into the review table.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use accesslog_core::Clock;
use accesslog_store::{LogHead, LogStore};
use tokio::sync::{mpsc, oneshot};

use super::{Checkpointer, INDEX_BATCH};

/// Runs until the committer stops (every `Recorder` is gone), then signs what is left.
///
/// - `due_heads`: the heads the committer announces (due a checkpoint, or a batch to
///   index), each handled as it was when committed;
/// - `latest`: the newest head committed, announced or not, read on the tick and before
///   a flush;
/// - `flush_requests`: `Recorder::checkpoint_now`.
pub(super) async fn run(
    store: Arc<dyn LogStore>,
    clock: Arc<dyn Clock>,
    mut checkpointer: Option<Checkpointer>,
    mut due_heads: mpsc::UnboundedReceiver<LogHead>,
    latest: Arc<Mutex<Option<LogHead>>>,
    mut flush_requests: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
) {
    let latest = move || *latest.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(c) = checkpointer.as_mut()
        && let Err(e) = c.resume(&*store).await
    {
        tracing::error!(error = %e, "could not read the latest checkpoint; checkpoints restart from the log head");
    }
    // A backlog (entries appended before this recorder ran) is copied at once.
    let mut indexer = Indexing::default();
    indexer.start(&store, latest().map_or(0, |h| h.size));
    // The first tick a second from now: one at once would see the latest head before the
    // announced ones that precede it, and could sign past a head that was due.
    let second = Duration::from_secs(1);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + second, second);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            head = due_heads.recv() => {
                let Some(head) = head else { break };
                due(&store, &*clock, checkpointer.as_mut(), &mut indexer, head).await;
            }
            _ = tick.tick() => {
                // The announced heads first, each signed as due; then the newest.
                while let Ok(head) = due_heads.try_recv() {
                    due(&store, &*clock, checkpointer.as_mut(), &mut indexer, head).await;
                }
                let head = latest();
                if let Some(c) = checkpointer.as_mut() {
                    if let Some(head) = head {
                        c.saw(head);
                    }
                    c.on_tick(&*store, &*clock).await;
                }
                // What is left below a batch, and anything other processes appended.
                indexer.start(&store, head.map_or(indexer.started_at, |h| h.size));
            }
            Some(done) = flush_requests.recv() => {
                while let Ok(head) = due_heads.try_recv() {
                    due(&store, &*clock, checkpointer.as_mut(), &mut indexer, head).await;
                }
                if let Some(c) = checkpointer.as_mut() {
                    if let Some(head) = latest() {
                        c.saw(head);
                    }
                    c.flush(&*store, &*clock).await;
                }
                let _ = done.send(());
            }
        }
    }
    if let Some(c) = checkpointer.as_mut() {
        if let Some(head) = latest() {
            c.saw(head);
        }
        c.flush(&*store, &*clock).await;
    }
}

/// An announced head: signed if a checkpoint is due at it, and a batch copied for review
/// if enough entries came since the last copy started.
async fn due(
    store: &Arc<dyn LogStore>,
    clock: &dyn Clock,
    checkpointer: Option<&mut Checkpointer>,
    indexer: &mut Indexing,
    head: LogHead,
) {
    if let Some(c) = checkpointer {
        c.after_commit(&**store, clock, head).await;
    }
    if head.size >= indexer.started_at + u64::from(INDEX_BATCH) {
        indexer.start(store, head.size);
    }
}

/// The copying of new entries into the review table, in a task of its own so that
/// checkpoints go on meanwhile; one run at a time.
#[derive(Default)]
struct Indexing {
    running: Option<tokio::task::JoinHandle<()>>,
    /// The log's size when the last run started, as far as this process knows.
    started_at: u64,
}

impl Indexing {
    /// Starts a run unless one is still going.
    fn start(&mut self, store: &Arc<dyn LogStore>, size: u64) {
        if self.running.as_ref().is_some_and(|run| !run.is_finished()) {
            return;
        }
        let store = store.clone();
        self.started_at = size;
        self.running = Some(tokio::spawn(async move {
            index_for_review(&*store).await;
        }));
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
