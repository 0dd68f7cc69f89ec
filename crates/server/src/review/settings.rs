//! `GET /app/access-log/settings`: the "Log settings" page for System Managers, read-only:
//! retention by activity, what a pruned entry keeps, where bundles go, the read settings,
//! legal holds and the bundles written. Settings, not record data: not an Access Log entry.

use accesslog_core::entry::Activity;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

use crate::auth::PageUser;
use crate::error::WebError;
use crate::pages::{Layout, render};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "access_log_settings.html")]
struct SettingsPage {
    layout: Layout,
    retention: Vec<RetentionRow>,
    keep_fields: &'static str,
    archive_dir: String,
    bundle_max_entries: u64,
    pruned: u64,
    redacted: u64,
    reads: &'static str,
    holds: Vec<HoldRow>,
    bundles: Vec<BundleRow>,
}

struct RetentionRow {
    activity: &'static str,
    days: String,
}

struct HoldRow {
    id: u64,
    scope: String,
    reason: String,
    owner: String,
    state: String,
}

struct BundleRow {
    name: String,
    range: String,
    tree_size: u64,
    bytes: u64,
    sha256: String,
    created: String,
}

pub async fn show(State(state): State<AppState>, who: PageUser) -> Result<Html<String>, WebError> {
    who.0.only_system_managers("see the log settings")?;
    let log = &state.settings.log;
    let policy = &log.retention;
    let now = state.clock.now();
    let stats = state.store.pruned_stats().await?;
    let holds = state
        .store
        .holds()
        .await?
        .into_iter()
        .map(|h| HoldRow {
            id: h.id,
            scope: h.scope.describe(),
            state: match (h.lifted_at, h.expires_at) {
                (Some(t), _) => format!(
                    "lifted {} by {}",
                    t.to_rfc3339(),
                    h.lifted_by.as_deref().unwrap_or("?")
                ),
                (None, Some(t)) if t <= now => format!("expired {}", t.to_rfc3339()),
                (None, Some(t)) => format!("active until {}", t.to_rfc3339()),
                (None, None) => "active".to_owned(),
            },
            reason: h.reason,
            owner: h.owner,
        })
        .collect();
    let bundles = state
        .store
        .archives()
        .await?
        .into_iter()
        .map(|a| BundleRow {
            range: format!("{}–{}", a.first, a.last),
            name: a.name,
            tree_size: a.tree_size,
            bytes: a.bytes,
            sha256: a.sha256,
            created: a.created_at.to_rfc3339(),
        })
        .collect();
    render(&SettingsPage {
        layout: Layout::new(&state.settings.name, Some(&who.0)),
        retention: Activity::ALL
            .iter()
            .map(|a| RetentionRow {
                activity: a.as_str(),
                days: policy
                    .days_for(*a)
                    .map_or_else(|| "forever".to_owned(), |d| d.to_string()),
            })
            .collect(),
        keep_fields: if policy.keep_fields {
            "its seq, leaf hash, time, user and activity"
        } else {
            "only its seq and leaf hash"
        },
        archive_dir: policy
            .archive_dir_in(&state.settings.site_dir)
            .display()
            .to_string(),
        bundle_max_entries: policy.bundle_max_entries,
        pruned: stats.pruned,
        redacted: stats.redacted,
        reads: log.reads.as_str(),
        holds,
        bundles,
    })
}
