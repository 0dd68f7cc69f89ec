//! Documents of site-defined types: their tables and the SQL both backends share. Table
//! and column names come only from validated document types (`tab_…`, fieldnames checked
//! by `is_valid_fieldname`), values are always bound, never spliced.

use std::collections::BTreeMap;

use accesslog_core::doctype::{DocType, Field, FieldType};
use accesslog_core::filters::Condition;

use crate::sql::SqlRow;

/// Which database a store is, and so which SQL to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `"sqlite"` or `"postgres"`, as logs and the health endpoint name it.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    /// The names of a table's columns (`$1`: the table), one per row.
    pub fn existing_columns_sql(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT name FROM pragma_table_info($1)",
            Dialect::Postgres => {
                "SELECT column_name::TEXT FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A value as stored in a document column.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum SqlValue {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

/// One stored record: its name, its column values (standard columns included), and for a
/// parent, its child rows by table field.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Document {
    pub name: String,
    #[serde(flatten)]
    pub values: BTreeMap<String, SqlValue>,
    #[serde(flatten)]
    pub children: BTreeMap<String, Vec<BTreeMap<String, SqlValue>>>,
}

/// The column type of a field on `dialect`. Dates and datetimes are ISO text, which sorts
/// and compares correctly on both backends.
pub fn column_type(fieldtype: FieldType, dialect: Dialect) -> &'static str {
    match (fieldtype, dialect) {
        (FieldType::Int | FieldType::Check, Dialect::Sqlite) => "INTEGER",
        (FieldType::Int | FieldType::Check, Dialect::Postgres) => "BIGINT",
        (FieldType::Float | FieldType::Currency, Dialect::Sqlite) => "REAL",
        (FieldType::Float | FieldType::Currency, Dialect::Postgres) => "DOUBLE PRECISION",
        _ => "TEXT",
    }
}

/// `CREATE TABLE IF NOT EXISTS` for a type, with the standard columns and its own.
pub fn create_table_sql(doctype: &DocType, dialect: Dialect) -> String {
    let mut cols = vec![
        "name TEXT PRIMARY KEY".to_owned(),
        "owner TEXT".to_owned(),
        "creation TEXT".to_owned(),
        "modified TEXT".to_owned(),
        "modified_by TEXT".to_owned(),
    ];
    if doctype.is_child {
        cols.extend(["parent TEXT", "parenttype TEXT", "parentfield TEXT"].map(str::to_owned));
        cols.push(format!("idx {}", column_type(FieldType::Int, dialect)));
    }
    for f in doctype.fields.iter().filter(|f| f.fieldtype.has_column()) {
        cols.push(format!(
            "{} {}",
            f.fieldname,
            column_type(f.fieldtype, dialect)
        ));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        doctype.table_name(),
        cols.join(", ")
    )
}

/// The statements that bring an existing table (with `existing` columns) up to the
/// definition: new fields become new columns; columns of removed fields stay (their data
/// is kept until an explicit migrate).
pub fn add_columns_sql(doctype: &DocType, existing: &[String], dialect: Dialect) -> Vec<String> {
    doctype
        .fields
        .iter()
        .filter(|f| f.fieldtype.has_column() && !existing.iter().any(|c| c == &f.fieldname))
        .map(|f| {
            format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                doctype.table_name(),
                f.fieldname,
                column_type(f.fieldtype, dialect)
            )
        })
        .collect()
}

/// The columns of a type's table that no field defines any more (kept, with their data,
/// until an explicit migrate drops them). Only safe identifiers are returned.
pub fn removed_columns(doctype: &DocType, existing: Vec<String>) -> Vec<String> {
    let standard = accesslog_core::doctype::STANDARD_COLUMNS;
    existing
        .into_iter()
        .filter(|c| !standard.contains(&c.as_str()))
        .filter(|c| doctype.field(c).is_none_or(|f| !f.fieldtype.has_column()))
        .filter(|c| {
            c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        })
        .collect()
}

