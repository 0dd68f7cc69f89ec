//! The alert inbox's tables: the same SQL on both backends.

use accesslog_core::Timestamp;
use async_trait::async_trait;

use super::{Backend, SqlBacked, SqlRow, Stmt, to_u64};
use crate::StoreResult;
use crate::alerts::{AlertFilter, AlertRecord, AlertStore, DeadLetterRecord, Suppression};
use crate::log::to_i64;

const ALERT_COLUMNS: &str = "id, rule, user_email, window_start, severity, state, shadow, \
     opened_at, updated_at, version, body";

fn alert_from_row(row: &impl SqlRow) -> StoreResult<AlertRecord> {
    Ok(AlertRecord {
        id: to_u64(row.get("id")?, "id")?,
        rule: row.get("rule")?,
        user: row.get("user_email")?,
        window_start: Timestamp::from_micros(row.get("window_start")?),
        severity: row.get("severity")?,
        state: row.get("state")?,
        shadow: row.get("shadow")?,
        opened_at: Timestamp::from_micros(row.get("opened_at")?),
        updated_at: Timestamp::from_micros(row.get("updated_at")?),
        version: row.get("version")?,
        body: row.get("body")?,
    })
}

fn suppression_from_row(row: &impl SqlRow) -> StoreResult<Suppression> {
    Ok(Suppression {
        id: to_u64(row.get("id")?, "id")?,
        rule: row.get("rule")?,
        user: row.get("user_email")?,
        owner: row.get("owner")?,
        reason: row.get("reason")?,
        created_at: Timestamp::from_micros(row.get("created_at")?),
        expires_at: Timestamp::from_micros(row.get("expires_at")?),
    })
}

fn dead_letter_from_row(row: &impl SqlRow) -> StoreResult<DeadLetterRecord> {
    Ok(DeadLetterRecord {
        id: to_u64(row.get("id")?, "id")?,
        channel: row.get("channel")?,
        alert_id: to_u64(row.get("alert_id")?, "id")?,
        attempts: u32::try_from(row.get::<i64>("attempts")?).unwrap_or(u32::MAX),
        last_error: row.get("last_error")?,
        at: Timestamp::from_micros(row.get("at")?),
    })
}

/// A new open alert; the partial unique index on the open key turns a second open alert
/// of the same key into no row.
fn insert_stmt(a: &AlertRecord) -> Stmt<'_> {
    Stmt::new(
        "INSERT INTO alerts (rule, user_email, window_start, severity, state, shadow, \
         opened_at, updated_at, version, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(&a.rule)
    .bind(&a.user)
    .bind(a.window_start.as_micros())
    .bind(a.severity)
    .bind(&a.state)
    .bind(a.shadow)
    .bind(a.opened_at.as_micros())
    .bind(a.updated_at.as_micros())
    .bind(&a.body)
}

/// An update that applies only if the row is still at the version it was read at.
fn update_stmt(a: &AlertRecord) -> StoreResult<Stmt<'_>> {
    Ok(Stmt::new(
        "UPDATE alerts SET severity = $1, state = $2, shadow = $3, updated_at = $4, \
         body = $5, version = version + 1 WHERE id = $6 AND version = $7 RETURNING id",
    )
    .bind(a.severity)
    .bind(&a.state)
    .bind(a.shadow)
    .bind(a.updated_at.as_micros())
    .bind(&a.body)
    .bind(to_i64(a.id)?)
    .bind(a.version))
}

#[async_trait]
impl<T: SqlBacked> AlertStore for T {
    async fn insert_alert(&self, a: &AlertRecord) -> StoreResult<Option<u64>> {
        let row = self.sql().fetch_optional(insert_stmt(a)).await?;
        row.map(|r| to_u64(r.get("id")?, "id")).transpose()
    }

