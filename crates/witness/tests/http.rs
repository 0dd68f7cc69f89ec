//! The witness served over HTTP, and the log's client against it: first contact (a 409
//! teaches the size), catching up after time offline, a restart, a rewritten log, and
//! the monitoring read.

use std::sync::Arc;

use accesslog_core::checkpoint::{Checkpoint, LogSigner};
use accesslog_core::cosignature::CosignatureVerifier;
use accesslog_core::merkle::{Hash, consistency_plan, leaf_hash, root_from_leaves};
use accesslog_core::{FixedClock, Timestamp};
use accesslog_witness::Witness;
use accesslog_witness::client::{SubmitError, WitnessClient, WitnessEndpoint};
use accesslog_witness::state::{FollowedLog, WitnessDir, origin_hash};

const ORIGIN: &str = "acme.example/access-log";

struct Log {
    signer: LogSigner,
    leaves: Vec<Hash>,
}

impl Log {
    fn new(tag: u8, n: usize) -> Self {
        let mut log = Self {
            signer: LogSigner::from_seed(ORIGIN, [1; 32]).unwrap(),
            leaves: Vec::new(),
        };
        log.grow(tag, n);
        log
    }

    fn grow(&mut self, tag: u8, n: usize) {
        for _ in 0..n {
            let i = self.leaves.len();
            self.leaves.push(leaf_hash(&[tag, i as u8, (i >> 8) as u8]));
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint::new(
            ORIGIN,
            self.leaves.len() as u64,
            root_from_leaves(&self.leaves),
        )
        .unwrap()
    }

    fn proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, String> {
        let plan = consistency_plan(old, new).map_err(|e| e.to_string())?;
        plan.assemble(|id| {
            let width = 1usize << id.level;
            let start = id.index as usize * width;
            Some(root_from_leaves(&self.leaves[start..start + width]))
        })
        .map_err(|e| e.to_string())
    }

    async fn submit(&self, client: &mut WitnessClient) -> Result<String, SubmitError> {
        let cp = self.checkpoint();
        let note = self.signer.sign(&cp);
        client
            .submit(&note, &cp, |a, b| async move { self.proof(a, b) })
            .await
    }
}

/// Serves the witness in `dir` on a free port; returns its URL and the server task.
async fn serve(dir: &std::path::Path) -> (String, tokio::task::JoinHandle<()>) {
    let witness = Arc::new(Witness::open(WitnessDir::new(dir)).unwrap());
    let clock = Arc::new(FixedClock::new(Timestamp::from_micros(
        1_700_000_000_000_000,
    )));
    let app = accesslog_witness::http::router(witness, clock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

fn create(dir: &std::path::Path, log: &Log) -> CosignatureVerifier {
    let cosigner = WitnessDir::new(dir)
        .create(
            "witness.example/w1",
            vec![FollowedLog {
                origin: ORIGIN.to_owned(),
                keys: vec![log.signer.verifier_key()],
            }],
        )
        .unwrap();
    cosigner.verifier()
}

#[tokio::test]
async fn a_log_gets_cosignatures_and_catches_a_witness_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Log::new(0, 5);
    let verifier = create(tmp.path(), &log);
    let (url, server) = serve(tmp.path()).await;
    let endpoint = WitnessEndpoint {
        url: url.clone(),
        verifier: verifier.clone(),
    };
    let mut client = WitnessClient::with_default_http(endpoint.clone()).unwrap();

    let line = log.submit(&mut client).await.unwrap();
    let note = log.signer.sign(&log.checkpoint()) + &line;
    assert_eq!(verifier.verify(&note).unwrap().1, 1_700_000_000);

    // The witness goes away while the log grows.
    server.abort();
    let _ = server.await;
    log.grow(0, 20);
    let err = log.submit(&mut client).await.unwrap_err();
    assert!(matches!(err, SubmitError::Unreachable { .. }), "{err}");
    log.grow(0, 100);

    // It comes back (same folder, new process), and a new client (a restarted log,
    // which knows nothing) catches it up in one go: a 409, then a proof from 5 to 125.
    let (url, _server) = serve(tmp.path()).await;
    let mut fresh = WitnessClient::with_default_http(WitnessEndpoint {
        url: url.clone(),
        verifier: verifier.clone(),
    })
    .unwrap();
    log.submit(&mut fresh).await.unwrap();
    assert_eq!(fresh.cosigned(), Some(125));

    // The monitoring read gives the cosigned checkpoint.
    let got = reqwest::get(format!("{url}/{}/checkpoint", origin_hash(ORIGIN)))
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    let text = got.text().await.unwrap();
    assert_eq!(verifier.verify(&text).unwrap().0, log.checkpoint());
    let missing = reqwest::get(format!("{url}/{}/checkpoint", origin_hash("x")))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // A rewritten log, re-signed with the same key: refused, and the client says why.
    let forged = Log::new(9, 200);
    let err = forged.submit(&mut fresh).await.unwrap_err();
    assert!(
        matches!(err, SubmitError::Refused { status: 422, .. }),
        "{err}"
    );
    // A rolled-back log: smaller than what the witness cosigned.
    let rolled = Log::new(0, 50);
    let mut another = WitnessClient::with_default_http(WitnessEndpoint { url, verifier }).unwrap();
    let err = rolled.submit(&mut another).await.unwrap_err();
    assert!(
        matches!(
            err,
            SubmitError::RolledBack {
                cosigned: 125,
                size: 50,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(WitnessDir::new(tmp.path()).refusals().unwrap().len(), 1);
}

#[tokio::test]
async fn the_answers_have_the_specs_statuses_and_types() {
    let tmp = tempfile::tempdir().unwrap();
    let log = Log::new(0, 3);
    create(tmp.path(), &log);
    let (url, _server) = serve(tmp.path()).await;
    let http = reqwest::Client::new();
    let note = log.signer.sign(&log.checkpoint());
    let post = |body: String| http.post(format!("{url}/add-checkpoint")).body(body).send();

    let r = post(format!("old 0\n\n{note}")).await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.starts_with("\u{2014} witness.example/w1 "), "{text}");

    let r = post(format!("old 0\n\n{note}")).await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["content-type"], "text/x.tlog.size");
    assert_eq!(r.text().await.unwrap(), "3\n");

    let r = post("garbage".to_owned()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("blank line"));

    let r = post("x".repeat(100_000)).await.unwrap();
    assert_eq!(r.status(), 413);
}
