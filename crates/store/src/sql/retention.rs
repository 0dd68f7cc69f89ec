//! [`RetentionStore`] for every SQL backend. Pruning and restoring themselves touch the
//! log's own tables and live with each backend's appends.

use accesslog_core::Timestamp;
use async_trait::async_trait;

use super::{SqlBacked, SqlRow, Stmt, to_u64};
use crate::log::{hash_from_bytes, to_i64};
use crate::retention::{
    ArchiveRecord, ArchivedQuery, HoldScope, LegalHold, NewHold, PrunedEntry, PrunedStats,
    RetentionStore,
};
use crate::{StoreError, StoreResult};

fn time(row: &impl SqlRow, col: &str) -> StoreResult<Option<Timestamp>> {
    Ok(row.get::<Option<i64>>(col)?.map(Timestamp::from_micros))
}

const HOLD_COLUMNS: &str = "id, \"user\", doctype, report, from_at, to_at, reason, owner, \
    created_at, expires_at, lifted_at, lifted_by";

fn hold(row: &impl SqlRow) -> StoreResult<LegalHold> {
    Ok(LegalHold {
        id: to_u64(row.get("id")?, "hold id")?,
        scope: HoldScope {
            user: row.get("user")?,
            doctype: row.get("doctype")?,
            report: row.get("report")?,
            from: time(row, "from_at")?,
            to: time(row, "to_at")?,
        },
        reason: row.get("reason")?,
        owner: row.get("owner")?,
        created_at: Timestamp::from_micros(row.get("created_at")?),
        expires_at: time(row, "expires_at")?,
        lifted_at: time(row, "lifted_at")?,
        lifted_by: row.get("lifted_by")?,
    })
}

const PRUNED_COLUMNS: &str = "seq, timestamp, \"user\", activity, leaf_hash, bundle, redacted";

fn pruned(row: &impl SqlRow) -> StoreResult<PrunedEntry> {
    Ok(PrunedEntry {
        seq: to_u64(row.get("seq")?, "seq")?,
        timestamp: time(row, "timestamp")?,
        user: row.get("user")?,
        activity: row.get("activity")?,
        leaf: hash_from_bytes(&row.get::<Vec<u8>>("leaf_hash")?)?,
        bundle: row.get("bundle")?,
        redacted: row.get::<i64>("redacted")? != 0,
    })
}

fn archive(row: &impl SqlRow) -> StoreResult<ArchiveRecord> {
    Ok(ArchiveRecord {
        sha256: row.get("sha256")?,
        name: row.get("name")?,
        first: to_u64(row.get("first_seq")?, "seq")?,
        last: to_u64(row.get("last_seq")?, "seq")?,
        tree_size: to_u64(row.get("tree_size")?, "tree size")?,
        bytes: to_u64(row.get("bytes")?, "size")?,
        created_at: Timestamp::from_micros(row.get("created_at")?),
    })
}

#[async_trait]
impl<T: SqlBacked> RetentionStore for T {
    async fn pruned_entry(&self, seq: u64) -> StoreResult<Option<PrunedEntry>> {
        let row = self
            .sql()
            .fetch_optional(
                Stmt::new(format!(
                    "SELECT {PRUNED_COLUMNS} FROM access_log_pruned WHERE seq = $1"
                ))
                .bind(to_i64(seq)?),
            )
            .await?;
        row.as_ref().map(pruned).transpose()
    }

