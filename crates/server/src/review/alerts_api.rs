//! The alert inbox over HTTP, for System Managers and auditor keys (as `/api/access-log`):
//!
//! - `GET /api/access-log/alerts?state=&open=&rule=&user=&min_severity=&shadow=&limit=&offset=`
//!   → `{"data": [alert, …]}` (and `next_offset` when there may be more);
//! - `GET /api/access-log/alerts/{id}` → `{"data": alert}` with its arithmetic, the entries
//!   that raised it (with their proofs' URLs) and its history;
//! - `POST /api/access-log/alerts/{id}/acknowledge`, `…/resolve` (`resolution`),
//!   `…/dismiss` (`reason`), `…/suppress` (`days`, `reason`), the fields as a form, as
//!   JSON, or in the query → `{"data": alert}` as it is afterwards (a suppression adds
//!   `"suppression": id`).
//!
//! Auditor keys read; only System Managers act (an auditor key's action is refused 403,
//! on record). Every answer is Access Log data, recorded as a read of it before it is sent;
//! a refusal or a bad request is recorded by the egress guard.

use std::collections::BTreeMap;

use accesslog_app::alerts::inbox;
use accesslog_core::entry::Activity;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use super::alerts::{
    alert_filter, alert_id, alert_json, apply, release_alert_read, release_list_read, require_actor,
};
use super::require_reviewer;
use crate::audit::{Audit, AuditedResponse, Payload};
use crate::error::WebError;
use crate::state::AppState;

/// `GET /api/access-log/alerts`.
pub async fn list(
    State(state): State<AppState>,
    audit: Audit,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let mut filter = alert_filter(&params, 100)?;
    let limit = filter.limit;
    filter.limit = limit + 1;
    let mut alerts = inbox::list(&*state.store, &filter).await?;
    let more = alerts.len() > limit as usize;
    alerts.truncate(limit as usize);
    let mut out = json!({
        "data": alerts.iter().map(|a| alert_json(a, false)).collect::<Vec<_>>(),
    });
    if more && let Value::Object(map) = &mut out {
        map.insert(
            "next_offset".into(),
            json!(filter.offset + u64::from(limit)),
        );
    }
    release_list_read(&state, &audit, &params, &alerts, Payload::json(&out)).await
}

/// `GET /api/access-log/alerts/{id}`.
pub async fn get(
    State(state): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let a = inbox::get(&*state.store, alert_id(&id)?).await?;
    let out = json!({ "data": alert_json(&a, true) });
    release_alert_read(&state, &audit, &a, Payload::json(&out)).await
}

/// The fields of an action: a form or JSON body, else the query.
fn fields(
    query: BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<BTreeMap<String, String>, WebError> {
    let mut out = query;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| WebError::BadRequest(format!("the body is not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(WebError::BadRequest(
                "the body must be a JSON object, e.g. {\"reason\": \"…\"}".to_owned(),
            ));
        };
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            out.insert(k, v);
        }
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
            WebError::BadRequest(
                "the body must be a form (application/x-www-form-urlencoded) or JSON".to_owned(),
            )
        })?;
        out.extend(pairs);
    }
    Ok(out)
}

async fn transition(
    state: AppState,
    audit: Audit,
    id: String,
    action: &str,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    require_actor(&state, &audit, &id).await?;
    let n = alert_id(&id)?;
    let f = fields(query, &headers, &body)?;
    let get = |k: &str| f.get(k).map(String::as_str);
    let (alert, suppression) = apply(
        &state,
        n,
        action,
        get("resolution"),
        get("reason"),
        get("days"),
        &audit.who.user.email,
    )
    .await?;
    let mut out = json!({ "data": alert_json(&alert, true) });
    if let (Some(s), Value::Object(map)) = (suppression, &mut out) {
        map.insert("suppression".into(), json!(s));
    }
    release_alert_read(&state, &audit, &alert, Payload::json(&out)).await
}

/// `POST /api/access-log/alerts/{id}/acknowledge`.
pub async fn acknowledge(
    State(state): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<AuditedResponse, WebError> {
    transition(state, audit, id, "acknowledge", query, headers, body).await
}

/// `POST /api/access-log/alerts/{id}/resolve` (`resolution`: true_positive, benign or
/// false_positive).
pub async fn resolve(
    State(state): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<AuditedResponse, WebError> {
    transition(state, audit, id, "resolve", query, headers, body).await
}

/// `POST /api/access-log/alerts/{id}/dismiss` (`reason`, required).
pub async fn dismiss(
    State(state): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<AuditedResponse, WebError> {
    transition(state, audit, id, "dismiss", query, headers, body).await
}

/// `POST /api/access-log/alerts/{id}/suppress` (`days`, `reason`): the alert's rule,
/// for the alert's user.
pub async fn suppress(
    State(state): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<AuditedResponse, WebError> {
    transition(state, audit, id, "suppress", query, headers, body).await
}
