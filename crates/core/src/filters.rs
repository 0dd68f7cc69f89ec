//! ERPNext's list parameters — `filters`, `fields` and `order_by` of
//! `GET /api/resource/{DocType}` — checked against a document type and turned into typed
//! conditions, columns and sort keys. Pure: storage builds the SQL from this output with
//! bound values, so nothing a client sends is ever spliced into a query.

use serde_json::Value as Json;

use crate::doctype::{DocType, FieldType, STANDARD_COLUMNS};

/// A filter operator, as Frappe spells them (case-insensitive on input). Frappe's `is`
/// becomes [`Op::IsSet`] or [`Op::IsNotSet`] by its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Like,
    NotLike,
    In,
    NotIn,
    Between,
    IsSet,
    IsNotSet,
}

impl Op {
    /// Frappe's spelling (`is set` / `is not set` for the two forms of `is`).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Like => "like",
            Op::NotLike => "not like",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Between => "between",
            Op::IsSet => "is set",
            Op::IsNotSet => "is not set",
        }
    }
}

/// A filter value, typed by its column: int and check columns get `Int` (check is 0 or 1),
/// float and currency `Float`, everything else `Text` (dates and datetimes as ISO text,
/// which is how they are stored). `like` / `not like` always get `Text`, whatever the column.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Text(String),
}

/// One filter, checked: the field exists on `doctype`, and the values suit its type.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The type the field belongs to: the listed type, or one of its child types — which
    /// means "the record has at least one child row of this type that matches".
    pub doctype: String,
    pub field: String,
    /// The field's type (standard columns: see [`column_type`]), so storage need not look
    /// it up again, e.g. to compare a numeric column as text for `like`.
    pub fieldtype: FieldType,
    pub op: Op,
    /// One value for comparisons and `like`; any number for `in` / `not in` (none: `in`
    /// matches nothing, `not in` everything); two, `[from, to]` inclusive, for `between`;
    /// none for `is set` / `is not set`.
    pub values: Vec<Value>,
}

/// One sort key of `order_by`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderBy {
    pub field: String,
    pub descending: bool,
}

/// Why the list parameters were refused. Each message names what was wrong and what is
/// accepted instead, for the API client to show as is.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "{doctype} has no field `{field}`: use one of its fieldnames or a standard column \
         (name, owner, creation, modified, modified_by)"
    )]
    UnknownField { doctype: String, field: String },
    #[error(
        "unknown filter operator `{0}`: use one of =, !=, <, >, <=, >=, like, not like, in, \
         not in, between, is"
    )]
    UnknownOperator(String),
    #[error("bad filter value for `{field}`: {why}")]
    BadValue { field: String, why: String },
    #[error(
        "`{field}` of {doctype} is a table of {child} rows, not a column: it cannot be listed \
         or sorted on; to filter on its rows use [\"{child}\", field, operator, value]"
    )]
    TableField {
        doctype: String,
        field: String,
        child: String,
    },
    #[error(
        "a filter names {given}, but this is a list of {doctype}: use {doctype}{}",
        child_hint(.children)
    )]
    OtherDocType {
        given: String,
        doctype: String,
        children: Vec<String>,
    },
    #[error(
        "`{0}`: aggregates, functions and aliases (such as count(name) as count) are not \
         supported: use plain fieldnames such as [\"name\", \"status\"]"
    )]
    Expression(String),
    #[error("{0}")]
    Malformed(String),
}

fn child_hint(children: &[String]) -> String {
    if children.is_empty() {
        String::new()
    } else {
        format!(" or one of its child types ({})", children.join(", "))
    }
}

/// The standard columns of a type's table, in the order `["*"]` lists them: every table
/// has the first five; child tables also have their parent's name, type and field, and
/// their row number.
pub fn standard_columns(doctype: &DocType) -> &'static [&'static str] {
    // STANDARD_COLUMNS lists the parent's five first, then the child's four.
    if doctype.is_child {
        &STANDARD_COLUMNS
    } else {
        &STANDARD_COLUMNS[..5]
    }
}

/// The type of a column of `doctype`'s table — a standard column or a field with a column —
/// or `None` if there is no such column.
pub fn column_type(doctype: &DocType, column: &str) -> Option<FieldType> {
    if standard_columns(doctype).contains(&column) {
        return Some(match column {
            "creation" | "modified" => FieldType::Datetime,
            "idx" => FieldType::Int,
            _ => FieldType::Data,
        });
    }
    doctype
        .field(column)
        .map(|f| f.fieldtype)
        .filter(|t| t.has_column())
}

/// The type of `column`, or the error that says why it cannot be used.
fn resolve(doctype: &DocType, column: &str) -> Result<FieldType, FilterError> {
    if let Some(t) = column_type(doctype, column) {
        return Ok(t);
    }
    match doctype.field(column) {
        Some(f) if f.fieldtype == FieldType::Table => Err(FilterError::TableField {
            doctype: doctype.name.clone(),
            field: column.to_owned(),
            child: f.options.clone().unwrap_or_default(),
        }),
        _ => Err(FilterError::UnknownField {
            doctype: doctype.name.clone(),
            field: column.to_owned(),
        }),
    }
}

