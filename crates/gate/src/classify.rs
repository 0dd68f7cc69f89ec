//! What a request to a Frappe site asks for, as far as the Access Log is concerned: one
//! of ERPNext's egress routes (frappe-http.md §6 and §8), a write to ERPNext's own Access
//! Log, a logout, or anything else (passed through).
//!
//! Frappe dispatches a `cmd` parameter (query, form or JSON body) before it looks at the
//! path, on any path, so `cmd` is read first; then `/api/method/<m>` (v1, v2), then the
//! paths. A method name ends at its first `/`, as in Frappe.
//!
//! It needs no web framework (the fuzz target `gate_request` compiles it in by path).

use accesslog_core::entry::{Activity, file_type_of};
use http::Method;
use serde_json::{Map, Value};

/// ERPNext's own Access Log document type.
pub const ACCESS_LOG: &str = "Access Log";

/// The request's parameters: the query string, then the form or JSON body (which wins).
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn from_query(query: &str) -> Self {
        let mut p = Params::default();
        p.add_urlencoded(query.as_bytes());
        p
    }

    pub fn add_urlencoded(&mut self, body: &[u8]) {
        self.0.extend(
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default(),
        );
    }

    /// A JSON object's members: strings as they are, anything else as its JSON text (as
    /// Frappe hands them on). A JSON array becomes `data`.
    pub fn add_json(&mut self, body: &[u8]) {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => {
                for (k, v) in map {
                    let text = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    self.0.push((k, text));
                }
            }
            Ok(array @ Value::Array(_)) => self.0.push(("data".into(), array.to_string())),
            _ => {}
        }
    }

    pub fn push(&mut self, key: String, value: String) {
        self.0.push((key, value));
    }

    /// The last value given for `key` (a body's value beats the query's).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// What the gate does with a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// Not record data leaving: passed through, not recorded.
    Pass,
    /// A logout: passed through, and the credential forgotten.
    Logout,
    /// A write or delete of the upstream's Access Log: refused (when so configured).
    LogWrite(String),
    /// Record data leaving: recorded before release.
    Egress(Egress),
}

/// What an egress entry says, from the request; the response adds its size, hash, rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Egress {
    pub activity: Activity,
    /// For reads: a list or report (`true`) or one document.
    pub list: bool,
    /// `GET /printview`, `POST / cmd=frappe.desk.query_report.export_query`, …
    pub method: String,
    pub export_from: Option<String>,
    pub reference_document: Option<String>,
    pub report_name: Option<String>,
    pub print_format: Option<String>,
    pub file_type: Option<String>,
    /// The request's parameters that say what was asked for, as a JSON object.
    pub filters: Map<String, Value>,
    pub columns: Option<Value>,
    /// The rendered raw-print commands are in the answer (`message.raw_commands`).
    pub raw_commands: bool,
}

impl Egress {
    pub(crate) fn new(activity: Activity, method: String) -> Self {
        Egress {
            activity,
            list: false,
            method,
            export_from: None,
            reference_document: None,
            report_name: None,
            print_format: None,
            file_type: None,
            filters: Map::new(),
            columns: None,
            raw_commands: false,
        }
    }

    /// Keeps `keys` (separated by spaces) of `params` in the entry's filters, each parsed
    /// as JSON where it is JSON (Frappe's filters and fields travel as JSON text), else as
    /// text.
    fn keep(&mut self, params: &Params, keys: &str) {
        for key in keys.split_whitespace() {
            if let Some(v) = params.get(key) {
                self.filters.insert(key.to_owned(), json_or_text(v));
            }
        }
    }
}

fn json_or_text(v: &str) -> Value {
    match serde_json::from_str::<Value>(v) {
        Ok(parsed @ (Value::Object(_) | Value::Array(_))) => parsed,
        _ => Value::String(v.to_owned()),
    }
}

/// `CSV`, `Excel` (ERPNext's word) → `CSV`, `XLSX`.
fn export_type(asked: Option<&str>) -> String {
    match asked.map(str::to_ascii_lowercase).as_deref() {
        Some("excel" | "xlsx") => "XLSX".to_owned(),
        Some("csv") | None => "CSV".to_owned(),
        Some(other) => other.to_ascii_uppercase(),
    }
}

/// Methods that read record data and never write it (a call naming the Access Log to any
/// other method is a write).
const READ_METHODS: [&str; 11] = [
    "frappe.client.get_list",
    "frappe.client.get",
    "frappe.client.get_value",
    "frappe.client.get_single_value",
    "frappe.client.get_count",
    "frappe.desk.reportview.get",
    "frappe.desk.reportview.get_list",
    "frappe.desk.reportview.get_count",
    "frappe.desk.reportview.export_query",
    "frappe.desk.form.load.getdoc",
    "frappe.desk.form.load.getdoctype",
];

