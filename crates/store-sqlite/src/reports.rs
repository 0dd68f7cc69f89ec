//! Report queries on SQLite: run on a read-only connection of their own (so a report cannot
//! write whatever its SQL says), on a blocking thread, with values decoded straight from
//! SQLite and handed over in batches. The async driver sent each row across threads on its
//! own, which cost three times what SQLite itself did (BENCHMARKS.md, exports).

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
const BATCH: usize = 2048;
/// Batches read ahead of the sink.
const AHEAD: usize = 4;

type Batch = StoreResult<Vec<Vec<SqlValue>>>;

#[async_trait]
impl ReportStore for SqliteStore {
    async fn query_each_row(
        &self,
        sql: &str,
        params: &[SqlValue],
        sink: &mut RowSink<'_>,
    ) -> StoreResult<u64> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(AHEAD);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, sql, params, stop) = (
                self.path.clone(),
                sql.to_owned(),
                params.to_vec(),
                stop.clone(),
            );
            tokio::task::spawn_blocking(move || read(path, &sql, &params, &tx, &stop))
        };
        let mut count = 0;
        let mut stopped = false;
        'batches: while let Some(batch) = rx.recv().await {
            for row in batch? {
                count += 1;
                if sink(&row) == ControlFlow::Break(()) {
                    stop.store(true, Ordering::Relaxed);
                    stopped = true;
                    break 'batches;
                }
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

/// Reads every row of `sql` and sends it in batches, until done, an error (sent too), the
/// receiver going away, or `stop`.
fn read(
    path: PathBuf,
    sql: &str,
    params: &[SqlValue],
    tx: &tokio::sync::mpsc::Sender<Batch>,
    stop: &AtomicBool,
) -> StoreResult<()> {
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
        let width = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(row) = rows.next().map_err(other)? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match row.get_ref(i).map_err(other)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(n) => SqlValue::Int(n),
                    ValueRef::Real(f) => SqlValue::Float(f),
                    ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(_) => {
                        return Err(StoreError::Other(format!(
                            "column {} of the report is a BLOB, which a report cannot show",
                            i + 1
                        )));
                    }
                });
            }
            batch.push(values);
            if batch.len() == BATCH {
                if stop.load(Ordering::Relaxed)
                    || tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err()
                {
                    return Ok(());
                }
                batch.reserve(BATCH);
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
        Ok(())
    })();
    if let Err(e) = result {
        // The error goes to the caller through the channel; if it has gone, nobody asked.
        let message = e.to_string();
        let _ = tx.blocking_send(Err(e));
        return Err(StoreError::Other(message));
    }
    Ok(())
}
