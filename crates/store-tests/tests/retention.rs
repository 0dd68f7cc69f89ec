//! What the stores do for retention (issue 19), on SQLite and on PostgreSQL: pruning keeps
//! each entry's seq and leaf hash where the walk and the proofs find them, restoring puts
//! the very same entry back and nothing else, and legal holds are kept and lifted.

use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, Entry, Event};
use accesslog_core::merkle::{NodeId, leaf_hash};
use accesslog_store::retention::{
    ArchivedQuery, HoldScope, NewHold, PruneBatch, Restored, RetentionFacts,
};
use accesslog_store::{Store, StoreError};

const T0: Timestamp = Timestamp::from_micros(1_764_406_800_000_000);

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
    pruned_entries_keep_their_leaf_and_place,
    restore_puts_back_only_the_same_entries,
    redacted_entries_are_not_restored,
    holds_are_kept_and_lifted,
    retention_facts_are_the_entries_own,
    archived_entries_are_listed_by_who_what_when_and_bundle,
);

/// Appends `n` entries by alternating users and returns them as stored.
async fn grow(store: &dyn Store, n: usize) -> Vec<Entry> {
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let user = if i % 2 == 0 {
                "ann@example.com"
            } else {
                "bob@example.com"
            };
            let mut e = Event::new(user, Activity::Export, "GET /api/export");
            e.export_from = Some("Employee".into());
            e.row_count = Some(i as u64);
            e
        })
        .collect();
    store.append_entries(&events, T0).await.unwrap().entries
}

fn batch(seqs: impl IntoIterator<Item = u64>, keep_fields: bool) -> PruneBatch {
    PruneBatch {
        seqs: seqs.into_iter().collect(),
        bundle: Some("ab".repeat(32)),
        keep_fields,
        redacted: false,
    }
}

/// Keeps the review copy in step, as the recorder does after commits.
async fn index(store: &dyn Store) {
    while store.index_for_review(1000).await.unwrap() > 0 {}
}

async fn pruned_entries_keep_their_leaf_and_place(store: &dyn Store) {
    let entries = grow(store, 40).await;
    index(store).await;
    let head = store.log_head().await.unwrap();
    let n = store.prune_entries(&batch(5..=20, true)).await.unwrap();
    assert_eq!(n.pruned, 16);
    // Again: already pruned, nothing more.
    assert_eq!(
        store
            .prune_entries(&batch(5..=20, true))
            .await
            .unwrap()
            .pruned,
        0
    );
    assert_eq!(
        store.log_head().await.unwrap(),
        head,
        "the tree is untouched"
    );
    assert_eq!(store.entry(7).await.unwrap(), None);
    let kept = store.pruned_entry(7).await.unwrap().unwrap();
    assert_eq!(kept.leaf, leaf_hash(&entries[6].canonical_bytes()));
    assert_eq!(kept.user.as_deref(), Some("ann@example.com"));
    assert_eq!(kept.activity.as_deref(), Some("export"));
    assert_eq!(kept.timestamp, Some(T0));
    assert_eq!(kept.bundle, Some("ab".repeat(32)));
    assert!(!kept.redacted);
    assert_eq!(
        store.pruned_seqs(1, 10).await.unwrap(),
        vec![5, 6, 7, 8, 9, 10]
    );
    let stats = store.pruned_stats().await.unwrap();
    assert_eq!((stats.pruned, stats.redacted), (16, 0));

    // The walk sees every seq, the pruned ones by their kept leaf.
    let checks = store.recomputed_leaves_after(0, 100).await.unwrap();
    assert_eq!(checks.len(), 40);
    for (c, e) in checks.iter().zip(&entries) {
        assert_eq!(c.seq as u64, e.seq);
        assert_eq!(c.pruned, (5..=20).contains(&e.seq), "{}", e.seq);
        assert_eq!(c.leaf, Some(leaf_hash(&e.canonical_bytes())), "{}", e.seq);
        assert_eq!(c.leaf, c.stored);
        assert_eq!(c.review, None, "{}", e.seq);
    }
    let rows = store.entries_with_leaves_after(4, 3).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [5, 6, 7]);
    assert!(
        rows.iter()
            .all(|r| r.pruned && r.entry.is_err() && r.leaf.is_some())
    );
    // Proofs read leaves of pruned entries too.
    let nodes = store
        .merkle_nodes(&[NodeId::leaf(6), NodeId::leaf(30)])
        .await
        .unwrap();
    assert_eq!(nodes.len(), 2);
    assert!(nodes.contains(&(NodeId::leaf(6), leaf_hash(&entries[6].canonical_bytes()))));
    // The review no longer finds them, and its copy agrees with the log.
    assert_eq!(store.check_review_copy().await.unwrap(), None);

    // Without kept fields, only the seq and leaf remain.
    store.prune_entries(&batch([30], false)).await.unwrap();
    let bare = store.pruned_entry(30).await.unwrap().unwrap();
    assert_eq!(
        (bare.user, bare.activity, bare.timestamp),
        (None, None, None)
    );
    let checks = store.recomputed_leaves_after(29, 1).await.unwrap();
    assert_eq!(checks[0].timestamp, i64::MIN, "no time kept");
}

