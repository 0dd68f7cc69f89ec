//! The one web error type. Every handler returns `Result<_, WebError>`, and this file is
//! the only place that decides which status code an error gets.
//!
//! Use `WebError` variants for what the client did or may do about it; use `anyhow` (into
//! `WebError::Internal`) for failures that are ours: those are logged with the request id
//! and answered with a plain 500, without internals.

use accesslog_app::AppError;
use accesslog_store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    BadRequest(String),
    /// Not logged in, or the credentials were wrong.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The request body is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// The database (or another part we need) cannot serve the request right now.
    #[error("{0}")]
    Unavailable(String),
    /// Too much of this work is under way (password checks, exports): 503 with a time to
    /// come back after.
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    /// A device we pass data on to (a network printer) could not take it.
    #[error("{0}")]
    BadGateway(String),
    /// A site's template (a print format) failed; the message is for who may see it.
    #[error("{0}")]
    Template(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
    /// An error already recorded in the Access Log as a refusal or failure (made only by
    /// [`crate::audit::Audit`]).
    #[error("{}", .0.error())]
    Recorded(crate::audit::Recorded),
}

/// What an error response carries besides its body, so the HTML layer can render the same
/// error as a page for a browser.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    /// ERPNext's exception class name.
    pub exc_type: &'static str,
}

impl WebError {
    /// Status code, ERPNext's `exc_type` (so Frappe clients recognise the error) and title.
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            WebError::Recorded(r) => r.error().parts(),
            WebError::BadRequest(_) => (StatusCode::BAD_REQUEST, "ValidationError", "Bad request"),
            WebError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "AuthenticationError",
                "Not logged in",
            ),
            WebError::Forbidden(_) => (StatusCode::FORBIDDEN, "PermissionError", "Not permitted"),
            WebError::NotFound(_) => (StatusCode::NOT_FOUND, "DoesNotExistError", "Not found"),
            WebError::Conflict(_) => (StatusCode::CONFLICT, "DuplicateEntryError", "Conflict"),
            WebError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "FileSizeError", "Too large"),
            WebError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsError",
                "Too many requests",
            ),
            WebError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "Unavailable",
            ),
            WebError::Busy { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "Busy",
            ),
            WebError::BadGateway(_) => (StatusCode::BAD_GATEWAY, "PrinterError", "Printer error"),
            WebError::Template(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "TemplateError",
                "Print format error",
            ),
            WebError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Server error",
            ),
        }
    }
}

impl WebError {
    /// The status code this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }
}

/// The one place an application error becomes a status.
impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(m) => WebError::BadRequest(m),
            AppError::NotFound(m) => WebError::NotFound(m),
            AppError::Forbidden(m) => WebError::Forbidden(m),
            AppError::Unavailable(m) => WebError::Unavailable(m),
            AppError::Definition(m) => WebError::Template(m),
            AppError::Store(e) => e.into(),
            e @ (AppError::Io { .. } | AppError::Internal(_)) => WebError::Internal(e.into()),
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => WebError::NotFound(m),
            StoreError::Conflict(m) => WebError::Conflict(m),
            StoreError::Refused(m) => WebError::Forbidden(m),
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "database unavailable");
                WebError::Unavailable(
                    "The database is unavailable; try again shortly. If this persists, tell your administrator."
                        .to_owned(),
                )
            }
            StoreError::Other(m) => WebError::Internal(anyhow::anyhow!(m)),
            StoreError::Database(source) => {
                WebError::Internal(anyhow::Error::from_boxed(source).context("database error"))
            }
        }
    }
}

/// An error as ERPNext's API answers one, so Frappe clients read it as they would there:
/// `message`, `exc_type`; `exception` and `exc` (ERPNext's last traceback line, and the list
/// of tracebacks: here, just that line; `frappe-client` raises on `exc`); and
/// `_server_messages`, a JSON string of a list of JSON strings of `{message, title,
/// indicator, raise_exception}`, which the desk shows.
fn frappe_error_body(message: &str, exc_type: &str, title: &str) -> serde_json::Value {
    let exception = format!("frappe.exceptions.{exc_type}: {message}");
    let server_message = json!({
        "message": message,
        "title": title,
        "indicator": "red",
        "raise_exception": 1,
    })
    .to_string();
    json!({
        "message": message,
        "exc_type": exc_type,
        "exception": exception,
        "exc": json!([exception]).to_string(),
        "_server_messages": json!([server_message]).to_string(),
    })
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let WebError::Recorded(r) = self {
            return r.into_response();
        }
        let (status, exc_type, title) = self.parts();
        if let WebError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let message = self.to_string();
        let mut response =
            (status, Json(frappe_error_body(&message, exc_type, title))).into_response();
        if let WebError::TooManyRequests {
            retry_after_secs, ..
        }
        | WebError::Busy {
            retry_after_secs, ..
        } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response.extensions_mut().insert(ErrorInfo {
            status,
            title,
            message,
            exc_type,
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(e: WebError) -> StatusCode {
        e.into_response().status()
    }

    #[test]
    fn each_variant_has_its_status() {
        assert_eq!(
            status_of(WebError::BadRequest("x".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(WebError::Unauthorized("x".into())),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status_of(WebError::Forbidden("x".into())),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status_of(WebError::NotFound("x".into())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status_of(WebError::Conflict("x".into())),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status_of(WebError::TooManyRequests {
                message: "x".into(),
                retry_after_secs: 9
            }),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            status_of(WebError::Unavailable("x".into())),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(WebError::Internal(anyhow::anyhow!("secret detail"))),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn store_errors_map_to_statuses() {
        let cases = [
            (StoreError::NotFound("n".into()), StatusCode::NOT_FOUND),
            (StoreError::Conflict("c".into()), StatusCode::CONFLICT),
            (StoreError::Refused("r".into()), StatusCode::FORBIDDEN),
            (
                StoreError::Unavailable("u".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                StoreError::Other("o".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                StoreError::Database("d".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(status_of(WebError::from(e)), status);
        }
    }

    #[test]
    fn a_database_error_keeps_its_chain_for_the_log() {
        let driver: Box<dyn std::error::Error + Send + Sync> = "disk I/O error".into();
        let WebError::Internal(e) = WebError::from(StoreError::Database(driver)) else {
            panic!("not internal");
        };
        let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
        assert_eq!(chain, ["database error", "disk I/O error"]);
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let r = WebError::Internal(anyhow::anyhow!("password=hunter2")).into_response();
        let info = r.extensions().get::<ErrorInfo>().cloned().unwrap();
        assert_eq!(info.message, "internal error");
    }

    #[test]
    fn throttling_says_when_to_retry() {
        let r = WebError::TooManyRequests {
            message: "slow down".into(),
            retry_after_secs: 60,
        }
        .into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "60");
    }
}
