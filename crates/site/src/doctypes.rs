//! A site's document types, read from `doctypes/*.toml` (one file per type). Types are
//! checked together, since a link or table field must name another type: a problem is
//! reported with its file and line, and says how to fix it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use accesslog_core::SYSTEM_MANAGER;
use accesslog_core::doctype::{
    DocType, Field, FieldType, Naming, Permission, STANDARD_COLUMNS, is_valid_fieldname,
};
use serde::Deserialize;
use toml::Spanned;

use crate::SiteError;

/// All of a site's document types, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocTypes {
    types: BTreeMap<String, DocType>,
}

impl DocTypes {
    /// Reads `site_dir/doctypes/*.toml` in file-name order (no folder means no types) and
    /// checks them. `known_roles` are the site's roles; `System Manager` is always known.
    pub fn load(site_dir: &Path, known_roles: &[String]) -> Result<DocTypes, SiteError> {
        let mut types = Vec::new();
        // Where each of `types` was read from.
        let mut files = Vec::new();
        for path in toml_files(&site_dir.join("doctypes"))? {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| SiteError::Io(path.clone(), e.to_string()))?;
            let (doctype, lines) = parse_file(&text, known_roles)
                .map_err(|(line, msg)| SiteError::Parse(path.clone(), at_line(line, msg)))?;
            types.push(doctype);
            files.push((path, lines));
        }
        let origin = |i: usize| {
            let path = &files[i].0;
            path.strip_prefix(site_dir)
                .unwrap_or(path)
                .display()
                .to_string()
        };
        validate(&types, &origin).map_err(|p| {
            let (path, lines) = &files[p.type_index];
            let line = match p.at {
                At::Name => lines.name,
                At::Naming => lines.naming,
                At::Fieldname(f) => lines.fields[f].fieldname,
                At::Options(f) => lines.fields[f].options,
            };
            SiteError::Parse(path.clone(), at_line(Some(line), p.message))
        })?;
        Ok(Self::from_valid(types))
    }

    /// The same checks as [`DocTypes::load`] across `types` (except roles, which it is not
    /// given), for tests and callers that build types in code. Child types' naming is set
    /// to [`Naming::Hash`], as when loaded.
    pub fn from_types(mut types: Vec<DocType>) -> Result<DocTypes, String> {
        for t in types.iter_mut().filter(|t| t.is_child) {
            t.naming = Naming::Hash;
        }
        let describe = |i: usize| match types[i].name.as_str() {
            "" => format!("the type at position {}", i + 1),
            name => format!("type {name:?}"),
        };
        validate(&types, &describe)
            .map_err(|p| format!("{}: {}", describe(p.type_index), p.message))?;
        Ok(Self::from_valid(types))
    }

    fn from_valid(types: Vec<DocType>) -> DocTypes {
        DocTypes {
            types: types.into_iter().map(|t| (t.name.clone(), t)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&DocType> {
        self.types.get(name)
    }

    /// All types, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &DocType> {
        self.types.values()
    }

    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// `parent`'s table fields, each with the child type its rows are.
    pub fn children_of<'a>(
        &'a self,
        parent: &'a DocType,
    ) -> impl Iterator<Item = (&'a Field, &'a DocType)> {
        parent
            .fields
            .iter()
            .filter(|f| f.fieldtype == FieldType::Table)
            .filter_map(|f| Some((f, self.get(f.options.as_deref()?)?)))
    }

    /// `children_of` as (table fieldname, child type), the shape storage asks for.
    pub fn child_tables<'a>(&'a self, parent: &'a DocType) -> Vec<(&'a str, &'a DocType)> {
        self.children_of(parent)
            .map(|(f, d)| (f.fieldname.as_str(), d))
            .collect()
    }
}

fn at_line(line: Option<usize>, msg: String) -> String {
    match line {
        Some(n) => format!("line {n}: {msg}"),
        None => msg,
    }
}

/// The `*.toml` files directly in `dir`, sorted; none if `dir` does not exist.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, SiteError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SiteError::Io(dir.to_path_buf(), e.to_string())),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| SiteError::Io(dir.to_path_buf(), e.to_string()))?
            .path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

// ---- one file ------------------------------------------------------------------------

/// A file as written, with the spans of what later checks may need to point at.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocType {
    name: Option<Spanned<String>>,
    naming: Option<Spanned<String>>,
    #[serde(default)]
    is_child: bool,
    #[serde(default)]
    fields: Vec<Spanned<RawField>>,
    #[serde(default)]
    permissions: BTreeMap<Spanned<String>, Permission>,
    /// `false`: reads of this type are not recorded.
    log_reads: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    fieldname: Option<Spanned<String>>,
    label: Option<String>,
    fieldtype: Option<Spanned<String>>,
    options: Option<Spanned<toml::Value>>,
    #[serde(default)]
    reqd: bool,
    #[serde(default)]
    in_list_view: bool,
    #[serde(default)]
    search_index: bool,
}

