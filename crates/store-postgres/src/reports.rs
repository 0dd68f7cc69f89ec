//! Report queries on PostgreSQL: each in a READ ONLY transaction with a statement timeout,
//! so a report can neither write nor hold the database for long, streamed in batches from
//! a reading task.
//!
//! What a report may read is decided by the database, not by its text: the query runs as
//! the role [`REPORT_ROLE`] (migration 0008), which may `SELECT` from the document tables
//! (`tab_…`) and nothing else, and is no superuser (so no `pg_read_file`, no large
//! objects, no `dblink` without a password). It runs inside `accesslog_report_rows`, a
//! `SECURITY DEFINER` function that role owns, because a query run after `SET ROLE` could
//! still call `set_config('role', 'none', true)` and read on as the connecting user; within
//! such a function PostgreSQL refuses that. The function returns records, so the query is
//! first prepared (as the report role) to learn its column types, and its `$N` parameters
//! become elements of one text array, each cast back to the type it is bound as today.

use std::ops::ControlFlow;

use accesslog_store::{ReportStore, RowSink, SqlValue, StoreError, StoreResult};
use async_trait::async_trait;
use futures::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{Row, TypeInfo, ValueRef};

use crate::PgStore;

/// A report query that runs longer than this is cancelled by the server.
const STATEMENT_TIMEOUT: &str = "SET LOCAL statement_timeout = '120s'";

/// The role report queries run as: `SELECT` on document tables only (migration 0008).
pub const REPORT_ROLE: &str = "accesslog_report";

/// Document tables of this schema that the report role cannot read yet.
const UNGRANTED_DOCUMENT_TABLES: &str = "SELECT c.relname::TEXT FROM pg_class c \
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') \
    AND c.relname LIKE 'tab\\_%' AND NOT has_table_privilege($1, c.oid, 'SELECT')";

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
            let (pool, sql, params) = (self.pool().clone(), sql.to_owned(), params.to_vec());
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
    grant_document_tables(pool).await?;
    let mut conn = pool.begin().await?;
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *conn)
        .await?;
    sqlx::query(STATEMENT_TIMEOUT).execute(&mut *conn).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {REPORT_ROLE}")))
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "report queries run as the database role {REPORT_ROLE}, which this database user cannot switch to ({e}); see the README, \"Report queries run with least privilege\""
            ))
        })?;
    let (inner, values) = array_parameters(sql, params);
    let outer = {
        use sqlx::{Column, Executor, SqlSafeStr, Statement};
        let text_array = <Vec<String> as sqlx::Type<sqlx::Postgres>>::type_info();
        let prepared = (&mut *conn)
            .prepare_with(
                sqlx::AssertSqlSafe(inner.clone()).into_sql_str(),
                &[text_array],
            )
            .await
            .map_err(refusal)?;
        let oids: Vec<i64> = prepared
            .columns()
            .iter()
            .map(|c| {
                c.type_info().oid().map(|o| i64::from(o.0)).ok_or_else(|| {
                    StoreError::Other(format!(
                        "the type of the report's column {} is unknown",
                        c.ordinal() + 1
                    ))
                })
            })
            .collect::<StoreResult<_>>()?;
        if oids.is_empty() {
            return Err(StoreError::Other(
                "a report's query must return columns (it must be one SELECT)".to_owned(),
            ));
        }
        let types: Vec<String> = sqlx::query_scalar(
            "SELECT format_type(CAST(t AS OID), NULL) FROM unnest(CAST($1 AS BIGINT[])) WITH ORDINALITY AS u(t, i) ORDER BY i",
        )
        .bind(&oids)
        .fetch_all(&mut *conn)
        .await?;
        let columns: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("c{} {t}", i + 1))
            .collect();
        format!(
            "SELECT * FROM accesslog_report_rows($1, $2) AS r({})",
            columns.join(", ")
        )
    };
    {
        let query = sqlx::query(sqlx::AssertSqlSafe(outer))
            .bind(inner)
            .bind(values);
        let mut rows = query.fetch(&mut *conn);
        let mut batch: Rows = Vec::with_capacity(BATCH);
        let mut filled = 0;
        while let Some(row) = rows.try_next().await.map_err(refusal)? {
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

/// Gives the report role `SELECT` on document tables made since the last report (a new
/// document type). Done here, in a transaction of its own, rather than where tables are
/// created, so that a role made by the operator after the tables also gets them. Two
/// servers granting the same table at once may collide; the loser's report then proceeds
/// (the winner's grant stands).
async fn grant_document_tables(pool: &sqlx::PgPool) -> StoreResult<()> {
    let missing: Vec<String> = sqlx::query_scalar(UNGRANTED_DOCUMENT_TABLES)
        .bind(REPORT_ROLE)
        .fetch_all(pool)
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "report queries run as the database role {REPORT_ROLE}, which is missing ({e}); see the README, \"Report queries run with least privilege\""
            ))
        })?;
    if missing.is_empty() {
        return Ok(());
    }
    let grant = async {
        let mut tx = pool.begin().await?;
        for table in &missing {
            let sql = format!(
                "GRANT SELECT ON TABLE \"{}\" TO {REPORT_ROLE}",
                table.replace('"', "\"\"")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(())
    };
    if let Err(e) = grant.await {
        tracing::warn!(error = %e, tables = ?missing, "could not grant the report role SELECT on new document tables");
    }
    Ok(())
}

/// A database's refusal of a report (PostgreSQL's `insufficient_privilege`, 42501, or a
/// function that does not exist here, 42883) as [`StoreError`] saying what was refused;
/// any other error as it is.
fn refusal(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
        match code.as_str() {
            "42501" => {
                return accesslog_store::reports::refused(&format!(
                    "a report may read the site's documents (tab_… tables) only, with no file, network or system functions; the database refused: {}",
                    db.message()
                ));
            }
            "42883" => {
                return accesslog_store::reports::refused(&format!(
                    "the report called a function it may not use: {}",
                    db.message()
                ));
            }
            _ => {}
        }
    }
    e.into()
}

