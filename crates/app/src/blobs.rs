//! The site's file store: `files/ab/abcdef…`, each file under its SHA-256, so that no
//! name a client gives can reach the disk and traversal is impossible by construction.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{AppError, AppResult};

/// Where a file's bytes live: `files/ab/abcdef…` under the site.
pub fn blob_path(site_dir: &Path, sha: &str) -> PathBuf {
    site_dir.join("files").join(&sha[..2]).join(sha)
}

/// Writes bytes under their SHA-256 (atomically, synced); returns the digest.
pub async fn store_blob(site_dir: &Path, bytes: Vec<u8>) -> AppResult<String> {
    let sha = hex::encode(Sha256::digest(&bytes));
    let path = blob_path(site_dir, &sha);
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".tmp-{}", accesslog_core::secrets::random_hex(8)));
        std::fs::write(&tmp, &bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &path)
    })
    .await?
    .map_err(AppError::io("storing an upload"))?;
    Ok(sha)
}
