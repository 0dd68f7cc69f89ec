//! `[alerts]` in `site.toml`: whether the rules run, the site's time zone for working
//! hours, what is sensitive, each rule's tuning (`[alerts.rules.R1]` …) and delivery
//! (`[alerts.delivery]`, [`crate::alert_delivery`]). Every default is in the README's
//! "Alerts" section; the rules themselves check that a key applies to the rule it is set on.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::alert_delivery::DeliverySettings;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Whether the rules run at all.
    pub enabled: bool,
    /// How often the evaluator reads newly committed entries, in seconds.
    pub evaluate_every_seconds: u32,
    /// The site's offset from UTC, `+HH:MM` or `-HH:MM`, for working hours and days.
    pub utc_offset: String,
    /// Statistical rules only record (do not deliver) for this many days after the rules
    /// first ran on a site.
    pub shadow_days: u32,
    /// Document types whose egress rule R5 reports.
    pub sensitive_doctypes: Vec<String>,
    /// Reports whose egress rule R5 reports.
    pub sensitive_reports: Vec<String>,
    /// The address people open the site at (`https://records.example.com`), for links in
    /// notices; without it notices carry no link.
    pub public_url: Option<String>,
    /// Per rule: `[alerts.rules.R1] events = 30`, `enabled = false`, ….
    pub rules: BTreeMap<String, RuleTuning>,
    pub delivery: DeliverySettings,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            evaluate_every_seconds: 5,
            utc_offset: "+00:00".to_owned(),
            shadow_days: 7,
            sensitive_doctypes: vec!["Employee".to_owned()],
            sensitive_reports: vec!["Salary Register".to_owned()],
            public_url: None,
            rules: BTreeMap::new(),
            delivery: DeliverySettings::default(),
        }
    }
}

/// One rule's tuning; a key left out keeps the rule's published default. Which keys a
/// rule takes is the rule's to say (a key it does not take is refused when the rules are
/// built).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleTuning {
    pub enabled: Option<bool>,
    /// R1, R8: the window's length.
    pub window_minutes: Option<u32>,
    /// R1: egress events; R8: refusals.
    pub events: Option<u32>,
    /// R1: distinct documents; R8: distinct document types.
    pub distinct: Option<u32>,
    /// R2, R3, R4: the fewest rows that may fire.
    pub min_rows: Option<u64>,
    /// R2: the fewest bytes (in MB) that may fire.
    pub min_mb: Option<u64>,
    /// R2: the z-score that fires, and the one that makes it High.
    pub z: Option<f64>,
    pub z_high: Option<f64>,
    /// R3: the multiple of the user's own P95.
    pub factor: Option<f64>,
    /// R4: the share of a table (0–1) that counts as all of it.
    pub share_of_table: Option<f64>,
    /// R6: a document type is rare among peers when fewer than this share (0–1) touched it.
    pub peer_share: Option<f64>,
    /// R7: working hours for users the rules have not learned yet.
    pub cold_start_hours: Option<[u8; 2]>,
    /// R10: days before a relieving date from which a user counts as leaving.
    pub leaving_days: Option<u32>,
}

impl AlertSettings {
    /// The offset in minutes east of UTC, or what is wrong with it.
    pub fn offset_minutes(&self) -> Result<i32, String> {
        parse_offset(&self.utc_offset)
    }
}

fn parse_offset(text: &str) -> Result<i32, String> {
    let bad = || format!("utc_offset {text:?} is not +HH:MM or -HH:MM");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_a_tuned_rule() {
        let s: AlertSettings = toml::from_str(
            "utc_offset = \"+05:30\"\n[rules.R1]\nevents = 30\n[rules.R7]\nenabled = false\n",
        )
        .unwrap();
        assert_eq!(s.offset_minutes(), Ok(330));
        assert_eq!(s.rules["R1"].events, Some(30));
        assert_eq!(s.rules["R7"].enabled, Some(false));
        assert!(s.enabled && s.shadow_days == 7);
        let unknown = toml::from_str::<AlertSettings>("[rules.R1]\nevnts = 3\n").unwrap_err();
        assert!(unknown.to_string().contains("evnts"), "{unknown}");
    }

    #[test]
    fn offsets_are_checked() {
        assert_eq!(parse_offset("-08:00"), Ok(-480));
        assert_eq!(parse_offset("+00:00"), Ok(0));
        for bad in ["0", "+8", "+25:00", "+01:60", "UTC"] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }
}
