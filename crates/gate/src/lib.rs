//! The gate (issue 21): a reverse proxy in front of a Frappe/ERPNext site. Every request
//! passes through; an answer on one of ERPNext's egress routes ([`classify`]) is read to
//! its end and hashed ([`spool`]), recorded in the Access Log, and only then sent. A
//! failure to record answers 503 and sends nothing; an upstream error passes through
//! unchanged and records nothing. Who acted is asked of the upstream ([`identity`]).
//! Writes to ERPNext's own Access Log are refused.
//!
//! Where it stands: between nginx and Frappe (gunicorn), so that nginx keeps TLS and the
//! static assets. Frappe answers private files and backups there with
//! `X-Accel-Redirect`; the gate resolves it itself from `[gate] accel_root` (the Frappe
//! site's folder), so the bytes it hashes are the bytes it sends. It also works in front
//! of nginx, which then resolves `X-Accel-Redirect` before the gate sees the answer.

pub mod classify;
pub mod identity;
pub mod spool;
pub mod upstream;

mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use accesslog_engine::Recorder;
use accesslog_site::LogSettings;
use accesslog_site::gate::GateSettings;
use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::response::Response;

pub use identity::{Identities, Who};
pub use upstream::Upstream;

/// What the gate runs with.
pub struct GateConfig {
    /// `http://host:port` of the Frappe site.
    pub upstream: String,
    pub gate: GateSettings,
    /// The key's secret, when `gate.api_key` is set.
    pub api_secret: Option<String>,
    /// `[gate] accel_root`, resolved against the site folder.
    pub accel_root: Option<PathBuf>,
    /// Which reads are recorded, and how many returned names are kept.
    pub log: LogSettings,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// The gate's state, shared by every request.
#[derive(Clone)]
pub struct Gate(Arc<Inner>);

struct Inner {
    upstream: Upstream,
    identities: Identities,
    recorder: Recorder,
    settings: GateSettings,
    accel_root: Option<PathBuf>,
    log: LogSettings,
    trusted_proxies: Vec<ipnet::IpNet>,
}

impl Gate {
    pub fn new(config: GateConfig, recorder: Recorder) -> Self {
        let api_key = match (&config.gate.api_key, &config.api_secret) {
            (Some(k), Some(s)) => Some((k.as_str(), s.as_str())),
            _ => None,
        };
        let identities = Identities::new(
            Duration::from_secs(u64::from(config.gate.credential_cache_seconds)),
            api_key,
        );
        Gate(Arc::new(Inner {
            upstream: Upstream::new(&config.upstream),
            identities,
            recorder,
            settings: config.gate,
            accel_root: config.accel_root,
            log: config.log,
            trusted_proxies: config.trusted_proxies,
        }))
    }

    pub fn recorder(&self) -> &Recorder {
        &self.0.recorder
    }
}

/// Every path and method goes to [`proxy::handle`].
pub fn router(gate: Gate) -> Router {
    Router::new().fallback(handle).with_state(gate)
}

async fn handle(
    State(gate): State<Gate>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    proxy::handle(&gate.0, peer, req).await
}

/// Serves the gate on `listener` until `shutdown` resolves, then lets requests in flight
/// finish and signs a last checkpoint.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gate: Gate,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(gate.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    gate.0.recorder.checkpoint_now().await;
    Ok(())
}
