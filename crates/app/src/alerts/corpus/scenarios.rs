//! Scenarios.

use super::*;

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

pub(super) fn plus(t: Timestamp, micros: i64) -> Timestamp {
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
