//! An alert's life: open → acknowledged → resolved (true positive, benign, false
//! positive) or dismissed with a reason.
//!
//! - One open alert per (rule, user, window): a rule that fires again for the same key
//!   adds its entries and arithmetic to the open alert instead of raising a second one.
//! - Severity only rises.
//! - Every change is kept, with who and when.
//!
//! The transitions are methods of [`Alert`], which the store-backed inbox
//! ([`super::inbox`]) and the in-memory [`Inbox`] (held to the invariants by property
//! tests) both use. [`Alert::to_record`] and [`Alert::from_record`] map it to the
//! store's row: the key, severity and state as columns, the rest as JSON.

use std::collections::{BTreeSet, HashMap};

use accesslog_core::Timestamp;
use accesslog_store::alerts::AlertRecord;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Severity {
        Self::ALL[usize::try_from(rank.clamp(0, 3)).unwrap_or(0)]
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    TruePositive,
    Benign,
    FalsePositive,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::TruePositive => "true_positive",
            Resolution::Benign => "benign",
            Resolution::FalsePositive => "false_positive",
        }
    }

    pub fn parse(text: &str) -> Option<Resolution> {
        use Resolution::*;
        [TruePositive, Benign, FalsePositive]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Open,
    Acknowledged,
    Resolved(Resolution),
    Dismissed { reason: String },
}

impl State {
    pub fn is_open(&self) -> bool {
        matches!(self, State::Open | State::Acknowledged)
    }

    /// The state column's value.
    pub fn name(&self) -> &'static str {
        match self {
            State::Open => "open",
            State::Acknowledged => "acknowledged",
            State::Resolved(_) => "resolved",
            State::Dismissed { .. } => "dismissed",
        }
    }
}

/// What makes two hits one alert: the rule, the user, and the window (its start, in µs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub rule: String,
    pub user: String,
    pub window: i64,
}

/// One change of an alert, by whom (`system` for the rules) and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub at: Timestamp,
    pub by: String,
    pub what: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub id: u64,
    pub key: Key,
    pub severity: Severity,
    pub state: State,
    /// Raised while its rule was learning: kept, not delivered.
    pub shadow: bool,
    pub opened_at: Timestamp,
    pub updated_at: Timestamp,
    /// The entries that raised it.
    pub seqs: BTreeSet<u64>,
    /// Each firing's arithmetic, in words (distinct lines, the first [`MAX_ARITHMETIC`]).
    pub arithmetic: Vec<String>,
    pub history: Vec<Change>,
    /// How many times its rule fired for it.
    pub firings: u64,
    /// Entries that raised it beyond the first [`MAX_EVIDENCE`] kept in `seqs`.
    pub more_entries: u64,
    /// Firings whose arithmetic was not kept (a new line past the first
    /// [`MAX_ARITHMETIC`] distinct ones).
    pub more_arithmetic: u64,
    /// The store's version of the row it was read from (0: not stored).
    pub version: i64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("there is no alert {0}")]
    NoSuchAlert(u64),
    #[error("alert {id} is {state}: it cannot be {wanted}")]
    Closed {
        id: u64,
        state: &'static str,
        wanted: &'static str,
    },
    #[error("a dismissal needs a reason")]
    NoReason,
}

/// An alert lists at most this many entries (the first ones); the rest are counted. A
/// rule that fires on every entry of a long bulk job must not make its alert grow
/// without end, nor each of its updates rewrite an ever larger row.
pub const MAX_EVIDENCE: usize = 1_000;
/// An alert keeps at most this many distinct arithmetic lines; the rest are counted.
pub const MAX_ARITHMETIC: usize = 20;

/// The JSON part of a stored alert.
#[derive(Serialize, Deserialize)]
struct Body {
    seqs: BTreeSet<u64>,
    arithmetic: Vec<String>,
    history: Vec<Change>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolution: Option<Resolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default)]
    firings: u64,
    #[serde(default)]
    more_entries: u64,
    #[serde(default)]
    more_arithmetic: u64,
}

impl Alert {
    /// A new open alert (id 0 until stored).
    pub fn new(
        key: Key,
        severity: Severity,
        seqs: &[u64],
        arithmetic: &str,
        at: Timestamp,
    ) -> Self {
        Alert {
            id: 0,
            key,
            severity,
            state: State::Open,
            shadow: false,
            opened_at: at,
            updated_at: at,
            seqs: seqs.iter().copied().take(MAX_EVIDENCE).collect(),
            arithmetic: vec![arithmetic.to_owned()],
            history: vec![Change {
                at,
                by: "system".to_owned(),
                what: format!("raised, {}", severity.as_str()),
            }],
            firings: 1,
            more_entries: seqs.len().saturating_sub(MAX_EVIDENCE) as u64,
            more_arithmetic: 0,
            version: 0,
        }
    }

