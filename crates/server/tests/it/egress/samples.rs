//! One sample request per egress route, keyed by the router's (method, path).

use reqwest::Method;
use serde_json::{Value, json};

use super::*;

/// A request: method, path with query, body.
pub(super) struct Req {
    pub(super) method: Method,
    pub(super) url: String,
    pub(super) body: Body,
}

pub(super) enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

impl Req {
    pub(super) fn get(url: String) -> Req {
        Req {
            method: Method::GET,
            url,
            body: Body::None,
        }
    }

    pub(super) fn with(method: Method, url: String, body: Body) -> Req {
        Req { method, url, body }
    }
}

/// Where a route's released bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Released {
    /// The response body.
    Body,
    /// The network printer (the answer is a confirmation).
    Printer,
}

/// Whether a route's released bytes show its target's mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shows {
    Mark,
    /// A PDF, a proof, a checkpoint, the dashboard's sums: the data, but not as text.
    Opaque,
}
pub(super) use Shows::{Mark, Opaque};

/// A sample request for one egress route of the router.
pub(super) struct Sample {
    pub(super) method: Method,
    pub(super) path: &'static str,
    pub(super) needs: Needs,
    /// What the route is tried on (the first in the inventory and the fail-closed test).
    pub(super) targets: &'static [Target],
    pub(super) released: Released,
    /// Whether the released bytes show the target's mark.
    pub(super) shows: Shows,
    pub(super) request: fn(&Fixture, Target) -> Req,
}

