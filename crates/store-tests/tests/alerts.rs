//! The alert inbox's storage, on SQLite and on PostgreSQL.

use std::time::Duration;

use accesslog_core::Timestamp;
use accesslog_store::Store;
use accesslog_store::alerts::{AlertFilter, AlertRecord, DeadLetterRecord, Suppression};

const T0: Timestamp = Timestamp::from_micros(1_764_406_800_000_000);

fn at(secs: u64) -> Timestamp {
    T0.plus(Duration::from_secs(secs))
}

async fn with_store(
    backend: accesslog_testkit::Backend,
    case_name: &str,
    case: impl AsyncFn(&dyn Store),
) {
    accesslog_testkit::with_db(
        backend,
        case_name,
        async |db: &accesslog_testkit::TestDb| case(&*db.store).await,
    )
    .await;
}

accesslog_testkit::on_both_backends!(
    run: crate::with_store, current_thread;
    one_open_alert_per_key,
    stale_updates_are_refused,
    a_round_of_alerts_is_written_in_one_go,
    alerts_are_listed_by_filter_newest_first,
    the_cursor_moves_only_from_where_it_was,
    suppressions_are_in_force_until_they_expire,
    dead_letters_are_kept_newest_first,
);

fn alert(rule: &str, user: &str, window: u64) -> AlertRecord {
    AlertRecord {
        id: 0,
        rule: rule.into(),
        user: user.into(),
        window_start: at(window),
        severity: 1,
        state: "open".into(),
        shadow: false,
        opened_at: at(window + 5),
        updated_at: at(window + 5),
        version: 0,
        body: r#"{"seqs":[1]}"#.into(),
    }
}

