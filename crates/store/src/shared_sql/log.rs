//! `impl_log_reads!`: reading the Access Log back (its head, entries, checkpoints), the
//! same SQL on both backends. Writing and the verification walk stay per backend.

/// Adds `read_*` methods to a backend's store type for its `LogStore` methods to call.
#[macro_export]
macro_rules! impl_log_reads {
    ($store:ident, $row:ty) => {
        mod log_reads {
            #[allow(unused_imports)]
            use super::*;

            use accesslog_core::Timestamp;
            use accesslog_core::entry::Entry;
            use sqlx::Row;
            use $crate::log::{
                ENTRY_COLUMNS, entry_from_row, frontier_from_stored, hash_from_bytes, to_i64,
            };
            use $crate::{LogHead, StoreError, StoreResult, StoredCheckpoint};

            impl super::$store {
                pub(crate) async fn read_log_head(&self) -> StoreResult<LogHead> {
                    let row = sqlx::query("SELECT size, frontier FROM log_state WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await?;
                    let frontier = frontier_from_stored(
                        row.try_get("size")?,
                        &row.try_get::<Vec<u8>, _>("frontier")?,
                    )?;
                    Ok(LogHead {
                        size: frontier.size(),
                        root: frontier.root(),
                    })
                }

                pub(crate) async fn read_entries_after(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<Entry>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {ENTRY_COLUMNS} FROM access_log WHERE seq > $1 ORDER BY seq LIMIT $2"
                    )))
                    .bind(to_i64(after_seq)?)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(entry_from_row).collect()
                }

                /// Every entry up to this `seq` is in `access_log_review`, none above.
                pub(crate) async fn read_review_watermark(&self) -> StoreResult<u64> {
                    let w: i64 = sqlx::query($crate::log_search::WATERMARK_SQL)
                        .fetch_one(&self.pool)
                        .await?
                        .try_get("w")?;
                    Ok(u64::try_from(w).unwrap_or(0))
                }

                pub(crate) async fn read_search(
                    &self,
                    q: &$crate::log_search::EntryQuery,
                    page: $crate::log_search::EntryPage,
                    limit: u32,
                ) -> StoreResult<Vec<Entry>> {
                    let watermark = self.read_review_watermark().await?;
                    let (sql, values) = $crate::log_search::search_sql(q, page, limit, watermark);
                    // Not kept prepared: PostgreSQL would soon plan a kept statement once for
                    // any values, and that generic plan sorts every match of a common
                    // `export_from` (0.5 s on 10 M entries) where the plan for the actual
                    // values walks the time index for the newest few (10 ms).
                    let rows = super::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &values, &[])
                        .persistent(false)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(entry_from_row).collect()
                }

                pub(crate) async fn read_counts(
                    &self,
                    q: &$crate::log_search::EntryQuery,
                    by: $crate::log_search::GroupBy,
                    sample: u32,
                    top: u32,
                ) -> StoreResult<Vec<(String, u64)>> {
                    let watermark = self.read_review_watermark().await?;
                    let (sql, values) = $crate::log_search::count_sql(q, by, sample, top, watermark);
                    // Not kept prepared, as in `read_search`.
                    let rows = super::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &values, &[])
                        .persistent(false)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter()
                        .map(|r| {
                            let group: Option<String> = r.try_get("grp")?;
                            let n: i64 = r.try_get("n")?;
                            Ok((group.unwrap_or_default(), u64::try_from(n).unwrap_or(0)))
                        })
                        .collect()
                }

                pub(crate) async fn read_summary(
                    &self,
                    from: Timestamp,
                ) -> StoreResult<$crate::log_search::ActivitySummary> {
                    let mut out = $crate::log_search::ActivitySummary::default();
                    let watermark = to_i64(self.read_review_watermark().await?)?;
                    let rows = sqlx::query(sqlx::AssertSqlSafe($crate::log_search::daily_sql()))
                        .bind(from.as_micros())
                        .bind(watermark)
                        .fetch_all(&self.pool)
                        .await?;
                    for r in &rows {
                        let n: i64 = r.try_get("n")?;
                        out.daily.push((
                            r.try_get("day")?,
                            r.try_get("grp")?,
                            r.try_get("outcome")?,
                            u64::try_from(n).unwrap_or(0),
                        ));
                    }
                    for (group, into) in [
                        ("\"user\"", &mut out.top_users),
                        ("COALESCE(report_name, export_from)", &mut out.top_sources),
                    ] {
                        let rows = sqlx::query(sqlx::AssertSqlSafe($crate::log_search::top_exports_sql(group)))
                            .bind(from.as_micros())
                            .bind(watermark)
                            .fetch_all(&self.pool)
                            .await?;
                        for r in &rows {
                            let n: i64 = r.try_get("n")?;
                            let bytes: i64 = r.try_get("bytes")?;
                            let name: Option<String> = r.try_get("grp")?;
                            into.push((
                                name.unwrap_or_default(),
                                u64::try_from(n).unwrap_or(0),
                                u64::try_from(bytes).unwrap_or(0),
                            ));
                        }
                    }
                    Ok(out)
                }

                pub(crate) async fn read_entry(&self, seq: u64) -> StoreResult<Option<Entry>> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {ENTRY_COLUMNS} FROM access_log WHERE seq = $1"
                    )))
                    .bind(to_i64(seq)?)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(entry_from_row).transpose()
                }

                pub(crate) async fn read_add_checkpoint(&self, c: &StoredCheckpoint) -> StoreResult<()> {
                    sqlx::query("INSERT INTO checkpoints (size, root, created_at, note) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING")
                        .bind(to_i64(c.size)?)
                        .bind(c.root.to_vec())
                        .bind(c.created_at.as_micros())
                        .bind(&c.note)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                pub(crate) async fn read_latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
                    let row = sqlx::query(
                        "SELECT size, root, created_at, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                    )
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(checkpoint_from_row).transpose()
                }

                pub(crate) async fn read_checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
                    let rows =
                        sqlx::query("SELECT size, root, created_at, note FROM checkpoints ORDER BY size")
                            .fetch_all(&self.pool)
                            .await?;
                    rows.iter().map(checkpoint_from_row).collect()
                }
            }

            pub(crate) fn checkpoint_from_row(row: &$row) -> StoreResult<StoredCheckpoint> {
                let size: i64 = row.try_get("size")?;
                Ok(StoredCheckpoint {
                    size: u64::try_from(size)
                        .map_err(|_| StoreError::Other(format!("checkpoint size {size} is negative")))?,
                    root: hash_from_bytes(&row.try_get::<Vec<u8>, _>("root")?)?,
                    created_at: Timestamp::from_micros(row.try_get("created_at")?),
                    note: row.try_get("note")?,
                })
            }
        }
    };
}
