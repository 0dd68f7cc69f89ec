//! The rules that judge one entry by what it took: R4 (unfiltered export) and R5
//! (sensitive content).
//!
//! - **R4 unfiltered export:** a granted export of ≥ 1,000 rows with no filters, or of
//!   ≥ 90 % of its table's rows. "No filters" is what the entry recorded: nothing, an
//!   empty list or object, or a list view's `{"filters": …}` that is empty and picked no
//!   documents. A report's applied filters (its defaults included) count as filters.
//! - **R5 sensitive content:** a granted print, export, file or raw print of one of the
//!   site's sensitive document types or reports, and every backup download. Reads are left
//!   out: looking at a salary slip is the payroll clerk's work; taking it out is not.

use std::collections::BTreeSet;

use accesslog_core::entry::{Activity, Entry, Outcome};
use serde_json::Value;

/// R4's thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct UnfilteredExport {
    pub min_rows: u64,
    /// The share of a table (0–1) that counts as the whole of it.
    pub share_of_table: f64,
}

pub const R4_UNFILTERED: UnfilteredExport = UnfilteredExport {
    min_rows: 1_000,
    share_of_table: 0.9,
};

/// R5's lists, as `[alerts.rules.R5]` names them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sensitive {
    pub doctypes: BTreeSet<String>,
    pub reports: BTreeSet<String>,
}

/// Whether recorded filters hold no condition at all.
pub fn unfiltered(filters: Option<&Value>) -> bool {
    fn empty(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::String(s) => s.trim().is_empty() || s.trim() == "[]" || s.trim() == "{}",
            _ => false,
        }
    }
    match filters {
        None => true,
        Some(Value::Object(o)) if o.contains_key("filters") => {
            o.get("filters").is_none_or(empty) && o.get("selected_items").is_none_or(empty)
        }
        Some(v) => empty(v),
    }
}

impl UnfilteredExport {
    /// The arithmetic when `e` is an unfiltered export; `table_rows` is how many rows its
    /// document type has now, when known.
    pub fn judge(&self, e: &Entry, table_rows: Option<u64>) -> Option<String> {
        let ev = &e.event;
        if ev.activity != Activity::Export || ev.outcome != Outcome::Granted {
            return None;
        }
        let rows = ev.row_count?;
        if rows < self.min_rows {
            return None;
        }
        let what = ev
            .report_name
            .as_deref()
            .or(ev.export_from.as_deref())
            .unwrap_or("?");
        let filters = ev.filters.as_ref().map(|f| f.to_value());
        if unfiltered(filters.as_ref()) {
            return Some(format!("{rows} rows of {what} exported with no filters"));
        }
        let table = table_rows.filter(|t| *t > 0)?;
        let share = rows as f64 / table as f64;
        (share >= self.share_of_table).then(|| {
            format!(
                "{rows} rows of {what} exported: {:.0} % of its {table} rows",
                share * 100.0
            )
        })
    }
}

impl Sensitive {
    /// Why `e` took sensitive content out, if it did.
    pub fn judge(&self, e: &Entry) -> Option<String> {
        let ev = &e.event;
        if ev.outcome != Outcome::Granted {
            return None;
        }
        match ev.activity {
            Activity::BackupDownload => Some(format!(
                "a backup of the whole database downloaded ({})",
                ev.reference_document.as_deref().unwrap_or("?")
            )),
            Activity::Read
            | Activity::LogExport
            | Activity::LogPrune
            | Activity::LogRedact
            | Activity::LegalHold
            | Activity::LogWrite => None,
            _ => {
                if let Some(r) = ev
                    .report_name
                    .as_deref()
                    .filter(|r| self.reports.contains(*r))
                {
                    Some(format!(
                        "{} of the sensitive report {r}",
                        ev.activity.as_str()
                    ))
                } else {
                    let t = ev
                        .export_from
                        .as_deref()
                        .filter(|t| self.doctypes.contains(*t))?;
                    Some(format!(
                        "{} of the sensitive type {t}",
                        ev.activity.as_str()
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use accesslog_core::Timestamp;
    use accesslog_core::entry::{CanonicalJson, Event};
    use serde_json::json;

    use super::*;

    fn export(rows: u64, filters: Option<Value>) -> Entry {
        let mut event = Event::new("a@x", Activity::Export, "GET /api/method/export_query");
        event.export_from = Some("Employee".into());
        event.row_count = Some(rows);
        event.filters = filters.as_ref().map(CanonicalJson::from_value);
        Entry {
            seq: 1,
            timestamp: Timestamp::from_micros(0),
            event,
        }
    }

    #[test]
    fn what_counts_as_no_filters() {
        for none in [
            None,
            Some(json!(null)),
            Some(json!([])),
            Some(json!({})),
            Some(json!({"filters": [], "selected_items": []})),
            Some(json!({"filters": "[]"})),
        ] {
            assert!(unfiltered(none.as_ref()), "{none:?}");
        }
        for some in [
            json!([["Employee", "department", "=", "HR"]]),
            json!({"from_date": "2026-01-01"}),
            json!({"filters": [], "selected_items": ["EMP-1"]}),
            json!({"filters": {"status": "Active"}}),
        ] {
            assert!(!unfiltered(Some(&some)), "{some}");
        }
    }

    #[test]
    fn unfiltered_or_nearly_whole_exports_of_many_rows_fire() {
        let r4 = R4_UNFILTERED;
        let said = r4.judge(&export(1_000, None), None).expect("fires");
        assert_eq!(said, "1000 rows of Employee exported with no filters");
        assert_eq!(r4.judge(&export(999, None), None), None, "too few rows");
        let filtered = export(1_900, Some(json!({"status": "Active"})));
        assert_eq!(
            r4.judge(&filtered, Some(2_000)).as_deref(),
            Some("1900 rows of Employee exported: 95 % of its 2000 rows")
        );
        assert_eq!(r4.judge(&filtered, Some(10_000)), None, "a filtered fifth");
        assert_eq!(r4.judge(&filtered, None), None, "table size unknown");
        let mut denied = export(5_000, None);
        denied.event.outcome = Outcome::Denied;
        assert_eq!(r4.judge(&denied, None), None, "nothing left");
    }

    #[test]
    fn sensitive_types_reports_and_every_backup() {
        let r5 = Sensitive {
            doctypes: ["Salary Slip".to_owned()].into(),
            reports: ["Salary Register".to_owned()].into(),
        };
        let mut e = export(10, None);
        assert_eq!(r5.judge(&e), None);
        e.event.export_from = Some("Salary Slip".into());
        assert_eq!(
            r5.judge(&e).as_deref(),
            Some("export of the sensitive type Salary Slip")
        );
        e.event.activity = Activity::Read;
        assert_eq!(r5.judge(&e), None, "reads are work, not egress");
        let mut report = export(10, None);
        report.event.report_name = Some("Salary Register".into());
        assert!(r5.judge(&report).is_some());
        let mut backup = export(0, None);
        backup.event.activity = Activity::BackupDownload;
        backup.event.reference_document = Some("backup-20261203-101500.sqlite3".into());
        assert!(
            Sensitive::default().judge(&backup).is_some(),
            "every backup"
        );
    }
}
