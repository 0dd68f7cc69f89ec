//! ERPNext's `frappe.client` methods at `/api/method/frappe.client.<method>`, answered in
//! ERPNext's shape, `{"message": …}` (or `{"data": …}` when called as Frappe v15's
//! `/api/v2/method/…`: see [`ApiVersion`]). Parameters come from the query string, a form or a
//! JSON body, as Frappe reads them; JSON-valued ones (`doc`, `filters`, `fields`) may be
//! JSON text or JSON.
//!
//! Every method that answers with record data (the reads, and the writes, which answer
//! with the document written) is recorded as a `read` of what it returned. `delete`
//! answers nothing and is not an egress. Two methods are refused with a reason:
//! `rename_doc` (a document's name is what the Access Log's entries refer to; renaming would
//! cut its history off) and `get_single_value` (this server has no Single document types).

use std::collections::BTreeMap;

use accesslog_core::doctype::{Action, DocType, STANDARD_COLUMNS};
use accesslog_core::entry::{Activity, CanonicalJson};
use accesslog_core::filters::parse_filters;
use accesslog_store::{ListQuery, SqlValue};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::aliases::ApiVersion;
use crate::audit::{Audit, AuditedResponse, Payload, Read};
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::records::api::{
    change_document, create_document, doctype_for, read_document, read_list, release_document,
};
use crate::request::{FormDict, param, required};
use crate::state::AppState;

/// `insert_many` takes at most this many documents, as ERPNext does.
const INSERT_MANY_MAX: usize = 200;

type Params = BTreeMap<String, String>;

/// The parameter `name` as a JSON object (given as JSON text, or as JSON in a JSON body).
fn object_param(p: &Params, name: &str) -> Result<Map<String, Value>, WebError> {
    match serde_json::from_str::<Value>(required(p, name)?) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(WebError::BadRequest(format!(
            "`{name}` must be a JSON object"
        ))),
    }
}

/// The parameter `docs`: a JSON list of at most [`INSERT_MANY_MAX`] documents, for `method`.
fn docs_param(p: &Params, method: &str) -> Result<Vec<Value>, WebError> {
    let docs = match serde_json::from_str::<Value>(required(p, "docs")?) {
        Ok(Value::Array(docs)) => docs,
        _ => {
            return Err(WebError::BadRequest(
                "`docs` must be a JSON list of documents".to_owned(),
            ));
        }
    };
    if docs.len() > INSERT_MANY_MAX {
        return Err(WebError::BadRequest(format!(
            "`docs` holds {} documents; {method} takes at most {INSERT_MANY_MAX}",
            docs.len()
        )));
    }
    Ok(docs)
}

/// A document to save, split into its type, its name, and the fields to change (the
/// standard ones, which the server keeps, left out).
fn saved_fields(
    mut doc: Map<String, Value>,
) -> Result<(String, String, Map<String, Value>), WebError> {
    let doctype = doctype_of(&doc)?;
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            WebError::BadRequest("the document has no `name`: use insert for a new one".to_owned())
        })?;
    // The standard columns every table has, and those a document never sets itself.
    for key in STANDARD_COLUMNS[..5]
        .iter()
        .chain(&["doctype", "docstatus", "idx"])
    {
        doc.remove(*key);
    }
    Ok((doctype, name, doc))
}

/// Records, on a write's event, how many documents it answered with and their names.
fn record_names(state: &AppState, event: &mut accesslog_core::entry::Event, names: &[String]) {
    event.row_count = Some(names.len() as u64);
    let mut recorded = Map::new();
    crate::records::api::returned_names(&mut recorded, names, state.settings.log.read_names_max);
    event.filters = Some(CanonicalJson::from_value(&Value::Object(recorded)));
}

/// `doc["doctype"]`.
fn doctype_of(doc: &Map<String, Value>) -> Result<String, WebError> {
    doc.get("doctype")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| WebError::BadRequest("the document has no `doctype`".to_owned()))
}

/// `frappe.client.get_list`: `{"message": [rows]}`.
pub async fn get_list(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let doctype = required(&p, "doctype")?.to_owned();
    match param(&p, "group_by") {
        Some(group_by) => grouped_list(&state, &who, &audit, api, &doctype, &p, group_by).await,
        None => {
            read_list(&state, &who, &audit, &doctype, &p, |rows| {
                api.wrap(json!(rows))
            })
            .await
        }
    }
}

