//! `access_log`'s partitions on PostgreSQL (migration 0016): seq ranges of
//! `log_partitioning.entries` entries, listed in `log_partitions`.
//!
//! The appender makes the next partition when an append reaches it, inside the append's
//! transaction and under the tree state's row lock, so two servers never race to make the
//! same one: a standalone table attached with `ATTACH PARTITION`, which takes only a
//! SHARE UPDATE EXCLUSIVE lock on `access_log` (reads and appends go on).
//!
//! A prune drops a partition whole once every entry in it is due ([`prune_whole`]):
//! first each entry's kept leaf goes to `access_log_pruned`, in transactions of their own
//! that lock nothing of `access_log`; then the partition is detached `CONCURRENTLY` and
//! dropped. Between the two steps an entry is in both tables; the walk reads it once
//! (`dedupe`), and `verify` passes whenever it runs. Killed at any step, the next prune
//! finishes the job: a pending detach is finalized, a detached table whose entries are
//! all kept as leaves is dropped.

use std::sync::atomic::{AtomicI64, Ordering};

use accesslog_store::log::to_i64;
use accesslog_store::{StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

/// The exclusive end of the newest partition as this server last saw it (0: not read).
#[derive(Debug, Default)]
pub(crate) struct PartitionEnd(AtomicI64);

impl PartitionEnd {
    /// Makes partitions up to one holding `last`, when the cache says it may be missing;
    /// returns the new end to [`PartitionEnd::remember`] once the transaction commits.
    pub(crate) async fn ensure(
        &self,
        tx: &mut PgConnection,
        last: i64,
    ) -> StoreResult<Option<i64>> {
        if last < self.0.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT COALESCE((SELECT MAX(end_seq) FROM log_partitions), 1) AS end_seq, \
             (SELECT entries FROM log_partitioning WHERE id = 1) AS entries",
        )
        .fetch_one(&mut *tx)
        .await?;
        let mut end: i64 = row.try_get("end_seq")?;
        let entries: i64 = row.try_get("entries")?;
        while end <= last {
            create(tx, end, end + entries).await?;
            end += entries;
        }
        Ok(Some(end))
    }

    pub(crate) fn remember(&self, end: Option<i64>) {
        if let Some(end) = end {
            self.0.fetch_max(end, Ordering::Relaxed);
        }
    }

    /// After a failed append: read the partitions again next time.
    pub(crate) fn forget(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// Keeps one row per seq of a walk that may meet an entry in both `access_log` and
/// `access_log_pruned` (a partition being dropped): the entry's own row.
pub(crate) fn dedupe(rows: Vec<PgRow>) -> StoreResult<Vec<PgRow>> {
    let mut out: Vec<PgRow> = Vec::with_capacity(rows.len());
    for row in rows {
        let seq: i64 = row.try_get("seq")?;
        if let Some(last) = out.last()
            && last.try_get::<i64, _>("seq")? == seq
        {
            if last.try_get::<i64, _>("pruned")? != 0 {
                out.pop();
                out.push(row);
            }
            continue;
        }
        out.push(row);
    }
    Ok(out)
}

/// Kept leaves are written this many entries per transaction, each followed by a rest of
/// [`LEAVES_REST`] times as long as it took: the appends share the server's CPU and disk
/// with it.
const LEAVES_PER_TX: usize = 10_000;
const LEAVES_REST: u32 = 3;

/// Drops each partition all of whose remaining entries are in `due` (sorted), after
/// keeping their leaves, with the bundle that holds each (`bundles`: first, last, SHA-256).
/// Returns the seq ranges `[first, end)` dropped.
pub(crate) async fn prune_whole(
    pool: &PgPool,
    due: &[u64],
    bundles: &[(u64, u64, String)],
    keep_fields: bool,
    size: u64,
) -> StoreResult<Vec<(u64, u64)>> {
    finish_interrupted(pool).await?;
    let parts =
        sqlx::query("SELECT name, first_seq, end_seq FROM log_partitions ORDER BY first_seq")
            .fetch_all(pool)
            .await?;
    let (firsts, lasts, shas): (Vec<i64>, Vec<i64>, Vec<String>) = {
        let mut f = Vec::new();
        let mut l = Vec::new();
        let mut s = Vec::new();
        for (a, b, sha) in bundles {
            f.push(to_i64(*a)?);
            l.push(to_i64(*b)?);
            s.push(sha.clone());
        }
        (f, l, s)
    };
    let mut dropped = Vec::new();
    for p in parts {
        let name: String = p.try_get("name")?;
        let first: i64 = p.try_get("first_seq")?;
        let end: i64 = p.try_get("end_seq")?;
        // Only a full partition, behind the log's head: nothing more will be appended to it.
        let (Ok(first_u), Ok(end_u)) = (u64::try_from(first), u64::try_from(end)) else {
            continue;
        };
        if end_u > size + 1 || end_u <= 1 {
            continue;
        }
        // The first partition starts at MINVALUE (listed as 0): seqs start at 1.
        let (first, first_u) = (first.max(1), first_u.max(1));
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {name}")))
                .fetch_one(pool)
                .await?;
        let lo = due.partition_point(|s| *s < first_u);
        let hi = due.partition_point(|s| *s < end_u);
        let due_here = &due[lo..hi];
        // Worth it when most of the partition goes; otherwise row by row.
        if rows == 0 || due_here.is_empty() || (due_here.len() as i64) * 2 < rows {
            continue;
        }
        // Keep the due entries' leaves, a batch at a time, each batch a transaction of its
        // own that locks nothing of access_log.
        for chunk in due_here.chunks(LEAVES_PER_TX) {
            let started = std::time::Instant::now();
            let seqs = chunk
                .iter()
                .map(|s| to_i64(*s))
                .collect::<StoreResult<Vec<i64>>>()?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO access_log_pruned (seq, timestamp, \"user\", activity, leaf_hash, bundle, redacted) \
                 SELECT a.seq, CASE WHEN $2 THEN a.timestamp END, CASE WHEN $2 THEN a.\"user\" END, \
                 CASE WHEN $2 THEN a.activity END, a.leaf_hash, b.sha, 0 \
                 FROM {name} a JOIN UNNEST($3::BIGINT[], $4::BIGINT[], $5::TEXT[]) AS b(f, l, sha) \
                 ON a.seq BETWEEN b.f AND b.l WHERE a.seq = ANY($1) \
                 ON CONFLICT (seq) DO NOTHING"
            )))
            .bind(&seqs)
            .bind(keep_fields)
            .bind(&firsts)
            .bind(&lasts)
            .bind(&shas)
            .execute(pool)
            .await?;
            tokio::time::sleep(started.elapsed() * LEAVES_REST).await;
        }
        let unkept: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {name} a WHERE NOT EXISTS \
             (SELECT 1 FROM access_log_pruned p WHERE p.seq = a.seq)"
        )))
        .fetch_one(pool)
        .await?;
        let kept = rows - due_here.len() as i64;
        if unkept != kept {
            // A due entry no bundle holds: leave the partition to the row-by-row prune,
            // which will say why.
            continue;
        }
        if kept == 0 {
            detach_and_drop(pool, &name).await?;
        } else if !move_kept(pool, &name, first, end).await? {
            // The log was busy: row by row this time.
            continue;
        }
        dropped.push((first_u, end_u));
    }
    Ok(dropped)
}

