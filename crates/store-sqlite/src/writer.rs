//! The Access Log's writer: one connection on a thread of its own, so that an append is a
//! handful of in-process calls on prepared statements rather than a string of round trips
//! through the async driver. Appends are already serialised by the recorder; this makes
//! each one as short as SQLite allows, which is what group commit's throughput rests on.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use accesslog_core::Timestamp;
use accesslog_core::entry::Event;
use accesslog_store::log::{Extension, extend, frontier_from_stored, settle_time, to_i64};
use accesslog_store::{Appended, BlockingAppend, StoreError, StoreResult};
use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};

use crate::worker::{Worker, closed_error};

/// The writer's connection, on its thread.
#[derive(Debug)]
pub(crate) struct Writer(Worker);

pub(crate) const INSERT_ENTRY: &str = "INSERT INTO access_log (seq, timestamp, \"user\", activity, method, \
    export_from, reference_document, report_name, print_format, file_type, filters, columns, \
    page, row_count, byte_count, content_sha256, outcome, reason, ip, user_agent, request_id, \
    roles, auth, source, leaf_hash) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
    ?19, ?20, ?21, ?22, ?23, ?24, ?25)";

impl Writer {
    /// Opens the writer's connection to the (already migrated) database at `path`.
    pub(crate) fn open(path: &Path) -> StoreResult<Self> {
        Ok(Self(Worker::spawn(
            "accesslog-sqlite-writer",
            "writer",
            open_connection(path)?,
        )?))
    }

    /// The same appends on a connection of the caller's own, closed with this writer.
    pub(crate) fn appender(&self, path: &Path) -> StoreResult<Appender> {
        Ok(Appender {
            conn: open_connection(path)?,
            closed: self.0.closed_flag(),
        })
    }

    pub(crate) async fn append(&self, events: &[Event], at: Timestamp) -> StoreResult<Appended> {
        let mut events = events.to_vec();
        self.0.run(move |conn| append(conn, &mut events, at)).await
    }

    /// From now on every append fails as if the database were gone.
    pub(crate) fn close(&self) {
        self.0.close();
    }
}

/// A writer's connection owned by the thread that appends (the recorder's, on SQLite).
pub(crate) struct Appender {
    conn: Connection,
    closed: Arc<AtomicBool>,
}

impl BlockingAppend for Appender {
    fn append(&mut self, events: &mut Vec<Event>, at: Timestamp) -> StoreResult<Appended> {
        if self.closed.load(Ordering::SeqCst) {
            events.clear();
            return Err(closed_error());
        }
        append(&mut self.conn, events, at)
    }
}

/// A connection to the log file alone (`log_file.rs`): a commit there leaves the site's
/// file, and the page caches of the connections reading records from it, untouched.
fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = crate::log_file::open_alone(path)?;
    conn.execute_batch("PRAGMA temp_store = MEMORY;")
        .map_err(map_err)?;
    conn.busy_handler(Some(wait_for_the_lock))
        .map_err(map_err)?;
    Ok(conn)
}

/// How the writer waits when another connection holds the log's write lock (a prune's
/// batch, another server's append): it looks again every half millisecond, for up to five
/// seconds, then fails. SQLite's own timeout looks again after 1, 2, 5, 10, 15, 20, 25 ms
/// and so on, so an append held up by a 10 ms batch would wait until the 18th ms, and one
/// held up by 70 ms until the 103rd.
fn wait_for_the_lock(attempt: i32) -> bool {
    const EVERY: std::time::Duration = std::time::Duration::from_micros(500);
    const ATTEMPTS: i32 = 10_000;
    if attempt >= ATTEMPTS {
        return false;
    }
    std::thread::sleep(EVERY);
    true
}

/// Appends `events` (taken out of the vector, which is left empty) in one transaction.
fn append(conn: &mut Connection, events: &mut Vec<Event>, at: Timestamp) -> StoreResult<Appended> {
    // IMMEDIATE takes the write lock before the tree state is read, so another process
    // appending to the same file can never read the same size.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let (size, bytes, last): (i64, Vec<u8>, Option<i64>) = tx
        .prepare_cached(
            "SELECT s.size, s.frontier, (SELECT timestamp FROM access_log WHERE seq = s.size) \
             FROM log_state s WHERE s.id = 1",
        )
        .and_then(|mut q| q.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .map_err(map_err)?;
    let at = settle_time(at, last);
    let Extension {
        entries,
        leaf_hashes,
        nodes,
        frontier,
    } = extend(frontier_from_stored(size, &bytes)?, events.drain(..), at)?;
    {
        let mut insert = tx.prepare_cached(INSERT_ENTRY).map_err(map_err)?;
        for (entry, leaf) in entries.iter().zip(&leaf_hashes) {
            insert_entry(&mut insert, entry, leaf)?;
        }
        let mut insert = tx
            .prepare_cached("INSERT INTO merkle_nodes (id, hash) VALUES (?1, ?2)")
            .map_err(map_err)?;
        for (id, hash) in &nodes {
            insert
                .execute(params![to_i64(id.stored_index())?, &hash[..]])
                .map_err(map_err)?;
        }
    }
    let new_size = to_i64(frontier.size())?;
    tx.prepare_cached("UPDATE log_state SET size = ?1, frontier = ?2 WHERE id = 1")
        .and_then(|mut q| q.execute(params![new_size, frontier.to_bytes()]))
        .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(Appended {
        entries,
        leaf_hashes,
        size: frontier.size(),
        root: frontier.root(),
    })
}

/// Inserts `entry` with its leaf hash through a prepared [`INSERT_ENTRY`].
pub(crate) fn insert_entry(
    insert: &mut rusqlite::CachedStatement<'_>,
    entry: &accesslog_core::entry::Entry,
    leaf: &accesslog_core::merkle::Hash,
) -> StoreResult<()> {
    let e = &entry.event;
    let rows = e.row_count.map(to_i64).transpose()?;
    let bytes = e.byte_count.map(to_i64).transpose()?;
    let roles = e.roles_json();
    insert
        .execute(params![
            to_i64(entry.seq)?,
            entry.timestamp.as_micros(),
            e.user,
            e.activity.as_str(),
            e.method,
            e.export_from,
            e.reference_document,
            e.report_name,
            e.print_format,
            e.file_type,
            e.filters.as_ref().map(|j| j.as_str()),
            e.columns.as_ref().map(|j| j.as_str()),
            e.page,
            rows,
            bytes,
            e.content_sha256,
            e.outcome.as_str(),
            e.reason,
            e.ip,
            e.user_agent,
            e.request_id,
            roles.as_str(),
            e.auth,
            e.source,
            &leaf[..],
        ])
        .map_err(map_err)?;
    Ok(())
}

/// The same classification as `StoreError::from(sqlx::Error)`: "cannot write now" is
/// `Unavailable`, so the recorder refuses the action with a 503.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen => StoreError::Unavailable(e.to_string()),
            ErrorCode::ConstraintViolation => StoreError::Conflict(e.to_string()),
            _ => StoreError::Database(Box::new(e)),
        },
        _ => StoreError::Database(Box::new(e)),
    }
}
