//! The site: role groups, names, user agents.

use super::*;

/// Which kind of work a role set does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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
    pub(super) fn department(self) -> &'static str {
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

pub(super) fn kind_of(roles: &[String]) -> Kind {
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

pub(super) fn is_manager(roles: &[String]) -> bool {
    roles.iter().any(|r| r.ends_with(" Manager"))
}

/// A role group: its name (used in emails), roles and share of the generated people.
pub(super) struct Group {
    pub(super) name: &'static str,
    pub(super) roles: &'static [&'static str],
    pub(super) share: f64,
}

/// The generated role groups. At 200 users: 52, 12, 40, 12, 18, 8, 34, 16, 8.
pub(super) const GROUPS: [Group; 9] = [
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

pub(super) const USER_AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
];

pub(super) const ITEM_GROUPS: [&str; 5] = [
    "Products",
    "Raw Material",
    "Sub Assemblies",
    "Services",
    "Consumable",
];
pub(super) const PRINTERS: [(&str, &str); 2] = [
    ("warehouse", "10.20.5.40:9100"),
    ("dispatch", "10.20.5.41:9100"),
];

/// The (group) people of `cfg`, then the extra users.
pub(super) fn make_people(cfg: &CorpusConfig) -> Vec<Person> {
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
            let email = format!(
                "{}.{}.{}{:02}@example.com",
                first.to_lowercase(),
                last.to_lowercase(),
                group.name,
                k + 1
            );
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
