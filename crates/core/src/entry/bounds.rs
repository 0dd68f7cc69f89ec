//! Bounds on an entry's text fields, applied by [`Event::bounded`] before anything is
//! recorded: a request can put megabytes into a header or a filter, and the log must take
//! the event anyway (refusing it would refuse the release) without storing all of it.
//!
//! A value over its bound is cut at a character boundary and marked, and the mark keeps the
//! length and SHA-256 of the whole value, so whoever still has the value can prove it was
//! the one released. `docs/log-format.md` ("Field sizes") describes the same for readers
//! outside Rust; a test below keeps the two tables equal.

use std::borrow::Cow;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{CanonicalJson, Event};

/// The most bytes (of UTF-8) each text field of an [`Event`] keeps, by field name as in
/// the canonical encoding (from [`super::schema::FIELDS`]). `roles` bounds each role;
/// [`MAX_ROLES`] bounds how many.
///
/// A longer value is cut: a plain text field keeps its longest prefix (ending at a
/// character boundary) that fits together with the mark `…[cut: N bytes, sha256 HEX]`,
/// where N and HEX are the byte length and SHA-256 of the whole value; `filters` and
/// `columns` become the canonical JSON object
/// `{"bytes":N,"cut":true,"head":"<start of the JSON text>","sha256":"HEX"}`, which fits
/// the bound. Every bound is larger than the longest mark (89 bytes plus N's digits), so a
/// cut value always fits; were one smaller, a cut value would be the mark alone, since the
/// full SHA-256 is worth more than those few bytes.
pub const FIELD_BOUNDS: &[(&str, usize)] = &super::schema::BOUNDS;

/// The most roles an entry keeps. With more, the first 255 (in sorted order) are kept and
/// the 256th is the mark `…[cut: R roles, N bytes, sha256 HEX]`, where R is how many roles
/// there were and N and HEX the length and SHA-256 of their canonical JSON array.
pub const MAX_ROLES: usize = 256;

/// The bound of `field` (a name in [`FIELD_BOUNDS`]), or `None` for a field without one.
pub fn bound_of(field: &str) -> Option<usize> {
    FIELD_BOUNDS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|&(_, bound)| bound)
}

/// The bound of a field this module names itself; a test checks every name is in the table.
fn bound(field: &str) -> usize {
    bound_of(field).unwrap_or(0)
}

const ELLIPSIS: &str = "\u{2026}";
const REPLACEMENT: &str = "\u{FFFD}";

pub(super) fn bound_event(mut e: Event) -> Event {
    // The mark for too many roles is over the roles as given, before any is changed.
    let all_roles = (e.roles.len() > MAX_ROLES).then(|| (e.roles.len(), e.roles_json()));

    bound_text(&mut e.user, bound("user"));
    bound_text(&mut e.method, bound("method"));
    bound_opt(&mut e.export_from, "export_from");
    bound_opt(&mut e.reference_document, "reference_document");
    bound_opt(&mut e.report_name, "report_name");
    bound_opt(&mut e.print_format, "print_format");
    bound_opt(&mut e.file_type, "file_type");
    bound_json(&mut e.filters, bound("filters"));
    bound_json(&mut e.columns, bound("columns"));
    bound_opt(&mut e.page, "page");
    bound_opt(&mut e.reason, "reason");
    bound_opt(&mut e.ip, "ip");
    bound_opt(&mut e.user_agent, "user_agent");
    bound_opt(&mut e.request_id, "request_id");
    bound_opt(&mut e.auth, "auth");
    bound_text(&mut e.source, bound("source"));
    // Not free text and not bounded here (validation wants 64 hex digits), but no field
    // keeps a NUL.
    if let Some(digest) = e.content_sha256.as_mut()
        && digest.contains('\0')
    {
        *digest = digest.replace('\0', REPLACEMENT);
    }

    for role in &mut e.roles {
        bound_text(role, bound("roles"));
    }
    if let Some((count, json)) = all_roles {
        e.roles.sort();
        e.roles.truncate(MAX_ROLES - 1);
        let text = json.as_str();
        e.roles.push(format!(
            "{ELLIPSIS}[cut: {count} roles, {} bytes, sha256 {}]",
            text.len(),
            sha256_hex(text)
        ));
    }
    e
}

fn bound_opt(value: &mut Option<String>, field: &str) {
    if let Some(text) = value.as_mut() {
        bound_text(text, bound(field));
    }
}

