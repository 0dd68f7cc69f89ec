//! The seeded corpus generator (issue 17): a site's egress history, made up but shaped like
//! what the server records, so the alert rules can be measured on it.
//!
//! - [`generate`] makes the **quiet corpus**: by default 200 people in ERPNext-like role
//!   groups (each group ≥ 5 people sharing one role set, so peer groups exist) over 90
//!   days. Each person has working hours in the site's local time (Monday to Friday, a few
//!   Wednesday to Sunday), a lunch dip, a gentle weekly cycle, random days off and week-long
//!   vacations, site holidays, a personal activity scale (log-normal: some people are much
//!   busier than others), their usual IP /24 (a few also work from home on one fixed
//!   weekday, from a second /24) and one browser user agent. Some join partway, and about
//!   4 % leave: they have a relieving date and are disabled that evening, after which they
//!   do nothing. Activity is mostly reads, then prints, report views and prints, filtered
//!   exports of tens to hundreds of rows, file downloads, raw prints, a few refusals (one at
//!   a time), and very rarely a backup download by a System Manager. No user-day exports
//!   5,000 rows (R2's floor), nobody makes 20 egress events in 10 minutes, and each role
//!   group keeps to its own document types and reports, so a quiet corpus does not look
//!   like an incident.
//! - The **scenarios** ([`r1_burst`] … [`r10_after_disable`], all of them spaced apart by
//!   [`all_scenarios`]) are incidents to plant in it with [`inject`], one or more per rule.
//!   Each names its rule, its user and its last entry's time.
//!
//! Determinism: every random draw comes from [`ChaCha8Rng`] seeded with
//! `seed_from_u64(seed)`, and only its raw `next_u64` output is used: uniforms, ranges and
//! normals are computed here, not by `rand`'s distributions (whose algorithms may change
//! between versions), with IEEE basic arithmetic only (no `ln`, `exp` or `cos` of the
//! platform's maths library, which may differ in the last bit). The people are drawn from
//! stream 0; each person's absences and day plans from their own stream
//! (`set_stream(1 + index)`) and each of their days from another, so adding extra users
//! changes nobody else's history. Times are microseconds ([`Timestamp`]); events of one
//! person never share a timestamp; the corpus covers the local days from `start`'s date
//! ([`Corpus::begin`] to [`Corpus::end`]).
//!
//! Figures for seed 17, 200 users × 90 days, UTC+1 (printed by the tests): about 282,000
//! entries, 25.5 per active user-day, 90 % reads; no R1, R4 or R8 hit; 23 person-days
//! with R5 content (Employee, Salary Register, backups), 0.45 per 50 users per week; at
//! most 3,993 rows out by one person in a day and 10,480 in a rolling week. Generation
//! takes about 0.7 s in a release build (on two shared cores), 5 s in a debug one.

use std::collections::BTreeMap;

use crate::sample_names::*;
use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, Actor, CanonicalJson, Event, Outcome};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

const SEC: i64 = 1_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Average entries per active person-day at volume 1 (before the weekly cycle).
const BASE_ENTRIES_PER_DAY: f64 = 22.0;
/// No person-day of the quiet corpus takes out more rows than this (R2 fires only from
/// 5,000 rows).
const QUIET_DAILY_ROWS_CAP: u64 = 4_000;
/// Entries in an average task (a list and two documents, a read and a print, …): the
/// day's target entries over this is its number of tasks.
const AVERAGE_TASK_ENTRIES: f64 = 2.1;

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct CorpusConfig {
    pub seed: u64,
    /// Generated people (the `extra_users` come on top).
    pub users: usize,
    pub days: u32,
    /// Midnight UTC of day 0.
    pub start: Timestamp,
    /// The site's time zone: working hours are local.
    pub utc_offset_minutes: i32,
    /// People to include as given, e.g. the demo's own users ([`Person::with_roles`]).
    pub extra_users: Vec<Person>,
}

