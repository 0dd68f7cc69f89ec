//! ERPNext's other spellings of our URLs, mapped before routing so that every route is
//! declared once in the route table:
//!
//! - a trailing slash on `/api/method/*` and `/api/resource/*` (Frappe clients add one:
//!   `get_api` calls `/api/method/<method>/`);
//! - `/api/method/frappe.templates.pages.print.download_pdf`, the older name of
//!   `frappe.utils.print_format.download_pdf`;
//! - `/print`, ERPNext's other name for `/printview`.
//!
//! The path the client asked for is kept as axum's `OriginalUri`, and the Access Log records
//! that one, so an entry says what was called.

use axum::extract::{OriginalUri, Request};
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

/// Whole-path aliases: (what ERPNext also serves, our route).
const ALIASES: [(&str, &str); 2] = [
    (
        "/api/method/frappe.templates.pages.print.download_pdf",
        "/api/method/frappe.utils.print_format.download_pdf",
    ),
    ("/print", "/printview"),
];

/// Prefixes under which a trailing slash is ignored.
const SLASH_OPTIONAL: [&str; 2] = ["/api/method/", "/api/resource/"];

/// The route `path` is another spelling of, if it is one.
pub fn canonical(path: &str) -> Option<String> {
    let trimmed = match path.strip_suffix('/') {
        Some(p)
            if SLASH_OPTIONAL
                .iter()
                .any(|pre| p.len() > pre.len() && p.starts_with(pre)) =>
        {
            p
        }
        _ => path,
    };
    let aliased = ALIASES
        .iter()
        .find(|(alias, _)| *alias == trimmed)
        .map_or(trimmed, |(_, ours)| ours);
    (aliased != path).then(|| aliased.to_owned())
}

/// `tower::util::MapRequest` function: rewrites an alias to its route, keeping the
/// original for the log.
pub fn rewrite(mut req: Request) -> Request {
    let Some(path) = canonical(req.uri().path()) else {
        return req;
    };
    let original = req.uri().clone();
    let path_and_query = match original.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let Ok(pq) = path_and_query.parse::<PathAndQuery>() else {
        return req;
    };
    let mut parts = original.clone().into_parts();
    parts.path_and_query = Some(pq);
    if let Ok(uri) = Uri::from_parts(parts) {
        req.extensions_mut().insert(OriginalUri(original));
        *req.uri_mut() = uri;
    }
    req
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn aliases_and_trailing_slashes_map_to_routes() {
        assert_eq!(
            canonical("/api/method/frappe.desk.query_report.export_query/").as_deref(),
            Some("/api/method/frappe.desk.query_report.export_query")
        );
        assert_eq!(
            canonical("/api/resource/Sales Invoice/SINV-1/").as_deref(),
            Some("/api/resource/Sales Invoice/SINV-1")
        );
        assert_eq!(
            canonical("/api/method/frappe.templates.pages.print.download_pdf/").as_deref(),
            Some("/api/method/frappe.utils.print_format.download_pdf")
        );
        assert_eq!(canonical("/print").as_deref(), Some("/printview"));
        for unchanged in [
            "/api/method/",
            "/api/resource/",
            "/app/",
            "/printview",
            "/print/",
            "/api/method/login",
        ] {
            assert_eq!(canonical(unchanged), None, "{unchanged}");
        }
    }
}
