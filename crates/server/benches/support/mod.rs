//! What the server's benches share: settings from the environment, timing with median and
//! p95, and a GET through the router as a given key.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

/// A count from the environment (`_` allowed as a separator), or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Milliseconds.
pub struct Stats {
    pub median: f64,
    pub p95: f64,
}

/// Runs `f` `warmup` times, then `runs` times (at least once) timed; the timings and the
/// last run's answer.
pub async fn time<F, Fut, T>(runs: usize, warmup: usize, mut f: F) -> (Stats, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    for _ in 0..warmup {
        f().await;
    }
    let mut ms = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        last = Some(f().await);
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    let stats = Stats {
        median: at(0.5),
        p95: at(0.95),
    };
    (stats, last.expect("at least one run"))
}

/// `median / p95`, without decimals from 100 ms up.
pub fn cell(s: &Stats) -> String {
    if s.median >= 100.0 {
        format!("{:.0} / {:.0}", s.median, s.p95)
    } else {
        format!("{:.1} / {:.1}", s.median, s.p95)
    }
}

/// The body of `GET uri` with `authorization: auth`, from 127.0.0.1; panics unless 200.
pub async fn get(router: &axum::Router, auth: &str, uri: &str) -> String {
    let mut req = Request::builder()
        .uri(uri)
        .header("authorization", auth)
        .body(Body::empty())
        .expect("a request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = router.clone().oneshot(req).await.expect("a response");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("the body");
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}
