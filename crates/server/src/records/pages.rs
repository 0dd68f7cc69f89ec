//! The records' web pages: a list view per document type (filters, sort, paging) and a
//! read-only form view with child tables and attachments. URLs follow ERPNext's desk:
//! `/app/sales-invoice` and `/app/sales-invoice/SINV-00001`.

use std::collections::BTreeMap;

use accesslog_core::doctype::{Action, DocType, FieldType};
use accesslog_core::entry::Activity;
use accesslog_core::filters::{Condition, Op, OrderBy, Value};
use accesslog_store::{ListQuery, SqlValue};
use askama::Template;
use axum::extract::{Path, Query, State};

use crate::audit::{Audit, AuditedResponse, Payload, Read};
use crate::auth::PageUser;
use crate::error::WebError;
use crate::pages::{Choice, LabelledValue, Layout, render};
use crate::percent::percent;
use crate::state::AppState;

/// Rows per page of a list view.
const PAGE: u32 = 50;

/// `Sales Invoice` → `sales-invoice`, as ERPNext's desk URLs.
pub fn slug(doctype: &str) -> String {
    doctype.to_lowercase().replace(' ', "-")
}

fn doctype_by_slug<'a>(
    state: &'a AppState,
    slug_: &str,
    who: &PageUser,
) -> Result<&'a DocType, WebError> {
    let doctype = state
        .doctypes
        .iter()
        .find(|d| !d.is_child && slug(&d.name) == slug_)
        .ok_or_else(|| WebError::NotFound(format!("There is no document type at /app/{slug_}.")))?;
    if !doctype.allows(&who.0.user.roles, Action::Read) {
        return Err(WebError::Forbidden(format!(
            "You do not have permission to read {}.",
            doctype.name
        )));
    }
    Ok(doctype)
}

/// The type at `/app/{slug_}` if the user may read it (its name goes into `event`); a
/// refusal is recorded with `event`.
async fn readable<'a>(
    state: &'a AppState,
    audit: &Audit,
    who: &PageUser,
    slug_: &str,
    event: &mut accesslog_core::entry::Event,
) -> Result<&'a DocType, WebError> {
    match doctype_by_slug(state, slug_, who) {
        Ok(d) => {
            event.export_from = Some(d.name.clone());
            Ok(d)
        }
        Err(e) => {
            event.export_from = Some(slug_.to_owned());
            Err(audit.deny(state, event.clone(), e).await)
        }
    }
}

pub fn cell(v: &SqlValue, fieldtype: Option<FieldType>) -> String {
    match (v, fieldtype) {
        (SqlValue::Null, _) => String::new(),
        (SqlValue::Float(f), Some(FieldType::Currency)) => {
            accesslog_print::sandbox::group_thousands(*f, 2)
        }
        (SqlValue::Int(i), Some(FieldType::Currency)) => {
            accesslog_print::sandbox::group_thousands(*i as f64, 2)
        }
        (SqlValue::Float(f), _) => f.to_string(),
        (SqlValue::Int(i), Some(FieldType::Check)) => if *i != 0 { "Yes" } else { "No" }.to_owned(),
        (SqlValue::Int(i), _) => i.to_string(),
        (SqlValue::Text(t), _) => t.clone(),
    }
}

struct FilterInput {
    fieldname: String,
    label: String,
    value: String,
}

struct ListColumn {
    label: String,
}

struct ListRow {
    name: String,
    link: String,
    cells: Vec<String>,
}

/// A list's export form: its filters and fields, as JSON the export endpoint takes.
struct ExportForm {
    filters_json: String,
    fields_json: String,
}

/// A field one may tick for an export; ticked at first if the list shows it.
struct ExportField {
    fieldname: String,
    label: String,
    ticked: bool,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    layout: Layout,
    doctype: String,
    base: String,
    filters: Vec<FilterInput>,
    /// The orders one may choose (`order_by` values).
    sorts: Vec<Choice>,
    order_by: String,
    columns: Vec<ListColumn>,
    rows: Vec<ListRow>,
    error: Option<String>,
    first: u64,
    last: u64,
    prev: Option<String>,
    next: Option<String>,
    /// For users who may export the type: this view as the export endpoint takes it.
    export: Option<ExportForm>,
    /// The fields one may choose to export.
    export_fields: Vec<ExportField>,
}

