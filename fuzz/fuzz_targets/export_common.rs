// Shared by the two export targets: columns and rows from fuzz input.

use accesslog_export::{Column, FieldType, SqlValue};
use arbitrary::{Arbitrary, Unstructured};

pub const TYPES: [FieldType; 11] = [
    FieldType::Data,
    FieldType::Text,
    FieldType::Int,
    FieldType::Float,
    FieldType::Currency,
    FieldType::Date,
    FieldType::Datetime,
    FieldType::Check,
    FieldType::Select,
    FieldType::Link,
    FieldType::Table,
];

#[derive(Debug)]
pub struct Cell(pub SqlValue);

impl<'a> Arbitrary<'a> for Cell {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Cell(match u.int_in_range(0..=5)? {
            0 => SqlValue::Null,
            1 => SqlValue::Int(u.arbitrary()?),
            2 => SqlValue::Float(u.arbitrary()?),
            // Text shaped like what the cell parsers look for, to reach their edges.
            3 => {
                let pieces = [
                    "-",
                    "+",
                    "=",
                    "@",
                    "\t",
                    "\r",
                    "\n",
                    ".",
                    "e",
                    "E",
                    "0",
                    "1",
                    "9",
                    "2024-02-29",
                    " ",
                    "T",
                    ":",
                    "12",
                    "59",
                    "\"",
                    ",",
                    "'",
                    "é",
                    "\u{feff}",
                ];
                let n = u.int_in_range(0..=8)?;
                let mut s = String::new();
                for _ in 0..n {
                    s.push_str(u.choose(&pieces)?);
                }
                SqlValue::Text(s)
            }
            _ => SqlValue::Text(u.arbitrary()?),
        }))
    }
}

#[derive(Arbitrary, Debug)]
pub struct ColumnInput {
    pub label: String,
    pub fieldtype: u8,
    pub width: Option<u32>,
}

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub sheet_name: String,
    pub columns: Vec<ColumnInput>,
    pub cells: Vec<Cell>,
}

impl Input {
    /// At least one column; the cells cut into rows of that width (the last, short row
    /// dropped).
    pub fn table(self) -> (String, Vec<Column>, Vec<Vec<SqlValue>>) {
        let mut columns: Vec<Column> = self
            .columns
            .into_iter()
            .take(64)
            .map(|c| Column {
                label: c.label,
                fieldtype: TYPES[usize::from(c.fieldtype) % TYPES.len()],
                width: c.width,
            })
            .collect();
        if columns.is_empty() {
            columns.push(Column {
                label: "A".into(),
                fieldtype: FieldType::Data,
                width: None,
            });
        }
        let width = columns.len();
        let cells: Vec<SqlValue> = self.cells.into_iter().map(|c| c.0).collect();
        let rows = cells
            .chunks_exact(width)
            .map(<[SqlValue]>::to_vec)
            .collect();
        (self.sheet_name, columns, rows)
    }
}
