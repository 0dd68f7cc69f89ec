//! Publishing checkpoints to two real witnesses (`accesslog-witness` served over HTTP on
//! free ports) and to a file, from a real store on SQLite and PostgreSQL: cosignatures
//! with consistency proofs read from the stored tree, a rewritten log refused by both
//! witnesses (kept, and raised as a Critical alert), and a witness that was away
//! catching up.

use std::path::Path;
use std::sync::Arc;

use accesslog_app::alerts::lifecycle::Severity;
use accesslog_app::witnessing::{Publisher, Round, latest_published};
use accesslog_core::checkpoint::{Checkpoint, LogSigner};
use accesslog_core::cosignature::CosignatureVerifier;
use accesslog_core::entry::{Activity, Event};
use accesslog_core::{Clock, FixedClock, Timestamp};
use accesslog_site::{LogSettings, PublishSettings, WitnessSettings};
use accesslog_store::alerts::AlertFilter;
use accesslog_store::{Store, StoredCheckpoint};
use accesslog_testkit::{Backend, TestDb};
use accesslog_witness::Witness;
use accesslog_witness::state::{FollowedLog, WitnessDir};

const ORIGIN: &str = "acme.example/access-log";
const T0: Timestamp = Timestamp::from_micros(1_796_115_600_000_000);

async fn with_two_stores(backend: Backend, case_name: &str, case: impl AsyncFn(&TestDb, &TestDb)) {
    let Some(a) = TestDb::open(backend, case_name).await else {
        return;
    };
    let Some(b) = TestDb::open(backend, &format!("{case_name}_b")).await else {
        return;
    };
    case(&a, &b).await;
    a.drop().await;
    b.drop().await;
}

accesslog_testkit::on_both_backends!(
    run: crate::with_two_stores;
    two_witnesses_cosign_and_the_file_gets_each_checkpoint,
    a_rewritten_log_is_refused_by_both_and_raised,
    a_rolled_back_database_is_named,
    an_http_sink_receives_each_cosigned_checkpoint,
);

fn signer() -> LogSigner {
    LogSigner::from_seed(ORIGIN, [4; 32]).unwrap()
}

/// A witness following our log, served on a free port: its URL and verifier.
async fn witness(dir: &Path, name: &str) -> (String, CosignatureVerifier) {
    let cosigner = WitnessDir::new(dir)
        .create(
            name,
            vec![FollowedLog {
                origin: ORIGIN.to_owned(),
                keys: vec![signer().verifier_key()],
            }],
        )
        .unwrap();
    let w = Arc::new(Witness::open(WitnessDir::new(dir)).unwrap());
    let clock = Arc::new(FixedClock::new(T0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(accesslog_witness::http::serve(
        listener,
        w,
        clock,
        std::future::pending(),
    ));
    (url, cosigner.verifier())
}

/// Appends `n` entries (tagged, so two logs differ) and signs a checkpoint of the head,
/// as the recorder's checkpointer does.
async fn grow(store: &dyn Store, n: usize, tag: &str) -> u64 {
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let mut e = Event::new(&format!("{tag}@example.com"), Activity::Export, "GET /x");
            e.row_count = Some(i as u64);
            e
        })
        .collect();
    store.append_entries(&events, T0).await.unwrap();
    let head = store.log_head().await.unwrap();
    let cp = Checkpoint::new(ORIGIN, head.size, head.root).unwrap();
    store
        .add_checkpoint(&StoredCheckpoint {
            size: head.size,
            root: head.root,
            created_at: T0,
            note: signer().sign(&cp),
        })
        .await
        .unwrap();
    head.size
}

fn settings(witnesses: &[(String, CosignatureVerifier)], file: Option<&Path>) -> LogSettings {
    LogSettings {
        origin: ORIGIN.to_owned(),
        witnesses: witnesses
            .iter()
            .map(|(url, v)| WitnessSettings {
                url: url.clone(),
                key: v.verifier_key(),
            })
            .collect(),
        witness_quorum: Some(2),
        publish: PublishSettings {
            files: file.into_iter().map(Path::to_path_buf).collect(),
            urls: Vec::new(),
        },
        ..LogSettings::default()
    }
}

fn publisher(db: &TestDb, log: &LogSettings) -> Publisher {
    let store: Arc<dyn Store> = db.store.clone();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(T0));
    Publisher::new(log, store, clock).unwrap().unwrap()
}

