//! An ERPNext Access Log row as one of our entries: which activity it was (the table in
//! `docs/import-frappe.md`, first rule that matches), its fields kept as found, and a
//! reason that carries ERPNext's own time. The entry's `timestamp` is ours (when we
//! recorded it) and cannot be set back; ERPNext's time lives in the reason.

use accesslog_core::entry::{Activity, CanonicalJson, Event};
use jiff::civil::DateTime;
use serde_json::{Map, Value};

use crate::zone::{self, SiteZone};

/// `auth` of every imported entry.
pub const AUTH: &str = "frappe_import";
/// `user` when ERPNext's row names none.
pub const NO_USER: &str = "unknown";

/// The fields of ERPNext's Access Log (v15) an entry keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// ERPNext's id of the row (a random hash): our `request_id`, the dedupe key.
    pub name: String,
    /// `creation` exactly as ERPNext sent it.
    pub creation_text: String,
    pub creation: DateTime,
    pub user: Option<String>,
    pub export_from: Option<String>,
    pub reference_document: Option<String>,
    pub file_type: Option<String>,
    pub report_name: Option<String>,
    pub method: Option<String>,
    pub page: Option<String>,
    pub filters: Option<String>,
    pub columns: Option<String>,
}

impl Row {
    /// A row of `GET /api/resource/Access Log` (with `fields=["*"]`). `name` and
    /// `creation` must be there; the others are text or absent (null and `""` alike).
    pub fn from_json(value: &Value) -> Result<Row, String> {
        let Value::Object(map) = value else {
            return Err(format!("an Access Log row is not a JSON object: {value}"));
        };
        let name =
            text(map, "name").ok_or_else(|| format!("an Access Log row has no name: {value}"))?;
        let creation_text = text(map, "creation")
            .ok_or_else(|| format!("Access Log row {name} has no creation time"))?;
        let creation = zone::parse_naive(&creation_text).ok_or_else(|| {
            format!(
                "Access Log row {name} has creation {creation_text:?}, not a date and time as Frappe writes it (2026-03-29 01:30:00.123456)"
            )
        })?;
        Ok(Row {
            name: as_stored(name),
            creation_text,
            creation,
            user: text(map, "user"),
            export_from: text(map, "export_from"),
            reference_document: text(map, "reference_document"),
            file_type: text(map, "file_type"),
            report_name: text(map, "report_name"),
            method: text(map, "method"),
            page: text(map, "page"),
            filters: text(map, "filters"),
            columns: text(map, "columns"),
        })
    }
}

/// `name` as the log keeps it in `request_id`: itself, unless it is longer than the
/// field's bound or holds a NUL, which the recorder cuts and marks or replaces; dedupe
/// compares what the log holds, so a long name is recorded once too.
fn as_stored(name: String) -> String {
    let bound = accesslog_core::entry::bound_of("request_id").unwrap_or(usize::MAX);
    if name.len() <= bound && !name.contains('\0') {
        return name;
    }
    let mut e = Event::new(NO_USER, Activity::Read, "");
    e.request_id = Some(name);
    e.bounded().request_id.unwrap_or_default()
}

/// A field as text: strings as they are (`""` is absent), numbers and other JSON as JSON.
fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Which rule of the mapping table matched, for the reason of those that are a guess.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Backup,
    File,
    Export,
    Print,
    ReportPrint,
    /// ERPNext's own code writes no such row (another app's `make_access_log`, or a
    /// forged one): a file of some type for a document.
    OtherFile,
    /// Likewise, and nothing says a file left: recorded as a read.
    Other,
}

