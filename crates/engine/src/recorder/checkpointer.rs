//! Signing checkpoints as the log grows: every N entries, or T seconds after activity,
//! whichever comes first. Each checkpoint is kept in the database and appended to the
//! site's `checkpoints.log`, a copy outside the database that survives a restored backup.

use std::io::Write;
use std::path::PathBuf;
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

#[derive(Debug)]
pub struct Checkpointer {
    signer: LogSigner,
    policy: CheckpointPolicy,
    log_file: Option<PathBuf>,
    last_size: u64,
    last_at: Option<Timestamp>,
    /// The newest head this process committed that no checkpoint covers yet.
    pending: Option<LogHead>,
}

impl Checkpointer {
    /// `log_file`: where to append each signed note (the site's `checkpoints.log`).
    pub fn new(signer: LogSigner, policy: CheckpointPolicy, log_file: Option<PathBuf>) -> Self {
        Self {
            signer,
            policy,
            log_file,
            last_size: 0,
            last_at: None,
            pending: None,
        }
    }

    /// Picks up where the stored checkpoints left off.
    pub(crate) async fn resume(&mut self, store: &dyn LogStore) -> StoreResult<()> {
        if let Some(latest) = store.latest_checkpoint().await? {
            self.last_size = latest.size;
            self.last_at = Some(latest.created_at);
        }
        let head = store.log_head().await?;
        if head.size > self.last_size {
            self.pending = Some(head);
        }
        Ok(())
    }

    pub(crate) async fn after_commit(
        &mut self,
        store: &dyn LogStore,
        clock: &dyn Clock,
        head: LogHead,
    ) {
        if head.size <= self.last_size {
            return;
        }
        self.pending = Some(head);
        let now = clock.now();
        let due_by_count = head.size - self.last_size >= self.policy.every_entries;
        let due_by_time = self
            .last_at
            .is_none_or(|t| t <= now.minus(self.policy.every));
        if due_by_count || due_by_time {
            self.sign_pending(store, now).await;
        }
    }

    pub(crate) async fn on_tick(&mut self, store: &dyn LogStore, clock: &dyn Clock) {
        let now = clock.now();
        if self.pending.is_some()
            && self
                .last_at
                .is_none_or(|t| t <= now.minus(self.policy.every))
        {
            self.sign_pending(store, now).await;
        }
    }

    /// Signs whatever is pending, due or not.
    pub(crate) async fn flush(&mut self, store: &dyn LogStore, clock: &dyn Clock) {
        self.sign_pending(store, clock.now()).await;
    }

    async fn sign_pending(&mut self, store: &dyn LogStore, now: Timestamp) {
        let Some(head) = self.pending.take() else {
            return;
        };
        match self.sign(store, head, now).await {
            Ok(()) => {
                self.last_size = head.size;
                self.last_at = Some(now);
            }
            Err(e) => {
                // The entries are durable already; a missed checkpoint is retried later.
                tracing::error!(error = %e, size = head.size, "could not write a checkpoint");
                self.pending = Some(head);
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
            tokio::task::spawn_blocking(move || append_note(&path, &note))
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
fn append_note(path: &std::path::Path, note: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut text = note.to_owned();
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_data()
}
