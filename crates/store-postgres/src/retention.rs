//! Pruning and restoring on PostgreSQL (issue 19): each batch one short transaction. The
//! review reads `access_log` itself (a view), so there is no copy to keep in step.

use accesslog_core::entry::Entry;
use accesslog_core::merkle::leaf_hash;
use accesslog_store::log::{hash_from_bytes, to_i64};
use accesslog_store::retention::{BatchPruned, PruneBatch, Restored};
use accesslog_store::{StoreError, StoreResult};
use sqlx::{PgPool, Row};

use crate::Columns;

pub(crate) async fn prune(pool: &PgPool, batch: &PruneBatch) -> StoreResult<BatchPruned> {
    let seqs = batch
        .seqs
        .iter()
        .map(|s| to_i64(*s))
        .collect::<StoreResult<Vec<i64>>>()?;
    let mut tx = pool.begin().await?;
    let started = std::time::Instant::now();
    let pruned = sqlx::query(
        "INSERT INTO access_log_pruned (seq, timestamp, \"user\", activity, leaf_hash, bundle, redacted) \
         SELECT seq, CASE WHEN $2 THEN timestamp END, CASE WHEN $2 THEN \"user\" END, \
         CASE WHEN $2 THEN activity END, leaf_hash, $3, $4 FROM access_log WHERE seq = ANY($1) \
         ON CONFLICT (seq) DO NOTHING",
    )
    .bind(&seqs)
    .bind(batch.keep_fields)
    .bind(&batch.bundle)
    .bind(i64::from(batch.redacted))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM access_log WHERE seq = ANY($1)")
        .bind(&seqs)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(BatchPruned {
        pruned,
        held: started.elapsed(),
    })
}

pub(crate) async fn restore(pool: &PgPool, entries: &[Entry]) -> StoreResult<Restored> {
    let mut tx = pool.begin().await?;
    let mut done = Restored::default();
    let mut columns = Columns::default();
    let mut restored = Vec::with_capacity(entries.len());
    for entry in entries {
        let seq = to_i64(entry.seq)?;
        let kept = sqlx::query(
            "SELECT leaf_hash, redacted FROM access_log_pruned WHERE seq = $1 FOR UPDATE",
        )
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(kept) = kept else {
            done.not_pruned += 1;
            continue;
        };
        if kept.try_get::<i64, _>("redacted")? != 0 {
            done.redacted += 1;
            continue;
        }
        let computed = leaf_hash(&entry.canonical_bytes());
        if hash_from_bytes(&kept.try_get::<Vec<u8>, _>("leaf_hash")?)? != computed {
            return Err(StoreError::Conflict(format!(
                "entry {seq} does not hash to the leaf kept for it; nothing was restored"
            )));
        }
        columns.push(entry, &computed)?;
        restored.push(seq);
    }
    if !restored.is_empty() {
        crate::partitions::cover(&mut tx, &restored).await?;
        columns.insert(&mut tx).await?;
        sqlx::query("DELETE FROM access_log_pruned WHERE seq = ANY($1)")
            .bind(&restored)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    done.restored = restored.len() as u64;
    Ok(done)
}
