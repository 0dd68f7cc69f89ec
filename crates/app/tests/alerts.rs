//! The alert evaluator over a real store, on both backends: it judges what the recorder
//! committed, keeps one alert per key across restarts, learns in shadow, honours
//! suppressions, and never holds up an egress, however stuck it is.

use std::sync::Arc;
use std::time::Duration;

use accesslog_app::alerts::evaluator::Evaluator;
use accesslog_app::alerts::inbox;
use accesslog_app::alerts::rules::Rules;
use accesslog_core::entry::{Activity, Event};
use accesslog_core::{Clock, FixedClock, Timestamp};
use accesslog_engine::{Recorder, RecorderConfig};
use accesslog_store::alerts::AlertFilter;
use accesslog_testkit::TestDb;
use proptest::prelude::*;

accesslog_testkit::on_both_backends!(run: accesslog_testkit::with_db;
    a_burst_raises_one_alert_that_later_firings_join,
    a_restart_judges_nothing_twice,
    statistical_rules_learn_in_shadow,
    a_suppression_keeps_its_rule_quiet,
    egress_completes_while_evaluation_is_stuck,
    relieving_dates_come_from_employee_records,
    handed_over_entries_are_judged_once_even_when_some_are_skipped,
);

/// Monday 2025-12-01 10:00 UTC: working hours, so R7 stays quiet.
const MON_10: i64 = 1_764_583_200_000_000;

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(Timestamp::from_micros(MON_10)))
}

fn download(user: &str, n: usize) -> Event {
    let mut e = Event::new(user, Activity::FileDownload, "GET /private/files");
    e.reference_document = Some(format!("/private/files/f{n}.pdf"));
    e.byte_count = Some(1000);
    e.ip = Some("10.1.2.3".into());
    e.user_agent = Some("Mozilla/5.0 Chrome/120".into());
    e.roles = vec!["Accounts User".into()];
    e
}

async fn record(recorder: &Recorder, clock: &FixedClock, events: Vec<Event>) {
    for e in events {
        recorder.record(e).await.expect("recorded");
        clock.advance(Duration::from_secs(5));
    }
}

async fn alerts(db: &TestDb, shadow: bool) -> Vec<accesslog_app::alerts::lifecycle::Alert> {
    inbox::list(
        &*db.store,
        &AlertFilter {
            shadow,
            limit: 100,
            ..AlertFilter::default()
        },
    )
    .await
    .unwrap()
}

async fn a_burst_raises_one_alert_that_later_firings_join(db: &TestDb) {
    let clock = clock();
    let recorder = Recorder::start(
        db.store.clone(),
        clock.clone(),
        None,
        RecorderConfig::default(),
    );
    let burst = |from: usize| {
        (from..from + 20)
            .map(|n| download("ap@example.com", n))
            .collect()
    };
    record(&recorder, &clock, burst(0)).await;
    let mut ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
        .await
        .unwrap();
    let round = ev.round(10_000).await.unwrap();
    assert_eq!((round.judged, round.raised), (20, 1), "{round:?}");
    assert_eq!(round.to_deliver.len(), 1);
    let a = &alerts(db, false).await[0];
    assert_eq!(
        (a.key.rule.as_str(), a.key.user.as_str()),
        ("R1", "ap@example.com")
    );
    // 15 distinct documents in 10 minutes fire first, at the 15th.
    assert_eq!(a.seqs.len(), 15, "the entries that raised it");
    assert!(
        a.arithmetic[0].contains("15 distinct documents"),
        "{:?}",
        a.arithmetic
    );
    assert_eq!(
        a.severity,
        accesslog_app::alerts::lifecycle::Severity::Medium
    );
    // Two hours later, the same day: a second burst joins the open alert.
    clock.advance(Duration::from_secs(7200));
    record(&recorder, &clock, burst(100)).await;
    let round = ev.round(10_000).await.unwrap();
    assert_eq!(round.raised, 0, "{round:?}");
    let all = alerts(db, false).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].seqs.len(), 30);
    assert_eq!(
        all[0].arithmetic.len(),
        1,
        "the same arithmetic is kept once"
    );
    assert_eq!(
        all[0].history.len(),
        1,
        "raised; firing again is counted, not a change"
    );
    assert!(all[0].firings >= 2, "{}", all[0].firings);
    // Once resolved, a burst the same day opens a new alert.
    inbox::act(
        &*db.store,
        all[0].id,
        &inbox::Action::parse("resolve", Some("benign"), None).unwrap(),
        "admin@example.com",
        clock.now(),
    )
    .await
    .unwrap();
    clock.advance(Duration::from_secs(3600));
    record(&recorder, &clock, burst(200)).await;
    assert_eq!(ev.round(10_000).await.unwrap().raised, 1);
    assert_eq!(alerts(db, false).await.len(), 2);
}

