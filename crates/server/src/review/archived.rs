//! Archived entries (issue 19): what the log keeps of the entries whose payload was pruned
//! after it went into an archive bundle, or redacted on request. The review's list reads
//! the log's review copy, which holds whole entries only; these are listed here instead,
//! newest first, by what was kept of them (time, user, activity, when the site keeps
//! them) and by bundle, with a link to each entry's page ("archived in bundle X").
//!
//! - `GET /app/access-log/archived`: the page;
//! - `GET /api/access-log/archived`: the same as JSON, `next_before` for the next page.
//!
//! Both are reads of the log and recorded as such, refusals too.

use std::collections::BTreeMap;

use accesslog_app::AppError;
use accesslog_app::log_query::instant;
use accesslog_core::entry::Activity;
use accesslog_store::retention::{ArchiveRecord, ArchivedQuery, PrunedEntry};
use askama::Template;
use axum::extract::{Query, State};
use serde_json::{Map, Value, json};

use super::api::{limit, release_log_read};
use super::require_reviewer;
use crate::audit::{Audit, AuditedResponse, Payload};
use crate::auth::PageUser;
use crate::error::WebError;
use crate::pages::{Layout, render};
use crate::review::pages::Selectable;
use crate::state::AppState;

const PAGE: u32 = 50;
const FILTERS: [&str; 5] = ["user", "activity", "from", "to", "bundle"];
const NOT_KEPT: &str = "(not kept)";

/// The query from the parameters: `user`, `activity`, `from` and `to` (dates or RFC 3339
/// times, `to` inclusive of its day), `bundle` (its name or SHA-256) and `before` (the seq
/// the previous page ended at).
pub fn archived_query(
    params: &BTreeMap<String, String>,
    archives: &[ArchiveRecord],
) -> Result<ArchivedQuery, AppError> {
    let get = |k: &str| crate::request::param(params, k).map(str::to_owned);
    let activity = get("activity")
        .map(|a| {
            a.parse::<Activity>()
                .map(|a| a.as_str().to_owned())
                .map_err(|_| {
                    AppError::Invalid(format!(
                        "activity must be one of {}, not {a:?}",
                        Activity::ALL.map(|a| a.as_str()).join(", ")
                    ))
                })
        })
        .transpose()?;
    let bundle = get("bundle")
        .map(|b| bundle_sha(&b, archives))
        .transpose()?;
    let before = get("before")
        .map(|b| {
            // Entry numbers fit in an i64, as the databases store them.
            b.parse::<i64>()
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| {
                    AppError::Invalid(format!("before must be an entry number, not {b:?}"))
                })
        })
        .transpose()?;
    // A bad date names its parameter as well as its value.
    let when = |key: &str, end_of_day: bool| {
        get(key)
            .map(|v| {
                instant(&v, end_of_day).map_err(|e| match e {
                    AppError::Invalid(m) => AppError::Invalid(format!("{key}: {m}")),
                    other => other,
                })
            })
            .transpose()
    };
    Ok(ArchivedQuery {
        user: get("user"),
        activity,
        from: when("from", false)?,
        to: when("to", true)?,
        bundle,
        before,
    })
}

