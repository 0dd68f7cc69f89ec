//! One request through the gate: read what it asks for, send it upstream, and answer with
//! the upstream's answer: at once when it carries no record data, after its entry is
//! durable when it does.

use std::net::{IpAddr, SocketAddr};

use accesslog_app::gate::{self as log_gate, Read};
use accesslog_core::entry::{Activity, CanonicalJson, Event, Outcome, file_type_of};
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::AsHeaderName;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::borrow::Cow;

use accesslog_site::gate::{is_host, public_host};

use crate::Inner;
use crate::classify::{Egress, Params, Route, classify};
use crate::identity::{Credential, IdentityError, Who};
use crate::spool::Spooled;

/// Answers up to this size are held in memory while their entry is recorded; larger ones
/// go to a temporary file.
const IN_MEMORY: usize = 256 * 1024;
/// JSON answers up to this size are held in memory, and read for their rows.
const JSON_IN_MEMORY: usize = 16 * 1024 * 1024;

/// Headers that belong to one connection, never passed on (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// What one request is: the parts the gate reads, kept together.
struct Asked {
    parts: Parts,
    params: Params,
    credential: Credential,
    host: Option<HeaderValue>,
    client_ip: IpAddr,
}

impl Asked {
    /// Who is asking, as the upstream says.
    async fn who(&self, inner: &Inner) -> Result<Who, IdentityError> {
        inner
            .identities
            .who(&inner.upstream, &self.credential, self.host.as_ref())
            .await
    }
}

pub async fn handle(inner: &Inner, peer: SocketAddr, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut params = Params::from_query(parts.uri.query().unwrap_or(""));
    let body = match inspect_body(inner, &parts, body, &mut params).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let route = match classify(&parts.method, parts.uri.path(), &params) {
        // A read the site's read settings leave unrecorded goes straight through.
        Route::Egress(e)
            if e.activity == Activity::Read
                && !Read::Upstream { list: e.list }.is_recorded(&inner.log) =>
        {
            Route::Pass
        }
        route => route,
    };
    let asked = Asked {
        credential: Credential::of(&parts.headers, &params),
        host: parts.headers.get(header::HOST).cloned(),
        client_ip: client_ip(inner, peer, &parts.headers),
        params,
        parts,
    };
    match route {
        Route::LogWrite(label) if inner.settings.refuse_log_writes => {
            refuse_log_write(inner, &asked, label).await
        }
        Route::Egress(egress) => {
            let req = match upstream_request(inner, &asked, body, true) {
                Ok(req) => req,
                Err(problem) => return error(StatusCode::BAD_REQUEST, &problem, &asked),
            };
            let (answer, who) = tokio::join!(inner.upstream.send(req), asked.who(inner));
            match answer {
                Ok(answer) if answer.status().is_success() => {
                    release(inner, &asked, egress, answer, who).await
                }
                Ok(answer) => pass_on(answer),
                Err(problem) => error(StatusCode::BAD_GATEWAY, &problem, &asked),
            }
        }
        Route::Logout | Route::LogWrite(_) | Route::Pass => {
            let req = match upstream_request(inner, &asked, body, false) {
                Ok(req) => req,
                Err(problem) => return error(StatusCode::BAD_REQUEST, &problem, &asked),
            };
            let answer = match inner.upstream.send(req).await {
                Ok(answer) => answer,
                Err(problem) => return error(StatusCode::BAD_GATEWAY, &problem, &asked),
            };
            if matches!(route, Route::Logout) {
                inner
                    .identities
                    .forget(&asked.credential, asked.host.as_ref());
            }
            // An answer that is a download on a route not known to carry one (an app's
            // own export method, say) is recorded all the same.
            if answer.status().is_success()
                && answer.headers().contains_key(header::CONTENT_DISPOSITION)
            {
                let egress = unknown_download(&asked, answer.headers());
                let who = asked.who(inner).await;
                return release(inner, &asked, egress, answer, who).await;
            }
            pass_on(answer)
        }
    }
}

