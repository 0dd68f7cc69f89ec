//! The Access Log web server: accounts and sessions, the web shell, and the API.
//!
//! A request flows one way: request id → who is asking (and CSRF) → handler → response.
//! The router is built by [`router`]; [`serve`] runs it on a listener until shutdown.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod accounts;
mod api;
pub mod audit;
pub mod auth;
mod error;
mod pages;
mod printing;
pub mod records;
mod reports;
pub mod request;
pub mod review;
mod state;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use error::WebError;
pub use state::{AppState, Definitions, Printing};

use crate::request::RequestId;

/// Request bodies larger than this are refused with 413 (file uploads get their own limit).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let site_name = state.settings.name.clone();
    Router::new()
        .route("/", get(api::method::root_get).post(api::method::root_post))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::submit_logout))
        .route("/app", get(pages::home::show))
        .route("/app/backups", get(records::backups::page))
        .route("/app/access-log", get(review::pages::list))
        .route("/app/access-log/export", get(review::export::download))
        .route("/app/access-log/dashboard", get(review::dashboard::show))
        .route("/app/access-log/{seq}", get(review::pages::show))
        .route("/api/access-log", get(review::api::list))
        .route("/api/access-log/{seq}", get(review::api::get))
        .route("/app/query-report", get(reports::page::index))
        .route("/app/query-report/{name}", get(reports::page::show))
        .route("/app/query-report/{name}/print", get(reports::print::html))
        .route("/app/query-report/{name}/pdf", get(reports::print::pdf))
        .route(
            "/api/method/frappe.desk.query_report.export_query",
            get(reports::export::query_report).post(reports::export::query_report),
        )
        .route(
            "/api/method/frappe.desk.reportview.export_query",
            get(reports::export::list_view).post(reports::export::list_view),
        )
        .route("/app/backups/{file}", get(records::backups::download))
        .route("/app/{doctype}", get(records::pages::list))
        .route("/app/{doctype}/{name}", get(records::pages::form))
        .route("/printview", get(printing::view::printview))
        .route("/api/method/frappe.utils.print_format.download_pdf", get(printing::view::download_pdf))
        .route("/api/raw-print", get(printing::raw::download).post(printing::raw::send))
        .route("/api/health", get(api::health::health))
        .route("/api/method/login", post(api::method::api_login))
        .route("/api/method/logout", get(api::method::api_logout).post(api::method::api_logout))
        .route("/api/method/frappe.auth.get_logged_user", get(api::method::get_logged_user))
        .route(
            "/api/method/upload_file",
            post(records::files::upload).layer(DefaultBodyLimit::max(records::files::MAX_UPLOAD + 64 * 1024)),
        )
        .route("/private/files/{file_name}", get(records::files::download_private))
        .route("/files/{file_name}", get(records::files::download_public))
        .route("/api/file/{id}", get(records::files::download_by_id))
        .route("/api/resource/File", get(records::files::list))
        .route("/api/resource/{doctype}", get(records::api::list).post(records::api::create))
        .route("/api/resource/{doctype}/{name}", get(records::api::get).put(records::api::update))
        .route("/api/access-log/checkpoint", get(api::access_log::checkpoint))
        .route("/api/access-log/public-key", get(api::access_log::public_key))
        .route("/api/access-log/consistency", get(api::access_log::consistency))
        .route("/api/access-log/{seq}/proof", get(api::access_log::inclusion))
        .fallback(not_found)
        .layer(
            // Outermost first: id, trace, auth + CSRF, then HTML error pages.
            ServiceBuilder::new()
                .layer(from_fn(request::assign_request_id))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
                    let id = req.extensions().get::<RequestId>().map(|r| r.0.as_str()).unwrap_or("");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                }).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
                .layer(from_fn_with_state(state.clone(), auth::authenticate))
                .layer(from_fn(move |req, next| pages::html_errors(site_name.clone(), req, next)))
                .layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> WebError {
    WebError::NotFound(format!("There is nothing at {}.", uri.path()))
}

/// Serves until `shutdown` completes; also sweeps expired sessions every few minutes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_sessions(state.clone()));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    sweeper.abort();
    result
}

async fn sweep_sessions(state: AppState) {
    let mut every = tokio::time::interval(Duration::from_secs(300));
    loop {
        every.tick().await;
        let now = state.clock.now();
        let limits = state.settings.sessions;
        let idle = Duration::from_secs(u64::from(limits.idle_minutes) * 60);
        let absolute = Duration::from_secs(u64::from(limits.absolute_hours) * 3600);
        let window = Duration::from_secs(u64::from(state.settings.login.window_minutes) * 60);
        if let Err(e) = state
            .store
            .purge_sessions(now.minus(idle), now.minus(absolute))
            .await
        {
            tracing::warn!(error = %e, "could not purge expired sessions");
        }
        if let Err(e) = state
            .store
            .clear_login_failures("", now.minus(window))
            .await
        {
            tracing::warn!(error = %e, "could not forget old login failures");
        }
    }
}
