//! Reads recorded (issue 13): every response that shows or returns record data — REST
//! lists and documents, list and form pages, report pages and data, and the Access Log
//! itself — leaves one `read` entry that says what was shown and holds the size and
//! SHA-256 of exactly what was received; `read_names_max`; "who saw EMP-0042?"; the read
//! settings (`log.reads`, per-type `log_reads`) and the entry recording their change; the
//! dashboard's Reads series; ERPNext's report permissions; and a log full of reads still
//! verifies.
//!
//! The test site's Employee gets the demo's fields (department, designation, joining date)
//! so the demo's Salary Register runs on it; HR User keeps only read and create on it (no
//! print, no export).

use std::path::Path;

use accesslog_core::entry::{Activity, Event, Outcome};
use accesslog_store::{Document, NewDocument, SqlValue};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Backend, TestServer, log_size, on_both_backends_with_setup, session, sha256};

on_both_backends_with_setup!(
    rest_reads_record_the_names_they_returned,
    every_kind_of_read_is_recorded_with_what_it_showed,
    read_names_max_records_first_and_last,
    who_saw_a_document,
    reads_off_records_no_reads_but_every_other_egress,
    reads_lists_records_lists_and_reports_not_documents,
    a_type_with_log_reads_false_is_not_recorded,
    the_dashboard_shows_reads_and_can_hide_them,
    report_permissions_are_erpnexts,
    a_log_of_reads_verifies,
    who_saw_is_not_fooled_by_searches_of_the_log,
    who_saw_matches_the_name_exactly,
    a_short_list_of_the_log_is_still_a_list,
);

const SEQ: &str = "x-access-log-seq";
const HR: (&str, &str) = ("hr@example.com", "hr");
const ADMIN: (&str, &str) = ("admin@example.com", "admin");
const SALARY_REGISTER: &str = "/app/query-report/Salary%20Register";
/// The Salary Register's columns, as its entries record them.
const SR_COLUMNS: [&str; 7] = [
    "employee",
    "employee_name",
    "department",
    "designation",
    "date_of_joining",
    "ctc",
    "monthly_gross",
];
/// The seeded employees: (name, employee_name, department).
const EMPLOYEES: [(&str, &str, &str); 4] = [
    ("EMP-0040", "Ana Ruiz", "Sales"),
    ("EMP-0041", "Bo Chen", "Accounts"),
    ("EMP-0042", "Cy Diaz", "Sales"),
    ("EMP-0043", "Di Eng", "Operations"),
];

/// The test site's Employee with the demo's fields; `top` goes among the type's own keys.
fn employee_toml(top: &str) -> String {
    format!(
        r#"name = "Employee"
naming = "EMP-.####"
{top}

[[fields]]
fieldname = "employee_name"
fieldtype = "data"
reqd = true
in_list_view = true

[[fields]]
fieldname = "department"
fieldtype = "select"
options = ["Accounts", "Sales", "Human Resources", "Operations", "Management"]
in_list_view = true

[[fields]]
fieldname = "designation"
fieldtype = "data"

[[fields]]
fieldname = "date_of_joining"
fieldtype = "date"

[[fields]]
fieldname = "ctc"
label = "Cost to Company"
fieldtype = "currency"

[permissions."HR User"]
read = true
create = true
"#
    )
}

/// Gives `site` the Employee above (with `employee_top`), the demo's Salary Register, and
/// `log` (lines) in site.toml's `[log]` table.
fn hr_site(site: &Path, employee_top: &str, log: &str) {
    std::fs::write(
        site.join("doctypes/employee.toml"),
        employee_toml(employee_top),
    )
    .unwrap();
    std::fs::create_dir_all(site.join("reports")).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../cli/src/demo/reports/salary_register.toml"
        ),
        site.join("reports/salary_register.toml"),
    )
    .unwrap();
    if !log.is_empty() {
        let path = site.join("site.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\n[log]\n"), "{text}");
        std::fs::write(
            &path,
            text.replace("\n[log]\n", &format!("\n[log]\n{log}\n")),
        )
        .unwrap();
    }
}

/// A server whose site is [`hr_site`], with [`EMPLOYEES`] in it (inserted directly, so
/// nothing is recorded for them).
async fn start(backend: Backend, case: &str, employee_top: &str, log: &str) -> Option<TestServer> {
    let server =
        TestServer::start_with(backend, case, |site| hr_site(site, employee_top, log)).await?;
    let names: Vec<&str> = EMPLOYEES.iter().map(|e| e.0).collect();
    insert_employees(&server, &names).await;
    Some(server)
}

/// Inserts employees named `names` (those of [`EMPLOYEES`] with their data).
async fn insert_employees(server: &TestServer, names: &[&str]) {
    let employee = server.state.doctypes.get("Employee").unwrap();
    let docs: Vec<NewDocument> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (employee_name, department) = EMPLOYEES
                .iter()
                .find(|e| e.0 == *name)
                .map_or(("Someone Else", "Management"), |e| (e.1, e.2));
            let values = [
                ("employee_name", SqlValue::Text(employee_name.into())),
                ("department", SqlValue::Text(department.into())),
                ("designation", SqlValue::Text("Clerk".into())),
                ("date_of_joining", SqlValue::Text("2024-01-01".into())),
                ("ctc", SqlValue::Float(50_000.0 + 1_000.0 * i as f64)),
                ("owner", SqlValue::Text("admin@example.com".into())),
                ("creation", SqlValue::Text("2026-01-01 00:00:00".into())),
                (
                    "modified",
                    SqlValue::Text(format!("2026-01-01 00:00:{:02}", 10 + i)),
                ),
                ("modified_by", SqlValue::Text("admin@example.com".into())),
            ];
            NewDocument {
                doc: Document {
                    name: (*name).to_owned(),
                    values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                    children: Default::default(),
                },
                children: Vec::new(),
            }
        })
        .collect();
    server
        .store
        .insert_documents(employee, &docs)
        .await
        .unwrap();
}

/// A query string, form-encoded.
fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    format!("{path}?{}", serde_urlencoded::to_string(params).unwrap())
}

/// Sends `req` (by `user`): 200, exactly one new entry, named in the response's header, a
/// granted `read` by `user` whose byte count and SHA-256 are those of the body received.
async fn recorded(
    server: &TestServer,
    user: &str,
    req: reqwest::RequestBuilder,
    what: &str,
) -> (u64, Event, Vec<u8>) {
    let before = log_size(server).await;
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{what}");
    let seq: u64 = r
        .headers()
        .get(SEQ)
        .unwrap_or_else(|| panic!("{what}: no {SEQ} header"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = r.bytes().await.unwrap().to_vec();
    assert_eq!(log_size(server).await, before + 1, "{what}: one entry");
    assert_eq!(seq, before + 1, "{what}: the header names the new entry");
    let e = server.store.entry(seq).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome, e.user.as_str()),
        (Activity::Read, Outcome::Granted, user),
        "{what}"
    );
    assert_eq!(e.byte_count, Some(body.len() as u64), "{what}: byte_count");
    assert_eq!(
        e.content_sha256.as_deref(),
        Some(sha256(&body).as_str()),
        "{what}: content_sha256"
    );
    (seq, e, body)
}