/// Where, in its file, each part of a type is written (1-based lines).
struct Lines {
    name: usize,
    naming: usize,
    fields: Vec<FieldLines>,
}

struct FieldLines {
    fieldname: usize,
    options: usize,
}

const FIELDTYPES: [FieldType; 11] = [
    FieldType::Data,
    FieldType::Text,
    FieldType::Int,
    FieldType::Float,
    FieldType::Currency,
    FieldType::Date,
    FieldType::Datetime,
    FieldType::Check,
    FieldType::Select,
    FieldType::Link,
    FieldType::Table,
];

const NAMING_FORMS: &str =
    r#"a series like "SINV-.#####", "field:<fieldname>", "prompt" or "hash""#;

/// Parses one file; an error is its line (when known) and message.
fn parse_file(
    text: &str,
    known_roles: &[String],
) -> Result<(DocType, Lines), (Option<usize>, String)> {
    let line = |span: std::ops::Range<usize>| line_of(text, span.start);
    let raw: RawDocType = toml::from_str(text).map_err(|e| {
        let mut msg = e.message().trim_end().replace('\n', "; ");
        if msg.starts_with("unknown field") {
            msg.push_str("; fix the key's spelling or remove it");
        }
        (e.span().map(&line), msg)
    })?;

    let Some(name) = raw.name else {
        return Err((
            None,
            r#"the type has no name: add a first line like name = "Sales Invoice""#.to_owned(),
        ));
    };
    let (naming, naming_line) = match (&raw.naming, raw.is_child) {
        // A child's rows are named by the server; whatever is written is not used.
        (_, true) => (Naming::Hash, line(name.span())),
        (None, false) => {
            return Err((
                None,
                format!("the type has no naming: add naming = {NAMING_FORMS}"),
            ));
        }
        (Some(n), false) => (
            parse_naming(n.get_ref()).map_err(|msg| (Some(line(n.span())), msg))?,
            line(n.span()),
        ),
    };

    let mut fields = Vec::new();
    let mut field_lines = Vec::new();
    for (i, raw_field) in raw.fields.into_iter().enumerate() {
        let table_line = line(raw_field.span());
        let f = raw_field.into_inner();
        let Some(fieldname) = f.fieldname else {
            return Err((
                Some(table_line),
                format!(
                    "field #{} has no fieldname: add one like fieldname = \"customer_name\"",
                    i + 1
                ),
            ));
        };
        let fieldname_line = line(fieldname.span());
        let fieldname = fieldname.into_inner();
        let Some(fieldtype) = f.fieldtype else {
            return Err((
                Some(fieldname_line),
                format!(
                    "field `{fieldname}` has no fieldtype: add fieldtype = one of {}",
                    fieldtype_list()
                ),
            ));
        };
        let fieldtype_value = FIELDTYPES
            .into_iter()
            .find(|t| t.as_str() == fieldtype.get_ref())
            .ok_or_else(|| {
                (
                    Some(line(fieldtype.span())),
                    format!(
                        "field `{fieldname}`: {:?} is not a fieldtype; use one of {}",
                        fieldtype.get_ref(),
                        fieldtype_list()
                    ),
                )
            })?;
        let (options, options_line) = match f.options {
            None => (None, fieldname_line),
            Some(o) => {
                let options_line = line(o.span());
                let options = options_text(fieldtype_value, o.into_inner()).ok_or_else(|| {
                    (
                        Some(options_line),
                        format!(
                            "field `{fieldname}`: options must be text (a type's name, or the \
                             choices one per line) or a list of strings like [\"Open\", \"Closed\"]"
                        ),
                    )
                })?;
                (Some(options), options_line)
            }
        };
        if f.search_index && !fieldtype_value.has_column() {
            return Err((
                Some(fieldname_line),
                format!(
                    "field `{fieldname}` is a table, which has no column to index: remove \
                     search_index = true"
                ),
            ));
        }
        let label = match f.label {
            Some(l) if !l.trim().is_empty() => l,
            _ => default_label(&fieldname),
        };
        fields.push(Field {
            fieldname,
            label,
            fieldtype: fieldtype_value,
            options,
            reqd: f.reqd,
            in_list_view: f.in_list_view,
            search_index: f.search_index,
        });
        field_lines.push(FieldLines {
            fieldname: fieldname_line,
            options: options_line,
        });
    }

    let mut permissions = BTreeMap::new();
    for (role, permission) in raw.permissions {
        let known = role.get_ref() == SYSTEM_MANAGER || known_roles.contains(role.get_ref());
        if !known {
            let mut roles: Vec<&str> = known_roles.iter().map(String::as_str).collect();
            roles.push(SYSTEM_MANAGER);
            roles.sort_unstable();
            roles.dedup();
            return Err((
                Some(line(role.span())),
                format!(
                    "{:?} is not one of this site's roles ({}); fix the spelling, or add the \
                     role to roles in site.toml",
                    role.get_ref(),
                    roles.join(", ")
                ),
            ));
        }
        permissions.insert(role.into_inner(), permission);
    }

    let lines = Lines {
        name: line(name.span()),
        naming: naming_line,
        fields: field_lines,
    };
    let doctype = DocType {
        name: name.into_inner(),
        is_child: raw.is_child,
        naming,
        fields,
        permissions,
        log_reads: raw.log_reads.unwrap_or(true),
    };
    Ok((doctype, lines))
}

