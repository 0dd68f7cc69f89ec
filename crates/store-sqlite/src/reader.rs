//! Reading the whole log back for verification, fast: a read-only connection of its own on
//! a blocking thread, and columns decoded straight from SQLite without the async driver's
//! per-row overhead (which dominated `verify`'s time).

use std::path::Path;

use accesslog_store::log::{
    ENTRY_COLUMNS, EntryColumns, entry_from_columns, hash_from_bytes, write_decimal,
};
use accesslog_store::{LeafCheck, LeafRow, StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags, params};

/// The names in `ENTRY_COLUMNS`, in order, as SQLite reports them.
const NAMES: [&str; 24] = accesslog_store::log::ENTRY_FIELDS;

struct Columns<'a, 'b>(&'a rusqlite::Row<'b>);

fn index(column: &str) -> StoreResult<usize> {
    NAMES
        .iter()
        .position(|n| *n == column)
        .ok_or_else(|| StoreError::Other(format!("no column {column}")))
}

impl EntryColumns for Columns<'_, '_> {
    fn text(&self, column: &'static str) -> StoreResult<Option<String>> {
        self.0
            .get::<_, Option<String>>(index(column)?)
            .map_err(|e| StoreError::Other(format!("{column}: {e}")))
    }

    fn int(&self, column: &'static str) -> StoreResult<Option<i64>> {
        self.0
            .get::<_, Option<i64>>(index(column)?)
            .map_err(|e| StoreError::Other(format!("{column}: {e}")))
    }
}

/// Up to `limit` rows with `seq > after`, in order, each as it reads back.
pub(crate) fn leaf_rows(path: &Path, after: i64, limit: u32) -> StoreResult<Vec<LeafRow>> {
    walk(path, after, limit, |row| {
        let seq: i64 = row
            .get(0)
            .map_err(|e| StoreError::Other(format!("seq: {e}")))?;
        let leaf = row
            .get::<_, Option<Vec<u8>>>(NAMES.len())
            .ok()
            .flatten()
            .and_then(|b| hash_from_bytes(&b).ok());
        Ok(LeafRow {
            seq,
            entry: entry_from_columns(&Columns(row)).map_err(|e| e.to_string()),
            leaf,
        })
    })
}

/// Runs `each` over up to `limit` rows (entry columns, then `leaf_hash`) with
/// `seq > after`, in order, on a read-only connection of its own.
fn walk<T>(
    path: &Path,
    after: i64,
    limit: u32,
    mut each: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let unavailable = |e: rusqlite::Error| StoreError::Unavailable(e.to_string());
    let conn = Connection::open_with_flags(
        crate::log_file::log_path(path),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unavailable)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(unavailable)?;
    let sql = format!(
        "SELECT {ENTRY_COLUMNS}, leaf_hash FROM access_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|e| StoreError::Database(Box::new(e)))?;
    let mut rows = stmt
        .query(params![after, i64::from(limit)])
        .map_err(|e| StoreError::Database(Box::new(e)))?;
    let mut out = Vec::with_capacity(limit as usize);
    while let Some(row) = rows.next().map_err(|e| StoreError::Database(Box::new(e)))? {
        out.push(each(row)?);
    }
    Ok(out)
}

/// The fast path of verification: each row's leaf hash computed straight from the column
/// values SQLite hands back (no strings built, one buffer reused). Anything unusual — a
/// value of the wrong type, a negative count — yields `leaf: None`, and the caller reads
/// that row in full to say exactly what is wrong.
pub(crate) fn leaf_checks(path: &Path, after: i64, limit: u32) -> StoreResult<Vec<LeafCheck>> {
    use rusqlite::types::ValueRef;
    let mut buf = Vec::with_capacity(1024);
    // Integer columns, by position: seq, timestamp, row_count, byte_count. Counts and seq
    // are unsigned in an entry; timestamps may be negative.
    const INTEGERS: [(usize, bool); 4] = [(0, false), (1, true), (13, false), (14, false)];
    let mut digits = [[0u8; 20]; 4];
    walk(path, after, limit, |row| {
        let seq: i64 = row
            .get(0)
            .map_err(|e| StoreError::Other(format!("seq: {e}")))?;
        let timestamp: i64 = row.get(1).unwrap_or(0);
        let stored = match row.get_ref(NAMES.len()) {
            Ok(ValueRef::Blob(b)) => hash_from_bytes(b).ok(),
            _ => None,
        };
        let mut fields: [Option<&[u8]>; 24] = [None; 24];
        let mut ok = true;
        let mut lens = [0usize; 4];
        for (k, (col, signed)) in INTEGERS.iter().enumerate() {
            match row.get_ref(*col) {
                Ok(ValueRef::Integer(v)) if *signed || v >= 0 => {
                    lens[k] = write_decimal(&mut digits[k], v)
                }
                Ok(ValueRef::Null) if *col >= 13 => lens[k] = usize::MAX,
                _ => ok = false,
            }
        }
        for (i, field) in fields.iter_mut().enumerate() {
            if !ok {
                break;
            }
            if let Some(k) = INTEGERS.iter().position(|(c, _)| *c == i) {
                *field = (lens[k] != usize::MAX).then(|| &digits[k][20 - lens[k]..]);
                continue;
            }
            match row.get_ref(i) {
                Ok(ValueRef::Text(t)) => *field = Some(t),
                Ok(ValueRef::Null) => *field = None,
                _ => ok = false,
            }
        }
        let leaf = ok.then(|| {
            buf.clear();
            accesslog_core::entry::encode_fields(&mut buf, &fields);
            accesslog_core::merkle::leaf_hash(&buf)
        });
        Ok(LeafCheck {
            seq,
            timestamp,
            leaf,
            stored,
        })
    })
}
