//! The exporter end to end for CSV, and what both formats share.

use sha2::{Digest, Sha256};

use super::*;

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

fn csv_of(columns: Vec<Column>, rows: &[Vec<SqlValue>]) -> (ExportFile, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let mut exporter = Exporter::new(Format::Csv, columns, "ignored", Some(dir.path())).unwrap();
    for row in rows {
        exporter.write_row(row).unwrap();
    }
    assert_eq!(exporter.rows(), rows.len() as u64);
    let file = exporter.finish().unwrap();
    assert!(
        file.path.starts_with(dir.path()),
        "the file is made in the given directory"
    );
    let bytes = std::fs::read(&file.path).unwrap();
    (file, bytes)
}

#[test]
fn csv_has_bom_header_crlf_and_quoting() {
    let (file, bytes) = csv_of(
        vec![col("Name", FieldType::Data), col("Note", FieldType::Text)],
        &[
            vec![text("a,b"), text("say \"hi\"")],
            vec![text("two\nlines"), text("plain")],
        ],
    );
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    assert_eq!(
        std::str::from_utf8(&bytes[3..]).unwrap(),
        "Name,Note\r\n\"a,b\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",plain\r\n"
    );
    assert_eq!(file.row_count, 2);
}

#[test]
fn csv_writes_numbers_as_they_are_and_nulls_as_nothing() {
    let (_, bytes) = csv_of(
        vec![
            col("Int", FieldType::Int),
            col("Amount", FieldType::Currency),
            col("Cancelled", FieldType::Check),
            col("Empty", FieldType::Data),
            col("Float", FieldType::Float),
        ],
        &[
            vec![
                SqlValue::Int(-5),
                SqlValue::Float(-1234.5),
                SqlValue::Int(1),
                SqlValue::Null,
                SqlValue::Float(f64::NAN),
            ],
            vec![
                SqlValue::Int(i64::MIN),
                // A number a report cast to text stays a number in a numeric column.
                text("-12.50"),
                SqlValue::Int(0),
                SqlValue::Null,
                SqlValue::Float(0.1),
            ],
            // In a numeric column, text that is not a number is still defused.
            vec![
                text("-1+2"),
                text("=1"),
                SqlValue::Null,
                SqlValue::Null,
                SqlValue::Float(f64::INFINITY),
            ],
        ],
    );
    assert_eq!(
        std::str::from_utf8(&bytes[3..]).unwrap(),
        "Int,Amount,Cancelled,Empty,Float\r\n\
         -5,-1234.5,1,,\r\n\
         -9223372036854775808,-12.50,0,,0.1\r\n\
         '-1+2,'=1,,,\r\n"
    );
}

#[test]
fn csv_defuses_formula_leads_in_text_and_labels_only() {
    let (_, bytes) = csv_of(
        vec![col("=cmd", FieldType::Data), col("-n", FieldType::Int)],
        &[
            vec![text("=1+2"), SqlValue::Int(-5)],
            vec![text("+1"), SqlValue::Float(-0.5)],
            vec![text("-1"), SqlValue::Int(3)],
            vec![text("@SUM(A1)"), SqlValue::Int(3)],
            vec![text("\tx"), SqlValue::Int(3)],
            vec![text("\rx"), SqlValue::Int(3)],
            vec![text("=HYPERLINK(\"http://x\",\"y\")"), SqlValue::Int(3)],
            vec![text("a=b"), SqlValue::Int(3)],
        ],
    );
    let lines: Vec<&str> = std::str::from_utf8(&bytes[3..])
        .unwrap()
        .split_terminator("\r\n")
        .collect();
    assert_eq!(
        lines,
        [
            "'=cmd,'-n",
            "'=1+2,-5",
            "'+1,-0.5",
            "'-1,3",
            "'@SUM(A1),3",
            "'\tx,3",
            "\"'\rx\",3",
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",3",
            "a=b,3",
        ]
    );
}

