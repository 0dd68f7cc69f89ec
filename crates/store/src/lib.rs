//! The storage trait every backend implements, and the models it speaks in.
//!
//! The backend is chosen once, in `main`, from the database URL; everything above this
//! crate holds an `Arc<dyn Store>` and never learns which database it is talking to.
//!
//! Why a trait object and not a type parameter: the server, the engine and the CLI would
//! otherwise each be generic over the backend, and every handler, template and test with
//! them, compiled twice. A store call is a database round trip (tens of microseconds at
//! best); one indirect call beside it costs nothing measurable, while static dispatch
//! would double the build of everything above this crate on two cores. Test doubles (a
//! store that fails on demand) also slot in without touching the types above.
//!
//! Layers inside: [`Store`] and its parts are the contract; [`sql`] is the SQL both
//! backends share, generic over sqlx's `Database`; `accesslog-store-sqlite` and
//! `accesslog-store-postgres` hold what differs (appends, the verification walk, reports,
//! backups).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alerts;
mod error;
pub mod log;
pub mod log_search;
mod models;
pub mod records;
pub mod reports;
pub mod retention;
pub mod sql;
pub mod witnesses;

use accesslog_core::Timestamp;
use accesslog_core::doctype::DocType;
use accesslog_core::entry::{Entry, Event};
use accesslog_core::merkle::{Hash, NodeId};
use std::collections::BTreeMap;

use async_trait::async_trait;
pub use records::{Dialect, Document, ListQuery, SqlValue};
pub use reports::RowSink;
pub use sql::{SqlBacked, SqlStore};

pub use alerts::AlertStore;
pub use error::{StoreError, StoreResult};
pub use log::{
    Appended, LeafCheck, LeafRow, LogHead, ReviewDifference, SourceMark, StoredCheckpoint,
};
pub use models::{
    ApiKey, FileRecord, LoginAttempts, LoginFailureCounts, LoginOutcome, NewApiKey, NewSession,
    NewUser, Session, User,
};
pub use retention::RetentionStore;
pub use witnesses::WitnessStore;

/// Everything the server persists. Each method is one transaction: it either happens
/// completely or not at all. The Access Log's part and the documents' part are traits of
/// their own, so that code needing only one (the engine needs only the log) can say so.
#[async_trait]
pub trait Store:
    AccountStore + LogStore + DocumentStore + ReportStore + AlertStore + WitnessStore + RetentionStore
{
    /// Which database this is, for logs, the health endpoint and SQL that differs.
    fn dialect(&self) -> Dialect;

    /// A round trip to the database; `Unavailable` when it cannot be reached.
    async fn ping(&self) -> StoreResult<()>;

    /// The connection pool's use now, for the metrics (a store without a pool of its
    /// own, such as a wrapper, says nothing).
    fn pool_use(&self) -> PoolUse {
        PoolUse::default()
    }

    /// Writes a consistent copy of the whole database to `path` (a new file), if this
    /// backend can; PostgreSQL answers `Other` with how to back it up instead.
    async fn backup_to(&self, path: &std::path::Path) -> StoreResult<()>;
}

/// The rows of one table field, for `insert_document`.
#[derive(Debug)]
pub struct ChildRows<'a> {
    pub fieldname: &'a str,
    pub doctype: &'a DocType,
    pub rows: Vec<BTreeMap<String, SqlValue>>,
}

impl<'a> ChildRows<'a> {
    fn clone_rows(&self) -> ChildRows<'a> {
        ChildRows {
            fieldname: self.fieldname,
            doctype: self.doctype,
            rows: self.rows.clone(),
        }
    }
}

/// A document to insert, with its child rows.
#[derive(Debug)]
pub struct NewDocument<'a> {
    pub doc: Document,
    pub children: Vec<ChildRows<'a>>,
}

/// An append that runs on the calling thread, for a backend whose append is in-process
/// work (SQLite): the recorder then commits on a thread of its own and answers its callers
/// from there, two thread hand-offs fewer per commit than through the async trait.
pub trait BlockingAppend: Send {
    /// As [`LogStore::append_entries`], on this appender's own connection, taking the
    /// events out of `events` (which is left empty, its capacity kept for the next batch):
    /// the entries are made of them, not of copies.
    fn append(&mut self, events: &mut Vec<Event>, at: Timestamp) -> StoreResult<Appended>;
}

