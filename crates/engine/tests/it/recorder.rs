//! The recorder: receipts match what is stored, group commit batches concurrent callers,
//! every failure refuses the action and writes nothing, checkpoints are signed by count
//! and by time, and two recorders sharing a database keep `seq` dense.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accesslog_core::entry::{Entry, Event, Outcome};
use accesslog_core::merkle::{Hash, NodeId, leaf_hash, root_from_leaves};
use accesslog_core::secrets::token_digest;
use accesslog_core::{Clock, FixedClock, Timestamp};
use accesslog_engine::recorder::INDEX_BATCH;
use accesslog_engine::verify::{CheckpointOrigin, SignedCheckpoint, split_checkpoints_log, verify};
use accesslog_engine::{CheckpointPolicy, Checkpointer, RecordError, Recorder, RecorderConfig};
use accesslog_store::log_search::{EntryPage, EntryQuery};
use accesslog_store::{
    Appended, LogHead, LogReads, LogStore, Store, StoreError, StoreResult, StoredCheckpoint,
};
use accesslog_store_postgres::PgStore;
use accesslog_store_sqlite::SqliteStore;
use accesslog_testkit::{Backend, TestDb};
use async_trait::async_trait;

use crate::common::{T0, event, signer, size_of, wait_until};

accesslog_testkit::on_both_backends!(
    run: accesslog_testkit::with_db;
    receipts_match_the_stored_entries,
    concurrent_records_share_transactions,
    an_unreachable_database_refuses_and_writes_nothing,
    refused_writes_leave_no_gap,
    a_failing_store_refuses,
    an_invalid_event_is_refused_and_writes_nothing,
    nul_and_oversized_fields_are_recorded_bounded,
    checkpoints_are_signed_by_count_and_by_time,
    two_recorders_on_one_database_keep_seq_dense,
    verify_passes_while_the_log_grows,
    verify_names_an_entry_dated_before_the_one_before,
    new_entries_reach_the_review_table_in_batches,
    a_backlog_is_copied_for_review_when_the_recorder_starts,
    a_failing_review_index_refuses_nothing,
);

fn recorder(store: Arc<dyn LogStore>, clock: Arc<FixedClock>) -> Recorder {
    Recorder::start(store, clock, None, RecorderConfig::default())
}

/// A second handle on the same database, as another process would open it.
async fn reopen(db: &TestDb) -> Arc<dyn Store> {
    match db.backend {
        Backend::Sqlite => Arc::new(SqliteStore::connect(&db.url).await.expect("reopen SQLite")),
        Backend::Postgres => Arc::new(PgStore::connect(&db.url).await.expect("reopen PostgreSQL")),
    }
}

async fn all_entries(store: &dyn Store) -> Vec<(Entry, Option<Hash>)> {
    store
        .entries_with_leaves_after(0, 10_000)
        .await
        .expect("read the log")
        .into_iter()
        .map(|row| (row.entry.expect("a readable entry"), row.leaf))
        .collect()
}

async fn receipts_match_the_stored_entries(db: &TestDb) {
    let clock = Arc::new(FixedClock::new(T0));
    let rec = recorder(db.store.clone(), clock.clone());
    let mut receipts = Vec::new();
    for i in 1..=20 {
        clock.advance(Duration::from_millis(1));
        let receipt = rec.record(event(i as u64)).await.expect("recorded");
        assert_eq!(receipt.timestamp(), clock.now(), "stamped when committed");
        receipts.push(receipt);
    }
    let seqs: Vec<u64> = receipts.iter().map(|r| r.seq()).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());

    let stored = all_entries(&*db.store).await;
    assert_eq!(stored.len(), 20);
    for (receipt, (entry, leaf)) in receipts.iter().zip(&stored) {
        assert_eq!(entry.seq, receipt.seq());
        assert_eq!(entry.event, event(receipt.seq()), "the event as given");
        assert_eq!(entry.timestamp, receipt.timestamp());
        assert_eq!(*receipt.leaf_hash(), leaf_hash(&entry.canonical_bytes()));
        assert_eq!(leaf.as_ref(), Some(receipt.leaf_hash()), "the tree's leaf");
    }
    let head = db.store.log_head().await.expect("head");
    let leaves: Vec<Hash> = receipts.iter().map(|r| *r.leaf_hash()).collect();
    assert_eq!(head.size, 20);
    assert_eq!(head.root, root_from_leaves(&leaves));
}

