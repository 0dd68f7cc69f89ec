//! Reports and exports: the General Ledger exported to CSV and XLSX from the page (as the
//! desk does) and over the API (with an API key), each leaving one entry whose filters,
//! columns, row count and SHA-256 match the file received; permissions; formula injection;
//! filters that are data; list-view exports; report pages and prints.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use accesslog_app::accounts;
use accesslog_core::entry::{Activity, Entry, Outcome};
use accesslog_store::{Document, NewDocument, SqlValue};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestServer, entry_of as entry, last_entry, on_both_backends, session, sha256};

on_both_backends!(
    run: crate::common::with_server;
    general_ledger_exports_match_their_entries,
    exports_need_permission_and_refusals_are_recorded,
    list_views_export_what_the_user_sees,
    the_report_page_pages_sorts_totals_and_prints,
    bad_export_requests_are_named
);

const HYPERLINK: &str = "=HYPERLINK(\"http://x\",\"y\")";

/// 40 GL entries: parties Acme and Bolt alternate, one a day from 2026-01-01; entry 7's
/// remarks try a spreadsheet formula.
async fn seed_ledger(server: &TestServer) {
    let gl = server.state.doctypes.get("GL Entry").unwrap();
    let docs: Vec<NewDocument> = (1..=40)
        .map(|i| {
            let party = if i % 2 == 0 { "Bolt" } else { "Acme" };
            let remarks = if i == 7 {
                HYPERLINK.to_owned()
            } else {
                format!("Entry {i}, with a comma")
            };
            let values = [
                (
                    "posting_date",
                    SqlValue::Text(format!(
                        "2026-{:02}-{:02}",
                        1 + (i - 1) / 28,
                        1 + (i - 1) % 28
                    )),
                ),
                (
                    "account",
                    SqlValue::Text(if i % 3 == 0 { "Cash" } else { "Debtors" }.into()),
                ),
                ("party", SqlValue::Text(party.into())),
                ("voucher_type", SqlValue::Text("Sales Invoice".into())),
                ("voucher_no", SqlValue::Text(format!("SINV-{i:05}"))),
                ("debit", SqlValue::Float(f64::from(i) * 100.5)),
                ("credit", SqlValue::Float(0.0)),
                ("against", SqlValue::Text("Sales".into())),
                ("remarks", SqlValue::Text(remarks)),
                ("is_cancelled", SqlValue::Int(0)),
                ("owner", SqlValue::Text("admin@example.com".into())),
                ("creation", SqlValue::Text("2026-01-01 00:00:00".into())),
                (
                    "modified",
                    SqlValue::Text(format!("2026-01-01 00:00:{i:02}")),
                ),
                ("modified_by", SqlValue::Text("admin@example.com".into())),
            ];
            NewDocument {
                doc: Document {
                    name: format!("ACC-GLE-{i:07}"),
                    values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                    children: BTreeMap::new(),
                },
                children: Vec::new(),
            }
        })
        .collect();
    server.store.insert_documents(gl, &docs).await.unwrap();
}

const GL_COLUMNS: &str = r#"["posting_date","account","party","voucher_type","voucher_no","debit","credit","against","remarks","is_cancelled"]"#;

