//! The rules together: every committed entry, in `seq` order, goes through
//! [`Engine::observe`], which judges it against what the engine has learned of its user
//! and their peers, and then learns from it. Judging uses the entries' own timestamps and
//! nothing else, so the same history always gives the same firings (replay, tests, a
//! restart that relearns the last 90 days).
//!
//! What is learned, per user: egress rows and bytes per day, the days they were active,
//! the document types and reports they touched, the hours of the week they work, and the
//! networks (/24) and user-agent families they come from. Peer groups are users with the
//! same role set; a group is used when it has at least 5 users, else the whole site is.
//!
//! - A user with fewer than 14 active days is judged for R2 against their own days plus
//!   (14 − n) days at their peers' median, so a newcomer is neither alarming nor silent.
//! - R6 (first time), R7 (off hours) and R9 (new client) need a learned user (14 active
//!   days); R7 uses Monday–Friday 07–20 until then. Each fires a Low alert of its own on
//!   egress, and raises by one level the severity of any other rule firing on the same
//!   entry.
//! - R10: a disabled user's entry, or one after their relieving date, is Critical; within
//!   `leaving_days` before it, R1's and R2's thresholds are halved and a crossing fires R10.
//!
//! Windows (the dedup key's third part): the site's local day, and for R3 its local week.

use std::collections::{BTreeMap, HashMap, HashSet};

use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, Entry, Outcome};

use super::baseline::{median, percentile, volume};
use super::lifecycle::Severity;
use super::rules::Rules;
use super::window::{WindowDetector, WindowRule};

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;
/// How far back the rules learn.
pub const LEARN_DAYS: i64 = 90;
/// Active days before a user counts as learned.
pub const LEARNED_AFTER: usize = 14;
/// Peer groups smaller than this give way to the whole site.
pub const MIN_PEERS: usize = 5;

/// What the engine knows of a user besides their entries (R10).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Person {
    pub disabled_at: Option<Timestamp>,
    pub relieving_date: Option<Timestamp>,
}

/// A rule that fired on an entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    pub rule: &'static str,
    pub user: String,
    pub window_start: Timestamp,
    pub severity: Severity,
    pub seqs: Vec<u64>,
    pub arithmetic: String,
    /// The entry that made it fire.
    pub at: Timestamp,
}

struct Profile {
    roles: String,
    /// Local day → (egress rows, egress bytes, any entry at all).
    days: BTreeMap<i64, (u64, u64)>,
    /// Document types and reports → the last local day touched.
    touched: HashMap<String, i64>,
    /// Hour of the week → (distinct days active in it, the last such day).
    hours: HashMap<u16, (u32, i64)>,
    /// Weekday (Monday = 0) → (distinct days active on it, the last such day).
    weekdays: [(u32, i64); 7],
    nets: HashMap<String, i64>,
    agents: HashMap<String, i64>,
    /// (rule, window) → the highest severity fired, for rules that re-judge every entry.
    fired: HashMap<(&'static str, i64), Severity>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            roles: String::new(),
            days: BTreeMap::new(),
            touched: HashMap::new(),
            hours: HashMap::new(),
            weekdays: [(0, i64::MIN); 7],
            nets: HashMap::new(),
            agents: HashMap::new(),
            fired: HashMap::new(),
        }
    }
}

impl Profile {
    fn active_days(&self, today: i64) -> usize {
        self.days.range(today - LEARN_DAYS..today).count()
    }

    fn daily_rows(&self, today: i64) -> Vec<f64> {
        self.days
            .range(today - LEARN_DAYS..today)
            .map(|(_, (rows, _))| *rows as f64)
            .collect()
    }

    fn week_rows(&self, end_day: i64) -> u64 {
        self.days
            .range(end_day - 6..=end_day)
            .map(|(_, (r, _))| r)
            .sum()
    }