/// Delegates to a real store, counting the appends and their sizes, and what each call to
/// index for review copied; can hold the first append back (so the queue fills behind
/// it), refuse every append, or fail every indexing.
#[derive(Debug)]
struct Wrapped {
    inner: Arc<dyn Store>,
    hold_first: Option<Duration>,
    refuse: bool,
    refuse_index: bool,
    calls: AtomicUsize,
    batches: Mutex<Vec<usize>>,
    indexed: Mutex<Vec<u64>>,
    /// Reports this (seq, µs) as the row's timestamp to verification's fast path.
    misdate: Option<(i64, i64)>,
}

impl Wrapped {
    fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            hold_first: None,
            refuse: false,
            refuse_index: false,
            calls: AtomicUsize::new(0),
            batches: Mutex::new(Vec::new()),
            indexed: Mutex::new(Vec::new()),
            misdate: None,
        }
    }
}

#[async_trait]
impl LogReads for Wrapped {
    async fn log_head(&self) -> StoreResult<LogHead> {
        self.inner.log_head().await
    }
    async fn entries_after(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<Entry>> {
        self.inner.entries_after(after_seq, limit).await
    }
    async fn entry(&self, seq: u64) -> StoreResult<Option<Entry>> {
        self.inner.entry(seq).await
    }
    async fn search_entries(
        &self,
        q: &accesslog_store::log_search::EntryQuery,
        page: accesslog_store::log_search::EntryPage,
        limit: u32,
    ) -> StoreResult<Vec<Entry>> {
        self.inner.search_entries(q, page, limit).await
    }
    async fn activity_since(
        &self,
        from: Timestamp,
    ) -> StoreResult<accesslog_store::log_search::ActivitySummary> {
        self.inner.activity_since(from).await
    }
    async fn count_entries(
        &self,
        q: &accesslog_store::log_search::EntryQuery,
        by: accesslog_store::log_search::GroupBy,
        sample: u32,
        top: u32,
    ) -> StoreResult<Vec<(String, u64)>> {
        self.inner.count_entries(q, by, sample, top).await
    }
    async fn retention_facts_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<accesslog_store::retention::RetentionFacts>> {
        self.inner.retention_facts_after(after_seq, limit).await
    }
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> StoreResult<()> {
        self.inner.add_checkpoint(checkpoint).await
    }
    async fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        self.inner.latest_checkpoint().await
    }
    async fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
        self.inner.checkpoints().await
    }
}

#[async_trait]
impl LogStore for Wrapped {
    async fn append_entries(&self, events: &[Event], at: Timestamp) -> StoreResult<Appended> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.batches.lock().expect("lock").push(events.len());
        if call == 0
            && let Some(hold) = self.hold_first
        {
            tokio::time::sleep(hold).await;
        }
        if self.refuse {
            return Err(StoreError::Unavailable(
                "injected: the disk went away".into(),
            ));
        }
        self.inner.append_entries(events, at).await
    }
    async fn index_for_review(&self, limit: u32) -> StoreResult<u64> {
        if self.refuse_index {
            return Err(StoreError::Unavailable("injected: indexing failed".into()));
        }
        let n = self.inner.index_for_review(limit).await?;
        self.indexed.lock().expect("lock").push(n);
        Ok(n)
    }
    async fn entries_with_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<accesslog_store::LeafRow>> {
        self.inner.entries_with_leaves_after(after_seq, limit).await
    }
    async fn recomputed_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<accesslog_store::LeafCheck>> {
        let mut rows = self.inner.recomputed_leaves_after(after_seq, limit).await?;
        for row in &mut rows {
            if let Some((seq, at)) = self.misdate
                && row.seq == seq
            {
                row.timestamp = at;
            }
        }
        Ok(rows)
    }
    async fn merkle_nodes(&self, ids: &[NodeId]) -> StoreResult<Vec<(NodeId, Hash)>> {
        self.inner.merkle_nodes(ids).await
    }
    async fn prune_entries(
        &self,
        batch: &accesslog_store::retention::PruneBatch,
    ) -> StoreResult<accesslog_store::retention::BatchPruned> {
        self.inner.prune_entries(batch).await
    }
    async fn tidy_after_prune(&self) -> StoreResult<u64> {
        self.inner.tidy_after_prune().await
    }
    async fn release_free_pages(&self, pages: u32) -> StoreResult<Option<u64>> {
        self.inner.release_free_pages(pages).await
    }
    async fn restore_entries(
        &self,
        entries: &[accesslog_core::entry::Entry],
    ) -> StoreResult<accesslog_store::retention::Restored> {
        self.inner.restore_entries(entries).await
    }
}

