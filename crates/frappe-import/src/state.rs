//! The import's files in the site folder, `import-frappe/<site>.cursor` and
//! `<site>.lock`: where the last run got to in ERPNext's log (a hint that saves reading
//! it again; the log decides what is recorded), and a lock so that two imports from one
//! upstream into one site never run at once.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ImportError;

/// The folder under the site that holds the import's files.
pub const DIR: &str = "import-frappe";

/// What the cursor file holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub source: String,
    /// The newest `creation` read and recorded (or found recorded), as Frappe writes it.
    pub creation: String,
    /// The source's last entry in the log when this was written, to tell this log from
    /// another (a restored backup, a different database): its seq and ERPNext name.
    pub last_seq: u64,
    pub last_name: Option<String>,
}

/// `import-frappe/<site>.<ext>` under `site_dir`, the site being the source without
/// `frappe:` and with anything but letters, digits, `.` and `-` as `_`.
pub fn path(site_dir: &Path, source: &str, ext: &str) -> PathBuf {
    let site: String = source
        .strip_prefix("frappe:")
        .unwrap_or(source)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    site_dir.join(DIR).join(format!("{site}.{ext}"))
}

/// The cursor file, if there is one; a file that cannot be read as one is an error that
/// says to remove it.
pub fn load(path: &Path) -> Result<Option<Cursor>, ImportError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ImportError::State(format!(
                "could not read {}: {e}",
                path.display()
            )));
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        ImportError::State(format!(
            "{} is not an import cursor ({e}); remove it and the import starts again from what the log holds",
            path.display()
        ))
    })
}

/// Writes the cursor durably: a temporary file, synced, renamed over the old one, and
/// the folder synced, so a crash leaves the old cursor or the new, never half of one.
pub fn save(path: &Path, cursor: &Cursor) -> Result<(), ImportError> {
    let fail =
        |e: std::io::Error| ImportError::State(format!("could not write {}: {e}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(fail)?;
    let tmp = path.with_extension("cursor.tmp");
    let mut text = serde_json::to_string_pretty(cursor)
        .map_err(|e| ImportError::State(format!("could not encode the cursor: {e}")))?;
    text.push('\n');
    let mut file = File::create(&tmp).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    fs::rename(&tmp, path).map_err(fail)?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
    Ok(())
}

/// Held while an import runs; the operating system lets go of it when the process ends,
/// however it ends.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock at `path`, or says that another import holds it.
    pub fn take(path: &Path, source: &str) -> Result<Lock, ImportError> {
        let fail = |e: std::io::Error| {
            ImportError::State(format!("could not open {}: {e}", path.display()))
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(fail)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(fail)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Lock { _file: file }),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(ImportError::State(format!(
                "another accesslog import-frappe is importing from {source} into this site ({} is locked); let it finish or stop it first",
                path.display()
            ))),
            Err(e) => Err(ImportError::State(format!(
                "could not lock {}: {e}",
                path.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_files_round_trip_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "frappe:127.0.0.1:8000", "cursor");
        assert!(
            p.ends_with("import-frappe/127.0.0.1_8000.cursor"),
            "{}",
            p.display()
        );
        assert_eq!(load(&p).unwrap(), None);
        let c = Cursor {
            source: "frappe:127.0.0.1:8000".into(),
            creation: "2026-03-29 01:30:00.123456".into(),
            last_seq: 7,
            last_name: Some("a1b2".into()),
        };
        save(&p, &c).unwrap();
        assert_eq!(load(&p).unwrap(), Some(c));
        fs::write(&p, "{").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("is not an import cursor") && e.contains("remove it"),
            "{e}"
        );
    }

    #[test]
    fn one_import_per_source_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "frappe:erp.example.com", "lock");
        let held = Lock::take(&p, "frappe:erp.example.com").unwrap();
        let e = Lock::take(&p, "frappe:erp.example.com")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("another accesslog import-frappe is importing from frappe:erp.example.com"),
            "{e}"
        );
        drop(held);
        Lock::take(&p, "frappe:erp.example.com").unwrap();
    }
}