    /// The rule fired again for this open alert: its entries and arithmetic join it (up
    /// to [`MAX_EVIDENCE`] and [`MAX_ARITHMETIC`], the rest counted), and its severity
    /// rises to `severity` if that is higher (never falls; a rise is kept in the history,
    /// a firing only counted).
    pub fn join(&mut self, severity: Severity, seqs: &[u64], arithmetic: &str, at: Timestamp) {
        self.firings += 1;
        for s in seqs {
            if self.seqs.len() < MAX_EVIDENCE || self.seqs.contains(s) {
                self.seqs.insert(*s);
            } else {
                self.more_entries += 1;
            }
        }
        if !self.arithmetic.iter().any(|a| a == arithmetic) {
            if self.arithmetic.len() < MAX_ARITHMETIC {
                self.arithmetic.push(arithmetic.to_owned());
            } else {
                self.more_arithmetic += 1;
            }
        }
        if severity > self.severity {
            let what = format!(
                "severity {} → {}",
                self.severity.as_str(),
                severity.as_str()
            );
            self.record("system", at, what);
            self.severity = severity;
        }
        self.updated_at = at;
    }

    pub fn acknowledge(&mut self, by: &str, at: Timestamp) -> Result<(), LifecycleError> {
        self.must_be_open("acknowledged")?;
        if self.state == State::Acknowledged {
            return Ok(());
        }
        self.state = State::Acknowledged;
        self.record(by, at, "acknowledged".to_owned());
        Ok(())
    }

    pub fn resolve(
        &mut self,
        resolution: Resolution,
        by: &str,
        at: Timestamp,
    ) -> Result<(), LifecycleError> {
        self.must_be_open("resolved")?;
        self.state = State::Resolved(resolution);
        self.record(by, at, format!("resolved: {}", resolution.as_str()));
        Ok(())
    }

    pub fn dismiss(&mut self, reason: &str, by: &str, at: Timestamp) -> Result<(), LifecycleError> {
        self.must_be_open("dismissed")?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(LifecycleError::NoReason);
        }
        self.state = State::Dismissed {
            reason: reason.to_owned(),
        };
        self.record(by, at, format!("dismissed: {reason}"));
        Ok(())
    }

    /// Keeps `what` in the history, done by `by` at `at`.
    pub(crate) fn record(&mut self, by: &str, at: Timestamp, what: String) {
        self.history.push(Change {
            at,
            by: by.to_owned(),
            what,
        });
        self.updated_at = at;
    }

    fn must_be_open(&self, wanted: &'static str) -> Result<(), LifecycleError> {
        if self.state.is_open() {
            return Ok(());
        }
        Err(LifecycleError::Closed {
            id: self.id,
            state: self.state.name(),
            wanted,
        })
    }

    pub fn to_record(&self) -> AlertRecord {
        let (resolution, reason) = match &self.state {
            State::Resolved(r) => (Some(*r), None),
            State::Dismissed { reason } => (None, Some(reason.clone())),
            _ => (None, None),
        };
        let body = Body {
            seqs: self.seqs.clone(),
            arithmetic: self.arithmetic.clone(),
            history: self.history.clone(),
            resolution,
            reason,
            firings: self.firings,
            more_entries: self.more_entries,
            more_arithmetic: self.more_arithmetic,
        };
        AlertRecord {
            id: self.id,
            rule: self.key.rule.clone(),
            user: self.key.user.clone(),
            window_start: Timestamp::from_micros(self.key.window),
            severity: self.severity.rank(),
            state: self.state.name().to_owned(),
            shadow: self.shadow,
            opened_at: self.opened_at,
            updated_at: self.updated_at,
            version: self.version,
            body: serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned()),
        }
    }

    /// The alert a stored row holds; `None` when its JSON is not an alert's.
    pub fn from_record(r: &AlertRecord) -> Option<Alert> {
        let body: Body = serde_json::from_str(&r.body).ok()?;
        let state = match r.state.as_str() {
            "open" => State::Open,
            "acknowledged" => State::Acknowledged,
            "resolved" => State::Resolved(body.resolution?),
            "dismissed" => State::Dismissed {
                reason: body.reason.unwrap_or_default(),
            },
            _ => return None,
        };
        Some(Alert {
            id: r.id,
            key: Key {
                rule: r.rule.clone(),
                user: r.user.clone(),
                window: r.window_start.as_micros(),
            },
            severity: Severity::from_rank(r.severity),
            state,
            shadow: r.shadow,
            opened_at: r.opened_at,
            updated_at: r.updated_at,
            seqs: body.seqs,
            arithmetic: body.arithmetic,
            history: body.history,
            firings: body.firings.max(1),
            more_entries: body.more_entries,
            more_arithmetic: body.more_arithmetic,
            version: r.version,
        })
    }
}