async fn concurrent_records_share_transactions(db: &TestDb) {
    let wrapped = Arc::new(Wrapped {
        hold_first: Some(Duration::from_millis(200)),
        ..Wrapped::new(db.store.clone())
    });
    let rec = recorder(wrapped.clone(), Arc::new(FixedClock::new(T0)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=200 {
        let rec = rec.clone();
        tasks.spawn(async move { (i, rec.record(event(i)).await) });
    }
    let mut by_request = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let (i, receipt) = done.expect("task");
        let receipt = receipt.expect("recorded");
        by_request.insert(i, receipt);
    }
    let mut seqs: Vec<u64> = by_request.values().map(|r| r.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=200).collect::<Vec<_>>(),
        "200 distinct, dense seqs"
    );
    for (i, receipt) in &by_request {
        let stored = db
            .store
            .entry(receipt.seq())
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            stored.event,
            event(*i),
            "each caller's receipt names its own entry"
        );
    }

    let calls = wrapped.calls.load(Ordering::SeqCst);
    let batches = wrapped.batches.lock().expect("lock").clone();
    assert!(
        calls <= 10,
        "200 callers took {calls} transactions: {batches:?}"
    );
    assert_eq!(batches.iter().sum::<usize>(), 200);
    assert!(
        batches.iter().any(|&n| n > 1),
        "no batch held more than one entry: {batches:?}"
    );
}

/// Records from 64 callers at once, more than one indexing batch of them.
async fn record_many(rec: &Recorder, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..64 {
        let rec = rec.clone();
        tasks.spawn(async move {
            for i in (w..n).step_by(64) {
                rec.record(event(i as u64)).await.expect("recorded");
            }
        });
    }
    tasks.join_all().await;
}

async fn new_entries_reach_the_review_table_in_batches(db: &TestDb) {
    let wrapped = Arc::new(Wrapped::new(db.store.clone()));
    let rec = recorder(wrapped.clone(), Arc::new(FixedClock::new(T0)));
    let total = INDEX_BATCH as usize + 100;
    record_many(&rec, total).await;
    // The recorder copies them by itself: a full batch once enough are committed, the rest
    // on its next tick (within a second). PostgreSQL indexes as it writes: nothing to copy.
    let to_copy = match db.backend {
        Backend::Sqlite => total as u64,
        Backend::Postgres => 0,
    };
    wait_until("the recorder has indexed every entry", || async {
        let calls = wrapped.indexed.lock().expect("lock").clone();
        calls.len() > 1 && calls.iter().sum::<u64>() == to_copy
    })
    .await;
    let calls = wrapped.indexed.lock().expect("lock").clone();
    assert!(
        calls.iter().all(|&n| n <= u64::from(INDEX_BATCH)),
        "no call copies more than a batch: {calls:?}"
    );
    assert_eq!(
        db.store.index_for_review(INDEX_BATCH).await.expect("index"),
        0,
        "nothing is left to index"
    );
    let newest = db
        .store
        .search_entries(
            &EntryQuery::default(),
            EntryPage::Newest { before: None },
            3,
        )
        .await
        .expect("search");
    let seqs: Vec<u64> = newest.iter().map(|e| e.seq).collect();
    let t = total as u64;
    assert_eq!(seqs, [t, t - 1, t - 2]);
}

/// Entries appended before a recorder ran (an upgraded site, another process, a crash
/// between commit and copy) are copied when it starts, in one run of several batches.
async fn a_backlog_is_copied_for_review_when_the_recorder_starts(db: &TestDb) {
    let backlog = INDEX_BATCH as usize * 2 + 5;
    let events: Vec<Event> = (0..backlog as u64).map(event).collect();
    db.store
        .append_entries(&events, T0)
        .await
        .expect("append the backlog");
    let wrapped = Arc::new(Wrapped::new(db.store.clone()));
    let _rec = recorder(wrapped.clone(), Arc::new(FixedClock::new(T0)));
    let to_copy = match db.backend {
        Backend::Sqlite => backlog as u64,
        Backend::Postgres => 0,
    };
    wait_until("the recorder has copied the backlog", || async {
        let calls = wrapped.indexed.lock().expect("lock").clone();
        !calls.is_empty() && calls.iter().sum::<u64>() == to_copy
    })
    .await;
    assert_eq!(
        db.store.index_for_review(INDEX_BATCH).await.expect("index"),
        0
    );
}

