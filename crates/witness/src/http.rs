//! The witness's HTTP API (C2SP `tlog-witness`): `POST /add-checkpoint`, and the
//! monitoring read `GET /{SHA-256 of the origin, hex}/checkpoint`.

use std::sync::Arc;

use accesslog_core::Clock;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::{MAX_BODY, Refusal, Witness};

#[derive(Clone)]
struct Shared {
    witness: Arc<Witness>,
    clock: Arc<dyn Clock>,
}

/// The witness's routes, the time of its cosignatures read from `clock`.
pub fn router(witness: Arc<Witness>, clock: Arc<dyn Clock>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Shared { witness, clock })
}

/// Serves the witness on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    witness: Arc<Witness>,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(witness, clock))
        .with_graceful_shutdown(shutdown)
        .await
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn add_checkpoint(State(s): State<Shared>, body: Bytes) -> Response {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "text/plain; charset=utf-8",
            "the body is not UTF-8\n".to_owned(),
        );
    };
    let now = u64::try_from(s.clock.now().as_micros() / 1_000_000).unwrap_or(0);
    let witness = s.witness.clone();
    // The state is fsynced before the answer: off the async threads.
    let result = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now))
        .await
        .unwrap_or_else(|e| Err(Refusal::new(500, format!("the witness failed: {e}"))));
    match result {
        Ok(line) => text(StatusCode::OK, "text/plain; charset=utf-8", line),
        Err(refusal) => {
            let status =
                StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if refusal.status != 409 {
                tracing::warn!(status = refusal.status, reason = %refusal.message, "refused a checkpoint");
            }
            match refusal.latest_size {
                Some(size) => text(status, "text/x.tlog.size", format!("{size}\n")),
                None => text(
                    status,
                    "text/plain; charset=utf-8",
                    format!("{}\n", refusal.message),
                ),
            }
        }
    }
}

async fn checkpoint(State(s): State<Shared>, Path(origin_hash): Path<String>) -> Response {
    match s.witness.latest_note_by_hash(&origin_hash) {
        Some(note) => text(StatusCode::OK, "text/plain; charset=utf-8", note),
        None => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "this witness has cosigned no checkpoint of that log\n".to_owned(),
        ),
    }
}