    async fn open_alert_for(
        &self,
        rule: &str,
        user: &str,
        window_start: Timestamp,
    ) -> StoreResult<Option<AlertRecord>> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE rule = $1 AND user_email = $2 \
             AND window_start = $3 AND state IN ('open', 'acknowledged')"
        );
        let row = self
            .sql()
            .fetch_optional(
                Stmt::new(sql)
                    .bind(rule)
                    .bind(user)
                    .bind(window_start.as_micros()),
            )
            .await?;
        row.map(|r| alert_from_row(&r)).transpose()
    }

    async fn alert(&self, id: u64) -> StoreResult<Option<AlertRecord>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        let row = self
            .sql()
            .fetch_optional(Stmt::new(sql).bind(to_i64(id)?))
            .await?;
        row.map(|r| alert_from_row(&r)).transpose()
    }

    async fn update_alert(&self, a: &AlertRecord) -> StoreResult<bool> {
        Ok(self.sql().fetch_optional(update_stmt(a)?).await?.is_some())
    }

    async fn write_alerts(&self, alerts: &[AlertRecord]) -> StoreResult<Vec<Option<u64>>> {
        let mut tx = self.sql().begin().await?;
        let mut written = Vec::with_capacity(alerts.len());
        for a in alerts {
            let stmt = if a.id == 0 {
                insert_stmt(a)
            } else {
                update_stmt(a)?
            };
            let row = <T::Db as Backend>::fetch_optional(&mut *tx, stmt).await?;
            written.push(row.map(|r| to_u64(r.get("id")?, "id")).transpose()?);
        }
        tx.commit().await?;
        Ok(written)
    }

    async fn list_alerts(&self, f: &AlertFilter) -> StoreResult<Vec<AlertRecord>> {
        // Each condition is bound, NULL meaning "any", so the statement is one text.
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE \
             ($1 IS NULL OR state = $1) \
             AND ($2 = FALSE OR state IN ('open', 'acknowledged')) \
             AND ($3 IS NULL OR rule = $3) \
             AND ($4 IS NULL OR user_email = $4) \
             AND ($5 IS NULL OR severity >= $5) \
             AND ($6 = TRUE OR shadow = FALSE) \
             AND ($7 IS NULL OR opened_at >= $7) \
             ORDER BY id DESC LIMIT $8 OFFSET $9"
        );
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(sql)
                    .bind(&f.state)
                    .bind(f.open_only)
                    .bind(&f.rule)
                    .bind(&f.user)
                    .bind(f.min_severity)
                    .bind(f.shadow)
                    .bind(f.opened_from.map(Timestamp::as_micros))
                    .bind(i64::from(f.limit))
                    .bind(to_i64(f.offset)?)
                    .not_kept(),
            )
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn count_open_alerts(&self) -> StoreResult<u64> {
        let row = self
            .sql()
            .fetch_one(Stmt::new(
                "SELECT COUNT(*) AS n FROM alerts \
                 WHERE state IN ('open', 'acknowledged') AND shadow = FALSE",
            ))
            .await?;
        to_u64(row.get("n")?, "id")
    }

    async fn alerts_cursor(&self) -> StoreResult<Option<(u64, Timestamp)>> {
        let row = self
            .sql()
            .fetch_optional(Stmt::new(
                "SELECT last_seq, started_at FROM alerts_cursor WHERE id = 1",
            ))
            .await?;
        row.map(|r| {
            Ok((
                to_u64(r.get("last_seq")?, "id")?,
                Timestamp::from_micros(r.get("started_at")?),
            ))
        })
        .transpose()
    }

    async fn move_alerts_cursor(&self, from: u64, to: u64, now: Timestamp) -> StoreResult<bool> {
        let step = || -> StoreResult<Stmt<'static>> {
            Ok(Stmt::new(
                "UPDATE alerts_cursor SET last_seq = $1 WHERE id = 1 AND last_seq = $2 \
                 RETURNING id",
            )
            .bind(to_i64(to)?)
            .bind(to_i64(from)?))
        };
        // One statement once the cursor exists; the first move creates it.
        if self.sql().fetch_optional(step()?).await?.is_some() {
            return Ok(true);
        }
        self.sql()
            .execute(
                Stmt::new(
                    "INSERT INTO alerts_cursor (id, last_seq, started_at) VALUES (1, 0, $1) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(now.as_micros()),
            )
            .await?;
        Ok(self.sql().fetch_optional(step()?).await?.is_some())
    }

    async fn add_suppression(&self, s: &Suppression) -> StoreResult<u64> {
        let row = self
            .sql()
            .fetch_one(
                Stmt::new(
                    "INSERT INTO alert_suppressions (rule, user_email, owner, reason, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(&s.rule)
                .bind(&s.user)
                .bind(&s.owner)
                .bind(&s.reason)
                .bind(s.created_at.as_micros())
                .bind(s.expires_at.as_micros()),
            )
            .await?;
        to_u64(row.get("id")?, "id")
    }

    async fn suppressions(&self, at: Option<Timestamp>) -> StoreResult<Vec<Suppression>> {
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT id, rule, user_email, owner, reason, created_at, expires_at \
                     FROM alert_suppressions WHERE ($1 IS NULL OR \
                     (created_at <= $1 AND expires_at > $1)) ORDER BY id DESC",
                )
                .bind(at.map(Timestamp::as_micros)),
            )
            .await?;
        rows.iter().map(suppression_from_row).collect()
    }

    async fn add_dead_letter(&self, d: &DeadLetterRecord) -> StoreResult<u64> {
        let row = self
            .sql()
            .fetch_one(
                Stmt::new(
                    "INSERT INTO alert_dead_letters (channel, alert_id, attempts, last_error, at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&d.channel)
                .bind(to_i64(d.alert_id)?)
                .bind(i64::from(d.attempts))
                .bind(&d.last_error)
                .bind(d.at.as_micros()),
            )
            .await?;
        to_u64(row.get("id")?, "id")
    }

    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetterRecord>> {
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT id, channel, alert_id, attempts, last_error, at \
                     FROM alert_dead_letters ORDER BY id DESC LIMIT $1",
                )
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter().map(dead_letter_from_row).collect()
    }
}
