//! The Access Log over HTTP: the native `GET /api/access-log` (the list's filters, plus
//! `after_seq` to follow the log and `before` to page back) and `GET /api/access-log/{seq}`;
//! and ERPNext's `GET /api/resource/Access Log`, so Frappe clients and scripts that read
//! Access Logs keep working. Each read is recorded (`activity = read`, `export_from =
//! "Access Log"`), as is a refused attempt: the auditors are audited.

use std::collections::BTreeMap;

use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, CanonicalJson, Entry, Event};
use accesslog_store::log_search::{EntryPage, EntryQuery};
use axum::extract::{Path, Query, State};
use serde_json::{Map, Value, json};

use super::{entry_json, entry_query, require_reviewer};
use crate::audit::{Audit, AuditedResponse, Payload, Read};
use crate::error::WebError;
use crate::state::AppState;

const MAX_LIMIT: u32 = 1000;

pub(crate) fn limit(
    params: &BTreeMap<String, String>,
    name: &str,
    default: u32,
) -> Result<u32, WebError> {
    match crate::request::param(params, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .map(|n| if n == 0 { MAX_LIMIT } else { n.min(MAX_LIMIT) })
            .map_err(|_| WebError::BadRequest(format!("{name} must be a whole number, not {v:?}"))),
    }
}

/// `before=<timestamp micros>:<seq>`, the keyset of the last entry of the previous page.
pub fn parse_before(raw: Option<&String>) -> Result<Option<(Timestamp, u64)>, WebError> {
    let Some(raw) = raw.map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        WebError::BadRequest(format!(
            "before must look like 1764406800000000:42, not {raw:?}"
        ))
    };
    let (ts, seq) = raw.split_once(':').ok_or_else(bad)?;
    Ok(Some((
        Timestamp::from_micros(ts.parse().map_err(|_| bad())?),
        seq.parse().map_err(|_| bad())?,
    )))
}

pub fn before_token(e: &Entry) -> String {
    format!("{}:{}", e.timestamp.as_micros(), e.seq)
}

/// `GET /api/access-log?user=…&activity=…&from=…&to=…&after_seq=…&limit=…`.
pub async fn list(
    State(state): State<AppState>,
    audit: Audit,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let q = entry_query(&params)?;
    let limit = limit(&params, "limit", 100)?;
    let page = match crate::request::param(&params, "after_seq") {
        Some(after) => EntryPage::After {
            after_seq: after.parse().map_err(|_| {
                WebError::BadRequest(format!("after_seq must be an entry number, not {after:?}"))
            })?,
        },
        None => EntryPage::Newest {
            before: parse_before(params.get("before"))?,
        },
    };
    let entries = state.store.search_entries(&q, page, limit).await?;
    let mut out = Map::new();
    if entries.len() as u32 == limit
        && let Some(last) = entries.last()
    {
        match page {
            EntryPage::After { .. } => out.insert("next_after_seq".into(), json!(last.seq)),
            EntryPage::Newest { .. } => out.insert("next_before".into(), json!(before_token(last))),
        };
    }
    out.insert(
        "data".into(),
        Value::Array(entries.iter().map(entry_json).collect()),
    );
    release_log_read(
        &state,
        &audit,
        &params,
        entries.iter().map(|e| e.seq),
        Payload::json(&Value::Object(out)),
    )
    .await
}

/// Records a read of `entries` of the Access Log (with the query's parameters) and
/// releases `payload`.
pub async fn release_log_read(
    state: &AppState,
    audit: &Audit,
    params: &BTreeMap<String, String>,
    seqs: impl IntoIterator<Item = u64>,
    payload: Payload,
) -> Result<AuditedResponse, WebError> {
    let seqs = seqs.into_iter().map(|seq| seq.to_string()).collect();
    release_listed(state, audit, None, params.iter(), seqs, payload).await
}

/// Records a read of the Access Log's `view` listing `names` (with those of `params` that
/// have a value) and releases `payload`.
pub(crate) async fn release_listed<'a>(
    state: &AppState,
    audit: &Audit,
    view: Option<&str>,
    params: impl Iterator<Item = (&'a String, &'a String)>,
    names: Vec<String>,
    payload: Payload,
) -> Result<AuditedResponse, WebError> {
    let mut event = Event::log_access(&audit.actor(), Activity::Read, view);
    let mut recorded: Map<String, Value> = params
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    crate::records::api::returned_names(&mut recorded, &names, state.settings.log.read_names_max);
    event.filters = Some(CanonicalJson::from_value(&Value::Object(recorded)));
    event.row_count = Some(names.len() as u64);
    audit
        .release_read(state, event, payload, Read::Report)
        .await
}

