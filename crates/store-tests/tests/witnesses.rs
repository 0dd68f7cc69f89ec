//! What the log keeps of its witnesses, on SQLite and on PostgreSQL.

use std::time::Duration;

use accesslog_core::Timestamp;
use accesslog_store::witnesses::{Cosignature, WitnessRefusal};
use accesslog_store::{Store, StoredCheckpoint};

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
    cosignatures_are_kept_per_checkpoint_and_witness,
    the_latest_cosigned_size_needs_a_quorum,
    refusals_are_listed_newest_first,
);

fn cosig(size: u64, witness: &str) -> Cosignature {
    Cosignature {
        size,
        witness: witness.to_owned(),
        line: format!("\u{2014} {witness} line-for-{size}\n"),
        received_at: T0.plus(Duration::from_secs(size)),
    }
}

async fn cosignatures_are_kept_per_checkpoint_and_witness(store: &dyn Store) {
    store.add_cosignature(&cosig(10, "w2")).await.unwrap();
    store.add_cosignature(&cosig(10, "w1")).await.unwrap();
    // A second line by the same witness for the same size: the first stands.
    let mut again = cosig(10, "w1");
    again.line = "\u{2014} w1 other\n".to_owned();
    store.add_cosignature(&again).await.unwrap();
    let got = store.cosignatures(10).await.unwrap();
    assert_eq!(got, vec![cosig(10, "w1"), cosig(10, "w2")]);
    assert!(store.cosignatures(11).await.unwrap().is_empty());
}

async fn the_latest_cosigned_size_needs_a_quorum(store: &dyn Store) {
    assert_eq!(store.latest_cosigned(1).await.unwrap(), None);
    for size in [10, 20] {
        store
            .add_checkpoint(&StoredCheckpoint {
                size,
                root: [size as u8; 32],
                created_at: T0,
                note: format!("note {size}\n"),
            })
            .await
            .unwrap();
    }
    store.add_cosignature(&cosig(10, "w1")).await.unwrap();
    store.add_cosignature(&cosig(10, "w2")).await.unwrap();
    store.add_cosignature(&cosig(20, "w1")).await.unwrap();
    let size = async |q| store.latest_cosigned(q).await.unwrap().map(|c| c.size);
    assert_eq!(size(1).await, Some(20));
    assert_eq!(size(2).await, Some(10));
    assert_eq!(size(3).await, None);
    assert_eq!(
        store.latest_cosigned(2).await.unwrap().unwrap().note,
        "note 10\n"
    );
}

async fn refusals_are_listed_newest_first(store: &dyn Store) {
    for (i, status) in [422u16, 400, 0].into_iter().enumerate() {
        let id = store
            .add_witness_refusal(&WitnessRefusal {
                id: 0,
                witness: "w1".to_owned(),
                size: 100 + i as u64,
                status,
                message: format!("refusal {i}"),
                at: T0.plus(Duration::from_secs(i as u64)),
            })
            .await
            .unwrap();
        assert!(id > 0);
    }
    let got = store.witness_refusals(2).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].size, got[0].status), (102, 0));
    assert_eq!(
        (got[1].size, got[1].status, got[1].message.as_str()),
        (101, 400, "refusal 1")
    );
}
