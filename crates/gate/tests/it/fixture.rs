//! A Frappe-shaped upstream: the answers of ERPNext v15 (frappe-http.md, read from Frappe
//! v15.44.2's source) on the routes the gate cares about, with their status codes,
//! headers and cookies, and a count of what reached it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};

pub const GATE_KEY: (&str, &str) = ("gatekey0001", "gatesecret0001");
/// hr@example.com's own API key.
pub const HR_KEY: (&str, &str) = ("hrkey0001", "hrsecret0001");

#[derive(Default)]
pub struct Seen {
    /// `make_access_log` calls and Access Log writes that reached the upstream.
    pub log_writes: usize,
    /// `frappe.auth.get_logged_user` calls.
    pub who_calls: usize,
    /// Requests, by path.
    pub paths: Vec<String>,
}

#[derive(Clone, Default)]
pub struct Fixture {
    sessions: Arc<Mutex<HashMap<String, String>>>,
    pub seen: Arc<Mutex<Seen>>,
}

pub struct Upstream {
    pub url: String,
    pub fixture: Fixture,
}

fn roles_of(user: &str) -> Vec<&'static str> {
    match user {
        "hr@example.com" => vec!["Employee", "HR User"],
        "admin@example.com" => vec!["System Manager", "Accounts User"],
        _ => vec![],
    }
}

fn password_of(user: &str) -> Option<&'static str> {
    match user {
        "hr@example.com" => Some("hr"),
        "admin@example.com" => Some("admin"),
        _ => None,
    }
}

/// A CSV of `rows` data rows (the million-row export uses it too).
pub fn csv(rows: usize) -> Vec<u8> {
    let mut out = b"Posting Date,Account,Debit,Credit\n".to_vec();
    for i in 0..rows {
        out.extend_from_slice(
            format!("2026-01-{:02},Debtors - A{i},{i}.00,0.00\n", i % 28 + 1).as_bytes(),
        );
    }
    out
}

pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

impl Fixture {
    fn user(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            return match auth.strip_prefix("token ") {
                Some(t) if t == format!("{}:{}", HR_KEY.0, HR_KEY.1) => {
                    Some("hr@example.com".into())
                }
                Some(t) if t == format!("{}:{}", GATE_KEY.0, GATE_KEY.1) => {
                    Some("gate@example.com".into())
                }
                _ => None,
            };
        }
        let sid = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == "sid")
            .map(|(_, v)| v.to_owned())?;
        self.sessions.lock().unwrap().get(&sid).cloned()
    }

    fn saw(&self, path: &str) {
        self.seen.lock().unwrap().paths.push(path.to_owned());
    }
}

/// Frappe's cookies on a response: the five of a session.
fn session_cookies(h: &mut HeaderMap, sid: &str, user: &str) {
    let full = if user == "Guest" {
        "Guest"
    } else {
        "Demo User"
    };
    let system = if user == "Guest" { "no" } else { "yes" };
    for c in [
        format!(
            "sid={sid}; Expires=Thu, 10 Dec 2026 00:00:00 GMT; Max-Age=612000; HttpOnly; Path=/; SameSite=Lax"
        ),
        format!("system_user={system}; Path=/; SameSite=Lax"),
        format!(
            "full_name={}; Path=/; SameSite=Lax",
            full.replace(' ', "%20")
        ),
        format!("user_id={}; Path=/; SameSite=Lax", user.replace('@', "%40")),
        "user_image=; Path=/; SameSite=Lax".to_owned(),
    ] {
        h.append(header::SET_COOKIE, HeaderValue::from_str(&c).unwrap());
    }
}

fn frappe_json(status: StatusCode, body: Value) -> Response {
    // Frappe writes compact JSON, Content-Type without a charset.
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&body).unwrap(),
    )
        .into_response()
}

fn not_permitted() -> Response {
    frappe_json(
        StatusCode::FORBIDDEN,
        json!({"exc_type": "PermissionError", "_error_message": "Not permitted"}),
    )
}

fn binary(content_type: &'static str, disposition: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).unwrap(),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn login(State(f): State<Fixture>, body: Bytes) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let usr = form.get("usr").cloned().unwrap_or_default();
    if password_of(&usr).is_none() || form.get("pwd").map(String::as_str) != password_of(&usr) {
        return frappe_json(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Invalid login credentials", "exc_type": "AuthenticationError"}),
        );
    }
    let sid = format!("{:056x}", rand_sid(&usr));
    f.sessions.lock().unwrap().insert(sid.clone(), usr.clone());
    let mut r = frappe_json(
        StatusCode::OK,
        json!({"message": "Logged In", "home_page": "/app", "full_name": "Demo User"}),
    );
    session_cookies(r.headers_mut(), &sid, &usr);
    r
}

fn rand_sid(user: &str) -> u128 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(user) as u128 * 0x1_0000_0001
}

