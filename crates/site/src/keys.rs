//! The log's signing key, kept in the site's `keys/` folder and never in the database, so
//! whoever can edit the database still cannot sign a checkpoint.
//!
//! `keys/log.key` holds the private key in the text form of Go's `note` package (readable
//! by the owner only); `keys/log.pub` holds the verifier key to hand to auditors.

use std::fs;
use std::path::{Path, PathBuf};

use accesslog_core::checkpoint::{LogSigner, NoteVerifier};

use crate::SiteError;

pub fn private_key_path(site_dir: &Path) -> PathBuf {
    site_dir.join("keys").join("log.key")
}

pub fn verifier_key_path(site_dir: &Path) -> PathBuf {
    site_dir.join("keys").join("log.pub")
}

/// Makes a new key pair named `origin`; refuses to replace an existing private key.
pub fn create_keys(site_dir: &Path, origin: &str) -> Result<LogSigner, SiteError> {
    let key_path = private_key_path(site_dir);
    if key_path.exists() {
        return Err(SiteError::Io(
            key_path,
            "a signing key already exists; it is never replaced automatically".into(),
        ));
    }
    let invalid = |e: accesslog_core::checkpoint::NoteError| SiteError::Invalid {
        origin: crate::Source::SiteToml(site_dir.join("site.toml"), "log.origin"),
        problem: e.to_string(),
    };
    let signer = LogSigner::generate(origin).map_err(invalid)?;
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| SiteError::Io(p, e.to_string())
    };
    let keys = site_dir.join("keys");
    fs::create_dir_all(&keys).map_err(io(&keys))?;
    write_private(&key_path, &format!("{}\n", signer.to_private_key_text()))
        .map_err(io(&key_path))?;
    let pub_path = verifier_key_path(site_dir);
    fs::write(&pub_path, format!("{}\n", signer.verifier_key())).map_err(io(&pub_path))?;
    Ok(signer)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    fs::write(path, text)
}

/// Loads the signing key; its name must be the configured origin.
pub fn load_signer(site_dir: &Path, origin: &str) -> Result<LogSigner, SiteError> {
    let path = private_key_path(site_dir);
    let text = fs::read_to_string(&path).map_err(|e| {
        SiteError::Io(path.clone(), format!("{e}; the log cannot sign checkpoints without its key (a new site gets one from `accesslog new-site`)"))
    })?;
    let signer = LogSigner::from_private_key_text(&text)
        .map_err(|e| SiteError::Parse(path.clone(), e.to_string()))?;
    if signer.name() != origin {
        return Err(SiteError::Parse(
            path,
            format!(
                "the key is named {:?} but site.toml's log.origin is {origin:?}; they must agree",
                signer.name()
            ),
        ));
    }
    Ok(signer)
}

/// Loads the verifier key (`keys/log.pub`), which is all `verify` needs.
pub fn load_verifier(site_dir: &Path) -> Result<NoteVerifier, SiteError> {
    let path = verifier_key_path(site_dir);
    let text = fs::read_to_string(&path).map_err(|e| SiteError::Io(path.clone(), e.to_string()))?;
    NoteVerifier::from_verifier_key(text.trim()).map_err(|e| SiteError::Parse(path, e.to_string()))
}
