//! Turning a JSON document from a client into stored values: each field's value checked
//! and typed by its definition, required fields present, unknown fields refused by name.

use std::collections::BTreeMap;

use accesslog_core::doctype::{DocType, Field, FieldType, STANDARD_COLUMNS};
use accesslog_core::filters::{is_date, normalize_datetime};
use accesslog_store::SqlValue;
use serde_json::Value;

/// Why a document was refused, for a 400 that names the field.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{doctype} has no field {field:?}")]
    UnknownField { doctype: String, field: String },
    #[error("{field}: {why}")]
    Bad { field: String, why: String },
    #[error("{field} is required")]
    Missing { field: String },
}

fn bad(field: &Field, why: impl Into<String>) -> ValueError {
    ValueError::Bad {
        field: field.fieldname.clone(),
        why: why.into(),
    }
}

/// The longest name a link field takes (ERPNext's `varchar(140)` for names and links).
pub const MAX_LINK: usize = 140;

/// One field's JSON value as stored; `null` and `""` are absent.
pub fn coerce(field: &Field, value: &Value) -> Result<SqlValue, ValueError> {
    if value.is_null() || value.as_str() == Some("") {
        return Ok(SqlValue::Null);
    }
    let number = || -> Option<f64> {
        value
            .as_f64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse::<f64>().ok()))
            .filter(|f| f.is_finite())
    };
    Ok(match field.fieldtype {
        FieldType::Int => {
            let i = value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
            SqlValue::Int(i.ok_or_else(|| bad(field, format!("{value} is not a whole number")))?)
        }
        FieldType::Float | FieldType::Currency => {
            SqlValue::Float(number().ok_or_else(|| bad(field, format!("{value} is not a number")))?)
        }
        FieldType::Check => SqlValue::Int(match value {
            Value::Bool(b) => i64::from(*b),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                n.as_i64().unwrap_or(0)
            }
            Value::String(s) if s == "0" || s == "1" => i64::from(s == "1"),
            _ => return Err(bad(field, format!("{value} is not 0 or 1"))),
        }),
        FieldType::Date => {
            let s = value
                .as_str()
                .filter(|s| is_date(s))
                .ok_or_else(|| bad(field, format!("{value} is not a date like 2026-01-31")))?;
            SqlValue::Text(s.to_owned())
        }
        FieldType::Datetime => {
            let s = value.as_str().and_then(normalize_datetime).ok_or_else(|| {
                bad(
                    field,
                    format!("{value} is not a date and time like 2026-01-31 13:45:00"),
                )
            })?;
            SqlValue::Text(s)
        }
        FieldType::Select => {
            let s = text_of(value).ok_or_else(|| bad(field, format!("{value} is not text")))?;
            let options = field.select_options();
            if !options.contains(&s.as_str()) {
                return Err(bad(
                    field,
                    format!("{s:?} is not one of: {}", options.join(", ")),
                ));
            }
            SqlValue::Text(s)
        }
        FieldType::Data | FieldType::Text => SqlValue::Text(
            text_of(value).ok_or_else(|| bad(field, format!("{value} is not text")))?,
        ),
        FieldType::Link => {
            let name = text_of(value).ok_or_else(|| bad(field, format!("{value} is not text")))?;
            if name.chars().count() > MAX_LINK {
                return Err(bad(
                    field,
                    format!(
                        "a link names one document, in at most {MAX_LINK} characters; this one has {}",
                        name.chars().count()
                    ),
                ));
            }
            SqlValue::Text(name)
        }
        FieldType::Table => {
            return Err(bad(field, "a table's rows are given as a list of objects"));
        }
    })
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A document's column values, and its table fields' JSON rows, apart.
pub type Checked<'a> = (BTreeMap<String, SqlValue>, Vec<(&'a str, &'a Value)>);

