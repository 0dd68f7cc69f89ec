//! The rules on the seeded corpus (200 users × 90 days of made-up but realistic egress):
//! the quiet corpus raises few alerts, and every planted scenario fires its rule by its
//! own last entry. The engine judges by the entries' timestamps, so the clock is the
//! corpus's: no wall clock is involved, and the figures are the same on every machine.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use accesslog_app::alerts::corpus::{self, Corpus, CorpusConfig};
use accesslog_app::alerts::engine::{Engine, Firing, Person};
use accesslog_app::alerts::lifecycle::{Inbox, Key};
use accesslog_app::alerts::rules::{Rules, is_statistical};
use accesslog_core::Timestamp;
use accesslog_core::entry::Entry;

/// 2025-09-01 00:00 UTC.
const START: Timestamp = Timestamp::from_micros(1_756_684_800_000_000);
/// The live evaluator reads committed entries this often (`evaluate_every_seconds`).
const EVALUATION_INTERVAL: Duration = Duration::from_secs(5);

fn people(c: &Corpus) -> HashMap<String, Person> {
    c.people
        .iter()
        .map(|p| {
            (
                p.email.clone(),
                Person {
                    disabled_at: p.disabled_at,
                    relieving_date: p.relieving_date,
                },
            )
        })
        .collect()
}

fn run(c: &Corpus, rules: Rules) -> Vec<Firing> {
    let mut engine = Engine::new(rules);
    engine.set_people(people(c));
    let mut out = Vec::new();
    for (i, (t, e)) in c.events.iter().enumerate() {
        let entry = Entry {
            seq: i as u64 + 1,
            timestamp: *t,
            event: e.clone(),
        };
        out.extend(engine.observe(&entry));
    }
    out
}

fn standard() -> Corpus {
    corpus::generate(&CorpusConfig::standard(17, START))
}

/// Firings as the inbox keeps them: one alert per (rule, user, window).
fn alerts(
    firings: &[Firing],
    shadow_until: Timestamp,
    with_shadow: bool,
) -> BTreeMap<String, usize> {
    let mut inbox = Inbox::default();
    let mut by_rule = BTreeMap::new();
    for f in firings {
        if !with_shadow && is_statistical(f.rule) && f.at < shadow_until {
            continue;
        }
        let key = Key {
            rule: f.rule.to_owned(),
            user: f.user.clone(),
            window: f.window_start.as_micros(),
        };
        let before = inbox.alerts().len();
        inbox.raise(key, f.severity, &f.seqs, &f.arithmetic, f.at);
        if inbox.alerts().len() > before {
            *by_rule.entry(f.rule.to_owned()).or_insert(0) += 1;
        }
    }
    by_rule
}

#[test]
fn the_quiet_corpus_raises_at_most_one_alert_per_50_users_a_week() {
    let c = standard();
    let firings = run(&c, Rules::default());
    let shadow_until = c.begin().plus(Duration::from_secs(7 * 86_400));
    let delivered = alerts(&firings, shadow_until, false);
    let all = alerts(&firings, shadow_until, true);
    let users = c.people.len() as f64;
    let weeks = (c.end().as_micros() - c.begin().as_micros()) as f64 / (7.0 * 86_400e6);
    let rate =
        |m: &BTreeMap<String, usize>| m.values().sum::<usize>() as f64 / (users / 50.0) / weeks;
    println!(
        "quiet corpus: {} entries, {users} users, {weeks:.1} weeks; alerts out of shadow {delivered:?} \
         = {:.2} per 50 users per week; with shadow ones {all:?} = {:.2}",
        c.events.len(),
        rate(&delivered),
        rate(&all)
    );
    assert!(
        rate(&delivered) <= 1.0,
        "{delivered:?}: {:.2}",
        rate(&delivered)
    );
}

#[test]
fn every_scenario_fires_its_rule_by_its_last_entry() {
    let mut c = standard();
    let scenarios = corpus::all_scenarios(&c, c.begin().plus(Duration::from_secs(60 * 86_400)));
    for s in &scenarios {
        corpus::inject(&mut c, s.events.clone());
    }
    let firings = run(&c, Rules::default());
    let mut missed = Vec::new();
    for s in &scenarios {
        let first = s.events.iter().map(|(t, _)| *t).min().unwrap_or(s.last_at);
        let hit = firings.iter().find(|f| {
            f.rule == s.rule
                && f.user == s.user
                && f.at >= first
                && f.at <= s.last_at.plus(EVALUATION_INTERVAL)
        });
        match hit {
            Some(f) => println!("{} {}: {:?}, {}", s.rule, s.user, f.severity, f.arithmetic),
            None => missed.push(format!(
                "{} for {} (last entry {}); it fired: {:?}",
                s.rule,
                s.user,
                s.last_at,
                firings
                    .iter()
                    .filter(|f| f.user == s.user && f.at >= first)
                    .map(|f| format!("{} {}", f.rule, f.arithmetic))
                    .collect::<Vec<_>>()
            )),
        }
    }
    assert!(
        missed.is_empty(),
        "scenarios that did not fire:\n{}",
        missed.join("\n")
    );
    let rules: std::collections::BTreeSet<&str> = scenarios.iter().map(|s| s.rule).collect();
    assert_eq!(rules.len(), 10, "one or more scenarios per rule: {rules:?}");
}

#[test]
fn a_switched_off_rule_stays_silent_on_its_scenario() {
    let mut c = standard();
    let s = corpus::r1_burst(&c, c.begin().plus(Duration::from_secs(70 * 86_400)));
    corpus::inject(&mut c, s.events.clone());
    let mut rules = Rules::default();
    rules.enabled[0] = false;
    assert!(run(&c, rules).iter().all(|f| f.rule != "R1"));
}