async fn restore_puts_back_only_the_same_entries(store: &dyn Store) {
    let entries = grow(store, 12).await;
    index(store).await;
    store.prune_entries(&batch(3..=8, true)).await.unwrap();
    // An altered entry is refused, and nothing of the batch is restored.
    let mut altered = entries[2..8].to_vec();
    altered[3].event.row_count = Some(999);
    let e = store.restore_entries(&altered).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("entry 6"), "{e}");
    assert_eq!(store.entry(3).await.unwrap(), None);
    // The real ones go back, with entries that were never pruned left alone.
    let r = store.restore_entries(&entries[0..8]).await.unwrap();
    assert_eq!(
        r,
        Restored {
            restored: 6,
            redacted: 0,
            not_pruned: 2
        }
    );
    for e in &entries {
        assert_eq!(store.entry(e.seq).await.unwrap().as_ref(), Some(e));
    }
    assert_eq!(store.pruned_stats().await.unwrap().pruned, 0);
    let checks = store.recomputed_leaves_after(0, 100).await.unwrap();
    assert!(
        checks
            .iter()
            .all(|c| !c.pruned && c.leaf == c.stored && c.review.is_none())
    );
    assert_eq!(store.check_review_copy().await.unwrap(), None);
    index(store).await;
    let found = store
        .search_entries(
            &accesslog_store::log_search::EntryQuery::default(),
            accesslog_store::log_search::EntryPage::Newest { before: None },
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        12,
        "the review finds the restored entries again"
    );
}

async fn redacted_entries_are_not_restored(store: &dyn Store) {
    let entries = grow(store, 6).await;
    store
        .prune_entries(&PruneBatch {
            seqs: vec![2, 4],
            bundle: None,
            keep_fields: false,
            redacted: true,
        })
        .await
        .unwrap();
    let kept = store.pruned_entry(2).await.unwrap().unwrap();
    assert!(kept.redacted && kept.user.is_none() && kept.bundle.is_none());
    assert_eq!(store.pruned_stats().await.unwrap().redacted, 2);
    let r = store.restore_entries(&entries[1..4]).await.unwrap();
    assert_eq!((r.restored, r.redacted, r.not_pruned), (0, 2, 1));
    assert_eq!(store.entry(2).await.unwrap(), None);
}

async fn holds_are_kept_and_lifted(store: &dyn Store) {
    let hold = store
        .add_hold(&NewHold {
            scope: HoldScope {
                user: Some("ann@example.com".into()),
                from: Some(T0),
                ..HoldScope::default()
            },
            reason: "Matter 2026-114".into(),
            owner: "legal@example.com".into(),
            created_at: T0,
            expires_at: None,
        })
        .await
        .unwrap();
    assert!(hold.active_at(T0));
    assert!(
        store
            .add_hold(&NewHold {
                scope: HoldScope::default(),
                reason: "x".into(),
                owner: "y".into(),
                created_at: T0,
                expires_at: None,
            })
            .await
            .is_err(),
        "a hold over nothing is refused"
    );
    let lifted = store
        .lift_hold(hold.id, "legal@example.com", T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lifted.lifted_by.as_deref(), Some("legal@example.com"));
    assert!(!lifted.active_at(T0));
    assert_eq!(store.lift_hold(hold.id + 100, "x", T0).await.unwrap(), None);
    let all = store.holds().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].scope.user.as_deref(), Some("ann@example.com"));
    assert_eq!(all[0].scope.from, Some(T0));
}

/// A new SQLite log file gives pruned pages back to the disk: it is made with
/// `auto_vacuum = INCREMENTAL` (which takes only while the file is empty).
#[tokio::test]
async fn a_new_sqlite_log_file_vacuums_incrementally() {
    let db = accesslog_testkit::TestDb::sqlite().await;
    let mode = db
        .query_text("SELECT CAST(auto_vacuum AS TEXT) FROM pragma_auto_vacuum('log')")
        .await;
    assert_eq!(mode, ["2"], "INCREMENTAL");
    db.drop().await;
}