/// Sends `req`: 200, with record data, and nothing recorded (no entry, no header).
async fn unrecorded(server: &TestServer, req: reqwest::RequestBuilder, what: &str) -> Vec<u8> {
    let before = log_size(server).await;
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{what}");
    assert!(r.headers().get(SEQ).is_none(), "{what}: {SEQ} header");
    let body = r.bytes().await.unwrap().to_vec();
    assert!(!body.is_empty(), "{what}");
    assert_eq!(log_size(server).await, before, "{what}: recorded nothing");
    body
}

/// What a read's entry says besides who, when and how much; every field is checked, so
/// `None` means "not set".
#[derive(Default)]
struct Expect {
    export_from: Option<&'static str>,
    reference_document: Option<String>,
    report_name: Option<&'static str>,
    filters: Option<Value>,
    columns: Option<Value>,
    row_count: Option<u64>,
    method: &'static str,
}

fn check(e: &Event, x: &Expect, what: &str) {
    assert_eq!(
        e.export_from.as_deref(),
        x.export_from,
        "{what}: export_from"
    );
    assert_eq!(
        e.reference_document, x.reference_document,
        "{what}: reference_document"
    );
    assert_eq!(
        e.report_name.as_deref(),
        x.report_name,
        "{what}: report_name"
    );
    assert_eq!(
        e.filters.as_ref().map(|f| f.to_value()),
        x.filters,
        "{what}: filters"
    );
    assert_eq!(
        e.columns.as_ref().map(|c| c.to_value()),
        x.columns,
        "{what}: columns"
    );
    assert_eq!(e.row_count, x.row_count, "{what}: row_count");
    if !x.method.is_empty() {
        assert_eq!(e.method, x.method, "{what}: method");
    }
    assert!(e.reason.is_none(), "{what}: reason");
}

/// The `name`s in a `{"data": [...]}` body.
fn data_names(body: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The `seq`s in an Access Log API answer.
fn data_seqs(body: &[u8]) -> Vec<u64> {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["seq"].as_u64().unwrap())
        .collect()
}

/// The entry numbers linked from the rows of an `/app/access-log` page.
fn page_seqs(html: &str) -> Vec<u64> {
    html.split("<tr class=\"")
        .skip(1)
        .filter_map(|row| {
            let rest = row.split_once("<td><a href=\"/app/access-log/")?.1;
            rest.split('"').next()?.parse().ok()
        })
        .collect()
}

fn strings(items: &[u64]) -> Vec<String> {
    items.iter().map(u64::to_string).collect()
}

/// A REST list's query parameters, the names it returns, and the filters (without
/// `names`) and columns its entry records.
type ListCase<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], Value, Value);

// ----- 1. REST -----

