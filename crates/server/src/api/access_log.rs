//! The Access Log's integrity API, for System Managers and auditor API keys: the latest
//! signed checkpoint, the verifier key, and inclusion and consistency proofs assembled from
//! the stored tree, in the formats of docs/log-format.md. Each answer is recorded as a read of
//! the Access Log, and each refusal as a denied one.

use accesslog_core::entry::{Activity, CanonicalJson, Event};
use accesslog_core::merkle::{Hash, ProofPlan, consistency_plan, inclusion_plan, leaf_hash};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{Audit, AuditedResponse, Payload, Read};
use crate::auth::Auditor;
use crate::error::WebError;
use crate::review::require_reviewer;
use crate::state::AppState;

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// `GET /api/access-log/checkpoint`: the latest published checkpoint, as the signed note:
/// with witnesses configured, the newest one the quorum cosigned, with their cosignature
/// lines; otherwise the newest signed one.
pub async fn checkpoint(
    State(state): State<AppState>,
    audit: Audit,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let log = &state.settings.log;
    match accesslog_app::witnessing::latest_published(&*state.store, log).await? {
        Some((size, note)) => {
            let mut event = Event::log_access(&audit.actor(), Activity::Read, Some("checkpoint"));
            event.filters = Some(CanonicalJson::from_value(&json!({"tree_size": size})));
            audit
                .release_read(
                    &state,
                    event,
                    Payload::new(note, "text/plain; charset=utf-8"),
                    Read::Report,
                )
                .await
        }
        None if log.witnesses.is_empty() => Err(WebError::NotFound(
            "No checkpoint has been signed yet: the log is empty.".to_owned(),
        )),
        None => Err(WebError::NotFound(format!(
            "No checkpoint has been cosigned by {} of the site's {} witnesses yet.",
            log.quorum(),
            log.witnesses.len()
        ))),
    }
}

/// `GET /api/access-log/public-key`: the verifier key, in signed-note form.
pub async fn public_key(State(state): State<AppState>, _: Auditor) -> Response {
    text(format!("{}\n", state.verifier_key))
}

async fn assemble(state: &AppState, plan: &ProofPlan) -> Result<Vec<Hash>, WebError> {
    Ok(accesslog_engine::proofs::assemble(&*state.store, plan).await?)
}

async fn root_at(state: &AppState, size: u64) -> Result<Hash, WebError> {
    Ok(accesslog_engine::proofs::root_at(&*state.store, size).await?)
}

/// The tree size a proof is for: as asked, or the latest checkpoint's (so the proof checks
/// against a signed root), or the whole log.
async fn tree_size(state: &AppState, asked: Option<u64>) -> Result<u64, WebError> {
    let size = state.store.log_head().await?.size;
    match asked {
        Some(n) if n > size => Err(WebError::BadRequest(format!(
            "tree_size {n} is larger than the log, which has {size} entries."
        ))),
        Some(0) => Err(WebError::BadRequest(
            "tree_size must be at least 1.".to_owned(),
        )),
        Some(n) => Ok(n),
        None => Ok(state
            .store
            .latest_checkpoint()
            .await?
            .map_or(size, |c| c.size)),
    }
}

#[derive(Deserialize)]
pub struct ProofQuery {
    tree_size: Option<u64>,
}

/// `GET /api/access-log/{seq}/proof?tree_size=N`.
pub async fn inclusion(
    State(state): State<AppState>,
    audit: Audit,
    Path(seq): Path<String>,
    Query(q): Query<ProofQuery>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let seq: u64 = seq.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
        WebError::BadRequest(format!("{seq:?} is not an entry number (1, 2, 3, …)."))
    })?;
    let size = tree_size(&state, q.tree_size).await?;
    if seq > size {
        return Err(WebError::NotFound(format!(
            "Entry {seq} is not in a tree of {size} entries; ask for a larger tree_size."
        )));
    }
    let entry = state
        .store
        .entry(seq)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("There is no entry {seq}.")))?;
    let bytes = entry.canonical_bytes();
    let plan = inclusion_plan(seq - 1, size).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let path = assemble(&state, &plan).await?;
    let root = root_at(&state, size).await?;
    let body = json!({
        "seq": seq,
        "leaf_index": seq - 1,
        "tree_size": size,
        "leaf_hash": hex::encode(leaf_hash(&bytes)),
        "audit_path": path.iter().map(hex::encode).collect::<Vec<_>>(),
        "root_hash": hex::encode(root),
        "entry": base64::engine::general_purpose::STANDARD.encode(&bytes),
    });
    crate::review::api::release_entry_read(&state, &audit, seq, Payload::json(&body)).await
}

#[derive(Deserialize)]
pub struct ConsistencyQuery {
    first: Option<u64>,
    second: Option<u64>,
}

/// `GET /api/access-log/consistency?first=M&second=N` (RFC 9162 §2.1.4).
pub async fn consistency(
    State(state): State<AppState>,
    audit: Audit,
    Query(q): Query<ConsistencyQuery>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let (Some(first), Some(second)) = (q.first, q.second) else {
        return Err(WebError::BadRequest(
            "Give both sizes: ?first=M&second=N with 0 < M ≤ N.".to_owned(),
        ));
    };
    let size = state.store.log_head().await?.size;
    if first == 0 || first > second {
        return Err(WebError::BadRequest(format!(
            "Need 0 < first ≤ second; got first={first}, second={second}."
        )));
    }
    if second > size {
        return Err(WebError::BadRequest(format!(
            "second={second} is larger than the log, which has {size} entries."
        )));
    }
    let plan = consistency_plan(first, second).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let path = assemble(&state, &plan).await?;
    let body = json!({
        "first": first,
        "second": second,
        "first_root": hex::encode(root_at(&state, first).await?),
        "second_root": hex::encode(root_at(&state, second).await?),
        "path": path.iter().map(hex::encode).collect::<Vec<_>>(),
    });
    let mut event = Event::log_access(&audit.actor(), Activity::Read, Some("consistency proof"));
    event.filters = Some(CanonicalJson::from_value(
        &json!({"first": first, "second": second}),
    ));
    audit
        .release_read(&state, event, Payload::json(&body), Read::Report)
        .await
}
