//! Every list of an entry's fields in the stores, held against the one list in core
//! (`accesslog_core::entry::schema`): the column list the reads use, both backends'
//! inserts, both backends' migrations and the SQLite log file's tables. A field added,
//! dropped, renamed, retyped or moved in one place and not the others fails here.
//! (Core's own tests hold the canonical bytes, the JSON and the bounds against it.)

use accesslog_core::entry::schema::{FIELDS, Kind, NAMES, column_list};

/// A column as a `CREATE TABLE` declares it: name, type, and whether it may be NULL.
#[derive(Debug, PartialEq)]
struct Column {
    name: String,
    ty: String,
    not_null: bool,
}

/// The columns of the `access_log` table that `sql` creates, comments dropped.
fn access_log_columns(sql: &str) -> Vec<Column> {
    let start = sql
        .find("access_log (")
        .unwrap_or_else(|| panic!("no CREATE TABLE access_log in {sql}"));
    let body = &sql[start + "access_log (".len()..];
    let body = &body[..body.find("\n);").expect("the table's end")];
    body.lines()
        .map(|line| line.split("--").next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let words: Vec<&str> = line.trim_end_matches(',').split_whitespace().collect();
            Column {
                name: words[0].trim_matches('"').to_owned(),
                ty: words[1].to_owned(),
                not_null: words.windows(2).any(|w| w == ["NOT", "NULL"])
                    || words.contains(&"PRIMARY"),
            }
        })
        .collect()
}

/// The columns core's schema calls for, then `leaf_hash`, with the backend's types.
fn expected_columns(integer: &str, bytes: &str) -> Vec<Column> {
    FIELDS
        .iter()
        .map(|f| Column {
            name: f.name.to_owned(),
            ty: match f.kind {
                Kind::Integer => integer.to_owned(),
                Kind::Text | Kind::Json => "TEXT".to_owned(),
            },
            not_null: f.required,
        })
        .chain([Column {
            name: "leaf_hash".to_owned(),
            ty: bytes.to_owned(),
            not_null: true,
        }])
        .collect()
}

/// The column names of `INSERT INTO access_log (…)` in `sql`.
fn insert_columns(sql: &str) -> Vec<String> {
    let start = sql.find("INSERT INTO access_log (").expect("an insert") + 24;
    let end = start + sql[start..].find(')').expect("the list's end");
    sql[start..end]
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_owned())
        .collect()
}

fn names_then_leaf_hash() -> Vec<String> {
    NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .chain(["leaf_hash".to_owned()])
        .collect()
}

#[test]
fn the_read_column_list_is_the_schemas() {
    assert_eq!(accesslog_store::log::ENTRY_COLUMNS, column_list());
    assert_eq!(accesslog_store::log::ENTRY_FIELDS, NAMES);
}

#[test]
fn sqlite_tables_and_insert_follow_the_schema() {
    use accesslog_store_sqlite::entry_sql;
    let expected = expected_columns("INTEGER", "BLOB");
    assert_eq!(access_log_columns(entry_sql::MIGRATION), expected, "0002");
    assert_eq!(
        access_log_columns(&entry_sql::log_tables()),
        expected,
        "the log file's tables"
    );
    assert_eq!(insert_columns(entry_sql::INSERT), names_then_leaf_hash());
    let placeholders = entry_sql::INSERT.matches('?').count();
    assert_eq!(placeholders, NAMES.len() + 1, "one value per column");
}

#[test]
fn postgres_table_and_insert_follow_the_schema() {
    use accesslog_store_postgres::entry_sql;
    assert_eq!(
        access_log_columns(entry_sql::MIGRATION),
        expected_columns("BIGINT", "BYTEA"),
        "0002"
    );
    assert_eq!(insert_columns(entry_sql::INSERT), names_then_leaf_hash());
    // UNNEST's arrays, one per column, in order, each of its column's type.
    let casts: Vec<&str> = entry_sql::INSERT
        .split("::")
        .skip(1)
        .map(|rest| rest.split("[]").next().unwrap_or(""))
        .collect();
    let expected: Vec<&str> = FIELDS
        .iter()
        .map(|f| match f.kind {
            Kind::Integer => "BIGINT",
            Kind::Text | Kind::Json => "TEXT",
        })
        .chain(["BYTEA"])
        .collect();
    assert_eq!(casts, expected);
}
