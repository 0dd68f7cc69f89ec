//! The Access Log read back: the standard filters of the review (list, export, API) from
//! query parameters, and an entry as JSON.

use std::collections::BTreeMap;
use std::str::FromStr;

use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, Entry, Outcome};
use accesslog_store::log_search::EntryQuery;
use serde_json::{Value, json};

use crate::{AppError, AppResult};

/// The standard filters from query parameters: `user`, `activity`, `export_from` (or
/// `doctype`), `report_name`, `file_type`, `outcome`, `reference_document`, `from` and `to`
/// (dates `YYYY-MM-DD`, `to` inclusive, or RFC 3339 instants), and `q` (text in the
/// reference document or report name), and `document` (entries about that document: its
/// reference, or a list read that returned it). Empty values are ignored; bad ones are
/// named.
pub fn entry_query(params: &BTreeMap<String, String>) -> AppResult<EntryQuery> {
    let get = |k: &str| {
        params
            .get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let activity = get("activity")
        .map(|a| Activity::from_str(&a))
        .transpose()
        .map_err(|_| {
            AppError::Invalid(format!(
                "activity must be one of {}",
                Activity::ALL.map(|a| a.as_str()).join(", ")
            ))
        })?;
    let outcome = get("outcome")
        .map(|o| Outcome::from_str(&o))
        .transpose()
        .map_err(|_| AppError::Invalid("outcome must be granted, denied or failed".to_owned()))?;
    Ok(EntryQuery {
        user: get("user"),
        activity,
        export_from: get("export_from").or_else(|| get("doctype")),
        report_name: get("report_name"),
        file_type: get("file_type"),
        outcome,
        reference_document: get("reference_document"),
        seen_document: get("document"),
        from: get("from").map(|v| instant(&v, false)).transpose()?,
        to: get("to").map(|v| instant(&v, true)).transpose()?,
        text: get("q"),
        source: get("source"),
    })
}

/// `2026-11-29` (the start of that day, or with `end_of_day` the start of the next) or an
/// RFC 3339 instant.
pub fn instant(text: &str, end_of_day: bool) -> AppResult<Timestamp> {
    let bad = || {
        AppError::Invalid(format!(
            "{text:?} is not a date (2026-11-29) or a time (2026-11-29T10:00:00Z)"
        ))
    };
    if accesslog_core::filters::is_date(text) {
        let day = time::Date::parse(
            text,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| bad())?;
        let day = if end_of_day {
            day.next_day().ok_or_else(bad)?
        } else {
            day
        };
        let micros = day.midnight().assume_utc().unix_timestamp_nanos() / 1000;
        return Ok(Timestamp::from_micros(
            i64::try_from(micros).map_err(|_| bad())?,
        ));
    }
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())?;
    Ok(Timestamp::from_micros(
        i64::try_from(at.unix_timestamp_nanos() / 1000).map_err(|_| bad())?,
    ))
}

/// An entry as JSON: every field, `filters` and `columns` as JSON values.
pub fn entry_json(e: &Entry) -> Value {
    let ev = &e.event;
    json!({
        "seq": e.seq,
        "timestamp": e.timestamp.to_rfc3339(),
        "user": ev.user,
        "activity": ev.activity.as_str(),
        "method": ev.method,
        "export_from": ev.export_from,
        "reference_document": ev.reference_document,
        "report_name": ev.report_name,
        "print_format": ev.print_format,
        "file_type": ev.file_type,
        "filters": ev.filters.as_ref().map(|f| f.to_value()),
        "columns": ev.columns.as_ref().map(|c| c.to_value()),
        "page": ev.page,
        "row_count": ev.row_count,
        "byte_count": ev.byte_count,
        "content_sha256": ev.content_sha256,
        "outcome": ev.outcome.as_str(),
        "reason": ev.reason,
        "ip": ev.ip,
        "user_agent": ev.user_agent,
        "request_id": ev.request_id,
        "roles": ev.roles,
        "auth": ev.auth,
        "source": ev.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_json_has_every_field_of_the_schema_once() {
        let e = Entry {
            seq: 1,
            timestamp: Timestamp::from_micros(0),
            event: accesslog_core::entry::Event::new(
                "u@example.com",
                accesslog_core::entry::Activity::Print,
                "GET /printview",
            ),
        };
        let json = entry_json(&e);
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut names = accesslog_core::entry::schema::NAMES.to_vec();
        keys.sort_unstable();
        names.sort_unstable();
        assert_eq!(keys, names);
    }

    #[test]
    fn dates_cover_whole_days() {
        let from = instant("2026-11-29", false).unwrap();
        let to = instant("2026-11-29", true).unwrap();
        assert_eq!(to.as_micros() - from.as_micros(), 86_400_000_000);
        assert_eq!(from.to_rfc3339(), "2026-11-29T00:00:00.000000Z");
        assert!(instant("yesterday", false).is_err());
        let q = entry_query(&BTreeMap::from([
            ("activity".to_owned(), "export".to_owned()),
            ("doctype".to_owned(), "GL Entry".to_owned()),
            ("user".to_owned(), " ".to_owned()),
        ]))
        .unwrap();
        assert_eq!(q.activity, Some(Activity::Export));
        assert_eq!(q.export_from.as_deref(), Some("GL Entry"));
        assert_eq!(q.user, None);
        assert!(entry_query(&BTreeMap::from([("outcome".to_owned(), "ok".to_owned())])).is_err());
    }
}
