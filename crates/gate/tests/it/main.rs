//! The gate against a Frappe-shaped upstream, on SQLite and PostgreSQL.

mod egress;
mod fixture;
mod nginx;

use std::net::SocketAddr;
use std::sync::Arc;

use accesslog_core::entry::Entry;
use accesslog_engine::{Recorder, RecorderConfig};
use accesslog_gate::{Gate, GateConfig};
use accesslog_site::LogSettings;
use accesslog_site::gate::GateSettings;
use accesslog_testkit::{Backend, TestDb};

use fixture::{GATE_KEY, Upstream};

pub struct TestGate {
    pub url: String,
    pub upstream: Upstream,
    pub db: TestDb,
    /// The Frappe site's folder, for `X-Accel-Redirect`.
    pub site: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl TestGate {
    pub async fn start(db: TestDb, tweak: impl FnOnce(&mut GateConfig)) -> TestGate {
        let upstream = Upstream::start().await;
        let site = tempfile::tempdir().unwrap();
        let mut config = GateConfig {
            upstream: upstream.url.clone(),
            gate: GateSettings {
                api_key: Some(GATE_KEY.0.to_owned()),
                ..GateSettings::default()
            },
            api_secret: Some(GATE_KEY.1.to_owned()),
            accel_root: Some(site.path().to_owned()),
            log: LogSettings::default(),
            trusted_proxies: Vec::new(),
        };
        tweak(&mut config);
        let recorder = Recorder::start(
            db.store.clone(),
            Arc::new(accesslog_core::SystemClock),
            None,
            RecorderConfig::default(),
        );
        let gate = Gate::new(config, recorder);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(accesslog_gate::serve(
            listener,
            gate,
            std::future::pending(),
        ));
        TestGate {
            url: format!("http://{addr}"),
            upstream,
            db,
            site,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Logs in through the gate; the session's `sid`.
    pub async fn login(&self, usr: &str, pwd: &str) -> String {
        let r = self
            .http
            .post(self.at("/api/method/login"))
            .form(&[("usr", usr), ("pwd", pwd)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("sid="))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_owned()
    }

    pub async fn log_size(&self) -> u64 {
        self.db.store.log_head().await.unwrap().size
    }

    pub async fn entry(&self, seq: u64) -> Entry {
        self.db.store.entry(seq).await.unwrap().unwrap()
    }
}

/// Runs `case` with a gate over a fresh database of `backend`.
pub async fn with_gate(backend: Backend, name: &str, case: impl AsyncFn(&TestGate)) {
    let Some(db) = TestDb::open(backend, name).await else {
        return;
    };
    let gate = TestGate::start(db, |_| {}).await;
    case(&gate).await;
    gate.db.drop().await;
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