async fn rest_reads_record_the_names_they_returned(backend: Backend) {
    let Some(owned) = start(backend, "rest_reads", "", "").await else {
        return;
    };
    let server = &owned;
    let (hr, token) = session(server, HR.0, HR.1).await;

    // Every employee, every field.
    let path = with_query(
        "/api/resource/Employee",
        &[("fields", r#"["*"]"#), ("limit_page_length", "0")],
    );
    let (_, e, body) = recorded(server, HR.0, hr.get(server.at(&path)), "all employees").await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let rows = v["data"].as_array().unwrap();
    let mut names = data_names(&body);
    assert_eq!(rows.len(), 4);
    let columns = json!([
        "name",
        "owner",
        "creation",
        "modified",
        "modified_by",
        "employee_name",
        "department",
        "designation",
        "date_of_joining",
        "ctc"
    ]);
    let mut keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut recorded_columns: Vec<&str> = columns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    keys.sort_unstable();
    recorded_columns.sort_unstable();
    assert_eq!(
        keys, recorded_columns,
        "the columns are the fields returned"
    );
    check(
        &e,
        &Expect {
            export_from: Some("Employee"),
            filters: Some(json!({"limit": 10000, "names": names, "start": 0})),
            columns: Some(columns),
            row_count: Some(4),
            method: "GET /api/resource/Employee",
            ..Expect::default()
        },
        "all employees",
    );
    assert_eq!(e.roles, ["HR User"]);
    names.sort();
    assert_eq!(names, EMPLOYEES.map(|e| e.0), "every employee was returned");

    // Filters, order, paging and fields, each as asked and with what came back.
    let cases: [ListCase; 4] = [
        (
            &[
                ("filters", r#"[["department","=","Sales"]]"#),
                ("order_by", "employee_name asc"),
            ],
            &["EMP-0040", "EMP-0042"],
            json!({"filters": [["department", "=", "Sales"]], "order_by": "employee_name asc", "limit": 20, "start": 0}),
            json!(["name"]),
        ),
        (
            &[
                ("filters", r#"{"department":"Operations"}"#),
                ("fields", r#"["name","employee_name"]"#),
                ("limit_start", "0"),
                ("limit_page_length", "5"),
            ],
            &["EMP-0043"],
            json!({"filters": {"department": "Operations"}, "limit": 5, "start": 0}),
            json!(["name", "employee_name"]),
        ),
        (
            &[
                ("order_by", "name asc"),
                ("limit_start", "1"),
                ("limit_page_length", "2"),
            ],
            &["EMP-0041", "EMP-0042"],
            json!({"order_by": "name asc", "limit": 2, "start": 1}),
            json!(["name"]),
        ),
        (
            &[("filters", r#"[["department","=","Management"]]"#)],
            &[],
            json!({"filters": [["department", "=", "Management"]], "limit": 20, "start": 0}),
            json!(["name"]),
        ),
    ];
    for (params, expected, mut filters, columns) in cases {
        let path = with_query("/api/resource/Employee", params);
        let (_, e, body) = recorded(server, HR.0, hr.get(server.at(&path)), &path).await;
        assert_eq!(data_names(&body), expected, "{path}");
        filters["names"] = json!(expected);
        check(
            &e,
            &Expect {
                export_from: Some("Employee"),
                filters: Some(filters),
                columns: Some(columns),
                row_count: Some(expected.len() as u64),
                method: "GET /api/resource/Employee",
                ..Expect::default()
            },
            &path,
        );
    }

    // One document.
    let (_, e, body) = recorded(
        server,
        HR.0,
        hr.get(server.at("/api/resource/Employee/EMP-0042")),
        "one employee",
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["data"]["employee_name"], "Cy Diaz");
    check(
        &e,
        &Expect {
            export_from: Some("Employee"),
            reference_document: Some("EMP-0042".into()),
            row_count: Some(1),
            method: "GET /api/resource/Employee/EMP-0042",
            ..Expect::default()
        },
        "one employee",
    );

    // A create answers with the document created: a read of it.
    let (_, e, body) = recorded(
        server,
        HR.0,
        hr.post(server.at("/api/resource/Employee"))
            .header("x-frappe-csrf-token", &token)
            .json(&json!({"employee_name": "Eve", "department": "Sales"})),
        "create",
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let name = v["data"]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("EMP-"), "{name}");
    check(
        &e,
        &Expect {
            export_from: Some("Employee"),
            reference_document: Some(name),
            row_count: Some(1),
            method: "POST /api/resource/Employee",
            ..Expect::default()
        },
        "create",
    );
    owned.stop().await;
}

// ----- 2. every kind of read -----

async fn every_kind_of_read_is_recorded_with_what_it_showed(backend: Backend) {
    let Some(owned) = start(backend, "every_read", "", "").await else {
        return;
    };
    let server = &owned;
    let (hr, token) = session(server, HR.0, HR.1).await;
    let sr_columns = json!(SR_COLUMNS);
    let list_columns = json!(["name", "employee_name", "department", "modified"]);
    let run = "/api/method/frappe.desk.query_report.run";

    let cases: Vec<(&str, reqwest::RequestBuilder, Expect, &[&str])> = vec![
        (
            "form page",
            hr.get(server.at("/app/employee/EMP-0042")),
            Expect {
                export_from: Some("Employee"),
                reference_document: Some("EMP-0042".into()),
                row_count: Some(1),
                method: "GET /app/employee/EMP-0042",
                ..Expect::default()
            },
            &["Cy Diaz"],
        ),
        (
            "list page",
            hr.get(server.at("/app/employee")),
            Expect {
                export_from: Some("Employee"),
                filters: Some(json!({
                    "limit": 50,
                    "names": ["EMP-0043", "EMP-0042", "EMP-0041", "EMP-0040"],
                    "order_by": "modified desc",
                    "start": 0
                })),
                columns: Some(list_columns.clone()),
                row_count: Some(4),
                method: "GET /app/employee",
                ..Expect::default()
            },
            &["Ana Ruiz", "Bo Chen", "Cy Diaz", "Di Eng"],
        ),
        (
            "list page, filtered and sorted",
            hr.get(server.at("/app/employee?department=Sales&order_by=name%20asc")),
            Expect {
                export_from: Some("Employee"),
                filters: Some(json!({
                    "filters": [["department", "=", "Sales"]],
                    "limit": 50,
                    "names": ["EMP-0040", "EMP-0042"],
                    "order_by": "name asc",
                    "start": 0
                })),
                columns: Some(list_columns.clone()),
                row_count: Some(2),
                method: "GET /app/employee",
                ..Expect::default()
            },
            &["Ana Ruiz", "Cy Diaz"],
        ),
        (
            "report page",
            hr.get(server.at(SALARY_REGISTER)),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({"filters": {}, "limit": 100, "start": 0, "total": 4})),
                columns: Some(sr_columns.clone()),
                row_count: Some(4),
                method: "GET /app/query-report/Salary%20Register",
                ..Expect::default()
            },
            &["Ana Ruiz", "Bo Chen", "Cy Diaz", "Di Eng"],
        ),
        (
            "report page, filtered and sorted",
            hr.get(server.at(&format!(
                "{SALARY_REGISTER}?department=Sales&sort=ctc&order=desc"
            ))),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({
                    "filters": {"department": "Sales"},
                    "order_by": "ctc desc",
                    "limit": 100,
                    "start": 0,
                    "total": 2
                })),
                columns: Some(sr_columns.clone()),
                row_count: Some(2),
                method: "GET /app/query-report/Salary%20Register",
                ..Expect::default()
            },
            &["Ana Ruiz", "Cy Diaz"],
        ),
        (
            "query_report.run GET",
            hr.get(server.at(&with_query(
                run,
                &[
                    ("report_name", "Salary Register"),
                    ("filters", r#"{"department":"Sales"}"#),
                ],
            ))),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({"filters": {"department": "Sales"}})),
                columns: Some(sr_columns.clone()),
                row_count: Some(2),
                method: "GET /api/method/frappe.desk.query_report.run",
                ..Expect::default()
            },
            &["\"EMP-0040\"", "\"EMP-0042\""],
        ),
        (
            "query_report.run POST (form)",
            hr.post(server.at(run))
                .header("x-frappe-csrf-token", &token)
                .form(&[("report_name", "Salary Register"), ("filters", "{}")]),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({"filters": {}})),
                columns: Some(sr_columns.clone()),
                row_count: Some(4),
                method: "POST /api/method/frappe.desk.query_report.run",
                ..Expect::default()
            },
            &["\"EMP-0041\"", "\"EMP-0043\""],
        ),
        (
            "query_report.run POST (JSON)",
            hr.post(server.at(run))
                .header("x-frappe-csrf-token", &token)
                .json(&json!({"report_name": "Salary Register", "filters": {"department": "Operations"}})),
            Expect {
                export_from: Some("Employee"),
                report_name: Some("Salary Register"),
                filters: Some(json!({"filters": {"department": "Operations"}})),
                columns: Some(sr_columns.clone()),
                row_count: Some(1),
                method: "POST /api/method/frappe.desk.query_report.run",
                ..Expect::default()
            },
            &["\"EMP-0043\""],
        ),
    ];
    let mut hr_seqs = Vec::new();
    for (what, req, expect, shown) in cases {
        let (seq, e, body) = recorded(server, HR.0, req, what).await;
        check(&e, &expect, what);
        let text = String::from_utf8_lossy(&body);
        for s in shown {
            assert!(text.contains(s), "{what}: shows {s}");
        }
        hr_seqs.push(seq);
    }
    // The report data are the rows the entry counts.
    let (seq, e, body) = recorded(
        server,
        HR.0,
        hr.get(server.at(&with_query(run, &[("report_name", "Salary Register")]))),
        "query_report.run, every row",
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let result = v["message"]["result"].as_array().unwrap();
    assert_eq!(Some(result.len() as u64), e.row_count);
    assert_eq!(result.len(), 4);
    assert_eq!(result[0]["employee"], "EMP-0041", "ordered by department");
    hr_seqs.push(seq);

    // The auditor's reads of the log are reads too.
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let size = log_size(server).await;
    let form_seq = hr_seqs[0];
    let newest = |n: u64| -> Vec<u64> { (size + 1 - n..=size).rev().collect() };
    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/api/access-log?activity=read&limit=3")),
        "/api/access-log",
    )
    .await;
    assert_eq!(data_seqs(&body), newest(3));
    check(
        &e,
        &Expect {
            export_from: Some("Access Log"),
            filters: Some(json!({"activity": "read", "limit": "3", "names": strings(&newest(3))})),
            row_count: Some(3),
            method: "GET /api/access-log",
            ..Expect::default()
        },
        "/api/access-log",
    );

    let size = log_size(server).await;
    let path = with_query(
        "/api/resource/Access Log",
        &[("fields", r#"["name","user"]"#), ("limit_page_length", "2")],
    );
    let (_, e, body) = recorded(server, ADMIN.0, admin.get(server.at(&path)), &path).await;
    let two = [size, size - 1];
    assert_eq!(data_names(&body), strings(&two));
    check(
        &e,
        &Expect {
            export_from: Some("Access Log"),
            filters: Some(json!({
                "fields": r#"["name","user"]"#,
                "limit_page_length": "2",
                "names": strings(&two)
            })),
            row_count: Some(2),
            method: "GET /api/resource/Access%20Log",
            ..Expect::default()
        },
        &path,
    );

    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log?user=hr%40example.com")),
        "/app/access-log",
    )
    .await;
    let newest_first: Vec<u64> = hr_seqs.iter().rev().copied().collect();
    assert_eq!(page_seqs(&String::from_utf8_lossy(&body)), newest_first);
    check(
        &e,
        &Expect {
            export_from: Some("Access Log"),
            filters: Some(json!({"user": HR.0, "names": strings(&newest_first)})),
            row_count: Some(hr_seqs.len() as u64),
            method: "GET /app/access-log",
            ..Expect::default()
        },
        "/app/access-log",
    );

    for path in [
        format!("/api/access-log/{form_seq}"),
        format!("/api/resource/Access%20Log/{form_seq}"),
        format!("/api/access-log/{form_seq}/proof"),
        format!("/app/access-log/{form_seq}"),
    ] {
        let (_, e, body) = recorded(server, ADMIN.0, admin.get(server.at(&path)), &path).await;
        assert!(
            String::from_utf8_lossy(&body).contains(&form_seq.to_string()),
            "{path}"
        );
        check(
            &e,
            &Expect {
                export_from: Some("Access Log"),
                reference_document: Some(form_seq.to_string()),
                row_count: Some(1),
                ..Expect::default()
            },
            &path,
        );
        assert_eq!(e.method, format!("GET {path}"));
    }
    let (_, e, _) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log/dashboard")),
        "dashboard",
    )
    .await;
    check(
        &e,
        &Expect {
            export_from: Some("Access Log"),
            report_name: Some("Access Log Dashboard"),
            filters: Some(json!({"days": 30, "reads": "show"})),
            method: "GET /app/access-log/dashboard",
            ..Expect::default()
        },
        "dashboard",
    );
    owned.stop().await;
}

