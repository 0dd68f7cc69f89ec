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

// ----------------------------------------------------------------------------------------
// Randomness, from raw ChaCha8 output only.

struct Draw(ChaCha8Rng);

impl Draw {
    fn stream(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Draw(rng)
    }

    fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Uniform in [lo, hi] (inclusive).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Nearly standard normal: the sum of twelve uniforms less six (Irwin–Hall; within
    /// ±6). Only additions, so every machine computes the same bits, which `ln` and `cos`
    /// of the platform's maths library would not promise.
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }

    /// Log-normal with this median and σ of its logarithm.
    fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * exp(sigma * self.normal())
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index into `weights`, with probability proportional to its weight.
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    fn hex(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes * 2);
        let mut left = bytes;
        while left > 0 {
            let n = left.min(8);
            let v = self.u64();
            for i in 0..n {
                let b = (v >> (8 * i)) as u8;
                s.push(char::from(HEX[usize::from(b >> 4)]));
                s.push(char::from(HEX[usize::from(b & 15)]));
            }
            left -= n;
        }
        s
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `e^x` from additions, multiplications and divisions only (a Taylor series of x/256,
/// squared eight times), so it is the same on every machine; relative error about 1e-13
/// for the |x| ≤ 6 used here.
fn exp(x: f64) -> f64 {
    let y = x / 256.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=12 {
        term = term * y / f64::from(k);
        sum += term;
    }
    for _ in 0..8 {
        sum *= sum;
    }
    sum
}

// ----------------------------------------------------------------------------------------
// The site: role groups, names, user agents.

/// Which kind of work a role set does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sales,
    Accounts,
    Hr,
    Stock,
    Purchasing,
    It,
    /// Roles the generator does not know: reads of common types only.
    Other,
}

impl Kind {
    fn department(self) -> &'static str {
        match self {
            Kind::Sales => "Sales",
            Kind::Accounts => "Accounts",
            Kind::Hr => "Human Resources",
            Kind::Stock => "Operations",
            Kind::Purchasing => "Purchasing",
            Kind::It => "IT",
            Kind::Other => "Management",
        }
    }
}

fn kind_of(roles: &[String]) -> Kind {
    let has = |r: &str| roles.iter().any(|x| x == r);
    if has(accesslog_core::SYSTEM_MANAGER) {
        Kind::It
    } else if has("HR User") || has("HR Manager") {
        Kind::Hr
    } else if has("Accounts User") || has("Accounts Manager") {
        Kind::Accounts
    } else if has("Sales User") || has("Sales Manager") {
        Kind::Sales
    } else if has("Purchase User") {
        Kind::Purchasing
    } else if has("Stock User") {
        Kind::Stock
    } else {
        Kind::Other
    }
}

fn is_manager(roles: &[String]) -> bool {
    roles.iter().any(|r| r.ends_with(" Manager"))
}

/// A role group: its name (used in emails), roles and share of the generated people.
struct Group {
    name: &'static str,
    roles: &'static [&'static str],
    share: f64,
}

/// The generated role groups. At 200 users: 52, 12, 40, 12, 18, 8, 34, 16, 8.
const GROUPS: [Group; 9] = [
    Group {
        name: "sales",
        roles: &["Sales User"],
        share: 0.26,
    },
    Group {
        name: "salesmgr",
        roles: &["Sales Manager", "Sales User"],
        share: 0.06,
    },
    Group {
        name: "accounts",
        roles: &["Accounts User"],
        share: 0.20,
    },
    Group {
        name: "accountsmgr",
        roles: &["Accounts Manager", "Accounts User"],
        share: 0.06,
    },
    Group {
        name: "hr",
        roles: &["HR User"],
        share: 0.09,
    },
    Group {
        name: "hrmgr",
        roles: &["HR Manager", "HR User"],
        share: 0.04,
    },
    Group {
        name: "stock",
        roles: &["Stock User"],
        share: 0.17,
    },
    Group {
        name: "purchasing",
        roles: &["Purchase User", "Stock User"],
        share: 0.08,
    },
    Group {
        name: "it",
        roles: &["System Manager"],
        share: 0.04,
    },
];

/// The role sets of the generated groups (each sorted), in the order of the groups.
pub fn role_groups() -> Vec<Vec<String>> {
    GROUPS
        .iter()
        .map(|g| {
            let mut r: Vec<String> = g.roles.iter().map(|s| (*s).to_owned()).collect();
            r.sort();
            r
        })
        .collect()
}

const USER_AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
];

const FIRST: [&str; 25] = [
    "ana", "ben", "chen", "dara", "elif", "femi", "gita", "hugo", "ines", "jon", "kai", "lena",
    "mateo", "nora", "omar", "priya", "quinn", "rosa", "sami", "tara", "uma", "vik", "wen", "yara",
    "zoe",
];
const LAST: [&str; 12] = [
    "ruiz", "okafor", "schmidt", "tanaka", "novak", "haddad", "silva", "kowalski", "moreau",
    "larsen", "iyer", "brown",
];
const ADJECTIVES: [&str; 20] = [
    "Acme", "Blue", "Bright", "Cedar", "Delta", "Eagle", "First", "Golden", "Harbor", "Iron",
    "Jade", "Kite", "Lotus", "Maple", "North", "Oak", "Pine", "Quartz", "River", "Summit",
];
const NOUNS: [&str; 10] = [
    "Trading",
    "Foods",
    "Logistics",
    "Textiles",
    "Motors",
    "Pharma",
    "Builders",
    "Retail",
    "Energy",
    "Labs",
];
const SUFFIXES: [&str; 4] = ["Ltd", "Inc", "GmbH", "LLC"];
const TERRITORIES: [&str; 6] = ["North", "South", "East", "West", "Central", "Export"];
const DEPARTMENTS: [&str; 5] = [
    "Accounts",
    "Sales",
    "Human Resources",
    "Operations",
    "Management",
];
const ACCOUNTS: [&str; 8] = [
    "Debtors",
    "Sales",
    "Cash",
    "Bank",
    "Creditors",
    "Cost of Goods Sold",
    "Salary",
    "VAT Payable",
];
const ITEM_GROUPS: [&str; 5] = [
    "Products",
    "Raw Material",
    "Sub Assemblies",
    "Services",
    "Consumable",
];
const PRINTERS: [(&str, &str); 2] = [
    ("warehouse", "10.20.5.40:9100"),
    ("dispatch", "10.20.5.41:9100"),
];

/// The (group) people of `cfg`, then the extra users.
fn make_people(cfg: &CorpusConfig) -> Vec<Person> {
    let mut d = Draw::stream(cfg.seed, 0);
    // Group sizes: the floor of each share, the rest one by one from the first group.
    let mut counts: Vec<usize> = GROUPS
        .iter()
        .map(|g| (g.share * cfg.users as f64).floor() as usize)
        .collect();
    let mut i = 0;
    let groups = counts.len();
    while counts.iter().sum::<usize>() < cfg.users {
        counts[i % groups] += 1;
        i += 1;
    }
    let days = i64::from(cfg.days);
    let mut people = Vec::with_capacity(cfg.users + cfg.extra_users.len());
    let mut n = 0usize;
    for (gi, (group, count)) in GROUPS.iter().zip(counts).enumerate() {
        let mut roles: Vec<String> = group.roles.iter().map(|r| (*r).to_owned()).collect();
        roles.sort();
        let kind = kind_of(&roles);
        for k in 0..count {
            n += 1;
            let first = FIRST[(n * 7 + gi) % FIRST.len()];
            let last = LAST[(n * 5 + k) % LAST.len()];
            let email = format!("{first}.{last}.{}{:02}@example.com", group.name, k + 1);
            let work_start_hour = [7u8, 8, 8, 8, 9, 9, 9, 9, 10][d.below(9) as usize];
            let work_end_hour = work_start_hour + if d.chance(0.6) { 8 } else { 9 };
            let works_weekends =
                matches!(kind, Kind::Stock | Kind::It | Kind::Sales) && d.chance(0.06);
            let volume = d.log_normal(1.0, 0.55).clamp(0.3, 3.5);
            let home = d.chance(0.15);
            let home_ip_prefix = home.then(|| {
                format!(
                    "{}.{}.{}",
                    [78u64, 81, 86, 92, 109, 176, 188][d.below(7) as usize],
                    d.range(1, 254),
                    d.range(0, 255)
                )
            });
            let home_weekday = home.then(|| {
                if works_weekends {
                    2 + d.below(3) as u8
                } else {
                    d.below(5) as u8
                }
            });
            people.push(Person {
                email,
                department: kind.department().to_owned(),
                roles: roles.clone(),
                work_start_hour,
                work_end_hour,
                works_weekends,
                volume,
                joined_at: None,
                disabled_at: None,
                relieving_date: None,
                ip_prefix: format!("10.20.{}", gi + 1),
                ip_host: (10 + k % 240) as u8,
                home_ip_prefix,
                home_weekday,
                user_agent: (*d.pick(&USER_AGENTS)).to_owned(),
            });
        }
    }
    // Leavers (about 4 %), their relieving dates spread evenly over [15, days − 5], and
    // joiners (about 3 %) starting on days 7 to 60; never the first three people of a
    // group (the scenarios' ordinary users), never both.
    let generated = people.len();
    let leavers = if generated >= 50 {
        generated * 4 / 100
    } else {
        0
    };
    let joiners = if generated >= 50 {
        generated * 3 / 100
    } else {
        0
    };
    let mut eligible: Vec<usize> = (0..generated)
        .filter(|&i| {
            let prefix = people[i].email.rsplit_once('@').map_or("", |(l, _)| l);
            !(prefix.ends_with("01") || prefix.ends_with("02") || prefix.ends_with("03"))
        })
        .collect();
    // A fixed shuffle.
    for i in (1..eligible.len()).rev() {
        let j = d.below(i as u64 + 1) as usize;
        eligible.swap(i, j);
    }
    let span = (days - 5 - 15).max(1);
    for (k, &i) in eligible.iter().take(leavers).enumerate() {
        let day = 15 + span * (k as i64 + 1) / (leavers as i64 + 1);
        let p = &mut people[i];
        let midnight = cfg.start.as_micros() + day * DAY;
        p.relieving_date = Some(Timestamp::from_micros(midnight));
        // Disabled at 18:00 local on the relieving day.
        p.disabled_at = Some(Timestamp::from_micros(
            midnight - i64::from(cfg.utc_offset_minutes) * MIN + 18 * HOUR,
        ));
        // A leaver works weekdays, so the relieving day is theirs.
        p.works_weekends = false;
    }
    for &i in eligible.iter().skip(leavers).take(joiners) {
        let day = d.range(7, 60.min(days.max(8) as u64 - 1)) as i64;
        people[i].joined_at = Some(Timestamp::from_micros(cfg.start.as_micros() + day * DAY));
    }
    people.extend(cfg.extra_users.iter().cloned().map(|mut p| {
        p.roles.sort();
        p
    }));
    people
}

// ----------------------------------------------------------------------------------------
// Events, as the server records them.

/// One person's day being written: their draws and what they have taken out today.
struct Day {
    d: Draw,
    kind: Kind,
    manager: bool,
    /// Corpus day (0-based) and local days since the epoch.
    day: i64,
    epoch_day: i64,
    /// Who acts: the person from today's address; each event sets its method and
    /// request id.
    who: Actor,
    rows_today: u64,
}

