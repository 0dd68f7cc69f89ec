//! The CSV writer on arbitrary columns and cells.
//!
//! Properties: nothing panics; the file is a UTF-8 BOM and RFC 4180 records that read back
//! as one header and one record per row, each with one field per column; every field reads
//! back as its value (text as given, or with the `'` that defuses it; numbers in their
//! shortest round-trip form; NULL, inf and NaN as nothing); and no field a spreadsheet
//! would run as a formula survives: a field that starts with `=` `+` `-` `@` TAB or CR is a
//! plain number.
#![no_main]

use accesslog_export::{Exporter, Format, SqlValue};
use libfuzzer_sys::fuzz_target;

#[path = "export_common.rs"]
mod common;

/// RFC 4180 records (CRLF between records, `"` quoting with `""` inside).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
                continue;
            }
            '"' => panic!("a bare quote inside an unquoted field: {text:?}"),
            ',' => {
                record.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF outside quotes");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_start = true;
                continue;
            }
            '\n' => panic!("LF outside quotes: {text:?}"),
            c => field.push(c),
        }
        at_start = false;
    }
    assert!(!quoted, "an unterminated quote");
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record lacks its CRLF"
    );
    records
}

/// What the cell parser of the export accepts as a number written as text (the same
/// grammar as crates/export/src/cell.rs, written again here).
fn plain_number(s: &str) -> bool {
    let t = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    digits(whole)
        && fraction.is_none_or(digits)
        && exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
        && s.parse::<f64>().is_ok_and(f64::is_finite)
}

fn formula_lead(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

fn defused(s: &str) -> String {
    if formula_lead(s) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fuzz_target!(|input: common::Input| {
    let (_, columns, rows) = input.table();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut exporter = Exporter::new(Format::Csv, columns.clone(), "x", Some(dir.path()))
        .expect("a CSV export starts");
    for row in &rows {
        exporter
            .write_row(row)
            .expect("a row of the right width is written");
    }
    let file = exporter.finish().expect("the CSV export finishes");
    assert_eq!(file.row_count, rows.len() as u64);
    let bytes = std::fs::read(&file.path).expect("the file reads back");
    assert_eq!(file.byte_count, bytes.len() as u64);
    let text = std::str::from_utf8(&bytes).expect("CSV is UTF-8");
    let text = text.strip_prefix('\u{feff}').expect("a BOM first");
    let records = parse_csv(text);
    assert_eq!(
        records.len(),
        rows.len() + 1,
        "one header and one record per row"
    );

    let header: Vec<String> = columns.iter().map(|c| defused(&c.label)).collect();
    assert_eq!(records[0], header, "the header");
    for (record, row) in records[1..].iter().zip(&rows) {
        assert_eq!(record.len(), columns.len());
        for ((got, value), column) in record.iter().zip(row).zip(&columns) {
            match value {
                SqlValue::Null => assert_eq!(got, ""),
                SqlValue::Int(n) => assert_eq!(got, &n.to_string()),
                SqlValue::Float(f) if !f.is_finite() => assert_eq!(got, ""),
                SqlValue::Float(f) => {
                    assert!(!got.contains(['e', 'E']), "{got}");
                    assert_eq!(got.parse::<f64>().ok(), Some(*f), "{got} for {f:e}");
                }
                SqlValue::Text(s) if column.fieldtype.is_numeric() && plain_number(s) => {
                    assert_eq!(got, s);
                }
                SqlValue::Text(s) => assert_eq!(got, &defused(s), "text cell"),
            }
            assert!(
                !formula_lead(got) || plain_number(got),
                "{got:?} would run as a formula"
            );
        }
    }
});
