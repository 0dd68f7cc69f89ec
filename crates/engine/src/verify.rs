//! Verification: recompute every leaf and the tree from the entries as stored, and hold
//! them against everything that was signed — the checkpoints in the database, the copies
//! in `checkpoints.log`, and a checkpoint the auditor kept elsewhere. The first thing that
//! does not hold is reported with the `seq` where it shows.

use std::collections::BTreeMap;

use accesslog_core::checkpoint::{Checkpoint, NoteVerifier};
use accesslog_core::entry::Entry;
use accesslog_core::merkle::{Frontier, Hash, leaf_hash};
use accesslog_store::{LeafRow, LogStore, StoreError};

/// Entries read per round trip.
const PAGE: u32 = 20_000;
/// Pages read ahead of the one being checked.
const AHEAD: usize = 2;

/// A signed checkpoint to hold the log against, and where it came from.
#[derive(Clone, Debug)]
pub struct SignedCheckpoint {
    pub origin: CheckpointOrigin,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointOrigin {
    /// The tree state the database keeps beside the entries (not signed, but written in
    /// the same transaction as them).
    TreeState,
    Database,
    CheckpointsLog,
    External,
}

impl std::fmt::Display for CheckpointOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CheckpointOrigin::TreeState => "the tree state in the database",
            CheckpointOrigin::Database => "the database",
            CheckpointOrigin::CheckpointsLog => "checkpoints.log",
            CheckpointOrigin::External => "the external checkpoint",
        })
    }
}

/// What is wrong, at the first place it shows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("entry {seq} was altered: its contents no longer hash to the leaf recorded for it")]
    EntryAltered { seq: u64 },
    #[error("entry {seq} is missing: the log jumps from {} to {found}", seq - 1)]
    EntryMissing { seq: u64, found: u64 },
    #[error("order changed: entry {seq} holds the entry recorded as {recorded_as}")]
    OrderChanged { seq: u64, recorded_as: u64 },
    #[error(
        "extra entry {seq}: it is not part of the signed tree (inserted behind the application's back)"
    )]
    ExtraEntry { seq: u64 },
    #[error("log truncated: {origin} records {size} entries, but the log has only {found} (entries were deleted, or the database was restored from an older copy); the first missing entry is {}", found + 1)]
    Truncated {
        size: u64,
        found: u64,
        origin: CheckpointOrigin,
    },
    #[error(
        "checkpoint for {size} entries from {origin} does not match the log: entries up to {size} were altered after it was signed"
    )]
    CheckpointMismatch { size: u64, origin: CheckpointOrigin },
    #[error("a checkpoint from {origin} has an invalid signature: {why}")]
    BadSignature {
        origin: CheckpointOrigin,
        why: String,
    },
    #[error(
        "fork: the external checkpoint for {size} entries does not match this log's first {size} entries; the log was rewritten after that checkpoint was taken"
    )]
    Fork { size: u64 },
    #[error("the tree root recorded in the database does not match the entries")]
    RootMismatch,
    #[error(
        "the review copy differs from the log at entry {seq}: {what} (the filtered review would hide or misstate it)"
    )]
    ReviewCopy { seq: u64, what: &'static str },
    #[error(
        "checkpoints.log is out of order: the checkpoint of {size} entries comes after one of {previous} (it was edited, or written without its lock)"
    )]
    CheckpointsLogOrder { size: u64, previous: u64 },
    #[error(
        "entry {seq} is dated {at}, before entry {}'s {previous}: time must not go back as seq goes up (the entries were written out of order, or their clocks disagree)",
        seq - 1
    )]
    TimeOrder {
        seq: u64,
        at: String,
        previous: String,
    },
}

impl Problem {
    /// The first `seq` the problem concerns, when there is one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Problem::EntryAltered { seq }
            | Problem::EntryMissing { seq, .. }
            | Problem::OrderChanged { seq, .. }
            | Problem::ExtraEntry { seq }
            | Problem::TimeOrder { seq, .. }
            | Problem::ReviewCopy { seq, .. } => Some(*seq),
            Problem::Truncated { found, .. } => Some(found + 1),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Problem(Problem),
    #[error("could not read the log: {0}")]
    Store(#[from] StoreError),
}

/// What verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    pub root: Hash,
    pub checkpoints: usize,
    /// The size of the external checkpoint the log was shown to extend.
    pub extends_external: Option<u64>,
    /// Entries whose payload was pruned or redacted: checked only by the leaf hash kept
    /// for them, through the tree (their contents are in an archive bundle, or erased).
    pub pruned: u64,
}

