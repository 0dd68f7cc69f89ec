//! Frappe v15's `/api/v2/document/{DocType}[/{name}]`: the same documents as
//! `/api/resource`, answered `{"data": …}`, with v2's list parameters (`limit`, default
//! 20, and `start`). Reads, and the document a write answers with, are recorded as reads.
//! Errors keep this server's v1 shape (`message`, `exc_type`, …), not v2's `errors` list.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use crate::api::FormOrJson;
use crate::audit::{Audit, AuditedResponse};
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::records::api::{
    CreateBody, Envelope, body_object, change_document, create_document, read_document, read_list,
    release_document, remove_document,
};
use crate::state::AppState;
use accesslog_core::entry::Activity;

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

/// `GET /api/v2/document/{DocType}/{name}`.
pub async fn get(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    Path((doctype, name)): Path<(String, String)>,
) -> Result<AuditedResponse, WebError> {
    read_document(&state, &who, &audit, &doctype, &name, Envelope::Data).await
}

/// `POST /api/v2/document/{DocType}`.
pub async fn create(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    Path(doctype): Path<String>,
    FormOrJson(body): FormOrJson<CreateBody>,
) -> Result<AuditedResponse, WebError> {
    let body = body_object(body)?;
    let (doctype, stored) = create_document(&state, &who, &doctype, &body).await?;
    let event = audit.event(Activity::Read);
    release_document(&state, &audit, event, doctype, &stored, Envelope::Data).await
}

/// `PUT` or `PATCH /api/v2/document/{DocType}/{name}`.
pub async fn update(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    Path((doctype, name)): Path<(String, String)>,
    FormOrJson(body): FormOrJson<CreateBody>,
) -> Result<AuditedResponse, WebError> {
    let body = body_object(body)?;
    let (doctype, stored) = change_document(&state, &who, &doctype, &name, &body).await?;
    let event = audit.event(Activity::Read);
    release_document(&state, &audit, event, doctype, &stored, Envelope::Data).await
}

/// `DELETE /api/v2/document/{DocType}/{name}`: 202 `{"data": "ok"}`.
pub async fn delete(
    State(state): State<AppState>,
    who: CurrentUser,
    Path((doctype, name)): Path<(String, String)>,
) -> Result<(axum::http::StatusCode, axum::Json<Value>), WebError> {
    remove_document(&state, &who, &doctype, &name).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        axum::Json(json!({ "data": "ok" })),
    ))
}
