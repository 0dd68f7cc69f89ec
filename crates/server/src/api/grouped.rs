//! `frappe.client.get_list` with `group_by`: one row per value of the grouped column, with
//! that column and aggregates of the others, as ERPNext answers
//! `fields=["status", "count(name) as count"], group_by="status"`.
//!
//! Fields may be the grouped column and `count(*)`, `count(f)`, `sum(f)`, `avg(f)`,
//! `min(f)`, `max(f)` of the type's own columns, each optionally `as alias`; anything else
//! is refused by name. The rows are those `filters` and `or_filters` select; the query runs
//! under the same least-privilege guard as reports.

use accesslog_core::doctype::DocType;
use accesslog_core::filters::{Condition, parse_fields};
use accesslog_store::{ListQuery, SqlValue};
use serde_json::{Map, Value, json};

use crate::error::WebError;
use crate::records::api::to_json;
use crate::state::AppState;

/// Rows answered at most.
const MAX_GROUPS: u32 = 10_000;

/// One selected expression: its SQL and the key it is answered under.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Selected {
    sql: String,
    key: String,
}

/// The SQL of a column of `doctype` named in a field, checked against the type.
fn column(doctype: &DocType, name: &str) -> Result<String, WebError> {
    let parsed =
        parse_fields(&json!([name]), doctype).map_err(|e| WebError::BadRequest(e.to_string()))?;
    match parsed.as_slice() {
        [one] => Ok(format!("t.{one}")),
        _ => Err(WebError::BadRequest(format!("`{name}` is not one column"))),
    }
}

/// Parses `fields` for a grouped list on `group_by`.
pub(crate) fn selected(
    doctype: &DocType,
    fields: &Value,
    group_by: &str,
) -> Result<(String, Vec<Selected>), WebError> {
    let grouped = column(doctype, group_by.trim())?;
    let items: Vec<&str> = match fields {
        Value::Null => vec![group_by.trim()],
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str().ok_or_else(|| {
                    WebError::BadRequest(format!("fields holds {v}, which is not text"))
                })
            })
            .collect::<Result<_, _>>()?,
        Value::String(s) => s.split(',').collect(),
        other => {
            return Err(WebError::BadRequest(format!(
                "fields must be a list, not {other}"
            )));
        }
    };
    let mut out = Vec::new();
    for item in items {
        let item = item.trim();
        let (expr, alias) = match item.to_ascii_lowercase().rfind(" as ") {
            Some(i) => (item[..i].trim(), Some(item[i + 4..].trim())),
            None => (item, None),
        };
        if let Some(alias) = alias
            && !(alias
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(WebError::BadRequest(format!(
                "`{alias}` cannot be a name for a field"
            )));
        }
        let sql = match expr.split_once('(') {
            None => {
                let col = column(doctype, expr)?;
                if col != grouped {
                    return Err(WebError::BadRequest(format!(
                        "`{expr}` is neither the grouped column `{group_by}` nor an aggregate (count, sum, avg, min, max)"
                    )));
                }
                col
            }
            Some((func, rest)) => {
                let func = func.trim().to_ascii_lowercase();
                let arg = rest
                    .strip_suffix(')')
                    .ok_or_else(|| WebError::BadRequest(format!("`{expr}` is missing its `)`")))?
                    .trim();
                if !["count", "sum", "avg", "min", "max"].contains(&func.as_str()) {
                    return Err(WebError::BadRequest(format!(
                        "`{func}` is not an aggregate this server computes (count, sum, avg, min, max)"
                    )));
                }
                let arg = if arg == "*" && func == "count" {
                    "*".to_owned()
                } else {
                    column(doctype, arg)?
                };
                format!("{}({arg})", func.to_ascii_uppercase())
            }
        };
        out.push(Selected {
            sql,
            key: alias.unwrap_or(expr).to_owned(),
        });
    }
    Ok((grouped, out))
}

/// The grouped rows, as JSON objects keyed as asked.
pub(crate) async fn rows(
    state: &AppState,
    doctype: &DocType,
    conditions: &[Condition],
    any_of: &[Condition],
    grouped: &str,
    selected: &[Selected],
    descending: bool,
) -> Result<Vec<Value>, WebError> {
    let children = state.doctypes.child_tables(doctype);
    let names = vec!["name".to_owned()];
    let inner = ListQuery {
        conditions,
        any_of,
        fields: &names,
        order_by: &[],
        limit: u32::MAX,
        offset: 0,
        after: None,
    };
    let dialect = state.dialect();
    let (inner_sql, binds) =
        accesslog_store::records::list_sql(doctype, &children, &inner, dialect);
    let select: Vec<&str> = selected.iter().map(|s| s.sql.as_str()).collect();
    let sql = format!(
        "SELECT {} FROM {} t WHERE t.name IN (SELECT name FROM ({inner_sql}) AS chosen) GROUP BY {grouped} ORDER BY {grouped} {} LIMIT {MAX_GROUPS}",
        select.join(", "),
        doctype.table_name(),
        if descending { "DESC" } else { "ASC" },
    );
    let mut out = Vec::new();
    state
        .store
        .query_each_row(&sql, &binds, &mut |row: &[SqlValue]| {
            let mut object = Map::new();
            for (s, v) in selected.iter().zip(row) {
                object.insert(s.key.clone(), to_json(v));
            }
            out.push(Value::Object(object));
            std::ops::ControlFlow::Continue(())
        })
        .await?;
    Ok(out)
}
