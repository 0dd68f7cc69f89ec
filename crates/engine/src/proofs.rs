//! Proofs from the stored tree: the nodes a proof plan names, fetched in one query, then
//! folded without IO. Used by the proof API and by the witness client, which sends a
//! consistency proof with each checkpoint.

use std::collections::HashMap;

use accesslog_core::merkle::{Hash, NodeId, ProofPlan, consistency_plan, root_plan};
use accesslog_store::{LogStore, StoreError, StoreResult};

/// Assembles `plan` from the stored nodes; a missing node means a damaged tree.
pub async fn assemble(store: &dyn LogStore, plan: &ProofPlan) -> StoreResult<Vec<Hash>> {
    let nodes: HashMap<NodeId, Hash> = store
        .merkle_nodes(&plan.node_ids())
        .await?
        .into_iter()
        .collect();
    plan.assemble(|id| nodes.get(&id).copied())
        .map_err(|e| StoreError::Other(format!("the stored tree is incomplete: {e}")))
}

/// The root of the tree's first `size` entries.
pub async fn root_at(store: &dyn LogStore, size: u64) -> StoreResult<Hash> {
    assemble(store, &root_plan(size))
        .await?
        .first()
        .copied()
        .ok_or_else(|| StoreError::Other("an empty root plan".to_owned()))
}

/// The RFC 6962 consistency proof from `first` entries to `second`.
pub async fn consistency(store: &dyn LogStore, first: u64, second: u64) -> StoreResult<Vec<Hash>> {
    let plan = consistency_plan(first, second).map_err(|e| StoreError::Other(e.to_string()))?;
    assemble(store, &plan).await
}