/// `GET /app/{doctype}`: filters are `?field=value` (a `%` in the value means "like").
pub async fn list(
    State(state): State<AppState>,
    who: PageUser,
    audit: Audit,
    Path(slug_): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    let mut event = audit.event(Activity::Read);
    let doctype = readable(&state, &audit, &who, &slug_, &mut event).await?;
    let shown: Vec<&accesslog_core::doctype::Field> = doctype.list_fields().collect();
    let filterable: Vec<&accesslog_core::doctype::Field> = doctype
        .fields
        .iter()
        .filter(|f| f.fieldtype.has_column() && f.fieldtype != FieldType::Text)
        .collect();

    let mut conditions = Vec::new();
    let mut filters = Vec::new();
    let mut export_filters: Vec<serde_json::Value> = Vec::new();
    for f in &filterable {
        let value = params
            .get(&f.fieldname)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        if !value.is_empty() {
            let like = value.contains('%');
            let typed = match f.fieldtype {
                FieldType::Int | FieldType::Check => value.parse().map(Value::Int).ok(),
                FieldType::Float | FieldType::Currency => value.parse().map(Value::Float).ok(),
                _ => Some(Value::Text(value.clone())),
            };
            // A value of the field's type without `%` is matched exactly; else by `like`.
            let (op, v) = match typed {
                Some(v) if !like => (Op::Eq, v),
                _ => (Op::Like, Value::Text(value.clone())),
            };
            conditions.push(Condition {
                doctype: doctype.name.clone(),
                field: f.fieldname.clone(),
                fieldtype: f.fieldtype,
                op,
                values: vec![v],
            });
            let op = if like { "like" } else { "=" };
            export_filters.push(serde_json::json!([f.fieldname, op, value]));
        }
        filters.push(FilterInput {
            fieldname: f.fieldname.clone(),
            label: f.label.clone(),
            value,
        });
    }

    let mut sorts = vec![
        Choice::new("modified desc", "Last modified"),
        Choice::new("name asc", "Name"),
    ];
    for f in &shown {
        for (dir, arrow) in [("asc", "↑"), ("desc", "↓")] {
            sorts.push(Choice::new(
                format!("{} {dir}", f.fieldname),
                format!("{} {arrow}", f.label),
            ));
        }
    }
    let order_by = params
        .get("order_by")
        .filter(|o| sorts.iter().any(|s| s.value == **o))
        .cloned()
        .unwrap_or_else(|| "modified desc".to_owned());
    let order: Vec<OrderBy> = order_by
        .split_once(' ')
        .map(|(f, d)| {
            let by = |field: &str| OrderBy {
                field: field.to_owned(),
                descending: d == "desc",
            };
            vec![by(f), by("name")]
        })
        .unwrap_or_default();

    let offset = crate::request::whole_number(&params, "start", 0, crate::request::MAX_OFFSET)?;
    // The default orders (by modification or name, never null) page by keyset, which stays
    // fast however deep; others page by offset.
    let sort_field = order.first().map(|o| o.field.clone()).unwrap_or_default();
    let keyset = sort_field == "modified" || sort_field == "name";
    let after: Option<Vec<SqlValue>> = match (keyset, params.get("after"), params.get("after_name"))
    {
        (true, Some(v), Some(n)) if sort_field == "modified" => {
            Some(vec![SqlValue::Text(v.clone()), SqlValue::Text(n.clone())])
        }
        (true, _, Some(n)) if sort_field == "name" => {
            Some(vec![SqlValue::Text(n.clone()), SqlValue::Text(n.clone())])
        }
        _ => None,
    };
    let mut fields = vec!["name".to_owned()];
    fields.extend(shown.iter().map(|f| f.fieldname.clone()));
    if keyset && !fields.iter().any(|f| f == "modified") {
        fields.push("modified".to_owned());
    }
    let children: Vec<(&str, &DocType)> = state.doctypes.child_tables(doctype);
    // One row more than a page tells whether there is a next page, without counting.
    let query = ListQuery {
        any_of: &[],
        conditions: &conditions,
        fields: &fields,
        order_by: &order,
        limit: PAGE + 1,
        offset: if after.is_some() { 0 } else { offset },
        after: after.as_deref(),
    };
    let mut found = state
        .store
        .list_documents(doctype, &children, &query)
        .await?;
    let more = found.len() > PAGE as usize;
    found.truncate(PAGE as usize);

    let rows = found
        .iter()
        .map(|r| {
            let name = cell(r.get("name").unwrap_or(&SqlValue::Null), None);
            ListRow {
                link: percent(&name),
                cells: shown
                    .iter()
                    .map(|f| {
                        cell(
                            r.get(&f.fieldname).unwrap_or(&SqlValue::Null),
                            Some(f.fieldtype),
                        )
                    })
                    .collect(),
                name,
            }
        })
        .collect::<Vec<_>>();
    let base = format!("/app/{}", slug(&doctype.name));
    let last_row = found.last().map(|r| {
        let text = |k: &str| match r.get(k) {
            Some(SqlValue::Text(t)) => t.clone(),
            _ => String::new(),
        };
        (text("modified"), text("name"))
    });
    let page_url = |start: u64, keyset_after: Option<&(String, String)>| {
        let mut q: Vec<String> = filters
            .iter()
            .filter(|f| !f.value.is_empty())
            .map(|f| format!("{}={}", f.fieldname, percent(&f.value)))
            .collect();
        q.push(format!("order_by={}", percent(&order_by)));
        match keyset_after {
            Some((modified, name)) => {
                q.push(format!("after={}", percent(modified)));
                q.push(format!("after_name={}", percent(name)));
            }
            None if start > 0 => q.push(format!("start={start}")),
            None => {}
        }
        format!("{base}?{}", q.join("&"))
    };
    // The filters as recorded: none when there are none.
    let recorded_filters = if export_filters.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::Array(export_filters.clone())
    };
    let export = doctype.allows(&who.0.user.roles, Action::Export).then(|| {
        let fields: Vec<&str> = std::iter::once("name")
            .chain(shown.iter().map(|f| f.fieldname.as_str()))
            .collect();
        ExportForm {
            filters_json: serde_json::Value::Array(export_filters).to_string(),
            fields_json: serde_json::json!(fields).to_string(),
        }
    });
    let export_fields = if export.is_some() {
        let field = |fieldname: &str, label: &str, ticked: bool| ExportField {
            fieldname: fieldname.to_owned(),
            label: label.to_owned(),
            ticked,
        };
        std::iter::once(field("name", "ID", true))
            .chain(
                doctype
                    .fields
                    .iter()
                    .filter(|f| f.fieldtype.has_column())
                    .map(|f| field(&f.fieldname, &f.label, f.in_list_view)),
            )
            .collect()
    } else {
        Vec::new()
    };
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let shown_fields = fields.clone();
    let page = ListPage {
        export,
        export_fields,
        layout: Layout::new(&state.settings.name, Some(&who.0)),
        doctype: doctype.name.clone(),
        first: if rows.is_empty() || after.is_some() {
            0
        } else {
            offset + 1
        },
        last: if after.is_some() {
            rows.len() as u64
        } else {
            offset + rows.len() as u64
        },
        // Keyset pages link back to the first page; offset pages to the previous one.
        prev: if after.is_some() {
            Some(page_url(0, None))
        } else {
            (offset > 0).then(|| page_url(offset.saturating_sub(u64::from(PAGE)), None))
        },
        next: more.then(|| {
            if keyset {
                page_url(0, last_row.as_ref())
            } else {
                page_url(offset + u64::from(PAGE), None)
            }
        }),
        columns: shown
            .iter()
            .map(|f| ListColumn {
                label: f.label.clone(),
            })
            .collect(),
        rows,
        base,
        filters,
        sorts,
        order_by: order_by.clone(),
        error: None,
    };
    let html = render(&page)?.0;
    let start = if after.is_some() { 0 } else { offset };
    crate::records::api::ListRead {
        filters: recorded_filters,
        order_by: Some(order_by),
        start,
        limit: u64::from(PAGE),
    }
    .describe(&mut event, &shown_fields, &names, &state);
    audit
        .release_read(&state, event, Payload::html(html), Read::List(doctype))
        .await
}

