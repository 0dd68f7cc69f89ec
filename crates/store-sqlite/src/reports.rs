//! Report queries on SQLite: run on a read-only connection of their own (so a report cannot
//! write whatever its SQL says), on a blocking thread, and handed over in batches. The
//! async driver sent each row across threads on its own, which cost three times what SQLite
//! itself did (BENCHMARKS.md, exports).
//!
//! The work is split so that both threads of a long export stay busy: the reading thread
//! only steps SQLite and copies each value's bytes into the batch ([`RawBatch`]); the
//! caller's side turns them into [`SqlValue`]s (checking that text is UTF-8) in one row
//! buffer it reuses, and hands each row to the sink. Batches go back to the reader to be
//! filled again, so a long report allocates for its first few batches and then not at all.
//!
//! What a report may do is decided by SQLite, not by its text: an authorizer, consulted as
//! the query is prepared, allows reading the document tables (`tab_…`) of the main
//! database and calling the functions in [`ALLOWED_FUNCTIONS`], and refuses everything
//! else (the system's tables, `sqlite_schema`, `ATTACH`, `PRAGMA`, `load_extension`, any
//! function it does not know). A progress handler stops a query that runs longer than
//! [`TIME_LIMIT`].

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accesslog_store::{ReportStore, RowSink, SqlValue, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode};

use crate::SqliteStore;

/// Rows per hand-over from the reading thread.
const BATCH: usize = 512;
/// Batches read ahead of the sink.
const AHEAD: usize = 4;
/// Batches handed to the sink between two yields to the runtime.
const YIELD_EVERY: u64 = 8;

/// A report query that runs longer than this is stopped (as PostgreSQL's
/// `statement_timeout` stops it there).
pub const TIME_LIMIT: Duration = Duration::from_secs(120);
/// SQLite virtual-machine steps between two looks at the clock.
const STEPS_PER_CHECK: i32 = 10_000;

/// The functions a report may call, separated by white space: SQLite's core scalar,
/// aggregate, window, date and time, math and JSON functions (values only: `json_each` and
/// `json_tree` are tables, and not allowed). Anything else (`load_extension`,
/// `fts3_tokenizer`, `sqlite_*`, whatever an extension might add) is refused.
pub const ALLOWED_FUNCTIONS: &str = "abs char coalesce concat concat_ws format glob hex ifnull iif \
    if instr length like likelihood likely lower ltrim max min nullif octet_length printf quote \
    replace round rtrim sign substr substring trim typeof unhex unicode unlikely upper avg count \
    group_concat string_agg sum total row_number rank dense_rank percent_rank cume_dist ntile lag \
    lead first_value last_value nth_value date time datetime julianday unixepoch strftime timediff \
    current_date current_time current_timestamp acos acosh asin asinh atan atan2 atanh ceil \
    ceiling cos cosh degrees exp floor ln log log10 log2 mod pi pow power radians sin sinh sqrt \
    tan tanh trunc json json_array json_array_length json_extract json_insert json_object \
    json_patch json_quote json_remove json_replace json_set json_type json_valid json_group_array \
    json_group_object -> ->>";

/// Table-valued functions SQLite has built in, which `pragma_module_list` may not list.
const BUILT_IN_TABLES: &str = "json_each json_tree jsonb_each jsonb_tree dbstat fts3tokenize \
    fts5vocab generate_series carray sqlite_dbpage sqlite_stmt";

/// The names a report's query might read that are not documents: the tables and views of
/// the database, and its virtual-table modules (`dbstat`, `json_each`, …), taken before the
/// query is prepared (the authorizer may not query the database itself).
struct Known {
    objects: HashSet<String>,
    modules: HashSet<String>,
}

impl Known {
    fn of(conn: &Connection) -> rusqlite::Result<Self> {
        let names = |sql: &str| -> rusqlite::Result<HashSet<String>> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|n| n.map(|n| n.to_ascii_lowercase())).collect()
        };
        Ok(Known {
            objects: names(
                "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') \
                 UNION SELECT name FROM sqlite_temp_schema WHERE type IN ('table', 'view')",
            )?,
            modules: names("SELECT name FROM pragma_module_list")?
                .into_iter()
                .chain(BUILT_IN_TABLES.split_whitespace().map(str::to_owned))
                .collect(),
        })
    }

    /// Whether reading `table` is reading a document table, or a name the query made
    /// itself (a common table expression), whose own reads are checked on their own.
    fn may_read(&self, table: &str) -> bool {
        let t = table.to_ascii_lowercase();
        if t.starts_with("tab_") {
            return true;
        }
        !(self.objects.contains(&t)
            || self.modules.contains(&t)
            || t.starts_with("sqlite_")
            || t.starts_with("pragma_"))
    }
}

