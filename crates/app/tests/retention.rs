//! Retention end to end (issue 19), on SQLite and PostgreSQL: a real recorder signing
//! checkpoints, a prune that archives to a bundle on disk and removes payloads, and then
//! everything a compliance officer relies on still holding:
//! - `verify` passes, counting the entries it could check only by their kept leaf;
//! - inclusion and consistency proofs issued before the prune check against the old and
//!   the new checkpoints, with cloudflare's `tlog_tiles` (a port of Go's sumdb/tlog) as the
//!   independent verifier, and proofs issued after it are the same hashes;
//! - the bundle checks offline against the checkpoint kept before the prune;
//! - held entries survive; a restore makes `verify` recompute every entry again;
//! - a redaction passes `verify`, and its own entry is in the log.

use std::sync::Arc;
use std::time::Duration;

use accesslog_app::retention::{self, PruneReport};
use accesslog_core::checkpoint::{LogSigner, NoteVerifier};
use accesslog_core::entry::{Activity, Event};
use accesslog_core::merkle::{Hash, inclusion_plan, leaf_hash};
use accesslog_core::{FixedClock, Timestamp};
use accesslog_engine::{CheckpointPolicy, Checkpointer, Recorder, RecorderConfig};
use accesslog_site::retention::RetentionSettings;
use accesslog_store::retention::{HoldScope, NewHold};
use accesslog_store::{Store, StoredCheckpoint};
use accesslog_testkit::{Backend, TestDb};

const ORIGIN: &str = "acme.example/access-log";
const T0: Timestamp = Timestamp::from_micros(1_796_115_600_000_000);
const DAY: Duration = Duration::from_secs(86_400);

async fn with_db(backend: Backend, case_name: &str, case: impl AsyncFn(&TestDb)) {
    accesslog_testkit::with_db(backend, case_name, case).await;
}

accesslog_testkit::on_both_backends!(
    run: crate::with_db;
    a_prune_keeps_verify_proofs_and_the_bundle_whole,
    held_entries_survive_and_a_restore_recomputes_everything,
    a_redaction_verifies_and_is_recorded,
    nothing_is_pruned_without_days_or_a_checkpoint,
);

fn signer() -> LogSigner {
    LogSigner::from_seed(ORIGIN, [9; 32]).unwrap()
}

fn verifier() -> NoteVerifier {
    signer().verifier()
}

fn recorder(db: &TestDb) -> Recorder {
    let store: Arc<dyn Store> = db.store.clone();
    let policy = CheckpointPolicy {
        every_entries: 1_000_000,
        every: Duration::from_secs(3600),
    };
    Recorder::start(
        store,
        Arc::new(FixedClock::new(T0)),
        Some(Checkpointer::new(signer(), policy, None)),
        RecorderConfig::default(),
    )
}

/// Reads, exports and prints by two users, then a signed checkpoint: 40 entries, seq 1
/// to 40, every third one a read of Customer and the rest reads of Employee, exports
/// and prints.
async fn fill(recorder: &Recorder) {
    for i in 0..40u64 {
        let (user, activity, doctype) = match i % 4 {
            0 => ("ann@example.com", Activity::Read, "Customer"),
            1 => ("bob@example.com", Activity::Read, "Employee"),
            2 => ("ann@example.com", Activity::Export, "Employee"),
            _ => ("bob@example.com", Activity::Print, "Employee"),
        };
        let mut e = Event::new(user, activity, "GET /x");
        e.export_from = Some(doctype.to_owned());
        e.row_count = Some(i);
        recorder.record(e).await.unwrap();
    }
    recorder.checkpoint_now().await;
}

fn policy(dir: &std::path::Path) -> RetentionSettings {
    let mut p = RetentionSettings {
        archive_dir: dir.to_path_buf(),
        bundle_max_entries: 16,
        ..RetentionSettings::default()
    };
    p.days.insert("read".into(), 180);
    p
}