/// `p` acting from `ip` in the browser, logged in.
fn who(p: &Person, ip: String) -> Actor {
    Actor {
        user: p.email.clone(),
        roles: p.roles.clone(),
        method: String::new(),
        auth: Some("session".to_owned()),
        ip: Some(ip),
        user_agent: Some(p.user_agent.clone()),
        request_id: None,
    }
}

fn slug(doctype: &str) -> String {
    doctype.to_ascii_lowercase().replace(' ', "-")
}

fn url(name: &str) -> String {
    name.replace(' ', "%20")
}

/// A report of the demo: its name, type and columns.
struct Report {
    name: &'static str,
    doctype: &'static str,
    columns: &'static [&'static str],
}

const GENERAL_LEDGER: Report = Report {
    name: "General Ledger",
    doctype: "GL Entry",
    columns: &[
        "posting_date",
        "account",
        "party",
        "voucher_type",
        "voucher_no",
        "debit",
        "credit",
        "against",
        "remarks",
        "is_cancelled",
    ],
};
const SALES_REGISTER: Report = Report {
    name: "Sales Register",
    doctype: "Sales Invoice",
    columns: &[
        "invoice",
        "posting_date",
        "customer",
        "status",
        "items",
        "grand_total",
    ],
};
const ACCOUNTS_RECEIVABLE: Report = Report {
    name: "Accounts Receivable",
    doctype: "Sales Invoice",
    columns: &[
        "customer",
        "invoice",
        "posting_date",
        "due_date",
        "status",
        "outstanding_amount",
    ],
};
const SALARY_REGISTER: Report = Report {
    name: "Salary Register",
    doctype: "Employee",
    columns: &[
        "employee",
        "employee_name",
        "department",
        "designation",
        "date_of_joining",
        "ctc",
        "monthly_gross",
    ],
};

/// The list columns of each type, as a list view or list export asks for them.
fn list_fields(doctype: &str) -> &'static [&'static str] {
    match doctype {
        "Sales Invoice" => &["name", "customer", "posting_date", "status", "grand_total"],
        "Customer" => &["name", "customer_name", "customer_group", "territory"],
        "Employee" => &["name", "employee_name", "department", "designation"],
        "Item" => &["name", "item_code", "item_name", "standard_rate"],
        "Supplier" => &["name", "supplier_name", "supplier_group"],
        "GL Entry" => &[
            "name",
            "posting_date",
            "account",
            "debit",
            "credit",
            "voucher_no",
        ],
        _ => &["name"],
    }
}

impl Day {
    /// Who acts for a request to `method`, with a new request id.
    fn actor(&mut self, method: String) -> &Actor {
        self.who.method = method;
        self.who.request_id = Some(self.d.hex(8));
        &self.who
    }

    /// The size and digest of what was sent.
    fn sent(&mut self, mut e: Event, bytes: u64) -> Event {
        e.byte_count = Some(bytes);
        e.content_sha256 = Some(self.d.hex(32));
        if let Some(r) = e.row_count.filter(|_| e.activity != Activity::Read) {
            self.rows_today += r;
        }
        e
    }

    fn today(&self) -> String {
        date(self.epoch_day)
    }

    // Names, recent ones more often.
    fn invoice(&mut self) -> String {
        let newest = 1_000 + self.day * 40;
        let u = self.d.unit();
        let back = (u * u * u * 1_500.0) as i64;
        format!("SINV-{:05}", (newest - back).max(1))
    }
    fn customer(&mut self) -> String {
        let i = self.d.below(200) as usize;
        format!(
            "{} {} {}",
            ADJECTIVES[i / 10],
            NOUNS[i % 10],
            SUFFIXES[i % 4]
        )
    }
    fn employee(&mut self) -> String {
        format!("EMP-{:04}", self.d.range(1, 260))
    }
    fn item(&mut self) -> String {
        format!("ITEM-{:03}", self.d.range(1, 400))
    }
    fn supplier(&mut self) -> String {
        let i = self.d.below(20) as usize;
        format!("{} Supplies {}", ADJECTIVES[i], SUFFIXES[i % 4])
    }
    fn gl_entry(&mut self) -> String {
        format!(
            "ACC-GLE-{:07}",
            (20_000 + self.day * 180 - self.d.below(3_000) as i64).max(1)
        )
    }
    fn name_of(&mut self, doctype: &str) -> String {
        match doctype {
            "Sales Invoice" => self.invoice(),
            "Customer" => self.customer(),
            "Employee" => self.employee(),
            "Item" => self.item(),
            "Supplier" => self.supplier(),
            _ => self.gl_entry(),
        }
    }

    /// A form opened in the desk.
    fn form_read(&mut self, doctype: &str, name: &str) -> Event {
        let actor = self.actor(format!("GET /app/{}/{}", slug(doctype), url(name)));
        let mut e = Event::read(actor, doctype, Some(name));
        e.row_count = Some(1);
        let bytes = self.d.range(14_000, 48_000);
        self.sent(e, bytes)
    }

    /// A list view's page, filtered or not, as `ListRead::describe` records it.
    fn list_read(&mut self, doctype: &str) -> Event {
        let actor = self.actor(format!("GET /app/{}", slug(doctype)));
        let mut e = Event::read(actor, doctype, None);
        let conditions = self.list_conditions(doctype);
        let limit = *self.d.pick(&[20u64, 20, 20, 20, 50, 100]);
        let rows = if self.d.chance(0.7) {
            limit
        } else {
            self.d.range(1, limit)
        };
        let first = self.name_of(doctype);
        let last = self.name_of(doctype);
        let mut recorded = serde_json::Map::new();
        if !conditions.is_empty() {
            recorded.insert("filters".into(), Value::Array(conditions));
        }
        recorded.insert("order_by".into(), json!("modified desc"));
        recorded.insert("start".into(), json!(0));
        recorded.insert("limit".into(), json!(limit));
        recorded.insert("first".into(), json!(first));
        recorded.insert("last".into(), json!(last));
        e.filters = Some(CanonicalJson::from_value(&Value::Object(recorded)));
        e.columns = Some(CanonicalJson::from_value(&json!(list_fields(doctype))));
        e.row_count = Some(rows);
        let bytes = 9_000 + rows * self.d.range(300, 700);
        self.sent(e, bytes)
    }

    /// Frappe-style list conditions: `[[doctype, field, op, value]]`, sometimes none.
    fn list_conditions(&mut self, doctype: &str) -> Vec<Value> {
        if self.d.chance(0.35) {
            return Vec::new();
        }
        let c = match doctype {
            "Sales Invoice" => {
                if self.d.chance(0.5) {
                    json!([
                        doctype,
                        "status",
                        "=",
                        *self.d.pick(&["Unpaid", "Overdue", "Paid"])
                    ])
                } else {
                    json!([doctype, "customer", "=", self.customer()])
                }
            }
            "Customer" => json!([doctype, "territory", "=", *self.d.pick(&TERRITORIES)]),
            "Employee" => json!([doctype, "department", "=", *self.d.pick(&DEPARTMENTS)]),
            "Item" => json!([doctype, "item_group", "=", *self.d.pick(&ITEM_GROUPS)]),
            "Supplier" => json!([
                doctype,
                "supplier_group",
                "=",
                *self.d.pick(&["Raw Material", "Services", "Hardware"])
            ]),
            _ => json!([doctype, "posting_date", ">=", self.month_start(1)]),
        };
        vec![c]
    }

    /// The first of this month, or of `back` months before.
    fn month_start(&self, back: i64) -> String {
        month_bounds(self.epoch_day - back * 30).0
    }

    /// A report's filters as its run applies them.
    fn report_filters(&mut self, r: &Report) -> Value {
        let back = if self.d.chance(0.7) { 0 } else { 1 };
        let (from, to) = month_bounds(self.epoch_day - back * 30);
        match r.name {
            "General Ledger" => {
                let mut f = json!({"from_date": from, "to_date": to});
                if self.d.chance(0.5) {
                    f["account"] = json!(*self.d.pick(&ACCOUNTS));
                } else if self.d.chance(0.3) {
                    f["party"] = json!(self.customer());
                }
                f
            }
            "Sales Register" => {
                let mut f = json!({"from_date": from, "to_date": to});
                if self.d.chance(0.4) {
                    f["customer"] = json!(self.customer());
                } else if self.d.chance(0.4) {
                    f["status"] = json!(*self.d.pick(&["Unpaid", "Paid", "Overdue"]));
                }
                f
            }
            "Accounts Receivable" => {
                if self.d.chance(0.5) {
                    json!({"customer": self.customer()})
                } else {
                    json!({"due_before": self.today()})
                }
            }
            _ => json!({"department": *self.d.pick(&DEPARTMENTS)}),
        }
    }

    /// Rows of a filtered export or report: tens to hundreds, rarely a larger filtered
    /// one, and never past the day's cap.
    fn rows(&mut self, median: f64) -> u64 {
        let mut rows = self.d.log_normal(median, 0.8).clamp(3.0, 900.0) as u64;
        if self.d.chance(0.03) {
            rows = self.d.range(1_000, 2_400);
        }
        let room = QUIET_DAILY_ROWS_CAP.saturating_sub(self.rows_today);
        if rows > room {
            rows = (room / 2).max(3).min(rows);
        }
        rows
    }

    /// A report page viewed (a read of its rows).
    fn report_view(&mut self, r: &Report) -> Event {
        let actor = self.actor(format!("GET /app/query-report/{}", url(r.name)));
        let mut e = Event::read(actor, r.doctype, None);
        e.report_name = Some(r.name.to_owned());
        let filters = self.report_filters(r);
        let total = self.d.log_normal(90.0, 0.9).clamp(1.0, 3_000.0) as u64;
        let shown = total.min(100);
        e.filters = Some(CanonicalJson::from_value(&json!({
            "filters": filters, "start": 0, "limit": 100, "total": total
        })));
        e.columns = Some(CanonicalJson::from_value(&json!(r.columns)));
        e.row_count = Some(shown);
        let bytes = 12_000 + shown * self.d.range(150, 260);
        self.sent(e, bytes)
    }

    fn print_doc(&mut self, doctype: &str, name: &str) -> Event {
        let pdf = self.d.chance(0.4);
        let method = if pdf {
            "GET /api/method/frappe.utils.print_format.download_pdf"
        } else {
            "GET /printview"
        };
        let format = if doctype == "Sales Invoice" && self.d.chance(0.5) {
            "Classic"
        } else {
            "Standard"
        };
        let actor = self.actor(method.to_owned());
        let mut e = Event::print(actor, Activity::Print, doctype, name, format);
        e.file_type = Some(if pdf { "PDF" } else { "HTML" }.to_owned());
        let bytes = if pdf {
            self.d.range(38_000, 160_000)
        } else {
            self.d.range(9_000, 40_000)
        };
        self.sent(e, bytes)
    }

    fn raw_print(&mut self, name: &str) -> Event {
        let (printer, addr) = *self.d.pick(&PRINTERS);
        let actor = self.actor(format!(
            "POST /api/raw-print to printer {printer:?} ({addr})"
        ));
        let mut e = Event::print(
            actor,
            Activity::RawPrint,
            "Sales Invoice",
            name,
            "Shipping Label",
        );
        e.file_type = Some("RAW".to_owned());
        e.page = Some(format!(
            "^XA^CF0,40^FO40,40^FD{name}^FS^FO40,100^BCN,80^FD{name}^FS^XZ"
        ));
        if self.d.chance(0.02) {
            e.outcome = Outcome::Failed;
            e.reason = Some(format!(
                "The printer {printer} at {addr} did not answer. Nothing was printed."
            ));
            return e;
        }
        let bytes = e.page.as_ref().map_or(0, |p| p.len() as u64);
        self.sent(e, bytes)
    }

