//! The storage suite: every case runs on SQLite and on PostgreSQL.
//!
//! PostgreSQL cases run when `ACCESSLOG_TEST_POSTGRES_URL` is set, each in a fresh schema
//! that is dropped afterwards, so runs never collide; otherwise they say they were skipped.

use std::collections::HashMap;
use std::time::Duration;

use std::sync::Arc;

use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, CanonicalJson, Entry, Event, Outcome};
use accesslog_core::merkle::{
    self, Hash, NodeId, consistency_plan, inclusion_plan, leaf_hash, root_from_leaves,
};
use accesslog_core::secrets::{random_hex, token_digest};
use accesslog_store::StoredCheckpoint;
use accesslog_store::{Dialect, NewApiKey, NewSession, NewUser, Store, StoreError, User};
use accesslog_store_postgres::PgStore;
use accesslog_store_sqlite::SqliteStore;

const T0: Timestamp = Timestamp::from_micros(1_764_406_800_123_456);

fn at(secs: u64) -> Timestamp {
    T0.plus(Duration::from_secs(secs))
}

/// Every case is given the store alone: `&dyn Store`, as the server holds it. One thread
/// per test, as some cases check that long work yields to other tasks.
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
    ping_names_the_backend,
    the_blocking_appender_extends_the_same_log,
    source_marks_are_a_sources_entries_by_seq_range,
    users_are_created_and_found,
    duplicate_email_is_a_conflict,
    roles_are_added_idempotently_and_removed,
    unknown_users_are_not_found,
    disabling_a_user_ends_their_sessions,
    changing_a_password_ends_sessions,
    sessions_round_trip_and_touch_only_forward,
    sessions_are_purged_by_idle_and_absolute_age,
    api_keys_round_trip_and_revoke_once,
    api_keys_are_listed_per_user_newest_first,
    login_failures_are_counted_per_account_and_ip,
    concurrent_login_attempts_are_counted_exactly,
    appends_get_dense_seqs_and_extend_the_tree,
    entries_round_trip_every_field,
    stored_nodes_prove_inclusion_and_consistency,
    checkpoints_are_kept_once_per_size,
    concurrent_appends_stay_dense_and_lose_nothing,
    an_append_is_never_dated_before_the_last_entry,
    an_invalid_event_writes_nothing,
    recomputed_leaves_match_the_entries,
    doctype_tables_are_created_and_grow_without_losing_data,
    documents_round_trip_with_child_rows,
    naming_series_count_per_prefix,
    lists_filter_sort_and_page_like_erpnext,
    files_are_kept_by_url_and_by_document,
    a_batch_of_documents_is_stored_whole_or_not_at_all,
    report_queries_stream_typed_rows_and_cannot_write,
    long_reports_arrive_whole_and_in_order,
    a_slow_report_sink_leaves_room_for_other_tasks,
    review_searches_see_every_entry_indexed_or_not,
    reports_read_documents_with_joins_aggregates_and_dates,
    reports_are_refused_the_system_tables_by_the_database,
    reports_are_refused_file_network_and_escape_functions,
);

async fn add_user(store: &dyn Store, email: &str, at: Timestamp) -> User {
    let new = NewUser {
        email: email.to_owned(),
        full_name: format!("Name of {email}"),
        enabled: true,
        password_hash: Some(format!("hash-of-{email}")),
    };
    store.create_user(&new, at).await.unwrap()
}

fn new_session(user_id: i64, token: &str, created: Timestamp) -> NewSession {
    NewSession {
        id_digest: token_digest(token),
        user_id,
        csrf_token: format!("csrf-{token}"),
        created_at: created,
        ip: "127.0.0.1".into(),
        user_agent: "suite".into(),
        script: false,
    }
}

async fn ping_names_the_backend(store: &dyn Store) {
    store.ping().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&store.dialect().name()));
}

async fn users_are_created_and_found(store: &dyn Store) {
    let b = add_user(store, "b@example.com", at(1)).await;
    let a = add_user(store, "a@example.com", at(2)).await;
    assert_ne!(a.id, b.id);

    let found = store.user_by_email("b@example.com").await.unwrap().unwrap();
    assert_eq!(found, b);
    assert_eq!(
        found.created_at,
        at(1),
        "timestamps keep their microseconds"
    );
    assert_eq!(
        store.user_by_id(a.id).await.unwrap().unwrap().email,
        "a@example.com"
    );
    assert_eq!(
        store.password_hash(a.id).await.unwrap().as_deref(),
        Some("hash-of-a@example.com")
    );

    let emails: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(emails, ["a@example.com", "b@example.com"]);
}

async fn duplicate_email_is_a_conflict(store: &dyn Store) {
    add_user(store, "a@example.com", at(1)).await;
    let again = NewUser {
        email: "a@example.com".into(),
        full_name: "Again".into(),
        enabled: true,
        password_hash: None,
    };
    let err = store.create_user(&again, at(2)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("a@example.com")),
        "{err:?}"
    );
    assert_eq!(store.list_users().await.unwrap().len(), 1);
}

async fn roles_are_added_idempotently_and_removed(store: &dyn Store) {
    add_user(store, "a@example.com", at(1)).await;
    add_user(store, "b@example.com", at(1)).await;
    store.add_role("a@example.com", "Sales User").await.unwrap();
    store
        .add_role("a@example.com", "Accounts User")
        .await
        .unwrap();
    store.add_role("a@example.com", "Sales User").await.unwrap();

    let a = store.user_by_email("a@example.com").await.unwrap().unwrap();
    assert_eq!(a.roles, ["Accounts User", "Sales User"]);
    assert!(a.has_role("Sales User"));

    let listed = store.list_users().await.unwrap();
    assert_eq!(listed[0].roles, ["Accounts User", "Sales User"]);
    assert!(
        listed[1].roles.is_empty(),
        "roles do not leak between users"
    );

    store
        .remove_role("a@example.com", "Sales User")
        .await
        .unwrap();
    let a = store.user_by_email("a@example.com").await.unwrap().unwrap();
    assert_eq!(a.roles, ["Accounts User"]);
}

async fn unknown_users_are_not_found(store: &dyn Store) {
    assert!(
        store
            .user_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.user_by_id(4242).await.unwrap().is_none());
    assert!(store.password_hash(4242).await.unwrap().is_none());
    for err in [
        store
            .add_role("nobody@example.com", "Sales User")
            .await
            .unwrap_err(),
        store
            .set_user_enabled("nobody@example.com", false)
            .await
            .unwrap_err(),
        store
            .set_password_hash("nobody@example.com", "h")
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }
}

