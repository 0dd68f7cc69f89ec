//! The Access Log entry and its one canonical byte encoding.
//!
//! An [`Event`] is what a caller asks to record; the recorder stamps it with a `seq` and a
//! `timestamp` and it becomes an [`Entry`]. The canonical bytes of an entry are what the
//! Merkle tree hashes, so they must never depend on anything but the entry's values.
//!
//! # Canonical encoding, version 1
//!
//! ```text
//! entry   = 0x01 field{24}
//! field   = 0x00                          ; absent (None)
//!         | 0x01 u32be(len) bytes[len]    ; present, `len` bytes of UTF-8
//! ```
//!
//! The 24 fields, in the order of [`schema::FIELDS`] (the one list of them): `seq`,
//! `timestamp`, `user`, `activity`, `method`,
//! `export_from`, `reference_document`, `report_name`, `print_format`, `file_type`,
//! `filters`, `columns`, `page`, `row_count`, `byte_count`, `content_sha256`, `outcome`,
//! `reason`, `ip`, `user_agent`, `request_id`, `roles`, `auth`, `source`.
//!
//! Integers (`seq`, `row_count`, `byte_count`) are decimal without leading zeros;
//! `timestamp` is decimal microseconds since the Unix epoch (UTC); `activity` and `outcome`
//! are their lower-case names; `filters`, `columns` and `roles` are canonical JSON (see
//! [`CanonicalJson`]); `content_sha256` is 64 lower-case hex digits. Text fields are
//! bounded and NUL-free ([`Event::bounded`], [`FIELD_BOUNDS`]). `docs/log-format.md` says
//! the same for readers outside Rust.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Timestamp;

mod bounds;
mod json;
pub mod schema;

pub use bounds::{FIELD_BOUNDS, MAX_ROLES, bound_of};

/// The ways data leaves the system (PRODUCT.md's vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Print,
    ReportPrint,
    FileDownload,
    Export,
    RawPrint,
    BackupDownload,
    LogExport,
    /// Record data shown or returned: a document, a list, a report page or its data, or
    /// the Access Log itself (the seed's "document access activities").
    Read,
    /// The log's own upkeep: entries archived to a bundle and their payloads removed.
    LogPrune,
    /// The log's own upkeep: one person's entries redacted on request.
    LogRedact,
    /// A legal hold added or lifted.
    LegalHold,
    /// An attempt to write or delete entries of a gated upstream's own Access Log
    /// (ERPNext's `make_access_log`), refused by the gate: recorded `denied`.
    LogWrite,
}

impl Activity {
    pub const ALL: [Activity; 12] = [
        Activity::Print,
        Activity::ReportPrint,
        Activity::FileDownload,
        Activity::Export,
        Activity::RawPrint,
        Activity::BackupDownload,
        Activity::LogExport,
        Activity::Read,
        Activity::LogPrune,
        Activity::LogRedact,
        Activity::LegalHold,
        Activity::LogWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Print => "print",
            Activity::ReportPrint => "report_print",
            Activity::FileDownload => "file_download",
            Activity::Export => "export",
            Activity::RawPrint => "raw_print",
            Activity::BackupDownload => "backup_download",
            Activity::LogExport => "log_export",
            Activity::Read => "read",
            Activity::LogPrune => "log_prune",
            Activity::LogRedact => "log_redact",
            Activity::LegalHold => "legal_hold",
            Activity::LogWrite => "log_write",
        }
    }
}

impl FromStr for Activity {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Activity::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| EntryError::Invalid("activity", format!("{s:?} is not an activity")))
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the data left (`granted`), the attempt was refused (`denied`), or it was
/// allowed but could not be carried out (`failed`: a network printer that could not be
/// reached or stopped taking the commands; `reason` says which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Granted,
    Denied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Granted => "granted",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

impl FromStr for Outcome {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "granted" => Ok(Outcome::Granted),
            "denied" => Ok(Outcome::Denied),
            "failed" => Ok(Outcome::Failed),
            _ => Err(EntryError::Invalid(
                "outcome",
                format!("{s:?} is not granted, denied or failed"),
            )),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
}