fn operator() -> Event {
    let mut e = Event::new("cli:tester", Activity::LogPrune, "accesslog prune");
    e.auth = Some("cli".into());
    e
}

async fn prune(db: &TestDb, recorder: &Recorder, dir: &std::path::Path) -> PruneReport {
    retention::prune(
        &*db.store,
        recorder,
        &operator(),
        &retention::Pruning {
            policy: &policy(dir),
            dir,
            key: &signer().verifier_key(),
            now: T0.plus(DAY * 200),
            dry_run: false,
        },
    )
    .await
    .unwrap()
}

async fn verify(store: &dyn Store) -> accesslog_engine::verify::Verified {
    accesslog_engine::verify::verify_in_pages(store, &verifier(), Vec::new(), |_, _| {}, 7)
        .await
        .unwrap()
}

fn th(h: Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(h)
}

fn tproof(p: &[Hash]) -> Vec<tlog_tiles::Hash> {
    p.iter().copied().map(th).collect()
}

async fn inclusion(store: &dyn Store, index: u64, size: u64) -> Vec<Hash> {
    accesslog_engine::proofs::assemble(store, &inclusion_plan(index, size).unwrap())
        .await
        .unwrap()
}

async fn a_prune_keeps_verify_proofs_and_the_bundle_whole(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(db);
    fill(&recorder).await;
    let store = &*db.store;
    let before: StoredCheckpoint = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(before.size, 40);
    // Proofs as an auditor would have kept them before the prune: entry 5 (a read, to be
    // pruned), entry 7 (an export, kept), and 20 -> 40.
    let root_20 = accesslog_engine::proofs::root_at(store, 20).await.unwrap();
    let incl_5 = inclusion(store, 4, 40).await;
    let incl_7 = inclusion(store, 6, 40).await;
    let cons = accesslog_engine::proofs::consistency(store, 20, 40)
        .await
        .unwrap();
    let leaf_5 = leaf_hash(&store.entry(5).await.unwrap().unwrap().canonical_bytes());
    let leaf_7 = leaf_hash(&store.entry(7).await.unwrap().unwrap().canonical_bytes());

    let report = prune(db, &recorder, dir.path()).await;
    // Reads are entries 1, 2, 5, 6, ... (i % 4 in 0..2): 20 of 40.
    assert_eq!((report.due, report.pruned, report.held), (20, 20, 0));
    assert_eq!(report.tree_size, Some(40));
    // Archived from entry 1 up to the last read due (38), in bundles of 16.
    let ranges: Vec<(u64, u64)> = report.bundles.iter().map(|b| (b.first, b.last)).collect();
    assert_eq!(ranges, [(1, 16), (17, 32), (33, 38)]);
    assert_eq!(store.entry(5).await.unwrap(), None);
    assert!(store.entry(7).await.unwrap().is_some());
    let kept = store.pruned_entry(5).await.unwrap().unwrap();
    assert_eq!(kept.leaf, leaf_5);
    assert_eq!(kept.bundle.as_ref(), Some(&report.bundles[0].sha256));

    // The prune is itself an entry, after the checkpoint it worked under.
    let seq = report.recorded_as.unwrap();
    assert_eq!(seq, 41);
    let e = store.entry(seq).await.unwrap().unwrap();
    assert_eq!(e.event.activity, Activity::LogPrune);
    assert_eq!(e.event.row_count, Some(20));
    let filters = e.event.filters.unwrap().to_value();
    assert_eq!(filters["count"], 20);
    assert_eq!(filters["bundles"].as_array().unwrap().len(), 3);

    recorder.checkpoint_now().await;
    let after = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(after.size, 41);
    let verified = verify(store).await;
    assert_eq!(verified.entries, 41);
    assert_eq!(
        verified.pruned, 20,
        "pruned entries are checked by their kept leaves"
    );

    // The proofs kept from before still check, against the old and the new checkpoint.
    tlog_tiles::check_record(&tproof(&incl_5), 40, th(before.root), 4, th(leaf_5)).unwrap();
    tlog_tiles::check_record(&tproof(&incl_7), 40, th(before.root), 6, th(leaf_7)).unwrap();
    tlog_tiles::check_tree(&tproof(&cons), 40, th(before.root), 20, th(root_20)).unwrap();
    let cons_new = accesslog_engine::proofs::consistency(store, 40, 41)
        .await
        .unwrap();
    tlog_tiles::check_tree(&tproof(&cons_new), 41, th(after.root), 40, th(before.root)).unwrap();
    let incl_5_new = inclusion(store, 4, 41).await;
    tlog_tiles::check_record(&tproof(&incl_5_new), 41, th(after.root), 4, th(leaf_5)).unwrap();
    // Issued again from the pruned store, the old proofs are the same hashes.
    assert_eq!(inclusion(store, 4, 40).await, incl_5);
    assert_eq!(
        accesslog_engine::proofs::consistency(store, 20, 40)
            .await
            .unwrap(),
        cons
    );

    // Each bundle checks offline against the checkpoint kept from before.
    for b in &report.bundles {
        let path = dir.path().join(&b.name);
        let checked =
            accesslog_archive::check(&path, Some(&verifier()), Some(&before.note)).unwrap();
        assert_eq!(
            (checked.header.first, checked.header.last),
            (b.first, b.last)
        );
        assert_eq!(checked.sha256, b.sha256);
    }
    // A second prune finds nothing more due and archives nothing again.
    let again = prune(db, &recorder, dir.path()).await;
    assert_eq!((again.due, again.pruned, again.bundles.len()), (0, 0, 0));
    assert_eq!(again.recorded_as, None);
}

