//! Exports to CSV and XLSX, at ERPNext's URLs (the desk posts to the same ones):
//!
//! - `/api/method/frappe.desk.query_report.export_query`: a query report with `report_name`,
//!   `filters` (JSON object), `file_format_type` (`CSV` or `Excel`), and optionally
//!   `visible_idx` (JSON list of the row indexes to keep) and `columns` (JSON list of the
//!   column fieldnames to keep);
//! - `/api/method/frappe.desk.reportview.export_query`: a list view with `doctype`,
//!   `file_format_type`, `fields`, `filters` (Frappe's forms) and optionally
//!   `selected_items` (JSON list of names).
//!
//! The rows stream from the database into a temporary file, hashed as it is written; the
//! entry (`activity = export`, with the filters, columns, row count, size and SHA-256) is
//! recorded; then the file is sent. A user without permission gets 403, and a denied entry.

use std::collections::{BTreeMap, BTreeSet};

use accesslog_core::doctype::{Action, DocType, FieldType};
use accesslog_core::entry::{CanonicalJson, Event};
use accesslog_core::filters::{column_type, parse_fields, parse_filters};
use accesslog_export::{Column, ExportFile, Format};
use accesslog_store::ListQuery;
use accesslog_store::records::list_sql;
use axum::extract::State;
use serde_json::Value;

use super::{ReportUse, report_for};
use crate::audit::{Audit, AuditedResponse, Payload};
use crate::error::WebError;
use crate::request::{FormDict, required};
use crate::state::AppState;
use accesslog_app::AppError;
use accesslog_app::reports::export::write_export;
use accesslog_app::reports::job::ExportJob;

fn format_of(params: &BTreeMap<String, String>) -> Result<Format, WebError> {
    let raw = params
        .get("file_format_type")
        .map(|s| s.trim())
        .unwrap_or("");
    Format::from_name(raw).ok_or_else(|| {
        WebError::BadRequest(format!(
            "file_format_type must be CSV or Excel{}",
            if raw.is_empty() {
                String::new()
            } else {
                format!(", not {raw:?}")
            }
        ))
    })
}

fn json_param(params: &BTreeMap<String, String>, name: &str) -> Result<Value, WebError> {
    match params.get(name).map(|s| s.trim()) {
        None | Some("") => Ok(Value::Null),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| WebError::BadRequest(format!("`{name}` is not valid JSON: {e}"))),
    }
}

fn string_list(
    params: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<Vec<String>>, WebError> {
    match json_param(params, name)? {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Ok(other.to_string()),
            })
            .collect::<Result<Vec<_>, WebError>>()
            .map(Some),
        other => Err(WebError::BadRequest(format!(
            "`{name}` must be a JSON list, not {other}"
        ))),
    }
}

/// A report's filter values from the `filters` parameter (a JSON object).
pub fn filter_values(
    params: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, WebError> {
    match json_param(params, "filters")? {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(map) => Ok(map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::Null => None,
                Value::String(s) => Some((k, s)),
                other => Some((k, other.to_string())),
            })
            .collect()),
        other => Err(WebError::BadRequest(format!(
            "`filters` must be a JSON object of filter values, not {other}"
        ))),
    }
}

/// The event for an export: what, how, and (filled in later) how much.
fn export_event(audit: &Audit, format: Format) -> Event {
    Event::export(&audit.actor(), format.file_type())
}

/// Lets an export start, or refuses it (recorded): at most `[exports] per_user` at once
/// for one user (429) and `in_total` for everyone (503), and an XLSX only with
/// `xlsx_min_free_mb` of temporary disk free (503, recorded as `failed`: allowed, but not
/// carried out). The slot is held until the export has been sent or dropped.
pub(crate) async fn admit(
    state: &AppState,
    audit: &Audit,
    event: &Event,
    format: Format,
) -> Result<crate::limits::Slot, WebError> {
    let slot = state
        .limits
        .exports
        .try_enter(&audit.who.user.email)
        .map_err(|e| match e {
            crate::limits::Refusal::Mine(message) => WebError::TooManyRequests {
                message,
                retry_after_secs: 5,
            },
            crate::limits::Refusal::Everyone(message) => WebError::Busy {
                message,
                retry_after_secs: 5,
            },
        });
    let slot = audit.or_deny(state, event, slot).await?;
    if format == Format::Xlsx {
        let need = state
            .settings
            .exports
            .xlsx_min_free_mb
            .saturating_mul(1024 * 1024);
        let dir = std::env::temp_dir();
        let free = crate::limits::free_bytes(&dir).unwrap_or(0);
        if free < need {
            let e = WebError::Busy {
                message: format!(
                    "The server has {} MB of temporary disk free and an Excel export needs {} MB; try CSV, narrow the filters, or ask the administrator to free space in {}.",
                    free / (1024 * 1024),
                    need / (1024 * 1024),
                    dir.display()
                ),
                retry_after_secs: 60,
            };
            return Err(audit.fail(state, event.clone(), e).await);
        }
    }
    Ok(slot)
}

