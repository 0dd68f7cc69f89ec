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
//!
//! Each entry costs the same however many the window holds: a user exporting thousands a
//! second (a gate's service account, a script) keeps only what the thresholds can see.
//! The window holds at least `events` entries exactly when the last `events` are all in
//! it, and at least `distinct` documents exactly when the `distinct` most recently seen
//! were all seen in it; and when a rule crosses its thresholds, the window holds no more
//! than those (it was below them one entry before), so the alert names every entry.

use std::collections::{HashMap, VecDeque};

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
    /// The last `events` counted entries, oldest first: (timestamp in µs, seq).
    recent: VecDeque<(i64, u64)>,
    /// The `distinct` values most recently counted, each with when it was last seen,
    /// least recent first.
    last_seen: VecDeque<(String, i64)>,
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
    /// Entries come in `seq` order, so their timestamps do not go back.
    pub fn observe(&mut self, e: &Entry) -> Option<Hit> {
        let counted = self.counted(e)?;
        let span = i64::from(self.rule.window_minutes) * 60_000_000;
        let now = e.timestamp.as_micros();
        let w = match self.users.get_mut(&e.event.user) {
            Some(w) => w,
            None => self.users.entry(e.event.user.clone()).or_default(),
        };
        w.recent.push_back((now, e.seq));
        if w.recent.len() > self.rule.events.max(1) {
            w.recent.pop_front();
        }
        if let Some(value) = counted {
            if let Some(at) = w.last_seen.iter().position(|(v, _)| *v == value) {
                w.last_seen.remove(at);
            }
            w.last_seen.push_back((value, now));
            if w.last_seen.len() > self.rule.distinct.max(1) {
                w.last_seen.pop_front();
            }
        }
        let start = now - span;
        let events = w.recent.iter().filter(|(t, _)| *t > start).count();
        let distinct = w.last_seen.iter().filter(|(_, t)| *t > start).count();
        let over = events >= self.rule.events || distinct >= self.rule.distinct;
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
            arithmetic: format!(
                "{} {what} and {distinct} {kinds} in {} minutes (thresholds {} and {})",
                events, self.rule.window_minutes, self.rule.events, self.rule.distinct
            ),
            // Timestamps do not go back, so the entries in the window are the newest ones.
            seqs: w
                .recent
                .iter()
                .skip(w.recent.len() - events)
                .map(|(_, seq)| *seq)
                .collect(),
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

    /// The rules as first written: every entry of the window kept, its distinct values
    /// counted afresh for each entry. Slow, and plainly right.
    struct Naive {
        rule: WindowRule,
        users: HashMap<String, (NaiveWindow, bool)>,
    }

    /// (timestamp in µs, seq, what is counted as distinct), every entry in the window.
    type NaiveWindow = VecDeque<(i64, u64, Option<String>)>;

    impl Naive {
        fn observe(&mut self, e: &Entry) -> Option<Hit> {
            let counted = WindowDetector::new(self.rule.clone()).counted(e)?;
            let span = i64::from(self.rule.window_minutes) * 60_000_000;
            let now = e.timestamp.as_micros();
            let (entries, fired) = self.users.entry(e.event.user.clone()).or_default();
            entries.push_back((now, e.seq, counted));
            while entries.front().is_some_and(|(t, _, _)| *t <= now - span) {
                entries.pop_front();
            }
            let distinct: std::collections::BTreeSet<&str> = entries
                .iter()
                .filter_map(|(_, _, d)| d.as_deref())
                .collect();
            if entries.len() < self.rule.events && distinct.len() < self.rule.distinct {
                *fired = false;
                return None;
            }
            if std::mem::replace(fired, true) {
                return None;
            }
            let (what, kinds) = match self.rule.counts {
                Counts::Refusals => ("refusals", "document types"),
                Counts::Egress => ("egress events", "distinct documents"),
            };
            Some(Hit {
                rule: self.rule.id,
                user: e.event.user.clone(),
                seqs: entries.iter().map(|(_, s, _)| *s).collect(),
                arithmetic: format!(
                    "{} {what} and {} {kinds} in {} minutes (thresholds {} and {})",
                    entries.len(),
                    distinct.len(),
                    self.rule.window_minutes,
                    self.rule.events,
                    self.rule.distinct
                ),
            })
        }
    }

    /// On long random histories (three users, bursts and lulls, repeated documents,
    /// refusals among grants), the bounded windows fire exactly as the naive ones: the same
    /// entries, the same words.
    #[test]
    fn bounded_windows_fire_as_the_naive_ones() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut t = 0i64;
        let mut history = Vec::new();
        for seq in 1..=20_000u64 {
            // Mostly seconds apart; now and then a lull of 10 to 30 minutes, which empties
            // the windows so that they fire again.
            let seconds = if next(40) == 0 {
                600 + next(1200)
            } else {
                next(3)
            };
            t += seconds as i64 * 1_000_000;
            let user = ["a@x", "b@x", "c@x"][next(3) as usize];
            let (activity, outcome) = match next(6) {
                0 => (Activity::Read, Outcome::Granted),
                1 => (Activity::Export, Outcome::Denied),
                2 => (Activity::Print, Outcome::Granted),
                _ => (Activity::FileDownload, Outcome::Granted),
            };
            let doc = format!("EMP-{}", next(25));
            let mut e = entry(seq, 0, user, activity, outcome, &doc);
            e.timestamp = Timestamp::from_micros(1_700_000_000_000_000 + t);
            if next(4) == 0 {
                e.event.export_from =
                    Some(["Employee", "Customer", "Salary Slip"][next(3) as usize].into());
            }
            if next(10) == 0 {
                e.event.reference_document = None;
            }
            history.push(e);
        }
        let tight = WindowRule {
            id: "T",
            counts: Counts::Egress,
            window_minutes: 1,
            events: 3,
            distinct: 2,
        };
        for rule in [R1_BURST, R8_PROBING, tight] {
            let mut naive = Naive {
                rule: rule.clone(),
                users: HashMap::new(),
            };
            let want: Vec<Hit> = history.iter().filter_map(|e| naive.observe(e)).collect();
            assert!(
                want.len() > 10,
                "{}: the history makes it fire often: {}",
                rule.id,
                want.len()
            );
            assert_eq!(run(rule.clone(), &history), want, "{}", rule.id);
        }
    }

    /// A user exporting without pause (100,000 entries within one window, every one a new
    /// document) leaves the detector holding what its thresholds can see, not the window.
    #[test]
    fn a_window_keeps_what_its_thresholds_see() {
        let mut d = WindowDetector::new(R1_BURST);
        let mut hits = 0;
        for i in 0..100_000u64 {
            let mut e = entry(
                i + 1,
                0,
                "bulk@x",
                Activity::Export,
                Outcome::Granted,
                &format!("EMP-{i}"),
            );
            e.timestamp = Timestamp::from_micros(1_700_000_000_000_000 + i as i64 * 1_000);
            hits += usize::from(d.observe(&e).is_some());
        }
        assert_eq!(hits, 1, "one burst, one alert");
        let w = &d.users["bulk@x"];
        assert_eq!(w.recent.len(), R1_BURST.events);
        assert_eq!(w.last_seen.len(), R1_BURST.distinct);
    }
}
