//! What the backends share for the Access Log: the models, reading an entry back from a
//! row of either database, and extending the Merkle tree for a batch of new entries.

use accesslog_core::Timestamp;
use accesslog_core::entry::{CanonicalJson, Entry, Event};
use accesslog_core::merkle::{Frontier, Hash, NodeId, leaf_hash};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::{StoreError, StoreResult};

/// What an append committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The entries as stored, in `seq` order.
    pub entries: Vec<Entry>,
    /// Their leaf hashes, in the same order.
    pub leaf_hashes: Vec<Hash>,
    /// The tree after the append.
    pub size: u64,
    pub root: Hash,
}

/// A stored row as verification sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafRow {
    /// As stored (it may be below 1 if someone put a row there).
    pub seq: i64,
    /// The entry, or why the row cannot be read as one.
    pub entry: Result<Entry, String>,
    /// The leaf hash the tree holds for this position, if any.
    pub leaf: Option<Hash>,
}

/// The lower bound for `entries_with_leaves_after`: from the very first row when starting.
pub fn seq_bound(after_seq: u64) -> StoreResult<i64> {
    if after_seq == 0 {
        Ok(i64::MIN)
    } else {
        to_i64(after_seq)
    }
}

/// The tree's current size and root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogHead {
    pub size: u64,
    pub root: Hash,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub created_at: Timestamp,
    /// The signed note, exactly as published.
    pub note: String,
}

/// A batch of entries ready to insert, with the tree nodes they complete and the new
/// tree state, all computed before the database is touched.
#[derive(Debug)]
pub struct Extension {
    pub entries: Vec<Entry>,
    pub leaf_hashes: Vec<Hash>,
    /// The inner nodes (level 1 and up) the batch completes.
    pub nodes: Vec<(NodeId, Hash)>,
    pub frontier: Frontier,
}

/// Stamps `events` with the seqs after `frontier.size()` and the time `at`, and extends
/// the tree by their leaves.
pub fn extend(mut frontier: Frontier, events: &[Event], at: Timestamp) -> StoreResult<Extension> {
    let mut entries = Vec::with_capacity(events.len());
    let mut leaf_hashes = Vec::with_capacity(events.len());
    let mut nodes = Vec::with_capacity(events.len() * 2);
    for event in events {
        event
            .validate()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let entry = Entry {
            seq: frontier.size() + 1,
            timestamp: at,
            event: event.clone(),
        };
        let leaf = leaf_hash(&entry.canonical_bytes());
        // Leaf hashes are stored with their entries; only inner nodes go to merkle_nodes.
        nodes.extend(
            frontier
                .push(leaf)
                .into_iter()
                .filter(|(id, _)| id.level > 0),
        );
        leaf_hashes.push(leaf);
        entries.push(entry);
    }
    Ok(Extension {
        entries,
        leaf_hashes,
        nodes,
        frontier,
    })
}

/// Reads a frontier stored as `(size, bytes)`; a mismatch means the state row was altered.
pub fn frontier_from_stored(size: i64, bytes: &[u8]) -> StoreResult<Frontier> {
    let size = u64::try_from(size)
        .map_err(|_| StoreError::Other(format!("log size {size} is negative")))?;
    if size == 0 && bytes.is_empty() {
        return Ok(Frontier::new()); // the state row as the migration creates it
    }
    Frontier::from_bytes(size, bytes)
        .map_err(|e| StoreError::Other(format!("the stored tree state is damaged: {e}")))
}

pub fn hash_from_bytes(bytes: &[u8]) -> StoreResult<Hash> {
    Hash::try_from(bytes)
        .map_err(|_| StoreError::Other(format!("a stored hash has {} bytes, not 32", bytes.len())))
}

fn to_u64(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Other(format!("stored {what} {v} is negative")))
}

/// Converts an unsigned count for a BIGINT column.
pub fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Other(format!("{v} does not fit in a BIGINT")))
}

/// The columns of `access_log`, in the order `entry_from_row` and the inserts use.
pub const ENTRY_COLUMNS: &str = "seq, timestamp, \"user\", activity, method, export_from, reference_document, \
     report_name, print_format, file_type, filters, columns, page, row_count, byte_count, \
     content_sha256, outcome, reason, ip, user_agent, request_id, roles, auth, source";

/// Reads an entry from a row of either backend. Stored text is taken as it is, so an
/// altered row yields different canonical bytes rather than an error.
pub fn entry_from_row<'r, R>(row: &'r R) -> StoreResult<Entry>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |col: &'static str| -> StoreResult<String> { Ok(row.try_get::<String, _>(col)?) };
    let opt = |col: &'static str| -> StoreResult<Option<String>> {
        Ok(row.try_get::<Option<String>, _>(col)?)
    };
    let opt_count = |col: &'static str| -> StoreResult<Option<u64>> {
        row.try_get::<Option<i64>, _>(col)?
            .map(|v| to_u64(v, col))
            .transpose()
    };
    let seq = to_u64(row.try_get::<i64, _>("seq")?, "seq")?;
    let bad = |e: accesslog_core::entry::EntryError| StoreError::Other(format!("entry {seq}: {e}"));
    let roles_text = text("roles")?;
    let roles: Vec<String> = serde_json::from_str(&roles_text)
        .map_err(|e| StoreError::Other(format!("entry {seq}: roles are not a JSON list: {e}")))?;
    let event = Event {
        user: text("user")?,
        activity: text("activity")?.parse().map_err(bad)?,
        method: text("method")?,
        export_from: opt("export_from")?,
        reference_document: opt("reference_document")?,
        report_name: opt("report_name")?,
        print_format: opt("print_format")?,
        file_type: opt("file_type")?,
        filters: opt("filters")?.map(CanonicalJson::from_stored),
        columns: opt("columns")?.map(CanonicalJson::from_stored),
        page: opt("page")?,
        row_count: opt_count("row_count")?,
        byte_count: opt_count("byte_count")?,
        content_sha256: opt("content_sha256")?,
        outcome: text("outcome")?.parse().map_err(bad)?,
        reason: opt("reason")?,
        ip: opt("ip")?,
        user_agent: opt("user_agent")?,
        request_id: opt("request_id")?,
        roles,
        auth: opt("auth")?,
        source: text("source")?,
    };
    Ok(Entry {
        seq,
        timestamp: Timestamp::from_micros(row.try_get::<i64, _>("timestamp")?),
        event,
    })
}

/// Which of `ids` are leaves (answered from `access_log.leaf_hash`, by seq) and which are
/// inner nodes (answered from `merkle_nodes`, by stored index).
pub fn split_node_ids(ids: &[NodeId]) -> (Vec<i64>, Vec<(i64, NodeId)>) {
    let mut leaf_seqs = Vec::new();
    let mut inner = Vec::new();
    for id in ids {
        if id.level == 0 {
            if let Ok(seq) = i64::try_from(id.index + 1) {
                leaf_seqs.push(seq);
            }
        } else if let Ok(key) = i64::try_from(id.stored_index()) {
            inner.push((key, *id));
        }
    }
    (leaf_seqs, inner)
}