    /// 7-day totals ending on each of the learned days before this week.
    fn weekly_totals(&self, today: i64) -> Vec<f64> {
        (today - LEARN_DAYS..today - 6)
            .filter(|d| self.days.contains_key(d))
            .map(|d| self.week_rows(d) as f64)
            .collect()
    }

    fn forget_before(&mut self, day: i64) {
        self.days = self.days.split_off(&day);
        self.touched.retain(|_, d| *d >= day);
        self.nets.retain(|_, d| *d >= day);
        self.agents.retain(|_, d| *d >= day);
        self.fired.retain(|(_, w), _| *w >= (day - 7) * DAY);
    }
}

/// The rules' state over a site's history.
pub struct Engine {
    rules: Rules,
    people: HashMap<String, Person>,
    profiles: HashMap<String, Profile>,
    burst: WindowDetector,
    probing: WindowDetector,
    /// R1 at half its thresholds, for leaving users (R10).
    leaving_burst: WindowDetector,
    /// Rows per document type now, for R4's "90 % of a table" (list exports).
    table_rows: HashMap<String, u64>,
    /// (a user's role set, day) → the figures of that user's peers (the role set's
    /// group, or everyone when the group is too small), computed once a day: R2 and R3
    /// ask for every entry of a user over their minimums, and finding the group walks
    /// every profile.
    peer_cache: HashMap<(String, i64), PeerFigures>,
    /// The users active on some day of the learning window before a day, by role set:
    /// found once a day, since R6 asks for a user's peers at every first touch.
    active: Option<(i64, HashMap<String, Vec<String>>)>,
    last_forget: i64,
}

#[derive(Clone, Debug)]
struct PeerFigures {
    median_daily: f64,
    p95_weekly: Option<f64>,
    members: usize,
}