    fn report_print(&mut self, r: &Report) -> Event {
        let pdf = self.d.chance(0.6);
        let actor = self.actor(format!(
            "GET /app/query-report/{}/{}",
            url(r.name),
            if pdf { "pdf" } else { "print" }
        ));
        let mut e = Event::report_print(actor, r.name, if pdf { "PDF" } else { "HTML" });
        e.export_from = Some(r.doctype.to_owned());
        let filters = self.report_filters(r);
        e.filters = Some(CanonicalJson::from_value(&filters));
        e.columns = Some(CanonicalJson::from_value(&json!(r.columns)));
        let rows = self.rows(60.0).min(500);
        e.row_count = Some(rows);
        let bytes = 20_000 + rows * if pdf { 420 } else { 180 };
        self.sent(e, bytes)
    }

    fn export_report(&mut self, r: &Report, filters: Value, rows: u64) -> Event {
        let xlsx = self.d.chance(0.35);
        let actor = self.actor("POST /api/method/frappe.desk.query_report.export_query".to_owned());
        let mut e = Event::export(actor, if xlsx { "XLSX" } else { "CSV" });
        e.report_name = Some(r.name.to_owned());
        e.export_from = Some(r.doctype.to_owned());
        e.filters = Some(CanonicalJson::from_value(&filters));
        e.columns = Some(CanonicalJson::from_value(&json!(r.columns)));
        e.row_count = Some(rows);
        let per_row = self.d.range(70, 140);
        let bytes = if xlsx {
            6_500 + rows * per_row / 2
        } else {
            200 + rows * per_row
        };
        self.sent(e, bytes)
    }

    fn export_list(&mut self, doctype: &str, conditions: Value, rows: u64) -> Event {
        let xlsx = self.d.chance(0.3);
        let actor = self.actor("POST /api/method/frappe.desk.reportview.export_query".to_owned());
        let mut e = Event::export(actor, if xlsx { "XLSX" } else { "CSV" });
        e.export_from = Some(doctype.to_owned());
        e.filters = Some(CanonicalJson::from_value(&conditions));
        e.columns = Some(CanonicalJson::from_value(&json!(list_fields(doctype))));
        e.row_count = Some(rows);
        let per_row = self.d.range(50, 110);
        let bytes = if xlsx {
            6_000 + rows * per_row / 2
        } else {
            100 + rows * per_row
        };
        self.sent(e, bytes)
    }

    /// A filtered list export (never without conditions in the quiet corpus).
    fn filtered_list_export(&mut self, doctype: &str, median: f64) -> Event {
        let mut conditions = self.list_conditions(doctype);
        if conditions.is_empty() {
            conditions = vec![json!([doctype, "modified", ">=", self.month_start(2)])];
        }
        let rows = self.rows(median);
        self.export_list(doctype, Value::Array(conditions), rows)
    }

    fn file_download(&mut self, file_name: &str, private: bool) -> Event {
        let method = if private {
            format!("GET /private/files/{}", url(file_name))
        } else {
            format!("GET /api/file/{}", self.d.hex(5))
        };
        let actor = self.actor(method);
        let mut e = Event::file_download(actor, file_name);
        e.file_type = accesslog_core::entry::file_type_of(file_name);
        let bytes = self.d.range(18_000, 900_000);
        self.sent(e, bytes)
    }

    fn backup(&mut self) -> Event {
        let (y, m, dd) = civil(self.epoch_day);
        let file = format!(
            "backup-{y:04}{m:02}{dd:02}-{:02}{:02}00.sqlite3",
            self.d.range(2, 4),
            self.d.range(0, 59)
        );
        let actor = self.actor(format!("GET /app/backups/{file}"));
        let e = Event::backup_download(actor, &file);
        let bytes = self.d.range(180_000_000, 260_000_000);
        self.sent(e, bytes)
    }

    fn log_review(&mut self) -> Event {
        let dashboard = self.d.chance(0.3);
        let actor = self.actor(
            if dashboard {
                "GET /app/access-log/dashboard"
            } else {
                "GET /app/access-log"
            }
            .to_owned(),
        );
        let mut e = Event::log_access(actor, Activity::Read, dashboard.then_some("dashboard"));
        if !dashboard {
            e.row_count = Some(50);
        }
        let bytes = self.d.range(20_000, 90_000);
        self.sent(e, bytes)
    }

    /// A refusal, as `Audit::deny` records it: nothing sent, the error as the reason.
    fn refusal(&mut self) -> Event {
        let (doctype, what) = match self.kind {
            Kind::Sales => (*self.d.pick(&["GL Entry", "Employee", "Supplier"]), "read"),
            Kind::Accounts => ("Employee", "read"),
            Kind::Hr => (*self.d.pick(&["Sales Invoice", "GL Entry"]), "read"),
            Kind::Stock | Kind::Purchasing => {
                (*self.d.pick(&["Sales Invoice", "Customer"]), "export")
            }
            Kind::It | Kind::Other => ("Employee", "export"),
        };
        let mut e = if what == "read" {
            let actor = self.actor(format!("GET /app/{}", slug(doctype)));
            Event::read(actor, doctype, None)
        } else {
            let actor =
                self.actor("POST /api/method/frappe.desk.reportview.export_query".to_owned());
            let mut e = Event::export(actor, "CSV");
            e.export_from = Some(doctype.to_owned());
            e
        };
        e.outcome = Outcome::Denied;
        e.reason = Some(format!("You do not have permission to {what} {doctype}."));
        e
    }

    /// One task: a few entries, to be spaced seconds apart ([`Day::pause`]).
    fn task(&mut self, out: &mut Vec<Event>) {
        match self.kind {
            Kind::Sales => self.sales_task(out),
            Kind::Accounts => self.accounts_task(out),
            Kind::Hr => self.hr_task(out),
            Kind::Stock | Kind::Purchasing => self.stock_task(out),
            Kind::It => self.it_task(out),
            Kind::Other => self.browse(out, "Item", 2),
        }
    }

    /// The time between two entries of a task: 4 to 100 seconds.
    fn pause(&mut self) -> i64 {
        self.d.range(4, 100) as i64 * SEC + self.d.below(1_000_000) as i64
    }

    /// A list page, then up to `docs` of its documents.
    fn browse(&mut self, out: &mut Vec<Event>, doctype: &str, docs: u64) {
        if self.d.chance(0.6) {
            out.push(self.list_read(doctype));
        }
        for _ in 0..self.d.range(1, docs) {
            let name = self.name_of(doctype);
            out.push(self.form_read(doctype, &name));
        }
    }

    fn open_and_print(&mut self, out: &mut Vec<Event>, doctype: &str) {
        let name = self.name_of(doctype);
        out.push(self.form_read(doctype, &name));
        out.push(self.print_doc(doctype, &name));
    }

    fn sales_task(&mut self, out: &mut Vec<Event>) {
        let m = if self.manager { 3.0 } else { 1.0 };
        let weights = [
            30.0,
            20.0,
            12.0,
            10.0,
            5.0 * m,
            1.5 * m,
            2.0 * m,
            0.7,
            3.0,
            1.5,
            1.5 * m,
        ];
        match self.d.weighted(&weights) {
            0 => self.browse(out, "Sales Invoice", 3),
            1 => self.browse(out, "Customer", 2),
            2 => self.open_and_print(out, "Sales Invoice"),
            3 => self.browse(out, "Item", 2),
            4 => out.push(self.report_view(&SALES_REGISTER)),
            5 => out.push(self.report_print(&SALES_REGISTER)),
            6 => {
                let f = self.report_filters(&SALES_REGISTER);
                let rows = self.rows(80.0);
                out.push(self.report_view(&SALES_REGISTER));
                out.push(self.export_report(&SALES_REGISTER, f, rows));
            }
            7 => out.push(self.filtered_list_export("Customer", 40.0)),
            8 => {
                let name = self.invoice();
                out.push(self.form_read("Sales Invoice", &name));
                out.push(self.raw_print(&name));
            }
            9 => {
                let file = if self.d.chance(0.5) {
                    "price-list.txt"
                } else {
                    "catalogue.txt"
                };
                out.push(self.file_download(file, false));
            }
            _ => out.push(self.report_view(&ACCOUNTS_RECEIVABLE)),
        }
    }

    fn accounts_task(&mut self, out: &mut Vec<Event>) {
        let m = if self.manager { 2.5 } else { 1.0 };
        let weights = [
            22.0,
            10.0,
            4.0,
            12.0 * m,
            8.0 * m,
            8.0,
            4.0 * m,
            2.0 * m,
            1.5 * m,
            1.5 * m,
            6.0,
            4.0,
            0.5,
        ];
        match self.d.weighted(&weights) {
            0 => self.browse(out, "Sales Invoice", 3),
            1 => out.push(self.list_read("GL Entry")),
            2 => {
                let name = self.gl_entry();
                out.push(self.form_read("GL Entry", &name));
            }
            3 => out.push(self.report_view(&GENERAL_LEDGER)),
            4 => out.push(self.report_view(&ACCOUNTS_RECEIVABLE)),
            5 => self.open_and_print(out, "Sales Invoice"),
            6 => {
                let f = self.report_filters(&GENERAL_LEDGER);
                let rows = self.rows(180.0);
                out.push(self.report_view(&GENERAL_LEDGER));
                out.push(self.export_report(&GENERAL_LEDGER, f, rows));
            }
            7 => {
                let f = self.report_filters(&ACCOUNTS_RECEIVABLE);
                let rows = self.rows(70.0);
                out.push(self.export_report(&ACCOUNTS_RECEIVABLE, f, rows));
            }
            8 => out.push(self.report_print(&GENERAL_LEDGER)),
            9 => out.push(self.report_print(&ACCOUNTS_RECEIVABLE)),
            10 => self.browse(out, "Customer", 2),
            11 => self.browse(out, "Supplier", 1),
            _ => out.push(self.filtered_list_export("Supplier", 15.0)),
        }
    }

    fn hr_task(&mut self, out: &mut Vec<Event>) {
        // Payroll runs in the last week of a month: the register is viewed then, and a
        // manager prints or exports it once in a while. Taking Employee data out is rare
        // (R5 counts it as sensitive on the demo site): the quiet corpus keeps it to
        // about one HR person-day in a hundred.
        let (_, _, dom) = civil(self.epoch_day);
        let payroll = dom >= 24;
        let m = if self.manager { 1.0 } else { 0.0 };
        let p = if payroll { 1.0 } else { 0.0 };
        let weights = [
            45.0,
            3.0 + 6.0 * p,
            0.03,
            6.0,
            0.12 * m * p,
            0.12 * m * p,
            0.03 * m,
            3.0,
        ];
        match self.d.weighted(&weights) {
            0 => self.browse(out, "Employee", 3),
            1 => out.push(self.report_view(&SALARY_REGISTER)),
            2 => self.open_and_print(out, "Employee"),
            3 => {
                let id = self.employee();
                out.push(self.form_read("Employee", &id));
                out.push(self.file_download(&format!("contract-{id}.pdf"), true));
            }
            4 => out.push(self.report_print(&SALARY_REGISTER)),
            5 => {
                let f = self.report_filters(&SALARY_REGISTER);
                let rows = self.d.range(8, 60);
                out.push(self.report_view(&SALARY_REGISTER));
                out.push(self.export_report(&SALARY_REGISTER, f, rows));
            }
            6 => out.push(self.filtered_list_export("Employee", 25.0)),
            _ => self.browse(out, "Employee", 1),
        }
    }

