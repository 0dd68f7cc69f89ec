//! The Access Log itself as CSV or JSON Lines (`/app/access-log/export`, and
//! `accesslog log-export` on the command line), oldest first, with the list's filters.
//! Exports of the log are recorded as `activity = log_export`: the auditors are audited.

use std::collections::BTreeMap;

use accesslog_app::log_export::{LogFormat, log_export_event, write_log};
use accesslog_core::entry::Activity;
use axum::extract::{Query, State};

use super::{entry_query, require_reviewer};
use crate::audit::{Audit, AuditedResponse, Payload};
use crate::error::WebError;
use crate::state::AppState;

/// `GET /app/access-log/export?format=csv|jsonl&…filters`.
pub async fn download(
    State(state): State<AppState>,
    audit: Audit,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::LogExport).await?;
    let format = params
        .get("format")
        .and_then(|f| LogFormat::parse(f))
        .ok_or_else(|| WebError::BadRequest("format must be csv or jsonl".to_owned()))?;
    let q = entry_query(&params)?;
    let admission = audit.event(Activity::LogExport);
    let _slot =
        crate::reports::export::admit(&state, &audit, &admission, accesslog_export::Format::Csv)
            .await?;
    let file = write_log(&*state.store, &q, format).await?;
    let event = log_export_event(audit.event(Activity::LogExport), &params, format, file.rows);
    audit
        .release(
            &state,
            event,
            Payload::file(file.path, file.bytes, file.sha256, format.content_type())
                .download_as(&format!("access-log.{}", format.extension())),
        )
        .await
}