/// Records a read of the one entry `seq` of the Access Log and releases `payload`.
pub async fn release_entry_read(
    state: &AppState,
    audit: &Audit,
    seq: u64,
    payload: Payload,
) -> Result<AuditedResponse, WebError> {
    let mut event = Event::log_access(&audit.actor(), Activity::Read, None);
    event.reference_document = Some(seq.to_string());
    event.row_count = Some(1);
    audit
        .release_read(state, event, payload, Read::LogEntry)
        .await
}

/// `GET /api/access-log/{seq}`.
pub async fn get(
    State(state): State<AppState>,
    audit: Audit,
    Path(seq): Path<String>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| WebError::BadRequest(format!("{seq:?} is not an entry number")))?;
    let body = match state.store.entry(seq).await? {
        Some(entry) => json!({ "data": entry_json(&entry) }),
        None => {
            let p = state
                .store
                .pruned_entry(seq)
                .await?
                .ok_or_else(|| WebError::NotFound(format!("There is no entry {seq}.")))?;
            let archives = state.store.archives().await?;
            json!({ "data": super::archived::pruned_json(&p, &archives) })
        }
    };
    release_entry_read(&state, &audit, seq, Payload::json(&body)).await
}

/// An entry as ERPNext's Access Log document: `name`, its fields (filters and columns as
/// JSON text), `timestamp` and `creation` as `YYYY-MM-DD HH:MM:SS.ffffff`.
fn resource_json(e: &Entry) -> Map<String, Value> {
    let Value::Object(mut doc) = entry_json(e) else {
        return Map::new();
    };
    let when = e
        .timestamp
        .to_rfc3339()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned();
    doc.insert("name".into(), json!(e.seq.to_string()));
    doc.insert("doctype".into(), json!("Access Log"));
    doc.insert("timestamp".into(), json!(when));
    doc.insert("creation".into(), json!(when));
    doc.insert("modified".into(), json!(when));
    doc.insert("owner".into(), json!(e.event.user));
    for key in ["filters", "columns"] {
        let text = doc.get(key).filter(|v| !v.is_null()).map(|v| v.to_string());
        doc.insert(key.into(), json!(text));
    }
    doc
}

/// Frappe's filters (`{"user": "x"}`, `[["user", "=", "x"]]` or
/// `[["Access Log", "user", "=", "x"]]`) as an entry query: `=` on the standard fields,
/// comparisons on `timestamp`/`creation`.
fn frappe_filters(json: &Value) -> Result<EntryQuery, WebError> {
    let mut triples: Vec<(String, String, Value)> = Vec::new();
    match json {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Array(pair) if pair.len() == 2 => triples.push((
                        k.clone(),
                        pair[0].as_str().unwrap_or("").to_owned(),
                        pair[1].clone(),
                    )),
                    other => triples.push((k.clone(), "=".into(), other.clone())),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let parts = item.as_array().map(Vec::as_slice).unwrap_or_default();
                let parts = match parts.len() {
                    4 => &parts[1..],
                    3 => parts,
                    _ => {
                        return Err(WebError::BadRequest(format!(
                            "each filter is [field, operator, value]; {item} is not"
                        )));
                    }
                };
                triples.push((
                    parts[0].as_str().unwrap_or("").to_owned(),
                    parts[1].as_str().unwrap_or("").to_owned(),
                    parts[2].clone(),
                ));
            }
        }
        other => {
            return Err(WebError::BadRequest(format!(
                "filters must be an object or a list, not {other}"
            )));
        }
    }
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // Frappe writes times as `2026-11-29 10:00:00`; dates pass as they are.
    let instant = |v: &Value| {
        let t = text(v);
        if t.len() == 10 {
            t
        } else {
            format!("{}Z", t.replace(' ', "T"))
        }
    };
    for (field, op, value) in triples {
        let op = op.trim().to_lowercase();
        match (field.as_str(), op.as_str()) {
            (
                "user" | "activity" | "export_from" | "report_name" | "file_type" | "outcome"
                | "reference_document" | "source",
                "=",
            ) => {
                params.insert(field.clone(), text(&value));
            }
            ("timestamp" | "creation", ">=" | ">") => {
                params.insert("from".into(), instant(&value));
            }
            ("timestamp" | "creation", "<" | "<=") => {
                params.insert("to".into(), instant(&value));
            }
            _ => {
                return Err(WebError::BadRequest(format!(
                    "the filter {field} {op} is not supported on Access Log: use = on user, activity, export_from, report_name, file_type, outcome, reference_document or source, and >=, < on timestamp"
                )));
            }
        }
    }
    Ok(entry_query(&params)?)
}