impl CorpusConfig {
    /// 200 users over 90 days from `start`, in UTC, with no extra users.
    pub fn standard(seed: u64, start: Timestamp) -> Self {
        Self {
            seed,
            users: 200,
            days: 90,
            start,
            utc_offset_minutes: 0,
            extra_users: Vec::new(),
        }
    }
}

/// One person of the site, and how they work.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub email: String,
    /// Sorted, as entries record them. People of one group share the identical set.
    pub roles: Vec<String>,
    pub department: String,
    /// Local hours: work from `work_start_hour` to `work_end_hour`.
    pub work_start_hour: u8,
    pub work_end_hour: u8,
    /// Works Wednesday to Sunday instead of Monday to Friday.
    pub works_weekends: bool,
    /// Personal activity scale (1 = average; log-normal over people).
    pub volume: f64,
    /// A joiner's first day (midnight UTC of it); `None`: there from day 0.
    pub joined_at: Option<Timestamp>,
    /// When the account was disabled: nothing in the quiet corpus after it.
    pub disabled_at: Option<Timestamp>,
    /// The Employee's relieving date (midnight UTC of it).
    pub relieving_date: Option<Timestamp>,
    /// Their usual /24, e.g. `10.20.3`, and their host in it.
    pub ip_prefix: String,
    pub ip_host: u8,
    /// A second /24 (home), used on `home_weekday` (0 = Monday).
    pub home_ip_prefix: Option<String>,
    pub home_weekday: Option<u8>,
    pub user_agent: String,
}

impl Person {
    /// Someone with these roles working 9 to 17 from the office, at average volume: for
    /// a site's own users (the demo's). Their activity follows the role group their roles
    /// resemble most (System Manager, HR, Accounts, Sales, Stock; else reads only).
    pub fn with_roles(email: &str, roles: &[&str]) -> Self {
        let mut roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        roles.sort();
        let host = email
            .bytes()
            .fold(7u8, |h, b| h.wrapping_mul(31).wrapping_add(b));
        Person {
            email: email.to_owned(),
            department: kind_of(&roles).department().to_owned(),
            roles,
            work_start_hour: 9,
            work_end_hour: 17,
            works_weekends: false,
            volume: 1.0,
            joined_at: None,
            disabled_at: None,
            relieving_date: None,
            ip_prefix: "10.20.20".to_owned(),
            ip_host: 10 + host % 200,
            home_ip_prefix: None,
            home_weekday: None,
            user_agent: USER_AGENTS[usize::from(host) % USER_AGENTS.len()].to_owned(),
        }
    }

    /// Their usual IP address.
    pub fn office_ip(&self) -> String {
        format!("{}.{}", self.ip_prefix, self.ip_host)
    }
}

/// A generated history.
#[derive(Clone, Debug, PartialEq)]
pub struct Corpus {
    pub seed: u64,
    pub start: Timestamp,
    pub days: u32,
    pub utc_offset_minutes: i32,
    pub people: Vec<Person>,
    /// Sorted by time, ascending; ties keep their order.
    pub events: Vec<(Timestamp, Event)>,
}

impl Corpus {
    /// The first instant of the corpus: local midnight of day 0 (the local date that is
    /// `start`'s UTC date), so up to 14 hours before or after `start`.
    pub fn begin(&self) -> Timestamp {
        self.at_local(0, 0, 0)
    }

    /// The end of the corpus (exclusive): local midnight after its last day.
    pub fn end(&self) -> Timestamp {
        self.at_local(i64::from(self.days), 0, 0)
    }

    pub fn person(&self, email: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.email == email)
    }

    /// Local calendar facts of `t`: (days since the Unix epoch, weekday with Monday = 0,
    /// hour, minute).
    pub fn local(&self, t: Timestamp) -> (i64, u8, u8, u8) {
        let local = t.as_micros() + i64::from(self.utc_offset_minutes) * MIN;
        let day = local.div_euclid(DAY);
        let in_day = local.rem_euclid(DAY);
        (
            day,
            weekday(day),
            (in_day / HOUR) as u8,
            ((in_day % HOUR) / MIN) as u8,
        )
    }

    /// The UTC instant of local `hour:minute` on corpus day `day` (0-based).
    pub fn at_local(&self, day: i64, hour: u8, minute: u8) -> Timestamp {
        Timestamp::from_micros(
            self.start.as_micros() + day * DAY - i64::from(self.utc_offset_minutes) * MIN
                + i64::from(hour) * HOUR
                + i64::from(minute) * MIN,
        )
    }

    /// The corpus day (0-based) whose local date holds `t`.
    pub fn day_of(&self, t: Timestamp) -> i64 {
        self.local(t).0 - self.start.as_micros().div_euclid(DAY)
    }
}

