//! The tamper matrix: a log written through the recorder, then changed with plain SQL
//! behind the application's back; `verify` must name exactly what was done and where.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use accesslog_core::FixedClock;
use accesslog_core::checkpoint::{Checkpoint, LogSigner};
use accesslog_core::entry::Event;
use accesslog_core::merkle::leaf_hash;
use accesslog_engine::verify::{
    CheckpointOrigin, Problem, SignedCheckpoint, Verified, VerifyError, split_checkpoints_log,
    verify,
};
use accesslog_engine::{CheckpointPolicy, Checkpointer, Recorder, RecorderConfig};
use accesslog_store::Store;
use accesslog_store::log::ENTRY_COLUMNS;
use accesslog_store_sqlite::SqliteStore;
use accesslog_testkit::{Backend, TestDb};

use crate::common::{ORIGIN, T0, blob, event, signer};

accesslog_testkit::on_both_backends!(
    run: accesslog_testkit::with_db;
    an_untouched_log_verifies,
    an_edited_entry_is_named,
    a_deleted_entry_is_named,
    a_deleted_tail_is_a_truncation,
    a_forged_entry_is_extra,
    a_row_hidden_below_seq_one_is_extra,
    swapped_entries_are_a_reordering,
    a_restored_older_copy_is_caught_by_checkpoints_log,
    a_forged_checkpoint_is_a_bad_signature,
    a_consistently_rewritten_leaf_breaks_the_signed_root,
    an_external_checkpoint_proves_extension_or_fork,
    an_unreadable_edit_is_named_as_an_altered_entry,
    random_edits_are_always_named,
    tampering_is_found_across_page_boundaries,
    checkpoints_log_out_of_order_is_named,
    an_edited_review_copy_is_named,
);

/// The key every log here is signed with.
const SEED: u8 = 1;
/// Entries in the log each case starts from.
const SIZE: u64 = 30;

/// A log of `SIZE` entries recorded one by one under a still clock, with a checkpoint
/// every 10 entries: the checkpoints are at 1 (the first ever), 11 and 21, in the
/// database and in `checkpoints.log`.
struct Log {
    recorder: Recorder,
    log_file: PathBuf,
}

async fn build(db: &TestDb) -> Log {
    let log_file = db.dir.path().join("checkpoints.log");
    let policy = CheckpointPolicy {
        every_entries: 10,
        every: Duration::from_secs(10),
    };
    let recorder = Recorder::start(
        db.store.clone(),
        Arc::new(FixedClock::new(T0)),
        Some(Checkpointer::new(
            signer(SEED),
            policy,
            Some(log_file.clone()),
        )),
        RecorderConfig::default(),
    );
    let log = Log { recorder, log_file };
    log.record(1..=SIZE).await;
    // Checkpoints are signed beside the commits, each at the head that made it due; entry
    // 30 is not due one (the clock stands still), so once 21 is signed the log is quiet.
    crate::common::wait_until("the checkpoint at 21 is signed", || async {
        let notes = std::fs::read_to_string(&log.log_file).unwrap_or_default();
        sizes(&*db.store).await.last() == Some(&21) && split_checkpoints_log(&notes).len() == 3
    })
    .await;
    assert_eq!(sizes(&*db.store).await, [1, 11, 21]);
    log
}

impl Log {
    async fn record(&self, seqs: std::ops::RangeInclusive<u64>) {
        for i in seqs {
            let receipt = self.recorder.record(event(i)).await.expect("recorded");
            assert_eq!(receipt.seq(), i);
        }
    }

    /// The notes in `checkpoints.log`, as the auditor hands them to `verify`.
    fn outside(&self) -> Vec<SignedCheckpoint> {
        let text = std::fs::read_to_string(&self.log_file).expect("checkpoints.log");
        split_checkpoints_log(&text)
            .into_iter()
            .map(|note| SignedCheckpoint {
                origin: CheckpointOrigin::CheckpointsLog,
                note,
            })
            .collect()
    }
}

async fn sizes(store: &dyn Store) -> Vec<u64> {
    let cps = store.checkpoints().await.expect("checkpoints");
    cps.iter().map(|c| c.size).collect()
}

