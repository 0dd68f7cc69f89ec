//! The rules' configuration: each rule's published default, and `[alerts.rules.<id>]`
//! applied over it. A key a rule does not take is refused with the rule named, so a typo
//! or a key set on the wrong rule does not pass silently.

use accesslog_site::{AlertSettings, RuleTuning};

use super::content::{R4_UNFILTERED, Sensitive, UnfilteredExport};
use super::window::{R1_BURST, R8_PROBING, WindowRule};

/// Every rule, in order.
pub const RULE_IDS: [&str; 10] = ["R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10"];

/// What each rule is called in the inbox and in notices.
pub fn title(rule: &str) -> &'static str {
    match rule {
        "R1" => "Burst of egress",
        "R2" => "Volume far above the user's baseline",
        "R3" => "Slow drip over a week",
        "R4" => "Unfiltered export",
        "R5" => "Sensitive content taken out",
        "R6" => "First touch of a rarely used type",
        "R7" => "Egress outside the user's hours",
        "R8" => "Probing: repeated refusals",
        "R9" => "New client",
        "R10" => "Egress by a leaving user",
        "W1" => "A witness refused a checkpoint: the log may have been altered",
        _ => "Alert",
    }
}

/// Rules that learn from history: they run in shadow mode (recorded, not delivered) for
/// their first days on a site.
pub fn is_statistical(rule: &str) -> bool {
    matches!(rule, "R2" | "R3" | "R6" | "R7" | "R9")
}

/// R2's thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume {
    pub min_rows: u64,
    pub min_bytes: u64,
    pub z: f64,
    pub z_high: f64,
}

/// R3's thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct Drip {
    pub min_rows: u64,
    /// Times the user's own 90-day P95 of 7-day totals.
    pub factor: f64,
}

/// The rules as a site runs them.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    pub enabled: [bool; 10],
    pub burst: WindowRule,
    pub volume: Volume,
    pub drip: Drip,
    pub unfiltered: UnfilteredExport,
    pub sensitive: Sensitive,
    /// R6: rare among peers when fewer than this share of them touched it in 90 days.
    pub peer_share: f64,
    /// R7: working hours [from, to) for users not learned yet, Monday to Friday.
    pub cold_start_hours: [u8; 2],
    pub probing: WindowRule,
    /// R10: how many days before a relieving date a user counts as leaving.
    pub leaving_days: u32,
    /// Minutes east of UTC: the site's days and hours.
    pub offset_minutes: i32,
    pub shadow_days: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            enabled: [true; 10],
            burst: R1_BURST,
            volume: Volume {
                min_rows: super::baseline::MIN_ROWS,
                min_bytes: super::baseline::MIN_BYTES,
                z: super::baseline::Z_FIRE,
                z_high: super::baseline::Z_HIGH,
            },
            drip: Drip {
                min_rows: 20_000,
                factor: 2.0,
            },
            unfiltered: R4_UNFILTERED,
            sensitive: {
                let published = AlertSettings::default();
                Sensitive {
                    doctypes: published.sensitive_doctypes.into_iter().collect(),
                    reports: published.sensitive_reports.into_iter().collect(),
                }
            },
            peer_share: 0.2,
            cold_start_hours: [7, 20],
            probing: R8_PROBING,
            leaving_days: 30,
            offset_minutes: 0,
            shadow_days: 7,
        }
    }
}

impl Rules {
    pub fn runs(&self, rule: &str) -> bool {
        RULE_IDS
            .iter()
            .position(|r| *r == rule)
            .is_some_and(|i| self.enabled[i])
    }

    /// The rules `[alerts]` asks for, or what is wrong with it.
    pub fn from_settings(s: &AlertSettings) -> Result<Self, String> {
        let mut rules = Rules {
            sensitive: Sensitive {
                doctypes: s.sensitive_doctypes.iter().cloned().collect(),
                reports: s.sensitive_reports.iter().cloned().collect(),
            },
            offset_minutes: s.offset_minutes()?,
            shadow_days: s.shadow_days,
            ..Rules::default()
        };
        for (id, t) in &s.rules {
            let i = RULE_IDS.iter().position(|r| r == id).ok_or_else(|| {
                format!("[alerts.rules.{id}]: there is no rule {id} (rules are R1 to R10)")
            })?;
            rules.tune(RULE_IDS[i], t)?;
            if let Some(on) = t.enabled {
                rules.enabled[i] = on;
            }
        }
        Ok(rules)
    }

