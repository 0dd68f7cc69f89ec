//! The report pages: `/app/query-report` (the reports this user may run) and
//! `/app/query-report/{Report Name}?filter=value…` (filters, a sortable grid a page at a
//! time, totals, and the export and print buttons). The URL carries the filters, so a link
//! reproduces the exact view.

use std::collections::BTreeMap;

use accesslog_core::doctype::FieldType;
use accesslog_core::entry::{Activity, CanonicalJson};
use accesslog_site::reports::QueryReport;
use accesslog_store::SqlValue;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Html;

use super::{ReportUse, Run, report_for, report_url};
use accesslog_app::AppError;

use crate::audit::{Audit, AuditedResponse, Payload, Read};
use crate::auth::PageUser;
use crate::error::WebError;
use crate::pages::{Layout, render};
use crate::records::pages::cell;
use crate::state::AppState;

/// Rows per page of a report.
const PAGE: u64 = 100;
/// Query parameters that are not filters.
const RESERVED: [&str; 3] = ["sort", "order", "page"];

#[derive(Template)]
#[template(path = "reports.html")]
struct IndexPage {
    layout: Layout,
    reports: Vec<ReportLink>,
}

/// A report in the index: its page, and the document type it reports on.
struct ReportLink {
    name: String,
    url: String,
    doctype: String,
}

/// `GET /app/query-report`.
pub async fn index(State(state): State<AppState>, who: PageUser) -> Result<Html<String>, WebError> {
    let reports = state
        .reports
        .iter()
        .filter(|r| r.allows(&who.0.user.roles))
        .map(|r| ReportLink {
            name: r.name.clone(),
            url: report_url(&r.name),
            doctype: r.ref_doctype.clone(),
        })
        .collect();
    render(&IndexPage {
        layout: Layout::new(&state.settings.name, Some(&who.0)),
        reports,
    })
}

pub struct FilterInput {
    pub fieldname: String,
    pub label: String,
    /// `date`, `select`, `check` or `text`.
    pub kind: &'static str,
    pub value: String,
    pub choices: Vec<String>,
    pub reqd: bool,
}

pub struct HeaderCell {
    pub label: String,
    pub url: String,
    /// `▲`, `▼` or nothing.
    pub arrow: &'static str,
    pub numeric: bool,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    layout: Layout,
    name: String,
    url: String,
    filters: Vec<FilterInput>,
    error: Option<String>,
    headers: Vec<HeaderCell>,
    rows: Vec<Vec<Cell>>,
    totals: Option<Vec<Cell>>,
    count: u64,
    first: u64,
    last: u64,
    prev: Option<String>,
    next: Option<String>,
    /// The applied filters as JSON, for the export form.
    filters_json: String,
    /// The query string of the applied filters, for the print links.
    query: String,
}

fn numeric(t: FieldType) -> bool {
    matches!(t, FieldType::Currency | FieldType::Float | FieldType::Int)
}

/// A report's cell (or column heading) as shown: its text, and whether it is a number
/// (right-aligned).
pub(super) struct Cell {
    pub text: String,
    pub numeric: bool,
}

impl Cell {
    /// The value of a column of type `t`, formatted as the desk does.
    pub(super) fn of(value: &SqlValue, t: FieldType) -> Self {
        Self {
            text: cell(value, Some(t)),
            numeric: numeric(t),
        }
    }

    /// A row of `report`'s result, a cell a column.
    pub(super) fn row(report: &QueryReport, row: &[SqlValue]) -> Vec<Self> {
        let value = |i: usize| row.get(i).unwrap_or(&SqlValue::Null);
        let columns = report.columns.iter().enumerate();
        columns
            .map(|(i, c)| Self::of(value(i), c.fieldtype))
            .collect()
    }

    /// A column's heading, aligned like its values.
    pub(super) fn heading(label: &str, t: FieldType) -> Self {
        Self {
            text: label.to_owned(),
            numeric: numeric(t),
        }
    }

    fn text(text: impl Into<String>, numeric: bool) -> Self {
        Self {
            text: text.into(),
            numeric,
        }
    }
}