/// Verifies with the log's own key; a problem found is `Err`, a failure to read panics.
async fn check(store: &dyn Store, extra: Vec<SignedCheckpoint>) -> Result<Verified, Problem> {
    match verify(store, &signer(SEED).verifier(), extra, |_, _| {}).await {
        Ok(v) => Ok(v),
        Err(VerifyError::Problem(p)) => Err(p),
        Err(VerifyError::Store(e)) => panic!("verification could not read the log: {e}"),
    }
}

fn external(note: String) -> Vec<SignedCheckpoint> {
    vec![SignedCheckpoint {
        origin: CheckpointOrigin::External,
        note,
    }]
}

async fn an_untouched_log_verifies(db: &TestDb) {
    let log = build(db).await;
    let mut progress = Vec::new();
    let verified = verify(
        &*db.store,
        &signer(SEED).verifier(),
        log.outside(),
        |done, total| progress.push((done, total)),
    )
    .await
    .expect("an untouched log verifies");
    assert_eq!(verified.entries, SIZE);
    assert_eq!(
        verified.checkpoints, 6,
        "3 in the database and 3 in checkpoints.log"
    );
    assert_eq!(verified.root, db.store.log_head().await.expect("head").root);
    assert_eq!(verified.extends_external, None);
    assert_eq!(progress.last(), Some(&(SIZE, SIZE)));
}

async fn an_edited_entry_is_named(db: &TestDb) {
    let log = build(db).await;
    db.execute("UPDATE access_log SET reference_document = 'SINV-99999' WHERE seq = 7")
        .await;
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert_eq!(problem, Problem::EntryAltered { seq: 7 });
    assert_eq!(problem.seq(), Some(7));
}

async fn a_deleted_entry_is_named(db: &TestDb) {
    let log = build(db).await;
    db.execute("DELETE FROM access_log WHERE seq = 12").await;
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert_eq!(problem, Problem::EntryMissing { seq: 12, found: 13 });
    assert_eq!(problem.seq(), Some(12));
}

async fn a_deleted_tail_is_a_truncation(db: &TestDb) {
    let log = build(db).await;
    db.execute("DELETE FROM access_log WHERE seq > 25").await;
    // No checkpoint covers 26..30 yet; the tree state, written with the entries, does.
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert_eq!(
        problem,
        Problem::Truncated {
            size: SIZE,
            found: 25,
            origin: CheckpointOrigin::TreeState
        }
    );
    assert_eq!(problem.seq(), Some(26));

    // Cut below a signed checkpoint: the checkpoint names the truncation first.
    db.execute("DELETE FROM access_log WHERE seq > 15").await;
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert_eq!(
        problem,
        Problem::Truncated {
            size: 21,
            found: 15,
            origin: CheckpointOrigin::Database
        }
    );
    assert_eq!(problem.seq(), Some(16));
}

async fn a_forged_entry_is_extra(db: &TestDb) {
    let log = build(db).await;
    let rest = ENTRY_COLUMNS
        .split(", ")
        .filter(|c| *c != "seq")
        .collect::<Vec<_>>()
        .join(", ");
    db.execute(&format!(
        "INSERT INTO access_log ({ENTRY_COLUMNS}, leaf_hash) SELECT 31, {rest}, leaf_hash FROM access_log WHERE seq = 30"
    ))
    .await;
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert_eq!(problem, Problem::ExtraEntry { seq: 31 });
    assert_eq!(problem.seq(), Some(31));
}

async fn a_row_hidden_below_seq_one_is_extra(db: &TestDb) {
    let log = build(db).await;
    let rest = ENTRY_COLUMNS
        .split(", ")
        .filter(|c| *c != "seq")
        .collect::<Vec<_>>()
        .join(", ");
    db.execute(&format!(
        "INSERT INTO access_log ({ENTRY_COLUMNS}, leaf_hash) SELECT -3, {rest}, leaf_hash FROM access_log WHERE seq = 1"
    ))
    .await;
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert_eq!(problem, Problem::ExtraEntry { seq: 0 });
}

