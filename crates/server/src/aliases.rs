//! ERPNext's other spellings of our URLs, mapped before routing so that every route is
//! declared once in the route table:
//!
//! - a trailing slash on `/api/method/*` and `/api/resource/*` (Frappe clients add one:
//!   `get_api` calls `/api/method/<method>/`);
//! - `/api/method/frappe.templates.pages.print.download_pdf`, the older name of
//!   `frappe.utils.print_format.download_pdf`;
//! - `/print`, ERPNext's other name for `/printview`;
//! - Frappe v15's `/api/v2/method/<method>`: the same method, answered `{"data": …}`
//!   rather than `{"message": …}` and with v2's error shape (see [`ApiVersion`]).
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

/// Which of Frappe's API shapes a request asked for: v1 (`/api/method/…`, answers under
/// `message`) or v2 (`/api/v2/method/…`, answers under `data`, errors as an `errors`
/// list). Set before routing; handlers of methods read it to shape their answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApiVersion {
    #[default]
    V1,
    V2,
}

impl ApiVersion {
    /// `{key: value}`, the key a method's answer goes under: `message` (v1), `data` (v2).
    pub fn wrap(self, value: serde_json::Value) -> serde_json::Value {
        match self {
            ApiVersion::V1 => serde_json::json!({ "message": value }),
            ApiVersion::V2 => serde_json::json!({ "data": value }),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ApiVersion {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ApiVersion>()
            .copied()
            .unwrap_or_default())
    }
}

const V2_METHOD: &str = "/api/v2/method/";

/// Middleware: errors of a v2 call in v2's shape, `{"errors": [{type, message, title,
/// indicator}]}` (v1's keys are what the rest of the API answers).
pub async fn v2_errors(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let v2 = req.extensions().get::<ApiVersion>() == Some(&ApiVersion::V2);
    let response = next.run(req).await;
    if !v2 {
        return response;
    }
    let Some(info) = response
        .extensions()
        .get::<crate::error::ErrorInfo>()
        .cloned()
    else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let body = serde_json::json!({ "errors": [{
        "type": info.exc_type,
        "message": info.message,
        "title": info.title,
        "indicator": "red",
    }]});
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

/// The route `path` is another spelling of, if it is one.
pub fn canonical(path: &str) -> Option<String> {
    if let Some(method) = path.strip_prefix(V2_METHOD)
        && !method.is_empty()
    {
        return Some(format!("/api/method/{}", method.trim_end_matches('/')));
    }
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
        if original.path().starts_with(V2_METHOD) {
            req.extensions_mut().insert(ApiVersion::V2);
        }
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
        assert_eq!(
            canonical("/api/v2/method/frappe.client.get_list/").as_deref(),
            Some("/api/method/frappe.client.get_list")
        );
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
