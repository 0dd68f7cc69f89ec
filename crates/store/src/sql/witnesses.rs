//! [`WitnessStore`] for every SQL backend.

use accesslog_core::Timestamp;
use async_trait::async_trait;

use super::log::checkpoint_from_row;
use super::{SqlBacked, SqlRow, Stmt, to_u64};
use crate::log::to_i64;
use crate::witnesses::{Cosignature, WitnessRefusal, WitnessStore};
use crate::{StoreResult, StoredCheckpoint};

fn cosignature(row: &impl SqlRow) -> StoreResult<Cosignature> {
    Ok(Cosignature {
        size: to_u64(row.get("size")?, "checkpoint size")?,
        witness: row.get("witness")?,
        line: row.get("line")?,
        received_at: Timestamp::from_micros(row.get("received_at")?),
    })
}

fn refusal(row: &impl SqlRow) -> StoreResult<WitnessRefusal> {
    let status: i64 = row.get("status")?;
    Ok(WitnessRefusal {
        id: to_u64(row.get("id")?, "id")?,
        witness: row.get("witness")?,
        size: to_u64(row.get("size")?, "checkpoint size")?,
        status: u16::try_from(status).unwrap_or(0),
        message: row.get("message")?,
        at: Timestamp::from_micros(row.get("at")?),
    })
}

#[async_trait]
impl<T: SqlBacked> WitnessStore for T {
    async fn add_cosignature(&self, c: &Cosignature) -> StoreResult<()> {
        self.sql()
            .execute(
                Stmt::new(
                    "INSERT INTO checkpoint_cosignatures (size, witness, line, received_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(to_i64(c.size)?)
                .bind(&c.witness)
                .bind(&c.line)
                .bind(c.received_at.as_micros()),
            )
            .await?;
        Ok(())
    }

    async fn cosignatures(&self, size: u64) -> StoreResult<Vec<Cosignature>> {
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT size, witness, line, received_at FROM checkpoint_cosignatures \
                     WHERE size = $1 ORDER BY witness",
                )
                .bind(to_i64(size)?),
            )
            .await?;
        rows.iter().map(cosignature).collect()
    }

    async fn latest_cosigned(&self, quorum: u32) -> StoreResult<Option<StoredCheckpoint>> {
        let row = self
            .sql()
            .fetch_optional(
                Stmt::new(
                    "SELECT size, root, created_at, note FROM checkpoints WHERE size = \
                     (SELECT size FROM checkpoint_cosignatures GROUP BY size \
                      HAVING COUNT(*) >= $1 ORDER BY size DESC LIMIT 1)",
                )
                .bind(i64::from(quorum)),
            )
            .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    async fn add_witness_refusal(&self, r: &WitnessRefusal) -> StoreResult<u64> {
        let row = self
            .sql()
            .fetch_one(
                Stmt::new(
                    "INSERT INTO witness_refusals (witness, size, status, message, at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&r.witness)
                .bind(to_i64(r.size)?)
                .bind(i64::from(r.status))
                .bind(&r.message)
                .bind(r.at.as_micros()),
            )
            .await?;
        to_u64(row.get("id")?, "id")
    }

    async fn witness_refusals(&self, limit: u32) -> StoreResult<Vec<WitnessRefusal>> {
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(
                    "SELECT id, witness, size, status, message, at FROM witness_refusals \
                     ORDER BY id DESC LIMIT $1",
                )
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter().map(refusal).collect()
    }
}
