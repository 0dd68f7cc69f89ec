//! `GET /metrics`: Prometheus text format, for System Managers or a scraper holding the
//! token whose SHA-256 is `[metrics] token_sha256` (`Authorization: Bearer TOKEN`).
//!
//! Counters and histograms are kept by the `metrics` facade as things happen (appends,
//! batch sizes and commit latency in the recorder; request latency per route here); the
//! gauges are read when scraped (checkpoint age, the log's size, the review copy's lag, the
//! recorder's queue, the database pool, the site disk's free space, exports running).
//! Counts and timings only: no record data, so a scrape is not an Access Log entry.

use std::sync::OnceLock;
use std::time::Instant;

use accesslog_core::SYSTEM_MANAGER;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::state::AppState;

/// The process's one Prometheus recorder (the `metrics` facade has one global recorder:
/// several servers in one process, as in tests, share it).
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ];
            let sizes = [
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ];
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("accesslog_append_batch_size".into()),
                        &sizes,
                    )
                })
                .and_then(|b| b.install_recorder());
            match built {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off: no Prometheus recorder");
                    None
                }
            }
        })
        .as_ref()
}

/// Installs the recorder: called when the server starts, so counts begin then.
pub fn install() {
    let _ = handle();
}

/// Times each request by its route (the pattern, not the path: no names of documents).
pub async fn time_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    metrics::histogram!(
        "accesslog_http_request_seconds",
        "route" => route,
        "method" => method,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed());
    response
}

/// Whether `headers` carry the scrape token configured for this site.
fn has_token(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(want) = state.settings.metrics.token_sha256.as_deref() else {
        return false;
    };
    let Some(token) = crate::request::header_text(headers, header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    accesslog_core::secrets::digests_match(
        &accesslog_core::secrets::token_digest(token.trim()),
        want,
    )
}

pub async fn scrape(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let allowed = has_token(&state, &headers)
        || user
            .as_ref()
            .is_some_and(|u| u.0.user.has_role(SYSTEM_MANAGER));
    if !allowed {
        return Err(match user {
            Some(_) => WebError::Forbidden(
                "Only System Managers, or a scraper with the site's metrics token, may read /metrics."
                    .to_owned(),
            ),
            None => WebError::Unauthorized(
                "Log in as a System Manager, or send Authorization: Bearer TOKEN with the token whose SHA-256 is [metrics] token_sha256."
                    .to_owned(),
            ),
        });
    }
    let Some(handle) = handle() else {
        return Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are off in this process\n",
        )
            .into_response());
    };
    gauges(&state).await;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response())
}

/// The gauges, read now.
async fn gauges(state: &AppState) {
    let now = state.clock.now();
    if let Ok(head) = state.store.log_head().await {
        metrics::gauge!("accesslog_log_entries").set(head.size as f64);
    }
    if let Ok(Some(c)) = state.store.latest_checkpoint().await {
        let age = (now.as_micros() - c.created_at.as_micros()) as f64 / 1e6;
        metrics::gauge!("accesslog_checkpoint_age_seconds").set(age.max(0.0));
        metrics::gauge!("accesslog_checkpoint_size").set(c.size as f64);
    }
    if let Ok(lag) = state.store.review_lag().await {
        metrics::gauge!("accesslog_review_copy_lag_entries").set(lag as f64);
    }
    let (waiting, max) = state.recorder.queue_depth();
    metrics::gauge!("accesslog_recorder_queue_depth").set(waiting as f64);
    metrics::gauge!("accesslog_recorder_queue_capacity").set(max as f64);
    let pool = state.store.pool_use();
    metrics::gauge!("accesslog_db_pool_connections", "state" => "open").set(f64::from(pool.open));
    metrics::gauge!("accesslog_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("accesslog_db_pool_connections", "state" => "max").set(f64::from(pool.max));
    if let Ok(free) = crate::limits::free_bytes(&state.settings.site_dir) {
        metrics::gauge!("accesslog_site_disk_free_bytes").set(free as f64);
    }
    metrics::gauge!("accesslog_export_temp_bytes").set(export_temp_bytes() as f64);
}

/// Bytes in export files being written now: the exporter's temporary files, named
/// `accesslog-export-*` in the system's temporary folder.
fn export_temp_bytes() -> u64 {
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("accesslog-export-")
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}
