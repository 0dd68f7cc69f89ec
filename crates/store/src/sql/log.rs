//! Reading the Access Log back (its head, entries, searches, checkpoints): [`LogReads`],
//! the same SQL on both backends. Appending and the verification walk stay in each
//! backend's crate.

use accesslog_core::Timestamp;
use accesslog_core::entry::Entry;

use async_trait::async_trait;

use super::{Backend, SqlBacked, SqlRow, SqlStore, Stmt};
use crate::log::{
    ENTRY_COLUMNS, entry_from_row, frontier_from_stored, hash_from_bytes, to_i64, to_u64,
};
use crate::log_search::{self, ActivitySummary, EntryPage, EntryQuery, GroupBy};
use crate::retention::RetentionFacts;
use crate::{LogHead, LogReads, SourceMark, StoreError, StoreResult, StoredCheckpoint};

impl<DB: Backend> SqlStore<DB> {
    /// Every entry up to this `seq` is in `access_log_review`, none above.
    pub async fn review_watermark(&self) -> StoreResult<u64> {
        let w: i64 = self
            .fetch_one(Stmt::new(log_search::WATERMARK_SQL))
            .await?
            .get("w")?;
        Ok(u64::try_from(w).unwrap_or(0))
    }
}

#[async_trait]
impl<T: SqlBacked> LogReads for T {
    async fn log_head(&self) -> StoreResult<LogHead> {
        let row = self
            .sql()
            .fetch_one(Stmt::new(
                "SELECT size, frontier FROM log_state WHERE id = 1",
            ))
            .await?;
        let frontier = frontier_from_stored(row.get("size")?, &row.get::<Vec<u8>>("frontier")?)?;
        Ok(LogHead {
            size: frontier.size(),
            root: frontier.root(),
        })
    }

    /// Up to `limit` entries with `seq > after_seq`, in `seq` order.
    async fn entries_after(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<Entry>> {
        let sql =
            format!("SELECT {ENTRY_COLUMNS} FROM access_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(sql)
                    .bind(to_i64(after_seq)?)
                    .bind(i64::from(limit)),
            )
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn retention_facts_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<RetentionFacts>> {
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT seq, timestamp, activity, \"user\", export_from, report_name \
                     FROM access_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(to_i64(after_seq)?)
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RetentionFacts {
                    seq: to_u64(r.get("seq")?, "seq")?,
                    timestamp: Timestamp::from_micros(r.get("timestamp")?),
                    activity: r.get::<String>("activity")?.parse().ok(),
                    user: r.get("user")?,
                    export_from: r.get("export_from")?,
                    report_name: r.get("report_name")?,
                })
            })
            .collect()
    }

    async fn entry(&self, seq: u64) -> StoreResult<Option<Entry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM access_log WHERE seq = $1");
        let row = self
            .sql()
            .fetch_optional(Stmt::new(sql).bind(to_i64(seq)?))
            .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// A range of the primary key, no other index.
    async fn source_marks(
        &self,
        source: &str,
        after_seq: u64,
        span: u32,
    ) -> StoreResult<Vec<SourceMark>> {
        let end = after_seq.saturating_add(u64::from(span));
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT seq, request_id, reason FROM access_log \
                     WHERE seq > $1 AND seq <= $2 AND source = $3 ORDER BY seq",
                )
                .bind(to_i64(after_seq)?)
                .bind(to_i64(end)?)
                .bind(source),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SourceMark {
                    seq: to_u64(r.get("seq")?, "seq")?,
                    request_id: r.get("request_id")?,
                    reason: r.get("reason")?,
                })
            })
            .collect()
    }

    async fn search_entries(
        &self,
        q: &EntryQuery,
        page: EntryPage,
        limit: u32,
    ) -> StoreResult<Vec<Entry>> {
        let watermark = self.sql().review_watermark().await?;
        let (sql, values) = log_search::search_sql(q, page, limit, watermark);
        // Not kept prepared: the generic plan PostgreSQL would soon settle on sorts every
        // match of a common `export_from` (0.5 s on 10 M entries) where the plan for the
        // actual values walks the time index for the newest few (10 ms).
        let rows = self
            .sql()
            .fetch_all(Stmt::new(sql).bind_values(&values, &[]).not_kept())
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn count_entries(
        &self,
        q: &EntryQuery,
        by: GroupBy,
        sample: u32,
        top: u32,
    ) -> StoreResult<Vec<(String, u64)>> {
        let watermark = self.sql().review_watermark().await?;
        let (sql, values) = log_search::count_sql(q, by, sample, top, watermark);
        // Not kept prepared, as in `search_entries`.
        let rows = self
            .sql()
            .fetch_all(Stmt::new(sql).bind_values(&values, &[]).not_kept())
            .await?;
        rows.iter()
            .map(|r| {
                let group: Option<String> = r.get("grp")?;
                Ok((group.unwrap_or_default(), count(r.get("n")?)))
            })
            .collect()
    }

    async fn activity_since(&self, from: Timestamp) -> StoreResult<ActivitySummary> {
        let mut out = ActivitySummary::default();
        let watermark = to_i64(self.sql().review_watermark().await?)?;
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(log_search::daily_sql())
                    .bind(from.as_micros())
                    .bind(watermark),
            )
            .await?;
        for r in &rows {
            out.daily.push((
                r.get("day")?,
                r.get("grp")?,
                r.get("outcome")?,
                count(r.get("n")?),
            ));
        }
        for (group, into) in [
            ("\"user\"", &mut out.top_users),
            ("COALESCE(report_name, export_from)", &mut out.top_sources),
        ] {
            let rows = self
                .sql()
                .fetch_all(
                    Stmt::new(log_search::top_exports_sql(group))
                        .bind(from.as_micros())
                        .bind(watermark),
                )
                .await?;
            for r in &rows {
                let name: Option<String> = r.get("grp")?;
                into.push((
                    name.unwrap_or_default(),
                    count(r.get("n")?),
                    count(r.get("bytes")?),
                ));
            }
        }
        Ok(out)
    }

    async fn add_checkpoint(&self, c: &StoredCheckpoint) -> StoreResult<()> {
        self.sql().execute(
            Stmt::new(
                "INSERT INTO checkpoints (size, root, created_at, note) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (size) DO NOTHING",
            )
            .bind(to_i64(c.size)?)
            .bind(c.root.as_slice())
            .bind(c.created_at.as_micros())
            .bind(&c.note),
        )
        .await
    }

    async fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        let row = self
            .sql()
            .fetch_optional(Stmt::new(
                "SELECT size, root, created_at, note FROM checkpoints ORDER BY size DESC LIMIT 1",
            ))
            .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    async fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
        let rows = self
            .sql()
            .fetch_all(Stmt::new(
                "SELECT size, root, created_at, note FROM checkpoints ORDER BY size",
            ))
            .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }
}

/// A count read back (never negative; a negative reads as 0).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) fn checkpoint_from_row(row: &impl SqlRow) -> StoreResult<StoredCheckpoint> {
    let size: i64 = row.get("size")?;
    Ok(StoredCheckpoint {
        size: u64::try_from(size)
            .map_err(|_| StoreError::Other(format!("checkpoint size {size} is negative")))?,
        root: hash_from_bytes(&row.get::<Vec<u8>>("root")?)?,
        created_at: Timestamp::from_micros(row.get("created_at")?),
        note: row.get("note")?,
    })
}