/// The 1-based line that byte `offset` of `text` is on.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn fieldtype_list() -> String {
    FIELDTYPES.map(FieldType::as_str).join(", ")
}

fn parse_naming(naming: &str) -> Result<Naming, String> {
    match naming {
        "prompt" => Ok(Naming::Prompt),
        "hash" => Ok(Naming::Hash),
        _ => {
            if let Some(field) = naming.strip_prefix("field:") {
                Ok(Naming::Field(field.trim().to_owned()))
            } else if naming.contains('#') || naming.contains('.') {
                // Checked with the other types' rules, so code-built types get it too.
                Ok(Naming::Series(naming.to_owned()))
            } else {
                Err(format!(
                    "naming {naming:?} is not one this server knows; use {NAMING_FORMS}"
                ))
            }
        }
    }
}

/// Select choices are stored one per line, trimmed; anything else is kept as written.
/// `None` when the value is neither a string nor a list of strings.
fn options_text(fieldtype: FieldType, value: toml::Value) -> Option<String> {
    let lines: Vec<String> = match value {
        toml::Value::String(s) if fieldtype != FieldType::Select => {
            return Some(s.trim().to_owned());
        }
        toml::Value::String(s) => s.lines().map(str::to_owned).collect(),
        toml::Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                toml::Value::String(s) => Some(s),
                _ => None,
            })
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    Some(lines.join("\n"))
}