/// Alerts in memory, and which is open for each key: the lifecycle's model, held to its
/// invariants by property tests.
#[derive(Debug, Default)]
pub struct Inbox {
    alerts: Vec<Alert>,
    open: HashMap<Key, usize>,
}

impl Inbox {
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    pub fn get(&self, id: u64) -> Option<&Alert> {
        id.checked_sub(1)
            .and_then(|i| self.alerts.get(usize::try_from(i).ok()?))
    }

    /// A rule fired: raises an alert, or adds to the open one of the same key. Returns
    /// the alert's id.
    pub fn raise(
        &mut self,
        key: Key,
        severity: Severity,
        seqs: &[u64],
        arithmetic: &str,
        at: Timestamp,
    ) -> u64 {
        if let Some(&i) = self.open.get(&key) {
            let alert = &mut self.alerts[i];
            alert.join(severity, seqs, arithmetic, at);
            return alert.id;
        }
        let mut alert = Alert::new(key.clone(), severity, seqs, arithmetic, at);
        alert.id = self.alerts.len() as u64 + 1;
        let id = alert.id;
        self.alerts.push(alert);
        self.open.insert(key, self.alerts.len() - 1);
        id
    }

    pub fn acknowledge(&mut self, id: u64, by: &str, at: Timestamp) -> Result<(), LifecycleError> {
        self.change(id, |a| a.acknowledge(by, at))
    }

    pub fn resolve(
        &mut self,
        id: u64,
        resolution: Resolution,
        by: &str,
        at: Timestamp,
    ) -> Result<(), LifecycleError> {
        self.change(id, |a| a.resolve(resolution, by, at))
    }

