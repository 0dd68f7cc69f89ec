//! The egress surface, route by route, from the router's own table
//! (`accesslog_server::routes(state).table()`):
//!
//! - every route is declared egress or exempt, and the exempt ones are held to [`EXEMPT`];
//! - every egress route has a sample request in [`samples`], and answering it leaves the
//!   entry its `x-access-log-seq` names, in the caller's name, with the route's activity;
//! - the authorization matrix: every demo user × every egress route × every target the
//!   route takes, expected allowed or 403 by ERPNext's rules over [`PERMISSIONS`] and
//!   [`REPORTS`] (themselves checked against the site's files); allowed cells' entries
//!   match the bytes received, refused cells are denied on record and release nothing;
//! - cross-site requests, bad input, an oversized User-Agent;
//! - fail-closed: with the log cut off, every egress route answers 503 and releases nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use accesslog_core::entry::{Activity, Entry, Event, Outcome};
use accesslog_server::RouteKind;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::{Mutex, mpsc};

use crate::common::{
    Backend, TestServer, USERS, log_size, on_both_backends_with_setup, session, sha256,
};

on_both_backends_with_setup!(
    every_route_is_declared_and_every_egress_route_is_recorded,
    the_authorization_matrix_holds_for_every_egress_route,
    cross_site_requests_for_an_export_are_refused_and_recorded,
    bad_input_is_refused_with_400_naming_it_and_recorded,
    an_oversized_user_agent_is_stored_cut_and_marked,
    every_egress_route_fails_closed_when_the_log_is_cut_off,
    a_cross_site_post_for_an_export_is_refused_and_recorded,
    an_over_long_query_parameter_is_refused_with_400_and_recorded,
);

// ---------------------------------------------------------------------------------------
// The site: its permissions and reports, and the data every test starts with.
// ---------------------------------------------------------------------------------------

const SYSTEM_MANAGER: &str = "System Manager";
const EMPLOYEE: &str = "Employee";
const CUSTOMER: &str = "Customer";
const SALES_INVOICE: &str = "Sales Invoice";
const GL_ENTRY: &str = "GL Entry";

/// The test site's permissions (`tests/it/site/*.toml`), by type and role; System Managers
/// may do everything. [`the_permission_table_is_the_test_sites`] keeps it equal to the files.
const PERMISSIONS: &[(&str, &str, &[&str])] = &[
    (CUSTOMER, "Accounts User", &["read"]),
    (CUSTOMER, "Sales User", &["create", "print", "read"]),
    (EMPLOYEE, "HR User", &["create", "read"]),
    (
        GL_ENTRY,
        "Accounts User",
        &["export", "print", "read", "report"],
    ),
    (
        SALES_INVOICE,
        "Accounts User",
        &["create", "export", "print", "read", "write"],
    ),
    (SALES_INVOICE, "Sales User", &["create", "print", "read"]),
];

const GENERAL_LEDGER: &str = "General Ledger";
const SALES_REGISTER: &str = "Sales Register";
const CUSTOMER_DIRECTORY: &str = "Customer Directory";

/// The reports of the test site: (name, ref_doctype, roles). The first two are the demo's
/// (as `common.rs` copies them); the third is added here so that a role of the report
/// without the permission on its type is in the matrix (Sales User may read and print
/// customers but not export them; HR User has the role and no permission at all).
const REPORTS: &[(&str, &str, &[&str])] = &[
    (GENERAL_LEDGER, GL_ENTRY, &["Accounts User"]),
    (SALES_REGISTER, SALES_INVOICE, &["Accounts User"]),
    (CUSTOMER_DIRECTORY, CUSTOMER, &["HR User", "Sales User"]),
];

const CUSTOMER_DIRECTORY_TOML: &str = r#"
name = "Customer Directory"
ref_doctype = "Customer"
roles = ["Sales User", "HR User"]
query = """
SELECT name AS customer, customer_group, territory FROM tab_customer
WHERE (:territory IS NULL OR territory = :territory)
ORDER BY name
"""

[[filters]]
fieldname = "territory"
label = "Territory"
fieldtype = "data"

[[columns]]
fieldname = "customer"
label = "Customer"
fieldtype = "link"
width = 30

[[columns]]
fieldname = "customer_group"
label = "Customer Group"
fieldtype = "data"
width = 14

[[columns]]
fieldname = "territory"
label = "Territory"
fieldtype = "data"
width = 14
"#;

/// Words that appear only in the seeded data and in no refusal: a body that holds one
/// released that data. (A customer is named by its `customer_name`, so [`CUSTOMER_MARK`]
/// is also in the URLs of the customer; no answer repeats a URL.)
const EMPLOYEE_MARK: &str = "Wombat";
const CUSTOMER_MARK: &str = "Quokka";
const INVOICE_MARK: &str = "Numbat";
const LEDGER_MARK: &str = "Bilby";
const EMPLOYEE_FILE_MARK: &str = "Platypus";
const INVOICE_FILE_MARK: &str = "Echidna";
const BACKUP_MARK: &str = "Dingo";
const LOG_MARK: &str = "Kookaburra";

/// The customer's name (Customer is named by `customer_name`).
const CUSTOMER_NAME: &str = "Quokka Customer Marker";
const BACKUP: &str = "backup-20260101-000000.sqlite3";
/// The user of the one log entry that carries [`LOG_MARK`], which log reads filter on.
const LOG_USER: &str = "log-marker@example.com";
const PRINTER: &str = "dock";

