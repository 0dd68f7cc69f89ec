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
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use super::alerts::{
    alert_filter, alert_id, alert_json, apply, release_alert_read, release_list_read, require_actor,
};
use super::require_reviewer;
use crate::audit::{Audit, AuditedResponse, Payload};
use crate::error::WebError;
use crate::request::FormDict;
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

/// An action's fields come as a form or JSON body, or in the query (as Frappe's
/// `form_dict` has them).
async fn transition(
    state: AppState,
    audit: Audit,
    id: String,
    action: &str,
    f: BTreeMap<String, String>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    require_actor(&state, &audit, &id).await?;
    let n = alert_id(&id)?;
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

/// `POST /api/access-log/alerts/{id}/{action}`: `acknowledge`, `resolve` (`resolution`:
/// true_positive, benign or false_positive), `dismiss` (`reason`, required) or `suppress`
/// (`days`, `reason`: the alert's rule, for the alert's user). Any other action is a 400
/// naming the four.
pub async fn act(
    State(state): State<AppState>,
    audit: Audit,
    Path((id, action)): Path<(String, String)>,
    FormDict(f): FormDict,
) -> Result<AuditedResponse, WebError> {
    transition(state, audit, id, &action, f).await
}
