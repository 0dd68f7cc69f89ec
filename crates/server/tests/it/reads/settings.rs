//! The read settings and the entry recording their change; the dashboard's Reads series
//! and the activity filter.

use crate::common::{Backend, TestServer, log_size, session, sha256};
use accesslog_core::entry::{Activity, Outcome};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

// ----- 5. read settings -----

/// Checks the log's first entry is the one recording the change of the read settings to
/// `after`, and the only entry written at start; then that recording the same settings
/// again writes nothing.
pub(super) async fn settings_change_is_recorded(server: &TestServer, after: Value) {
    // The server answers only once the change is recorded: log in first.
    session(server, HR.0, HR.1).await;
    assert_eq!(log_size(server).await, 1, "one entry at start");
    let e = server.store.entry(1).await.unwrap().unwrap().event;
    assert_eq!(
        (e.user.as_str(), e.activity, e.outcome),
        ("system", Activity::Read, Outcome::Granted)
    );
    assert_eq!(e.report_name.as_deref(), Some("Read settings"));
    assert_eq!(e.export_from.as_deref(), Some("Access Log"));
    assert_eq!(
        e.filters.map(|f| f.to_value()),
        Some(json!({
            "before": {"log.reads": "all", "log.read_names_max": 100, "log_reads = false": []},
            "after": after,
        }))
    );
    accesslog_server::record_read_settings(&server.state)
        .await
        .unwrap();
    assert_eq!(
        log_size(server).await,
        1,
        "the same settings again: nothing new"
    );
}

/// Creates SINV-00001 (as accounts; no read recorded when the settings leave it out).
pub(super) async fn an_invoice(server: &TestServer) {
    crate::common::customers(server, &["Acme"]).await;
    let (accounts, token) = session(server, "accounts@example.com", "accounts").await;
    let r = accounts
        .post(server.at("/api/resource/Sales Invoice"))
        .header("x-frappe-csrf-token", &token)
        .json(&json!({"customer": "Acme", "grand_total": 10, "status": "Unpaid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

pub(super) async fn reads_off_records_no_reads_but_every_other_egress(backend: Backend) {
    let Some(owned) = start(backend, "reads_off", "", "reads = \"off\"").await else {
        return;
    };
    let server = &owned;
    settings_change_is_recorded(
        server,
        json!({"log.reads": "off", "log.read_names_max": 100, "log_reads = false": []}),
    )
    .await;
    an_invoice(server).await;
    assert_eq!(
        log_size(server).await,
        1,
        "the create's answer is a document read"
    );
    let (hr, token) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let run = "/api/method/frappe.desk.query_report.run";
    let reads: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "REST list",
            hr.get(server.at("/api/resource/Employee?limit_page_length=0")),
        ),
        (
            "REST document",
            hr.get(server.at("/api/resource/Employee/EMP-0042")),
        ),
        ("form page", hr.get(server.at("/app/employee/EMP-0042"))),
        ("list page", hr.get(server.at("/app/employee"))),
        ("report page", hr.get(server.at(SALARY_REGISTER))),
        (
            "report data, GET",
            hr.get(server.at(&with_query(run, &[("report_name", "Salary Register")]))),
        ),
        (
            "report data, POST",
            hr.post(server.at(run))
                .header("x-frappe-csrf-token", &token)
                .form(&[("report_name", "Salary Register")]),
        ),
        ("log, API", admin.get(server.at("/api/access-log"))),
        ("log entry, API", admin.get(server.at("/api/access-log/1"))),
        (
            "log, Frappe",
            admin.get(server.at("/api/resource/Access%20Log")),
        ),
        ("log proof", admin.get(server.at("/api/access-log/1/proof"))),
        ("log page", admin.get(server.at("/app/access-log"))),
        ("log entry page", admin.get(server.at("/app/access-log/1"))),
        (
            "dashboard",
            admin.get(server.at("/app/access-log/dashboard")),
        ),
    ];
    for (what, req) in reads {
        unrecorded(server, req, what).await;
    }
    assert_eq!(log_size(server).await, 1);

    // Prints and exports are recorded as ever.
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales
        .get(server.at("/printview?doctype=Sales%20Invoice&name=SINV-00001&format=Classic"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[SEQ], "2");
    let body = r.bytes().await.unwrap();
    let e = server.store.entry(2).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome, e.reference_document.as_deref()),
        (Activity::Print, Outcome::Granted, Some("SINV-00001"))
    );
    assert_eq!(e.content_sha256.as_deref(), Some(sha256(&body).as_str()));

    let (accounts, token) = session(server, "accounts@example.com", "accounts").await;
    let r = accounts
        .post(server.at("/api/method/frappe.desk.reportview.export_query"))
        .header("x-frappe-csrf-token", &token)
        .form(&[("doctype", "Sales Invoice"), ("file_format_type", "CSV")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[SEQ], "3");
    let body = r.bytes().await.unwrap();
    let e = server.store.entry(3).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome, e.row_count),
        (Activity::Export, Outcome::Granted, Some(1))
    );
    assert_eq!(e.content_sha256.as_deref(), Some(sha256(&body).as_str()));

    // A refused read is a refusal, recorded as ever.
    let r = sales
        .get(server.at("/api/resource/Employee"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.headers()[SEQ], "4");
    let e = server.store.entry(4).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome, e.export_from.as_deref()),
        (Activity::Read, Outcome::Denied, Some("Employee"))
    );
    assert_eq!(log_size(server).await, 4);
    owned.stop().await;
}

