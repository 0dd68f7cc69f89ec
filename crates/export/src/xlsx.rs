//! XLSX through rust_xlsxwriter's constant-memory mode: each row goes to a temporary file
//! as soon as the next one starts, so memory stays flat however many rows there are.
//!
//! Cells are typed by column (numbers, money, dates, datetimes); text is always a string,
//! never a formula. The document properties are fixed and the zip entries carry a fixed
//! time, so the same rows always give the same bytes, and so the same SHA-256.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use accesslog_core::doctype::FieldType;
use accesslog_store::SqlValue;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::{Column, ExportError, cell};
use accesslog_core::digest::HashingWriter;

const BUFFER_BYTES: usize = 256 * 1024;
/// Excel's limit on the characters (UTF-16 units) in a cell.
const MAX_CELL_UNITS: usize = 32_767;
/// Excel's limit on columns in a sheet.
const MAX_COLUMNS: usize = 16_384;
/// Integers beyond ±2^53 are not exact as Excel's doubles; they are written as text so no
/// digit changes.
const MAX_EXACT_INT: u64 = 1 << 53;
/// Deflate does most of the work of an XLSX export. Level 3 instead of the default 6
/// writes a General Ledger about 1.75 times as fast for a file about 13% larger (measured
/// with benches/export_bench.rs: 200,000 rows, 2.45 s and 12.1 MB at 6, 1.40 s and 13.6 MB
/// at 3).
const ZIP_LEVEL: u8 = 3;

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Number,
    Date,
    Datetime,
}

impl Kind {
    fn of(fieldtype: FieldType) -> Kind {
        match fieldtype {
            FieldType::Int | FieldType::Float | FieldType::Currency | FieldType::Check => {
                Kind::Number
            }
            FieldType::Date => Kind::Date,
            FieldType::Datetime => Kind::Datetime,
            FieldType::Data
            | FieldType::Text
            | FieldType::Select
            | FieldType::Link
            | FieldType::Table => Kind::Text,
        }
    }
}

pub(crate) struct XlsxWriter {
    workbook: Workbook,
    sheet: Worksheet,
    kinds: Vec<Kind>,
    file: File,
    /// The sheet row the next record goes to (row 0 is the header).
    next_row: u32,
}

impl XlsxWriter {
    pub(crate) fn new(
        file: File,
        columns: &[Column],
        sheet_name: &str,
        tempdir: &Path,
    ) -> Result<Self, ExportError> {
        if columns.len() > MAX_COLUMNS {
            return Err(ExportError::Xlsx(format!(
                "the export has {} columns but an Excel sheet holds at most 16,384; export CSV instead or choose fewer columns",
                columns.len()
            )));
        }
        let mut workbook = Workbook::new();
        // A fixed creation time (the only time that goes into the file) keeps the output
        // byte-identical from run to run; the zip entries are already stamped 1980-01-01.
        let epoch = ExcelDateTime::from_ymd(2000, 1, 1)?.and_hms(0, 0, 0)?;
        workbook.set_properties(&DocProperties::new().set_creation_datetime(&epoch));
        workbook.set_zip_compression_level(ZIP_LEVEL);
        // The sheet's rows wait in an unnamed temporary file until `finish` zips them: as
        // much disk as the uncompressed sheet (about 560 MB for a million ledger rows), so
        // it goes where the export goes, not necessarily the system's /tmp.
        workbook.set_tempdir(tempdir)?;
        let mut sheet = workbook.new_worksheet_with_constant_memory()?;
        sheet.set_name(sheet_name_for_excel(sheet_name))?;
        sheet.set_freeze_panes(1, 0)?;

        let bold = Format::new().set_bold();
        let money = Format::new().set_num_format("#,##0.00");
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        for (i, column) in columns.iter().enumerate() {
            // Fits: checked against MAX_COLUMNS above.
            let col = u16::try_from(i).map_err(|_| ExportError::Xlsx("too many columns".into()))?;
            sheet.set_column_width(col, f64::from(column_width(column)))?;
            // A column format rather than a format per cell: Excel applies it to every
            // cell written without one, and the writer skips a format lookup per cell.
            let format = match column.fieldtype {
                FieldType::Currency => Some(&money),
                FieldType::Date => Some(&date),
                FieldType::Datetime => Some(&datetime),
                _ => None,
            };
            if let Some(format) = format {
                sheet.set_column_format(col, format)?;
            }
            sheet.write_string_with_format(0, col, truncated(&column.label), &bold)?;
        }
        let kinds = columns.iter().map(|c| Kind::of(c.fieldtype)).collect();
        Ok(XlsxWriter {
            workbook,
            sheet,
            kinds,
            file,
            next_row: 1,
        })
    }