/// Verifies the whole log. `checkpoints` are the signed notes from outside the database
/// (`checkpoints.log`, an external file); those in the database are read here.
/// `progress(done, total)` is called as entries are checked.
pub async fn verify(
    store: &dyn LogStore,
    verifier: &NoteVerifier,
    checkpoints: Vec<SignedCheckpoint>,
    progress: impl FnMut(u64, u64),
) -> Result<Verified, VerifyError> {
    verify_in_pages(store, verifier, checkpoints, progress, PAGE).await
}

/// `verify`, reading `page` entries at a time: tests use small pages to cross page
/// boundaries with small logs.
#[doc(hidden)]
pub async fn verify_in_pages(
    store: &dyn LogStore,
    verifier: &NoteVerifier,
    checkpoints: Vec<SignedCheckpoint>,
    mut progress: impl FnMut(u64, u64),
    page_size: u32,
) -> Result<Verified, VerifyError> {
    let problem = |p: Problem| Err(VerifyError::Problem(p));
    let mut head = store.log_head().await?;

    // Every signature first: a forged checkpoint must not be used as evidence.
    let mut notes: Vec<SignedCheckpoint> = store
        .checkpoints()
        .await?
        .into_iter()
        .map(|c| SignedCheckpoint {
            origin: CheckpointOrigin::Database,
            note: c.note,
        })
        .collect();
    notes.extend(checkpoints);
    let mut targets: BTreeMap<u64, Vec<(Checkpoint, CheckpointOrigin)>> = BTreeMap::new();
    // checkpoints.log is written in size order; the last size read from it.
    let mut log_file_size = None;
    for n in &notes {
        let cp = match verifier.verify(&n.note) {
            Ok(cp) => cp,
            Err(e) => {
                return problem(Problem::BadSignature {
                    origin: n.origin.clone(),
                    why: e.to_string(),
                });
            }
        };
        if cp.origin != verifier.name() {
            return problem(Problem::BadSignature {
                origin: n.origin.clone(),
                why: format!(
                    "it is for the log {:?}, not {:?}",
                    cp.origin,
                    verifier.name()
                ),
            });
        }
        if n.origin == CheckpointOrigin::CheckpointsLog {
            if let Some(previous) = log_file_size
                && cp.size < previous
            {
                return problem(Problem::CheckpointsLogOrder {
                    size: cp.size,
                    previous,
                });
            }
            log_file_size = Some(cp.size);
        }
        targets
            .entry(cp.size)
            .or_default()
            .push((cp, n.origin.clone()));
    }
    let external = notes
        .iter()
        .find(|n| n.origin == CheckpointOrigin::External)
        .and_then(|n| verifier.verify(&n.note).ok());

    let total = head
        .size
        .max(targets.keys().next_back().copied().unwrap_or(0));
    let mut frontier = Frontier::new();
    let mut expected = 1u64;
    let mut reread_at = None;
    // The previous entry's timestamp, in µs: each must be at or after it.
    let mut last_at = i64::MIN;
    // The first difference of the review copy, said only if the log itself holds: an
    // entry rewritten in the log also differs from its copy, and the log is the story.
    let mut review_copy = None;
    let mut pruned = 0u64;
    // The walk reads each row's recomputed and stored leaf (cheap). A page where anything
    // is off is read again in full, to say exactly what is wrong.
    // Pages are read ahead, AHEAD at a time (each on a thread of its own with SQLite),
    // assuming seqs are dense; a page that turns out not to start where the walk is gets
    // thrown away and read again from the right place.
    let mut ahead: std::collections::VecDeque<(u64, Prefetch<'_, _>)> =
        std::collections::VecDeque::new();
    loop {
        if ahead
            .front()
            .is_some_and(|(after, _)| *after != expected - 1)
        {
            ahead.clear();
        }
        while ahead.len() < AHEAD {
            let after = ahead
                .back()
                .map_or(expected - 1, |(a, _)| a + u64::from(page_size));
            ahead.push_back((
                after,
                Prefetch::start(store.recomputed_leaves_after(after, page_size)).await,
            ));
        }
        let Some((_, pending)) = ahead.pop_front() else {
            break;
        };
        let page = pending.finish().await?;
        if page.is_empty() {
            // A live server may have appended since the head was read: read once more
            // while the recorded tree is ahead of what was walked; if still nothing, the
            // rows are missing, not late.
            ahead.clear();
            head = store.log_head().await?;
            if head.size > frontier.size() && reread_at != Some(frontier.size()) {
                reread_at = Some(frontier.size());
                continue;
            }
            break;
        }
        let clean = page.iter().zip(expected..).all(|(r, want)| {
            u64::try_from(r.seq) == Ok(want)
                && want <= head.size
                && r.leaf.is_some()
                && r.leaf == r.stored
        });
        if clean {
            for (row, seq) in page.iter().zip(expected..) {
                let Some(leaf) = row.leaf else { continue };
                if let Some(what) = row.review
                    && review_copy.is_none()
                {
                    review_copy = Some(Problem::ReviewCopy { seq, what });
                }
                if row.pruned {
                    pruned += 1;
                }
                if !(row.pruned && row.timestamp == i64::MIN) {
                    in_time(seq, row.timestamp, &mut last_at)?;
                }
                frontier.append(leaf);
                check_targets(&targets, &frontier)?;
            }
            expected += page.len() as u64;
        } else {
            let rows = store
                .entries_with_leaves_after(expected - 1, page_size)
                .await?;
            for row in &rows {
                let leaf = check_row(store, row, expected, &mut head, &rows).await?;
                pruned += u64::from(row.pruned);
                if let Ok(entry) = &row.entry {
                    in_time(expected, entry.timestamp.as_micros(), &mut last_at)?;
                }
                frontier.append(leaf);
                check_targets(&targets, &frontier)?;
                expected += 1;
            }
        }
        progress(frontier.size(), total);
    }

    let found = frontier.size();
    if let Some((&size, cps)) = targets.range(found + 1..).next()
        && let Some((_, origin)) = cps.first()
    {
        return problem(Problem::Truncated {
            size,
            found,
            origin: origin.clone(),
        });
    }
    if head.size > found {
        return problem(Problem::Truncated {
            size: head.size,
            found,
            origin: CheckpointOrigin::TreeState,
        });
    }
    if head.size < found {
        return problem(Problem::ExtraEntry { seq: head.size + 1 });
    }
    if head.root != frontier.root() {
        return problem(Problem::RootMismatch);
    }
    // The review reads its filtered lists from a copy of the log (SQLite); it must agree.
    if let Some(p) = review_copy {
        return problem(p);
    }
    if let Some(d) = store.check_review_copy().await? {
        return problem(Problem::ReviewCopy {
            seq: d.seq,
            what: d.what,
        });
    }
    Ok(Verified {
        entries: found,
        root: frontier.root(),
        checkpoints: notes.len(),
        extends_external: external.map(|cp| cp.size),
        pruned,
    })
}

/// Entry `seq`, dated `at` (µs), must not be dated before the one before it.
fn in_time(seq: u64, at: i64, last_at: &mut i64) -> Result<(), VerifyError> {
    if at < *last_at {
        let rfc = |t| accesslog_core::Timestamp::from_micros(t).to_rfc3339();
        return Err(VerifyError::Problem(Problem::TimeOrder {
            seq,
            at: rfc(at),
            previous: rfc(*last_at),
        }));
    }
    *last_at = at;
    Ok(())
}

/// The signed checkpoints at the frontier's size must have its root.
fn check_targets(
    targets: &BTreeMap<u64, Vec<(Checkpoint, CheckpointOrigin)>>,
    frontier: &Frontier,
) -> Result<(), VerifyError> {
    if let Some(cps) = targets.get(&frontier.size()) {
        for (cp, origin) in cps {
            if cp.root != frontier.root() {
                return Err(VerifyError::Problem(
                    if *origin == CheckpointOrigin::External {
                        Problem::Fork { size: cp.size }
                    } else {
                        Problem::CheckpointMismatch {
                            size: cp.size,
                            origin: origin.clone(),
                        }
                    },
                ));
            }
        }
    }
    Ok(())
}

/// Checks one fully read row at the place `expected`; returns its leaf when all is well.
async fn check_row(
    store: &dyn LogStore,
    row: &LeafRow,
    expected: u64,
    head: &mut accesslog_store::LogHead,
    page: &[LeafRow],
) -> Result<Hash, VerifyError> {
    let problem = |p: Problem| Err(VerifyError::Problem(p));
    let Ok(seq) = u64::try_from(row.seq) else {
        return problem(Problem::ExtraEntry { seq: 0 });
    };
    if seq == 0 {
        return problem(Problem::ExtraEntry { seq: 0 });
    }
    if seq != expected {
        return problem(Problem::EntryMissing {
            seq: expected,
            found: seq,
        });
    }
    if seq > head.size {
        // Past the tree recorded when we started: fine if the tree has grown since.
        *head = store.log_head().await?;
        if seq > head.size {
            return problem(Problem::ExtraEntry { seq });
        }
    }
    if row.pruned {
        // Only the kept leaf is left: the tree and the checkpoints check it.
        return row
            .leaf
            .ok_or(VerifyError::Problem(Problem::EntryAltered { seq }));
    }
    let Ok(entry) = &row.entry else {
        // The row no longer even reads as an entry: it was edited.
        return problem(Problem::EntryAltered { seq });
    };
    let leaf = leaf_hash(&entry.canonical_bytes());
    match &row.leaf {
        Some(stored) if *stored == leaf => Ok(leaf),
        Some(stored) => {
            problem(misplaced(entry, stored, page).unwrap_or(Problem::EntryAltered { seq }))
        }
        None => problem(Problem::EntryAltered { seq }),
    }
}

/// A read started now and finished later: polled once so that it gets going (the SQLite
/// store hands the read to a thread of its own) while the caller hashes the previous page.
enum Prefetch<'a, T> {
    Ready(T),
    Running(std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>),
}

