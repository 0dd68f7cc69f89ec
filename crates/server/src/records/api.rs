//! ERPNext's document REST API: `GET /api/resource/{DocType}` (list, with `filters`,
//! `fields`, `order_by`, `limit_start`, `limit_page_length`), `GET …/{name}` and
//! `POST /api/resource/{DocType}`. Answers are `{"data": …}`; permissions are checked on
//! every call, by the caller's roles.

use std::collections::BTreeMap;

use accesslog_core::doctype::{Action, DocType, FieldType};
use accesslog_core::entry::{Activity, CanonicalJson, Event};
use accesslog_core::filters::{parse_fields, parse_filters, parse_order_by};
use accesslog_store::{ChildRows, Document, ListQuery, SqlValue};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::aliases::ApiVersion;
use crate::api::FormOrJson;
use crate::audit::{Audit, AuditedResponse, Payload, Read};
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::state::AppState;
use accesslog_app::naming::new_name;
use accesslog_app::values::{ValueError, document_values};

/// At most this many rows per list call (ERPNext's default page is 20).
const MAX_PAGE: u32 = 10_000;

/// The document type named in the path, if the caller may `action` on it.
pub(crate) fn doctype_for<'a>(
    state: &'a AppState,
    name: &str,
    who: &CurrentUser,
    action: Action,
) -> Result<&'a DocType, WebError> {
    let doctype = state
        .doctypes
        .get(name)
        .filter(|d| !d.is_child)
        .ok_or_else(|| WebError::NotFound(format!("DocType {name} not found")))?;
    if !doctype.allows(&who.0.user.roles, action) {
        return Err(WebError::Forbidden(format!(
            "You do not have permission to {} {} (ask a System Manager for a role that may)",
            action.as_str(),
            doctype.name
        )));
    }
    Ok(doctype)
}

pub fn to_json(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Int(i) => json!(i),
        SqlValue::Float(f) => json!(f),
        SqlValue::Text(t) => json!(t),
    }
}

fn row_json(row: &BTreeMap<String, SqlValue>) -> Map<String, Value> {
    row.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()
}

/// Parses a query parameter that holds JSON (as Frappe clients send `filters` and `fields`).
fn json_param(name: &str, raw: Option<&str>) -> Result<Value, WebError> {
    match raw {
        None | Some("") => Ok(Value::Null),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| WebError::BadRequest(format!("`{name}` is not valid JSON: {e}"))),
    }
}

/// `GET /api/resource/{DocType}`.
pub async fn list(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    Path(doctype): Path<String>,
    Query(raw): Query<std::collections::BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    if doctype == "Access Log" {
        return crate::review::api::resource_list(&state, &audit, &raw).await;
    }
    read_list(
        &state,
        &who,
        &audit,
        &doctype,
        &raw,
        |rows| json!({ "data": rows }),
    )
    .await
}