const MAKE_ACCESS_LOG: &str = "frappe.core.doctype.access_log.access_log.make_access_log";

const LOGOUT_METHODS: [&str; 4] = [
    "logout",
    "frappe.handler.logout",
    "web_logout",
    "frappe.handler.web_logout",
];

/// Percent-decodes a path segment (`Access%20Log`); `+` stays `+` in a path.
fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Classifies a request from its method, its (raw) path and its parameters.
pub fn classify(method: &Method, path: &str, params: &Params) -> Route {
    if let Some(cmd) = params.get("cmd") {
        let name = cmd.split('/').next().unwrap_or(cmd);
        let label = format!("{method} {path} cmd={name}");
        return by_method(name, label, params);
    }
    for prefix in ["/api/method/", "/api/v1/method/", "/api/v2/method/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let name = decode(rest.split('/').next().unwrap_or(rest));
            let label = format!("{method} {prefix}{name}");
            return by_method(&name, label, params);
        }
    }
    let label = format!("{method} {path}");
    let reading = *method == Method::GET || *method == Method::POST && !path.starts_with("/api/");
    // A print page, a file or a backup is egress when read (GET, or a form's POST); any
    // other method on them matches nothing below and passes.
    if reading {
        if path == "/printview" || path == "/print" {
            let mut e = Egress::new(Activity::Print, label);
            e.export_from = params.get("doctype").map(str::to_owned);
            e.reference_document = params.get("name").map(str::to_owned);
            e.print_format = params.get("format").map(str::to_owned);
            e.file_type = Some("HTML".to_owned());
            e.keep(params, "no_letterhead letterhead settings _lang");
            return Route::Egress(e);
        }
        if let Some(file) = path.strip_prefix("/private/files/") {
            let name = decode(file);
            let mut e = Egress::new(Activity::FileDownload, label);
            e.export_from = Some("File".to_owned());
            e.file_type = file_type_of(&name);
            e.reference_document = Some(format!("/private/files/{name}"));
            return Route::Egress(e);
        }
        if let Some(file) = path.strip_prefix("/backups/") {
            let name = decode(file);
            let mut e = Egress::new(Activity::BackupDownload, label);
            e.file_type = file_type_of(&name);
            e.reference_document = Some(name);
            return Route::Egress(e);
        }
    }
    for prefix in ["/api/resource/", "/api/v1/resource/", "/api/v2/document/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return resource(method, label, rest, params);
        }
    }
    Route::Pass
}

/// `/api/resource/{doctype}[/{name}]` and v2's `/api/v2/document/…`.
fn resource(method: &Method, label: String, rest: &str, params: &Params) -> Route {
    let rest = rest.trim_end_matches('/');
    let mut parts = rest.splitn(2, '/');
    let doctype = decode(parts.next().unwrap_or_default());
    let name = parts
        .next()
        .map(|n| decode(n.split("/method/").next().unwrap_or(n)));
    if doctype.is_empty() {
        return Route::Pass;
    }
    if *method != Method::GET && *method != Method::HEAD {
        if doctype == ACCESS_LOG {
            return Route::LogWrite(label);
        }
        return Route::Pass;
    }
    if *method == Method::HEAD {
        return Route::Pass;
    }
    let mut e = Egress::new(Activity::Read, label);
    e.export_from = Some(doctype);
    match name {
        Some(name) => e.reference_document = Some(name),
        None => {
            e.list = true;
            e.keep(
                params,
                "filters or_filters order_by group_by limit_start limit_page_length limit parent",
            );
            e.columns = params.get("fields").map(json_or_text);
        }
    }
    Route::Egress(e)
}

/// Whether `params` name ERPNext's Access Log: `doctype`, or a `doc`/`docs` whose
/// `doctype` it is.
fn names_access_log(params: &Params) -> bool {
    if params.get("doctype") == Some(ACCESS_LOG) {
        return true;
    }
    let is_log = |v: &Value| v.get("doctype").and_then(Value::as_str) == Some(ACCESS_LOG);
    ["doc", "docs", "data"].iter().any(|key| {
        match params
            .get(key)
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
        {
            Some(Value::Array(items)) => items.iter().any(is_log),
            Some(v) => is_log(&v),
            None => false,
        }
    })
}