/// A connection pool's connections: open, idle among them, and the most it opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUse {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// The Access Log's reads (its head, entries, searches) and its checkpoints: the part of
/// [`LogStore`] both SQL backends share, implemented once for every [`SqlBacked`] store
/// (in [`sql`]).
#[async_trait]
pub trait LogReads: Send + Sync + std::fmt::Debug + 'static {
    async fn log_head(&self) -> StoreResult<LogHead>;
    /// Up to `limit` entries with `seq > after_seq`, in `seq` order.
    async fn entries_after(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<Entry>>;
    /// What retention judges entries by ([`retention::RetentionFacts`]) for up to `limit`
    /// entries with `seq > after_seq`, in `seq` order: a few columns, not whole entries.
    /// The default reads whole entries.
    async fn retention_facts_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<retention::RetentionFacts>> {
        Ok(self
            .entries_after(after_seq, limit)
            .await?
            .iter()
            .map(retention::RetentionFacts::of)
            .collect())
    }
    async fn entry(&self, seq: u64) -> StoreResult<Option<Entry>>;
    /// The entries recorded with `source` among the seqs `after_seq + 1 ..= after_seq +
    /// span`, in `seq` order, reduced to what an importer needs to know what it brought in
    /// before (`accesslog-frappe-import` dedupes by `request_id`). A caller walks the log
    /// `span` seqs at a time, so each call is a short range read by primary key, whatever
    /// the log's size. The default reads whole entries; the SQL backends read three
    /// columns. Pruned entries have no source left and are not returned.
    async fn source_marks(
        &self,
        source: &str,
        after_seq: u64,
        span: u32,
    ) -> StoreResult<Vec<SourceMark>> {
        let end = after_seq.saturating_add(u64::from(span));
        Ok(self
            .entries_after(after_seq, span)
            .await?
            .into_iter()
            .filter(|e| e.seq <= end && e.event.source == source)
            .map(|e| SourceMark {
                seq: e.seq,
                request_id: e.event.request_id,
                reason: e.event.reason,
            })
            .collect())
    }
    /// Entries matching `q`, a page at a time (see [`log_search`]).
    async fn search_entries(
        &self,
        q: &log_search::EntryQuery,
        page: log_search::EntryPage,
        limit: u32,
    ) -> StoreResult<Vec<Entry>>;
    /// Entries per day (by activity and outcome) and the largest exporters since `from`.
    async fn activity_since(&self, from: Timestamp) -> StoreResult<log_search::ActivitySummary>;
    /// Counts by user or activity among the newest `sample` entries matching `q`.
    async fn count_entries(
        &self,
        q: &log_search::EntryQuery,
        by: log_search::GroupBy,
        sample: u32,
        top: u32,
    ) -> StoreResult<Vec<(String, u64)>>;
    /// Keeps a signed checkpoint; a second one for the same size is ignored.
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> StoreResult<()>;
    async fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>>;
    /// Every stored checkpoint, smallest size first.
    async fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>>;
}