pub(super) async fn reads_lists_records_lists_and_reports_not_documents(backend: Backend) {
    let Some(owned) = start(backend, "reads_lists", "", "reads = \"lists\"").await else {
        return;
    };
    let server = &owned;
    settings_change_is_recorded(
        server,
        json!({"log.reads": "lists", "log.read_names_max": 100, "log_reads = false": []}),
    )
    .await;
    let (hr, token) = session(server, HR.0, HR.1).await;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let run = "/api/method/frappe.desk.query_report.run";

    let lists: Vec<(&str, &str, reqwest::RequestBuilder, Option<&str>)> = vec![
        (
            "REST list",
            HR.0,
            hr.get(server.at("/api/resource/Employee")),
            Some("Employee"),
        ),
        (
            "list page",
            HR.0,
            hr.get(server.at("/app/employee")),
            Some("Employee"),
        ),
        (
            "report page",
            HR.0,
            hr.get(server.at(SALARY_REGISTER)),
            Some("Employee"),
        ),
        (
            "report data",
            HR.0,
            hr.post(server.at(run))
                .header("x-frappe-csrf-token", &token)
                .form(&[("report_name", "Salary Register")]),
            Some("Employee"),
        ),
        (
            "log, API",
            ADMIN.0,
            admin.get(server.at("/api/access-log")),
            Some("Access Log"),
        ),
        (
            "log page",
            ADMIN.0,
            admin.get(server.at("/app/access-log")),
            Some("Access Log"),
        ),
        (
            "dashboard",
            ADMIN.0,
            admin.get(server.at("/app/access-log/dashboard")),
            Some("Access Log"),
        ),
    ];
    for (what, user, req, export_from) in lists {
        let (_, e, _) = recorded(server, user, req, what).await;
        assert_eq!(e.export_from.as_deref(), export_from, "{what}");
        assert_eq!(e.reference_document, None, "{what}");
    }
    let documents: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "REST document",
            hr.get(server.at("/api/resource/Employee/EMP-0042")),
        ),
        ("form page", hr.get(server.at("/app/employee/EMP-0042"))),
        ("log entry, API", admin.get(server.at("/api/access-log/1"))),
        (
            "log entry, Frappe",
            admin.get(server.at("/api/resource/Access%20Log/1")),
        ),
        ("log proof", admin.get(server.at("/api/access-log/1/proof"))),
        ("log entry page", admin.get(server.at("/app/access-log/1"))),
    ];
    for (what, req) in documents {
        unrecorded(server, req, what).await;
    }
    owned.stop().await;
}