    fn stock_task(&mut self, out: &mut Vec<Event>) {
        let purchasing = self.kind == Kind::Purchasing;
        let s = if purchasing { 3.0 } else { 1.0 };
        let weights = [45.0, 12.0 * s, 3.0, 1.0 * s, 6.0 / s, 2.0, 1.5 * s];
        match self.d.weighted(&weights) {
            0 => self.browse(out, "Item", 3),
            1 => self.browse(out, "Supplier", 2),
            2 => out.push(self.filtered_list_export("Item", 60.0)),
            3 => out.push(self.filtered_list_export("Supplier", 12.0)),
            4 => {
                let name = self.invoice();
                out.push(self.raw_print(&name));
            }
            5 => out.push(self.file_download("catalogue.txt", false)),
            _ => {
                let supplier = self.supplier().replace(' ', "-").to_ascii_lowercase();
                let n = self.d.range(100, 999);
                out.push(self.file_download(&format!("quotation-{supplier}-{n}.pdf"), true));
            }
        }
    }

    fn it_task(&mut self, out: &mut Vec<Event>) {
        let weights = [14.0, 8.0, 6.0, 6.0, 4.0, 1.0, 0.01];
        match self.d.weighted(&weights) {
            0 => out.push(self.log_review()),
            1 => self.browse(out, "Item", 2),
            2 => self.browse(out, "Customer", 1),
            3 => self.browse(out, "Sales Invoice", 2),
            4 => self.browse(out, "Supplier", 1),
            5 => out.push(self.filtered_list_export("Item", 30.0)),
            _ => out.push(self.backup()),
        }
    }
}

/// Whether `p` works on weekday `wd` (Monday = 0), before absences and holidays.
fn works_on(p: &Person, wd: u8) -> bool {
    if p.works_weekends { wd >= 2 } else { wd < 5 }
}

/// One person's quiet history.
fn person_events(
    cfg: &CorpusConfig,
    index: usize,
    p: &Person,
    holidays: &[i64],
) -> Vec<(Timestamp, Event)> {
    let mut d = Draw::stream(cfg.seed, 1 + index as u64);
    let days = i64::from(cfg.days);
    let start = cfg.start.as_micros();
    let offset = i64::from(cfg.utc_offset_minutes) * MIN;
    let epoch0 = start.div_euclid(DAY);
    // Vacations: none, one or two working weeks.
    let mut off = vec![false; cfg.days as usize];
    let vacations = d.weighted(&[0.4, 0.45, 0.15]);
    for _ in 0..vacations {
        let first = d.below(cfg.days.max(1) as u64) as usize;
        for day in off.iter_mut().skip(first).take(7) {
            *day = true;
        }
    }
    let first_day = p
        .joined_at
        .map_or(0, |j| (j.as_micros() - start).div_euclid(DAY).max(0));
    let mut out = Vec::with_capacity((f64::from(cfg.days) * 20.0 * p.volume) as usize);
    let mut buf: Vec<Event> = Vec::with_capacity(8);
    let mut last = i64::MIN;
    let kind = kind_of(&p.roles);
    for day in first_day..days {
        let local_midnight = start + day * DAY - offset;
        if p.disabled_at
            .is_some_and(|t| t.as_micros() <= local_midnight)
        {
            break;
        }
        let epoch_day = epoch0 + day;
        let wd = weekday(epoch_day);
        let sick = d.chance(0.025);
        if !works_on(p, wd) || holidays.contains(&day) || off[day as usize] || sick {
            continue;
        }
        let home = p.home_weekday == Some(wd);
        let ip = match (&p.home_ip_prefix, home) {
            (Some(prefix), true) => format!("{prefix}.{}", 2 + p.ip_host % 250),
            _ => p.office_ip(),
        };
        let mut g = Day {
            d: Draw::stream(cfg.seed, (1 + index as u64) << 20 | day as u64),
            kind,
            manager: is_manager(&p.roles),
            day,
            epoch_day,
            who: who(p, ip),
            rows_today: 0,
        };
        // The weekly cycle: busy Mondays, light Fridays; weekends lighter still.
        let cycle = [1.1, 1.05, 1.0, 0.97, 0.85, 0.7, 0.6][usize::from(wd)];
        let target = BASE_ENTRIES_PER_DAY * p.volume * cycle * d.log_normal(1.0, 0.3);
        let target = target.round().max(2.0) as usize;
        // The working day, in µs after local midnight.
        // Kept within 07:05–19:40, so nobody's egress is outside Mon–Fri 07–20 (R7's
        // cold start) except weekend workers' on their weekends.
        let begin = (i64::from(p.work_start_hour) * HOUR + (d.normal() * 12.0) as i64 * MIN)
            .clamp(7 * HOUR + 5 * MIN, 12 * HOUR);
        let mut end = (i64::from(p.work_end_hour) * HOUR + (5.0 + d.normal() * 20.0) as i64 * MIN)
            .clamp(14 * HOUR, 19 * HOUR + 40 * MIN);
        let relieving_day = p
            .relieving_date
            .is_some_and(|r| (r.as_micros() - start).div_euclid(DAY) == day);
        if relieving_day {
            end = end.min(15 * HOUR);
        }
        // The tasks' start times, drawn and sorted (the lunch dip: most drawn at lunch
        // move to the afternoon). One task at a time: a task drawn while the last is
        // still going starts when that one ends. Made in time order, the day needs no
        // sorting.
        let tasks = (target as f64 / AVERAGE_TASK_ENTRIES).round().max(1.0) as usize;
        let span = (end - begin).max(HOUR) as u64;
        let mut starts: Vec<i64> = (0..tasks)
            .map(|_| {
                let mut at = begin + g.d.below(span) as i64;
                if (12 * HOUR..13 * HOUR).contains(&at) && g.d.chance(0.7) {
                    at += HOUR;
                }
                at.min(end - 10 * MIN)
            })
            .collect();
        starts.sort_unstable();
        // One refusal on about one working day in fifty.
        let mut refusal_at = g.d.chance(0.02).then(|| begin + g.d.below(span) as i64);
        let disabled = p.disabled_at.map_or(i64::MAX, Timestamp::as_micros);
        // Local µs after midnight: when the person is free again.
        let mut free = i64::MIN;
        let mut emit = |t: i64, e: Event| {
            // Never two entries of one person in the same microsecond.
            let t = (local_midnight + t).max(last + 1);
            last = t;
            if t < disabled {
                out.push((Timestamp::from_micros(t), e));
            }
        };
        for start in starts {
            if let Some(r) = refusal_at.filter(|r| *r <= start) {
                let e = g.refusal();
                emit(r.max(free), e);
                refusal_at = None;
            }
            let mut t = start.max(free);
            buf.clear();
            g.task(&mut buf);
            for e in buf.drain(..) {
                emit(t, e);
                t += g.pause();
            }
            free = t;
        }
        if let Some(r) = refusal_at {
            let e = g.refusal();
            emit(r.max(free), e);
        }
        // Now and then a short evening look from home or VPN: reads only.
        if g.d.chance(0.02) {
            let mut at = (20 * HOUR + g.d.below(90 * MIN as u64) as i64).max(free);
            for _ in 0..g.d.range(2, 5) {
                let doctype = match kind {
                    Kind::Hr => "Employee",
                    Kind::Stock | Kind::Purchasing => "Item",
                    _ => "Sales Invoice",
                };
                let name = g.name_of(doctype);
                let e = g.form_read(doctype, &name);
                emit(at, e);
                at += g.d.range(20, 240) as i64 * SEC;
            }
        }
    }
    out
}

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

// ----------------------------------------------------------------------------------------
// Scenarios.

/// An injected incident: the rule it is for, whose it is, its events and its last one's
/// time (a rule should fire within one evaluation interval of it).
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub rule: &'static str,
    /// What it is, in a few words.
    pub name: &'static str,
    pub user: String,
    pub events: Vec<(Timestamp, Event)>,
    pub last_at: Timestamp,
}

/// The `nth` steady member (not a joiner or leaver) of the group with these roles, or
/// any steady person, or a made-up one.
fn member(corpus: &Corpus, roles: &[&str], nth: usize) -> Person {
    let mut want: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    want.sort();
    let steady = |p: &&Person| p.joined_at.is_none() && p.relieving_date.is_none();
    corpus
        .people
        .iter()
        .filter(|p| p.roles == want)
        .filter(steady)
        .nth(nth)
        .or_else(|| corpus.people.iter().find(steady))
        .cloned()
        .unwrap_or_else(|| Person::with_roles("someone@example.com", roles))
}

/// A `Day` writer for a scenario: `p` on the day of `at`, from their office.
fn writer(corpus: &Corpus, p: &Person, at: Timestamp, stream: u64) -> Day {
    let (epoch_day, ..) = corpus.local(at);
    Day {
        d: Draw::stream(corpus.seed ^ 0x5ce7_a210, stream),
        kind: kind_of(&p.roles),
        manager: is_manager(&p.roles),
        day: corpus.day_of(at),
        epoch_day,
        who: who(p, p.office_ip()),
        rows_today: 0,
    }
}

fn scenario(
    rule: &'static str,
    name: &'static str,
    user: &str,
    events: Vec<(Timestamp, Event)>,
) -> Scenario {
    let last_at = events
        .iter()
        .map(|(t, _)| *t)
        .max()
        .unwrap_or(Timestamp::from_micros(0));
    Scenario {
        rule,
        name,
        user: user.to_owned(),
        events,
        last_at,
    }
}

fn plus(t: Timestamp, micros: i64) -> Timestamp {
    Timestamp::from_micros(t.as_micros() + micros)
}

/// R1: an Accounts User prints and downloads 26 invoices in about six minutes.
pub fn r1_burst(corpus: &Corpus, at: Timestamp) -> Scenario {
    let p = member(corpus, &["Accounts User"], 0);
    let mut w = writer(corpus, &p, at, 1);
    let mut events = Vec::new();
    let mut t = at;
    for _ in 0..26 {
        let name = w.invoice();
        let mut e = w.print_doc("Sales Invoice", &name);
        e.method = "GET /api/method/frappe.utils.print_format.download_pdf".to_owned();
        e.file_type = Some("PDF".to_owned());
        events.push((t, e));
        t = plus(t, w.d.range(8, 20) as i64 * SEC);
    }
    scenario("R1", "26 invoice PDFs in six minutes", &p.email, events)
}

/// R2: an Accounts User exports 40,000 filtered ledger rows over one working day (20
/// exports of ~2,000 rows, 20 minutes apart) when they usually take out a few hundred.
pub fn r2_volume(corpus: &Corpus, at: Timestamp) -> Scenario {
    let p = member(corpus, &["Accounts User"], 1);
    let mut w = writer(corpus, &p, at, 2);
    let mut events = Vec::new();
    for i in 0..20 {
        let account = ACCOUNTS[i % ACCOUNTS.len()];
        let (from, to) = month_bounds(w.epoch_day - 30 * (i as i64 / 8));
        let f = json!({"from_date": from, "to_date": to, "account": account});
        let rows = w.d.range(1_900, 2_100);
        let e = w.export_report(&GENERAL_LEDGER, f, rows);
        events.push((
            plus(at, i as i64 * 20 * MIN + w.d.below(60) as i64 * SEC),
            e,
        ));
    }
    scenario("R2", "40,000 ledger rows in one day", &p.email, events)
}

