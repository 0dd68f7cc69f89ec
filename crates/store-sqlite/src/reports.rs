//! Report queries on SQLite: run on a read-only connection pool of their own, so a report
//! cannot write whatever its SQL says, and streamed row by row.

use std::ops::ControlFlow;

use accesslog_store::{ReportStore, RowSink, SqlValue, StoreError, StoreResult};
use async_trait::async_trait;
use futures::TryStreamExt;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, TypeInfo, ValueRef};

use crate::{SqliteStore, bind_all};

#[async_trait]
impl ReportStore for SqliteStore {
    async fn query_each_row(
        &self,
        sql: &str,
        params: &[SqlValue],
        sink: &mut RowSink<'_>,
    ) -> StoreResult<u64> {
        let query = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())),
            params,
            &[],
        );
        let mut rows = query.fetch(&self.reports);
        let mut count = 0;
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
        Ok(count)
    }
}

/// A column's value by its storage class (SQLite types values, not columns).
fn value(row: &SqliteRow, i: usize) -> StoreResult<SqlValue> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(SqlValue::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" | "BOOLEAN" => SqlValue::Int(row.try_get(i)?),
        "REAL" | "NUMERIC" => SqlValue::Float(row.try_get(i)?),
        "TEXT" | "DATE" | "DATETIME" | "TIME" => SqlValue::Text(row.try_get(i)?),
        other => {
            return Err(StoreError::Other(format!(
                "column {} of the report is {other}, which a report cannot show",
                i + 1
            )));
        }
    })
}
