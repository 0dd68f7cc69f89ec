//! The Access Log web server: accounts and sessions, the web shell, and the API.
//!
//! A front end over the application layer (`accesslog-app`): handlers parse the request,
//! call the app (or the store, for a plain read), and map the result; an `AppError`
//! becomes a status in one place (`error.rs`). What only the web has stays here: sessions
//! and CSRF, pages, the router and the egress guard that holds every route to the log.
//!
//! A request flows one way: request id → who is asking (and CSRF) → handler → response.
//! The router is built by [`router`]; [`serve`] runs it on a listener until shutdown.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod aliases;
mod api;
pub mod audit;
pub mod auth;
pub mod egress;
mod error;
pub mod headers;
mod limits;
pub mod metrics;
pub mod openapi;
mod pages;
mod percent;
mod printing;
pub mod records;
mod reports;
pub mod request;
pub mod review;
mod state;

use std::net::SocketAddr;
use std::time::Duration;

use accesslog_core::entry::Activity;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use tower::ServiceBuilder;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use egress::{RouteInfo, RouteKind, Routes};
pub use error::WebError;
pub use state::{AppState, Definitions, Printing};

use crate::request::RequestId;

/// How long failed and throttled logins are kept for the login attempts page.
pub const LOGIN_ATTEMPTS_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Request bodies larger than this are refused with 413 (file uploads get their own limit).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Every route of the app, each declared egress (recorded) or exempt (with why), in one
/// table that a test holds every route against.
pub fn routes(state: AppState) -> Routes {
    use Activity::*;
    use axum::http::Method;
    const GET: &[Method] = &[Method::GET];
    const POST: &[Method] = &[Method::POST];
    const GET_POST: &[Method] = &[Method::GET, Method::POST];
    const PUT: &[Method] = &[Method::PUT];
    const PUT_PATCH: &[Method] = &[Method::PUT, Method::PATCH];
    const DELETE: &[Method] = &[Method::DELETE];
    const NO_DATA_PAGE: &str = "a page with no record data: links, names of reports or types";
    Routes::new(state)
        // Records: pages and ERPNext's REST.
        .egress(GET, "/app/{doctype}", Read, records::pages::list)
        .egress(GET, "/app/{doctype}/{name}", Read, records::pages::form)
        .egress(GET, "/api/resource/{doctype}", Read, records::api::list)
        .egress(POST, "/api/resource/{doctype}", Read, records::api::create)
        .egress(GET, "/api/resource/{doctype}/{name}", Read, records::api::get)
        .egress(PUT, "/api/resource/{doctype}/{name}", Read, records::api::update)
        .egress(GET, "/api/resource/File", Read, records::files::list)
        // Frappe v15's v2 document API.
        .egress(GET, "/api/v2/document/{doctype}", Read, api::v2::list)
        .egress(POST, "/api/v2/document/{doctype}", Read, records::api::create)
        .egress(GET, "/api/v2/document/{doctype}/{name}", Read, records::api::get)
        .egress(PUT_PATCH, "/api/v2/document/{doctype}/{name}", Read, records::api::update)
        // ERPNext's frappe.client methods: each answers record data (a write answers with
        // the document written), recorded as a read of it.
        .egress(GET_POST, "/api/method/frappe.client.get_list", Read, api::client::get_list)
        .egress(GET_POST, "/api/method/frappe.client.get_count", Read, api::client::get_count)
        .egress(GET_POST, "/api/method/frappe.client.get", Read, api::client::get)
        .egress(GET_POST, "/api/method/frappe.client.get_value", Read, api::client::get_value)
        .egress(POST, "/api/method/frappe.client.insert", Read, api::client::insert)
        .egress(POST, "/api/method/frappe.client.insert_many", Read, api::client::insert_many)
        .egress(POST, "/api/method/frappe.client.save", Read, api::client::save)
        .egress(POST, "/api/method/frappe.client.set_value", Read, api::client::set_value)
        .egress(POST, "/api/method/frappe.client.bulk_update", Read, api::client::bulk_update)
        .egress(GET_POST, "/api/method/frappe.desk.reportview.get", Read, api::reportview::get)
        .egress(GET_POST, "/api/method/frappe.desk.reportview.get_list", Read, api::reportview::get_list)
        // Prints.
        .egress(GET, "/printview", Print, printing::view::printview)
        .egress(GET, "/api/method/frappe.utils.print_format.download_pdf", Print, printing::view::download_pdf)
        .egress(GET, "/api/raw-print", RawPrint, printing::raw::download)
        .egress(POST, "/api/raw-print", RawPrint, printing::raw::send)
        // Reports.
        .egress(GET, "/app/query-report/{name}", Read, reports::page::show)
        .egress(GET_POST, "/api/method/frappe.desk.query_report.run", Read, reports::data::run)
        .egress(GET, "/app/query-report/{name}/print", ReportPrint, reports::print::html)
        .egress(GET, "/app/query-report/{name}/pdf", ReportPrint, reports::print::pdf)
        .egress(GET_POST, "/api/method/frappe.desk.query_report.export_query", Export, reports::export::query_report)
        .egress(GET_POST, "/api/method/frappe.desk.reportview.export_query", Export, reports::export::list_view)
        .egress(GET_POST, "/api/method/frappe.core.doctype.data_export.exporter.export_data", Export, reports::export::data_export)
        // Files and backups.
        .egress(GET, "/private/files/{*file_name}", FileDownload, records::files::download_private)
        .egress(GET, "/api/file/{id}", FileDownload, records::files::download_by_id)
        .egress(GET, "/app/backups/{file}", BackupDownload, records::backups::download)
        // The Access Log itself.
        .egress(GET, "/app/access-log", Read, review::pages::list)
        .egress(GET, "/app/access-log/dashboard", Read, review::dashboard::show)
        .egress(GET, "/app/access-log/archived", Read, review::archived::list)
        .egress(GET, "/app/access-log/{seq}", Read, review::pages::show)
        .egress(GET, "/app/access-log/alerts", Read, review::alerts::list)
        .egress(GET, "/app/access-log/alerts/{id}", Read, review::alerts::show)
        .egress(GET, "/app/access-log/export", LogExport, review::export::download)
        .egress(GET, "/api/access-log", Read, review::api::list)
        .egress(GET, "/api/access-log/archived", Read, review::archived::list_api)
        .egress(GET, "/api/access-log/{seq}", Read, review::api::get)
        .egress(GET, "/api/access-log/checkpoint", Read, api::access_log::checkpoint)
        .egress(GET, "/api/access-log/consistency", Read, api::access_log::consistency)
        .egress(GET, "/api/access-log/{seq}/proof", Read, api::access_log::inclusion)
        .egress(GET, "/api/access-log/alerts", Read, review::alerts_api::list)
        .egress(GET, "/api/access-log/alerts/{id}", Read, review::alerts_api::get)
        // An alert's change answers with the alert (Access Log data): a read of it.
        .egress(POST, "/api/access-log/alerts/{id}/{action}", Read, review::alerts_api::act)
        // No record data.
        .exempt(GET, "/", "redirects to the login page or the desk; GET /?cmd=logout logs out", api::method::root_get)
        .exempt(POST, "/", "ERPNext's form login (cmd=login)", api::method::root_post)
        .exempt(GET, "/login", "the login form", pages::login::form)
        .exempt(POST, "/login", "logging in", pages::login::submit)
        .exempt(POST, "/logout", "logging out", pages::login::submit_logout)
        .exempt(POST, "/api/method/login", "logging in", api::method::api_login)
        .exempt(GET_POST, "/api/method/logout", "logging out", api::method::api_logout)
        .exempt(GET, "/api/method/frappe.auth.get_logged_user", "the caller's own email", api::method::get_logged_user)
        .exempt(GET, "/assets/app.js", "the desk's static script: no data", headers::app_js)
        .exempt(GET, "/assets/app.css", "the desk's static stylesheet: no data", headers::app_css)
        .exempt(DELETE, "/api/resource/{doctype}/{name}", "deletes a document; answers {\"data\": \"ok\"}", records::api::delete)
        .exempt(DELETE, "/api/v2/document/{doctype}/{name}", "deletes a document; answers {\"data\": \"ok\"}", records::api::delete)
        .exempt(POST, "/api/method/frappe.client.delete", "deletes a document; answers {}", api::client::delete)
        .exempt(POST, "/api/method/frappe.client.rename_doc", "refused with why: no data", api::client::rename_doc)
        .exempt(GET_POST, "/api/method/frappe.client.get_single_value", "refused with why (no Single types here): no data", api::client::get_single_value)
        .exempt(GET, "/api/health", "liveness: no data", api::health::health)
        .exempt(GET, "/api/openapi.json", "the API's description: no data", openapi::serve)
        .exempt(GET, "/metrics", "System Managers or the scrape token: counts and timings in Prometheus text, no record data", metrics::scrape)
        .exempt(GET, "/api/ready", "readiness (database, recorder, disk): no data", api::health::ready)
        .exempt(GET, "/api/access-log/public-key", "the log's public verifier key", api::access_log::public_key)
        .exempt(GET, "/app", NO_DATA_PAGE, pages::home::show)
        .exempt(GET, "/app/query-report", NO_DATA_PAGE, reports::page::index)
        .exempt(GET, "/app/login-attempts", "System Managers only: failed logins by account and address (security telemetry, no record data)", pages::login_attempts::show)
        .exempt(POST, "/app/access-log/alerts/{id}", "System Managers only: acknowledges, resolves, dismisses or suppresses an alert and answers a redirect to it (its page is the recorded read); refusals are recorded", review::alerts::act)
        .exempt(GET, "/app/access-log/settings", "System Managers only: the log's retention and read settings, legal holds and bundle names (settings, no record data)", review::settings::show)
        .exempt(GET, "/app/backups", "System Managers only: backup file names and sizes, no record data (each download is recorded)", records::backups::page)
        .exempt(GET, "/files/{file_name}", "public files: published to everyone by whoever attached them (ERPNext's /files)", records::files::download_public)
        .exempt(
            POST,
            "/api/method/upload_file",
            "stores a file; answers with that file's own name, URL and size",
            axum::handler::Handler::layer(
                records::files::upload,
                DefaultBodyLimit::max(records::files::MAX_UPLOAD + 64 * 1024),
            ),
        )
}

