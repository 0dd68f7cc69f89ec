//! Backups: made by `accesslog backup` into the site's `backups/` folder, listed for System
//! Managers, and downloaded only through the Access Log (`activity = backup_download`).

use std::path::{Path as FsPath, PathBuf};

use accesslog_core::entry::Event;
use accesslog_core::{SYSTEM_MANAGER, Timestamp};
use accesslog_store::Store;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;

use crate::audit::{Audit, AuditedResponse, Payload};
use crate::auth::PageUser;
use crate::error::WebError;
use crate::pages::{Layout, render};
use crate::state::AppState;

pub fn backups_dir(site_dir: &FsPath) -> PathBuf {
    site_dir.join("backups")
}

/// Writes a consistent copy of the database to `backups/backup-YYYYMMDD-HHMMSS.sqlite3`.
pub async fn make_backup(
    store: &dyn Store,
    site_dir: &FsPath,
    now: Timestamp,
) -> anyhow::Result<PathBuf> {
    let dir = backups_dir(site_dir);
    std::fs::create_dir_all(&dir)?;
    let stamp: String = now
        .to_rfc3339()
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    let path = dir.join(format!(
        "backup-{}-{}.sqlite3",
        &stamp[..8.min(stamp.len())],
        &stamp[8.min(stamp.len())..]
    ));
    store.backup_to(&path).await?;
    Ok(path)
}

/// A backup on disk: its file name and size in bytes.
pub struct BackupFile {
    pub name: String,
    pub size: u64,
}

/// The backups on disk, newest first.
pub fn list_backups(site_dir: &FsPath) -> Vec<BackupFile> {
    let mut out: Vec<BackupFile> = std::fs::read_dir(backups_dir(site_dir))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let meta = e.metadata().ok()?;
                    (meta.is_file() && name.starts_with("backup-") && !name.starts_with('.'))
                        .then_some(BackupFile {
                            name,
                            size: meta.len(),
                        })
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| b.name.cmp(&a.name));
    out
}

#[derive(Template)]
#[template(path = "backups.html")]
struct BackupsPage {
    layout: Layout,
    backups: Vec<BackupFile>,
}

fn only_system_managers(who: &crate::auth::Authenticated) -> Result<(), WebError> {
    if who.user.has_role(SYSTEM_MANAGER) {
        Ok(())
    } else {
        Err(WebError::Forbidden(
            "Only System Managers may see or download backups.".to_owned(),
        ))
    }
}

/// `GET /app/backups`.
pub async fn page(State(state): State<AppState>, who: PageUser) -> Result<Html<String>, WebError> {
    only_system_managers(&who.0)?;
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
    if let Err(e) = only_system_managers(&audit.who) {
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