/// Pruning on SQLite gives the freed pages back to the disk as it goes: the log file
/// shrinks, no VACUUM needed.
#[tokio::test]
async fn sqlite_pruning_gives_pages_back() {
    let db = accesslog_testkit::TestDb::sqlite().await;
    let store = &*db.store;
    let events: Vec<Event> = (0..1500)
        .map(|i| {
            let mut e = Event::new("ann@example.com", Activity::Read, "GET /app/employee");
            e.page = Some(format!("{i}:{}", "x".repeat(2000)));
            e
        })
        .collect();
    store.append_entries(&events, T0).await.unwrap();
    let pages = async || -> u64 {
        db.query_text("SELECT CAST(page_count AS TEXT) FROM pragma_page_count('log')")
            .await[0]
            .parse()
            .unwrap()
    };
    let before = pages().await;
    for chunk in (1..=1500u64).collect::<Vec<_>>().chunks(500) {
        store
            .prune_entries(&batch(chunk.to_vec(), true))
            .await
            .unwrap();
    }
    let mid = pages().await;
    assert!(
        mid * 2 > before,
        "the batches free pages, they do not give them back: {before} pages before, {mid} after"
    );
    // Given back a step at a time, each step saying what is left.
    let mut left = u64::MAX;
    let mut steps = 0;
    while left > 0 {
        let now = store
            .release_free_pages(100)
            .await
            .unwrap()
            .expect("SQLite keeps free pages");
        assert!(
            now < left,
            "each step gives pages back: {now} left after {left}"
        );
        left = now;
        steps += 1;
    }
    let after = pages().await;
    assert!(steps > 1, "in steps of 100 pages: {steps}");
    assert!(after * 2 < before, "{before} pages before, {after} after");
    db.drop().await;
}

/// A prune stopped between its two files' commits leaves the pruned entries' rows in the
/// review copy; the next prune's tidying removes them, and only them.
#[tokio::test]
async fn sqlite_tidying_removes_review_rows_a_stopped_prune_left() {
    let db = accesslog_testkit::TestDb::sqlite().await;
    let store = &*db.store;
    grow(store, 10).await;
    index(store).await;
    let copied = || db.query_text("SELECT CAST(COUNT(*) AS TEXT) FROM review.access_log_review");
    assert_eq!(copied().await, ["10"]);
    store.prune_entries(&batch(3..=5, true)).await.unwrap();
    assert_eq!(
        copied().await,
        ["7"],
        "a whole batch removes its review rows"
    );
    // As if stopped after the log's commit: the review rows come back.
    db.execute(
        "INSERT INTO review.access_log_review (seq, timestamp, \"user\", activity, outcome) \
         VALUES (3, 0, 'ann@example.com', 'export', 'allowed'), \
                (5, 0, 'ann@example.com', 'export', 'allowed')",
    )
    .await;
    assert_eq!(
        store.check_review_copy().await.unwrap(),
        None,
        "verification passes over them"
    );
    assert_eq!(store.tidy_after_prune().await.unwrap(), 2);
    assert_eq!(copied().await, ["7"]);
    assert_eq!(store.tidy_after_prune().await.unwrap(), 0, "nothing more");
    assert_eq!(store.check_review_copy().await.unwrap(), None);
    db.drop().await;
}

/// PostgreSQL has no review copy to tidy and gives pages back itself.
#[tokio::test]
async fn postgres_has_nothing_to_tidy_or_give_back() {
    let Some(db) = accesslog_testkit::TestDb::postgres("pg_nothing_to_tidy").await else {
        return accesslog_testkit::skip_postgres();
    };
    let store = &*db.store;
    grow(store, 4).await;
    store.prune_entries(&batch(1..=2, true)).await.unwrap();
    assert_eq!(store.tidy_after_prune().await.unwrap(), 0);
    assert_eq!(store.release_free_pages(100).await.unwrap(), None);
    db.drop().await;
}

