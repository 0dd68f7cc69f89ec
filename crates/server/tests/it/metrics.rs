//! `/metrics` (issue 20): Prometheus text, read back with `prometheus_client`'s parser
//! (PyPI; `.ci/run` installs it). It shows the appends this test made, commit latency,
//! request latency by route, and the gauges; System Managers and the scrape token may read
//! it, others may not.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{TestServer, session};

/// The scrape token; site.toml holds its SHA-256.
const TOKEN: &str = "scrape-token-for-tests";

accesslog_testkit::on_both_backends!(
    run: crate::metrics::with_server;
    metrics_show_the_appends_and_parse,
    metrics_are_for_system_managers_and_the_token,
);

async fn with_server(
    backend: accesslog_testkit::Backend,
    case: &str,
    f: impl AsyncFn(&TestServer),
) {
    let digest = crate::common::sha256(TOKEN.as_bytes());
    let Some(server) = TestServer::start_with(backend, case, |dir| {
        let toml = dir.join("site.toml");
        let mut text = std::fs::read_to_string(&toml).unwrap();
        text.push_str(&format!("\n[metrics]\ntoken_sha256 = \"{digest}\"\n"));
        std::fs::write(&toml, text).unwrap();
    })
    .await
    else {
        return;
    };
    f(&server).await;
    server.stop().await;
}

/// The families `/metrics` answers, parsed by prometheus_client.
fn parse(text: &str) -> Vec<Value> {
    let out = crate::common::python_with_stdin(
        &[concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/parse_metrics.py"
        )],
        text,
    );
    assert!(
        out.status.success(),
        "prometheus_client refused the text (pip install prometheus-client): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn family<'a>(families: &'a [Value], name: &str) -> &'a Value {
    families
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

/// The sum of a counter's samples whose labels include `labels` (0 before the process
/// counted any: the family is not rendered until then).
fn total(families: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(family) = families.iter().find(|f| f["name"] == name) else {
        return 0.0;
    };
    family["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == format!("{name}_total") || s["name"] == name)
        .filter(|s| labels.iter().all(|(k, v)| s["labels"][k] == *v))
        .map(|s| s["value"].as_f64().unwrap())
        .sum()
}

async fn scrape(server: &TestServer, client: &reqwest::Client) -> Vec<Value> {
    let r = client.get(server.at("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    parse(&r.text().await.unwrap())
}

async fn metrics_show_the_appends_and_parse(server: &TestServer) {
    let (admin, _) = session(server, "admin@example.com", "admin").await;
    let before = scrape(server, &admin).await;
    // Five recorded reads of the Access Log (the metrics share one process-wide recorder
    // with the other tests' servers, so deltas are compared, at least).
    for _ in 0..5 {
        let r = admin
            .get(server.at("/api/access-log?limit=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    server.state.recorder.checkpoint_now().await;
    let after = scrape(server, &admin).await;
    let reads = |f: &[Value]| {
        total(
            f,
            "accesslog_entries",
            &[("activity", "read"), ("outcome", "granted")],
        )
    };
    assert!(
        reads(&after) - reads(&before) >= 5.0,
        "{} -> {}",
        reads(&before),
        reads(&after)
    );
    for (name, kind) in [
        ("accesslog_commit_seconds", "histogram"),
        ("accesslog_append_batch_size", "histogram"),
        ("accesslog_http_request_seconds", "histogram"),
        ("accesslog_checkpoint_age_seconds", "gauge"),
        ("accesslog_log_entries", "gauge"),
        ("accesslog_review_copy_lag_entries", "gauge"),
        ("accesslog_recorder_queue_depth", "gauge"),
        ("accesslog_db_pool_connections", "gauge"),
        ("accesslog_site_disk_free_bytes", "gauge"),
        ("accesslog_export_temp_bytes", "gauge"),
    ] {
        assert_eq!(family(&after, name)["type"], kind, "{name}");
    }
    // Request latency is by route pattern, never by a document's name.
    let routes: Vec<&str> = family(&after, "accesslog_http_request_seconds")["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["labels"]["route"].as_str())
        .collect();
    assert!(routes.contains(&"/api/access-log"), "{routes:?}");
    let size = server.store.log_head().await.unwrap().size as f64;
    let logged = family(&after, "accesslog_log_entries")["samples"][0]["value"]
        .as_f64()
        .unwrap();
    assert!(logged >= size - 1.0, "{logged} vs {size}");
}

async fn metrics_are_for_system_managers_and_the_token(server: &TestServer) {
    let anonymous = server.client();
    let r = anonymous.get(server.at("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = anonymous
        .get(server.at("/metrics"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = anonymous
        .get(server.at("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    parse(&r.text().await.unwrap());
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales.get(server.at("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
