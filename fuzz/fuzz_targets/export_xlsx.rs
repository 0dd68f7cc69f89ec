//! The XLSX writer on arbitrary columns, sheet names and cells.
//!
//! Properties: nothing panics; any sheet name and any labels, widths and cells within
//! Excel's column limit give a finished workbook (no `ExportError::Xlsx`); the same rows
//! give the same bytes (the SHA-256 is recorded in the Access Log); the file is a zip.
#![no_main]

use accesslog_export::{ExportError, Exporter, Format};
use libfuzzer_sys::fuzz_target;

#[path = "export_common.rs"]
mod common;

fn export(
    sheet: &str,
    columns: &[accesslog_export::Column],
    rows: &[Vec<accesslog_export::SqlValue>],
    dir: &std::path::Path,
) -> (String, Vec<u8>) {
    let mut exporter = match Exporter::new(Format::Xlsx, columns.to_vec(), sheet, Some(dir)) {
        Ok(e) => e,
        Err(ExportError::Xlsx(why)) => panic!("sheet {sheet:?}: {why}"),
        Err(e) => panic!("{e}"),
    };
    for row in rows {
        exporter
            .write_row(row)
            .expect("a row of the right width is written");
    }
    let file = exporter.finish().expect("the XLSX export finishes");
    assert_eq!(file.row_count, rows.len() as u64);
    let bytes = std::fs::read(&file.path).expect("the file reads back");
    assert_eq!(file.byte_count, bytes.len() as u64);
    (file.sha256, bytes)
}

fuzz_target!(|input: common::Input| {
    let (sheet, columns, rows) = input.table();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (sha, bytes) = export(&sheet, &columns, &rows, dir.path());
    assert!(bytes.starts_with(b"PK\x03\x04"), "not a zip");
    let (again, _) = export(&sheet, &columns, &rows, dir.path());
    assert_eq!(sha, again, "the same rows gave different bytes");
});
