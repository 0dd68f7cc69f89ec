//! `/app/access-log`: newest first, the standard filters, counts by user and activity for
//! the current filter (over the newest 5,000 matching entries, so a page view never
//! counts the whole table), keyset pages. `/app/access-log/{seq}`: every field, Show Report
//! (with a re-run that says whether today's export is identical), Show Document, and
//! whether a signed checkpoint covers the entry.

use std::collections::BTreeMap;

use accesslog_core::entry::{Activity, Entry};
use accesslog_store::log_search::{EntryPage, GroupBy};
use askama::Template;
use axum::extract::{Path, Query, State};
use serde_json::Value;

use super::api::{before_token, parse_before, release_entry_read, release_log_read};
use accesslog_app::AppError;

use super::{entry_query, require_reviewer};
use crate::audit::{Audit, AuditedResponse, Payload};
use crate::auth::PageUser;
use crate::error::WebError;
use crate::pages::{LabelledValue, Layout, render};
use crate::percent::percent;
use crate::records::pages::slug;
use crate::reports::report_url;
use crate::state::AppState;
use accesslog_app::reports::job::ExportJob;

const PAGE: u32 = 50;
/// The sidebar counts look at this many of the newest matching entries.
pub const COUNT_SAMPLE: u32 = 5_000;
const FILTERS: [&str; 12] = [
    "user",
    "activity",
    "export_from",
    "report_name",
    "file_type",
    "outcome",
    "reference_document",
    "document",
    "from",
    "to",
    "q",
    "source",
];

/// An option of a filter's `<select>`, and whether it is the one chosen.
#[derive(Clone)]
pub struct Selectable {
    pub value: &'static str,
    pub selected: bool,
}

impl Selectable {
    pub(crate) fn of(value: &'static str, chosen: Option<&String>) -> Self {
        Self {
            value,
            selected: chosen.is_some_and(|c| c == value),
        }
    }
}

/// A count beside the link that filters on what was counted (by user, by activity).
pub struct CountLink {
    pub label: String,
    pub count: u64,
    pub url: String,
}

pub struct Row {
    pub seq: u64,
    pub time: String,
    pub user: String,
    pub activity: String,
    pub source: String,
    pub document: String,
    pub file_type: String,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "access_log.html")]
struct ListPage {
    layout: Layout,
    values: BTreeMap<String, String>,
    activities: Vec<Selectable>,
    outcomes: Vec<Selectable>,
    rows: Vec<Row>,
    /// (label, count, url that adds the filter)
    by_user: Vec<CountLink>,
    by_activity: Vec<CountLink>,
    sample: u32,
    next: Option<String>,
    export_query: String,
    /// The archived entries, with the filters they keep (user, activity, from, to).
    archived_url: String,
    error: Option<String>,
}

fn url_with(params: &BTreeMap<String, String>, key: &str, value: &str) -> String {
    let p = params
        .iter()
        .filter(|(k, v)| FILTERS.contains(&k.as_str()) && k.as_str() != key && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()));
    crate::percent::with_query(
        "/app/access-log",
        p.chain((!value.is_empty()).then_some((key, value))),
    )
}

fn row(e: &Entry) -> Row {
    let ev = &e.event;
    Row {
        seq: e.seq,
        time: super::shown_time(e.timestamp),
        user: ev.user.clone(),
        activity: ev.activity.as_str().to_owned(),
        source: match (&ev.report_name, &ev.export_from) {
            (Some(r), _) => r.clone(),
            (None, Some(d)) => d.clone(),
            _ => String::new(),
        },
        document: ev.reference_document.clone().unwrap_or_default(),
        file_type: ev.file_type.clone().unwrap_or_default(),
        outcome: ev.outcome.as_str().to_owned(),
    }
}