/// Monday = 0 for a count of days since 1970-01-01 (a Thursday).
fn weekday(epoch_day: i64) -> u8 {
    (epoch_day + 3).rem_euclid(7) as u8
}

/// (year, month, day) of a count of days since 1970-01-01 (H. Hinnant's algorithm).
fn civil(epoch_day: i64) -> (i64, u32, u32) {
    let z = epoch_day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn date(epoch_day: i64) -> String {
    let (y, m, d) = civil(epoch_day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn month_bounds(epoch_day: i64) -> (String, String) {
    let (y, m, _) = civil(epoch_day);
    let last = match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (
        format!("{y:04}-{m:02}-01"),
        format!("{y:04}-{m:02}-{last:02}"),
    )
}

mod day;
mod draw;
pub mod scenarios;
mod site;
#[cfg(test)]
mod tests;

use day::*;
use draw::*;
#[cfg(test)]
use scenarios::plus;
pub use scenarios::*;
pub use site::role_groups;
use site::*;

/// Generates the quiet corpus of `cfg`.
pub fn generate(cfg: &CorpusConfig) -> Corpus {
    let people = make_people(cfg);
    // Two site holidays on weekdays, from the people's stream after them.
    let mut d = Draw::stream(cfg.seed, u64::MAX);
    let epoch0 = cfg.start.as_micros().div_euclid(DAY);
    let mut holidays = Vec::new();
    let mut tries = 0;
    while holidays.len() < 2 && tries < 100 && cfg.days > 0 {
        tries += 1;
        let day = d.below(u64::from(cfg.days)) as i64;
        if weekday(epoch0 + day) < 5 && !holidays.contains(&day) {
            holidays.push(day);
        }
    }
    // Each person's history is in time order: merge them by (time, person), which keeps
    // ties in the people's order, moving each (large) event once.
    let histories: Vec<Vec<(Timestamp, Event)>> = people
        .iter()
        .enumerate()
        .map(|(i, p)| person_events(cfg, i, p, &holidays))
        .collect();
    let mut keys: Vec<(Timestamp, u32)> = histories
        .iter()
        .enumerate()
        .flat_map(|(i, h)| h.iter().map(move |(t, _)| (*t, i as u32)))
        .collect();
    keys.sort_unstable();
    let mut sources: Vec<_> = histories.into_iter().map(Vec::into_iter).collect();
    let mut events = Vec::with_capacity(keys.len());
    for (_, i) in keys {
        if let Some(x) = sources.get_mut(i as usize).and_then(Iterator::next) {
            events.push(x);
        }
    }
    Corpus {
        seed: cfg.seed,
        start: cfg.start,
        days: cfg.days,
        utc_offset_minutes: cfg.utc_offset_minutes,
        people,
        events,
    }
}

/// Merges `events` into the corpus, keeping it sorted by time (an injected event goes
/// after the corpus's events of the same microsecond; injected ones keep their order).
pub fn inject(corpus: &mut Corpus, mut events: Vec<(Timestamp, Event)>) {
    events.sort_by_key(|(t, _)| *t);
    let old = std::mem::take(&mut corpus.events);
    let mut merged = Vec::with_capacity(old.len() + events.len());
    let mut new = events.into_iter().peekable();
    for (t, e) in old {
        while new.peek().is_some_and(|(n, _)| *n < t) {
            if let Some(x) = new.next() {
                merged.push(x);
            }
        }
        merged.push((t, e));
    }
    merged.extend(new);
    corpus.events = merged;
}
