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
use serde_json::Value;

use crate::common::{Backend, TestServer, log_size, on_both_backends, sha256};

on_both_backends!(
    mods: sqlite_with_setup, postgres_with_setup;
    run: crate::common::with_backend;
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
pub(crate) fn hr_site(site: &Path, employee_top: &str, log: &str) {
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

mod lists_and_pages;
mod permissions_and_verify;
mod settings;
mod who_saw;

use lists_and_pages::*;
use permissions_and_verify::*;
use settings::*;
use who_saw::*;