/// What a request acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// The seeded document of this type.
    Doc(&'static str),
    Report(&'static str),
    /// The private file attached to the seeded document of this type.
    File(&'static str),
    Backup,
    Log,
}
use Target::{Backup, Doc, File, Log, Report};

impl Target {
    fn doctype(self) -> &'static str {
        match self {
            Doc(d) | File(d) => d,
            other => panic!("{other:?} is not a document"),
        }
    }

    fn report(self) -> &'static str {
        match self {
            Report(r) => r,
            other => panic!("{other:?} is not a report"),
        }
    }

    /// The word that shows this target's data.
    fn mark(self) -> &'static str {
        match self {
            Doc(EMPLOYEE) => EMPLOYEE_MARK,
            Doc(CUSTOMER) | Report(CUSTOMER_DIRECTORY) => CUSTOMER_MARK,
            Doc(SALES_INVOICE) | Report(SALES_REGISTER) => INVOICE_MARK,
            Doc(GL_ENTRY) | Report(GENERAL_LEDGER) => LEDGER_MARK,
            File(EMPLOYEE) => EMPLOYEE_FILE_MARK,
            File(SALES_INVOICE) => INVOICE_FILE_MARK,
            Backup => BACKUP_MARK,
            Log => LOG_MARK,
            other => panic!("no data seeded for {other:?}"),
        }
    }
}

const DOCS: &[Target] = &[
    Doc(EMPLOYEE),
    Doc(CUSTOMER),
    Doc(SALES_INVOICE),
    Doc(GL_ENTRY),
];
const ALL_REPORTS: &[Target] = &[
    Report(GENERAL_LEDGER),
    Report(SALES_REGISTER),
    Report(CUSTOMER_DIRECTORY),
];
const FILES: &[Target] = &[File(EMPLOYEE), File(SALES_INVOICE)];

// ---------------------------------------------------------------------------------------
// The rules: what each route needs, and who has it.
// ---------------------------------------------------------------------------------------