/// Parses `filters` in every form Frappe accepts: `{"field": value}`,
/// `{"field": [op, value]}`, a list of `[field, op, value]` or `[DocType, field, op, value]`
/// (a trailing fifth element, which Frappe's list view sends, is ignored), or a list mixing
/// those with objects. `child_types` are the types whose rows may be filtered on with the
/// four-element form. `null`, `{}` and `[]` give no conditions.
pub fn parse_filters(
    json: &Json,
    doctype: &DocType,
    child_types: &[&DocType],
) -> Result<Vec<Condition>, FilterError> {
    let ctx = Ctx {
        doctype,
        child_types,
    };
    let mut out = Vec::new();
    match json {
        Json::Null => {}
        Json::Object(map) => {
            for (field, value) in map {
                out.push(ctx.object_entry(field, value)?);
            }
        }
        Json::Array(items) => {
            for item in items {
                match item {
                    Json::Array(parts) => out.push(ctx.list_entry(parts)?),
                    Json::Object(map) => {
                        for (field, value) in map {
                            out.push(ctx.object_entry(field, value)?);
                        }
                    }
                    Json::String(s) => {
                        return Err(FilterError::Malformed(format!(
                            "the filter `{s}` is raw text, which is not accepted: give \
                             [field, operator, value]"
                        )));
                    }
                    other => {
                        return Err(FilterError::Malformed(format!(
                            "each filter in the list must be [field, operator, value] or \
                             [DocType, field, operator, value], not {other}"
                        )));
                    }
                }
            }
        }
        other => {
            return Err(FilterError::Malformed(format!(
                "filters must be a JSON object such as {{\"status\": \"Paid\"}} or a list of \
                 [field, operator, value], not {other}"
            )));
        }
    }
    Ok(out)
}

struct Ctx<'a> {
    doctype: &'a DocType,
    child_types: &'a [&'a DocType],
}

/// An operator as parsed: `is` needs its value to say which.
enum Operator {
    Op(Op),
    Is,
}

fn operator(json: &Json) -> Result<Operator, FilterError> {
    let Json::String(text) = json else {
        return Err(FilterError::UnknownOperator(json.to_string()));
    };
    let normal = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    Ok(Operator::Op(match normal.as_str() {
        "=" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        ">" => Op::Gt,
        "<=" => Op::Le,
        ">=" => Op::Ge,
        "like" => Op::Like,
        "not like" => Op::NotLike,
        "in" => Op::In,
        "not in" => Op::NotIn,
        "between" => Op::Between,
        "is" => return Ok(Operator::Is),
        _ => return Err(FilterError::UnknownOperator(text.clone())),
    }))
}

impl Ctx<'_> {
    fn object_entry(&self, field: &str, value: &Json) -> Result<Condition, FilterError> {
        match value {
            Json::Array(pair) => match pair.as_slice() {
                [op, value] => self.condition(self.doctype, field, op, value),
                _ => Err(FilterError::Malformed(format!(
                    "the filter on `{field}` must be a value or [operator, value], not {value}"
                ))),
            },
            _ => self.condition(self.doctype, field, &Json::String("=".into()), value),
        }
    }

    fn list_entry(&self, parts: &[Json]) -> Result<Condition, FilterError> {
        let (doctype, field, op, value) = match parts {
            [field, op, value] => (self.doctype, field, op, value),
            [doctype, field, op, value] | [doctype, field, op, value, _] => {
                (self.target(doctype)?, field, op, value)
            }
            _ => {
                return Err(FilterError::Malformed(format!(
                    "a filter must be [field, operator, value] or [DocType, field, operator, \
                     value], not {} with {} elements",
                    Json::Array(parts.to_vec()),
                    parts.len()
                )));
            }
        };
        let Json::String(field) = field else {
            return Err(FilterError::Malformed(format!(
                "a filter's field must be a fieldname in quotes, not {field}"
            )));
        };
        self.condition(doctype, field, op, value)
    }

    /// The type named by a four-element filter: this one or one of its child types.
    fn target(&self, name: &Json) -> Result<&DocType, FilterError> {
        let given = match name {
            Json::String(s) => s.as_str(),
            _ => "",
        };
        if given == self.doctype.name {
            return Ok(self.doctype);
        }
        if let Some(child) = self.child_types.iter().find(|c| c.name == given) {
            return Ok(child);
        }
        Err(FilterError::OtherDocType {
            given: match name {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            },
            doctype: self.doctype.name.clone(),
            children: self.child_types.iter().map(|c| c.name.clone()).collect(),
        })
    }

    fn condition(
        &self,
        doctype: &DocType,
        field: &str,
        op: &Json,
        value: &Json,
    ) -> Result<Condition, FilterError> {
        let fieldtype = resolve(doctype, field)?;
        let bad = |why: String| FilterError::BadValue {
            field: field.to_owned(),
            why,
        };
        let (op, values) = match (operator(op)?, value) {
            (Operator::Is, Json::String(s)) if s.trim().eq_ignore_ascii_case("set") => {
                (Op::IsSet, vec![])
            }
            (Operator::Is, Json::String(s)) if s.trim().eq_ignore_ascii_case("not set") => {
                (Op::IsNotSet, vec![])
            }
            (Operator::Is, other) => {
                return Err(bad(format!(
                    "`is` takes \"set\" or \"not set\", not {other}"
                )));
            }
            // Frappe reads `= null` as "not set" and `!= null` as "set".
            (Operator::Op(Op::Eq), Json::Null) => (Op::IsNotSet, vec![]),
            (Operator::Op(Op::Ne), Json::Null) => (Op::IsSet, vec![]),
            (Operator::Op(op @ (Op::Like | Op::NotLike)), value) => {
                let text = match value {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => n.to_string(),
                    other => {
                        return Err(bad(format!(
                            "`{}` takes a text pattern such as \"%Corp%\", not {other}",
                            op.as_str()
                        )));
                    }
                };
                (op, vec![Value::Text(text)])
            }
            (Operator::Op(op @ (Op::In | Op::NotIn)), value) => {
                let items: Vec<Json> = match value {
                    Json::Array(items) => items.clone(),
                    Json::String(s) => s
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Json::String(s.to_owned()))
                        .collect(),
                    other => {
                        return Err(bad(format!(
                            "`{}` takes a list such as [\"a\", \"b\"] or a comma-separated \
                             text such as \"a,b\", not {other}",
                            op.as_str()
                        )));
                    }
                };
                let values = items
                    .iter()
                    .map(|v| typed(field, fieldtype, v, Bound::Exact))
                    .collect::<Result<_, _>>()?;
                (op, values)
            }
            (Operator::Op(Op::Between), Json::Array(pair)) if pair.len() == 2 => (
                Op::Between,
                vec![
                    typed(field, fieldtype, &pair[0], Bound::Exact)?,
                    typed(field, fieldtype, &pair[1], Bound::EndOfDay)?,
                ],
            ),
            (Operator::Op(Op::Between), other) => {
                return Err(bad(format!(
                    "`between` takes a list of two values, [from, to], not {other}"
                )));
            }
            (Operator::Op(op), value) => (op, vec![typed(field, fieldtype, value, Bound::Exact)?]),
        };
        Ok(Condition {
            doctype: doctype.name.clone(),
            field: field.to_owned(),
            fieldtype,
            op,
            values,
        })
    }
}