/// `GET /api/resource/Access Log` (ERPNext's REST): `filters`, `fields`,
/// `limit_start`, `limit_page_length`, `order_by` (newest first; `asc` for oldest first).
pub async fn resource_list(
    state: &AppState,
    audit: &Audit,
    params: &BTreeMap<String, String>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(state, audit, Activity::Read).await?;
    let parse = |name: &str| crate::api::client::json_value(params, name);
    let q = frappe_filters(&parse("filters")?)?;
    let fields: Vec<String> = match parse("fields")? {
        Value::Null => vec!["name".to_owned()],
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| {
                        s.trim_matches('`')
                            .rsplit('.')
                            .next()
                            .unwrap_or(s)
                            .trim_matches('`')
                            .to_owned()
                    })
                    .ok_or_else(|| {
                        WebError::BadRequest("fields must be a list of names".to_owned())
                    })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(WebError::BadRequest(
                "fields must be a list of names".to_owned(),
            ));
        }
    };
    let start = crate::request::whole_number(params, "limit_start", 0, crate::request::MAX_OFFSET)?;
    let length = limit(params, "limit_page_length", 20)?;
    let oldest_first = params
        .get("order_by")
        .is_some_and(|o| o.to_lowercase().contains("asc"));
    // Keyset pages, skipping `limit_start` entries (Frappe's offset paging), at most 10,000 deep.
    if start > 10_000 {
        return Err(WebError::BadRequest(
            "limit_start above 10,000: follow the log with GET /api/access-log?after_seq=… instead"
                .to_owned(),
        ));
    }
    let mut page = if oldest_first {
        EntryPage::After { after_seq: 0 }
    } else {
        EntryPage::Newest { before: None }
    };
    let mut skipped = 0u64;
    let mut rows = Vec::new();
    loop {
        let batch = state.store.search_entries(&q, page, MAX_LIMIT).await?;
        let Some(last) = batch.last().cloned() else {
            break;
        };
        for e in &batch {
            if skipped < start {
                skipped += 1;
            } else if (rows.len() as u32) < length {
                rows.push(e.clone());
            }
        }
        if rows.len() as u32 >= length || (batch.len() as u32) < MAX_LIMIT {
            break;
        }
        page = match page {
            EntryPage::After { .. } => EntryPage::After {
                after_seq: last.seq,
            },
            EntryPage::Newest { .. } => EntryPage::Newest {
                before: Some((last.timestamp, last.seq)),
            },
        };
    }
    let data: Vec<Value> = rows
        .iter()
        .map(|e| {
            let doc = resource_json(e);
            let picked: Map<String, Value> = if fields.iter().any(|f| f == "*") {
                doc
            } else {
                fields
                    .iter()
                    .map(|f| (f.clone(), doc.get(f).cloned().unwrap_or(Value::Null)))
                    .collect()
            };
            Value::Object(picked)
        })
        .collect();
    let body = json!({ "data": data });
    release_log_read(
        state,
        audit,
        params,
        rows.iter().map(|e| e.seq),
        Payload::json(&body),
    )
    .await
}

/// `GET /api/resource/Access Log/{name}`.
pub async fn resource_get(
    state: &AppState,
    audit: &Audit,
    name: &str,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(state, audit, Activity::Read).await?;
    let seq: u64 = name
        .parse()
        .map_err(|_| WebError::NotFound(format!("Access Log {name} not found")))?;
    let entry = state
        .store
        .entry(seq)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("Access Log {name} not found")))?;
    let body = json!({ "data": resource_json(&entry) });
    release_entry_read(state, audit, seq, Payload::json(&body)).await
}
