//! A report's data as JSON, at ERPNext's `frappe.desk.query_report.run` (GET or POST,
//! `report_name` and `filters`): `{"message": {"result": [rows as objects], "columns":
//! [...]}}`. Recorded as a `read` of the report, with its filters and row count.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use accesslog_core::entry::{Activity, CanonicalJson};
use accesslog_store::SqlValue;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::{ReportUse, Run, report_for};
use crate::audit::{Audit, AuditedResponse, Payload, Read};
use crate::error::WebError;
use crate::records::api::to_json;
use crate::request::{merged_params, required};
use crate::state::AppState;

/// At most this many rows in one answer; a larger result is for an export.
const MAX_ROWS: usize = 100_000;

/// `/api/method/frappe.desk.query_report.run`.
pub async fn run(
    State(state): State<AppState>,
    audit: Audit,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<AuditedResponse, WebError> {
    let mut event = audit.event(Activity::Read);
    let params = merged_params(query, &headers, &body);
    let params = audit.or_deny(&state, &event, params).await?;
    let name = required(&params, "report_name");
    let name = audit.or_deny(&state, &event, name).await?.to_owned();
    event.report_name = Some(name.clone());
    let report = report_for(&state, &name, &audit.who, ReportUse::View);
    let report = audit.or_deny(&state, &event, report).await?;
    event.export_from = Some(report.ref_doctype.clone());
    let given = super::export::filter_values(&params);
    let given = audit.or_deny(&state, &event, given).await?;
    let run = Run::new(&*state.clock, report, &given);
    let run = audit.or_deny(&state, &event, run).await?;
    let mut rows: Vec<Value> = Vec::new();
    let mut too_many = false;
    run.each_row(&*state.store, &mut |row: &[SqlValue]| {
        if rows.len() == MAX_ROWS {
            too_many = true;
            return ControlFlow::Break(());
        }
        let object: Map<String, Value> = report
            .columns
            .iter()
            .zip(row)
            .map(|(c, v)| (c.fieldname.clone(), to_json(v)))
            .collect();
        rows.push(Value::Object(object));
        ControlFlow::Continue(())
    })
    .await?;
    if too_many {
        let e = WebError::BadRequest(format!(
            "The report {} has more than {MAX_ROWS} rows with these filters: narrow them, or export it (frappe.desk.query_report.export_query).",
            report.name
        ));
        return Err(audit.deny(&state, event, e).await);
    }
    let columns: Vec<Value> = report
        .columns
        .iter()
        .map(|c| {
            json!({
                "fieldname": c.fieldname,
                "label": c.label,
                "fieldtype": c.fieldtype.as_str(),
            })
        })
        .collect();
    event.filters = Some(CanonicalJson::from_value(&json!({
        "filters": run.filters_json()
    })));
    event.columns = Some(run.columns_json());
    event.row_count = Some(rows.len() as u64);
    let body = json!({ "message": { "result": rows, "columns": columns } });
    audit
        .release_read(&state, event, Payload::json(&body), Read::Report)
        .await
}