/// Reads a form, JSON or multipart body (up to `max_inspected_body_bytes`) for the
/// parameters it carries, and gives it back whole. A larger form or JSON body is refused
/// (413); a larger multipart body (an upload) is passed on unread.
async fn inspect_body(
    inner: &Inner,
    parts: &Parts,
    body: Body,
    params: &mut Params,
) -> Result<Body, Response> {
    let content_type = text(&parts.headers, header::CONTENT_TYPE)
        .unwrap_or("")
        .to_ascii_lowercase();
    let kind = if content_type.starts_with("application/x-www-form-urlencoded") {
        BodyKind::Form
    } else if content_type.starts_with("application/json") {
        BodyKind::Json
    } else if content_type.starts_with("multipart/form-data") {
        BodyKind::Multipart
    } else {
        return Ok(body);
    };
    let limit = inner.settings.max_inspected_body_bytes as usize;
    let mut stream = body.into_data_stream();
    let mut held = BytesMut::new();
    use futures::StreamExt;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            plain(
                StatusCode::BAD_REQUEST,
                &format!("The request's body broke off: {e}"),
            )
        })?;
        held.extend_from_slice(&chunk);
        if held.len() > limit {
            if kind == BodyKind::Multipart {
                let head = futures::stream::iter([Ok::<_, axum::Error>(held.freeze())]);
                return Ok(Body::from_stream(head.chain(stream)));
            }
            return Err(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "The request's body is larger than the {limit} bytes the Access Log gate reads to see what a form asks for ([gate] max_inspected_body_bytes)."
                ),
            ));
        }
    }
    let held = held.freeze();
    match kind {
        BodyKind::Form => params.add_urlencoded(&held),
        BodyKind::Json => params.add_json(&held),
        BodyKind::Multipart => multipart_fields(&content_type, held.clone(), params).await,
    }
    Ok(Body::from(held))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Form,
    Json,
    Multipart,
}

/// The text fields of a multipart body (files skipped).
async fn multipart_fields(content_type: &str, body: Bytes, params: &mut Params) {
    let Ok(boundary) = multer::parse_boundary(content_type) else {
        return;
    };
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = form.next_field().await {
        if field.file_name().is_some() {
            continue;
        }
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        if let Ok(text) = field.text().await {
            params.push(name, text);
        }
    }
}

/// The client's address: the peer's, or the first `X-Forwarded-For` entry when the peer
/// is a trusted proxy.
fn client_ip(inner: &Inner, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let peer_ip = peer.ip();
    if !inner.trusted_proxies.iter().any(|n| n.contains(&peer_ip)) {
        return peer_ip;
    }
    text(headers, "x-forwarded-for")
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer_ip)
}