async fn logout(State(f): State<Fixture>, headers: HeaderMap) -> Response {
    if let Some(sid) = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').find_map(|p| p.trim().strip_prefix("sid=")))
    {
        f.sessions.lock().unwrap().remove(sid);
    }
    let mut r = frappe_json(
        StatusCode::OK,
        json!({"message": "No App", "home_page": "/login", "full_name": "Guest"}),
    );
    session_cookies(r.headers_mut(), "Guest", "Guest");
    r
}

async fn get_logged_user(State(f): State<Fixture>, headers: HeaderMap) -> Response {
    f.seen.lock().unwrap().who_calls += 1;
    if headers.get(header::AUTHORIZATION).is_some() && f.user(&headers).is_none() {
        return frappe_json(
            StatusCode::UNAUTHORIZED,
            json!({"exc_type": "AuthenticationError"}),
        );
    }
    match f.user(&headers) {
        Some(user) => frappe_json(StatusCode::OK, json!({"message": user})),
        // Not whitelisted for Guest.
        None => not_permitted(),
    }
}

async fn user_doc(
    State(f): State<Fixture>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Response {
    if f.user(&headers).as_deref() != Some("gate@example.com") {
        return not_permitted();
    }
    let roles: Vec<Value> = roles_of(&user)
        .iter()
        .map(|r| json!({"role": r, "doctype": "Has Role"}))
        .collect();
    frappe_json(
        StatusCode::OK,
        json!({"data": {"name": user, "doctype": "User", "roles": roles}}),
    )
}

async fn printview(
    State(f): State<Fixture>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    f.saw("/printview");
    if f.user(&headers).is_none() && !q.contains_key("key") {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<h1>Not Permitted</h1>",
        )
            .into_response();
    }
    let name = q.get("name").cloned().unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (HeaderName::from_static("x-page-name"), "printview"),
            (HeaderName::from_static("x-from-cache"), "False"),
        ],
        format!("<html><body><h1>Sales Invoice {name}</h1><p>Total 1,234.00</p></body></html>"),
    )
        .into_response()
}

use axum::http::HeaderName;

/// `/api/method/<m>` and `cmd=<m>`: the methods the gate records, by name.
async fn method(
    f: &Fixture,
    name: &str,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Response {
    f.saw(name);
    let user = f.user(headers);
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    match name {
        "frappe.core.doctype.access_log.access_log.make_access_log" => {
            f.seen.lock().unwrap().log_writes += 1;
            frappe_json(StatusCode::OK, json!({}))
        }
        "frappe.client.delete" | "frappe.client.insert"
            if p("doctype") == "Access Log" || p("doc").contains("Access Log") =>
        {
            f.seen.lock().unwrap().log_writes += 1;
            frappe_json(StatusCode::OK, json!({}))
        }
        _ if user.is_none() => not_permitted(),
        "frappe.utils.print_format.download_pdf" => binary(
            "application/pdf",
            format!("filename={}.pdf", p("name").replace([' ', '/'], "-")),
            PDF.to_vec(),
        ),
        "frappe.utils.print_format.download_multi_pdf" => binary(
            "application/pdf",
            format!("filename={}.pdf", p("doctype").replace(' ', "-")),
            PDF.to_vec(),
        ),
        "frappe.utils.print_format.report_to_pdf" => binary(
            "application/pdf",
            "filename=report.pdf".into(),
            PDF.to_vec(),
        ),
        "frappe.desk.query_report.export_query" => {
            let rows = params.get("rows").and_then(|r| r.parse().ok()).unwrap_or(3);
            let ext = if p("file_format_type") == "Excel" {
                "xlsx"
            } else {
                "csv"
            };
            binary(
                "application/octet-stream",
                format!("filename=\"{}.{ext}\"", p("report_name")),
                csv(rows),
            )
        }
        "frappe.desk.reportview.export_query" => binary(
            "application/octet-stream",
            format!("filename=\"{}.csv\"", p("title")),
            csv(2),
        ),
        "frappe.core.doctype.data_export.exporter.export_data" => binary(
            "text/csv; charset=utf-8",
            format!("attachment; filename={}.csv", p("doctype")),
            csv(4),
        ),
        "frappe.www.printview.get_rendered_raw_commands" => frappe_json(
            StatusCode::OK,
            json!({"message": {"raw_commands": format!("^XA^FO50,50^FD{}^FS^XZ", p("name"))}}),
        ),
        "frappe.desk.query_report.run" => frappe_json(
            StatusCode::OK,
            json!({"message": {"result": [{"account": "Debtors", "debit": 10}, {"account": "Sales", "credit": 10}], "columns": [{"fieldname": "account"}], "status": null, "execution_time": 0.01}}),
        ),
        "frappe.desk.reportview.get" => frappe_json(
            StatusCode::OK,
            json!({"message": {"keys": ["name", "employee_name", "ctc"], "values": [["HR-EMP-0001", "Ada", 90000], ["HR-EMP-0002", "Grace", 95000]], "user_info": {}}}),
        ),
        "frappe.client.get_list" => frappe_json(
            StatusCode::OK,
            json!({"message": [{"name": "HR-EMP-0001"}, {"name": "HR-EMP-0002"}, {"name": "HR-EMP-0003"}]}),
        ),
        "download_file" => {
            let url = p("file_url");
            let base = url.rsplit('/').next().unwrap_or_default().to_owned();
            binary(
                "application/octet-stream",
                format!("attachment; filename={base}"),
                b"file bytes".to_vec(),
            )
        }
        "frappe.desk.form.load.getdoc" => frappe_json(
            StatusCode::OK,
            json!({"docs": [{"name": p("name"), "doctype": p("doctype")}], "docinfo": {}}),
        ),
        "app.custom.export_everything" => binary(
            "text/csv; charset=utf-8",
            "attachment; filename=everything.csv".into(),
            csv(5),
        ),
        "frappe.ping" => frappe_json(StatusCode::OK, json!({"message": "pong"})),
        _ => frappe_json(
            StatusCode::FORBIDDEN,
            json!({"exc_type": "PermissionError", "_error_message": format!("Function {name} is not whitelisted.")}),
        ),
    }
}

fn params_of(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let mut params: HashMap<String, String> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("application/x-www-form-urlencoded") {
        params.extend(
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default(),
        );
    } else if ct.starts_with("application/json")
        && let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body)
    {
        for (k, v) in m {
            params.insert(
                k,
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            );
        }
    }
    params
}

