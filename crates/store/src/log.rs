//! What the backends share for the Access Log: the models, reading an entry back from a
//! row of either database, and extending the Merkle tree for a batch of new entries.

use accesslog_core::Timestamp;
use accesslog_core::entry::{CanonicalJson, Entry, EntryError, Event};
use accesslog_core::merkle::{Frontier, Hash, NodeId, leaf_hash};

use crate::sql::SqlRow;
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

/// An entry an ingestion source recorded, as much of it as an importer needs to know what
/// it brought in before: the upstream's id (`request_id`) and what it said of the
/// upstream's own time (`reason`). See [`crate::LogReads::source_marks`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceMark {
    pub seq: u64,
    pub request_id: Option<String>,
    pub reason: Option<String>,
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
    /// The entry was pruned or redacted: only its kept leaf hash is left (`entry` is an
    /// error saying so), and verification can check it only through the tree.
    pub pruned: bool,
}

impl LeafRow {
    /// A walked row (`walk_sql`) with its stored leaf hash, if it reads as one: the entry
    /// read by `entry`, or for a pruned one, the error saying so.
    pub fn walked(
        seq: i64,
        leaf: Option<&[u8]>,
        pruned: bool,
        entry: impl FnOnce() -> StoreResult<Entry>,
    ) -> Self {
        Self {
            seq,
            entry: if pruned {
                Err(format!(
                    "entry {seq} was pruned: only its leaf hash is kept"
                ))
            } else {
                entry().map_err(|e| e.to_string())
            },
            leaf: leaf.and_then(|b| hash_from_bytes(b).ok()),
            pruned,
        }
    }
}

/// Where the review copy first differs from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewDifference {
    pub seq: u64,
    /// What differs, in words.
    pub what: &'static str,
}

/// A stored row reduced to its two leaf hashes: recomputed from the columns, and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafCheck {
    pub seq: i64,
    /// The row's timestamp column, in µs (0 when it could not be read; `leaf` is then
    /// `None` too).
    pub timestamp: i64,
    /// `None`: the row could not be hashed on the fast path; read it in full.
    pub leaf: Option<Hash>,
    pub stored: Option<Hash>,
    /// Where a backend keeps a review copy beside the log (SQLite): what is wrong with
    /// this entry's copied row, if anything.
    pub review: Option<&'static str>,
    /// The entry was pruned or redacted: `leaf` is its kept leaf hash, not recomputed, and
    /// `timestamp` is its kept time, or `i64::MIN` when the site keeps none.
    pub pruned: bool,
}

/// One column of a walked row as a backend's driver hands it over, for [`LeafCheck::walked`].
#[derive(Clone, Copy, Debug)]
pub enum RawColumn<'a> {
    Null,
    Int(i64),
    /// Text, as its bytes.
    Text(&'a [u8]),
    /// Anything else: the row is not hashed on the fast path.
    Other,
}

impl LeafCheck {
    /// The fast path of verification for a walked row (`walk_sql`): a pruned entry's kept
    /// leaf as it is (the tree checks it); otherwise the leaf recomputed from the raw values
    /// of its entry columns, `column(i, integer)` for the `i`-th of [`ENTRY_FIELDS`] (an
    /// integer column or not), without building the entry. The integer columns (seq,
    /// timestamp, row_count, byte_count) are encoded in decimal, the text ones as they are,
    /// in `buf`. Anything unexpected (a value of the wrong type, a negative count) gives
    /// `leaf: None`, and verification reads the row in full to say what is wrong.
    pub fn walked<'a>(
        seq: i64,
        timestamp: i64,
        stored: Option<Hash>,
        pruned: bool,
        buf: &mut Vec<u8>,
        column: impl Fn(usize, bool) -> RawColumn<'a>,
    ) -> Self {
        Self {
            seq,
            timestamp,
            leaf: if pruned {
                stored
            } else {
                recomputed_leaf(buf, column)
            },
            stored,
            review: None,
            pruned,
        }
    }
}