/// What a route needs of the caller, on its target, by ERPNext's rules.
#[derive(Clone, Copy, Debug)]
enum Needs {
    /// This permission on the target's type.
    Doc(&'static str),
    /// A role of the report, and on its ref_doctype `report` or `read` (the page and its
    /// data), `print` (prints) or `export` (exports).
    Report(ReportUse),
    /// `read` on the type the file is attached to.
    FileRead,
    /// Backups and the Access Log.
    SystemManager,
}

#[derive(Clone, Copy, Debug)]
enum ReportUse {
    View,
    Print,
    Export,
}

fn may(role: &str, doctype: &str, permission: &str) -> bool {
    role == SYSTEM_MANAGER
        || PERMISSIONS
            .iter()
            .any(|(d, r, p)| *d == doctype && *r == role && p.contains(&permission))
}

/// Whether `role` may use a route that `needs` this on `target`.
fn allowed(role: &str, needs: Needs, target: Target) -> bool {
    match needs {
        Needs::Doc(permission) => may(role, target.doctype(), permission),
        Needs::FileRead => may(role, target.doctype(), "read"),
        Needs::SystemManager => role == SYSTEM_MANAGER,
        Needs::Report(use_) => {
            let (_, ref_doctype, roles) = REPORTS
                .iter()
                .find(|(name, _, _)| *name == target.report())
                .expect("a report of REPORTS");
            let has_role = role == SYSTEM_MANAGER || roles.contains(&role);
            has_role
                && match use_ {
                    ReportUse::View => {
                        may(role, ref_doctype, "report") || may(role, ref_doctype, "read")
                    }
                    ReportUse::Print => may(role, ref_doctype, "print"),
                    ReportUse::Export => may(role, ref_doctype, "export"),
                }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The sample requests: one table, keyed by the router's (method, path).
// ---------------------------------------------------------------------------------------

/// A request: method, path with query, body.
struct Req {
    method: Method,
    url: String,
    body: Body,
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

impl Req {
    fn get(url: String) -> Req {
        Req {
            method: Method::GET,
            url,
            body: Body::None,
        }
    }

    fn with(method: Method, url: String, body: Body) -> Req {
        Req { method, url, body }
    }
}

/// Where a route's released bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Released {
    /// The response body.
    Body,
    /// The network printer (the answer is a confirmation).
    Printer,
}

/// Whether a route's released bytes show its target's mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shows {
    Mark,
    /// A PDF, a proof, a checkpoint, the dashboard's sums: the data, but not as text.
    Opaque,
}
use Shows::{Mark, Opaque};

/// A sample request for one egress route of the router.
struct Sample {
    method: Method,
    path: &'static str,
    needs: Needs,
    /// What the route is tried on (the first in the inventory and the fail-closed test).
    targets: &'static [Target],
    released: Released,
    /// Whether the released bytes show the target's mark.
    shows: Shows,
    request: fn(&Fixture, Target) -> Req,
}

fn sample(
    method: Method,
    path: &'static str,
    needs: Needs,
    targets: &'static [Target],
    shows: Shows,
    request: fn(&Fixture, Target) -> Req,
) -> Sample {
    Sample {
        method,
        path,
        needs,
        targets,
        released: Released::Body,
        shows,
        request,
    }
}

/// Every egress route's sample request.
fn samples() -> Vec<Sample> {
    use Method as M;
    use Needs::{FileRead, SystemManager};
    let view = Needs::Report(ReportUse::View);
    let print = Needs::Report(ReportUse::Print);
    let export = Needs::Report(ReportUse::Export);
    let sales_invoice: &'static [Target] = &[Doc(SALES_INVOICE)];
    let log: &'static [Target] = &[Log];
    vec![
        // Records.
        sample(
            M::GET,
            "/app/{doctype}",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |_, t| Req::get(format!("/app/{}", slug(t.doctype()))),
        ),
        sample(
            M::GET,
            "/app/{doctype}/{name}",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |f, t| Req::get(format!("/app/{}/{}", slug(t.doctype()), enc(f.doc(t)))),
        ),
        sample(
            M::GET,
            "/api/resource/{doctype}",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |_, t| {
                Req::get(format!(
                    "/api/resource/{}?fields={}",
                    enc(t.doctype()),
                    enc(r#"["*"]"#)
                ))
            },
        ),
        sample(
            M::POST,
            "/api/resource/{doctype}",
            Needs::Doc("create"),
            DOCS,
            Mark,
            |_, t| {
                let url = format!("/api/resource/{}", enc(t.doctype()));
                Req::with(M::POST, url, Body::Json(new_document(t.doctype())))
            },
        ),
        sample(
            M::GET,
            "/api/resource/{doctype}/{name}",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |f, t| {
                Req::get(format!(
                    "/api/resource/{}/{}",
                    enc(t.doctype()),
                    enc(f.doc(t))
                ))
            },
        ),
        sample(
            M::PUT,
            "/api/resource/{doctype}/{name}",
            Needs::Doc("write"),
            DOCS,
            Mark,
            |f, t| {
                let url = format!("/api/resource/{}/{}", enc(t.doctype()), enc(f.doc(t)));
                Req::with(M::PUT, url, Body::Json(change(t.doctype())))
            },
        ),
        sample(
            M::GET,
            "/api/resource/File",
            FileRead,
            FILES,
            Mark,
            |f, t| {
                let filters = json!({"attached_to_doctype": t.doctype(), "attached_to_name": f.doc(Doc(t.doctype()))});
                Req::get(format!(
                    "/api/resource/File?filters={}",
                    enc(&filters.to_string())
                ))
            },
        ),
        // Prints.
        sample(
            M::GET,
            "/printview",
            Needs::Doc("print"),
            DOCS,
            Mark,
            |f, t| Req::get(format!("/printview?{}&format=Standard", doc_query(f, t))),
        ),
        sample(
            M::GET,
            "/api/method/frappe.utils.print_format.download_pdf",
            Needs::Doc("print"),
            DOCS,
            Opaque,
            |f, t| {
                Req::get(format!(
                    "/api/method/frappe.utils.print_format.download_pdf?{}",
                    doc_query(f, t)
                ))
            },
        ),
        sample(
            M::GET,
            "/api/raw-print",
            Needs::Doc("print"),
            sales_invoice,
            Mark,
            |f, t| {
                Req::get(format!(
                    "/api/raw-print?{}&format=Shipping%20Label",
                    doc_query(f, t)
                ))
            },
        ),
        Sample {
            released: Released::Printer,
            ..sample(
                M::POST,
                "/api/raw-print",
                Needs::Doc("print"),
                sales_invoice,
                Mark,
                |f, t| {
                    let body = json!({"doctype": t.doctype(), "name": f.doc(t), "format": "Shipping Label", "printer": PRINTER});
                    Req::with(M::POST, "/api/raw-print".to_owned(), Body::Json(body))
                },
            )
        },
        // Reports.
        sample(
            M::GET,
            "/app/query-report/{name}",
            view,
            ALL_REPORTS,
            Mark,
            |_, t| Req::get(format!("/app/query-report/{}", enc(t.report()))),
        ),
        sample(
            M::GET,
            "/api/method/frappe.desk.query_report.run",
            view,
            ALL_REPORTS,
            Mark,
            |_, t| {
                Req::get(format!(
                    "/api/method/frappe.desk.query_report.run?report_name={}",
                    enc(t.report())
                ))
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.desk.query_report.run",
            view,
            ALL_REPORTS,
            Mark,
            |_, t| {
                let url = "/api/method/frappe.desk.query_report.run".to_owned();
                Req::with(
                    M::POST,
                    url,
                    Body::Json(json!({"report_name": t.report(), "filters": {}})),
                )
            },
        ),
        sample(
            M::GET,
            "/app/query-report/{name}/print",
            print,
            ALL_REPORTS,
            Mark,
            |_, t| Req::get(format!("/app/query-report/{}/print", enc(t.report()))),
        ),
        sample(
            M::GET,
            "/app/query-report/{name}/pdf",
            print,
            ALL_REPORTS,
            Opaque,
            |_, t| Req::get(format!("/app/query-report/{}/pdf", enc(t.report()))),
        ),
        sample(
            M::GET,
            "/api/method/frappe.desk.query_report.export_query",
            export,
            ALL_REPORTS,
            Mark,
            |_, t| Req::get(report_export_url(t.report())),
        ),
        sample(
            M::POST,
            "/api/method/frappe.desk.query_report.export_query",
            export,
            ALL_REPORTS,
            Mark,
            |_, t| {
                let url = "/api/method/frappe.desk.query_report.export_query".to_owned();
                let form = vec![
                    ("report_name", t.report().to_owned()),
                    ("file_format_type", "CSV".to_owned()),
                ];
                Req::with(M::POST, url, Body::Form(form))
            },
        ),
        sample(
            M::GET,
            "/api/method/frappe.desk.reportview.export_query",
            Needs::Doc("export"),
            DOCS,
            Mark,
            |_, t| {
                Req::get(format!(
                    "/api/method/frappe.desk.reportview.export_query?doctype={}&file_format_type=CSV",
                    enc(t.doctype())
                ))
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.desk.reportview.export_query",
            Needs::Doc("export"),
            DOCS,
            Mark,
            |_, t| {
                let url = "/api/method/frappe.desk.reportview.export_query".to_owned();
                let form = vec![
                    ("doctype", t.doctype().to_owned()),
                    ("file_format_type", "CSV".to_owned()),
                ];
                Req::with(M::POST, url, Body::Form(form))
            },
        ),
        // Files and backups.
        sample(
            M::GET,
            "/private/files/{file_name}",
            FileRead,
            FILES,
            Mark,
            |f, t| Req::get(format!("/private/files/{}", enc(&f.file(t).file_name))),
        ),
        sample(M::GET, "/api/file/{id}", FileRead, FILES, Mark, |f, t| {
            Req::get(format!("/api/file/{}", enc(&f.file(t).id)))
        }),
        sample(
            M::GET,
            "/app/backups/{file}",
            SystemManager,
            &[Backup],
            Mark,
            |_, _| Req::get(format!("/app/backups/{BACKUP}")),
        ),
        // The Access Log itself.
        sample(
            M::GET,
            "/app/access-log",
            SystemManager,
            log,
            Mark,
            |_, _| Req::get(format!("/app/access-log?user={}", enc(LOG_USER))),
        ),
        sample(
            M::GET,
            "/app/access-log/dashboard",
            SystemManager,
            log,
            Opaque,
            |_, _| Req::get("/app/access-log/dashboard".to_owned()),
        ),
        sample(
            M::GET,
            "/app/access-log/{seq}",
            SystemManager,
            log,
            Mark,
            |f, _| Req::get(format!("/app/access-log/{}", f.log_seq)),
        ),
        sample(
            M::GET,
            "/app/access-log/export",
            SystemManager,
            log,
            Mark,
            |_, _| {
                Req::get(format!(
                    "/app/access-log/export?format=csv&user={}",
                    enc(LOG_USER)
                ))
            },
        ),
        sample(
            M::GET,
            "/api/access-log",
            SystemManager,
            log,
            Mark,
            |_, _| Req::get(format!("/api/access-log?user={}", enc(LOG_USER))),
        ),
        sample(
            M::GET,
            "/api/access-log/{seq}",
            SystemManager,
            log,
            Mark,
            |f, _| Req::get(format!("/api/access-log/{}", f.log_seq)),
        ),
        sample(
            M::GET,
            "/api/access-log/checkpoint",
            SystemManager,
            log,
            Opaque,
            |_, _| Req::get("/api/access-log/checkpoint".to_owned()),
        ),
        sample(
            M::GET,
            "/api/access-log/consistency",
            SystemManager,
            log,
            Opaque,
            |f, _| {
                Req::get(format!(
                    "/api/access-log/consistency?first=1&second={}",
                    f.log_seq
                ))
            },
        ),
        sample(
            M::GET,
            "/api/access-log/{seq}/proof",
            SystemManager,
            log,
            Opaque,
            |f, _| {
                Req::get(format!(
                    "/api/access-log/{}/proof?tree_size={}",
                    f.log_seq, f.log_seq
                ))
            },
        ),
    ]
}

/// `Sales Invoice` → `sales-invoice`, as the desk's URLs.
fn slug(doctype: &str) -> String {
    doctype.to_lowercase().replace(' ', "-")
}

/// Percent-encodes everything but unreserved characters.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn doc_query(f: &Fixture, t: Target) -> String {
    format!("doctype={}&name={}", enc(t.doctype()), enc(f.doc(t)))
}

fn report_export_url(report: &str) -> String {
    format!(
        "/api/method/frappe.desk.query_report.export_query?report_name={}&file_format_type=CSV",
        enc(report)
    )
}

/// A new document of `doctype` that shows its type's mark; customers get a fresh name each.
fn new_document(doctype: &str) -> Value {
    static CUSTOMERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    match doctype {
        EMPLOYEE => {
            json!({"employee_name": format!("{EMPLOYEE_MARK} Employee Marker"), "ctc": 50000})
        }
        CUSTOMER => {
            let n = CUSTOMERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            json!({"customer_name": format!("{CUSTOMER_NAME} {n}"), "territory": "North"})
        }
        SALES_INVOICE => json!({
            "customer": format!("{INVOICE_MARK} Invoice Marker"),
            "posting_date": "2026-11-02",
            "status": "Unpaid",
            "grand_total": 99.5,
            "items": [{"item_code": "WIDGET", "qty": 1, "rate": 99.5, "amount": 99.5}]
        }),
        GL_ENTRY => json!({
            "posting_date": "2026-11-02",
            "account": "Debtors",
            "party": format!("{LEDGER_MARK} Ledger Marker"),
            "debit": 99.5,
            "credit": 0
        }),
        other => panic!("no sample document of {other}"),
    }
}

/// A change to a document that keeps its mark.
fn change(doctype: &str) -> Value {
    match doctype {
        EMPLOYEE => json!({"ctc": 60000}),
        CUSTOMER => json!({"territory": "South"}),
        SALES_INVOICE => json!({"status": "Paid"}),
        GL_ENTRY => json!({"remarks": "checked"}),
        other => panic!("no change for {other}"),
    }
}

// ---------------------------------------------------------------------------------------
// The fixture: a server with a printer, the seeded data, and the four users logged in.
// ---------------------------------------------------------------------------------------

struct Caller {
    email: &'static str,
    role: &'static str,
    client: reqwest::Client,
    token: String,
}

struct SeededFile {
    id: String,
    file_name: String,
}

struct Fixture {
    server: TestServer,
    printer: Printer,
    callers: Vec<Caller>,
    /// The seeded document of each type, by type.
    docs: BTreeMap<&'static str, String>,
    /// The private file attached to the seeded document of each type, by type.
    files: BTreeMap<&'static str, SeededFile>,
    /// The one entry that carries [`LOG_MARK`].
    log_seq: u64,
}

impl Fixture {
    async fn start(backend: Backend, case: &str) -> Option<Fixture> {
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
        };
        f.seed().await;
        Some(f)
    }

    /// One document of each type (created by the System Manager), a private file on the
    /// employee and on the invoice, an entry carrying [`LOG_MARK`], and a checkpoint.
    async fn seed(&mut self) {
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
        self.server.state.recorder.checkpoint_now().await;
    }

    fn doc(&self, t: Target) -> &str {
        &self.docs[t.doctype()]
    }

    fn file(&self, t: Target) -> &SeededFile {
        &self.files[t.doctype()]
    }

    fn admin(&self) -> &Caller {
        self.caller(SYSTEM_MANAGER)
    }

    fn caller(&self, role: &str) -> &Caller {
        self.callers.iter().find(|c| c.role == role).unwrap()
    }

    /// Sends `req` as `caller` (with the session's CSRF token on anything but GET), with
    /// `headers` besides.
    async fn send_with(&self, caller: &Caller, req: &Req, headers: &[(&str, &str)]) -> Answer {
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

    async fn send(&self, caller: &Caller, req: &Req) -> Answer {
        self.send_with(caller, req, &[]).await
    }

    async fn entry(&self, seq: u64) -> Entry {
        self.server
            .store
            .entry(seq)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no entry {seq}"))
    }

    async fn stop(self) {
        self.printer.task.abort();
        self.server.stop().await;
    }
}

/// What came back.
struct Answer {
    status: StatusCode,
    seq: Option<u64>,
    attachment: bool,
    body: Vec<u8>,
}

impl Answer {
    async fn of(r: reqwest::Response) -> Answer {
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

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The JSON error's message.
    fn message(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not a JSON error: {}", self.text()));
        v["message"].as_str().unwrap_or_default().to_owned()
    }

    fn shows(&self, mark: &str) -> bool {
        contains(&self.body, mark)
    }
}

fn contains(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(f, "{text}").unwrap();
}

/// A network printer: every connection is a job, whose bytes arrive on `jobs`.
struct Printer {
    port: u16,
    jobs: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Printer {
    fn start() -> Printer {
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
    async fn job(&self, wait: Duration) -> Option<Vec<u8>> {
        let mut jobs = self.jobs.lock().await;
        tokio::time::timeout(wait, jobs.recv()).await.ok().flatten()
    }
}

/// A route of the router: (method, path).
type RouteKey = (String, String);

/// The router's own table: egress routes with their activities, exempt ones with why.
struct RouteTable {
    egress: BTreeMap<RouteKey, Activity>,
    exempt: BTreeMap<RouteKey, &'static str>,
}

fn route_table(server: &TestServer) -> RouteTable {
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

fn key_of(s: &Sample) -> RouteKey {
    (s.method.to_string(), s.path.to_owned())
}

/// Every text in an event (roles included), for checks that hold for all of them.
fn texts(e: &Event) -> Vec<String> {
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

// ---------------------------------------------------------------------------------------
// 1. The inventory.
// ---------------------------------------------------------------------------------------

/// Why an exempt route carries no record data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exempt {
    Health,
    Login,
    /// Public by nature: public files, the log's public key.
    StaticOrPublic,
    /// A page (or an upload's answer) with no record data in it.
    NoRecordData,
}

/// Every exempt route of the router. A new exempt route fails the inventory until it is
/// added here, with its category, on purpose.
const EXEMPT: &[(&str, &str, Exempt)] = &[
    ("GET", "/", Exempt::Login),
    ("POST", "/", Exempt::Login),
    ("GET", "/login", Exempt::Login),
    ("POST", "/login", Exempt::Login),
    ("POST", "/logout", Exempt::Login),
    ("POST", "/api/method/login", Exempt::Login),
    ("GET", "/api/method/logout", Exempt::Login),
    ("POST", "/api/method/logout", Exempt::Login),
    (
        "GET",
        "/api/method/frappe.auth.get_logged_user",
        Exempt::Login,
    ),
    ("GET", "/api/health", Exempt::Health),
    ("GET", "/api/access-log/public-key", Exempt::StaticOrPublic),
    ("GET", "/files/{file_name}", Exempt::StaticOrPublic),
    ("GET", "/app", Exempt::NoRecordData),
    ("GET", "/app/query-report", Exempt::NoRecordData),
    ("GET", "/app/backups", Exempt::NoRecordData),
    ("POST", "/api/method/upload_file", Exempt::NoRecordData),
];

async fn every_route_is_declared_and_every_egress_route_is_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_inventory").await else {
        return;
    };
    let RouteTable { egress, exempt } = route_table(&f.server);

    // Exempt routes: each with a reason, each on the list.
    for (key, reason) in &exempt {
        assert!(
            !reason.trim().is_empty(),
            "{key:?} is exempt without a reason"
        );
    }
    let listed: BTreeSet<RouteKey> = EXEMPT
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let declared: BTreeSet<RouteKey> = exempt.keys().cloned().collect();
    assert_eq!(
        declared.difference(&listed).collect::<Vec<_>>(),
        Vec::<&RouteKey>::new(),
        "exempt routes missing from EXEMPT: is each one really free of record data?"
    );
    assert_eq!(
        listed.difference(&declared).collect::<Vec<_>>(),
        Vec::<&RouteKey>::new(),
        "EXEMPT lists routes the router does not declare exempt"
    );

    // Egress routes: each has exactly one sample, and each sample is an egress route.
    let samples = samples();
    let sampled: BTreeSet<RouteKey> = samples.iter().map(key_of).collect();
    assert_eq!(sampled.len(), samples.len(), "a route has two samples");
    let routes: BTreeSet<RouteKey> = egress.keys().cloned().collect();
    assert_eq!(
        routes.difference(&sampled).collect::<Vec<_>>(),
        Vec::<&RouteKey>::new(),
        "egress routes without a sample request"
    );
    assert_eq!(
        sampled.difference(&routes).collect::<Vec<_>>(),
        Vec::<&RouteKey>::new(),
        "samples of routes the router does not declare egress"
    );

    // Each sample, as the System Manager: one new entry, named by the answer, in the
    // caller's name, with the route's activity.
    let admin = f.admin();
    for s in &samples {
        let key = key_of(s);
        let target = s.targets[0];
        let req = (s.request)(&f, target);
        let before = log_size(&f.server).await;
        let a = f.send(admin, &req).await;
        assert_eq!(a.status, StatusCode::OK, "{key:?}: {}", a.text());
        let seq = a
            .seq
            .unwrap_or_else(|| panic!("{key:?}: no x-access-log-seq"));
        assert_eq!(log_size(&f.server).await, before + 1, "{key:?}: one entry");
        let e = f.entry(seq).await.event;
        assert_eq!(
            (e.user.as_str(), e.activity, e.outcome),
            (admin.email, egress[&key], Outcome::Granted),
            "{key:?}"
        );
        // The route as requested (a network print adds the printer after it).
        let path = req.url.split('?').next().unwrap();
        let route = format!("{} {path}", req.method);
        assert!(
            e.method == route || e.method.starts_with(&format!("{route} to printer")),
            "{key:?}: {}",
            e.method
        );
        if s.shows == Mark {
            let released = match s.released {
                Released::Body => a.body,
                Released::Printer => f.printer.job(Duration::from_secs(5)).await.unwrap(),
            };
            assert!(
                contains(&released, target.mark()),
                "{key:?}: the sample does not release the {target:?} data"
            );
        }
    }
    f.stop().await;
}

// ---------------------------------------------------------------------------------------
// 2. The authorization matrix.
// ---------------------------------------------------------------------------------------

/// One cell: a user, a route, a target, and what must happen.
struct Cell<'a> {
    caller: &'a Caller,
    sample: &'a Sample,
    target: Target,
    allowed: bool,
}

/// Every user × every egress route × every target the route takes.
fn matrix<'a>(f: &'a Fixture, samples: &'a [Sample]) -> Vec<Cell<'a>> {
    let mut cells = Vec::new();
    for sample in samples {
        for &target in sample.targets {
            for caller in &f.callers {
                cells.push(Cell {
                    caller,
                    sample,
                    target,
                    allowed: allowed(caller.role, sample.needs, target),
                });
            }
        }
    }
    cells
}

#[test]
fn the_permission_table_is_the_test_sites() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/site");
    let mut from_files: Vec<(String, String, Vec<String>)> = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let doctype: toml::Table = toml::from_str(&text).unwrap();
        let name = doctype["name"].as_str().unwrap();
        let Some(permissions) = doctype.get("permissions").and_then(|p| p.as_table()) else {
            continue;
        };
        for (role, granted) in permissions {
            let mut actions: Vec<String> = granted
                .as_table()
                .unwrap()
                .iter()
                .filter(|(_, v)| v.as_bool() == Some(true))
                .map(|(k, _)| k.clone())
                .collect();
            actions.sort();
            from_files.push((name.to_owned(), role.clone(), actions));
        }
    }
    from_files.sort();
    let table: Vec<(String, String, Vec<String>)> = PERMISSIONS
        .iter()
        .map(|(d, r, a)| {
            let actions = a.iter().map(|s| (*s).to_owned()).collect();
            ((*d).to_owned(), (*r).to_owned(), actions)
        })
        .collect();
    assert_eq!(table, from_files, "PERMISSIONS is not the test site's");

    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/src/demo/reports");
    for (name, file) in [
        (GENERAL_LEDGER, format!("{demo}/general_ledger.toml")),
        (SALES_REGISTER, format!("{demo}/sales_register.toml")),
        (CUSTOMER_DIRECTORY, String::new()),
    ] {
        let text = if file.is_empty() {
            CUSTOMER_DIRECTORY_TOML.to_owned()
        } else {
            std::fs::read_to_string(&file).unwrap()
        };
        let report: toml::Table = toml::from_str(&text).unwrap();
        let mut roles: Vec<&str> = report["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        roles.sort_unstable();
        let (_, ref_doctype, listed) = REPORTS.iter().find(|(n, _, _)| *n == name).unwrap();
        assert_eq!(report["name"].as_str(), Some(name));
        assert_eq!(report["ref_doctype"].as_str(), Some(*ref_doctype), "{name}");
        assert_eq!(roles, listed.to_vec(), "{name}");
    }
}

async fn the_authorization_matrix_holds_for_every_egress_route(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_matrix").await else {
        return;
    };
    let egress = route_table(&f.server).egress;
    let samples = samples();
    let cells = matrix(&f, &samples);

    // Every route is tried by someone who may and by someone who may not.
    for s in &samples {
        let mine = cells.iter().filter(|c| std::ptr::eq(c.sample, s));
        let (yes, no): (Vec<_>, Vec<_>) = mine.partition(|c| c.allowed);
        assert!(
            !yes.is_empty() && !no.is_empty(),
            "{:?}: {} allowed and {} refused cells",
            key_of(s),
            yes.len(),
            no.len()
        );
    }

    let mut failures = Vec::new();
    for cell in &cells {
        if let Err(why) = check_cell(&f, cell, egress[&key_of(cell.sample)]).await {
            failures.push(format!(
                "{} {} on {:?} as {} (expected {}): {why}",
                cell.sample.method,
                cell.sample.path,
                cell.target,
                cell.caller.role,
                if cell.allowed { "allowed" } else { "403" }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cells failed:\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n")
    );
    f.stop().await;
}

/// `Err` says how the cell went wrong.
async fn check_cell(f: &Fixture, cell: &Cell<'_>, activity: Activity) -> Result<(), String> {
    let req = (cell.sample.request)(f, cell.target);
    let a = f.send(cell.caller, &req).await;
    let expected = if cell.allowed {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    if a.status != expected {
        return Err(format!("answered {}: {}", a.status, cut(&a.text())));
    }
    let seq = a.seq.ok_or("no x-access-log-seq")?;
    let e = f.entry(seq).await.event;
    let outcome = if cell.allowed {
        Outcome::Granted
    } else {
        Outcome::Denied
    };
    if (e.user.as_str(), e.activity, e.outcome) != (cell.caller.email, activity, outcome) {
        return Err(format!(
            "entry {seq} says {} {:?} {:?}",
            e.user, e.activity, e.outcome
        ));
    }
    let mark = cell.target.mark();
    let to_printer = cell.sample.released == Released::Printer;
    if cell.allowed {
        let released = if to_printer {
            f.printer
                .job(Duration::from_secs(5))
                .await
                .ok_or("nothing reached the printer")?
        } else {
            a.body
        };
        if e.byte_count != Some(released.len() as u64) {
            return Err(format!(
                "entry {seq} says {:?} bytes; {} were released",
                e.byte_count,
                released.len()
            ));
        }
        if e.content_sha256.as_deref() != Some(sha256(&released).as_str()) {
            return Err(format!("entry {seq}'s SHA-256 is not the released bytes'"));
        }
        if cell.sample.shows == Mark && !contains(&released, mark) {
            return Err(format!("the released bytes do not show {mark}"));
        }
    } else {
        if e.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(format!("denied entry {seq} has no reason"));
        }
        if a.shows(mark) || a.attachment {
            return Err(format!("the refusal released data: {}", cut(&a.text())));
        }
        if to_printer && let Some(job) = f.printer.job(Duration::from_millis(300)).await {
            return Err(format!("{} bytes reached the printer", job.len()));
        }
    }
    Ok(())
}

fn cut(text: &str) -> String {
    text.chars().take(300).collect()
}

// ---------------------------------------------------------------------------------------
// 3. Cross-site requests.
// ---------------------------------------------------------------------------------------

async fn cross_site_requests_for_an_export_are_refused_and_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_cross_site").await else {
        return;
    };
    let accounts = f.caller("Accounts User");
    let export = Req::get(report_export_url(GENERAL_LEDGER));
    let same_host = format!("http://{}", f.server.addr);

    for headers in [
        [("sec-fetch-site", "cross-site")].as_slice(),
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        // A browser on this site that says so still may not be asked by another.
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "same-site"),
        ],
    ] {
        let before = log_size(&f.server).await;
        let a = f.send_with(accounts, &export, headers).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(!a.shows(LEDGER_MARK) && !a.attachment, "{headers:?}");
        assert_eq!(log_size(&f.server).await, before + 1, "{headers:?}");
        let e = f.entry(a.seq.unwrap()).await.event;
        assert_eq!(
            (e.user.as_str(), e.activity, e.outcome),
            ("accounts@example.com", Activity::Export, Outcome::Denied),
            "{headers:?}"
        );
        let reason = e.reason.unwrap_or_default();
        assert!(
            reason.to_lowercase().contains("cross-site"),
            "{headers:?}: {reason}"
        );
    }

    // From this site (as a browser says it), or with no such headers (as scripts send).
    for headers in [
        [("sec-fetch-site", "same-origin")].as_slice(),
        &[("origin", same_host.as_str())],
        &[],
    ] {
        let a = f.send_with(accounts, &export, headers).await;
        assert_eq!(a.status, StatusCode::OK, "{headers:?}: {}", a.text());
        assert!(a.shows(LEDGER_MARK));
        let e = f.entry(a.seq.unwrap()).await.event;
        assert_eq!(
            (e.activity, e.outcome),
            (Activity::Export, Outcome::Granted)
        );
        assert_eq!(e.content_sha256.as_deref(), Some(sha256(&a.body).as_str()));
    }
    f.stop().await;
}

/// The same for a POST, which the desk's export button sends: the session's CSRF check
/// refuses it, and the refusal must be on record like the GET's.
async fn a_cross_site_post_for_an_export_is_refused_and_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_cross_site_post").await else {
        return;
    };
    let accounts = f.caller("Accounts User");
    let form = vec![
        ("report_name", GENERAL_LEDGER.to_owned()),
        ("file_format_type", "CSV".to_owned()),
    ];
    let export = Req::with(
        Method::POST,
        "/api/method/frappe.desk.query_report.export_query".to_owned(),
        Body::Form(form),
    );
    let before = log_size(&f.server).await;
    let a = f
        .send_with(accounts, &export, &[("origin", "https://evil.example")])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(!a.shows(LEDGER_MARK) && !a.attachment);
    assert_eq!(
        log_size(&f.server).await,
        before + 1,
        "the refusal is recorded"
    );
    let e = f.entry(a.seq.expect("x-access-log-seq")).await.event;
    assert_eq!(
        (e.user.as_str(), e.activity, e.outcome),
        ("accounts@example.com", Activity::Export, Outcome::Denied)
    );
    f.stop().await;
}

// ---------------------------------------------------------------------------------------
// 4. Bad input.
// ---------------------------------------------------------------------------------------

async fn bad_input_is_refused_with_400_naming_it_and_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_bad_input").await else {
        return;
    };
    let cases = [
        (
            "HR User",
            "/printview?doctype=Employee&name=EMP-0001&format=%00".to_owned(),
            "`format`",
            Activity::Print,
        ),
        (
            "HR User",
            "/private/files/%00x".to_owned(),
            "path segment 3",
            Activity::FileDownload,
        ),
        (
            SYSTEM_MANAGER,
            "/app/backups/x%00".to_owned(),
            "path segment 3",
            Activity::BackupDownload,
        ),
        (
            "HR User",
            "/api/resource/Employee?filters=%FF".to_owned(),
            "`filters`",
            Activity::Read,
        ),
    ];
    for (role, url, names, activity) in cases {
        check_bad_input(&f, role, &url, names, activity).await;
    }
    f.stop().await;
}

