//! The fixture: a server with a printer, the seeded data, and the four users logged in.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use accesslog_core::entry::{Activity, Entry, Event};
use accesslog_server::RouteKind;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::{Mutex, mpsc};

use crate::common::{Backend, TestServer, USERS, session};

use super::*;

pub(super) struct Caller {
    pub(super) email: &'static str,
    pub(super) role: &'static str,
    pub(super) client: reqwest::Client,
    pub(super) token: String,
}

pub(super) struct SeededFile {
    pub(super) id: String,
    pub(super) file_name: String,
}

pub(super) struct Fixture {
    pub(super) server: TestServer,
    pub(super) printer: Printer,
    pub(super) callers: Vec<Caller>,
    /// The seeded document of each type, by type.
    pub(super) docs: BTreeMap<&'static str, String>,
    /// The private file attached to the seeded document of each type, by type.
    pub(super) files: BTreeMap<&'static str, SeededFile>,
    /// The one entry that carries [`LOG_MARK`].
    pub(super) log_seq: u64,
    /// Alerts on [`LOG_USER`] whose arithmetic carries [`LOG_MARK`], one per action the
    /// API samples take (acknowledge, resolve, dismiss, suppress), the first also viewed.
    pub(super) alerts: [u64; 4],
}

impl Fixture {
    pub(super) async fn start(backend: Backend, case: &str) -> Option<Fixture> {
        let printer = Printer::start();
        let port = printer.port;
        let server = TestServer::start_with(backend, case, |site| {
            append(
                &site.join("site.toml"),
                &format!("\n[printers.{PRINTER}]\nhost = \"127.0.0.1\"\nport = {port}\n"),
            );
            std::fs::write(
                site.join("reports/customer_directory.toml"),
                CUSTOMER_DIRECTORY_TOML,
            )
            .unwrap();
            std::fs::create_dir_all(site.join("backups")).unwrap();
            std::fs::write(
                site.join("backups").join(BACKUP),
                format!("SQLite format 3\0 {BACKUP_MARK} backup"),
            )
            .unwrap();
        })
        .await?;
        // The customer the seeded invoices link to.
        crate::common::customers(&server, &[&format!("{INVOICE_MARK} Invoice Marker")]).await;
        let mut callers = Vec::new();
        for (email, password, role) in USERS {
            let (client, token) = session(&server, email, password).await;
            callers.push(Caller {
                email,
                role,
                client,
                token,
            });
        }
        let mut f = Fixture {
            server,
            printer,
            callers,
            docs: BTreeMap::new(),
            files: BTreeMap::new(),
            log_seq: 0,
            alerts: [0; 4],
        };
        f.seed().await;
        Some(f)
    }

    /// One document of each type (created by the System Manager), a private file on the
    /// employee and on the invoice, an entry carrying [`LOG_MARK`], and a checkpoint.
    pub(super) async fn seed(&mut self) {
        for doctype in [EMPLOYEE, CUSTOMER, SALES_INVOICE, GL_ENTRY] {
            let mut doc = new_document(doctype);
            if doctype == CUSTOMER {
                doc["customer_name"] = json!(CUSTOMER_NAME);
            }
            let url = format!("/api/resource/{}", enc(doctype));
            let a = self
                .send(self.admin(), &Req::with(Method::POST, url, Body::Json(doc)))
                .await;
            assert_eq!(a.status, StatusCode::OK, "{doctype}: {}", a.text());
            let body: Value = serde_json::from_slice(&a.body).unwrap();
            let name = body["data"]["name"].as_str().unwrap().to_owned();
            self.docs.insert(doctype, name);
        }
        for (doctype, file_name, content) in [
            (
                EMPLOYEE,
                format!("{EMPLOYEE_FILE_MARK}-contract.txt"),
                format!("{EMPLOYEE_FILE_MARK} employment contract"),
            ),
            (
                SALES_INVOICE,
                format!("{INVOICE_FILE_MARK}-scan.txt"),
                format!("{INVOICE_FILE_MARK} scanned invoice"),
            ),
        ] {
            let admin = self.admin();
            let form = Form::new()
                .part(
                    "file",
                    Part::bytes(content.into_bytes()).file_name(file_name.clone()),
                )
                .text("is_private", "1")
                .text("doctype", doctype)
                .text("docname", self.docs[doctype].clone());
            let r = admin
                .client
                .post(self.server.at("/api/method/upload_file"))
                .header("x-frappe-csrf-token", &admin.token)
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let file: Value = r.json().await.unwrap();
            assert_eq!(file["message"]["file_name"], file_name.as_str());
            let id = file["message"]["name"].as_str().unwrap().to_owned();
            self.files.insert(doctype, SeededFile { id, file_name });
        }
        let mut e = Event::new(LOG_USER, Activity::Export, "GET /somewhere");
        e.reference_document = Some(format!("{LOG_MARK}-Log-Marker"));
        self.log_seq = self.server.state.recorder.record(e).await.unwrap().seq();
        for (i, id) in self.alerts.iter_mut().enumerate() {
            let at = accesslog_core::Clock::now(&*self.server.clock);
            let firing = accesslog_app::alerts::engine::Firing {
                rule: "R1",
                user: LOG_USER.to_owned(),
                window_start: accesslog_core::Timestamp::from_micros(i as i64),
                severity: accesslog_app::alerts::lifecycle::Severity::High,
                seqs: vec![self.log_seq],
                arithmetic: format!("{LOG_MARK}: 20 egress events in 10 minutes"),
                at,
            };
            let raised =
                accesslog_app::alerts::inbox::raise(&*self.server.store, &firing, false, at)
                    .await
                    .unwrap();
            *id = raised.unwrap().0.id;
        }
        self.server.state.recorder.checkpoint_now().await;
    }