#[test]
fn csv_digest_and_size_are_those_of_the_file() {
    let rows: Vec<Vec<SqlValue>> = (0..10_000)
        .map(|i| vec![SqlValue::Int(i), text(&format!("row {i}, with a comma"))])
        .collect();
    let (file, bytes) = csv_of(
        vec![col("N", FieldType::Int), col("Text", FieldType::Data)],
        &rows,
    );
    assert!(bytes.len() > 256 * 1024, "more than one buffer's worth");
    assert_eq!(file.byte_count, bytes.len() as u64);
    assert_eq!(file.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(file.sha256.len(), 64);
    assert_eq!(file.row_count, 10_000);
}

#[test]
fn a_row_of_the_wrong_width_is_refused_in_both_formats() {
    for format in [Format::Csv, Format::Xlsx] {
        let dir = tempfile::tempdir().unwrap();
        let columns = vec![col("A", FieldType::Data), col("B", FieldType::Int)];
        let mut exporter = Exporter::new(format, columns, "Sheet", Some(dir.path())).unwrap();
        let err = exporter.write_row(&[text("only one")]).unwrap_err();
        assert!(
            matches!(
                err,
                ExportError::WrongWidth {
                    expected: 2,
                    got: 1
                }
            ),
            "{format:?}: {err}"
        );
        exporter.write_row(&[text("a"), SqlValue::Int(1)]).unwrap();
        let err = exporter
            .write_row(&[text("a"), SqlValue::Int(1), SqlValue::Null])
            .unwrap_err();
        assert!(matches!(
            err,
            ExportError::WrongWidth {
                expected: 2,
                got: 3
            }
        ));
        assert_eq!(exporter.finish().unwrap().row_count, 1, "{format:?}");
    }
}

#[test]
fn xlsx_refuses_the_row_past_the_limit_and_csv_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let columns = vec![col("N", FieldType::Int)];
    let mut exporter =
        Exporter::with_row_limit(Format::Xlsx, columns.clone(), "S", Some(dir.path()), 3).unwrap();
    for i in 0..3 {
        exporter.write_row(&[SqlValue::Int(i)]).unwrap();
    }
    let err = exporter.write_row(&[SqlValue::Int(3)]).unwrap_err();
    assert!(
        matches!(err, ExportError::TooManyRows { limit: 3 }),
        "{err}"
    );
    assert_eq!(exporter.rows(), 3, "the refused row is not counted");
    assert_eq!(exporter.finish().unwrap().row_count, 3);

    let mut exporter =
        Exporter::with_row_limit(Format::Csv, columns, "S", Some(dir.path()), 3).unwrap();
    for i in 0..5 {
        exporter.write_row(&[SqlValue::Int(i)]).unwrap();
    }
    assert_eq!(exporter.finish().unwrap().row_count, 5);
}

#[test]
fn too_many_rows_says_what_to_do() {
    let message = ExportError::TooManyRows {
        limit: XLSX_MAX_DATA_ROWS,
    }
    .to_string();
    assert_eq!(
        message,
        "this export has more than 1,048,575 rows, Excel's limit; export CSV instead or narrow the filters"
    );
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_000), "1,000");
}

#[test]
fn the_file_goes_away_with_its_path_or_an_unfinished_export() {
    let dir = tempfile::tempdir().unwrap();
    let count = || std::fs::read_dir(dir.path()).unwrap().count();
    for format in [Format::Csv, Format::Xlsx] {
        let exporter = Exporter::new(
            format,
            vec![col("A", FieldType::Data)],
            "S",
            Some(dir.path()),
        )
        .unwrap();
        drop(exporter);
        assert_eq!(count(), 0, "{format:?}: dropped before finish");
        let mut exporter = Exporter::new(
            format,
            vec![col("A", FieldType::Data)],
            "S",
            Some(dir.path()),
        )
        .unwrap();
        exporter.write_row(&[text("x")]).unwrap();
        let file = exporter.finish().unwrap();
        assert_eq!(count(), 1, "{format:?}");
        assert!(
            file.path
                .extension()
                .is_some_and(|e| e == format.extension())
        );
        drop(file);
        assert_eq!(count(), 0, "{format:?}: dropped after finish");
    }
}

#[test]
fn formats_by_name() {
    for (name, format) in [
        ("csv", Format::Csv),
        ("CSV", Format::Csv),
        ("xlsx", Format::Xlsx),
        ("XLSX", Format::Xlsx),
        ("Excel", Format::Xlsx),
        ("excel", Format::Xlsx),
    ] {
        assert_eq!(Format::from_name(name), Some(format), "{name}");
    }
    assert_eq!(Format::from_name("pdf"), None);
    assert_eq!(Format::from_name(""), None);
    assert_eq!(Format::Csv.file_type(), "CSV");
    assert_eq!(Format::Xlsx.file_type(), "XLSX");
    assert_eq!(Format::Csv.content_type(), "text/csv; charset=utf-8");
    assert_eq!(
        Format::Xlsx.content_type(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
}
