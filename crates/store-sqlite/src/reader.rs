//! Reading the whole log back for verification, fast: a read-only connection of its own on
//! a blocking thread, and columns decoded straight from SQLite without the async driver's
//! per-row overhead (which dominated `verify`'s time).

use std::path::Path;

use accesslog_store::log::{
    EntryColumns, PRUNED_AHEAD_SQL, RawColumn, entry_from_columns, hash_from_bytes, walk_sql,
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
        let leaf = row.get::<_, Option<Vec<u8>>>(NAMES.len()).ok().flatten();
        let pruned = row.get::<_, i64>(PRUNED).unwrap_or(0) != 0;
        Ok(LeafRow::walked(seq, leaf.as_deref(), pruned, || {
            entry_from_columns(&Columns(row))
        }))
    })
}

/// The column saying whether a walked row is a pruned entry's kept leaf (`walk_sql`).
const PRUNED: usize = NAMES.len() + 1;

/// A failed read of the log, with SQLite's error.
fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

/// Opens `file` read-only, on a connection of its own for a blocking thread (the walk,
/// the review copy beside it, reports).
pub(crate) fn open_read_only(file: &Path) -> StoreResult<Connection> {
    let unavailable = |e: rusqlite::Error| StoreError::Unavailable(e.to_string());
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unavailable)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(unavailable)?;
    Ok(conn)
}