/// Indexes that serve the list view and reports: children by parent, records by
/// modification, and each field marked `search_index` (each then by name, the tie-break of
/// every order).
pub fn index_sql(doctype: &DocType) -> Vec<String> {
    let t = doctype.table_name();
    if doctype.is_child {
        vec![format!(
            "CREATE INDEX IF NOT EXISTS {t}_parent ON {t} (parent, idx)"
        )]
    } else {
        // The list view's default order, so that its pages (by keyset) are index seeks;
        // then the fields marked `search_index`, each with `name` for a total order.
        std::iter::once(format!(
            "CREATE INDEX IF NOT EXISTS {t}_modified_name ON {t} (modified, name)"
        ))
        .chain(column_fields(doctype).filter(|f| f.search_index).map(|f| {
            let c = &f.fieldname;
            format!("CREATE INDEX IF NOT EXISTS {t}_{c}_name ON {t} ({c}, name)")
        }))
        .collect()
    }
}

/// The index [`index_sql`] makes for a field marked `search_index`: dropped before its
/// column is (SQLite will not drop an indexed column).
pub fn drop_field_index_sql(doctype: &DocType, column: &str) -> String {
    format!(
        "DROP INDEX IF EXISTS {}_{column}_name",
        doctype.table_name()
    )
}

/// The column fields of a type, in definition order.
pub fn column_fields(doctype: &DocType) -> impl Iterator<Item = &Field> {
    doctype.fields.iter().filter(|f| f.fieldtype.has_column())
}

/// The columns to read for a type: `name`, the standard columns, then its fields. Listing
/// them (rather than `*`) keeps a cached statement valid after the table gains columns.
pub fn select_columns(doctype: &DocType) -> String {
    let mut cols: Vec<&str> = accesslog_core::filters::standard_columns(doctype).to_vec();
    cols.extend(column_fields(doctype).map(|f| f.fieldname.as_str()));
    cols.join(", ")
}

/// `INSERT INTO tab (cols…) VALUES ($1…)` for the given columns. On PostgreSQL each
/// parameter is cast to its column's type, so that a NULL (bound without a type) fits any
/// column.
pub fn insert_sql(table: &str, columns: &[(&str, &str)], dialect: Dialect) -> String {
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let params: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| match dialect {
            Dialect::Sqlite => format!("${}", i + 1),
            Dialect::Postgres => format!("${}::{ty}", i + 1),
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        params.join(", ")
    )
}

/// Reads the known columns of a document row (standard ones and the type's fields) from a
/// row of either backend, typed by the field definitions.
pub fn document_values(
    row: &impl SqlRow,
    doctype: &DocType,
) -> crate::StoreResult<BTreeMap<String, SqlValue>> {
    let mut values = BTreeMap::new();
    let text = |v: Option<String>| v.map_or(SqlValue::Null, SqlValue::Text);
    // Text standard columns (name is the document's own; idx is a number, read below).
    let standard = accesslog_core::filters::standard_columns(doctype)
        .iter()
        .filter(|c| !["name", "idx"].contains(c));
    for col in standard {
        values.insert((*col).to_owned(), text(row.get::<Option<String>>(*col)?));
    }
    if doctype.is_child {
        values.insert(
            "idx".to_owned(),
            row.get::<Option<i64>>("idx")?
                .map_or(SqlValue::Null, SqlValue::Int),
        );
    }
    for f in column_fields(doctype) {
        let name = f.fieldname.as_str();
        let value = match f.fieldtype {
            FieldType::Int | FieldType::Check => row
                .get::<Option<i64>>(name)?
                .map_or(SqlValue::Null, SqlValue::Int),
            FieldType::Float | FieldType::Currency => row
                .get::<Option<f64>>(name)?
                .map_or(SqlValue::Null, SqlValue::Float),
            _ => text(row.get::<Option<String>>(name)?),
        };
        values.insert(name.to_owned(), value);
    }
    Ok(values)
}

/// The columns (with their types) and values to insert for one row: the given standard
/// columns, then every column field (absent values as NULL).
pub fn row_columns<'a>(
    doctype: &'a DocType,
    standard: Vec<(&'a str, SqlValue)>,
    values: &BTreeMap<String, SqlValue>,
    dialect: Dialect,
) -> (Vec<(&'a str, &'static str)>, Vec<SqlValue>) {
    let mut cols = Vec::new();
    let mut vals = Vec::new();
    for (c, v) in standard {
        let ty = if c == "idx" {
            column_type(FieldType::Int, dialect)
        } else {
            "TEXT"
        };
        cols.push((c, ty));
        vals.push(v);
    }
    for f in column_fields(doctype) {
        cols.push((f.fieldname.as_str(), column_type(f.fieldtype, dialect)));
        vals.push(values.get(&f.fieldname).cloned().unwrap_or(SqlValue::Null));
    }
    (cols, vals)
}

