//! Reading the whole log back for verification, fast: a read-only connection of its own on
//! a blocking thread, and columns decoded straight from SQLite without the async driver's
//! per-row overhead (which dominated `verify`'s time).

use std::path::Path;

use accesslog_store::log::{ENTRY_COLUMNS, EntryColumns, entry_from_columns, hash_from_bytes};
use accesslog_store::{LeafRow, StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags, params};

/// The names in `ENTRY_COLUMNS`, in order, as SQLite reports them.
const NAMES: [&str; 24] = [
    "seq",
    "timestamp",
    "user",
    "activity",
    "method",
    "export_from",
    "reference_document",
    "report_name",
    "print_format",
    "file_type",
    "filters",
    "columns",
    "page",
    "row_count",
    "byte_count",
    "content_sha256",
    "outcome",
    "reason",
    "ip",
    "user_agent",
    "request_id",
    "roles",
    "auth",
    "source",
];

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
    let unavailable = |e: rusqlite::Error| StoreError::Unavailable(e.to_string());
    let conn = Connection::open_with_flags(
        path,
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
        .map_err(|e| StoreError::Other(e.to_string()))?;
    let mut rows = stmt
        .query(params![after, i64::from(limit)])
        .map_err(|e| StoreError::Other(e.to_string()))?;
    let mut out = Vec::with_capacity(limit as usize);
    while let Some(row) = rows.next().map_err(|e| StoreError::Other(e.to_string()))? {
        let seq: i64 = row
            .get(0)
            .map_err(|e| StoreError::Other(format!("seq: {e}")))?;
        let leaf = row
            .get::<_, Option<Vec<u8>>>(NAMES.len())
            .ok()
            .flatten()
            .and_then(|b| hash_from_bytes(&b).ok());
        out.push(LeafRow {
            seq,
            entry: entry_from_columns(&Columns(row)).map_err(|e| e.to_string()),
            leaf,
        });
    }
    Ok(out)
}