/// `get_list` with `group_by` (see [`super::grouped`]): recorded as a read of the groups,
/// with the filters, the grouping and the fields.
async fn grouped_list(
    state: &AppState,
    who: &CurrentUser,
    audit: &Audit,
    api: ApiVersion,
    name: &str,
    p: &Params,
    group_by: &str,
) -> Result<AuditedResponse, WebError> {
    let mut event = audit.event(Activity::Read);
    event.export_from = Some(name.to_owned());
    let doctype = doctype_for(state, name, who, Action::Read);
    let doctype = audit.or_deny(state, &event, doctype).await?;
    let children = state.doctypes.child_tables(doctype);
    let child_types: Vec<&DocType> = children.iter().map(|(_, d)| *d).collect();
    let bad = |e: accesslog_core::filters::FilterError| WebError::BadRequest(e.to_string());
    let filters = json_value(p, "filters")?;
    let or_filters = json_value(p, "or_filters")?;
    let conditions = parse_filters(&filters, doctype, &child_types).map_err(bad)?;
    let any_of = parse_filters(&or_filters, doctype, &child_types).map_err(bad)?;
    let fields = json_value(p, "fields")?;
    let (grouped, selected) = super::grouped::selected(doctype, &fields, group_by)?;
    let descending = match param(p, "order_by") {
        None => false,
        Some(o) => {
            let lower = o.to_ascii_lowercase();
            let (col, dir) = lower.rsplit_once(' ').unwrap_or((lower.as_str(), "asc"));
            if format!("t.{}", col.trim()) != grouped || !["asc", "desc"].contains(&dir) {
                return Err(WebError::BadRequest(format!(
                    "a grouped list is ordered by its grouped column only (`{group_by} asc` or `{group_by} desc`), not `{o}`"
                )));
            }
            dir == "desc"
        }
    };
    let rows = super::grouped::rows(
        state,
        doctype,
        &conditions,
        &any_of,
        &grouped,
        &selected,
        descending,
    )
    .await?;
    event.filters = recorded_filters(filters, or_filters, ("group_by", json!(group_by)));
    event.columns = Some(CanonicalJson::from_value(&fields));
    event.row_count = Some(rows.len() as u64);
    let body = api.wrap(json!(rows));
    audit
        .release_read(state, event, Payload::json(&body), Read::List(doctype))
        .await
}

/// `frappe.client.get_count`: `{"message": n}`.
pub async fn get_count(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let name = required(&p, "doctype")?.to_owned();
    let mut event = audit.event(Activity::Read);
    event.export_from = Some(name.clone());
    let doctype = doctype_for(&state, &name, &who, Action::Read);
    let doctype = audit.or_deny(&state, &event, doctype).await?;
    let children = state.doctypes.child_tables(doctype);
    let child_types: Vec<&DocType> = children.iter().map(|(_, d)| *d).collect();
    let filters = json_value(&p, "filters")?;
    let conditions = parse_filters(&filters, doctype, &child_types)
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let or_filters = json_value(&p, "or_filters")?;
    let any_of = parse_filters(&or_filters, doctype, &child_types)
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let fields = vec!["name".to_owned()];
    let list = ListQuery {
        any_of: &any_of,
        conditions: &conditions,
        fields: &fields,
        order_by: &[],
        limit: u32::MAX,
        offset: 0,
        after: None,
    };
    let dialect = state.dialect();
    let (sql, binds) = accesslog_store::records::list_sql(doctype, &children, &list, dialect);
    let counted = format!("SELECT COUNT(*) FROM ({sql}) AS counted");
    let mut count = 0i64;
    state
        .store
        .query_each_row(&counted, &binds, &mut |row: &[SqlValue]| {
            if let Some(SqlValue::Int(n)) = row.first() {
                count = *n;
            }
            std::ops::ControlFlow::Continue(())
        })
        .await?;
    event.filters = recorded_filters(filters, or_filters, ("count", json!(count)));
    event.row_count = Some(0);
    audit
        .release_read(
            &state,
            event,
            Payload::json(&api.wrap(json!(count))),
            Read::List(doctype),
        )
        .await
}