/// The request as the upstream gets it: the same method, path, query, headers (less the
/// connection's own) and body, with `X-Forwarded-For` naming the client. An egress
/// request asks for the answer uncompressed, so that it can be read.
fn upstream_request(
    inner: &Inner,
    asked: &Asked,
    body: Body,
    egress: bool,
) -> Result<axum::http::Request<Body>, String> {
    let path_and_query = asked
        .parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut req = axum::http::Request::builder()
        .method(asked.parts.method.clone())
        .uri(inner.upstream.uri(path_and_query)?)
        .body(body)
        .map_err(|e| e.to_string())?;
    let headers = req.headers_mut();
    *headers = asked.parts.headers.clone();
    strip_hop_by_hop(headers);
    headers.remove("x-forwarded-for");
    if let Ok(ip) = HeaderValue::from_str(&asked.client_ip.to_string()) {
        headers.insert("x-forwarded-for", ip);
    }
    if egress {
        headers.remove(header::ACCEPT_ENCODING);
    }
    Ok(req)
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::try_from(n.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// A header's value, when it is text.
fn text(headers: &HeaderMap, name: impl AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The upstream's answer, streamed as it comes.
fn pass_on(answer: axum::http::Response<Incoming>) -> Response {
    let (mut parts, body) = answer.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, Body::new(body))
}

/// A download on a route the gate does not know: recorded as a file download named by its
/// `Content-Disposition`.
fn unknown_download(asked: &Asked, headers: &HeaderMap) -> Egress {
    let file = text(headers, header::CONTENT_DISPOSITION).and_then(disposition_filename);
    let method = format!("{} {}", asked.parts.method, asked.parts.uri.path());
    let mut e = Egress::new(Activity::FileDownload, method);
    e.file_type = file.as_deref().and_then(file_type_of);
    e.reference_document = file;
    if let Some(cmd) = asked.params.get("cmd") {
        e.filters.insert("cmd".into(), json!(cmd));
    }
    e
}

/// `filename` of a `Content-Disposition` value, bare or quoted.
fn disposition_filename(value: &str) -> Option<String> {
    value.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k.trim().eq_ignore_ascii_case("filename")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Reads the answer to its end, records the entry, and only then sends the answer.
async fn release(
    inner: &Inner,
    asked: &Asked,
    egress: Egress,
    answer: axum::http::Response<Incoming>,
    who: Result<Who, IdentityError>,
) -> Response {
    let (mut parts, body) = answer.into_parts();
    let accel = parts.headers.remove("x-accel-redirect");
    parts.headers.remove("x-accel-buffering");
    parts.headers.remove("x-accel-expires");
    parts.headers.remove("x-accel-limit-rate");
    let spooled = match accel {
        Some(target) => {
            drop(body);
            match resolve_accel(inner, &target).await {
                Ok(s) => s,
                Err(problem) => return error(StatusCode::BAD_GATEWAY, &problem, asked),
            }
        }
        None => {
            let is_json = text(&parts.headers, header::CONTENT_TYPE)
                .is_some_and(|t| t.starts_with("application/json"));
            let in_memory = if is_json || egress.raw_commands {
                JSON_IN_MEMORY
            } else {
                IN_MEMORY
            };
            match Spooled::read(body, in_memory).await {
                Ok(s) => s,
                Err(problem) => return error(StatusCode::BAD_GATEWAY, &problem, asked),
            }
        }
    };
    let who = match who {
        Ok(who) => who,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "The Access Log gate could not tell who is asking, so it sent nothing: {e}"
                ),
                asked,
            );
        }
    };
    let activity = egress.activity;
    let list = egress.list;
    let event = describe(inner, asked, egress, &who, &parts.headers, &spooled);
    let released = if activity == Activity::Read {
        log_gate::release_read(
            &inner.recorder,
            &inner.log,
            event,
            spooled,
            Read::Upstream { list },
        )
        .await
    } else {
        log_gate::release(&inner.recorder, event, spooled).await
    };
    let released = match released {
        Ok(released) => released,
        Err(e) => {
            tracing::error!(error = %e, "the gate could not record an egress; refused");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "The Access Log could not record this {activity}, so nothing was sent: {e}"
                ),
                asked,
            );
        }
    };
    let (receipt, spooled) = released.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(spooled.len()));
    if let Some(r) = receipt {
        parts
            .headers
            .insert("x-access-log-entry", HeaderValue::from(r.seq()));
    }
    match spooled.into_body().await {
        Ok(body) => Response::from_parts(parts, body),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("The gate could not read back the answer it held: {e}"),
            asked,
        ),
    }
}

/// The file an `X-Accel-Redirect: /protected/<path>` names, under `[gate] accel_root`.
async fn resolve_accel(inner: &Inner, target: &HeaderValue) -> Result<Spooled, String> {
    let Some(root) = &inner.accel_root else {
        return Err("The upstream answered with X-Accel-Redirect, which only nginx resolves: set [gate] accel_root to the Frappe site's folder, or put the gate in front of nginx.".to_owned());
    };
    let target = target
        .to_str()
        .map_err(|_| "X-Accel-Redirect is not text".to_owned())?;
    let decoded = percent_encoding::percent_decode_str(target).decode_utf8_lossy();
    let relative = decoded
        .strip_prefix("/protected/")
        .ok_or_else(|| format!("X-Accel-Redirect {target:?} is not under /protected/"))?;
    let path = std::path::Path::new(relative);
    if path
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "X-Accel-Redirect {target:?} leaves the site's folder"
        ));
    }
    Spooled::file(root.join(path)).await.map_err(|e| {
        format!(
            "X-Accel-Redirect names {relative}, which cannot be read under {}: {e}",
            root.display()
        )
    })
}

