//! Each of ERPNext's egress routes through the gate: the client gets the upstream's bytes
//! exactly, after an entry that names the upstream's user, the roles, the SHA-256 of those
//! bytes and the filters; with the log unable to record, 503 and nothing else.

use accesslog_core::entry::{Activity, Entry, Outcome};
use accesslog_testkit::{Backend, TestDb, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixture::{HR_KEY, PDF};
use crate::{TestGate, sha256};

on_both_backends!(run: crate::with_gate;
    each_egress_route_is_recorded_before_release,
    the_user_comes_from_the_upstream_never_from_cookies,
    writes_to_the_access_log_are_refused_and_recorded,
    upstream_errors_pass_through_and_record_nothing,
    a_log_that_cannot_record_refuses_with_503,
    large_exports_stream_through_unchanged,
);

on_both_backends!(mods: sqlite_alone, postgres_alone; run: crate::egress::with_db_only;
    log_writes_pass_when_refusal_is_switched_off,
    x_accel_redirect_needs_accel_root,
    a_locked_log_refuses_with_503,
    the_read_settings_apply_through_the_gate,
);

pub async fn with_db_only(backend: Backend, name: &str, case: impl AsyncFn(TestDb)) {
    if let Some(db) = TestDb::open(backend, name).await {
        case(db).await;
    }
}

/// One request of a route: method, path and query, form body.
struct Call {
    method: Method,
    path: &'static str,
    form: Option<&'static str>,
    multipart: bool,
    /// Whose session: `hr` or `admin`.
    as_admin: bool,
    check: fn(&Entry),
}

fn call(method: Method, path: &'static str, form: Option<&'static str>, check: fn(&Entry)) -> Call {
    Call {
        method,
        path,
        form,
        multipart: false,
        as_admin: false,
        check,
    }
}

fn filters(e: &Entry) -> Value {
    e.event
        .filters
        .as_ref()
        .map(|f| f.to_value())
        .unwrap_or(Value::Null)
}

fn routes() -> Vec<Call> {
    use Method as M;
    vec![
        call(
            M::GET,
            "/printview?doctype=Sales%20Invoice&name=SINV-1&format=Standard",
            None,
            |e| {
                assert_eq!(e.event.activity, Activity::Print);
                assert_eq!(e.event.export_from.as_deref(), Some("Sales Invoice"));
                assert_eq!(e.event.reference_document.as_deref(), Some("SINV-1"));
                assert_eq!(e.event.print_format.as_deref(), Some("Standard"));
                assert_eq!(e.event.file_type.as_deref(), Some("HTML"));
            },
        ),
        call(
            M::GET,
            "/print?doctype=Sales%20Invoice&name=SINV-2",
            None,
            |e| {
                assert_eq!(
                    (e.event.activity, e.event.reference_document.as_deref()),
                    (Activity::Print, Some("SINV-2"))
                );
            },
        ),
        call(
            M::GET,
            "/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name=SINV-1&format=Standard&no_letterhead=0",
            None,
            |e| {
                assert_eq!(
                    (e.event.activity, e.event.file_type.as_deref()),
                    (Activity::Print, Some("PDF"))
                );
                assert_eq!(filters(e)["no_letterhead"], "0");
            },
        ),
        call(
            M::GET,
            "/api/method/frappe.utils.print_format.download_multi_pdf?doctype=Sales%20Invoice&name=%5B%22SINV-1%22%2C%22SINV-2%22%5D",
            None,
            |e| {
                assert_eq!(e.event.activity, Activity::Print);
                assert_eq!(
                    e.event.reference_document.as_deref(),
                    Some("[\"SINV-1\",\"SINV-2\"]")
                );
            },
        ),
        call(
            M::POST,
            "/",
            Some(
                "cmd=frappe.desk.query_report.export_query&report_name=General%20Ledger&file_format_type=CSV&filters=%7B%22company%22%3A%22Acme%22%7D&visible_idx=%5B0%2C1%5D&csrf_token=abc",
            ),
            |e| {
                assert_eq!(e.event.activity, Activity::Export);
                assert_eq!(e.event.report_name.as_deref(), Some("General Ledger"));
                assert_eq!(e.event.file_type.as_deref(), Some("CSV"));
                assert_eq!(filters(e)["filters"], json!({"company": "Acme"}));
                assert!(
                    e.event
                        .method
                        .contains("cmd=frappe.desk.query_report.export_query")
                );
            },
        ),
        call(
            M::POST,
            "/",
            Some(
                "cmd=frappe.desk.reportview.export_query&doctype=Employee&title=Employee&file_format_type=CSV&fields=%5B%22name%22%2C%22ctc%22%5D&filters=%5B%5D",
            ),
            |e| {
                assert_eq!(
                    (e.event.activity, e.event.export_from.as_deref()),
                    (Activity::Export, Some("Employee"))
                );
                assert_eq!(
                    e.event.columns.as_ref().unwrap().to_value(),
                    json!(["name", "ctc"])
                );
            },
        ),
        call(
            M::POST,
            "/api/method/frappe.core.doctype.data_export.exporter.export_data",
            Some("doctype=Customer&file_type=CSV&with_data=1&select_columns=%7B%7D"),
            |e| {
                assert_eq!(
                    (e.event.activity, e.event.export_from.as_deref()),
                    (Activity::Export, Some("Customer"))
                );
            },
        ),
        call(M::GET, "/private/files/payslip%20march.pdf", None, |e| {
            assert_eq!(e.event.activity, Activity::FileDownload);
            assert_eq!(
                e.event.reference_document.as_deref(),
                Some("/private/files/payslip march.pdf")
            );
            assert_eq!(e.event.file_type.as_deref(), Some("pdf"));
        }),
        Call {
            as_admin: true,
            ..call(
                M::GET,
                "/backups/20261201_000000-site-database.sql.gz",
                None,
                |e| {
                    assert_eq!(e.event.activity, Activity::BackupDownload);
                    assert_eq!(e.event.user, "admin@example.com");
                    assert!(e.event.roles.contains(&"System Manager".to_owned()));
                },
            )
        },
        call(
            M::POST,
            "/api/method/frappe.www.printview.get_rendered_raw_commands",
            Some("doc=Sales%20Invoice&name=SINV-7&print_format=Shipping%20Label"),
            |e| {
                assert_eq!(e.event.activity, Activity::RawPrint);
                assert_eq!(e.event.page.as_deref(), Some("^XA^FO50,50^FDSINV-7^FS^XZ"));
                assert_eq!(e.event.print_format.as_deref(), Some("Shipping Label"));
            },
        ),
        call(
            M::GET,
            "/api/resource/Employee?fields=%5B%22*%22%5D&limit_page_length=0",
            None,
            |e| {
                assert_eq!(
                    (e.event.activity, e.event.row_count),
                    (Activity::Read, Some(2))
                );
                assert_eq!(filters(e)["names"], json!(["HR-EMP-0001", "HR-EMP-0002"]));
                assert_eq!(filters(e)["limit_page_length"], "0");
                assert_eq!(e.event.columns.as_ref().unwrap().to_value(), json!(["*"]));
            },
        ),
        call(M::GET, "/api/resource/Employee/HR-EMP-0001", None, |e| {
            assert_eq!(
                (e.event.activity, e.event.reference_document.as_deref()),
                (Activity::Read, Some("HR-EMP-0001"))
            );
        }),
        call(
            M::GET,
            "/api/method/frappe.client.get_list?doctype=Employee&fields=%5B%22name%22%5D",
            None,
            |e| {
                assert_eq!(
                    (e.event.activity, e.event.row_count),
                    (Activity::Read, Some(3))
                );
            },
        ),
        call(
            M::POST,
            "/api/method/frappe.desk.reportview.get",
            Some("doctype=Employee&fields=%5B%22name%22%5D&start=0&page_length=20"),
            |e| {
                assert_eq!(
                    (e.event.activity, e.event.row_count),
                    (Activity::Read, Some(2))
                );
                assert_eq!(filters(e)["names"], json!(["HR-EMP-0001", "HR-EMP-0002"]));
            },
        ),
        call(
            M::GET,
            "/api/method/frappe.desk.query_report.run?report_name=General%20Ledger&filters=%7B%22company%22%3A%22Acme%22%7D",
            None,
            |e| {
                assert_eq!(
                    (e.event.activity, e.event.row_count),
                    (Activity::Read, Some(2))
                );
                assert_eq!(e.event.report_name.as_deref(), Some("General Ledger"));
                assert_eq!(filters(e)["filters"], json!({"company": "Acme"}));
            },
        ),
        call(
            M::GET,
            "/api/method/frappe.desk.form.load.getdoc?doctype=Employee&name=HR-EMP-0002",
            None,
            |e| {
                assert_eq!(
                    (e.event.activity, e.event.reference_document.as_deref()),
                    (Activity::Read, Some("HR-EMP-0002"))
                );
            },
        ),
        call(
            M::GET,
            "/api/method/download_file?file_url=/private/files/contract.docx",
            None,
            |e| {
                assert_eq!(e.event.activity, Activity::FileDownload);
                assert_eq!(
                    e.event.reference_document.as_deref(),
                    Some("/private/files/contract.docx")
                );
            },
        ),
        Call {
            multipart: true,
            ..call(
                M::POST,
                "/api/method/frappe.utils.print_format.report_to_pdf",
                None,
                |e| {
                    assert_eq!(
                        (e.event.activity, e.event.file_type.as_deref()),
                        (Activity::ReportPrint, Some("PDF"))
                    );
                },
            )
        },
        // An app's own download, on no route the gate knows: recorded by its
        // Content-Disposition.
        call(
            M::GET,
            "/api/method/app.custom.export_everything",
            None,
            |e| {
                assert_eq!(e.event.activity, Activity::FileDownload);
                assert_eq!(
                    e.event.reference_document.as_deref(),
                    Some("everything.csv")
                );
            },
        ),
    ]
}

fn request(gate: &TestGate, base: &str, c: &Call, cookie: &str) -> reqwest::RequestBuilder {
    let mut r = gate
        .http
        .request(c.method.clone(), format!("{base}{}", c.path))
        .header("cookie", cookie)
        .header("user-agent", "gate-test/1");
    if let Some(form) = c.form {
        r = r
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
    }
    if c.multipart {
        let form = reqwest::multipart::Form::new()
            .text("html", "<table><tr><td>Debtors</td></tr></table>")
            .text("orientation", "Landscape");
        r = r.multipart(form);
    }
    r
}

async fn each_egress_route_is_recorded_before_release(gate: &TestGate) {
    let hr = gate.login("hr@example.com", "hr").await;
    let admin = gate.login("admin@example.com", "admin").await;
    for c in routes() {
        let sid = if c.as_admin { &admin } else { &hr };
        // A forged user_id rides along: it must change nothing.
        let cookie = format!("sid={sid}; user_id=someone.else%40example.com; system_user=yes");
        let direct = request(gate, &gate.upstream.url, &c, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(direct.status(), 200, "{} directly", c.path);
        let direct_type = direct.headers().get("content-type").cloned();
        let direct = direct.bytes().await.unwrap();
        let before = gate.log_size().await;
        let r = request(gate, &gate.url, &c, &cookie).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", c.path);
        assert_eq!(
            r.headers().get("content-type").cloned(),
            direct_type,
            "{}",
            c.path
        );
        let seq: u64 = r.headers()["x-access-log-entry"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = r.bytes().await.unwrap();
        assert_eq!(body, direct, "{}: the upstream's bytes exactly", c.path);
        assert_eq!(gate.log_size().await, before + 1, "{}", c.path);
        let e = gate.entry(seq).await;
        let user = if c.as_admin {
            "admin@example.com"
        } else {
            "hr@example.com"
        };
        assert_eq!(e.event.user, user, "{}", c.path);
        assert_eq!(e.event.outcome, Outcome::Granted);
        assert_eq!(
            e.event.content_sha256.as_deref(),
            Some(sha256(&body).as_str()),
            "{}",
            c.path
        );
        assert_eq!(e.event.byte_count, Some(body.len() as u64));
        assert_eq!(e.event.auth.as_deref(), Some("session"));
        assert_eq!(e.event.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(e.event.user_agent.as_deref(), Some("gate-test/1"));
        assert!(
            e.event.source.starts_with("gate:127.0.0.1:"),
            "{}",
            e.event.source
        );
        if !c.as_admin {
            assert_eq!(e.event.roles, ["Employee", "HR User"], "{}", c.path);
        }
        (c.check)(&e);
    }
    // The identity was asked of the upstream once per session, then cached.
    assert_eq!(gate.upstream.fixture.seen.lock().unwrap().who_calls, 2);
}

async fn the_user_comes_from_the_upstream_never_from_cookies(gate: &TestGate) {
    let pdf =
        "/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name=SINV-1";
    // A forged user_id with no session: the upstream says Guest, refuses, and the gate
    // passes the refusal on and records nothing.
    let before = gate.log_size().await;
    let r = gate
        .http
        .get(gate.at(pdf))
        .header(
            "cookie",
            "user_id=admin%40example.com; system_user=yes; full_name=Admin",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(gate.log_size().await, before);
    // A shared print (a `key`), which Frappe serves to Guest: recorded as Guest, whatever
    // the cookies say.
    let r = gate
        .http
        .get(gate.at("/printview?doctype=Sales%20Invoice&name=SINV-1&key=share123"))
        .header("cookie", "user_id=admin%40example.com; sid=Guest")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e = gate.entry(gate.log_size().await).await;
    assert_eq!(
        (e.event.user.as_str(), e.event.roles.clone()),
        ("Guest", vec!["Guest".to_owned()])
    );
    // An invented sid is nobody.
    let r = gate
        .http
        .get(gate.at(pdf))
        .header(
            "cookie",
            "sid=0123456789abcdef; user_id=admin%40example.com",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // An API key: its user, and the key's id (never its secret) as how they logged in.
    let r = gate
        .http
        .get(gate.at(pdf))
        .header("authorization", format!("token {}:{}", HR_KEY.0, HR_KEY.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e = gate.entry(gate.log_size().await).await;
    assert_eq!(e.event.user, "hr@example.com");
    assert_eq!(e.event.auth.as_deref(), Some("api_key:hrkey0001"));
    // A logout drops the cached identity: the old sid is asked again, and is nobody now.
    let sid = gate.login("hr@example.com", "hr").await;
    let cookie = format!("sid={sid}");
    let r = gate
        .http
        .get(gate.at(pdf))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let calls = gate.upstream.fixture.seen.lock().unwrap().who_calls;
    let r = gate
        .http
        .post(gate.at("/api/method/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let before = gate.log_size().await;
    let r = gate
        .http
        .get(gate.at(pdf))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a logged-out session is not believed from the cache"
    );
    assert_eq!(
        gate.upstream.fixture.seen.lock().unwrap().who_calls,
        calls + 1
    );
    assert_eq!(gate.log_size().await, before);
}

async fn writes_to_the_access_log_are_refused_and_recorded(gate: &TestGate) {
    let sid = gate.login("admin@example.com", "admin").await;
    let cookie = format!("sid={sid}");
    let attempts: [(Method, &str, Option<&str>); 6] = [
        (
            Method::POST,
            "/api/method/frappe.core.doctype.access_log.access_log.make_access_log",
            Some("doctype=Employee&document=HR-EMP-0001&method=Print"),
        ),
        (
            Method::POST,
            "/",
            Some("cmd=frappe.core.doctype.access_log.access_log.make_access_log&doctype=Employee"),
        ),
        (Method::POST, "/api/resource/Access%20Log", None),
        (
            Method::DELETE,
            "/api/resource/Access%20Log/0a1b2c3d4e",
            None,
        ),
        (Method::PUT, "/api/resource/Access Log/0a1b2c3d4e", None),
        (
            Method::POST,
            "/api/method/frappe.client.delete",
            Some("doctype=Access%20Log&name=0a1b2c3d4e"),
        ),
    ];
    for (method, path, form) in attempts {
        let before = gate.log_size().await;
        let mut r = gate
            .http
            .request(method.clone(), gate.at(path))
            .header("cookie", &cookie)
            .header("accept", "application/json");
        if let Some(form) = form {
            r = r
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["exc_type"], "PermissionError");
        assert!(
            body["_error_message"]
                .as_str()
                .unwrap()
                .contains("refuses to write or delete entries"),
            "{body}"
        );
        assert_eq!(gate.log_size().await, before + 1);
        let e = gate.entry(before + 1).await;
        assert_eq!(
            (e.event.activity, e.event.outcome),
            (Activity::LogWrite, Outcome::Denied),
            "{method} {path}"
        );
        assert_eq!(e.event.user, "admin@example.com");
    }
    assert_eq!(
        gate.upstream.fixture.seen.lock().unwrap().log_writes,
        0,
        "nothing reached ERPNext's Access Log"
    );
}

async fn log_writes_pass_when_refusal_is_switched_off(db: TestDb) {
    let gate = TestGate::start(db, |c| c.gate.refuse_log_writes = false).await;
    let sid = gate.login("admin@example.com", "admin").await;
    let r = gate
        .http
        .post(gate.at("/api/method/frappe.core.doctype.access_log.access_log.make_access_log"))
        .header("cookie", format!("sid={sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(gate.upstream.fixture.seen.lock().unwrap().log_writes, 1);
    assert_eq!(gate.log_size().await, 0);
    gate.db.drop().await;
}

async fn upstream_errors_pass_through_and_record_nothing(gate: &TestGate) {
    let sid = gate.login("hr@example.com", "hr").await;
    for (path, cookie) in [
        ("/api/resource/Employee/MISSING", format!("sid={sid}")),
        ("/private/files/payslip.pdf", String::new()),
        ("/backups/x.sql.gz", format!("sid={sid}")),
        ("/api/method/frappe.nothing.here", format!("sid={sid}")),
    ] {
        let direct = gate
            .http
            .get(format!("{}{path}", gate.upstream.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let (status, direct) = (direct.status(), direct.bytes().await.unwrap());
        let before = gate.log_size().await;
        let r = gate
            .http
            .get(gate.at(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert!(!status.is_success());
        assert_eq!(r.bytes().await.unwrap(), direct, "{path}: unchanged");
        assert_eq!(gate.log_size().await, before, "{path}: nothing recorded");
    }
    // Pages that carry no record data pass through unrecorded.
    let r = gate
        .http
        .get(gate.at("/app/sales-invoice"))
        .header("cookie", format!("sid={sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "<html>desk</html>".to_owned())
    );
    assert_eq!(gate.log_size().await, 0);
}

async fn a_log_that_cannot_record_refuses_with_503(gate: &TestGate) {
    let hr = gate.login("hr@example.com", "hr").await;
    let admin = gate.login("admin@example.com", "admin").await;
    gate.db.close().await;
    for c in routes() {
        let sid = if c.as_admin { &admin } else { &hr };
        let r = request(gate, &gate.url, &c, &format!("sid={sid}"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{}", c.path);
        assert!(r.headers().get("content-disposition").is_none());
        let body: Value = r.json().await.unwrap();
        assert!(
            body["_error_message"]
                .as_str()
                .unwrap()
                .contains("nothing was sent"),
            "{body}"
        );
        assert!(!body.to_string().contains("HR-EMP") && !body.to_string().contains("Debtors"));
    }
}

async fn large_exports_stream_through_unchanged(gate: &TestGate) {
    let sid = gate.login("hr@example.com", "hr").await;
    let form = "cmd=frappe.desk.query_report.export_query&report_name=General%20Ledger&file_format_type=CSV&rows=150000";
    let send = |base: &str| {
        gate.http
            .post(format!("{base}/"))
            .header("cookie", format!("sid={sid}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let direct = send(&gate.upstream.url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(direct.len() > 4_000_000, "{}", direct.len());
    let r = send(&gate.url).await.unwrap();
    assert_eq!(
        r.headers()["content-length"].to_str().unwrap(),
        direct.len().to_string()
    );
    let body = r.bytes().await.unwrap();
    assert!(body == direct, "the export arrives byte for byte");
    let e = gate.entry(gate.log_size().await).await;
    assert_eq!(
        e.event.content_sha256.as_deref(),
        Some(sha256(&body).as_str())
    );
}

async fn x_accel_redirect_needs_accel_root(db: TestDb) {
    // Between nginx and Frappe: nginx asks Frappe for X-Accel-Redirect, and the gate
    // resolves it from the Frappe site's folder, hashing the bytes it sends.
    let gate = TestGate::start(db, |_| {}).await;
    let files = gate.site.path().join("private/files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("payslip.pdf"), PDF).unwrap();
    let sid = gate.login("hr@example.com", "hr").await;
    let r = gate
        .http
        .get(gate.at("/private/files/payslip.pdf"))
        .header("cookie", format!("sid={sid}"))
        .header("x-use-x-accel-redirect", "True")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-accel-redirect").is_none());
    assert_eq!(r.bytes().await.unwrap(), PDF);
    let e = gate.entry(1).await;
    assert_eq!(
        e.event.content_sha256.as_deref(),
        Some(sha256(PDF).as_str())
    );
    // A file the folder does not have: 502, nothing sent, nothing recorded.
    let r = gate
        .http
        .get(gate.at("/private/files/gone.pdf"))
        .header("cookie", format!("sid={sid}"))
        .header("x-use-x-accel-redirect", "True")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(gate.log_size().await, 1);
    let TestGate { db, .. } = gate;
    // Without accel_root, such an answer is refused rather than sent unhashed.
    let gate = TestGate::start(db, |c| c.accel_root = None).await;
    let sid = gate.login("hr@example.com", "hr").await;
    let r = gate
        .http
        .get(gate.at("/private/files/payslip.pdf"))
        .header("cookie", format!("sid={sid}"))
        .header("x-use-x-accel-redirect", "True")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("accel_root"));
    assert_eq!(gate.log_size().await, 1);
    gate.db.drop().await;
}

/// The log locked by another writer for longer than an append waits (SQLite's busy
/// timeout, 5 s; PostgreSQL's lock_timeout for appends, 10 s): every egress in the
/// meantime gets 503 and none of the upstream's bytes; once the lock is gone, the same
/// requests go through.
async fn a_locked_log_refuses_with_503(db: TestDb) {
    let gate = TestGate::start(db, |_| {}).await;
    let hr = gate.login("hr@example.com", "hr").await;
    let table = match gate.db.backend {
        Backend::Sqlite => format!("{}.access_log", accesslog_store_sqlite::LOG_SCHEMA),
        Backend::Postgres => "access_log".to_owned(),
    };
    let lock = gate.db.hold_write_lock(&table).await;
    let calls: Vec<Call> = routes()
        .into_iter()
        .filter(|c| !c.as_admin)
        .take(6)
        .collect();
    let cookie = format!("sid={hr}");
    let answers = futures::future::join_all(calls.iter().map(|c| async {
        let r = request(&gate, &gate.url, c, &cookie).send().await.unwrap();
        (r.status(), r.bytes().await.unwrap())
    }))
    .await;
    for ((status, body), c) in answers.iter().zip(&calls) {
        assert_eq!(status.as_u16(), 503, "{}", c.path);
        let text = String::from_utf8_lossy(body);
        assert!(text.contains("nothing was sent"), "{}: {text}", c.path);
        assert!(
            !text.contains("SINV") && !text.contains("%PDF") && !text.contains("Debtors"),
            "{text}"
        );
    }
    lock.release().await;
    for c in &calls {
        let r = request(&gate, &gate.url, c, &cookie).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", c.path);
    }
    assert_eq!(gate.log_size().await, calls.len() as u64);
    gate.db.drop().await;
}

/// `log.reads`: `lists` records list and report reads but not single documents; `off`
/// records no reads, and every other egress still.
async fn the_read_settings_apply_through_the_gate(db: TestDb) {
    use accesslog_site::ReadLogging;
    let gate = TestGate::start(db, |c| c.log.reads = ReadLogging::Lists).await;
    let cookie = format!("sid={}", gate.login("hr@example.com", "hr").await);
    let get = |path: &'static str| {
        gate.http
            .get(gate.at(path))
            .header("cookie", cookie.clone())
            .send()
    };
    assert_eq!(
        get("/api/resource/Employee/HR-EMP-0001")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        gate.log_size().await,
        0,
        "a document read is not recorded under lists"
    );
    assert_eq!(get("/api/resource/Employee").await.unwrap().status(), 200);
    assert_eq!(gate.log_size().await, 1, "a list read is");
    let TestGate { db, .. } = gate;
    let gate = TestGate::start(db, |c| c.log.reads = ReadLogging::Off).await;
    let cookie = format!("sid={}", gate.login("hr@example.com", "hr").await);
    for path in [
        "/api/resource/Employee",
        "/api/method/frappe.desk.query_report.run?report_name=GL",
    ] {
        let r = gate
            .http
            .get(gate.at(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(gate.log_size().await, 1, "no read recorded under off");
    let r = gate
        .http
        .get(gate.at("/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name=SINV-1"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        gate.log_size().await,
        2,
        "a print is recorded whatever the read settings"
    );
    gate.db.drop().await;
}
