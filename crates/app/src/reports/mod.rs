//! Query reports: who may use a report and how ([`report_for`]), a run of one with its
//! filters checked ([`Run`]: a page, the totals, or every row), and exports of reports and
//! lists to CSV or XLSX ([`job::ExportJob`], [`export::write_export`]), written to a
//! temporary file and hashed as they are written. The caller records the export before
//! it releases the file (`crate::gate`).

pub mod export;
pub mod job;

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use accesslog_core::Clock;
use accesslog_core::doctype::Action;
use accesslog_core::entry::CanonicalJson;
use accesslog_site::doctypes::DocTypes;
use accesslog_site::reports::{AppliedFilters, QueryReport, Reports};
use accesslog_store::{SqlValue, Store, StoreError};
use serde_json::Value;

use crate::{AppError, AppResult};

/// What a report is used for, and so which permission on its `ref_doctype` it needs, as
/// ERPNext checks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportUse {
    /// The report page or its data: `report` or `read`.
    View,
    /// A print (HTML or PDF): `print`.
    Print,
    /// A CSV or XLSX export: `export`.
    Export,
}

/// The report named `name`, if this user may use it so: they need one of the report's
/// roles, and the permission `use_` needs on the report's document type (404 and 403
/// otherwise; the caller records a refusal).
pub fn report_for<'a>(
    reports: &'a Reports,
    doctypes: &DocTypes,
    roles: &[String],
    name: &str,
    use_: ReportUse,
) -> AppResult<&'a QueryReport> {
    let report = reports
        .get(name)
        .ok_or_else(|| AppError::NotFound(format!("There is no report named {name:?}.")))?;
    if !report.allows(roles) {
        return Err(AppError::Forbidden(format!(
            "You do not have permission to run the report {}.",
            report.name
        )));
    }
    let allowed = doctypes
        .get(&report.ref_doctype)
        .is_some_and(|t| match use_ {
            ReportUse::View => t.allows(roles, Action::Report) || t.allows(roles, Action::Read),
            ReportUse::Print => t.allows(roles, Action::Print),
            ReportUse::Export => t.allows(roles, Action::Export),
        });
    if !allowed {
        let (what, needs) = match use_ {
            ReportUse::View => ("run", "report or read"),
            ReportUse::Print => ("print", "print"),
            ReportUse::Export => ("export", "export"),
        };
        return Err(AppError::Forbidden(format!(
            "You may not {what} the report {}: it needs {needs} permission on {}, which your roles do not give.",
            report.name, report.ref_doctype
        )));
    }
    Ok(report)
}

/// A report with its filters checked, ready to run.
pub struct Run<'a> {
    pub report: &'a QueryReport,
    pub filters: AppliedFilters,
    /// The report's query, with positional parameters, without a trailing `;`.
    sql: String,
    binds: Vec<SqlValue>,
}

impl<'a> Run<'a> {
    /// Checks `given` against the report's filters (`Invalid`, naming the problem);
    /// `today` is by `clock`.
    pub fn new(
        clock: &dyn Clock,
        report: &'a QueryReport,
        given: &BTreeMap<String, String>,
    ) -> AppResult<Self> {
        let today = clock.now().to_rfc3339();
        let filters = report
            .apply_filters(given, today.get(..10).unwrap_or(""))
            .map_err(AppError::Invalid)?;
        let (sql, binds) = accesslog_store::reports::positional(&report.query, &filters.params)
            .map_err(|e| AppError::Internal(format!("report {}: {e}", report.name)))?;
        let sql = sql.trim().trim_end_matches(';').to_owned();
        Ok(Run {
            report,
            filters,
            sql,
            binds,
        })
    }