/// R3: a Sales User exports ~4,300 filtered invoice rows on each working day of the
/// seven days from `at` (five exports of ~860; about 21,500 in the week), no day extreme
/// on its own (each under R2's 5,000-row floor with their usual exports added), nothing
/// at the weekend.
pub fn r3_slow_drip(corpus: &Corpus, at: Timestamp) -> Scenario {
    let p = member(corpus, &["Sales User"], 1);
    let mut w = writer(corpus, &p, at, 3);
    let mut events = Vec::new();
    for day in 0..7 {
        let t0 = plus(at, day * DAY);
        if corpus.local(t0).1 >= 5 {
            continue;
        }
        for k in 0..5 {
            let t = plus(t0, k * 80 * MIN + w.d.below(600) as i64 * SEC);
            let territory = TERRITORIES[((day * 5 + k) % 6) as usize];
            let conditions = json!([["Sales Invoice", "territory", "=", territory]]);
            let rows = w.d.range(820, 900);
            events.push((t, w.export_list("Sales Invoice", conditions, rows)));
        }
    }
    scenario(
        "R3",
        "21,500 rows over a week, ~4,300 a working day",
        &p.email,
        events,
    )
}

/// R4: an Accounts Manager exports the whole General Ledger list, no filters.
pub fn r4_unfiltered(corpus: &Corpus, at: Timestamp) -> Scenario {
    let p = member(corpus, &["Accounts Manager", "Accounts User"], 0);
    let mut w = writer(corpus, &p, at, 4);
    let list = w.list_read("GL Entry");
    let export = w.export_list("GL Entry", json!([]), 18_240);
    scenario(
        "R4",
        "the GL Entry list exported with no filters",
        &p.email,
        vec![(at, list), (plus(at, 40 * SEC), export)],
    )
}

/// R5: an HR Manager exports the Salary Register for every department and the Employee
/// list.
pub fn r5_sensitive(corpus: &Corpus, at: Timestamp) -> Scenario {
    let p = member(corpus, &["HR Manager", "HR User"], 0);
    let mut w = writer(corpus, &p, at, 5);
    let view = w.report_view(&SALARY_REGISTER);
    let register = w.export_report(&SALARY_REGISTER, json!({"department": "Management"}), 34);
    let conditions = json!([["Employee", "status", "=", "Active"]]);
    let list = w.export_list("Employee", conditions, 212);
    scenario(
        "R5",
        "Salary Register and Employee list exported",
        &p.email,
        vec![
            (at, view),
            (plus(at, 50 * SEC), register),
            (plus(at, 4 * MIN), list),
        ],
    )
}

/// R5: a System Manager downloads a backup of the database.
pub fn r5_backup(corpus: &Corpus, at: Timestamp) -> Scenario {
    let p = member(corpus, &[accesslog_core::SYSTEM_MANAGER], 0);
    let mut w = writer(corpus, &p, at, 6);
    let review = w.log_review();
    let backup = w.backup();
    scenario(
        "R5",
        "a backup downloaded",
        &p.email,
        vec![(at, review), (plus(at, 2 * MIN), backup)],
    )
}

/// R6: a Sales User exports the Salary Register, which neither they nor any Sales User
/// has touched (their role set is kept as recorded for the group; on the demo site the
/// server would refuse it, so read it as a report opened to them by mistake).
pub fn r6_first_time(corpus: &Corpus, at: Timestamp) -> Scenario {
    let p = member(corpus, &["Sales User"], 0);
    let mut w = writer(corpus, &p, at, 7);
    let view = w.report_view(&SALARY_REGISTER);
    let export = w.export_report(&SALARY_REGISTER, json!({"department": "Sales"}), 41);
    scenario(
        "R6",
        "a Sales User exports the Salary Register",
        &p.email,
        vec![(at, view), (plus(at, 70 * SEC), export)],
    )
}

/// R7: a 9-to-5 Purchase User (Stock User if none) takes out supplier and item data
/// between 02:00 and 04:00 local on the first Sunday at or after `at`.
pub fn r7_off_hours(corpus: &Corpus, at: Timestamp) -> Scenario {
    let nine_to_five = |p: &&Person| {
        p.work_start_hour == 9
            && p.work_end_hour == 17
            && !p.works_weekends
            && p.joined_at.is_none()
            && p.relieving_date.is_none()
    };
    let p = corpus
        .people
        .iter()
        .filter(|p| kind_of(&p.roles) == Kind::Purchasing)
        .find(nine_to_five)
        .or_else(|| corpus.people.iter().find(nine_to_five))
        .cloned()
        .unwrap_or_else(|| member(corpus, &["Stock User"], 0));
    let (_, wd, ..) = corpus.local(at);
    let sunday = corpus.day_of(at) + i64::from((6 + 7 - wd) % 7);
    let t0 = corpus.at_local(sunday, 2, 10);
    let mut w = writer(corpus, &p, t0, 8);
    let mut events = Vec::new();
    let mut t = t0;
    for i in 0..6 {
        let e = if i % 2 == 0 {
            w.filtered_list_export("Supplier", 40.0)
        } else {
            let name = w.supplier().replace(' ', "-").to_ascii_lowercase();
            w.file_download(&format!("quotation-{name}-{}.pdf", 300 + i), true)
        };
        events.push((t, e));
        t = plus(t, w.d.range(12, 22) as i64 * MIN);
    }
    scenario("R7", "egress on a Sunday at 02:00–04:00", &p.email, events)
}

/// R8: a Sales User is refused six times in nine minutes, on four document types.
pub fn r8_probing(corpus: &Corpus, at: Timestamp) -> Scenario {
    let p = member(corpus, &["Sales User"], 3);
    let mut w = writer(corpus, &p, at, 9);
    let tries: [(&str, &str, &str); 6] = [
        ("GL Entry", "read", "GET /app/gl-entry"),
        ("Employee", "read", "GET /app/employee"),
        ("Employee", "read", "GET /api/resource/Employee"),
        (
            "Supplier",
            "export",
            "POST /api/method/frappe.desk.reportview.export_query",
        ),
        (
            "GL Entry",
            "export",
            "POST /api/method/frappe.desk.reportview.export_query",
        ),
        (
            "Salary Register",
            "run the report",
            "GET /app/query-report/Salary%20Register",
        ),
    ];
    let mut events = Vec::new();
    for (i, (what, verb, method)) in tries.into_iter().enumerate() {
        let actor = w.actor(method.to_owned());
        let mut e = match verb {
            "export" => {
                let mut e = Event::export(actor, "CSV");
                e.export_from = Some(what.to_owned());
                e
            }
            "read" => Event::read(actor, what, None),
            _ => {
                let mut e = Event::read(actor, "Employee", None);
                e.report_name = Some(what.to_owned());
                e
            }
        };
        e.outcome = Outcome::Denied;
        e.reason = Some(format!("You do not have permission to {verb} {what}."));
        events.push((plus(at, i as i64 * 100 * SEC), e));
    }
    scenario(
        "R8",
        "six refusals on four types in nine minutes",
        &p.email,
        events,
    )
}

/// R9: a Sales User's account used from a new /24 by a script (`python-requests`),
/// reading customers page by page and exporting them.
pub fn r9_new_client(corpus: &Corpus, at: Timestamp) -> Scenario {
    let p = member(corpus, &["Sales User"], 2);
    let mut w = writer(corpus, &p, at, 10);
    w.who.ip = Some("185.220.101.47".to_owned());
    let mut events = Vec::new();
    for page in 0..4u64 {
        let actor = w.actor("GET /api/resource/Customer".to_owned());
        let mut e = Event::read(actor, "Customer", None);
        e.filters = Some(CanonicalJson::from_value(&json!({
            "start": page * 50, "limit": 50, "first": w.customer(), "last": w.customer()
        })));
        e.row_count = Some(50);
        let e = w.sent(e, 21_000);
        events.push((plus(at, page as i64 * 3 * SEC), e));
    }
    let conditions = json!([["Customer", "customer_group", "=", "Commercial"]]);
    let export = w.export_list("Customer", conditions, 120);
    events.push((plus(at, 20 * SEC), export));
    for (_, e) in &mut events {
        e.user_agent = Some("python-requests/2.31.0".to_owned());
        e.auth = Some("api_key:7f3c9a1e2b".to_owned());
    }
    scenario("R9", "a script from a new /24", &p.email, events)
}

/// The leavers, by relieving date.
fn leavers(corpus: &Corpus) -> Vec<&Person> {
    let mut l: Vec<&Person> = corpus
        .people
        .iter()
        .filter(|p| p.relieving_date.is_some() && p.disabled_at.is_some())
        .collect();
    l.sort_by_key(|p| p.relieving_date);
    l
}

/// R10: egress by a disabled user (through an API key that still works), the first
/// working day at or after `at` that is after their disabling; the leaver is the last
/// one disabled before `at` other than the corpus's last leaver (whom
/// [`r10_before_leaving`] takes), or the first one.
pub fn r10_after_disable(corpus: &Corpus, at: Timestamp) -> Scenario {
    let all = leavers(corpus);
    let others = &all[..all.len().saturating_sub(1)];
    let Some(p) = others
        .iter()
        .rev()
        .find(|p| p.disabled_at.is_some_and(|d| d < at))
        .or(all.first())
        .map(|p| (*p).clone())
    else {
        return scenario(
            "R10",
            "no leaver in this corpus",
            "nobody@example.com",
            Vec::new(),
        );
    };
    let disabled = p.disabled_at.unwrap_or(at);
    let from = if at > disabled {
        at
    } else {
        plus(disabled, DAY)
    };
    let mut day = corpus.day_of(from);
    while corpus.local(corpus.at_local(day, 12, 0)).1 >= 5 {
        day += 1;
    }
    let t0 = corpus.at_local(day, 10, 15).max(plus(disabled, HOUR));
    let mut w = writer(corpus, &p, t0, 11);
    let mut events = Vec::new();
    let doctype = match w.kind {
        Kind::Hr => "Employee",
        Kind::Stock | Kind::Purchasing => "Item",
        Kind::Accounts => "GL Entry",
        _ => "Customer",
    };
    events.push((t0, w.list_read(doctype)));
    let export = w.filtered_list_export(doctype, 150.0);
    events.push((plus(t0, 45 * SEC), export));
    for (_, e) in &mut events {
        e.auth = Some("api_key:3b81c07d55".to_owned());
    }
    scenario(
        "R10",
        "egress after the account was disabled",
        &p.email,
        events,
    )
}