async fn a_restart_judges_nothing_twice(db: &TestDb) {
    let clock = clock();
    let recorder = Recorder::start(
        db.store.clone(),
        clock.clone(),
        None,
        RecorderConfig::default(),
    );
    record(
        &recorder,
        &clock,
        (0..12).map(|n| download("ap@example.com", n)).collect(),
    )
    .await;
    let mut ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
        .await
        .unwrap();
    assert_eq!(
        ev.round(10_000).await.unwrap().raised,
        0,
        "12 is under the threshold"
    );
    assert_eq!(ev.cursor(), 12);
    drop(ev);
    // After a restart the engine relearns the 12: 8 more make 20 in ten minutes.
    record(
        &recorder,
        &clock,
        (12..20).map(|n| download("ap@example.com", n)).collect(),
    )
    .await;
    let mut ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
        .await
        .unwrap();
    assert_eq!(ev.cursor(), 12);
    let round = ev.round(10_000).await.unwrap();
    assert_eq!((round.judged, round.raised), (8, 1), "{round:?}");
    let again = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
        .await
        .unwrap()
        .round(10_000)
        .await
        .unwrap();
    assert_eq!(again.judged, 0);
    assert_eq!(alerts(db, true).await.len(), 1);
}

async fn statistical_rules_learn_in_shadow(db: &TestDb) {
    let clock = clock();
    // Sunday 03:00: off hours for a user the rules have not learned (R7, statistical).
    clock.advance(Duration::from_secs(6 * 86_400 - 7 * 3600));
    assert_eq!(clock.now().to_rfc3339(), "2025-12-07T03:00:00.000000Z");
    let recorder = Recorder::start(
        db.store.clone(),
        clock.clone(),
        None,
        RecorderConfig::default(),
    );
    record(&recorder, &clock, vec![download("night@example.com", 1)]).await;
    let mut ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
        .await
        .unwrap();
    let round = ev.round(100).await.unwrap();
    assert_eq!(round.raised, 1);
    assert!(
        round.to_deliver.is_empty(),
        "a shadow alert is not delivered"
    );
    assert!(
        alerts(db, false).await.is_empty(),
        "and not listed by default"
    );
    let shadow = alerts(db, true).await;
    assert_eq!(shadow.len(), 1);
    assert!(shadow[0].shadow && shadow[0].key.rule == "R7", "{shadow:?}");
    // A week after the log began, the same rule is delivered.
    clock.advance(Duration::from_secs(7 * 86_400));
    record(&recorder, &clock, vec![download("night@example.com", 2)]).await;
    let round = ev.round(100).await.unwrap();
    assert_eq!(round.to_deliver.len(), 1, "{round:?}");
    assert!(!round.to_deliver[0].shadow);
}

async fn a_suppression_keeps_its_rule_quiet(db: &TestDb) {
    let clock = clock();
    inbox::suppress(
        &*db.store,
        Some("R1"),
        Some("ap@example.com"),
        "admin@example.com",
        "month-end batch downloads",
        2,
        clock.now(),
    )
    .await
    .unwrap();
    let recorder = Recorder::start(
        db.store.clone(),
        clock.clone(),
        None,
        RecorderConfig::default(),
    );
    record(
        &recorder,
        &clock,
        (0..20).map(|n| download("ap@example.com", n)).collect(),
    )
    .await;
    record(
        &recorder,
        &clock,
        (0..20).map(|n| download("other@example.com", n)).collect(),
    )
    .await;
    let mut ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
        .await
        .unwrap();
    ev.round(10_000).await.unwrap();
    let got = alerts(db, true).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].key.user, "other@example.com");
    let bad = inbox::suppress(&*db.store, Some("R42"), None, "a", "b", 1, clock.now()).await;
    assert!(bad.unwrap_err().to_string().contains("no rule \"R42\""));
    let forever = inbox::suppress(&*db.store, None, None, "a", "b", 10_000, clock.now()).await;
    assert!(
        forever
            .unwrap_err()
            .to_string()
            .contains("from 1 to 366 days")
    );
}