/// How a bare date given for a datetime column is completed: at the start of the day, or,
/// as the upper bound of `between`, at its end (as Frappe does).
#[derive(Clone, Copy, PartialEq)]
enum Bound {
    Exact,
    EndOfDay,
}

/// `json` as a value of a column of type `fieldtype`.
fn typed(
    field: &str,
    fieldtype: FieldType,
    json: &Json,
    bound: Bound,
) -> Result<Value, FilterError> {
    let bad = |why: &str| FilterError::BadValue {
        field: field.to_owned(),
        why: format!("{why}, not {json}"),
    };
    if json.is_null() {
        return Err(FilterError::BadValue {
            field: field.to_owned(),
            why: "a value is needed, not null; to match empty fields use [field, \"is\", \
                  \"not set\"]"
                .into(),
        });
    }
    match fieldtype {
        FieldType::Int => whole_number(json)
            .map(Value::Int)
            .ok_or_else(|| bad("an int field takes a whole number such as 3 or \"3\"")),
        FieldType::Float | FieldType::Currency => number(json)
            .map(Value::Float)
            .ok_or_else(|| bad("a number such as 100.5 or \"100.5\" is needed")),
        FieldType::Check => match json {
            Json::Bool(b) => Some(i64::from(*b)),
            Json::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(1),
            Json::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(0),
            _ => whole_number(json).filter(|n| *n == 0 || *n == 1),
        }
        .map(Value::Int)
        .ok_or_else(|| bad("a check field takes true, false, 0 or 1")),
        FieldType::Date => match json {
            Json::String(s) if is_date(s.trim()) => Ok(Value::Text(s.trim().to_owned())),
            _ => Err(bad(
                "a date field takes a date as YYYY-MM-DD, such as \"2024-03-31\"",
            )),
        },
        FieldType::Datetime => match json {
            Json::String(s) => datetime(s.trim(), bound).map(Value::Text),
            _ => None,
        }
        .ok_or_else(|| {
            bad(
                "a datetime field takes YYYY-MM-DD HH:MM[:SS[.ffffff]] (or T instead of the \
                 space, or a bare date), such as \"2024-03-31 14:05:00\"",
            )
        }),
        FieldType::Data
        | FieldType::Text
        | FieldType::Select
        | FieldType::Link
        | FieldType::Table => match json {
            Json::String(s) => Ok(Value::Text(s.clone())),
            Json::Number(n) => Ok(Value::Text(n.to_string())),
            _ => Err(bad("a text value is needed")),
        },
    }
}

fn number(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

fn whole_number(json: &Json) -> Option<i64> {
    let exact = match json {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    // `3.0` or "3.0": whole, though written as a float.
    number(json)
        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
        .map(|f| f as i64)
}

/// Whether `s` is a real calendar date written `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) =
        (digits(&s[0..4]), digits(&s[5..7]), digits(&s[8..10]))
    else {
        return false;
    };
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// A date and time as clients write it (`YYYY-MM-DD[ T]HH:MM[:SS[.f…]][Z]`, or a bare
/// date) in the stored form `YYYY-MM-DD HH:MM:SS[.ffffff]`, or `None` if it is not one.
/// Documents store datetimes in this form so that filters compare like with like.
pub fn normalize_datetime(s: &str) -> Option<String> {
    datetime(s, Bound::Exact)
}

fn digits(s: &str) -> Option<u32> {
    if s.bytes().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `YYYY-MM-DD[ T]HH:MM[:SS[.f…]][Z]`, or a bare date, in the stored form
/// `YYYY-MM-DD HH:MM:SS[.ffffff]`.
fn datetime(s: &str, bound: Bound) -> Option<String> {
    let date = s.get(..10).filter(|d| is_date(d))?;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(match bound {
            Bound::Exact => format!("{date} 00:00:00"),
            Bound::EndOfDay => format!("{date} 23:59:59.999999"),
        });
    }
    let time = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('T'))?;
    // Stored times are UTC, so an explicit UTC marker changes nothing.
    let time = time.strip_suffix('Z').unwrap_or(time);
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (time, None),
    };
    let mut parts = hms.split(':');
    let hour = parts.next().filter(|p| p.len() == 2).and_then(digits)?;
    let minute = parts.next().filter(|p| p.len() == 2).and_then(digits)?;
    let second = match parts.next() {
        Some(p) if p.len() == 2 => digits(p)?,
        Some(_) => return None,
        None if fraction.is_some() => return None,
        None => 0,
    };
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut out = format!("{date} {hour:02}:{minute:02}:{second:02}");
    if let Some(f) = fraction {
        if f.is_empty() || f.len() > 6 || digits(f).is_none() {
            return None;
        }
        out.push('.');
        out.push_str(f);
        out.extend(std::iter::repeat_n('0', 6 - f.len()));
    }
    Some(out)
}