/// `url`, sent by `role`, is answered 400 with a message that `names` the bad parameter,
/// and a denied entry without a NUL in any field.
async fn check_bad_input(f: &Fixture, role: &str, url: &str, names: &str, activity: Activity) {
    let caller = f.caller(role);
    let shown: String = url.chars().take(80).collect();
    let before = log_size(&f.server).await;
    let a = f.send(caller, &Req::get(url.to_owned())).await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "{shown}: {}",
        cut(&a.text())
    );
    let message = a.message();
    assert!(message.contains(names), "{shown}: {message}");
    assert_eq!(log_size(&f.server).await, before + 1, "{shown}");
    let e = f.entry(a.seq.expect("x-access-log-seq")).await.event;
    assert_eq!(
        (e.user.as_str(), e.activity, e.outcome),
        (caller.email, activity, Outcome::Denied),
        "{shown}"
    );
    assert!(
        e.reason.as_deref().unwrap_or("").contains(names),
        "{shown}: {e:?}"
    );
    for text in texts(&e) {
        assert!(!text.contains('\0'), "{shown}: a NUL in {text:?}");
    }
}

/// A query parameter over the guard's 16 KiB (`egress::MAX_PARAM`) is refused as the others
/// are: 400 naming it, and a denied entry. Sent byte for byte, as a client would send it.
async fn an_over_long_query_parameter_is_refused_with_400_and_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_long_param").await else {
        return;
    };
    let key = accesslog_server::accounts::create_api_key(
        &*f.server.store,
        &*f.server.clock,
        "hr@example.com",
        "long parameter",
        &[],
    )
    .await
    .unwrap();
    let path = format!("/api/resource/Employee?filters={}", "a".repeat(20 * 1024));
    let before = log_size(&f.server).await;
    let (status, body) = raw_get(
        &f.server,
        &path,
        &format!("token {}:{}", key.api_key, key.api_secret),
    )
    .await;
    assert_eq!(status, Some(400), "answered: {}", cut(&body));
    assert!(body.contains("`filters`"), "{}", cut(&body));
    assert_eq!(
        log_size(&f.server).await,
        before + 1,
        "the refusal is recorded"
    );
    let e = f.entry(before + 1).await.event;
    assert_eq!(
        (e.user.as_str(), e.activity, e.outcome),
        ("hr@example.com", Activity::Read, Outcome::Denied)
    );
    f.stop().await;
}

