//! Group commit: the committer takes every request waiting, appends them in one
//! transaction, answers each caller, and tells housekeeping of heads that call for work.
//! The same loop runs on a thread of its own over a [`BlockingAppend`] (SQLite) or as a
//! task over the async [`LogStore`] (PostgreSQL).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use accesslog_core::Clock;
use accesslog_core::entry::{Entry, Event};
use accesslog_store::{Appended, BlockingAppend, LogHead, LogStore, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

use super::checkpointer::Cadence;
use super::{INDEX_BATCH, Job, Receipt, RecordError};

/// A batch at least this large means many callers are waiting on the log.
const CONVOY: usize = 2;
/// How many times the committer yields before taking a batch after a large one.
const YIELDS: usize = 4;

type Reply = oneshot::Sender<Result<Receipt, RecordError>>;

pub(super) struct Committer {
    pub(super) clock: Arc<dyn Clock>,
    pub(super) max_batch: usize,
    pub(super) queue: mpsc::Receiver<Job>,
    pub(super) announcer: Announcer,
    /// Where committed entries go once their callers have been answered, if anywhere.
    pub(super) tap: Option<mpsc::Sender<Vec<Entry>>>,
}

impl Committer {
    /// Commits on a thread of its own, which ends when every `Recorder` is gone. If the
    /// thread cannot start, the queue is dropped with it and every record is refused.
    pub(super) fn spawn_thread(self, appender: Box<dyn BlockingAppend>) {
        let started = std::thread::Builder::new()
            .name("accesslog-recorder".into())
            .spawn(move || self.run_blocking(appender));
        if let Err(e) = started {
            tracing::error!(error = %e, "could not start the recorder's thread; refusing every action");
        }
    }

    fn run_blocking(mut self, mut appender: Box<dyn BlockingAppend>) {
        let mut batch = Batch::with_capacity(self.max_batch);
        let mut arrivals = Arrivals::default();
        while let Some(job) = self.queue.blocking_recv() {
            batch.push(job);
            // After a large commit, the callers it just answered are about to come back:
            // let them queue up for this batch rather than wait a whole commit for the
            // next (otherwise closed-loop callers split into two half-size convoys).
            if batch.last >= CONVOY {
                for _ in 0..YIELDS {
                    std::thread::yield_now();
                }
            }
            batch.fill(&mut self.queue, self.max_batch);
            if worth_waiting(&batch, self.max_batch, &arrivals) {
                std::thread::sleep(WINDOW);
                batch.fill(&mut self.queue, self.max_batch);
            }
            let size = batch.events.len();
            arrivals.commit_of(size);
            let started = Instant::now();
            // The events move into the entries (the vector keeps its capacity).
            let result = appender.append(&mut batch.events, self.clock.now());
            metrics::histogram!("accesslog_commit_seconds").record(started.elapsed());
            batch.settle(
                size,
                result,
                &mut self.announcer,
                &*self.clock,
                self.tap.as_ref(),
            );
        }
    }

    pub(super) async fn run_task(mut self, store: Arc<dyn LogStore>) {
        let mut batch = Batch::with_capacity(self.max_batch);
        while let Some(job) = self.queue.recv().await {
            batch.push(job);
            if batch.last >= CONVOY {
                for _ in 0..YIELDS {
                    tokio::task::yield_now().await;
                }
            }
            batch.fill(&mut self.queue, self.max_batch);
            let size = batch.events.len();
            let started = Instant::now();
            let result = store.append_entries(&batch.events, self.clock.now()).await;
            metrics::histogram!("accesslog_commit_seconds").record(started.elapsed());
            batch.settle(
                size,
                result,
                &mut self.announcer,
                &*self.clock,
                self.tap.as_ref(),
            );
        }
    }
}

/// How long the committer waits for more requests before a commit, when several callers
/// are sending them at least this often: each commit is an `fsync`, whose cost (on a
/// virtual disk, a quarter of the committer's CPU) is the same for one entry or many. At
/// light load, or with one caller at a time, it never waits.
const WINDOW: Duration = Duration::from_millis(2);

/// The rate at which requests reach the committer, from the commits so far: the mean gap
/// between requests, smoothed over the last several commits.
#[derive(Default)]
struct Arrivals {
    last_commit: Option<Instant>,
    /// Smoothed gap between requests, in seconds.
    gap: Option<f64>,
}

impl Arrivals {
    /// Notes a commit of `n` requests, the ones that arrived since the previous commit.
    fn commit_of(&mut self, n: usize) {
        let now = Instant::now();
        if let Some(last) = self.last_commit.replace(now) {
            let gap = now.duration_since(last).as_secs_f64() / n.max(1) as f64;
            self.gap = Some(self.gap.map_or(gap, |g| 0.8 * g + 0.2 * gap));
        }
    }

    /// Whether at least one more request is likely within `window`.
    fn more_expected_within(&self, window: Duration) -> bool {
        self.gap.is_some_and(|g| g < window.as_secs_f64())
    }
}

/// Whether to wait [`WINDOW`] for more requests before committing `batch`: only with
/// several callers (a lone caller's next request cannot come before this one is answered,
/// however fast it has been calling), room in the batch, and requests arriving more often
/// than the window.
fn worth_waiting(batch: &Batch, max_batch: usize, arrivals: &Arrivals) -> bool {
    let several = batch.last >= CONVOY || batch.events.len() >= CONVOY;
    several && batch.events.len() < max_batch && arrivals.more_expected_within(WINDOW)
}

/// The requests of one transaction: their events (appended as they are, not copied) and
/// where each caller waits for its answer.
struct Batch {
    events: Vec<Event>,
    replies: Vec<Reply>,
    /// The size of the batch committed before this one.
    last: usize,
}

impl Batch {
    fn with_capacity(n: usize) -> Self {
        Self {
            events: Vec::with_capacity(n),
            replies: Vec::with_capacity(n),
            last: 0,
        }
    }

    fn push(&mut self, job: Job) {
        self.events.push(job.event);
        self.replies.push(job.reply);
    }

    /// Takes whatever else is waiting, up to `max` in all.
    fn fill(&mut self, queue: &mut mpsc::Receiver<Job>, max: usize) {
        while self.events.len() < max {
            match queue.try_recv() {
                Ok(job) => self.push(job),
                Err(_) => break,
            }
        }
    }

    /// Answers every caller in the batch of `size` requests from the append's result (the
    /// new head is known to housekeeping before any caller hears), and empties it for the
    /// next. Then, with every caller answered, hands the committed entries to `tap` if it
    /// has room: a move, never a wait; a full or closed tap just misses them (its reader
    /// fills gaps from the store).
    fn settle(
        &mut self,
        size: usize,
        result: StoreResult<Appended>,
        announcer: &mut Announcer,
        clock: &dyn Clock,
        tap: Option<&mpsc::Sender<Vec<Entry>>>,
    ) {
        self.last = size;
        self.events.clear();
        metrics::histogram!("accesslog_append_batch_size").record(self.last as f64);
        match result {
            Ok(appended) => {
                count_entries(&appended.entries);
                announcer.committed(
                    LogHead {
                        size: appended.size,
                        root: appended.root,
                    },
                    clock,
                );
                for (reply, (entry, leaf)) in self
                    .replies
                    .drain(..)
                    .zip(appended.entries.iter().zip(&appended.leaf_hashes))
                {
                    let _ = reply.send(Ok(Receipt::new(entry.seq, entry.timestamp, *leaf)));
                }
                if let Some(tap) = tap {
                    let _ = tap.try_send(appended.entries);
                }
            }
            Err(e) => {
                let error = match e {
                    StoreError::Unavailable(m) => RecordError::Unavailable(m),
                    other => RecordError::Unavailable(other.to_string()),
                };
                tracing::error!(error = %error, entries = self.replies.len(), "could not record; refusing the actions");
                metrics::counter!("accesslog_record_failures_total")
                    .increment(self.replies.len() as u64);
                for reply in self.replies.drain(..) {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Adds a batch's entries to `accesslog_entries_total`, one increment per activity and
/// outcome in it rather than one per entry: each labelled increment looks its counter up
/// in the registry, and a batch is mostly one or two kinds of entry.
fn count_entries(entries: &[Entry]) {
    let mut kinds: Vec<(&'static str, &'static str, u64)> = Vec::new();
    for e in entries {
        let kind = (e.event.activity.as_str(), e.event.outcome.as_str());
        match kinds.iter_mut().find(|(a, o, _)| (*a, *o) == kind) {
            Some((_, _, n)) => *n += 1,
            None => kinds.push((kind.0, kind.1, 1)),
        }
    }
    for (activity, outcome, n) in kinds {
        metrics::counter!(
            "accesslog_entries_total",
            "activity" => activity,
            "outcome" => outcome
        )
        .increment(n);
    }
}

/// Tells housekeeping of the heads that call for work: one due a checkpoint (by the
/// checkpointer's own rule, [`Cadence::is_due`]), or [`INDEX_BATCH`] entries since the
/// last head it was told of. Every other head is only kept as the latest, which
/// housekeeping reads on its tick and before a flush. So under load it wakes once per
/// checkpoint, not once per commit.
pub(super) struct Announcer {
    heads: mpsc::UnboundedSender<LogHead>,
    latest: Arc<Mutex<Option<LogHead>>>,
    cadence: Option<Arc<Cadence>>,
    announced: u64,
}

impl Announcer {
    pub(super) fn new(
        heads: mpsc::UnboundedSender<LogHead>,
        latest: Arc<Mutex<Option<LogHead>>>,
        cadence: Option<Arc<Cadence>>,
    ) -> Self {
        Self {
            heads,
            latest,
            cadence,
            announced: 0,
        }
    }

    fn committed(&mut self, head: LogHead, clock: &dyn Clock) {
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(head);
        let checkpoint_due = head.size > self.announced
            && self
                .cadence
                .as_ref()
                .is_some_and(|c| c.is_due(head.size, clock.now()));
        let index_due = head.size >= self.announced + u64::from(INDEX_BATCH);
        if checkpoint_due || index_due {
            self.announced = head.size;
            let _ = self.heads.send(head);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(last: usize, now: usize) -> Batch {
        let mut b = Batch::with_capacity(8);
        b.last = last;
        for i in 0..now {
            b.events.push(Event::new(
                &format!("u{i}@example.com"),
                accesslog_core::entry::Activity::Read,
                "GET /x",
            ));
        }
        b
    }

    fn arriving_every(gap: Duration) -> Arrivals {
        Arrivals {
            last_commit: None,
            gap: Some(gap.as_secs_f64()),
        }
    }

    #[test]
    fn waits_only_for_several_frequent_callers_with_room_left() {
        let busy = arriving_every(Duration::from_micros(100));
        let quiet = arriving_every(Duration::from_millis(50));
        // One caller at a time, however fast: never.
        assert!(!worth_waiting(&batch(1, 1), 8, &busy));
        // Several callers (the last batch, or this one), arriving often: yes.
        assert!(worth_waiting(&batch(3, 1), 8, &busy));
        assert!(worth_waiting(&batch(1, 2), 8, &busy));
        // Arriving rarely, or no room left: no.
        assert!(!worth_waiting(&batch(3, 2), 8, &quiet));
        assert!(!worth_waiting(&batch(3, 8), 8, &busy));
        // Before any commit there is no rate yet: no.
        assert!(!worth_waiting(&batch(3, 2), 8, &Arrivals::default()));
    }

    #[test]
    fn the_rate_follows_the_commits() {
        let mut a = Arrivals::default();
        a.commit_of(1);
        assert!(a.gap.is_none(), "one commit gives no interval");
        std::thread::sleep(Duration::from_millis(20));
        a.commit_of(1000);
        let gap = a.gap.expect("a rate");
        // At least 20 ms passed (sleep's promise) for 1000 requests: a gap of at least 20 µs.
        assert!(gap >= 0.020 / 1000.0, "{gap}");
    }
}
