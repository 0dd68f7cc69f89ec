//! A real server on an ephemeral port, over SQLite or PostgreSQL, with the demo users.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use accesslog_app::accounts;
use accesslog_core::{FixedClock, Timestamp};
use accesslog_server::AppState;
use accesslog_site::{Overrides, Settings};
use accesslog_store::Store;
use accesslog_store_sqlite::LOG_SCHEMA;
pub use accesslog_testkit::Backend;
use accesslog_testkit::TestDb;
use tokio::sync::oneshot;

pub const USERS: [(&str, &str, &str); 4] = [
    ("admin@example.com", "admin", "System Manager"),
    ("accounts@example.com", "accounts", "Accounts User"),
    ("sales@example.com", "sales", "Sales User"),
    ("hr@example.com", "hr", "HR User"),
];

/// The demo's formats and reports (kept in the CLI crate), by their place in a site.
const DEMO_FORMATS: [(&str, &str); 5] = [
    (
        "reports/general_ledger.toml",
        "../reports/general_ledger.toml",
    ),
    (
        "reports/sales_register.toml",
        "../reports/sales_register.toml",
    ),
    (
        "print_formats/Sales Invoice/Classic.html",
        "sales_invoice_classic.html",
    ),
    (
        "raw_formats/Sales Invoice/Shipping Label.zpl",
        "sales_invoice_shipping_label.zpl",
    ),
    (
        "raw_formats/Sales Invoice/Receipt.escpos",
        "sales_invoice_receipt.escpos",
    ),
];

pub struct TestServer {
    pub url: String,
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub clock: Arc<FixedClock>,
    pub settings: Settings,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    db: Option<TestDb>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server, or returns `None` (`accesslog_testkit::skip`) for PostgreSQL when
    /// `ACCESSLOG_TEST_POSTGRES_URL` is not set.
    pub async fn start(backend: Backend, case: &str) -> Option<Self> {
        Self::start_with(backend, case, |_| {}).await
    }