/// `sql` with each `$N` (outside quotes and comments) replaced by the N-th element of one
/// text array, `$1`, cast to the type the value is bound as (BIGINT, DOUBLE PRECISION or
/// TEXT, as `Stmt::bind_values` binds it); and that array.
fn array_parameters(sql: &str, params: &[SqlValue]) -> (String, Vec<Option<String>>) {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + params.len() * 32);
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let skip_to = match (b[i], b.get(i + 1)) {
            (b'\'', _) | (b'"', _) => {
                let quote = b[i];
                let mut j = i + 1;
                while j < b.len() {
                    if b[j] == quote {
                        if b.get(j + 1) == Some(&quote) {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                Some(j + 1)
            }
            (b'-', Some(b'-')) => Some(sql[i..].find('\n').map_or(b.len(), |n| i + n)),
            (b'/', Some(b'*')) => Some(sql[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2)),
            (b'$', Some(c)) if c.is_ascii_digit() && (i == 0 || !is_word(b[i - 1])) => {
                let end = (i + 1..b.len())
                    .find(|&j| !b[j].is_ascii_digit())
                    .unwrap_or(b.len());
                let kind = sql[i + 1..end]
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1).and_then(|k| params.get(k)).map(|v| (n, v)));
                if let Some((n, value)) = kind {
                    let ty = match value {
                        SqlValue::Int(_) => "BIGINT",
                        SqlValue::Float(_) => "DOUBLE PRECISION",
                        SqlValue::Null | SqlValue::Text(_) => "TEXT",
                    };
                    out.push_str(&sql[copied..i]);
                    out.push_str(&format!("CAST((CAST($1 AS TEXT[]))[{n}] AS {ty})"));
                    copied = end;
                }
                Some(end)
            }
            (b'$', _) if i == 0 || !is_word(b[i - 1]) => {
                // A dollar-quoted string: $$…$$ or $tag$…$tag$.
                let tag_end = (i + 1..b.len()).find(|&j| !is_word(b[j]));
                match tag_end {
                    Some(t) if b[t] == b'$' => {
                        let tag = &sql[i..=t];
                        Some(
                            sql[t + 1..]
                                .find(tag)
                                .map_or(b.len(), |n| t + 1 + n + tag.len()),
                        )
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        i = match skip_to {
            Some(next) => next.min(b.len()).max(i + 1),
            None => i + 1,
        };
    }
    out.push_str(&sql[copied..]);
    let values = params
        .iter()
        .map(|v| match v {
            SqlValue::Null => None,
            SqlValue::Int(n) => Some(n.to_string()),
            SqlValue::Float(f) => Some(float_text(*f)),
            SqlValue::Text(t) => Some(t.clone()),
        })
        .collect();
    (out, values)
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// A float as PostgreSQL reads it back to the same value.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        // Rust's shortest round-trip form, in exponent notation so huge values stay short.
        format!("{f:e}")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_typed_elements_of_one_array_outside_quotes() {
        let (sql, values) = array_parameters(
            "SELECT '$1', \"$2\", $$ $1 $$, $t$ $2 $t$ -- $1\nFROM tab_x WHERE a = $1 AND b = $2 /* $3 */ AND c = $3 AND d = $10",
            &[
                SqlValue::Int(7),
                SqlValue::Float(0.5),
                SqlValue::Text("it's".into()),
            ],
        );
        assert_eq!(
            sql,
            "SELECT '$1', \"$2\", $$ $1 $$, $t$ $2 $t$ -- $1\nFROM tab_x WHERE a = CAST((CAST($1 AS TEXT[]))[1] AS BIGINT) \
             AND b = CAST((CAST($1 AS TEXT[]))[2] AS DOUBLE PRECISION) /* $3 */ \
             AND c = CAST((CAST($1 AS TEXT[]))[3] AS TEXT) AND d = $10"
        );
        assert_eq!(
            values,
            [
                Some("7".to_owned()),
                Some("5e-1".to_owned()),
                Some("it's".to_owned())
            ]
        );
        let (_, values) = array_parameters("SELECT $1", &[SqlValue::Null]);
        assert_eq!(values, [None]);
        assert_eq!(float_text(f64::NAN), "NaN");
        assert_eq!(float_text(f64::NEG_INFINITY), "-Infinity");
    }
}