/// What a list asks for, already parsed and checked against the type.
#[derive(Debug)]
pub struct ListQuery<'a> {
    pub conditions: &'a [Condition],
    /// Columns to return, validated (see `accesslog_core::filters::parse_fields`).
    pub fields: &'a [String],
    /// Empty: most recently modified first.
    pub order_by: &'a [accesslog_core::filters::OrderBy],
    pub limit: u32,
    pub offset: u64,
    /// Frappe's `or_filters`: when not empty, at least one of these must match too.
    pub any_of: &'a [Condition],
    /// Keyset paging: the `order_by` values of the last row already shown; rows after it
    /// come next. Needs every `order_by` column non-null and one direction for all.
    pub after: Option<&'a [SqlValue]>,
}

/// The SQL and bound values for a list. Conditions on a child type's field match a
/// parent that has at least one such row.
pub fn list_sql(
    doctype: &DocType,
    children: &[(&str, &DocType)],
    q: &ListQuery<'_>,
    dialect: Dialect,
) -> (String, Vec<SqlValue>) {
    use accesslog_core::filters::{Op, Value};
    let mut binds: Vec<SqlValue> = Vec::new();
    let param = |v: &Value, binds: &mut Vec<SqlValue>| -> String {
        binds.push(match v {
            Value::Int(i) => SqlValue::Int(*i),
            Value::Float(f) => SqlValue::Float(*f),
            Value::Text(t) => SqlValue::Text(t.clone()),
        });
        format!("${}", binds.len())
    };
    let mut wheres = Vec::new();
    let render = |c: &Condition, binds: &mut Vec<SqlValue>| -> Option<String> {
        let (alias, child) = if c.doctype == doctype.name {
            ("t", None)
        } else {
            let (_, d) = children.iter().find(|(_, d)| d.name == c.doctype)?;
            ("c", Some(*d))
        };
        let col = format!("{alias}.{}", c.field);
        let numeric = c.fieldtype.is_numeric();
        let text_col = match dialect {
            Dialect::Postgres if numeric => format!("CAST({col} AS TEXT)"),
            _ => col.clone(),
        };
        let like = if dialect == Dialect::Postgres {
            "ILIKE"
        } else {
            "LIKE"
        };
        let sql = match c.op {
            Op::Eq | Op::Lt | Op::Gt | Op::Le | Op::Ge => match c.values.first() {
                Some(v) => format!("{col} {} {}", c.op.as_str(), param(v, binds)),
                None => "1 = 0".to_owned(),
            },
            Op::Ne => match c.values.first() {
                Some(v) => format!("({col} <> {} OR {col} IS NULL)", param(v, binds)),
                None => "1 = 1".to_owned(),
            },
            Op::Like => match c.values.first() {
                Some(v) => format!("{text_col} {like} {}", param(v, binds)),
                None => "1 = 0".to_owned(),
            },
            Op::NotLike => match c.values.first() {
                Some(v) => format!(
                    "({text_col} NOT {like} {} OR {col} IS NULL)",
                    param(v, binds)
                ),
                None => "1 = 1".to_owned(),
            },
            Op::In | Op::NotIn => {
                let list: Vec<String> = c.values.iter().map(|v| param(v, binds)).collect();
                match (c.op, list.is_empty()) {
                    (Op::In, true) => "1 = 0".to_owned(),
                    (Op::In, false) => format!("{col} IN ({})", list.join(", ")),
                    (_, true) => "1 = 1".to_owned(),
                    (_, false) => format!("({col} NOT IN ({}) OR {col} IS NULL)", list.join(", ")),
                }
            }
            Op::Between => match (c.values.first(), c.values.get(1)) {
                (Some(a), Some(b)) => {
                    let (a, b) = (param(a, binds), param(b, binds));
                    format!("{col} BETWEEN {a} AND {b}")
                }
                _ => "1 = 0".to_owned(),
            },
            Op::IsSet if numeric => format!("{col} IS NOT NULL"),
            Op::IsSet => format!("({col} IS NOT NULL AND {col} <> '')"),
            Op::IsNotSet if numeric => format!("{col} IS NULL"),
            Op::IsNotSet => format!("({col} IS NULL OR {col} = '')"),
        };
        Some(match child {
            None => sql,
            Some(child) => {
                binds.push(SqlValue::Text(doctype.name.clone()));
                format!(
                    "EXISTS (SELECT 1 FROM {} c WHERE c.parent = t.name AND c.parenttype = ${} AND {sql})",
                    child.table_name(),
                    binds.len()
                )
            }
        })
    };
    for c in q.conditions {
        if let Some(sql) = render(c, &mut binds) {
            wheres.push(sql);
        }
    }
    let any: Vec<String> = q
        .any_of
        .iter()
        .filter_map(|c| render(c, &mut binds))
        .collect();
    if !any.is_empty() {
        wheres.push(format!("({})", any.join(" OR ")));
    }
    if let Some(after) = q
        .after
        .filter(|a| a.len() == q.order_by.len() && !a.is_empty())
    {
        let descending = q.order_by.first().is_some_and(|o| o.descending);
        let cols: Vec<String> = q
            .order_by
            .iter()
            .map(|o| format!("t.{}", o.field))
            .collect();
        let params: Vec<String> = after
            .iter()
            .map(|v| {
                binds.push(v.clone());
                format!("${}", binds.len())
            })
            .collect();
        wheres.push(format!(
            "({}) {} ({})",
            cols.join(", "),
            if descending { "<" } else { ">" },
            params.join(", ")
        ));
    }
    let columns: Vec<String> = q.fields.iter().map(|f| format!("t.{f}")).collect();
    let order: Vec<String> = if q.order_by.is_empty() {
        vec!["t.modified DESC".to_owned(), "t.name DESC".to_owned()]
    } else {
        q.order_by
            .iter()
            .map(|o| {
                format!(
                    "t.{} {}",
                    o.field,
                    if o.descending { "DESC" } else { "ASC" }
                )
            })
            .collect()
    };
    let mut sql = format!(
        "SELECT {} FROM {} t",
        columns.join(", "),
        doctype.table_name()
    );
    if !wheres.is_empty() {
        sql.push_str(&format!(" WHERE {}", wheres.join(" AND ")));
    }
    sql.push_str(&format!(
        " ORDER BY {} LIMIT {} OFFSET {}",
        order.join(", "),
        q.limit,
        q.offset
    ));
    (sql, binds)
}