/// A column as clients write it: `field`, `` `field` ``, or qualified with this type's
/// table as Frappe's own clients do, `` `tabSales Invoice`.`field` ``.
fn column_ref<'a>(raw: &'a str, doctype: &DocType) -> Result<&'a str, FilterError> {
    let raw = raw.trim();
    if raw.contains('(') || raw.contains(')') {
        return Err(FilterError::Expression(raw.to_owned()));
    }
    let column = match raw.rsplit_once('.') {
        Some((table, column)) => {
            let table = table.trim().trim_matches('`');
            if table.strip_prefix("tab") != Some(doctype.name.as_str()) {
                return Err(FilterError::Malformed(format!(
                    "`{raw}` is not a column of {}: only its own columns can be used here",
                    doctype.name
                )));
            }
            column
        }
        None => raw,
    };
    let column = column.trim().trim_matches('`');
    if column.contains(char::is_whitespace) {
        return Err(FilterError::Expression(raw.to_owned()));
    }
    Ok(column)
}

/// Parses `fields`: a JSON list of column names (or one comma-separated text), `"*"`
/// standing for every column — the standard ones, then the type's own in definition
/// order. Gives the columns in the order asked, each once; `null` or `[]` gives `["name"]`,
/// as in Frappe.
pub fn parse_fields(json: &Json, doctype: &DocType) -> Result<Vec<String>, FilterError> {
    let items: Vec<&str> = match json {
        Json::Null => Vec::new(),
        Json::String(s) => s.split(',').filter(|s| !s.trim().is_empty()).collect(),
        Json::Array(items) => items
            .iter()
            .map(|item| match item {
                Json::String(s) => Ok(s.as_str()),
                other => Err(FilterError::Malformed(format!(
                    "fields must be a list of fieldnames in quotes, such as [\"name\", \
                     \"status\"]; {other} is not one"
                ))),
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(FilterError::Malformed(format!(
                "fields must be a list of fieldnames such as [\"name\", \"status\"], not {other}"
            )));
        }
    };
    let mut out: Vec<String> = Vec::new();
    let mut add = |column: &str| {
        if !out.iter().any(|c| c == column) {
            out.push(column.to_owned());
        }
    };
    if items.is_empty() {
        add("name");
    }
    for item in items {
        if item.trim() == "*" {
            standard_columns(doctype).iter().for_each(|c| add(c));
            doctype
                .fields
                .iter()
                .filter(|f| f.fieldtype.has_column())
                .for_each(|f| add(&f.fieldname));
            continue;
        }
        let column = column_ref(item, doctype)?;
        resolve(doctype, column)?;
        add(column);
    }
    Ok(out)
}

/// Parses `order_by`: `field [asc|desc]`, separated by commas (`"grand_total asc, name
/// desc"`); the direction is case-insensitive and defaults to ascending. Only columns of
/// `doctype` may be sorted on. Empty text gives no keys: the caller chooses the default.
pub fn parse_order_by(text: &str, doctype: &DocType) -> Result<Vec<OrderBy>, FilterError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let shape = |part: &str| {
        FilterError::Malformed(format!(
            "order_by `{part}` is not understood: write a fieldname optionally followed by asc \
             or desc, separated by commas, such as \"posting_date desc, name asc\""
        ))
    };
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(shape(text));
        }
        let (column, descending) = match part.rsplit_once(char::is_whitespace) {
            Some((column, dir)) if dir.eq_ignore_ascii_case("asc") => (column, false),
            Some((column, dir)) if dir.eq_ignore_ascii_case("desc") => (column, true),
            _ => (part, false),
        };
        let column = match column_ref(column, doctype) {
            Err(FilterError::Expression(e)) if !e.contains('(') => return Err(shape(part)),
            other => other?,
        };
        resolve(doctype, column)?;
        out.push(OrderBy {
            field: column.to_owned(),
            descending,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::doctype::{Field, Naming};

    fn field(name: &str, fieldtype: FieldType, options: Option<&str>) -> Field {
        Field {
            fieldname: name.into(),
            label: name.into(),
            fieldtype,
            options: options.map(Into::into),
            reqd: false,
            in_list_view: false,
            search_index: false,
        }
    }

    fn invoice() -> DocType {
        DocType {
            name: "Sales Invoice".into(),
            is_child: false,
            naming: Naming::Series("SINV-.#####".into()),
            fields: vec![
                field("customer", FieldType::Link, Some("Customer")),
                field("status", FieldType::Select, Some("Draft\nPaid")),
                field("grand_total", FieldType::Currency, None),
                field("total_qty", FieldType::Int, None),
                field("is_return", FieldType::Check, None),
                field("posting_date", FieldType::Date, None),
                field("paid_at", FieldType::Datetime, None),
                field("remarks", FieldType::Text, None),
                field("items", FieldType::Table, Some("Sales Invoice Item")),
            ],
            permissions: Default::default(),
            log_reads: true,
        }
    }

    fn item() -> DocType {
        DocType {
            name: "Sales Invoice Item".into(),
            is_child: true,
            naming: Naming::Hash,
            fields: vec![
                field("item_code", FieldType::Link, Some("Item")),
                field("qty", FieldType::Float, None),
            ],
            permissions: Default::default(),
            log_reads: true,
        }
    }

    fn parse(json: Json) -> Result<Vec<Condition>, FilterError> {
        parse_filters(&json, &invoice(), &[&item()])
    }

    /// The one condition `json` parses to.
    fn one(json: Json) -> Condition {
        let mut all = parse(json.clone()).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(all.len(), 1, "{json}");
        all.remove(0)
    }

    fn cond(field: &str, fieldtype: FieldType, op: Op, values: Vec<Value>) -> Condition {
        Condition {
            doctype: "Sales Invoice".into(),
            field: field.into(),
            fieldtype,
            op,
            values,
        }
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn err(json: Json) -> FilterError {
        match parse(json.clone()) {
            Ok(c) => panic!("{json} was accepted as {c:?}"),
            Err(e) => e,
        }
    }

    fn bad_value(json: Json, field: &str) -> String {
        match err(json) {
            FilterError::BadValue { field: f, why } => {
                assert_eq!(f, field);
                why
            }
            other => panic!("expected a bad value, got {other:?}"),
        }
    }

    #[test]
    fn empty_filters_give_no_conditions() {
        for empty in [json!(null), json!({}), json!([])] {
            assert_eq!(parse(empty), Ok(vec![]));
        }
    }

    #[test]
    fn object_forms() {
        assert_eq!(
            one(json!({"status": "Paid"})),
            cond("status", FieldType::Select, Op::Eq, vec![text("Paid")])
        );
        assert_eq!(
            one(json!({"grand_total": [">", 100]})),
            cond(
                "grand_total",
                FieldType::Currency,
                Op::Gt,
                vec![Value::Float(100.0)]
            )
        );
        // serde_json keeps object keys sorted, so the order here is by fieldname.
        let both = parse(json!({"status": "Paid", "customer": ["!=", "ACME"]})).unwrap();
        assert_eq!(
            both,
            vec![
                cond("customer", FieldType::Link, Op::Ne, vec![text("ACME")]),
                cond("status", FieldType::Select, Op::Eq, vec![text("Paid")]),
            ]
        );
    }

    #[test]
    fn list_forms_and_every_operator() {
        let cases = [
            ("=", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("<=", Op::Le),
            (">=", Op::Ge),
        ];
        for (spelling, op) in cases {
            assert_eq!(
                one(json!([["total_qty", spelling, 5]])),
                cond("total_qty", FieldType::Int, op, vec![Value::Int(5)]),
                "{spelling}"
            );
            assert_eq!(op.as_str(), spelling);
        }
        assert_eq!(
            one(json!([["customer", "like", "%Corp%"]])),
            cond("customer", FieldType::Link, Op::Like, vec![text("%Corp%")])
        );
        assert_eq!(
            one(json!([["customer", "not like", "A_%"]])),
            cond("customer", FieldType::Link, Op::NotLike, vec![text("A_%")])
        );
        assert_eq!(
            one(json!([["status", "in", ["Draft", "Paid"]]])),
            cond(
                "status",
                FieldType::Select,
                Op::In,
                vec![text("Draft"), text("Paid")]
            )
        );
        assert_eq!(
            one(json!([["status", "not in", ["Draft"]]])),
            cond("status", FieldType::Select, Op::NotIn, vec![text("Draft")])
        );
        assert_eq!(
            one(json!([[
                "posting_date",
                "between",
                ["2024-01-01", "2024-03-31"]
            ]])),
            cond(
                "posting_date",
                FieldType::Date,
                Op::Between,
                vec![text("2024-01-01"), text("2024-03-31")]
            )
        );
        assert_eq!(
            one(json!([["remarks", "is", "set"]])),
            cond("remarks", FieldType::Text, Op::IsSet, vec![])
        );
        assert_eq!(
            one(json!([["remarks", "is", "not set"]])),
            cond("remarks", FieldType::Text, Op::IsNotSet, vec![])
        );
        // The four-element form naming this type, and the fifth element Frappe's list
        // view sends, are the same filter.
        assert_eq!(
            one(json!([["Sales Invoice", "status", "=", "Paid"]])),
            one(json!([["Sales Invoice", "status", "=", "Paid", false]]))
        );
        assert_eq!(
            one(json!([["Sales Invoice", "status", "=", "Paid"]])),
            cond("status", FieldType::Select, Op::Eq, vec![text("Paid")])
        );
        // Objects may appear inside the list too.
        assert_eq!(
            parse(json!([{"status": "Paid"}, ["total_qty", ">", 1]]))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn operators_are_case_and_space_insensitive() {
        assert_eq!(one(json!([["customer", "LIKE", "a%"]])).op, Op::Like);
        assert_eq!(
            one(json!([["customer", "Not  Like", "a%"]])).op,
            Op::NotLike
        );
        assert_eq!(one(json!([["status", "Not In", "Draft"]])).op, Op::NotIn);
        assert_eq!(one(json!([["status", "IN", ["Paid"]]])).op, Op::In);
        assert_eq!(
            one(json!([[
                "posting_date",
                "Between",
                ["2024-01-01", "2024-01-02"]
            ]]))
            .op,
            Op::Between
        );
        assert_eq!(one(json!({"remarks": ["IS", "Not Set"]})).op, Op::IsNotSet);
    }

    #[test]
    fn in_takes_a_comma_separated_text_typed_by_the_field() {
        assert_eq!(
            one(json!([["status", "in", "Draft, Paid,"]])).values,
            vec![text("Draft"), text("Paid")]
        );
        assert_eq!(
            one(json!({"total_qty": ["not in", "1,2"]})).values,
            vec![Value::Int(1), Value::Int(2)]
        );
        assert_eq!(one(json!([["status", "in", []]])).values, vec![]);
        let why = bad_value(json!([["total_qty", "in", "1,x"]]), "total_qty");
        assert!(why.contains("whole number"), "{why}");
        let why = bad_value(json!([["status", "in", 5]]), "status");
        assert!(why.contains("comma-separated"), "{why}");
    }

    #[test]
    fn child_type_conditions() {
        let c = one(json!([["Sales Invoice Item", "item_code", "=", "WIDGET"]]));
        assert_eq!(
            c,
            Condition {
                doctype: "Sales Invoice Item".into(),
                field: "item_code".into(),
                fieldtype: FieldType::Link,
                op: Op::Eq,
                values: vec![text("WIDGET")],
            }
        );
        let c = one(json!([["Sales Invoice Item", "qty", ">=", "2.5"]]));
        assert_eq!(
            (c.doctype.as_str(), c.values),
            ("Sales Invoice Item", vec![Value::Float(2.5)])
        );
        // Child tables have their row's parent and number.
        assert_eq!(
            one(json!([["Sales Invoice Item", "idx", "=", 1]])).fieldtype,
            FieldType::Int
        );
        // A child's field is not the parent's.
        assert_eq!(
            err(json!([["item_code", "=", "WIDGET"]])),
            FilterError::UnknownField {
                doctype: "Sales Invoice".into(),
                field: "item_code".into()
            }
        );
        let e = err(json!([["Customer", "name", "=", "ACME"]]));
        assert_eq!(
            e,
            FilterError::OtherDocType {
                given: "Customer".into(),
                doctype: "Sales Invoice".into(),
                children: vec!["Sales Invoice Item".into()],
            }
        );
        assert_eq!(
            e.to_string(),
            "a filter names Customer, but this is a list of Sales Invoice: use Sales Invoice or \
             one of its child types (Sales Invoice Item)"
        );
        // Without child types given, none are allowed.
        let e = parse_filters(
            &json!([["Sales Invoice Item", "qty", ">", 1]]),
            &invoice(),
            &[],
        )
        .unwrap_err();
        assert!(
            matches!(e, FilterError::OtherDocType { ref children, .. } if children.is_empty()),
            "{e:?}"
        );
    }

    #[test]
    fn table_fields_point_to_the_child_form() {
        let e = err(json!({"items": "WIDGET"}));
        assert_eq!(
            e,
            FilterError::TableField {
                doctype: "Sales Invoice".into(),
                field: "items".into(),
                child: "Sales Invoice Item".into(),
            }
        );
        assert!(
            e.to_string()
                .contains("[\"Sales Invoice Item\", field, operator, value]"),
            "{e}"
        );
    }

    #[test]
    fn numbers_and_checks() {
        assert_eq!(
            one(json!({"grand_total": "100"})).values,
            vec![Value::Float(100.0)]
        );
        assert_eq!(
            one(json!({"grand_total": 99.5})).values,
            vec![Value::Float(99.5)]
        );
        assert_eq!(one(json!({"total_qty": " 7 "})).values, vec![Value::Int(7)]);
        assert_eq!(one(json!({"total_qty": 7.0})).values, vec![Value::Int(7)]);
        for (given, want) in [
            (json!(true), 1),
            (json!(false), 0),
            (json!(1), 1),
            (json!(0), 0),
            (json!("1"), 1),
            (json!("false"), 0),
        ] {
            assert_eq!(
                one(json!({"is_return": given})).values,
                vec![Value::Int(want)],
                "{given}"
            );
        }
        assert!(bad_value(json!({"is_return": 2}), "is_return").contains("true, false, 0 or 1"));
        assert!(bad_value(json!({"total_qty": 1.5}), "total_qty").contains("whole number"));
        assert!(bad_value(json!({"total_qty": "ten"}), "total_qty").contains("\"ten\""));
        assert!(bad_value(json!({"grand_total": "NaN"}), "grand_total").contains("number"));
        assert!(bad_value(json!({"grand_total": true}), "grand_total").contains("number"));
    }

    #[test]
    fn text_fields_take_numbers_as_text() {
        assert_eq!(one(json!({"customer": 42})).values, vec![text("42")]);
        assert_eq!(one(json!({"remarks": 1.5})).values, vec![text("1.5")]);
        assert!(bad_value(json!({"customer": true}), "customer").contains("text value"));
        // `like` compares as text whatever the column, wildcards kept as given.
        let c = one(json!([["grand_total", "like", "10%"]]));
        assert_eq!(
            (c.fieldtype, c.values),
            (FieldType::Currency, vec![text("10%")])
        );
        assert_eq!(
            one(json!([["posting_date", "like", "2024-%"]])).values,
            vec![text("2024-%")]
        );
    }

    #[test]
    fn dates_are_checked() {
        assert_eq!(
            one(json!({"posting_date": "2024-02-29"})).values,
            vec![text("2024-02-29")]
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-04-31",
            "31/01/2024",
            "2024-1-5",
            "2024-01-01 10:00",
            "",
        ] {
            let why = bad_value(json!({"posting_date": bad}), "posting_date");
            assert!(why.contains("YYYY-MM-DD"), "{bad}: {why}");
        }
        let e = err(json!([["posting_date", ">", "yesterday"]]));
        assert_eq!(
            e.to_string(),
            "bad filter value for `posting_date`: a date field takes a date as YYYY-MM-DD, \
             such as \"2024-03-31\", not \"yesterday\""
        );
    }

    #[test]
    fn datetimes_are_checked_and_put_in_stored_form() {
        for (given, want) in [
            ("2024-01-02 03:04:05", "2024-01-02 03:04:05"),
            ("2024-01-02T03:04", "2024-01-02 03:04:00"),
            ("2024-01-02 03:04:05.5", "2024-01-02 03:04:05.500000"),
            ("2024-01-02T03:04:05.123456Z", "2024-01-02 03:04:05.123456"),
            ("2024-01-02", "2024-01-02 00:00:00"),
        ] {
            assert_eq!(
                one(json!({"paid_at": [">=", given]})).values,
                vec![text(want)],
                "{given}"
            );
        }
        for bad in [
            "2024-01-02 24:00",
            "2024-01-02 10:60",
            "2024-01-02 10",
            "2024-01-02 10:00:00.1234567",
            "2024-01-02 10:00.5",
            "2024-01-02x10:00",
            "2024-01-02 10:00:00+02:00",
            "2024-02-30 10:00",
        ] {
            let why = bad_value(json!({"paid_at": bad}), "paid_at");
            assert!(why.contains("YYYY-MM-DD HH:MM"), "{bad}: {why}");
        }
        // Standard datetime columns are checked the same way.
        assert_eq!(
            one(json!({"creation": ["<", "2024-05-01"]})).values,
            vec![text("2024-05-01 00:00:00")]
        );
        bad_value(json!({"modified": "last week"}), "modified");
    }

    #[test]
    fn between_bare_dates_on_datetimes_cover_whole_days() {
        assert_eq!(
            one(json!([[
                "paid_at",
                "between",
                ["2024-01-01", "2024-01-31"]
            ]]))
            .values,
            vec![
                text("2024-01-01 00:00:00"),
                text("2024-01-31 23:59:59.999999")
            ]
        );
        assert_eq!(
            one(json!([[
                "paid_at",
                "between",
                ["2024-01-01 08:00", "2024-01-31 17:00"]
            ]]))
            .values,
            vec![text("2024-01-01 08:00:00"), text("2024-01-31 17:00:00")]
        );
        assert_eq!(
            one(json!([["grand_total", "between", [10, "20"]]])).values,
            vec![Value::Float(10.0), Value::Float(20.0)]
        );
        for bad in [
            json!(["2024-01-01"]),
            json!(["2024-01-01", "2024-01-02", "2024-01-03"]),
            json!("2024-01-01,2024-01-02"),
        ] {
            let why = bad_value(json!([["posting_date", "between", bad]]), "posting_date");
            assert!(why.contains("two values, [from, to]"), "{why}");
        }
        bad_value(
            json!([["posting_date", "between", ["2024-01-01", "soon"]]]),
            "posting_date",
        );
    }

    #[test]
    fn is_and_null() {
        assert_eq!(one(json!({"customer": null})).op, Op::IsNotSet);
        assert_eq!(one(json!([["customer", "!=", null]])).op, Op::IsSet);
        assert_eq!(one(json!([["customer", "is", " SET "]])).op, Op::IsSet);
        assert!(
            bad_value(json!([["customer", "is", "empty"]]), "customer")
                .contains("\"set\" or \"not set\"")
        );
        assert!(
            bad_value(json!([["grand_total", ">", null]]), "grand_total")
                .contains("\"is\", \"not set\"")
        );
        bad_value(json!([["status", "in", ["Paid", null]]]), "status");
    }

    #[test]
    fn standard_columns_are_typed() {
        assert_eq!(
            one(json!({"name": "SINV-00001"})),
            cond("name", FieldType::Data, Op::Eq, vec![text("SINV-00001")])
        );
        assert_eq!(
            one(json!({"owner": "a@example.com"})).fieldtype,
            FieldType::Data
        );
        assert_eq!(
            column_type(&invoice(), "modified"),
            Some(FieldType::Datetime)
        );
        assert_eq!(column_type(&item(), "idx"), Some(FieldType::Int));
        assert_eq!(column_type(&item(), "parent"), Some(FieldType::Data));
        // Parent tables have no row number or parent columns.
        assert_eq!(column_type(&invoice(), "idx"), None);
        assert_eq!(column_type(&invoice(), "parent"), None);
        assert_eq!(column_type(&invoice(), "items"), None);
        assert!(matches!(
            err(json!({"idx": 1})),
            FilterError::UnknownField { .. }
        ));
    }

    #[test]
    fn unknown_fields_and_operators_are_named() {
        let e = err(json!({"colour": "red"}));
        assert_eq!(
            e,
            FilterError::UnknownField {
                doctype: "Sales Invoice".into(),
                field: "colour".into()
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("Sales Invoice has no field `colour`") && msg.contains("creation"),
            "{msg}"
        );

        let e = err(json!([["status", "~", "Paid"]]));
        assert_eq!(e, FilterError::UnknownOperator("~".into()));
        assert!(
            e.to_string().contains("`~`") && e.to_string().contains("not in"),
            "{e}"
        );
        assert_eq!(
            err(json!([["customer", "descendants of", "X"]])),
            FilterError::UnknownOperator("descendants of".into())
        );
        assert_eq!(
            err(json!({"status": [1, "Paid"]})),
            FilterError::UnknownOperator("1".into())
        );
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            json!("status = 'Paid'"),
            json!(5),
            json!(["status = 'Paid'"]),
            json!([["status", "Paid"]]),
            json!([["Sales Invoice", "status", "=", "Paid", false, 1]]),
            json!([[5, "=", "Paid"]]),
            json!([7]),
            json!({"status": ["=", "Paid", "Draft"]}),
        ] {
            assert!(
                matches!(err(bad.clone()), FilterError::Malformed(_)),
                "{bad}"
            );
        }
        let e = err(json!(["1=1"]));
        assert!(e.to_string().contains("[field, operator, value]"), "{e}");
    }

    #[test]
    fn fields_default_list_and_star() {
        let d = invoice();
        assert_eq!(parse_fields(&json!(null), &d), Ok(vec!["name".to_owned()]));
        assert_eq!(parse_fields(&json!([]), &d), Ok(vec!["name".to_owned()]));
        assert_eq!(
            parse_fields(
                &json!(["grand_total", "name", "creation", "grand_total"]),
                &d
            ),
            Ok(vec![
                "grand_total".to_owned(),
                "name".into(),
                "creation".into()
            ])
        );
        assert_eq!(
            parse_fields(&json!("name, status"), &d),
            Ok(vec!["name".to_owned(), "status".into()])
        );
        assert_eq!(
            parse_fields(&json!(["`tabSales Invoice`.`status`", "`name`"]), &d),
            Ok(vec!["status".to_owned(), "name".into()])
        );
        let all = parse_fields(&json!(["*"]), &d).unwrap();
        assert_eq!(
            all,
            [
                "name",
                "owner",
                "creation",
                "modified",
                "modified_by",
                "customer",
                "status",
                "grand_total",
                "total_qty",
                "is_return",
                "posting_date",
                "paid_at",
                "remarks"
            ]
        );
        let child = parse_fields(&json!(["qty", "*"]), &item()).unwrap();
        assert_eq!(
            child,
            [
                "qty",
                "name",
                "owner",
                "creation",
                "modified",
                "modified_by",
                "parent",
                "parenttype",
                "parentfield",
                "idx",
                "item_code"
            ]
        );
    }

    #[test]
    fn fields_refuse_aggregates_unknowns_and_tables() {
        let d = invoice();
        for agg in [
            "count(name) as count",
            "sum(grand_total)",
            "name as id",
            "distinct customer",
        ] {
            let e = parse_fields(&json!(["name", agg]), &d).unwrap_err();
            assert_eq!(e, FilterError::Expression(agg.into()));
            assert!(
                e.to_string().contains("aggregates") && e.to_string().contains(agg),
                "{e}"
            );
        }
        assert_eq!(
            parse_fields(&json!(["colour"]), &d),
            Err(FilterError::UnknownField {
                doctype: "Sales Invoice".into(),
                field: "colour".into()
            })
        );
        assert!(matches!(
            parse_fields(&json!(["items"]), &d),
            Err(FilterError::TableField { .. })
        ));
        assert!(matches!(
            parse_fields(&json!(["idx"]), &d),
            Err(FilterError::UnknownField { .. })
        ));
        assert!(matches!(
            parse_fields(&json!(["`tabSales Invoice Item`.qty"]), &d),
            Err(FilterError::Malformed(_))
        ));
        assert!(matches!(
            parse_fields(&json!([1]), &d),
            Err(FilterError::Malformed(_))
        ));
        assert!(matches!(
            parse_fields(&json!({"a": 1}), &d),
            Err(FilterError::Malformed(_))
        ));
    }

    #[test]
    fn order_by_parses_directions() {
        let d = invoice();
        let key = |field: &str, descending| OrderBy {
            field: field.into(),
            descending,
        };
        assert_eq!(
            parse_order_by("posting_date desc", &d),
            Ok(vec![key("posting_date", true)])
        );
        assert_eq!(
            parse_order_by("grand_total asc, name desc", &d),
            Ok(vec![key("grand_total", false), key("name", true)])
        );
        assert_eq!(
            parse_order_by(" modified DESC ,customer", &d),
            Ok(vec![key("modified", true), key("customer", false)])
        );
        assert_eq!(
            parse_order_by("`tabSales Invoice`.`modified` desc", &d),
            Ok(vec![key("modified", true)])
        );
        assert_eq!(parse_order_by("", &d), Ok(vec![]));
        assert_eq!(parse_order_by("  ", &d), Ok(vec![]));
    }

    #[test]
    fn order_by_refuses_unknown_fields_and_odd_shapes() {
        let d = invoice();
        let e = parse_order_by("colour desc", &d).unwrap_err();
        assert_eq!(
            e,
            FilterError::UnknownField {
                doctype: "Sales Invoice".into(),
                field: "colour".into()
            }
        );
        assert!(matches!(
            parse_order_by("items", &d),
            Err(FilterError::TableField { .. })
        ));
        assert!(matches!(
            parse_order_by("count(name) desc", &d),
            Err(FilterError::Expression(_))
        ));
        for odd in [
            "name up",
            "name desc, ",
            "name desc nulls last",
            ",name",
            "name; drop table x",
        ] {
            let e = parse_order_by(odd, &d).unwrap_err();
            assert!(matches!(e, FilterError::Malformed(_)), "{odd}: {e:?}");
            assert!(e.to_string().contains("asc or desc"), "{e}");
        }
    }
}
