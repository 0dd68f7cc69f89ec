//! Backups: made by `accesslog backup` into the site's `backups/` folder and listed for
//! the server, which lets System Managers download them only through the Access Log.

use std::path::{Path, PathBuf};

use accesslog_core::Timestamp;
use accesslog_store::Store;

use crate::{AppError, AppResult};

pub fn backups_dir(site_dir: &Path) -> PathBuf {
    site_dir.join("backups")
}

/// Writes a consistent copy of the database to `backups/backup-YYYYMMDD-HHMMSS.sqlite3`.
pub async fn make_backup(store: &dyn Store, site_dir: &Path, now: Timestamp) -> AppResult<PathBuf> {
    let dir = backups_dir(site_dir);
    std::fs::create_dir_all(&dir).map_err(AppError::io(format!("creating {}", dir.display())))?;
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
pub fn list_backups(site_dir: &Path) -> Vec<BackupFile> {
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
