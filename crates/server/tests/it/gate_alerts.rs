//! The gate's entries (issue 21) are judged by the same alert rules: a burst of downloads
//! through a gate in front of an ERPNext site, recorded by the gate's own recorder into
//! this site's log (as `accesslog gate` does beside `accesslog serve`), raises R1 in this
//! server's inbox.

use std::sync::Arc;

use accesslog_engine::{Recorder, RecorderConfig};
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::alerts::fast_alerts;
use crate::common::{Backend, on_both_backends, session};

on_both_backends!(
    mods: sqlite_gate, postgres_gate;
    run: crate::common::with_backend;
    a_burst_through_the_gate_raises_r1,
);

/// An ERPNext that knows one session and serves one private file.
async fn erpnext() -> String {
    let app = Router::new()
        .route(
            "/api/method/frappe.auth.get_logged_user",
            get(|| async { axum::Json(json!({"message": "clerk@erp.example.com"})) }),
        )
        .route(
            "/private/files/{file}",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/pdf")],
                    "%PDF-1.4 payroll",
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn a_burst_through_the_gate_raises_r1(backend: Backend) {
    let Some(server) = fast_alerts(backend, "gate_alerts").await else {
        return;
    };
    let upstream = erpnext().await;
    let recorder = Recorder::start(
        server.store.clone(),
        Arc::new(accesslog_core::SystemClock),
        None,
        RecorderConfig::default(),
    );
    let gate = accesslog_gate::Gate::new(
        accesslog_gate::GateConfig {
            upstream,
            gate: Default::default(),
            api_secret: None,
            accel_root: None,
            log: server.settings.log.clone(),
            trusted_proxies: Vec::new(),
        },
        recorder,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gate_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(accesslog_gate::serve(
        listener,
        gate,
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    for n in 0..21 {
        let r = client
            .get(format!("{gate_url}/private/files/payslip-{n}.pdf"))
            .header("cookie", "sid=0123abcd")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (admin, _) = session(&server, "admin@example.com", "admin").await;
    let url = server.at("/api/access-log/alerts?rule=R1&user=clerk@erp.example.com");
    let mut found = Value::Null;
    for _ in 0..100 {
        let r = admin.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        if v["data"].as_array().is_some_and(|a| !a.is_empty()) {
            found = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        found["data"].as_array().map(Vec::len),
        Some(1),
        "no R1 alert within 10 s of the burst through the gate"
    );
    server.stop().await;
}
