//! What the log keeps of its witnesses: the cosignature lines they returned for each
//! checkpoint, and their refusals. The checkpoint's note itself is never changed.

use accesslog_core::Timestamp;
use async_trait::async_trait;

use crate::{StoreResult, StoredCheckpoint};

/// One witness's cosignature on the checkpoint of `size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    pub size: u64,
    /// The witness's key name.
    pub witness: String,
    /// The signature line, with its final newline.
    pub line: String,
    pub received_at: Timestamp,
}

/// A witness said no to a checkpoint: evidence the log was altered, or a fault to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessRefusal {
    pub id: u64,
    pub witness: String,
    pub size: u64,
    /// The HTTP status the witness answered, or 0 when the log itself refused to go on
    /// (a witness that has cosigned more than the log holds).
    pub status: u16,
    pub message: String,
    pub at: Timestamp,
}

#[async_trait]
pub trait WitnessStore: Send + Sync {
    /// Keeps a cosignature; a second one by the same witness for the same size replaces
    /// nothing (the first stands).
    async fn add_cosignature(&self, c: &Cosignature) -> StoreResult<()>;
    /// The cosignatures on the checkpoint of `size`, by witness name.
    async fn cosignatures(&self, size: u64) -> StoreResult<Vec<Cosignature>>;
    /// The newest checkpoint with at least `quorum` cosignatures, if any.
    async fn latest_cosigned(&self, quorum: u32) -> StoreResult<Option<StoredCheckpoint>>;
    async fn add_witness_refusal(&self, r: &WitnessRefusal) -> StoreResult<u64>;
    /// The newest refusals first.
    async fn witness_refusals(&self, limit: u32) -> StoreResult<Vec<WitnessRefusal>>;
}