/// A GET sent byte for byte with this `Authorization`: the status (`None` when the server
/// closed the connection without one) and the rest of the answer.
async fn raw_get(server: &TestServer, path: &str, authorization: &str) -> (Option<u16>, String) {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    // The server may answer and close before it has read the whole request.
    let _ = s.write_all(req.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    (status, text)
}

// ---------------------------------------------------------------------------------------
// 5. An oversized User-Agent.
// ---------------------------------------------------------------------------------------

async fn an_oversized_user_agent_is_stored_cut_and_marked(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_user_agent").await else {
        return;
    };
    let agent: String = "Mozilla/5.0 (X11; Linux) "
        .chars()
        .chain((0..).map(|i: u32| char::from(b'a' + (i % 26) as u8)))
        .take(300 * 1024)
        .collect();
    let print = Req::get(format!(
        "/printview?{}&format=Standard",
        doc_query(&f, Doc(SALES_INVOICE))
    ));
    let a = f
        .send_with(f.caller("Sales User"), &print, &[("user-agent", &agent)])
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", cut(&a.text()));
    let e = f.entry(a.seq.unwrap()).await.event;
    assert_eq!((e.activity, e.outcome), (Activity::Print, Outcome::Granted));
    let stored = e.user_agent.unwrap();
    assert!(stored.len() <= 512, "{} bytes stored", stored.len());
    let mark = format!("…[cut: 307200 bytes, sha256 {}]", sha256(agent.as_bytes()));
    assert!(stored.ends_with(&mark), "{stored}");
    let kept = stored.strip_suffix(&mark).unwrap();
    assert!(
        !kept.is_empty() && agent.starts_with(kept),
        "the start of the User-Agent is kept: {kept:?}"
    );
    f.stop().await;
}