/// The evaluator is stuck on a lock of the alert tables; every egress still completes, and
/// the evaluator catches up once the lock goes.
async fn egress_completes_while_evaluation_is_stuck(db: &TestDb) {
    let clock = clock();
    let recorder = Recorder::start(
        db.store.clone(),
        clock.clone(),
        None,
        RecorderConfig::default(),
    );
    let mut ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
        .await
        .unwrap();
    let lock = db.hold_write_lock("alerts_cursor").await;
    record(&recorder, &clock, vec![download("ap@example.com", 0)]).await;
    let stuck = tokio::spawn(async move {
        let r = ev.round(10_000).await;
        (ev, r)
    });
    // Every egress of a burst is recorded while the evaluator cannot write.
    record(
        &recorder,
        &clock,
        (1..30).map(|n| download("ap@example.com", n)).collect(),
    )
    .await;
    assert_eq!(db.store.log_head().await.unwrap().size, 30);
    if db.backend == accesslog_testkit::Backend::Postgres {
        // PostgreSQL waits on a lock for as long as it is held: the round is still stuck.
        assert!(!stuck.is_finished(), "the evaluator got past the lock");
    }
    lock.release().await;
    let (mut ev, first) = stuck.await.unwrap();
    // The stuck round may have failed (SQLite gives up after its busy timeout) or finished.
    if first.is_err() {
        ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
            .await
            .unwrap();
    }
    ev.round(10_000).await.unwrap();
    assert_eq!(
        alerts(db, false).await.len(),
        1,
        "the burst is caught up with"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// However the alert store fails (its tables gone), no egress is refused: every event
    /// of any mix is recorded, and evaluation reports its failure instead.
    #[test]
    fn failing_evaluation_refuses_no_egress(kinds in proptest::collection::vec(0u8..4, 1..60)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let db = TestDb::sqlite().await;
            let clock = clock();
            let recorder = Recorder::start(db.store.clone(), clock.clone(), None, RecorderConfig::default());
            let mut ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default()).await.unwrap();
            db.execute("DROP TABLE alerts").await;
            db.execute("DROP TABLE alerts_cursor").await;
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let recording = done.clone();
            let evaluating = tokio::spawn(async move {
                while !recording.load(std::sync::atomic::Ordering::SeqCst) {
                    let _ = ev.round(1_000).await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                ev
            });
            for (i, k) in kinds.iter().enumerate() {
                let mut e = download("u@example.com", i);
                e.activity = [Activity::FileDownload, Activity::Export, Activity::Print, Activity::Read][usize::from(*k)];
                recorder.record(e).await.expect("recorded whatever evaluation does");
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            assert_eq!(db.store.log_head().await.unwrap().size, kinds.len() as u64);
            let mut ev = evaluating.await.unwrap();
            assert!(ev.round(1_000).await.is_err(), "evaluation fails, and says so");
        });
    }
}

