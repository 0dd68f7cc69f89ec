//! Backups (made by `accesslog backup`, `accesslog_app::backups`): listed for System
//! Managers, and downloaded only through the Access Log (`activity = backup_download`).

use accesslog_app::backups::{BackupFile, backups_dir, list_backups};
use accesslog_core::entry::Event;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;

use crate::audit::{Audit, AuditedResponse, Payload};
use crate::auth::PageUser;
use crate::error::WebError;
use crate::pages::{Layout, render};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "backups.html")]
struct BackupsPage {
    layout: Layout,
    backups: Vec<BackupFile>,
}

/// Backups are for System Managers only: what the refusal says they may do.
const ONLY_FOR: &str = "see or download backups";

/// `GET /app/backups`.
pub async fn page(State(state): State<AppState>, who: PageUser) -> Result<Html<String>, WebError> {
    who.0.only_system_managers(ONLY_FOR)?;
    render(&BackupsPage {
        layout: Layout::new(&state.settings.name, Some(&who.0)),
        backups: list_backups(&state.settings.site_dir),
    })
}

/// `GET /app/backups/{file}`: only a file the listing shows, only for System Managers,
/// recorded before it is sent.
pub async fn download(
    State(state): State<AppState>,
    audit: Audit,
    Path(file): Path<String>,
) -> Result<AuditedResponse, WebError> {
    let asked: String = file.chars().take(140).collect();
    let event = Event::backup_download(&audit.actor(), &asked);
    if let Err(e) = audit.who.only_system_managers(ONLY_FOR) {
        return Err(audit.deny(&state, event, e).await);
    }
    // Only names from the listing: nothing typed in a URL reaches the file system.
    let Some(BackupFile { name, .. }) = list_backups(&state.settings.site_dir)
        .into_iter()
        .find(|b| b.name == file)
    else {
        return Err(audit
            .deny(
                &state,
                event,
                WebError::NotFound(format!("There is no backup {file}.")),
            )
            .await);
    };
    let bytes = tokio::fs::read(backups_dir(&state.settings.site_dir).join(&name))
        .await
        .map_err(|e| WebError::Internal(anyhow::anyhow!("reading backup {name}: {e}")))?;
    audit
        .release(
            &state,
            event,
            Payload::new(bytes, "application/vnd.sqlite3").download_as(&name),
        )
        .await
}
