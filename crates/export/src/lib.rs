//! Exports: rows of a query report or list view written to a CSV or XLSX file, streamed
//! row by row in bounded memory, and handed back with the row count, size and SHA-256 that
//! the caller records in the Access Log before it sends the file.
//!
//! - CSV (`csv.rs`): RFC 4180, UTF-8 with a BOM, formula-like text defused.
//! - XLSX (`xlsx.rs`): typed cells, constant memory, byte-identical for identical rows.
//!
//! Nothing here records anything, and nothing here knows where rows come from.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cell;
mod csv;
mod xlsx;

use std::path::Path;

pub use accesslog_core::doctype::FieldType;
pub use accesslog_store::SqlValue;

/// A file format an export can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// `csv` / `CSV`; `xlsx` / `XLSX` / `Excel` / `excel`.
    pub fn from_name(s: &str) -> Option<Format> {
        match s {
            "csv" | "CSV" => Some(Format::Csv),
            "xlsx" | "XLSX" | "Excel" | "excel" => Some(Format::Xlsx),
            _ => None,
        }
    }

    /// The name the Access Log records as the file type.
    pub fn file_type(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Xlsx => "XLSX",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// One column of an export: its header, its type (which decides how XLSX types its
/// cells), and its width in characters (XLSX only; `None`: the label's length, at least 10).
#[derive(Clone, Debug)]
pub struct Column {
    pub label: String,
    pub fieldtype: FieldType,
    pub width: Option<u32>,
}

/// Data rows an XLSX sheet can hold: Excel's 1,048,576 rows less the header.
pub const XLSX_MAX_DATA_ROWS: u64 = 1_048_575;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "this export has more than {} rows, Excel's limit; export CSV instead or narrow the filters",
        thousands(*limit)
    )]
    TooManyRows { limit: u64 },
    #[error(
        "could not write the export file: {0}; check that the temporary directory is writable and has space"
    )]
    Io(#[from] std::io::Error),
    #[error("could not build the XLSX file: {0}")]
    Xlsx(String),
    #[error(
        "a row has {got} values but the export has {expected} columns; every row needs one value per column"
    )]
    WrongWidth { expected: usize, got: usize },
}

/// An export being written. Rows go straight to a temporary file; dropping the exporter
/// without [`Exporter::finish`] deletes the file.
///
/// Every call does blocking file IO: from async code, run the export in
/// `tokio::task::spawn_blocking`. That also contains one rust_xlsxwriter habit: it panics,
/// rather than returning an error, when writing a row to its temporary file fails (a full
/// disk); inside `spawn_blocking` the panic comes back as a `JoinError`.
pub struct Exporter {
    sink: Sink,
    path: tempfile::TempPath,
    columns: usize,
    rows: u64,
    max_rows: u64,
}

enum Sink {
    Csv(csv::CsvWriter),
    Xlsx(Box<xlsx::XlsxWriter>),
}

/// A finished export: the file (deleted when `path` is dropped) and what the Access Log
/// records about it.
#[derive(Debug)]
pub struct ExportFile {
    pub path: tempfile::TempPath,
    pub row_count: u64,
    pub byte_count: u64,
    /// 64 lower-case hex digits of the SHA-256 of the whole file.
    pub sha256: String,
}

impl Exporter {
    /// Starts an export into a new temporary file in `dir` (the system's temporary
    /// directory when `None`), header row first. `sheet_name` names the XLSX sheet; it is
    /// made to fit Excel's rules (at most 31 characters, none of `[ ] : * ? / \`).
    pub fn new(
        format: Format,
        columns: Vec<Column>,
        sheet_name: &str,
        dir: Option<&Path>,
    ) -> Result<Self, ExportError> {
        Self::with_row_limit(format, columns, sheet_name, dir, XLSX_MAX_DATA_ROWS)
    }

    /// [`Exporter::new`] with another XLSX row limit, so tests need not write a million rows.
    pub(crate) fn with_row_limit(
        format: Format,
        columns: Vec<Column>,
        sheet_name: &str,
        dir: Option<&Path>,
        xlsx_max_rows: u64,
    ) -> Result<Self, ExportError> {
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let (file, path) = tempfile::Builder::new()
            .prefix("accesslog-export-")
            .suffix(&format!(".{}", format.extension()))
            .tempfile_in(&dir)?
            .into_parts();
        let (sink, max_rows) = match format {
            Format::Csv => {
                let labels: Vec<&str> = columns.iter().map(|c| c.label.as_str()).collect();
                let types: Vec<FieldType> = columns.iter().map(|c| c.fieldtype).collect();
                (
                    Sink::Csv(csv::CsvWriter::new(file, &labels, &types)?),
                    u64::MAX,
                )
            }
            Format::Xlsx => {
                let writer = xlsx::XlsxWriter::new(file, &columns, sheet_name, &dir)?;
                (Sink::Xlsx(Box::new(writer)), xlsx_max_rows)
            }
        };
        Ok(Exporter {
            sink,
            path,
            columns: columns.len(),
            rows: 0,
            max_rows,
        })
    }

    /// Writes one row, one value per column in order. A row too many for XLSX is refused
    /// with [`ExportError::TooManyRows`] before anything of it is written.
    pub fn write_row(&mut self, row: &[SqlValue]) -> Result<(), ExportError> {
        if row.len() != self.columns {
            return Err(ExportError::WrongWidth {
                expected: self.columns,
                got: row.len(),
            });
        }
        if self.rows >= self.max_rows {
            return Err(ExportError::TooManyRows {
                limit: self.max_rows,
            });
        }
        match &mut self.sink {
            Sink::Csv(w) => w.write_row(row)?,
            Sink::Xlsx(w) => w.write_row(row)?,
        }
        self.rows += 1;
        Ok(())
    }

    /// Data rows written so far (the header is not counted).
    #[cfg(test)]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Completes the file and returns it with its row count, size and SHA-256.
    pub fn finish(self) -> Result<ExportFile, ExportError> {
        let (byte_count, sha256) = match self.sink {
            Sink::Csv(w) => w.finish()?,
            Sink::Xlsx(w) => w.finish()?,
        };
        Ok(ExportFile {
            path: self.path,
            row_count: self.rows,
            byte_count,
            sha256,
        })
    }
}

/// `1048575` as `1,048,575`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests;
