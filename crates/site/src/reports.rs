//! Query reports: one TOML file each in the site's `reports/` folder, with typed filters,
//! declared columns, and one read-only SQL query whose parameters are the filters.
//!
//! ```toml
//! name = "General Ledger"
//! ref_doctype = "GL Entry"
//! roles = ["Accounts User"]            # System Managers may always run it
//! query = """
//! SELECT posting_date, account, debit FROM tab_gl_entry
//! WHERE (:account IS NULL OR account = :account) ORDER BY posting_date
//! """
//!
//! [[filters]]
//! fieldname = "account"
//! fieldtype = "link"                   # date, link, select, check, data
//! options = "Account"                  # select: the choices; link: the type
//!
//! [[columns]]
//! fieldname = "posting_date"
//! label = "Posting Date"
//! fieldtype = "date"
//! width = 12
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use accesslog_core::doctype::{FieldType, is_valid_fieldname};
use accesslog_store::SqlValue;
use serde::Deserialize;

use crate::SiteError;
use crate::doctypes::DocTypes;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportFilter {
    pub fieldname: String,
    #[serde(default)]
    pub label: String,
    pub fieldtype: FieldType,
    /// Select: the choices (a list, or lines of text). Link: the document type.
    #[serde(default)]
    pub options: Option<Options>,
    /// Used when the filter is not given (`today` for a date means the day of the run).
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub reqd: bool,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Options {
    List(Vec<String>),
    Text(String),
}

impl ReportFilter {
    pub fn choices(&self) -> Vec<String> {
        match &self.options {
            Some(Options::List(l)) => l.clone(),
            Some(Options::Text(t)) => t
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportColumn {
    pub fieldname: String,
    #[serde(default)]
    pub label: String,
    pub fieldtype: FieldType,
    /// In characters.
    #[serde(default)]
    pub width: Option<u32>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueryReport {
    pub name: String,
    pub ref_doctype: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub query: String,
    #[serde(default)]
    pub filters: Vec<ReportFilter>,
    pub columns: Vec<ReportColumn>,
}

/// Filter values checked against a report: what the query is bound with (every filter,
/// NULL when unset) and what was applied (the set ones, as text), which is what the Access
/// Log records and what a link to the report carries.
#[derive(Clone, Debug, PartialEq)]
pub struct AppliedFilters {
    pub params: BTreeMap<String, SqlValue>,
    pub applied: BTreeMap<String, String>,
}

impl QueryReport {
    /// Whether a user with `roles` may run the report (System Managers always may).
    pub fn allows(&self, roles: &[String]) -> bool {
        roles
            .iter()
            .any(|r| r == accesslog_core::SYSTEM_MANAGER || self.roles.contains(r))
    }

    pub fn column(&self, fieldname: &str) -> Option<&ReportColumn> {
        self.columns.iter().find(|c| c.fieldname == fieldname)
    }

    /// Checks `given` (filter name → text, empty meaning unset) against the report's
    /// filters; `today` is `YYYY-MM-DD` of the run, for `default = "today"`. Each problem is
    /// named: an unknown filter, a missing required one, a value of the wrong kind.
    pub fn apply_filters(
        &self,
        given: &BTreeMap<String, String>,
        today: &str,
    ) -> Result<AppliedFilters, String> {
        if let Some(unknown) = given
            .keys()
            .find(|k| !self.filters.iter().any(|f| &f.fieldname == *k))
        {
            let known: Vec<&str> = self.filters.iter().map(|f| f.fieldname.as_str()).collect();
            return Err(format!(
                "{unknown:?} is not a filter of {} (its filters: {})",
                self.name,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
        let mut out = AppliedFilters {
            params: BTreeMap::new(),
            applied: BTreeMap::new(),
        };
        for f in &self.filters {
            let raw = given
                .get(&f.fieldname)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .or_else(|| {
                    f.default.as_ref().map(|d| {
                        if d == "today" {
                            today.to_owned()
                        } else {
                            d.clone()
                        }
                    })
                });
            let Some(raw) = raw else {
                if f.reqd {
                    return Err(format!("{} is required", f.label));
                }
                out.params.insert(f.fieldname.clone(), SqlValue::Null);
                continue;
            };
            let value = check_value(f, &raw)?;
            out.params.insert(f.fieldname.clone(), value);
            out.applied.insert(f.fieldname.clone(), raw);
        }
        Ok(out)
    }
}

fn check_value(f: &ReportFilter, raw: &str) -> Result<SqlValue, String> {
    let bad = |what: &str| Err(format!("{} must be {what}; {raw:?} is not", f.label));
    match f.fieldtype {
        FieldType::Date => {
            if accesslog_core::filters::is_date(raw) {
                Ok(SqlValue::Text(raw.to_owned()))
            } else {
                bad("a date like 2026-01-31")
            }
        }
        FieldType::Check => match raw {
            "1" | "true" | "on" | "yes" => Ok(SqlValue::Int(1)),
            "0" | "false" | "off" | "no" => Ok(SqlValue::Int(0)),
            _ => bad("0 or 1"),
        },
        FieldType::Select => {
            let choices = f.choices();
            if choices.iter().any(|c| c == raw) {
                Ok(SqlValue::Text(raw.to_owned()))
            } else {
                bad(&format!("one of {}", choices.join(", ")))
            }
        }
        _ if raw.chars().count() > 140 || raw.chars().any(char::is_control) => {
            bad("at most 140 characters of text")
        }
        _ => Ok(SqlValue::Text(raw.to_owned())),
    }
}

/// A site's query reports, by name.
#[derive(Clone, Debug, Default)]
pub struct Reports {
    reports: Vec<QueryReport>,
}

impl Reports {
    /// Reads `site_dir/reports/*.toml`, checking each against the site's types and roles.
    pub fn load(
        site_dir: &Path,
        doctypes: &DocTypes,
        known_roles: &[String],
    ) -> Result<Reports, SiteError> {
        let dir = site_dir.join("reports");
        if !dir.is_dir() {
            return Ok(Reports::default());
        }
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| SiteError::Io(dir.clone(), e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        let mut reports: Vec<QueryReport> = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| SiteError::Io(path.clone(), e.to_string()))?;
            let mut report: QueryReport = toml::from_str(&text)
                .map_err(|e| SiteError::Parse(path.clone(), e.to_string().trim_end().to_owned()))?;
            let invalid = |msg: String| SiteError::Parse(path.clone(), msg);
            check(&mut report, doctypes, known_roles).map_err(invalid)?;
            if reports.iter().any(|r| r.name == report.name) {
                return Err(invalid(format!(
                    "another report is named {:?}",
                    report.name
                )));
            }
            reports.push(report);
        }
        Ok(Reports { reports })
    }

    pub fn get(&self, name: &str) -> Option<&QueryReport> {
        self.reports.iter().find(|r| r.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &QueryReport> {
        self.reports.iter()
    }
}

fn label_of(fieldname: &str) -> String {
    let mut s = fieldname.replace('_', " ");
    if let Some(first) = s.get(..1) {
        let upper = first.to_uppercase();
        s.replace_range(..1, &upper);
    }
    s
}

fn check(
    report: &mut QueryReport,
    doctypes: &DocTypes,
    known_roles: &[String],
) -> Result<(), String> {
    if report.name.trim().is_empty()
        || report.name.contains('/')
        || report.name.chars().any(char::is_control)
    {
        return Err(format!(
            "{:?} is not a report name (no '/' or control characters)",
            report.name
        ));
    }
    if doctypes.get(&report.ref_doctype).is_none() {
        return Err(format!(
            "ref_doctype: there is no document type named {:?}",
            report.ref_doctype
        ));
    }
    if let Some(role) = report.roles.iter().find(|r| !known_roles.contains(r)) {
        return Err(format!("roles: {role:?} is not one of the site's roles"));
    }
    if report.columns.is_empty() {
        return Err("a report needs at least one column".to_owned());
    }
    let mut seen: Vec<&str> = Vec::new();
    for c in &mut report.columns {
        if !is_valid_fieldname(&c.fieldname) {
            return Err(format!(
                "column {:?}: fieldnames are lower-case letters, digits and _",
                c.fieldname
            ));
        }
        if c.fieldtype == FieldType::Table {
            return Err(format!(
                "column {:?}: a column cannot be a table",
                c.fieldname
            ));
        }
        if c.label.is_empty() {
            c.label = label_of(&c.fieldname);
        }
    }
    for c in &report.columns {
        if seen.contains(&c.fieldname.as_str()) {
            return Err(format!("two columns are named {:?}", c.fieldname));
        }
        seen.push(&c.fieldname);
    }
    for f in &mut report.filters {
        if !is_valid_fieldname(&f.fieldname) {
            return Err(format!(
                "filter {:?}: fieldnames are lower-case letters, digits and _",
                f.fieldname
            ));
        }
        if !matches!(
            f.fieldtype,
            FieldType::Date
                | FieldType::Link
                | FieldType::Select
                | FieldType::Check
                | FieldType::Data
        ) {
            return Err(format!(
                "filter {:?}: a filter is a date, link, select, check or data field",
                f.fieldname
            ));
        }
        if f.fieldtype == FieldType::Select && f.choices().is_empty() {
            return Err(format!(
                "filter {:?}: a select filter needs options",
                f.fieldname
            ));
        }
        if f.label.is_empty() {
            f.label = label_of(&f.fieldname);
        }
        if let Some(d) = f.default.clone().filter(|d| d != "today") {
            check_value(f, &d).map_err(|e| format!("filter {:?}: default: {e}", f.fieldname))?;
        }
    }
    accesslog_store::reports::check_read_only(&report.query).map_err(|e| format!("query: {e}"))?;
    let names: BTreeMap<String, SqlValue> = report
        .filters
        .iter()
        .map(|f| (f.fieldname.clone(), SqlValue::Null))
        .collect();
    accesslog_store::reports::positional(&report.query, &names)
        .map_err(|e| format!("query: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use accesslog_core::doctype::{DocType, Field, Naming};

    fn doctypes() -> DocTypes {
        DocTypes::from_types(vec![DocType {
            name: "GL Entry".into(),
            is_child: false,
            naming: Naming::Hash,
            fields: vec![Field {
                fieldname: "account".into(),
                label: "Account".into(),
                fieldtype: FieldType::Data,
                options: None,
                reqd: false,
                in_list_view: true,
                search_index: false,
            }],
            permissions: Default::default(),
            log_reads: true,
        }])
        .unwrap()
    }

    const GL: &str = r#"
name = "General Ledger"
ref_doctype = "GL Entry"
roles = ["Accounts User"]
query = "SELECT posting_date, account FROM tab_gl_entry WHERE (:from_date IS NULL OR posting_date >= :from_date) AND (:account IS NULL OR account = :account) AND is_cancelled = :cancelled"

[[filters]]
fieldname = "from_date"
fieldtype = "date"
default = "today"

[[filters]]
fieldname = "account"
label = "Account"
fieldtype = "link"
options = "Account"

[[filters]]
fieldname = "cancelled"
fieldtype = "check"
default = "0"

[[filters]]
fieldname = "voucher_type"
fieldtype = "select"
options = ["Sales Invoice", "Journal Entry"]

[[columns]]
fieldname = "posting_date"
fieldtype = "date"

[[columns]]
fieldname = "account"
fieldtype = "data"
width = 20
"#;

    fn load(files: &[(&str, &str)]) -> Result<Reports, SiteError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("reports")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join("reports").join(name), text).unwrap();
        }
        Reports::load(dir.path(), &doctypes(), &["Accounts User".to_owned()])
    }

    #[test]
    fn filters_are_checked_defaulted_and_recorded_as_applied() {
        let reports = load(&[("gl.toml", GL)]).unwrap();
        let gl = reports.get("General Ledger").unwrap();
        assert_eq!(gl.columns[0].label, "Posting date");
        assert!(gl.allows(&["Accounts User".into()]) && gl.allows(&["System Manager".into()]));
        assert!(!gl.allows(&["Sales User".into()]));

        let given = BTreeMap::from([
            ("account".to_owned(), "'; DROP TABLE x".to_owned()),
            ("voucher_type".to_owned(), "".to_owned()),
        ]);
        let f = gl.apply_filters(&given, "2026-11-29").unwrap();
        assert_eq!(
            f.params["account"],
            SqlValue::Text("'; DROP TABLE x".into())
        );
        assert_eq!(f.params["from_date"], SqlValue::Text("2026-11-29".into()));
        assert_eq!(f.params["cancelled"], SqlValue::Int(0));
        assert_eq!(f.params["voucher_type"], SqlValue::Null);
        assert_eq!(
            f.applied,
            BTreeMap::from([
                ("account".to_owned(), "'; DROP TABLE x".to_owned()),
                ("cancelled".to_owned(), "0".to_owned()),
                ("from_date".to_owned(), "2026-11-29".to_owned()),
            ])
        );

        for (key, value, says) in [
            ("from_date", "29/11/2026", "From date must be a date"),
            (
                "voucher_type",
                "Payroll",
                "one of Sales Invoice, Journal Entry",
            ),
            ("cancelled", "maybe", "0 or 1"),
            ("party", "x", "\"party\" is not a filter of General Ledger"),
        ] {
            let given = BTreeMap::from([(key.to_owned(), value.to_owned())]);
            let err = gl.apply_filters(&given, "2026-11-29").unwrap_err();
            assert!(err.contains(says), "{key}: {err}");
        }
    }

    #[test]
    fn a_bad_report_is_named_with_its_problem() {
        for (text, says) in [
            (
                GL.replace("GL Entry", "Ledger"),
                "no document type named \"Ledger\"",
            ),
            (
                GL.replace("\"Accounts User\"]", "\"Auditor\"]"),
                "\"Auditor\" is not one of the site's roles",
            ),
            (
                GL.replace("SELECT posting_date", "DELETE posting_date"),
                "query: a report's query must be one SELECT",
            ),
            (
                GL.replace(":account", ":acct"),
                "\"acct\", which is not one of the report's filters",
            ),
            (
                GL.replace("FROM tab_gl_entry", "FROM users"),
                "not the system's table users",
            ),
            (
                GL.replace("default = \"0\"", "default = \"2\""),
                "default: Cancelled must be 0 or 1",
            ),
            (
                GL.replace(
                    "fieldtype = \"date\"\ndefault",
                    "fieldtype = \"currency\"\ndefault",
                ),
                "a filter is a date, link, select, check or data field",
            ),
            (
                GL.replace("name = \"General Ledger\"", "name = \"GL\"\nnope = 1"),
                "unknown field `nope`",
            ),
        ] {
            let err = load(&[("gl.toml", &text)]).unwrap_err().to_string();
            assert!(
                err.contains("gl.toml") && err.contains(says),
                "{says}: {err}"
            );
        }
        let err = load(&[("a.toml", GL), ("b.toml", GL)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b.toml") && err.contains("another report is named"),
            "{err}"
        );
    }
}