/// A list read of `doctype` with Frappe's parameters (`filters`, `fields`, `order_by`,
/// `limit_start`, `limit_page_length` or `limit`), answered as `shape` makes the rows into
/// a body (`{"data": rows}` for REST, `{"message": rows}` for `frappe.client.get_list`),
/// recorded as a read of the rows returned.
pub(crate) async fn read_list(
    state: &AppState,
    who: &CurrentUser,
    audit: &Audit,
    doctype: &str,
    raw: &BTreeMap<String, String>,
    shape: impl FnOnce(Vec<Value>) -> Value,
) -> Result<AuditedResponse, WebError> {
    let get = |k: &str| raw.get(k).map(String::as_str);
    let number = |name, raw, default| {
        crate::request::whole_number_in(name, raw, default, crate::request::MAX_OFFSET)
    };
    let mut event = Event::read(&audit.actor(), doctype, None);
    let doctype = doctype_for(state, doctype, who, Action::Read);
    let doctype = audit.or_deny(state, &event, doctype).await?;
    let children: Vec<(&str, &DocType)> = state.doctypes.child_tables(doctype);
    let child_types: Vec<&DocType> = children.iter().map(|(_, d)| *d).collect();
    let bad = |e: accesslog_core::filters::FilterError| WebError::BadRequest(e.to_string());
    let filters = json_param("filters", get("filters"))?;
    let conditions = parse_filters(&filters, doctype, &child_types).map_err(bad)?;
    let or_filters = json_param("or_filters", get("or_filters"))?;
    let any_of = parse_filters(&or_filters, doctype, &child_types).map_err(bad)?;
    let fields = parse_fields(&json_param("fields", get("fields"))?, doctype).map_err(bad)?;
    let order_by = parse_order_by(get("order_by").unwrap_or(""), doctype).map_err(bad)?;
    let offset = number("limit_start", get("limit_start"), 0)?;
    // `limit` is Frappe's older name for `limit_page_length`. Frappe treats 0 as "all";
    // we cap it so one call cannot read a million rows.
    let page = get("limit_page_length").or(get("limit"));
    let limit = match number("limit_page_length", page, 20)? {
        0 => MAX_PAGE,
        n => u32::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
    };
    let query = ListQuery {
        any_of: &any_of,
        conditions: &conditions,
        fields: &fields,
        order_by: &order_by,
        limit,
        offset,
        after: None,
    };
    let rows = state
        .store
        .list_documents(doctype, &children, &query)
        .await?;
    let names: Vec<String> = rows
        .iter()
        .filter_map(|r| match r.get("name") {
            Some(SqlValue::Text(n)) => Some(n.clone()),
            _ => None,
        })
        .collect();
    let body = shape(rows.iter().map(|r| Value::Object(row_json(r))).collect());
    let recorded_filters = match or_filters {
        Value::Null => filters,
        or_filters => json!({ "filters": filters, "or_filters": or_filters }),
    };
    let request = ListRead {
        filters: recorded_filters,
        order_by: get("order_by").map(str::to_owned),
        start: offset,
        limit: u64::from(limit),
    };
    request.describe(&mut event, &fields, &names, state);
    audit
        .release_read(state, event, Payload::json(&body), Read::List(doctype))
        .await
}

/// What a list read asked for, as its entry records it.
pub struct ListRead {
    pub filters: Value,
    pub order_by: Option<String>,
    pub start: u64,
    pub limit: u64,
}

impl ListRead {
    /// Fills `event` with the request, the fields, the row count and the names returned
    /// (all of them up to `log.read_names_max`, else the first and the last).
    pub fn describe(
        self,
        event: &mut Event,
        fields: &[String],
        names: &[String],
        state: &AppState,
    ) {
        let mut recorded = Map::new();
        if !self.filters.is_null() {
            recorded.insert("filters".into(), self.filters);
        }
        if let Some(o) = self.order_by.filter(|o| !o.trim().is_empty()) {
            recorded.insert("order_by".into(), json!(o));
        }
        recorded.insert("start".into(), json!(self.start));
        recorded.insert("limit".into(), json!(self.limit));
        returned_names(&mut recorded, names, state.settings.log.read_names_max);
        event.filters = Some(CanonicalJson::from_value(&Value::Object(recorded)));
        event.columns = Some(CanonicalJson::from_value(&json!(fields)));
        event.row_count = Some(names.len() as u64);
    }
}

pub use accesslog_app::gate::returned_names;

fn document_json(doctype: &DocType, doc: &Document) -> Value {
    let mut out = row_json(&doc.values);
    out.insert("name".to_owned(), json!(doc.name));
    out.insert("doctype".to_owned(), json!(doctype.name));
    for (field, rows) in &doc.children {
        out.insert(
            field.clone(),
            Value::Array(rows.iter().map(|r| Value::Object(row_json(r))).collect()),
        );
    }
    Value::Object(out)
}

/// `GET /api/resource/{DocType}/{name}`.
pub async fn get(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    Path((doctype, name)): Path<(String, String)>,
) -> Result<AuditedResponse, WebError> {
    if doctype == "Access Log" {
        return crate::review::api::resource_get(&state, &audit, &name).await;
    }
    read_document(&state, &who, &audit, &doctype, &name, ApiVersion::V2).await
}

/// A read of one document, recorded.
pub(crate) async fn read_document(
    state: &AppState,
    who: &CurrentUser,
    audit: &Audit,
    doctype: &str,
    name: &str,
    api: ApiVersion,
) -> Result<AuditedResponse, WebError> {
    let event = Event::read(&audit.actor(), doctype, Some(name));
    let doctype = doctype_for(state, doctype, who, Action::Read);
    let doctype = audit.or_deny(state, &event, doctype).await?;
    let children: Vec<(&str, &DocType)> = state.doctypes.child_tables(doctype);
    let doc = state
        .store
        .get_document(doctype, &children, name)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("{} {name} not found", doctype.name)))?;
    release_document(state, audit, doctype, &doc, api).await
}