/// The lock a move may wait for, and hold about as long: the swap is a rename of tables.
const MOVE_LOCK_TIMEOUT: &str = "100ms";

/// Moves the entries of partition `name` that are not kept as leaves (held, or not yet
/// due) into a new table, then swaps it in for the partition in one short transaction:
/// detach the old, attach the new (its indexes made beforehand, so attaching only checks
/// its few rows), drop the old. Returns `false`, changing nothing, when the swap could not
/// get its lock within [`MOVE_LOCK_TIMEOUT`].
async fn move_kept(pool: &PgPool, name: &str, first: i64, end: i64) -> StoreResult<bool> {
    let moved = format!("{name}_k");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP TABLE IF EXISTS {moved}; \
         CREATE TABLE {moved} (LIKE access_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES); \
         INSERT INTO {moved} SELECT a.* FROM {name} a WHERE NOT EXISTS \
             (SELECT 1 FROM access_log_pruned p WHERE p.seq = a.seq);"
    )))
    .execute(pool)
    .await?;
    let from = if first == 0 {
        "MINVALUE".to_owned()
    } else {
        first.to_string()
    };
    let swap = async {
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SET LOCAL lock_timeout = '{MOVE_LOCK_TIMEOUT}'; \
             ALTER TABLE access_log DETACH PARTITION {name}; \
             ALTER TABLE access_log ATTACH PARTITION {moved} FOR VALUES FROM ({from}) TO ({end}); \
             DROP TABLE {name}; \
             ALTER TABLE {moved} RENAME TO {name};"
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
    .await;
    match swap {
        Ok(()) => Ok(true),
        Err(e) => {
            let busy =
                matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03"));
            // The transaction rolled back; remove the copy.
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {moved}")))
                .execute(pool)
                .await?;
            if busy {
                tracing::info!(
                    partition = name,
                    "the log was busy; pruning this partition row by row"
                );
                Ok(false)
            } else {
                Err(e.into())
            }
        }
    }
}

