//! Report queries on PostgreSQL: each in a READ ONLY transaction with a statement timeout,
//! so a report can neither write nor hold the database for long, streamed in batches from
//! a reading task.

use std::ops::ControlFlow;

use accesslog_store::{ReportStore, RowSink, SqlValue, StoreError, StoreResult};
use async_trait::async_trait;
use futures::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{Row, TypeInfo, ValueRef};

use crate::{PgStore, bind_all};

/// A report query that runs longer than this is cancelled by the server.
const STATEMENT_TIMEOUT: &str = "SET LOCAL statement_timeout = '120s'";

/// Rows per hand-over from the reading task.
const BATCH: usize = 512;
/// Batches read ahead of the sink.
const AHEAD: usize = 4;
/// Batches handed to the sink between two yields to the runtime.
const YIELD_EVERY: u64 = 8;

type Rows = Vec<Vec<SqlValue>>;

#[async_trait]
impl ReportStore for PgStore {
    /// The rows are read and decoded by a task of their own, in batches, while the caller's
    /// sink (an export writing its file) works on the previous ones; batches go back to the
    /// reader to be filled again.
    async fn query_each_row(
        &self,
        sql: &str,
        params: &[SqlValue],
        sink: &mut RowSink<'_>,
    ) -> StoreResult<u64> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<StoreResult<Rows>>(AHEAD);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Rows>();
        let reader = {
            let (pool, sql, params) = (self.pool.clone(), sql.to_owned(), params.to_vec());
            tokio::spawn(async move {
                let result = read(&pool, &sql, &params, &tx, spare_rx).await;
                if let Err(e) = result {
                    // To the caller, unless it has stopped listening.
                    let _ = tx.send(Err(e)).await;
                }
            })
        };
        let mut count = 0;
        let mut handed = 0u64;
        'batches: while let Some(batch) = rx.recv().await {
            let batch = batch?;
            for row in &batch {
                count += 1;
                if sink(row) == ControlFlow::Break(()) {
                    break 'batches;
                }
            }
            let _ = spare_tx.send(batch);
            // A sink that writes a large export keeps this task busy for seconds; letting the
            // runtime run other requests every few batches keeps the server answering.
            handed += 1;
            if handed.is_multiple_of(YIELD_EVERY) {
                tokio::task::yield_now().await;
            }
        }
        // Dropping the receiver stops the reader at its next batch; its transaction is
        // rolled back when it ends.
        drop(rx);
        reader
            .await
            .map_err(|e| StoreError::Other(format!("the report reader stopped: {e}")))?;
        Ok(count)
    }
}

/// Runs `sql` in a read-only transaction and sends its rows in batches until done, an
/// error, or the receiver going away.
async fn read(
    pool: &sqlx::PgPool,
    sql: &str,
    params: &[SqlValue],
    tx: &tokio::sync::mpsc::Sender<StoreResult<Rows>>,
    spare: std::sync::mpsc::Receiver<Rows>,
) -> StoreResult<()> {
    let mut conn = pool.begin().await?;
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *conn)
        .await?;
    sqlx::query(STATEMENT_TIMEOUT).execute(&mut *conn).await?;
    {
        let query = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())),
            params,
            &[],
        );
        let mut rows = query.fetch(&mut *conn);
        let mut batch: Rows = Vec::with_capacity(BATCH);
        let mut filled = 0;
        while let Some(row) = rows.try_next().await? {
            if filled == batch.len() {
                batch.push(Vec::with_capacity(row.len()));
            }
            let values = &mut batch[filled];
            values.clear();
            for i in 0..row.len() {
                values.push(value(&row, i)?);
            }
            filled += 1;
            if filled == BATCH {
                if tx.send(Ok(std::mem::take(&mut batch))).await.is_err() {
                    return Ok(());
                }
                batch = spare.try_recv().unwrap_or_default();
                filled = 0;
            }
        }
        if filled > 0 {
            batch.truncate(filled);
            let _ = tx.send(Ok(batch)).await;
        }
    }
    conn.rollback().await?;
    Ok(())
}

/// A column's value by its PostgreSQL type.
fn value(row: &PgRow, i: usize) -> StoreResult<SqlValue> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(SqlValue::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INT8" => SqlValue::Int(row.try_get(i)?),
        "INT4" => SqlValue::Int(row.try_get::<i32, _>(i)?.into()),
        "INT2" => SqlValue::Int(row.try_get::<i16, _>(i)?.into()),
        "BOOL" => SqlValue::Int(row.try_get::<bool, _>(i)?.into()),
        "FLOAT8" => SqlValue::Float(row.try_get(i)?),
        "FLOAT4" => SqlValue::Float(row.try_get::<f32, _>(i)?.into()),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => SqlValue::Text(row.try_get(i)?),
        other => {
            return Err(StoreError::Other(format!(
                "column {} of the report is {other}, which a report cannot show; cast it in the query (CAST(… AS DOUBLE PRECISION) for sums of integers, CAST(… AS TEXT) otherwise)",
                i + 1
            )));
        }
    })
}