    /// One record; the caller has checked its width and the row limit.
    pub(crate) fn write_row(&mut self, row: &[SqlValue]) -> Result<(), ExportError> {
        let r = self.next_row;
        for (i, (value, kind)) in row.iter().zip(&self.kinds).enumerate() {
            // Fits: the column count was checked against MAX_COLUMNS.
            let c = i as u16;
            let sheet = &mut self.sheet;
            match (value, kind) {
                (SqlValue::Null, _) => {}
                (SqlValue::Int(n), _) if n.unsigned_abs() <= MAX_EXACT_INT => {
                    sheet.write_number(r, c, *n as f64)?;
                }
                (SqlValue::Int(n), _) => {
                    sheet.write_string(r, c, n.to_string())?;
                }
                // Nothing for inf and NaN, as in CSV; Excel has no such numbers.
                (SqlValue::Float(f), _) if !f.is_finite() => {}
                (SqlValue::Float(f), _) => {
                    sheet.write_number(r, c, *f)?;
                }
                (SqlValue::Text(s), kind) => {
                    let number = match kind {
                        Kind::Text => None,
                        Kind::Number => cell::parse_number(s),
                        Kind::Date => cell::parse_date(s),
                        Kind::Datetime => cell::parse_datetime(s),
                    };
                    match number {
                        Some(n) => sheet.write_number(r, c, n)?,
                        None => sheet.write_string(r, c, truncated(s))?,
                    };
                }
            }
        }
        self.next_row += 1;
        Ok(())
    }

    /// Zips the workbook into the file, hashing it on the way; returns the byte count and
    /// the SHA-256.
    pub(crate) fn finish(self) -> Result<(u64, String), ExportError> {
        let XlsxWriter {
            mut workbook,
            sheet,
            file,
            ..
        } = self;
        workbook.push_worksheet(sheet);
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, HashingWriter::new(file));
        workbook.save_to_writer(&mut out)?;
        let hashing = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        let (_file, bytes, digest) = hashing.finish()?;
        Ok((bytes, digest))
    }
}

impl From<XlsxError> for ExportError {
    fn from(e: XlsxError) -> Self {
        match e {
            XlsxError::IoError(e) => ExportError::Io(e),
            other => ExportError::Xlsx(other.to_string()),
        }
    }
}

/// Width in characters: the column's own, else room for the label, at least 10; at most
/// Excel's 255.
fn column_width(column: &Column) -> u32 {
    let width = column.width.unwrap_or_else(|| {
        let label = u32::try_from(column.label.chars().count()).unwrap_or(u32::MAX);
        label.saturating_add(2).max(10)
    });
    width.min(255)
}

/// Text cut to Excel's 32,767 characters a cell (longer text makes Excel report the file
/// as damaged). Only text that long pays for the count.
fn truncated(s: &str) -> &str {
    if s.len() <= MAX_CELL_UNITS {
        return s;
    }
    let mut units = 0;
    for (at, ch) in s.char_indices() {
        units += ch.len_utf16();
        if units > MAX_CELL_UNITS {
            return &s[..at];
        }
    }
    s
}

/// A name Excel accepts: `[ ] : * ? / \` and control characters become `_`, no `'` at
/// either end, at most 31 characters, not blank and not the reserved `History`.
pub(crate) fn sheet_name_for_excel(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let quote_or_space = |c: char| c == '\'' || c.is_whitespace();
    let mut out = String::new();
    let mut units = 0;
    for c in cleaned.trim_start_matches(quote_or_space).chars() {
        units += c.len_utf16();
        if units > 31 {
            break;
        }
        out.push(c);
    }
    // Spaces and quotes together: trimming each once could leave a `'` at the end.
    let out = out.trim_end_matches(quote_or_space);
    if out.is_empty() {
        "Sheet1".to_string()
    } else if out.eq_ignore_ascii_case("history") {
        format!("{out}_")
    } else {
        out.to_string()
    }
}

#[cfg(test)]
mod tests;