pub(super) fn sample(
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
pub(super) fn samples() -> Vec<Sample> {
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
        // ERPNext's Data Export tool.
        sample(
            M::GET,
            "/api/method/frappe.core.doctype.data_export.exporter.export_data",
            Needs::Doc("export"),
            DOCS,
            Mark,
            |_, t| {
                let columns = json!({ t.doctype(): ["*"] }).to_string();
                Req::get(format!(
                    "/api/method/frappe.core.doctype.data_export.exporter.export_data?doctype={}&select_columns={}&file_type=CSV&with_data=1",
                    enc(t.doctype()),
                    enc(&columns)
                ))
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.core.doctype.data_export.exporter.export_data",
            Needs::Doc("export"),
            DOCS,
            Mark,
            |_, t| {
                let form = vec![
                    ("doctype", t.doctype().to_owned()),
                    ("select_columns", json!({ t.doctype(): ["*"] }).to_string()),
                    ("file_type", "CSV".to_owned()),
                    ("with_data", "1".to_owned()),
                ];
                Req::with(
                    M::POST,
                    "/api/method/frappe.core.doctype.data_export.exporter.export_data".to_owned(),
                    Body::Form(form),
                )
            },
        ),
        // The v2 document API.
        sample(
            M::GET,
            "/api/v2/document/{doctype}",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |_, t| {
                Req::get(format!(
                    "/api/v2/document/{}?fields={}",
                    enc(t.doctype()),
                    enc(r#"["*"]"#)
                ))
            },
        ),
        sample(
            M::POST,
            "/api/v2/document/{doctype}",
            Needs::Doc("create"),
            DOCS,
            Mark,
            |_, t| {
                let url = format!("/api/v2/document/{}", enc(t.doctype()));
                Req::with(M::POST, url, Body::Json(new_document(t.doctype())))
            },
        ),
        sample(
            M::GET,
            "/api/v2/document/{doctype}/{name}",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |f, t| {
                Req::get(format!(
                    "/api/v2/document/{}/{}",
                    enc(t.doctype()),
                    enc(f.doc(t))
                ))
            },
        ),
        sample(
            M::PUT,
            "/api/v2/document/{doctype}/{name}",
            Needs::Doc("write"),
            DOCS,
            Mark,
            |f, t| {
                let url = format!("/api/v2/document/{}/{}", enc(t.doctype()), enc(f.doc(t)));
                Req::with(M::PUT, url, Body::Json(change(t.doctype())))
            },
        ),
        sample(
            M::PATCH,
            "/api/v2/document/{doctype}/{name}",
            Needs::Doc("write"),
            DOCS,
            Mark,
            |f, t| {
                let url = format!("/api/v2/document/{}/{}", enc(t.doctype()), enc(f.doc(t)));
                Req::with(M::PATCH, url, Body::Json(change(t.doctype())))
            },
        ),
        // frappe.client: the reads by GET and POST, the writes by POST.
        sample(
            M::GET,
            "/api/method/frappe.client.get_list",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |_, t| {
                Req::get(format!(
                    "/api/method/frappe.client.get_list?doctype={}&fields={}",
                    enc(t.doctype()),
                    enc(r#"["*"]"#)
                ))
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.client.get_list",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |_, t| {
                let form = vec![
                    ("doctype", t.doctype().to_owned()),
                    ("fields", r#"["*"]"#.to_owned()),
                ];
                Req::with(
                    M::POST,
                    "/api/method/frappe.client.get_list".to_owned(),
                    Body::Form(form),
                )
            },
        ),
        sample(
            M::GET,
            "/api/method/frappe.client.get_count",
            Needs::Doc("read"),
            DOCS,
            Opaque,
            |_, t| {
                Req::get(format!(
                    "/api/method/frappe.client.get_count?doctype={}",
                    enc(t.doctype())
                ))
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.client.get_count",
            Needs::Doc("read"),
            DOCS,
            Opaque,
            |_, t| {
                let body = json!({"doctype": t.doctype(), "filters": {}});
                Req::with(
                    M::POST,
                    "/api/method/frappe.client.get_count".to_owned(),
                    Body::Json(body),
                )
            },
        ),
        sample(
            M::GET,
            "/api/method/frappe.client.get",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |f, t| Req::get(format!("/api/method/frappe.client.get?{}", doc_query(f, t))),
        ),
        sample(
            M::POST,
            "/api/method/frappe.client.get",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |f, t| {
                let body = json!({"doctype": t.doctype(), "name": f.doc(t)});
                Req::with(
                    M::POST,
                    "/api/method/frappe.client.get".to_owned(),
                    Body::Json(body),
                )
            },
        ),
        sample(
            M::GET,
            "/api/method/frappe.client.get_value",
            Needs::Doc("read"),
            DOCS,
            Opaque,
            |f, t| {
                Req::get(format!(
                    "/api/method/frappe.client.get_value?doctype={}&fieldname=name&filters={}",
                    enc(t.doctype()),
                    enc(f.doc(t))
                ))
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.client.get_value",
            Needs::Doc("read"),
            DOCS,
            Opaque,
            |f, t| {
                let body = json!({"doctype": t.doctype(), "fieldname": ["name"], "filters": {"name": f.doc(t)}});
                Req::with(
                    M::POST,
                    "/api/method/frappe.client.get_value".to_owned(),
                    Body::Json(body),
                )
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.client.insert",
            Needs::Doc("create"),
            DOCS,
            Mark,
            |_, t| {
                let mut doc = new_document(t.doctype());
                doc["doctype"] = json!(t.doctype());
                Req::with(
                    M::POST,
                    "/api/method/frappe.client.insert".to_owned(),
                    Body::Json(json!({"doc": doc})),
                )
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.client.insert_many",
            Needs::Doc("create"),
            DOCS,
            Opaque,
            |_, t| {
                let mut doc = new_document(t.doctype());
                doc["doctype"] = json!(t.doctype());
                let body = json!({"docs": [doc]});
                Req::with(
                    M::POST,
                    "/api/method/frappe.client.insert_many".to_owned(),
                    Body::Json(body),
                )
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.client.save",
            Needs::Doc("write"),
            DOCS,
            Mark,
            |f, t| {
                let mut doc = change(t.doctype());
                doc["doctype"] = json!(t.doctype());
                doc["name"] = json!(f.doc(t));
                Req::with(
                    M::POST,
                    "/api/method/frappe.client.save".to_owned(),
                    Body::Json(json!({"doc": doc})),
                )
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.client.bulk_update",
            Needs::Doc("write"),
            DOCS,
            Opaque,
            |f, t| {
                let mut doc = change(t.doctype());
                doc["doctype"] = json!(t.doctype());
                doc["name"] = json!(f.doc(t));
                Req::with(
                    M::POST,
                    "/api/method/frappe.client.bulk_update".to_owned(),
                    Body::Json(json!({"docs": [doc]})),
                )
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.client.set_value",
            Needs::Doc("write"),
            DOCS,
            Mark,
            |f, t| {
                let body = json!({"doctype": t.doctype(), "name": f.doc(t), "fieldname": change(t.doctype())});
                Req::with(
                    M::POST,
                    "/api/method/frappe.client.set_value".to_owned(),
                    Body::Json(body),
                )
            },
        ),
        sample(
            M::GET,
            "/api/method/frappe.desk.reportview.get",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |_, t| {
                Req::get(format!(
                    "/api/method/frappe.desk.reportview.get?doctype={}&fields={}",
                    enc(t.doctype()),
                    enc(r#"["*"]"#)
                ))
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.desk.reportview.get",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |_, t| {
                let form = vec![
                    ("doctype", t.doctype().to_owned()),
                    ("fields", r#"["*"]"#.to_owned()),
                ];
                Req::with(
                    M::POST,
                    "/api/method/frappe.desk.reportview.get".to_owned(),
                    Body::Form(form),
                )
            },
        ),
        sample(
            M::GET,
            "/api/method/frappe.desk.reportview.get_list",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |_, t| {
                Req::get(format!(
                    "/api/method/frappe.desk.reportview.get_list?doctype={}&fields={}",
                    enc(t.doctype()),
                    enc(r#"["*"]"#)
                ))
            },
        ),
        sample(
            M::POST,
            "/api/method/frappe.desk.reportview.get_list",
            Needs::Doc("read"),
            DOCS,
            Mark,
            |_, t| {
                let body =
                    json!({"doctype": t.doctype(), "fields": ["*"], "start": 0, "page_length": 20});
                Req::with(
                    M::POST,
                    "/api/method/frappe.desk.reportview.get_list".to_owned(),
                    Body::Json(body),
                )
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
            "/private/files/{*file_name}",
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
        // No entry of the fixture is archived: the list is empty, but read and recorded.
        sample(
            M::GET,
            "/app/access-log/archived",
            SystemManager,
            log,
            Opaque,
            |_, _| Req::get(format!("/app/access-log/archived?user={}", enc(LOG_USER))),
        ),
        sample(
            M::GET,
            "/api/access-log/archived",
            SystemManager,
            log,
            Opaque,
            |_, _| Req::get(format!("/api/access-log/archived?user={}", enc(LOG_USER))),
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
        // The alert inbox (the seeded alerts are on LOG_USER, their arithmetic marked).
        sample(
            M::GET,
            "/app/access-log/alerts",
            SystemManager,
            log,
            Opaque,
            |_, _| {
                Req::get(format!(
                    "/app/access-log/alerts?state=all&user={}",
                    enc(LOG_USER)
                ))
            },
        ),
        sample(
            M::GET,
            "/app/access-log/alerts/{id}",
            SystemManager,
            log,
            Mark,
            |f, _| Req::get(format!("/app/access-log/alerts/{}", f.alerts[0])),
        ),
        sample(
            M::GET,
            "/api/access-log/alerts",
            SystemManager,
            log,
            Opaque,
            |_, _| {
                Req::get(format!(
                    "/api/access-log/alerts?state=all&user={}",
                    enc(LOG_USER)
                ))
            },
        ),
        sample(
            M::GET,
            "/api/access-log/alerts/{id}",
            SystemManager,
            log,
            Mark,
            |f, _| Req::get(format!("/api/access-log/alerts/{}", f.alerts[0])),
        ),
        sample(
            M::POST,
            "/api/access-log/alerts/{id}/{action}",
            SystemManager,
            log,
            Mark,
            |f, _| {
                let url = format!("/api/access-log/alerts/{}/acknowledge", f.alerts[0]);
                Req::with(M::POST, url, Body::Form(vec![]))
            },
        ),
    ]
}

/// `Sales Invoice` → `sales-invoice`, as the desk's URLs.
pub(super) fn slug(doctype: &str) -> String {
    doctype.to_lowercase().replace(' ', "-")
}

/// Percent-encodes everything but unreserved characters.
pub(super) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) fn doc_query(f: &Fixture, t: Target) -> String {
    format!("doctype={}&name={}", enc(t.doctype()), enc(f.doc(t)))
}

pub(super) fn report_export_url(report: &str) -> String {
    format!(
        "/api/method/frappe.desk.query_report.export_query?report_name={}&file_format_type=CSV",
        enc(report)
    )
}

/// A new document of `doctype` that shows its type's mark; customers get a fresh name each.
pub(super) fn new_document(doctype: &str) -> Value {
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
pub(super) fn change(doctype: &str) -> Value {
    match doctype {
        EMPLOYEE => json!({"ctc": 60000}),
        CUSTOMER => json!({"territory": "South"}),
        SALES_INVOICE => json!({"status": "Paid"}),
        GL_ENTRY => json!({"remarks": "checked"}),
        other => panic!("no change for {other}"),
    }
}