/// The leaf of [`LeafCheck::walked`], `None` where a column is not as an entry has it.
fn recomputed_leaf<'a>(
    buf: &mut Vec<u8>,
    column: impl Fn(usize, bool) -> RawColumn<'a>,
) -> Option<Hash> {
    // Integer columns, by position: seq, timestamp, row_count, byte_count. Counts and seq
    // are unsigned in an entry; timestamps may be negative; the counts may be NULL.
    const INTEGERS: [(usize, bool); 4] = [(0, false), (1, true), (13, false), (14, false)];
    let mut digits = [[0u8; 20]; 4];
    let mut fields: [Option<&[u8]>; 24] = [None; 24];
    for ((col, signed), digits) in INTEGERS.iter().zip(&mut digits) {
        match column(*col, true) {
            RawColumn::Int(v) if *signed || v >= 0 => {
                let n = write_decimal(digits, v);
                fields[*col] = Some(&digits[20 - n..]);
            }
            RawColumn::Null if *col >= 13 => {}
            _ => return None,
        }
    }
    for (i, field) in fields.iter_mut().enumerate() {
        if INTEGERS.iter().any(|(c, _)| *c == i) {
            continue;
        }
        match column(i, false) {
            RawColumn::Text(t) => *field = Some(t),
            RawColumn::Null => {}
            _ => return None,
        }
    }
    buf.clear();
    accesslog_core::entry::encode_fields(buf, &fields);
    Some(leaf_hash(buf))
}

/// The time an append stamps its entries with: the caller's clock, read before the
/// writer's lock, but never before the last entry's, which is read under the lock. So
/// timestamps never go back as `seq` goes up, whichever of several servers sharing the
/// database wins the lock first.
pub fn settle_time(at: Timestamp, last: Option<i64>) -> Timestamp {
    match last {
        Some(last) if last > at.as_micros() => Timestamp::from_micros(last),
        _ => at,
    }
}

/// Writes `v` in decimal at the end of `buf`; returns how many bytes it took (20 are
/// enough for any `i64`). The verification fast path encodes integer columns with it.
fn write_decimal(buf: &mut [u8; 20], v: i64) -> usize {
    let negative = v < 0;
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    buf.len() - i
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
/// the tree by their leaves. The entries are made of the events themselves: a caller that
/// keeps its own gives clones (`events.iter().cloned()`).
pub fn extend(
    mut frontier: Frontier,
    events: impl ExactSizeIterator<Item = Event>,
    at: Timestamp,
) -> StoreResult<Extension> {
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
            event,
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

/// A stored seq or count read back, which is never negative in a row as it was written.
pub(crate) fn to_u64(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Other(format!("stored {what} {v} is negative")))
}

/// Converts an unsigned count for a BIGINT column.
pub fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Other(format!("{v} does not fit in a BIGINT")))
}

/// The names of an entry's 24 fields (and `access_log`'s columns), in canonical order:
/// core's entry schema.
pub const ENTRY_FIELDS: [&str; 24] = accesslog_core::entry::schema::NAMES;

/// The columns of `access_log`, in the order `entry_from_row` and the inserts use: core's
/// `schema::column_list()`, as a constant for `format!` (a test holds the two together).
pub const ENTRY_COLUMNS: &str = "seq, timestamp, \"user\", activity, method, export_from, reference_document, \
     report_name, print_format, file_type, filters, columns, page, row_count, byte_count, \
     content_sha256, outcome, reason, ip, user_agent, request_id, roles, auth, source";