/// `GET /app/access-log`.
pub async fn list(
    State(state): State<AppState>,
    _page: PageUser,
    audit: Audit,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let values = super::filter_values(&FILTERS, &params);
    let mut page = ListPage {
        layout: Layout::new(&state.settings.name, Some(&audit.who)),
        values: values.clone(),
        activities: Activity::ALL
            .map(|a| Selectable::of(a.as_str(), values.get("activity")))
            .to_vec(),
        outcomes: ["granted", "denied", "failed"]
            .map(|o| Selectable::of(o, values.get("outcome")))
            .to_vec(),
        rows: Vec::new(),
        by_user: Vec::new(),
        by_activity: Vec::new(),
        sample: COUNT_SAMPLE,
        next: None,
        export_query: serde_urlencoded::to_string(
            values
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default(),
        archived_url: super::archived::url_for(&values),
        error: None,
    };
    let q = match entry_query(&params) {
        Ok(q) => q,
        Err(AppError::Invalid(m)) => {
            page.error = Some(m);
            let html = render(&page)?.0;
            return release_log_read(&state, &audit, &params, [], Payload::html(html)).await;
        }
        Err(e) => return Err(e.into()),
    };
    let before = parse_before(params.get("before"))?;
    let entries = state
        .store
        .search_entries(&q, EntryPage::Newest { before }, PAGE)
        .await?;
    if entries.len() as u32 == PAGE
        && let Some(last) = entries.last()
    {
        let mut p: BTreeMap<String, String> = values.clone();
        p.insert("before".into(), before_token(last));
        let p = p.iter().filter(|(_, v)| !v.is_empty());
        page.next = Some(crate::percent::with_query(
            "/app/access-log",
            p.map(|(k, v)| (k.as_str(), v.as_str())),
        ));
    }
    page.rows = entries.iter().map(row).collect();
    // The two counts run side by side (each reads up to COUNT_SAMPLE entries).
    let (by_user, by_activity) = tokio::join!(
        state
            .store
            .count_entries(&q, GroupBy::User, COUNT_SAMPLE, 10),
        state
            .store
            .count_entries(&q, GroupBy::Activity, COUNT_SAMPLE, 10),
    );
    for (counts, key, out) in [
        (by_user?, "user", &mut page.by_user),
        (by_activity?, "activity", &mut page.by_activity),
    ] {
        *out = counts
            .into_iter()
            .map(|(label, count)| CountLink {
                url: url_with(&values, key, &label),
                label,
                count,
            })
            .collect();
    }
    let html = render(&page)?.0;
    release_log_read(
        &state,
        &audit,
        &params,
        entries.iter().map(|e| e.seq),
        Payload::html(html),
    )
    .await
}

#[derive(Template)]
#[template(path = "access_log_entry.html")]
struct EntryPageView {
    layout: Layout,
    seq: u64,
    /// Every field but the long ones.
    fields: Vec<LabelledValue>,
    /// The filters by name (an array's items without one), and as JSON.
    filters: Vec<LabelledValue>,
    filters_json: Option<String>,
    columns: Vec<String>,
    page: Option<String>,
    /// Show Report: the report's URL with the logged filters.
    report: Option<String>,
    /// For exports: today's re-run compared with the logged file.
    recheck: Option<String>,
    /// Show Document: the URL, or why there is none.
    document: Option<Result<String, String>>,
    /// Whether a signed checkpoint covers the entry, and the proof's URL.
    integrity: String,
    proof_url: String,
}

/// `GET /app/access-log/{seq}`.
pub async fn show(
    State(state): State<AppState>,
    _page: PageUser,
    audit: Audit,
    Path(seq): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| WebError::NotFound(format!("{seq:?} is not an entry number.")))?;
    let Some(e) = state.store.entry(seq).await? else {
        return show_pruned(&state, &audit, seq).await;
    };
    let ev = &e.event;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    let fields = [
        ("Time", e.timestamp.to_rfc3339()),
        ("User", ev.user.clone()),
        ("Roles", ev.roles.join(", ")),
        ("Activity", ev.activity.as_str().to_owned()),
        ("Outcome", ev.outcome.as_str().to_owned()),
        ("Reason", opt(&ev.reason)),
        ("Document type (export from)", opt(&ev.export_from)),
        ("Reference document", opt(&ev.reference_document)),
        ("Report", opt(&ev.report_name)),
        ("Print format", opt(&ev.print_format)),
        ("File type", opt(&ev.file_type)),
        ("Rows", num(ev.row_count)),
        ("Bytes", num(ev.byte_count)),
        ("SHA-256 of what was sent", opt(&ev.content_sha256)),
        ("Method", ev.method.clone()),
        ("Authenticated by", opt(&ev.auth)),
        ("IP address", opt(&ev.ip)),
        ("User agent", opt(&ev.user_agent)),
        ("Request id", opt(&ev.request_id)),
        ("Source", ev.source.clone()),
    ]
    .into_iter()
    .map(|(label, value)| LabelledValue::new(label, value))
    .collect();
    let filters_value = ev.filters.as_ref().map(|f| f.to_value());
    let filters: Vec<LabelledValue> = match &filters_value {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                LabelledValue::new(
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| LabelledValue::new(String::new(), v.to_string()))
            .collect(),
        _ => Vec::new(),
    };
    let report_filters: BTreeMap<String, String> = match &filters_value {
        Some(Value::Object(map)) => map
            .iter()
            .filter(|(k, _)| k.as_str() != "visible_idx")
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    };
    // An ERPNext site's entry (the gate's, or imported) links to the site's own pages.
    let upstream = super::upstream::base_of(&state.settings.gate, &ev.source);
    let report = if let Some(base) = &upstream {
        super::upstream::report(base, ev)
    } else {
        ev.report_name
            .as_deref()
            .filter(|r| state.reports.get(r).is_some())
            .map(|r| crate::percent::with_query(&report_url(r), &report_filters))
    };
    let recheck = if params.contains_key("recheck") && upstream.is_none() {
        Some(recheck(&state, &e, &report_filters).await)
    } else {
        None
    };
    let document = match &upstream {
        Some(base) => super::upstream::document(base, ev),
        None => show_document(&state, &e).await?,
    };
    let latest = state.store.latest_checkpoint().await?;
    let integrity = match latest {
        Some(c) if c.size >= seq => format!(
            "Covered by the latest signed checkpoint (tree size {}, signed {}).",
            c.size,
            c.created_at.to_rfc3339()
        ),
        Some(c) => format!(
            "Not yet covered: the latest signed checkpoint has {} entries; the next one will include this entry.",
            c.size
        ),
        None => "No checkpoint has been signed yet.".to_owned(),
    };
    let html = render(&EntryPageView {
        layout: Layout::new(&state.settings.name, Some(&audit.who)),
        seq,
        fields,
        filters,
        filters_json: ev.filters.as_ref().map(|f| f.as_str().to_owned()),
        columns: match ev.columns.as_ref().map(|c| c.to_value()) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
            _ => Vec::new(),
        },
        page: ev.page.clone(),
        report,
        recheck,
        document,
        integrity,
        proof_url: format!("/api/access-log/{seq}/proof"),
    })?
    .0;
    release_entry_read(&state, &audit, seq, Payload::html(html)).await
}