/// The activity, the file type as our entries name it, and the rule that decided.
pub fn activity(row: &Row) -> (Activity, Option<String>, Rule) {
    let method = row.method.as_deref().map(str::trim).unwrap_or_default();
    let file_type = row.file_type.as_deref().map(str::trim).unwrap_or_default();
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let found = row.file_type.clone();
    if row.report_name.as_deref() == Some("Backup") && method.is_empty() {
        return (Activity::BackupDownload, found, Rule::Backup);
    }
    if row.export_from.as_deref() == Some("File") && method.is_empty() {
        return (Activity::FileDownload, found, Rule::File);
    }
    let spreadsheet = ["csv", "excel", "xlsx", "xls"]
        .iter()
        .any(|t| is(file_type, t));
    if is(method, "Export") || spreadsheet {
        let ours = if is(file_type, "excel") || is(file_type, "xlsx") {
            Some("XLSX".to_owned())
        } else if is(file_type, "csv") {
            Some("CSV".to_owned())
        } else {
            found
        };
        return (Activity::Export, ours, Rule::Export);
    }
    if is(method, "Print") || is(method, "PDF") || is(file_type, "PDF") {
        return if row.reference_document.is_some() {
            (Activity::Print, found, Rule::Print)
        } else {
            (Activity::ReportPrint, found, Rule::ReportPrint)
        };
    }
    if !file_type.is_empty() && row.reference_document.is_some() {
        return (Activity::FileDownload, found, Rule::OtherFile);
    }
    (Activity::Read, found, Rule::Other)
}

/// ERPNext's `filters` or `columns` text as our JSON field: `{"raw": <text as found>}`,
/// with `"parsed"` beside it when the text reads as JSON or as a Python literal.
pub fn as_found_json(text: &str) -> CanonicalJson {
    let mut out = Map::new();
    out.insert("raw".to_owned(), Value::String(text.to_owned()));
    let parsed = serde_json::from_str::<Value>(text)
        .ok()
        .or_else(|| crate::pyrepr::parse(text).ok());
    if let Some(parsed) = parsed {
        out.insert("parsed".to_owned(), parsed);
    }
    CanonicalJson::from_value(&Value::Object(out))
}

/// The start of every imported entry's reason.
const REASON_HEAD: &str = "imported from ERPNext's Access Log, where it was recorded at ";
/// Before the naive time in the reason (what [`creation_in_reason`] looks for).
const CREATION_MARK: &str = " (creation ";

/// The entry for `row`, from the upstream `source` (`frappe:<host>`) in `zone`.
pub fn event(row: &Row, source: &str, zone: &SiteZone) -> Event {
    let (activity, file_type, rule) = activity(row);
    let user = row.user.clone().unwrap_or_else(|| NO_USER.to_owned());
    let mut e = Event::new(&user, activity, row.method.as_deref().unwrap_or_default());
    e.export_from = row.export_from.clone();
    e.reference_document = row.reference_document.clone();
    e.report_name = row.report_name.clone();
    e.file_type = file_type.clone();
    e.page = row.page.clone();
    e.filters = row.filters.as_deref().map(as_found_json);
    e.columns = row.columns.as_deref().map(as_found_json);
    e.request_id = Some(row.name.clone());
    e.auth = Some(AUTH.to_owned());
    e.source = source.to_owned();

    let mut reason = match zone.to_utc(row.creation) {
        Some(c) => {
            let mut r = format!(
                "{REASON_HEAD}{}{CREATION_MARK}{} {})",
                c.utc.to_rfc3339(),
                row.creation_text,
                zone.name()
            );
            if let Some(note) = zone::note(&c.local) {
                r.push_str("; ");
                r.push_str(&note);
            }
            r
        }
        None => format!(
            "imported from ERPNext's Access Log{CREATION_MARK}{} {}); that time is beyond what an instant can hold",
            row.creation_text,
            zone.name()
        ),
    };
    if row.user.is_none() {
        reason.push_str("; ERPNext's row names no user");
    }
    if file_type != row.file_type {
        reason.push_str(&format!(
            "; ERPNext's file_type was {:?}",
            row.file_type.as_deref().unwrap_or_default()
        ));
    }
    match rule {
        Rule::OtherFile | Rule::Other => reason.push_str(&format!(
            "; ERPNext's own code writes no such row (method {:?}), so it is recorded as {}",
            row.method.as_deref().unwrap_or_default(),
            activity
        )),
        _ => {}
    }
    e.reason = Some(reason);
    e
}