/// NUL to U+FFFD, then, if still too long, the cut with its mark. The mark's length and
/// hash are the value's as given, NULs and all: that is the value someone may hold.
fn bound_text(value: &mut String, bound: usize) {
    let has_nul = value.contains('\0');
    if !has_nul && (value.len() <= bound || is_cut_mark(value)) {
        // In bounds (the common case, which costs no allocation), or already a mark alone
        // that is longer than a small bound: cutting it again would not be idempotent.
        return;
    }
    let clean = without_nul(value);
    if clean.len() <= bound {
        *value = clean.into_owned();
        return;
    }
    let cut = cut_text(value, &clean, bound);
    *value = cut;
}

fn without_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', REPLACEMENT))
    } else {
        Cow::Borrowed(text)
    }
}

/// The longest prefix of `clean` that fits `bound` with the mark of `original`, then the
/// mark. Where the mark alone does not fit, the mark alone.
fn cut_text(original: &str, clean: &str, bound: usize) -> String {
    let mark = format!(
        "{ELLIPSIS}[cut: {} bytes, sha256 {}]",
        original.len(),
        sha256_hex(original)
    );
    let end = clean.floor_char_boundary(bound.saturating_sub(mark.len()));
    let mut out = String::with_capacity(end + mark.len());
    out.push_str(&clean[..end]);
    out.push_str(&mark);
    out
}

/// Whether `text` is exactly a mark with an empty prefix, as [`cut_text`] writes it.
fn is_cut_mark(text: &str) -> bool {
    let Some(inner) = text
        .strip_prefix(ELLIPSIS)
        .and_then(|t| t.strip_prefix("[cut: "))
        .and_then(|t| t.strip_suffix(']'))
    else {
        return false;
    };
    let Some((bytes, hash)) = inner.split_once(" bytes, sha256 ") else {
        return false;
    };
    // At most 20 digits (a u64), so a mark kept over its bound is at most 109 bytes.
    let decimal = (1..=20).contains(&bytes.len())
        && bytes.bytes().all(|b| b.is_ascii_digit())
        && (bytes == "0" || !bytes.starts_with('0'));
    decimal && is_sha256_hex(hash)
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn bound_json(value: &mut Option<CanonicalJson>, bound: usize) {
    let Some(json) = value.as_mut() else {
        return;
    };
    let text = json.as_str();
    let has_nul = text.contains('\0');
    if !has_nul && text.len() <= bound {
        return;
    }
    let clean = without_nul(text);
    if clean.len() <= bound {
        *json = CanonicalJson::from_stored(clean.into_owned());
        return;
    }
    let cut = cut_json(text, &clean, bound);
    *json = cut;
}

/// `{"bytes":N,"cut":true,"head":…,"sha256":…}` for `original`, its head the longest
/// prefix of `clean` whose JSON string lets the object fit `bound`.
fn cut_json(original: &str, clean: &str, bound: usize) -> CanonicalJson {
    let digest = sha256_hex(original);
    let object = |head: &str| {
        let mut map = Map::new();
        map.insert("bytes".into(), Value::from(original.len()));
        map.insert("cut".into(), Value::Bool(true));
        map.insert("head".into(), Value::String(head.to_owned()));
        map.insert("sha256".into(), Value::String(digest.clone()));
        CanonicalJson::from_value(&Value::Object(map))
    };
    let room = bound.saturating_sub(object("").as_str().len());
    let mut end = 0;
    let mut used = 0;
    for (at, c) in clean.char_indices() {
        used += escaped_len(c);
        if used > room {
            break;
        }
        end = at + c.len_utf8();
    }
    let mut cut = object(&clean[..end]);
    // `escaped_len` mirrors serde_json, which has the last word: should they ever differ,
    // shorten the head by the excess until the object fits.
    while cut.as_str().len() > bound && end > 0 {
        let excess = cut.as_str().len() - bound;
        end = clean.floor_char_boundary(end.saturating_sub(excess));
        cut = object(&clean[..end]);
    }
    cut
}

/// The bytes `c` takes inside a JSON string as serde_json writes it: `"`, `\` and the
/// control characters with a short escape take two, other control characters six
/// (`\u00XX`), everything else its UTF-8.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\t' | '\n' | '\u{c}' | '\r' => 2,
        c if u32::from(c) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests;
