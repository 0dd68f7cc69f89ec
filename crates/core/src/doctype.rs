//! Document types: what a record of a kind looks like (its fields), how its records are
//! named, and which roles may do what with them. Pure data; `accesslog-site` reads it from
//! a site's `doctypes/*.toml`, storage turns it into a table.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The kinds of field a document type may have (ERPNext's names, lower-cased).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A short line of text.
    Data,
    /// Long text.
    Text,
    Int,
    Float,
    /// An amount of money: stored as a float, shown with 2 decimals.
    Currency,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC).
    Datetime,
    /// 0 or 1.
    Check,
    /// One of `options`.
    Select,
    /// The name of a document of the type in `options`.
    Link,
    /// Rows of the child type in `options`, stored in the child's table.
    Table,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Data => "data",
            FieldType::Text => "text",
            FieldType::Int => "int",
            FieldType::Float => "float",
            FieldType::Currency => "currency",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Check => "check",
            FieldType::Select => "select",
            FieldType::Link => "link",
            FieldType::Table => "table",
        }
    }

    /// Whether values are stored as numbers (compared numerically in filters).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int | FieldType::Float | FieldType::Currency | FieldType::Check
        )
    }

    /// Whether the field has a column in its document type's table (tables do not).
    pub fn has_column(self) -> bool {
        self != FieldType::Table
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The column name: lower-case letters, digits and `_`, starting with a letter.
    pub fieldname: String,
    pub label: String,
    pub fieldtype: FieldType,
    /// Select: the choices. Link and Table: the other document type's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
    /// Required on create.
    #[serde(default)]
    pub reqd: bool,
    /// Shown as a column in the list view.
    #[serde(default)]
    pub in_list_view: bool,
    /// Indexed (with `name`, so that the order is total): for fields that lists and
    /// reports filter or sort by, as ERPNext's option of the same name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub search_index: bool,
}

impl Field {
    /// The choices of a select field.
    pub fn select_options(&self) -> Vec<&str> {
        self.options
            .as_deref()
            .map(|o| o.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// What a role may do with a document type's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Permission {
    pub read: bool,
    pub create: bool,
    pub write: bool,
    pub print: bool,
    pub export: bool,
    pub report: bool,
    pub delete: bool,
}

/// The things a permission can allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Write,
    Print,
    Export,
    Report,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Write => "write",
            Action::Print => "print",
            Action::Export => "export",
            Action::Report => "report",
            Action::Delete => "delete",
        }
    }
}

impl Permission {
    pub fn allows(&self, action: Action) -> bool {
        match action {
            Action::Read => self.read,
            Action::Create => self.create,
            Action::Write => self.write,
            Action::Print => self.print,
            Action::Export => self.export,
            Action::Report => self.report,
            Action::Delete => self.delete,
        }
    }
}

/// How new records are named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Naming {
    /// A series like `SINV-.#####`: the prefix before `.`, then a counter padded to the
    /// number of `#`s (`SINV-00001`).
    Series(String),
    /// The value of this field (e.g. `customer_name`).
    Field(String),
    /// Given by whoever creates the record.
    Prompt,
    /// A random 10-character id, as ERPNext's `hash` naming.
    Hash,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocType {
    /// e.g. `Sales Invoice`.
    pub name: String,
    /// A child type (e.g. `Sales Invoice Item`) has no records of its own: its rows belong
    /// to a parent document.
    #[serde(default)]
    pub is_child: bool,
    pub naming: Naming,
    pub fields: Vec<Field>,
    /// Role name → what it may do. System Managers may do everything.
    #[serde(default)]
    pub permissions: BTreeMap<String, Permission>,
    /// Whether reads of this type are recorded (when `log.reads` records them at all);
    /// `false` for types a site decides are not sensitive.
    #[serde(default = "recorded")]
    pub log_reads: bool,
}

fn recorded() -> bool {
    true
}

