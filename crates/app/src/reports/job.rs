//! One report export, as a job: a checked run of the report, the columns kept (by their
//! fieldnames), the rows kept (`visible_idx`), and the format. The export route writes it
//! and the review's "Compare with today's data" re-runs it from an entry, through the
//! same code, so the two cannot drift apart and show a false "changed since".

use std::collections::{BTreeMap, BTreeSet};

use accesslog_core::entry::{CanonicalJson, Event};
use accesslog_export::{Column, ExportFile, Format};
use accesslog_site::reports::QueryReport;
use serde_json::Value;

use accesslog_core::Clock;
use accesslog_site::reports::Reports;
use accesslog_store::Store;

use super::Run;
use super::export::write_export;
use crate::{AppError, AppResult};

pub struct ExportJob<'a> {
    pub run: Run<'a>,
    /// The report's columns to write, by index, in this order.
    pub pick: Vec<usize>,
    /// The row indexes to keep (all when `None`).
    pub visible: Option<BTreeSet<u64>>,
    pub format: Format,
}

impl<'a> ExportJob<'a> {
    /// A job for `report` with `filters`, the columns named in `columns` (all when
    /// `None`) and the rows in `visible`. `Invalid` names a filter or column that does not
    /// fit.
    pub fn new(
        clock: &dyn Clock,
        report: &'a QueryReport,
        filters: &BTreeMap<String, String>,
        columns: Option<&[String]>,
        visible: Option<BTreeSet<u64>>,
        format: Format,
    ) -> AppResult<Self> {
        let run = Run::new(clock, report, filters)?;
        let pick = match columns {
            None => (0..report.columns.len()).collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    report
                        .columns
                        .iter()
                        .position(|c| &c.fieldname == n)
                        .ok_or_else(|| {
                            AppError::Invalid(format!("{n:?} is not a column of {}", report.name))
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            run,
            pick,
            visible,
            format,
        })
    }

    /// The job an export entry recorded: its report, filters (without `visible_idx`),
    /// columns, kept rows and file type. `Err` says why it cannot be re-run.
    pub fn from_entry(
        reports: &'a Reports,
        clock: &dyn Clock,
        event: &Event,
        filters: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let (Some(name), Some(file_type)) =
            (event.report_name.as_deref(), event.file_type.as_deref())
        else {
            return Err("Only report exports can be re-run.".to_owned());
        };
        let report = reports
            .get(name)
            .ok_or_else(|| format!("The report {name} no longer exists."))?;
        let format = Format::from_name(file_type)
            .ok_or_else(|| format!("{file_type} exports cannot be re-run."))?;
        let visible = match event.filters.as_ref().map(CanonicalJson::to_value) {
            Some(Value::Object(m)) => m.get("visible_idx").and_then(Value::as_array).map(|v| {
                v.iter()
                    .filter_map(Value::as_u64)
                    .collect::<BTreeSet<u64>>()
            }),
            _ => None,
        };
        let columns: Option<Vec<String>> = match event.columns.as_ref().map(|c| c.to_value()) {
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        };
        let mut given = filters.clone();
        given.remove("visible_idx");
        Self::new(clock, report, &given, columns.as_deref(), visible, format).map_err(|e| match e {
            AppError::Invalid(m) if m.contains("is not a column") => {
                "The report's columns have changed since; it cannot be re-run as it was.".to_owned()
            }
            other => format!("The logged filters no longer apply: {other}"),
        })
    }

    /// The columns of the file.
    pub fn columns(&self) -> Vec<Column> {
        let report = self.run.report;
        self.pick
            .iter()
            .map(|&i| {
                let c = &report.columns[i];
                Column {
                    label: c.label.clone(),
                    fieldtype: c.fieldtype,
                    width: c.width,
                }
            })
            .collect()
    }

    /// What the entry records of the job: the filters (with `visible_idx` when rows were
    /// picked) and the columns' fieldnames.
    pub fn describe(&self, event: &mut Event) {
        let report = self.run.report;
        let mut filters = self.run.filters_json();
        if let (Some(v), Value::Object(map)) = (&self.visible, &mut filters) {
            // Which rows were kept is part of what was exported.
            map.insert(
                "visible_idx".to_owned(),
                Value::Array(v.iter().map(|i| Value::from(*i)).collect()),
            );
        }
        event.export_from = Some(report.ref_doctype.clone());
        event.report_name = Some(report.name.clone());
        event.file_type = Some(self.format.file_type().to_owned());
        event.filters = Some(CanonicalJson::from_value(&filters));
        event.columns = Some(CanonicalJson::from_value(&Value::Array(
            self.pick
                .iter()
                .map(|&i| Value::String(report.columns[i].fieldname.clone()))
                .collect(),
        )));
    }

    /// Writes the file: every row of the run, the kept ones, the picked columns.
    pub async fn write(&self, store: &dyn Store) -> AppResult<ExportFile> {
        let visible = self.visible.as_ref();
        write_export(
            self.format,
            self.columns(),
            &self.run.report.name,
            |i| visible.is_none_or(|v| v.contains(&i)),
            &self.pick,
            async |sink| self.run.each_row(store, sink).await,
        )
        .await
    }
}