/// R10 reads relieving dates from ERPNext-shaped Employee records: egress after the date
/// is Critical, a burst within 30 days before it fires at half R1's thresholds.
async fn relieving_dates_come_from_employee_records(db: &TestDb) {
    let employee: accesslog_core::doctype::DocType = toml::from_str(
        r#"
name = "Employee"
naming = "prompt"
[[fields]]
fieldname = "user_id"
label = "User ID"
fieldtype = "data"
[[fields]]
fieldname = "relieving_date"
label = "Relieving Date"
fieldtype = "date"
"#,
    )
    .unwrap();
    db.store.sync_doctype(&employee).await.unwrap();
    let doc = |name: &str, user: &str, date: &str| accesslog_store::Document {
        name: name.into(),
        values: [
            (
                "user_id".to_owned(),
                accesslog_store::SqlValue::Text(user.into()),
            ),
            (
                "relieving_date".to_owned(),
                accesslog_store::SqlValue::Text(date.into()),
            ),
        ]
        .into(),
        children: Default::default(),
    };
    // Monday 2025-12-01: one left last Friday, one leaves in ten days.
    db.store
        .insert_document(
            &employee,
            &doc("EMP-0001", "gone@example.com", "2025-11-28"),
            &[],
        )
        .await
        .unwrap();
    db.store
        .insert_document(
            &employee,
            &doc("EMP-0002", "leaving@example.com", "2025-12-11"),
            &[],
        )
        .await
        .unwrap();
    let clock = clock();
    let recorder = Recorder::start(
        db.store.clone(),
        clock.clone(),
        None,
        RecorderConfig::default(),
    );
    record(&recorder, &clock, vec![download("gone@example.com", 1)]).await;
    // Ten downloads: under R1's 20 and 15, at its halved 10 and 8.
    record(
        &recorder,
        &clock,
        (0..10)
            .map(|n| download("leaving@example.com", n))
            .collect(),
    )
    .await;
    let mut ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
        .await
        .unwrap()
        .with_employees(Some(employee));
    ev.round(1_000).await.unwrap();
    let got = alerts(db, true).await;
    let find = |user: &str| {
        got.iter()
            .find(|a| a.key.user == user && a.key.rule == "R10")
            .unwrap_or_else(|| panic!("{user}: {got:?}"))
    };
    let gone = find("gone@example.com");
    assert_eq!(
        gone.severity,
        accesslog_app::alerts::lifecycle::Severity::Critical
    );
    assert!(
        gone.arithmetic[0].contains("after the user's relieving date"),
        "{:?}",
        gone.arithmetic
    );
    let leaving = find("leaving@example.com");
    assert_eq!(
        leaving.severity,
        accesslog_app::alerts::lifecycle::Severity::High
    );
    assert!(
        leaving.arithmetic[0].contains("half its thresholds"),
        "{:?}",
        leaving.arithmetic
    );
    assert!(
        got.iter().all(|a| a.key.rule != "R1"),
        "R1 itself did not fire: {got:?}"
    );
}

/// The recorder hands committed entries over through a tap with room for one batch, so
/// most are skipped; the evaluator's periodic read of the store judges what it missed:
/// every entry is judged exactly once, in order, and the burst raises one alert.
async fn handed_over_entries_are_judged_once_even_when_some_are_skipped(db: &TestDb) {
    let clock = clock();
    let (tap, mut committed) = tokio::sync::mpsc::channel(1);
    let recorder = Recorder::start_tapped(
        db.store.clone(),
        clock.clone(),
        None,
        RecorderConfig::default(),
        Some(tap),
    );
    let mut ev = Evaluator::start(db.store.clone(), clock.clone(), Rules::default())
        .await
        .unwrap();
    record(
        &recorder,
        &clock,
        (0..30).map(|n| download("ap@example.com", n)).collect(),
    )
    .await;
    let mut judged = 0;
    while let Ok(batch) = committed.try_recv() {
        judged += ev.judge_committed(batch).await.unwrap().judged;
    }
    // The tap held one batch; the periodic read from the store judges the rest.
    assert!(judged <= 30);
    judged += ev.round(usize::MAX).await.unwrap().judged;
    assert_eq!(judged, 30);
    assert_eq!(ev.cursor(), 30);
    record(&recorder, &clock, vec![download("ap@example.com", 99)]).await;
    // The tap is offered the batch just after the caller's receipt: wait for it.
    let batch = tokio::time::timeout(Duration::from_secs(30), committed.recv())
        .await
        .expect("a batch with room in the tap")
        .expect("the tap is open");
    assert_eq!(batch.len(), 1);
    assert_eq!(ev.judge_committed(batch.clone()).await.unwrap().judged, 1);
    assert_eq!(
        ev.judge_committed(batch).await.unwrap().judged,
        0,
        "not twice"
    );
    assert_eq!(alerts(db, true).await.len(), 1);
}