async fn two_witnesses_cosign_and_the_file_gets_each_checkpoint(db: &TestDb, _: &TestDb) {
    let store = &*db.store;
    let tmp = tempfile::tempdir().unwrap();
    let w1 = witness(&tmp.path().join("w1"), "witness.example/w1").await;
    let w2 = witness(&tmp.path().join("w2"), "witness.example/w2").await;
    let file = tmp.path().join("published.log");
    let log = settings(&[w1.clone(), w2.clone()], Some(&file));
    let mut p = publisher(db, &log);

    assert_eq!(
        p.round().await.unwrap(),
        Round::default(),
        "nothing signed yet"
    );
    let size = grow(store, 5, "a").await;
    let round = p.round().await.unwrap();
    assert_eq!((round.cosigned, round.published), (2, 1), "{round:?}");
    let (got, note) = latest_published(store, &log).await.unwrap().unwrap();
    assert_eq!(got, size);
    for (_, v) in [&w1, &w2] {
        assert_eq!(v.verify(&note).unwrap().0.size, size);
    }
    assert_eq!(signer().verifier().verify(&note).unwrap().size, size);

    // The log grows: each witness gets a consistency proof from 5, read from the store.
    let size = grow(store, 37, "a").await;
    let round = p.round().await.unwrap();
    assert_eq!((round.cosigned, round.refused), (2, 0), "{round:?}");
    assert_eq!(p.round().await.unwrap(), Round::default(), "nothing new");
    let (got, note) = latest_published(store, &log).await.unwrap().unwrap();
    assert_eq!(got, size);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.matches("\n\n\u{2014} ").count(), 2, "{text}");
    assert!(text.ends_with(&format!("{note}\n")), "{text}");

    // A third witness that was not there before catches up from nothing in one request.
    let w3 = witness(&tmp.path().join("w3"), "witness.example/w3").await;
    let log3 = settings(&[w1, w3.clone()], None);
    let mut p3 = publisher(db, &log3);
    assert_eq!(p3.round().await.unwrap().cosigned, 1, "w1 has it already");
    let (_, note) = latest_published(store, &log3).await.unwrap().unwrap();
    assert_eq!(w3.1.verify(&note).unwrap().0.size, size);
}

async fn a_rewritten_log_is_refused_by_both_and_raised(a: &TestDb, b: &TestDb) {
    let (honest, forged) = (&*a.store, &*b.store);
    let tmp = tempfile::tempdir().unwrap();
    let w1 = witness(&tmp.path().join("w1"), "witness.example/w1").await;
    let w2 = witness(&tmp.path().join("w2"), "witness.example/w2").await;
    let log = settings(&[w1, w2], None);
    grow(honest, 20, "honest").await;
    assert_eq!(publisher(a, &log).round().await.unwrap().cosigned, 2);

    // The operator rewrites every entry and rebuilds the tree (here: a second database
    // with other entries, more of them), signing with the site's own key.
    grow(forged, 30, "forged").await;
    let round = publisher(b, &log).round().await.unwrap();
    assert_eq!((round.cosigned, round.refused), (0, 2), "{round:?}");
    assert_eq!(latest_published(forged, &log).await.unwrap(), None);
    let refusals = forged.witness_refusals(10).await.unwrap();
    assert_eq!(refusals.len(), 2);
    assert!(
        refusals.iter().all(|r| r.status == 422 && r.size == 30),
        "{refusals:?}"
    );
    let filter = AlertFilter {
        limit: 100,
        ..AlertFilter::default()
    };
    let alerts = accesslog_app::alerts::inbox::list(forged, &filter)
        .await
        .unwrap();
    assert_eq!(alerts.len(), 2, "one per witness");
    assert!(
        alerts
            .iter()
            .all(|a| a.key.rule == "W1" && a.severity == Severity::Critical)
    );
    // The honest log goes on being cosigned.
    grow(honest, 3, "honest").await;
    assert_eq!(publisher(a, &log).round().await.unwrap().cosigned, 2);
}

async fn a_rolled_back_database_is_named(a: &TestDb, b: &TestDb) {
    let tmp = tempfile::tempdir().unwrap();
    let w1 = witness(&tmp.path().join("w1"), "witness.example/w1").await;
    let w2 = witness(&tmp.path().join("w2"), "witness.example/w2").await;
    let log = settings(&[w1, w2], None);
    grow(&*a.store, 20, "same").await;
    assert_eq!(publisher(a, &log).round().await.unwrap().cosigned, 2);
    // A restored backup from before: the first 12 of the same entries.
    grow(&*b.store, 12, "same").await;
    let round = publisher(b, &log).round().await.unwrap();
    assert_eq!(round.refused, 2, "{round:?}");
    let refusals = b.store.witness_refusals(10).await.unwrap();
    assert!(
        refusals
            .iter()
            .all(|r| r.status == 0 && r.message.contains("rolled back")),
        "{refusals:?}"
    );
}

/// A receiver for `[log.publish] urls`: answers each POST with `status` and hands its body
/// over.
async fn receiver(status: u16) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/checkpoints", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = conn.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_owned());
                    }
                }
            };
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = conn.write_all(reply.as_bytes()).await;
            if let Some(body) = body {
                let _ = tx.send(body);
            }
        }
    });
    (url, rx)
}

async fn an_http_sink_receives_each_cosigned_checkpoint(db: &TestDb, _: &TestDb) {
    let tmp = tempfile::tempdir().unwrap();
    let w1 = witness(&tmp.path().join("w1"), "witness.example/w1").await;
    let w2 = witness(&tmp.path().join("w2"), "witness.example/w2").await;
    let (url, mut got) = receiver(200).await;
    let (down, mut never) = receiver(503).await;
    let mut log = settings(&[w1.clone(), w2], None);
    log.publish.urls = vec![url, down];
    let mut p = publisher(db, &log);
    grow(&*db.store, 9, "a").await;
    let round = p.round().await.unwrap();
    assert_eq!((round.cosigned, round.published), (2, 1), "{round:?}");
    let body = got.recv().await.unwrap();
    let (_, note) = latest_published(&*db.store, &log).await.unwrap().unwrap();
    assert_eq!(body, note);
    assert_eq!(w1.1.verify(&body).unwrap().0.size, 9);
    // The sink that answered 503 got the note too, and will be sent it again.
    assert_eq!(never.recv().await.unwrap(), note);
}