// ----- 3. read_names_max -----

async fn read_names_max_records_first_and_last(backend: Backend) {
    let Some(owned) = start(backend, "read_names_max", "", "read_names_max = 2").await else {
        return;
    };
    let server = &owned;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let first = server.store.entry(1).await.unwrap().unwrap().event;
    assert_eq!(
        first.filters.map(|f| f.to_value()),
        Some(json!({
            "before": {"log.reads": "all", "log.read_names_max": 100, "log_reads = false": []},
            "after": {"log.reads": "all", "log.read_names_max": 2, "log_reads = false": []},
        })),
        "the change is recorded"
    );

    // More than two: the first and the last.
    let path = with_query("/api/resource/Employee", &[("order_by", "name asc")]);
    let (_, e, body) = recorded(server, HR.0, hr.get(server.at(&path)), "REST, 4 rows").await;
    assert_eq!(data_names(&body).len(), 4);
    check(
        &e,
        &Expect {
            export_from: Some("Employee"),
            filters: Some(json!({
                "first": "EMP-0040",
                "last": "EMP-0043",
                "order_by": "name asc",
                "limit": 20,
                "start": 0
            })),
            columns: Some(json!(["name"])),
            row_count: Some(4),
            ..Expect::default()
        },
        "REST, 4 rows",
    );
    let (_, e, _) = recorded(
        server,
        HR.0,
        hr.get(server.at("/app/employee")),
        "page, 4 rows",
    )
    .await;
    let f = e.filters.unwrap().to_value();
    assert_eq!(
        (&f["first"], &f["last"], f.get("names")),
        (&json!("EMP-0043"), &json!("EMP-0040"), None),
        "page, 4 rows"
    );
    assert_eq!(e.row_count, Some(4));

    // Two or fewer: every name.
    let path = with_query(
        "/api/resource/Employee",
        &[
            ("filters", r#"{"department":"Sales"}"#),
            ("order_by", "name asc"),
        ],
    );
    let (_, e, _) = recorded(server, HR.0, hr.get(server.at(&path)), "REST, 2 rows").await;
    let f = e.filters.unwrap().to_value();
    assert_eq!(f["names"], json!(["EMP-0040", "EMP-0042"]));
    assert_eq!((f.get("first"), f.get("last")), (None, None));

    // The Access Log's own lists too.
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let size = log_size(server).await;
    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/api/access-log?limit=3")),
        "log, 3 entries",
    )
    .await;
    assert_eq!(data_seqs(&body), [size, size - 1, size - 2]);
    assert_eq!(
        e.filters.unwrap().to_value(),
        json!({"limit": "3", "first": size.to_string(), "last": (size - 2).to_string()})
    );
    owned.stop().await;
}

// ----- 4. who saw EMP-0042? -----