/// What a list's event records: `filters` and `or_filters` (those given), and `extra`.
fn recorded_filters(
    filters: Value,
    or_filters: Value,
    extra: (&str, Value),
) -> Option<CanonicalJson> {
    let given = [("filters", filters), ("or_filters", or_filters)];
    let recorded: Map<String, Value> = given
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .chain([extra])
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    Some(CanonicalJson::from_value(&Value::Object(recorded)))
}

/// A parameter holding JSON (absent: `null`).
pub(crate) fn json_value(p: &Params, name: &str) -> Result<Value, WebError> {
    match param(p, name) {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| WebError::BadRequest(format!("`{name}` is not valid JSON: {e}"))),
    }
}

/// `frappe.client.get`: `{"message": doc}` (by `name`).
pub async fn get(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let doctype = required(&p, "doctype")?.to_owned();
    let name = match param(&p, "name") {
        Some(n) => n.to_owned(),
        None => {
            return Err(WebError::BadRequest(
                "`name` is missing (this server has no Single document types, and does not look documents up by `filters` here: use get_list)".to_owned(),
            ));
        }
    };
    read_document(&state, &who, &audit, &doctype, &name, api).await
}

/// `frappe.client.get_value`: `{"message": {field: value, …}}` of the first document that
/// `filters` (a name, or conditions) matches; `{}` when none does.
pub async fn get_value(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(mut p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let doctype = required(&p, "doctype")?.to_owned();
    let field = required(&p, "fieldname")?.to_owned();
    let fields = match serde_json::from_str::<Value>(&field) {
        Ok(Value::Array(list)) => Value::Array(list),
        _ => json!([field]),
    };
    // A plain name, as ERPNext accepts, is the condition on `name`.
    let filters = match p.get("filters").map(|s| s.trim().to_owned()) {
        Some(f)
            if serde_json::from_str::<Value>(&f).is_ok_and(|v| v.is_object() || v.is_array()) =>
        {
            f
        }
        Some(name) if !name.is_empty() => json!({ "name": name }).to_string(),
        _ => "{}".to_owned(),
    };
    p.insert("filters".into(), filters);
    p.insert("fields".into(), fields.to_string());
    p.insert("limit_page_length".into(), "1".into());
    p.remove("limit");
    p.remove("limit_start");
    read_list(&state, &who, &audit, &doctype, &p, |rows| {
        api.wrap(rows.into_iter().next().unwrap_or_else(|| json!({})))
    })
    .await
}

/// `frappe.client.get_single_value`: refused; there are no Single document types here.
pub async fn get_single_value(
    State(state): State<AppState>,
    FormDict(p): FormDict,
) -> Result<Response, WebError> {
    let doctype = required(&p, "doctype")?;
    if state.doctypes.get(doctype).is_none() {
        return Err(WebError::NotFound(format!("DocType {doctype} not found")));
    }
    Err(WebError::BadRequest(format!(
        "{doctype} is not a Single document type (this server has none); read it with get_list or get"
    )))
}

/// `frappe.client.insert`: `{"message": doc}`.
pub async fn insert(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let doc = object_param(&p, "doc")?;
    let (doctype, stored) = create_document(&state, &who, &doctype_of(&doc)?, &doc).await?;
    release_document(&state, &audit, doctype, &stored, api).await
}

/// `frappe.client.insert_many`: `{"message": [names]}`, at most 200 documents, each
/// checked and created in turn (as ERPNext does: those before a failure stay).
pub async fn insert_many(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let docs = docs_param(&p, "insert_many")?;
    let mut names = Vec::with_capacity(docs.len());
    let mut doctypes = std::collections::BTreeSet::new();
    for (i, doc) in docs.iter().enumerate() {
        let Value::Object(doc) = doc else {
            return Err(WebError::BadRequest(format!("docs[{i}] is not a document")));
        };
        let (doctype, stored) = create_document(&state, &who, &doctype_of(doc)?, doc).await?;
        doctypes.insert(doctype.name.clone());
        names.push(stored.name);
    }
    let mut event = audit.event(Activity::Read);
    event.export_from = Some(doctypes.into_iter().collect::<Vec<_>>().join(", "));
    record_names(&state, &mut event, &names);
    audit
        .release_read(
            &state,
            event,
            Payload::json(&api.wrap(json!(names))),
            Read::Report,
        )
        .await
}

/// `frappe.client.save`: the document's fields as given (`doc` with `doctype` and `name`);
/// `{"message": doc}`.
pub async fn save(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let (doctype, name, doc) = saved_fields(object_param(&p, "doc")?)?;
    let (doctype, stored) = change_document(&state, &who, &doctype, &name, &doc).await?;
    release_document(&state, &audit, doctype, &stored, api).await
}

/// `frappe.client.bulk_update`: each of `docs` (at most 200, each with `doctype` and
/// `name`) saved in turn; `{"message": {"failed_docs": [{doc, exc}]}}` as ERPNext answers.
/// Recorded as a read of the documents written (their names).
pub async fn bulk_update(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let docs = docs_param(&p, "bulk_update")?;
    // Permission first, for every type named: a caller who may not write one of them is
    // refused (and the refusal recorded) before anything is changed.
    let mut event = audit.event(Activity::Read);
    let named: std::collections::BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| d.get("doctype").and_then(Value::as_str))
        .collect();
    for doctype in &named {
        let allowed = state
            .doctypes
            .get(doctype)
            .is_some_and(|d| !d.is_child && d.allows(&who.0.user.roles, Action::Write));
        if !allowed && state.doctypes.get(doctype).is_some() {
            event.export_from = Some((*doctype).to_owned());
            let e = WebError::Forbidden(format!("You do not have permission to write {doctype}"));
            return Err(audit.deny(&state, event, e).await);
        }
    }
    event.export_from = Some(named.iter().copied().collect::<Vec<_>>().join(", "));
    let (mut saved, mut failed) = (Vec::new(), Vec::new());
    for doc in docs {
        let outcome = async {
            let Value::Object(fields) = doc.clone() else {
                return Err(WebError::BadRequest("not a document".to_owned()));
            };
            let (doctype, name, fields) = saved_fields(fields)?;
            change_document(&state, &who, &doctype, &name, &fields)
                .await
                .map(|(_, d)| d.name)
        }
        .await;
        match outcome {
            Ok(name) => saved.push(name),
            Err(e) => failed.push(json!({ "doc": doc, "exc": e.to_string() })),
        }
    }
    record_names(&state, &mut event, &saved);
    let body = api.wrap(json!({ "failed_docs": failed }));
    audit
        .release_read(&state, event, Payload::json(&body), Read::Report)
        .await
}

