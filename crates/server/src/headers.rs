//! Security headers on every response, and the desk's one script.
//!
//! - `Content-Security-Policy`: scripts, styles, images and connections from the site
//!   itself only; no inline script or style (the desk's behaviour is in `/assets/app.js`,
//!   its looks in `/assets/app.css`); no plugins; no `<base>`; forms post only to the
//!   site; never framed. Print views alone allow inline style, which print formats carry.
//! - `X-Content-Type-Options: nosniff`: a file is never run as something its type is not.
//! - `Referrer-Policy: same-origin`: record names in URLs do not leak to other sites.
//! - `X-Frame-Options: DENY`: the CSP's `frame-ancestors` for older browsers.
//! - `Cross-Origin-Opener-Policy` and `Cross-Origin-Resource-Policy: same-origin`: another
//!   site can neither script a window of ours nor embed our responses.
//! - `Cache-Control: no-store` on everything but the static assets: pages and released
//!   files hold record data, which must not stay in shared or browser caches.
//! - `Strict-Transport-Security` when the site runs behind HTTPS (`secure_cookies`).
//!
//! A handler that sets one of these itself (a released file's stricter CSP) keeps its own.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// A page's policy with `$style` as its `style-src`: written once, so that the page and
/// print policies cannot drift apart in anything else.
macro_rules! page_csp {
    ($style:literal) => {
        concat!(
            "default-src 'self'; script-src 'self'; style-src ",
            $style,
            "; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    };
}

/// The policy of every page.
pub const PAGE_CSP: &str = page_csp!("'self'");

/// The policy of a print view (a document or a report as printed): a page's, except that
/// inline style is allowed, since a print format's CSS is part of its template. Script
/// stays the site's own only.
pub const PRINT_CSP: &str = page_csp!("'self' 'unsafe-inline'");

/// The policy of a released file: nothing in it may run or load anything, even when a
/// browser shows it inline (a PDF, an image, plain text).
/// (No `sandbox`: Chromium's PDF viewer refuses to open in a sandboxed document.)
pub const FILE_CSP: &str = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; \
     object-src 'self'; frame-ancestors 'none'";

const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Middleware: adds the headers above to every response that does not carry its own.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    set_default(headers, header::CONTENT_SECURITY_POLICY, PAGE_CSP);
    set_default(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_default(headers, header::REFERRER_POLICY, "same-origin");
    set_default(headers, header::X_FRAME_OPTIONS, "DENY");
    set_default(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set_default(
        headers,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set_default(headers, header::CACHE_CONTROL, "no-store");
    if state.settings.secure_cookies {
        set_default(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}

fn set_default(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers
        .entry(name)
        .or_insert(HeaderValue::from_static(value));
}

/// The desk's script (list export, uploads, raw prints, the print button).
pub const APP_JS: &str = include_str!("../static/app.js");

/// `GET /assets/app.js`.
pub async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// The desk's stylesheet.
pub const APP_CSS: &str = include_str!("../static/app.css");

/// `GET /assets/app.css`.
pub async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// A static asset: no record data, so it may be cached for an hour.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_print_policy_is_the_page_policy_with_inline_style() {
        assert_eq!(
            PAGE_CSP,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'"
        );
        assert_eq!(
            PRINT_CSP,
            PAGE_CSP.replace("style-src 'self';", "style-src 'self' 'unsafe-inline';")
        );
    }
}