async fn who_saw_a_document(backend: Backend) {
    let Some(owned) = start(backend, "who_saw", "", "").await else {
        return;
    };
    let server = &owned;
    // Names close to EMP-0042's, returned by reads that must not count.
    insert_employees(server, &["EMP-00420", "XEMP-0042"]).await;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let get = |c: &reqwest::Client, path: &str| c.get(server.at(path));
    let rest = |filters: &str| {
        with_query(
            "/api/resource/Employee",
            &[("filters", filters), ("limit_page_length", "0")],
        )
    };

    // Who saw it: hr's form, admin's REST list, hr's list page.
    let (form, ..) = recorded(server, HR.0, get(&hr, "/app/employee/EMP-0042"), "form").await;
    let (rest_list, _, body) = recorded(
        server,
        ADMIN.0,
        get(&admin, &rest(r#"[["department","=","Sales"]]"#)),
        "REST list",
    )
    .await;
    assert!(data_names(&body).contains(&"EMP-0042".to_owned()));
    let (page_list, _, body) = recorded(
        server,
        HR.0,
        get(&hr, "/app/employee?department=Sales"),
        "list page",
    )
    .await;
    assert!(String::from_utf8_lossy(&body).contains("EMP-0042"));

    // Reads that did not return it.
    for (what, user, client, path) in [
        (
            "another form",
            HR.0,
            &hr,
            "/app/employee/EMP-0040".to_owned(),
        ),
        (
            "a list without it",
            HR.0,
            &hr,
            rest(r#"[["department","=","Accounts"]]"#),
        ),
        (
            "a list whose filters name it but that returned nothing",
            ADMIN.0,
            &admin,
            rest(r#"[["name","=","EMP-0042"],["department","=","Accounts"]]"#),
        ),
        (
            "a list of similar names",
            HR.0,
            &hr,
            rest(r#"[["name","in",["EMP-00420","XEMP-0042"]]]"#),
        ),
        (
            "a list page without it",
            HR.0,
            &hr,
            "/app/employee?department=Operations".to_owned(),
        ),
        (
            "the report (which records no names)",
            HR.0,
            &hr,
            format!("{SALARY_REGISTER}?department=Accounts"),
        ),
    ] {
        let (_, _, body) = recorded(server, user, get(client, &path), what).await;
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("\"EMP-0042\"") && !text.contains(">EMP-0042<"),
            "{what}"
        );
    }

    let saw = vec![page_list, rest_list, form];
    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        get(&admin, "/api/access-log?document=EMP-0042"),
        "who saw, API",
    )
    .await;
    assert_eq!(data_seqs(&body), saw, "newest first, exactly those three");
    assert_eq!(
        e.filters.unwrap().to_value(),
        json!({"document": "EMP-0042", "names": strings(&saw)})
    );
    // With another filter.
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        get(
            &admin,
            "/api/access-log?document=EMP-0042&user=hr%40example.com",
        ),
        "who saw, hr only",
    )
    .await;
    assert_eq!(data_seqs(&body), [page_list, form]);

    // The review page says the same, with its counts.
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        get(&admin, "/app/access-log?document=EMP-0042"),
        "who saw, page",
    )
    .await;
    let html = String::from_utf8_lossy(&body);
    assert_eq!(page_seqs(&html), saw, "{html}");
    assert!(
        html.contains(r#"name="document" value="EMP-0042""#),
        "{html}"
    );
    assert!(
        html.contains(">hr@example.com</a> <span class=\"muted\">2</span>")
            && html.contains(">admin@example.com</a> <span class=\"muted\">1</span>"),
        "{html}"
    );
    // A name nobody saw.
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        get(&admin, "/api/access-log?document=EMP-0099"),
        "nobody saw it",
    )
    .await;
    assert_eq!(data_seqs(&body), Vec::<u64>::new());
    owned.stop().await;
}

/// An auditor's search of the log records its parameters beside the entry numbers it
/// returned; one whose parameter holds the document's name did not return the document.
async fn who_saw_is_not_fooled_by_searches_of_the_log(backend: Backend) {
    let Some(owned) = start(backend, "who_saw_searches", "", "").await else {
        return;
    };
    let server = &owned;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let (form, ..) = recorded(
        server,
        HR.0,
        hr.get(server.at("/app/employee/EMP-0042")),
        "form",
    )
    .await;
    // Searches of the log whose parameters name EMP-0042: each returned log entries (the
    // form read), not the employee.
    for path in [
        "/api/access-log?reference_document=EMP-0042",
        "/api/access-log?q=EMP-0042",
        "/app/access-log?reference_document=EMP-0042",
    ] {
        let (_, e, _) = recorded(server, ADMIN.0, admin.get(server.at(path)), path).await;
        assert_eq!(e.row_count, Some(1), "{path}");
    }
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/api/access-log?document=EMP-0042")),
        "who saw",
    )
    .await;
    assert_eq!(
        data_seqs(&body),
        [form],
        "only the form read saw EMP-0042; the searches of the log did not"
    );
    owned.stop().await;
}

