//! Entries of an ERPNext site (issue 21), recorded by the gate or imported, in the same
//! review: Show Document and Show Report open the site's own pages, and only at the
//! address the operator configured.

use accesslog_core::entry::{Activity, CanonicalJson, Event};
use serde_json::json;

use crate::common::{TestServer, session};

accesslog_testkit::on_both_backends!(
    run: crate::upstream_links::with_server;
    gate_and_imported_entries_link_to_the_upstream,
);

async fn with_server(
    backend: accesslog_testkit::Backend,
    case: &str,
    f: impl AsyncFn(&TestServer),
) {
    let Some(server) = TestServer::start_with(backend, case, |dir| {
        let toml = dir.join("site.toml");
        let mut text = std::fs::read_to_string(&toml).unwrap();
        text.push_str("\n[gate]\npublic_url = \"https://erp.example.com\"\n");
        std::fs::write(&toml, text).unwrap();
    })
    .await
    else {
        return;
    };
    f(&server).await;
    server.stop().await;
}

async fn page(server: &TestServer, client: &reqwest::Client, seq: u64) -> String {
    let r = client
        .get(server.at(&format!("/app/access-log/{seq}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn gate_and_imported_entries_link_to_the_upstream(server: &TestServer) {
    let recorder = &server.state.recorder;
    let mut export = Event::new(
        "hr@example.com",
        Activity::Export,
        "POST / cmd=frappe.desk.query_report.export_query",
    );
    export.report_name = Some("General Ledger".into());
    export.file_type = Some("CSV".into());
    export.filters = Some(CanonicalJson::from_value(
        &json!({"filters": {"company": "Acme"}}),
    ));
    export.source = "gate:erp.example.com".into();
    let export = recorder.record(export).await.unwrap().seq();
    let mut print = Event::new("hr@example.com", Activity::Print, "GET /printview");
    print.export_from = Some("Sales Invoice".into());
    print.reference_document = Some("SINV-0001".into());
    print.source = "gate:erp.example.com".into();
    let print = recorder.record(print).await.unwrap().seq();
    // A client that sent its own Host: no link to the site it named.
    let mut forged = print_event("gate:evil.example");
    forged.reference_document = Some("SINV-0002".into());
    let forged = recorder.record(forged).await.unwrap().seq();
    let imported = recorder
        .record(print_event("frappe:erp.example.com"))
        .await
        .unwrap()
        .seq();

    let (admin, _) = session(server, "admin@example.com", "admin").await;
    let html = page(server, &admin, export).await;
    assert!(
        html.contains(
            "href=\"https://erp.example.com/app/query-report/General%20Ledger?company=Acme\""
        ),
        "{html}"
    );
    let html = page(server, &admin, print).await;
    assert!(
        html.contains("href=\"https://erp.example.com/app/sales-invoice/SINV-0001\""),
        "{html}"
    );
    let html = page(server, &admin, forged).await;
    assert!(!html.contains("evil.example/app"), "{html}");
    assert!(html.contains("set [gate] public_url"), "{html}");
    let html = page(server, &admin, imported).await;
    assert!(
        html.contains("href=\"https://erp.example.com/app/sales-invoice/SINV-0009\""),
        "{html}"
    );

    // The same review's filters: by source, or by a kind of source.
    let seqs = async |source: &str| {
        let url = server.at(&format!("/api/access-log?source={source}"));
        let v: serde_json::Value = admin.get(url).send().await.unwrap().json().await.unwrap();
        let mut seqs: Vec<u64> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        seqs.sort_unstable();
        seqs
    };
    assert_eq!(seqs("gate:erp.example.com").await, [export, print]);
    assert_eq!(seqs("gate:").await, [export, print, forged]);
    assert_eq!(seqs("frappe:").await, [imported]);
    let r = admin
        .get(server.at("/app/access-log?source=frappe:erp.example.com"))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("/app/access-log/{imported}\"")),
        "{html}"
    );
    assert!(
        !html.contains(&format!("/app/access-log/{print}\"")),
        "{html}"
    );
}

fn print_event(source: &str) -> Event {
    let mut e = Event::new("hr@example.com", Activity::Print, "GET /printview");
    e.export_from = Some("Sales Invoice".into());
    e.reference_document = Some("SINV-0009".into());
    e.source = source.into();
    e
}