impl Engine {
    pub fn new(rules: Rules) -> Self {
        let half = |w: &WindowRule, id: &'static str| WindowRule {
            id,
            counts: w.counts,
            window_minutes: w.window_minutes,
            events: w.events.div_ceil(2).max(1),
            distinct: w.distinct.div_ceil(2).max(1),
        };
        Self {
            burst: WindowDetector::new(rules.burst.clone()),
            probing: WindowDetector::new(rules.probing.clone()),
            leaving_burst: WindowDetector::new(half(&rules.burst, "R10")),
            rules,
            people: HashMap::new(),
            table_rows: HashMap::new(),
            profiles: HashMap::new(),
            peer_cache: HashMap::new(),
            active: None,
            last_forget: i64::MIN,
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// What is known of users besides their entries (disabled, relieving dates).
    pub fn set_people(&mut self, people: HashMap<String, Person>) {
        self.people = people;
    }

    /// How many rows each document type has now (R4 compares a list export with it).
    pub fn set_table_rows(&mut self, rows: HashMap<String, u64>) {
        self.table_rows = rows;
    }

    fn day(&self, t: Timestamp) -> i64 {
        (t.as_micros() + i64::from(self.rules.offset_minutes) * 60_000_000).div_euclid(DAY)
    }

    fn day_start(&self, day: i64) -> Timestamp {
        Timestamp::from_micros(day * DAY - i64::from(self.rules.offset_minutes) * 60_000_000)
    }

    /// Monday = 0. Day 0 (1970-01-01) was a Thursday.
    fn hour_of_week(&self, t: Timestamp) -> u16 {
        let local = t.as_micros() + i64::from(self.rules.offset_minutes) * 60_000_000;
        let day = local.div_euclid(DAY);
        let hour = local.rem_euclid(DAY) / HOUR;
        ((day + 3).rem_euclid(7) * 24 + hour) as u16
    }

    /// Learns from an entry without judging it: the history before the rules' cursor.
    pub fn learn(&mut self, e: &Entry) {
        self.burst.observe(e);
        self.probing.observe(e);
        self.leaving_burst.observe(e);
        self.remember(e);
    }

    /// Judges a newly committed entry, then learns from it.
    pub fn observe(&mut self, e: &Entry) -> Vec<Firing> {
        let mut out = Vec::new();
        let ev = &e.event;
        let today = self.day(e.timestamp);
        let day_start = self.day_start(today);
        let fire =
            |rule: &'static str, severity: Severity, seqs: Vec<u64>, arithmetic: String| Firing {
                rule,
                user: ev.user.clone(),
                window_start: day_start,
                severity,
                seqs,
                arithmetic,
                at: e.timestamp,
            };
        let granted = ev.outcome == Outcome::Granted;
        let egress = granted && !matches!(ev.activity, Activity::Read);
        let person = self.people.get(&ev.user).cloned().unwrap_or_default();
        let leaving = self.leaving(&person, e.timestamp);

        // Window rules.
        let burst = self.burst.observe(e);
        let probing = self.probing.observe(e);
        let leaving_burst = self.leaving_burst.observe(e);
        if let Some(h) = burst.filter(|_| self.rules.runs("R1")) {
            out.push(fire("R1", Severity::Medium, h.seqs, h.arithmetic));
        }
        if let Some(h) = probing.filter(|_| self.rules.runs("R8")) {
            out.push(fire("R8", Severity::Medium, h.seqs, h.arithmetic));
        }

        // What one entry took.
        if self.rules.runs("R4")
            && let Some(why) = self.rules.unfiltered.judge(
                e,
                // A list export against its type's table; a report's rows are not a table's.
                ev.report_name
                    .is_none()
                    .then(|| ev.export_from.as_ref().and_then(|d| self.table_rows.get(d)))
                    .flatten()
                    .copied(),
            )
        {
            out.push(fire("R4", Severity::Medium, vec![e.seq], why));
        }
        if self.rules.runs("R5")
            && let Some(why) = self.rules.sensitive.judge(e)
        {
            let severity = if ev.activity == Activity::BackupDownload {
                Severity::Medium
            } else {
                Severity::Low
            };
            out.push(fire("R5", severity, vec![e.seq], why));
        }

        // Learn the entry's rows first: R2 and R3 judge today's total including it.
        self.remember(e);
        if egress {
            self.volume(e, today, leaving.is_some(), &mut out);
            self.drip(e, today, &mut out);
        }

        // R10.
        if self.rules.runs("R10") && granted {
            if let Some(at) = person.disabled_at.filter(|d| *d <= e.timestamp) {
                out.push(fire(
                    "R10",
                    Severity::Critical,
                    vec![e.seq],
                    format!("{} by a user disabled since {at}", ev.activity.as_str()),
                ));
            } else if let Some(r) = person
                .relieving_date
                .filter(|d| d.plus(std::time::Duration::from_secs(86_400)) <= e.timestamp)
            {
                out.push(fire(
                    "R10",
                    Severity::Critical,
                    vec![e.seq],
                    format!(
                        "{} after the user's relieving date {r}",
                        ev.activity.as_str()
                    ),
                ));
            } else if let (Some(relieving), Some(h)) = (leaving, leaving_burst) {
                out.push(fire(
                    "R10",
                    Severity::High,
                    h.seqs,
                    format!(
                        "leaving on {relieving}: {} (R1 at half its thresholds)",
                        h.arithmetic
                    ),
                ));
            }
        }

        // The modifiers, judged against what was known before this entry.
        let mut modifiers: Vec<(&'static str, String)> = Vec::new();
        if egress {
            modifiers.extend(self.first_time(e, today).map(|w| ("R6", w)));
            modifiers.extend(self.off_hours(e, today).map(|w| ("R7", w)));
        }
        if granted {
            modifiers.extend(self.new_client(e, today).map(|w| ("R9", w)));
        }
        let raise_by = modifiers.len();
        if raise_by > 0 {
            let why: Vec<String> = modifiers.iter().map(|(r, w)| format!("{r}: {w}")).collect();
            for f in &mut out {
                f.severity = raise(f.severity, raise_by);
                f.arithmetic = format!("{}; raised by {}", f.arithmetic, why.join("; "));
            }
            for (rule, why) in modifiers {
                if self.rules.runs(rule)
                    && self.first_in_window(&ev.user, rule, today, Severity::Low)
                {
                    out.push(fire(rule, Severity::Low, vec![e.seq], why));
                }
            }
        }
        self.remember_modifiers(e, today);
        out
    }

    fn leaving(&self, person: &Person, at: Timestamp) -> Option<Timestamp> {
        let r = person.relieving_date?;
        let from = r.minus(std::time::Duration::from_secs(
            u64::from(self.rules.leaving_days) * 86_400,
        ));
        // The relieving date is the last working day: leaving until its end.
        (at >= from && at < r.plus(std::time::Duration::from_secs(86_400))).then_some(r)
    }

    /// Once per (rule, user, window) unless the severity rises.
    fn first_in_window(&mut self, user: &str, rule: &'static str, day: i64, s: Severity) -> bool {
        let Some(p) = self.profiles.get_mut(user) else {
            return true;
        };
        let key = (rule, day * DAY);
        match p.fired.get(&key) {
            Some(prev) if *prev >= s => false,
            _ => {
                p.fired.insert(key, s);
                true
            }
        }
    }

    fn remember(&mut self, e: &Entry) {
        let today = self.day(e.timestamp);
        if today > self.last_forget {
            self.last_forget = today;
            let horizon = today - LEARN_DAYS - 7;
            for p in self.profiles.values_mut() {
                p.forget_before(horizon);
            }
            self.peer_cache.retain(|(_, d), _| *d == today);
        }
        let ev = &e.event;
        let p = self.profiles.entry(ev.user.clone()).or_default();
        if !ev.roles.is_empty() {
            let mut roles = ev.roles.clone();
            roles.sort();
            let set = roles.join(",");
            if p.roles != set {
                p.roles = set;
            }
        }
        let day = p.days.entry(today).or_default();
        if ev.outcome == Outcome::Granted && ev.activity != Activity::Read {
            day.0 += ev.row_count.unwrap_or(0);
            day.1 += ev.byte_count.unwrap_or(0);
        }
    }

    /// What R6, R7 and R9 learn, after they have judged the entry.
    fn remember_modifiers(&mut self, e: &Entry, today: i64) {
        let how = self.hour_of_week(e.timestamp);
        let ev = &e.event;
        let Some(p) = self.profiles.get_mut(&ev.user) else {
            return;
        };
        if let Some(t) = target(e) {
            p.touched.insert(t.to_owned(), today);
        }
        let slot = p.hours.entry(how).or_insert((0, i64::MIN));
        if slot.1 != today {
            *slot = (slot.0 + 1, today);
        }
        let wd = &mut p.weekdays[usize::from(how / 24)];
        if wd.1 != today {
            *wd = (wd.0 + 1, today);
        }
        if ev.outcome == Outcome::Granted {
            if let Some(net) = ev.ip.as_deref().map(network) {
                p.nets.insert(net, today);
            }
            if let Some(agent) = ev.user_agent.as_deref() {
                p.agents.insert(agent_family(agent).to_owned(), today);
            }
        }
    }

    fn peers(&mut self, user: &str, today: i64) -> PeerFigures {
        let roles = self
            .profiles
            .get(user)
            .map(|p| p.roles.clone())
            .unwrap_or_default();
        let asked = (roles, today);
        if let Some(f) = self.peer_cache.get(&asked) {
            return f.clone();
        }
        let roles = &asked.0;
        let in_group = self
            .profiles
            .values()
            .filter(|p| p.roles == *roles && p.active_days(today) > 0)
            .count();
        let everyone = in_group < MIN_PEERS;
        let members: Vec<&Profile> = self
            .profiles
            .values()
            .filter(|p| (everyone || p.roles == *roles) && p.active_days(today) > 0)
            .collect();
        let mut daily = Vec::new();
        let mut weekly = Vec::new();
        for p in &members {
            daily.extend(p.daily_rows(today));
            weekly.extend(p.weekly_totals(today));
        }
        let f = PeerFigures {
            median_daily: median(&daily).unwrap_or(0.0),
            p95_weekly: percentile(&weekly, 95.0),
            members: members.len(),
        };
        self.peer_cache.insert(asked, f.clone());
        f
    }

    /// R2: today's rows (or bytes) against the user's own days.
    fn volume(&mut self, e: &Entry, today: i64, leaving: bool, out: &mut Vec<Firing>) {
        let user = &e.event.user;
        let Some(p) = self.profiles.get(user) else {
            return;
        };
        let (rows, bytes) = p.days.get(&today).copied().unwrap_or_default();
        let scale = if leaving { 2 } else { 1 };
        let v = self.rules.volume.clone();
        // Cheap first: most days are far below the minimum volume.
        if rows < v.min_rows / scale && bytes < v.min_bytes / scale {
            return;
        }
        let run_r2 = self.rules.runs("R2");
        let run_r10 = leaving && self.rules.runs("R10");
        if !run_r2 && !run_r10 {
            return;
        }
        let mut history = p.daily_rows(today);
        let own = history.len();
        let peer_note = if own < LEARNED_AFTER {
            let peers = self.peers(user, today);
            history.extend(std::iter::repeat_n(peers.median_daily, LEARNED_AFTER - own));
            format!(
                " ({own} own days, {} at the median of {} peers)",
                LEARNED_AFTER - own,
                peers.members
            )
        } else {
            String::new()
        };
        let Some(finding) = volume(rows, bytes, &history, &v, scale) else {
            return;
        };
        let finding = (finding.arithmetic, finding.high);
        let (rule, severity) = if leaving && run_r10 {
            (
                "R10",
                if finding.1 {
                    Severity::Critical
                } else {
                    Severity::High
                },
            )
        } else if run_r2 {
            (
                "R2",
                if finding.1 {
                    Severity::High
                } else {
                    Severity::Medium
                },
            )
        } else {
            return;
        };
        if self.first_in_window(user, rule, today, severity) {
            let day_start = self.day_start(today);
            out.push(Firing {
                rule,
                user: user.clone(),
                window_start: day_start,
                severity,
                seqs: vec![e.seq],
                arithmetic: format!(
                    "{}{peer_note}{}",
                    finding.0,
                    if leaving {
                        "; thresholds halved: the user is leaving"
                    } else {
                        ""
                    }
                ),
                at: e.timestamp,
            });
        }
    }

    /// R3: the last 7 days' rows against the user's own and their peers' P95.
    fn drip(&mut self, e: &Entry, today: i64, out: &mut Vec<Firing>) {
        if !self.rules.runs("R3") {
            return;
        }
        let user = &e.event.user;
        let Some(p) = self.profiles.get(user) else {
            return;
        };
        let week = p.week_rows(today);
        if week < self.rules.drip.min_rows {
            return;
        }
        let own = percentile(&p.weekly_totals(today), 95.0);
        let peers = self.peers(user, today);
        let bar = own
            .map(|o| o * self.rules.drip.factor)
            .into_iter()
            .chain(peers.p95_weekly)
            .fold(0.0f64, f64::max);
        if (week as f64) <= bar {
            return;
        }
        // One alert per local week (Monday to Sunday).
        let week_day = today - (today + 3).rem_euclid(7);
        if self.first_in_window(user, "R3", week_day, Severity::Medium) {
            out.push(Firing {
                rule: "R3",
                user: user.clone(),
                window_start: self.day_start(week_day),
                severity: Severity::Medium,
                seqs: vec![e.seq],
                arithmetic: format!(
                    "{week} rows in 7 days; own 90-day P95 {} × {} and peers' P95 {} → bar {bar:.0}",
                    own.map_or("n/a".to_owned(), |o| format!("{o:.0}")),
                    self.rules.drip.factor,
                    peers.p95_weekly.map_or("n/a".to_owned(), |o| format!("{o:.0}")),
                ),
                at: e.timestamp,
            });
        }
    }

    /// R6: a type or report this user has not touched in 90 days, rare among peers.
    fn first_time(&mut self, e: &Entry, today: i64) -> Option<String> {
        let t = target(e)?;
        let user = &e.event.user;
        let p = self.profiles.get(user)?;
        // Touched on an earlier day: looking at a report and then exporting it is one
        // first touch, not a usual one.
        if p.active_days(today) < LEARNED_AFTER || p.touched.get(t).is_some_and(|d| *d < today) {
            return None;
        }
        let roles = p.roles.clone();
        if self.active.as_ref().is_none_or(|(day, _)| *day != today) {
            let mut by_roles: HashMap<String, Vec<String>> = HashMap::new();
            for (u, q) in &self.profiles {
                if q.active_days(today) > 0 {
                    by_roles.entry(q.roles.clone()).or_default().push(u.clone());
                }
            }
            self.active = Some((today, by_roles));
        }
        let by_roles = self.active.as_ref().map(|(_, a)| a);
        let others = |users: &'_ Vec<String>| -> Vec<&Profile> {
            users
                .iter()
                .filter(|u| *u != user)
                .filter_map(|u| self.profiles.get(u))
                .collect()
        };
        let group = by_roles
            .and_then(|a| a.get(&roles))
            .map(&others)
            .unwrap_or_default();
        let group: Vec<&Profile> = if group.len() + 1 >= MIN_PEERS {
            group
        } else {
            by_roles
                .into_iter()
                .flat_map(|a| a.values())
                .flat_map(&others)
                .collect()
        };
        let touched = group.iter().filter(|q| q.touched.contains_key(t)).count();
        // Peers who touched it only today (a second first-timer) do not make it usual.
        let share = touched as f64 / group.len().max(1) as f64;
        (share < self.rules.peer_share).then(|| {
            format!(
                "{t}: not touched by this user in {LEARN_DAYS} days, and by {touched} of {} peers ({:.0} % < {:.0} %)",
                group.len(),
                share * 100.0,
                self.rules.peer_share * 100.0
            )
        })
    }

