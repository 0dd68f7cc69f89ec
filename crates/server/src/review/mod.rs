//! Reviewing the Access Log: for System Managers (and API keys with the auditor scope)
//! only; everyone else gets 403, and the refused attempt is itself recorded. Nothing here
//! writes an entry except those records of refusals and of exports of the log itself.
//!
//! - [`api`]: `GET /api/access-log`, `GET /api/access-log/{seq}`, and ERPNext's
//!   `GET /api/resource/Access Log`;
//! - [`pages`]: `/app/access-log` (list, filters, counts) and `/app/access-log/{seq}`;
//! - [`archived`]: the entries whose payload was pruned or redacted (issue 19), listed by
//!   what was kept of them, on a page and over the API;
//! - [`export`]: the log itself as CSV or JSON Lines, recorded as `log_export`;
//! - [`alerts`] and [`alerts_api`]: the alert inbox (issue 17), its pages and its API.

pub mod alerts;
pub mod alerts_api;
pub mod api;
pub mod archived;
pub mod dashboard;
pub mod export;
pub mod pages;
pub mod settings;
pub mod upstream;

pub use accesslog_app::log_query::{entry_json, entry_query};
use accesslog_core::entry::{Activity, Event};

use crate::audit::Audit;
use crate::error::WebError;
use crate::state::AppState;

/// A time as the review's tables show it: `2026-11-29 10:00:00` (UTC, to the second).
pub(crate) fn shown_time(t: accesslog_core::Timestamp) -> String {
    t.to_rfc3339().replace('T', " ").chars().take(19).collect()
}

/// The value of each of a page's `filters` in `params` (empty when absent), for its form.
pub(crate) fn filter_values(
    filters: &[&str],
    params: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    filters
        .iter()
        .map(|k| ((*k).to_owned(), params.get(*k).cloned().unwrap_or_default()))
        .collect()
}

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
