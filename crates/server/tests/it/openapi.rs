//! `/api/openapi.json` (issue 20): OpenAPI 3.1, accepted by `openapi-spec-validator` (PyPI;
//! `.ci/run` installs it), and covering every JSON route of the router with its methods.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_description_validates_and_covers_every_json_route() {
    let server = TestServer::start(Backend::Sqlite, "openapi").await.unwrap();
    let r = server
        .client()
        .get(server.at("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );

    let out = crate::common::python_with_stdin(
        &[
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(sys.stdin))\n\
             print('valid')",
        ],
        &text,
    );
    assert!(
        out.status.success(),
        "openapi-spec-validator refused it (pip install openapi-spec-validator): {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let routes = accesslog_server::routes(server.state.clone());
    let mut covered = 0;
    for route in routes.table() {
        if !accesslog_server::openapi::is_json_api(route.path) {
            continue;
        }
        let path = route.path.replace('*', "");
        let method = route.method.as_str().to_lowercase();
        let op = &doc["paths"][&path][&method];
        assert!(op.is_object(), "{method} {path} is not described");
        assert!(
            op["description"].as_str().unwrap().contains("Access Log")
                || op["description"]
                    .as_str()
                    .unwrap()
                    .starts_with("Not recorded"),
            "{method} {path}: {op}"
        );
        covered += 1;
    }
    assert!(covered > 40, "{covered} routes");
    // The entry's schema is core's 24 fields.
    let entry = &doc["components"]["schemas"]["AccessLogEntry"]["properties"];
    assert_eq!(entry.as_object().unwrap().len(), 24);
    assert_eq!(entry["seq"]["type"], "integer");
    server.stop().await;
}