/// Releases `doc` under the key of `api` (REST answers under `data`, as v2), recorded as a
/// read of it.
pub(crate) async fn release_document(
    state: &AppState,
    audit: &Audit,
    doctype: &DocType,
    doc: &Document,
    api: ApiVersion,
) -> Result<AuditedResponse, WebError> {
    let mut event = audit.event(Activity::Read);
    event.export_from = Some(doctype.name.clone());
    event.reference_document = Some(doc.name.clone());
    event.row_count = Some(1);
    let body = api.wrap(document_json(doctype, doc));
    audit
        .release_read(state, event, Payload::json(&body), Read::Document(doctype))
        .await
}

/// The body of a create: the document itself, or Frappe's form field `data` holding it.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum CreateBody {
    Form { data: String },
    Json(Map<String, Value>),
}

/// `POST /api/resource/{DocType}`.
pub async fn create(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    Path(doctype): Path<String>,
    FormOrJson(body): FormOrJson<CreateBody>,
) -> Result<AuditedResponse, WebError> {
    let body = body_object(body)?;
    let (doctype, stored) = create_document(&state, &who, &doctype, &body).await?;
    release_document(&state, &audit, doctype, &stored, ApiVersion::V2).await
}

/// Creates a document of `doctype` from `body` (checked, linked documents existing,
/// named) and returns it as stored.
pub(crate) async fn create_document<'a>(
    state: &'a AppState,
    who: &CurrentUser,
    doctype: &str,
    body: &Map<String, Value>,
) -> Result<(&'a DocType, Document), WebError> {
    let doctype = doctype_for(state, doctype, who, Action::Create)?;
    let bad = |e: ValueError| WebError::BadRequest(e.to_string());
    let (mut values, tables) = document_values(doctype, body, true).map_err(bad)?;
    let children = child_rows(state, doctype, tables)?;
    check_links(state, doctype, &values, &children).await?;
    let given = body.get("name").and_then(Value::as_str);
    let name = new_name(&*state.store, doctype, &values, given).await?;
    let now = stamp(state);
    for (k, v) in [
        ("owner", who.0.user.email.clone()),
        ("modified_by", who.0.user.email.clone()),
        ("creation", now.clone()),
        ("modified", now),
    ] {
        values.insert(k.to_owned(), SqlValue::Text(v));
    }
    let doc = Document {
        name: name.clone(),
        values,
        children: BTreeMap::new(),
    };
    state
        .store
        .insert_document(doctype, &doc, &children)
        .await?;
    let children_of: Vec<(&str, &DocType)> = state.doctypes.child_tables(doctype);
    let stored = state
        .store
        .get_document(doctype, &children_of, &name)
        .await?
        .unwrap_or(doc);
    Ok((doctype, stored))
}

/// Checks that every link of a document and of its table rows names a document that
/// exists, as ERPNext does (so a link is a reference, never a place to keep data): 400
/// naming the field and the missing document otherwise.
async fn check_links(
    state: &AppState,
    doctype: &DocType,
    values: &BTreeMap<String, SqlValue>,
    children: &[ChildRows<'_>],
) -> Result<(), WebError> {
    let mut checked: std::collections::BTreeSet<(String, String)> = Default::default();
    // (type, where, values): the document, then each table row.
    let mut rows: Vec<(&DocType, String, &BTreeMap<String, SqlValue>)> =
        vec![(doctype, String::new(), values)];
    for c in children {
        for (i, r) in c.rows.iter().enumerate() {
            rows.push((c.doctype, format!("{} row {}: ", c.fieldname, i + 1), r));
        }
    }
    for (dt, at, values) in rows {
        for field in dt.fields.iter().filter(|f| f.fieldtype == FieldType::Link) {
            let (Some(SqlValue::Text(name)), Some(target)) =
                (values.get(&field.fieldname), field.options.as_deref())
            else {
                continue;
            };
            if !checked.insert((target.to_owned(), name.clone())) {
                continue;
            }
            let Some(target_type) = state.doctypes.get(target) else {
                continue;
            };
            if state
                .store
                .get_document(target_type, &[], name)
                .await?
                .is_none()
            {
                return Err(WebError::BadRequest(format!(
                    "{at}`{}` links to {target} {name:?}, which does not exist (create it first, or fix the name)",
                    field.fieldname
                )));
            }
        }
    }
    Ok(())
}

/// Checks the JSON rows of a document's tables against their child types.
fn child_rows<'a>(
    state: &'a AppState,
    doctype: &'a DocType,
    tables: Vec<(&str, &Value)>,
) -> Result<Vec<ChildRows<'a>>, WebError> {
    let mut children = Vec::new();
    for (fieldname, rows) in tables {
        let (field, child) = state
            .doctypes
            .children_of(doctype)
            .find(|(f, _)| f.fieldname == fieldname)
            .ok_or_else(|| {
                WebError::BadRequest(format!("{} has no table {fieldname}", doctype.name))
            })?;
        let Value::Array(rows) = rows else {
            return Err(WebError::BadRequest(format!(
                "{fieldname} must be a list of rows"
            )));
        };
        let mut checked = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let Value::Object(row) = row else {
                return Err(WebError::BadRequest(format!(
                    "{fieldname} row {}: must be an object",
                    i + 1
                )));
            };
            let (values, _) = document_values(child, row, true)
                .map_err(|e| WebError::BadRequest(format!("{fieldname} row {}: {e}", i + 1)))?;
            checked.push(values);
        }
        children.push(ChildRows {
            fieldname: field.fieldname.as_str(),
            doctype: child,
            rows: checked,
        });
    }
    Ok(children)
}