/// Names are matched exactly, as the documents' names are: `emp-0042` is another employee.
async fn who_saw_matches_the_name_exactly(backend: Backend) {
    let Some(owned) = start(backend, "who_saw_exact", "", "").await else {
        return;
    };
    let server = &owned;
    insert_employees(server, &["emp-0042"]).await;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let path = with_query(
        "/api/resource/Employee",
        &[("filters", r#"[["name","=","emp-0042"]]"#)],
    );
    let (other, _, body) = recorded(server, HR.0, hr.get(server.at(&path)), "emp-0042").await;
    assert_eq!(data_names(&body), ["emp-0042"]);
    let path = with_query(
        "/api/resource/Employee",
        &[("filters", r#"[["name","=","EMP-0042"]]"#)],
    );
    let (this, _, body) = recorded(server, HR.0, hr.get(server.at(&path)), "EMP-0042").await;
    assert_eq!(data_names(&body), ["EMP-0042"]);
    for (document, expected) in [("EMP-0042", this), ("emp-0042", other)] {
        let (_, _, body) = recorded(
            server,
            ADMIN.0,
            admin.get(server.at(&format!("/api/access-log?document={document}"))),
            document,
        )
        .await;
        assert_eq!(data_seqs(&body), [expected], "who saw {document}");
    }
    owned.stop().await;
}

// ----- 5. read settings -----

/// Checks the log's first entry is the one recording the change of the read settings to
/// `after`, and the only entry written at start; then that recording the same settings
/// again writes nothing.
async fn settings_change_is_recorded(server: &TestServer, after: Value) {
    // The server answers only once the change is recorded: log in first.
    session(server, HR.0, HR.1).await;
    assert_eq!(log_size(server).await, 1, "one entry at start");
    let e = server.store.entry(1).await.unwrap().unwrap().event;
    assert_eq!(
        (e.user.as_str(), e.activity, e.outcome),
        ("system", Activity::Read, Outcome::Granted)
    );
    assert_eq!(e.report_name.as_deref(), Some("Read settings"));
    assert_eq!(e.export_from.as_deref(), Some("Access Log"));
    assert_eq!(
        e.filters.map(|f| f.to_value()),
        Some(json!({
            "before": {"log.reads": "all", "log.read_names_max": 100, "log_reads = false": []},
            "after": after,
        }))
    );
    accesslog_server::record_read_settings(&server.state)
        .await
        .unwrap();
    assert_eq!(
        log_size(server).await,
        1,
        "the same settings again: nothing new"
    );
}

/// Creates SINV-00001 (as accounts; no read recorded when the settings leave it out).
async fn an_invoice(server: &TestServer) {
    crate::common::customers(server, &["Acme"]).await;
    let (accounts, token) = session(server, "accounts@example.com", "accounts").await;
    let r = accounts
        .post(server.at("/api/resource/Sales Invoice"))
        .header("x-frappe-csrf-token", &token)
        .json(&json!({"customer": "Acme", "grand_total": 10, "status": "Unpaid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn reads_off_records_no_reads_but_every_other_egress(backend: Backend) {
    let Some(owned) = start(backend, "reads_off", "", "reads = \"off\"").await else {
        return;
    };
    let server = &owned;
    settings_change_is_recorded(
        server,
        json!({"log.reads": "off", "log.read_names_max": 100, "log_reads = false": []}),
    )
    .await;
    an_invoice(server).await;
    assert_eq!(
        log_size(server).await,
        1,
        "the create's answer is a document read"
    );
    let (hr, token) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let run = "/api/method/frappe.desk.query_report.run";
    let reads: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "REST list",
            hr.get(server.at("/api/resource/Employee?limit_page_length=0")),
        ),
        (
            "REST document",
            hr.get(server.at("/api/resource/Employee/EMP-0042")),
        ),
        ("form page", hr.get(server.at("/app/employee/EMP-0042"))),
        ("list page", hr.get(server.at("/app/employee"))),
        ("report page", hr.get(server.at(SALARY_REGISTER))),
        (
            "report data, GET",
            hr.get(server.at(&with_query(run, &[("report_name", "Salary Register")]))),
        ),
        (
            "report data, POST",
            hr.post(server.at(run))
                .header("x-frappe-csrf-token", &token)
                .form(&[("report_name", "Salary Register")]),
        ),
        ("log, API", admin.get(server.at("/api/access-log"))),
        ("log entry, API", admin.get(server.at("/api/access-log/1"))),
        (
            "log, Frappe",
            admin.get(server.at("/api/resource/Access%20Log")),
        ),
        ("log proof", admin.get(server.at("/api/access-log/1/proof"))),
        ("log page", admin.get(server.at("/app/access-log"))),
        ("log entry page", admin.get(server.at("/app/access-log/1"))),
        (
            "dashboard",
            admin.get(server.at("/app/access-log/dashboard")),
        ),
    ];
    for (what, req) in reads {
        unrecorded(server, req, what).await;
    }
    assert_eq!(log_size(server).await, 1);

    // Prints and exports are recorded as ever.
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales
        .get(server.at("/printview?doctype=Sales%20Invoice&name=SINV-00001&format=Classic"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[SEQ], "2");
    let body = r.bytes().await.unwrap();
    let e = server.store.entry(2).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome, e.reference_document.as_deref()),
        (Activity::Print, Outcome::Granted, Some("SINV-00001"))
    );
    assert_eq!(e.content_sha256.as_deref(), Some(sha256(&body).as_str()));

    let (accounts, token) = session(server, "accounts@example.com", "accounts").await;
    let r = accounts
        .post(server.at("/api/method/frappe.desk.reportview.export_query"))
        .header("x-frappe-csrf-token", &token)
        .form(&[("doctype", "Sales Invoice"), ("file_format_type", "CSV")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[SEQ], "3");
    let body = r.bytes().await.unwrap();
    let e = server.store.entry(3).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome, e.row_count),
        (Activity::Export, Outcome::Granted, Some(1))
    );
    assert_eq!(e.content_sha256.as_deref(), Some(sha256(&body).as_str()));

    // A refused read is a refusal, recorded as ever.
    let r = sales
        .get(server.at("/api/resource/Employee"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.headers()[SEQ], "4");
    let e = server.store.entry(4).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome, e.export_from.as_deref()),
        (Activity::Read, Outcome::Denied, Some("Employee"))
    );
    assert_eq!(log_size(server).await, 4);
    owned.stop().await;
}

async fn reads_lists_records_lists_and_reports_not_documents(backend: Backend) {
    let Some(owned) = start(backend, "reads_lists", "", "reads = \"lists\"").await else {
        return;
    };
    let server = &owned;
    settings_change_is_recorded(
        server,
        json!({"log.reads": "lists", "log.read_names_max": 100, "log_reads = false": []}),
    )
    .await;
    let (hr, token) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let run = "/api/method/frappe.desk.query_report.run";

    let lists: Vec<(&str, &str, reqwest::RequestBuilder, Option<&str>)> = vec![
        (
            "REST list",
            HR.0,
            hr.get(server.at("/api/resource/Employee")),
            Some("Employee"),
        ),
        (
            "list page",
            HR.0,
            hr.get(server.at("/app/employee")),
            Some("Employee"),
        ),
        (
            "report page",
            HR.0,
            hr.get(server.at(SALARY_REGISTER)),
            Some("Employee"),
        ),
        (
            "report data",
            HR.0,
            hr.post(server.at(run))
                .header("x-frappe-csrf-token", &token)
                .form(&[("report_name", "Salary Register")]),
            Some("Employee"),
        ),
        (
            "log, API",
            ADMIN.0,
            admin.get(server.at("/api/access-log")),
            Some("Access Log"),
        ),
        (
            "log page",
            ADMIN.0,
            admin.get(server.at("/app/access-log")),
            Some("Access Log"),
        ),
        (
            "dashboard",
            ADMIN.0,
            admin.get(server.at("/app/access-log/dashboard")),
            Some("Access Log"),
        ),
    ];
    for (what, user, req, export_from) in lists {
        let (_, e, _) = recorded(server, user, req, what).await;
        assert_eq!(e.export_from.as_deref(), export_from, "{what}");
        assert_eq!(e.reference_document, None, "{what}");
    }
    let documents: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "REST document",
            hr.get(server.at("/api/resource/Employee/EMP-0042")),
        ),
        ("form page", hr.get(server.at("/app/employee/EMP-0042"))),
        ("log entry, API", admin.get(server.at("/api/access-log/1"))),
        (
            "log entry, Frappe",
            admin.get(server.at("/api/resource/Access%20Log/1")),
        ),
        ("log proof", admin.get(server.at("/api/access-log/1/proof"))),
        ("log entry page", admin.get(server.at("/app/access-log/1"))),
    ];
    for (what, req) in documents {
        unrecorded(server, req, what).await;
    }
    owned.stop().await;
}