/// JSON text in canonical form: no insignificant whitespace, object keys sorted by their
/// UTF-8 bytes, numbers as serde_json prints them (integers exactly,
/// floats in shortest round-trip form), strings escaped as serde_json escapes them.
/// Sorting is done here, not left to serde_json's map type, whose order depends on a
/// feature flag some other crate could switch on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CanonicalJson(String);

impl CanonicalJson {
    pub fn from_value(value: &Value) -> Self {
        let mut out = String::new();
        write_canonical(value, &mut out);
        Self(out)
    }

    /// Parses JSON text and re-writes it canonically.
    pub fn parse(text: &str) -> Result<Self, EntryError> {
        let value = json::parse(text).map_err(|e| EntryError::Invalid("JSON", e.to_string()))?;
        Ok(Self::from_value(&value))
    }

    /// Text read back from storage, taken as written: if it was altered, the entry's hash
    /// no longer matches, which is exactly what verification must see.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_value(&self) -> Value {
        json::parse(&self.0).unwrap_or(Value::Null)
    }
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(*key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// What happened, as a caller reports it. The recorder adds `seq` and `timestamp`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub user: String,
    pub activity: Activity,
    /// The route or UI action that released the data, e.g. `GET /printview`.
    pub method: String,
    /// The document type.
    pub export_from: Option<String>,
    pub reference_document: Option<String>,
    pub report_name: Option<String>,
    pub print_format: Option<String>,
    /// CSV, XLSX, PDF, HTML, RAW, or a file extension.
    pub file_type: Option<String>,
    pub filters: Option<CanonicalJson>,
    pub columns: Option<CanonicalJson>,
    /// The rendered raw-print commands.
    pub page: Option<String>,
    pub row_count: Option<u64>,
    pub byte_count: Option<u64>,
    /// SHA-256 of the bytes sent, 64 lower-case hex digits.
    pub content_sha256: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The user's roles at the time, sorted.
    pub roles: Vec<String>,
    /// How the user authenticated: `session`, `api_key:<id>`, `cli`.
    pub auth: Option<String>,
    /// Who reported the event: `local` for this server, else an ingestion source's name.
    pub source: String,
}

/// Who acted, how and from where: what every event of one request carries, whatever it
/// is about. The server makes one per request; the typed constructors below take it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    pub user: String,
    pub roles: Vec<String>,
    /// `GET /path` as the client called it.
    pub method: String,
    pub auth: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// The Access Log's own name in `export_from`, when it is itself read or exported.
pub const ACCESS_LOG: &str = "Access Log";

/// A file's type as entries name it: its name's extension, in lower case.
pub fn file_type_of(file_name: &str) -> Option<String> {
    file_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
}

/// Events by what they are about: each sets the fields its activity is read by, so a
/// caller does not fill them in one by one (and cannot forget one).
impl Event {
    /// A granted event of `activity` by `actor`, about nothing yet.
    pub fn by(actor: &Actor, activity: Activity) -> Self {
        let mut e = Event::new(&actor.user, activity, &actor.method);
        e.roles = actor.roles.clone();
        e.auth = actor.auth.clone();
        e.ip = actor.ip.clone();
        e.user_agent = actor.user_agent.clone();
        e.request_id = actor.request_id.clone();
        e
    }

    /// A print (`Print`) or raw print (`RawPrint`) of document `name` of `doctype` in
    /// `format`.
    pub fn print(
        actor: &Actor,
        activity: Activity,
        doctype: &str,
        name: &str,
        format: &str,
    ) -> Self {
        let mut e = Event::by(actor, activity);
        e.export_from = Some(doctype.to_owned());
        e.reference_document = Some(name.to_owned());
        e.print_format = Some(format.to_owned());
        e
    }

    /// A read of documents of `doctype`: one (`name`), or a list of them.
    pub fn read(actor: &Actor, doctype: &str, name: Option<&str>) -> Self {
        let mut e = Event::by(actor, Activity::Read);
        e.export_from = Some(doctype.to_owned());
        e.reference_document = name.map(str::to_owned);
        e
    }

