//! Writing an export file: rows streamed from the database into CSV or XLSX, kept and
//! picked as asked, hashed as written.

use std::ops::ControlFlow;

use accesslog_export::{Column, ExportError, ExportFile, Exporter, Format};
use accesslog_store::SqlValue;

use crate::AppResult;

/// Writes `columns` and the rows `fill` produces to a file of `format`. `fill` gets a sink
/// to stream into; the rows are written as they arrive.
pub async fn write_export(
    format: Format,
    columns: Vec<Column>,
    sheet: &str,
    keep: impl Fn(u64) -> bool + Sync,
    pick: &[usize],
    fill: impl AsyncFnOnce(&mut accesslog_store::RowSink<'_>) -> AppResult<u64>,
) -> AppResult<ExportFile> {
    let mut exporter = Exporter::new(format, columns, sheet, None)?;
    let mut failed: Option<ExportError> = None;
    let mut index = 0u64;
    // Every column in order (the usual case) goes straight through; otherwise the picked
    // values are copied into one row kept for the purpose, its text buffers reused.
    let mut picked: Vec<SqlValue> = vec![SqlValue::Null; pick.len()];
    let in_order = pick.iter().enumerate().all(|(k, &c)| k == c);
    fill(&mut |row: &[SqlValue]| {
        let i = index;
        index += 1;
        if !keep(i) {
            return ControlFlow::Continue(());
        }
        if !in_order || row.len() != pick.len() {
            for (slot, &c) in picked.iter_mut().zip(pick) {
                copy_into(slot, row.get(c).unwrap_or(&SqlValue::Null));
            }
        }
        let row = if in_order && row.len() == pick.len() {
            row
        } else {
            &picked[..]
        };
        // rust_xlsxwriter panics when its temporary file cannot be written (a full disk):
        // caught here, the export fails with a message and the server goes on.
        let written =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exporter.write_row(row)))
                .unwrap_or_else(|_| Err(disk_full()));
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    })
    .await?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    match tokio::task::spawn_blocking(move || exporter.finish()).await {
        Ok(finished) => Ok(finished?),
        Err(e) if e.is_panic() => Err(disk_full().into()),
        Err(e) => Err(e.into()),
    }
}

fn disk_full() -> ExportError {
    ExportError::Io(std::io::Error::other(
        "the export's temporary file could not be written (is the disk full?)",
    ))
}

/// `*slot = value.clone()`, but text goes into the slot's own `String` when it has one.
fn copy_into(slot: &mut SqlValue, value: &SqlValue) {
    match (slot, value) {
        (SqlValue::Text(to), SqlValue::Text(from)) => to.clone_from(from),
        (slot, value) => *slot = value.clone(),
    }
}
