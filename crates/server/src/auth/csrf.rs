//! CSRF protection for every state-changing browser request.
//!
//! Two checks: a request whose `Origin` (or `Sec-Fetch-Site`) says it came from another
//! site is refused outright; and a request authenticated by a session cookie must carry
//! the session's token, in the `X-Frappe-CSRF-Token` header (ERPNext's name, which its
//! JavaScript and htmx send) or a `csrf_token` form field. API-key requests carry no
//! cookie, so they cannot be forged by a browser and need no token.
//!
//! As in ERPNext, a session opened by a script (a login call with none of a browser's
//! markers: `Origin`, `Referer`, `Sec-Fetch-*`) needs no token either, so unmodified
//! Frappe clients can write; any request on it that does carry a browser's markers is
//! checked like a browser's, and the cross-site check applies to everyone.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, header};

use super::{Authenticated, Credential};
use crate::error::WebError;
use crate::request::header_text;

pub const CSRF_HEADER: &str = "x-frappe-csrf-token";

/// Form bodies larger than this are not read for a token (uploads send the header).
const MAX_FORM_FOR_TOKEN: usize = 2 * 1024 * 1024;

/// The logins: their caller has no session yet, or a stale one being replaced; they are
/// covered by the origin check alone.
const LOGIN_PATHS: [&str; 3] = ["/login", "/api/method/login", "/"];

pub async fn check(req: Request) -> Result<Request, WebError> {
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return Ok(req);
    }
    refuse_cross_site(&req)?;
    let expected = match req
        .extensions()
        .get::<Authenticated>()
        .map(|a| &a.credential)
    {
        Some(Credential::Session { script: true, .. }) if !has_browser_markers(req.headers()) => {
            return Ok(req);
        }
        Some(Credential::Session { csrf_token, .. }) => csrf_token.clone(),
        _ => return Ok(req),
    };
    if LOGIN_PATHS.contains(&req.uri().path()) {
        return Ok(req);
    }
    let refused = || {
        WebError::Forbidden(
            "The form's security token (CSRF) is missing or out of date: reload the page and try again."
                .to_owned(),
        )
    };
    if let Some(sent) = req.headers().get(CSRF_HEADER) {
        return if accesslog_core::secrets::digests_match(sent.to_str().unwrap_or(""), &expected) {
            Ok(req)
        } else {
            Err(refused())
        };
    }
    let is_form = header_text(req.headers(), header::CONTENT_TYPE)
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refused());
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_FORM_FOR_TOKEN)
        .await
        .map_err(|_| WebError::BadRequest("The form is too large.".to_owned()))?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let sent = fields
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.as_str());
    match sent {
        Some(t) if accesslog_core::secrets::digests_match(t, &expected) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(refused()),
    }
}

/// Whether a request carries any header that browsers send and scripts' HTTP libraries do
/// not.
pub fn has_browser_markers(headers: &axum::http::HeaderMap) -> bool {
    [
        "origin",
        "referer",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
    ]
    .iter()
    .any(|h| headers.contains_key(*h))
}

fn refuse_cross_site(req: &Request) -> Result<(), WebError> {
    let headers = req.headers();
    let cross = || {
        WebError::Forbidden(
            "Cross-site request refused: submit the form from this site.".to_owned(),
        )
    };
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "cross-site")
    {
        return Err(cross());
    }
    match (
        header_text(headers, header::ORIGIN),
        header_text(headers, header::HOST),
    ) {
        (Some("null"), _) => Err(cross()),
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
            if origin_host.trim_end_matches('/').eq_ignore_ascii_case(host) {
                Ok(())
            } else {
                Err(cross())
            }
        }
        _ => Ok(()),
    }
}
