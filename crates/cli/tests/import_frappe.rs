//! `accesslog import-frappe` against a Frappe-shaped upstream started inside the test
//! (ERPNext v15's `/api/resource/Access Log` and `get_single_value`, as Frappe v15's
//! `frappe/api/v1.py` and its Access Log doctype answer them: `{"data": […]}`, naive site-local
//! times, Python-repr filters, token auth and its 401), on both backends: what each kind
//! of row becomes, that nothing is recorded twice (re-runs, rows added between runs, rows
//! sharing one creation, a lost cursor file), Berlin's clock changes, errors named, and
//! `--follow` riding out upstream errors until SIGTERM. `verify` passes after each.

mod common;

use common::{accesslog, text};

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accesslog_core::entry::{Activity, Entry, Outcome};
use accesslog_testkit::TestDb;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

const KEY: &str = "0f1e2d3c4b5a697:9a8b7c6d5e4f302";

// ----- the upstream -----

#[derive(Default)]
struct Erp {
    rows: Mutex<Vec<Value>>,
    time_zone: Mutex<Option<String>>,
    /// While set, the Access Log answers 500 as Frappe does for an unexpected error.
    failing: AtomicBool,
    /// While set, requests for any page but the first hang (an import caught mid-way).
    stall: AtomicBool,
    /// The query of each Access Log request.
    queries: Mutex<Vec<HashMap<String, String>>>,
}

impl Erp {
    /// Adds an Access Log row with ERPNext v15's columns (`fields=["*"]`).
    fn add(&self, name: &str, creation: &str, fields: Value) {
        let mut row = json!({
            "name": name, "creation": creation, "modified": creation,
            "modified_by": "Administrator", "owner": "Administrator", "docstatus": 0, "idx": 0,
            "user": "ana@example.com", "export_from": null, "reference_document": null,
            "file_type": null, "report_name": null, "method": null, "page": null,
            "filters": null, "columns": null, "timestamp": null,
            "_user_tags": null, "_comments": null, "_assign": null, "_liked_by": null,
        });
        for (k, v) in fields.as_object().unwrap() {
            row[k] = v.clone();
        }
        self.rows.lock().unwrap().push(row);
    }
}

/// A naive Frappe time with six fraction digits, so that text order is time order.
fn norm(t: &str) -> String {
    match t.split_once('.') {
        Some((s, f)) => format!("{s}.{f:0<6}"),
        None => format!("{t}.000000"),
    }
}

fn frappe_error(status: StatusCode, exc_type: &str, message: &str) -> Response {
    let body = json!({
        "exception": format!("frappe.exceptions.{exc_type}: {message}"),
        "exc_type": exc_type,
        "exc": json!([format!("Traceback (most recent call last):\n  ...\nfrappe.exceptions.{exc_type}: {message}\n")]).to_string(),
        "_server_messages": json!([json!({"message": message, "title": "Message", "indicator": "red", "raise_exception": 1}).to_string()]).to_string(),
    });
    (status, axum::Json(body)).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("token {KEY}"))
}