/// With `log.reads = "lists"`, a list of the Access Log is a list however many entries it
/// holds: one that happens to hold a single entry is recorded like any other.
async fn a_short_list_of_the_log_is_still_a_list(backend: Backend) {
    let Some(owned) = start(backend, "reads_lists_short", "", "reads = \"lists\"").await else {
        return;
    };
    let server = &owned;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    // The log holds one entry: the change of the read settings.
    assert_eq!(log_size(server).await, 1);
    let mut unrecorded = Vec::new();
    for path in [
        "/api/access-log",
        "/app/access-log",
        "/api/resource/Access%20Log",
    ] {
        let before = log_size(server).await;
        let r = admin.get(server.at(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        if r.headers().get(SEQ).is_none() || log_size(server).await != before + 1 {
            unrecorded.push(path);
            continue;
        }
        let e = server.store.entry(before + 1).await.unwrap().unwrap().event;
        // Every entry so far is listed: the first list holds the one entry.
        assert_eq!(
            (e.activity, e.row_count, e.reference_document),
            (Activity::Read, Some(before), None),
            "{path}"
        );
    }
    assert_eq!(
        unrecorded,
        Vec::<&str>::new(),
        "lists of one entry left unrecorded"
    );
    owned.stop().await;
}

async fn a_type_with_log_reads_false_is_not_recorded(backend: Backend) {
    let Some(owned) = start(backend, "log_reads_false", "log_reads = false", "").await else {
        return;
    };
    let server = &owned;
    settings_change_is_recorded(
        server,
        json!({"log.reads": "all", "log.read_names_max": 100, "log_reads = false": ["Employee"]}),
    )
    .await;
    let (hr, _) = session(server, HR.0, HR.1).await;
    for (what, path) in [
        ("REST list", "/api/resource/Employee?limit_page_length=0"),
        ("REST document", "/api/resource/Employee/EMP-0042"),
        ("form page", "/app/employee/EMP-0042"),
        ("list page", "/app/employee"),
    ] {
        unrecorded(server, hr.get(server.at(path)), what).await;
    }
    // Other types' reads are recorded.
    an_invoice(server).await;
    let (accounts, _) = session(server, "accounts@example.com", "accounts").await;
    for (what, path, reference) in [
        ("REST list", "/api/resource/Sales%20Invoice", None),
        (
            "REST document",
            "/api/resource/Sales%20Invoice/SINV-00001",
            Some("SINV-00001"),
        ),
        ("list page", "/app/sales-invoice", None),
        (
            "form page",
            "/app/sales-invoice/SINV-00001",
            Some("SINV-00001"),
        ),
    ] {
        let (_, e, _) = recorded(
            server,
            "accounts@example.com",
            accounts.get(server.at(path)),
            what,
        )
        .await;
        assert_eq!(e.export_from.as_deref(), Some("Sales Invoice"), "{what}");
        assert_eq!(e.reference_document.as_deref(), reference, "{what}");
    }
    owned.stop().await;
}

// ----- 6. the dashboard and the activity filter -----

async fn the_dashboard_shows_reads_and_can_hide_them(backend: Backend) {
    let Some(owned) = start(backend, "dashboard_reads", "", "").await else {
        return;
    };
    let server = &owned;
    an_invoice(server).await;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    for path in ["/app/employee", "/app/employee/EMP-0040", SALARY_REGISTER] {
        assert_eq!(hr.get(server.at(path)).send().await.unwrap().status(), 200);
    }
    let r = sales
        .get(server.at("/printview?doctype=Sales%20Invoice&name=SINV-00001&format=Classic"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A refused read and a refused print.
    let r = sales
        .get(server.at("/api/resource/Employee"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = hr
        .get(server.at(&format!("{SALARY_REGISTER}/print")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // What the log holds, counted here.
    let mut reads = 0;
    let mut prints = 0;
    let mut denied = 0;
    let mut denied_reads = 0;
    for seq in 1..=log_size(server).await {
        let e = server.store.entry(seq).await.unwrap().unwrap().event;
        match (e.activity, e.outcome) {
            (Activity::Read, Outcome::Granted) => reads += 1,
            (Activity::Print, Outcome::Granted) => prints += 1,
            (Activity::Read, Outcome::Denied) => {
                denied += 1;
                denied_reads += 1;
            }
            (Activity::ReportPrint, Outcome::Denied) => denied += 1,
            other => panic!("unexpected entry {seq}: {other:?}"),
        }
    }
    // The invoice's answer and hr's three pages; sales' print; hr's refused print and
    // sales' refused read.
    assert_eq!((reads, prints, denied, denied_reads), (4, 1, 2, 1));

    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log/dashboard")),
        "dashboard",
    )
    .await;
    let html = String::from_utf8_lossy(&body);
    for legend in [
        format!("> Reads: {reads}</span>"),
        format!("> Prints: {prints}</span>"),
        "> Exports: 0</span>".to_owned(),
        format!("Denied attempts: {denied}<"),
        "reads</title>".to_owned(),
        ">Hide reads</a>".to_owned(),
        "href=\"/app/access-log/dashboard?reads=hide\"".to_owned(),
    ] {
        assert!(html.contains(&legend), "{legend}: {html}");
    }

    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log/dashboard?reads=hide")),
        "dashboard without reads",
    )
    .await;
    assert_eq!(
        e.filters.unwrap().to_value(),
        json!({"days": 30, "reads": "hide"})
    );
    let html = String::from_utf8_lossy(&body);
    for legend in [
        format!("> Prints: {prints}</span>"),
        format!("Denied attempts: {}<", denied - denied_reads),
        ">Show reads</a>".to_owned(),
    ] {
        assert!(html.contains(&legend), "{legend}: {html}");
    }
    assert!(!html.contains("Reads:"), "{html}");
    assert!(!html.contains("reads</title>"), "{html}");

    // The review filters on `read`.
    let all_reads: Vec<u64> = {
        let mut seqs = Vec::new();
        for seq in (1..=log_size(server).await).rev() {
            let e = server.store.entry(seq).await.unwrap().unwrap();
            if e.event.activity == Activity::Read {
                seqs.push(seq);
            }
        }
        seqs
    };
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/api/access-log?activity=read")),
        "API, activity=read",
    )
    .await;
    assert_eq!(data_seqs(&body), all_reads);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["activity"] == "read")
    );
    let mut all_reads = all_reads;
    all_reads.insert(0, log_size(server).await);
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log?activity=read")),
        "page, activity=read",
    )
    .await;
    let html = String::from_utf8_lossy(&body);
    assert_eq!(page_seqs(&html), all_reads, "{html}");
    assert!(html.contains(r#"<option value="read" selected>"#), "{html}");
    assert!(!html.contains("<td>print</td>"), "{html}");
    owned.stop().await;
}

// ----- 7. report permissions -----

/// A refused request: what it is, the request, and the entry's activity, report name,
/// file type and (part of its) reason.
type Refusal<'a> = (
    &'a str,
    reqwest::RequestBuilder,
    Activity,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
);

async fn report_permissions_are_erpnexts(backend: Backend) {
    let Some(owned) = start(backend, "report_permissions", "", "").await else {
        return;
    };
    let server = &owned;
    let (hr, token) = session(server, HR.0, HR.1).await;
    // hr may run the report (HR User, read on Employee)...
    recorded(
        server,
        HR.0,
        hr.get(server.at(SALARY_REGISTER)),
        "report page",
    )
    .await;

    // ...but not export it, print it, or export the list of its type.
    let export_query = "/api/method/frappe.desk.query_report.export_query";
    let list_export = "/api/method/frappe.desk.reportview.export_query";
    let cases: Vec<Refusal> = vec![
        (
            "report export",
            hr.post(server.at(export_query))
                .header("x-frappe-csrf-token", &token)
                .form(&[
                    ("report_name", "Salary Register"),
                    ("file_format_type", "CSV"),
                ]),
            Activity::Export,
            Some("Salary Register"),
            Some("CSV"),
            "it needs export permission on Employee",
        ),
        (
            "report print",
            hr.get(server.at(&format!("{SALARY_REGISTER}/print"))),
            Activity::ReportPrint,
            Some("Salary Register"),
            Some("HTML"),
            "it needs print permission on Employee",
        ),
        (
            "report PDF",
            hr.get(server.at(&format!("{SALARY_REGISTER}/pdf"))),
            Activity::ReportPrint,
            Some("Salary Register"),
            Some("PDF"),
            "it needs print permission on Employee",
        ),
        (
            "list export",
            hr.post(server.at(list_export))
                .header("x-frappe-csrf-token", &token)
                .form(&[("doctype", "Employee"), ("file_format_type", "CSV")]),
            Activity::Export,
            None,
            Some("CSV"),
            "You do not have permission to export Employee",
        ),
    ];
    for (what, req, activity, report, file_type, reason) in cases {
        let before = log_size(server).await;
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what}");
        let seq: u64 = r.headers()[SEQ].to_str().unwrap().parse().unwrap();
        let body = r.text().await.unwrap();
        assert!(body.contains(reason), "{what}: {body}");
        assert!(!body.contains("Cy Diaz"), "{what}: nothing released");
        assert_eq!(
            (seq, log_size(server).await),
            (before + 1, before + 1),
            "{what}"
        );
        let e = server.store.entry(seq).await.unwrap().unwrap().event;
        assert_eq!(
            (e.activity, e.outcome, e.user.as_str()),
            (activity, Outcome::Denied, HR.0),
            "{what}"
        );
        assert_eq!(e.report_name.as_deref(), report, "{what}");
        assert_eq!(e.file_type.as_deref(), file_type, "{what}");
        assert!(
            e.reason.as_deref().is_some_and(|r| r.contains(reason)),
            "{what}: {:?}",
            e.reason
        );
        assert_eq!((e.byte_count, e.content_sha256), (None, None), "{what}");
        if report.is_none() {
            assert_eq!(e.export_from.as_deref(), Some("Employee"), "{what}");
        }
    }

    // A System Manager may do all three; sales (without the report's role) may not even
    // run it.
    let (admin, admin_token) = session(server, ADMIN.0, ADMIN.1).await;
    let r = admin
        .post(server.at(export_query))
        .header("x-frappe-csrf-token", &admin_token)
        .form(&[
            ("report_name", "Salary Register"),
            ("file_format_type", "CSV"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = admin
        .get(server.at(&format!("{SALARY_REGISTER}/print")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales.get(server.at(SALARY_REGISTER)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("permission to run the report Salary Register")
    );
    owned.stop().await;
}

// ----- 8. verification -----

async fn a_log_of_reads_verifies(backend: Backend) {
    let Some(owned) = start(backend, "reads_verify", "", "read_names_max = 3").await else {
        return;
    };
    let server = &owned;
    let (hr, token) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    for (client, path) in [
        (
            &hr,
            "/api/resource/Employee?fields=%5B%22*%22%5D&limit_page_length=0".to_owned(),
        ),
        (&hr, "/api/resource/Employee/EMP-0041".to_owned()),
        (&hr, "/app/employee".to_owned()),
        (&hr, "/app/employee/EMP-0042".to_owned()),
        (&hr, SALARY_REGISTER.to_owned()),
        (&sales, "/api/resource/Employee".to_owned()),
        (&admin, "/api/access-log".to_owned()),
        (&admin, "/api/access-log/2".to_owned()),
        (&admin, "/app/access-log?document=EMP-0042".to_owned()),
        (&admin, "/app/access-log/3".to_owned()),
        (&admin, "/api/access-log/3/proof".to_owned()),
        (&admin, "/app/access-log/dashboard".to_owned()),
    ] {
        let r = client.get(server.at(&path)).send().await.unwrap();
        assert!(r.headers().get(SEQ).is_some(), "{path}");
    }
    let r = hr
        .post(server.at("/api/method/frappe.desk.query_report.run"))
        .header("x-frappe-csrf-token", &token)
        .form(&[("report_name", "Salary Register")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    server.state.recorder.checkpoint_now().await;
    let size = log_size(server).await;
    assert_eq!(size, 14, "the settings' entry, 12 reads and a refusal");
    let verifier =
        accesslog_core::checkpoint::NoteVerifier::from_verifier_key(&server.state.verifier_key)
            .unwrap();
    let log = std::fs::read_to_string(server.settings.site_dir.join("checkpoints.log")).unwrap();
    let notes: Vec<_> = accesslog_engine::verify::split_checkpoints_log(&log)
        .into_iter()
        .map(|note| accesslog_engine::verify::SignedCheckpoint {
            origin: accesslog_engine::verify::CheckpointOrigin::CheckpointsLog,
            note,
        })
        .collect();
    assert!(!notes.is_empty(), "checkpoints.log has the checkpoint");
    let verified = accesslog_engine::verify::verify(&*server.store, &verifier, notes, |_, _| {})
        .await
        .unwrap_or_else(|e| panic!("a log of reads does not verify: {e}"));
    assert_eq!(verified.entries, size);
    assert!(verified.checkpoints >= 2, "{verified:?}");
    assert_eq!(
        server
            .store
            .latest_checkpoint()
            .await
            .unwrap()
            .unwrap()
            .size,
        size,
        "the last checkpoint covers every read"
    );
    owned.stop().await;
}
