//! The desk's list data, `frappe.desk.reportview.get` and `…get_list` (GET or POST), as
//! scripts call them: `doctype`, `fields`, `filters`, `order_by`, `start`, `page_length`.
//! `get` answers ERPNext's compact form, `{"message": {"keys": [...], "values": [[...]]}}`;
//! `get_list` answers `{"message": [rows]}`. Both are recorded as reads of the rows.

use std::collections::BTreeMap;

use axum::extract::State;
use serde_json::{Value, json};

use crate::aliases::ApiVersion;
use crate::audit::{Audit, AuditedResponse};
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::records::api::read_list;
use crate::request::{FormDict, required};
use crate::state::AppState;

type Params = BTreeMap<String, String>;

/// The desk's parameters under the REST names `read_list` takes; fields the desk writes
/// as `` `tabSales Invoice`.`name` `` become `name`.
fn as_list_params(mut p: Params) -> Result<(String, Params), WebError> {
    let doctype = required(&p, "doctype")?.to_owned();
    if let Some(start) = p.remove("start") {
        p.insert("limit_start".into(), start);
    }
    if let Some(length) = p.remove("page_length") {
        p.insert("limit_page_length".into(), length);
    }
    if let Some(fields) = p.get("fields").cloned()
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&fields)
    {
        let table = format!("`tab{doctype}`.");
        let plain: Vec<Value> = items
            .into_iter()
            .map(|f| match f {
                Value::String(s) => Value::String(
                    s.strip_prefix(&table)
                        .unwrap_or(&s)
                        .trim_matches('`')
                        .to_owned(),
                ),
                other => other,
            })
            .collect();
        p.insert("fields".into(), Value::Array(plain).to_string());
    }
    Ok((doctype, p))
}

/// `frappe.desk.reportview.get`.
pub async fn get(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let (doctype, p) = as_list_params(p)?;
    read_list(&state, &who, &audit, &doctype, &p, |rows| {
        let keys: Vec<String> = rows
            .first()
            .and_then(Value::as_object)
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default();
        let values: Vec<Vec<Value>> = rows
            .iter()
            .map(|r| {
                keys.iter()
                    .map(|k| r.get(k).cloned().unwrap_or(Value::Null))
                    .collect()
            })
            .collect();
        api.wrap(json!({ "keys": keys, "values": values, "user_info": {} }))
    })
    .await
}

/// `frappe.desk.reportview.get_list`.
pub async fn get_list(
    State(state): State<AppState>,
    who: CurrentUser,
    audit: Audit,
    api: ApiVersion,
    FormDict(p): FormDict,
) -> Result<AuditedResponse, WebError> {
    let (doctype, p) = as_list_params(p)?;
    read_list(&state, &who, &audit, &doctype, &p, |rows| {
        api.wrap(json!(rows))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_desks_parameters_become_rests() {
        let p: Params = [
            ("doctype", "Sales Invoice"),
            ("start", "20"),
            ("page_length", "10"),
            (
                "fields",
                r#"["`tabSales Invoice`.`name`", "`tabSales Invoice`.`grand_total`", "status"]"#,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (doctype, p) = as_list_params(p).unwrap();
        assert_eq!(doctype, "Sales Invoice");
        assert_eq!(
            (p["limit_start"].as_str(), p["limit_page_length"].as_str()),
            ("20", "10")
        );
        assert_eq!(p["fields"], r#"["name","grand_total","status"]"#);
    }
}
