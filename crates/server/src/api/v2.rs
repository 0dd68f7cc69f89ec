//! Frappe v15's `/api/v2/document/{DocType}[/{name}]`: the same documents as
//! `/api/resource`, answered `{"data": …}`. Only the list differs, with v2's parameters
//! (`limit`, default 20, and `start`); a document, a create, an update and a delete are
//! `/api/resource`'s own handlers (see the route table). Errors keep this server's v1
//! shape (`message`, `exc_type`, …), not v2's `errors` list.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use serde_json::json;

use crate::audit::{Audit, AuditedResponse};
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::records::api::read_list;
use crate::state::AppState;

/// `GET /api/v2/document/{DocType}`.
pub async fn list(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    Path(doctype): Path<String>,
    Query(mut p): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    if let Some(start) = p.remove("start") {
        p.insert("limit_start".into(), start);
    }
    p.remove("limit_page_length");
    read_list(
        &state,
        &who,
        &audit,
        &doctype,
        &p,
        |rows| json!({ "data": rows }),
    )
    .await
}
