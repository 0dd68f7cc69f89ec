use super::*;
use crate::entry::{Activity, Outcome};
use proptest::prelude::*;
use serde_json::json;

/// The plain text fields by name, as `FIELD_BOUNDS` names them.
const TEXT_FIELDS: [&str; 14] = [
    "user",
    "method",
    "export_from",
    "reference_document",
    "report_name",
    "print_format",
    "file_type",
    "page",
    "reason",
    "ip",
    "user_agent",
    "request_id",
    "auth",
    "source",
];

fn text_field<'e>(e: &'e mut Event, field: &str) -> &'e mut String {
    let opt = match field {
        "user" => return &mut e.user,
        "method" => return &mut e.method,
        "source" => return &mut e.source,
        "export_from" => &mut e.export_from,
        "reference_document" => &mut e.reference_document,
        "report_name" => &mut e.report_name,
        "print_format" => &mut e.print_format,
        "file_type" => &mut e.file_type,
        "page" => &mut e.page,
        "reason" => &mut e.reason,
        "ip" => &mut e.ip,
        "user_agent" => &mut e.user_agent,
        "request_id" => &mut e.request_id,
        "auth" => &mut e.auth,
        other => panic!("{other} is not a plain text field"),
    };
    opt.get_or_insert_with(String::new)
}

fn sample() -> Event {
    let mut e = Event::new("ana@example.com", Activity::Export, "GET /api/export");
    e.export_from = Some("Sales Invoice".into());
    e.report_name = Some("General Ledger".into());
    e.file_type = Some("CSV".into());
    e.filters = Some(CanonicalJson::from_value(
        &json!({"from_date": "2026-01-01", "party": "Acme"}),
    ));
    e.columns = Some(CanonicalJson::from_value(&json!(["posting_date", "debit"])));
    e.ip = Some("192.0.2.10".into());
    e.user_agent = Some("Mozilla/5.0".into());
    e.roles = vec!["Accounts User".into()];
    e.auth = Some("session".into());
    e
}

fn mark(original: &str) -> String {
    format!(
        "\u{2026}[cut: {} bytes, sha256 {}]",
        original.len(),
        sha256_hex(original)
    )
}

#[test]
fn every_bounded_field_is_in_the_table_once() {
    for field in TEXT_FIELDS.iter().chain(&["filters", "columns", "roles"]) {
        assert!(bound_of(field).is_some(), "{field} has no bound");
    }
    assert_eq!(FIELD_BOUNDS.len(), TEXT_FIELDS.len() + 3);
    assert_eq!(bound_of("seq"), None);
    assert_eq!(bound_of("user_agent"), Some(512));
}

#[test]
fn a_300_kb_user_agent_is_cut_to_512_bytes_with_its_hash() {
    let original = "Mozilla/5.0 ".repeat(25_000);
    assert_eq!(original.len(), 300_000);
    let mut e = sample();
    e.user_agent = Some(original.clone());
    let b = e.bounded();
    let ua = b.user_agent.as_deref().expect("kept");
    assert!(ua.len() <= 512, "{}", ua.len());
    let mark = mark(&original);
    assert!(ua.ends_with(&mark), "{ua}");
    assert!(ua.contains(&hex::encode(Sha256::digest(original.as_bytes()))));
    assert!(ua.contains("[cut: 300000 bytes, sha256 "));
    let prefix = ua.strip_suffix(&mark).expect("mark");
    assert!(original.starts_with(prefix));
    assert_eq!(prefix.len(), 512 - mark.len(), "all the room is used");
    assert!(b.validate().is_ok());
}

#[test]
fn every_field_is_cut_at_its_bound() {
    for field in TEXT_FIELDS {
        let limit = bound(field);
        let original = format!("x{}", "y".repeat(limit));
        let mut e = sample();
        *text_field(&mut e, field) = original.clone();
        let mut b = e.bounded();
        let value = text_field(&mut b, field).clone();
        assert!(value.ends_with(&mark(&original)), "{field}: {value}");
        if mark(&original).len() <= limit {
            assert!(value.len() <= limit, "{field}: {} bytes", value.len());
            assert!(value.starts_with('x'), "{field} keeps its start");
        } else {
            assert_eq!(value, mark(&original), "{field}: the mark alone");
        }
        assert_eq!(b.clone().bounded(), b, "{field}: idempotent");
        assert!(b.validate().is_ok(), "{field}");
    }
}