async fn held_entries_survive_and_a_restore_recomputes_everything(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(db);
    fill(&recorder).await;
    let store = &*db.store;
    let actor = operator();
    let (hold, _) = retention::add_hold(
        store,
        &recorder,
        &actor,
        NewHold {
            scope: HoldScope {
                doctype: Some("Customer".into()),
                ..HoldScope::default()
            },
            reason: "Matter 2026-114".into(),
            owner: "legal@example.com".into(),
            created_at: T0,
            expires_at: None,
        },
    )
    .await
    .unwrap();
    recorder.checkpoint_now().await;
    let report = prune(db, &recorder, dir.path()).await;
    // Reads of Customer (i % 4 == 0: 10 of them) are held; the 10 reads of Employee go.
    assert_eq!((report.due, report.held, report.pruned), (10, 10, 10));
    assert!(store.entry(1).await.unwrap().is_some(), "held");
    assert_eq!(store.entry(2).await.unwrap(), None, "pruned");
    // The hold's own entry is upkeep: never pruned by default.
    let hold_entry = store.entry(41).await.unwrap().unwrap();
    assert_eq!(hold_entry.event.activity, Activity::LegalHold);

    // Lifting is recorded; a later prune then takes the reads the hold kept.
    retention::lift_hold(store, &recorder, &actor, hold.id, T0)
        .await
        .unwrap();
    recorder.checkpoint_now().await;
    let report = prune(db, &recorder, dir.path()).await;
    assert_eq!((report.due, report.held, report.pruned), (10, 0, 10));
    assert!(
        report.bundles.is_empty(),
        "already archived by the first prune"
    );
    recorder.checkpoint_now().await;
    assert_eq!(verify(store).await.pruned, 20);

    // Restoring every bundle puts each payload back; verify recomputes them all.
    let mut restored = 0;
    for b in store.archives().await.unwrap() {
        let r = retention::restore(
            store,
            &recorder,
            &actor,
            &dir.path().join(&b.name),
            &verifier(),
        )
        .await
        .unwrap();
        restored += r.restored;
    }
    assert_eq!(restored, 20);
    recorder.checkpoint_now().await;
    let verified = verify(store).await;
    assert_eq!(verified.pruned, 0);
    assert!(store.entry(2).await.unwrap().is_some());
}

