//! `[log.retention]` in `site.toml` (issue 19): how long entries are kept whole before
//! they are archived to a bundle and their payload pruned from the database.
//!
//! ```toml
//! [log.retention]
//! default = 2190        # days, for any activity without days of its own (none: forever)
//! read = 180            # days, per activity
//! export = 2190
//! keep_fields = true    # a pruned entry keeps its time, user and activity for the review
//! archive_dir = "archive"
//! ```
//!
//! Nothing is pruned unless days are set. The log's own upkeep (`log_prune`, `log_redact`,
//! `legal_hold`) is kept forever unless it is given days of its own: `default` does not
//! reach it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use accesslog_core::entry::Activity;
use serde::Deserialize;

/// The settings, checked.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RetentionFile")]
pub struct RetentionSettings {
    /// Days for activities without days of their own; `None`: kept forever.
    pub default_days: Option<u32>,
    /// Days per activity.
    pub days: BTreeMap<String, u32>,
    pub keep_fields: bool,
    /// Where bundles are written; relative to the site folder unless absolute.
    pub archive_dir: PathBuf,
    /// Entries per bundle, at most.
    pub bundle_max_entries: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            default_days: None,
            days: BTreeMap::new(),
            keep_fields: true,
            archive_dir: PathBuf::from("archive"),
            bundle_max_entries: 1_000_000,
        }
    }
}

/// The log's own upkeep, which `default` does not reach.
const UPKEEP: [Activity; 3] = [Activity::LogPrune, Activity::LogRedact, Activity::LegalHold];

impl RetentionSettings {
    /// How many days entries of `activity` are kept whole; `None`: forever.
    pub fn days_for(&self, activity: Activity) -> Option<u32> {
        match self.days.get(activity.as_str()) {
            Some(d) => Some(*d),
            None if UPKEEP.contains(&activity) => None,
            None => self.default_days,
        }
    }

    /// The shortest time any entry is kept, in days: nothing younger can be due.
    pub fn shortest_days(&self) -> Option<u32> {
        self.days.values().copied().chain(self.default_days).min()
    }

    /// Whether anything can ever be pruned.
    pub fn prunes_anything(&self) -> bool {
        self.shortest_days().is_some()
    }

    /// The bundle directory of the site in `site_dir`.
    pub fn archive_dir_in(&self, site_dir: &Path) -> PathBuf {
        site_dir.join(&self.archive_dir)
    }
}

/// `[log.retention]` as written: fixed keys, and any other key an activity's days.
#[derive(Deserialize)]
struct RetentionFile {
    default: Option<i64>,
    keep_fields: Option<bool>,
    archive_dir: Option<PathBuf>,
    bundle_max_entries: Option<i64>,
    #[serde(flatten)]
    days: BTreeMap<String, toml::Value>,
}

impl TryFrom<RetentionFile> for RetentionSettings {
    type Error = String;

    fn try_from(f: RetentionFile) -> Result<Self, String> {
        let days_of = |key: &str, v: i64| -> Result<u32, String> {
            u32::try_from(v).ok().filter(|d| *d > 0).ok_or_else(|| {
                format!("log.retention.{key} must be a number of days above 0, not {v}")
            })
        };
        let mut days = BTreeMap::new();
        for (key, value) in f.days {
            if key.parse::<Activity>().is_err() {
                let known: Vec<&str> = Activity::ALL.iter().map(|a| a.as_str()).collect();
                return Err(format!(
                    "log.retention has no setting {key:?}: use default, keep_fields, archive_dir, bundle_max_entries, or an activity ({})",
                    known.join(", ")
                ));
            }
            let n = value.as_integer().ok_or_else(|| {
                format!("log.retention.{key} must be a number of days, not {value}")
            })?;
            days.insert(key.clone(), days_of(&key, n)?);
        }
        let defaults = RetentionSettings::default();
        Ok(RetentionSettings {
            default_days: f.default.map(|d| days_of("default", d)).transpose()?,
            days,
            keep_fields: f.keep_fields.unwrap_or(defaults.keep_fields),
            archive_dir: f.archive_dir.unwrap_or(defaults.archive_dir),
            bundle_max_entries: match f.bundle_max_entries {
                None => defaults.bundle_max_entries,
                Some(n) if n >= 1 => n as u64,
                Some(n) => {
                    return Err(format!(
                        "log.retention.bundle_max_entries must be at least 1, not {n}"
                    ));
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RetentionSettings, String> {
        #[derive(Deserialize)]
        struct Wrap {
            retention: RetentionSettings,
        }
        toml::from_str::<Wrap>(text)
            .map(|w| w.retention)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn days_per_activity_and_a_default() {
        let r = parse("[retention]\ndefault = 2190\nread = 180\nkeep_fields = false\n").unwrap();
        assert_eq!(r.days_for(Activity::Read), Some(180));
        assert_eq!(r.days_for(Activity::Export), Some(2190));
        assert_eq!(r.days_for(Activity::LegalHold), None);
        assert_eq!(r.shortest_days(), Some(180));
        assert!(!r.keep_fields);
        assert_eq!(r.archive_dir, PathBuf::from("archive"));
    }

    #[test]
    fn nothing_is_pruned_by_default() {
        let r = RetentionSettings::default();
        assert!(!r.prunes_anything());
        assert_eq!(r.days_for(Activity::Read), None);
    }

    #[test]
    fn bad_settings_are_named() {
        let e = parse("[retention]\nreads = 180\n").unwrap_err();
        assert!(e.contains("\"reads\"") && e.contains("read,"), "{e}");
        let e = parse("[retention]\nread = 0\n").unwrap_err();
        assert!(e.contains("log.retention.read"), "{e}");
        let e = parse("[retention]\nread = \"x\"\n").unwrap_err();
        assert!(e.contains("number of days"), "{e}");
        let e = parse("[retention]\ndefault = -3\n").unwrap_err();
        assert!(e.contains("log.retention.default"), "{e}");
    }
}