    /// R7: an hour of the week this user does not work in.
    fn off_hours(&self, e: &Entry, today: i64) -> Option<String> {
        let p = self.profiles.get(&e.event.user)?;
        let how = self.hour_of_week(e.timestamp);
        let (weekday, hour) = (how / 24, how % 24);
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let when = format!("{} {hour:02}:00 local", names[usize::from(weekday)]);
        let days_in = |h: u16| p.hours.get(&(h % 168)).map_or(0, |(n, _)| *n);
        let near = |h: u16| days_in(h + 167) + days_in(h) + days_in(h + 1);
        // This hour of this weekday (±1 h); or a weekday they work on, at an hour of the
        // day (±1 h) they work at on any weekday.
        let around = near(how);
        let any_day: u32 = (0..7u16).map(|d| near(d * 24 + hour)).sum();
        let weekday_days = p.weekdays[usize::from(weekday)].0;
        let usual = around >= 2 || (weekday_days >= 2 && any_day >= 3);
        if p.active_days(today) < LEARNED_AFTER {
            let [from, to] = self.rules.cold_start_hours;
            let inside = weekday < 5 && hour >= u16::from(from) && hour < u16::from(to);
            return (!inside && !usual).then(|| {
                format!("{when}, outside Mon–Fri {from:02}–{to:02} (the user is not learned yet)")
            });
        }
        (!usual).then(|| {
            format!(
                "{when}: the user was active in this hour (±1) on {around} days before, on {}s on {weekday_days} days, at this hour on any day on {any_day}",
                names[usize::from(weekday)]
            )
        })
    }