async fn a_redaction_verifies_and_is_recorded(db: &TestDb) {
    let recorder = recorder(db);
    fill(&recorder).await;
    let store = &*db.store;
    let report = retention::redact(
        store,
        &recorder,
        &operator(),
        "bob@example.com",
        None,
        None,
        T0,
        false,
    )
    .await
    .unwrap();
    assert_eq!(report.redacted, 20);
    recorder.checkpoint_now().await;
    let verified = verify(store).await;
    assert_eq!(verified.pruned, 20);
    let kept = store.pruned_entry(2).await.unwrap().unwrap();
    assert!(kept.redacted);
    assert_eq!(
        (kept.user, kept.bundle),
        (None, None),
        "nothing of the person is kept"
    );
    let e = store
        .entry(report.recorded_as.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.event.activity, Activity::LogRedact);
    assert_eq!(
        e.event.filters.unwrap().to_value()["user"],
        "bob@example.com"
    );
    // A redacted range archived later has lines without payloads, and still checks.
    let dir = tempfile::tempdir().unwrap();
    let mut p = policy(dir.path());
    p.days.insert("print".into(), 1);
    let pruned = retention::prune(
        store,
        &recorder,
        &operator(),
        &retention::Pruning {
            policy: &p,
            dir: dir.path(),
            key: &signer().verifier_key(),
            now: T0.plus(DAY * 200),
            dry_run: false,
        },
    )
    .await
    .unwrap();
    // Reads of ann (10) remain due; bob's reads and prints were redacted already.
    assert_eq!(pruned.pruned, 10);
    let checked = accesslog_archive::check(
        &dir.path().join(&pruned.bundles[0].name),
        Some(&verifier()),
        None,
    )
    .unwrap();
    assert!(checked.without_payload > 0);
    recorder.checkpoint_now().await;
    assert_eq!(verify(store).await.pruned, 30);
}