/// What the authorizer refuses, in words for whoever wrote the report; `None` to allow.
fn refusal(known: &Known, ctx: &AuthContext<'_>) -> Option<String> {
    match ctx.action {
        AuthAction::Select | AuthAction::Recursive => None,
        AuthAction::Read { table_name, .. } => {
            let main = matches!(ctx.database_name, None | Some("main"));
            (!(main && known.may_read(table_name))).then(|| {
                format!(
                    "a report may read the site's documents (tab_… tables) only; it tried to read {table_name}"
                )
            })
        }
        AuthAction::Function { function_name } => {
            let allowed = ALLOWED_FUNCTIONS
                .split_whitespace()
                .any(|f| f.eq_ignore_ascii_case(function_name));
            (!allowed).then(|| format!("a report may not call the function {function_name}"))
        }
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => {
            Some("a report may not attach or detach databases".to_owned())
        }
        AuthAction::Pragma { pragma_name, .. } => {
            Some(format!("a report may not use PRAGMA {pragma_name}"))
        }
        _ => Some("a report may only read (one SELECT over the site's documents)".to_owned()),
    }
}

/// Installs the authorizer and the time limit on a report's connection. The first refusal
/// is kept in the returned cell, to be reported instead of SQLite's own words.
fn restrict(conn: &Connection, limit: Duration) -> rusqlite::Result<Arc<Mutex<Option<String>>>> {
    let known = Known::of(conn)?;
    let refused = Arc::new(Mutex::new(None::<String>));
    let first = refused.clone();
    conn.authorizer(Some(move |ctx: AuthContext<'_>| {
        match refusal(&known, &ctx) {
            None => Authorization::Allow,
            Some(why) => {
                if let Ok(mut first) = first.lock()
                    && first.is_none()
                {
                    *first = Some(why);
                }
                Authorization::Deny
            }
        }
    }))?;
    let deadline = Instant::now() + limit;
    conn.progress_handler(STEPS_PER_CHECK, Some(move || Instant::now() >= deadline))?;
    Ok(refused)
}

/// One value as the reader copied it: text is a range of [`RawBatch::text`].
#[derive(Clone, Copy)]
enum RawCell {
    Null,
    Int(i64),
    Float(f64),
    Text { start: usize, end: usize },
}

/// Rows of `width` cells each, row after row, and the bytes of their text.
#[derive(Default)]
struct RawBatch {
    cells: Vec<RawCell>,
    text: Vec<u8>,
}

impl RawBatch {
    fn clear(&mut self) {
        self.cells.clear();
        self.text.clear();
    }
}

type Batch = StoreResult<RawBatch>;

#[async_trait]
impl ReportStore for SqliteStore {
    async fn query_each_row(
        &self,
        sql: &str,
        params: &[SqlValue],
        sink: &mut RowSink<'_>,
    ) -> StoreResult<u64> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, Batch)>(AHEAD);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<RawBatch>();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, sql, params, stop) = (
                self.path.clone(),
                sql.to_owned(),
                params.to_vec(),
                stop.clone(),
            );
            tokio::task::spawn_blocking(move || {
                read(path, &sql, &params, &tx, &spare_rx, &stop, TIME_LIMIT)
            })
        };
        let mut count = 0;
        let mut handed = 0u64;
        let mut stopped = false;
        let mut row: Vec<SqlValue> = Vec::new();
        'batches: while let Some((width, batch)) = rx.recv().await {
            let batch = batch?;
            row.resize(width, SqlValue::Null);
            // One check of the whole batch's text is far cheaper than one per value; it
            // fails only if some value is not UTF-8, and then each is checked on its own.
            let text = match std::str::from_utf8(&batch.text) {
                Ok(all) => Text::Valid(all),
                Err(_) => Text::Unchecked(&batch.text),
            };
            for cells in batch.cells.chunks_exact(width.max(1)) {
                for (slot, cell) in row.iter_mut().zip(cells) {
                    decode_into(slot, *cell, text);
                }
                count += 1;
                if sink(&row) == ControlFlow::Break(()) {
                    stop.store(true, Ordering::Relaxed);
                    stopped = true;
                    break 'batches;
                }
            }
            // Back to the reader to be filled again; if it has finished, dropped here.
            let _ = spare_tx.send(batch);
            // A sink that writes a large export keeps this task busy for seconds; letting the
            // runtime run other requests every few batches keeps the server answering.
            handed += 1;
            if handed.is_multiple_of(YIELD_EVERY) {
                tokio::task::yield_now().await;
            }
        }
        drop(rx);
        let finished = reader
            .await
            .map_err(|e| StoreError::Other(format!("the report reader stopped: {e}")))?;
        // Once the sink has had enough, what the reader met afterwards does not matter.
        if !stopped {
            finished?;
        }
        Ok(count)
    }
}

