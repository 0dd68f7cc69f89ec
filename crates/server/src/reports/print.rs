//! Printing a report: `/app/query-report/{name}/print?filters…` (HTML) and `/pdf` (PDF,
//! through the same Chromium as document PDFs), with the filters shown on the page. Each is
//! recorded as `activity = report_print` with the filters, columns and rows printed.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use accesslog_core::entry::{CanonicalJson, Event};
use accesslog_store::SqlValue;
use askama::Template;
use axum::extract::{Path, Query, State};

use super::page::Cell;
use super::{ReportUse, Run, report_for};
use crate::audit::{Audit, AuditedResponse, Payload};
use crate::error::WebError;
use crate::pages::LabelledValue;
use crate::state::AppState;

/// A print holds at most this many rows; exports hold them all.
const PRINT_ROWS: u64 = 2_000;

#[derive(Template)]
#[template(path = "report_print.html")]
struct PrintPage<'a> {
    name: &'a str,
    site_name: &'a str,
    printed_at: String,
    user: &'a str,
    filters: Vec<LabelledValue>,
    headers: Vec<Cell>,
    rows: Vec<Vec<Cell>>,
    shown: u64,
    count: u64,
}

/// The page's HTML and the event that will record it.
async fn print_page(
    state: &AppState,
    audit: &Audit,
    name: &str,
    given: &BTreeMap<String, String>,
    file_type: &str,
) -> Result<(String, Event), WebError> {
    let mut event = Event::report_print(&audit.actor(), name, file_type);
    let report = report_for(state, name, &audit.who, ReportUse::Print);
    let report = audit.or_deny(state, &event, report).await?;
    event.export_from = Some(report.ref_doctype.clone());
    let run = Run::new(&*state.clock, report, given)?;
    let mut rows = Vec::new();
    let mut count = 0u64;
    run.each_row(&*state.store, &mut |row: &[SqlValue]| {
        count += 1;
        if count <= PRINT_ROWS {
            rows.push(row.to_vec());
        }
        ControlFlow::Continue(())
    })
    .await?;
    let filters = report
        .filters
        .iter()
        .filter_map(|f| {
            run.filters
                .applied
                .get(&f.fieldname)
                .map(|v| LabelledValue::new(f.label.clone(), v.clone()))
        })
        .collect();
    let page = PrintPage {
        name: &report.name,
        site_name: &state.settings.name,
        printed_at: super::super::printing::printed_at(&state.clock.now().to_rfc3339()),
        user: &audit.who.user.email,
        filters,
        headers: report
            .columns
            .iter()
            .map(|c| Cell::heading(&c.label, c.fieldtype))
            .collect(),
        rows: rows.iter().map(|row| Cell::row(report, row)).collect(),
        shown: rows.len() as u64,
        count,
    }
    .render()
    .map_err(|e| WebError::Internal(e.into()))?;
    event.filters = Some(CanonicalJson::from_value(&run.filters_json()));
    event.columns = Some(run.columns_json());
    event.row_count = Some(rows.len() as u64);
    Ok((page, event))
}

/// `GET /app/query-report/{name}/print`.
pub async fn html(
    State(state): State<AppState>,
    audit: Audit,
    Path(name): Path<String>,
    Query(given): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    let (page, event) = print_page(&state, &audit, &name, &given, "HTML").await?;
    audit
        .release(&state, event, Payload::print_view(page))
        .await
}

/// `GET /app/query-report/{name}/pdf`.
pub async fn pdf(
    State(state): State<AppState>,
    audit: Audit,
    Path(name): Path<String>,
    Query(given): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    let (page, event) = print_page(&state, &audit, &name, &given, "PDF").await?;
    crate::printing::release_pdf(&state, &audit, event, &page, &format!("{name}.pdf")).await
}