/// Where an entry's columns are read from: a row of either backend, through sqlx or
/// through the SQLite writer's own connection.
pub trait EntryColumns {
    fn text(&self, column: &'static str) -> StoreResult<Option<String>>;
    fn int(&self, column: &'static str) -> StoreResult<Option<i64>>;
}

/// Reads an entry from its columns. Stored text is taken as it is, so an altered row
/// yields different canonical bytes (or, if it no longer parses, an error naming the
/// entry) rather than a silently repaired entry.
pub fn entry_from_columns(row: &impl EntryColumns) -> StoreResult<Entry> {
    let int = |col: &'static str| -> StoreResult<i64> {
        row.int(col)?
            .ok_or_else(|| StoreError::Other(format!("{col} is empty")))
    };
    let seq = to_u64(int("seq")?, "seq")?;
    let bad = |e: String| StoreError::Other(format!("entry {seq}: {e}"));
    let text = |col: &'static str| -> StoreResult<String> {
        row.text(col)?.ok_or_else(|| bad(format!("{col} is empty")))
    };
    let opt_count = |col: &'static str| -> StoreResult<Option<u64>> {
        row.int(col)?
            .map(|v| u64::try_from(v).map_err(|_| bad(format!("{col} {v} is negative"))))
            .transpose()
    };
    let roles: Vec<String> = serde_json::from_str(&text("roles")?)
        .map_err(|e| bad(format!("roles are not a JSON list: {e}")))?;
    let event = Event {
        user: text("user")?,
        activity: text("activity")?
            .parse()
            .map_err(|e: EntryError| bad(e.to_string()))?,
        method: text("method")?,
        export_from: row.text("export_from")?,
        reference_document: row.text("reference_document")?,
        report_name: row.text("report_name")?,
        print_format: row.text("print_format")?,
        file_type: row.text("file_type")?,
        filters: row.text("filters")?.map(CanonicalJson::from_stored),
        columns: row.text("columns")?.map(CanonicalJson::from_stored),
        page: row.text("page")?,
        row_count: opt_count("row_count")?,
        byte_count: opt_count("byte_count")?,
        content_sha256: row.text("content_sha256")?,
        outcome: text("outcome")?
            .parse()
            .map_err(|e: EntryError| bad(e.to_string()))?,
        reason: row.text("reason")?,
        ip: row.text("ip")?,
        user_agent: row.text("user_agent")?,
        request_id: row.text("request_id")?,
        roles,
        auth: row.text("auth")?,
        source: text("source")?,
    };
    Ok(Entry {
        seq,
        timestamp: Timestamp::from_micros(int("timestamp")?),
        event,
    })
}

struct ViaSqlRow<'a, R>(&'a R);

impl<R: SqlRow> EntryColumns for ViaSqlRow<'_, R> {
    fn text(&self, column: &'static str) -> StoreResult<Option<String>> {
        self.0.get(column)
    }

    fn int(&self, column: &'static str) -> StoreResult<Option<i64>> {
        self.0.get(column)
    }
}

/// Reads an entry from a row of either backend.
pub fn entry_from_row(row: &impl SqlRow) -> StoreResult<Entry> {
    entry_from_columns(&ViaSqlRow(row))
}

/// The rows verification walks, `seq > $1` in `seq` order, at most `$2`: the entries'
/// columns (`ENTRY_COLUMNS`), `leaf_hash`, and `pruned` (0 or 1). With `with_pruned`, the
/// kept leaves of pruned entries are merged in, their payload columns empty; without, the
/// statement reads `access_log` alone (callers ask first whether any pruned row lies
/// ahead: the merge costs the common case a little).
pub fn walk_sql(with_pruned: bool) -> String {
    let entries = format!(
        "SELECT {ENTRY_COLUMNS}, leaf_hash, CAST(0 AS BIGINT) AS pruned FROM access_log WHERE seq > $1"
    );
    if !with_pruned {
        return format!("{entries} ORDER BY seq LIMIT $2");
    }
    // seq, timestamp, then the 22 payload columns empty.
    let empty = vec!["NULL"; ENTRY_FIELDS.len() - 2].join(", ");
    format!(
        "{entries} UNION ALL SELECT seq, COALESCE(timestamp, {min}), {empty}, leaf_hash, \
         CAST(1 AS BIGINT) AS pruned FROM access_log_pruned WHERE seq > $1 ORDER BY seq LIMIT $2",
        min = i64::MIN
    )
}

/// Whether any pruned entry lies past `$1`: whether a walk from there needs the merge.
pub const PRUNED_AHEAD_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM access_log_pruned WHERE seq > $1) AS ahead";

/// The stored leaf hashes of `$1`'s seqs among the entries and the pruned ones alike, for
/// proofs; `{list}` is the backend's way of naming a list of seqs.
pub fn leaf_hashes_sql(list: &str) -> String {
    format!(
        "SELECT seq, leaf_hash FROM access_log WHERE seq IN {list} \
         UNION ALL SELECT seq, leaf_hash FROM access_log_pruned WHERE seq IN {list}"
    )
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