/// R10: a leaver exports far more than usual in the weeks before their relieving date:
/// three working days of ~3,200 rows each, from 12 days before it. The leaver is the
/// corpus's last (by relieving date); `at` is not used, the date decides.
pub fn r10_before_leaving(corpus: &Corpus, _at: Timestamp) -> Scenario {
    let all = leavers(corpus);
    let Some(p) = all.last().map(|p| (*p).clone()) else {
        return scenario(
            "R10",
            "no leaver in this corpus",
            "nobody@example.com",
            Vec::new(),
        );
    };
    let relieving = p.relieving_date.map_or(0, |r| {
        (r.as_micros() - corpus.start.as_micros()).div_euclid(DAY)
    });
    let mut days = Vec::new();
    let mut day = relieving - 12;
    while days.len() < 3 && day < relieving {
        let wd = corpus.local(corpus.at_local(day, 12, 0)).1;
        if wd < 5 {
            days.push(day);
        }
        day += 2;
    }
    let mut w = writer(corpus, &p, corpus.at_local(relieving - 12, 9, 0), 12);
    let doctype = match w.kind {
        Kind::Hr => "Employee",
        Kind::Stock | Kind::Purchasing => "Item",
        Kind::Accounts => "GL Entry",
        _ => "Customer",
    };
    let mut events = Vec::new();
    for day in days {
        w.day = day;
        for k in 0..4 {
            let t = corpus.at_local(day, 10 + 2 * k as u8, w.d.range(0, 50) as u8);
            let conditions = json!([[doctype, "modified", ">=", format!("20{:02}-01-01", 20 + k)]]);
            let rows = w.d.range(750, 850);
            events.push((t, w.export_list(doctype, conditions, rows)));
        }
    }
    scenario(
        "R10",
        "heavy exports in the weeks before leaving",
        &p.email,
        events,
    )
}

/// Every scenario, spaced apart on working days from `start` (local midnight of a
/// corpus day, at least 17 days before the corpus ends, e.g. three weeks before), each
/// by a different user in a corpus of the default groups' sizes. The R10 pair is placed
/// by the leavers' dates: the corpus's last leaver exports heavily in the 12 days before
/// leaving, and the one before them acts after being disabled.
pub fn all_scenarios(corpus: &Corpus, start: Timestamp) -> Vec<Scenario> {
    let first = corpus.day_of(start);
    // The working days from `first`, at a local hour.
    let mut workdays = Vec::new();
    let mut day = first;
    while workdays.len() < 12 {
        if corpus.local(corpus.at_local(day, 12, 0)).1 < 5 {
            workdays.push(day);
        }
        day += 1;
    }
    let at = |i: usize, hour: u8, minute: u8| corpus.at_local(workdays[i], hour, minute);
    vec![
        r1_burst(corpus, at(0, 10, 30)),
        r2_volume(corpus, at(1, 9, 20)),
        r3_slow_drip(corpus, at(2, 9, 40)),
        r4_unfiltered(corpus, at(3, 14, 5)),
        r5_sensitive(corpus, at(4, 11, 10)),
        r5_backup(corpus, at(5, 16, 45)),
        r6_first_time(corpus, at(6, 15, 0)),
        r7_off_hours(corpus, at(6, 12, 0)),
        r8_probing(corpus, at(8, 16, 0)),
        r9_new_client(corpus, at(9, 13, 30)),
        r10_after_disable(corpus, at(10, 10, 0)),
        r10_before_leaving(corpus, at(0, 9, 0)),
    ]
}