/// A downloaded file's entry says exactly what was sent.
fn assert_entry_matches(e: &Entry, body: &[u8], file_type: &str, rows: u64) {
    let e = &e.event;
    assert_eq!(
        (e.activity, e.outcome),
        (Activity::Export, Outcome::Granted)
    );
    assert_eq!(e.file_type.as_deref(), Some(file_type));
    assert_eq!(e.report_name.as_deref(), Some("General Ledger"));
    assert_eq!(e.export_from.as_deref(), Some("GL Entry"));
    assert_eq!(
        e.filters.as_ref().map(|f| f.as_str()),
        Some(r#"{"from_date":"2026-01-05","party":"Acme"}"#)
    );
    assert_eq!(e.columns.as_ref().map(|c| c.as_str()), Some(GL_COLUMNS));
    assert_eq!(e.row_count, Some(rows));
    assert_eq!(e.byte_count, Some(body.len() as u64));
    assert_eq!(e.content_sha256.as_deref(), Some(sha256(body).as_str()));
}

/// Reads a CSV and an XLSX with Python's csv and openpyxl; `None` when openpyxl is missing
/// outside CI.
fn python_rows(csv: &Path, xlsx: &Path) -> Option<Value> {
    let script = r#"
import csv, datetime, json, sys
import openpyxl
def norm(v):
    if isinstance(v, datetime.datetime):
        return v.date().isoformat() if v.time() == datetime.time() else v.isoformat(sep=" ")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v)
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    csv_rows = [row for row in csv.reader(f)]
ws = openpyxl.load_workbook(sys.argv[2]).active
xlsx_rows = [[norm(c.value) for c in row] for row in ws.iter_rows()]
types = [[c.data_type for c in row] for row in ws.iter_rows(min_row=2, max_row=2)]
print(json.dumps({"csv": csv_rows, "xlsx": xlsx_rows, "types": types, "freeze": ws.freeze_panes}))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(csv)
        .arg(xlsx)
        .output()
        .ok()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No module named 'openpyxl'") {
            accesslog_testkit::skip("openpyxl", "pip install openpyxl");
            return None;
        }
        panic!("python failed: {err}");
    }
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// LibreOffice's CSV of an XLSX; `None` when LibreOffice is missing outside CI.
fn libreoffice_csv(xlsx: &Path) -> Option<String> {
    let dir = xlsx.parent().unwrap();
    let out = match Command::new("libreoffice")
        .args(["--headless", "--convert-to", "csv", "--outdir"])
        .arg(dir)
        .arg(xlsx)
        .env("HOME", dir)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            accesslog_testkit::skip(
                "LibreOffice",
                &format!("apt-get install libreoffice-calc-nogui ({e})"),
            );
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(std::fs::read_to_string(xlsx.with_extension("csv")).unwrap())
}