async fn swapped_entries_are_a_reordering(db: &TestDb) {
    let log = build(db).await;
    // The attacker exchanges which row carries which seq.
    db.execute("UPDATE access_log SET seq = -5 WHERE seq = 5")
        .await;
    db.execute("UPDATE access_log SET seq = 5 WHERE seq = 9")
        .await;
    db.execute("UPDATE access_log SET seq = 9 WHERE seq = -5")
        .await;
    let moved = db.store.entry(5).await.expect("read").expect("there");
    assert_eq!(moved.event, event(9), "the swap happened");
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert_eq!(
        problem,
        Problem::OrderChanged {
            seq: 5,
            recorded_as: 9
        }
    );
    assert_eq!(problem.seq(), Some(5));
}

const TABLES: [&str; 4] = ["access_log", "merkle_nodes", "log_state", "checkpoints"];

async fn a_restored_older_copy_is_caught_by_checkpoints_log(db: &TestDb) {
    let log = build(db).await;
    // The backup, taken at 30 entries.
    let backup = db.dir.path().join("backup.db");
    match db.backend {
        Backend::Sqlite => db.store.backup_to(&backup).await.expect("a backup"),
        Backend::Postgres => {
            for t in TABLES {
                db.execute(&format!("CREATE TABLE old_{t} AS SELECT * FROM {t}"))
                    .await;
            }
        }
    }
    log.record(SIZE + 1..=40).await;
    // Ten entries after the backup; the checkpoint at 31 is the first the backup lacks.
    crate::common::wait_until("the checkpoint at 31 is signed", || async {
        sizes(&*db.store).await.last() == Some(&31) && log.outside().len() == 4
    })
    .await;
    assert_eq!(sizes(&*db.store).await, [1, 11, 21, 31]);
    let outside = log.outside();
    assert_eq!(outside.len(), 4, "checkpoints.log outlives the database");

    // The restore: the database goes back to the backup, checkpoints.log does not.
    let restored: Arc<dyn Store> = match db.backend {
        Backend::Sqlite => Arc::new(SqliteStore::open(&backup).await.expect("open the backup")),
        Backend::Postgres => {
            for t in TABLES {
                db.execute(&format!("DELETE FROM {t}")).await;
                db.execute(&format!("INSERT INTO {t} SELECT * FROM old_{t}"))
                    .await;
            }
            db.store.clone()
        }
    };
    assert_eq!(restored.log_head().await.expect("head").size, SIZE);
    // The backup is consistent in itself: only the copy outside the database catches it.
    let alone = check(&*restored, Vec::new())
        .await
        .expect("consistent alone");
    assert_eq!(alone.entries, SIZE);
    let problem = check(&*restored, outside).await.expect_err("detected");
    assert_eq!(
        problem,
        Problem::Truncated {
            size: 31,
            found: SIZE,
            origin: CheckpointOrigin::CheckpointsLog
        }
    );
    assert_eq!(problem.seq(), Some(31));
}

async fn a_forged_checkpoint_is_a_bad_signature(db: &TestDb) {
    let log = build(db).await;
    let head = db.store.log_head().await.expect("head");
    // The right log name, the true root, but not the log's key.
    let forger = LogSigner::from_seed(ORIGIN, [SEED + 1; 32]).expect("key");
    let forged = forger.sign(&Checkpoint::new(ORIGIN, SIZE, head.root).expect("checkpoint"));

    let problem = check(&*db.store, external(forged.clone()))
        .await
        .expect_err("detected");
    assert!(
        matches!(
            problem,
            Problem::BadSignature {
                origin: CheckpointOrigin::External,
                ..
            }
        ),
        "{problem:?}"
    );

    db.execute(&format!(
        "INSERT INTO checkpoints (size, root, created_at, note) VALUES ({SIZE}, {}, {}, '{forged}')",
        blob(db.backend, &head.root),
        T0.as_micros(),
    ))
    .await;
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert!(
        matches!(
            problem,
            Problem::BadSignature {
                origin: CheckpointOrigin::Database,
                ..
            }
        ),
        "{problem:?}"
    );
    assert_eq!(problem.seq(), None);
}