async fn nothing_is_pruned_without_days_or_a_checkpoint(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // A recorder that never signs: the log stays without a checkpoint.
    let recorder = Recorder::start(
        db.store.clone(),
        Arc::new(FixedClock::new(T0)),
        None,
        RecorderConfig::default(),
    );
    let store = &*db.store;
    let r = retention::prune(
        store,
        &recorder,
        &operator(),
        &retention::Pruning {
            policy: &RetentionSettings::default(),
            dir: dir.path(),
            key: &signer().verifier_key(),
            now: T0.plus(DAY * 5000),
            dry_run: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(r, PruneReport::default());
    // Entries with no signed checkpoint yet: nothing can be archived against one.
    let mut e = Event::new("ann@example.com", Activity::Read, "GET /x");
    e.export_from = Some("Employee".into());
    recorder.record(e).await.unwrap();
    let r = prune(db, &recorder, dir.path()).await;
    assert_eq!((r.tree_size, r.due), (None, 0));
    // A dry run says what is due and changes nothing.
    let head = store.log_head().await.unwrap();
    let note = signer()
        .sign(&accesslog_core::checkpoint::Checkpoint::new(ORIGIN, head.size, head.root).unwrap());
    store
        .add_checkpoint(&StoredCheckpoint {
            size: head.size,
            root: head.root,
            created_at: T0,
            note,
        })
        .await
        .unwrap();
    let r = retention::prune(
        store,
        &recorder,
        &operator(),
        &retention::Pruning {
            policy: &policy(dir.path()),
            dir: dir.path(),
            key: &signer().verifier_key(),
            now: T0.plus(DAY * 200),
            dry_run: true,
        },
    )
    .await
    .unwrap();
    assert_eq!((r.due, r.pruned, r.recorded_as), (1, 0, None));
    assert!(store.entry(1).await.unwrap().is_some());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A prune stopped after its bundle reached the disk, before the bundle was recorded: the
/// next prune keeps the bundle (it checks) instead of failing on the name.
#[tokio::test]
async fn an_unrecorded_bundle_on_disk_is_taken_up() {
    let Some(db) = TestDb::open(Backend::Sqlite, "unrecorded_bundle").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&db);
    fill(&recorder).await;
    let first = prune(&db, &recorder, dir.path()).await;
    // Another site's database with the same entries, pruning into the same folder: the
    // bundles are there already, unrecorded in this database.
    let other = TestDb::open(Backend::Sqlite, "unrecorded_bundle_b")
        .await
        .unwrap();
    let other_recorder = crate::recorder(&other);
    fill(&other_recorder).await;
    let again = prune(&other, &other_recorder, dir.path()).await;
    assert_eq!(again.pruned, first.pruned);
    let names = |r: &PruneReport| r.bundles.iter().map(|b| b.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&again), names(&first));
    other.drop().await;
    db.drop().await;
}

/// PostgreSQL keeps `access_log` in seq-range partitions (8 entries each here): a prune
/// drops each partition whose entries are all due, at once; one with a held entry is
/// pruned row by row; the moment a partition's entries are in both tables reads once;
/// a prune killed after a detach is finished by the next; a restore makes the dropped
/// ranges again.
#[tokio::test]
async fn postgres_drops_whole_partitions() {
    let Some(db) = TestDb::open(Backend::Postgres, "drops_whole_partitions").await else {
        return;
    };
    db.execute("UPDATE log_partitioning SET entries = 8").await;
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&db);
    fill(&recorder).await;
    let store = &*db.store;
    let partitions = async || -> Vec<String> {
        db.query_text("SELECT first_seq || '-' || end_seq FROM log_partitions ORDER BY first_seq")
            .await
    };
    assert_eq!(
        partitions().await,
        ["0-1", "1-9", "9-17", "17-25", "25-33", "33-41"]
    );

    // Entries 1..=8 in both tables, as between a prune's two steps: verify reads each once.
    db.execute(
        "INSERT INTO access_log_pruned (seq, timestamp, \"user\", activity, leaf_hash, bundle, redacted) \
         SELECT seq, timestamp, \"user\", activity, leaf_hash, 'x', 0 FROM access_log WHERE seq <= 8",
    )
    .await;
    assert_eq!(verify(store).await.pruned, 0);
    db.execute("DELETE FROM access_log_pruned").await;

    // A hold on ann's Customer reads keeps their partitions from being dropped whole.
    store
        .add_hold(&NewHold {
            scope: HoldScope {
                user: Some("ann@example.com".into()),
                doctype: Some("Customer".into()),
                from: None,
                to: None,
                report: None,
            },
            reason: "Matter 7".into(),
            owner: "legal@example.com".into(),
            created_at: T0,
            expires_at: None,
        })
        .await
        .unwrap();
    let mut everything = policy(dir.path());
    everything.default_days = Some(1);
    let prune_all = async |p: &RetentionSettings| {
        retention::prune(
            store,
            &recorder,
            &operator(),
            &retention::Pruning {
                policy: p,
                dir: dir.path(),
                key: &signer().verifier_key(),
                now: T0.plus(DAY * 200),
                dry_run: false,
            },
        )
        .await
        .unwrap()
    };
    let oid = async || {
        db.query_text("SELECT 'access_log_s9'::regclass::oid::TEXT")
            .await
    };
    let old_oid = oid().await;
    let report = prune_all(&everything).await;
    assert_ne!(
        oid().await,
        old_oid,
        "the partition was swapped, not deleted from"
    );
    // Every entry but the 10 held reads (i % 4 == 0) is due: 30. Each partition keeps two
    // held reads, moved into a new table swapped in for it: the same ranges, 2 rows each.
    assert_eq!((report.due, report.held, report.pruned), (30, 10, 30));
    assert_eq!(partitions().await.len(), 7, "{:?}", partitions().await);
    assert_eq!(
        db.query_text("SELECT COUNT(*)::TEXT FROM access_log_s9")
            .await,
        ["2"]
    );
    assert!(
        store.entry(9).await.unwrap().is_some(),
        "held, and still readable"
    );
    assert!(store.entry(10).await.unwrap().is_none(), "pruned");
    recorder.checkpoint_now().await;
    assert_eq!(verify(store).await.pruned, 30);

    // Lifted: the next prune drops the full partitions (1..41) whole.
    let hold = store.holds().await.unwrap()[0].id;
    retention::lift_hold(store, &recorder, &operator(), hold, T0)
        .await
        .unwrap();
    recorder.checkpoint_now().await;
    // A prune killed after it detached the first partition, before dropping it: its
    // entries are kept as leaves, the table is detached. The next prune finishes it.
    let sha = &store.archives().await.unwrap()[0].sha256;
    db.execute(&format!(
        "INSERT INTO access_log_pruned (seq, timestamp, \"user\", activity, leaf_hash, bundle, redacted) \
         SELECT seq, timestamp, \"user\", activity, leaf_hash, '{sha}', 0 FROM access_log_s1"
    ))
    .await;
    db.execute("ALTER TABLE access_log DETACH PARTITION access_log_s1")
        .await;
    let report = prune_all(&everything).await;
    assert_eq!(
        report.pruned, 8,
        "the held reads but those of the detached partition"
    );
    let left = partitions().await;
    assert!(
        !left
            .iter()
            .any(|p| ["1-9", "9-17", "17-25", "25-33", "33-41"].contains(&p.as_str())),
        "{left:?}"
    );
    recorder.checkpoint_now().await;
    let verified = verify(store).await;
    assert_eq!(verified.pruned, 40);

    // A restore makes the dropped ranges again, as they were.
    for b in store.archives().await.unwrap() {
        retention::restore(
            store,
            &recorder,
            &operator(),
            &dir.path().join(&b.name),
            &verifier(),
        )
        .await
        .unwrap();
    }
    let back = partitions().await;
    for p in ["1-9", "9-17", "17-25", "25-33", "33-41"] {
        assert!(back.iter().any(|b| b == p), "{p} in {back:?}");
    }
    recorder.checkpoint_now().await;
    assert_eq!(verify(store).await.pruned, 0);
    db.drop().await;
}