async fn general_ledger_exports_match_their_entries(server: &TestServer) {
    seed_ledger(server).await;
    let filters = json!({"from_date": "2026-01-05", "party": "Acme", "to_date": ""}).to_string();
    // Acme has the odd entries; from the 5th on: 5, 7, …, 39.
    let expected_rows = 18;

    // From the page, as the desk's export button does: a form with the CSRF token.
    let (ui, token) = session(server, "accounts@example.com", "accounts").await;
    let page = ui
        .get(server.at("/app/query-report/General%20Ledger?from_date=2026-01-05&party=Acme"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"action="/api/method/frappe.desk.query_report.export_query""#),
        "{page}"
    );
    assert!(page.contains("18 rows"), "{page}");
    let r = ui
        .post(server.at("/api/method/frappe.desk.query_report.export_query"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("report_name", "General Ledger"),
            ("filters", filters.as_str()),
            ("file_format_type", "CSV"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"General Ledger.csv\"; filename*=UTF-8''General%20Ledger.csv"
    );
    let e = entry(server, &r).await;
    let csv = r.bytes().await.unwrap();
    assert_entry_matches(&e, &csv, "CSV", expected_rows);
    assert_eq!(
        e.event.method,
        "POST /api/method/frappe.desk.query_report.export_query"
    );
    assert!(
        e.event.auth.as_deref().unwrap().starts_with("session"),
        "{:?}",
        e.event.auth
    );
    assert!(
        csv.starts_with(b"\xEF\xBB\xBFPosting Date,Account,Party,"),
        "BOM and header"
    );
    let text = String::from_utf8_lossy(&csv);
    assert_eq!(text.matches("\r\n").count() as u64, expected_rows + 1);
    assert!(
        text.contains(r#""'=HYPERLINK(""http://x"",""y"")""#),
        "neutralised: {text}"
    );
    assert!(text.contains("\"Entry 5, with a comma\""));

    // Over the API with an API key, as a script would.
    let key = accounts::create_api_key(
        &*server.store,
        &*server.clock,
        "accounts@example.com",
        "script",
        &[],
    )
    .await
    .unwrap();
    let auth = format!("token {}:{}", key.api_key, key.api_secret);
    let api = server.client();
    let r = api
        .post(server.at("/api/method/frappe.desk.query_report.export_query"))
        .header("authorization", &auth)
        .json(&json!({"report_name": "General Ledger", "filters": {"from_date": "2026-01-05", "party": "Acme"}, "file_format_type": "Excel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let e = entry(server, &r).await;
    let xlsx = r.bytes().await.unwrap();
    assert!(xlsx.starts_with(b"PK"), "a zip");
    assert_entry_matches(&e, &xlsx, "XLSX", expected_rows);
    assert!(e.event.auth.as_deref().unwrap().starts_with("api_key:"));

    // The same filters give the same bytes (so Show Report can tell whether data changed).
    let again = api
        .get(server.at(&format!(
            "/api/method/frappe.desk.query_report.export_query?report_name=General%20Ledger&file_format_type=Excel&filters={}",
            urlencode(&filters)
        )))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(sha256(&again.bytes().await.unwrap()), sha256(&xlsx));

    // The XLSX has the CSV's rows, typed, read by openpyxl and by LibreOffice.
    let dir = tempfile::tempdir().unwrap();
    let (csv_path, xlsx_path) = (dir.path().join("gl.csv"), dir.path().join("gl.xlsx"));
    std::fs::write(&csv_path, &csv).unwrap();
    std::fs::write(&xlsx_path, &xlsx).unwrap();
    if let Some(read) = python_rows(&csv_path, &xlsx_path) {
        let csv_rows = read["csv"].as_array().unwrap();
        let xlsx_rows = read["xlsx"].as_array().unwrap();
        assert_eq!(csv_rows.len() as u64, expected_rows + 1);
        assert_eq!(xlsx_rows.len(), csv_rows.len());
        for (c, x) in csv_rows.iter().zip(xlsx_rows) {
            let c: Vec<String> = c
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    v.as_str()
                        .unwrap()
                        .strip_prefix('\'')
                        .unwrap_or(v.as_str().unwrap())
                        .to_owned()
                })
                .collect();
            let x: Vec<&str> = x
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(c, x, "a row differs between the CSV and the XLSX");
        }
        // Dates are dates, amounts numbers, the formula text; the header row is frozen.
        assert_eq!(read["types"][0][0], "d");
        assert_eq!(read["types"][0][5], "n");
        assert_eq!(read["freeze"], "A2");
        assert!(
            xlsx_rows.iter().any(|r| r[8] == HYPERLINK),
            "the formula is text in the XLSX"
        );
    }
    if let Some(lo) = libreoffice_csv(&xlsx_path) {
        let lines: Vec<&str> = lo.lines().collect();
        assert_eq!(lines.len() as u64, expected_rows + 1, "{lo}");
        assert!(
            lines[1].starts_with("2026-01-05,Debtors,Acme,Sales Invoice,SINV-00005,"),
            "{lo}"
        );
        assert!(lo.contains("HYPERLINK"), "{lo}");
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap()
        .trim_start_matches('=')
        .to_owned()
}

async fn exports_need_permission_and_refusals_are_recorded(server: &TestServer) {
    seed_ledger(server).await;
    let (sales, token) = session(server, "sales@example.com", "sales").await;
    for (path, form, names) in [
        (
            "/api/method/frappe.desk.query_report.export_query",
            vec![
                ("report_name", "General Ledger"),
                ("file_format_type", "CSV"),
            ],
            (
                "General Ledger",
                "permission to run the report General Ledger",
            ),
        ),
        (
            "/api/method/frappe.desk.reportview.export_query",
            vec![("doctype", "Sales Invoice"), ("file_format_type", "Excel")],
            ("Sales Invoice", "permission to export Sales Invoice"),
        ),
    ] {
        let before = server.store.log_head().await.unwrap().size;
        let r = sales
            .post(server.at(path))
            .header("x-frappe-csrf-token", &token)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().await.unwrap().contains(names.1));
        assert_eq!(server.store.log_head().await.unwrap().size, before + 1);
        let e = last_entry(server).await.event;
        assert_eq!(
            (e.activity, e.outcome),
            (Activity::Export, Outcome::Denied),
            "{path}"
        );
        assert_eq!(e.user, "sales@example.com");
        assert!(
            e.report_name.as_deref() == Some(names.0) || e.export_from.as_deref() == Some(names.0)
        );
        assert_eq!(e.byte_count, None);
    }
    // The report page itself is refused too (a page view releases nothing, so it is not
    // an export).
    let r = sales
        .get(server.at("/app/query-report/General%20Ledger"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

async fn list_views_export_what_the_user_sees(server: &TestServer) {
    let (accounts, token) = session(server, "accounts@example.com", "accounts").await;
    crate::common::customers(server, &["Acme", "Bolt"]).await;
    for (customer, total) in [("Acme", 10.0), ("Bolt", 20.0), ("Acme", 30.0)] {
        let r = accounts
            .post(server.at("/api/resource/Sales Invoice"))
            .header("x-frappe-csrf-token", &token)
            .json(&json!({"customer": customer, "grand_total": total, "status": "Unpaid"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    // The list page offers the export of what it shows.
    let page = accounts
        .get(server.at("/app/sales-invoice?customer=Acme"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("frappe.desk.reportview.export_query"),
        "{page}"
    );
    assert!(
        page.contains("[[&#34;customer&#34;,&#34;=&#34;,&#34;Acme&#34;]]"),
        "{page}"
    );

    let r = accounts
        .post(server.at("/api/method/frappe.desk.reportview.export_query"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("doctype", "Sales Invoice"),
            ("file_format_type", "CSV"),
            ("filters", r#"[["customer","=","Acme"]]"#),
            (
                "fields",
                r#"["`tabSales Invoice`.`name`","grand_total","customer"]"#,
            ),
            ("order_by", "name asc"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = entry(server, &r).await.event;
    let body = r.bytes().await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&body),
        "\u{feff}ID,Grand Total,Customer\r\nSINV-00001,10,Acme\r\nSINV-00003,30,Acme\r\n"
    );
    assert_eq!(
        (e.activity, e.file_type.as_deref()),
        (Activity::Export, Some("CSV"))
    );
    assert_eq!(e.export_from.as_deref(), Some("Sales Invoice"));
    assert_eq!(e.report_name, None);
    assert_eq!(e.row_count, Some(2));
    assert_eq!(e.filters.unwrap().as_str(), r#"[["customer","=","Acme"]]"#);
    assert_eq!(
        e.columns.unwrap().as_str(),
        r#"["name","grand_total","customer"]"#
    );
    assert_eq!(e.content_sha256.as_deref(), Some(sha256(&body).as_str()));

    // Selected rows only.
    let r = accounts
        .post(server.at("/api/method/frappe.desk.reportview.export_query"))
        .header("x-frappe-csrf-token", &token)
        .json(&json!({"doctype": "Sales Invoice", "file_format_type": "CSV", "selected_items": ["SINV-00002"], "fields": ["name", "customer"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = entry(server, &r).await.event;
    assert_eq!(
        String::from_utf8_lossy(&r.bytes().await.unwrap()),
        "\u{feff}ID,Customer\r\nSINV-00002,Bolt\r\n"
    );
    assert_eq!(
        e.filters.unwrap().as_str(),
        r#"{"filters":null,"selected_items":["SINV-00002"]}"#
    );
}

async fn the_report_page_pages_sorts_totals_and_prints(server: &TestServer) {
    seed_ledger(server).await;
    let (accounts, _) = session(server, "accounts@example.com", "accounts").await;
    let page = accounts
        .get(server.at("/app/query-report/General%20Ledger?party=Bolt&sort=debit&order=desc"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("20 rows"), "{page}");
    // Sorted by debit, largest first: entry 40 (4,020.00) leads.
    let first = page.find("4,020.00").unwrap();
    let second = page.find("3,819.00").unwrap();
    assert!(first < second);
    // Totals: Bolt's debits are 100.5 × (2 + 4 + … + 40) = 42,210.00.
    assert!(page.contains("42,210.00"), "{page}");
    // The filter inputs keep the URL's values, and the links keep the filters.
    assert!(page.contains(r#"name="party" value="Bolt""#));
    assert!(page.contains("/app/query-report/General%20Ledger/print?party=Bolt"));

    // The index lists the reports this user may run.
    let index = accounts
        .get(server.at("/app/query-report"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains("General Ledger") && index.contains("Sales Register"));

    // Printing the report records it with its filters.
    let r = accounts
        .get(server.at("/app/query-report/General%20Ledger/print?party=Bolt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = entry(server, &r).await.event;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<th scope=\"row\">Party</th><td>Bolt</td>"),
        "{html}"
    );
    assert_eq!(
        (e.activity, e.file_type.as_deref()),
        (Activity::ReportPrint, Some("HTML"))
    );
    assert_eq!(e.report_name.as_deref(), Some("General Ledger"));
    assert_eq!(e.filters.unwrap().as_str(), r#"{"party":"Bolt"}"#);
    assert_eq!(e.row_count, Some(20));

    let r = accounts
        .get(server.at("/app/query-report/General%20Ledger/pdf?party=Bolt"))
        .send()
        .await
        .unwrap();
    if Path::new("/usr/bin/chromium").is_file() {
        assert_eq!(r.status(), StatusCode::OK);
        let e = entry(server, &r).await.event;
        assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
        assert_eq!(
            (e.activity, e.file_type.as_deref()),
            (Activity::ReportPrint, Some("PDF"))
        );
    } else {
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

async fn bad_export_requests_are_named(server: &TestServer) {
    seed_ledger(server).await;
    let (accounts, token) = session(server, "accounts@example.com", "accounts").await;
    let before = server.store.log_head().await.unwrap().size;
    for (form, status, says) in [
        (
            vec![("report_name", "General Ledger")],
            400,
            "file_format_type must be CSV or Excel",
        ),
        (
            vec![
                ("report_name", "General Ledger"),
                ("file_format_type", "PDF"),
            ],
            400,
            "not \"PDF\"",
        ),
        (
            vec![("report_name", "Nope"), ("file_format_type", "CSV")],
            404,
            "no report named \"Nope\"",
        ),
        (
            vec![
                ("report_name", "General Ledger"),
                ("file_format_type", "CSV"),
                ("filters", "{\"from_date\": \"yesterday\"}"),
            ],
            400,
            "From Date must be a date",
        ),
        (
            vec![
                ("report_name", "General Ledger"),
                ("file_format_type", "CSV"),
                ("filters", "{\"customer\": \"x\"}"),
            ],
            400,
            "\"customer\" is not a filter of General Ledger",
        ),
        (
            vec![
                ("report_name", "General Ledger"),
                ("file_format_type", "CSV"),
                ("filters", "{not json"),
            ],
            400,
            "`filters` is not valid JSON",
        ),
        (
            vec![
                ("report_name", "General Ledger"),
                ("file_format_type", "CSV"),
                ("columns", "[\"salary\"]"),
            ],
            400,
            "\"salary\" is not a column",
        ),
    ] {
        let r = report_export(server, &accounts, &token, &form).await;
        assert_eq!(r.status().as_u16(), status, "{form:?}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{form:?}: {body}"
        );
    }
    // Each bad request released nothing, and its refusal is on record, saying why.
    let after = server.store.log_head().await.unwrap().size;
    assert_eq!(after, before + 7, "every refusal is recorded");
    for seq in before + 1..=after {
        let e = server.store.entry(seq).await.unwrap().unwrap().event;
        assert_eq!((e.outcome, e.byte_count), (Outcome::Denied, None), "{seq}");
        assert!(e.reason.is_some_and(|r| !r.is_empty()), "{seq}");
    }

    // A filter value that looks like SQL is data: no rows, and the table is still there.
    let r = report_export(
        server,
        &accounts,
        &token,
        &[
            ("report_name", "General Ledger"),
            ("file_format_type", "CSV"),
            ("filters", r#"{"party": "'; DROP TABLE tab_gl_entry; --"}"#),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let e = entry(server, &r).await.event;
    assert_eq!(e.row_count, Some(0));
    assert_eq!(
        e.filters.unwrap().as_str(),
        r#"{"party":"'; DROP TABLE tab_gl_entry; --"}"#
    );
    let r = report_export(
        server,
        &accounts,
        &token,
        &[
            ("report_name", "General Ledger"),
            ("file_format_type", "CSV"),
            ("visible_idx", "[0, 2]"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let e = entry(server, &r).await.event;
    assert_eq!(
        e.row_count,
        Some(2),
        "visible_idx keeps the rows asked for; the table is intact"
    );
    assert_eq!(e.filters.unwrap().as_str(), r#"{"visible_idx":[0,2]}"#);

    // Some columns, in another order: the file has those, in that order, and so does the
    // entry.
    let r = report_export(
        server,
        &accounts,
        &token,
        &[
            ("report_name", "General Ledger"),
            ("file_format_type", "CSV"),
            ("filters", r#"{"party": "Bolt"}"#),
            ("columns", r#"["voucher_no", "debit", "remarks"]"#),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let e = entry(server, &r).await.event;
    let csv = r.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("\u{feff}Voucher No,Debit,Remarks"));
    assert_eq!(
        lines.next(),
        Some("SINV-00002,201,\"Entry 2, with a comma\"")
    );
    assert_eq!(lines.count(), 19);
    assert_eq!(e.row_count, Some(20));
    assert_eq!(
        e.columns.unwrap().as_str(),
        r#"["voucher_no","debit","remarks"]"#
    );
}

/// `POST` ERPNext's query report export URL with `form`, as `client` with its CSRF token.
async fn report_export<T: serde::Serialize + ?Sized>(
    server: &TestServer,
    client: &reqwest::Client,
    token: &str,
    form: &T,
) -> reqwest::Response {
    client
        .post(server.at("/api/method/frappe.desk.query_report.export_query"))
        .header("x-frappe-csrf-token", token)
        .form(form)
        .send()
        .await
        .unwrap()
}