async fn api_method(
    State(f): State<Fixture>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params_of(&uri, &headers, &body);
    method(&f, &name, &headers, &params).await
}

/// Every other path: `cmd` first, as Frappe does; then the website's pages.
async fn root(
    State(f): State<Fixture>,
    m: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params_of(&uri, &headers, &body);
    if let Some(cmd) = params.get("cmd") {
        return method(&f, &cmd.clone(), &headers, &params).await;
    }
    let path = uri.path().to_owned();
    if let Some(file) = path.strip_prefix("/private/files/") {
        f.saw("/private/files");
        if f.user(&headers).is_none() {
            return (
                StatusCode::FORBIDDEN,
                "You don&#39;t have permission to access this file",
            )
                .into_response();
        }
        if headers.get("x-use-x-accel-redirect").is_some() {
            return (
                [
                    (header::CONTENT_TYPE, "application/pdf"),
                    (
                        HeaderName::from_static("x-accel-redirect"),
                        &*format!("/protected/private/files/{file}"),
                    ),
                ],
                Body::empty(),
            )
                .into_response();
        }
        return (
            [(header::CONTENT_TYPE, "application/pdf")],
            format!("private file {file}"),
        )
            .into_response();
    }
    if path.starts_with("/backups/") {
        let user = f.user(&headers);
        if !user.is_some_and(|u| roles_of(&u).contains(&"System Manager")) {
            return (StatusCode::FORBIDDEN, "You need to be logged in and have System Manager Role to be able to access backups.").into_response();
        }
        return (
            [(header::CONTENT_TYPE, "application/gzip")],
            b"\x1f\x8bbackup".to_vec(),
        )
            .into_response();
    }
    if let Some(rest) = path.strip_prefix("/api/resource/") {
        let decoded = percent_encoding::percent_decode_str(rest)
            .decode_utf8_lossy()
            .into_owned();
        if decoded.starts_with("Access Log") && m != Method::GET {
            f.seen.lock().unwrap().log_writes += 1;
            return frappe_json(StatusCode::OK, json!({"data": {}}));
        }
        if f.user(&headers).is_none() {
            return not_permitted();
        }
        return match decoded.split_once('/') {
            None => frappe_json(
                StatusCode::OK,
                json!({"data": [{"name": "HR-EMP-0001", "ctc": 90000}, {"name": "HR-EMP-0002", "ctc": 95000}]}),
            ),
            Some((_, "MISSING")) => frappe_json(
                StatusCode::NOT_FOUND,
                json!({"exc_type": "DoesNotExistError", "_error_message": "Employee MISSING not found"}),
            ),
            Some((_, name)) => frappe_json(
                StatusCode::OK,
                json!({"data": {"name": name, "employee_name": "Ada", "ctc": 90000}}),
            ),
        };
    }
    if path == "/app" || path.starts_with("/app/") {
        return (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html>desk</html>",
        )
            .into_response();
    }
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

impl Upstream {
    pub async fn start() -> Upstream {
        let fixture = Fixture::default();
        let app = Router::new()
            .route("/api/method/login", post(login))
            .route("/api/method/logout", any(logout))
            .route(
                "/api/method/frappe.auth.get_logged_user",
                get(get_logged_user),
            )
            .route("/api/resource/User/{user}", get(user_doc))
            .route("/printview", get(printview))
            .route("/print", get(printview))
            .route("/api/method/{name}", any(api_method))
            .fallback(root)
            .with_state(fixture.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Upstream {
            url: format!("http://{addr}"),
            fixture,
        }
    }
}
