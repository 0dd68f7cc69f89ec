//! XLSX files read back the way a user's tools would: with openpyxl when it is installed
//! (CI installs it), and byte for byte for determinism.

use std::path::Path;
use std::process::Command;

use super::*;
use crate::{Exporter, Format};

fn col(label: &str, fieldtype: FieldType) -> Column {
    Column {
        label: label.to_string(),
        fieldtype,
        width: None,
    }
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_string())
}

fn export(
    dir: &Path,
    columns: Vec<Column>,
    sheet: &str,
    rows: &[Vec<SqlValue>],
) -> crate::ExportFile {
    let mut exporter = Exporter::new(Format::Xlsx, columns, sheet, Some(dir)).unwrap();
    for row in rows {
        exporter.write_row(row).unwrap();
    }
    exporter.finish().unwrap()
}

/// Runs `checks` (Python, with `ws` the first sheet and `wb` the workbook) against the
/// file; false when openpyxl is missing, so the caller can skip.
fn openpyxl_checks(path: &Path, checks: &str) -> bool {
    let available = Command::new("python3")
        .args(["-c", "import openpyxl"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        accesslog_testkit::skip("openpyxl", "pip install openpyxl");
        return false;
    }
    let script = format!(
        "import sys, datetime\nimport openpyxl\nwb = openpyxl.load_workbook(sys.argv[1])\nws = wb.worksheets[0]\n{checks}\n"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openpyxl checks failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[test]
fn cells_come_back_typed_and_text_stays_text() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(40_000);
    let columns = vec![
        col("Posting Date", FieldType::Date),
        col("When", FieldType::Datetime),
        Column {
            width: Some(30),
            ..col("Account", FieldType::Link)
        },
        col("Debit", FieldType::Currency),
        col("Qty", FieldType::Int),
        col("Rate", FieldType::Float),
        col("Cancelled", FieldType::Check),
        col("Remarks", FieldType::Text),
        col("Big", FieldType::Int),
    ];
    let rows = vec![
        vec![
            text("2024-01-05"),
            text("2024-01-05 13:45:30.250000"),
            text("=HYPERLINK(\"http://x\",\"y\")"),
            SqlValue::Float(1234.5),
            SqlValue::Int(42),
            SqlValue::Float(0.1),
            SqlValue::Int(1),
            text("-5"),
            SqlValue::Int(9_007_199_254_740_993),
        ],
        vec![
            text("not a date"),
            text("2024-13-01 00:00:00"),
            text("Cash"),
            text("12.50"),
            SqlValue::Null,
            SqlValue::Float(f64::NAN),
            SqlValue::Int(0),
            SqlValue::Text(long),
            SqlValue::Int(-5),
        ],
        vec![SqlValue::Null; 9],
        vec![
            text("2024-02-29"),
            text("1999-12-31T23:59:59"),
            text("@SUM(A1)"),
            SqlValue::Float(-0.005),
            SqlValue::Int(-7),
            SqlValue::Float(1e300),
            SqlValue::Null,
            text("ünïcødé € \u{1}"),
            SqlValue::Null,
        ],
    ];
    let file = export(dir.path(), columns, "GL: 2024/01 [draft]", &rows);
    assert_eq!(file.row_count, 4);
    let checks = r##"
assert ws.title == "GL_ 2024_01 _draft_", ws.title
assert ws.freeze_panes == "A2", ws.freeze_panes
assert [c.value for c in ws[1]] == ["Posting Date", "When", "Account", "Debit", "Qty", "Rate", "Cancelled", "Remarks", "Big"], [c.value for c in ws[1]]
assert all(c.font.b for c in ws[1])
assert not ws["A2"].font.b
widths = {k: round(v.width) for k, v in ws.column_dimensions.items()}
assert widths["A"] == 15 and widths["B"] == 11 and widths["C"] == 31, widths
assert wb.properties.created == datetime.datetime(2000, 1, 1), wb.properties.created

def num(cell, value):
    assert ws[cell].data_type == "n" and not isinstance(ws[cell].value, bool), (cell, ws[cell].value)
    assert ws[cell].value == value, (cell, ws[cell].value, value)

def string(cell, value):
    assert ws[cell].data_type == "s", (cell, ws[cell].data_type)
    assert ws[cell].value == value, (cell, ws[cell].value, value)

assert ws["A2"].value == datetime.datetime(2024, 1, 5), ws["A2"].value
assert ws["A2"].number_format == "yyyy-mm-dd", ws["A2"].number_format
assert ws["A2"].is_date
b2 = ws["B2"].value
assert isinstance(b2, datetime.datetime), b2
assert abs(b2 - datetime.datetime(2024, 1, 5, 13, 45, 30, 250000)) < datetime.timedelta(milliseconds=1), b2
assert ws["B2"].number_format == "yyyy-mm-dd hh:mm:ss", ws["B2"].number_format
string("C2", '=HYPERLINK("http://x","y")')
num("D2", 1234.5)
assert ws["D2"].number_format == "#,##0.00", ws["D2"].number_format
num("E2", 42)
num("F2", 0.1)
num("G2", 1)
string("H2", "-5")
string("I2", "9007199254740993")

string("A3", "not a date")
string("B3", "2024-13-01 00:00:00")
num("D3", 12.5)
assert ws["E3"].value is None and ws["F3"].value is None
num("G3", 0)
assert len(ws["H3"].value) == 32767, len(ws["H3"].value)
num("I3", -5)

assert all(c.value is None for c in ws[4]), [c.value for c in ws[4]]

assert ws["A5"].value == datetime.datetime(2024, 2, 29), ws["A5"].value
assert ws["B5"].value == datetime.datetime(1999, 12, 31, 23, 59, 59), ws["B5"].value
string("C5", "@SUM(A1)")
num("D5", -0.005)
num("E5", -7)
num("F5", 1e300)
# Control characters are stored as Excel's `_xHHHH_` escapes, which Excel decodes and
# openpyxl does not.
string("H5", "ünïcødé € _x0001_")
assert ws.max_row == 5, ws.max_row
"##;
    openpyxl_checks(&file.path, checks);
}

fn ledger_rows(n: i64) -> Vec<Vec<SqlValue>> {
    (0..n)
        .map(|i| {
            vec![
                text(&format!("2024-01-{:02}", i % 28 + 1)),
                text(&format!("Account {}", i % 7)),
                SqlValue::Float(i as f64 * 1.25),
                SqlValue::Int(i % 2),
            ]
        })
        .collect()
}

fn ledger_columns() -> Vec<Column> {
    vec![
        col("Date", FieldType::Date),
        col("Account", FieldType::Link),
        col("Debit", FieldType::Currency),
        col("Cancelled", FieldType::Check),
    ]
}

#[test]
fn the_same_rows_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let rows = ledger_rows(2_000);
    let first = export(dir.path(), ledger_columns(), "Ledger", &rows);
    let second = export(dir.path(), ledger_columns(), "Ledger", &rows);
    assert_eq!(first.sha256, second.sha256);
    assert_eq!(first.byte_count, second.byte_count);
    let bytes = std::fs::read(&first.path).unwrap();
    assert_eq!(bytes, std::fs::read(&second.path).unwrap());
    assert_eq!(first.byte_count, bytes.len() as u64);
    assert_eq!(
        first.sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );

    // And the digest does follow the data.
    let mut changed = rows.clone();
    changed[1_999][2] = SqlValue::Float(0.5);
    let third = export(dir.path(), ledger_columns(), "Ledger", &changed);
    assert_ne!(first.sha256, third.sha256);
}

/// Every entry in the zip's central directory carries the DOS time 1980-01-01 00:00.
#[test]
fn zip_entries_have_a_fixed_time() {
    let dir = tempfile::tempdir().unwrap();
    let file = export(dir.path(), ledger_columns(), "Ledger", &ledger_rows(10));
    let bytes = std::fs::read(&file.path).unwrap();
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let end = bytes
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .expect("an end of central directory record");
    let entries = u16_at(end + 10);
    let mut at = u32_at(end + 16) as usize;
    let mut names = Vec::new();
    for _ in 0..entries {
        assert_eq!(&bytes[at..at + 4], b"PK\x01\x02");
        let (time, date) = (u16_at(at + 12), u16_at(at + 14));
        let name_len = u16_at(at + 28) as usize;
        let name = String::from_utf8_lossy(&bytes[at + 46..at + 46 + name_len]).to_string();
        assert_eq!((time, date), (0, (1 << 5) | 1), "{name}");
        names.push(name);
        at += 46 + name_len + u16_at(at + 30) as usize + u16_at(at + 32) as usize;
    }
    assert!(
        names.contains(&"xl/worksheets/sheet1.xml".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"docProps/core.xml".to_string()),
        "{names:?}"
    );
}

#[test]
fn sheet_names_are_made_to_fit_excel() {
    assert_eq!(sheet_name_for_excel("General Ledger"), "General Ledger");
    assert_eq!(sheet_name_for_excel("a[b]c:d*e?f/g\\h"), "a_b_c_d_e_f_g_h");
    assert_eq!(sheet_name_for_excel(""), "Sheet1");
    assert_eq!(sheet_name_for_excel("  "), "Sheet1");
    assert_eq!(sheet_name_for_excel("'quoted'"), "quoted");
    assert_eq!(sheet_name_for_excel("History"), "History_");
    assert_eq!(sheet_name_for_excel("tab\there"), "tab_here");
    let long = sheet_name_for_excel(&"é".repeat(40));
    assert_eq!(long.chars().count(), 31);
    // Cut at 31 and then trimmed, so no `'` is left at the end.
    assert_eq!(
        sheet_name_for_excel(&format!("{}'x", "a".repeat(30))),
        "a".repeat(30)
    );
    // 😀 is two UTF-16 units, as Excel counts.
    assert_eq!(sheet_name_for_excel(&"😀".repeat(20)).chars().count(), 15);
    for name in ["x", "a[b]", "History", "'", "😀😀", &"z".repeat(50)] {
        let mut sheet = Worksheet::new();
        assert!(sheet.set_name(sheet_name_for_excel(name)).is_ok(), "{name}");
    }
}

#[test]
fn long_text_is_cut_to_excel_limit_on_a_character() {
    assert_eq!(truncated("short"), "short");
    let exact = "a".repeat(MAX_CELL_UNITS);
    assert_eq!(truncated(&exact).len(), MAX_CELL_UNITS);
    let over = format!("{}é", "a".repeat(MAX_CELL_UNITS - 1)) + "b";
    assert_eq!(
        truncated(&over),
        format!("{}é", "a".repeat(MAX_CELL_UNITS - 1))
    );
    let emoji = "😀".repeat(20_000);
    let cut = truncated(&emoji);
    assert_eq!(cut.encode_utf16().count(), MAX_CELL_UNITS - 1);
}

#[test]
fn widths_come_from_the_column_or_its_label() {
    let width = |label: &str, width| {
        column_width(&Column {
            label: label.into(),
            fieldtype: FieldType::Data,
            width,
        })
    };
    assert_eq!(width("Qty", None), 10);
    assert_eq!(width("A much longer label", None), 21);
    assert_eq!(width("Qty", Some(4)), 4);
    assert_eq!(width("Qty", Some(1_000)), 255);
}

/// Excel (and rust_xlsxwriter) refuse a sheet name that starts or ends with `'`; trimming
/// spaces and quotes once each left one behind in `a' '` (found while writing the
/// export_xlsx fuzz target's "any sheet name gives a workbook" property).
#[test]
fn sheet_names_never_end_or_start_with_a_quote() {
    for name in ["a' '", "a ' ' '", "' 'a", "'' ''", "x'\t'", "' ' ' ' '"] {
        let fixed = sheet_name_for_excel(name);
        assert!(
            !fixed.starts_with('\'') && !fixed.ends_with('\''),
            "{name:?} gave {fixed:?}"
        );
        rust_xlsxwriter::utility::check_sheet_name(&fixed).unwrap();
    }
}