/// A batch's text bytes: known to be UTF-8 as a whole, or not.
#[derive(Clone, Copy)]
enum Text<'a> {
    Valid(&'a str),
    Unchecked(&'a [u8]),
}

impl<'a> Text<'a> {
    /// The value in `start..end`; text that is not UTF-8 (SQLite does not check) is shown
    /// with U+FFFD.
    fn get(self, start: usize, end: usize) -> Cow<'a, str> {
        let bytes = match self {
            // Within valid UTF-8, a range is valid UTF-8 when both ends fall between
            // characters, which `get` checks without scanning.
            Text::Valid(all) => match all.get(start..end) {
                Some(value) => return Cow::Borrowed(value),
                None => all.as_bytes().get(start..end).unwrap_or_default(),
            },
            Text::Unchecked(all) => all.get(start..end).unwrap_or_default(),
        };
        match std::str::from_utf8(bytes) {
            Ok(valid) => Cow::Borrowed(valid),
            Err(_) => String::from_utf8_lossy(bytes),
        }
    }
}

/// Puts `cell` into `slot`, reusing the slot's `String` for text.
fn decode_into(slot: &mut SqlValue, cell: RawCell, text: Text<'_>) {
    match cell {
        RawCell::Null => *slot = SqlValue::Null,
        RawCell::Int(n) => *slot = SqlValue::Int(n),
        RawCell::Float(f) => *slot = SqlValue::Float(f),
        RawCell::Text { start, end } => {
            let value = text.get(start, end);
            match slot {
                SqlValue::Text(s) => {
                    s.clear();
                    s.push_str(&value);
                }
                other => *other = SqlValue::Text(value.into_owned()),
            }
        }
    }
}