/// `grand_total` → `Grand Total`.
fn default_label(fieldname: &str) -> String {
    fieldname
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---- all types together --------------------------------------------------------------

/// What a problem is about, so a loaded type can point at the line.
#[derive(Clone, Copy, Debug)]
enum At {
    Name,
    Naming,
    Fieldname(usize),
    Options(usize),
}

#[derive(Debug)]
struct Problem {
    type_index: usize,
    at: At,
    message: String,
}

/// PostgreSQL cuts identifiers at 63 bytes; `tab_` + the name must fit, or two long names
/// could end up in one table.
const MAX_NAME_CHARS: usize = 59;

/// Checks `types` as a whole; `origin(i)` says where type `i` came from (its file).
fn validate(types: &[DocType], origin: &dyn Fn(usize) -> String) -> Result<(), Problem> {
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    let mut by_table: HashMap<String, usize> = HashMap::new();
    for (i, t) in types.iter().enumerate() {
        let problem = |message: String| Problem {
            type_index: i,
            at: At::Name,
            message,
        };
        if t.name.trim().is_empty() {
            return Err(problem(
                r#"the name is empty: give the type a name like name = "Sales Invoice""#.into(),
            ));
        }
        if t.name.trim() != t.name {
            return Err(problem(format!(
                "the name {:?} starts or ends with a space; remove it",
                t.name
            )));
        }
        if t.name.chars().count() > MAX_NAME_CHARS {
            return Err(problem(format!(
                "the name {:?} is longer than {MAX_NAME_CHARS} characters; shorten it",
                t.name
            )));
        }
        if let Some(&first) = by_name.get(t.name.as_str()) {
            return Err(problem(format!(
                "another type is already named {:?} (in {}); give each type its own name",
                t.name,
                origin(first)
            )));
        }
        if let Some(&first) = by_table.get(&t.table_name()) {
            return Err(problem(format!(
                "the name {:?} is too like {:?} (in {}): both would be stored in the table {}; \
                 rename one",
                t.name,
                types[first].name,
                origin(first),
                t.table_name()
            )));
        }
        by_name.insert(&t.name, i);
        by_table.insert(t.table_name(), i);
    }
    let mut names: Vec<&str> = by_name.keys().copied().collect();
    names.sort_unstable();
    let known_types = names.join(", ");

    for (i, t) in types.iter().enumerate() {
        validate_fields(t, &by_name, types, &known_types).map_err(|(at, message)| Problem {
            type_index: i,
            at,
            message,
        })?;
        if !t.is_child {
            validate_naming(t).map_err(|message| Problem {
                type_index: i,
                at: At::Naming,
                message,
            })?;
        }
    }
    Ok(())
}

fn validate_fields(
    t: &DocType,
    by_name: &HashMap<&str, usize>,
    types: &[DocType],
    known_types: &str,
) -> Result<(), (At, String)> {
    for (j, f) in t.fields.iter().enumerate() {
        let name = &f.fieldname;
        let at_name = |msg: String| (At::Fieldname(j), msg);
        if STANDARD_COLUMNS.contains(&name.as_str()) {
            return Err(at_name(format!(
                "`{name}` is a standard column, managed by the server (the standard columns \
                 are {}); give the field another name",
                STANDARD_COLUMNS.join(", ")
            )));
        }
        if !is_valid_fieldname(name) {
            let suggestion = suggest_fieldname(name);
            let hint = if is_valid_fieldname(&suggestion) {
                format!(" such as \"{suggestion}\"")
            } else {
                String::new()
            };
            return Err(at_name(format!(
                "{name:?} is not a valid fieldname; use lower-case letters, digits and _, \
                 starting with a letter, at most 64 characters{hint}"
            )));
        }
        if t.fields[..j].iter().any(|g| g.fieldname == *name) {
            return Err(at_name(format!(
                "the type already has a field named `{name}`; rename or remove one of them"
            )));
        }

        let options = f.options.as_deref().unwrap_or_default();
        let at_options = |msg: String| {
            let at = if f.options.is_some() {
                At::Options(j)
            } else {
                At::Fieldname(j)
            };
            (at, msg)
        };
        match f.fieldtype {
            FieldType::Select if f.select_options().is_empty() => {
                return Err(at_options(format!(
                    "select field `{name}` has no choices; add options = [\"Open\", \"Closed\"] \
                     or one choice per line in a \"\"\" string"
                )));
            }
            FieldType::Link | FieldType::Table => {
                let kind = f.fieldtype;
                if kind == FieldType::Table && t.is_child {
                    return Err(at_name(format!(
                        "table field `{name}`: a child type cannot have table fields (tables \
                         nest one level only); move the field to the parent type"
                    )));
                }
                if options.is_empty() {
                    return Err(at_options(format!(
                        "{kind} field `{name}` needs options = the name of the document type \
                         it points to (one of: {known_types})"
                    )));
                }
                let Some(&target) = by_name.get(options) else {
                    return Err(at_options(format!(
                        "{kind} field `{name}` points to {options:?}, which is not a document \
                         type of this site; use one of: {known_types} (or add \
                         doctypes/<name>.toml)"
                    )));
                };
                let target_is_child = types[target].is_child;
                if kind == FieldType::Table && !target_is_child {
                    return Err(at_options(format!(
                        "table field `{name}` points to {options:?}, which is not a child type; \
                         set is_child = true in its file, or use a link field"
                    )));
                }
                if kind == FieldType::Link && target_is_child {
                    return Err(at_options(format!(
                        "link field `{name}` points to {options:?}, a child type whose rows \
                         belong to their parents; link to a type with records of its own, or \
                         use a table field"
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn validate_naming(t: &DocType) -> Result<(), String> {
    match &t.naming {
        Naming::Prompt | Naming::Hash => Ok(()),
        Naming::Series(series) => check_series(series),
        Naming::Field(fieldname) => {
            let usable = [FieldType::Data, FieldType::Link, FieldType::Select];
            match t.field(fieldname) {
                Some(f) if usable.contains(&f.fieldtype) => Ok(()),
                Some(f) => Err(format!(
                    "naming \"field:{fieldname}\" uses a {} field; records can be named only \
                     by a data, link or select field",
                    f.fieldtype
                )),
                None => {
                    let candidates: Vec<&str> = t
                        .fields
                        .iter()
                        .filter(|f| usable.contains(&f.fieldtype))
                        .map(|f| f.fieldname.as_str())
                        .collect();
                    Err(format!(
                        "naming \"field:{fieldname}\" names no field of this type; use one of \
                         its data, link or select fields ({}), or add a field `{fieldname}`",
                        if candidates.is_empty() {
                            "it has none".to_owned()
                        } else {
                            candidates.join(", ")
                        }
                    ))
                }
            }
        }
    }
}

/// A series is `PREFIX.` then one `#` per digit of the counter: `SINV-.#####`.
fn check_series(series: &str) -> Result<(), String> {
    let how = "write a prefix, a dot, then one # per digit, like \"SINV-.#####\"";
    let Some((prefix, counter)) = series.rsplit_once('.') else {
        return Err(format!(
            "naming series {series:?} has no dot before its #s; {how}"
        ));
    };
    if counter.is_empty() || !counter.chars().all(|c| c == '#') {
        return Err(format!(
            "naming series {series:?} must end with a dot and one or more #s; {how}"
        ));
    }
    if prefix.is_empty() || prefix.contains('#') {
        return Err(format!(
            "naming series {series:?} needs a prefix (without #) before the dot; {how}"
        ));
    }
    Ok(())
}

/// `Customer Name` → `customer_name`.
fn suggest_fieldname(name: &str) -> String {
    let mut s: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    s.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUSTOMER: &str = r#"name = "Customer"
naming = "field:customer_name"

[[fields]]
fieldname = "customer_name"
fieldtype = "data"
reqd = true
in_list_view = true

[[fields]]
fieldname = "customer_group"
fieldtype = "select"
options = """
Commercial
  Individual

Government
"""

[permissions."Sales User"]
read = true
create = true
write = true
"#;

    const SALES_INVOICE: &str = r#"name = "Sales Invoice"
naming = "SINV-.#####"

[[fields]]
fieldname = "customer"
label = "Customer"
fieldtype = "link"
options = "Customer"
reqd = true
in_list_view = true

[[fields]]
fieldname = "posting_date"
label = "Date"
fieldtype = "date"

[[fields]]
fieldname = "status"
fieldtype = "select"
options = ["Draft", "Paid", "Cancelled"]
in_list_view = true

[[fields]]
fieldname = "items"
fieldtype = "table"
options = "Sales Invoice Item"

[[fields]]
fieldname = "grand_total"
fieldtype = "currency"

[permissions."Sales User"]
read = true
print = true

[permissions."Accounts User"]
read = true
export = true
report = true
"#;

    // Its naming is written but ignored: a child's rows are named by the server.
    const SALES_INVOICE_ITEM: &str = r#"name = "Sales Invoice Item"
is_child = true
naming = "not used"

[[fields]]
fieldname = "item_code"
fieldtype = "data"
reqd = true
in_list_view = true

[[fields]]
fieldname = "qty"
fieldtype = "float"

[[fields]]
fieldname = "rate"
fieldtype = "currency"
"#;

    const EMPLOYEE: &str = r#"name = "Employee"
naming = "prompt"

[[fields]]
fieldname = "employee_name"
fieldtype = "data"

[[fields]]
fieldname = "date_of_birth"
fieldtype = "date"

[[fields]]
fieldname = "is_active"
fieldtype = "check"

[[fields]]
fieldname = "notes"
fieldtype = "text"

[permissions."HR User"]
read = true
create = true
write = true
"#;

    fn realistic() -> Vec<(&'static str, String)> {
        vec![
            ("customer.toml", CUSTOMER.to_owned()),
            ("sales_invoice.toml", SALES_INVOICE.to_owned()),
            ("sales_invoice_item.toml", SALES_INVOICE_ITEM.to_owned()),
            ("employee.toml", EMPLOYEE.to_owned()),
        ]
    }

    fn roles() -> Vec<String> {
        ["Sales User", "Accounts User", "HR User"]
            .map(String::from)
            .to_vec()
    }

    fn site(files: &[(&str, String)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("doctypes")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join("doctypes").join(name), text).unwrap();
        }
        dir
    }

    fn field(fieldname: &str, label: &str, fieldtype: FieldType) -> Field {
        Field {
            fieldname: fieldname.into(),
            label: label.into(),
            fieldtype,
            options: None,
            reqd: false,
            in_list_view: false,
            search_index: false,
        }
    }

    /// Loads `files`, expects it to fail in `file` on the first line containing `marker`,
    /// with a message containing every one of `phrases`.
    #[track_caller]
    fn expect_error(files: &[(&str, String)], file: &str, marker: &str, phrases: &[&str]) {
        let text = &files.iter().find(|(n, _)| *n == file).unwrap().1;
        let line = text
            .lines()
            .position(|l| l.contains(marker))
            .unwrap_or_else(|| panic!("{marker:?} is not in {file}"))
            + 1;
        let dir = site(files);
        let err = DocTypes::load(dir.path(), &roles()).unwrap_err();
        assert!(matches!(err, SiteError::Parse(..)), "{err:?}");
        let msg = err.to_string();
        let at = format!("doctypes/{file}: line {line}: ");
        assert!(msg.contains(&at), "expected {at:?} in: {msg}");
        for phrase in phrases {
            assert!(msg.contains(phrase), "expected {phrase:?} in: {msg}");
        }
    }

    /// The realistic set with `file` replaced by `text`.
    fn with(file: &'static str, text: &str) -> Vec<(&'static str, String)> {
        let mut files = realistic();
        files.retain(|(n, _)| *n != file);
        files.push((file, text.to_owned()));
        files
    }

    #[test]
    fn a_realistic_site_loads() {
        let dir = site(&realistic());
        std::fs::write(dir.path().join("doctypes/README.md"), "not a type").unwrap();
        let types = DocTypes::load(dir.path(), &roles()).unwrap();

        let names: Vec<_> = types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Customer",
                "Employee",
                "Sales Invoice",
                "Sales Invoice Item"
            ]
        );

        let expected = DocType {
            name: "Sales Invoice".into(),
            is_child: false,
            naming: Naming::Series("SINV-.#####".into()),
            fields: vec![
                Field {
                    options: Some("Customer".into()),
                    reqd: true,
                    in_list_view: true,
                    ..field("customer", "Customer", FieldType::Link)
                },
                field("posting_date", "Date", FieldType::Date),
                Field {
                    options: Some("Draft\nPaid\nCancelled".into()),
                    in_list_view: true,
                    ..field("status", "Status", FieldType::Select)
                },
                Field {
                    options: Some("Sales Invoice Item".into()),
                    ..field("items", "Items", FieldType::Table)
                },
                field("grand_total", "Grand Total", FieldType::Currency),
            ],
            permissions: [
                (
                    "Sales User".to_owned(),
                    Permission {
                        read: true,
                        print: true,
                        ..Default::default()
                    },
                ),
                (
                    "Accounts User".to_owned(),
                    Permission {
                        read: true,
                        export: true,
                        report: true,
                        ..Default::default()
                    },
                ),
            ]
            .into(),
            log_reads: true,
        };
        let invoice = types.get("Sales Invoice").unwrap();
        assert_eq!(invoice, &expected);

        let customer = types.get("Customer").unwrap();
        assert_eq!(customer.naming, Naming::Field("customer_name".into()));
        assert_eq!(customer.fields[0].label, "Customer Name");
        assert!(customer.fields[0].reqd && customer.fields[0].in_list_view);
        assert_eq!(
            customer.fields[1].options.as_deref(),
            Some("Commercial\nIndividual\nGovernment"),
            "select choices are trimmed lines, blank ones dropped"
        );

        let item = types.get("Sales Invoice Item").unwrap();
        assert!(item.is_child);
        assert_eq!(
            item.naming,
            Naming::Hash,
            "a child's written naming is ignored"
        );
        assert_eq!(item.fields.len(), 3);

        let employee = types.get("Employee").unwrap();
        assert_eq!(employee.naming, Naming::Prompt);
        assert!(employee.permissions["HR User"].write);
        assert_eq!(employee.fields[2].fieldtype, FieldType::Check);

        let children: Vec<_> = types
            .children_of(invoice)
            .map(|(f, t)| (f.fieldname.as_str(), t.name.as_str()))
            .collect();
        assert_eq!(children, [("items", "Sales Invoice Item")]);
        assert_eq!(types.children_of(customer).count(), 0);
        assert!(types.get("Supplier").is_none());
        assert_eq!(types.len(), 4);
    }

    #[test]
    fn no_folder_or_an_empty_one_is_no_types_and_a_type_may_have_no_fields() {
        let bare = tempfile::tempdir().unwrap();
        assert!(DocTypes::load(bare.path(), &[]).unwrap().is_empty());
        let empty = site(&[]);
        assert!(DocTypes::load(empty.path(), &[]).unwrap().is_empty());

        let dir = site(&[("note.toml", "name = \"Note\"\nnaming = \"hash\"\n".into())]);
        let types = DocTypes::load(dir.path(), &[]).unwrap();
        let note = types.get("Note").unwrap();
        assert!(note.fields.is_empty() && note.permissions.is_empty());
        assert_eq!(note.naming, Naming::Hash);
    }

    #[test]
    fn toml_syntax_and_unknown_keys_name_the_line() {
        let broken = "name = \"Customer\"\nnaming = \"hash\"\n[[fields]\nfieldname = \"x\"\n";
        expect_error(
            &with("customer.toml", broken),
            "customer.toml",
            "[[fields]",
            &["]"],
        );
        expect_error(
            &with("customer.toml", &CUSTOMER.replace("naming =", "nameing =")),
            "customer.toml",
            "nameing",
            &[
                "unknown field `nameing`",
                "naming",
                "fix the key's spelling",
            ],
        );
        expect_error(
            &with(
                "employee.toml",
                &EMPLOYEE.replace(
                    "fieldtype = \"check\"",
                    "fieldtype = \"check\"\nlable = \"On\"",
                ),
            ),
            "employee.toml",
            "lable",
            &["unknown field `lable`", "label"],
        );
        expect_error(
            &with(
                "employee.toml",
                &EMPLOYEE.replace("write = true", "remove = true"),
            ),
            "employee.toml",
            "remove",
            &["unknown field `remove`", "read", "delete"],
        );
        expect_error(
            &with(
                "employee.toml",
                &EMPLOYEE.replace("create = true", "create = \"yes\""),
            ),
            "employee.toml",
            "create",
            &["boolean"],
        );
    }

    #[test]
    fn names_must_be_given_and_unique() {
        expect_error(
            &with("employee.toml", &EMPLOYEE.replace("\"Employee\"", "\"  \"")),
            "employee.toml",
            "name =",
            &["name is empty"],
        );

        let mut files = realistic();
        files.push(("zz_customer.toml", CUSTOMER.to_owned()));
        expect_error(
            &files,
            "zz_customer.toml",
            "name = \"Customer\"",
            &[
                "already named \"Customer\" (in doctypes/customer.toml)",
                "its own name",
            ],
        );

        let mut files = realistic();
        files.push((
            "zz.toml",
            "name = \"sales-invoice\"\nnaming = \"hash\"\n".into(),
        ));
        expect_error(
            &files,
            "zz.toml",
            "name =",
            &["tab_sales_invoice", "sales_invoice.toml", "rename one"],
        );

        let dir = site(&with(
            "employee.toml",
            &EMPLOYEE.replace("name = \"Employee\"\n", ""),
        ));
        let msg = DocTypes::load(dir.path(), &roles())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("employee.toml") && msg.contains("has no name: add"),
            "{msg}"
        );
    }

    #[test]
    fn fieldnames_must_be_valid_unique_and_not_standard_columns() {
        expect_error(
            &with(
                "employee.toml",
                &EMPLOYEE.replace("\"notes\"", "\"Employee Notes\""),
            ),
            "employee.toml",
            "Employee Notes",
            &["not a valid fieldname", "lower-case", "\"employee_notes\""],
        );
        expect_error(
            &with("employee.toml", &EMPLOYEE.replace("\"notes\"", "\"owner\"")),
            "employee.toml",
            "\"owner\"",
            &["standard column, managed by the server", "another name"],
        );
        expect_error(
            &with(
                "employee.toml",
                &EMPLOYEE.replace("\"notes\"", "\"is_active\" # again"),
            ),
            "employee.toml",
            "# again",
            &["already has a field named `is_active`", "rename or remove"],
        );
    }

    #[test]
    fn fieldtypes_and_options_are_checked() {
        expect_error(
            &with("employee.toml", &EMPLOYEE.replace("\"text\"", "\"string\"")),
            "employee.toml",
            "\"string\"",
            &["\"string\" is not a fieldtype", "data, text, int"],
        );
        expect_error(
            &with(
                "employee.toml",
                &EMPLOYEE.replace(
                    "[[fields]]\nfieldname = \"notes\"",
                    "[[fields]] # the notes",
                ),
            ),
            "employee.toml",
            "# the notes",
            &["field #4 has no fieldname", "fieldname = \""],
        );
        expect_error(
            &with(
                "employee.toml",
                &EMPLOYEE.replace("fieldtype = \"text\"\n", ""),
            ),
            "employee.toml",
            "\"notes\"",
            &["has no fieldtype", "data, text"],
        );
        expect_error(
            &with(
                "sales_invoice.toml",
                &SALES_INVOICE.replace("options = \"Customer\"\n", ""),
            ),
            "sales_invoice.toml",
            "\"customer\"",
            &["link field `customer` needs options", "Employee"],
        );
        expect_error(
            &with(
                "sales_invoice.toml",
                &SALES_INVOICE.replace("options = \"Customer\"", "options = \"Custmer\""),
            ),
            "sales_invoice.toml",
            "Custmer",
            &[
                "\"Custmer\", which is not a document type",
                "Customer, Employee",
                "doctypes/",
            ],
        );
        expect_error(
            &with(
                "sales_invoice.toml",
                &SALES_INVOICE
                    .replace("options = \"Customer\"", "options = \"Sales Invoice Item\""),
            ),
            "sales_invoice.toml",
            "options = \"Sales Invoice Item\"",
            &["a child type", "use a table field"],
        );
        expect_error(
            &with(
                "sales_invoice.toml",
                &SALES_INVOICE.replace("\"Sales Invoice Item\"", "\"Employee\""),
            ),
            "sales_invoice.toml",
            "\"Employee\"",
            &["\"Employee\", which is not a child type", "is_child = true"],
        );
        expect_error(
            &with(
                "sales_invoice_item.toml",
                &format!(
                    "{SALES_INVOICE_ITEM}\n[[fields]]\nfieldname = \"taxes\"\nfieldtype = \"table\"\noptions = \"Sales Invoice Item\"\n"
                ),
            ),
            "sales_invoice_item.toml",
            "\"taxes\"",
            &["child type cannot have table fields", "parent type"],
        );
        expect_error(
            &with(
                "sales_invoice.toml",
                &SALES_INVOICE.replace("[\"Draft\", \"Paid\", \"Cancelled\"]", "[\" \"]"),
            ),
            "sales_invoice.toml",
            "[\" \"]",
            &["select field `status` has no choices", "options = ["],
        );
        expect_error(
            &with(
                "sales_invoice.toml",
                &SALES_INVOICE.replace("options = [\"Draft\", \"Paid\", \"Cancelled\"]\n", ""),
            ),
            "sales_invoice.toml",
            "\"status\"",
            &["has no choices"],
        );
        expect_error(
            &with(
                "sales_invoice.toml",
                &SALES_INVOICE.replace("[\"Draft\", \"Paid\", \"Cancelled\"]", "3"),
            ),
            "sales_invoice.toml",
            "options = 3",
            &["options must be text", "list of strings"],
        );
        expect_error(
            &with(
                "sales_invoice.toml",
                &SALES_INVOICE.replace(
                    "options = \"Sales Invoice Item\"\n",
                    "options = \"Sales Invoice Item\"\nsearch_index = true\n",
                ),
            ),
            "sales_invoice.toml",
            "\"items\"",
            &["`items` is a table", "remove search_index = true"],
        );
    }

    #[test]
    fn naming_is_checked() {
        for (naming, phrase) in [
            ("SINV-#####", "no dot before its #s"),
            (".#####", "needs a prefix"),
            ("SINV-.###x", "must end with a dot and one or more #s"),
            ("autoname", "not one this server knows"),
            ("field:customer_nam", "names no field of this type"),
            ("field:grand_total", "uses a currency field"),
        ] {
            let text = SALES_INVOICE.replace("SINV-.#####", naming);
            expect_error(
                &with("sales_invoice.toml", &text),
                "sales_invoice.toml",
                "naming =",
                &[phrase, "\""],
            );
        }
        let text = SALES_INVOICE.replace("naming = \"SINV-.#####\"\n", "");
        let dir = site(&with("sales_invoice.toml", &text));
        let msg = DocTypes::load(dir.path(), &roles())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("sales_invoice.toml") && msg.contains("has no naming: add naming = "),
            "{msg}"
        );
    }

    #[test]
    fn permissions_name_known_roles() {
        expect_error(
            &with(
                "employee.toml",
                &EMPLOYEE.replace("\"HR User\"", "\"HR Usr\""),
            ),
            "employee.toml",
            "HR Usr",
            &[
                "\"HR Usr\" is not one of this site's roles",
                "Accounts User, HR User, Sales User, System Manager",
                "site.toml",
            ],
        );
        let text =
            "name = \"Note\"\nnaming = \"hash\"\n[permissions.\"System Manager\"]\nread = true\n";
        let dir = site(&[("note.toml", text.to_owned())]);
        let types = DocTypes::load(dir.path(), &[]).unwrap();
        assert!(types.get("Note").unwrap().permissions["System Manager"].read);
    }

    #[test]
    fn types_built_in_code_get_the_same_checks() {
        let parent = DocType {
            name: "Journal Entry".into(),
            is_child: false,
            naming: Naming::Series("JV-.####".into()),
            fields: vec![Field {
                options: Some("Journal Entry Account".into()),
                ..field("accounts", "Accounts", FieldType::Table)
            }],
            permissions: BTreeMap::new(),
            log_reads: true,
        };
        let child = DocType {
            name: "Journal Entry Account".into(),
            is_child: true,
            naming: Naming::Prompt,
            fields: vec![field("debit", "Debit", FieldType::Currency)],
            permissions: BTreeMap::new(),
            log_reads: true,
        };
        let types = DocTypes::from_types(vec![parent.clone(), child.clone()]).unwrap();
        let child_loaded = types.get("Journal Entry Account").unwrap();
        assert_eq!(child_loaded.naming, Naming::Hash);
        let children: Vec<_> = types.children_of(&parent).map(|(_, t)| &t.name).collect();
        assert_eq!(children, ["Journal Entry Account"]);

        let err = DocTypes::from_types(vec![parent.clone()]).unwrap_err();
        assert!(
            err.starts_with("type \"Journal Entry\": table field `accounts`")
                && err.contains("not a document type"),
            "{err}"
        );
        let err = DocTypes::from_types(vec![child.clone(), parent, child]).unwrap_err();
        assert!(
            err.contains(
                "already named \"Journal Entry Account\" (in type \"Journal Entry Account\")"
            ),
            "{err}"
        );
        let nameless = DocType {
            name: String::new(),
            is_child: true,
            naming: Naming::Hash,
            fields: vec![],
            permissions: BTreeMap::new(),
            log_reads: true,
        };
        let err = DocTypes::from_types(vec![nameless]).unwrap_err();
        assert!(
            err.starts_with("the type at position 1: the name is empty"),
            "{err}"
        );
    }

    #[test]
    fn labels_default_to_the_fieldname_title_cased() {
        assert_eq!(default_label("grand_total"), "Grand Total");
        assert_eq!(default_label("qty"), "Qty");
        assert_eq!(default_label("address_line_2"), "Address Line 2");
    }
}
