//! Print-template rendering in the sandbox (crates/print/src/sandbox.rs, compiled in by
//! path; the render mirrors `PrintFormats::render` in formats.rs): any template source,
//! as an HTML print format or a raw format, with any document context, and the built-in
//! Standard format with any context.
//!
//! Properties: nothing panics; every render ends (the fuel budget stops it: run with
//! `-timeout`, which turns a render that does not end into a crash); the output never
//! passes MAX_OUTPUT; and memory stays bounded (libFuzzer's `-rss_limit_mb` /
//! `-malloc_limit_mb` turn a blow-up into a crash).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use minijinja::Value;

#[allow(dead_code)]
#[path = "../../crates/print/src/sandbox.rs"]
mod sandbox;

const STANDARD: &str = include_str!("../../crates/print/src/standard.html");

/// Document data: JSON-like values a few levels deep, with a `doc` most of the time.
#[derive(Debug)]
struct Context(serde_json::Value);

impl<'a> Arbitrary<'a> for Context {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        use serde_json::{Map, Value as J};
        fn value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<J> {
            let top = if depth >= 4 { 5 } else { 7 };
            Ok(match u.int_in_range(0..=top)? {
                0 => J::Null,
                1 => J::Bool(u.arbitrary()?),
                2 => J::from(u.arbitrary::<i64>()?),
                3 => J::from(u.arbitrary::<f64>()?),
                4 | 5 => J::String(u.arbitrary()?),
                6 => J::Array(
                    (0..u.int_in_range(0..=8)?)
                        .map(|_| value(u, depth + 1))
                        .collect::<Result<_, _>>()?,
                ),
                _ => {
                    let mut map = Map::new();
                    for _ in 0..u.int_in_range(0..=8)? {
                        let key = match u.int_in_range(0..=3)? {
                            0 => "name".to_owned(),
                            1 => "items".to_owned(),
                            2 => "fields".to_owned(),
                            _ => u.arbitrary()?,
                        };
                        map.insert(key, value(u, depth + 1)?);
                    }
                    J::Object(map)
                }
            })
        }
        let mut map = Map::new();
        map.insert("doc".into(), value(u, 1)?);
        map.insert("meta".into(), value(u, 1)?);
        map.insert("site_name".into(), J::String(u.arbitrary()?));
        Ok(Context(J::Object(map)))
    }
}

/// As `formats::context` builds it: maps, lists, numbers, text (the print crate has no
/// serde feature on minijinja).
fn to_value(json: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::from(()),
        J::Bool(b) => Value::from(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Value::from(s.as_str()),
        J::Array(items) => Value::from(items.iter().map(to_value).collect::<Vec<_>>()),
        J::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<std::collections::BTreeMap<String, Value>>(),
        ),
    }
}

#[derive(Arbitrary, Debug)]
enum Kind {
    Html,
    Raw,
    Standard,
}

#[derive(Arbitrary, Debug)]
struct Input {
    kind: Kind,
    source: String,
    context: Context,
}

fuzz_target!(|input: Input| {
    let mut env = sandbox::environment();
    env.add_template("print/Standard", STANDARD)
        .expect("the Standard format compiles");
    let name = match input.kind {
        Kind::Html => "print/Sales Invoice/Fuzz",
        Kind::Raw => "raw/Sales Invoice/Fuzz",
        Kind::Standard => "print/Standard",
    };
    if !matches!(input.kind, Kind::Standard) && env.add_template_owned(name, input.source).is_err()
    {
        return; // a syntax error, reported when the site opens
    }
    let template = env.get_template(name).expect("just added");
    let context = to_value(&input.context.0);
    let mut out = sandbox::CappedOutput::new();
    let result = template.render_captured_to(context, &mut out);
    assert!(
        out.bytes.len() <= sandbox::MAX_OUTPUT,
        "{} bytes",
        out.bytes.len()
    );
    if result.is_ok() {
        assert!(!out.overflowed);
    }
});