#[test]
fn a_cut_never_splits_a_character() {
    // Slide 'é' (2 bytes) and an emoji (4 bytes) across the cut point: whatever the
    // padding, the prefix is the longest that ends on a character boundary and fits.
    for wide in ["é", "😀", "中"] {
        for pad in 0..8 {
            let original = format!("{}{}", "a".repeat(pad), wide.repeat(400));
            let mut e = sample();
            e.user_agent = Some(original.clone());
            let ua = e.bounded().user_agent.expect("kept");
            let mark = mark(&original);
            let prefix = ua.strip_suffix(&mark).expect("marked");
            let room = 512 - mark.len();
            assert!(original.starts_with(prefix), "{wide} {pad}");
            assert!(prefix.len() <= room && prefix.len() + wide.len() > room);
            assert!(original.is_char_boundary(prefix.len()));
        }
    }
}

#[test]
fn nul_becomes_the_replacement_character_everywhere() {
    let mut e = sample();
    for field in TEXT_FIELDS {
        *text_field(&mut e, field) = format!("{field}\0end");
    }
    e.roles = vec!["HR\0User".into()];
    e.filters = Some(CanonicalJson::from_stored("{\"a\":\"b\0\"}".into()));
    e.content_sha256 = Some("\0".into());
    e.outcome = Outcome::Denied;
    assert!(e.validate().is_err());
    let mut b = e.bounded();
    for field in TEXT_FIELDS {
        assert_eq!(
            *text_field(&mut b, field),
            format!("{field}\u{FFFD}end"),
            "{field}"
        );
    }
    assert_eq!(b.roles, ["HR\u{FFFD}User"]);
    assert_eq!(
        b.filters.as_ref().map(CanonicalJson::as_str),
        Some("{\"a\":\"b\u{FFFD}\"}")
    );
    assert_eq!(b.content_sha256.as_deref(), Some("\u{FFFD}"));
    b.content_sha256 = None;
    assert!(b.validate().is_ok(), "{:?}", b.validate());
}

#[test]
fn nul_that_pushes_a_value_over_its_bound_is_cut_and_hashed_as_given() {
    // 300 NULs fit 320 bytes; 300 U+FFFD (900 bytes) do not.
    let original = "\0".repeat(300);
    let mut e = sample();
    e.user = original.clone();
    let b = e.bounded();
    assert!(b.user.len() <= 320);
    assert!(b.user.ends_with(&mark(&original)), "{}", b.user);
    assert!(b.user.starts_with('\u{FFFD}') && !b.user.contains('\0'));
    assert_eq!(b.clone().bounded(), b);
}

#[test]
fn values_within_bounds_keep_their_bytes() {
    let mut e = sample();
    for field in TEXT_FIELDS {
        *text_field(&mut e, field) = "é".repeat(bound(field) / 2);
    }
    e.filters = Some(CanonicalJson::from_value(&json!(["a".repeat(65_532)])));
    assert_eq!(e.filters.as_ref().map(|f| f.as_str().len()), Some(65_536));
    e.roles = (0..MAX_ROLES)
        .map(|i| format!("{i:03}{}", "r".repeat(253)))
        .collect();
    e.roles.reverse();
    assert_eq!(e.clone().bounded(), e, "at every bound exactly");
    assert_eq!(sample().bounded(), sample());
}