pub fn router(state: AppState) -> Router {
    let site_name = state.settings.name.clone();
    let (router, _) = routes(state.clone()).into_parts();
    router
        .fallback(not_found)
        .layer(
            // Outermost first: id, trace, auth, then HTML error pages (CSRF is checked per
            // route, inside the egress guard: see egress::Routes).
            ServiceBuilder::new()
                .layer(from_fn(request::assign_request_id))
                .layer(from_fn_with_state(state.clone(), headers::security_headers))
                .layer(from_fn_with_state(state.clone(), request::identify_client))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
                    let id = req.extensions().get::<RequestId>().map(|r| r.0.as_str()).unwrap_or("");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                }).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
                .layer(from_fn_with_state(state.clone(), auth::authenticate))
                .layer(from_fn(aliases::v2_errors))
                .layer(from_fn(metrics::time_requests))
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
    if let Err(e) = record_read_settings(&state).await {
        return Err(std::io::Error::other(format!(
            "the Access Log could not record the read settings, so the server did not start: {e}"
        )));
    }
    metrics::install();
    let sweeper = tokio::spawn(sweep_sessions(state.clone()));
    let committed = state
        .committed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    // The alert rules run beside the recorder. Settings they refuse stop the server
    // (a typo must not silently switch a rule off); anything else leaves the server
    // serving and recording, and says why in its log.
    let alerts = match accesslog_app::alerts::service::start(
        &state.settings,
        state.store.clone(),
        state.clock.clone(),
        &state.doctypes.iter().cloned().collect::<Vec<_>>(),
        committed,
    )
    .await
    {
        Ok(tasks) => tasks,
        Err(accesslog_app::AppError::Invalid(why)) => {
            sweeper.abort();
            return Err(std::io::Error::other(format!(
                "[alerts] in site.toml: {why}"
            )));
        }
        Err(e) => {
            tracing::error!(error = %e, "the alert rules did not start");
            None
        }
    };
    // Checkpoints go to the site's witnesses and publication sinks beside the recorder.
    let publisher = match accesslog_app::witnessing::Publisher::new(
        &state.settings.log,
        state.store.clone(),
        state.clock.clone(),
    ) {
        Ok(Some(p)) => {
            let p = match &alerts {
                Some(tasks) => p.with_alerts(tasks.notifier()),
                None => p,
            };
            Some(accesslog_app::witnessing::spawn(p, PUBLISH_EVERY))
        }
        Ok(None) => None,
        Err(e) => {
            sweeper.abort();
            return Err(std::io::Error::other(format!("[log] in site.toml: {e}")));
        }
    };
    // Entries past their retention are archived and pruned once a day ([log.retention]).
    let pruner = accesslog_app::retention::spawn_daily(
        state.store.clone(),
        state.recorder.clone(),
        state.clock.clone(),
        state.settings.log.retention.clone(),
        state
            .settings
            .log
            .retention
            .archive_dir_in(&state.settings.site_dir),
        state.verifier_key.to_string(),
        accesslog_app::retention::DAILY,
    );
    // Aliases are rewritten before routing, so the route table has each route once.
    let recorder = state.recorder.clone();
    let app = tower::Layer::layer(
        &tower::util::MapRequestLayer::new(aliases::rewrite),
        router(state),
    );
    let app = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
        SocketAddr,
    >(app);
    // On `shutdown`: stop accepting, let requests in flight finish (each has its entry
    // committed before its first byte), but not for longer than SHUTDOWN_DEADLINE.
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(());
    });
    let deadline = async {
        if stopped.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_DEADLINE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        r = serving => r,
        () = deadline => {
            tracing::warn!(
                seconds = SHUTDOWN_DEADLINE.as_secs(),
                "requests still in flight at the shutdown deadline were cut off"
            );
            Ok(())
        }
    };
    // Whatever was committed is covered by a signed checkpoint before the process ends.
    recorder.checkpoint_now().await;
    tracing::info!("stopped: the last entries are signed");
    sweeper.abort();
    if let Some(p) = pruner {
        p.abort();
    }
    if let Some(p) = publisher {
        p.abort();
    }
    drop(alerts);
    result
}