async fn a_failing_review_index_refuses_nothing(db: &TestDb) {
    let wrapped = Arc::new(Wrapped {
        refuse_index: true,
        ..Wrapped::new(db.store.clone())
    });
    let rec = recorder(wrapped.clone(), Arc::new(FixedClock::new(T0)));
    let total = INDEX_BATCH as usize + 10;
    record_many(&rec, total).await;
    assert_eq!(size_of(db).await, total as u64, "every entry was recorded");
    // Searches still find every entry, from the log itself.
    let mut found = 0;
    let mut after_seq = 0;
    loop {
        let page = db
            .store
            .search_entries(&EntryQuery::default(), EntryPage::After { after_seq }, 500)
            .await
            .expect("search");
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        found += page.len();
    }
    assert_eq!(found, total);
}

async fn an_unreachable_database_refuses_and_writes_nothing(db: &TestDb) {
    let rec = recorder(db.store.clone(), Arc::new(FixedClock::new(T0)));
    for i in 1..=3 {
        rec.record(event(i as u64)).await.expect("recorded");
    }
    db.close().await;
    for i in 4..=5 {
        let err = rec.record(event(i)).await.expect_err("must refuse");
        assert!(matches!(err, RecordError::Unavailable(_)), "{err:?}");
    }
    let other = reopen(db).await;
    assert_eq!(
        other.log_head().await.expect("head").size,
        3,
        "nothing was written"
    );
    assert_eq!(all_entries(&*other).await.len(), 3);
}