/// The few columns retention reads are the entries' own, page by page, pruned entries
/// left out.
async fn retention_facts_are_the_entries_own(store: &dyn Store) {
    grow(store, 9).await;
    store.prune_entries(&batch([3], true)).await.unwrap();
    let expected: Vec<RetentionFacts> = store
        .entries_after(0, 100)
        .await
        .unwrap()
        .iter()
        .map(RetentionFacts::of)
        .collect();
    assert_eq!(expected.len(), 8);
    let mut read = store.retention_facts_after(0, 5).await.unwrap();
    assert_eq!(read.len(), 5);
    read.extend(store.retention_facts_after(read[4].seq, 5).await.unwrap());
    assert_eq!(read, expected);
    assert!(
        read.iter().all(|f| f.seq != 3),
        "the pruned entry is not read"
    );
    assert_eq!(read[0].activity, Some(Activity::Export));
    assert_eq!(read[0].export_from.as_deref(), Some("Employee"));
    assert_eq!(read[1].user, "bob@example.com");
}

/// The review's list of archived entries: newest first, filtered on the kept fields and
/// the bundle, paged by seq; an entry whose fields were not kept matches only the bundle.
async fn archived_entries_are_listed_by_who_what_when_and_bundle(store: &dyn Store) {
    const DAY: i64 = 86_400_000_000;
    let mut entries = Vec::new();
    for day in 0..3 {
        let events: Vec<Event> = (0..10)
            .map(|i| {
                let user = if i % 2 == 0 {
                    "ann@example.com"
                } else {
                    "bob@example.com"
                };
                let activity = if i == 9 {
                    Activity::Print
                } else {
                    Activity::Export
                };
                Event::new(user, activity, "GET /api/export")
            })
            .collect();
        let at = Timestamp::from_micros(T0.as_micros() + day * DAY);
        entries.extend(store.append_entries(&events, at).await.unwrap().entries);
    }
    index(store).await;
    let seqs = |from: usize, to: usize| entries[from..to].iter().map(|e| e.seq);
    store
        .prune_entries(&batch(seqs(0, 25), true))
        .await
        .unwrap();
    let other = "cd".repeat(32);
    store
        .prune_entries(&PruneBatch {
            bundle: Some(other.clone()),
            ..batch(seqs(25, 27), false)
        })
        .await
        .unwrap();
    let list = async |q: ArchivedQuery, limit: u32| -> Vec<u64> {
        let found = store.archived_entries(&q, limit).await.unwrap();
        found.iter().map(|p| p.seq).collect()
    };
    let newest_first =
        |picked: Vec<&Entry>| -> Vec<u64> { picked.iter().rev().map(|e| e.seq).collect() };

    let all = list(ArchivedQuery::default(), 100).await;
    assert_eq!(all, newest_first(entries[..27].iter().collect()));
    let first = store
        .archived_entries(&ArchivedQuery::default(), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(first.seq, entries[26].seq);
    assert_eq!(
        (first.user, first.activity),
        (None, None),
        "fields not kept"
    );
    assert_eq!(first.bundle.as_deref(), Some(other.as_str()));

    let kept = &entries[..25];
    let ann = list(
        ArchivedQuery {
            user: Some("ann@example.com".into()),
            ..ArchivedQuery::default()
        },
        100,
    )
    .await;
    assert_eq!(
        ann,
        newest_first(
            kept.iter()
                .filter(|e| e.event.user == "ann@example.com")
                .collect()
        )
    );
    let prints = list(
        ArchivedQuery {
            activity: Some("print".into()),
            ..ArchivedQuery::default()
        },
        100,
    )
    .await;
    assert_eq!(
        prints,
        newest_first(
            kept.iter()
                .filter(|e| e.event.activity == Activity::Print)
                .collect()
        )
    );
    let second_day = list(
        ArchivedQuery {
            from: Some(Timestamp::from_micros(T0.as_micros() + DAY)),
            to: Some(Timestamp::from_micros(T0.as_micros() + 2 * DAY)),
            ..ArchivedQuery::default()
        },
        100,
    )
    .await;
    assert_eq!(second_day, newest_first(entries[10..20].iter().collect()));
    let in_other = list(
        ArchivedQuery {
            bundle: Some(other.clone()),
            ..ArchivedQuery::default()
        },
        100,
    )
    .await;
    assert_eq!(in_other, newest_first(entries[25..27].iter().collect()));
    let nobody = list(
        ArchivedQuery {
            user: Some("carl@example.com".into()),
            ..ArchivedQuery::default()
        },
        100,
    )
    .await;
    assert!(nobody.is_empty());

    // Pages of 10 by the last seq of each: the whole list, once.
    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = list(
            ArchivedQuery {
                before,
                ..ArchivedQuery::default()
            },
            10,
        )
        .await;
        let Some(last) = page.last().copied() else {
            break;
        };
        paged.extend(page);
        before = Some(last);
    }
    assert_eq!(paged, all);
}