impl DocType {
    pub fn field(&self, fieldname: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.fieldname == fieldname)
    }

    /// The table that holds this type's records: ERPNext's `tab` + name, with spaces as
    /// underscores and lower-cased (`tab_sales_invoice`), so it needs no quoting.
    pub fn table_name(&self) -> String {
        table_name(&self.name)
    }

    /// Whether a user with `roles` may do `action` (System Managers always may).
    pub fn allows(&self, roles: &[String], action: Action) -> bool {
        roles.iter().any(|r| r == crate::SYSTEM_MANAGER)
            || roles
                .iter()
                .any(|r| self.permissions.get(r).is_some_and(|p| p.allows(action)))
    }

    /// The fields shown in the list view (besides `name`).
    pub fn list_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields
            .iter()
            .filter(|f| f.in_list_view && f.fieldtype.has_column())
    }
}

/// `Sales Invoice` → `tab_sales_invoice`.
pub fn table_name(doctype: &str) -> String {
    let mut t = String::from("tab_");
    for c in doctype.chars() {
        if c.is_ascii_alphanumeric() {
            t.push(c.to_ascii_lowercase());
        } else {
            t.push('_');
        }
    }
    t
}

/// Whether `name` can be a column: lower-case ASCII letters, digits and `_`, starting with
/// a letter, at most 64 characters, and not one of the columns every table has.
pub fn is_valid_fieldname(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !STANDARD_COLUMNS.contains(&name)
}

/// Columns document tables have, managed by the server: every table the first five, a
/// child table also the last four (its parent, the parent's type and field, its row number).
pub const STANDARD_COLUMNS: [&str; 9] = [
    "name",
    "owner",
    "creation",
    "modified",
    "modified_by",
    "parent",
    "parenttype",
    "parentfield",
    "idx",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn invoice() -> DocType {
        DocType {
            name: "Sales Invoice".into(),
            is_child: false,
            naming: Naming::Series("SINV-.#####".into()),
            fields: vec![
                Field {
                    fieldname: "customer".into(),
                    label: "Customer".into(),
                    fieldtype: FieldType::Link,
                    options: Some("Customer".into()),
                    reqd: true,
                    in_list_view: true,
                    search_index: false,
                },
                Field {
                    fieldname: "items".into(),
                    label: "Items".into(),
                    fieldtype: FieldType::Table,
                    options: Some("Sales Invoice Item".into()),
                    reqd: false,
                    in_list_view: true,
                    search_index: false,
                },
            ],
            permissions: [(
                "Sales User".to_owned(),
                Permission {
                    read: true,
                    print: true,
                    ..Default::default()
                },
            )]
            .into(),
            log_reads: true,
        }
    }

    #[test]
    fn permissions_by_role_and_system_manager() {
        let d = invoice();
        let sales = vec!["Sales User".to_owned()];
        assert!(d.allows(&sales, Action::Read) && d.allows(&sales, Action::Print));
        assert!(!d.allows(&sales, Action::Export));
        assert!(!d.allows(&["HR User".to_owned()], Action::Read));
        assert!(d.allows(&[crate::SYSTEM_MANAGER.to_owned()], Action::Export));
    }

    #[test]
    fn table_and_field_names() {
        assert_eq!(invoice().table_name(), "tab_sales_invoice");
        assert!(is_valid_fieldname("grand_total"));
        for bad in ["", "Name", "1x", "a-b", "name", "idx", "a b", "x;drop"] {
            assert!(!is_valid_fieldname(bad), "{bad}");
        }
        let d = invoice();
        let listed: Vec<_> = d.list_fields().map(|f| f.fieldname.as_str()).collect();
        assert_eq!(listed, ["customer"], "tables have no column to list");
    }

    #[test]
    fn select_options_are_lines() {
        let f = Field {
            fieldname: "s".into(),
            label: "S".into(),
            fieldtype: FieldType::Select,
            options: Some("Open\n Paid \n\nCancelled".into()),
            reqd: false,
            in_list_view: false,
            search_index: false,
        };
        assert_eq!(f.select_options(), ["Open", "Paid", "Cancelled"]);
    }
}
