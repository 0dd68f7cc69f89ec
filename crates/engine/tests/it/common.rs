//! What the engine tests share: the both-backends macro, distinct sample events, a fixed
//! signing key, SQL literals for hashes, and a bounded wait for background work.

use std::future::Future;
use std::time::Duration;

use accesslog_core::Timestamp;
use accesslog_core::checkpoint::LogSigner;
use accesslog_core::entry::{Activity, CanonicalJson, Event};
use accesslog_testkit::{Backend, TestDb};

/// The log's name in every checkpoint these tests sign.
pub const ORIGIN: &str = "test.example/access-log";

/// Where the fixed clocks start.
pub const T0: Timestamp = Timestamp::from_micros(1_764_406_800_123_456);

/// The signing key of a test log. `LogSigner` is not `Clone` (it holds the secret), so a
/// test that needs the key twice asks for it twice with the same seed.
pub fn signer(seed: u8) -> LogSigner {
    LogSigner::from_seed(ORIGIN, [seed; 32]).expect("a valid origin")
}

/// Event number `i`: every field that varies is unique to it, so no two entries ever hash
/// alike (a copy would make verification see a reordering instead of an edit).
pub fn event(i: u64) -> Event {
    let mut e = Event::new(
        &format!("user{}@example.com", i % 7),
        Activity::ALL[(i % Activity::ALL.len() as u64) as usize],
        "GET /api/export",
    );
    e.export_from = Some("Sales Invoice".into());
    e.reference_document = Some(format!("SINV-{i:05}"));
    e.file_type = Some("CSV".into());
    e.filters = Some(
        CanonicalJson::parse(&format!(r#"{{"customer":"C-{i}","docstatus":1}}"#)).expect("JSON"),
    );
    e.columns = Some(CanonicalJson::parse(r#"["name","grand_total"]"#).expect("JSON"));
    e.row_count = Some(i * 3);
    e.byte_count = Some(100 + i);
    e.content_sha256 = Some(format!("{i:064x}"));
    e.ip = Some("192.0.2.10".into());
    e.request_id = Some(format!("req-{i}"));
    e.roles = vec!["Accounts User".into(), "Sales User".into()];
    e.auth = Some("session".into());
    e
}

/// `bytes` as a blob literal in the SQL of `backend`.
pub fn blob(backend: Backend, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match backend {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

/// Waits (at most 5 s) until `check` holds; background work such as a checkpoint written
/// after the receipts went out has no other signal to wait for.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..250 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The log's size as the tree state in the database records it.
pub async fn size_of(db: &TestDb) -> u64 {
    db.store.log_head().await.expect("log head").size
}