async fn a_consistently_rewritten_leaf_breaks_the_signed_root(db: &TestDb) {
    let log = build(db).await;
    // The review copy holds entry 7 as it was (so on SQLite it differs from the rewritten
    // entry too): the log's own problem is what verify names.
    while db.store.index_for_review(1000).await.expect("index") > 0 {}
    // The attacker edits entry 7 and recomputes its leaf (level 0) to match, so the
    // entry-by-entry check passes; the subtrees above it were signed.
    let mut entry = db.store.entry(7).await.expect("read").expect("there");
    entry.event.reference_document = Some("SINV-FORGED".into());
    let leaf = leaf_hash(&entry.canonical_bytes());
    db.execute("UPDATE access_log SET reference_document = 'SINV-FORGED' WHERE seq = 7")
        .await;
    db.execute(&format!(
        "UPDATE access_log SET leaf_hash = {} WHERE seq = 7",
        blob(db.backend, &leaf)
    ))
    .await;

    // It shows at the first signed checkpoint covering entry 7 (size 11), read from the
    // database first.
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert_eq!(
        problem,
        Problem::CheckpointMismatch {
            size: 11,
            origin: CheckpointOrigin::Database
        }
    );
    // With the database's checkpoints gone too, checkpoints.log shows it at the same place…
    db.execute("DELETE FROM checkpoints").await;
    let problem = check(&*db.store, log.outside())
        .await
        .expect_err("detected");
    assert_eq!(
        problem,
        Problem::CheckpointMismatch {
            size: 11,
            origin: CheckpointOrigin::CheckpointsLog
        }
    );
    // …and with no signed checkpoint at all, the tree state's root still disagrees.
    let problem = check(&*db.store, Vec::new()).await.expect_err("detected");
    assert_eq!(problem, Problem::RootMismatch);
}

async fn an_external_checkpoint_proves_extension_or_fork(db: &TestDb) {
    let log = build(db).await;
    let kept = db
        .store
        .latest_checkpoint()
        .await
        .expect("read")
        .expect("a checkpoint");
    assert_eq!(kept.size, 21);
    log.record(SIZE + 1..=40).await;

    let verified = check(&*db.store, external(kept.note.clone()))
        .await
        .expect("the log extends the kept checkpoint");
    assert_eq!(verified.entries, 40);
    assert_eq!(verified.extends_external, Some(21));

    // A checkpoint signed by the right key for another history of the first 25 entries:
    // what an auditor holds when the log was rewritten after they took it.
    let signer = signer(SEED);
    let other = signer.sign(&Checkpoint::new(ORIGIN, 25, [7; 32]).expect("checkpoint"));
    let problem = check(&*db.store, external(other))
        .await
        .expect_err("detected");
    assert_eq!(problem, Problem::Fork { size: 25 });

    // At a size the database also signed: the database's own checkpoint holds, the
    // external one does not.
    let other = signer.sign(&Checkpoint::new(ORIGIN, 21, [7; 32]).expect("checkpoint"));
    let problem = check(&*db.store, external(other))
        .await
        .expect_err("detected");
    assert_eq!(problem, Problem::Fork { size: 21 });

    // A checkpoint beyond the log: entries the auditor saw are gone.
    let beyond = signer.sign(&Checkpoint::new(ORIGIN, 45, [7; 32]).expect("checkpoint"));
    let problem = check(&*db.store, external(beyond))
        .await
        .expect_err("detected");
    assert_eq!(
        problem,
        Problem::Truncated {
            size: 45,
            found: 40,
            origin: CheckpointOrigin::External
        }
    );
}

/// Edits that leave a row the store cannot read back as an entry.
const UNREADABLE: [&str; 3] = [
    "UPDATE access_log SET activity = 'teleport' WHERE seq = 7",
    "UPDATE access_log SET roles = 'not JSON' WHERE seq = 7",
    "UPDATE access_log SET row_count = -1 WHERE seq = 7",
];

/// Applies each unreadable edit to entry 7 in turn, verifies, and puts the row back.
async fn each_unreadable_edit(
    db: &TestDb,
    log: &Log,
) -> Vec<(&'static str, Result<Verified, VerifyError>)> {
    let mut results = Vec::new();
    for edit in UNREADABLE {
        db.execute(edit).await;
        let result = verify(
            &*db.store,
            &signer(SEED).verifier(),
            log.outside(),
            |_, _| {},
        )
        .await;
        results.push((edit, result));
        db.execute(&format!(
            "UPDATE access_log SET activity = '{}', roles = '[\"Accounts User\",\"Sales User\"]', \
             row_count = 21 WHERE seq = 7",
            event(7).activity
        ))
        .await;
        check(&*db.store, log.outside())
            .await
            .unwrap_or_else(|p| panic!("putting entry 7 back after {edit:?} failed: {p}"));
    }
    results
}