/// The Access Log's storage: append-only, with the Merkle tree beside the entries; its
/// reads and checkpoints are the supertrait [`LogReads`].
#[async_trait]
pub trait LogStore: LogReads {
    /// Appends `events` as the next entries, all stamped `at`, in one durable transaction
    /// together with the tree nodes they complete and the new tree state. Dense `seq` is
    /// guaranteed even when several processes append to one database.
    async fn append_entries(&self, events: &[Event], at: Timestamp) -> StoreResult<Appended>;
    /// A [`BlockingAppend`] on a connection of its own, when this backend has one; it
    /// fails as `append_entries` does once the store is closed. The default (PostgreSQL,
    /// whose driver is async) has none: the recorder commits through `append_entries`.
    fn blocking_appender(&self) -> StoreResult<Option<Box<dyn BlockingAppend>>> {
        Ok(None)
    }
    /// Copies up to `limit` of the oldest entries not yet in the review table (whose indexes
    /// serve `search_entries` and `count_entries`) into it, in one transaction of its own,
    /// and says how many. Searches are right whether or not this has run (they read newer
    /// entries from the log itself); it keeps them fast. The recorder calls it after
    /// commits, in batches, so the review indexes cost appends nothing.
    async fn index_for_review(&self, limit: u32) -> StoreResult<u64>;
    /// Entries not yet in the review copy (0 where the review reads the log itself).
    async fn review_lag(&self) -> StoreResult<u64> {
        Ok(0)
    }
    /// The part of holding the review copy against the log that the walk of
    /// [`recomputed_leaves_after`](Self::recomputed_leaves_after) cannot do (which compares
    /// each entry with its copied row, `LeafCheck::review`): copied rows past the log's
    /// last entry. A backend whose review reads the log itself (a view, on PostgreSQL) has
    /// nothing to check.
    async fn check_review_copy(&self) -> StoreResult<Option<ReviewDifference>> {
        Ok(None)
    }
    /// Every stored row with `seq > after_seq` (with `after_seq = 0`, also any row with a
    /// seq below 1), up to `limit`, in `seq` order, each with its stored leaf hash: what
    /// verification walks. A row that cannot be read back as an entry is returned as such,
    /// not as an error, so that tampering shows as tampering at its `seq`.
    async fn entries_with_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafRow>>;

    /// The same rows as `entries_with_leaves_after`, reduced to what a clean walk needs:
    /// each row's leaf hash recomputed from its stored columns, beside the stored one. A
    /// backend may compute this without building entries (SQLite does); `leaf: None`
    /// means "look closer" and sends verification to the full entries.
    async fn recomputed_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafCheck>> {
        Ok(self
            .entries_with_leaves_after(after_seq, limit)
            .await?
            .into_iter()
            .map(|row| LeafCheck {
                seq: row.seq,
                timestamp: row
                    .entry
                    .as_ref()
                    .map_or(if row.pruned { i64::MIN } else { 0 }, |e| {
                        e.timestamp.as_micros()
                    }),
                leaf: if row.pruned {
                    row.leaf
                } else {
                    row.entry
                        .ok()
                        .map(|e| accesslog_core::merkle::leaf_hash(&e.canonical_bytes()))
                },
                stored: row.leaf,
                review: None,
                pruned: row.pruned,
            })
            .collect())
    }
    /// Removes the payloads of the entries `batch.seqs` in one short transaction: each
    /// keeps its `seq`, leaf hash and place in the tree in `access_log_pruned` (with its
    /// time, user and activity when `batch.keep_fields`), and leaves `access_log` and any
    /// review copy. Seqs already pruned, or past the log, are skipped; says how many were
    /// pruned and how long the transaction held the log.
    async fn prune_entries(
        &self,
        batch: &retention::PruneBatch,
    ) -> StoreResult<retention::BatchPruned>;
    /// Removes what a prune stopped half-way may have left of pruned entries outside the
    /// log's own tables (SQLite: their rows in the review copy, which is written apart
    /// from the log). Says how many rows it removed; the default has nothing to remove.
    async fn tidy_after_prune(&self) -> StoreResult<u64> {
        Ok(0)
    }
    /// Hands up to `pages` of the log's free pages back to the disk in one short
    /// transaction, where the backend keeps them (SQLite's incremental vacuum). Says how
    /// many free pages are left; `None`: the backend does this itself (the default).
    async fn release_free_pages(&self, _pages: u32) -> StoreResult<Option<u64>> {
        Ok(None)
    }
    /// Prunes whole ranges of `due` (sorted) at once where the backend keeps the log in
    /// ranges (PostgreSQL's partitions): a range all of whose remaining entries are due is
    /// kept as leaves, with the bundle of each (`bundles`: first, last, SHA-256), and
    /// dropped whole. Returns the ranges `[first, end)` done; the caller prunes the other
    /// entries with `prune_entries`. The default does nothing.
    async fn prune_whole_ranges(
        &self,
        _due: &[u64],
        _bundles: &[(u64, u64, String)],
        _keep_fields: bool,
    ) -> StoreResult<Vec<(u64, u64)>> {
        Ok(Vec::new())
    }
    /// Puts archived entries back where they were pruned: each must hash to the leaf kept
    /// for its `seq`, or nothing is restored. Redacted entries are not put back (a bundle
    /// written before the redaction still holds them) and are counted apart.
    async fn restore_entries(&self, entries: &[Entry]) -> StoreResult<retention::Restored>;
    /// The stored perfect-subtree hashes among `ids` (missing ones are left out).
    async fn merkle_nodes(&self, ids: &[NodeId]) -> StoreResult<Vec<(NodeId, Hash)>>;
}

