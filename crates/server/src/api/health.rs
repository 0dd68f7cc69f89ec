//! `GET /api/health` (liveness: the process answers) and `GET /api/ready` (readiness: the
//! database answers, the recorder is taking entries, the site's disk has room). A load
//! balancer sends traffic to ready servers only; a supervisor restarts one that is not
//! alive. Neither shows record data.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::AppState;

/// Free space on the site's disk below which the server says it is not ready: exports,
/// archive bundles and `checkpoints.log` are written there.
pub const MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

/// Liveness: 200 while the process serves requests, whatever the database does (a
/// database outage is readiness's business, not a reason to restart the server).
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "ok", "database": state.store.dialect().name() }))
}

/// Readiness: 200 when every check passes, 503 naming the ones that do not.
pub async fn ready(State(state): State<AppState>) -> Response {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    let mut check = |name: &str, result: Result<String, String>| {
        ready &= result.is_ok();
        checks.insert(
            name.to_owned(),
            match result {
                Ok(ok) => json!({ "ok": true, "detail": ok }),
                Err(why) => json!({ "ok": false, "detail": why }),
            },
        );
    };
    check(
        "database",
        state
            .store
            .ping()
            .await
            .map(|()| state.store.dialect().name().to_owned())
            .map_err(|e| e.to_string()),
    );
    let (waiting, max) = state.recorder.queue_depth();
    check(
        "recorder",
        if !state.recorder.is_running() {
            Err("the recorder has stopped: nothing can be recorded".to_owned())
        } else if waiting >= max {
            Err(format!(
                "the recorder's queue is full ({waiting} entries waiting)"
            ))
        } else {
            Ok(format!("{waiting} of {max} entries waiting"))
        },
    );
    check("disk", free_space(&state.settings.site_dir));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": checks,
    });
    (status, Json(body)).into_response()
}

fn free_space(dir: &std::path::Path) -> Result<String, String> {
    let stat = rustix::fs::statvfs(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let mb = free / (1024 * 1024);
    if free < MIN_FREE_BYTES {
        Err(format!(
            "{} has {mb} MB free, under the {} MB needed",
            dir.display(),
            MIN_FREE_BYTES / (1024 * 1024)
        ))
    } else {
        Ok(format!("{mb} MB free in {}", dir.display()))
    }
}