/// Records `event` (with the file's rows, size and hash) and sends the file.
async fn release(
    state: &AppState,
    audit: &Audit,
    mut event: Event,
    file: ExportFile,
    format: Format,
    name: &str,
) -> Result<AuditedResponse, WebError> {
    event.row_count = Some(file.row_count);
    let file_name = format!("{}.{}", name, format.extension());
    audit
        .release(
            state,
            event,
            Payload::file(
                file.path,
                file.byte_count,
                file.sha256,
                format.content_type(),
            )
            .download_as(&file_name),
        )
        .await
}

/// `/api/method/frappe.desk.query_report.export_query` (GET or POST).
pub async fn query_report(
    State(state): State<AppState>,
    audit: Audit,
    FormDict(params): FormDict,
) -> Result<AuditedResponse, WebError> {
    let format = format_of(&params)?;
    let name = required(&params, "report_name")?.to_owned();
    let mut event = export_event(&audit, format);
    event.report_name = Some(name.clone());
    let report = report_for(&state, &name, &audit.who, ReportUse::Export);
    let report = audit.or_deny(&state, &event, report).await?;
    event.export_from = Some(report.ref_doctype.clone());
    let _slot = admit(&state, &audit, &event, format).await?;

    let given = filter_values(&params)?;
    let columns = string_list(&params, "columns")?;
    let visible: Option<BTreeSet<u64>> = string_list(&params, "visible_idx")?
        .map(|idx| {
            idx.iter()
                .map(|i| {
                    i.trim().parse::<u64>().map_err(|_| {
                        WebError::BadRequest(format!(
                            "visible_idx holds {i:?}, which is not a row index"
                        ))
                    })
                })
                .collect::<Result<_, _>>()
        })
        .transpose()?;
    let job = ExportJob::new(
        &*state.clock,
        report,
        &given,
        columns.as_deref(),
        visible,
        format,
    )?;
    job.describe(&mut event);
    let file = job.write(&*state.store).await?;
    release(&state, &audit, event, file, format, &report.name).await
}

/// `/api/method/frappe.desk.reportview.export_query` (GET or POST): a list view.
pub async fn list_view(
    State(state): State<AppState>,
    audit: Audit,
    FormDict(params): FormDict,
) -> Result<AuditedResponse, WebError> {
    list_export(&state, &audit, &params, None).await
}

/// ERPNext's Data Export tool, `frappe.core.doctype.data_export.exporter.export_data`
/// (GET or POST): `doctype`, `select_columns` (`{"Type": ["field", …]}`), `filters`,
/// `file_type` (`CSV` or `Excel`), `with_data`. The file is the table of the chosen
/// columns, as ERPNext writes it with `export_without_column_meta=1` (the import template's
/// meta rows are not written); `with_data=0` gives the header alone. Recorded as an
/// `export`, which ERPNext never logs.
pub async fn data_export(
    State(state): State<AppState>,
    audit: Audit,
    FormDict(mut params): FormDict,
) -> Result<AuditedResponse, WebError> {
    let doctype = required(&params, "doctype")?.to_owned();
    if let Some(kind) = params.remove("file_type") {
        params.insert("file_format_type".into(), kind);
    }
    if let Value::Object(columns) = json_param(&params, "select_columns")? {
        let own = columns.get(&doctype).cloned().unwrap_or(Value::Null);
        if !own.is_null() {
            params.insert("fields".into(), own.to_string());
        }
        if let Some(child) = columns.keys().find(|k| **k != doctype) {
            return Err(WebError::BadRequest(format!(
                "select_columns names {child:?}: this server exports the columns of {doctype} itself, not of its tables"
            )));
        }
    }
    let with_data = !matches!(
        params.get("with_data").map(|s| s.trim()),
        Some("0" | "false" | "False" | "No")
    );
    list_export(&state, &audit, &params, Some(with_data)).await
}