/// The server's pruner: it prunes by itself, on its schedule (here every 200 ms).
#[tokio::test]
async fn the_server_prunes_on_its_own() {
    let Some(db) = TestDb::open(Backend::Sqlite, "server_prunes").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&db);
    fill(&recorder).await;
    let task = retention::spawn_daily(
        db.store.clone(),
        recorder.clone(),
        Arc::new(FixedClock::new(T0.plus(DAY * 200))),
        policy(dir.path()),
        dir.path().to_path_buf(),
        signer().verifier_key(),
        Duration::from_millis(200),
    )
    .expect("days are set, so there is a pruner");
    let mut pruned = 0;
    for _ in 0..100 {
        pruned = db.store.pruned_stats().await.unwrap().pruned;
        if pruned == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    task.abort();
    assert_eq!(pruned, 20);
    let recorded = db.store.entry(41).await.unwrap().unwrap();
    assert_eq!(recorded.event.activity, Activity::LogPrune);
    assert_eq!(recorded.event.user, "system:retention");
    assert!(
        retention::spawn_daily(
            db.store.clone(),
            recorder.clone(),
            Arc::new(FixedClock::new(T0)),
            RetentionSettings::default(),
            dir.path().to_path_buf(),
            signer().verifier_key(),
            Duration::from_millis(200),
        )
        .is_none(),
        "no days set: no pruner"
    );
    db.drop().await;
}