async fn an_unreadable_edit_is_named_as_an_altered_entry(db: &TestDb) {
    let log = build(db).await;
    let wrong: Vec<_> = each_unreadable_edit(db, &log)
        .await
        .into_iter()
        .filter(|(_, r)| {
            !matches!(
                r,
                Err(VerifyError::Problem(Problem::EntryAltered { seq: 7 }))
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "not named as EntryAltered {{ seq: 7 }}: {wrong:#?}"
    );
}

/// A small xorshift generator: enough to pick sizes, batches and edits.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One-field edits, each of which changes the entry's canonical bytes whatever its values.
const EDITS: [&str; 16] = [
    "\"user\" = \"user\" || 'x'",
    "activity = CASE WHEN activity = 'print' THEN 'export' ELSE 'print' END",
    "method = method || '?'",
    "export_from = 'Purchase Invoice'",
    "reference_document = reference_document || '-2'",
    "reference_document = NULL",
    "filters = '{\"customer\": \"C-0\"}'",
    "columns = '[\"name\"]'",
    "page = ''",
    "row_count = row_count + 1",
    "byte_count = NULL",
    "content_sha256 = 'f' || substr(content_sha256, 2)",
    "outcome = 'denied'",
    "roles = '[\"System Manager\"]'",
    "timestamp = timestamp + 1",
    "source = 'erpnext'",
];

/// Set to rerun a failure: the panic message names the seed of the run that failed.
const SEED_VAR: &str = "ACCESSLOG_TAMPER_SEED";

async fn random_edits_are_always_named(db: &TestDb) {
    let seed = match std::env::var(SEED_VAR) {
        Ok(s) => {
            s.trim()
                .parse::<u64>()
                .unwrap_or_else(|e| panic!("{SEED_VAR}={s:?} is not a whole number: {e}"))
                | 1
        }
        Err(_) => RandomState::new().hash_one(0u64) | 1,
    };
    let mut rng = Rng(seed);
    let empty = blob(db.backend, &[]);
    let mut next = 1u64;
    for round in 0..20 {
        // A fresh, empty log.
        for t in ["access_log", "merkle_nodes", "checkpoints"] {
            db.execute(&format!("DELETE FROM {t}")).await;
        }
        db.execute(&format!(
            "UPDATE log_state SET size = 0, frontier = {empty}"
        ))
        .await;
        let size = 1 + rng.below(40);
        let mut written = 0;
        while written < size {
            let batch = (1 + rng.below(size)).min(size - written);
            let events: Vec<Event> = (0..batch).map(|k| event(next + k)).collect();
            next += batch;
            db.store
                .append_entries(&events, T0.plus(Duration::from_secs(round)))
                .await
                .expect("append");
            written += batch;
        }
        let seq = 1 + rng.below(size);
        let edit = EDITS[rng.below(EDITS.len() as u64) as usize];
        let case = format!(
            "seed {seed} (rerun with {SEED_VAR}={seed}), round {round}: {size} entries, \
             entry {seq}: {edit}"
        );
        check(&*db.store, Vec::new())
            .await
            .unwrap_or_else(|p| panic!("{case}: the untouched log failed: {p}"));
        db.execute(&format!("UPDATE access_log SET {edit} WHERE seq = {seq}"))
            .await;
        let problem = check(&*db.store, Vec::new()).await.expect_err(&case);
        assert_eq!(problem, Problem::EntryAltered { seq }, "{case}");
    }
}

/// The walk reads pages ahead; with pages of 4 a 30-entry log crosses many boundaries.
async fn tampering_is_found_across_page_boundaries(db: &TestDb) {
    let log = build(db).await;
    let verifier = signer(1).verifier();
    let walk = |page: u32| {
        accesslog_engine::verify::verify_in_pages(
            &*db.store,
            &verifier,
            log.outside(),
            |_, _| {},
            page,
        )
    };
    for page in [1, 4, 7, 29, 30, 31] {
        let v = walk(page)
            .await
            .unwrap_or_else(|e| panic!("page {page}: {e}"));
        assert_eq!(v.entries, 30, "page {page}");
    }
    db.execute("UPDATE access_log SET reference_document = 'x' WHERE seq = 9")
        .await;
    for page in [1, 4, 7, 8, 9] {
        match walk(page).await {
            Err(accesslog_engine::verify::VerifyError::Problem(p)) => {
                assert_eq!(p, Problem::EntryAltered { seq: 9 }, "page {page}")
            }
            other => panic!("page {page}: {other:?}"),
        }
    }
    db.execute("DELETE FROM access_log WHERE seq = 5").await;
    for page in [1, 4, 5] {
        match walk(page).await {
            Err(accesslog_engine::verify::VerifyError::Problem(p)) => {
                assert_eq!(p, Problem::EntryMissing { seq: 5, found: 6 }, "page {page}")
            }
            other => panic!("page {page}: {other:?}"),
        }
    }
}

/// `checkpoints.log` is kept in size order; two of its notes swapped is named.
async fn checkpoints_log_out_of_order_is_named(db: &TestDb) {
    let log = build(db).await;
    let mut outside = log.outside();
    assert_eq!(outside.len(), 3);
    assert!(check(&*db.store, outside.clone()).await.is_ok());
    outside.swap(1, 2);
    assert_eq!(
        check(&*db.store, outside).await.expect_err("out of order"),
        Problem::CheckpointsLogOrder {
            size: 11,
            previous: 21
        }
    );
}

/// The SQLite review copy (`<database>-review`), from which the filtered review reads:
/// a row deleted or altered there is named, though the log itself is intact. PostgreSQL's
/// review is a view of the log, so there is nothing there to tamper with.
async fn an_edited_review_copy_is_named(db: &TestDb) {
    let _log = build(db).await;
    while db.store.index_for_review(1000).await.expect("index") > 0 {}
    assert!(check(&*db.store, Vec::new()).await.is_ok());
    if db.backend != Backend::Sqlite {
        return;
    }
    db.execute("UPDATE review.access_log_review SET \"user\" = 'someone@else' WHERE seq = 9")
        .await;
    let p = check(&*db.store, Vec::new())
        .await
        .expect_err("altered copy");
    assert_eq!(
        p,
        Problem::ReviewCopy {
            seq: 9,
            what: "the copied row differs from the entry"
        }
    );
    db.execute("DELETE FROM review.access_log_review WHERE seq = 4")
        .await;
    let p = check(&*db.store, Vec::new())
        .await
        .expect_err("missing row");
    assert_eq!(
        p,
        Problem::ReviewCopy {
            seq: 4,
            what: "the copy lacks its row"
        }
    );
    assert!(p.to_string().contains("at entry 4"), "{p}");
    // A row copied back, and one past the log's end.
    db.execute(
        "INSERT INTO review.access_log_review SELECT seq, timestamp, \"user\", activity, \
         export_from, reference_document, report_name, file_type, outcome, byte_count, \
         source FROM log.access_log WHERE seq = 4",
    )
    .await;
    db.execute("UPDATE review.access_log_review SET \"user\" = (SELECT \"user\" FROM log.access_log WHERE seq = 9) WHERE seq = 9")
        .await;
    // The source is compared too (the review filters on it).
    db.execute("UPDATE review.access_log_review SET source = 'gate:elsewhere' WHERE seq = 6")
        .await;
    let p = check(&*db.store, Vec::new())
        .await
        .expect_err("an edited source");
    assert_eq!(
        p,
        Problem::ReviewCopy {
            seq: 6,
            what: "the copied row differs from the entry"
        }
    );
    db.execute("UPDATE review.access_log_review SET source = (SELECT source FROM log.access_log WHERE seq = 6) WHERE seq = 6")
        .await;
    db.execute(
        "INSERT INTO review.access_log_review (seq, timestamp, \"user\", activity, outcome) \
         VALUES (1000, 0, 'ghost@example.com', 'export', 'granted')",
    )
    .await;
    let p = check(&*db.store, Vec::new())
        .await
        .expect_err("a ghost row");
    assert_eq!(
        p,
        Problem::ReviewCopy {
            seq: 1000,
            what: "the copy has a row where the log has no entry"
        }
    );
}
