//! Reviewing the Access Log: for System Managers (and API keys with the auditor scope)
//! only; everyone else gets 403, and the refused attempt is itself recorded. Nothing here
//! writes an entry except those records of refusals and of exports of the log itself.
//!
//! - [`api`]: `GET /api/access-log`, `GET /api/access-log/{seq}`, and ERPNext's
//!   `GET /api/resource/Access Log`;
//! - [`pages`]: `/app/access-log` (list, filters, counts) and `/app/access-log/{seq}`;
//! - [`export`]: the log itself as CSV or JSON Lines, recorded as `log_export`.

pub mod api;
pub mod dashboard;
pub mod export;
pub mod pages;

use std::collections::BTreeMap;
use std::str::FromStr;

use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, Entry, Event, Outcome};
use accesslog_store::log_search::EntryQuery;
use serde_json::{Value, json};

use crate::audit::Audit;
use crate::error::WebError;
use crate::state::AppState;

/// Lets System Managers and auditor keys through; records anyone else's attempt as a
/// denied `activity` (`read`, or `log_export` for an export) and answers 403.
pub async fn require_reviewer(
    state: &AppState,
    audit: &Audit,
    activity: Activity,
) -> Result<(), WebError> {
    if audit.who.is_auditor() {
        return Ok(());
    }
    let event = Event::log_access(&audit.actor(), activity, None);
    let error = WebError::Forbidden(
        "Only System Managers (or API keys with the auditor scope) may read the Access Log."
            .to_owned(),
    );
    Err(audit.deny(state, event, error).await)
}

/// The standard filters from query parameters: `user`, `activity`, `export_from` (or
/// `doctype`), `report_name`, `file_type`, `outcome`, `reference_document`, `from` and `to`
/// (dates `YYYY-MM-DD`, `to` inclusive, or RFC 3339 instants), and `q` (text in the
/// reference document or report name), and `document` (entries about that document: its
/// reference, or a list read that returned it). Empty values are ignored; bad ones are
/// named.
pub fn entry_query(params: &BTreeMap<String, String>) -> Result<EntryQuery, WebError> {
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
            WebError::BadRequest(format!(
                "activity must be one of {}",
                Activity::ALL.map(|a| a.as_str()).join(", ")
            ))
        })?;
    let outcome = get("outcome")
        .map(|o| Outcome::from_str(&o))
        .transpose()
        .map_err(|_| {
            WebError::BadRequest("outcome must be granted, denied or failed".to_owned())
        })?;
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
    })
}

/// `2026-11-29` (the start of that day, or with `end_of_day` the start of the next) or an
/// RFC 3339 instant.
fn instant(text: &str, end_of_day: bool) -> Result<Timestamp, WebError> {
    let bad = || {
        WebError::BadRequest(format!(
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