async fn disabling_a_user_ends_their_sessions(store: &dyn Store) {
    let a = add_user(store, "a@example.com", at(1)).await;
    let b = add_user(store, "b@example.com", at(1)).await;
    store
        .create_session(&new_session(a.id, "sa", at(2)))
        .await
        .unwrap();
    store
        .create_session(&new_session(b.id, "sb", at(2)))
        .await
        .unwrap();

    store
        .set_user_enabled("a@example.com", false)
        .await
        .unwrap();
    assert!(
        !store
            .user_by_email("a@example.com")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    assert!(store.session(&token_digest("sa")).await.unwrap().is_none());
    assert!(store.session(&token_digest("sb")).await.unwrap().is_some());

    store.set_user_enabled("a@example.com", true).await.unwrap();
    assert!(
        store
            .user_by_email("a@example.com")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
}

async fn changing_a_password_ends_sessions(store: &dyn Store) {
    let a = add_user(store, "a@example.com", at(1)).await;
    store
        .create_session(&new_session(a.id, "sa", at(2)))
        .await
        .unwrap();
    store
        .set_password_hash("a@example.com", "new-hash")
        .await
        .unwrap();
    assert_eq!(
        store.password_hash(a.id).await.unwrap().as_deref(),
        Some("new-hash")
    );
    assert!(store.session(&token_digest("sa")).await.unwrap().is_none());
}

async fn sessions_round_trip_and_touch_only_forward(store: &dyn Store) {
    let a = add_user(store, "a@example.com", at(1)).await;
    let new = new_session(a.id, "tok", at(10));
    store.create_session(&new).await.unwrap();

    let s = store.session(&new.id_digest).await.unwrap().unwrap();
    assert_eq!(
        (s.user_id, s.created_at, s.last_seen_at),
        (a.id, at(10), at(10))
    );
    assert_eq!(s.csrf_token, "csrf-tok");
    assert_eq!(
        (s.ip.as_str(), s.user_agent.as_str(), s.script),
        ("127.0.0.1", "suite", false)
    );
    let scripted = NewSession {
        script: true,
        ..new_session(a.id, "script-tok", at(10))
    };
    store.create_session(&scripted).await.unwrap();
    assert!(
        store
            .session(&scripted.id_digest)
            .await
            .unwrap()
            .unwrap()
            .script
    );

    store.touch_session(&new.id_digest, at(50)).await.unwrap();
    store.touch_session(&new.id_digest, at(20)).await.unwrap();
    let s = store.session(&new.id_digest).await.unwrap().unwrap();
    assert_eq!(
        s.last_seen_at,
        at(50),
        "an older touch never moves last_seen back"
    );

    store.delete_session(&new.id_digest).await.unwrap();
    assert!(store.session(&new.id_digest).await.unwrap().is_none());
    store.delete_session(&new.id_digest).await.unwrap();
}

async fn sessions_are_purged_by_idle_and_absolute_age(store: &dyn Store) {
    let a = add_user(store, "a@example.com", at(1)).await;
    store
        .create_session(&new_session(a.id, "old", at(10)))
        .await
        .unwrap();
    store
        .create_session(&new_session(a.id, "idle", at(100)))
        .await
        .unwrap();
    store
        .create_session(&new_session(a.id, "fresh", at(100)))
        .await
        .unwrap();
    store
        .touch_session(&token_digest("old"), at(500))
        .await
        .unwrap();
    store
        .touch_session(&token_digest("fresh"), at(500))
        .await
        .unwrap();

    // idle: last seen before 300; absolute: created before 50.
    let gone = store.purge_sessions(at(300), at(50)).await.unwrap();
    assert_eq!(gone, 2);
    assert!(store.session(&token_digest("old")).await.unwrap().is_none());
    assert!(
        store
            .session(&token_digest("idle"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session(&token_digest("fresh"))
            .await
            .unwrap()
            .is_some()
    );
}

fn new_key(user_id: i64, id: &str, created: Timestamp) -> NewApiKey {
    NewApiKey {
        api_key: id.to_owned(),
        user_id,
        secret_digest: token_digest(&format!("secret-{id}")),
        label: format!("label {id}"),
        scopes: vec!["auditor".to_owned()],
        created_at: created,
    }
}

async fn api_keys_round_trip_and_revoke_once(store: &dyn Store) {
    let a = add_user(store, "a@example.com", at(1)).await;
    store
        .create_api_key(&new_key(a.id, "k1", at(2)))
        .await
        .unwrap();

    let k = store.api_key("k1").await.unwrap().unwrap();
    assert_eq!((k.user_id, k.user_email.as_str()), (a.id, "a@example.com"));
    assert_eq!(k.secret_digest, token_digest("secret-k1"));
    assert_eq!(k.scopes, ["auditor"]);
    assert_eq!(
        (k.created_at, k.revoked_at, k.last_used_at),
        (at(2), None, None)
    );

    let err = store
        .create_api_key(&new_key(a.id, "k1", at(3)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = store
        .create_api_key(&new_key(999, "k9", at(3)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    store.touch_api_key("k1", at(4)).await.unwrap();
    store.revoke_api_key("k1", at(5)).await.unwrap();
    store.revoke_api_key("k1", at(6)).await.unwrap();
    let k = store.api_key("k1").await.unwrap().unwrap();
    assert_eq!((k.last_used_at, k.revoked_at), (Some(at(4)), Some(at(5))));

    let err = store.revoke_api_key("nope", at(7)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(store.api_key("nope").await.unwrap().is_none());
}

async fn api_keys_are_listed_per_user_newest_first(store: &dyn Store) {
    let a = add_user(store, "a@example.com", at(1)).await;
    let b = add_user(store, "b@example.com", at(1)).await;
    store
        .create_api_key(&new_key(a.id, "a-old", at(2)))
        .await
        .unwrap();
    store
        .create_api_key(&new_key(b.id, "b-mid", at(3)))
        .await
        .unwrap();
    store
        .create_api_key(&new_key(a.id, "a-new", at(4)))
        .await
        .unwrap();

    let ids = |keys: Vec<accesslog_store::ApiKey>| -> Vec<String> {
        keys.into_iter().map(|k| k.api_key).collect()
    };
    assert_eq!(
        ids(store.list_api_keys(None).await.unwrap()),
        ["a-new", "b-mid", "a-old"]
    );
    assert_eq!(
        ids(store.list_api_keys(Some(a.id)).await.unwrap()),
        ["a-new", "a-old"]
    );
    assert_eq!(
        ids(store.list_api_keys(Some(b.id)).await.unwrap()),
        ["b-mid"]
    );
}

async fn login_failures_are_counted_per_account_and_ip(store: &dyn Store) {
    use accesslog_store::LoginOutcome::{Failed, Succeeded, Throttled, Withdrawn};
    let attempt = |account: &'static str, ip: &'static str, s: u64| async move {
        store
            .begin_login_attempt(account, ip, at(s), at(0))
            .await
            .unwrap()
    };
    let mut a1 = Vec::new();
    for s in 0..3 {
        let (id, counts) = attempt("a@example.com", "10.0.0.1", s).await;
        assert_eq!(
            counts.pair,
            s + 1,
            "each attempt counts itself and those before"
        );
        a1.push(id);
    }
    for id in &a1 {
        store.settle_login_attempt(*id, Failed).await.unwrap();
    }
    let (b, _) = attempt("b@example.com", "10.0.0.1", 5).await;
    store.settle_login_attempt(b, Throttled).await.unwrap();
    let (a2, c) = attempt("a@example.com", "10.0.0.2", 6).await;
    assert_eq!((c.pair, c.account, c.ip), (1, 4, 1));
    store.settle_login_attempt(a2, Failed).await.unwrap();

    let (probe, c) = store
        .begin_login_attempt("a@example.com", "10.0.0.1", at(7), at(2))
        .await
        .unwrap();
    assert_eq!(
        (c.pair, c.account, c.ip),
        (2, 3, 3),
        "attempts before the window do not count"
    );

    let seen = store.login_attempts_since(at(0), 100).await.unwrap();
    let row = |account: &str, ip: &str| {
        seen.iter()
            .find(|r| r.account == account && r.ip == ip)
            .map(|r| (r.failed, r.throttled))
    };
    assert_eq!(
        row("a@example.com", "10.0.0.1"),
        Some((3, 0)),
        "a pending attempt is not shown"
    );
    assert_eq!(row("b@example.com", "10.0.0.1"), Some((0, 1)));
    assert_eq!(row("a@example.com", "10.0.0.2"), Some((1, 0)));
    assert_eq!(seen[0].account, "a@example.com", "latest first");

    // A withdrawn attempt (never checked) is forgotten alone.
    let (w, c) = store
        .begin_login_attempt("a@example.com", "10.0.0.1", at(7), at(0))
        .await
        .unwrap();
    assert_eq!(c.pair, 5);
    store.settle_login_attempt(w, Withdrawn).await.unwrap();
    // A success forgets its pair's failures, and only those.
    store.settle_login_attempt(probe, Succeeded).await.unwrap();
    let (p, c) = store
        .begin_login_attempt("a@example.com", "10.0.0.1", at(8), at(0))
        .await
        .unwrap();
    assert_eq!((c.pair, c.account, c.ip), (1, 2, 2));
    store.settle_login_attempt(p, Succeeded).await.unwrap();

    store.forget_login_attempts(at(6)).await.unwrap();
    let seen = store.login_attempts_since(at(0), 100).await.unwrap();
    assert_eq!(
        seen.len(),
        1,
        "attempts older than the cut-off are forgotten: {seen:?}"
    );
    assert_eq!(seen[0].ip, "10.0.0.2");
}

/// Many attempts at once: each counts all stored before it, so no more than the limit can
/// see a count within it.
async fn concurrent_login_attempts_are_counted_exactly(store: &dyn Store) {
    let attempts =
        (0..40).map(|_| store.begin_login_attempt("c@example.com", "10.9.9.9", at(1), at(0)));
    let counts: Vec<u64> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().1.pair)
        .collect();
    assert!(
        counts.iter().filter(|&&n| n <= 5).count() <= 5,
        "{counts:?}"
    );
    assert_eq!(
        counts.iter().max(),
        Some(&40),
        "the last one stored sees them all"
    );
}

// ----- backend-specific durability settings -----

/// SQLite keeps the review table in a file beside the database (`<file>-review`). A
/// review file that is a copy of another log, as after restoring a backup beside an old
/// one, is emptied and refilled, so the review never shows entries the log does not hold;
/// the log's own review file is kept.
#[tokio::test]
async fn sqlite_rebuilds_a_review_file_that_belongs_to_another_log() {
    use accesslog_store::log_search::{EntryPage, EntryQuery};
    use accesslog_store::{LogReads, LogStore};
    use accesslog_store_sqlite::review_path;

    async fn users(store: &SqliteStore) -> Vec<String> {
        store
            .search_entries(
                &EntryQuery::default(),
                EntryPage::Newest { before: None },
                50,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event.user)
            .collect()
    }
    let copy_review = |from: &std::path::Path, to: &std::path::Path| {
        for suffix in ["", "-wal"] {
            let mut src = review_path(from).into_os_string();
            src.push(suffix);
            let mut dst = review_path(to).into_os_string();
            dst.push(suffix);
            if std::path::Path::new(&src).exists() {
                std::fs::copy(&src, &dst).unwrap();
            }
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let (ours, other, restored) = (
        dir.path().join("site.db"),
        dir.path().join("other.db"),
        dir.path().join("restored.db"),
    );

    let store = SqliteStore::open(&ours).await.unwrap();
    let events: Vec<Event> = (0..5).map(|n| event("a@example.com", n)).collect();
    store.append_entries(&events, at(1)).await.unwrap();
    assert_eq!(store.index_for_review(100).await.unwrap(), 5);
    assert!(
        review_path(&ours).exists(),
        "the review file sits beside the database"
    );

    let other_store = SqliteStore::open(&other).await.unwrap();
    let events: Vec<Event> = (0..3).map(|n| event("b@example.com", n)).collect();
    other_store.append_entries(&events, at(2)).await.unwrap();
    other_store.backup_to(&restored).await.unwrap();
    other_store.close().await;
    // The other log's backup restored beside our review file.
    copy_review(&ours, &restored);
    let restored_store = SqliteStore::open(&restored).await.unwrap();
    assert_eq!(users(&restored_store).await, ["b@example.com"; 3]);
    assert_eq!(restored_store.index_for_review(100).await.unwrap(), 3);
    assert_eq!(users(&restored_store).await, ["b@example.com"; 3]);
    restored_store.close().await;

    // Our own review file, opened again beside our log, is kept as it is.
    store.close().await;
    let store = SqliteStore::open(&ours).await.unwrap();
    assert_eq!(store.index_for_review(100).await.unwrap(), 0);
    assert_eq!(users(&store).await, ["a@example.com"; 5]);
    store.close().await;
}

#[tokio::test]
async fn sqlite_runs_in_wal_with_synchronous_full() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("wal.db")).await.unwrap();
    // The site's file and the log's own file, on every connection.
    for schema in ["main", "log"] {
        let mode: String =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("PRAGMA {schema}.journal_mode")))
                .fetch_one(store.pool())
                .await
                .unwrap();
        let sync: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("PRAGMA {schema}.synchronous")))
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(mode, "wal", "{schema}");
        assert_eq!(sync, 2, "{schema}: 2 is FULL");
    }
}

/// How many rows `table` has in the SQLite file at `path` opened alone (no attachments),
/// or None when the file has no such table.
async fn rows_in_file(path: &std::path::Path, table: &str) -> Option<i64> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let exists: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = $1")
            .bind(table)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let rows = if exists == 1 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        Some(
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .unwrap(),
        )
    } else {
        None
    };
    conn.close().await.unwrap();
    rows
}

/// SQLite keeps the Access Log in a file of its own beside the site's (`<file>-log`), so a
/// log commit leaves the record pages other connections have cached; a backup is still one
/// file holding both, and opening it (or a database from before this layout) moves the
/// log out again, with every entry, tree node, checkpoint and the head unchanged.
#[tokio::test]
async fn sqlite_keeps_the_log_in_a_file_of_its_own_and_backups_whole() {
    use accesslog_store::{LogReads, LogStore};
    use accesslog_store_sqlite::log_path;

    let dir = tempfile::tempdir().unwrap();
    let (site, backup) = (dir.path().join("site.db"), dir.path().join("backup.db"));
    let store = SqliteStore::open(&site).await.unwrap();
    let events: Vec<Event> = (0..7).map(|n| event("a@example.com", n)).collect();
    store.append_entries(&events, at(1)).await.unwrap();
    let head = store.log_head().await.unwrap();
    store
        .add_checkpoint(&StoredCheckpoint {
            size: head.size,
            root: head.root,
            created_at: at(2),
            note: "a note".into(),
        })
        .await
        .unwrap();
    store.backup_to(&backup).await.unwrap();
    store.close().await;

    assert_eq!(rows_in_file(&site, "access_log").await, None);
    assert_eq!(rows_in_file(&site, "log_state").await, None);
    assert_eq!(rows_in_file(&log_path(&site), "access_log").await, Some(7));
    assert_eq!(rows_in_file(&log_path(&site), "checkpoints").await, Some(1));
    // The backup: one file, the log inside it, nothing beside it.
    assert_eq!(rows_in_file(&backup, "access_log").await, Some(7));
    // 7 leaves: 4 perfect subtrees above them ([0,2), [2,4), [4,6), [0,4)).
    assert_eq!(rows_in_file(&backup, "merkle_nodes").await, Some(4));
    assert_eq!(rows_in_file(&backup, "checkpoints").await, Some(1));
    assert!(!log_path(&backup).exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("snapshot"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Opened as a database, the backup's log moves into its own file, whole.
    let restored = SqliteStore::open(&backup).await.unwrap();
    assert_eq!(restored.log_head().await.unwrap(), head);
    assert_eq!(restored.checkpoints().await.unwrap().len(), 1);
    assert_eq!(restored.entries_after(0, 100).await.unwrap().len(), 7);
    restored
        .append_entries(&[event("b@example.com", 8)], at(3))
        .await
        .unwrap();
    restored.close().await;
    assert_eq!(rows_in_file(&backup, "access_log").await, None);
    assert_eq!(
        rows_in_file(&log_path(&backup), "access_log").await,
        Some(8)
    );
}

/// A database whose own file holds a log beside a log file holding another (a backup
/// copied over the site's file) is refused, naming both files; beside the same log (a
/// move interrupted between the two files' commits) it finishes the move.
#[tokio::test]
async fn sqlite_refuses_a_log_beside_another_and_finishes_an_interrupted_move() {
    use accesslog_store::{LogReads, LogStore};
    use accesslog_store_sqlite::log_path;

    let dir = tempfile::tempdir().unwrap();
    let (site, other, backup) = (
        dir.path().join("site.db"),
        dir.path().join("other.db"),
        dir.path().join("backup.db"),
    );
    let store = SqliteStore::open(&site).await.unwrap();
    let events: Vec<Event> = (0..4).map(|n| event("a@example.com", n)).collect();
    store.append_entries(&events, at(1)).await.unwrap();
    let head = store.log_head().await.unwrap();
    // The same log, as a single file: what an interrupted move leaves in the site's file.
    store.backup_to(&backup).await.unwrap();
    store.close().await;
    let other_store = SqliteStore::open(&other).await.unwrap();
    other_store
        .append_entries(&[event("b@example.com", 1)], at(2))
        .await
        .unwrap();
    other_store.close().await;

    std::fs::copy(&backup, &site).unwrap();
    for stale in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{stale}", site.display()));
    }
    let store = SqliteStore::open(&site).await.unwrap();
    assert_eq!(store.log_head().await.unwrap(), head);
    store.close().await;
    assert_eq!(rows_in_file(&site, "access_log").await, None);

    // Another log's file beside this log, as after copying files about by hand.
    std::fs::copy(&backup, &other).unwrap();
    for stale in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{stale}", other.display()));
    }
    let err = SqliteStore::open(&other).await.expect_err("two logs");
    let message = err.to_string();
    assert!(
        message.contains(&other.display().to_string())
            && message.contains(&log_path(&other).display().to_string())
            && message.contains("4 entries")
            && message.contains("another of 1"),
        "{message}"
    );
    // Nothing was changed: both logs are still there.
    assert_eq!(rows_in_file(&other, "access_log").await, Some(4));
    assert_eq!(rows_in_file(&log_path(&other), "access_log").await, Some(1));
}

#[tokio::test]
async fn postgres_commits_synchronously() {
    let Ok(url) = std::env::var(accesslog_testkit::POSTGRES_URL_VAR) else {
        accesslog_testkit::skip_postgres();
        return;
    };
    let schema = format!("t_{}", random_hex(8));
    let store = PgStore::connect_in_schema(&url, &schema).await.unwrap();
    let setting: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(setting, "on");
    store.drop_schema(&schema).await.unwrap();
}

/// An operator (and log_bench's `servers` run) tells the appending connection from the
/// others in `pg_stat_activity` by its name.
#[tokio::test]
async fn postgres_names_its_connections() {
    let Ok(url) = std::env::var(accesslog_testkit::POSTGRES_URL_VAR) else {
        accesslog_testkit::skip_postgres();
        return;
    };
    let schema = format!("t_{}", random_hex(8));
    let store = PgStore::connect_in_schema(&url, &schema).await.unwrap();
    let ours: String = sqlx::query_scalar("SELECT current_setting('application_name')")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(ours, accesslog_store_postgres::APPLICATION_NAME);
    // The writer connects at once (min_connections 1) and stays.
    let writers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
         AND pid <> pg_backend_pid() AND datname = current_database()",
    )
    .bind(accesslog_store_postgres::WRITER_APPLICATION_NAME)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(
        writers >= 1,
        "no connection named {:?}",
        accesslog_store_postgres::WRITER_APPLICATION_NAME
    );
    store.drop_schema(&schema).await.unwrap();
}

// ----- the Access Log -----

fn event(user: &str, n: usize) -> Event {
    let mut e = Event::new(user, Activity::Export, "GET /api/test");
    e.report_name = Some(format!("Report {n}"));
    e.row_count = Some(n as u64);
    e
}

async fn all_entries(store: &dyn Store) -> Vec<Entry> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map_or(0, |e: &Entry| e.seq);
        let page = store.entries_after(after, 7).await.unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

fn leaves_of(entries: &[Entry]) -> Vec<Hash> {
    entries
        .iter()
        .map(|e| leaf_hash(&e.canonical_bytes()))
        .collect()
}

/// The review's searches and counts give the same answers whether the entries are in the
/// review table (found through its indexes), only in the log (the tail above the
/// watermark), or split between the two at any point, for every filter and both kinds of
/// page. The expected answers are worked out here from every entry.
async fn review_searches_see_every_entry_indexed_or_not(store: &dyn Store) {
    use accesslog_store::log_search::{EntryPage, EntryQuery, GroupBy};

    // 45 entries in 15 batches of 1 to 5, three seconds apart; a batch shares a timestamp.
    let mut n = 0;
    for batch in 0..15u64 {
        let events: Vec<Event> = (0..=(batch % 5))
            .map(|_| {
                n += 1;
                let user = format!("u{}@example.com", n % 3);
                let mut e = match n % 4 {
                    0 => Event::new(&user, Activity::Print, "GET /printview"),
                    _ => event(&user, n),
                };
                if n % 4 == 0 {
                    e.report_name = None;
                    e.export_from = Some("Sales Invoice".into());
                    e.reference_document = Some(format!("SINV-{n:04}"));
                    e.file_type = Some("PDF".into());
                } else {
                    e.file_type = Some(if n % 2 == 0 { "XLSX" } else { "CSV" }.into());
                    e.byte_count = Some(n as u64 * 100);
                }
                if n % 7 == 0 {
                    e.outcome = Outcome::Denied;
                    e.reason = Some("not permitted".into());
                }
                // Who reported it: this server, the gate before an ERPNext site, an import.
                e.source = match n % 5 {
                    1 => "gate:erp.example.com".into(),
                    2 => "frappe:erp.example.com".into(),
                    3 => "gate:other.example".into(),
                    _ => "local".into(),
                };
                e
            })
            .collect();
        store.append_entries(&events, at(batch * 3)).await.unwrap();
    }
    let all = all_entries(store).await;
    assert_eq!(all.len(), 45);

    let queries = [
        EntryQuery::default(),
        EntryQuery {
            user: Some("u1@example.com".into()),
            ..Default::default()
        },
        EntryQuery {
            activity: Some(Activity::Print),
            ..Default::default()
        },
        EntryQuery {
            export_from: Some("Sales Invoice".into()),
            from: Some(at(9)),
            to: Some(at(30)),
            ..Default::default()
        },
        EntryQuery {
            report_name: Some("Report 6".into()),
            ..Default::default()
        },
        EntryQuery {
            file_type: Some("CSV".into()),
            user: Some("u2@example.com".into()),
            ..Default::default()
        },
        EntryQuery {
            outcome: Some(Outcome::Denied),
            ..Default::default()
        },
        EntryQuery {
            reference_document: Some("SINV-0012".into()),
            ..Default::default()
        },
        EntryQuery {
            text: Some("report 1".into()),
            from: Some(at(3)),
            ..Default::default()
        },
        EntryQuery {
            source: Some("gate:erp.example.com".into()),
            ..Default::default()
        },
        EntryQuery {
            source: Some("gate:".into()),
            user: Some("u1@example.com".into()),
            ..Default::default()
        },
        EntryQuery {
            source: Some("local".into()),
            ..Default::default()
        },
    ];
    let matches = |q: &EntryQuery, e: &Entry| {
        let ev = &e.event;
        let text = q.text.as_ref().map(|t| t.to_lowercase());
        q.user.as_ref().is_none_or(|u| &ev.user == u)
            && q.activity.is_none_or(|a| ev.activity == a)
            && q.export_from
                .as_ref()
                .is_none_or(|x| ev.export_from.as_ref() == Some(x))
            && q.report_name
                .as_ref()
                .is_none_or(|x| ev.report_name.as_ref() == Some(x))
            && q.file_type
                .as_ref()
                .is_none_or(|x| ev.file_type.as_ref() == Some(x))
            && q.outcome.is_none_or(|o| ev.outcome == o)
            && q.reference_document
                .as_ref()
                .is_none_or(|x| ev.reference_document.as_ref() == Some(x))
            && q.from.is_none_or(|t| e.timestamp >= t)
            && q.to.is_none_or(|t| e.timestamp < t)
            && q.source.as_ref().is_none_or(|s| match s.strip_suffix(':') {
                Some(_) => ev.source.starts_with(s.as_str()),
                None => &ev.source == s,
            })
            && text.as_ref().is_none_or(|t| {
                [&ev.reference_document, &ev.report_name]
                    .iter()
                    .any(|v| v.as_ref().is_some_and(|v| v.to_lowercase().contains(t)))
            })
    };

    // None indexed, then 7, 8 more (a page boundary inside a batch), then all, then a no-op.
    // (On PostgreSQL the review table is a view of the log, indexed as it is written:
    // there is never anything to copy.)
    let copies = store.dialect() == Dialect::Sqlite;
    for (step, (limit, indexed)) in [(0, 0), (7, 7), (8, 8), (1000, 30), (1000, 0)]
        .into_iter()
        .enumerate()
    {
        if limit > 0 {
            let expected = if copies { indexed } else { 0 };
            assert_eq!(
                store.index_for_review(limit).await.unwrap(),
                expected,
                "step {step}"
            );
        }
        for q in &queries {
            let mut newest: Vec<&Entry> = all.iter().filter(|e| matches(q, e)).collect();
            newest.sort_by_key(|e| std::cmp::Reverse((e.timestamp, e.seq)));
            let expected: Vec<u64> = newest.iter().map(|e| e.seq).collect();
            assert!(!expected.is_empty(), "{q:?} matches something");

            let mut got = Vec::new();
            let mut before = None;
            loop {
                let page = store
                    .search_entries(q, EntryPage::Newest { before }, 4)
                    .await
                    .unwrap();
                let Some(last) = page.last() else { break };
                before = Some((last.timestamp, last.seq));
                got.extend(page.iter().map(|e| e.seq));
            }
            assert_eq!(got, expected, "newest first, step {step}, {q:?}");

            let mut oldest = expected.clone();
            oldest.sort_unstable();
            let mut got = Vec::new();
            loop {
                let after_seq = got.last().copied().unwrap_or(0);
                let page = store
                    .search_entries(q, EntryPage::After { after_seq }, 3)
                    .await
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                got.extend(page.iter().map(|e| e.seq));
            }
            assert_eq!(got, oldest, "oldest first, step {step}, {q:?}");

            // Counts by user among the newest five matches.
            let mut want: HashMap<String, u64> = HashMap::new();
            for e in newest.iter().take(5) {
                *want.entry(e.event.user.clone()).or_default() += 1;
            }
            let counts: HashMap<String, u64> = store
                .count_entries(q, GroupBy::User, 5, 10)
                .await
                .unwrap()
                .into_iter()
                .collect();
            assert_eq!(counts, want, "counts, step {step}, {q:?}");
        }

        // The dashboard's sums since an instant read both parts too.
        let since = at(9);
        let recent: Vec<&Entry> = all.iter().filter(|e| e.timestamp >= since).collect();
        let mut daily: HashMap<(i64, String, String), u64> = HashMap::new();
        let mut by_user: HashMap<String, (u64, u64)> = HashMap::new();
        for e in &recent {
            let day = e.timestamp.as_micros() / 86_400_000_000;
            let key = (
                day,
                e.event.activity.as_str().to_owned(),
                e.event.outcome.as_str().to_owned(),
            );
            *daily.entry(key).or_default() += 1;
            if e.event.activity == Activity::Export && e.event.outcome == Outcome::Granted {
                let u = by_user.entry(e.event.user.clone()).or_default();
                u.0 += 1;
                u.1 += e.event.byte_count.unwrap_or(0);
            }
        }
        let summary = store.activity_since(since).await.unwrap();
        let got_daily: HashMap<(i64, String, String), u64> = summary
            .daily
            .into_iter()
            .map(|(day, activity, outcome, n)| ((day, activity, outcome), n))
            .collect();
        assert_eq!(got_daily, daily, "daily, step {step}");
        let got_users: HashMap<String, (u64, u64)> = summary
            .top_users
            .into_iter()
            .map(|(user, n, bytes)| (user, (n, bytes)))
            .collect();
        assert_eq!(got_users, by_user, "top users, step {step}");
    }
}

async fn appends_get_dense_seqs_and_extend_the_tree(store: &dyn Store) {
    let head = store.log_head().await.unwrap();
    assert_eq!((head.size, head.root), (0, merkle::empty_root()));

    let first: Vec<Event> = (0..3).map(|n| event("a@example.com", n)).collect();
    let a = store.append_entries(&first, at(1)).await.unwrap();
    assert_eq!(
        a.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(a.entries.iter().all(|e| e.timestamp == at(1)));
    assert_eq!(a.size, 3);

    let second: Vec<Event> = (3..8).map(|n| event("b@example.com", n)).collect();
    let b = store.append_entries(&second, at(2)).await.unwrap();
    assert_eq!(b.entries.first().map(|e| e.seq), Some(4));
    assert_eq!(b.size, 8);

    let stored = all_entries(store).await;
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<u64>>()
    );
    assert_eq!(
        [a.entries.clone(), b.entries.clone()].concat(),
        stored,
        "what was appended is what is read"
    );
    assert_eq!(leaves_of(&stored), [a.leaf_hashes, b.leaf_hashes].concat());

    let head = store.log_head().await.unwrap();
    assert_eq!(head.size, 8);
    assert_eq!(head.root, root_from_leaves(&leaves_of(&stored)));
    assert_eq!(head.root, b.root);

    assert_eq!(
        store
            .entry(5)
            .await
            .unwrap()
            .unwrap()
            .event
            .report_name
            .as_deref(),
        Some("Report 4")
    );
    assert!(store.entry(9).await.unwrap().is_none());
    assert!(store.entries_after(8, 10).await.unwrap().is_empty());
}

/// A backend's own-thread appender (SQLite has one, PostgreSQL none) appends exactly as
/// `append_entries` does, interleaved with it on one database, and the tree is one.
async fn the_blocking_appender_extends_the_same_log(store: &dyn Store) {
    // Called here on the test's own thread: a short local write, as on the recorder's.
    let Some(mut appender) = store.blocking_appender().unwrap() else {
        assert_eq!(
            store.dialect(),
            Dialect::Postgres,
            "only PostgreSQL has none"
        );
        return;
    };
    let mut first: Vec<Event> = (0..3).map(|n| event("a@example.com", n)).collect();
    let a = appender.append(&mut first, at(1)).unwrap();
    assert!(first.is_empty(), "the events moved into the entries");
    assert_eq!(
        a.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let second: Vec<Event> = (3..5).map(|n| event("b@example.com", n)).collect();
    let b = store.append_entries(&second, at(2)).await.unwrap();
    assert_eq!(b.entries.first().map(|e| e.seq), Some(4));
    let mut third: Vec<Event> = (5..6).map(|n| event("c@example.com", n)).collect();
    let c = appender.append(&mut third, at(3)).unwrap();
    assert_eq!((c.entries[0].seq, c.size), (6, 6));

    let stored = all_entries(store).await;
    assert_eq!(
        [a.entries, b.entries, c.entries.clone()].concat(),
        stored,
        "what was appended is what is read"
    );
    let head = store.log_head().await.unwrap();
    assert_eq!(head.root, root_from_leaves(&leaves_of(&stored)));
    assert_eq!(head.root, c.root);
}

/// What an importer reads to know what it brought in before: only its own source's
/// entries, only within the asked-for range of seqs (so a walk in steps sees each once),
/// with the request id and reason as recorded.
async fn source_marks_are_a_sources_entries_by_seq_range(store: &dyn Store) {
    let events: Vec<Event> = (0..10)
        .map(|n| {
            let mut e = event("a@example.com", n);
            if n % 3 != 1 {
                e.source = "frappe:erp.example.com".into();
                e.request_id = Some(format!("name{n}"));
                e.reason = (n != 0).then(|| format!("recorded by ERPNext at {n}"));
            } else {
                e.request_id = Some(format!("local{n}"));
            }
            e
        })
        .collect();
    store.append_entries(&events, at(1)).await.unwrap();
    let mut other = event("b@example.com", 10);
    other.source = "frappe:other.example.com".into();
    other.request_id = Some("name0".into());
    store.append_entries(&[other], at(2)).await.unwrap();

    let all = store
        .source_marks("frappe:erp.example.com", 0, 1000)
        .await
        .unwrap();
    let seqs: Vec<u64> = all.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 3, 4, 6, 7, 9, 10]);
    assert_eq!(all[0].request_id.as_deref(), Some("name0"));
    assert_eq!(all[0].reason, None);
    assert_eq!(all[1].reason.as_deref(), Some("recorded by ERPNext at 2"));

    // Steps of 4 seqs: each mark once, none outside its step.
    let mut walked = Vec::new();
    for after in (0..12).step_by(4) {
        let step = store
            .source_marks("frappe:erp.example.com", after, 4)
            .await
            .unwrap();
        assert!(step.iter().all(|m| m.seq > after && m.seq <= after + 4));
        walked.extend(step);
    }
    assert_eq!(walked, all);

    let other = store
        .source_marks("frappe:other.example.com", 0, 1000)
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(
        (other[0].seq, other[0].request_id.as_deref()),
        (11, Some("name0"))
    );
    assert!(
        store
            .source_marks("local", 11, 1000)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn entries_round_trip_every_field(store: &dyn Store) {
    let mut e = Event::new(
        "sales@example.com",
        Activity::RawPrint,
        "POST /api/raw-print",
    );
    e.export_from = Some("Sales Invoice".into());
    e.reference_document = Some("SINV-00001".into());
    e.report_name = Some("Sales Register".into());
    e.print_format = Some("Shipping Label".into());
    e.file_type = Some("RAW".into());
    e.filters = Some(
        CanonicalJson::parse(r#"{"to": "2026-01-31", "from": "2026-01-01", "n": [1, 2.5]}"#)
            .unwrap(),
    );
    e.columns = Some(CanonicalJson::parse(r#"["a", "b"]"#).unwrap());
    e.page = Some("^XA\n^FO50,50^FDSINV-00001 \u{e9}\u{1F600}^FS\n^XZ".into());
    e.row_count = Some(0);
    e.byte_count = Some(u64::from(u32::MAX) + 7);
    e.content_sha256 = Some("0f".repeat(32));
    e.outcome = Outcome::Denied;
    e.reason = Some("printer unreachable".into());
    e.ip = Some("::1".into());
    e.user_agent = Some("Mozilla/5.0 \"quoted\"".into());
    e.request_id = Some("0123456789abcdef".into());
    e.roles = vec!["Sales User".into(), "Accounts User".into()];
    e.auth = Some("api_key:abc".into());
    e.source = "erpnext".into();
    let appended = store
        .append_entries(std::slice::from_ref(&e), at(3))
        .await
        .unwrap();
    let back = store.entry(1).await.unwrap().unwrap();
    assert_eq!(
        back.event.roles,
        ["Accounts User", "Sales User"],
        "roles are kept sorted"
    );
    assert_eq!(
        back.canonical_bytes(),
        appended.entries[0].canonical_bytes()
    );
    let mut expected = e.clone();
    expected.roles.sort();
    assert_eq!(back.event, expected);
}

async fn stored_nodes_prove_inclusion_and_consistency(store: &dyn Store) {
    let mut heads = vec![(0u64, merkle::empty_root())];
    let mut n = 0;
    for batch in [1usize, 2, 1, 5, 3, 1, 8, 2] {
        let events: Vec<Event> = (0..batch)
            .map(|_| {
                n += 1;
                event("p@example.com", n)
            })
            .collect();
        let a = store.append_entries(&events, at(n as u64)).await.unwrap();
        heads.push((a.size, a.root));
    }
    let entries = all_entries(store).await;
    let leaves = leaves_of(&entries);

    let fetch = |ids: Vec<NodeId>| async move {
        let found: HashMap<NodeId, Hash> = store
            .merkle_nodes(&ids)
            .await
            .unwrap()
            .into_iter()
            .collect();
        found
    };
    for &(size, root) in &heads[1..] {
        for index in 0..size {
            let plan = inclusion_plan(index, size).unwrap();
            let nodes = fetch(plan.node_ids()).await;
            let proof = plan.assemble(|id| nodes.get(&id).copied()).unwrap();
            merkle::verify_inclusion(&leaves[index as usize], index, size, &proof, &root)
                .unwrap_or_else(|e| panic!("inclusion of {index} in {size}: {e}"));
        }
    }
    for &(first, first_root) in &heads[1..] {
        for &(second, second_root) in &heads[1..] {
            if first > second {
                continue;
            }
            let plan = consistency_plan(first, second).unwrap();
            let nodes = fetch(plan.node_ids()).await;
            let proof = plan.assemble(|id| nodes.get(&id).copied()).unwrap();
            merkle::verify_consistency(first, second, &first_root, &second_root, &proof)
                .unwrap_or_else(|e| panic!("consistency {first} -> {second}: {e}"));
        }
    }
}

async fn checkpoints_are_kept_once_per_size(store: &dyn Store) {
    assert!(store.latest_checkpoint().await.unwrap().is_none());
    let cp = |size: u64, note: &str| StoredCheckpoint {
        size,
        root: [size as u8; 32],
        created_at: at(size),
        note: note.into(),
    };
    store.add_checkpoint(&cp(4, "four")).await.unwrap();
    store.add_checkpoint(&cp(2, "two")).await.unwrap();
    store.add_checkpoint(&cp(4, "four again")).await.unwrap();
    assert_eq!(
        store.latest_checkpoint().await.unwrap(),
        Some(cp(4, "four"))
    );
    let all = store.checkpoints().await.unwrap();
    assert_eq!(all, [cp(2, "two"), cp(4, "four")]);
}

async fn concurrent_appends_stay_dense_and_lose_nothing(store: &dyn Store) {
    // The store is shared by reference here; spawn needs 'static, so use scoped futures.
    let tasks = (0..16).map(|t| async move {
        let mut seqs = Vec::new();
        for round in 0..20 {
            let events: Vec<Event> = (0..(1 + (t + round) % 3))
                .map(|k| event(&format!("w{t}@example.com"), k))
                .collect();
            let a = store
                .append_entries(&events, at(round as u64))
                .await
                .unwrap();
            seqs.extend(a.entries.iter().map(|e| e.seq));
        }
        seqs
    });
    let results = futures_join_all(tasks).await;
    let mut all: Vec<u64> = results.into_iter().flatten().collect();
    all.sort_unstable();
    let n = all.len() as u64;
    assert_eq!(
        all,
        (1..=n).collect::<Vec<_>>(),
        "every receipt is a distinct seq, and none is missing"
    );

    let entries = all_entries(store).await;
    assert_eq!(entries.len() as u64, n);
    let head = store.log_head().await.unwrap();
    assert_eq!(
        (head.size, head.root),
        (n, root_from_leaves(&leaves_of(&entries)))
    );
    // The writers' clocks (`at(round)`) interleave out of order; the time is settled
    // under the writer's lock, so it never goes back as seq goes up.
    for pair in entries.windows(2) {
        assert!(
            pair[0].timestamp <= pair[1].timestamp,
            "entry {} is dated before entry {}",
            pair[1].seq,
            pair[0].seq
        );
    }
}

async fn an_append_is_never_dated_before_the_last_entry(store: &dyn Store) {
    let first = store
        .append_entries(&[event("a@example.com", 1)], at(10))
        .await
        .unwrap();
    assert_eq!(first.entries[0].timestamp, at(10));
    // A writer whose clock read earlier (before waiting for the lock) gets the last
    // entry's time, not its own.
    let late = store
        .append_entries(&[event("b@example.com", 2)], at(5))
        .await
        .unwrap();
    assert_eq!(late.entries[0].timestamp, at(10));
    let later = store
        .append_entries(&[event("c@example.com", 3)], at(12))
        .await
        .unwrap();
    assert_eq!(later.entries[0].timestamp, at(12));
    let checks = store.recomputed_leaves_after(0, 10).await.unwrap();
    let times: Vec<i64> = checks.iter().map(|c| c.timestamp).collect();
    assert_eq!(
        times,
        [at(10), at(10), at(12)].map(|t| t.as_micros()).to_vec()
    );
}

/// Runs futures concurrently on this task (the store is borrowed, so no spawning).
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut pending: Vec<_> = futures.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => {
                outputs[*i] = Some(v);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

async fn an_invalid_event_writes_nothing(store: &dyn Store) {
    let good = event("a@example.com", 1);
    let mut bad = event("a@example.com", 2);
    bad.user = String::new();
    assert!(store.append_entries(&[good, bad], at(1)).await.is_err());
    assert_eq!(store.log_head().await.unwrap().size, 0);
    assert!(
        store.entry(1).await.unwrap().is_none(),
        "the good half of a bad batch is not written either"
    );
    let _ = Arc::new(());
}

/// The fast path verification walks must agree with the canonical encoding of the full
/// entries, for every kind of field (unicode, empty strings, big counts, absent fields).
async fn recomputed_leaves_match_the_entries(store: &dyn Store) {
    let mut full = Event::new("ünï@example.com", Activity::RawPrint, "POST /x");
    full.export_from = Some(String::new());
    full.page = Some("^XA\n^FD\u{1F600}^FS\n^XZ".into());
    full.filters = Some(CanonicalJson::parse(r#"{"b": [1, 2.5], "a": null}"#).unwrap());
    full.row_count = Some(0);
    full.byte_count = Some(u64::from(u32::MAX) * 3);
    full.content_sha256 = Some("ab".repeat(32));
    full.outcome = Outcome::Denied;
    full.reason = Some("why".into());
    full.roles = vec!["Z".into(), "A".into()];
    let events: Vec<Event> = vec![
        full,
        event("plain@example.com", 1),
        Event::new("x@example.com", Activity::Print, ""),
    ];
    let appended = store.append_entries(&events, at(9)).await.unwrap();
    let checks = store.recomputed_leaves_after(0, 100).await.unwrap();
    assert_eq!(checks.len(), 3);
    for (check, leaf) in checks.iter().zip(&appended.leaf_hashes) {
        assert_eq!(check.leaf.as_ref(), Some(leaf), "seq {}", check.seq);
        assert_eq!(check.stored.as_ref(), Some(leaf), "seq {}", check.seq);
    }
}

// ----- documents -----

use accesslog_core::doctype::{DocType, Field, FieldType, Naming};
use accesslog_store::{ChildRows, Document, SqlValue};
use std::collections::BTreeMap;

fn field(name: &str, fieldtype: FieldType, options: Option<&str>) -> Field {
    Field {
        fieldname: name.into(),
        label: name.into(),
        fieldtype,
        options: options.map(Into::into),
        reqd: false,
        in_list_view: false,
        search_index: false,
    }
}

fn invoice_types() -> (DocType, DocType) {
    let invoice = DocType {
        name: "Sales Invoice".into(),
        is_child: false,
        naming: Naming::Series("SINV-.#####".into()),
        fields: vec![
            field("customer", FieldType::Link, Some("Customer")),
            field("posting_date", FieldType::Date, None),
            field("grand_total", FieldType::Currency, None),
            field("is_return", FieldType::Check, None),
            field("items", FieldType::Table, Some("Sales Invoice Item")),
        ],
        permissions: BTreeMap::new(),
        log_reads: true,
    };
    let item = DocType {
        name: "Sales Invoice Item".into(),
        is_child: true,
        naming: Naming::Hash,
        fields: vec![
            field("item_code", FieldType::Link, Some("Item")),
            field("qty", FieldType::Int, None),
            field("rate", FieldType::Currency, None),
        ],
        permissions: BTreeMap::new(),
        log_reads: true,
    };
    (invoice, item)
}

fn values(pairs: &[(&str, SqlValue)]) -> BTreeMap<String, SqlValue> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

async fn doctype_tables_are_created_and_grow_without_losing_data(store: &dyn Store) {
    let (mut invoice, item) = invoice_types();
    invoice.fields[1].search_index = true; // posting_date
    store.sync_doctype(&invoice).await.unwrap();
    store.sync_doctype(&item).await.unwrap();
    store.sync_doctype(&invoice).await.unwrap(); // idempotent
    let doc = Document {
        name: "SINV-00001".into(),
        values: values(&[
            ("customer", SqlValue::Text("Acme".into())),
            ("grand_total", SqlValue::Float(10.5)),
        ]),
        ..Default::default()
    };
    store.insert_document(&invoice, &doc, &[]).await.unwrap();

    // A new field is added; a removed field's column (and data) stays.
    invoice.fields.retain(|f| f.fieldname != "grand_total");
    invoice.fields.push(field("remarks", FieldType::Text, None));
    store.sync_doctype(&invoice).await.unwrap();
    let got = store
        .get_document(&invoice, &[], "SINV-00001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.values["customer"], SqlValue::Text("Acme".into()));
    assert_eq!(got.values["remarks"], SqlValue::Null);
    let (original, _) = invoice_types();
    let again = store
        .get_document(&original, &[], "SINV-00001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.values["grand_total"],
        SqlValue::Float(10.5),
        "the removed field's data is kept"
    );

    // An indexed field, removed, can be dropped with its index (SQLite refuses to drop an
    // indexed column).
    invoice.fields.retain(|f| f.fieldname != "posting_date");
    store.sync_doctype(&invoice).await.unwrap();
    let mut removed = store.removed_columns(&invoice).await.unwrap();
    removed.sort();
    assert_eq!(removed, ["grand_total", "posting_date"]);
    store.drop_columns(&invoice, &removed).await.unwrap();
    assert!(store.removed_columns(&invoice).await.unwrap().is_empty());
    let got = store
        .get_document(&invoice, &[], "SINV-00001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.values["customer"], SqlValue::Text("Acme".into()));
}

async fn documents_round_trip_with_child_rows(store: &dyn Store) {
    let (invoice, item) = invoice_types();
    store.sync_doctype(&invoice).await.unwrap();
    store.sync_doctype(&item).await.unwrap();
    let doc = Document {
        name: "SINV-00002".into(),
        values: values(&[
            ("owner", SqlValue::Text("sales@example.com".into())),
            (
                "creation",
                SqlValue::Text("2026-11-29 10:00:00.000000".into()),
            ),
            ("customer", SqlValue::Text("Ünïcode GmbH".into())),
            ("posting_date", SqlValue::Text("2026-11-29".into())),
            ("grand_total", SqlValue::Float(1234.5)),
            ("is_return", SqlValue::Int(0)),
        ]),
        ..Default::default()
    };
    let rows = vec![
        values(&[
            ("item_code", SqlValue::Text("WIDGET".into())),
            ("qty", SqlValue::Int(3)),
            ("rate", SqlValue::Float(100.0)),
        ]),
        values(&[
            ("item_code", SqlValue::Text("GADGET".into())),
            ("qty", SqlValue::Int(1)),
            ("rate", SqlValue::Null),
        ]),
    ];
    let children = [ChildRows {
        fieldname: "items",
        doctype: &item,
        rows,
    }];
    store
        .insert_document(&invoice, &doc, &children)
        .await
        .unwrap();

    let got = store
        .get_document(&invoice, &[("items", &item)], "SINV-00002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.values["customer"],
        SqlValue::Text("Ünïcode GmbH".into())
    );
    assert_eq!(got.values["grand_total"], SqlValue::Float(1234.5));
    assert_eq!(
        got.values["owner"],
        SqlValue::Text("sales@example.com".into())
    );
    let items = &got.children["items"];
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["item_code"], SqlValue::Text("WIDGET".into()));
    assert_eq!(
        (items[0]["idx"].clone(), items[1]["idx"].clone()),
        (SqlValue::Int(1), SqlValue::Int(2))
    );
    assert_eq!(items[1]["rate"], SqlValue::Null);
    assert_eq!(items[0]["parent"], SqlValue::Text("SINV-00002".into()));

    let err = store
        .insert_document(&invoice, &doc, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("SINV-00002")),
        "{err:?}"
    );
    assert!(
        store
            .get_document(&invoice, &[], "SINV-99999")
            .await
            .unwrap()
            .is_none()
    );
}

async fn naming_series_count_per_prefix(store: &dyn Store) {
    assert_eq!(store.next_in_series("SINV-").await.unwrap(), 1);
    assert_eq!(store.next_in_series("SINV-").await.unwrap(), 2);
    assert_eq!(store.next_in_series("EMP-").await.unwrap(), 1);
    assert_eq!(store.next_in_series("SINV-").await.unwrap(), 3);
    assert_eq!(store.reserve_in_series("SINV-", 100).await.unwrap(), 4);
    assert_eq!(store.next_in_series("SINV-").await.unwrap(), 104);
}

async fn lists_filter_sort_and_page_like_erpnext(store: &dyn Store) {
    use accesslog_core::filters::{parse_fields, parse_filters, parse_order_by};
    use accesslog_store::ListQuery;
    let (invoice, item) = invoice_types();
    store.sync_doctype(&invoice).await.unwrap();
    store.sync_doctype(&item).await.unwrap();
    for n in 1..=12u32 {
        let customer = if n % 3 == 0 {
            "Acme Corp"
        } else if n % 3 == 1 {
            "Bolt Ltd"
        } else {
            "Cog & Co"
        };
        let doc = Document {
            name: format!("SINV-{n:05}"),
            values: values(&[
                ("customer", SqlValue::Text(customer.into())),
                ("posting_date", SqlValue::Text(format!("2026-01-{n:02}"))),
                ("grand_total", SqlValue::Float(f64::from(n) * 100.0)),
                ("is_return", SqlValue::Int(i64::from(n == 5))),
                (
                    "modified",
                    SqlValue::Text(format!("2026-01-{n:02} 10:00:00.000000")),
                ),
            ]),
            ..Default::default()
        };
        let code = if n % 2 == 0 { "WIDGET" } else { "GADGET" };
        let rows = vec![values(&[
            ("item_code", SqlValue::Text(code.into())),
            ("qty", SqlValue::Int(i64::from(n))),
        ])];
        store
            .insert_document(
                &invoice,
                &doc,
                &[ChildRows {
                    fieldname: "items",
                    doctype: &item,
                    rows,
                }],
            )
            .await
            .unwrap();
    }
    let children = [("items", &item)];
    let list = |filters: serde_json::Value, order: &'static str, limit: u32, offset: u64| {
        let conditions = parse_filters(&filters, &invoice, &[&item]).unwrap();
        let fields = parse_fields(&serde_json::json!(["name", "grand_total"]), &invoice).unwrap();
        let order_by = parse_order_by(order, &invoice).unwrap();
        let children = &children;
        let invoice = &invoice;
        async move {
            let q = ListQuery {
                any_of: &[],
                conditions: &conditions,
                fields: &fields,
                order_by: &order_by,
                limit,
                offset,
                after: None,
            };
            let rows = store.list_documents(invoice, children, &q).await.unwrap();
            rows.into_iter()
                .map(|r| match &r["name"] {
                    SqlValue::Text(t) => t[5..].parse::<u32>().unwrap(),
                    other => panic!("{other:?}"),
                })
                .collect::<Vec<u32>>()
        }
    };
    use serde_json::json;
    assert_eq!(
        list(json!({}), "", 5, 0).await,
        [12, 11, 10, 9, 8],
        "newest first by default"
    );
    assert_eq!(list(json!({}), "", 5, 10).await, [2, 1], "paging");
    assert_eq!(
        list(json!({"customer": "Acme Corp"}), "name asc", 20, 0).await,
        [3, 6, 9, 12]
    );
    assert_eq!(
        list(json!([["grand_total", ">", 900]]), "grand_total asc", 20, 0).await,
        [10, 11, 12]
    );
    assert_eq!(
        list(json!({"customer": ["like", "%co%"]}), "name asc", 20, 0).await,
        [2, 3, 5, 6, 8, 9, 11, 12],
        "like ignores case"
    );
    assert_eq!(
        list(
            json!({"customer": ["not in", ["Acme Corp", "Bolt Ltd"]]}),
            "name asc",
            20,
            0
        )
        .await,
        [2, 5, 8, 11]
    );
    assert_eq!(
        list(
            json!({"customer": ["in", "Acme Corp, Bolt Ltd"]}),
            "name asc",
            4,
            0
        )
        .await,
        [1, 3, 4, 6]
    );
    assert_eq!(
        list(
            json!({"posting_date": ["between", ["2026-01-03", "2026-01-05"]]}),
            "name asc",
            20,
            0
        )
        .await,
        [3, 4, 5]
    );
    assert_eq!(list(json!({"is_return": 1}), "", 20, 0).await, [5]);
    assert_eq!(
        list(
            json!({"customer": ["!=", "Bolt Ltd"], "grand_total": ["<=", 300]}),
            "name asc",
            20,
            0
        )
        .await,
        [2, 3]
    );
    assert_eq!(
        list(
            json!([
                ["Sales Invoice Item", "item_code", "=", "WIDGET"],
                ["grand_total", "<", 700]
            ]),
            "name asc",
            20,
            0
        )
        .await,
        [2, 4, 6]
    );
    assert_eq!(
        list(
            json!([["Sales Invoice Item", "qty", ">=", 11]]),
            "name desc",
            20,
            0
        )
        .await,
        [12, 11]
    );
    assert_eq!(
        list(json!({"grand_total": ["is", "set"]}), "", 20, 0)
            .await
            .len(),
        12
    );
    assert_eq!(
        list(json!({"customer": ["in", []]}), "", 20, 0).await,
        Vec::<u32>::new()
    );
    assert_eq!(
        list(
            json!({"customer": ["like", "%'; DROP TABLE tab_sales_invoice; --"]}),
            "",
            20,
            0
        )
        .await,
        Vec::<u32>::new(),
        "values are bound, never spliced"
    );
    assert_eq!(
        list(json!({}), "", 100, 0).await.len(),
        12,
        "the table survived"
    );
}

async fn files_are_kept_by_url_and_by_document(store: &dyn Store) {
    use accesslog_store::FileRecord;
    let file = |name: &str, file_name: &str, private: bool, doc: &str, t: u64| FileRecord {
        name: name.into(),
        file_name: file_name.into(),
        is_private: private,
        attached_to_doctype: Some("Employee".into()),
        attached_to_name: Some(doc.into()),
        file_size: 5_000_000_000,
        content_sha256: "ab".repeat(32),
        owner: "hr@example.com".into(),
        creation: at(t),
    };
    store
        .add_file(&file("f1", "contract.pdf", true, "EMP-0001", 2))
        .await
        .unwrap();
    store
        .add_file(&file("f2", "photo.png", true, "EMP-0001", 1))
        .await
        .unwrap();
    store
        .add_file(&file("f3", "contract.pdf", false, "EMP-0002", 3))
        .await
        .unwrap();
    let err = store
        .add_file(&file("f4", "contract.pdf", true, "EMP-0003", 4))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "one private contract.pdf: {err:?}"
    );

    let f = store
        .file_by_url(true, "contract.pdf")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f, file("f1", "contract.pdf", true, "EMP-0001", 2));
    assert_eq!(f.file_url(), "/private/files/contract.pdf");
    assert_eq!(
        store
            .file_by_url(false, "contract.pdf")
            .await
            .unwrap()
            .unwrap()
            .name,
        "f3"
    );
    assert!(store.file_by_url(true, "nope.pdf").await.unwrap().is_none());
    assert_eq!(
        store.file_by_id("f2").await.unwrap().unwrap().file_name,
        "photo.png"
    );
    let names: Vec<String> = store
        .files_of("Employee", "EMP-0001")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["f2", "f1"], "oldest first");
}

async fn a_batch_of_documents_is_stored_whole_or_not_at_all(store: &dyn Store) {
    use accesslog_store::NewDocument;
    let (invoice, item) = invoice_types();
    store.sync_doctype(&invoice).await.unwrap();
    store.sync_doctype(&item).await.unwrap();
    let doc = |name: &str| NewDocument {
        doc: Document {
            name: name.into(),
            values: values(&[("customer", SqlValue::Text("A".into()))]),
            ..Default::default()
        },
        children: vec![ChildRows {
            fieldname: "items",
            doctype: &item,
            rows: vec![values(&[("item_code", SqlValue::Text("W".into()))])],
        }],
    };
    store
        .insert_documents(&invoice, &[doc("B-1"), doc("B-2")])
        .await
        .unwrap();
    let err = store
        .insert_documents(&invoice, &[doc("B-3"), doc("B-1")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("B-1")),
        "{err:?}"
    );
    assert!(
        store
            .get_document(&invoice, &[], "B-3")
            .await
            .unwrap()
            .is_none(),
        "nothing of a failed batch is written"
    );
    let got = store
        .get_document(&invoice, &[("items", &item)], "B-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.children["items"].len(), 1);
}

async fn report_queries_stream_typed_rows_and_cannot_write(store: &dyn Store) {
    use std::ops::ControlFlow;

    let (invoice, item) = invoice_types();
    store.sync_doctype(&invoice).await.unwrap();
    store.sync_doctype(&item).await.unwrap();
    for (n, customer, total) in [(1, "Acme", 10.5), (2, "Bolt", 20.0), (3, "Acme", 1.25)] {
        let doc = Document {
            name: format!("SINV-0000{n}"),
            values: values(&[
                ("customer", SqlValue::Text(customer.into())),
                ("posting_date", SqlValue::Text(format!("2026-01-0{n}"))),
                ("grand_total", SqlValue::Float(total)),
                ("is_return", SqlValue::Int(0)),
            ]),
            ..Default::default()
        };
        store.insert_document(&invoice, &doc, &[]).await.unwrap();
    }
    let params = BTreeMap::from([
        ("customer".to_owned(), SqlValue::Text("Acme".into())),
        ("from_date".to_owned(), SqlValue::Null),
    ]);
    let (sql, binds) = accesslog_store::reports::positional(
        "SELECT name, grand_total, is_return, posting_date, CAST(COUNT(*) OVER () AS BIGINT) AS n, NULL AS empty_column \
         FROM tab_sales_invoice WHERE customer = :customer \
         AND (CAST(:from_date AS TEXT) IS NULL OR posting_date >= :from_date) ORDER BY name",
        &params,
    )
    .unwrap();
    let mut rows = Vec::new();
    let count = store
        .query_each_row(&sql, &binds, &mut |row: &[SqlValue]| {
            rows.push(row.to_vec());
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(
        rows[0],
        [
            SqlValue::Text("SINV-00001".into()),
            SqlValue::Float(10.5),
            SqlValue::Int(0),
            SqlValue::Text("2026-01-01".into()),
            SqlValue::Int(2),
            SqlValue::Null,
        ]
    );
    assert_eq!(rows[1][0], SqlValue::Text("SINV-00003".into()));

    // A value is data, never SQL.
    let count = store
        .query_each_row(
            "SELECT name FROM tab_sales_invoice WHERE customer = $1",
            &[SqlValue::Text("'; DROP TABLE tab_sales_invoice; --".into())],
            &mut |_: &[SqlValue]| ControlFlow::Continue(()),
        )
        .await
        .unwrap();
    assert_eq!(count, 0);

    // The sink can stop early.
    let mut seen = 0;
    let count = store
        .query_each_row(
            "SELECT name FROM tab_sales_invoice ORDER BY name",
            &[],
            &mut |_: &[SqlValue]| {
                seen += 1;
                ControlFlow::Break(())
            },
        )
        .await
        .unwrap();
    assert_eq!((count, seen), (1, 1));

    // Whatever the SQL says, a report cannot write.
    let err = store
        .query_each_row(
            "DELETE FROM tab_sales_invoice RETURNING name",
            &[],
            &mut |_: &[SqlValue]| ControlFlow::Continue(()),
        )
        .await;
    assert!(err.is_err(), "a report wrote: {err:?}");
    let left = store
        .query_each_row(
            "SELECT name FROM tab_sales_invoice",
            &[],
            &mut |_: &[SqlValue]| ControlFlow::Continue(()),
        )
        .await
        .unwrap();
    assert_eq!(left, 3);

    // A type a report cannot show is named, with what to do (PostgreSQL's NUMERIC).
    if store.dialect() == Dialect::Postgres {
        let err = store
            .query_each_row(
                "SELECT SUM(is_return) FROM tab_sales_invoice",
                &[],
                &mut |_: &[SqlValue]| ControlFlow::Continue(()),
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("NUMERIC") && err.contains("CAST"), "{err}");
    }
}

/// Many rows (more than one hand-over batch of the SQLite reader), values changing type
/// from row to row, every row whole and in order; a sink that stops in the middle of a
/// batch; and, on SQLite, text that is not UTF-8.
async fn long_reports_arrive_whole_and_in_order(store: &dyn Store) {
    use std::ops::ControlFlow;

    const N: i64 = 5_000;
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < {N}) \
         SELECT i, CAST(i AS TEXT) || ' é', \
                CASE WHEN i % 3 = 0 THEN NULL ELSE CAST(i AS DOUBLE PRECISION) / 2 END, \
                CASE WHEN i % 2 = 0 THEN 'even ' || CAST(i AS TEXT) END \
         FROM n ORDER BY i"
    );
    let mut rows = Vec::new();
    let count = store
        .query_each_row(&sql, &[], &mut |row: &[SqlValue]| {
            rows.push(row.to_vec());
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert_eq!(count, N as u64);
    assert_eq!(rows.len(), N as usize);
    for (k, row) in rows.iter().enumerate() {
        let i = k as i64 + 1;
        let expected = [
            SqlValue::Int(i),
            SqlValue::Text(format!("{i} é")),
            if i % 3 == 0 {
                SqlValue::Null
            } else {
                SqlValue::Float(i as f64 / 2.0)
            },
            if i % 2 == 0 {
                SqlValue::Text(format!("even {i}"))
            } else {
                SqlValue::Null
            },
        ];
        assert_eq!(row, &expected, "row {i}");
    }

    // Stopping in the middle of a batch: the rows so far, and no error.
    let mut seen = Vec::new();
    let count = store
        .query_each_row(&sql, &[], &mut |row: &[SqlValue]| {
            seen.push(row[0].clone());
            if seen.len() == 777 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await
        .unwrap();
    assert_eq!(count, 777);
    assert_eq!(seen.last(), Some(&SqlValue::Int(777)));

    // SQLite keeps whatever bytes it is given as text; what is not UTF-8 shows as U+FFFD,
    // in a batch whose other values are fine.
    if store.dialect() == Dialect::Sqlite {
        let mut got = Vec::new();
        store
            .query_each_row(
                "SELECT 'ok' UNION ALL SELECT CAST(X'FF41' AS TEXT) UNION ALL SELECT 'é'",
                &[],
                &mut |row: &[SqlValue]| {
                    got.push(row[0].clone());
                    ControlFlow::Continue(())
                },
            )
            .await
            .unwrap();
        assert_eq!(
            got,
            [
                SqlValue::Text("ok".into()),
                SqlValue::Text("\u{FFFD}A".into()),
                SqlValue::Text("é".into()),
            ]
        );
        // Two values that are each half of `é`: together UTF-8, apart not.
        let mut halves = Vec::new();
        store
            .query_each_row(
                "SELECT CAST(X'C3' AS TEXT), CAST(X'A9' AS TEXT)",
                &[],
                &mut |row: &[SqlValue]| {
                    halves = row.to_vec();
                    ControlFlow::Continue(())
                },
            )
            .await
            .unwrap();
        assert_eq!(
            halves,
            [
                SqlValue::Text("\u{FFFD}".into()),
                SqlValue::Text("\u{FFFD}".into())
            ]
        );
    }
}

/// A sink that takes its time (an export writing a large file) must not hold the runtime
/// for the whole report: other tasks run between batches. The tests' runtime has one
/// thread, so the other task runs only if the report's task yields. (On PostgreSQL the
/// reader is itself a task there, so this holds anyway; SQLite's reader is a thread.)
async fn a_slow_report_sink_leaves_room_for_other_tasks(store: &dyn Store) {
    use std::ops::ControlFlow;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    const N: u64 = 20_000;
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < {N}) \
         SELECT i FROM n"
    );
    let other_ran = Arc::new(AtomicBool::new(false));
    let mut other = None;
    let mut rows_before_other = None;
    let mut seen = 0u64;
    store
        .query_each_row(&sql, &[], &mut |_: &[SqlValue]| {
            seen += 1;
            if seen == 1 {
                // Started once the rows flow, so that it cannot slip in before they do.
                let other_ran = other_ran.clone();
                other = Some(tokio::spawn(async move {
                    other_ran.store(true, Ordering::SeqCst)
                }));
            }
            if rows_before_other.is_none() && other_ran.load(Ordering::SeqCst) {
                rows_before_other = Some(seen);
            }
            // Slower than the reader, so its batches are always waiting.
            std::thread::sleep(std::time::Duration::from_micros(20));
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    other.expect("a first row").await.unwrap();
    let before = rows_before_other.expect("the other task ran only after the whole report");
    assert!(before < N, "the other task waited for {before} of {N} rows");
}

/// Whether `e` is the store's refusal of a report (what the server answers with 403), and
/// says `says`.
fn assert_refused(sql: &str, e: &StoreError, says: &str) {
    assert!(
        matches!(e, StoreError::Refused(_)),
        "{sql}: not a refusal: {e:?}"
    );
    assert!(e.to_string().contains(says), "{sql}: {e}");
}

/// Runs `sql` straight on the store (no text check first) and expects a refusal.
async fn refused(store: &dyn Store, sql: &str, says: &str) {
    let mut rows = 0;
    let got = store
        .query_each_row(sql, &[], &mut |_: &[SqlValue]| {
            rows += 1;
            std::ops::ControlFlow::Continue(())
        })
        .await;
    match got {
        Ok(n) => panic!("{sql}: ran and gave {n} rows"),
        Err(e) => assert_refused(sql, &e, says),
    }
    assert_eq!(rows, 0, "{sql}: rows reached the sink");
}

/// Documents for the report tests, and an account and a log entry that must stay unread.
async fn seed_report_data(store: &dyn Store) {
    let (invoice, item) = invoice_types();
    store.sync_doctype(&invoice).await.unwrap();
    store.sync_doctype(&item).await.unwrap();
    for (n, customer, total) in [(1, "Acme", 10.5), (2, "Bolt", 20.0), (3, "Acme", 1.25)] {
        let doc = Document {
            name: format!("SINV-0000{n}"),
            values: values(&[
                ("customer", SqlValue::Text(customer.into())),
                ("posting_date", SqlValue::Text(format!("2026-01-0{n}"))),
                ("grand_total", SqlValue::Float(total)),
                ("is_return", SqlValue::Int(0)),
            ]),
            ..Default::default()
        };
        let row = |code: &str, qty: i64| {
            values(&[
                ("item_code", SqlValue::Text(code.into())),
                ("qty", SqlValue::Int(qty)),
                ("rate", SqlValue::Float(2.5)),
            ])
        };
        let items = vec![row("WIDGET", n), row("BOLT", 10 * n)];
        store
            .insert_document(
                &invoice,
                &doc,
                &[ChildRows {
                    fieldname: "items",
                    doctype: &item,
                    rows: items,
                }],
            )
            .await
            .unwrap();
    }
    add_user(store, "secret-holder@example.com", T0).await;
    store
        .append_entries(&[event("secret-holder@example.com", 1)], T0)
        .await
        .unwrap();
}

/// A report over the document tables still works under the role / authorizer: a join, a
/// parameter, aggregates, a window and date functions.
async fn reports_read_documents_with_joins_aggregates_and_dates(store: &dyn Store) {
    use std::ops::ControlFlow;

    seed_report_data(store).await;
    let month = if store.dialect() == Dialect::Postgres {
        "to_char(CAST(i.posting_date AS DATE), 'YYYY-MM')"
    } else {
        "strftime('%Y-%m', date(i.posting_date))"
    };
    let params = BTreeMap::from([("customer".to_owned(), SqlValue::Text("Acme".into()))]);
    let (sql, binds) = accesslog_store::reports::positional(
        &format!(
            "SELECT i.customer, {month} AS month, CAST(COUNT(DISTINCT i.name) AS BIGINT) AS invoices, \
             CAST(SUM(c.qty) AS BIGINT) AS qty, CAST(ROUND(CAST(MAX(i.grand_total) AS NUMERIC), 2) AS DOUBLE PRECISION) AS top, \
             CAST(RANK() OVER (ORDER BY SUM(c.qty) DESC) AS BIGINT) AS place, LOWER(MIN(c.item_code)) AS first_item \
             FROM tab_sales_invoice i JOIN tab_sales_invoice_item c ON c.parent = i.name \
             WHERE i.customer = :customer OR :customer = 'everyone' \
             GROUP BY i.customer, {month} ORDER BY i.customer"
        ),
        &params,
    )
    .unwrap();
    let mut rows = Vec::new();
    store
        .query_each_row(&sql, &binds, &mut |row: &[SqlValue]| {
            rows.push(row.to_vec());
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert_eq!(
        rows,
        [[
            SqlValue::Text("Acme".into()),
            SqlValue::Text("2026-01".into()),
            SqlValue::Int(2),
            SqlValue::Int(1 + 10 + 3 + 30),
            SqlValue::Float(10.5),
            SqlValue::Int(1),
            SqlValue::Text("bolt".into()),
        ]]
    );
    // Every kind of value a filter binds, in a query that uses each.
    let mut got = Vec::new();
    store
        .query_each_row(
            "SELECT name FROM tab_sales_invoice WHERE grand_total > $1 AND is_return = $2 \
             AND customer <> $3 AND (CAST($4 AS TEXT) IS NULL) ORDER BY name",
            &[
                SqlValue::Float(1.5),
                SqlValue::Int(0),
                SqlValue::Text("Bolt".into()),
                SqlValue::Null,
            ],
            &mut |row: &[SqlValue]| {
                got.push(row[0].clone());
                ControlFlow::Continue(())
            },
        )
        .await
        .unwrap();
    assert_eq!(got, [SqlValue::Text("SINV-00001".into())]);
}

/// Each way a report might reach the system's tables is refused by the database itself
/// (the report role on PostgreSQL, the authorizer on SQLite), not by the text check: the
/// queries go straight to the store.
async fn reports_are_refused_the_system_tables_by_the_database(store: &dyn Store) {
    seed_report_data(store).await;
    let read_users = if store.dialect() == Dialect::Postgres {
        "permission denied"
    } else {
        "it tried to read users"
    };
    for sql in [
        "SELECT email, password_hash FROM users",
        "SELECT name FROM tab_sales_invoice WHERE customer IN (SELECT email FROM users)",
        "SELECT COUNT(*) FROM users",
    ] {
        refused(store, sql, read_users).await;
    }
    for table in [
        "access_log",
        "access_log_review",
        "merkle_nodes",
        "log_state",
        "checkpoints",
        "sessions",
        "api_keys",
        "user_roles",
        "files",
        "naming_series",
        "_sqlx_migrations",
    ] {
        let elsewhere = [
            "access_log",
            "access_log_review",
            "merkle_nodes",
            "log_state",
            "checkpoints",
        ];
        if store.dialect() == Dialect::Sqlite && elsewhere.contains(&table) {
            // On SQLite the log and the review table are in files of their own, which the
            // report's connection does not attach (attaching is refused below): to a
            // report they do not exist.
            let sql = format!("SELECT * FROM {table}");
            let mut rows = 0;
            let got = store
                .query_each_row(&sql, &[], &mut |_: &[SqlValue]| {
                    rows += 1;
                    std::ops::ControlFlow::Continue(())
                })
                .await;
            let e = got.expect_err(&sql);
            assert!(e.to_string().contains("no such table"), "{sql}: {e}");
            assert_eq!(rows, 0);
            continue;
        }
        let says = if store.dialect() == Dialect::Postgres {
            format!(
                "permission denied for {}",
                if table == "access_log_review" {
                    "view"
                } else {
                    "table"
                }
            )
        } else {
            format!("it tried to read {table}")
        };
        refused(store, &format!("SELECT * FROM {table}"), &says).await;
    }
    if store.dialect() == Dialect::Postgres {
        // A name spelt in Unicode escapes is still the table.
        refused(
            store,
            r#"SELECT * FROM U&"\0075sers""#,
            "permission denied for table users",
        )
        .await;
        refused(
            store,
            r#"SELECT * FROM U&"!0061ccess_log_review" UESCAPE '!'"#,
            "permission denied for view access_log_review",
        )
        .await;
        // A query inside a string is checked as the report role too.
        refused(
            store,
            "SELECT CAST(query_to_xml('select password_hash from users', true, false, '') AS TEXT)",
            "permission denied for table users",
        )
        .await;
    } else {
        for (sql, says) in [
            (
                "SELECT name FROM sqlite_master",
                "it tried to read sqlite_master",
            ),
            (
                "SELECT sql FROM sqlite_schema",
                "it tried to read sqlite_master",
            ),
            (
                "SELECT * FROM pragma_table_info('users')",
                "pragma_table_info",
            ),
            ("SELECT * FROM \"USERS\"", "it tried to read users"),
            ("ATTACH DATABASE 'accesslog.db-review' AS review", "attach"),
            ("PRAGMA table_info(users)", "PRAGMA"),
            (
                "SELECT * FROM tab_sales_invoice t, json_each('[1]')",
                "json_each",
            ),
            ("SELECT * FROM dbstat", "dbstat"),
            // A name the query makes itself is no way round: what it reads is checked.
            (
                "WITH tab_x AS (SELECT email FROM users) SELECT * FROM tab_x",
                "it tried to read users",
            ),
        ] {
            refused(store, sql, says).await;
        }
    }
    // The documents remain readable after all that.
    let n = store
        .query_each_row(
            "SELECT name FROM tab_sales_invoice_item",
            &[],
            &mut |_: &[SqlValue]| std::ops::ControlFlow::Continue(()),
        )
        .await
        .unwrap();
    assert_eq!(n, 6);
}

/// Functions that reach files, the network, other roles or loadable code are refused.
async fn reports_are_refused_file_network_and_escape_functions(store: &dyn Store) {
    seed_report_data(store).await;
    if store.dialect() == Dialect::Postgres {
        refused(
            store,
            "SELECT pg_read_file('/etc/passwd')",
            "permission denied for function pg_read_file",
        )
        .await;
        refused(
            store,
            "SELECT CAST(pg_ls_dir('.') AS TEXT)",
            "permission denied for function pg_ls_dir",
        )
        .await;
        // dblink is not installed here: refused as a function this database does not have.
        refused(
            store,
            "SELECT * FROM dblink('dbname=postgres', 'select password_hash from users') AS t(x TEXT)",
            "function dblink",
        )
        .await;
        // SET ROLE alone would be undone by set_config; inside the report function it
        // cannot be.
        refused(
            store,
            "SELECT set_config('role', 'none', true), CAST(query_to_xml('select password_hash from users', true, false, '') AS TEXT)",
            "cannot set parameter \"role\"",
        )
        .await;
        refused(
            store,
            "SELECT set_config('session_authorization', 'postgres', true)",
            "session_authorization",
        )
        .await;
        // A large object the connecting user made is not the report's to read.
        let url = std::env::var(accesslog_testkit::POSTGRES_URL_VAR).unwrap();
        let pool = &sqlx::PgPool::connect(&url).await.unwrap();
        let oid: sqlx::postgres::types::Oid =
            sqlx::query_scalar("SELECT lo_from_bytea(0, CAST('secret' AS BYTEA))")
                .fetch_one(pool)
                .await
                .unwrap();
        refused(
            store,
            &format!("SELECT encode(lo_get({}), 'escape')", oid.0),
            "permission denied for large object",
        )
        .await;
        sqlx::query("SELECT lo_unlink($1)")
            .bind(oid)
            .execute(pool)
            .await
            .unwrap();
    } else {
        for (sql, says) in [
            ("SELECT load_extension('/tmp/evil.so')", "load_extension"),
            ("SELECT sqlite_version()", "sqlite_version"),
            ("SELECT fts3_tokenizer('simple')", "fts3_tokenizer"),
        ] {
            refused(store, sql, says).await;
        }
    }
}
