//! An alert's life, as the inbox will keep it: open → acknowledged → resolved (true
//! positive, benign, false positive) or dismissed with a reason.
//!
//! - One open alert per (rule, user, window): a rule that fires again for the same key
//!   adds its entries and arithmetic to the open alert instead of raising a second one.
//! - Severity only rises.
//! - Every change is kept, with who and when.
//!
//! Kept in memory here, so the rules can be held to it by property tests; the store that
//! keeps alerts across restarts is still to come.

use std::collections::{BTreeSet, HashMap};

use accesslog_core::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    TruePositive,
    Benign,
    FalsePositive,
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
}

/// What makes two hits one alert: the rule, the user, and the window (its start, in µs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub rule: &'static str,
    pub user: String,
    pub window: i64,
}

/// One change of an alert, by whom (`system` for the rules) and when.
#[derive(Clone, Debug, PartialEq)]
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
    /// The entries that raised it.
    pub seqs: BTreeSet<u64>,
    /// Each firing's arithmetic, in words.
    pub arithmetic: Vec<String>,
    pub history: Vec<Change>,
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

/// The alerts, and which is open for each key.
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

    /// A rule fired: raises an alert, or adds to the open one of the same key (its
    /// severity rising to `severity` if that is higher). Returns the alert's id.
    pub fn raise(
        &mut self,
        key: Key,
        severity: Severity,
        seqs: &[u64],
        arithmetic: &str,
        at: Timestamp,
    ) -> u64 {
        let change = |what: String| Change {
            at,
            by: "system".to_owned(),
            what,
        };
        if let Some(&i) = self.open.get(&key) {
            let alert = &mut self.alerts[i];
            alert.seqs.extend(seqs);
            alert.arithmetic.push(arithmetic.to_owned());
            if severity > alert.severity {
                alert.history.push(change(format!(
                    "severity {:?} → {severity:?}",
                    alert.severity
                )));
                alert.severity = severity;
            } else {
                alert.history.push(change("fired again".to_owned()));
            }
            return alert.id;
        }
        let id = self.alerts.len() as u64 + 1;
        self.alerts.push(Alert {
            id,
            key: key.clone(),
            severity,
            state: State::Open,
            seqs: seqs.iter().copied().collect(),
            arithmetic: vec![arithmetic.to_owned()],
            history: vec![change(format!("raised, {severity:?}"))],
        });
        self.open.insert(key, self.alerts.len() - 1);
        id
    }

    pub fn acknowledge(&mut self, id: u64, by: &str, at: Timestamp) -> Result<(), LifecycleError> {
        let alert = self.open_alert(id, "acknowledged")?;
        if alert.state == State::Acknowledged {
            return Ok(());
        }
        alert.state = State::Acknowledged;
        alert.history.push(Change {
            at,
            by: by.to_owned(),
            what: "acknowledged".to_owned(),
        });
        Ok(())
    }

    pub fn resolve(
        &mut self,
        id: u64,
        resolution: Resolution,
        by: &str,
        at: Timestamp,
    ) -> Result<(), LifecycleError> {
        self.close(id, State::Resolved(resolution), by, at, "resolved")
    }

    pub fn dismiss(
        &mut self,
        id: u64,
        reason: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<(), LifecycleError> {
        if reason.trim().is_empty() {
            return Err(LifecycleError::NoReason);
        }
        let state = State::Dismissed {
            reason: reason.trim().to_owned(),
        };
        self.close(id, state, by, at, "dismissed")
    }

    fn close(
        &mut self,
        id: u64,
        state: State,
        by: &str,
        at: Timestamp,
        wanted: &'static str,
    ) -> Result<(), LifecycleError> {
        let alert = self.open_alert(id, wanted)?;
        alert.history.push(Change {
            at,
            by: by.to_owned(),
            what: format!("{state:?}"),
        });
        alert.state = state;
        let key = alert.key.clone();
        self.open.remove(&key);
        Ok(())
    }

    fn open_alert(&mut self, id: u64, wanted: &'static str) -> Result<&mut Alert, LifecycleError> {
        let i = id
            .checked_sub(1)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < self.alerts.len())
            .ok_or(LifecycleError::NoSuchAlert(id))?;
        let alert = &mut self.alerts[i];
        if !alert.state.is_open() {
            let state = match alert.state {
                State::Resolved(_) => "resolved",
                _ => "dismissed",
            };
            return Err(LifecycleError::Closed { id, state, wanted });
        }
        Ok(alert)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(rule: &'static str, user: &str, window: i64) -> Key {
        Key {
            rule,
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
                        prop_assert!(open_keys.insert((a.key.rule, a.key.user.clone(), a.key.window)), "two open alerts for {:?}", a.key);
                    }
                }
            }
        }
    }
}