/// The entry: the request's egress, who asked, and what the answer held.
fn describe(
    inner: &Inner,
    asked: &Asked,
    egress: Egress,
    who: &Who,
    answer_headers: &HeaderMap,
    spooled: &Spooled,
) -> Event {
    let mut event = event(inner, asked, who, egress.activity, &egress.method);
    event.export_from = egress.export_from;
    event.reference_document = egress.reference_document;
    event.report_name = egress.report_name;
    event.print_format = egress.print_format;
    event.file_type = egress.file_type.or_else(|| {
        text(answer_headers, header::CONTENT_DISPOSITION)
            .and_then(disposition_filename)
            .and_then(|f| file_type_of(&f))
    });
    let mut filters = egress.filters;
    if let Some(answer) = spooled.in_memory() {
        if egress.activity == Activity::Read
            && let Some((rows, names)) = rows_of(answer)
        {
            event.row_count = Some(rows);
            log_gate::returned_names(&mut filters, &names, inner.log.read_names_max);
        }
        if egress.raw_commands {
            let answer = serde_json::from_slice::<Value>(answer).unwrap_or(Value::Null);
            event.page = answer["message"]["raw_commands"]
                .as_str()
                .map(str::to_owned);
        }
    }
    if !filters.is_empty() {
        event.filters = Some(CanonicalJson::from_value(&Value::Object(filters)));
    }
    event.columns = egress.columns.as_ref().map(CanonicalJson::from_value);
    event.request_id = text(answer_headers, "x-frappe-request-id").map(str::to_owned);
    event.bounded()
}

/// An entry of `activity` by `who`, with what the request says of where it came from.
fn event(inner: &Inner, asked: &Asked, who: &Who, activity: Activity, method: &str) -> Event {
    let mut event = Event::new(&who.user, activity, method);
    event.roles = who.roles.clone();
    event.auth = who.auth.clone();
    event.ip = Some(asked.client_ip.to_string());
    event.user_agent = text(&asked.parts.headers, header::USER_AGENT).map(str::to_owned);
    event.source = source(inner, asked);
    event
}

/// `gate:<host>`: the host of `[gate] public_url`, or else the site the client asked for
/// (its `Host`, when it is a plain host name), or else the upstream's address.
fn source(inner: &Inner, asked: &Asked) -> String {
    if let Some(host) = inner.settings.public_url.as_deref().and_then(public_host) {
        return format!("gate:{host}");
    }
    let host = asked
        .host
        .as_ref()
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_host(h))
        .unwrap_or(inner.upstream.authority());
    format!("gate:{host}")
}

/// How many rows a JSON answer of Frappe's carries (its `data`, else its `message`), and
/// the names among them. A list of rows, the common answer, is not built as JSON values:
/// each row is only looked into for its `name`, which is borrowed where it can be.
fn rows_of(answer: &[u8]) -> Option<(u64, Vec<String>)> {
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        data: Option<&'a RawValue>,
        #[serde(borrow)]
        message: Option<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct Named<'a> {
        #[serde(borrow)]
        name: Option<Cow<'a, str>>,
    }
    /// A row's `name`; none for a row that is not an object (`as_list` answers).
    fn name_in(row: &RawValue) -> Option<Cow<'_, str>> {
        let row = row.get();
        if !row.starts_with('{') {
            return None;
        }
        serde_json::from_str::<Named<'_>>(row).ok()?.name
    }
    let answer: Answer<'_> = serde_json::from_slice(answer).ok()?;
    let data = answer.data.or(answer.message)?.get();
    if let Ok(rows) = serde_json::from_str::<Vec<&RawValue>>(data) {
        let names = rows
            .iter()
            .filter_map(|row| name_in(row))
            .map(Cow::into_owned)
            .collect();
        return Some((rows.len() as u64, names));
    }
    rows_of_value(&serde_json::from_str(data).ok()?)
}