    /// R9: a new network or user-agent family for a learned user, or a scripted agent.
    fn new_client(&self, e: &Entry, today: i64) -> Option<String> {
        let p = self.profiles.get(&e.event.user)?;
        if p.active_days(today) < LEARNED_AFTER {
            return None;
        }
        let ev = &e.event;
        let mut why = Vec::new();
        if let Some(ip) = ev.ip.as_deref() {
            let net = network(ip);
            if !p.nets.contains_key(&net) {
                why.push(format!("new network {net}"));
            }
        }
        if let Some(agent) = ev.user_agent.as_deref() {
            let family = agent_family(agent);
            if !p.agents.contains_key(family) {
                let scripted = if SCRIPTED.contains(&family) {
                    " (scripted)"
                } else {
                    ""
                };
                why.push(format!("new client {family}{scripted}"));
            }
        }
        (!why.is_empty()).then(|| why.join(", "))
    }

    /// Users the engine has seen, for rule health.
    pub fn users(&self) -> HashSet<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }
}

fn raise(s: Severity, by: usize) -> Severity {
    // Modifiers raise up to High; only R10 makes an alert Critical.
    let cap = if s == Severity::Critical { 3 } else { 2 };
    Severity::from_rank((s.rank() + by as i64).min(cap))
}

/// The document type or report an entry touched.
fn target(e: &Entry) -> Option<&str> {
    let ev = &e.event;
    ev.report_name.as_deref().or(ev.export_from.as_deref())
}