/// A list export of `params["doctype"]` (the list view's, or the Data Export tool's when
/// `with_data` is given: `Some(false)` writes the header alone).
async fn list_export(
    state: &AppState,
    audit: &Audit,
    params: &BTreeMap<String, String>,
    with_data: Option<bool>,
) -> Result<AuditedResponse, WebError> {
    let params = params.clone();
    let format = format_of(&params)?;
    let name = required(&params, "doctype")?.to_owned();
    let doctype: &DocType = state
        .doctypes
        .get(&name)
        .filter(|d| !d.is_child)
        .ok_or_else(|| WebError::NotFound(format!("There is no document type named {name:?}.")))?;
    let mut event = export_event(audit, format);
    event.export_from = Some(doctype.name.clone());
    if !doctype.allows(&audit.who.user.roles, Action::Export) {
        let e = WebError::Forbidden(format!(
            "You do not have permission to export {}.",
            doctype.name
        ));
        return Err(audit.deny(state, event, e).await);
    }
    let _slot = admit(state, audit, &event, format).await?;

    let children = state.doctypes.child_tables(doctype);
    let child_types: Vec<&DocType> = children.iter().map(|(_, d)| *d).collect();
    let bad = |e: accesslog_core::filters::FilterError| WebError::BadRequest(e.to_string());
    let filters_json = json_param(&params, "filters")?;
    let mut conditions = parse_filters(&filters_json, doctype, &child_types).map_err(bad)?;
    let selected = string_list(&params, "selected_items")?;
    if let Some(names) = &selected {
        let only = serde_json::json!([["name", "in", names]]);
        conditions.extend(parse_filters(&only, doctype, &child_types).map_err(bad)?);
    }
    let fields_json = match json_param(&params, "fields")? {
        Value::Null => Value::Array(
            std::iter::once("name")
                .chain(doctype.list_fields().map(|f| f.fieldname.as_str()))
                .map(|f| Value::String(f.to_owned()))
                .collect(),
        ),
        other => other,
    };
    let fields = parse_fields(&fields_json, doctype).map_err(bad)?;
    let order_by = accesslog_core::filters::parse_order_by(
        params.get("order_by").map(String::as_str).unwrap_or(""),
        doctype,
    )
    .map_err(bad)?;
    let columns: Vec<Column> = fields
        .iter()
        .map(|f| {
            let field = doctype.field(f);
            Column {
                label: field.map_or_else(|| standard_label(f), |d| d.label.clone()),
                fieldtype: column_type(doctype, f).unwrap_or(FieldType::Data),
                width: None,
            }
        })
        .collect();

    let mut recorded = filters_json.clone();
    if let Some(names) = &selected {
        recorded = serde_json::json!({ "filters": filters_json, "selected_items": names });
    }
    event.filters = Some(CanonicalJson::from_value(&recorded));
    event.columns = Some(CanonicalJson::from_value(&Value::Array(
        fields.iter().map(|f| Value::String(f.clone())).collect(),
    )));

    let dialect = state.dialect();
    let list = ListQuery {
        any_of: &[],
        conditions: &conditions,
        fields: &fields,
        order_by: &order_by,
        limit: if with_data == Some(false) {
            0
        } else {
            u32::MAX
        },
        offset: 0,
        after: None,
    };
    let (sql, binds) = list_sql(doctype, &children, &list, dialect);
    let pick: Vec<usize> = (0..fields.len()).collect();
    let file = write_export(
        format,
        columns,
        &doctype.name,
        |_| true,
        &pick,
        async |sink| {
            state
                .store
                .query_each_row(&sql, &binds, sink)
                .await
                .map_err(AppError::from)
        },
    )
    .await?;
    release(state, audit, event, file, format, &doctype.name).await
}

fn standard_label(column: &str) -> String {
    match column {
        "name" => "ID".to_owned(),
        other => {
            let mut s = other.replace('_', " ");
            if let Some(c) = s.get(..1) {
                let up = c.to_uppercase();
                s.replace_range(..1, &up);
            }
            s
        }
    }
}
