//! JSON text read with exact numbers.
//!
//! serde_json, without its `float_roundtrip` feature, reads a decimal with many digits or a
//! large exponent to a double one unit off now and then: `1.6042676166944893e-154`
//! becomes the double whose shortest form is `1.604267616694489e-154`. Canonical JSON
//! written from such a reading is not a fixed point (reading it and writing it again
//! changes it), and the value shown back from stored text is not the one that was hashed.
//!
//! So [`parse`] lets serde_json decide what is JSON and build the value (the same
//! acceptance, the same errors, the same structure), then reads every number that takes
//! serde_json's float path again with Rust's correctly rounded parser.

use serde_json::{Number, Value};

/// Parses `text` as serde_json does, numbers that are not exact integers correctly rounded.
pub(crate) fn parse(text: &str) -> Result<Value, serde_json::Error> {
    let value: Value = serde_json::from_str(text)?;
    let floats = float_tokens(text);
    if floats.is_empty() {
        return Ok(value);
    }
    // Each float token becomes a string holding a mark that no string of the value holds,
    // serde_json builds the same structure again, and the marks are swapped for the exact
    // numbers.
    let mark = (0u32..)
        .map(|k| format!("\u{10ffff}{k}:"))
        .find(|m| !holds(&value, m))
        .unwrap_or_default();
    let mut marked = String::with_capacity(text.len() + floats.len() * 8);
    let mut last = 0;
    for (i, range) in floats.iter().enumerate() {
        marked.push_str(&text[last..range.start]);
        marked.push_str(&format!("\"{mark}{i}\""));
        last = range.end;
    }
    marked.push_str(&text[last..]);
    let Ok(mut exact) = serde_json::from_str::<Value>(&marked) else {
        return Ok(value);
    };
    let numbers: Vec<Option<Number>> = floats
        .iter()
        .map(|r| {
            text[r.clone()]
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
        })
        .collect();
    if restore(&mut exact, &numbers, &mark) {
        Ok(exact)
    } else {
        Ok(value)
    }
}

/// Whether a string or key of `value` contains `mark`.
fn holds(value: &Value, mark: &str) -> bool {
    match value {
        Value::String(s) => s.contains(mark),
        Value::Array(items) => items.iter().any(|v| holds(v, mark)),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains(mark) || holds(v, mark)),
        _ => false,
    }
}

/// Puts the numbers back; `false` if a mark is where no number can be (an object key).
fn restore(value: &mut Value, numbers: &[Option<Number>], mark: &str) -> bool {
    match value {
        Value::String(s) => {
            if let Some(i) = s.strip_prefix(mark) {
                match i
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| numbers.get(i).cloned().flatten())
                {
                    Some(n) => *value = Value::Number(n),
                    None => return false,
                }
            }
            true
        }
        Value::Array(items) => items.iter_mut().all(|v| restore(v, numbers, mark)),
        Value::Object(map) => {
            map.keys().all(|k| !k.starts_with(mark))
                && map.values_mut().all(|v| restore(v, numbers, mark))
        }
        _ => true,
    }
}

/// The byte ranges, outside strings, of the number tokens serde_json reads as floats: those
/// with a fraction or an exponent, `-0`, and integers beyond `i64` / `u64`.
fn float_tokens(text: &str) -> Vec<std::ops::Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let token = &text[start..i];
                let integer = token.bytes().skip(1).all(|c| c.is_ascii_digit());
                let exact = integer
                    && token != "-0"
                    && (token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok());
                if !exact {
                    out.push(start..i);
                }
            }
            _ => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_read_exactly() {
        // Found by fuzz/fuzz_targets/entry.rs: serde_json read this one unit off.
        let text = "1.6042676166944893e-154";
        assert_eq!(parse(text).unwrap().as_f64(), Some(1.6042676166944893e-154));
        assert_eq!(
            parse(&format!(
                "{{\"a\":[{text},\"{text}\",1,-0,-5,18446744073709551616]}}"
            ))
            .unwrap(),
            serde_json::json!({"a": [1.6042676166944893e-154, text, 1, -0.0, -5, 18446744073709551616.0]})
        );
    }

    #[test]
    fn acceptance_is_serde_jsons() {
        for bad in [
            "{1.5: 2}",
            "[1.5.3]",
            "01",
            "1.",
            "[1e999]",
            "{\"a\" 1.5}",
            "1.5 x",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("\"\\\"1.5\"").unwrap(), Value::from("\"1.5"));
        assert_eq!(
            parse(" [ 2.5e0 , 3 ] ").unwrap(),
            serde_json::json!([2.5, 3])
        );
    }

    #[test]
    fn strings_that_look_like_marks_stay_strings() {
        // Found by fuzz/fuzz_targets/entry.rs: a text holding the mark character fell back
        // to serde_json's reading.
        let text = "{\":\":9.128867111883512e+181,\"e\u{10ffff}eeee\":-940422246894996750}";
        assert_eq!(
            parse(text).unwrap(),
            serde_json::json!({":": 9.128867111883512e181, "e\u{10ffff}eeee": -940422246894996750i64})
        );
        // Marks as raw text and as escapes, in keys and values.
        for text in [
            "[\"\u{10ffff}0:0\",1.5]",
            "[\"\\udbff\\udfff0:0\",1.5]",
            "{\"\u{10ffff}0:0\":1.5}",
        ] {
            let v = parse(text).unwrap();
            assert_eq!(v, serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
    }
}