/// The other shapes of `data`: a report's `keys` and `values`, or its `result`, or one
/// document.
fn rows_of_value(data: &Value) -> Option<(u64, Vec<String>)> {
    let name_of = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_owned);
    match data {
        Value::Object(o) => {
            if let (Some(Value::Array(keys)), Some(Value::Array(values))) =
                (o.get("keys"), o.get("values"))
            {
                let at = keys.iter().position(|k| k == "name");
                let names = at
                    .map(|i| {
                        values
                            .iter()
                            .filter_map(|row| row.get(i).and_then(Value::as_str).map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                Some((values.len() as u64, names))
            } else if let Some(Value::Array(result)) = o.get("result") {
                Some((result.len() as u64, Vec::new()))
            } else {
                Some((1, name_of(data).into_iter().collect()))
            }
        }
        _ => None,
    }
}

/// Refuses a write to the upstream's Access Log, and records the refusal.
async fn refuse_log_write(inner: &Inner, asked: &Asked, label: String) -> Response {
    let who = asked.who(inner).await.unwrap_or_else(|_| Who {
        user: "unknown".to_owned(),
        roles: Vec::new(),
        auth: None,
    });
    let message = "The Access Log gate refuses to write or delete entries of this site's Access Log: entries are recorded by the gate itself, as data leaves.";
    let mut event = event(inner, asked, &who, Activity::LogWrite, &label);
    event.export_from = Some(crate::classify::ACCESS_LOG.to_owned());
    if let Err(e) = log_gate::record_outcome(
        &inner.recorder,
        event.bounded(),
        Outcome::Denied,
        message.to_owned(),
    )
    .await
    {
        tracing::error!(error = %e, "the gate could not record a refused write to the Access Log");
    }
    frappe_error(StatusCode::FORBIDDEN, "PermissionError", message)
}

/// An error of the gate's own, shaped as Frappe shapes errors for API clients (JSON with
/// `exc_type` and `_error_message`), or as plain text for a browser's navigation.
fn error(status: StatusCode, message: &str, asked: &Asked) -> Response {
    let accept = text(&asked.parts.headers, header::ACCEPT).unwrap_or("");
    let api = asked.parts.uri.path().starts_with("/api/") && !accept.starts_with("text");
    if api || accept.contains("application/json") {
        let exc = match status {
            StatusCode::SERVICE_UNAVAILABLE => "AccessLogUnavailable",
            StatusCode::BAD_GATEWAY => "UpstreamError",
            _ => "ValidationError",
        };
        frappe_error(status, exc, message)
    } else {
        plain(status, message)
    }
}

fn frappe_error(status: StatusCode, exc_type: &str, message: &str) -> Response {
    let body = json!({
        "exc_type": exc_type,
        "message": message,
        "_error_message": message,
    });
    (status, axum::Json(body)).into_response()
}

fn plain(status: StatusCode, message: &str) -> Response {
    (status, format!("{message}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(answer: &Value) -> Option<(u64, Vec<String>)> {
        super::rows_of(answer.to_string().as_bytes())
    }

    #[test]
    fn rows_are_counted_in_each_of_frappes_shapes() {
        // Rows that are lists (`as_list`) or whose name is not text count, without a name.
        assert_eq!(
            rows_of(&json!({"message": [["a", 1], {"name": 7}, {"x": "y", "name": "b\"c"}]})),
            Some((3, vec!["b\"c".into()]))
        );
        assert_eq!(rows_of(&json!({"data": null})), None);
        assert_eq!(
            rows_of(&json!({"data": [], "message": [{"name": "m"}]})),
            Some((0, vec![]))
        );
        assert_eq!(super::rows_of(b"not json"), None);
        assert_eq!(
            rows_of(&json!({"data": [{"name": "a"}, {"name": "b"}]})),
            Some((2, vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            rows_of(&json!({"message": {"keys": ["name", "x"], "values": [["a", 1], ["b", 2]]}})),
            Some((2, vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            rows_of(&json!({"message": {"result": [[1], [2], [3]], "columns": []}})),
            Some((3, vec![]))
        );
        assert_eq!(
            rows_of(&json!({"data": {"name": "E1", "ctc": 5}})),
            Some((1, vec!["E1".into()]))
        );
        assert_eq!(rows_of(&json!({"message": []})), Some((0, vec![])));
    }

    #[test]
    fn file_names_are_read_from_content_disposition() {
        assert_eq!(
            disposition_filename("filename=SINV-1.pdf").as_deref(),
            Some("SINV-1.pdf")
        );
        assert_eq!(
            disposition_filename("attachment; filename=\"Sales Invoice.csv\"").as_deref(),
            Some("Sales Invoice.csv")
        );
        assert_eq!(disposition_filename("inline"), None);
    }
}