/// ERPNext's naive `creation` as an imported entry's reason gives it, if it does.
pub fn creation_in_reason(reason: &str) -> Option<DateTime> {
    let (_, rest) = reason.split_once(CREATION_MARK)?;
    let mut words = rest.split(' ');
    let (date, time) = (words.next()?, words.next()?);
    zone::parse_naive(&format!("{date} {time}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(fields: Value) -> Row {
        let mut base = json!({"name": "a1b2c3d4e5", "creation": "2026-03-29 01:30:00.123456", "user": "ana@example.com"});
        if let (Value::Object(b), Value::Object(f)) = (&mut base, fields) {
            b.extend(f);
        }
        Row::from_json(&base).unwrap()
    }

    fn mapped(fields: Value) -> (Activity, Option<String>, Rule) {
        activity(&row(fields))
    }

    #[test]
    fn each_erpnext_writer_maps_to_its_activity() {
        use Activity::*;
        // /printview
        assert_eq!(
            mapped(
                json!({"export_from": "Sales Invoice", "reference_document": "SINV-0001", "file_type": "PDF", "method": "Print"})
            ),
            (Print, Some("PDF".into()), Rule::Print)
        );
        // report_to_pdf
        assert_eq!(
            mapped(json!({"file_type": "PDF", "method": "PDF", "page": "<table>…</table>"})),
            (ReportPrint, Some("PDF".into()), Rule::ReportPrint)
        );
        // query-report Print (desk JS)
        assert_eq!(
            mapped(json!({"export_from": "GL Entry", "report_name": "General Ledger", "file_type": "PDF", "method": "Print"})).0,
            ReportPrint
        );
        // query-report Export (desk JS) and reportview.export_query
        assert_eq!(
            mapped(
                json!({"report_name": "General Ledger", "file_type": "Excel", "method": "Export"})
            ),
            (Export, Some("XLSX".into()), Rule::Export)
        );
        assert_eq!(
            mapped(json!({"export_from": "Customer", "file_type": "CSV"})),
            (Export, Some("CSV".into()), Rule::Export)
        );
        // Data Export: method is the parent doctype
        assert_eq!(
            mapped(json!({"export_from": "Sales Invoice", "file_type": "Excel", "method": "Sales Invoice", "columns": "{\"Sales Invoice\": [\"name\"]}"})).0,
            Export
        );
        // /private/files
        assert_eq!(
            mapped(
                json!({"export_from": "File", "reference_document": "f00ba4", "file_type": "pdf"})
            ),
            (FileDownload, Some("pdf".into()), Rule::File)
        );
        // /backups
        assert_eq!(
            mapped(json!({"report_name": "Backup"})),
            (BackupDownload, None, Rule::Backup)
        );
        // Other apps' rows, kept as found
        assert_eq!(
            mapped(
                json!({"export_from": "Contact", "reference_document": "C-1", "file_type": "vcf"})
            ),
            (FileDownload, Some("vcf".into()), Rule::OtherFile)
        );
        assert_eq!(
            mapped(
                json!({"export_from": "Patient", "method": "CAD Patient Search", "filters": "Ana"})
            ),
            (Read, None, Rule::Other)
        );
    }

    #[test]
    fn an_entry_keeps_the_row_and_says_when_erpnext_recorded_it() {
        let zone = SiteZone::named("Europe/Berlin").unwrap();
        let r = row(json!({
            "creation": "2026-03-29 02:30:00.5",
            "report_name": "General Ledger",
            "export_from": "",
            "file_type": "Excel",
            "method": "Export",
            "filters": "{'company': 'Acme', 'from_date': datetime.date(2026, 1, 1)}",
            "columns": null,
            "timestamp": null,
            "modified": "2026-03-29 02:30:00.5",
        }));
        let e = event(&r, "frappe:erp.example.com", &zone);
        assert_eq!(e.user, "ana@example.com");
        assert_eq!(e.activity, Activity::Export);
        assert_eq!(e.method, "Export");
        assert_eq!(e.export_from, None, "an empty doctype is no doctype");
        assert_eq!(e.report_name.as_deref(), Some("General Ledger"));
        assert_eq!(e.file_type.as_deref(), Some("XLSX"));
        assert_eq!(e.request_id.as_deref(), Some("a1b2c3d4e5"));
        assert_eq!(e.auth.as_deref(), Some(AUTH));
        assert_eq!(e.source, "frappe:erp.example.com");
        assert_eq!(e.outcome, accesslog_core::entry::Outcome::Granted);
        assert_eq!(e.columns, None);
        assert_eq!(
            e.filters.unwrap().to_value(),
            json!({
                "raw": "{'company': 'Acme', 'from_date': datetime.date(2026, 1, 1)}",
                "parsed": {"company": "Acme", "from_date": "2026-01-01"}
            })
        );
        let reason = e.reason.unwrap();
        assert_eq!(
            reason,
            "imported from ERPNext's Access Log, where it was recorded at 2026-03-29T01:30:00.500000Z \
             (creation 2026-03-29 02:30:00.5 Europe/Berlin); that local time does not exist (the clocks \
             went forward from +01:00 to +02:00): read as +01:00, the offset before the change; \
             ERPNext's file_type was \"Excel\""
        );
        assert_eq!(creation_in_reason(&reason), Some(r.creation));
        assert!(e_validates(&row(json!({"user": null})), &zone));
    }

    fn e_validates(r: &Row, zone: &SiteZone) -> bool {
        let e = event(r, "frappe:x", zone);
        assert_eq!(e.user, NO_USER);
        assert!(
            e.reason.as_deref().unwrap().ends_with(
                "; ERPNext's own code writes no such row (method \"\"), so it is recorded as read"
            ),
            "{:?}",
            e.reason
        );
        assert!(
            e.reason
                .as_deref()
                .unwrap()
                .contains("ERPNext's row names no user")
        );
        e.validate().is_ok()
    }

    #[test]
    fn filters_that_are_not_literals_are_kept_as_found() {
        assert_eq!(
            as_found_json("status = 'Paid' and 1=1").to_value(),
            json!({"raw": "status = 'Paid' and 1=1"})
        );
        assert_eq!(
            as_found_json("{\"a\": true}").to_value(),
            json!({"raw": "{\"a\": true}", "parsed": {"a": true}})
        );
    }

    #[test]
    fn rows_without_a_name_or_a_time_are_refused_by_name() {
        assert!(
            Row::from_json(&json!({"creation": "2026-01-01 00:00:00"}))
                .unwrap_err()
                .contains("has no name")
        );
        assert!(
            Row::from_json(&json!({"name": "x1"}))
                .unwrap_err()
                .contains("x1 has no creation")
        );
        assert!(
            Row::from_json(&json!({"name": "x1", "creation": "yesterday"}))
                .unwrap_err()
                .contains("not a date and time")
        );
        assert!(Row::from_json(&json!([1])).is_err());
        assert_eq!(creation_in_reason("recorded by someone else"), None);
        // A name longer than request_id holds is keyed as the log will keep it.
        let long = "n".repeat(300);
        let r = Row::from_json(&json!({"name": long, "creation": "2026-01-01 00:00:00"})).unwrap();
        assert!(
            r.name.len() <= 128 && r.name.starts_with("nnn"),
            "{}",
            r.name
        );
        let zone = SiteZone::named("UTC").unwrap();
        let e = event(&r, "frappe:x", &zone);
        assert_eq!(e.clone().bounded().request_id, Some(r.name.clone()));
        // Numbers from a loose upstream are kept as their text.
        let r = Row::from_json(&json!({"name": 7, "creation": "2026-01-01 00:00:00", "page": 3}))
            .unwrap();
        assert_eq!((r.name.as_str(), r.page.as_deref()), ("7", Some("3")));
    }
}