    /// A download of a stored file, asked for as `asked` (its URL name or id). Its type
    /// is set once known ([`file_type_of`] its name).
    pub fn file_download(actor: &Actor, asked: &str) -> Self {
        let mut e = Event::by(actor, Activity::FileDownload);
        e.export_from = Some("File".to_owned());
        e.reference_document = Some(asked.to_owned());
        e
    }

    /// An export of a list or a report, as `file_type` (`CSV`, `XLSX`).
    pub fn export(actor: &Actor, file_type: &str) -> Self {
        let mut e = Event::by(actor, Activity::Export);
        e.file_type = Some(file_type.to_owned());
        e
    }

    /// A print of report `report`, as `file_type` (`HTML`, `PDF`).
    pub fn report_print(actor: &Actor, report: &str, file_type: &str) -> Self {
        let mut e = Event::by(actor, Activity::ReportPrint);
        e.report_name = Some(report.to_owned());
        e.file_type = Some(file_type.to_owned());
        e
    }

    /// A read (`Read`) or export (`LogExport`) of the Access Log itself: `view` names
    /// which one (the dashboard, a proof), if it is not the entries themselves.
    pub fn log_access(actor: &Actor, activity: Activity, view: Option<&str>) -> Self {
        let mut e = Event::by(actor, activity);
        e.export_from = Some(ACCESS_LOG.to_owned());
        e.report_name = view.map(str::to_owned);
        e
    }

    /// A download of the backup `file`.
    pub fn backup_download(actor: &Actor, file: &str) -> Self {
        let mut e = Event::by(actor, Activity::BackupDownload);
        e.reference_document = Some(file.to_owned());
        e.file_type = Some("sqlite3".to_owned());
        e
    }
}

impl Event {
    /// A minimal granted event; set the other fields as the activity needs.
    pub fn new(user: &str, activity: Activity, method: &str) -> Self {
        Event {
            user: user.to_owned(),
            activity,
            method: method.to_owned(),
            export_from: None,
            reference_document: None,
            report_name: None,
            print_format: None,
            file_type: None,
            filters: None,
            columns: None,
            page: None,
            row_count: None,
            byte_count: None,
            content_sha256: None,
            outcome: Outcome::Granted,
            reason: None,
            ip: None,
            user_agent: None,
            request_id: None,
            roles: Vec::new(),
            auth: None,
            source: "local".to_owned(),
        }
    }

    /// The event as it may be recorded: every NUL (which PostgreSQL text cannot hold) in a
    /// text field or a role becomes U+FFFD, and every text field longer than its bound in
    /// [`FIELD_BOUNDS`] (and a role list longer than [`MAX_ROLES`]) is cut and marked with
    /// the length and SHA-256 of the whole value; `filters` and `columns` stay canonical
    /// JSON. Values within their bounds keep their bytes, and `bounded` of a bounded event
    /// is the same event. The recorder passes every event through this before
    /// [`Event::validate`].
    #[must_use]
    pub fn bounded(self) -> Event {
        bounds::bound_event(self)
    }