/// The SHA-256 of the bundle `given`: a SHA-256 itself (the bundle need not be recorded:
/// its entries still name it), or the name of exactly one recorded bundle. Names are made
/// from the range, so a range archived again gives a second bundle of the same name.
fn bundle_sha(given: &str, archives: &[ArchiveRecord]) -> Result<String, AppError> {
    let lower = given.to_ascii_lowercase();
    if lower.len() == 64 && lower.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Ok(lower);
    }
    let named: Vec<&ArchiveRecord> = archives.iter().filter(|a| a.name == given).collect();
    match named.as_slice() {
        [one] => Ok(one.sha256.clone()),
        [] => Err(AppError::Invalid(format!(
            "there is no archive bundle named {given:?} (the Log settings page lists them)"
        ))),
        many => Err(AppError::Invalid(format!(
            "{} bundles are named {given:?} (the same range archived again); give the SHA-256 of one: {}",
            many.len(),
            many.iter()
                .map(|a| a.sha256.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A pruned entry's status in words: where its payload went.
pub(crate) fn pruned_status(p: &PrunedEntry, archives: &[ArchiveRecord]) -> String {
    if p.redacted {
        return "Redacted on request: its payload was removed; its leaf hash is kept.".into();
    }
    let Some(sha) = &p.bundle else {
        return "Pruned: its payload was removed; its leaf hash is kept.".into();
    };
    let name = bundle_name(archives, sha).unwrap_or("(not recorded)");
    format!("Archived in bundle {name} (SHA-256 {sha}); pruned from the database.")
}

fn bundle_name<'a>(archives: &'a [ArchiveRecord], sha: &str) -> Option<&'a str> {
    archives
        .iter()
        .find(|a| a.sha256 == sha)
        .map(|a| a.name.as_str())
}

/// A pruned entry as the API shows it: `pruned: true`, the kept fields, and its bundle.
pub(crate) fn pruned_json(p: &PrunedEntry, archives: &[ArchiveRecord]) -> Value {
    let bundle = p.bundle.as_ref().and_then(|sha| {
        archives.iter().find(|a| a.sha256 == *sha).map(
            |a| json!({ "name": a.name, "sha256": a.sha256, "first": a.first, "last": a.last }),
        )
    });
    json!({
        "seq": p.seq,
        "pruned": true,
        "redacted": p.redacted,
        "timestamp": p.timestamp.map(|t| t.to_rfc3339()),
        "user": p.user,
        "activity": p.activity,
        "leaf_hash": hex::encode(p.leaf),
        "archived_in": bundle,
        "status": pruned_status(p, archives),
    })
}

/// `GET /api/access-log/archived?user=…&activity=…&from=…&to=…&bundle=…&before=…&limit=…`.
pub async fn list_api(
    State(state): State<AppState>,
    audit: Audit,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let archives = state.store.archives().await?;
    let q = archived_query(&params, &archives)?;
    let limit = limit(&params, "limit", 100)?;
    let found = state.store.archived_entries(&q, limit).await?;
    let mut out = Map::new();
    if found.len() as u32 == limit
        && let Some(last) = found.last()
    {
        out.insert("next_before".into(), json!(last.seq));
    }
    out.insert(
        "data".into(),
        found.iter().map(|p| pruned_json(p, &archives)).collect(),
    );
    release_log_read(
        &state,
        &audit,
        &params,
        found.iter().map(|p| p.seq),
        Payload::json(&Value::Object(out)),
    )
    .await
}

struct Row {
    seq: u64,
    time: String,
    user: String,
    activity: String,
    status: &'static str,
    bundle: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "access_log_archived.html")]
struct ArchivedPage {
    layout: Layout,
    values: BTreeMap<String, String>,
    activities: Vec<Selectable>,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
}

/// `/app/access-log/archived` with `params` (the filters only) and `extra`.
fn page_url(params: &BTreeMap<String, String>, extra: Option<(&str, &str)>) -> String {
    let p = params
        .iter()
        .filter(|(k, v)| FILTERS.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()));
    crate::percent::with_query("/app/access-log/archived", p.chain(extra))
}

/// The archived entries with those of `params`' filters that they keep.
pub(crate) fn url_for(params: &BTreeMap<String, String>) -> String {
    page_url(params, None)
}

fn row(p: &PrunedEntry, archives: &[ArchiveRecord]) -> Row {
    let kept = |v: &Option<String>| v.clone().unwrap_or_else(|| NOT_KEPT.to_owned());
    Row {
        seq: p.seq,
        time: p
            .timestamp
            .map_or_else(|| NOT_KEPT.to_owned(), super::shown_time),
        user: kept(&p.user),
        activity: kept(&p.activity),
        status: match (p.redacted, &p.bundle) {
            (true, _) => "redacted",
            (false, Some(_)) => "archived",
            (false, None) => "pruned",
        },
        // Linked by SHA-256: a name may be shared by two bundles of the same range.
        bundle: p.bundle.as_ref().map(|sha| {
            let name = bundle_name(archives, sha).unwrap_or(sha).to_owned();
            let url = page_url(&BTreeMap::new(), Some(("bundle", sha.as_str())));
            (name, url)
        }),
    }
}

/// `GET /app/access-log/archived`.
pub async fn list(
    State(state): State<AppState>,
    _page: PageUser,
    audit: Audit,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let values = super::filter_values(&FILTERS, &params);
    let mut page = ArchivedPage {
        layout: Layout::new(&state.settings.name, Some(&audit.who)),
        activities: Activity::ALL
            .map(|a| Selectable::of(a.as_str(), values.get("activity")))
            .to_vec(),
        values,
        rows: Vec::new(),
        next: None,
        error: None,
    };
    let archives = state.store.archives().await?;
    let found = match archived_query(&params, &archives) {
        Ok(q) => state.store.archived_entries(&q, PAGE).await?,
        Err(AppError::Invalid(m)) => {
            page.error = Some(m);
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    if found.len() as u32 == PAGE
        && let Some(last) = found.last()
    {
        page.next = Some(page_url(
            &page.values,
            Some(("before", &last.seq.to_string())),
        ));
    }
    page.rows = found.iter().map(|p| row(p, &archives)).collect();
    let html = render(&page)?.0;
    release_log_read(
        &state,
        &audit,
        &params,
        found.iter().map(|p| p.seq),
        Payload::html(html),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(name: &str, sha: char) -> ArchiveRecord {
        ArchiveRecord {
            sha256: sha.to_string().repeat(64),
            name: name.into(),
            first: 1,
            last: 10,
            tree_size: 10,
            bytes: 100,
            created_at: accesslog_core::Timestamp::from_micros(0),
        }
    }

    fn message(e: AppError) -> String {
        match e {
            AppError::Invalid(m) => m,
            other => panic!("{other:?}"),
        }
    }

    /// A bundle is given by its SHA-256 (recorded or not, in either case) or by the name of
    /// exactly one recorded bundle; a shared name asks for the SHA-256.
    #[test]
    fn a_bundle_is_named_by_its_sha256_or_its_one_name() {
        let archives = [
            bundle("a.jsonl.zst", 'a'),
            bundle("b.jsonl.zst", 'b'),
            bundle("b.jsonl.zst", 'c'),
        ];
        assert_eq!(
            bundle_sha("a.jsonl.zst", &archives).unwrap(),
            "a".repeat(64)
        );
        assert_eq!(
            bundle_sha(&"D".repeat(64), &archives).unwrap(),
            "d".repeat(64)
        );
        let shared = message(bundle_sha("b.jsonl.zst", &archives).unwrap_err());
        assert!(
            shared.starts_with("2 bundles are named \"b.jsonl.zst\"")
                && shared.contains(&"b".repeat(64))
                && shared.contains(&"c".repeat(64)),
            "{shared}"
        );
        let unknown = message(bundle_sha("z.jsonl.zst", &archives).unwrap_err());
        assert!(
            unknown.contains("no archive bundle named \"z.jsonl.zst\""),
            "{unknown}"
        );
        // 63 hex digits are a name, and there is none such.
        assert!(bundle_sha(&"a".repeat(63), &archives).is_err());
    }
}