/// Runs `each` over up to `limit` rows (entry columns, `leaf_hash`, `pruned`) with
/// `seq > after`, in order, on a read-only connection of its own: the entries, and the kept
/// leaves of pruned ones.
fn walk<T>(
    path: &Path,
    after: i64,
    limit: u32,
    mut each: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let conn = open_read_only(&crate::log_file::log_path(path))?;
    let pruned_ahead: bool = conn
        .query_row(PRUNED_AHEAD_SQL, params![after], |r| r.get(0))
        .map_err(db)?;
    let mut stmt = conn.prepare(&walk_sql(pruned_ahead)).map_err(db)?;
    let mut rows = stmt.query(params![after, i64::from(limit)]).map_err(db)?;
    let mut out = Vec::with_capacity(limit as usize);
    while let Some(row) = rows.next().map_err(db)? {
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
    // The copied rows of the same page, read in lockstep (see ReviewCopy).
    let copy = ReviewCopy::open(path)?;
    let mut stmt = match &copy {
        Some(c) => Some(c.conn.prepare(REVIEW_PAGE).map_err(db)?),
        None => None,
    };
    let mut copied = match stmt.as_mut() {
        Some(s) => {
            use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
            let mut rows = s.query(params![after, i64::from(limit)]).map_err(db)?;
            rows.advance().map_err(db)?;
            Some(rows)
        }
        None => None,
    };
    let mark = copy.as_ref().map_or(i64::MIN, |c| c.mark);
    walk(path, after, limit, |row| {
        // Each column is fetched once; the leaf and the review comparison both read these.
        let vals: [ValueRef<'_>; 26] =
            std::array::from_fn(|i| row.get_ref(i).unwrap_or(ValueRef::Null));
        let ValueRef::Integer(seq) = vals[0] else {
            return Err(StoreError::Other(
                "a row whose seq is not an integer".to_owned(),
            ));
        };
        let timestamp = match vals[1] {
            ValueRef::Integer(t) => t,
            _ => 0,
        };
        let stored = match vals[NAMES.len()] {
            ValueRef::Blob(b) => hash_from_bytes(b).ok(),
            _ => None,
        };
        let pruned = vals[PRUNED] == ValueRef::Integer(1);
        let column = |i: usize, _: bool| match vals[i] {
            ValueRef::Integer(v) => RawColumn::Int(v),
            ValueRef::Text(t) => RawColumn::Text(t),
            ValueRef::Null => RawColumn::Null,
            _ => RawColumn::Other,
        };
        let check = LeafCheck::walked(seq, timestamp, stored, pruned, &mut buf, column);
        let review = match copied.as_mut() {
            // Only the kept leaf: the tree checks it. A copied row left at its seq (a prune
            // stopped between the two files' commits) is passed over.
            Some(copied) if pruned => {
                skip_copy(copied, seq)?;
                None
            }
            Some(copied) => check_copy(copied, mark, seq, &vals)?,
            None => None,
        };
        Ok(LeafCheck { review, ..check })
    })
}

/// The review copy (`<database>-review`), read in `seq` order beside the log so that each
/// entry's copied row is compared as the entry is read: one more sequential read in
/// lockstep, values compared where SQLite holds them, not a join. Rows above the copy's
/// highest `seq` are not copied yet, which is fine.
struct ReviewCopy {
    conn: Connection,
    mark: i64,
}

/// The review copy's columns after `seq` (those of `REVIEW_PAGE`), by their position in
/// `ENTRY_COLUMNS`; a test holds the two together.
const REVIEW_AT: [usize; 10] = [1, 2, 3, 5, 6, 7, 9, 16, 14, 23];

const REVIEW_PAGE: &str = "SELECT seq, timestamp, \"user\", activity, export_from, \
    reference_document, report_name, file_type, outcome, byte_count, source \
    FROM access_log_review WHERE seq > ?1 ORDER BY seq LIMIT ?2";

impl ReviewCopy {
    /// The copy beside the log at `path`, with its highest seq; `None` when there is none
    /// (no file, or not made yet).
    fn open(path: &Path) -> StoreResult<Option<Self>> {
        let review = crate::review::review_path(path);
        if !review.exists() {
            return Ok(None);
        }
        let conn = open_read_only(&review)?;
        let mark = conn
            .query_row("SELECT MAX(seq) FROM access_log_review", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .ok()
            .flatten();
        Ok(mark.map(|mark| Self { conn, mark }))
    }
}

/// Moves the copied rows under `copied` past `seq`.
fn skip_copy(copied: &mut rusqlite::Rows<'_>, seq: i64) -> StoreResult<()> {
    use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
    while let Some(c) = copied.get() {
        if c.get::<_, i64>(0).unwrap_or(i64::MAX) > seq {
            break;
        }
        copied.advance().map_err(db)?;
    }
    Ok(())
}

/// Holds the entry (its column values, at `seq`) against the copied row under `copied`, moving it on
/// when they are the same row: `None` when they agree (or the entry is not copied yet),
/// otherwise what is wrong.
fn check_copy(
    copied: &mut rusqlite::Rows<'_>,
    mark: i64,
    seq: i64,
    entry: &[rusqlite::types::ValueRef<'_>],
) -> StoreResult<Option<&'static str>> {
    use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
    if seq > mark {
        return Ok(None);
    }
    let Some(c) = copied.get() else {
        return Ok(Some("the copy lacks its row"));
    };
    let at: i64 = c.get(0).unwrap_or(i64::MIN);
    if at < seq {
        // A copied row below this entry that no entry matched: a row of its own.
        return Ok(Some("the copy has a row where the log has no entry"));
    }
    if at > seq {
        return Ok(Some("the copy lacks its row"));
    }
    for (k, col) in REVIEW_AT.iter().enumerate() {
        if c.get_ref(k + 1).ok() != Some(entry[*col]) {
            return Ok(Some("the copied row differs from the entry"));
        }
    }
    copied.advance().map_err(db)?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_columns_are_the_entry_fields_the_copy_selects() {
        let list = REVIEW_PAGE
            .strip_prefix("SELECT seq, ")
            .and_then(|rest| rest.split(" FROM ").next())
            .expect("REVIEW_PAGE selects seq first");
        let selected: Vec<&str> = list
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        let at: Vec<usize> = selected
            .iter()
            .map(|name| NAMES.iter().position(|n| n == name).expect(name))
            .collect();
        assert_eq!(at, REVIEW_AT);
    }
}
