//! Signing checkpoints as the log grows: every N entries, or T seconds after activity,
//! whichever comes first. Each checkpoint is kept in the database and appended to the
//! site's `checkpoints.log`, a copy outside the database that survives a restored backup.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use accesslog_core::checkpoint::{Checkpoint, LogSigner};
use accesslog_core::{Clock, Timestamp};
use accesslog_store::{LogHead, LogStore, StoreResult, StoredCheckpoint};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Sign once this many entries have been added since the last checkpoint.
    pub every_entries: u64,
    /// Sign once this long has passed since the last checkpoint, if entries were added.
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            every_entries: 1000,
            every: Duration::from_secs(10),
        }
    }
}

/// When a checkpoint is due: the policy and the last checkpoint signed. Shared between
/// the checkpointer, which signs, and the recorder's committer, which tells it of every
/// head at which one is due (and of no other), so that each checkpoint covers exactly the
/// head that made it due while the committer never waits for a signature.
#[derive(Debug)]
pub(crate) struct Cadence {
    policy: CheckpointPolicy,
    last_size: AtomicU64,
    /// In microseconds; `NEVER` before the first checkpoint.
    last_at: AtomicI64,
}

const NEVER: i64 = i64::MIN;

impl Cadence {
    fn new(policy: CheckpointPolicy) -> Self {
        Self {
            policy,
            last_size: AtomicU64::new(0),
            last_at: AtomicI64::new(NEVER),
        }
    }

    fn last_size(&self) -> u64 {
        self.last_size.load(Ordering::Acquire)
    }

    fn signed(&self, size: u64, at: Timestamp) {
        self.last_at.store(at.as_micros(), Ordering::Release);
        self.last_size.store(size, Ordering::Release);
    }

    /// Whether enough time has passed since the last checkpoint (or there was none).
    fn due_by_time(&self, now: Timestamp) -> bool {
        let last_at = self.last_at.load(Ordering::Acquire);
        last_at == NEVER || Timestamp::from_micros(last_at) <= now.minus(self.policy.every)
    }

    /// Whether a log of `size` entries is due a checkpoint at `now`: it has entries no
    /// checkpoint covers, and enough of them or enough time since the last one. Read by
    /// another thread, a stale answer is only ever "due" too early, never missed: the
    /// checkpointer decides again with the current state.
    pub(crate) fn is_due(&self, size: u64, now: Timestamp) -> bool {
        let last_size = self.last_size();
        size > last_size && (size - last_size >= self.policy.every_entries || self.due_by_time(now))
    }
}

#[derive(Debug)]
pub struct Checkpointer {
    signer: LogSigner,
    cadence: Arc<Cadence>,
    log_file: Option<PathBuf>,
    /// The newest head this process committed that no checkpoint covers yet.
    pending: Option<LogHead>,
}

impl Checkpointer {
    /// `log_file`: where to append each signed note (the site's `checkpoints.log`).
    pub fn new(signer: LogSigner, policy: CheckpointPolicy, log_file: Option<PathBuf>) -> Self {
        Self {
            signer,
            cadence: Arc::new(Cadence::new(policy)),
            log_file,
            pending: None,
        }
    }

    pub(crate) fn cadence(&self) -> Arc<Cadence> {
        self.cadence.clone()
    }

    /// Picks up where the stored checkpoints left off.
    pub(crate) async fn resume(&mut self, store: &dyn LogStore) -> StoreResult<()> {
        if let Some(latest) = store.latest_checkpoint().await? {
            self.cadence.signed(latest.size, latest.created_at);
        }
        let head = store.log_head().await?;
        self.saw(head);
        Ok(())
    }

    /// Takes note of a head that may not be covered yet, without signing.
    pub(crate) fn saw(&mut self, head: LogHead) {
        if head.size > self.cadence.last_size() && self.pending.is_none_or(|p| p.size < head.size) {
            self.pending = Some(head);
        }
    }

    /// Takes note of a committed head, and signs that very head if a checkpoint is due at
    /// it (a newer head seen meanwhile, such as the log's head at start, waits its turn).
    pub(crate) async fn after_commit(
        &mut self,
        store: &dyn LogStore,
        clock: &dyn Clock,
        head: LogHead,
    ) {
        self.saw(head);
        let now = clock.now();
        if self.cadence.is_due(head.size, now) {
            self.sign_head(store, head, now).await;
        }
    }

