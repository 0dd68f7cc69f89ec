//! The canonical entry encoding, which the Merkle tree hashes.
//!
//! Properties, for any entry:
//! - the bytes are deterministic and decode (by docs/log-format.md, with the small reader
//!   below) to exactly the 24 field texts, so no two entries share bytes;
//! - the leaf hash is SHA-256(0x00 || bytes);
//! - stored as columns and read back (`entry_from_columns`, what both backends use), the
//!   entry is the same and so are its bytes and leaf hash;
//! - `Event::bounded` is idempotent and leaves no NUL and no field over its bound;
//! - canonical JSON is a fixed point: parsing it and writing it again changes nothing.
#![no_main]

use std::collections::BTreeMap;

use accesslog_core::Timestamp;
use accesslog_core::entry::{
    Activity, CanonicalJson, Entry, EntryError, Event, MAX_ROLES, Outcome, bound_of,
};
use accesslog_core::merkle::leaf_hash;
use accesslog_store::StoreResult;
use accesslog_store::log::{EntryColumns, entry_from_columns};
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A JSON value, at most 32 deep (serde_json reads at most 128).
#[derive(Debug)]
struct Json(Value);

impl<'a> Arbitrary<'a> for Json {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        fn value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
            let pick = if depth >= 32 {
                u.int_in_range(0..=5)?
            } else {
                u.int_in_range(0..=7)?
            };
            Ok(match pick {
                0 => Value::Null,
                1 => Value::Bool(u.arbitrary()?),
                2 => Value::from(u.arbitrary::<i64>()?),
                3 => Value::from(u.arbitrary::<u64>()?),
                4 => Value::from(u.arbitrary::<f64>()?), // Null when not finite
                5 => Value::String(u.arbitrary()?),
                6 => {
                    let n = u.int_in_range(0..=6)?;
                    Value::Array(
                        (0..n)
                            .map(|_| value(u, depth + 1))
                            .collect::<Result<_, _>>()?,
                    )
                }
                _ => {
                    let n = u.int_in_range(0..=6)?;
                    let mut map = Map::new();
                    for _ in 0..n {
                        map.insert(u.arbitrary()?, value(u, depth + 1)?);
                    }
                    Value::Object(map)
                }
            })
        }
        Ok(Json(value(u, 0)?))
    }
}

/// Canonical JSON from a value, or from text as a client sent it.
#[derive(Arbitrary, Debug)]
enum JsonInput {
    Value(Json),
    Text(String),
}