struct TableView {
    label: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// A file attached to a document, as its form lists it.
struct AttachmentLink {
    url: String,
    file_name: String,
    /// Its size, and whether it is private.
    about: String,
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormPage {
    layout: Layout,
    doctype: String,
    list_url: String,
    name: String,
    fields: Vec<LabelledValue>,
    tables: Vec<TableView>,
    attachments: Vec<AttachmentLink>,
    can_attach: bool,
    /// The Print menu, for users who may print this type.
    print: Option<crate::printing::PrintMenu>,
}

/// `GET /app/{doctype}/{name}`: the document, read-only.
pub async fn form(
    State(state): State<AppState>,
    who: PageUser,
    audit: Audit,
    Path((slug_, name)): Path<(String, String)>,
) -> Result<AuditedResponse, WebError> {
    let mut event = audit.event(Activity::Read);
    event.reference_document = Some(name.clone());
    let doctype = readable(&state, &audit, &who, &slug_, &mut event).await?;
    let children: Vec<(&str, &DocType)> = state.doctypes.child_tables(doctype);
    let doc = state
        .store
        .get_document(doctype, &children, &name)
        .await?
        .ok_or_else(|| {
            WebError::NotFound(format!(
                "{} {name} does not exist (any more).",
                doctype.name
            ))
        })?;
    let fields = doctype
        .fields
        .iter()
        .filter(|f| f.fieldtype.has_column())
        .map(|f| {
            LabelledValue::new(
                f.label.clone(),
                cell(
                    doc.values.get(&f.fieldname).unwrap_or(&SqlValue::Null),
                    Some(f.fieldtype),
                ),
            )
        })
        .collect();
    let tables = children
        .iter()
        .map(|(fieldname, child)| {
            let cols: Vec<&accesslog_core::doctype::Field> = child
                .fields
                .iter()
                .filter(|f| f.fieldtype.has_column())
                .collect();
            TableView {
                label: doctype
                    .field(fieldname)
                    .map_or_else(|| (*fieldname).to_owned(), |f| f.label.clone()),
                columns: cols.iter().map(|f| f.label.clone()).collect(),
                rows: doc
                    .children
                    .get(*fieldname)
                    .map(|rows| {
                        rows.iter()
                            .map(|r| {
                                cols.iter()
                                    .map(|f| {
                                        cell(
                                            r.get(&f.fieldname).unwrap_or(&SqlValue::Null),
                                            Some(f.fieldtype),
                                        )
                                    })
                                    .collect()
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let attachments = state
        .store
        .files_of(&doctype.name, &name)
        .await?
        .iter()
        .map(|f| AttachmentLink {
            url: f.file_url(),
            file_name: f.file_name.clone(),
            about: format!(
                "{} bytes{}",
                f.file_size,
                if f.is_private { ", private" } else { "" }
            ),
        })
        .collect();
    let print = doctype
        .allows(&who.0.user.roles, Action::Print)
        .then(|| crate::printing::PrintMenu::new(&state, &doctype.name, &name));
    let html = render(&FormPage {
        layout: Layout::new(&state.settings.name, Some(&who.0)),
        doctype: doctype.name.clone(),
        list_url: format!("/app/{}", slug(&doctype.name)),
        name,
        fields,
        tables,
        attachments,
        can_attach: doctype.allows(&who.0.user.roles, Action::Write)
            || doctype.allows(&who.0.user.roles, Action::Create),
        print,
    })?
    .0;
    event.row_count = Some(1);
    audit
        .release_read(&state, event, Payload::html(html), Read::Document(doctype))
        .await
}