impl<'a, T> Prefetch<'a, T> {
    async fn start(future: impl std::future::Future<Output = T> + Send + 'a) -> Self {
        let mut future: std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>> =
            Box::pin(future);
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx))).await;
        match polled {
            std::task::Poll::Ready(v) => Prefetch::Ready(v),
            std::task::Poll::Pending => Prefetch::Running(future),
        }
    }

    async fn finish(self) -> T {
        match self {
            Prefetch::Ready(v) => v,
            Prefetch::Running(f) => f.await,
        }
    }
}

/// When an entry does not match the leaf stored with it, tries the entry's contents at the
/// other positions of the page: if they match there, rows were moved (reordered), not
/// edited.
fn misplaced(entry: &Entry, stored_leaf: &Hash, page: &[LeafRow]) -> Option<Problem> {
    page.iter()
        .filter_map(|row| u64::try_from(row.seq).ok())
        .find_map(|other| {
            let as_other = Entry {
                seq: other,
                timestamp: entry.timestamp,
                event: entry.event.clone(),
            };
            (other != entry.seq && leaf_hash(&as_other.canonical_bytes()) == *stored_leaf)
                .then_some(Problem::OrderChanged {
                    seq: entry.seq,
                    recorded_as: other,
                })
        })
}

/// Splits the text of `checkpoints.log` (signed notes, each followed by a blank line) into
/// notes.
pub fn split_checkpoints_log(text: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let mut current = String::new();
    let mut in_signatures = false;
    for line in text.split_inclusive('\n') {
        if line == "\n" {
            if in_signatures {
                notes.push(std::mem::take(&mut current));
                in_signatures = false;
            } else {
                current.push_str(line);
                in_signatures = true;
            }
            continue;
        }
        current.push_str(line);
    }
    if !current.trim().is_empty() {
        notes.push(current);
    }
    notes
}