/// With `log.reads = "lists"`, a list of the Access Log is a list however many entries it
/// holds: one that happens to hold a single entry is recorded like any other.
pub(super) async fn a_short_list_of_the_log_is_still_a_list(backend: Backend) {
    let Some(owned) = start(backend, "reads_lists_short", "", "reads = \"lists\"").await else {
        return;
    };
    let server = &owned;
    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    // The log holds one entry: the change of the read settings.
    assert_eq!(log_size(server).await, 1);
    let mut unrecorded = Vec::new();
    for path in [
        "/api/access-log",
        "/app/access-log",
        "/api/resource/Access%20Log",
    ] {
        let before = log_size(server).await;
        let r = admin.get(server.at(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        if r.headers().get(SEQ).is_none() || log_size(server).await != before + 1 {
            unrecorded.push(path);
            continue;
        }
        let e = server.store.entry(before + 1).await.unwrap().unwrap().event;
        // Every entry so far is listed: the first list holds the one entry.
        assert_eq!(
            (e.activity, e.row_count, e.reference_document),
            (Activity::Read, Some(before), None),
            "{path}"
        );
    }
    assert_eq!(
        unrecorded,
        Vec::<&str>::new(),
        "lists of one entry left unrecorded"
    );
    owned.stop().await;
}

pub(super) async fn a_type_with_log_reads_false_is_not_recorded(backend: Backend) {
    let Some(owned) = start(backend, "log_reads_false", "log_reads = false", "").await else {
        return;
    };
    let server = &owned;
    settings_change_is_recorded(
        server,
        json!({"log.reads": "all", "log.read_names_max": 100, "log_reads = false": ["Employee"]}),
    )
    .await;
    let (hr, _) = session(server, HR.0, HR.1).await;
    for (what, path) in [
        ("REST list", "/api/resource/Employee?limit_page_length=0"),
        ("REST document", "/api/resource/Employee/EMP-0042"),
        ("form page", "/app/employee/EMP-0042"),
        ("list page", "/app/employee"),
    ] {
        unrecorded(server, hr.get(server.at(path)), what).await;
    }
    // Other types' reads are recorded.
    an_invoice(server).await;
    let (accounts, _) = session(server, "accounts@example.com", "accounts").await;
    for (what, path, reference) in [
        ("REST list", "/api/resource/Sales%20Invoice", None),
        (
            "REST document",
            "/api/resource/Sales%20Invoice/SINV-00001",
            Some("SINV-00001"),
        ),
        ("list page", "/app/sales-invoice", None),
        (
            "form page",
            "/app/sales-invoice/SINV-00001",
            Some("SINV-00001"),
        ),
    ] {
        let (_, e, _) = recorded(
            server,
            "accounts@example.com",
            accounts.get(server.at(path)),
            what,
        )
        .await;
        assert_eq!(e.export_from.as_deref(), Some("Sales Invoice"), "{what}");
        assert_eq!(e.reference_document.as_deref(), reference, "{what}");
    }
    owned.stop().await;
}

// ----- 6. the dashboard and the activity filter -----

pub(super) async fn the_dashboard_shows_reads_and_can_hide_them(backend: Backend) {
    let Some(owned) = start(backend, "dashboard_reads", "", "").await else {
        return;
    };
    let server = &owned;
    an_invoice(server).await;
    let (hr, _) = session(server, HR.0, HR.1).await;
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    for path in ["/app/employee", "/app/employee/EMP-0040", SALARY_REGISTER] {
        assert_eq!(hr.get(server.at(path)).send().await.unwrap().status(), 200);
    }
    let r = sales
        .get(server.at("/printview?doctype=Sales%20Invoice&name=SINV-00001&format=Classic"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A refused read and a refused print.
    let r = sales
        .get(server.at("/api/resource/Employee"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = hr
        .get(server.at(&format!("{SALARY_REGISTER}/print")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // What the log holds, counted here.
    let mut reads = 0;
    let mut prints = 0;
    let mut denied = 0;
    let mut denied_reads = 0;
    for seq in 1..=log_size(server).await {
        let e = server.store.entry(seq).await.unwrap().unwrap().event;
        match (e.activity, e.outcome) {
            (Activity::Read, Outcome::Granted) => reads += 1,
            (Activity::Print, Outcome::Granted) => prints += 1,
            (Activity::Read, Outcome::Denied) => {
                denied += 1;
                denied_reads += 1;
            }
            (Activity::ReportPrint, Outcome::Denied) => denied += 1,
            other => panic!("unexpected entry {seq}: {other:?}"),
        }
    }
    // The invoice's answer and hr's three pages; sales' print; hr's refused print and
    // sales' refused read.
    assert_eq!((reads, prints, denied, denied_reads), (4, 1, 2, 1));

    let (admin, _) = session(server, ADMIN.0, ADMIN.1).await;
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log/dashboard")),
        "dashboard",
    )
    .await;
    let html = String::from_utf8_lossy(&body);
    for legend in [
        format!("> Reads: {reads}</span>"),
        format!("> Prints: {prints}</span>"),
        "> Exports: 0</span>".to_owned(),
        format!("Denied attempts: {denied}<"),
        "reads</title>".to_owned(),
        ">Hide reads</a>".to_owned(),
        "href=\"/app/access-log/dashboard?reads=hide\"".to_owned(),
    ] {
        assert!(html.contains(&legend), "{legend}: {html}");
    }

    let (_, e, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log/dashboard?reads=hide")),
        "dashboard without reads",
    )
    .await;
    assert_eq!(
        e.filters.unwrap().to_value(),
        json!({"days": 30, "reads": "hide"})
    );
    let html = String::from_utf8_lossy(&body);
    for legend in [
        format!("> Prints: {prints}</span>"),
        format!("Denied attempts: {}<", denied - denied_reads),
        ">Show reads</a>".to_owned(),
    ] {
        assert!(html.contains(&legend), "{legend}: {html}");
    }
    assert!(!html.contains("Reads:"), "{html}");
    assert!(!html.contains("reads</title>"), "{html}");

    // The review filters on `read`.
    let all_reads: Vec<u64> = {
        let mut seqs = Vec::new();
        for seq in (1..=log_size(server).await).rev() {
            let e = server.store.entry(seq).await.unwrap().unwrap();
            if e.event.activity == Activity::Read {
                seqs.push(seq);
            }
        }
        seqs
    };
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/api/access-log?activity=read")),
        "API, activity=read",
    )
    .await;
    assert_eq!(data_seqs(&body), all_reads);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["activity"] == "read")
    );
    let mut all_reads = all_reads;
    all_reads.insert(0, log_size(server).await);
    let (_, _, body) = recorded(
        server,
        ADMIN.0,
        admin.get(server.at("/app/access-log?activity=read")),
        "page, activity=read",
    )
    .await;
    let html = String::from_utf8_lossy(&body);
    assert_eq!(page_seqs(&html), all_reads, "{html}");
    assert!(html.contains(r#"<option value="read" selected>"#), "{html}");
    assert!(!html.contains("<td>print</td>"), "{html}");
    owned.stop().await;
}
