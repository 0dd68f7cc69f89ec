//! Retention (issue 19): what the log keeps of entries whose payload was removed (pruned
//! after archiving, or redacted on request), the archive bundles written, and the legal
//! holds that keep entries from being pruned.
//!
//! A pruned entry leaves `access_log` for `access_log_pruned`, which keeps its `seq`, its
//! leaf hash (so the tree, every proof and every checkpoint stay valid) and, if the site
//! says so, its time, user and activity. The payload columns are gone from the database.

use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, Entry};
use accesslog_core::merkle::Hash;
use async_trait::async_trait;

use crate::StoreResult;

/// Entries whose payload one transaction removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PruneBatch {
    pub seqs: Vec<u64>,
    /// The SHA-256 (hex) of the bundle that holds them; `None` for a redaction.
    pub bundle: Option<String>,
    /// Keep each entry's time, user and activity beside its leaf hash.
    pub keep_fields: bool,
    pub redacted: bool,
}

/// What one [`PruneBatch`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchPruned {
    pub pruned: u64,
    /// How long the transaction that removed the payloads held the log (on SQLite, its
    /// write lock, which every append waits for; not the wait to get it).
    pub held: std::time::Duration,
}

/// What a restore did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    pub restored: u64,
    /// Left out: redacted on request, which a restore must not undo.
    pub redacted: u64,
    /// Left out: not pruned (still in the log, or never written).
    pub not_pruned: u64,
}

/// What is left of a pruned entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrunedEntry {
    pub seq: u64,
    pub timestamp: Option<Timestamp>,
    pub user: Option<String>,
    pub activity: Option<String>,
    pub leaf: Hash,
    /// The SHA-256 of the archive bundle holding it.
    pub bundle: Option<String>,
    pub redacted: bool,
}

/// Which pruned entries to list (every criterion given must match), newest first: the
/// review's "Archived entries". An entry whose fields were not kept, or that was redacted,
/// matches no criterion on them; it is found by its bundle (and its seq).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchivedQuery {
    pub user: Option<String>,
    pub activity: Option<String>,
    /// Entries dated at or after this.
    pub from: Option<Timestamp>,
    /// Entries dated before this.
    pub to: Option<Timestamp>,
    /// The SHA-256 (hex) of the bundle holding them.
    pub bundle: Option<String>,
    /// Entries below this seq: the next page after one that ended there.
    pub before: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrunedStats {
    /// Entries without their payload, redacted ones included.
    pub pruned: u64,
    pub redacted: u64,
}

/// An archive bundle written and fsynced: entries `first..=last`, checkable against the
/// checkpoint of `tree_size` entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveRecord {
    pub sha256: String,
    pub name: String,
    pub first: u64,
    pub last: u64,
    pub tree_size: u64,
    pub bytes: u64,
    pub created_at: Timestamp,
}

/// What retention judges an entry by: its age and activity (is it due?) and what a legal
/// hold can name. Read without the rest of the entry, which choosing what is due over
/// millions of old entries does not need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionFacts {
    pub seq: u64,
    pub timestamp: Timestamp,
    /// The stored activity; `None` for a name this build does not know (never due).
    pub activity: Option<Activity>,
    pub user: String,
    pub export_from: Option<String>,
    pub report_name: Option<String>,
}

impl RetentionFacts {
    pub fn of(e: &Entry) -> Self {
        Self {
            seq: e.seq,
            timestamp: e.timestamp,
            activity: Some(e.event.activity),
            user: e.event.user.clone(),
            export_from: e.event.export_from.clone(),
            report_name: e.event.report_name.clone(),
        }
    }
}

/// What a legal hold covers: every entry matching all the given criteria (at least one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HoldScope {
    pub user: Option<String>,
    /// The document type an entry's data came from (`export_from`).
    pub doctype: Option<String>,
    pub report: Option<String>,
    /// Entries dated at or after this.
    pub from: Option<Timestamp>,
    /// Entries dated at or before this.
    pub to: Option<Timestamp>,
}

impl HoldScope {
    pub fn is_empty(&self) -> bool {
        *self == HoldScope::default()
    }

    pub fn covers(&self, e: &RetentionFacts) -> bool {
        self.user.as_ref().is_none_or(|u| *u == e.user)
            && self
                .doctype
                .as_ref()
                .is_none_or(|d| e.export_from.as_ref() == Some(d))
            && self
                .report
                .as_ref()
                .is_none_or(|r| e.report_name.as_ref() == Some(r))
            && self.from.is_none_or(|t| e.timestamp >= t)
            && self.to.is_none_or(|t| e.timestamp <= t)
    }

    /// In words, for the log and the pages: `user a@b, doctype Employee, from …`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(u) = &self.user {
            parts.push(format!("user {u}"));
        }
        if let Some(d) = &self.doctype {
            parts.push(format!("doctype {d}"));
        }
        if let Some(r) = &self.report {
            parts.push(format!("report {r}"));
        }
        if let Some(t) = self.from {
            parts.push(format!("from {}", t.to_rfc3339()));
        }
        if let Some(t) = self.to {
            parts.push(format!("to {}", t.to_rfc3339()));
        }
        parts.join(", ")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHold {
    pub scope: HoldScope,
    pub reason: String,
    pub owner: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegalHold {
    pub id: u64,
    pub scope: HoldScope,
    pub reason: String,
    pub owner: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub lifted_at: Option<Timestamp>,
    pub lifted_by: Option<String>,
}

impl LegalHold {
    /// Not lifted and not expired at `now`.
    pub fn active_at(&self, now: Timestamp) -> bool {
        self.lifted_at.is_none() && self.expires_at.is_none_or(|t| t > now)
    }
}

#[async_trait]
pub trait RetentionStore: Send + Sync {
    async fn pruned_entry(&self, seq: u64) -> StoreResult<Option<PrunedEntry>>;
    async fn pruned_stats(&self) -> StoreResult<PrunedStats>;
    /// Up to `limit` pruned entries matching `q`, newest (highest seq) first.
    async fn archived_entries(
        &self,
        q: &ArchivedQuery,
        limit: u32,
    ) -> StoreResult<Vec<PrunedEntry>>;
    /// The pruned seqs among `first..=last`, in order.
    async fn pruned_seqs(&self, first: u64, last: u64) -> StoreResult<Vec<u64>>;
    /// Records a bundle once it is complete on disk; a second record of the same bundle is
    /// ignored.
    async fn add_archive(&self, a: &ArchiveRecord) -> StoreResult<()>;
    /// Every bundle recorded, oldest range first.
    async fn archives(&self) -> StoreResult<Vec<ArchiveRecord>>;
    /// The pruned, not yet redacted entries whose kept user is `user` (dated before
    /// `before`, when given).
    async fn pruned_of_user(&self, user: &str, before: Option<Timestamp>) -> StoreResult<Vec<u64>>;
    /// Marks pruned entries redacted, dropping what was kept of them but their seq and
    /// leaf: a restore then never brings them back. Says how many were marked.
    async fn mark_redacted(&self, seqs: &[u64]) -> StoreResult<u64>;
    async fn add_hold(&self, h: &NewHold) -> StoreResult<LegalHold>;
    /// Lifts hold `id`; `None` if there is no such hold. Lifting a lifted hold changes
    /// nothing and returns it as it is.
    async fn lift_hold(&self, id: u64, by: &str, at: Timestamp) -> StoreResult<Option<LegalHold>>;
    /// Every hold, lifted and expired ones too, newest first.
    async fn holds(&self) -> StoreResult<Vec<LegalHold>>;
}