/// Reads the selected columns of a list row, typed by the document type.
pub fn selected_values(
    row: &impl SqlRow,
    doctype: &DocType,
    fields: &[String],
) -> crate::StoreResult<BTreeMap<String, SqlValue>> {
    let mut values = BTreeMap::new();
    for (i, f) in fields.iter().enumerate() {
        let value = match accesslog_core::filters::column_type(doctype, f) {
            Some(FieldType::Int | FieldType::Check) => row
                .get::<Option<i64>>(i)?
                .map_or(SqlValue::Null, SqlValue::Int),
            Some(FieldType::Float | FieldType::Currency) => row
                .get::<Option<f64>>(i)?
                .map_or(SqlValue::Null, SqlValue::Float),
            _ => row
                .get::<Option<String>>(i)?
                .map_or(SqlValue::Null, SqlValue::Text),
        };
        values.insert(f.clone(), value);
    }
    Ok(values)
}

/// `UPDATE tab SET a = $1, b = $2 WHERE name = $3` for the given columns (which must be
/// the type's own or standard ones, checked by the caller).
pub fn update_sql(doctype: &DocType, columns: &[(&str, &str)], dialect: Dialect) -> String {
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (c, ty))| match dialect {
            Dialect::Sqlite => format!("{c} = ${}", i + 1),
            Dialect::Postgres => format!("{c} = ${}::{ty}", i + 1),
        })
        .collect();
    format!(
        "UPDATE {} SET {} WHERE name = ${}",
        doctype.table_name(),
        sets.join(", "),
        columns.len() + 1
    )
}