    pub(super) fn doc(&self, t: Target) -> &str {
        &self.docs[t.doctype()]
    }

    pub(super) fn file(&self, t: Target) -> &SeededFile {
        &self.files[t.doctype()]
    }

    pub(super) fn admin(&self) -> &Caller {
        self.caller(SYSTEM_MANAGER)
    }

    pub(super) fn caller(&self, role: &str) -> &Caller {
        self.callers.iter().find(|c| c.role == role).unwrap()
    }

    /// Sends `req` as `caller` (with the session's CSRF token on anything but GET), with
    /// `headers` besides.
    pub(super) async fn send_with(
        &self,
        caller: &Caller,
        req: &Req,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut b = caller
            .client
            .request(req.method.clone(), self.server.at(&req.url));
        if req.method != Method::GET {
            b = b.header("x-frappe-csrf-token", &caller.token);
        }
        for (name, value) in headers {
            b = b.header(*name, *value);
        }
        b = match &req.body {
            Body::None => b,
            Body::Json(v) => b.json(v),
            Body::Form(pairs) => b.form(pairs),
        };
        Answer::of(b.send().await.unwrap()).await
    }

    pub(super) async fn send(&self, caller: &Caller, req: &Req) -> Answer {
        self.send_with(caller, req, &[]).await
    }

    pub(super) async fn entry(&self, seq: u64) -> Entry {
        self.server
            .store
            .entry(seq)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no entry {seq}"))
    }

    pub(super) async fn stop(self) {
        self.printer.task.abort();
        self.server.stop().await;
    }
}

/// What came back.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) seq: Option<u64>,
    pub(super) attachment: bool,
    pub(super) body: Vec<u8>,
}

impl Answer {
    pub(super) async fn of(r: reqwest::Response) -> Answer {
        let seq = r
            .headers()
            .get("x-access-log-seq")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        Answer {
            status: r.status(),
            seq,
            attachment: r.headers().contains_key("content-disposition"),
            body: r.bytes().await.unwrap().to_vec(),
        }
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The JSON error's message.
    pub(super) fn message(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not a JSON error: {}", self.text()));
        v["message"].as_str().unwrap_or_default().to_owned()
    }

    pub(super) fn shows(&self, mark: &str) -> bool {
        contains(&self.body, mark)
    }
}

pub(super) fn contains(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

pub(super) fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(f, "{text}").unwrap();
}

/// A network printer: every connection is a job, whose bytes arrive on `jobs`.
pub(super) struct Printer {
    pub(super) port: u16,
    pub(super) jobs: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

impl Printer {
    pub(super) fn start() -> Printer {
        let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std.set_nonblocking(true).unwrap();
        let port = std.local_addr().unwrap().port();
        let listener = tokio::net::TcpListener::from_std(std).unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut job = Vec::new();
                    let _ = s.read_to_end(&mut job).await;
                    let _ = tx.send(job);
                });
            }
        });
        Printer {
            port,
            jobs: Mutex::new(rx),
            task,
        }
    }

    /// The next job, if one arrives within `wait`.
    pub(super) async fn job(&self, wait: Duration) -> Option<Vec<u8>> {
        let mut jobs = self.jobs.lock().await;
        tokio::time::timeout(wait, jobs.recv()).await.ok().flatten()
    }
}

/// A route of the router: (method, path).
pub(super) type RouteKey = (String, String);

/// The router's own table: egress routes with their activities, exempt ones with why.
pub(super) struct RouteTable {
    pub(super) egress: BTreeMap<RouteKey, Activity>,
    pub(super) exempt: BTreeMap<RouteKey, &'static str>,
}

pub(super) fn route_table(server: &TestServer) -> RouteTable {
    let routes = accesslog_server::routes(server.state.clone());
    let (mut egress, mut exempt) = (BTreeMap::new(), BTreeMap::new());
    for route in routes.table() {
        let key = (route.method.to_string(), route.path.to_owned());
        let fresh = match route.kind {
            RouteKind::Egress(activity) => egress.insert(key.clone(), activity).is_none(),
            RouteKind::Exempt(reason) => exempt.insert(key.clone(), reason).is_none(),
        };
        assert!(fresh, "{key:?} is declared twice");
        assert!(
            !(egress.contains_key(&key) && exempt.contains_key(&key)),
            "{key:?} is declared both egress and exempt"
        );
    }
    RouteTable { egress, exempt }
}

pub(super) fn key_of(s: &Sample) -> RouteKey {
    (s.method.to_string(), s.path.to_owned())
}

/// Every text in an event (roles included), for checks that hold for all of them.
pub(super) fn texts(e: &Event) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::to_value(e).unwrap(), &mut out);
    out
}