/// An entry whose payload was pruned (archived to a bundle) or redacted: what is kept of
/// it, and where the rest is.
async fn show_pruned(
    state: &AppState,
    audit: &Audit,
    seq: u64,
) -> Result<AuditedResponse, WebError> {
    let p = state
        .store
        .pruned_entry(seq)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("There is no entry {seq}.")))?;
    let mut fields = vec![LabelledValue::new(
        "Status",
        super::archived::pruned_status(&p, &state.store.archives().await?),
    )];
    let kept = [
        ("Time", p.timestamp.map(|t| t.to_rfc3339())),
        ("User", p.user.clone()),
        ("Activity", p.activity.clone()),
    ];
    for (label, value) in kept {
        fields.push(LabelledValue::new(
            label,
            value.unwrap_or_else(|| "(not kept)".to_owned()),
        ));
    }
    fields.push(LabelledValue::new("Leaf hash (kept)", hex::encode(p.leaf)));
    let html = render(&EntryPageView {
        layout: Layout::new(&state.settings.name, Some(&audit.who)),
        seq,
        fields,
        filters: Vec::new(),
        filters_json: None,
        columns: Vec::new(),
        page: None,
        report: None,
        recheck: None,
        document: None,
        integrity: "Its leaf hash is kept in the tree: its proofs and every checkpoint stay valid."
            .to_owned(),
        proof_url: format!("/api/access-log/{seq}/proof"),
    })?
    .0;
    release_entry_read(state, audit, seq, Payload::html(html)).await
}

/// Show Document: the form of the document (or of the document a downloaded file is
/// attached to), or a sentence saying why there is none.
async fn show_document(
    state: &AppState,
    e: &Entry,
) -> Result<Option<Result<String, String>>, WebError> {
    let ev = &e.event;
    let (Some(doctype), Some(name)) = (ev.export_from.as_deref(), ev.reference_document.as_deref())
    else {
        return Ok(None);
    };
    if doctype == "File" {
        let file = match state.store.file_by_url(true, name).await? {
            Some(f) => Some(f),
            None => match state.store.file_by_url(false, name).await? {
                Some(f) => Some(f),
                None => state.store.file_by_id(name).await?,
            },
        };
        return Ok(Some(match file {
            Some(f) => match (
                f.attached_to_doctype.as_deref(),
                f.attached_to_name.as_deref(),
            ) {
                (Some(d), Some(n)) if state.doctypes.get(d).is_some() => {
                    Ok(format!("/app/{}/{}", slug(d), percent(n)))
                }
                _ => Ok(f.file_url()),
            },
            None => Err(format!("The file {name} no longer exists.")),
        }));
    }
    let Some(dt) = state.doctypes.get(doctype).filter(|d| !d.is_child) else {
        return Ok(Some(Err(format!(
            "The document type {doctype} no longer exists."
        ))));
    };
    let exists = state.store.get_document(dt, &[], name).await?.is_some();
    Ok(Some(if exists {
        Ok(format!("/app/{}/{}", slug(doctype), percent(name)))
    } else {
        Err(format!("{doctype} {name} no longer exists."))
    }))
}

/// Re-runs a logged export with the same filters and columns and compares it with what was
/// sent. Nothing is released, so nothing is recorded.
async fn recheck(state: &AppState, e: &Entry, filters: &BTreeMap<String, String>) -> String {
    let ev = &e.event;
    let job = match ExportJob::from_entry(&state.reports, &*state.clock, ev, filters) {
        Ok(job) => job,
        Err(why) => return why,
    };
    let file = match job.write(&*state.store).await {
        Ok(f) => f,
        Err(e) => return format!("The re-run failed: {e}"),
    };
    let then = ev
        .row_count
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    if ev.content_sha256.as_deref() == Some(file.sha256.as_str()) {
        format!(
            "Identical: today's export of the same filters and columns has the same {} rows and the same SHA-256 as what was exported.",
            file.row_count
        )
    } else {
        format!(
            "Changed since: the export had {then} rows; today it has {} rows, and the content differs (SHA-256 {} then, {} now).",
            file.row_count,
            ev.content_sha256.as_deref().unwrap_or("?"),
            file.sha256
        )
    }
}