    /// The applied filters as a JSON object (what the Access Log records).
    pub fn filters_json(&self) -> Value {
        Value::Object(
            self.filters
                .applied
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }

    /// Every column's fieldname, in order, as the entry of a read or print records them.
    pub fn columns_json(&self) -> CanonicalJson {
        CanonicalJson::from_value(&Value::Array(
            self.report
                .columns
                .iter()
                .map(|c| Value::String(c.fieldname.clone()))
                .collect(),
        ))
    }

    /// The query string that reproduces this view (`from_date=…&party=…`).
    pub fn query_string(&self) -> String {
        serde_urlencoded::to_string(&self.filters.applied).unwrap_or_default()
    }

    /// Streams every row (in the report's order) to `sink`.
    pub async fn each_row(
        &self,
        store: &dyn Store,
        sink: &mut accesslog_store::RowSink<'_>,
    ) -> AppResult<u64> {
        self.query(store, &self.sql, sink).await
    }

    /// One page of rows, sorted by a declared column if asked.
    pub async fn page(
        &self,
        store: &dyn Store,
        sort: Option<(&str, bool)>,
        limit: u64,
        offset: u64,
    ) -> AppResult<Vec<Vec<SqlValue>>> {
        let order = match sort {
            Some((column, descending)) if self.report.column(column).is_some() => format!(
                " ORDER BY r.\"{column}\" {}",
                if descending { "DESC" } else { "ASC" }
            ),
            _ => String::new(),
        };
        let sql = format!(
            "SELECT * FROM ({}) AS r{order} LIMIT {limit} OFFSET {offset}",
            self.sql
        );
        let mut rows = Vec::new();
        self.query(store, &sql, &mut |row: &[SqlValue]| {
            rows.push(row.to_vec());
            ControlFlow::Continue(())
        })
        .await?;
        Ok(rows)
    }

    /// The number of rows, and the sum of each numeric column (by index).
    pub async fn totals(&self, store: &dyn Store) -> AppResult<(u64, BTreeMap<usize, f64>)> {
        let numeric: Vec<(usize, &str)> = self
            .report
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                matches!(
                    c.fieldtype,
                    accesslog_core::doctype::FieldType::Currency
                        | accesslog_core::doctype::FieldType::Float
                        | accesslog_core::doctype::FieldType::Int
                )
            })
            .map(|(i, c)| (i, c.fieldname.as_str()))
            .collect();
        let sums: String = numeric
            .iter()
            .map(|(_, c)| format!(", CAST(SUM(r.\"{c}\") AS DOUBLE PRECISION)"))
            .collect();
        // The report's order changes no total and can cost as much as the rest.
        let unordered = accesslog_store::reports::without_final_order_by(&self.sql);
        let sql = format!(
            "SELECT COUNT(*){sums} FROM ({}) AS r",
            unordered.unwrap_or(&self.sql)
        );
        let mut out = (0, BTreeMap::new());
        self.query(store, &sql, &mut |row: &[SqlValue]| {
            if let Some(SqlValue::Int(n)) = row.first() {
                out.0 = u64::try_from(*n).unwrap_or(0);
            }
            for (k, (i, _)) in numeric.iter().enumerate() {
                let v = match row.get(k + 1) {
                    Some(SqlValue::Float(f)) => *f,
                    Some(SqlValue::Int(n)) => *n as f64,
                    _ => 0.0,
                };
                out.1.insert(*i, v);
            }
            ControlFlow::Continue(())
        })
        .await?;
        Ok(out)
    }

    async fn query(
        &self,
        store: &dyn Store,
        sql: &str,
        sink: &mut accesslog_store::RowSink<'_>,
    ) -> AppResult<u64> {
        store
            .query_each_row(sql, &self.binds, sink)
            .await
            .map_err(|e| {
                tracing::warn!(report = %self.report.name, error = %e, "report query failed");
                e
            })
            .map_err(|e| match e {
                StoreError::Unavailable(_) => AppError::Store(e),
                StoreError::Refused(m) => AppError::Forbidden(format!(
                    "The report {} could not run: {m}",
                    self.report.name
                )),
                other => AppError::Definition(format!(
                    "The report {} could not run: {other}",
                    self.report.name
                )),
            })
    }
}