fn by_method(name: &str, label: String, params: &Params) -> Route {
    if name == MAKE_ACCESS_LOG {
        return Route::LogWrite(label);
    }
    if LOGOUT_METHODS.contains(&name) {
        return Route::Logout;
    }
    let p = |k: &str| params.get(k).map(str::to_owned);
    let route = match name {
        "frappe.utils.print_format.download_pdf"
        | "frappe.templates.pages.print.download_pdf"
        | "frappe.utils.print_format.download_multi_pdf" => {
            let mut e = Egress::new(Activity::Print, label);
            e.export_from = p("doctype");
            e.reference_document = p("name");
            e.print_format = p("format");
            e.file_type = Some("PDF".to_owned());
            e.keep(params, "no_letterhead letterhead language");
            e
        }
        "frappe.utils.print_format.report_to_pdf" => {
            let mut e = Egress::new(Activity::ReportPrint, label);
            e.file_type = Some("PDF".to_owned());
            e.report_name = p("report_name").or_else(|| p("title"));
            e.keep(params, "orientation");
            e
        }
        "frappe.desk.query_report.export_query" => {
            let mut e = Egress::new(Activity::Export, label);
            e.report_name = p("report_name");
            e.file_type = Some(export_type(params.get("file_format_type")));
            e.keep(
                params,
                "filters applied_filters visible_idx include_indentation include_filters \
                 csv_delimiter csv_quoting",
            );
            e.columns = params.get("custom_columns").map(json_or_text);
            e
        }
        "frappe.desk.reportview.export_query" => {
            let mut e = Egress::new(Activity::Export, label);
            e.export_from = p("doctype");
            e.file_type = Some(export_type(params.get("file_format_type")));
            e.keep(
                params,
                "title filters order_by selected_items add_totals_row start page_length",
            );
            e.columns = params.get("fields").map(json_or_text);
            e
        }
        "frappe.core.doctype.data_export.exporter.export_data" => {
            let mut e = Egress::new(Activity::Export, label);
            e.export_from = p("doctype");
            e.file_type = Some(export_type(params.get("file_type")));
            e.keep(
                params,
                "parent_doctype all_doctypes with_data template filters",
            );
            e.columns = params.get("select_columns").map(json_or_text);
            e
        }
        "frappe.www.printview.get_rendered_raw_commands"
        | "frappe.www.printview.get_html_and_style" => {
            let raw = name.ends_with("raw_commands");
            let mut e = Egress::new(
                if raw {
                    Activity::RawPrint
                } else {
                    Activity::Print
                },
                label,
            );
            // `doc` is the document type when `name` is given, else the document as JSON.
            match (p("doc"), p("name")) {
                (Some(doctype), Some(name)) => {
                    e.export_from = Some(doctype);
                    e.reference_document = Some(name);
                }
                (Some(doc), None) => {
                    let v = serde_json::from_str::<Value>(&doc).unwrap_or(Value::Null);
                    e.export_from = v.get("doctype").and_then(Value::as_str).map(str::to_owned);
                    e.reference_document = v.get("name").and_then(Value::as_str).map(str::to_owned);
                }
                _ => {}
            }
            e.print_format = p("print_format");
            e.file_type = Some(if raw { "RAW" } else { "HTML" }.to_owned());
            e.raw_commands = raw;
            e
        }
        "download_file" | "frappe.core.doctype.file.file.download_file" => {
            let mut e = Egress::new(Activity::FileDownload, label);
            e.export_from = Some("File".to_owned());
            e.reference_document = p("file_url");
            e.file_type = params.get("file_url").and_then(file_type_of);
            e
        }
        "frappe.desk.query_report.run" => {
            let mut e = Egress::new(Activity::Read, label);
            e.list = true;
            e.report_name = p("report_name");
            e.keep(params, "filters custom_columns is_tree parent_field");
            e
        }
        "frappe.desk.reportview.get"
        | "frappe.desk.reportview.get_list"
        | "frappe.client.get_list" => {
            let mut e = Egress::new(Activity::Read, label);
            e.list = true;
            e.export_from = p("doctype");
            e.keep(
                params,
                "filters or_filters order_by group_by start page_length limit_start limit_page_length parent",
            );
            e.columns = params.get("fields").map(json_or_text);
            e
        }
        "frappe.client.get"
        | "frappe.client.get_value"
        | "frappe.client.get_single_value"
        | "frappe.desk.form.load.getdoc" => {
            let mut e = Egress::new(Activity::Read, label);
            e.export_from = p("doctype");
            e.reference_document = p("name");
            e.keep(params, "filters fieldname field");
            e
        }
        _ if !READ_METHODS.contains(&name) && names_access_log(params) => {
            return Route::LogWrite(label);
        }
        _ => return Route::Pass,
    };
    Route::Egress(route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get(path_and_query: &str) -> Route {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        classify(&Method::GET, path, &Params::from_query(query))
    }

    fn post(path: &str, form: &str) -> Route {
        let mut params = Params::default();
        params.add_urlencoded(form.as_bytes());
        classify(&Method::POST, path, &params)
    }

    fn egress(route: Route) -> Egress {
        match route {
            Route::Egress(e) => e,
            other => panic!("not egress: {other:?}"),
        }
    }

    #[test]
    fn each_egress_route_of_frappe_is_known() {
        let e = egress(get(
            "/printview?doctype=Sales%20Invoice&name=SINV-1&format=Standard",
        ));
        assert_eq!(
            (
                e.activity,
                e.export_from.as_deref(),
                e.reference_document.as_deref()
            ),
            (Activity::Print, Some("Sales Invoice"), Some("SINV-1"))
        );
        assert_eq!(
            egress(get("/print?doctype=X&name=1")).activity,
            Activity::Print
        );
        let e = egress(get(
            "/api/method/frappe.utils.print_format.download_pdf?doctype=X&name=1&format=F",
        ));
        assert_eq!(
            (
                e.activity,
                e.file_type.as_deref(),
                e.print_format.as_deref()
            ),
            (Activity::Print, Some("PDF"), Some("F"))
        );
        assert_eq!(
            egress(get(
                "/api/method/frappe.templates.pages.print.download_pdf?doctype=X&name=1"
            ))
            .activity,
            Activity::Print
        );
        let e = egress(post(
            "/",
            "cmd=frappe.desk.query_report.export_query&report_name=General%20Ledger&file_format_type=Excel&filters=%7B%22company%22%3A%22A%22%7D&csrf_token=t",
        ));
        assert_eq!(
            (e.activity, e.report_name.as_deref(), e.file_type.as_deref()),
            (Activity::Export, Some("General Ledger"), Some("XLSX"))
        );
        assert_eq!(e.filters["filters"], json!({"company": "A"}));
        assert!(
            e.method
                .contains("cmd=frappe.desk.query_report.export_query"),
            "{}",
            e.method
        );
        let e = egress(post(
            "/",
            "cmd=frappe.desk.reportview.export_query&doctype=Employee&file_format_type=CSV&fields=%5B%22name%22%5D",
        ));
        assert_eq!(
            (e.activity, e.export_from.as_deref(), e.columns.clone()),
            (Activity::Export, Some("Employee"), Some(json!(["name"])))
        );
        let e = egress(post(
            "/api/method/frappe.core.doctype.data_export.exporter.export_data",
            "doctype=Customer&file_type=CSV",
        ));
        assert_eq!(
            (e.activity, e.export_from.as_deref()),
            (Activity::Export, Some("Customer"))
        );
        let e = egress(get("/private/files/salaries%202026.xlsx"));
        assert_eq!(
            (
                e.activity,
                e.reference_document.as_deref(),
                e.file_type.as_deref()
            ),
            (
                Activity::FileDownload,
                Some("/private/files/salaries 2026.xlsx"),
                Some("xlsx")
            )
        );
        assert_eq!(
            egress(get("/backups/20260101_site.sql.gz")).activity,
            Activity::BackupDownload
        );
        let e = egress(post(
            "/api/method/frappe.www.printview.get_rendered_raw_commands",
            "doc=Sales%20Invoice&name=SINV-1&print_format=Label",
        ));
        assert!(e.raw_commands);
        assert_eq!(
            (e.activity, e.reference_document.as_deref()),
            (Activity::RawPrint, Some("SINV-1"))
        );
        let e = egress(get(
            "/api/method/frappe.desk.query_report.run?report_name=GL&filters=%7B%7D",
        ));
        assert_eq!((e.activity, e.list), (Activity::Read, true));
        let e = egress(get(
            "/api/resource/Employee?fields=%5B%22*%22%5D&limit_page_length=0",
        ));
        assert_eq!(
            (e.activity, e.list, e.export_from.as_deref()),
            (Activity::Read, true, Some("Employee"))
        );
        let e = egress(get("/api/resource/Employee/HR-EMP-0001"));
        assert_eq!(
            (e.list, e.reference_document.as_deref()),
            (false, Some("HR-EMP-0001"))
        );
        assert_eq!(
            egress(get("/api/v2/document/Employee/E1")).activity,
            Activity::Read
        );
        assert_eq!(
            egress(get("/api/method/frappe.client.get_list?doctype=Employee")).activity,
            Activity::Read
        );
        assert_eq!(
            egress(get(
                "/api/method/frappe.desk.reportview.get?doctype=Employee"
            ))
            .activity,
            Activity::Read
        );
        assert_eq!(
            egress(get(
                "/api/method/download_file?file_url=/private/files/a.pdf"
            ))
            .activity,
            Activity::FileDownload
        );
        assert_eq!(
            egress(post(
                "/api/method/frappe.utils.print_format.report_to_pdf",
                "html=x"
            ))
            .activity,
            Activity::ReportPrint
        );
        assert_eq!(egress(get("/api/method/frappe.utils.print_format.download_multi_pdf?doctype=X&name=%5B%221%22%5D")).activity, Activity::Print);
        // A method name ends at its first slash; v1 and v2 prefixes.
        assert_eq!(
            egress(get("/api/v1/method/frappe.client.get/?doctype=X&name=1")).activity,
            Activity::Read
        );
        assert_eq!(
            egress(get(
                "/api/v2/method/frappe.desk.query_report.run?report_name=GL"
            ))
            .activity,
            Activity::Read
        );
    }

    #[test]
    fn cmd_comes_before_the_path() {
        // Frappe runs `cmd` on any path, even one that looks like a file.
        let e = egress(get(
            "/private/files/x.pdf?cmd=frappe.desk.query_report.export_query&report_name=R",
        ));
        assert_eq!(e.activity, Activity::Export);
        assert_eq!(get("/app/sales-invoice?cmd=frappe.ping"), Route::Pass);
    }

    #[test]
    fn writes_to_the_access_log_are_found_however_they_are_spelt() {
        let is_write = |r: Route| matches!(r, Route::LogWrite(_));
        assert!(is_write(post(
            "/api/method/frappe.core.doctype.access_log.access_log.make_access_log",
            "doctype=X"
        )));
        assert!(is_write(post(
            "/",
            "cmd=frappe.core.doctype.access_log.access_log.make_access_log"
        )));
        assert!(is_write(get(
            "/api/method/frappe.core.doctype.access_log.access_log.make_access_log/"
        )));
        assert!(is_write(classify(
            &Method::POST,
            "/api/resource/Access%20Log",
            &Params::default()
        )));
        assert!(is_write(classify(
            &Method::DELETE,
            "/api/resource/Access Log/abc123",
            &Params::default()
        )));
        assert!(is_write(classify(
            &Method::PUT,
            "/api/v2/document/Access%20Log/abc",
            &Params::default()
        )));
        assert!(is_write(post(
            "/api/method/frappe.client.delete",
            "doctype=Access%20Log&name=abc"
        )));
        assert!(is_write(post(
            "/api/method/frappe.desk.reportview.delete_items",
            "doctype=Access%20Log&items=%5B%22a%22%5D"
        )));
        assert!(is_write(post(
            "/api/method/frappe.client.insert",
            "doc=%7B%22doctype%22%3A%22Access%20Log%22%7D"
        )));
        assert!(is_write(post(
            "/api/method/frappe.desk.form.save.savedocs",
            "doc=%7B%22doctype%22%3A%22Access%20Log%22%7D&action=Save"
        )));
        // Reading it is a read, not a write.
        assert!(matches!(
            get("/api/resource/Access%20Log"),
            Route::Egress(_)
        ));
        assert!(matches!(
            get("/api/method/frappe.client.get_count?doctype=Access%20Log"),
            Route::Pass
        ));
        assert_eq!(
            post("/api/method/frappe.client.delete", "doctype=ToDo&name=1"),
            Route::Pass
        );
    }

    #[test]
    fn other_requests_pass_and_logouts_are_known() {
        assert_eq!(get("/app/sales-invoice"), Route::Pass);
        assert_eq!(get("/assets/frappe/dist/js/desk.bundle.js"), Route::Pass);
        assert_eq!(post("/api/method/login", "usr=a&pwd=b"), Route::Pass);
        assert_eq!(
            classify(&Method::PUT, "/api/resource/ToDo/1", &Params::default()),
            Route::Pass
        );
        assert_eq!(get("/api/v2/doctype/Employee/meta"), Route::Pass);
        assert_eq!(post("/api/method/logout", ""), Route::Logout);
        assert_eq!(get("/?cmd=web_logout"), Route::Logout);
        assert_eq!(
            classify(&Method::HEAD, "/private/files/a.pdf", &Params::default()),
            Route::Pass
        );
    }
}