/// `frappe.client.set_value`: `fieldname` and `value`, or `fieldname` as a JSON object of
/// fields; `{"message": doc}`.
pub async fn set_value(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let doctype = required(&p, "doctype")?.to_owned();
    let name = required(&p, "name")?.to_owned();
    let field = required(&p, "fieldname")?;
    let values = match serde_json::from_str::<Value>(field) {
        Ok(Value::Object(map)) => map,
        _ => {
            let value = p.get("value").cloned().unwrap_or_default();
            // A value sent in a JSON body keeps its JSON type; from a form it is text.
            let value = serde_json::from_str::<Value>(&value)
                .ok()
                .filter(|v| !v.is_object())
                .unwrap_or(Value::String(value));
            let mut map = Map::new();
            map.insert(field.to_owned(), value);
            map
        }
    };
    let (doctype, stored) = change_document(&state, &who, &doctype, &name, &values).await?;
    release_document(&state, &audit, doctype, &stored, api).await
}

/// `frappe.client.rename_doc`: refused, with why.
pub async fn rename_doc() -> WebError {
    WebError::BadRequest(
        "Renaming documents is not supported: the Access Log's entries refer to documents by name, and a rename would cut a document off from its history".to_owned(),
    )
}

/// `frappe.client.delete` (`doctype`, `name`): `{}` once deleted. Needs `delete` on the
/// type. Answers no record data.
pub async fn delete(
    State(state): State<AppState>,
    who: CurrentUser,
    FormDict(p): FormDict,
) -> Result<Response, WebError> {
    let doctype = required(&p, "doctype")?;
    let name = required(&p, "name")?;
    crate::records::api::remove_document(&state, &who, doctype, name).await?;
    Ok(axum::Json(json!({})).into_response())
}
