//! The rules that count within a sliding window of time, per user: R1 (burst) and R8
//! (probing). They read committed entries in `seq` order and judge by the entries' own
//! timestamps, so the same history always gives the same alerts (replay, tests) and no
//! wall clock is involved.
//!
//! - **R1 burst:** ≥ 20 egress events, or ≥ 15 distinct documents, by one user within 10
//!   minutes. Egress here is every granted entry except reads (`read`): twenty page views
//!   in ten minutes are ordinary work, twenty downloads are not. Reads are left to the
//!   volume rules.
//! - **R8 probing:** ≥ 5 refusals (`denied`) by one user within 15 minutes, or refusals on
//!   ≥ 3 document types within the same 15 minutes.
//!
//! A rule fires once when its window crosses the threshold, and again only after the
//! window has dropped below it: one alert per burst, not one per entry of it.

use std::collections::{BTreeSet, HashMap, VecDeque};

use accesslog_core::entry::{Activity, Entry, Outcome};

/// What a window rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counts {
    /// Granted egress other than reads, and their distinct documents (R1).
    Egress,
    /// Refusals, and their distinct document types (R8).
    Refusals,
}

/// A rule's thresholds, as `[alerts.rules.<id>]` would tune them.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowRule {
    pub id: &'static str,
    pub counts: Counts,
    pub window_minutes: u32,
    /// Entries in the window at which it fires.
    pub events: usize,
    /// Distinct documents (R1) or document types (R8) in the window at which it fires.
    pub distinct: usize,
}

pub const R1_BURST: WindowRule = WindowRule {
    id: "R1",
    counts: Counts::Egress,
    window_minutes: 10,
    events: 20,
    distinct: 15,
};

pub const R8_PROBING: WindowRule = WindowRule {
    id: "R8",
    counts: Counts::Refusals,
    window_minutes: 15,
    events: 5,
    distinct: 3,
};

/// A rule that fired: whose, over which entries, and why, in words.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub rule: &'static str,
    pub user: String,
    /// The entries in the window when it fired, oldest first.
    pub seqs: Vec<u64>,
    pub arithmetic: String,
}

#[derive(Default)]
struct UserWindow {
    /// (timestamp in µs, seq, what is counted as distinct)
    entries: VecDeque<(i64, u64, Option<String>)>,
    fired: bool,
}

/// One window rule, watching every user.
pub struct WindowDetector {
    rule: WindowRule,
    users: HashMap<String, UserWindow>,
}

impl WindowDetector {
    pub fn new(rule: WindowRule) -> Self {
        Self {
            rule,
            users: HashMap::new(),
        }
    }

    /// What this rule counts of an entry, if anything: for R1 the document of a granted
    /// egress, for R8 the document type of a refusal.
    fn counted(&self, e: &Entry) -> Option<Option<String>> {
        let ev = &e.event;
        match self.rule.counts {
            Counts::Refusals => (ev.outcome == Outcome::Denied).then(|| ev.export_from.clone()),
            Counts::Egress => (ev.outcome == Outcome::Granted && ev.activity != Activity::Read)
                .then(|| {
                    ev.reference_document
                        .as_ref()
                        .map(|d| format!("{}/{d}", ev.export_from.as_deref().unwrap_or("")))
                }),
        }
    }