// ---------------------------------------------------------------------------------------
// 6. Fail-closed.
// ---------------------------------------------------------------------------------------

async fn every_egress_route_fails_closed_when_the_log_is_cut_off(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_fail_closed").await else {
        return;
    };
    let samples = samples();
    f.server.cut_off_log().await;
    let size = log_size(&f.server).await;
    for s in &samples {
        let key = key_of(s);
        let target = s.targets[0];
        // The least privileged user who may (the System Manager only where no other may).
        let caller = f
            .callers
            .iter()
            .rev()
            .find(|c| allowed(c.role, s.needs, target))
            .unwrap();
        let a = f.send(caller, &(s.request)(&f, target)).await;
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{key:?} as {}: {}",
            caller.role,
            cut(&a.text())
        );
        assert!(a.seq.is_none() && !a.attachment, "{key:?}");
        assert!(!a.shows(target.mark()), "{key:?}: {}", a.text());
        assert!(
            a.message().contains("the Access Log could not record it"),
            "{key:?}: {}",
            a.text()
        );
        if s.released == Released::Printer {
            // The printer was connected to, then left without a byte.
            let job = f.printer.job(Duration::from_secs(5)).await;
            assert_eq!(job.map(|j| j.len()), Some(0), "{key:?}");
        }
    }
    assert_eq!(log_size(&f.server).await, size, "nothing was recorded");
    f.stop().await;
}
