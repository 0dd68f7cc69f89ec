//! `accesslog gate` in front of our own server (`accesslog demo`), which speaks ERPNext's
//! routes, driven by an unmodified Frappe client from PyPI and by plain HTTP: what leaves
//! through the gate is in the gate's own log, byte for byte.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use accesslog_core::entry::{Activity, Outcome};
use accesslog_store::LogStore;
use sha2::Digest;

struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn accesslog() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_accesslog"));
    cmd.env_remove("ACCESSLOG_SITE")
        .env_remove("ACCESSLOG_BIND")
        .env_remove("ACCESSLOG_DATABASE_URL");
    cmd
}

/// Starts `accesslog ARGS` and waits for the URL it listens at (the line's first URL).
fn start(args: &[&str]) -> Running {
    let mut child = accesslog()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) {
        if let Some(i) = line.find("http://") {
            let url = line[i..]
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_owned();
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return Running { child, url };
        }
        seen.push(line);
    }
    panic!("accesslog never printed its URL; it printed: {seen:?}");
}

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

    // A PDF through the gate is the upstream's PDF, and its hash is in the gate's log.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/api/method/login", gate.url))
        .form(&[("usr", "accounts@example.com"), ("pwd", "accounts")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pdf = format!(
        "/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name={first}"
    );
    let r = http.get(format!("{}{pdf}", gate.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF"));

    // The gate's own log, read as the review reads it.
    let settings =
        accesslog_site::Settings::load(&site, &|_| None, &accesslog_site::Overrides::default())
            .unwrap();
    let accesslog_site::Database::Sqlite(path) = &settings.database else {
        panic!("the new site is on SQLite");
    };
    let store = accesslog_store_sqlite::SqliteStore::open(path)
        .await
        .unwrap();
    let size = store.log_head().await.unwrap().size;
    let mut entries = Vec::new();
    for seq in 1..=size {
        entries.push(store.entry(seq).await.unwrap().unwrap().event);
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
    let print = entries
        .iter()
        .find(|e| e.activity == Activity::Print)
        .expect("the PDF");
    assert_eq!(
        print.content_sha256.as_deref(),
        Some(hex::encode(sha2::Sha256::digest(&bytes)).as_str())
    );
    assert_eq!(print.file_type.as_deref(), Some("PDF"));
    drop(store);

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