    /// Checks what storage and verification rely on.
    pub fn validate(&self) -> Result<(), EntryError> {
        if self.user.trim().is_empty() {
            return Err(EntryError::Invalid("user", "empty".to_owned()));
        }
        if self.source.trim().is_empty() {
            return Err(EntryError::Invalid("source", "empty".to_owned()));
        }
        if let Some(h) = &self.content_sha256 {
            let ok = h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !ok {
                return Err(EntryError::Invalid(
                    "content_sha256",
                    format!("{h:?} is not 64 lower-case hex digits"),
                ));
            }
        }
        if matches!(self.outcome, Outcome::Denied | Outcome::Failed)
            && self.reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(EntryError::Invalid(
                "reason",
                format!("a {} entry must say why", self.outcome),
            ));
        }
        // Text columns on PostgreSQL cannot hold NUL, so no backend accepts it.
        let texts = [
            ("user", Some(self.user.as_str())),
            ("method", Some(self.method.as_str())),
            ("export_from", self.export_from.as_deref()),
            ("reference_document", self.reference_document.as_deref()),
            ("report_name", self.report_name.as_deref()),
            ("print_format", self.print_format.as_deref()),
            ("file_type", self.file_type.as_deref()),
            ("filters", self.filters.as_ref().map(CanonicalJson::as_str)),
            ("columns", self.columns.as_ref().map(CanonicalJson::as_str)),
            ("page", self.page.as_deref()),
            ("reason", self.reason.as_deref()),
            ("ip", self.ip.as_deref()),
            ("user_agent", self.user_agent.as_deref()),
            ("request_id", self.request_id.as_deref()),
            ("auth", self.auth.as_deref()),
            ("source", Some(self.source.as_str())),
        ];
        for (field, text) in texts {
            if text.is_some_and(|t| t.contains('\0')) {
                return Err(EntryError::Invalid(
                    field,
                    "contains a NUL character".to_owned(),
                ));
            }
        }
        if self.roles.iter().any(|r| r.contains('\0')) {
            return Err(EntryError::Invalid(
                "roles",
                "contains a NUL character".to_owned(),
            ));
        }
        Ok(())
    }

    /// The roles as canonical JSON (a sorted array of strings), as stored and hashed.
    pub fn roles_json(&self) -> CanonicalJson {
        let mut roles = self.roles.clone();
        roles.sort();
        CanonicalJson::from_value(&Value::from(roles))
    }
}

/// A recorded entry: an event with its place in the log and the time it was committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub seq: u64,
    pub timestamp: Timestamp,
    #[serde(flatten)]
    pub event: Event,
}

/// Writes the canonical encoding of 24 field values (in the module's order, as the UTF-8
/// bytes of their text form) to `out`. `Entry::canonical_bytes` and any reader that has
/// the stored text at hand (verification) share this, so both always agree.
pub fn encode_fields(out: &mut Vec<u8>, fields: &[Option<&[u8]>; 24]) {
    out.push(1u8);
    for field in fields {
        match field {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&s[..len as usize]);
            }
        }
    }
}