    async fn archived_entries(
        &self,
        q: &ArchivedQuery,
        limit: u32,
    ) -> StoreResult<Vec<PrunedEntry>> {
        // The placeholders are numbered in the order the values are bound below.
        let mut sql = format!("SELECT {PRUNED_COLUMNS} FROM access_log_pruned");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let mut wheres = Vec::new();
        if q.user.is_some() {
            wheres.push(format!("\"user\" = {}", next()));
        }
        if q.activity.is_some() {
            wheres.push(format!("activity = {}", next()));
        }
        if q.from.is_some() {
            wheres.push(format!("timestamp >= {}", next()));
        }
        if q.to.is_some() {
            wheres.push(format!("timestamp < {}", next()));
        }
        if q.bundle.is_some() {
            wheres.push(format!("bundle = {}", next()));
        }
        if q.before.is_some() {
            wheres.push(format!("seq < {}", next()));
        }
        if !wheres.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&wheres.join(" AND "));
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", next()));
        let mut stmt = Stmt::new(sql);
        for v in [&q.user, &q.activity].into_iter().flatten() {
            stmt = stmt.bind(v);
        }
        for t in [q.from, q.to].into_iter().flatten() {
            stmt = stmt.bind(t.as_micros());
        }
        if let Some(b) = &q.bundle {
            stmt = stmt.bind(b);
        }
        if let Some(b) = q.before {
            stmt = stmt.bind(to_i64(b)?);
        }
        let rows = self.sql().fetch_all(stmt.bind(i64::from(limit))).await?;
        rows.iter().map(pruned).collect()
    }

    async fn pruned_stats(&self) -> StoreResult<PrunedStats> {
        let row = self
            .sql()
            .fetch_one(Stmt::new(
                "SELECT COUNT(*) AS n, COUNT(CASE WHEN redacted <> 0 THEN 1 END) AS r FROM access_log_pruned",
            ))
            .await?;
        Ok(PrunedStats {
            pruned: to_u64(row.get("n")?, "count")?,
            redacted: to_u64(row.get("r")?, "count")?,
        })
    }

    async fn pruned_seqs(&self, first: u64, last: u64) -> StoreResult<Vec<u64>> {
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT seq FROM access_log_pruned WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
                )
                .bind(to_i64(first)?)
                .bind(to_i64(last)?),
            )
            .await?;
        rows.iter().map(|r| to_u64(r.get("seq")?, "seq")).collect()
    }

    async fn add_archive(&self, a: &ArchiveRecord) -> StoreResult<()> {
        self.sql()
            .execute(
                Stmt::new(
                    "INSERT INTO log_archives (sha256, name, first_seq, last_seq, tree_size, \
                     bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (sha256) DO NOTHING",
                )
                .bind(&a.sha256)
                .bind(&a.name)
                .bind(to_i64(a.first)?)
                .bind(to_i64(a.last)?)
                .bind(to_i64(a.tree_size)?)
                .bind(to_i64(a.bytes)?)
                .bind(a.created_at.as_micros()),
            )
            .await
    }

    async fn archives(&self) -> StoreResult<Vec<ArchiveRecord>> {
        let rows = self
            .sql()
            .fetch_all(Stmt::new(
                "SELECT sha256, name, first_seq, last_seq, tree_size, bytes, created_at \
                 FROM log_archives ORDER BY first_seq, created_at",
            ))
            .await?;
        rows.iter().map(archive).collect()
    }

    async fn pruned_of_user(&self, user: &str, before: Option<Timestamp>) -> StoreResult<Vec<u64>> {
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT seq FROM access_log_pruned WHERE \"user\" = $1 AND redacted = 0 \
                     AND ($2 IS NULL OR timestamp < $2) ORDER BY seq",
                )
                .bind(user)
                .bind(before.map(Timestamp::as_micros)),
            )
            .await?;
        rows.iter().map(|r| to_u64(r.get("seq")?, "seq")).collect()
    }

    async fn mark_redacted(&self, seqs: &[u64]) -> StoreResult<u64> {
        let mut marked = 0;
        for seq in seqs {
            let row = self
                .sql()
                .fetch_optional(
                    Stmt::new(
                        "UPDATE access_log_pruned SET timestamp = NULL, \"user\" = NULL, \
                         activity = NULL, redacted = 1 WHERE seq = $1 AND redacted = 0 RETURNING seq",
                    )
                    .bind(to_i64(*seq)?),
                )
                .await?;
            marked += u64::from(row.is_some());
        }
        Ok(marked)
    }

    async fn add_hold(&self, h: &NewHold) -> StoreResult<LegalHold> {
        if h.scope.is_empty() {
            return Err(StoreError::Other(
                "a legal hold needs a user, a doctype, a report or a time range".into(),
            ));
        }
        let sql = format!(
            "INSERT INTO legal_holds (\"user\", doctype, report, from_at, to_at, reason, owner, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING {HOLD_COLUMNS}"
        );
        let row = self
            .sql()
            .fetch_one(
                Stmt::new(sql)
                    .bind(&h.scope.user)
                    .bind(&h.scope.doctype)
                    .bind(&h.scope.report)
                    .bind(h.scope.from.map(Timestamp::as_micros))
                    .bind(h.scope.to.map(Timestamp::as_micros))
                    .bind(&h.reason)
                    .bind(&h.owner)
                    .bind(h.created_at.as_micros())
                    .bind(h.expires_at.map(Timestamp::as_micros)),
            )
            .await?;
        hold(&row)
    }

    async fn lift_hold(&self, id: u64, by: &str, at: Timestamp) -> StoreResult<Option<LegalHold>> {
        self.sql()
            .execute(
                Stmt::new(
                    "UPDATE legal_holds SET lifted_at = $1, lifted_by = $2 \
                     WHERE id = $3 AND lifted_at IS NULL",
                )
                .bind(at.as_micros())
                .bind(by)
                .bind(to_i64(id)?),
            )
            .await?;
        let sql = format!("SELECT {HOLD_COLUMNS} FROM legal_holds WHERE id = $1");
        let row = self
            .sql()
            .fetch_optional(Stmt::new(sql).bind(to_i64(id)?))
            .await?;
        row.as_ref().map(hold).transpose()
    }

    async fn holds(&self) -> StoreResult<Vec<LegalHold>> {
        let sql = format!("SELECT {HOLD_COLUMNS} FROM legal_holds ORDER BY id DESC");
        let rows = self.sql().fetch_all(Stmt::new(sql)).await?;
        rows.iter().map(hold).collect()
    }
}