/// An address's network: the /24 of IPv4, the /64 of IPv6.
fn network(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Err(_) => ip.to_owned(),
    }
}

/// Agents that are programs, not browsers.
const SCRIPTED: [&str; 8] = [
    "python-requests",
    "curl",
    "Wget",
    "Go-http-client",
    "okhttp",
    "PostmanRuntime",
    "python",
    "script",
];

/// A user agent's family: the browser or the program, without versions.
pub fn agent_family(agent: &str) -> &'static str {
    let a = agent.to_ascii_lowercase();
    if a.starts_with("curl/") && !a.contains("python-requests") {
        return "curl";
    }
    // The first family one of whose marks the agent contains, in this order.
    const MARKS: [(&str, &[&str]); 11] = [
        ("python-requests", &["python-requests"]),
        ("Wget", &["wget"]),
        ("Go-http-client", &["go-http-client"]),
        ("okhttp", &["okhttp"]),
        ("PostmanRuntime", &["postmanruntime"]),
        ("python", &["python", "aiohttp", "httpx"]),
        ("Edge", &["edg/"]),
        ("Firefox", &["firefox/"]),
        ("Chrome", &["chrome/", "chromium/"]),
        ("Safari", &["safari/"]),
        ("browser", &["mozilla/"]),
    ];
    MARKS
        .iter()
        .find(|(_, marks)| marks.iter().any(|m| a.contains(m)))
        .map_or("script", |(family, _)| family)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accesslog_core::entry::Event;

    const MON: i64 = 1_764_547_200_000_000; // Monday 2025-12-01 00:00 UTC

    fn entry(seq: u64, at: i64, user: &str, activity: Activity, rows: u64) -> Entry {
        let mut ev = Event::new(user, activity, "GET /x");
        ev.export_from = Some("Customer".into());
        ev.row_count = Some(rows);
        ev.roles = vec!["Sales User".into()];
        ev.ip = Some("10.0.0.7".into());
        ev.user_agent = Some("Mozilla/5.0 Chrome/120.0".into());
        ev.filters = Some(
            accesslog_core::entry::CanonicalJson::parse(r#"[["status","=","Open"]]"#).unwrap(),
        );
        Entry {
            seq,
            timestamp: Timestamp::from_micros(at),
            event: ev,
        }
    }

    #[test]
    fn a_filtered_export_of_most_of_a_table_is_unfiltered_in_effect() {
        let mut e = Engine::new(Rules::default());
        let export = |seq, rows| {
            let mut en = entry(seq, MON + 10 * HOUR, "u@x", Activity::Export, rows);
            en.event.report_name = None;
            en
        };
        // Filtered, and the table's size unknown: R4 cannot tell.
        assert!(e.observe(&export(1, 1_900)).iter().all(|f| f.rule != "R4"));
        e.set_table_rows([("Customer".to_owned(), 2_000)].into());
        let f = e.observe(&export(2, 1_900));
        let r4 = f
            .iter()
            .find(|f| f.rule == "R4")
            .expect("95 % of the table");
        assert!(
            r4.arithmetic.contains("95 % of its 2000 rows"),
            "{}",
            r4.arithmetic
        );
        // 50 % of it is an ordinary filtered export.
        assert!(e.observe(&export(3, 1_000)).iter().all(|f| f.rule != "R4"));
    }

    #[test]
    fn the_clock_is_the_sites() {
        let mut r = Rules::default();
        let e = Engine::new(r.clone());
        assert_eq!(e.hour_of_week(Timestamp::from_micros(MON + 9 * HOUR)), 9);
        assert_eq!(
            e.hour_of_week(Timestamp::from_micros(MON - HOUR)),
            167,
            "Sunday 23:00"
        );
        r.offset_minutes = 120;
        let e = Engine::new(r);
        assert_eq!(
            e.hour_of_week(Timestamp::from_micros(MON - HOUR)),
            1,
            "Monday 01:00 at +02:00"
        );
    }

    #[test]
    fn agents_and_networks() {
        assert_eq!(agent_family("python-requests/2.31.0"), "python-requests");
        assert_eq!(agent_family("curl/8.5.0"), "curl");
        assert_eq!(
            agent_family("Mozilla/5.0 (X11) AppleWebKit Chrome/120 Safari/537"),
            "Chrome"
        );
        assert_eq!(
            agent_family("Mozilla/5.0 Gecko/20100101 Firefox/121.0"),
            "Firefox"
        );
        assert_eq!(network("192.168.4.77"), "192.168.4.0/24");
        assert_eq!(network("2001:db8:1:2:3::9"), "2001:db8:1:2::/64");
    }

    #[test]
    fn volume_needs_a_learned_baseline_and_is_halved_for_leavers() {
        let mut e = Engine::new(Rules::default());
        let mut seq = 0;
        // 20 working days of ~200 rows.
        for d in 0..28 {
            if d % 7 >= 5 {
                continue;
            }
            for k in 0..4 {
                seq += 1;
                e.learn(&entry(
                    seq,
                    MON + d * DAY + 9 * HOUR + k * HOUR,
                    "u@x",
                    Activity::Export,
                    50,
                ));
            }
        }
        let day = MON + 28 * DAY + 10 * HOUR;
        seq += 1;
        let f = e.observe(&entry(seq, day, "u@x", Activity::Export, 6_000));
        let r2: Vec<_> = f.iter().filter(|f| f.rule == "R2").collect();
        assert_eq!(r2.len(), 1, "{f:?}");
        assert_eq!(r2[0].severity, Severity::High);
        assert!(
            r2[0].arithmetic.contains("median 200"),
            "{}",
            r2[0].arithmetic
        );
        // The same day again: no second firing at the same severity.
        seq += 1;
        let f = e.observe(&entry(seq, day + HOUR, "u@x", Activity::Export, 10));
        assert!(f.iter().all(|f| f.rule != "R2"), "{f:?}");
        // A leaving user fires R10 at half the volume.
        let mut people = HashMap::new();
        people.insert(
            "u@x".to_owned(),
            Person {
                disabled_at: None,
                relieving_date: Some(Timestamp::from_micros(day + 10 * DAY)),
            },
        );
        e.set_people(people);
        seq += 1;
        let f = e.observe(&entry(seq, day + DAY, "u@x", Activity::Export, 3_000));
        assert!(
            f.iter()
                .any(|f| f.rule == "R10" && f.severity >= Severity::High),
            "{f:?}"
        );
    }
}