/// The columns and values of an update: only known columns, typed.
pub fn update_columns<'a>(
    doctype: &'a DocType,
    values: &'a BTreeMap<String, SqlValue>,
    dialect: Dialect,
) -> (Vec<(&'a str, &'static str)>, Vec<SqlValue>) {
    let mut cols = Vec::new();
    let mut vals = Vec::new();
    for (k, v) in values {
        let ty = match doctype.field(k) {
            Some(f) if f.fieldtype.has_column() => column_type(f.fieldtype, dialect),
            None if ["owner", "modified", "modified_by"].contains(&k.as_str()) => "TEXT",
            _ => continue,
        };
        cols.push((k.as_str(), ty));
        vals.push(v.clone());
    }
    (cols, vals)
}

#[cfg(test)]
mod tests {
    use accesslog_core::doctype::{Naming, Permission};

    use super::*;

    fn doctype(is_child: bool) -> DocType {
        let field = |n: &str, t| Field {
            fieldname: n.into(),
            label: n.into(),
            fieldtype: t,
            options: None,
            reqd: false,
            in_list_view: false,
            search_index: false,
        };
        DocType {
            name: if is_child {
                "Sales Invoice Item".into()
            } else {
                "Sales Invoice".into()
            },
            is_child,
            naming: Naming::Hash,
            fields: vec![
                field("customer", FieldType::Link),
                field("grand_total", FieldType::Currency),
                field("items", FieldType::Table),
                field("qty", FieldType::Int),
            ],
            permissions: BTreeMap::from([("X".to_owned(), Permission::default())]),
            log_reads: true,
        }
    }

    #[test]
    fn tables_have_standard_and_typed_columns() {
        let sql = create_table_sql(&doctype(false), Dialect::Postgres);
        assert_eq!(
            sql,
            "CREATE TABLE IF NOT EXISTS tab_sales_invoice (name TEXT PRIMARY KEY, owner TEXT, creation TEXT, modified TEXT, modified_by TEXT, customer TEXT, grand_total DOUBLE PRECISION, qty BIGINT)"
        );
        let child = create_table_sql(&doctype(true), Dialect::Sqlite);
        assert!(
            child.contains("parent TEXT, parenttype TEXT, parentfield TEXT, idx INTEGER"),
            "{child}"
        );
        assert!(child.contains("grand_total REAL"), "{child}");
    }

    #[test]
    fn fields_marked_search_index_are_indexed_with_the_name() {
        let mut invoice = doctype(false);
        assert_eq!(
            index_sql(&invoice),
            [
                "CREATE INDEX IF NOT EXISTS tab_sales_invoice_modified_name ON tab_sales_invoice (modified, name)"
            ]
        );
        invoice.fields[0].search_index = true;
        assert_eq!(
            index_sql(&invoice)[1..],
            [
                "CREATE INDEX IF NOT EXISTS tab_sales_invoice_customer_name ON tab_sales_invoice (customer, name)"
            ]
        );
        assert_eq!(
            drop_field_index_sql(&invoice, "customer"),
            "DROP INDEX IF EXISTS tab_sales_invoice_customer_name"
        );
    }

    #[test]
    fn only_new_fields_are_added() {
        let existing = vec![
            "name".to_owned(),
            "customer".to_owned(),
            "old_field".to_owned(),
        ];
        assert_eq!(
            add_columns_sql(&doctype(false), &existing, Dialect::Sqlite),
            [
                "ALTER TABLE tab_sales_invoice ADD COLUMN grand_total REAL",
                "ALTER TABLE tab_sales_invoice ADD COLUMN qty INTEGER"
            ]
        );
    }

    #[test]
    fn inserts_bind_every_value() {
        let cols = [("name", "TEXT"), ("a", "BIGINT")];
        assert_eq!(
            insert_sql("tab_x", &cols, Dialect::Sqlite),
            "INSERT INTO tab_x (name, a) VALUES ($1, $2)"
        );
        assert_eq!(
            insert_sql("tab_x", &cols, Dialect::Postgres),
            "INSERT INTO tab_x (name, a) VALUES ($1::TEXT, $2::BIGINT)"
        );
    }
}