async fn detach_and_drop(pool: &PgPool, name: &str) -> StoreResult<()> {
    // Not in a transaction: CONCURRENTLY waits for readers of the old partition list.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE access_log DETACH PARTITION {name} CONCURRENTLY"
    )))
    .execute(pool)
    .await?;
    drop_detached(pool, name).await
}

async fn drop_detached(pool: &PgPool, name: &str) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM log_partitions WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Finishes what a prune killed mid-way left: a detach still pending is finalized, and a
/// listed partition no longer attached is dropped once every entry in it is kept as a
/// leaf (otherwise it is attached again: its entries are still the log's).
async fn finish_interrupted(pool: &PgPool) -> StoreResult<()> {
    // A copy made for a move whose swap never committed.
    let copies: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::TEXT FROM pg_class c \
         WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
         AND c.relkind = 'r' AND c.relname LIKE 'access\\_log\\_s%\\_k'",
    )
    .fetch_all(pool)
    .await?;
    for copy in copies {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {copy}")))
            .execute(pool)
            .await?;
    }
    let pending: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'access_log'::regclass AND i.inhdetachpending",
    )
    .fetch_all(pool)
    .await?;
    for name in pending {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE access_log DETACH PARTITION {name} FINALIZE"
        )))
        .execute(pool)
        .await?;
    }
    let detached = sqlx::query(
        "SELECT p.name, p.first_seq, p.end_seq FROM log_partitions p WHERE NOT EXISTS \
         (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
          WHERE i.inhparent = 'access_log'::regclass AND c.relname = p.name)",
    )
    .fetch_all(pool)
    .await?;
    for p in detached {
        let name: String = p.try_get("name")?;
        let unkept: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {name} a WHERE NOT EXISTS \
             (SELECT 1 FROM access_log_pruned k WHERE k.seq = a.seq)"
        )))
        .fetch_one(pool)
        .await?;
        if unkept == 0 {
            drop_detached(pool, &name).await?;
        } else {
            let (first, end): (i64, i64) = (p.try_get("first_seq")?, p.try_get("end_seq")?);
            let from = if first == 0 {
                "MINVALUE".to_owned()
            } else {
                first.to_string()
            };
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE access_log ATTACH PARTITION {name} FOR VALUES FROM ({from}) TO ({end})"
            )))
            .execute(pool)
            .await
            .map_err(|e| {
                StoreError::Other(format!(
                    "partition {name} was detached with entries not kept as leaves, and could not be attached again: {e}"
                ))
            })?;
        }
    }
    Ok(())
}

/// Makes again the partitions a restore needs: each of `seqs` in a range whose partition
/// was dropped gets that range back, bounded by its neighbours, so the ranges stay as
/// they were.
pub(crate) async fn cover(tx: &mut PgConnection, seqs: &[i64]) -> StoreResult<()> {
    loop {
        let uncovered: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(s) FROM UNNEST($1::BIGINT[]) AS s WHERE NOT EXISTS \
             (SELECT 1 FROM log_partitions p WHERE p.first_seq <= s AND s < p.end_seq)",
        )
        .bind(seqs)
        .fetch_one(&mut *tx)
        .await?;
        let Some(seq) = uncovered else {
            return Ok(());
        };
        let row = sqlx::query(
            "SELECT (SELECT MAX(end_seq) FROM log_partitions WHERE end_seq <= $1) AS lo, \
             (SELECT MIN(first_seq) FROM log_partitions WHERE first_seq > $1) AS hi, \
             (SELECT entries FROM log_partitioning WHERE id = 1) AS entries",
        )
        .bind(seq)
        .fetch_one(&mut *tx)
        .await?;
        let lo: i64 = row.try_get::<Option<i64>, _>("lo")?.unwrap_or(1);
        let Some(hi) = row.try_get::<Option<i64>, _>("hi")? else {
            return Err(StoreError::Other(format!(
                "entry {seq} is past the log's partitions: it was never appended"
            )));
        };
        // The gap is cut in partitions of the usual size, as the appender made them.
        let entries: i64 = row.try_get("entries")?;
        let start = lo + (seq - lo) / entries * entries;
        create(tx, start, (start + entries).min(hi)).await?;
    }
}

/// Makes the partition of the seqs `[first, end)`, attached and listed.
async fn create(tx: &mut PgConnection, first: i64, end: i64) -> StoreResult<()> {
    let name = format!("access_log_s{first}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {name} (LIKE access_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS); \
         ALTER TABLE access_log ATTACH PARTITION {name} FOR VALUES FROM ({first}) TO ({end}); \
         INSERT INTO log_partitions (name, first_seq, end_seq) VALUES ('{name}', {first}, {end});"
    )))
    .execute(tx)
    .await?;
    Ok(())
}
