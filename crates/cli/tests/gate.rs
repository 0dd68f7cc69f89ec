//! `accesslog gate` in front of our own server (`accesslog demo`), which speaks ERPNext's
//! routes, driven by an unmodified Frappe client from PyPI and by plain HTTP: what leaves
//! through the gate is in the gate's own log, byte for byte.

mod common;

use common::{accesslog, start};

use std::process::Command;

use accesslog_core::entry::{Activity, Outcome};
use accesslog_store::LogReads;
use sha2::Digest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_records_what_leaves_our_own_server_through_it() {
    let has_client = Command::new("python3")
        .args(["-c", "import frappeclient"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_client {
        accesslog_testkit::skip(
            "frappe-client",
            "pip install --no-deps frappe-client==0.1.0.dev0",
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    let upstream = start(&[
        "demo",
        "--dir",
        demo.to_str().unwrap(),
        "--port",
        "0",
        "--rows",
        "200",
        "--no-history",
    ]);
    let site = tmp.path().join("gate");
    let out = accesslog()
        .args(["new-site", site.to_str().unwrap(), "--name", "ERP egress"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gate = start(&[
        "gate",
        "--site",
        site.to_str().unwrap(),
        "--upstream",
        &upstream.url,
        "--bind",
        "127.0.0.1:0",
    ]);

    // An unmodified Frappe client, pointed at the gate.
    let script = r#"
import json, sys
from frappeclient import FrappeClient
c = FrappeClient(sys.argv[1])
c.login("accounts@example.com", "accounts")
rows = c.get_list("Sales Invoice", fields=["name", "grand_total"], limit_page_length=5, order_by="name asc")
doc = c.get_doc("Sales Invoice", rows[0]["name"])
print(json.dumps({"rows": rows, "doc": doc["name"]}))
"#;
    let url = gate.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", script, &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["rows"].as_array().unwrap().len(), 5);
    let first = seen["rows"][0]["name"].as_str().unwrap().to_owned();

    // Each of ERPNext's egress routes that our server speaks, through the gate as a
    // browser session: the gate's entry holds the SHA-256 of the bytes the client got, and
    // the upstream's own log (it records what it sends) holds the same hash: the gate
    // hashed exactly what left the upstream.
    let routes: [(&str, &str, Activity); 10] = [
        (
            "accounts",
            "/printview?doctype=Sales%20Invoice&name=SINV-00001&format=Classic",
            Activity::Print,
        ),
        (
            "accounts",
            "/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name=SINV-00001",
            Activity::Print,
        ),
        (
            "accounts",
            "/api/method/frappe.desk.query_report.export_query?report_name=General%20Ledger&file_format_type=CSV&filters=%7B%22from_date%22%3A%222025-01-01%22%7D",
            Activity::Export,
        ),
        (
            "accounts",
            "/api/method/frappe.desk.reportview.export_query?doctype=Sales%20Invoice&file_format_type=CSV&title=Invoices&fields=%5B%22name%22%2C%22grand_total%22%5D",
            Activity::Export,
        ),
        (
            "hr",
            "/private/files/contract-EMP-0001.pdf",
            Activity::FileDownload,
        ),
        (
            "accounts",
            "/api/resource/Sales%20Invoice?fields=%5B%22name%22%5D&limit_page_length=3",
            Activity::Read,
        ),
        (
            "accounts",
            "/api/resource/Sales%20Invoice/SINV-00002",
            Activity::Read,
        ),
        (
            "accounts",
            "/api/method/frappe.client.get_list?doctype=Sales%20Invoice&limit_page_length=4",
            Activity::Read,
        ),
        (
            "accounts",
            "/api/method/frappe.desk.query_report.run?report_name=Sales%20Register",
            Activity::Read,
        ),
        (
            "accounts",
            "/api/method/frappe.desk.reportview.get?doctype=Sales%20Invoice&fields=%5B%22name%22%5D",
            Activity::Read,
        ),
    ];
    let mut sessions = std::collections::BTreeMap::new();
    let mut csrf = String::new();
    for user in ["accounts", "hr"] {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let r = http
            .post(format!("{}/api/method/login", gate.url))
            .form(&[
                ("usr", format!("{user}@example.com")),
                ("pwd", user.to_owned()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        if user == "accounts" {
            // The desk's token, which its form posts carry (the gate passes it on).
            csrf = r.headers()["x-frappe-csrf-token"]
                .to_str()
                .unwrap()
                .to_owned();
        }
        sessions.insert(user, http);
    }
    let upstream_log = open_log(&demo).await;
    let gate_log = open_log(&site).await;
    for (user, path, activity) in routes {
        let r = sessions[user]
            .get(format!("{}{path}", gate.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let seq: u64 = r.headers()["x-access-log-entry"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let bytes = r.bytes().await.unwrap();
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        let mine = gate_log.entry(seq).await.unwrap().unwrap().event;
        assert_eq!(mine.activity, activity, "{path}");
        assert_eq!(mine.user, format!("{user}@example.com"), "{path}");
        assert_eq!(mine.content_sha256.as_deref(), Some(sha.as_str()), "{path}");
        let head = upstream_log.log_head().await.unwrap().size;
        let theirs = upstream_log.entry(head).await.unwrap().unwrap().event;
        assert_eq!(theirs.user, mine.user, "{path}");
        assert_eq!(
            theirs.content_sha256, mine.content_sha256,
            "{path}: the upstream's own entry"
        );
    }
    // The desk's form post to `/` with cmd=: our server answers 307 to the method's own
    // route (ERPNext runs it in place); the client follows, through the gate, and the
    // export is recorded once.
    let before = gate_log.log_head().await.unwrap().size;
    let r = sessions["accounts"]
        .post(format!("{}/", gate.url))
        .form(&[
            ("cmd", "frappe.desk.query_report.export_query"),
            ("report_name", "General Ledger"),
            ("file_format_type", "CSV"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(status, 200, "{}", r.text().await.unwrap());
    assert_eq!(gate_log.log_head().await.unwrap().size, before + 1);

    // The unmodified client's reads, in the gate's log.
    let size = gate_log.log_head().await.unwrap().size;
    let mut entries = Vec::new();
    for seq in 1..=size {
        entries.push(gate_log.entry(seq).await.unwrap().unwrap().event);
    }
    let list = entries
        .iter()
        .find(|e| e.activity == Activity::Read && e.reference_document.is_none())
        .expect("the client's list read");
    assert_eq!(list.user, "accounts@example.com");
    assert_eq!(list.export_from.as_deref(), Some("Sales Invoice"));
    assert_eq!(list.row_count, Some(5));
    assert!(
        list.user_agent
            .as_deref()
            .unwrap_or("")
            .contains("python-requests")
    );
    let doc = entries
        .iter()
        .find(|e| e.activity == Activity::Read && e.reference_document.as_deref() == Some(&first))
        .expect("the client's document read");
    assert_eq!(doc.outcome, Outcome::Granted);
    drop((gate_log, upstream_log));

    // The gate's log verifies with the site's key.
    drop(gate);
    let out = accesslog()
        .args(["verify", "--site", site.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A site's log, opened beside the process that writes it.
async fn open_log(site: &std::path::Path) -> accesslog_store_sqlite::SqliteStore {
    let settings =
        accesslog_site::Settings::load(site, &|_| None, &accesslog_site::Overrides::default())
            .unwrap();
    let accesslog_site::Database::Sqlite(path) = &settings.database else {
        panic!("the site is on SQLite");
    };
    accesslog_store_sqlite::SqliteStore::open(path)
        .await
        .unwrap()
}