async fn one_open_alert_per_key(store: &dyn Store) {
    let a = alert("R1", "hr@example.com", 0);
    let id = store
        .insert_alert(&a)
        .await
        .unwrap()
        .expect("the first is stored");
    assert_eq!(
        store.insert_alert(&a).await.unwrap(),
        None,
        "a second open one is not"
    );
    // Another window, rule or user is another key.
    assert!(
        store
            .insert_alert(&alert("R1", "hr@example.com", 86_400))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .insert_alert(&alert("R4", "hr@example.com", 0))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .insert_alert(&alert("R1", "x@example.com", 0))
            .await
            .unwrap()
            .is_some()
    );
    let open = store
        .open_alert_for("R1", "hr@example.com", at(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.id, id);
    assert_eq!(open.version, 1);
    // Once closed, the key is free again.
    let mut closed = open.clone();
    closed.state = "resolved".into();
    assert!(store.update_alert(&closed).await.unwrap());
    assert_eq!(
        store
            .open_alert_for("R1", "hr@example.com", at(0))
            .await
            .unwrap(),
        None
    );
    let again = store
        .insert_alert(&a)
        .await
        .unwrap()
        .expect("a new one may open");
    assert_ne!(again, id);
}

async fn a_round_of_alerts_is_written_in_one_go(store: &dyn Store) {
    let kept = store
        .insert_alert(&alert("R1", "a@example.com", 0))
        .await
        .unwrap()
        .unwrap();
    let taken = store
        .insert_alert(&alert("R2", "a@example.com", 0))
        .await
        .unwrap()
        .unwrap();
    let mut joined = store.alert(kept).await.unwrap().unwrap();
    joined.severity = 2;
    joined.body = r#"{"seqs":[1,2]}"#.into();
    // Changed by someone else since it was read: this one must not be written.
    let mut stale = store.alert(taken).await.unwrap().unwrap();
    let mut meanwhile = stale.clone();
    meanwhile.state = "acknowledged".into();
    assert!(store.update_alert(&meanwhile).await.unwrap());
    stale.severity = 3;
    let round = [
        joined.clone(),
        alert("R4", "a@example.com", 0),
        stale.clone(),
        // Its key is open already (the first alert's).
        alert("R1", "a@example.com", 0),
    ];
    let written = store.write_alerts(&round).await.unwrap();
    assert_eq!(written.len(), 4);
    assert_eq!(written[0], Some(kept));
    let new = written[1].expect("the new key is inserted");
    assert_eq!((written[2], written[3]), (None, None));
    let now = store.alert(kept).await.unwrap().unwrap();
    assert_eq!((now.severity, now.version), (2, 2));
    assert_eq!(now.body, r#"{"seqs":[1,2]}"#);
    let inserted = store.alert(new).await.unwrap().unwrap();
    assert_eq!((inserted.rule.as_str(), inserted.version), ("R4", 1));
    let untouched = store.alert(taken).await.unwrap().unwrap();
    assert_eq!(
        (untouched.severity, untouched.state.as_str()),
        (1, "acknowledged")
    );
    assert_eq!(
        store.write_alerts(&[]).await.unwrap(),
        Vec::<Option<u64>>::new()
    );
}

async fn stale_updates_are_refused(store: &dyn Store) {
    let id = store
        .insert_alert(&alert("R2", "a@example.com", 0))
        .await
        .unwrap()
        .unwrap();
    let read = store.alert(id).await.unwrap().unwrap();
    let mut first = read.clone();
    first.severity = 3;
    first.body = r#"{"seqs":[1,2]}"#.into();
    first.updated_at = at(99);
    assert!(store.update_alert(&first).await.unwrap());
    let mut stale = read.clone();
    stale.state = "acknowledged".into();
    assert!(
        !store.update_alert(&stale).await.unwrap(),
        "written over a newer change"
    );
    let now = store.alert(id).await.unwrap().unwrap();
    assert_eq!(
        (now.severity, now.state.as_str(), now.version),
        (3, "open", 2)
    );
    assert_eq!(now.body, r#"{"seqs":[1,2]}"#);
    assert_eq!(now.updated_at, at(99));
    assert_eq!(store.alert(id + 100).await.unwrap(), None);
}

async fn alerts_are_listed_by_filter_newest_first(store: &dyn Store) {
    let mut shadow = alert("R2", "a@example.com", 0);
    shadow.shadow = true;
    let s = store.insert_alert(&shadow).await.unwrap().unwrap();
    let mut high = alert("R1", "b@example.com", 0);
    high.severity = 2;
    let h = store.insert_alert(&high).await.unwrap().unwrap();
    let l = store
        .insert_alert(&alert("R1", "a@example.com", 0))
        .await
        .unwrap()
        .unwrap();
    let ids = |v: Vec<AlertRecord>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let all = AlertFilter {
        limit: 50,
        ..AlertFilter::default()
    };
    assert_eq!(
        ids(store.list_alerts(&all).await.unwrap()),
        vec![l, h],
        "shadow left out"
    );
    let with_shadow = AlertFilter {
        shadow: true,
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_alerts(&with_shadow).await.unwrap()),
        vec![l, h, s]
    );
    let by_rule = AlertFilter {
        rule: Some("R1".into()),
        user: Some("b@example.com".into()),
        ..all.clone()
    };
    assert_eq!(ids(store.list_alerts(&by_rule).await.unwrap()), vec![h]);
    let severe = AlertFilter {
        min_severity: Some(2),
        ..all.clone()
    };
    assert_eq!(ids(store.list_alerts(&severe).await.unwrap()), vec![h]);
    let page = AlertFilter {
        limit: 1,
        offset: 1,
        ..all.clone()
    };
    assert_eq!(ids(store.list_alerts(&page).await.unwrap()), vec![h]);
    assert_eq!(store.count_open_alerts().await.unwrap(), 2);
    let mut done = store.alert(h).await.unwrap().unwrap();
    done.state = "dismissed".into();
    assert!(store.update_alert(&done).await.unwrap());
    let open = AlertFilter {
        open_only: true,
        ..all.clone()
    };
    assert_eq!(ids(store.list_alerts(&open).await.unwrap()), vec![l]);
    let dismissed = AlertFilter {
        state: Some("dismissed".into()),
        ..all.clone()
    };
    assert_eq!(ids(store.list_alerts(&dismissed).await.unwrap()), vec![h]);
    assert_eq!(store.count_open_alerts().await.unwrap(), 1);
    let later = AlertFilter {
        opened_from: Some(at(6)),
        ..with_shadow
    };
    assert!(store.list_alerts(&later).await.unwrap().is_empty());
}

async fn the_cursor_moves_only_from_where_it_was(store: &dyn Store) {
    assert_eq!(store.alerts_cursor().await.unwrap(), None);
    assert!(store.move_alerts_cursor(0, 10, at(1)).await.unwrap());
    assert_eq!(store.alerts_cursor().await.unwrap(), Some((10, at(1))));
    assert!(
        !store.move_alerts_cursor(0, 20, at(2)).await.unwrap(),
        "moved by another"
    );
    assert!(store.move_alerts_cursor(10, 20, at(3)).await.unwrap());
    assert_eq!(
        store.alerts_cursor().await.unwrap(),
        Some((20, at(1))),
        "started stays"
    );
}

async fn suppressions_are_in_force_until_they_expire(store: &dyn Store) {
    let s = Suppression {
        id: 0,
        rule: Some("R7".into()),
        user: None,
        owner: "admin@example.com".into(),
        reason: "quarter close: night shifts".into(),
        created_at: at(0),
        expires_at: at(100),
    };
    let id = store.add_suppression(&s).await.unwrap();
    let got = store.suppressions(Some(at(50))).await.unwrap();
    assert_eq!(got, vec![Suppression { id, ..s }]);
    assert!(
        store.suppressions(Some(at(100))).await.unwrap().is_empty(),
        "expired"
    );
    assert_eq!(
        store.suppressions(None).await.unwrap().len(),
        1,
        "kept for the record"
    );
}

async fn dead_letters_are_kept_newest_first(store: &dyn Store) {
    let d = DeadLetterRecord {
        id: 0,
        channel: "webhook https://hooks.example/x".into(),
        alert_id: 7,
        attempts: 5,
        last_error: "HTTP 500".into(),
        at: at(1),
    };
    let a = store.add_dead_letter(&d).await.unwrap();
    let b = store
        .add_dead_letter(&DeadLetterRecord {
            alert_id: 8,
            ..d.clone()
        })
        .await
        .unwrap();
    let got = store.dead_letters(10).await.unwrap();
    assert_eq!(got.iter().map(|d| d.id).collect::<Vec<_>>(), vec![b, a]);
    assert_eq!(got[1], DeadLetterRecord { id: a, ..d });
}