#[test]
fn huge_filters_stay_canonical_json_with_cut_true() {
    let mut map = Map::new();
    for i in 0..20_000 {
        map.insert(
            format!("field_{i:05}"),
            json!({"op": "=", "v": format!("\"q\"\t{i}")}),
        );
    }
    let original = CanonicalJson::from_value(&Value::Object(map));
    let text = original.as_str().to_owned();
    assert!(text.len() > 65_536 * 10);
    let mut e = sample();
    e.filters = Some(original);
    let b = e.bounded();
    let cut = b.filters.as_ref().expect("kept").as_str();
    assert!(cut.len() <= 65_536, "{}", cut.len());
    // Escapes are at most 6 bytes, so the head leaves less than that unused.
    assert!(cut.len() > 65_536 - 6, "{}", cut.len());
    assert_eq!(CanonicalJson::parse(cut).expect("valid JSON").as_str(), cut);
    let value: Value = serde_json::from_str(cut).expect("JSON");
    assert_eq!(value["cut"], json!(true));
    assert_eq!(value["bytes"], json!(text.len()));
    assert_eq!(value["sha256"], json!(sha256_hex(&text)));
    let head = value["head"].as_str().expect("a string");
    assert!(!head.is_empty() && text.starts_with(head));
    assert!(cut.starts_with(r#"{"bytes":"#), "keys sorted: {cut:.40}");
    assert_eq!(value.as_object().map(Map::len), Some(4));
    assert_eq!(b.clone().bounded(), b);
}

#[test]
fn json_heads_of_wide_and_escaped_characters_fit_exactly() {
    for unit in ["é", "😀", "\"", "\\", "\u{1}", "\n", "a"] {
        for pad in 0..7 {
            let text = format!("{}{}", "b".repeat(pad), unit.repeat(300));
            let cut = cut_json(&text, &text, 200);
            let value: Value = serde_json::from_str(cut.as_str()).expect("JSON");
            let head = value["head"].as_str().expect("head");
            assert!(cut.as_str().len() <= 200, "{unit:?} {pad}");
            assert!(text.starts_with(head));
            // One more character would not have fitted.
            let next = text[head.len()..].chars().next().expect("more");
            assert!(
                cut.as_str().len() + escaped_len(next) > 200,
                "{unit:?} {pad}"
            );
        }
    }
}

#[test]
fn escaped_len_agrees_with_serde_json() {
    let chars = (0u32..0x80)
        .chain([0xe9, 0x2028, 0xfffd, 0x1f600])
        .filter_map(char::from_u32);
    for c in chars {
        let written = Value::String(c.to_string()).to_string();
        assert_eq!(escaped_len(c), written.len() - 2, "{c:?}");
    }
}

#[test]
fn too_many_roles_keep_255_and_a_mark() {
    let roles: Vec<String> = (0..300).rev().map(|i| format!("Role {i:03}")).collect();
    let mut e = sample();
    e.roles = roles.clone();
    let full = e.roles_json();
    let b = e.bounded();
    assert_eq!(b.roles.len(), MAX_ROLES);
    let mut sorted = roles;
    sorted.sort();
    assert_eq!(b.roles[..255], sorted[..255]);
    assert_eq!(
        b.roles[255],
        format!(
            "\u{2026}[cut: 300 roles, {} bytes, sha256 {}]",
            full.as_str().len(),
            sha256_hex(full.as_str())
        )
    );
    assert_eq!(b.clone().bounded(), b);
    assert!(b.validate().is_ok());
}

#[test]
fn a_long_role_is_cut_like_text() {
    let original = "R".repeat(1000);
    let mut e = sample();
    e.roles = vec![original.clone(), "Sales User".into()];
    let b = e.bounded();
    assert!(b.roles[0].len() <= 256 && b.roles[0].ends_with(&mark(&original)));
    assert_eq!(b.roles[1], "Sales User");
}

#[test]
fn a_mark_is_recognised_only_as_cut_text_writes_it() {
    let m = mark("anything");
    assert!(is_cut_mark(&m));
    assert!(!is_cut_mark(&format!("x{m}")));
    assert!(!is_cut_mark(&m.replace("sha256 ", "sha256 0")));
    // A forged length of 10,000 digits would dodge the bound if it passed as a mark.
    let forged = format!(
        "\u{2026}[cut: {} bytes, sha256 {}]",
        "9".repeat(10_000),
        "a".repeat(64)
    );
    assert!(!is_cut_mark(&forged));
    let mut e = sample();
    e.ip = Some(forged.clone());
    let ip = e.bounded().ip.expect("kept");
    assert!(
        ip.len() <= 128 && ip.ends_with(&mark(&forged)),
        "{}",
        ip.len()
    );
}

/// The bounds table in docs/log-format.md says what `FIELD_BOUNDS` says.
#[test]
fn the_documented_bounds_are_these() {
    let doc = include_str!("../../../../../docs/log-format.md");
    for (field, limit) in FIELD_BOUNDS {
        let row = format!("| `{field}` | {limit} |");
        assert!(doc.contains(&row), "docs/log-format.md lacks the row {row}");
    }
    assert!(doc.contains(&format!("at most {MAX_ROLES} roles")));
}

// --- Properties ---------------------------------------------------------------------------

/// Text from characters that test the edges: NUL, 2-, 3- and 4-byte characters, JSON
/// escapes, and the mark's own ellipsis.
fn soup(max_chars: usize) -> impl Strategy<Value = String> {
    let chars = prop::sample::select(vec!['a', 'é', '…', '😀', '\0', '"', '\\', '\n', '\u{1}']);
    prop::collection::vec(chars, 0..max_chars).prop_map(|cs| cs.into_iter().collect())
}

fn event_strategy() -> impl Strategy<Value = Event> {
    (
        prop::collection::vec(soup(400), TEXT_FIELDS.len()),
        prop::collection::vec(soup(120), 0..270),
        soup(300),
        any::<bool>(),
    )
        .prop_map(|(texts, roles, json_text, denied)| {
            let mut e = Event::new("u", Activity::Read, "GET /");
            for (field, text) in TEXT_FIELDS.iter().zip(texts) {
                // `user` and `source` must not be blank; a reason is needed when denied.
                let keep_non_blank = matches!(*field, "user" | "source" | "reason");
                *text_field(&mut e, field) = if keep_non_blank {
                    format!("v{text}")
                } else {
                    text
                };
            }
            e.roles = roles;
            e.filters = Some(CanonicalJson::from_value(&json!({ "q": json_text })));
            e.columns = Some(CanonicalJson::from_value(&json!([json_text, json_text])));
            if denied {
                e.outcome = Outcome::Denied;
            }
            e
        })
}

fn fits(field: &str, value: &str) -> bool {
    value.len() <= bound(field) || is_cut_mark(value)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bounded_events_fit_validate_and_are_fixed_points(e in event_strategy()) {
        let b = e.clone().bounded();
        prop_assert_eq!(&b.clone().bounded(), &b);
        prop_assert!(b.validate().is_ok(), "{:?}", b.validate());
        let (mut before, mut after) = (e.clone(), b.clone());
        for field in TEXT_FIELDS {
            let (old, new) = (text_field(&mut before, field), text_field(&mut after, field));
            prop_assert!(!new.contains('\0'));
            prop_assert!(fits(field, new), "{} has {} bytes", field, new.len());
            let clean = old.replace('\0', "\u{FFFD}");
            if !old.contains('\0') && old.len() <= bound(field) {
                prop_assert_eq!(&*new, &*old, "{} in bounds changed", field);
            } else if clean.len() <= bound(field) {
                prop_assert_eq!(&*new, &clean);
            } else {
                let kept = new.strip_suffix(&mark(old));
                prop_assert!(kept.is_some_and(|k| clean.starts_with(k)), "{}: {:?}", field, new);
            }
        }
        prop_assert!(b.roles.len() <= MAX_ROLES);
        for role in &b.roles {
            prop_assert!(!role.contains('\0') && role.len() <= 256);
        }
        if e.roles.len() <= MAX_ROLES && e.roles.iter().all(|r| !r.contains('\0') && r.len() <= 256) {
            prop_assert_eq!(&b.roles, &e.roles);
        }
    }

    #[test]
    fn cut_json_is_canonical_fits_and_keeps_a_prefix(text in soup(600), limit in 120usize..700) {
        let json = CanonicalJson::from_value(&json!({ "t": text }));
        let original = json.as_str();
        let mut value = Some(json.clone());
        bound_json(&mut value, limit);
        let out = value.expect("kept");
        prop_assert!(out.as_str().len() <= limit.max(original.len()));
        if original.len() <= limit {
            prop_assert_eq!(&out, &json);
        } else {
            let parsed = CanonicalJson::parse(out.as_str()).expect("valid JSON");
            prop_assert_eq!(parsed.as_str(), out.as_str(), "canonical");
            let v = out.to_value();
            prop_assert_eq!(&v["cut"], &json!(true));
            prop_assert_eq!(&v["bytes"], &json!(original.len()));
            prop_assert_eq!(&v["sha256"], &json!(sha256_hex(original)));
            prop_assert!(original.starts_with(v["head"].as_str().expect("head")));
            let mut again = Some(out.clone());
            bound_json(&mut again, limit);
            prop_assert_eq!(again, Some(out));
        }
    }
}