/// Documents of the site's types.
#[async_trait]
pub trait DocumentStore: Send + Sync + std::fmt::Debug + 'static {
    /// Creates the type's table if missing, adds columns for new fields (never drops one),
    /// and its indexes.
    async fn sync_doctype(&self, doctype: &DocType) -> StoreResult<()>;
    /// Columns whose fields were removed from the definition (their data is still there).
    async fn removed_columns(&self, doctype: &DocType) -> StoreResult<Vec<String>>;
    /// Drops columns of removed fields, and their data; refuses any other column.
    async fn drop_columns(&self, doctype: &DocType, columns: &[String]) -> StoreResult<()>;
    /// The next number of a naming series (1 for a new prefix), allocated durably.
    async fn next_in_series(&self, prefix: &str) -> StoreResult<u64> {
        self.reserve_in_series(prefix, 1).await
    }
    /// Reserves `count` consecutive numbers of a series; returns the first.
    async fn reserve_in_series(&self, prefix: &str, count: u64) -> StoreResult<u64>;
    /// Inserts documents and their child rows, all in one transaction: either every one
    /// is stored or none is. `Conflict` names the first name that is taken.
    async fn insert_documents(
        &self,
        doctype: &DocType,
        docs: &[NewDocument<'_>],
    ) -> StoreResult<()>;
    /// Inserts one document and its child rows.
    async fn insert_document(
        &self,
        doctype: &DocType,
        doc: &Document,
        children: &[ChildRows<'_>],
    ) -> StoreResult<()> {
        let one = NewDocument {
            doc: doc.clone(),
            children: children.iter().map(ChildRows::clone_rows).collect(),
        };
        self.insert_documents(doctype, std::slice::from_ref(&one))
            .await
    }
    /// Documents matching a list query, with the asked-for columns.
    async fn list_documents(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        query: &ListQuery<'_>,
    ) -> StoreResult<Vec<BTreeMap<String, SqlValue>>>;
    /// Sets some column values of a document (and `modified`, `modified_by` among them) and,
    /// for each table given, replaces its rows; one transaction. `NotFound` if there is no
    /// such document.
    async fn update_document(
        &self,
        doctype: &DocType,
        name: &str,
        values: &BTreeMap<String, SqlValue>,
        children: &[ChildRows<'_>],
    ) -> StoreResult<()>;
    /// Deletes a document and its child rows, in one transaction; `NotFound` if there is
    /// no such document.
    async fn delete_document(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        name: &str,
    ) -> StoreResult<()>;
    /// A document with its child rows (in `idx` order), or `None`.
    async fn get_document(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        name: &str,
    ) -> StoreResult<Option<Document>>;
    /// Keeps a file's record; `Conflict` if its id or its URL is taken.
    async fn add_file(&self, file: &FileRecord) -> StoreResult<()>;
    /// The file at `/private/files/<file_name>` (or `/files/…` when not private).
    async fn file_by_url(
        &self,
        is_private: bool,
        file_name: &str,
    ) -> StoreResult<Option<FileRecord>>;
    async fn file_by_id(&self, name: &str) -> StoreResult<Option<FileRecord>>;
    /// All files, newest first, a page at a time.
    async fn list_files(&self, limit: u32, offset: u64) -> StoreResult<Vec<FileRecord>>;
    /// Files attached to one document, oldest first.
    async fn files_of(&self, doctype: &str, name: &str) -> StoreResult<Vec<FileRecord>>;
}

/// Read-only queries written by the site (query reports, exports).
#[async_trait]
pub trait ReportStore: Send + Sync + std::fmt::Debug + 'static {
    /// Runs `sql` (one SELECT with `$N` parameters, see [`reports::positional`]) with
    /// nothing but reading allowed, handing each row to `sink` as it is read, so that a
    /// million rows need no more memory than one. Returns the number of rows handed over.
    /// Values come back as integers, floats, text or NULL; a column of another type (say
    /// PostgreSQL's NUMERIC) is an error that says to cast it.
    async fn query_each_row(
        &self,
        sql: &str,
        params: &[SqlValue],
        sink: &mut RowSink<'_>,
    ) -> StoreResult<u64>;
}

/// Users, roles, sessions, API keys and login throttling.
#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug + 'static {
    // ----- users and roles -----

    /// Creates a user; `Conflict` if the email is taken. The email must already be
    /// normalised (see `accesslog_core::accounts::normalize_email`).
    async fn create_user(&self, user: &NewUser, now: Timestamp) -> StoreResult<User>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    /// All users, ordered by email.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// `NotFound` if there is no such user. Disabling also ends the user's sessions.
    async fn set_user_enabled(&self, email: &str, enabled: bool) -> StoreResult<()>;
    /// `NotFound` if there is no such user. Also ends the user's sessions.
    async fn set_password_hash(&self, email: &str, hash: &str) -> StoreResult<()>;
    /// The stored PHC hash, `None` for a user who may not log in with a password.
    async fn password_hash(&self, user_id: i64) -> StoreResult<Option<String>>;
    /// Idempotent; `NotFound` if there is no such user.
    async fn add_role(&self, email: &str, role: &str) -> StoreResult<()>;
    /// Idempotent; `NotFound` if there is no such user.
    async fn remove_role(&self, email: &str, role: &str) -> StoreResult<()>;

    // ----- sessions (keyed by the SHA-256 of the cookie value, never the value) -----

    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    async fn session(&self, id_digest: &str) -> StoreResult<Option<Session>>;
    async fn touch_session(&self, id_digest: &str, at: Timestamp) -> StoreResult<()>;
    async fn delete_session(&self, id_digest: &str) -> StoreResult<()>;
    /// Removes sessions idle since before `idle_before` or created before
    /// `created_before`; returns how many went.
    async fn purge_sessions(
        &self,
        idle_before: Timestamp,
        created_before: Timestamp,
    ) -> StoreResult<u64>;

    // ----- API keys (the secret is kept only as a SHA-256 digest) -----

    /// `Conflict` if the key id is taken; `NotFound` if the user does not exist.
    async fn create_api_key(&self, key: &NewApiKey) -> StoreResult<()>;
    async fn api_key(&self, api_key: &str) -> StoreResult<Option<ApiKey>>;
    /// Keys of one user, or of everyone, newest first.
    async fn list_api_keys(&self, user_id: Option<i64>) -> StoreResult<Vec<ApiKey>>;
    /// `NotFound` if there is no such key; revoking twice keeps the first time.
    async fn revoke_api_key(&self, api_key: &str, at: Timestamp) -> StoreResult<()>;
    async fn touch_api_key(&self, api_key: &str, at: Timestamp) -> StoreResult<()>;

    // ----- login throttling -----

    /// Reserves a login attempt before its password is checked: stores it as pending,
    /// then counts the attempts not known to have succeeded since `since` (this one
    /// included). The two are separate statements, so that of many concurrent attempts each
    /// counts every one stored before it: at most `n` of them can see a count of `n` or less.
    async fn begin_login_attempt(
        &self,
        account: &str,
        ip: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> StoreResult<(i64, LoginFailureCounts)>;
    /// The same counts as [`AccountStore::begin_login_attempt`], without storing anything:
    /// a throttled client is turned away before it costs a write.
    async fn count_login_attempts(
        &self,
        account: &str,
        ip: &str,
        since: Timestamp,
    ) -> StoreResult<LoginFailureCounts>;
    /// Settles attempt `id` (see [`LoginOutcome`] for what each outcome keeps).
    async fn settle_login_attempt(&self, id: i64, outcome: LoginOutcome) -> StoreResult<()>;
    /// Failed and throttled attempts since `since`, by account and address, latest first.
    async fn login_attempts_since(
        &self,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<LoginAttempts>>;
    /// Forgets every attempt older than `older_than`.
    async fn forget_login_attempts(&self, older_than: Timestamp) -> StoreResult<()>;
}