/// Per (user, local day): the rows a person took out (granted, non-read entries).
pub fn daily_rows(corpus: &Corpus, events: &[(Timestamp, Event)]) -> BTreeMap<(String, i64), u64> {
    let mut out = BTreeMap::new();
    for (t, e) in events {
        if e.outcome == Outcome::Granted && e.activity != Activity::Read {
            *out.entry((e.user.clone(), corpus.day_of(*t))).or_insert(0) +=
                e.row_count.unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap, HashSet};
    use std::sync::OnceLock;

    use accesslog_core::entry::Entry;

    use super::super::baseline;
    use super::super::content::{R4_UNFILTERED, Sensitive, unfiltered};
    use super::super::window::{Hit, R1_BURST, R8_PROBING, WindowDetector, WindowRule};
    use super::*;

    /// 2026-09-01 00:00 UTC, a Tuesday.
    const START: Timestamp = Timestamp::from_micros(1_788_220_800_000_000);

    fn config() -> CorpusConfig {
        CorpusConfig {
            utc_offset_minutes: 60,
            ..CorpusConfig::standard(17, START)
        }
    }

    /// The 200 × 90 corpus, made once for every test here.
    fn quiet() -> &'static Corpus {
        static CORPUS: OnceLock<Corpus> = OnceLock::new();
        CORPUS.get_or_init(|| {
            #[allow(clippy::disallowed_methods)]
            let began = std::time::Instant::now();
            let c = generate(&config());
            println!(
                "generated {} events for {} people over {} days in {:?} (a debug build unless --release)",
                c.events.len(),
                c.people.len(),
                c.days,
                began.elapsed()
            );
            c
        })
    }

    fn entries(events: &[(Timestamp, Event)]) -> Vec<Entry> {
        events
            .iter()
            .enumerate()
            .map(|(i, (t, e))| Entry {
                seq: i as u64 + 1,
                timestamp: *t,
                event: e.clone(),
            })
            .collect()
    }

    fn hits(rule: WindowRule, events: &[(Timestamp, Event)]) -> Vec<Hit> {
        let mut d = WindowDetector::new(rule);
        entries(events)
            .iter()
            .filter_map(|e| d.observe(e))
            .collect()
    }

    fn demo_sensitive() -> Sensitive {
        Sensitive {
            doctypes: ["Employee".to_owned()].into(),
            reports: ["Salary Register".to_owned()].into(),
        }
    }

    fn egress(e: &Event) -> bool {
        e.outcome == Outcome::Granted && e.activity != Activity::Read
    }

    #[test]
    fn the_same_seed_gives_the_same_corpus_and_another_seed_another() {
        let small = CorpusConfig {
            users: 60,
            days: 21,
            ..config()
        };
        let a = generate(&small);
        let b = generate(&small);
        assert_eq!(a, b);
        assert!(a.events.len() > 10_000, "{}", a.events.len());
        let c = generate(&CorpusConfig {
            seed: 18,
            ..small.clone()
        });
        assert_ne!(a.events, c.events);
        // West of UTC, working hours are still local and inside the corpus's days.
        let west = generate(&CorpusConfig {
            utc_offset_minutes: -300,
            ..small.clone()
        });
        for (t, _) in &west.events {
            assert!(*t >= west.begin() && *t < west.end());
            let (_, _, hour, _) = west.local(*t);
            assert!((7..22).contains(&hour), "{hour}");
        }
        // Extra users change nobody else's history.
        let demo = CorpusConfig {
            extra_users: vec![
                Person::with_roles("admin@example.com", &[accesslog_core::SYSTEM_MANAGER]),
                Person::with_roles("hr@example.com", &["HR User"]),
            ],
            ..small
        };
        let d = generate(&demo);
        let without: Vec<&(Timestamp, Event)> = d
            .events
            .iter()
            .filter(|(_, e)| !e.user.ends_with("@example.com") || e.user.contains('.'))
            .filter(|(_, e)| e.user != "admin@example.com" && e.user != "hr@example.com")
            .collect();
        assert_eq!(without, a.events.iter().collect::<Vec<_>>());
        assert!(d.events.iter().any(|(_, e)| e.user == "hr@example.com"));
        assert!(
            d.events
                .iter()
                .any(|(_, e)| e.user == "admin@example.com" && e.activity != Activity::Read)
                || d.events.iter().any(|(_, e)| e.user == "admin@example.com")
        );
    }

    #[test]
    fn the_quiet_corpus_is_sorted_valid_and_of_the_size_asked() {
        let c = quiet();
        assert!(c.events.windows(2).all(|w| w[0].0 <= w[1].0), "sorted");
        for (t, e) in &c.events {
            assert!(e.validate().is_ok(), "{e:?}");
            assert_eq!(e.clone().bounded(), *e, "within the bounds");
            assert!(*t >= c.begin() && *t < c.end(), "{t}");
        }
        let mut user_days: HashSet<(&str, i64)> = HashSet::new();
        for (t, e) in &c.events {
            user_days.insert((&e.user, c.day_of(*t)));
        }
        let per_day = c.events.len() as f64 / user_days.len() as f64;
        println!(
            "{} events, {} active user-days, {per_day:.1} entries per active user-day",
            c.events.len(),
            user_days.len()
        );
        assert!((15.0..=40.0).contains(&per_day), "{per_day}");
        assert_eq!(c.people.len(), 200);
        // Mostly reads; every kind of egress occurs.
        let mut by_activity: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, e) in &c.events {
            *by_activity.entry(e.activity.as_str()).or_default() += 1;
        }
        println!("by activity: {by_activity:?}");
        let reads = by_activity.get("read").copied().unwrap_or(0);
        assert!(
            reads * 10 >= c.events.len() * 7,
            "reads are most: {by_activity:?}"
        );
        for a in [
            "print",
            "report_print",
            "export",
            "file_download",
            "raw_print",
            "backup_download",
        ] {
            assert!(by_activity.contains_key(a), "{a}: {by_activity:?}");
        }
        let backups: Vec<&Event> = c
            .events
            .iter()
            .map(|(_, e)| e)
            .filter(|e| e.activity == Activity::BackupDownload)
            .collect();
        assert!(backups.len() <= 12, "{}", backups.len());
        assert!(
            backups
                .iter()
                .all(|e| e.roles == [accesslog_core::SYSTEM_MANAGER.to_owned()])
        );
    }

    #[test]
    fn role_groups_share_role_sets_of_at_least_five() {
        let c = quiet();
        let mut groups: HashMap<&Vec<String>, usize> = HashMap::new();
        for p in &c.people {
            *groups.entry(&p.roles).or_default() += 1;
        }
        assert_eq!(groups.len(), GROUPS.len());
        for (roles, n) in &groups {
            assert!(*n >= 5, "{roles:?}: {n}");
        }
        // Every event carries its person's roles.
        let roles: HashMap<&str, &Vec<String>> = c
            .people
            .iter()
            .map(|p| (p.email.as_str(), &p.roles))
            .collect();
        for (_, e) in &c.events {
            assert_eq!(Some(&&e.roles), roles.get(e.user.as_str()));
        }
    }

    #[test]
    fn leavers_stop_at_their_disabling_and_joiners_start_late() {
        let c = quiet();
        let leavers: Vec<&Person> = c
            .people
            .iter()
            .filter(|p| p.disabled_at.is_some())
            .collect();
        let joiners: Vec<&Person> = c.people.iter().filter(|p| p.joined_at.is_some()).collect();
        println!("{} leavers, {} joiners", leavers.len(), joiners.len());
        assert!((6..=10).contains(&leavers.len()), "3–5 % of 200");
        assert!(!joiners.is_empty());
        let mut last: HashMap<&str, Timestamp> = HashMap::new();
        let mut first: HashMap<&str, Timestamp> = HashMap::new();
        for (t, e) in &c.events {
            last.insert(&e.user, *t);
            first.entry(&e.user).or_insert(*t);
        }
        for p in &leavers {
            let (Some(d), Some(r)) = (p.disabled_at, p.relieving_date) else {
                panic!("{p:?}");
            };
            assert!(d > r && d < c.end());
            let l = last.get(p.email.as_str()).copied();
            assert!(
                l.is_some_and(|l| l < d),
                "{}: last {l:?}, disabled {d}",
                p.email
            );
        }
        for p in &joiners {
            let j = p.joined_at.unwrap_or(c.start);
            assert!(j > c.start);
            let f = first.get(p.email.as_str()).copied();
            assert!(f.is_some_and(|f| f >= j), "{}", p.email);
        }
        // Everyone else is there from the first three weeks (a vacation may open them).
        let week = plus(c.start, 21 * DAY);
        for p in c.people.iter().filter(|p| p.joined_at.is_none()) {
            assert!(
                first.get(p.email.as_str()).is_some_and(|f| *f < week),
                "{}",
                p.email
            );
        }
    }

    #[test]
    fn most_activity_is_in_working_hours_from_the_usual_places() {
        let c = quiet();
        let people: HashMap<&str, &Person> =
            c.people.iter().map(|p| (p.email.as_str(), p)).collect();
        let mut inside = 0usize;
        let mut egress_off_hours = 0usize;
        let mut places: HashMap<&str, BTreeSet<String>> = HashMap::new();
        let mut agents: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for (t, e) in &c.events {
            let p = people[e.user.as_str()];
            let (_, wd, hour, _) = c.local(*t);
            let hour = i32::from(hour);
            if works_on(p, wd)
                && hour >= i32::from(p.work_start_hour) - 1
                && hour < i32::from(p.work_end_hour) + 2
            {
                inside += 1;
            }
            // The cold-start off-hours of R7: outside Mon–Fri 07–20.
            if egress(e) && !(wd < 5 && (7..20).contains(&hour)) && !p.works_weekends {
                egress_off_hours += 1;
            }
            let ip = e.ip.as_deref().unwrap_or("");
            let prefix = ip.rsplit_once('.').map_or(ip, |(p, _)| p).to_owned();
            places.entry(&e.user).or_default().insert(prefix);
            agents
                .entry(&e.user)
                .or_default()
                .insert(e.user_agent.as_deref().unwrap_or(""));
        }
        let share = inside as f64 / c.events.len() as f64;
        println!(
            "{:.1} % of entries in working hours; {egress_off_hours} egress entries outside Mon–Fri 07–20 by weekday workers",
            share * 100.0
        );
        assert!(share >= 0.9, "{share}");
        assert_eq!(egress_off_hours, 0);
        assert!(
            places.values().all(|s| s.len() <= 2),
            "one or two /24s each"
        );
        assert!(places.values().any(|s| s.len() == 2), "some work from home");
        assert!(agents.values().all(|s| s.len() == 1), "one browser each");
    }

    #[test]
    fn the_quiet_corpus_raises_few_window_alerts_and_takes_out_modest_volumes() {
        let c = quiet();
        let r1 = hits(R1_BURST, &c.events);
        let r8 = hits(R8_PROBING, &c.events);
        let entries = entries(&c.events);
        let r4 = entries
            .iter()
            .filter(|e| R4_UNFILTERED.judge(e, None).is_some())
            .count();
        let r5_entries: Vec<&Entry> = entries
            .iter()
            .filter(|e| demo_sensitive().judge(e).is_some())
            .collect();
        let r5 = r5_entries.len();
        let r5_user_days: BTreeSet<(&str, i64)> = r5_entries
            .iter()
            .map(|e| (e.event.user.as_str(), c.day_of(e.timestamp)))
            .collect();
        let weeks = f64::from(c.days) / 7.0;
        println!(
            "R5 on the quiet corpus: {r5} entries on {} user-days, {:.2} per 50 users per week",
            r5_user_days.len(),
            r5_user_days.len() as f64 / (c.people.len() as f64 / 50.0) / weeks
        );
        let refusals = c
            .events
            .iter()
            .filter(|(_, e)| e.outcome == Outcome::Denied)
            .count();
        let days = daily_rows(c, &c.events);
        let max_day = days.values().copied().max().unwrap_or(0);
        let exports: Vec<&Event> = c
            .events
            .iter()
            .map(|(_, e)| e)
            .filter(|e| e.activity == Activity::Export && e.outcome == Outcome::Granted)
            .collect();
        let filtered = exports
            .iter()
            .filter(|e| !unfiltered(e.filters.as_ref().map(CanonicalJson::to_value).as_ref()))
            .count();
        let mut rows: Vec<u64> = exports.iter().filter_map(|e| e.row_count).collect();
        rows.sort_unstable();
        let median = rows.get(rows.len() / 2).copied().unwrap_or(0);
        let big = rows.iter().filter(|r| **r >= 1_000).count();
        println!(
            "quiet corpus: R1 hits {}, R8 hits {}, R4 hits {r4}, R5 hits (Employee, Salary Register, backups) {r5}; {refusals} refusals; {} exports, {filtered} filtered, median {median} rows, {big} of ≥ 1,000; the most rows one person took out in a day: {max_day}",
            r1.len(),
            r8.len(),
            exports.len()
        );
        assert!(r1.len() <= 2, "{r1:?}");
        assert!(r8.is_empty(), "{r8:?}");
        assert_eq!(r4, 0);
        assert_eq!(filtered, exports.len(), "every quiet export is filtered");
        assert!((10..=500).contains(&median), "{median}");
        assert!(refusals > 20);
        assert!(max_day < baseline::MIN_ROWS, "{max_day}");
    }

    /// The corpus of a seed is pinned: a change to the generator that changes what it
    /// makes must change this digest on purpose (sites and tests rely on a seed giving
    /// the same history on every machine and version).
    #[test]
    fn a_small_corpus_has_a_fixed_digest() {
        use sha2::{Digest, Sha256};
        let c = generate(&CorpusConfig {
            users: 50,
            days: 14,
            ..config()
        });
        let mut h = Sha256::new();
        for e in entries(&c.events) {
            h.update(e.canonical_bytes());
        }
        let digest = hex::encode(h.finalize());
        println!("{} events, digest {digest}", c.events.len());
        assert_eq!(
            digest,
            "1a920637a54141f7e247bb23cf909556a8bd013ca5f398970074c1dbf2204336"
        );
    }

    #[test]
    fn draws_are_plain_arithmetic() {
        for x in [-3.5, -1.0, -0.1, 0.0, 0.3, 1.0, 2.5, 4.0] {
            let (ours, std) = (exp(x), x.exp());
            assert!(((ours - std) / std).abs() < 1e-12, "{x}: {ours} vs {std}");
        }
        let mut d = Draw::stream(1, 2);
        let n: Vec<f64> = (0..20_000).map(|_| d.normal()).collect();
        let mean = n.iter().sum::<f64>() / n.len() as f64;
        let var = n.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
        // A fixed value: the stream is ChaCha8's, on every machine.
        let mut d = Draw::stream(17, 0);
        let first = d.u64();
        assert_eq!(first, Draw::stream(17, 0).u64());
        println!("first draw of seed 17: {first:#x}");
    }

    /// What the learned rules (R3, R6, R9) would see in the quiet corpus after a 14-day
    /// learning period, printed for the lead to compare with the rules once built.
    #[test]
    fn the_quiet_corpus_has_few_firsts_after_learning() {
        let c = quiet();
        let learn = 14;
        // R9: a /24 first seen after day 14.
        let mut seen: HashMap<(&str, String), i64> = HashMap::new();
        // R6: a type or report first taken out after day 14, by fewer than a fifth of
        // the peers before then.
        let mut first_touch: HashMap<(&str, String), i64> = HashMap::new();
        for (t, e) in &c.events {
            let day = c.day_of(*t);
            let ip = e.ip.as_deref().unwrap_or("");
            let prefix = ip.rsplit_once('.').map_or(ip, |(p, _)| p).to_owned();
            seen.entry((&e.user, prefix)).or_insert(day);
            if egress(e) {
                let what = e
                    .report_name
                    .clone()
                    .or_else(|| e.export_from.clone())
                    .unwrap_or_default();
                first_touch.entry((&e.user, what)).or_insert(day);
            }
        }
        let joined: HashMap<&str, i64> = c
            .people
            .iter()
            .map(|p| (p.email.as_str(), p.joined_at.map_or(0, |j| c.day_of(j))))
            .collect();
        let late = |user: &str, day: i64| day >= joined[user] + learn;
        let new_nets = seen.iter().filter(|((u, _), d)| late(u, **d)).count();
        let roles: HashMap<&str, &Vec<String>> = c
            .people
            .iter()
            .map(|p| (p.email.as_str(), &p.roles))
            .collect();
        let mut rare_firsts = Vec::new();
        for ((user, what), day) in first_touch.iter().filter(|((u, _), d)| late(u, **d)) {
            let peers: Vec<&Person> = c
                .people
                .iter()
                .filter(|p| p.roles == *roles[user])
                .collect();
            let before = peers
                .iter()
                .filter(|p| {
                    first_touch
                        .get(&(p.email.as_str(), what.clone()))
                        .is_some_and(|d| d < day)
                })
                .count();
            if (before as f64) < 0.2 * peers.len() as f64 {
                rare_firsts.push(format!("{user} {what} on day {day}"));
            }
        }
        // R3: a rolling week ≥ 20,000 rows.
        let daily = daily_rows(c, &c.events);
        let mut max_week = 0u64;
        for p in &c.people {
            let days: Vec<u64> = (0..i64::from(c.days))
                .map(|d| daily.get(&(p.email.clone(), d)).copied().unwrap_or(0))
                .collect();
            for w in days.windows(7) {
                max_week = max_week.max(w.iter().sum());
            }
        }
        println!(
            "after {learn} days of learning: {new_nets} new /24s, {} first touches of a type or report rare among peers ({rare_firsts:?}); the largest rolling week of rows: {max_week}",
            rare_firsts.len()
        );
        assert!(max_week < 20_000, "{max_week}");
        assert!(new_nets <= c.people.len() / 20, "{new_nets}");
    }

    #[test]
    fn each_group_keeps_to_its_own_types_and_reports() {
        let c = quiet();
        let mut touched: HashMap<&Vec<String>, BTreeSet<String>> = HashMap::new();
        for (_, e) in c.events.iter().filter(|(_, e)| egress(e)) {
            let what = e
                .report_name
                .clone()
                .or_else(|| e.export_from.clone())
                .unwrap_or_default();
            touched.entry(&e.roles).or_default().insert(what);
        }
        let sales = vec!["Sales User".to_owned()];
        let theirs = touched.get(&sales).cloned().unwrap_or_default();
        println!("Sales Users take out: {theirs:?}");
        assert!(!theirs.contains("Salary Register") && !theirs.contains("Employee"));
    }

    #[test]
    fn inject_keeps_the_corpus_in_order() {
        let small = CorpusConfig {
            users: 50,
            days: 28,
            ..config()
        };
        let mut c = generate(&small);
        let before = c.events.len();
        let s = all_scenarios(&c, c.at_local(7, 0, 0));
        let mut n = 0;
        for sc in s {
            n += sc.events.len();
            inject(&mut c, sc.events);
        }
        assert_eq!(c.events.len(), before + n);
        assert!(c.events.windows(2).all(|w| w[0].0 <= w[1].0));
        // Ties: the corpus's entry first, then the injected ones in their order.
        let t = c.events[10].0;
        let e = |u: &str| Event::new(u, Activity::Read, "GET /x");
        inject(&mut c, vec![(t, e("z1@x")), (t, e("z2@x"))]);
        let at: Vec<&str> = c
            .events
            .iter()
            .filter(|(x, _)| *x == t)
            .map(|(_, e)| e.user.as_str())
            .collect();
        assert_eq!(&at[at.len() - 2..], ["z1@x", "z2@x"]);
    }

    /// The scenarios, planted three weeks before the end of the quiet corpus.
    fn scenarios() -> Vec<Scenario> {
        let c = quiet();
        all_scenarios(c, c.at_local(i64::from(c.days) - 21, 0, 0))
    }

    fn of(rule: &str) -> Vec<Scenario> {
        scenarios().into_iter().filter(|s| s.rule == rule).collect()
    }

    #[test]
    fn scenarios_cover_every_rule_with_valid_events_by_distinct_users() {
        let c = quiet();
        let all = scenarios();
        let rules: BTreeSet<&str> = all.iter().map(|s| s.rule).collect();
        let want: BTreeSet<&str> =
            ["R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10"].into();
        assert_eq!(rules, want);
        let users: BTreeSet<&str> = all.iter().map(|s| s.user.as_str()).collect();
        // The two R5 scenarios and the R10 pair are by different users too.
        assert_eq!(users.len(), all.len(), "{users:?}");
        for s in &all {
            assert!(!s.events.is_empty(), "{}", s.name);
            let last = s.events.iter().map(|(t, _)| *t).max();
            assert_eq!(last, Some(s.last_at));
            for (t, e) in &s.events {
                assert!(e.validate().is_ok(), "{}: {e:?}", s.name);
                assert_eq!(e.user, s.user);
                assert!(*t >= c.begin() && *t < c.end(), "{}: {t}", s.name);
                let p = c.person(&s.user).unwrap_or_else(|| panic!("{}", s.user));
                assert_eq!(e.roles, p.roles, "{}", s.name);
            }
            println!(
                "{} {:<4} {:<45} {:>3} entries, last at {}",
                s.rule,
                "",
                s.name,
                s.events.len(),
                s.last_at
            );
        }
    }

    #[test]
    fn r1_scenario_is_a_burst_and_fires_r1() {
        for s in of("R1") {
            let first = s.events.iter().map(|(t, _)| *t).min().unwrap_or(s.last_at);
            assert!(s.last_at.as_micros() - first.as_micros() <= 10 * MIN);
            assert!(s.events.iter().filter(|(_, e)| egress(e)).count() >= 20);
            assert_eq!(hits(R1_BURST, &s.events).len(), 1);
            // Planted in the corpus, it fires there too.
            let mut c = quiet().clone();
            let quiet_hits = hits(R1_BURST, &c.events).len();
            inject(&mut c, s.events.clone());
            let after = hits(R1_BURST, &c.events);
            assert_eq!(after.len(), quiet_hits + 1);
            assert!(after.iter().any(|h| h.user == s.user));
        }
    }

    /// Rows a user took out per corpus day, every day of the corpus (0 when none).
    fn history(c: &Corpus, user: &str, before_day: i64) -> Vec<f64> {
        let days = daily_rows(c, &c.events);
        let first = c
            .person(user)
            .and_then(|p| p.joined_at)
            .map_or(0, |j| c.day_of(j));
        (first..before_day)
            .map(|d| days.get(&(user.to_owned(), d)).copied().unwrap_or(0) as f64)
            .collect()
    }

    #[test]
    fn r2_scenario_is_far_above_the_users_own_baseline() {
        let c = quiet();
        for s in of("R2") {
            let day = c.day_of(s.last_at);
            let rows: u64 = s.events.iter().filter_map(|(_, e)| e.row_count).sum();
            let bytes: u64 = s.events.iter().filter_map(|(_, e)| e.byte_count).sum();
            let h = history(c, &s.user, day);
            let f = baseline::volume(
                rows,
                bytes,
                &h,
                &crate::alerts::rules::Rules::default().volume,
                1,
            )
            .expect("R2 fires");
            println!("R2: {}", f.arithmetic);
            assert!(rows >= 35_000);
            assert!(s.events.iter().all(|(t, _)| c.day_of(*t) == day), "one day");
            assert!(hits(R1_BURST, &s.events).is_empty(), "spread, not a burst");
        }
    }

    #[test]
    fn r3_scenario_drips_over_a_week_without_an_extreme_day() {
        let c = quiet();
        for s in of("R3") {
            let days = daily_rows(c, &s.events);
            // No day is extreme, with the user's quiet exports of that day added.
            let mine: Vec<(Timestamp, Event)> = c
                .events
                .iter()
                .filter(|(_, e)| e.user == s.user)
                .chain(&s.events)
                .cloned()
                .collect();
            let all_days = daily_rows(c, &mine);
            for day in days.keys() {
                let r = all_days.get(day).copied().unwrap_or(0);
                assert!(r < baseline::MIN_ROWS, "{day:?}: {r}");
            }
            let total: u64 = days.values().sum();
            let first = s.events.iter().map(|(t, _)| *t).min().unwrap_or(s.last_at);
            assert!(s.last_at.as_micros() - first.as_micros() < 7 * DAY);
            // The user's own weekly totals over the quiet corpus (rolling 7 days).
            let h = history(c, &s.user, i64::from(c.days));
            let weekly: Vec<f64> = h.windows(7).map(|w| w.iter().sum()).collect();
            let p95 = baseline::percentile(&weekly, 95.0).unwrap_or(0.0);
            // And their peers'.
            let peers: Vec<f64> = c
                .people
                .iter()
                .filter(|p| c.person(&s.user).is_some_and(|u| u.roles == p.roles))
                .flat_map(|p| {
                    let h = history(c, &p.email, i64::from(c.days));
                    h.windows(7)
                        .map(|w| w.iter().sum::<f64>())
                        .collect::<Vec<_>>()
                })
                .collect();
            let peer_p95 = baseline::percentile(&peers, 95.0).unwrap_or(0.0);
            println!("R3: {total} rows in a week; own weekly P95 {p95}, peers' {peer_p95}");
            assert!(total >= 20_000);
            assert!(total as f64 > (2.0 * p95).max(peer_p95));
            assert!(hits(R1_BURST, &s.events).is_empty());
        }
    }

    #[test]
    fn r4_scenario_exports_without_filters() {
        for s in of("R4") {
            let fired = entries(&s.events)
                .iter()
                .filter_map(|e| R4_UNFILTERED.judge(e, None))
                .collect::<Vec<_>>();
            println!("R4: {fired:?}");
            assert_eq!(fired.len(), 1);
        }
    }

    #[test]
    fn r5_scenarios_take_out_sensitive_content_and_a_backup() {
        let all = of("R5");
        assert_eq!(all.len(), 2);
        let mut backup = false;
        for s in all {
            let fired: Vec<String> = entries(&s.events)
                .iter()
                .filter_map(|e| demo_sensitive().judge(e))
                .collect();
            println!("R5: {fired:?}");
            assert!(!fired.is_empty());
            backup |= s
                .events
                .iter()
                .any(|(_, e)| e.activity == Activity::BackupDownload);
        }
        assert!(backup);
    }

    #[test]
    fn r6_scenario_is_new_to_the_user_and_their_peers() {
        let c = quiet();
        for s in of("R6") {
            let p = c.person(&s.user).unwrap_or_else(|| panic!("{}", s.user));
            assert_eq!(p.roles, ["Sales User".to_owned()]);
            let what: BTreeSet<&str> = s
                .events
                .iter()
                .filter(|(_, e)| egress(e))
                .filter_map(|(_, e)| e.report_name.as_deref())
                .collect();
            assert!(what.contains("Salary Register"));
            let peers_touched = c.events.iter().any(|(_, e)| {
                e.roles == p.roles
                    && (e.report_name.as_deref() == Some("Salary Register")
                        || e.export_from.as_deref() == Some("Employee") && egress(e))
            });
            assert!(!peers_touched);
        }
    }

    #[test]
    fn r7_scenario_is_a_nine_to_five_user_on_a_sunday_night() {
        let c = quiet();
        for s in of("R7") {
            let p = c.person(&s.user).unwrap_or_else(|| panic!("{}", s.user));
            assert_eq!(
                (p.work_start_hour, p.work_end_hour, p.works_weekends),
                (9, 17, false)
            );
            for (t, e) in &s.events {
                let (_, wd, hour, _) = c.local(*t);
                assert_eq!(wd, 6, "a Sunday");
                assert!((2..4).contains(&hour), "{hour}");
                assert!(egress(e));
            }
            assert!(hits(R1_BURST, &s.events).is_empty());
            // Never on a Sunday before.
            assert!(
                c.events
                    .iter()
                    .filter(|(_, e)| e.user == s.user)
                    .all(|(t, _)| c.local(*t).1 != 6)
            );
        }
    }

    #[test]
    fn r8_scenario_probes() {
        for s in of("R8") {
            let h = hits(R8_PROBING, &s.events);
            println!(
                "R8: {:?}",
                h.iter().map(|h| &h.arithmetic).collect::<Vec<_>>()
            );
            assert_eq!(h.len(), 1);
            let types: BTreeSet<&str> = s
                .events
                .iter()
                .filter_map(|(_, e)| e.export_from.as_deref())
                .collect();
            assert!(types.len() >= 3 && s.events.len() >= 5);
            let mut c = quiet().clone();
            inject(&mut c, s.events.clone());
            assert!(hits(R8_PROBING, &c.events).iter().any(|h| h.user == s.user));
        }
    }

    #[test]
    fn r9_scenario_is_a_script_from_a_new_network() {
        let c = quiet();
        for s in of("R9") {
            let prefix = |e: &Event| {
                let ip = e.ip.clone().unwrap_or_default();
                ip.rsplit_once('.')
                    .map_or(ip.clone(), |(p, _)| p.to_owned())
            };
            let known: BTreeSet<String> = c
                .events
                .iter()
                .filter(|(_, e)| e.user == s.user)
                .map(|(_, e)| prefix(e))
                .collect();
            for (_, e) in &s.events {
                assert!(!known.contains(&prefix(e)), "{known:?}");
                let ua = e.user_agent.as_deref().unwrap_or("");
                assert!(ua.starts_with("python-requests/") || ua.starts_with("curl/"));
            }
            assert!(s.events.iter().any(|(_, e)| egress(e)));
        }
    }

    #[test]
    fn r10_scenarios_are_after_disabling_and_heavy_before_leaving() {
        let c = quiet();
        let all = of("R10");
        assert_eq!(all.len(), 2);
        let after = &all[0];
        let p = c
            .person(&after.user)
            .unwrap_or_else(|| panic!("{}", after.user));
        let disabled = p.disabled_at.unwrap_or(c.end());
        assert!(after.events.iter().all(|(t, _)| *t > disabled));
        assert!(after.events.iter().any(|(_, e)| egress(e)));

        let before = &all[1];
        let p = c
            .person(&before.user)
            .unwrap_or_else(|| panic!("{}", before.user));
        let relieving = p.relieving_date.unwrap_or(c.start);
        let days = daily_rows(c, &before.events);
        let usual = history(c, &before.user, c.day_of(relieving));
        let usual_max = usual.iter().copied().fold(0.0, f64::max);
        let median = baseline::median(&usual).unwrap_or(0.0);
        println!(
            "R10: {} before their relieving date: {days:?}; usual daily max {usual_max}, median {median}",
            before.user
        );
        for (t, _) in &before.events {
            assert!(*t < relieving && t.as_micros() >= relieving.as_micros() - 30 * DAY);
        }
        for rows in days.values() {
            // Over R2's floor halved (R10's thresholds × 0.5), and 3 × anything usual.
            assert!(*rows >= baseline::MIN_ROWS / 2, "{rows}");
            assert!(
                *rows as f64 >= 3.0 * usual_max.max(1.0),
                "{rows} vs {usual_max}"
            );
        }
    }
}