    /// Takes the next committed entry; a [`Hit`] when this entry makes the rule fire.
    pub fn observe(&mut self, e: &Entry) -> Option<Hit> {
        let counted = self.counted(e)?;
        let span = i64::from(self.rule.window_minutes) * 60_000_000;
        let now = e.timestamp.as_micros();
        let w = self.users.entry(e.event.user.clone()).or_default();
        w.entries.push_back((now, e.seq, counted));
        while w.entries.front().is_some_and(|(t, _, _)| *t <= now - span) {
            w.entries.pop_front();
        }
        let distinct: BTreeSet<&str> = w
            .entries
            .iter()
            .filter_map(|(_, _, d)| d.as_deref())
            .collect();
        let over = w.entries.len() >= self.rule.events || distinct.len() >= self.rule.distinct;
        if !over {
            w.fired = false;
            return None;
        }
        if w.fired {
            return None;
        }
        w.fired = true;
        let (what, kinds) = match self.rule.counts {
            Counts::Refusals => ("refusals", "document types"),
            Counts::Egress => ("egress events", "distinct documents"),
        };
        Some(Hit {
            rule: self.rule.id,
            user: e.event.user.clone(),
            seqs: w.entries.iter().map(|(_, s, _)| *s).collect(),
            arithmetic: format!(
                "{} {what} and {} {kinds} in {} minutes (thresholds {} and {})",
                w.entries.len(),
                distinct.len(),
                self.rule.window_minutes,
                self.rule.events,
                self.rule.distinct
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use accesslog_core::Timestamp;
    use accesslog_core::entry::Event;

    use super::*;

    /// The tests' unit of time: a quarter of a minute.
    const QUARTER: i64 = 15_000_000;

    fn entry(
        seq: u64,
        quarter: i64,
        user: &str,
        activity: Activity,
        outcome: Outcome,
        doc: &str,
    ) -> Entry {
        let mut event = Event::new(user, activity, "GET /x");
        event.outcome = outcome;
        event.export_from = Some("Employee".into());
        event.reference_document = Some(doc.into());
        Entry {
            seq,
            timestamp: Timestamp::from_micros(1_700_000_000_000_000 + quarter * QUARTER),
            event,
        }
    }

    fn run(rule: WindowRule, entries: &[Entry]) -> Vec<Hit> {
        let mut d = WindowDetector::new(rule);
        entries.iter().filter_map(|e| d.observe(e)).collect()
    }

    #[test]
    fn twenty_downloads_in_ten_minutes_fire_once() {
        // One download every 15 s, of the same document: 20 within 5 minutes.
        let entries: Vec<Entry> = (0..40)
            .map(|i| {
                entry(
                    i + 1,
                    i as i64,
                    "a@x",
                    Activity::FileDownload,
                    Outcome::Granted,
                    "EMP-1",
                )
            })
            .collect();
        let hits = run(R1_BURST, &entries);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].seqs.len(), 20);
        assert_eq!(hits[0].seqs[19], 20, "fires on the 20th");
        assert!(
            hits[0].arithmetic.starts_with("20 egress events"),
            "{}",
            hits[0].arithmetic
        );
    }

    #[test]
    fn fifteen_distinct_documents_fire_before_twenty_events() {
        let entries: Vec<Entry> = (0..15)
            .map(|i| {
                entry(
                    i + 1,
                    i as i64,
                    "a@x",
                    Activity::Print,
                    Outcome::Granted,
                    &format!("EMP-{i}"),
                )
            })
            .collect();
        assert_eq!(run(R1_BURST, &entries).len(), 1);
    }

    #[test]
    fn reads_slow_work_and_other_users_do_not_add_up() {
        // Reads only.
        let reads: Vec<Entry> = (0..50)
            .map(|i| {
                entry(
                    i + 1,
                    i as i64,
                    "a@x",
                    Activity::Read,
                    Outcome::Granted,
                    "EMP-1",
                )
            })
            .collect();
        assert!(run(R1_BURST, &reads).is_empty());
        // One every 2 minutes: 5 in any 10-minute window, never 20.
        let slow: Vec<Entry> = (0..60)
            .map(|i| {
                entry(
                    i + 1,
                    i as i64 * 8,
                    "a@x",
                    Activity::Export,
                    Outcome::Granted,
                    "EMP-1",
                )
            })
            .collect();
        assert!(run(R1_BURST, &slow).is_empty());
        // Two users, 10 each in the same minutes.
        let two: Vec<Entry> = (0..20)
            .map(|i| {
                let user = if i % 2 == 0 { "a@x" } else { "b@x" };
                entry(
                    i + 1,
                    i as i64,
                    user,
                    Activity::Export,
                    Outcome::Granted,
                    "EMP-1",
                )
            })
            .collect();
        assert!(run(R1_BURST, &two).is_empty());
    }

    #[test]
    fn a_second_burst_fires_again_after_the_window_cools() {
        let mut entries: Vec<Entry> = (0..20)
            .map(|i| {
                entry(
                    i + 1,
                    i as i64,
                    "a@x",
                    Activity::Export,
                    Outcome::Granted,
                    "EMP-1",
                )
            })
            .collect();
        // An hour later (240 quarters), one quiet entry, then another burst.
        entries.push(entry(
            21,
            240,
            "a@x",
            Activity::Export,
            Outcome::Granted,
            "EMP-1",
        ));
        entries.extend((0..20).map(|i| {
            entry(
                22 + i,
                400 + i as i64,
                "a@x",
                Activity::Export,
                Outcome::Granted,
                "EMP-1",
            )
        }));
        assert_eq!(run(R1_BURST, &entries).len(), 2);
    }

    #[test]
    fn probing_is_five_refusals_or_three_types() {
        let refusals: Vec<Entry> = (0..5)
            .map(|i| {
                entry(
                    i + 1,
                    i as i64 * 4,
                    "a@x",
                    Activity::Export,
                    Outcome::Denied,
                    "x",
                )
            })
            .collect();
        let hits = run(R8_PROBING, &refusals);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].arithmetic.starts_with("5 refusals"),
            "{}",
            hits[0].arithmetic
        );
        // Three types, three refusals.
        let mut types = Vec::new();
        for (i, t) in ["Employee", "Salary Slip", "Customer"].iter().enumerate() {
            let mut e = entry(
                i as u64 + 1,
                i as i64,
                "a@x",
                Activity::Read,
                Outcome::Denied,
                "x",
            );
            e.event.export_from = Some((*t).to_owned());
            types.push(e);
        }
        assert_eq!(run(R8_PROBING, &types).len(), 1);
        // Four refusals, granted ones between: nothing.
        let mixed: Vec<Entry> = (0..8)
            .map(|i| {
                let outcome = if i % 2 == 0 {
                    Outcome::Denied
                } else {
                    Outcome::Granted
                };
                entry(i + 1, i as i64, "a@x", Activity::Export, outcome, "x")
            })
            .collect();
        assert!(run(R8_PROBING, &mixed).is_empty());
    }
}