    pub fn dismiss(
        &mut self,
        id: u64,
        reason: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<(), LifecycleError> {
        self.change(id, |a| a.dismiss(reason, by, at))
    }

    fn change(
        &mut self,
        id: u64,
        f: impl FnOnce(&mut Alert) -> Result<(), LifecycleError>,
    ) -> Result<(), LifecycleError> {
        let i = id
            .checked_sub(1)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < self.alerts.len())
            .ok_or(LifecycleError::NoSuchAlert(id))?;
        let alert = &mut self.alerts[i];
        f(alert)?;
        if !alert.state.is_open() {
            let key = alert.key.clone();
            self.open.remove(&key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(rule: &str, user: &str, window: i64) -> Key {
        Key {
            rule: rule.to_owned(),
            user: user.to_owned(),
            window,
        }
    }

    const T: Timestamp = Timestamp::from_micros(0);

    #[test]
    fn a_second_firing_joins_the_open_alert_and_can_only_raise_it() {
        let mut inbox = Inbox::default();
        let a = inbox.raise(key("R1", "u", 0), Severity::High, &[1, 2], "20 events", T);
        let b = inbox.raise(key("R1", "u", 0), Severity::Low, &[3], "21 events", T);
        assert_eq!(a, b);
        let alert = inbox.get(a).unwrap();
        assert_eq!(alert.severity, Severity::High, "never lowered");
        assert_eq!(alert.seqs, [1, 2, 3].into());
        assert_eq!(alert.arithmetic.len(), 2);
        // Another window, rule or user is another alert.
        assert_ne!(
            inbox.raise(key("R1", "u", 1), Severity::Low, &[4], "x", T),
            a
        );
        assert_ne!(
            inbox.raise(key("R8", "u", 0), Severity::Low, &[4], "x", T),
            a
        );
        assert_ne!(
            inbox.raise(key("R1", "v", 0), Severity::Low, &[4], "x", T),
            a
        );
    }

    #[test]
    fn evidence_and_arithmetic_are_bounded_and_the_rest_counted() {
        let mut inbox = Inbox::default();
        let seqs: Vec<u64> = (1..=1_500).collect();
        let id = inbox.raise(key("R5", "u", 0), Severity::Low, &seqs[..10], "line 0", T);
        for (i, chunk) in seqs[10..].chunks(10).enumerate() {
            inbox.raise(
                key("R5", "u", 0),
                Severity::Low,
                chunk,
                &format!("line {}", i % 30),
                T,
            );
        }
        let a = inbox.get(id).unwrap();
        assert_eq!(a.seqs.len(), MAX_EVIDENCE);
        assert_eq!(a.seqs.first(), Some(&1), "the first entries are kept");
        assert_eq!(a.more_entries, 500);
        assert_eq!(a.arithmetic.len(), MAX_ARITHMETIC);
        assert_eq!(
            a.more_arithmetic, 49,
            "firings whose line was past the first 20"
        );
        assert_eq!(a.firings, 150);
        assert_eq!(a.history.len(), 1, "firing again is counted, not a change");
        // And it survives the store's round trip.
        let back = Alert::from_record(&a.to_record()).unwrap();
        assert_eq!(&back, a);
    }

    #[test]
    fn the_lifecycle_and_its_record() {
        let mut inbox = Inbox::default();
        let id = inbox.raise(key("R4", "u", 0), Severity::Medium, &[9], "1000 rows", T);
        inbox.acknowledge(id, "sm@x", T).unwrap();
        assert_eq!(
            inbox.dismiss(id, " ", "sm@x", T),
            Err(LifecycleError::NoReason)
        );
        inbox.resolve(id, Resolution::Benign, "sm@x", T).unwrap();
        assert_eq!(
            inbox.get(id).unwrap().state,
            State::Resolved(Resolution::Benign)
        );
        let e = inbox.acknowledge(id, "sm@x", T).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("alert {id} is resolved: it cannot be acknowledged")
        );
        let whos: Vec<&str> = inbox
            .get(id)
            .unwrap()
            .history
            .iter()
            .map(|c| c.by.as_str())
            .collect();
        assert_eq!(whos, ["system", "sm@x", "sm@x"]);
        // Once closed, the same key raises a new alert.
        let again = inbox.raise(key("R4", "u", 0), Severity::Low, &[10], "1000 rows", T);
        assert_ne!(again, id);
        assert_eq!(
            inbox.acknowledge(99, "sm@x", T),
            Err(LifecycleError::NoSuchAlert(99))
        );
    }

    #[derive(Clone, Debug)]
    enum Step {
        Raise {
            rule: u8,
            user: u8,
            window: u8,
            severity: u8,
        },
        Acknowledge(u64),
        Resolve(u64),
        Dismiss(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0u8..2, 0u8..3, 0u8..2, 0u8..4).prop_map(|(rule, user, window, severity)| Step::Raise { rule, user, window, severity }),
            1 => (1u64..12).prop_map(Step::Acknowledge),
            1 => (1u64..12).prop_map(Step::Resolve),
            1 => (1u64..12).prop_map(Step::Dismiss),
        ]
    }

    proptest! {
        #[test]
        fn severity_never_falls_and_one_alert_is_open_per_key(steps in proptest::collection::vec(step(), 1..80)) {
            let severities = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];
            let mut inbox = Inbox::default();
            let mut seen: HashMap<u64, Severity> = HashMap::new();
            for s in steps {
                match s {
                    Step::Raise { rule, user, window, severity } => {
                        let k = key(["R1", "R8"][rule as usize], &format!("u{user}"), i64::from(window));
                        inbox.raise(k, severities[severity as usize], &[1], "x", T);
                    }
                    Step::Acknowledge(id) => { let _ = inbox.acknowledge(id, "sm", T); }
                    Step::Resolve(id) => { let _ = inbox.resolve(id, Resolution::FalsePositive, "sm", T); }
                    Step::Dismiss(id) => { let _ = inbox.dismiss(id, "known job", "sm", T); }
                }
                let mut open_keys = BTreeSet::new();
                for a in inbox.alerts() {
                    if let Some(before) = seen.insert(a.id, a.severity) {
                        prop_assert!(a.severity >= before, "alert {} fell from {before:?} to {:?}", a.id, a.severity);
                    }
                    if a.state.is_open() {
                        prop_assert!(open_keys.insert((a.key.rule.clone(), a.key.user.clone(), a.key.window)), "two open alerts for {:?}", a.key);
                    }
                }
            }
        }
    }
}