    fn tune(&mut self, id: &'static str, t: &RuleTuning) -> Result<(), String> {
        let takes: &[&str] = match id {
            "R1" | "R8" => &["window_minutes", "events", "distinct"],
            "R2" => &["min_rows", "min_mb", "z", "z_high"],
            "R3" => &["min_rows", "factor"],
            "R4" => &["min_rows", "share_of_table"],
            "R6" => &["peer_share"],
            "R7" => &["cold_start_hours"],
            "R10" => &["leaving_days"],
            _ => &[],
        };
        let set = [
            ("window_minutes", t.window_minutes.is_some()),
            ("events", t.events.is_some()),
            ("distinct", t.distinct.is_some()),
            ("min_rows", t.min_rows.is_some()),
            ("min_mb", t.min_mb.is_some()),
            ("z", t.z.is_some()),
            ("z_high", t.z_high.is_some()),
            ("factor", t.factor.is_some()),
            ("share_of_table", t.share_of_table.is_some()),
            ("peer_share", t.peer_share.is_some()),
            ("cold_start_hours", t.cold_start_hours.is_some()),
            ("leaving_days", t.leaving_days.is_some()),
        ];
        if let Some((key, _)) = set.iter().find(|(k, on)| *on && !takes.contains(k)) {
            return Err(format!(
                "[alerts.rules.{id}]: {key} does not apply to {id} (it takes: {})",
                if takes.is_empty() {
                    "only enabled".to_owned()
                } else {
                    format!("enabled, {}", takes.join(", "))
                }
            ));
        }
        let positive = |key: &str, v: u32| {
            if v == 0 {
                Err(format!("[alerts.rules.{id}]: {key} must be at least 1"))
            } else {
                Ok(v as usize)
            }
        };
        let share = |key: &str, v: f64| {
            if v > 0.0 && v <= 1.0 {
                Ok(v)
            } else {
                Err(format!(
                    "[alerts.rules.{id}]: {key} must be above 0 and at most 1"
                ))
            }
        };
        match id {
            "R1" | "R8" => {
                let w = if id == "R1" {
                    &mut self.burst
                } else {
                    &mut self.probing
                };
                if let Some(v) = t.window_minutes {
                    w.window_minutes = positive("window_minutes", v)? as u32;
                }
                if let Some(v) = t.events {
                    w.events = positive("events", v)?;
                }
                if let Some(v) = t.distinct {
                    w.distinct = positive("distinct", v)?;
                }
            }
            "R2" => {
                self.volume.min_rows = t.min_rows.unwrap_or(self.volume.min_rows);
                if let Some(v) = t.min_mb {
                    self.volume.min_bytes = v.saturating_mul(1024 * 1024);
                }
                self.volume.z = t.z.unwrap_or(self.volume.z);
                self.volume.z_high = t.z_high.unwrap_or(self.volume.z_high);
                if !(self.volume.z > 0.0 && self.volume.z_high >= self.volume.z) {
                    return Err(
                        "[alerts.rules.R2]: z must be above 0 and z_high at least z".to_owned()
                    );
                }
            }
            "R3" => {
                self.drip.min_rows = t.min_rows.unwrap_or(self.drip.min_rows);
                if let Some(v) = t.factor {
                    if v.is_nan() || v < 1.0 {
                        return Err("[alerts.rules.R3]: factor must be at least 1".to_owned());
                    }
                    self.drip.factor = v;
                }
            }
            "R4" => {
                self.unfiltered.min_rows = t.min_rows.unwrap_or(self.unfiltered.min_rows);
                if let Some(v) = t.share_of_table {
                    self.unfiltered.share_of_table = share("share_of_table", v)?;
                }
            }
            "R6" => {
                if let Some(v) = t.peer_share {
                    self.peer_share = share("peer_share", v)?;
                }
            }
            "R7" => {
                if let Some([from, to]) = t.cold_start_hours {
                    if from >= to || to > 24 {
                        return Err("[alerts.rules.R7]: cold_start_hours is [from, to) with 0 ≤ from < to ≤ 24".to_owned());
                    }
                    self.cold_start_hours = [from, to];
                }
            }
            "R10" => self.leaving_days = t.leaving_days.unwrap_or(self.leaving_days),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml_text: &str) -> AlertSettings {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_are_the_published_ones() {
        let r = Rules::from_settings(&AlertSettings::default()).unwrap();
        assert_eq!(
            (r.burst.events, r.burst.distinct, r.burst.window_minutes),
            (20, 15, 10)
        );
        assert_eq!(
            (
                r.probing.events,
                r.probing.distinct,
                r.probing.window_minutes
            ),
            (5, 3, 15)
        );
        assert_eq!(
            (r.volume.min_rows, r.volume.z, r.volume.z_high),
            (5_000, 3.5, 7.0)
        );
        assert_eq!((r.drip.min_rows, r.drip.factor), (20_000, 2.0));
        assert_eq!(r.unfiltered.min_rows, 1_000);
        assert!(r.sensitive.doctypes.contains("Employee"));
        assert!(RULE_IDS.iter().all(|id| r.runs(id)));
    }

    #[test]
    fn tuning_applies_and_wrong_keys_are_named() {
        let r = Rules::from_settings(&settings(
            "[rules.R1]\nevents = 40\n[rules.R7]\nenabled = false\n[rules.R2]\nmin_mb = 10\n",
        ))
        .unwrap();
        assert_eq!(r.burst.events, 40);
        assert!(!r.runs("R7") && r.runs("R1"));
        assert_eq!(r.volume.min_bytes, 10 * 1024 * 1024);
        let e = Rules::from_settings(&settings("[rules.R5]\nevents = 3\n")).unwrap_err();
        assert!(e.contains("events does not apply to R5"), "{e}");
        let e = Rules::from_settings(&settings("[rules.R11]\nenabled = true\n")).unwrap_err();
        assert!(e.contains("there is no rule R11"), "{e}");
        let e = Rules::from_settings(&settings("[rules.R8]\nevents = 0\n")).unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
        let e = Rules::from_settings(&settings("[rules.R4]\nshare_of_table = 1.5\n")).unwrap_err();
        assert!(e.contains("at most 1"), "{e}");
    }
}