/// How long requests in flight may take to finish once shutdown starts.
pub const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// How often the publisher looks for a new checkpoint to send to witnesses and sinks.
const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The read settings (`log.reads`, `log.read_names_max`, and the types with
/// `log_reads = false`) as the Access Log records them.
pub fn read_settings(state: &AppState) -> serde_json::Value {
    let log = &state.settings.log;
    let unrecorded: Vec<&str> = state
        .doctypes
        .iter()
        .filter(|t| !t.is_child && !t.log_reads)
        .map(|t| t.name.as_str())
        .collect();
    serde_json::json!({
        "log.reads": log.reads.as_str(),
        "log.read_names_max": log.read_names_max,
        "log_reads = false": unrecorded,
    })
}

/// The `report_name` of the entries that record a change of the read settings.
pub const READ_SETTINGS: &str = "Read settings";

/// Records a change of the read settings since the last one recorded (or since the
/// defaults, for a log that never recorded any), as an entry by `system`: `activity =
/// read`, `report_name = "Read settings"`, and `filters = {"before": …, "after": …}`.
pub async fn record_read_settings(state: &AppState) -> Result<(), WebError> {
    use accesslog_store::log_search::{EntryPage, EntryQuery};
    let now = read_settings(state);
    let q = EntryQuery {
        user: Some("system".to_owned()),
        report_name: Some(READ_SETTINGS.to_owned()),
        ..EntryQuery::default()
    };
    let last = state
        .store
        .search_entries(&q, EntryPage::Newest { before: None }, 1)
        .await?;
    let before = match last.first().and_then(|e| e.event.filters.as_ref()) {
        Some(f) => f.to_value().get("after").cloned().unwrap_or_default(),
        None => serde_json::json!({
            "log.reads": "all",
            "log.read_names_max": 100,
            "log_reads = false": [],
        }),
    };
    if before == now {
        return Ok(());
    }
    let mut event = accesslog_core::entry::Event::new(
        "system",
        Activity::Read,
        "SETTINGS site.toml, doctypes/",
    );
    event.export_from = Some(accesslog_core::entry::ACCESS_LOG.to_owned());
    event.report_name = Some(READ_SETTINGS.to_owned());
    event.filters = Some(accesslog_core::entry::CanonicalJson::from_value(
        &serde_json::json!({ "before": before, "after": now }),
    ));
    event.auth = Some("site".to_owned());
    state
        .recorder
        .record(event)
        .await
        .map(|_| ())
        .map_err(audit::refused)
}

async fn sweep_sessions(state: AppState) {
    let mut every = tokio::time::interval(Duration::from_secs(300));
    loop {
        every.tick().await;
        let now = state.clock.now();
        let limits = state.settings.sessions;
        let idle = Duration::from_secs(u64::from(limits.idle_minutes) * 60);
        let absolute = Duration::from_secs(u64::from(limits.absolute_hours) * 3600);
        // Failed logins stay visible to System Managers for a week (or the throttle's
        // window, if longer).
        let window = Duration::from_secs(u64::from(state.settings.login.window_minutes) * 60)
            .max(LOGIN_ATTEMPTS_KEPT);
        if let Err(e) = state
            .store
            .purge_sessions(now.minus(idle), now.minus(absolute))
            .await
        {
            tracing::warn!(error = %e, "could not purge expired sessions");
        }
        if let Err(e) = state.store.forget_login_attempts(now.minus(window)).await {
            tracing::warn!(error = %e, "could not forget old login failures");
        }
    }
}
