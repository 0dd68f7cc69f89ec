//! Report queries on PostgreSQL: each in a READ ONLY transaction with a statement timeout,
//! so a report can neither write nor hold the database for long, and streamed row by row.

use std::ops::ControlFlow;

use accesslog_store::{ReportStore, RowSink, SqlValue, StoreError, StoreResult};
use async_trait::async_trait;
use futures::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{Row, TypeInfo, ValueRef};

use crate::{PgStore, bind_all};

/// A report query that runs longer than this is cancelled by the server.
const STATEMENT_TIMEOUT: &str = "SET LOCAL statement_timeout = '120s'";

#[async_trait]
impl ReportStore for PgStore {
    async fn query_each_row(
        &self,
        sql: &str,
        params: &[SqlValue],
        sink: &mut RowSink<'_>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION READ ONLY")
            .execute(&mut *tx)
            .await?;
        sqlx::query(STATEMENT_TIMEOUT).execute(&mut *tx).await?;
        let mut count = 0;
        {
            let query = bind_all(
                sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())),
                params,
                &[],
            );
            let mut rows = query.fetch(&mut *tx);
            let mut values = Vec::new();
            while let Some(row) = rows.try_next().await? {
                values.clear();
                for i in 0..row.len() {
                    values.push(value(&row, i)?);
                }
                count += 1;
                if sink(&values) == ControlFlow::Break(()) {
                    break;
                }
            }
        }
        tx.rollback().await?;
        Ok(count)
    }
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