async fn refused_writes_leave_no_gap(db: &TestDb) {
    let rec = recorder(db.store.clone(), Arc::new(FixedClock::new(T0)));
    for i in 1..=3 {
        rec.record(event(i as u64)).await.expect("recorded");
    }
    match db.backend {
        Backend::Sqlite => {
            // The log's tables are in the log's file, attached as LOG_SCHEMA.
            db.execute(&format!(
                "CREATE TRIGGER {}.refuse BEFORE INSERT ON access_log \
                 BEGIN SELECT RAISE(ABORT, 'disk full'); END",
                accesslog_store_sqlite::LOG_SCHEMA
            ))
            .await;
        }
        Backend::Postgres => {
            db.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = '53100'; END $$",
            )
            .await;
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON access_log \
                 FOR EACH ROW EXECUTE FUNCTION refuse()",
            )
            .await;
        }
    }
    for i in 4..=6 {
        let err = rec.record(event(i)).await.expect_err("must refuse");
        match &err {
            RecordError::Unavailable(why) => assert!(why.contains("disk full"), "{why}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert_eq!(size_of(db).await, 3, "the tree state did not move");
    assert_eq!(all_entries(&*db.store).await.len(), 3, "no row was written");

    db.execute(match db.backend {
        Backend::Sqlite => "DROP TRIGGER refuse",
        Backend::Postgres => "DROP TRIGGER refuse ON access_log",
    })
    .await;
    let receipt = rec
        .record(event(7))
        .await
        .expect("recorded once writes work again");
    assert_eq!(
        receipt.seq(),
        4,
        "the next seq, with no gap for the refused ones"
    );
    let stored = db.store.entry(4).await.expect("read").expect("stored");
    assert_eq!(stored.event, event(7));
    let v = signer(1).verifier();
    let verified = verify(&*db.store, &v, Vec::new(), |_, _| {})
        .await
        .expect("verifies");
    assert_eq!(verified.entries, 4);
}

async fn a_failing_store_refuses(db: &TestDb) {
    let wrapped = Arc::new(Wrapped {
        refuse: true,
        ..Wrapped::new(db.store.clone())
    });
    let rec = recorder(wrapped.clone(), Arc::new(FixedClock::new(T0)));
    let err = rec.record(event(1)).await.expect_err("must refuse");
    assert_eq!(
        err,
        RecordError::Unavailable("injected: the disk went away".into())
    );
    assert_eq!(
        wrapped.calls.load(Ordering::SeqCst),
        1,
        "the store was asked"
    );
    assert_eq!(size_of(db).await, 0);
}

async fn an_invalid_event_is_refused_and_writes_nothing(db: &TestDb) {
    let wrapped = Arc::new(Wrapped::new(db.store.clone()));
    let rec = recorder(wrapped.clone(), Arc::new(FixedClock::new(T0)));
    let mut empty_user = event(1);
    empty_user.user = String::new();
    let mut blank_user = event(2);
    blank_user.user = "  ".into();
    let mut denied_without_reason = event(3);
    denied_without_reason.outcome = Outcome::Denied;
    for bad in [empty_user, blank_user, denied_without_reason] {
        let err = rec.record(bad.clone()).await.expect_err("must refuse");
        assert!(matches!(err, RecordError::Invalid(_)), "{bad:?}: {err:?}");
    }
    assert_eq!(
        wrapped.calls.load(Ordering::SeqCst),
        0,
        "refused before the writer"
    );
    assert_eq!(size_of(db).await, 0);
    let receipt = rec
        .record(event(4))
        .await
        .expect("a valid one still goes in");
    assert_eq!(receipt.seq(), 1);
}

/// A NUL used to refuse the event (PostgreSQL text cannot hold it) and a huge header was
/// stored whole; now both are recorded, bounded as `Event::bounded` says.
async fn nul_and_oversized_fields_are_recorded_bounded(db: &TestDb) {
    let rec = recorder(db.store.clone(), Arc::new(FixedClock::new(T0)));
    let user_agent = "Mozilla/5.0 (X11; Linux x86_64) ".repeat(9375);
    assert_eq!(user_agent.len(), 300_000, "300 KB");
    let mut given = event(1);
    given.reference_document = Some("SINV-\0-00001".into());
    given.user_agent = Some(user_agent.clone());
    given.roles = vec![
        "Accounts User".into(),
        "HR\0User".into(),
        "Sales User".into(),
    ];
    assert!(given.validate().is_err(), "NUL alone made it invalid");

    let receipt = rec
        .record(given.clone())
        .await
        .expect("recorded, not refused");
    let stored = all_entries(&*db.store).await;
    assert_eq!(stored.len(), 1);
    let (entry, leaf) = &stored[0];
    assert_eq!(entry.seq, receipt.seq());
    assert_eq!(entry.event, given.clone().bounded(), "stored as bounded");
    assert_eq!(leaf.as_ref(), Some(receipt.leaf_hash()));
    assert_eq!(*receipt.leaf_hash(), leaf_hash(&entry.canonical_bytes()));

    assert_eq!(
        entry.event.reference_document.as_deref(),
        Some("SINV-\u{FFFD}-00001")
    );
    assert!(entry.event.roles.iter().any(|r| r == "HR\u{FFFD}User"));
    let ua = entry.event.user_agent.as_deref().expect("kept");
    assert!(ua.len() <= 512, "{} bytes", ua.len());
    assert!(ua.starts_with("Mozilla/5.0 (X11"), "{ua}");
    let mark = format!(
        "\u{2026}[cut: 300000 bytes, sha256 {}]",
        token_digest(&user_agent)
    );
    assert!(ua.ends_with(&mark), "{ua}");
    // Everything else is as given.
    let mut rest = entry.event.clone();
    rest.reference_document = given.reference_document.clone();
    rest.user_agent = given.user_agent.clone();
    rest.roles = given.roles.clone();
    assert_eq!(rest, given);
}

async fn checkpoints_are_signed_by_count_and_by_time(db: &TestDb) {
    let clock = Arc::new(FixedClock::new(T0));
    let log_file = db.dir.path().join("checkpoints.log");
    let policy = CheckpointPolicy {
        every_entries: 5,
        every: Duration::from_secs(10),
    };
    let checkpointer = Checkpointer::new(signer(1), policy, Some(log_file.clone()));
    let rec = Recorder::start(
        db.store.clone(),
        clock.clone(),
        Some(checkpointer),
        RecorderConfig::default(),
    );
    for i in 1..=12 {
        rec.record(event(i as u64)).await.expect("recorded");
    }
    // Housekeeping signs beside the commits, each at the head that made it due: 1, the
    // first ever (no previous time); 6 and 11, five entries since the last one. The clock
    // stands still, so neither the tick nor entry 12 signs by time.
    let file_notes = |path: &std::path::Path| {
        split_checkpoints_log(&std::fs::read_to_string(path).unwrap_or_default())
    };
    wait_until("the checkpoint at 11 is signed", || async {
        db.store
            .latest_checkpoint()
            .await
            .expect("read")
            .map(|c| c.size)
            == Some(11)
            && file_notes(&log_file).len() == 3
    })
    .await;
    let verifier = signer(1).verifier();
    let leaves: Vec<Hash> = all_entries(&*db.store)
        .await
        .iter()
        .map(|(e, _)| leaf_hash(&e.canonical_bytes()))
        .collect();
    let check = |cps: &[StoredCheckpoint], sizes: &[u64]| {
        assert_eq!(cps.iter().map(|c| c.size).collect::<Vec<_>>(), sizes);
        for c in cps {
            let signed = verifier.verify(&c.note).expect("a valid signature");
            assert_eq!(signed.origin, crate::common::ORIGIN);
            assert_eq!(signed.size, c.size);
            let root = root_from_leaves(&leaves[..c.size as usize]);
            assert_eq!(signed.root, root, "the signed root at {}", c.size);
            assert_eq!(c.root, root);
        }
    };
    let cps = db.store.checkpoints().await.expect("checkpoints");
    check(&cps, &[1, 6, 11]);
    assert!(cps.iter().all(|c| c.created_at == T0));
    let notes: Vec<String> = cps.iter().map(|c| c.note.clone()).collect();
    assert_eq!(
        file_notes(&log_file),
        notes,
        "the same notes, in order, outside the DB"
    );

    // Time passes with entry 12 unsigned: the writer's tick signs it.
    clock.advance(Duration::from_secs(10));
    wait_until("the tick signs entry 12", || async {
        db.store
            .latest_checkpoint()
            .await
            .expect("read")
            .map(|c| c.size)
            == Some(12)
    })
    .await;
    // Time passes again; the next entry is signed as soon as it is committed.
    clock.advance(Duration::from_secs(10));
    rec.record(event(13)).await.expect("recorded");
    wait_until("entry 13 is signed", || async {
        db.store
            .latest_checkpoint()
            .await
            .expect("read")
            .map(|c| c.size)
            == Some(13)
    })
    .await;
    wait_until("checkpoints.log has 5 notes", || async {
        file_notes(&log_file).len() == 5
    })
    .await;

    let leaves: Vec<Hash> = all_entries(&*db.store)
        .await
        .iter()
        .map(|(e, _)| leaf_hash(&e.canonical_bytes()))
        .collect();
    let cps = db.store.checkpoints().await.expect("checkpoints");
    let check = |cps: &[StoredCheckpoint]| {
        for c in cps {
            let signed = verifier.verify(&c.note).expect("a valid signature");
            assert_eq!(signed.root, root_from_leaves(&leaves[..c.size as usize]));
        }
    };
    check(&cps);
    assert_eq!(
        cps.iter().map(|c| c.size).collect::<Vec<_>>(),
        [1, 6, 11, 12, 13]
    );
    assert_eq!(cps[3].created_at, T0.plus(Duration::from_secs(10)));
    assert_eq!(cps[4].created_at, T0.plus(Duration::from_secs(20)));
    let notes: Vec<String> = cps.iter().map(|c| c.note.clone()).collect();
    let in_file = file_notes(&log_file);
    assert_eq!(in_file, notes);

    let outside = in_file
        .into_iter()
        .map(|note| SignedCheckpoint {
            origin: CheckpointOrigin::CheckpointsLog,
            note,
        })
        .collect();
    let verified = verify(&*db.store, &verifier, outside, |_, _| {})
        .await
        .expect("verifies");
    assert_eq!(verified.entries, 13);
    assert_eq!(verified.checkpoints, 10);
}

async fn two_recorders_on_one_database_keep_seq_dense(db: &TestDb) {
    let policy = CheckpointPolicy {
        every_entries: 50,
        every: Duration::from_secs(10),
    };
    let mut recorders = Vec::new();
    for _ in 0..2 {
        let store = reopen(db).await;
        let checkpointer = Checkpointer::new(signer(1), policy, None);
        recorders.push(Recorder::start(
            store,
            Arc::new(FixedClock::new(T0)),
            Some(checkpointer),
            RecorderConfig::default(),
        ));
    }
    // Two waves of 200, both recorders at once in each; between them, the first wave's
    // checkpoint is waited for, so that the log is signed as it grows however the two
    // recorders' commits happen to fall.
    let mut seq_of = HashMap::new();
    for wave in [1..=100u64, 101..=200] {
        let mut tasks = tokio::task::JoinSet::new();
        for (r, rec) in recorders.iter().enumerate() {
            for k in wave.clone() {
                let rec = rec.clone();
                let i = r as u64 * 1000 + k;
                tasks.spawn(async move { (i, rec.record(event(i)).await) });
            }
        }
        while let Some(done) = tasks.join_next().await {
            let (i, receipt) = done.expect("task");
            seq_of.insert(i, receipt.expect("recorded"));
        }
        let size = seq_of.len() as u64;
        for _ in 0..500 {
            let signed = db.store.latest_checkpoint().await.unwrap();
            if signed.is_some_and(|c| c.size >= size) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_eq!(seq_of.len(), 400);
    let mut seqs: Vec<u64> = seq_of.values().map(|r| r.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=400).collect::<Vec<_>>(), "dense, none twice");

    let stored = all_entries(&*db.store).await;
    assert_eq!(stored.len(), 400);
    let by_seq: HashMap<u64, &Entry> = stored.iter().map(|(e, _)| (e.seq, e)).collect();
    for (i, receipt) in &seq_of {
        let entry = by_seq[&receipt.seq()];
        assert_eq!(
            entry.event,
            event(*i),
            "receipt {} names its own entry",
            receipt.seq()
        );
        assert_eq!(*receipt.leaf_hash(), leaf_hash(&entry.canonical_bytes()));
    }
    let verified = verify(&*db.store, &signer(1).verifier(), Vec::new(), |_, _| {})
        .await
        .expect("two writers leave a log that verifies");
    assert_eq!(verified.entries, 400);
    assert!(
        verified.checkpoints >= 2,
        "checkpoints were signed as the log grew"
    );
}

/// Verifying a live log: entries appended while `verify` walks are not "extra".
async fn verify_passes_while_the_log_grows(db: &TestDb) {
    let rec = recorder(db.store.clone(), Arc::new(FixedClock::new(T0)));
    for i in 1..=50 {
        rec.record(event(i as u64)).await.expect("recorded");
    }
    let writer = {
        let rec = rec.clone();
        tokio::spawn(async move {
            for i in 51..=2000 {
                rec.record(event(i as u64)).await.expect("recorded");
            }
        })
    };
    let verifier = signer(1).verifier();
    for _ in 0..20 {
        let v = verify(&*db.store, &verifier, Vec::new(), |_, _| {})
            .await
            .expect("a live log verifies");
        assert!(v.entries >= 50);
    }
    writer.await.expect("writer");
    let v = verify(&*db.store, &verifier, Vec::new(), |_, _| {})
        .await
        .expect("verifies");
    assert_eq!(v.entries, 2000);
}

/// A log whose entry 7 is dated before entry 6, though every hash holds (as a log written
/// by servers that stamped time outside the writer's lock could be): verify names it.
/// The row's date is changed only as verification's fast path reads it, so the leaves
/// still match and the order check is what speaks.
async fn verify_names_an_entry_dated_before_the_one_before(db: &TestDb) {
    let events: Vec<Event> = (1..=10).map(event).collect();
    for (i, e) in events.iter().enumerate() {
        db.store
            .append_entries(
                std::slice::from_ref(e),
                Timestamp::from_micros(1_000_000 * i as i64 + 1),
            )
            .await
            .expect("append");
    }
    let verifier = accesslog_core::checkpoint::LogSigner::from_seed("t.example/log", [1; 32])
        .expect("signer")
        .verifier();
    let mut wrapped = Wrapped::new(db.store.clone());
    assert!(
        verify(&wrapped, &verifier, Vec::new(), |_, _| {})
            .await
            .is_ok()
    );
    wrapped.misdate = Some((7, 0));
    let err = verify(&wrapped, &verifier, Vec::new(), |_, _| {})
        .await
        .expect_err("out of order");
    let text = err.to_string();
    assert!(
        text.contains("entry 7 is dated 1970-01-01T00:00:00") && text.contains("before entry 6"),
        "{text}"
    );
}