impl Entry {
    /// The canonical bytes (see the module documentation). A field longer than 4 GiB cannot occur: request bodies and rendered pages are limited far below that.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let texts = self.field_texts();
        let mut out = Vec::with_capacity(256 + self.event.page.as_ref().map_or(0, String::len));
        encode_fields(
            &mut out,
            &std::array::from_fn(|i| texts[i].as_deref().map(str::as_bytes)),
        );
        out
    }

    /// The 24 fields as the text the canonical bytes encode, in canonical order (`None`
    /// for an absent field): an entry exactly as hashed, in a form JSON can carry (archive
    /// bundles do).
    pub fn field_texts(&self) -> [Option<String>; 24] {
        let e = &self.event;
        let text = |v: &Option<String>| v.clone();
        [
            Some(self.seq.to_string()),
            Some(self.timestamp.as_micros().to_string()),
            Some(e.user.clone()),
            Some(e.activity.as_str().to_owned()),
            Some(e.method.clone()),
            text(&e.export_from),
            text(&e.reference_document),
            text(&e.report_name),
            text(&e.print_format),
            text(&e.file_type),
            e.filters.as_ref().map(|j| j.as_str().to_owned()),
            e.columns.as_ref().map(|j| j.as_str().to_owned()),
            text(&e.page),
            e.row_count.map(|n| n.to_string()),
            e.byte_count.map(|n| n.to_string()),
            text(&e.content_sha256),
            Some(e.outcome.as_str().to_owned()),
            text(&e.reason),
            text(&e.ip),
            text(&e.user_agent),
            text(&e.request_id),
            Some(e.roles_json().as_str().to_owned()),
            text(&e.auth),
            Some(e.source.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Entry {
        let mut e = Event::new("sales@example.com", Activity::Export, "GET /api/export");
        e.report_name = Some("General Ledger".into());
        e.file_type = Some("CSV".into());
        e.filters = Some(CanonicalJson::from_value(
            &json!({"to_date": "2026-01-31", "from_date": "2026-01-01"}),
        ));
        e.columns = Some(CanonicalJson::from_value(&json!([
            "posting_date",
            "account",
            "debit"
        ])));
        e.row_count = Some(3);
        e.byte_count = Some(120);
        e.content_sha256 = Some("ab".repeat(32));
        e.roles = vec!["Sales User".into(), "Accounts User".into()];
        e.auth = Some("session".into());
        Entry {
            seq: 7,
            timestamp: Timestamp::from_micros(1_764_406_800_000_001),
            event: e,
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_and_drops_whitespace() {
        let v: Value =
            serde_json::from_str(r#"{ "b": 1, "a": {"z": [1, 2.5, "x"], "y": null}, "A": true }"#)
                .unwrap();
        assert_eq!(
            CanonicalJson::from_value(&v).as_str(),
            r#"{"A":true,"a":{"y":null,"z":[1,2.5,"x"]},"b":1}"#
        );
        assert_eq!(
            CanonicalJson::parse(r#"{"b":1,"a":2}"#).unwrap().as_str(),
            r#"{"a":2,"b":1}"#
        );
        assert!(CanonicalJson::parse("{nope").is_err());
    }

    /// Found by fuzz/fuzz_targets/entry.rs: serde_json read the shortest form of a double
    /// one unit off, so canonical JSON was not a fixed point.
    #[test]
    fn canonical_json_is_a_fixed_point_for_every_float() {
        for text in [
            "1.6042676166944893e-154",
            "[0.30000000000000004,1e-320,-1.7976931348623157e308]",
        ] {
            let once = CanonicalJson::parse(text).unwrap();
            assert_eq!(CanonicalJson::parse(once.as_str()).unwrap(), once, "{text}");
            assert_eq!(CanonicalJson::from_value(&once.to_value()), once, "{text}");
        }
        assert_eq!(
            CanonicalJson::parse("1.6042676166944893e-154")
                .unwrap()
                .as_str(),
            "1.6042676166944893e-154"
        );
    }

    #[test]
    fn canonical_bytes_are_stable() {
        let bytes = sample().canonical_bytes();
        assert_eq!(bytes, sample().canonical_bytes());
        assert_eq!(bytes[0], 1, "version byte");
        // seq "7": present, length 1, "7".
        assert_eq!(&bytes[1..7], &[1, 0, 0, 0, 1, b'7']);
        // A fixed vector, so any change to the encoding is a deliberate one.
        let digest = crate::secrets::token_digest(&String::from_utf8_lossy(&bytes));
        assert_eq!(digest.len(), 64);
        let hex_bytes = hex::encode(&bytes);
        assert!(hex_bytes.starts_with("01010000000137"), "{hex_bytes}");
    }

    #[test]
    fn every_field_changes_the_bytes() {
        let base = sample().canonical_bytes();
        let mut variants: Vec<Entry> = Vec::new();
        let mut push = |f: &dyn Fn(&mut Entry)| {
            let mut e = sample();
            f(&mut e);
            variants.push(e);
        };
        push(&|e| e.seq = 8);
        push(&|e| e.timestamp = Timestamp::from_micros(1));
        push(&|e| e.event.user = "other@example.com".into());
        push(&|e| e.event.activity = Activity::Print);
        push(&|e| e.event.method = "POST".into());
        push(&|e| e.event.export_from = Some("Sales Invoice".into()));
        push(&|e| e.event.reference_document = Some("SINV-1".into()));
        push(&|e| e.event.report_name = None);
        push(&|e| e.event.print_format = Some("Standard".into()));
        push(&|e| e.event.file_type = Some("XLSX".into()));
        push(&|e| e.event.filters = None);
        push(&|e| e.event.columns = None);
        push(&|e| e.event.page = Some("^XA^XZ".into()));
        push(&|e| e.event.row_count = Some(4));
        push(&|e| e.event.byte_count = None);
        push(&|e| e.event.content_sha256 = Some("cd".repeat(32)));
        push(&|e| e.event.outcome = Outcome::Denied);
        push(&|e| e.event.reason = Some("why".into()));
        push(&|e| e.event.ip = Some("10.0.0.1".into()));
        push(&|e| e.event.user_agent = Some("curl".into()));
        push(&|e| e.event.request_id = Some("abc".into()));
        push(&|e| e.event.roles.push("HR User".into()));
        push(&|e| e.event.auth = Some("api_key:k".into()));
        push(&|e| e.event.source = "erpnext".into());
        assert_eq!(variants.len(), 24);
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(
                v.canonical_bytes(),
                base,
                "field {i} does not reach the encoding"
            );
        }
    }

    #[test]
    fn absent_and_empty_differ_and_fields_cannot_bleed_into_each_other() {
        let mut a = sample();
        a.event.reason = None;
        let mut b = sample();
        b.event.reason = Some(String::new());
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());

        let mut c = sample();
        c.event.ip = Some("1".into());
        c.event.user_agent = Some("23".into());
        let mut d = sample();
        d.event.ip = Some("12".into());
        d.event.user_agent = Some("3".into());
        assert_ne!(c.canonical_bytes(), d.canonical_bytes());
    }

    #[test]
    fn role_order_does_not_matter() {
        let mut a = sample();
        a.event.roles = vec!["B".into(), "A".into()];
        let mut b = sample();
        b.event.roles = vec!["A".into(), "B".into()];
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
    }

    #[test]
    fn validation_catches_what_storage_relies_on() {
        assert!(sample().event.validate().is_ok());
        let mut e = sample().event;
        e.user = " ".into();
        assert!(e.validate().is_err());
        let mut e = sample().event;
        e.content_sha256 = Some("XYZ".into());
        assert!(e.validate().is_err());
        let mut e = sample().event;
        e.outcome = Outcome::Denied;
        assert!(e.validate().is_err(), "denied needs a reason");
        e.reason = Some("no print permission".into());
        assert!(e.validate().is_ok());
        e.outcome = Outcome::Failed;
        e.reason = None;
        assert!(e.validate().is_err(), "failed needs a reason");
        e.reason = Some("printer unreachable".into());
        assert!(e.validate().is_ok());
        e.page = Some("\x1bE\0".into());
        assert_eq!(
            e.validate(),
            Err(EntryError::Invalid(
                "page",
                "contains a NUL character".into()
            )),
            "PostgreSQL text cannot hold NUL"
        );
        assert_eq!("failed".parse(), Ok(Outcome::Failed));
    }

    #[test]
    fn names_round_trip() {
        for a in Activity::ALL {
            assert_eq!(a.as_str().parse::<Activity>(), Ok(a));
        }
        assert!("download".parse::<Activity>().is_err());
        assert_eq!("denied".parse::<Outcome>(), Ok(Outcome::Denied));
    }

    /// An entry whose every field is present and says which field it is.
    fn every_field_named() -> Entry {
        let mut e = Event::new("u@example.com", Activity::Export, "GET /x");
        for (slot, name) in [
            (&mut e.export_from, "export_from"),
            (&mut e.reference_document, "reference_document"),
            (&mut e.report_name, "report_name"),
            (&mut e.print_format, "print_format"),
            (&mut e.file_type, "file_type"),
            (&mut e.page, "page"),
            (&mut e.content_sha256, "content_sha256"),
            (&mut e.reason, "reason"),
            (&mut e.ip, "ip"),
            (&mut e.user_agent, "user_agent"),
            (&mut e.request_id, "request_id"),
            (&mut e.auth, "auth"),
        ] {
            *slot = Some(name.to_owned());
        }
        e.filters = Some(CanonicalJson::from_value(&json!({"f": 1})));
        e.columns = Some(CanonicalJson::from_value(&json!(["c"])));
        e.row_count = Some(13);
        e.byte_count = Some(14);
        e.outcome = Outcome::Denied;
        e.roles = vec!["r".into()];
        e.source = "source".into();
        Entry {
            seq: 1,
            timestamp: Timestamp::from_micros(2),
            event: e,
        }
    }

    /// The canonical bytes hold the fields in the schema's order: decoded by position,
    /// each is the value of the field the schema names there.
    #[test]
    fn canonical_bytes_follow_the_schema() {
        let bytes = every_field_named().canonical_bytes();
        assert_eq!(bytes[0], 1, "version");
        let mut rest = &bytes[1..];
        for name in schema::NAMES {
            assert_eq!(rest[0], 1, "{name} is present");
            let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
            let value = std::str::from_utf8(&rest[5..5 + len]).unwrap();
            rest = &rest[5 + len..];
            let expected = match name {
                "seq" => "1",
                "timestamp" => "2",
                "user" => "u@example.com",
                "activity" => "export",
                "method" => "GET /x",
                "filters" => r#"{"f":1}"#,
                "columns" => r#"["c"]"#,
                "row_count" => "13",
                "byte_count" => "14",
                "outcome" => "denied",
                "roles" => r#"["r"]"#,
                other => other,
            };
            assert_eq!(value, expected, "field {name}");
        }
        assert!(rest.is_empty(), "24 fields and nothing after");
    }

    /// An entry's JSON has exactly the schema's fields, in its order.
    #[test]
    fn json_keys_follow_the_schema() {
        let entry = every_field_named();
        let text = serde_json::to_string(&entry).unwrap();
        let keys: Vec<String> = serde_json::to_value(&entry)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut names: Vec<String> = schema::NAMES.iter().map(|n| (*n).to_owned()).collect();
        names.sort();
        assert_eq!(keys, names, "the same fields");
        let at: Vec<usize> = schema::NAMES
            .iter()
            .map(|n| text.find(&format!("\"{n}\":")).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "in order: {text}");
    }

    #[test]
    fn the_schema_drives_the_bounds() {
        for field in schema::FIELDS {
            assert_eq!(bound_of(field.name), field.bound, "{}", field.name);
        }
    }

    #[test]
    fn typed_constructors_set_who_and_what() {
        let actor = Actor {
            user: "hr@example.com".into(),
            roles: vec!["HR User".into()],
            method: "GET /printview".into(),
            auth: Some("session".into()),
            ip: Some("10.0.0.1".into()),
            user_agent: Some("curl".into()),
            request_id: Some("r-1".into()),
        };
        let e = Event::print(&actor, Activity::Print, "Employee", "EMP-0001", "Standard");
        assert_eq!(
            (e.user.as_str(), e.activity, e.method.as_str(), e.outcome),
            (
                "hr@example.com",
                Activity::Print,
                "GET /printview",
                Outcome::Granted
            )
        );
        assert_eq!(
            (e.auth, e.ip, e.user_agent, e.request_id, e.roles),
            (
                actor.auth.clone(),
                actor.ip.clone(),
                actor.user_agent.clone(),
                actor.request_id.clone(),
                actor.roles.clone()
            )
        );
        assert_eq!(
            (e.export_from, e.reference_document, e.print_format),
            (
                Some("Employee".into()),
                Some("EMP-0001".into()),
                Some("Standard".into())
            )
        );
        let f = Event::file_download(&actor, "Contract.PDF");
        assert_eq!(
            (
                f.activity,
                f.export_from.as_deref(),
                f.reference_document.as_deref()
            ),
            (Activity::FileDownload, Some("File"), Some("Contract.PDF"))
        );
        assert_eq!(file_type_of("Contract.PDF").as_deref(), Some("pdf"));
        assert_eq!(file_type_of("README"), None);
        let r = Event::read(&actor, "Employee", None);
        assert_eq!(
            (r.activity, r.export_from.as_deref(), r.reference_document),
            (Activity::Read, Some("Employee"), None)
        );
        let x = Event::export(&actor, "CSV");
        assert_eq!(
            (x.activity, x.file_type.as_deref()),
            (Activity::Export, Some("CSV"))
        );
        let p = Event::report_print(&actor, "Salary Register", "PDF");
        assert_eq!(
            (p.activity, p.report_name.as_deref(), p.file_type.as_deref()),
            (Activity::ReportPrint, Some("Salary Register"), Some("PDF"))
        );
        let l = Event::log_access(&actor, Activity::Read, Some("checkpoint"));
        assert_eq!(
            (l.export_from.as_deref(), l.report_name.as_deref()),
            (Some(ACCESS_LOG), Some("checkpoint"))
        );
        let b = Event::backup_download(&actor, "backup-1.sqlite3");
        assert_eq!(
            (b.activity, b.file_type.as_deref()),
            (Activity::BackupDownload, Some("sqlite3"))
        );
    }
}
