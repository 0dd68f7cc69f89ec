//! A witness's directory:
//!
//! - `witness.toml`: its name and the logs it follows (origin and verifier keys);
//! - `witness.key`: its private key (`PRIVATE+KEY+…`, type 0x04), readable by its owner
//!   only;
//! - `latest/<SHA-256 of the origin>.json`: per log, the latest checkpoint it cosigned,
//!   replaced atomically (a temporary file, fsync, rename, fsync of the folder) before
//!   the witness answers;
//! - `refused.log`: one JSON line per refused checkpoint that bore a valid log signature
//!   (the time, the status, why, and the request as received), fsynced.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use accesslog_core::checkpoint::Checkpoint;
use accesslog_core::cosignature::Cosigner;
use accesslog_core::merkle::Hash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the witness configuration is invalid: {0}")]
    Config(String),
    #[error("the witness state is damaged: {0}")]
    Damaged(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `witness.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The witness's key name, e.g. `witness.example/w1`.
    pub name: String,
    #[serde(default)]
    pub logs: Vec<FollowedLog>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FollowedLog {
    pub origin: String,
    /// The log's verifier keys (`<name>+<id>+<key>`); any one of them signs.
    pub keys: Vec<String>,
}

/// The latest checkpoint cosigned for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub size: u64,
    pub root: Hash,
    /// The signed note with the log's signature and this witness's cosignature.
    pub note: String,
}

#[derive(Serialize, Deserialize)]
struct LatestFile {
    origin: String,
    size: u64,
    root: String,
    note: String,
}

/// The SHA-256 of an origin, lowercase hex: the monitoring path and the state file name.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

/// The folder a witness keeps everything in.
#[derive(Debug, Clone)]
pub struct WitnessDir {
    root: PathBuf,
}

impl WitnessDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    fn config_path(&self) -> PathBuf {
        self.root.join("witness.toml")
    }

    fn key_path(&self) -> PathBuf {
        self.root.join("witness.key")
    }

    fn latest_dir(&self) -> PathBuf {
        self.root.join("latest")
    }

    pub fn refused_path(&self) -> PathBuf {
        self.root.join("refused.log")
    }

    /// Creates a new witness: a fresh key named `name`, following `logs`. Refuses a
    /// folder that already holds a witness key.
    pub fn create(&self, name: &str, logs: Vec<FollowedLog>) -> Result<Cosigner, StateError> {
        let key_path = self.key_path();
        if key_path.exists() {
            return Err(StateError::Config(format!(
                "{} already holds a witness key; remove it first to start over",
                self.root.display()
            )));
        }
        fs::create_dir_all(self.latest_dir()).map_err(io(&self.root))?;
        let cosigner = Cosigner::generate(name).map_err(|e| StateError::Config(e.to_string()))?;
        let config = Config {
            name: name.to_owned(),
            logs,
        };
        self.save_config(&config)?;
        write_private(&key_path, cosigner.to_private_key_text().as_bytes())?;
        Ok(cosigner)
    }

    pub fn config(&self) -> Result<Config, StateError> {
        let path = self.config_path();
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| StateError::Config(format!("{}: {e}", path.display())))?;
        for log in &config.logs {
            accesslog_core::checkpoint::validate_name(&log.origin)
                .map_err(|e| StateError::Config(e.to_string()))?;
        }
        Ok(config)
    }

    pub fn save_config(&self, config: &Config) -> Result<(), StateError> {
        let text = toml::to_string_pretty(config)
            .map_err(|e| StateError::Config(format!("cannot write the configuration: {e}")))?;
        replace_durably(&self.config_path(), text.as_bytes())
    }

    pub fn cosigner(&self) -> Result<Cosigner, StateError> {
        let path = self.key_path();
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let cosigner = Cosigner::from_private_key_text(&text)
            .map_err(|e| StateError::Config(format!("{}: {e}", path.display())))?;
        let name = self.config()?.name;
        if cosigner.name() != name {
            return Err(StateError::Config(format!(
                "the key is named {:?} but witness.toml says {name:?}",
                cosigner.name()
            )));
        }
        Ok(cosigner)
    }

    /// Every log's latest cosigned checkpoint, checked against its own note.
    pub fn load_latest(&self) -> Result<HashMap<String, Latest>, StateError> {
        let dir = self.latest_dir();
        let mut out = HashMap::new();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io(&dir)(e)),
        };
        for entry in entries {
            let path = entry.map_err(io(&dir))?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(io(&path))?;
            let file: LatestFile = serde_json::from_str(&text)
                .map_err(|e| StateError::Damaged(format!("{}: {e}", path.display())))?;
            let root = BASE64
                .decode(&file.root)
                .ok()
                .and_then(|b| Hash::try_from(b.as_slice()).ok())
                .ok_or_else(|| {
                    StateError::Damaged(format!("{}: the root is not a hash", path.display()))
                })?;
            let body = file
                .note
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .to_owned()
                + "\n";
            let stated = Checkpoint::parse_body(&body)
                .map_err(|e| StateError::Damaged(format!("{}: {e}", path.display())))?;
            if stated.origin != file.origin || stated.size != file.size || stated.root != root {
                return Err(StateError::Damaged(format!(
                    "{}: the note does not match the size and root beside it",
                    path.display()
                )));
            }
            out.insert(
                file.origin,
                Latest {
                    size: file.size,
                    root,
                    note: file.note,
                },
            );
        }
        Ok(out)
    }

    /// Replaces a log's latest checkpoint, durably, before the witness answers.
    pub fn save_latest(&self, origin: &str, latest: &Latest) -> Result<(), StateError> {
        let file = LatestFile {
            origin: origin.to_owned(),
            size: latest.size,
            root: BASE64.encode(latest.root),
            note: latest.note.clone(),
        };
        let text = serde_json::to_vec_pretty(&file)
            .map_err(|e| StateError::Damaged(format!("cannot encode the state: {e}")))?;
        let dir = self.latest_dir();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        replace_durably(&dir.join(format!("{}.json", origin_hash(origin))), &text)
    }

    /// Appends a refusal to `refused.log` and fsyncs it.
    pub fn keep_refusal(&self, refusal: &Refusal, body: &str, at: u64) -> Result<(), StateError> {
        let path = self.refused_path();
        let line = serde_json::json!({
            "at": at,
            "status": refusal.status,
            "reason": refusal.message,
            "request": body,
        });
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        writeln!(file, "{line}").map_err(io(&path))?;
        file.sync_all().map_err(io(&path))
    }

    /// What `refused.log` holds, one JSON value per refusal.
    pub fn refusals(&self) -> Result<Vec<serde_json::Value>, StateError> {
        let path = self.refused_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path)(e)),
        };
        text.lines()
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| StateError::Damaged(format!("{}: {e}", path.display())))
            })
            .collect()
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new file, never half of
/// one: a temporary file beside it, fsync, rename, then fsync of the folder.
fn replace_durably(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(bytes).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// A new file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.write_all(b"\n").map_err(io(path))?;
    file.sync_all().map_err(io(path))
}