impl JsonInput {
    fn canonical(&self) -> Option<CanonicalJson> {
        match self {
            JsonInput::Value(v) => Some(CanonicalJson::from_value(&v.0)),
            JsonInput::Text(t) => {
                let parsed = CanonicalJson::parse(t);
                // The same texts are JSON as for serde_json.
                assert_eq!(
                    parsed.is_ok(),
                    serde_json::from_str::<Value>(t).is_ok(),
                    "{t:?}"
                );
                parsed.ok()
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    seq: u64,
    timestamp: i64,
    user: String,
    activity: u8,
    method: String,
    export_from: Option<String>,
    reference_document: Option<String>,
    report_name: Option<String>,
    print_format: Option<String>,
    file_type: Option<String>,
    filters: Option<JsonInput>,
    columns: Option<JsonInput>,
    page: Option<String>,
    row_count: Option<u64>,
    byte_count: Option<u64>,
    content_sha256: Option<String>,
    outcome: u8,
    reason: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    roles: Vec<String>,
    auth: Option<String>,
    source: String,
    /// Pass the event through `bounded` first, as the recorder does.
    bound: bool,
}

impl Input {
    fn entry(&self) -> Entry {
        let event = Event {
            user: self.user.clone(),
            activity: Activity::ALL[usize::from(self.activity) % Activity::ALL.len()],
            method: self.method.clone(),
            export_from: self.export_from.clone(),
            reference_document: self.reference_document.clone(),
            report_name: self.report_name.clone(),
            print_format: self.print_format.clone(),
            file_type: self.file_type.clone(),
            filters: self.filters.as_ref().and_then(JsonInput::canonical),
            columns: self.columns.as_ref().and_then(JsonInput::canonical),
            page: self.page.clone(),
            row_count: self.row_count,
            byte_count: self.byte_count,
            content_sha256: self.content_sha256.clone(),
            outcome: [Outcome::Granted, Outcome::Denied, Outcome::Failed]
                [usize::from(self.outcome) % 3],
            reason: self.reason.clone(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            roles: self.roles.clone(),
            auth: self.auth.clone(),
            source: self.source.clone(),
        };
        Entry {
            seq: self.seq,
            timestamp: Timestamp::from_micros(self.timestamp),
            event,
        }
    }
}

/// The 24 field texts, in canonical order, as docs/log-format.md defines them.
fn texts(e: &Entry) -> Vec<Option<String>> {
    let v = &e.event;
    let mut roles = v.roles.clone();
    roles.sort();
    let json = |j: &Option<CanonicalJson>| j.as_ref().map(|j| j.as_str().to_owned());
    vec![
        Some(e.seq.to_string()),
        Some(e.timestamp.as_micros().to_string()),
        Some(v.user.clone()),
        Some(v.activity.as_str().to_owned()),
        Some(v.method.clone()),
        v.export_from.clone(),
        v.reference_document.clone(),
        v.report_name.clone(),
        v.print_format.clone(),
        v.file_type.clone(),
        json(&v.filters),
        json(&v.columns),
        v.page.clone(),
        v.row_count.map(|n| n.to_string()),
        v.byte_count.map(|n| n.to_string()),
        v.content_sha256.clone(),
        Some(v.outcome.as_str().to_owned()),
        v.reason.clone(),
        v.ip.clone(),
        v.user_agent.clone(),
        v.request_id.clone(),
        Some(serde_json::to_string(&roles).expect("strings serialise")),
        v.auth.clone(),
        Some(v.source.clone()),
    ]
}

/// A reader of version 1, independent of the writer: `None` unless the bytes are exactly
/// one entry.
fn decode(mut b: &[u8]) -> Option<Vec<Option<String>>> {
    let (&version, rest) = b.split_first()?;
    if version != 1 {
        return None;
    }
    b = rest;
    let mut fields = Vec::new();
    for _ in 0..24 {
        let (&tag, rest) = b.split_first()?;
        b = rest;
        match tag {
            0 => fields.push(None),
            1 => {
                let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
                let text = std::str::from_utf8(b.get(4..4 + len)?).ok()?;
                fields.push(Some(text.to_owned()));
                b = &b[4 + len..];
            }
            _ => return None,
        }
    }
    b.is_empty().then_some(fields)
}

/// An `access_log` row as either backend stores the entry.
struct Row {
    texts: BTreeMap<&'static str, String>,
    ints: BTreeMap<&'static str, i64>,
}

impl Row {
    fn of(e: &Entry) -> Option<Row> {
        let v = &e.event;
        let mut texts = BTreeMap::new();
        let mut ints = BTreeMap::new();
        ints.insert("seq", i64::try_from(e.seq).ok()?);
        ints.insert("timestamp", e.timestamp.as_micros());
        if let Some(n) = v.row_count {
            ints.insert("row_count", i64::try_from(n).ok()?);
        }
        if let Some(n) = v.byte_count {
            ints.insert("byte_count", i64::try_from(n).ok()?);
        }
        let mut put = |k: &'static str, t: Option<&str>| {
            if let Some(t) = t {
                texts.insert(k, t.to_owned());
            }
        };
        put("user", Some(&v.user));
        put("activity", Some(v.activity.as_str()));
        put("method", Some(&v.method));
        put("export_from", v.export_from.as_deref());
        put("reference_document", v.reference_document.as_deref());
        put("report_name", v.report_name.as_deref());
        put("print_format", v.print_format.as_deref());
        put("file_type", v.file_type.as_deref());
        put("filters", v.filters.as_ref().map(CanonicalJson::as_str));
        put("columns", v.columns.as_ref().map(CanonicalJson::as_str));
        put("page", v.page.as_deref());
        put("content_sha256", v.content_sha256.as_deref());
        put("outcome", Some(v.outcome.as_str()));
        put("reason", v.reason.as_deref());
        put("ip", v.ip.as_deref());
        put("user_agent", v.user_agent.as_deref());
        put("request_id", v.request_id.as_deref());
        put("roles", Some(v.roles_json().as_str()));
        put("auth", v.auth.as_deref());
        put("source", Some(&v.source));
        Some(Row { texts, ints })
    }
}

impl EntryColumns for Row {
    fn text(&self, column: &'static str) -> StoreResult<Option<String>> {
        Ok(self.texts.get(column).cloned())
    }
    fn int(&self, column: &'static str) -> StoreResult<Option<i64>> {
        Ok(self.ints.get(column).copied())
    }
}

fn check_canonical_fixed_point(json: &CanonicalJson) {
    let again = CanonicalJson::parse(json.as_str())
        .unwrap_or_else(|e| panic!("canonical JSON does not parse: {e}: {}", json.as_str()));
    assert_eq!(&again, json, "canonical JSON is not a fixed point");
}

fn check_bounded(e: &Event) {
    let fields: [(&str, Option<&str>); 16] = [
        ("user", Some(&e.user)),
        ("method", Some(&e.method)),
        ("export_from", e.export_from.as_deref()),
        ("reference_document", e.reference_document.as_deref()),
        ("report_name", e.report_name.as_deref()),
        ("print_format", e.print_format.as_deref()),
        ("file_type", e.file_type.as_deref()),
        ("filters", e.filters.as_ref().map(CanonicalJson::as_str)),
        ("columns", e.columns.as_ref().map(CanonicalJson::as_str)),
        ("page", e.page.as_deref()),
        ("reason", e.reason.as_deref()),
        ("ip", e.ip.as_deref()),
        ("user_agent", e.user_agent.as_deref()),
        ("request_id", e.request_id.as_deref()),
        ("auth", e.auth.as_deref()),
        ("source", Some(&e.source)),
    ];
    for (name, text) in fields {
        let Some(text) = text else { continue };
        let bound = bound_of(name).expect("every text field has a bound");
        assert!(!text.contains('\0'), "{name} keeps a NUL");
        // A mark alone (at most 109 bytes) may exceed a bound smaller than itself.
        assert!(
            text.len() <= bound.max(109),
            "{name}: {} > {bound}",
            text.len()
        );
    }
    assert!(e.roles.len() <= MAX_ROLES);
    for role in &e.roles {
        assert!(!role.contains('\0') && role.len() <= bound_of("roles").unwrap().max(109));
    }
    assert!(e.content_sha256.as_ref().is_none_or(|h| !h.contains('\0')));
    if let Err(EntryError::Invalid(field, why)) = e.validate() {
        assert!(!why.contains("NUL"), "{field} of a bounded event: {why}");
    }
}

fuzz_target!(|input: Input| {
    let mut entry = input.entry();
    for json in [&entry.event.filters, &entry.event.columns]
        .into_iter()
        .flatten()
    {
        check_canonical_fixed_point(json);
    }
    if input.bound {
        let bounded = entry.event.clone().bounded();
        assert_eq!(
            bounded.clone().bounded(),
            bounded,
            "bounded is not idempotent"
        );
        check_bounded(&bounded);
        entry.event = bounded;
    }

    let bytes = entry.canonical_bytes();
    assert_eq!(bytes, entry.clone().canonical_bytes(), "not deterministic");
    assert_eq!(
        decode(&bytes),
        Some(texts(&entry)),
        "the bytes do not decode to the fields"
    );
    let leaf = leaf_hash(&bytes);
    let want: [u8; 32] = Sha256::new()
        .chain_update([0u8])
        .chain_update(&bytes)
        .finalize()
        .into();
    assert_eq!(leaf, want, "leaf hash is not SHA-256(0x00 || bytes)");

    if let Some(row) = Row::of(&entry) {
        let back = entry_from_columns(&row).expect("a stored entry reads back");
        let mut sorted = entry.clone();
        sorted.event.roles.sort();
        assert_eq!(back, sorted, "the entry changed through storage");
        assert_eq!(
            back.canonical_bytes(),
            bytes,
            "the bytes changed through storage"
        );
    }
});