    /// Like [`TestServer::start`], with `setup` run on the site folder before the server
    /// reads it (to add printers to `site.toml`, formats, …). Every test site has the
    /// demo's print and raw formats.
    pub async fn start_with(
        backend: Backend,
        case: &str,
        setup: impl FnOnce(&std::path::Path),
    ) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        accesslog_site::create_site(
            dir.path(),
            "Test Site",
            &["Accounts User", "Sales User", "HR User"],
            Some("test.example/access-log"),
        )
        .unwrap();
        let flags = Overrides {
            bind: Some("127.0.0.1:0".into()),
            database_url: None,
        };
        for entry in
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/site")).unwrap()
        {
            let path = entry.unwrap().path();
            std::fs::copy(
                &path,
                dir.path().join("doctypes").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
        for (relative, source) in DEMO_FORMATS {
            let path = dir.path().join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::copy(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/src/demo/print/").to_owned() + source,
                path,
            )
            .unwrap();
        }
        setup(dir.path());
        let settings = Settings::load(dir.path(), &|_| None, &flags).unwrap();

        let db = TestDb::open(backend, case).await?;
        let store: Arc<dyn Store> = db.store.clone();
        let clock = Arc::new(FixedClock::new(Timestamp::from_micros(
            1_764_406_800_000_000,
        )));
        for (email, password, role) in USERS {
            let name = format!("Demo {role}");
            accounts::add_user(
                &*store,
                &*clock,
                &settings,
                email,
                &name,
                Some(password),
                &[role.to_owned()],
            )
            .await
            .unwrap();
        }

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let signer = accesslog_site::keys::load_signer(dir.path(), &settings.log.origin).unwrap();
        let roles: Vec<String> = settings
            .roles
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect();
        let doctypes = accesslog_site::doctypes::DocTypes::load(dir.path(), &roles).unwrap();
        for d in doctypes.iter() {
            store.sync_doctype(d).await.unwrap();
        }
        let formats = accesslog_print::PrintFormats::load(dir.path(), &doctypes).unwrap();
        let reports =
            accesslog_site::reports::Reports::load(dir.path(), &doctypes, &roles).unwrap();
        let state = AppState::start(
            store.clone(),
            clock.clone(),
            settings.clone(),
            signer,
            accesslog_server::Definitions {
                doctypes,
                formats,
                reports,
            },
        );
        let app_state = state.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            accesslog_server::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Some(TestServer {
            url: format!("http://{addr}"),
            addr,
            store,
            clock,
            settings,
            state: app_state,
            stop: Some(stop),
            task: Some(task),
            db: Some(db),
            _dir: dir,
        })
    }

    /// A client with its own cookie jar, like one browser.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Logs `client` in through ERPNext's call; returns the CSRF token for later POSTs.
    pub async fn login(&self, client: &reqwest::Client, usr: &str, pwd: &str) -> String {
        let r = client
            .post(self.at("/api/method/login"))
            .form(&[("usr", usr), ("pwd", pwd)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login as {usr} failed");
        r.headers()["x-frappe-csrf-token"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Cuts the running server off from its Access Log, as a database that refuses every
    /// append would: a trigger on `access_log` aborts each insert, so every recording fails
    /// while sessions, documents and files still work. (`TestDb::close`, which the unit
    /// tests use, closes the whole store: sessions would fail first, and no request would
    /// reach a route.)
    pub async fn cut_off_log(&self) {
        let db = self.db.as_ref().expect("a running server");
        match db.backend {
            Backend::Sqlite => {
                // The log's tables are in the log's file, attached as LOG_SCHEMA.
                db.execute(&format!(
                    "CREATE TRIGGER {LOG_SCHEMA}.access_log_cut_off BEFORE INSERT ON access_log \
                     BEGIN SELECT RAISE(ABORT, 'the Access Log is cut off (test)'); END"
                ))
                .await;
            }
            Backend::Postgres => {
                db.execute(
                    "CREATE FUNCTION access_log_cut_off() RETURNS trigger LANGUAGE plpgsql \
                     AS $$ BEGIN RAISE EXCEPTION 'the Access Log is cut off (test)'; END $$",
                )
                .await;
                db.execute(
                    "CREATE TRIGGER access_log_cut_off BEFORE INSERT ON access_log \
                     FOR EACH ROW EXECUTE FUNCTION access_log_cut_off()",
                )
                .await;
            }
        }
    }

    /// Closes the server's database connections: every query fails from now on, as if
    /// the database were gone.
    pub async fn close_database(&self) {
        self.db.as_ref().expect("a running server").close().await;
    }

    /// Slows every append to the Access Log by a third of a second or more (a trigger that
    /// sleeps on PostgreSQL, and on SQLite one that counts to three million), so a test can
    /// act between a request's start and its entry's commit.
    pub async fn slow_log(&self) {
        let db = self.db.as_ref().expect("a running server");
        match db.backend {
            Backend::Sqlite => {
                db.execute(&format!(
                    "CREATE TRIGGER {LOG_SCHEMA}.access_log_slow BEFORE INSERT ON access_log BEGIN \
                     SELECT COUNT(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL \
                     SELECT x + 1 FROM c WHERE x < 3000000) SELECT x FROM c); END"
                ))
                .await;
            }
            Backend::Postgres => {
                db.execute(
                    "CREATE FUNCTION access_log_slow() RETURNS trigger LANGUAGE plpgsql \
                     AS $$ BEGIN PERFORM pg_sleep(0.35); RETURN NEW; END $$",
                )
                .await;
                db.execute(
                    "CREATE TRIGGER access_log_slow BEFORE INSERT ON access_log \
                     FOR EACH ROW EXECUTE FUNCTION access_log_slow()",
                )
                .await;
            }
        }
    }

    /// Holds the log's write lock until the returned lock is released: every entry
    /// waits at its commit meanwhile (for at most the store's 5-second busy timeout on
    /// SQLite), so work that holds something until its entry is committed holds it for
    /// as long as the test says, whatever the machine's speed.
    pub async fn hold_log(&self) -> accesslog_testkit::WriteLock {
        let db = self.db.as_ref().expect("a running server");
        match db.backend {
            Backend::Sqlite => {
                db.hold_write_lock(&format!("{LOG_SCHEMA}.access_log"))
                    .await
            }
            Backend::Postgres => db.hold_write_lock("access_log").await,
        }
    }

    pub async fn stop(mut self) {
        if let Ok(pdf) = &self.state.printing.pdf {
            pdf.shutdown().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(db) = self.db.take() {
            db.drop().await;
        }
    }
}

/// A client logged in as `usr`, with its CSRF token.
pub async fn session(server: &TestServer, usr: &str, pwd: &str) -> (reqwest::Client, String) {
    let c = server.client();
    let token = server.login(&c, usr, pwd).await;
    (c, token)
}

/// The number of entries in the log.
pub async fn log_size(server: &TestServer) -> u64 {
    server.store.log_head().await.unwrap().size
}

/// The newest entry.
pub async fn last_entry(server: &TestServer) -> accesslog_core::entry::Entry {
    let size = log_size(server).await;
    server.store.entry(size).await.unwrap().unwrap()
}

/// The newest entry's event.
pub async fn last_event(server: &TestServer) -> accesslog_core::entry::Event {
    last_entry(server).await.event
}

/// The entry a response names in its `x-access-log-seq` header.
pub async fn entry_of(server: &TestServer, r: &reqwest::Response) -> accesslog_core::entry::Entry {
    let seq: u64 = r.headers()["x-access-log-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    server.store.entry(seq).await.unwrap().unwrap()
}

/// Lower-case hex SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Server tests declare each case once, on both backends, with testkit's
/// `on_both_backends!` and one of these runners.
pub(crate) use accesslog_testkit::on_both_backends;

/// Runs `case` against a server started on `backend` for it, then stops the server.
pub(crate) async fn with_server(
    backend: Backend,
    case_name: &str,
    case: impl AsyncFn(&TestServer),
) {
    let Some(server) = TestServer::start(backend, case_name).await else {
        return;
    };
    case(&server).await;
    server.stop().await;
}

/// For cases that start their own server ([`TestServer::start_with`]): `case` gets the
/// backend.
pub(crate) async fn with_backend(backend: Backend, _case_name: &str, case: impl AsyncFn(Backend)) {
    case(backend).await;
}

/// Makes sure a Customer of each name exists (written to the store directly, so the log
/// does not change): invoices may only link to customers that exist.
pub async fn customers(server: &TestServer, names: &[&str]) {
    use accesslog_store::{Document, NewDocument, SqlValue};
    let customer = server
        .state
        .doctypes
        .get("Customer")
        .expect("the test site's Customer type");
    for name in names {
        if server
            .store
            .get_document(customer, &[], name)
            .await
            .unwrap()
            .is_some()
        {
            continue;
        }
        let values = [
            ("customer_name", SqlValue::Text((*name).to_owned())),
            ("owner", SqlValue::Text("admin@example.com".to_owned())),
            ("creation", SqlValue::Text("2026-01-01 00:00:00".to_owned())),
            ("modified", SqlValue::Text("2026-01-01 00:00:00".to_owned())),
            (
                "modified_by",
                SqlValue::Text("admin@example.com".to_owned()),
            ),
        ];
        let doc = NewDocument {
            doc: Document {
                name: (*name).to_owned(),
                values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                children: Default::default(),
            },
            children: Vec::new(),
        };
        server
            .store
            .insert_documents(customer, &[doc])
            .await
            .unwrap();
    }
}

/// Runs `python3 ARGS` with `input` on its standard input; its output once it ends.
pub fn python_with_stdin(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