/// `GET /app/query-report/{name}`.
pub async fn show(
    State(state): State<AppState>,
    who: PageUser,
    audit: Audit,
    Path(name): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    let mut event = audit.event(Activity::Read);
    event.report_name = Some(name.clone());
    let report = report_for(&state, &name, &who.0, ReportUse::View);
    let report = audit.or_deny(&state, &event, report).await?;
    event.export_from = Some(report.ref_doctype.clone());
    let given: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let filters: Vec<FilterInput> = report
        .filters
        .iter()
        .map(|f| FilterInput {
            fieldname: f.fieldname.clone(),
            label: f.label.clone(),
            kind: match f.fieldtype {
                FieldType::Date => "date",
                FieldType::Select => "select",
                FieldType::Check => "check",
                _ => "text",
            },
            value: given
                .get(&f.fieldname)
                .cloned()
                .or_else(|| f.default.clone().filter(|d| d != "today"))
                .unwrap_or_default(),
            choices: f.choices(),
            reqd: f.reqd,
        })
        .collect();
    let url = report_url(&report.name);
    let mut page = ReportPage {
        layout: Layout::new(&state.settings.name, Some(&who.0)),
        name: report.name.clone(),
        url: url.clone(),
        filters,
        error: None,
        headers: Vec::new(),
        rows: Vec::new(),
        totals: None,
        count: 0,
        first: 0,
        last: 0,
        prev: None,
        next: None,
        filters_json: "{}".to_owned(),
        query: String::new(),
    };
    let run = match Run::new(&*state.clock, report, &given) {
        Ok(run) => run,
        Err(AppError::Invalid(message)) => {
            page.error = Some(message);
            page.headers = report
                .columns
                .iter()
                .map(|c| HeaderCell {
                    label: c.label.clone(),
                    url: String::new(),
                    arrow: "",
                    numeric: numeric(c.fieldtype),
                })
                .collect();
            // The form, with what was wrong, and no rows: recorded as a read of none.
            let html = render(&page)?.0;
            let recorded = serde_json::json!({ "filters": given });
            event.filters = Some(CanonicalJson::from_value(&recorded));
            event.row_count = Some(0);
            return audit
                .release_read(&state, event, Payload::html(html), Read::Report)
                .await;
        }
        Err(e) => return Err(e.into()),
    };
    let sort = params
        .get("sort")
        .filter(|s| report.column(s).is_some())
        .cloned();
    let descending = params.get("order").is_some_and(|o| o == "desc");
    let number =
        crate::request::whole_number(&params, "page", 1, crate::request::MAX_OFFSET / PAGE)?.max(1);
    let offset = (number - 1) * PAGE;
    // The page and the totals are two queries over the whole result: side by side.
    let (rows, totals) = tokio::join!(
        run.page(
            &*state.store,
            sort.as_deref().map(|s| (s, descending)),
            PAGE,
            offset,
        ),
        run.totals(&*state.store)
    );
    let (rows, (count, sums)) = (rows?, totals?);

    let base_query = run.query_string();
    let link = |sort: Option<(&str, bool)>, page_number: u64| {
        let mut q: Vec<(String, String)> = run
            .filters
            .applied
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some((s, d)) = sort {
            q.push(("sort".into(), s.to_owned()));
            if d {
                q.push(("order".into(), "desc".into()));
            }
        }
        if page_number > 1 {
            q.push(("page".into(), page_number.to_string()));
        }
        crate::percent::with_query(&url, q)
    };
    let current = sort.as_deref().map(|s| (s, descending));
    page.headers = report
        .columns
        .iter()
        .map(|c| {
            let this = sort.as_deref() == Some(c.fieldname.as_str());
            HeaderCell {
                label: c.label.clone(),
                url: link(Some((&c.fieldname, this && !descending)), 1),
                arrow: match (this, descending) {
                    (true, false) => " ▲",
                    (true, true) => " ▼",
                    _ => "",
                },
                numeric: numeric(c.fieldtype),
            }
        })
        .collect();
    page.rows = rows.iter().map(|row| Cell::row(report, row)).collect();
    if !sums.is_empty() && count > 0 {
        page.totals = Some(
            report
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| match sums.get(&i) {
                    Some(v) if c.fieldtype == FieldType::Int => Cell::text(format!("{v:.0}"), true),
                    Some(v) => Cell::of(&SqlValue::Float(*v), FieldType::Currency),
                    None if i == 0 => Cell::text("Total", false),
                    None => Cell::text("", false),
                })
                .collect(),
        );
    }
    page.count = count;
    page.first = if rows.is_empty() { 0 } else { offset + 1 };
    page.last = offset + rows.len() as u64;
    page.prev = (number > 1).then(|| link(current, number - 1));
    page.next = (offset + PAGE < count).then(|| link(current, number + 1));
    page.filters_json = run.filters_json().to_string();
    page.query = base_query;
    let html = render(&page)?.0;
    let mut recorded = serde_json::json!({
        "filters": run.filters_json(),
        "start": offset,
        "limit": PAGE,
        "total": count,
    });
    if let Some(s) = &sort {
        let direction = if descending { "desc" } else { "asc" };
        recorded["order_by"] = serde_json::json!(format!("{s} {direction}"));
    }
    event.filters = Some(CanonicalJson::from_value(&recorded));
    event.columns = Some(run.columns_json());
    event.row_count = Some(rows.len() as u64);
    audit
        .release_read(&state, event, Payload::html(html), Read::Report)
        .await
}