/// `GET /api/resource/{doctype}` as `frappe.client.get_list` answers it for this doctype.
async fn list(
    State(erp): State<Arc<Erp>>,
    Path(doctype): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return frappe_error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationError",
            "Invalid token",
        );
    }
    if doctype != "Access Log" {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"exc_type": "DoesNotExistError"})),
        )
            .into_response();
    }
    if erp.failing.load(Ordering::SeqCst) {
        return frappe_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "OperationalError",
            "(2013, 'Lost connection to MySQL server during query')",
        );
    }
    erp.queries.lock().unwrap().push(q.clone());
    if erp.stall.load(Ordering::SeqCst) && q.get("limit_start").is_some_and(|s| s != "0") {
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    let fields: Vec<String> =
        serde_json::from_str(q.get("fields").map_or("[\"name\"]", |s| s)).unwrap_or_default();
    let mut rows: Vec<Value> = erp.rows.lock().unwrap().clone();
    if let Some(filters) = q.get("filters") {
        let Ok(Value::Array(filters)) = serde_json::from_str::<Value>(filters) else {
            return frappe_error(
                StatusCode::EXPECTATION_FAILED,
                "ValidationError",
                "bad filters",
            );
        };
        for f in filters {
            let f = f.as_array().unwrap();
            let (field, op, value) = (f[0].as_str().unwrap(), f[1].as_str().unwrap(), &f[2]);
            assert_eq!(
                (field, op),
                ("creation", ">="),
                "the importer filters on creation"
            );
            let from = norm(value.as_str().unwrap());
            rows.retain(|r| norm(r["creation"].as_str().unwrap()) >= from);
        }
    }
    let order = q.get("order_by").cloned().unwrap_or_default();
    let keys: Vec<(String, bool)> = order
        .split(',')
        .map(|part| {
            let mut words = part.split_whitespace();
            let field = words.next().unwrap_or("creation").to_owned();
            let desc = words.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            (field, desc)
        })
        .collect();
    rows.sort_by(|a, b| {
        for (field, desc) in &keys {
            let (x, y) = (norm_field(a, field), norm_field(b, field));
            let o = if *desc { y.cmp(&x) } else { x.cmp(&y) };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    let number = |k: &str| q.get(k).and_then(|v| v.parse::<usize>().ok());
    // v15: limit_page_length, else limit, else 20; 0 means no limit.
    let length = number("limit_page_length")
        .or(number("limit"))
        .unwrap_or(20);
    let start = number("limit_start").unwrap_or(0);
    let rows: Vec<Value> = rows
        .into_iter()
        .skip(start)
        .take(if length == 0 { usize::MAX } else { length })
        .map(|r| {
            if fields.iter().any(|f| f == "*") {
                r
            } else {
                Value::Object(fields.iter().map(|f| (f.clone(), r[f].clone())).collect())
            }
        })
        .collect();
    axum::Json(json!({ "data": rows })).into_response()
}

fn norm_field(row: &Value, field: &str) -> String {
    let v = row[field].as_str().unwrap_or_default();
    if field == "creation" {
        norm(v)
    } else {
        v.to_owned()
    }
}

async fn single_value(
    State(erp): State<Arc<Erp>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return frappe_error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationError",
            "Invalid token",
        );
    }
    assert_eq!(
        (
            q.get("doctype").map(String::as_str),
            q.get("field").map(String::as_str)
        ),
        (Some("System Settings"), Some("time_zone"))
    );
    let tz = erp.time_zone.lock().unwrap().clone();
    axum::Json(match tz {
        Some(tz) => json!({ "message": tz }),
        // Frappe's answer for a None return.
        None => json!({}),
    })
    .into_response()
}

/// Serves `erp` on a free port of 127.0.0.1; its address.
async fn serve(erp: Arc<Erp>) -> String {
    let app = axum::Router::new()
        .route("/api/resource/{doctype}", get(list))
        .route(
            "/api/method/frappe.client.get_single_value",
            get(single_value),
        )
        .with_state(erp);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

// ----- the site and the binary -----

struct Site<'d> {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    db: &'d TestDb,
    url: String,
}

impl<'d> Site<'d> {
    async fn new(db: &'d TestDb, upstream: &str) -> Site<'d> {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("site");
        let mut cmd = accesslog();
        cmd.arg("new-site").arg(&dir);
        let out = blocking(cmd).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        Site {
            _tmp: tmp,
            dir,
            db,
            url: upstream.to_owned(),
        }
    }

    fn command(&self, sub: &str, extra: &[&str]) -> Command {
        let mut cmd = accesslog();
        cmd.arg(sub)
            .arg("--site")
            .arg(&self.dir)
            .arg("--database")
            .arg(&self.db.url);
        if sub == "import-frappe" {
            if !extra.contains(&"--url") {
                cmd.args(["--url", &self.url]);
            }
            if !extra.contains(&"--api-key") {
                cmd.args(["--api-key", KEY]);
            }
        }
        cmd.args(extra);
        cmd
    }

    /// `import-frappe` with `extra`, which must succeed: its stderr.
    async fn import(&self, extra: &[&str]) -> String {
        let out = blocking(self.command("import-frappe", extra)).await;
        assert!(
            out.status.success(),
            "import-frappe failed:\n{}",
            text(&out.stderr)
        );
        text(&out.stderr)
    }

    /// `import-frappe` with `extra`, which must fail: its stderr.
    async fn import_fails(&self, extra: &[&str]) -> String {
        let out = blocking(self.command("import-frappe", extra)).await;
        assert!(
            !out.status.success(),
            "should have failed:\n{}",
            text(&out.stderr)
        );
        text(&out.stderr)
    }

    async fn verify(&self) {
        let out = blocking(self.command("verify", &[])).await;
        assert!(
            out.status.success() && text(&out.stdout).starts_with("OK: "),
            "verify: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    async fn entries(&self) -> Vec<Entry> {
        self.db.store.entries_after(0, 100_000).await.unwrap()
    }

    /// The imported entries by ERPNext name; fails if a name was recorded twice.
    async fn imported(&self) -> BTreeMap<String, Entry> {
        let mut out = BTreeMap::new();
        for e in self.entries().await {
            if e.event.auth.as_deref() != Some("frappe_import") {
                continue;
            }
            let name = e.event.request_id.clone().unwrap();
            assert!(
                out.insert(name.clone(), e).is_none(),
                "{name} recorded twice"
            );
        }
        out
    }

    fn cursor_file(&self) -> PathBuf {
        let host = self.url.trim_start_matches("http://").replace(':', "_");
        self.dir.join(format!("import-frappe/{host}.cursor"))
    }
}

/// Runs `cmd` off the test's runtime, whose threads serve the upstream meanwhile.
async fn blocking(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn reason(e: &Entry) -> &str {
    e.event.reason.as_deref().unwrap()
}

accesslog_testkit::on_both_backends!(
    run: accesslog_testkit::with_db;
    each_kind_of_row_is_recorded_once_however_often_it_runs,
    berlin_times_are_right_across_both_clock_changes,
    bad_keys_zones_and_upstreams_are_named,
    follow_rides_out_upstream_errors_until_sigterm,
    an_import_killed_mid_way_goes_on_without_twice,
);

/// Every kind of row ERPNext v15 writes, and one of another app's, each recorded as its
/// activity with its fields as found; then again, with rows added between runs and rows
/// sharing one creation, and with the cursor file gone: nothing twice.
async fn each_kind_of_row_is_recorded_once_however_often_it_runs(db: &TestDb) {
    let erp = Arc::new(Erp::default());
    *erp.time_zone.lock().unwrap() = Some("Europe/Berlin".into());
    let gl_filters = "{'company': 'Acme Ltd', 'from_date': datetime.date(2026, 1, 1), 'to_date': datetime.date(2026, 1, 31), 'party': [], 'show_cancelled_entries': False, 'group_by': 'Group by Voucher (Consolidated)'}";
    erp.add(
        "p1nt0000a1",
        "2026-01-15 10:00:00.000001",
        json!({
        "export_from": "Sales Invoice", "reference_document": "SINV-00001",
        "file_type": "PDF", "method": "Print"}),
    );
    erp.add(
        "exp0000gl1",
        "2026-01-15 10:05:00.250000",
        json!({
        "export_from": "GL Entry", "report_name": "General Ledger", "file_type": "Excel",
        "method": "Export", "filters": gl_filters, "user": "accounts@example.com"}),
    );
    erp.add(
        "exp0000cu2",
        "2026-01-15 10:06:00",
        json!({
        "export_from": "Customer", "file_type": "CSV",
        "filters": "{'customer_group': 'Commercial', 'name': ('in', ['CUST-1', 'CUST-2'])}"}),
    );
    erp.add(
        "dex0000si3",
        "2026-01-15 10:07:00.5",
        json!({
        "export_from": "Sales Invoice", "file_type": "CSV", "method": "Sales Invoice",
        "columns": "{\"Sales Invoice\": [\"name\", \"customer\", \"grand_total\"]}",
        "filters": "{\"status\": \"Paid\"}"}),
    );
    erp.add(
        "fil0000pdf",
        "2026-01-15 10:08:00",
        json!({
        "export_from": "File", "reference_document": "3f2a9c1b7d", "file_type": "pdf"}),
    );
    erp.add(
        "bak0000sql",
        "2026-01-15 10:09:00",
        json!({
        "report_name": "Backup", "user": "Administrator"}),
    );
    erp.add("rpd0000pdf", "2026-01-15 10:10:00", json!({
        "file_type": "PDF", "method": "PDF", "page": "<h1>Accounts Receivable</h1><table></table>"}));
    erp.add(
        "app0000cad",
        "2026-01-15 10:11:00",
        json!({
        "export_from": "Patient", "method": "CAD Patient Search", "filters": "Ana Ruiz",
        "user": null}),
    );
    for i in 0..7 {
        erp.add(
            &format!("same{i:06}"),
            "2026-01-15 12:00:00.500000",
            json!({
            "export_from": "File", "reference_document": format!("f{i}"), "file_type": "xlsx"}),
        );
    }
    let url = serve(erp.clone()).await;
    let site = Site::new(db, &url).await;
    let source = format!("frappe:{}", url.trim_start_matches("http://"));

    let said = site.import(&["--page-size", "3"]).await;
    assert!(
        said.contains("(times in Europe/Berlin) from its first row"),
        "{said}"
    );
    assert!(said.contains("Imported 15 entries"), "{said}");
    let got = site.imported().await;
    assert_eq!(got.len(), 15);
    for e in got.values() {
        let ev = &e.event;
        assert_eq!(ev.source, source);
        assert_eq!(ev.outcome, Outcome::Granted);
        assert!(ev.roles.is_empty());
        assert!(
            reason(e).starts_with(
                "imported from ERPNext's Access Log, where it was recorded at 2026-01-15T"
            ),
            "{}",
            reason(e)
        );
    }
    // Each request asked as planned: both page sizes, the order, every field.
    for q in erp.queries.lock().unwrap().iter() {
        assert_eq!(q.get("limit").map(String::as_str), Some("3"), "{q:?}");
        assert_eq!(
            q.get("limit_page_length").map(String::as_str),
            Some("3"),
            "{q:?}"
        );
        assert_eq!(
            q.get("order_by").map(String::as_str),
            Some("creation asc, name asc")
        );
        assert_eq!(q.get("fields").map(String::as_str), Some("[\"*\"]"));
    }

    let print = &got["p1nt0000a1"].event;
    assert_eq!(
        (
            print.activity,
            print.method.as_str(),
            print.file_type.as_deref()
        ),
        (Activity::Print, "Print", Some("PDF"))
    );
    assert_eq!(
        (
            print.export_from.as_deref(),
            print.reference_document.as_deref(),
            print.user.as_str()
        ),
        (Some("Sales Invoice"), Some("SINV-00001"), "ana@example.com")
    );
    assert_eq!(
        reason(&got["p1nt0000a1"]),
        "imported from ERPNext's Access Log, where it was recorded at 2026-01-15T09:00:00.000001Z (creation 2026-01-15 10:00:00.000001 Europe/Berlin)"
    );

    let gl = &got["exp0000gl1"].event;
    assert_eq!(
        (gl.activity, gl.file_type.as_deref()),
        (Activity::Export, Some("XLSX"))
    );
    assert_eq!(gl.report_name.as_deref(), Some("General Ledger"));
    assert_eq!(gl.user, "accounts@example.com");
    assert!(reason(&got["exp0000gl1"]).ends_with("; ERPNext's file_type was \"Excel\""));
    assert_eq!(
        gl.filters.as_ref().unwrap().to_value(),
        json!({"raw": gl_filters, "parsed": {
            "company": "Acme Ltd", "from_date": "2026-01-01", "to_date": "2026-01-31",
            "party": [], "show_cancelled_entries": false,
            "group_by": "Group by Voucher (Consolidated)"}})
    );
    let cu = &got["exp0000cu2"].event;
    assert_eq!(
        (cu.activity, cu.file_type.as_deref()),
        (Activity::Export, Some("CSV"))
    );
    assert_eq!(
        cu.filters.as_ref().unwrap().to_value()["parsed"],
        json!({"customer_group": "Commercial", "name": ["in", ["CUST-1", "CUST-2"]]})
    );
    let dex = &got["dex0000si3"].event;
    assert_eq!(
        (dex.activity, dex.method.as_str()),
        (Activity::Export, "Sales Invoice")
    );
    assert_eq!(
        dex.columns.as_ref().unwrap().to_value()["parsed"],
        json!({"Sales Invoice": ["name", "customer", "grand_total"]})
    );
    let file = &got["fil0000pdf"].event;
    assert_eq!(
        (
            file.activity,
            file.reference_document.as_deref(),
            file.file_type.as_deref()
        ),
        (Activity::FileDownload, Some("3f2a9c1b7d"), Some("pdf"))
    );
    let backup = &got["bak0000sql"].event;
    assert_eq!(
        (backup.activity, backup.user.as_str()),
        (Activity::BackupDownload, "Administrator")
    );
    let pdf = &got["rpd0000pdf"].event;
    assert_eq!(pdf.activity, Activity::ReportPrint);
    assert_eq!(
        pdf.page.as_deref(),
        Some("<h1>Accounts Receivable</h1><table></table>")
    );
    let app = &got["app0000cad"].event;
    assert_eq!(
        (app.activity, app.user.as_str()),
        (Activity::Read, "unknown")
    );
    assert_eq!(app.method, "CAD Patient Search");
    assert_eq!(
        app.filters.as_ref().unwrap().to_value(),
        json!({"raw": "Ana Ruiz"})
    );
    assert!(reason(&got["app0000cad"]).contains("ERPNext's row names no user"));
    assert!(reason(&got["app0000cad"]).contains("ERPNext's own code writes no such row"));
    assert_eq!(
        got.keys().filter(|n| n.starts_with("same")).count(),
        7,
        "seven rows of one creation, in pages of three"
    );
    site.verify().await;

    // Again: nothing new.
    let said = site.import(&["--page-size", "3"]).await;
    assert!(said.contains("Imported 0 entries"), "{said}");
    assert!(
        said.contains("of 2026-01-15 12:00:00.500000 (says the cursor file)"),
        "{said}"
    );
    assert_eq!(site.imported().await.len(), 15);

    // Rows added between runs: newer ones, two more at the shared creation, one written
    // late (40 s behind the newest) and one more after it.
    erp.add(
        "same000007",
        "2026-01-15 12:00:00.500000",
        json!({"export_from": "File", "reference_document": "f7", "file_type": "xlsx"}),
    );
    erp.add(
        "same000008",
        "2026-01-15 12:00:00.500000",
        json!({"export_from": "File", "reference_document": "f8", "file_type": "xlsx"}),
    );
    erp.add(
        "late000040",
        "2026-01-15 11:59:20",
        json!({"export_from": "Item", "reference_document": "ITEM-1", "method": "Print"}),
    );
    erp.add(
        "new0000001",
        "2026-01-15 12:30:00",
        json!({"report_name": "Stock Ledger", "method": "Print", "file_type": "PDF"}),
    );
    let said = site.import(&["--page-size", "3"]).await;
    assert!(said.contains("Imported 4 entries"), "{said}");
    let got = site.imported().await;
    assert_eq!(got.len(), 19);
    assert_eq!(got["new0000001"].event.activity, Activity::ReportPrint);
    assert_eq!(got["late000040"].event.activity, Activity::Print);

    // The cursor file lost: the log says where to go on, and what it holds.
    std::fs::remove_file(site.cursor_file()).unwrap();
    let said = site.import(&[]).await;
    assert!(
        said.contains("of 2026-01-15 12:30:00.000000 (says the log)"),
        "{said}"
    );
    assert!(said.contains("Imported 0 entries"), "{said}");
    assert_eq!(site.imported().await.len(), 19);
    site.verify().await;
}

/// Europe/Berlin: the clocks go forward on 2026-03-29 (02:00 → 03:00) and back on
/// 2026-10-25 (03:00 → 02:00). `--time-zone` wins over the upstream's setting.
async fn berlin_times_are_right_across_both_clock_changes(db: &TestDb) {
    let erp = Arc::new(Erp::default());
    *erp.time_zone.lock().unwrap() = Some("Asia/Kolkata".into());
    let print = json!({"export_from": "Sales Invoice", "reference_document": "SINV-1", "file_type": "PDF", "method": "Print"});
    let times = [
        ("spring1", "2026-03-29 01:59:59"),
        ("spring2", "2026-03-29 02:30:00"),
        ("spring3", "2026-03-29 03:00:00"),
        ("autumn1", "2026-10-25 01:59:59"),
        ("autumn2", "2026-10-25 02:30:00"),
        ("autumn3", "2026-10-25 02:50:00"),
    ];
    for (name, t) in times {
        erp.add(name, t, print.clone());
    }
    let url = serve(erp.clone()).await;
    let site = Site::new(db, &url).await;
    let said = site.import(&["--time-zone", "Europe/Berlin"]).await;
    assert!(said.contains("Imported 6 entries"), "{said}");

    // The hour repeated: rows written in its second pass (+01:00) carry naive times
    // before the newest imported (02:50, first pass), and are read all the same.
    erp.add("autumn4", "2026-10-25 02:10:00", print.clone());
    erp.add("autumn5", "2026-10-25 03:00:00", print.clone());
    let said = site.import(&["--time-zone", "Europe/Berlin"]).await;
    assert!(said.contains("Imported 2 entries"), "{said}");

    let got = site.imported().await;
    let at = |name: &str| {
        let r = reason(&got[name]);
        let start = r.find("recorded at ").unwrap() + "recorded at ".len();
        r[start..].split_whitespace().next().unwrap().to_owned()
    };
    assert_eq!(at("spring1"), "2026-03-29T00:59:59.000000Z");
    assert_eq!(
        at("spring2"),
        "2026-03-29T01:30:00.000000Z",
        "02:30 never happened: read at +01:00"
    );
    assert_eq!(at("spring3"), "2026-03-29T01:00:00.000000Z");
    assert_eq!(at("autumn1"), "2026-10-24T23:59:59.000000Z");
    assert_eq!(
        at("autumn2"),
        "2026-10-25T00:30:00.000000Z",
        "02:30 happened twice: the first"
    );
    assert_eq!(at("autumn4"), "2026-10-25T00:10:00.000000Z");
    assert_eq!(at("autumn5"), "2026-10-25T02:00:00.000000Z");
    assert!(
        reason(&got["spring2"])
            .contains("does not exist (the clocks went forward from +01:00 to +02:00)")
    );
    assert!(reason(&got["autumn2"]).contains(
        "occurred twice (the clocks went back from +02:00 to +01:00): read as the earlier, +02:00"
    ));
    assert!(
        !reason(&got["spring1"]).contains("; "),
        "{}",
        reason(&got["spring1"])
    );
    assert!(reason(&got["spring1"]).contains("(creation 2026-03-29 01:59:59 Europe/Berlin)"));
    site.verify().await;
}

/// A wrong key, a zone that is none, an upstream without one, an upstream failing or
/// gone: each said in words, with ERPNext's status, and nothing recorded.
async fn bad_keys_zones_and_upstreams_are_named(db: &TestDb) {
    let erp = Arc::new(Erp::default());
    erp.add(
        "r1",
        "2026-01-15 10:00:00",
        json!({"method": "Print", "file_type": "PDF", "reference_document": "X"}),
    );
    let url = serve(erp.clone()).await;
    let site = Site::new(db, &url).await;

    let cmd = site.command(
        "import-frappe",
        &[
            "--time-zone",
            "Europe/Berlin",
            "--api-key",
            "0f1e2d3c4b5a697:wrong",
        ],
    );
    let out = blocking(cmd).await;
    let said = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("ERPNext refused the API key (401 AuthenticationError: Invalid token)"),
        "{said}"
    );

    let said = site.import_fails(&["--api-key", "no-colon"]).await;
    assert!(said.contains("--api-key must be KEY:SECRET"), "{said}");

    let said = site.import_fails(&[]).await;
    assert!(
        said.contains("has no time zone in its System Settings; give it with --time-zone"),
        "{said}"
    );

    let said = site.import_fails(&["--time-zone", "Mars/Olympus"]).await;
    assert!(
        said.contains("--time-zone")
            && said.contains("\"Mars/Olympus\" is not a time zone of the IANA database"),
        "{said}"
    );

    erp.failing.store(true, Ordering::SeqCst);
    let said = site.import_fails(&["--time-zone", "Europe/Berlin"]).await;
    assert!(
        said.contains("ERPNext answered 500 OperationalError: (2013, 'Lost connection to MySQL server during query') when asked for the Access Log"),
        "{said}"
    );
    assert!(!said.contains("panicked"), "{said}");

    // Nothing listens there any more.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = gone.local_addr().unwrap().port();
    drop(gone);
    let gone = format!("http://127.0.0.1:{port}");
    let said = site
        .import_fails(&["--time-zone", "Europe/Berlin", "--url", &gone])
        .await;
    assert!(
        said.contains("could not reach ERPNext at http://127.0.0.1:"),
        "{said}"
    );

    assert!(site.imported().await.is_empty());
    site.verify().await;
}

/// `--follow`: new rows come in as they are written; an upstream failing for a while is
/// logged and waited out, its rows recorded once it answers again; SIGTERM stops it
/// cleanly.
async fn follow_rides_out_upstream_errors_until_sigterm(db: &TestDb) {
    let erp = Arc::new(Erp::default());
    *erp.time_zone.lock().unwrap() = Some("Europe/Berlin".into());
    let print = json!({"export_from": "Sales Invoice", "reference_document": "SINV-1", "file_type": "PDF", "method": "Print"});
    erp.add("f1", "2026-01-15 10:00:00", print.clone());
    erp.add("f2", "2026-01-15 10:00:01", print.clone());
    let url = serve(erp.clone()).await;
    let site = Site::new(db, &url).await;
    let log = site.dir.join("follow.stderr");
    let mut cmd = site.command("import-frappe", &["--follow", "--every", "1"]);
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();

    let wait_for = async |n: usize| {
        let start = Instant::now();
        loop {
            let got = site.imported().await.len();
            if got == n {
                return;
            }
            assert!(got < n, "more than {n} imported");
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{got} of {n} imported after a minute:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    wait_for(2).await;
    erp.add("f3", "2026-01-15 10:00:02", print.clone());
    wait_for(3).await;

    erp.failing.store(true, Ordering::SeqCst);
    erp.add("f4", "2026-01-15 10:00:03", print.clone());
    erp.add("f5", "2026-01-15 10:00:03", print.clone());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        site.imported().await.len(),
        3,
        "nothing read while ERPNext fails"
    );
    erp.failing.store(false, Ordering::SeqCst);
    wait_for(5).await;

    let pid = child.id().to_string();
    let killed = blocking({
        let mut kill = Command::new("kill");
        kill.args(["-TERM", &pid]);
        kill
    })
    .await;
    assert!(killed.status.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {said}");
    assert!(
        said.contains("the import failed; it will try again"),
        "{said}"
    );
    assert!(said.contains("ERPNext answered 500"), "{said}");
    assert!(said.contains("Stopping:"), "{said}");
    assert!(said.contains("Imported 5 entries"), "{said}");
    assert_eq!(site.imported().await.len(), 5);
    site.verify().await;
}

/// SIGKILL while the import waits for its second page, its first recorded; then again
/// with the cursor file gone (as if killed between recording and writing it): each row
/// once, and the log verifies.
async fn an_import_killed_mid_way_goes_on_without_twice(db: &TestDb) {
    let erp = Arc::new(Erp::default());
    let print = json!({"export_from": "Sales Invoice", "reference_document": "SINV-1", "file_type": "PDF", "method": "Print"});
    for i in 0..5 {
        erp.add(
            &format!("k{i}"),
            &format!("2026-01-15 10:00:0{i}"),
            print.clone(),
        );
    }
    erp.stall.store(true, Ordering::SeqCst);
    let url = serve(erp.clone()).await;
    let site = Site::new(db, &url).await;
    let mut child = site
        .command(
            "import-frappe",
            &["--time-zone", "Europe/Berlin", "--page-size", "2"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while site.imported().await.len() < 2 || !site.cursor_file().exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first page never came in"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(site.imported().await.len(), 2);

    erp.stall.store(false, Ordering::SeqCst);
    let said = site
        .import(&["--time-zone", "Europe/Berlin", "--page-size", "2"])
        .await;
    assert!(said.contains("Imported 3 entries"), "{said}");
    std::fs::remove_file(site.cursor_file()).unwrap();
    erp.add("k5", "2026-01-15 10:00:05", print.clone());
    let said = site
        .import(&["--time-zone", "Europe/Berlin", "--page-size", "2"])
        .await;
    assert!(said.contains("Imported 1 entries"), "{said}");
    assert_eq!(site.imported().await.len(), 6);
    site.verify().await;
}
