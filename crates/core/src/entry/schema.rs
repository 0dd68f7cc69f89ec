//! The 24 fields of an entry, written out once: their canonical order (the order of the
//! canonical bytes, of the log's columns and of an entry's JSON), what each holds, whether
//! it is always present, and its bound. Everything else that names the fields — the
//! canonical encoding, the bounds, the stores' column lists and migrations, the log
//! export — follows this table, and a test (`crates/store-tests`, `entry_schema`) holds
//! each of those lists against it.

/// What a field holds, as text in the canonical bytes and in the log's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number (an `INTEGER` / `BIGINT` column), written in decimal.
    Integer,
    /// Text (a `TEXT` column).
    Text,
    /// Canonical JSON text (a `TEXT` column).
    Json,
}

/// One field of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// Present in every entry (a `NOT NULL` column).
    pub required: bool,
    /// The most bytes a value may have before it is cut and marked (for `roles`, each
    /// role); `None` for fields the server makes itself, which are short by construction.
    pub bound: Option<usize>,
}

const fn field(name: &'static str, kind: Kind, required: bool, bound: Option<usize>) -> Field {
    Field {
        name,
        kind,
        required,
        bound,
    }
}

use Kind::{Integer, Json, Text};

/// The fields in canonical order.
pub const FIELDS: [Field; 24] = [
    field("seq", Integer, true, None),
    field("timestamp", Integer, true, None),
    field("user", Text, true, Some(320)),
    field("activity", Text, true, None),
    field("method", Text, true, Some(2048)),
    field("export_from", Text, false, Some(256)),
    field("reference_document", Text, false, Some(1024)),
    field("report_name", Text, false, Some(256)),
    field("print_format", Text, false, Some(256)),
    field("file_type", Text, false, Some(128)),
    field("filters", Json, false, Some(65_536)),
    field("columns", Json, false, Some(65_536)),
    field("page", Text, false, Some(1_048_576)),
    field("row_count", Integer, false, None),
    field("byte_count", Integer, false, None),
    field("content_sha256", Text, false, None),
    field("outcome", Text, true, None),
    field("reason", Text, false, Some(4096)),
    field("ip", Text, false, Some(128)),
    field("user_agent", Text, false, Some(512)),
    field("request_id", Text, false, Some(128)),
    field("roles", Json, true, Some(256)),
    field("auth", Text, false, Some(256)),
    field("source", Text, true, Some(256)),
];

/// The fields' names, in canonical order.
pub const NAMES: [&str; 24] = {
    let mut names = [""; 24];
    let mut i = 0;
    while i < FIELDS.len() {
        names[i] = FIELDS[i].name;
        i += 1;
    }
    names
};

/// How many fields have a bound.
const BOUNDED: usize = {
    let (mut i, mut n) = (0, 0);
    while i < FIELDS.len() {
        if FIELDS[i].bound.is_some() {
            n += 1;
        }
        i += 1;
    }
    n
};

/// `(name, bound)` of each bounded field, in canonical order.
pub const BOUNDS: [(&str, usize); BOUNDED] = {
    let mut out = [("", 0); BOUNDED];
    let (mut i, mut k) = (0, 0);
    while i < FIELDS.len() {
        if let Some(bound) = FIELDS[i].bound {
            out[k] = (FIELDS[i].name, bound);
            k += 1;
        }
        i += 1;
    }
    out
};

/// The log's column list (`seq, timestamp, "user", …`): the names in canonical order,
/// `user` quoted (a reserved word in SQL).
pub fn column_list() -> String {
    NAMES
        .iter()
        .map(|n| {
            if *n == "user" {
                "\"user\"".to_owned()
            } else {
                (*n).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
