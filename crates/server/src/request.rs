//! Per-request facts: a request id on every request and response (`x-request-id`), and
//! the client's address and user agent. The Access Log stores all three on its entries.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

use crate::error::WebError;
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::login::Client;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// This request's id: 16 random hex characters, made by the server. An id sent by the
/// client is ignored, so ids in the Access Log cannot be chosen by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Middleware: gives the request its id and returns it in the response header.
pub async fn assign_request_id(mut req: Request, next: Next) -> Response {
    let id = accesslog_core::secrets::random_hex(8);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or(RequestId(String::new())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_default();
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Client { ip, user_agent })
    }
}

/// The parameter `name`, trimmed; 400 "`name` is missing" when absent or blank.
pub fn required<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, WebError> {
    params
        .get(name)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| WebError::BadRequest(format!("{name} is missing")))
}

/// Parameters from the query string, overridden by a form or JSON body. JSON values that
/// are not strings are kept as JSON text (`filters` may come as an object).
pub fn merged_params(
    query: BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<BTreeMap<String, String>, WebError> {
    let mut out = query;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if is_json {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| WebError::BadRequest(format!("The JSON body is not valid: {e}.")))?;
        let Value::Object(map) = value else {
            return Err(WebError::BadRequest(
                "The JSON body must be an object.".to_owned(),
            ));
        };
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            out.insert(k, text);
        }
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| WebError::BadRequest(format!("The form body is not valid: {e}.")))?;
        for (k, v) in pairs {
            out.insert(k, v);
        }
    }
    for (k, v) in &out {
        if let Some(problem) = crate::egress::text_problem(v, usize::MAX) {
            return Err(WebError::BadRequest(format!(
                "The parameter `{}` {problem}.",
                k.chars().take(200).collect::<String>()
            )));
        }
    }
    Ok(out)
}