    pub(crate) async fn on_tick(&mut self, store: &dyn LogStore, clock: &dyn Clock) {
        let now = clock.now();
        if self.pending.is_some() && self.cadence.due_by_time(now) {
            self.sign_pending(store, now).await;
        }
    }

    /// Signs whatever is pending, due or not.
    pub(crate) async fn flush(&mut self, store: &dyn LogStore, clock: &dyn Clock) {
        self.sign_pending(store, clock.now()).await;
    }

    async fn sign_pending(&mut self, store: &dyn LogStore, now: Timestamp) {
        if let Some(head) = self.pending {
            self.sign_head(store, head, now).await;
        }
    }

    /// Signs `head`, which [`Checkpointer::saw`] has seen; what it covers is no longer
    /// pending. On failure it stays pending, to be tried again.
    async fn sign_head(&mut self, store: &dyn LogStore, head: LogHead, now: Timestamp) {
        match self.sign(store, head, now).await {
            Ok(()) => {
                self.cadence.signed(head.size, now);
                if self.pending.is_some_and(|p| p.size <= head.size) {
                    self.pending = None;
                }
            }
            Err(e) => {
                // The entries are durable already; a missed checkpoint is retried later.
                tracing::error!(error = %e, size = head.size, "could not write a checkpoint");
            }
        }
    }

    async fn sign(
        &self,
        store: &dyn LogStore,
        head: LogHead,
        now: Timestamp,
    ) -> Result<(), String> {
        let checkpoint =
            Checkpoint::new(self.signer.name(), head.size, head.root).map_err(|e| e.to_string())?;
        let note = self.signer.sign(&checkpoint);
        let stored = StoredCheckpoint {
            size: head.size,
            root: head.root,
            created_at: now,
            note: note.clone(),
        };
        store
            .add_checkpoint(&stored)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(path) = self.log_file.clone() {
            let origin = self.signer.name().to_owned();
            let size = head.size;
            tokio::task::spawn_blocking(move || append_note(&path, &origin, size, &note))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        }
        tracing::debug!(size = head.size, "signed a checkpoint");
        Ok(())
    }
}

/// Appends one note and a blank line, and syncs, so the copy outside the database is as
/// durable as the one inside it.
/// Appends `note` (the checkpoint of `size` entries) to `checkpoints.log`, keeping the
/// file in size order: under an exclusive lock on the file (another server on the same
/// site may append too), a note is written only if it is newer than the file's last one;
/// an older one stays in the database, and the newer note already covers it.
fn append_note(
    path: &std::path::Path,
    origin: &str,
    size: u64,
    note: &str,
) -> std::io::Result<bool> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    file.lock()?;
    if last_size(&mut file, origin)?.is_some_and(|last| last >= size) {
        return Ok(false);
    }
    let mut text = note.to_owned();
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_data()?;
    Ok(true)
}

/// The size of the last checkpoint in the file, read from its tail: the line after the
/// last line that is exactly the origin (signature lines start with a dash).
fn last_size(file: &mut std::fs::File, origin: &str) -> std::io::Result<Option<u64>> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 8 * 1024;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
    let mut bytes = Vec::new();
    file.take(TAIL).read_to_end(&mut bytes)?;
    // The tail may start inside a character; only whole lines near the end matter.
    let tail = String::from_utf8_lossy(&bytes);
    let mut after = None;
    for line in tail.lines().rev() {
        if line == origin {
            return Ok(after.and_then(|s: &str| s.parse().ok()));
        }
        after = Some(line);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(size: u64) -> String {
        let signer = LogSigner::from_seed("t.example/log", [1; 32]).unwrap();
        signer.sign(&Checkpoint::new("t.example/log", size, [size as u8; 32]).unwrap())
    }

    #[test]
    fn checkpoints_log_stays_in_size_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.log");
        let mut written = Vec::new();
        // Enough notes that the last one lies beyond the tail that is read back.
        for size in (1..=200).chain([150, 200, 5]).chain([201]) {
            if append_note(&path, "t.example/log", size, &note(size)).unwrap() {
                written.push(size);
            }
        }
        assert_eq!(written, (1..=201).collect::<Vec<_>>());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() > 16 * 1024);
        let sizes: Vec<u64> = crate::verify::split_checkpoints_log(&text)
            .iter()
            .map(|n| n.lines().nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(sizes, written);
    }
}