pub(crate) fn body_object(body: CreateBody) -> Result<Map<String, Value>, WebError> {
    match body {
        CreateBody::Json(map) => Ok(map),
        CreateBody::Form { data } => match serde_json::from_str(&data) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(WebError::BadRequest(
                "`data` must be a JSON object".to_owned(),
            )),
        },
    }
}

fn stamp(state: &AppState) -> String {
    state
        .clock
        .now()
        .to_rfc3339()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
}

/// `PUT /api/resource/{DocType}/{name}`: changes the given fields; a table given replaces
/// that table's rows.
pub async fn update(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    Path((doctype, name)): Path<(String, String)>,
    FormOrJson(body): FormOrJson<CreateBody>,
) -> Result<AuditedResponse, WebError> {
    let body = body_object(body)?;
    let (doctype, stored) = change_document(&state, &who, &doctype, &name, &body).await?;
    release_document(&state, &audit, doctype, &stored, ApiVersion::V2).await
}

/// Changes the fields of `doctype` `name` that `body` gives (a table given replaces that
/// table's rows) and returns the document as stored.
pub(crate) async fn change_document<'a>(
    state: &'a AppState,
    who: &CurrentUser,
    doctype: &str,
    name: &str,
    body: &Map<String, Value>,
) -> Result<(&'a DocType, Document), WebError> {
    let doctype = doctype_for(state, doctype, who, Action::Write)?;
    let bad = |e: ValueError| WebError::BadRequest(e.to_string());
    let (mut values, tables) = document_values(doctype, body, false).map_err(bad)?;
    let children = child_rows(state, doctype, tables)?;
    check_links(state, doctype, &values, &children).await?;
    values.insert("modified".to_owned(), SqlValue::Text(stamp(state)));
    values.insert(
        "modified_by".to_owned(),
        SqlValue::Text(who.0.user.email.clone()),
    );
    state
        .store
        .update_document(doctype, name, &values, &children)
        .await?;
    let children_of: Vec<(&str, &DocType)> = state.doctypes.child_tables(doctype);
    let stored = state
        .store
        .get_document(doctype, &children_of, name)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("{} {name} not found", doctype.name)))?;
    Ok((doctype, stored))
}

/// Deletes `doctype` `name` and its table rows, if `who` may delete documents of the type.
/// Not an egress: nothing of the document is answered.
pub(crate) async fn remove_document(
    state: &AppState,
    who: &CurrentUser,
    doctype: &str,
    name: &str,
) -> Result<(), WebError> {
    let doctype = doctype_for(state, doctype, who, Action::Delete)?;
    let children = state.doctypes.child_tables(doctype);
    state
        .store
        .delete_document(doctype, &children, name)
        .await?;
    tracing::info!(user = %who.0.user.email, doctype = %doctype.name, name, "document deleted");
    Ok(())
}

/// `DELETE /api/resource/{DocType}/{name}`: 202 `{"data": "ok"}`, as ERPNext answers.
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
