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

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use accesslog_store::{ReportStore, RowSink, SqlValue, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::SqliteStore;

/// Rows per hand-over from the reading thread.
const BATCH: usize = 512;
/// Batches read ahead of the sink.
const AHEAD: usize = 4;
/// Batches handed to the sink between two yields to the runtime.
const YIELD_EVERY: u64 = 8;

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
            tokio::task::spawn_blocking(move || read(path, &sql, &params, &tx, &spare_rx, &stop))
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
/// away, or `stop`.
fn read(
    path: PathBuf,
    sql: &str,
    params: &[SqlValue],
    tx: &tokio::sync::mpsc::Sender<(usize, Batch)>,
    spare: &std::sync::mpsc::Receiver<RawBatch>,
    stop: &AtomicBool,
) -> StoreResult<()> {
    let mut width = 0;
    let result = (|| -> StoreResult<()> {
        let unavailable = |e: rusqlite::Error| StoreError::Unavailable(e.to_string());
        let other = |e: rusqlite::Error| StoreError::Other(e.to_string());
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(unavailable)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(unavailable)?;
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