/// Reads every row of `sql` and sends it in batches, each with the row width (refilling
/// those that come back on `spare`), until done, an error (sent too), the receiver going
/// away, or `stop`; or until it has run for `limit`.
fn read(
    path: PathBuf,
    sql: &str,
    params: &[SqlValue],
    tx: &tokio::sync::mpsc::Sender<(usize, Batch)>,
    spare: &std::sync::mpsc::Receiver<RawBatch>,
    stop: &AtomicBool,
    limit: Duration,
) -> StoreResult<()> {
    let mut width = 0;
    let result = (|| -> StoreResult<()> {
        let conn = crate::reader::open_read_only(&path)?;
        let unavailable = |e: rusqlite::Error| StoreError::Unavailable(e.to_string());
        let refused = restrict(&conn, limit).map_err(unavailable)?;
        let other = |e: rusqlite::Error| {
            // A refusal fails the statement with SQLITE_AUTH, or (a function) with a plain
            // error; either way the authorizer's words say what was refused.
            let why = refused.lock().ok().and_then(|mut r| r.take());
            match (why, e.sqlite_error_code()) {
                (Some(why), _) => accesslog_store::reports::refused(&why),
                (None, Some(ErrorCode::AuthorizationForStatementDenied)) => {
                    accesslog_store::reports::refused(&e.to_string())
                }
                (None, Some(ErrorCode::OperationInterrupted)) => StoreError::Other(format!(
                    "the report ran longer than {} seconds and was stopped",
                    limit.as_secs_f64()
                )),
                _ => StoreError::Other(e.to_string()),
            }
        };
        let mut stmt = conn.prepare(sql).map_err(other)?;
        // `$N` is a named parameter to SQLite, numbered by first appearance: bind by name.
        for (i, value) in params.iter().enumerate() {
            let Some(index) = stmt
                .parameter_index(&format!("${}", i + 1))
                .map_err(other)?
            else {
                continue;
            };
            match value {
                SqlValue::Null => stmt.raw_bind_parameter(index, rusqlite::types::Null),
                SqlValue::Int(n) => stmt.raw_bind_parameter(index, n),
                SqlValue::Float(f) => stmt.raw_bind_parameter(index, f),
                SqlValue::Text(t) => stmt.raw_bind_parameter(index, t.as_str()),
            }
            .map_err(other)?;
        }
        width = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut batch = RawBatch::default();
        let mut filled = 0;
        while let Some(row) = rows.next().map_err(other)? {
            for i in 0..width {
                let cell = match row.get_ref(i).map_err(other)? {
                    ValueRef::Null => RawCell::Null,
                    ValueRef::Integer(n) => RawCell::Int(n),
                    ValueRef::Real(f) => RawCell::Float(f),
                    ValueRef::Text(bytes) => {
                        let start = batch.text.len();
                        batch.text.extend_from_slice(bytes);
                        RawCell::Text {
                            start,
                            end: batch.text.len(),
                        }
                    }
                    ValueRef::Blob(_) => {
                        return Err(StoreError::Other(format!(
                            "column {} of the report is a BLOB, which a report cannot show",
                            i + 1
                        )));
                    }
                };
                batch.cells.push(cell);
            }
            filled += 1;
            if filled == BATCH {
                if stop.load(Ordering::Relaxed)
                    || tx
                        .blocking_send((width, Ok(std::mem::take(&mut batch))))
                        .is_err()
                {
                    return Ok(());
                }
                if let Ok(mut used) = spare.try_recv() {
                    used.clear();
                    batch = used;
                }
                filled = 0;
            }
        }
        if filled > 0 {
            let _ = tx.blocking_send((width, Ok(batch)));
        }
        Ok(())
    })();
    if let Err(e) = result {
        // The error goes to the caller through the channel; if it has gone, nobody asked.
        let message = e.to_string();
        let _ = tx.blocking_send((width, Err(e)));
        return Err(StoreError::Other(message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file with a document table and a system table, removed when dropped.
    struct Db(PathBuf);

    impl Db {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "accesslog-reports-{name}-{}-{:?}.db",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_file(&path);
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE tab_note (name TEXT PRIMARY KEY, body TEXT);
                 INSERT INTO tab_note VALUES ('N-1', 'hello');
                 CREATE TABLE users (email TEXT, password_hash TEXT);
                 INSERT INTO users VALUES ('a@example.com', 'secret');",
            )
            .unwrap();
            Db(path)
        }

        /// Runs `sql` with `limit` as the time limit: the rows, or the error.
        fn run(&self, sql: &str, limit: Duration) -> StoreResult<Vec<Vec<SqlValue>>> {
            let (tx, mut rx) = tokio::sync::mpsc::channel(AHEAD);
            let (_spare_tx, spare_rx) = std::sync::mpsc::channel();
            let stop = AtomicBool::new(false);
            let (path, sql) = (self.0.clone(), sql.to_owned());
            let reader =
                std::thread::spawn(move || read(path, &sql, &[], &tx, &spare_rx, &stop, limit));
            let mut rows = Vec::new();
            while let Some((width, batch)) = rx.blocking_recv() {
                let batch = batch?;
                let text = match std::str::from_utf8(&batch.text) {
                    Ok(all) => Text::Valid(all),
                    Err(_) => Text::Unchecked(&batch.text),
                };
                for cells in batch.cells.chunks_exact(width.max(1)) {
                    let mut row = vec![SqlValue::Null; width];
                    for (slot, cell) in row.iter_mut().zip(cells) {
                        decode_into(slot, *cell, text);
                    }
                    rows.push(row);
                }
            }
            reader.join().unwrap()?;
            Ok(rows)
        }
    }

    impl Drop for Db {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_report_that_runs_too_long_is_stopped() {
        let db = Db::new("limit");
        // Never ends by itself; no timing threshold to guess, only the limit to reach.
        let err = db
            .run(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
                 SELECT COUNT(*) FROM n",
                Duration::from_millis(1),
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ran longer than 0.001 seconds and was stopped"),
            "{err}"
        );
        // Under the limit, a report runs whole.
        let rows = db
            .run("SELECT upper(body) FROM tab_note", TIME_LIMIT)
            .unwrap();
        assert_eq!(rows, [[SqlValue::Text("HELLO".into())]]);
        assert_eq!(TIME_LIMIT, Duration::from_secs(120));
    }

    #[test]
    fn the_authorizer_names_what_it_refused() {
        let db = Db::new("auth");
        let err = db
            .run(
                "SELECT n.body FROM tab_note n JOIN users u ON 1 = 1",
                TIME_LIMIT,
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "a report may read the site's documents (tab_… tables) only; it tried to read users"
            ),
            "{err}"
        );
        let err = db
            .run("SELECT load_extension('x')", TIME_LIMIT)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("may not call the function load_extension"),
            "{err}"
        );
    }
}
