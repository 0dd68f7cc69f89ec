//! The list parameters of `GET /api/resource/{DocType}`: `filters` (and `fields`) as JSON,
//! `order_by` as text, all straight from a client.
//!
//! Properties: no input panics; whatever is accepted names only real columns of the
//! listed type or its child type, and its values have the shape and type the operator and
//! column promise (storage binds them as they are).
#![no_main]

use accesslog_core::doctype::{DocType, Field, FieldType, Naming};
use accesslog_core::filters::{
    Op, Value, column_type, is_date, normalize_datetime, parse_fields, parse_filters,
    parse_order_by,
};
use libfuzzer_sys::fuzz_target;

fn field(name: &str, fieldtype: FieldType, options: Option<&str>) -> Field {
    Field {
        fieldname: name.into(),
        label: name.into(),
        fieldtype,
        options: options.map(Into::into),
        reqd: false,
        in_list_view: false,
        search_index: false,
    }
}

fn invoice() -> DocType {
    DocType {
        name: "Sales Invoice".into(),
        is_child: false,
        naming: Naming::Series("SINV-.#####".into()),
        fields: vec![
            field("customer", FieldType::Link, Some("Customer")),
            field("status", FieldType::Select, Some("Draft\nPaid")),
            field("grand_total", FieldType::Currency, None),
            field("total_qty", FieldType::Int, None),
            field("is_return", FieldType::Check, None),
            field("posting_date", FieldType::Date, None),
            field("paid_at", FieldType::Datetime, None),
            field("remarks", FieldType::Text, None),
            field("items", FieldType::Table, Some("Sales Invoice Item")),
        ],
        permissions: Default::default(),
        log_reads: true,
    }
}

fn item() -> DocType {
    DocType {
        name: "Sales Invoice Item".into(),
        is_child: true,
        naming: Naming::Hash,
        fields: vec![
            field("item_code", FieldType::Link, Some("Item")),
            field("qty", FieldType::Float, None),
            field("rate", FieldType::Currency, None),
            field("delivery_date", FieldType::Date, None),
        ],
        permissions: Default::default(),
        log_reads: true,
    }
}

fn check_value(fieldtype: FieldType, op: Op, value: &Value) {
    if matches!(op, Op::Like | Op::NotLike) {
        assert!(matches!(value, Value::Text(_)), "{op:?} {value:?}");
        return;
    }
    match (fieldtype, value) {
        (FieldType::Int, Value::Int(_)) => {}
        (FieldType::Check, Value::Int(n)) => assert!(*n == 0 || *n == 1, "check {n}"),
        (FieldType::Float | FieldType::Currency, Value::Float(f)) => assert!(f.is_finite()),
        (FieldType::Date, Value::Text(s)) => assert!(is_date(s), "date {s:?}"),
        (FieldType::Datetime, Value::Text(s)) => {
            // Stored form: the normaliser leaves it as it is.
            assert_eq!(
                normalize_datetime(s).as_deref(),
                Some(s.as_str()),
                "datetime"
            );
        }
        (
            FieldType::Data
            | FieldType::Text
            | FieldType::Select
            | FieldType::Link
            | FieldType::Table,
            Value::Text(_),
        ) => {}
        other => panic!("a {:?} column got {:?}", other.0, other.1),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (invoice, item) = (invoice(), item());
    let child = [&item];

    // order_by is plain text.
    if let Ok(keys) = parse_order_by(text, &invoice) {
        for key in keys {
            assert!(column_type(&invoice, &key.field).is_some(), "{key:?}");
        }
    }

    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    if let Ok(columns) = parse_fields(&json, &invoice) {
        assert!(!columns.is_empty());
        for (i, c) in columns.iter().enumerate() {
            assert!(column_type(&invoice, c).is_some(), "{c}");
            assert!(!columns[..i].contains(c), "{c} twice");
        }
    }
    let first = parse_filters(&json, &invoice, &child);
    assert_eq!(
        first,
        parse_filters(&json, &invoice, &child),
        "not deterministic"
    );
    if let Ok(conditions) = first {
        for c in conditions {
            let doctype = match c.doctype.as_str() {
                "Sales Invoice" => &invoice,
                "Sales Invoice Item" => &item,
                other => panic!("a condition on {other}"),
            };
            assert_eq!(column_type(doctype, &c.field), Some(c.fieldtype), "{c:?}");
            match c.op {
                Op::IsSet | Op::IsNotSet => assert!(c.values.is_empty(), "{c:?}"),
                Op::Between => assert_eq!(c.values.len(), 2, "{c:?}"),
                Op::In | Op::NotIn => {}
                _ => assert_eq!(c.values.len(), 1, "{c:?}"),
            }
            for v in &c.values {
                check_value(c.fieldtype, c.op, v);
            }
        }
    }
});