/// Checks and types the column fields of a JSON object for `doctype`. Keys that are
/// standard columns or ERPNext's bookkeeping (`doctype`, `docstatus`) are ignored; table
/// fields are returned apart, as their JSON rows. With `creating`, required fields must
/// have a value.
pub fn document_values<'a>(
    doctype: &DocType,
    json: &'a serde_json::Map<String, Value>,
    creating: bool,
) -> Result<Checked<'a>, ValueError> {
    const IGNORED: [&str; 3] = ["doctype", "docstatus", "__islocal"];
    let mut values = BTreeMap::new();
    let mut tables = Vec::new();
    for (key, value) in json {
        if STANDARD_COLUMNS.contains(&key.as_str()) || IGNORED.contains(&key.as_str()) {
            continue;
        }
        let Some(field) = doctype.field(key) else {
            return Err(ValueError::UnknownField {
                doctype: doctype.name.clone(),
                field: key.clone(),
            });
        };
        if field.fieldtype == FieldType::Table {
            tables.push((key.as_str(), value));
        } else {
            values.insert(key.clone(), coerce(field, value)?);
        }
    }
    if creating {
        for f in doctype
            .fields
            .iter()
            .filter(|f| f.reqd && f.fieldtype.has_column())
        {
            if values
                .get(&f.fieldname)
                .is_none_or(|v| *v == SqlValue::Null)
            {
                return Err(ValueError::Missing {
                    field: f.fieldname.clone(),
                });
            }
        }
    }
    Ok((values, tables))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(t: FieldType, options: Option<&str>) -> Field {
        Field {
            fieldname: "x".into(),
            label: "X".into(),
            fieldtype: t,
            options: options.map(Into::into),
            reqd: false,
            in_list_view: false,
            search_index: false,
        }
    }

    #[test]
    fn values_are_typed_by_their_field() {
        assert_eq!(
            coerce(&f(FieldType::Int, None), &json!("42")),
            Ok(SqlValue::Int(42))
        );
        assert_eq!(
            coerce(&f(FieldType::Currency, None), &json!(10.5)),
            Ok(SqlValue::Float(10.5))
        );
        assert_eq!(
            coerce(&f(FieldType::Check, None), &json!(true)),
            Ok(SqlValue::Int(1))
        );
        assert_eq!(
            coerce(&f(FieldType::Date, None), &json!("2024-02-29")),
            Ok(SqlValue::Text("2024-02-29".into()))
        );
        assert_eq!(
            coerce(
                &f(FieldType::Datetime, None),
                &json!("2026-01-31T13:45:00.5")
            ),
            Ok(SqlValue::Text("2026-01-31 13:45:00.500000".into()))
        );
        assert_eq!(
            coerce(&f(FieldType::Data, None), &json!(7)),
            Ok(SqlValue::Text("7".into()))
        );
        assert_eq!(
            coerce(&f(FieldType::Data, None), &json!("")),
            Ok(SqlValue::Null)
        );
        assert_eq!(
            coerce(&f(FieldType::Select, Some("Open\nPaid")), &json!("Paid")),
            Ok(SqlValue::Text("Paid".into()))
        );
    }

    #[test]
    fn bad_values_say_why() {
        for (t, v, phrase) in [
            (FieldType::Int, json!("x"), "whole number"),
            (FieldType::Float, json!([1]), "not a number"),
            (FieldType::Check, json!(2), "0 or 1"),
            (FieldType::Date, json!("2023-02-29"), "date like"),
            (FieldType::Date, json!("31/01/2026"), "date like"),
            (
                FieldType::Datetime,
                json!("2026-01-31 25:00"),
                "date and time",
            ),
        ] {
            let e = coerce(&f(t, None), &v).unwrap_err().to_string();
            assert!(e.starts_with("x: ") && e.contains(phrase), "{t}: {e}");
        }
        let e = coerce(&f(FieldType::Select, Some("Open\nPaid")), &json!("Lost"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not one of: Open, Paid"), "{e}");
    }
}
