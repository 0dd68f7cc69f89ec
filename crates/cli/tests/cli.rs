//! The `accesslog` binary, run as an operator would run it.

mod common;

use common::{accesslog, start, text};

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    accesslog().args(args).output().unwrap()
}

fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = accesslog()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn failed(out: Output) -> String {
    assert!(
        !out.status.success(),
        "should have failed: {}",
        text(&out.stdout)
    );
    text(&out.stderr)
}

#[test]
fn users_roles_and_api_keys_from_the_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("acme");
    let site_s = site.to_str().unwrap();

    let out = ok(run(&["new-site", site_s, "--name", "Acme"]));
    assert!(out.contains("accesslog serve --site"), "{out}");
    for sub in [
        "doctypes",
        "reports",
        "print_formats",
        "raw_formats",
        "files",
        "keys",
    ] {
        assert!(site.join(sub).is_dir(), "{sub}");
    }
    let err = failed(run(&["new-site", site_s]));
    assert!(err.contains("already holds a site"), "{err}");

    let out = ok(run_with_stdin(
        &[
            "user",
            "add",
            "--site",
            site_s,
            "Ana@Acme.example",
            "--name",
            "Ana Ruiz",
            "--role",
            "System Manager",
            "--password-stdin",
        ],
        "s3cret-passphrase\n",
    ));
    assert!(
        out.contains("Added ana@acme.example (System Manager)"),
        "{out}"
    );

    let err = failed(run(&[
        "user",
        "add-role",
        "--site",
        site_s,
        "ana@acme.example",
        "Wizard",
    ]));
    assert!(
        err.contains("unknown role \"Wizard\"") && err.contains("System Manager"),
        "{err}"
    );
    let err = failed(run(&[
        "user",
        "add",
        "--site",
        site_s,
        "not-an-email",
        "--name",
        "X",
    ]));
    assert!(err.contains("invalid email address"), "{err}");
    let err = failed(run(&[
        "user",
        "add",
        "--site",
        site_s,
        "ana@acme.example",
        "--name",
        "Again",
    ]));
    assert!(err.contains("already exists"), "{err}");

    let out = ok(run(&["user", "list", "--site", site_s]));
    assert!(
        out.contains("ana@acme.example")
            && out.contains("Ana Ruiz")
            && out.contains("System Manager"),
        "{out}"
    );

    let out = ok(run(&[
        "user",
        "api-key",
        "create",
        "--site",
        site_s,
        "ana@acme.example",
        "--label",
        "nightly",
    ]));
    let key = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("api_key:"))
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(key.len(), 15, "{out}");
    let out = ok(run(&["user", "api-key", "list", "--site", site_s]));
    assert!(out.contains(&key) && out.contains("nightly"), "{out}");
    ok(run(&["user", "api-key", "revoke", "--site", site_s, &key]));
    let err = failed(run(&[
        "user",
        "api-key",
        "revoke",
        "--site",
        site_s,
        "no-such-key",
    ]));
    assert!(err.contains("no API key"), "{err}");

    let out = ok(run(&[
        "user",
        "disable",
        "--site",
        site_s,
        "ana@acme.example",
    ]));
    assert!(out.contains("Disabled"), "{out}");
    let out = ok(run(&["user", "list", "--site", site_s]));
    assert!(
        out.lines()
            .any(|l| l.contains("ana@acme.example") && l.contains(" no ")),
        "{out}"
    );

    let err = failed(run(&["user", "list"]));
    assert!(err.contains("--site"), "{err}");
}

#[test]
fn a_bad_setting_names_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().to_str().unwrap();
    ok(run(&["new-site", site]));
    let out = accesslog()
        .args(["serve", "--site", site])
        .env("ACCESSLOG_BIND", "nowhere")
        .output()
        .unwrap();
    let err = failed(out);
    assert!(
        err.contains("ACCESSLOG_BIND (environment variable)") && err.contains("nowhere"),
        "{err}"
    );

    let err = failed(run(&["serve", "--site", site, "--database", "mysql://x/y"]));
    assert!(err.contains("--database (command-line flag)"), "{err}");

    let err = failed(run(&[
        "serve",
        "--site",
        tmp.path().join("missing").to_str().unwrap(),
    ]));
    assert!(err.contains("is not a site folder"), "{err}");

    // A print format with a syntax error stops the server, naming the file and line.
    std::fs::create_dir_all(tmp.path().join("doctypes")).unwrap();
    std::fs::write(
        tmp.path().join("doctypes/note.toml"),
        "name = \"Note\"\nnaming = \"prompt\"\n[[fields]]\nfieldname = \"body\"\nfieldtype = \"text\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("print_formats/Note")).unwrap();
    std::fs::write(
        tmp.path().join("print_formats/Note/Memo.html"),
        "<p>{{ doc.body }}</p>\n{% if %}",
    )
    .unwrap();
    let err = failed(run(&["serve", "--site", site]));
    assert!(
        err.contains("print_formats/Note/Memo.html: line 2: syntax error"),
        "{err}"
    );
}

async fn login(url: &str, usr: &str, pwd: &str) -> (reqwest::StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}/api/method/login"))
        .form(&[("usr", usr), ("pwd", pwd)])
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn demo_serves_a_login_page_and_the_demo_users() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let server = start(&[
        "demo",
        "--dir",
        dir.to_str().unwrap(),
        "--port",
        "0",
        "--rows",
        "200",
    ]);

    // The demo's data: HR reads EMP-0001's contract; Sales may not.
    let hr = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    hr.post(format!("{}/api/method/login", server.url))
        .form(&[("usr", "hr@example.com"), ("pwd", "hr")])
        .send()
        .await
        .unwrap();
    let r = hr
        .get(format!(
            "{}/private/files/contract-EMP-0001.pdf",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF-1.4"));
    let sales = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    sales
        .post(format!("{}/api/method/login", server.url))
        .form(&[("usr", "sales@example.com"), ("pwd", "sales")])
        .send()
        .await
        .unwrap();
    let r = sales
        .get(format!(
            "{}/private/files/contract-EMP-0001.pdf",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The demo's shipping label for its first invoice.
    let r = sales
        .get(format!(
            "{}/api/raw-print?doctype=Sales%20Invoice&name=SINV-00001&format=Shipping%20Label",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let label = r.text().await.unwrap();
    assert!(label.contains("^FDSINV-00001^FS"), "{label}");
    let invoices: Value = sales
        .get(format!(
            "{}/api/resource/Sales%20Invoice?limit_page_length=0",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(invoices["data"].as_array().unwrap().len(), 2000);

    let page = reqwest::get(format!("{}/login", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Log in to Access Log Demo") && page.contains(r#"name="pwd""#),
        "{page}"
    );
    for (usr, pwd) in [
        ("admin@example.com", "admin"),
        ("accounts@example.com", "accounts"),
        ("sales@example.com", "sales"),
        ("hr@example.com", "hr"),
    ] {
        let (status, body) = login(&server.url, usr, pwd).await;
        assert_eq!(status, 200, "{usr}: {body}");
        assert_eq!(body["message"], "Logged In");
    }

    // The demo's reports run: Accounts exports the General Ledger; HR runs the Salary
    // Register, which Accounts may not.
    let accounts = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = accounts
        .post(format!("{}/api/method/login", server.url))
        .form(&[("usr", "accounts@example.com"), ("pwd", "accounts")])
        .send()
        .await
        .unwrap();
    let token = r.headers()["x-frappe-csrf-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let r = accounts
        .post(format!(
            "{}/api/method/frappe.desk.query_report.export_query",
            server.url
        ))
        .header("x-frappe-csrf-token", &token)
        .form(&[
            ("report_name", "General Ledger"),
            ("file_format_type", "Excel"),
            ("filters", r#"{"account": "Debtors"}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));
    for (report, status) in [
        ("Sales%20Register", 200),
        ("Accounts%20Receivable", 200),
        ("Salary%20Register", 403),
    ] {
        let r = accounts
            .get(format!("{}/app/query-report/{report}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{report}");
    }
    let r = hr
        .get(format!(
            "{}/app/query-report/Salary%20Register?department=Sales",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Monthly Gross"));
    drop(server);

    // A second start reuses the site and its data; the two downloads, the label, the
    // export, and the reads and refusals around them are in a log that verifies.
    assert!(dir.join("site.toml").is_file() && dir.join("accesslog.db").is_file());
    let out = ok(run(&["verify", "--site", dir.to_str().unwrap()]));
    let entries: u64 = out
        .split("OK: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("verify said: {out}"));
    assert!(entries > 4, "reads are recorded too: {out}");
    let server = start(&["demo", "--dir", dir.to_str().unwrap(), "--port", "0"]);
    assert_eq!(
        login(&server.url, "admin@example.com", "admin").await.0,
        200
    );
    // The generated history came with incidents: the rules find them, and the System
    // Manager has alerts to investigate (the evaluator runs every 5 seconds).
    assert!(entries > 50_000, "90 days of generated history: {out}");
    let admin = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    admin
        .post(format!("{}/api/method/login", server.url))
        .form(&[("usr", "admin@example.com"), ("pwd", "admin")])
        .send()
        .await
        .unwrap();
    let mut rules = std::collections::BTreeSet::new();
    for _ in 0..60 {
        let v: Value = admin
            .get(format!("{}/api/access-log/alerts?limit=500", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rules = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_owned())
            .collect();
        if rules.len() >= 8 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    for rule in ["R1", "R2", "R3", "R4", "R5", "R8"] {
        assert!(
            rules.contains(rule),
            "{rule} in the demo's inbox: {rules:?}"
        );
    }
}

#[tokio::test]
async fn serve_uses_postgres_when_the_url_says_so() {
    let Ok(base) = std::env::var("ACCESSLOG_TEST_POSTGRES_URL") else {
        accesslog_testkit::skip_postgres();
        return;
    };
    // A database of its own, so this run cannot collide with any other.
    let db = format!("accesslog_cli_{}", accesslog_core::secrets::random_hex(6));
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let url = format!("{prefix}/{db}");

    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().to_str().unwrap();
    ok(run(&["new-site", site]));
    ok(run_with_stdin(
        &[
            "user",
            "add",
            "--site",
            site,
            "--database",
            &url,
            "pg@example.com",
            "--name",
            "On Postgres",
            "--password-stdin",
        ],
        "pg-pass\n",
    ));
    {
        let server = start(&[
            "serve",
            "--site",
            site,
            "--database",
            &url,
            "--bind",
            "127.0.0.1:0",
        ]);
        let health: Value = reqwest::get(format!("{}/api/health", server.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["database"], "postgres");
        let (status, body) = login(&server.url, "pg@example.com", "pg-pass").await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(
        !Path::new(site).join("accesslog.db").exists(),
        "nothing was written to SQLite"
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

// ----- the log engine, end to end: verify, crashes, several processes -----

/// A site whose database is on `backend` (PostgreSQL in a fresh schema), or `None` when
/// PostgreSQL is not configured.
async fn log_site(
    backend: accesslog_testkit::Backend,
    case: &str,
) -> Option<(tempfile::TempDir, accesslog_testkit::TestDb)> {
    let db = accesslog_testkit::TestDb::open(backend, case).await?;
    let tmp = tempfile::tempdir().unwrap();
    ok(run(&[
        "new-site",
        tmp.path().join("site").to_str().unwrap(),
    ]));
    Some((tmp, db))
}

fn site_args<'a>(
    tmp: &'a tempfile::TempDir,
    db: &'a accesslog_testkit::TestDb,
    cmd: &'a str,
) -> Vec<String> {
    vec![
        cmd.to_owned(),
        "--site".into(),
        tmp.path().join("site").display().to_string(),
        "--database".into(),
        db.url.clone(),
    ]
}

fn run_args(args: &[String]) -> Output {
    accesslog().args(args).output().unwrap()
}

/// Receipts printed by `record-load`: (seq, tag).
fn receipts(stdout: &str) -> Vec<(u64, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut parts = l.strip_prefix("receipt ")?.split(' ');
            Some((parts.next()?.parse().ok()?, parts.next()?.to_owned()))
        })
        .collect()
}

async fn assert_all_recorded(db: &accesslog_testkit::TestDb, got: &[(u64, String)]) {
    for (seq, tag) in got {
        let entry = db
            .store
            .entry(*seq)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("receipt {seq} has no entry"));
        assert_eq!(
            entry.event.reference_document.as_deref(),
            Some(tag.as_str()),
            "entry {seq}"
        );
    }
}

async fn verify_reports_ok_and_names_tampering(backend: accesslog_testkit::Backend) {
    let Some((tmp, db)) = log_site(backend, "verify_reports_ok_and_names_tampering").await else {
        return;
    };
    let mut load = site_args(&tmp, &db, "record-load");
    load.extend([
        "--count".into(),
        "20".into(),
        "--writers".into(),
        "2".into(),
    ]);
    assert_eq!(receipts(&ok(run_args(&load))).len(), 40);

    let out = ok(run_args(&site_args(&tmp, &db, "verify")));
    assert!(out.contains("OK: 40 entries"), "{out}");
    let saved = ok(run_args(&site_args(&tmp, &db, "checkpoint")));
    assert!(
        saved.starts_with("access-log.local/access-log\n40\n")
            && saved.contains("\n\n\u{2014} access-log.local/access-log "),
        "{saved}"
    );
    let cp_file = tmp.path().join("saved-checkpoint");
    std::fs::write(&cp_file, &saved).unwrap();
    let mut with_cp = site_args(&tmp, &db, "verify");
    with_cp.extend(["--checkpoint".into(), cp_file.display().to_string()]);
    let out = ok(run_args(&with_cp));
    assert!(out.contains("extends the external checkpoint"), "{out}");

    db.execute("UPDATE access_log SET reference_document = 'forged' WHERE seq = 17")
        .await;
    let err = failed(run_args(&site_args(&tmp, &db, "verify")));
    assert!(
        err.contains("VERIFICATION FAILED at seq 17") && err.contains("altered"),
        "{err}"
    );
    db.drop().await;
}

#[tokio::test]
async fn verify_reports_ok_and_names_tampering_on_sqlite() {
    verify_reports_ok_and_names_tampering(accesslog_testkit::Backend::Sqlite).await;
}

#[tokio::test]
async fn verify_reports_ok_and_names_tampering_on_postgres() {
    verify_reports_ok_and_names_tampering(accesslog_testkit::Backend::Postgres).await;
}

/// Kills a recording process with SIGKILL again and again: after each restart the log
/// verifies and every receipt the process printed before dying is in it.
async fn killed_recorders_lose_no_receipted_entry(backend: accesslog_testkit::Backend) {
    let Some((tmp, db)) = log_site(backend, "killed_recorders_lose_no_receipted_entry").await
    else {
        return;
    };
    let mut all = Vec::new();
    for round in 0..4 {
        let mut args = site_args(&tmp, &db, "record-load");
        args.extend([
            "--count".into(),
            "1000000".into(),
            "--writers".into(),
            "16".into(),
            "--tag".into(),
            format!("r{round}"),
        ]);
        let mut child = accesslog()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Let it get going (at least 300 receipts, bounded), then kill it mid-flight.
        let mut lines = Vec::new();
        while lines.len() < 300 {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(l) => lines.push(l),
                Err(_) => panic!("record-load printed only {} receipts", lines.len()),
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        let got = receipts(&lines.join("\n"));
        assert!(got.len() >= 300);
        all.extend(got);

        let out = ok(run_args(&site_args(&tmp, &db, "verify")));
        assert!(out.starts_with("OK: "), "round {round}: {out}");
        assert_all_recorded(&db, &all).await;
    }
    db.drop().await;
}

#[tokio::test]
async fn killed_recorders_lose_no_receipted_entry_on_sqlite() {
    killed_recorders_lose_no_receipted_entry(accesslog_testkit::Backend::Sqlite).await;
}

#[tokio::test]
async fn killed_recorders_lose_no_receipted_entry_on_postgres() {
    killed_recorders_lose_no_receipted_entry(accesslog_testkit::Backend::Postgres).await;
}

/// Two processes recording into one database at once: dense seq, nothing lost, and the
/// tree verifies.
async fn two_processes_share_one_log(backend: accesslog_testkit::Backend) {
    let Some((tmp, db)) = log_site(backend, "two_processes_share_one_log").await else {
        return;
    };
    let spawn = |tag: &str| {
        let mut args = site_args(&tmp, &db, "record-load");
        args.extend([
            "--count".into(),
            "150".into(),
            "--writers".into(),
            "4".into(),
            "--tag".into(),
            tag.into(),
        ]);
        accesslog()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut got = receipts(&ok(a));
    got.extend(receipts(&ok(b)));
    assert_eq!(got.len(), 1200);
    let mut seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=1200).collect::<Vec<_>>(),
        "dense, and each seq handed out once"
    );
    assert_all_recorded(&db, &got).await;
    let out = ok(run_args(&site_args(&tmp, &db, "verify")));
    assert!(out.contains("OK: 1200 entries"), "{out}");
    // Each process read its clock before taking the writer's lock; the time is settled
    // under the lock, so it never goes back as seq goes up (verify checks this too).
    let entries = db.store.entries_after(0, 2000).await.unwrap();
    assert_eq!(entries.len(), 1200);
    for pair in entries.windows(2) {
        assert!(
            pair[0].timestamp <= pair[1].timestamp,
            "entry {} is dated before entry {}",
            pair[1].seq,
            pair[0].seq
        );
    }
    db.drop().await;
}

#[tokio::test]
async fn two_processes_share_one_log_on_sqlite() {
    two_processes_share_one_log(accesslog_testkit::Backend::Sqlite).await;
}

#[tokio::test]
async fn two_processes_share_one_log_on_postgres() {
    two_processes_share_one_log(accesslog_testkit::Backend::Postgres).await;
}

// ----- import -----

fn site_with_types() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    ok(run(&["new-site", tmp.path().to_str().unwrap()]));
    std::fs::write(
        tmp.path().join("doctypes/customer.toml"),
        "name = \"Customer\"\nnaming = \"field:customer_name\"\n\n[[fields]]\nfieldname = \"customer_name\"\nfieldtype = \"data\"\nreqd = true\n\n[[fields]]\nfieldname = \"customer_group\"\nfieldtype = \"select\"\noptions = [\"Commercial\", \"Individual\"]\n\n[[fields]]\nfieldname = \"credit_limit\"\nfieldtype = \"currency\"\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("doctypes/invoice.toml"),
        "name = \"Invoice\"\nnaming = \"INV-.###\"\n\n[[fields]]\nfieldname = \"customer\"\nfieldtype = \"link\"\noptions = \"Customer\"\nreqd = true\n\n[[fields]]\nfieldname = \"items\"\nfieldtype = \"table\"\noptions = \"Invoice Item\"\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("doctypes/invoice_item.toml"),
        "name = \"Invoice Item\"\nis_child = true\nnaming = \"hash\"\n\n[[fields]]\nfieldname = \"item_code\"\nfieldtype = \"data\"\nreqd = true\n\n[[fields]]\nfieldname = \"qty\"\nfieldtype = \"int\"\n",
    )
    .unwrap();
    tmp
}

#[test]
fn import_checks_every_row_and_writes_all_or_nothing() {
    import_checks_every_row(None);
}

#[tokio::test]
async fn import_checks_every_row_and_writes_all_or_nothing_on_postgres() {
    let Some(db) = accesslog_testkit::TestDb::postgres("import_on_postgres").await else {
        return;
    };
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || import_checks_every_row(Some(&url)))
        .await
        .unwrap();
    db.drop().await;
}

fn import_checks_every_row(database: Option<&str>) {
    let tmp = site_with_types();
    let site = tmp.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        if let Some(url) = database {
            all.extend(["--database", url]);
        }
        run(&all)
    };
    let file = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };

    let bad = file(
        "bad.csv",
        "customer_name,customer_group,credit_limit\nAcme,Commercial,1000\nBolt,Wholesale,5\n,Individual,\nCog,Individual,lots\n",
    );
    let err = failed(run(&[
        "import",
        "--site",
        site,
        "--doctype",
        "Customer",
        &bad,
    ]));
    assert!(err.contains("line 3") && err.contains("Wholesale"), "{err}");
    assert!(
        err.contains("line 4") && err.contains("customer_name is required"),
        "{err}"
    );
    assert!(
        err.contains("line 5") && err.contains("credit_limit"),
        "{err}"
    );
    assert!(
        err.contains("3 of 4 rows are not valid; nothing was imported"),
        "{err}"
    );

    let dup = file("dup.csv", "customer_name\nAcme\nAcme\n");
    let err = failed(run(&[
        "import",
        "--site",
        site,
        "--doctype",
        "Customer",
        &dup,
    ]));
    assert!(
        err.contains("nothing was imported") && err.contains("Acme"),
        "{err}"
    );

    let good = file(
        "good.csv",
        "\u{feff}customer_name,customer_group\nAcme,Commercial\n\"Bolt, Ltd\",Individual\n",
    );
    let out = ok(run(&[
        "import",
        "--site",
        site,
        "--doctype",
        "Customer",
        &good,
    ]));
    assert!(out.contains("Imported 2 Customer documents"), "{out}");

    let json = file(
        "invoices.json",
        r#"[{"customer": "Acme", "items": [{"item_code": "W", "qty": 2}, {"item_code": "G"}]}, {"customer": "Bolt, Ltd"}]"#,
    );
    let out = ok(run(&[
        "import",
        "--site",
        site,
        "--doctype",
        "Invoice",
        &json,
    ]));
    assert!(out.contains("Imported 2 Invoice documents"), "{out}");
    let bad_json = file(
        "bad.json",
        r#"[{"customer": "Acme", "items": [{"qty": 1}]}]"#,
    );
    let err = failed(run(&[
        "import",
        "--site",
        site,
        "--doctype",
        "Invoice",
        &bad_json,
    ]));
    assert!(
        err.contains("item 1: items row 1: item_code is required"),
        "{err}"
    );

    let err = failed(run(&["import", "--site", site, "--doctype", "Nope", &good]));
    assert!(err.contains("no document type \"Nope\""), "{err}");
}

#[tokio::test]
async fn backups_are_made_and_downloaded_only_through_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = dir.to_str().unwrap();
    let server = start(&[
        "demo",
        "--dir",
        d,
        "--port",
        "0",
        "--rows",
        "10",
        "--no-history",
    ]);
    let out = ok(run(&["backup", "--site", d]));
    assert!(
        out.contains("Backed up to") && out.contains("backups/backup-"),
        "{out}"
    );
    let file = std::fs::read_dir(dir.join("backups"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();

    let admin = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    admin
        .post(format!("{}/api/method/login", server.url))
        .form(&[("usr", "admin@example.com"), ("pwd", "admin")])
        .send()
        .await
        .unwrap();
    let page = admin
        .get(format!("{}/app/backups", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&file), "{page}");
    let r = admin
        .get(format!("{}/app/backups/{file}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-access-log-seq"));
    assert!(r.bytes().await.unwrap().starts_with(b"SQLite format 3"));
    assert_eq!(
        admin
            .get(format!("{}/app/backups/nope.sqlite3", server.url))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let hr = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    hr.post(format!("{}/api/method/login", server.url))
        .form(&[("usr", "hr@example.com"), ("pwd", "hr")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        hr.get(format!("{}/app/backups/{file}", server.url))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    drop(server);
    let out = ok(run(&["verify", "--site", d]));
    assert!(
        out.contains("OK: 3 entries"),
        "granted, not found and refused are all recorded: {out}"
    );
    // What each entry says: the file sent, by whom, its size and digest; the refusals.
    let bytes = std::fs::read(dir.join("backups").join(&file)).unwrap();
    let store = accesslog_store_sqlite::SqliteStore::open(&dir.join("accesslog.db"))
        .await
        .unwrap();
    let entries = accesslog_store::LogReads::entries_after(&store, 0, 10)
        .await
        .unwrap();
    store.close().await;
    let seen: Vec<_> = entries
        .iter()
        .map(|e| {
            let e = &e.event;
            (
                e.user.as_str(),
                e.activity,
                e.outcome,
                e.reference_document.as_deref(),
                e.byte_count,
            )
        })
        .collect();
    use accesslog_core::entry::{Activity::BackupDownload, Outcome};
    assert_eq!(
        seen,
        [
            (
                "admin@example.com",
                BackupDownload,
                Outcome::Granted,
                Some(file.as_str()),
                Some(bytes.len() as u64)
            ),
            (
                "admin@example.com",
                BackupDownload,
                Outcome::Denied,
                Some("nope.sqlite3"),
                None
            ),
            (
                "hr@example.com",
                BackupDownload,
                Outcome::Denied,
                Some(file.as_str()),
                None
            ),
        ]
    );
    assert_eq!(
        entries[0].event.content_sha256.as_deref(),
        Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)).as_str())
    );
}

#[test]
fn removed_fields_keep_their_data_until_an_explicit_migrate() {
    let tmp = site_with_types();
    let site = tmp.path().to_str().unwrap();
    let csv = tmp.path().join("c.csv");
    std::fs::write(&csv, "customer_name,credit_limit\nAcme,500\n").unwrap();
    ok(run(&[
        "import",
        "--site",
        site,
        "--doctype",
        "Customer",
        csv.to_str().unwrap(),
    ]));

    // Remove credit_limit from the definition.
    let def = tmp.path().join("doctypes/customer.toml");
    let text = std::fs::read_to_string(&def).unwrap();
    let cut = text
        .find("[[fields]]\nfieldname = \"credit_limit\"")
        .unwrap();
    std::fs::write(&def, &text[..cut]).unwrap();

    let out = ok(run(&["migrate", "--site", site]));
    assert!(
        out.contains("Customer: kept the data of removed fields credit_limit"),
        "{out}"
    );
    let out = ok(run(&["migrate", "--site", site, "--drop-removed-fields"]));
    assert!(out.contains("Customer: dropped credit_limit"), "{out}");
    let out = ok(run(&["migrate", "--site", site]));
    assert!(!out.contains("credit_limit"), "{out}");
}

/// `accesslog log-export` writes the log (filtered) as JSON Lines or CSV, and records the
/// export as a log_export before writing; the log still verifies.
async fn log_export_writes_and_records(backend: accesslog_testkit::Backend) {
    let Some((tmp, db)) = log_site(backend, "log_export_writes_and_records").await else {
        return;
    };
    let mut load = site_args(&tmp, &db, "record-load");
    load.extend(["--count".into(), "5".into(), "--writers".into(), "2".into()]);
    assert_eq!(receipts(&ok(run_args(&load))).len(), 10);

    let out_file = tmp.path().join("log.csv");
    let mut csv = site_args(&tmp, &db, "log-export");
    csv.extend([
        "--format".into(),
        "csv".into(),
        "--user".into(),
        "load-0@example.com".into(),
        "--out".into(),
        out_file.display().to_string(),
    ]);
    let said = run_args(&csv);
    assert!(said.status.success(), "{}", text(&said.stderr));
    assert!(
        text(&said.stderr).contains("Wrote 5 entries"),
        "{}",
        text(&said.stderr)
    );
    let written = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        written.starts_with("\u{feff}seq,timestamp,user,activity"),
        "{written}"
    );
    assert_eq!(written.matches("\r\n").count(), 6);

    // To standard output, as JSON Lines: the ten loads and the CSV export, which was recorded.
    let mut jsonl = site_args(&tmp, &db, "log-export");
    jsonl.extend(["--format".into(), "jsonl".into()]);
    let lines: Vec<serde_json::Value> = ok(run_args(&jsonl))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 11);
    let export = &lines[10];
    assert_eq!(export["activity"], "log_export");
    assert_eq!(export["file_type"], "CSV");
    assert_eq!(export["row_count"], 5);
    assert_eq!(export["filters"]["user"], "load-0@example.com");
    assert!(export["user"].as_str().unwrap().starts_with("cli:"));

    let mut bad = site_args(&tmp, &db, "log-export");
    bad.extend(["--format".into(), "xml".into()]);
    assert!(failed(run_args(&bad)).contains("--format must be csv or jsonl"));
    let out = ok(run_args(&site_args(&tmp, &db, "verify")));
    assert!(out.contains("OK: 12 entries"), "{out}");
    db.drop().await;
}

#[tokio::test]
async fn log_export_writes_and_records_on_sqlite() {
    log_export_writes_and_records(accesslog_testkit::Backend::Sqlite).await;
}

#[tokio::test]
async fn log_export_writes_and_records_on_postgres() {
    log_export_writes_and_records(accesslog_testkit::Backend::Postgres).await;
}

/// `alerts replay`: two users each take 25 documents out at once; R1 (15 distinct
/// documents in 10 minutes) would have fired once for each, and nothing else.
async fn alerts_replay_prints_what_would_fire(backend: accesslog_testkit::Backend) {
    let Some((tmp, db)) = log_site(backend, "alerts_replay_prints_what_would_fire").await else {
        return;
    };
    let mut load = site_args(&tmp, &db, "record-load");
    load.extend([
        "--count".into(),
        "25".into(),
        "--writers".into(),
        "2".into(),
    ]);
    assert_eq!(receipts(&ok(run_args(&load))).len(), 50);

    let mut replay = site_args(&tmp, &db, "alerts");
    replay.insert(1, "replay".into());
    // Every rule but R7 (off hours), which would depend on the hour the test runs at.
    let mut all_but_r7 = replay.clone();
    all_but_r7.extend(["--rules".into(), "R1,R2,R3,R4,R5,R6,R8,R9,R10".into()]);
    let said = run_args(&all_but_r7);
    let out = ok(said.clone());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for user in ["load-0@example.com", "load-1@example.com"] {
        let line = lines.iter().find(|l| l.contains(user)).expect(user);
        assert!(line.contains(" R1 "), "{line}");
        assert!(
            line.contains("15 distinct documents in 10 minutes"),
            "{line}"
        );
    }
    assert!(text(&said.stderr).contains("2 alert(s) would have fired; nothing was delivered"));
    // What it showed came from the Access Log: the replay is itself an entry, a read of
    // the log by the operator, with the size and digest of what was printed.
    let mut jsonl = site_args(&tmp, &db, "log-export");
    jsonl.extend([
        "--format".into(),
        "jsonl".into(),
        "--activity".into(),
        "read".into(),
    ]);
    let reads: Vec<serde_json::Value> = ok(run_args(&jsonl))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0]["export_from"], "Access Log");
    assert_eq!(reads[0]["method"], "accesslog alerts replay");
    assert_eq!(reads[0]["row_count"], 2);
    assert_eq!(reads[0]["byte_count"], out.len());
    assert!(reads[0]["user"].as_str().unwrap().starts_with("cli:"));

    // Only R8 (probing): nobody was refused.
    let mut only = replay.clone();
    only.extend(["--rules".into(), "R8".into()]);
    assert_eq!(ok(run_args(&only)).lines().count(), 0);
    // A rule that does not exist is named.
    let mut bad = replay.clone();
    bad.extend(["--rules".into(), "R1,R42".into()]);
    let refused = run_args(&bad);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("no rule \"R42\""),
        "{}",
        text(&refused.stderr)
    );
    db.drop().await;
}

#[tokio::test]
async fn alerts_replay_prints_what_would_fire_on_sqlite() {
    alerts_replay_prints_what_would_fire(accesslog_testkit::Backend::Sqlite).await;
}

#[tokio::test]
async fn alerts_replay_prints_what_would_fire_on_postgres() {
    alerts_replay_prints_what_would_fire(accesslog_testkit::Backend::Postgres).await;
}

// ----- logins under attack -----

/// The peak resident memory of process `pid`, in bytes (`VmHWM`).
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// 2,000 logins at once, each for a different account so that no throttle turns them
/// away before the password check: the checks queue behind a bound the size of the
/// machine, the rest are told to come back (503), and meanwhile the server answers its
/// health check and stays small.
async fn logins_under_attack_keep_the_server_answering_and_small(database: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().to_str().unwrap();
    ok(run(&["new-site", site]));
    let toml = tmp.path().join("site.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text
        .replace("max_failures_per_ip = 30", "max_failures_per_ip = 1000000")
        .replace(
            "max_failures_per_account_and_address = 5",
            "max_failures_per_account_and_address = 1000000",
        );
    assert!(text.contains("max_failures_per_ip = 1000000"), "{text}");
    std::fs::write(&toml, text).unwrap();
    let mut args = vec!["serve", "--site", site, "--bind", "127.0.0.1:0"];
    if let Some(url) = database {
        args.extend(["--database", url]);
    }
    let server = start(&args);
    let pid = server.child.id();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let url = server.url.clone();
    let attempts = (0..2000).map(|n| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            client
                .post(format!("{url}/api/method/login"))
                .form(&[
                    ("usr", format!("guess{n}@example.com")),
                    ("pwd", "x".to_owned()),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
    });
    let attempts: Vec<_> = attempts.collect();
    let mut health_checks = 0;
    while !attempts.iter().all(|a| a.is_finished()) {
        let r = reqwest::Client::new()
            .get(format!("{url}/api/health"))
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("the health check is answered during the flood");
        assert_eq!(r.status(), 200);
        health_checks += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for a in attempts {
        *statuses.entry(a.await.unwrap()).or_default() += 1;
    }
    assert!(health_checks >= 1);
    assert!(
        statuses.keys().all(|s| [401, 503].contains(s)),
        "only wrong passwords and 'come back': {statuses:?}"
    );
    assert!(
        statuses.get(&503).is_some_and(|n| *n > 0),
        "the bound turned some away: {statuses:?}"
    );
    let peak = peak_memory(pid);
    assert!(
        peak < 300 * 1024 * 1024,
        "peak memory {} MB: {statuses:?}",
        peak / (1024 * 1024)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_under_attack_keep_the_server_answering_and_small_on_sqlite() {
    logins_under_attack_keep_the_server_answering_and_small(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_under_attack_keep_the_server_answering_and_small_on_postgres() {
    let Ok(base) = std::env::var("ACCESSLOG_TEST_POSTGRES_URL") else {
        accesslog_testkit::skip_postgres();
        return;
    };
    let db = format!("accesslog_cli_{}", accesslog_core::secrets::random_hex(6));
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    logins_under_attack_keep_the_server_answering_and_small(Some(&format!("{prefix}/{db}"))).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

// ----- graceful shutdown -----

/// SIGTERM under load: the server stops taking connections, lets the requests in flight
/// finish, signs the last entries, and exits 0. Every response a client got in full with
/// 200 has its entry (by `x-request-id`); no 200 came back cut short; the log verifies and
/// its last checkpoint covers every entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().to_str().unwrap();
    ok(run(&["new-site", site]));
    ok(run_with_stdin(
        &[
            "user",
            "add",
            "--site",
            site,
            "ana@acme.example",
            "--name",
            "Ana Ruiz",
            "--role",
            "System Manager",
            "--password-stdin",
        ],
        "s3cret-passphrase\n",
    ));
    let mut server = start(&["serve", "--site", site, "--bind", "127.0.0.1:0"]);
    let url = server.url.clone();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let r = client
        .post(format!("{url}/api/method/login"))
        .form(&[("usr", "ana@acme.example"), ("pwd", "s3cret-passphrase")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Eight clients reading the Access Log (each read recorded) until the server is gone.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Ok(r) = client
                        .get(format!("{url}/api/access-log?limit=20"))
                        .send()
                        .await
                    else {
                        break; // refused: the server has stopped listening
                    };
                    let status = r.status().as_u16();
                    let id = r
                        .headers()
                        .get("x-request-id")
                        .map(|v| v.to_str().unwrap().to_owned());
                    // A body cut short is an error here, never a short success.
                    let body = r.bytes().await;
                    seen.push((status, id, body.map(|b| b.len()).map_err(|e| e.to_string())));
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().unwrap();
        (server, status)
    });
    let (_server, status) = tokio::time::timeout(Duration::from_secs(60), exit)
        .await
        .expect("the server stops within the deadline")
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(status.success(), "exit status {status:?}");

    let mut ok_ids = Vec::new();
    for c in clients {
        for (status, id, body) in c.await.unwrap() {
            match (status, body) {
                (200, Ok(_)) => ok_ids.push(id.expect("every response has a request id")),
                (200, Err(e)) => panic!("a 200 was cut short: {e}"),
                (503, _) => {}
                (other, body) => panic!("unexpected {other}: {body:?}"),
            }
        }
    }
    assert!(
        ok_ids.len() > 10,
        "the load ran: {} responses",
        ok_ids.len()
    );

    // Every 200 has its entry.
    let export = tmp.path().join("log.jsonl");
    ok(run(&[
        "log-export",
        "--site",
        site,
        "--format",
        "jsonl",
        "--out",
        export.to_str().unwrap(),
    ]));
    let logged: std::collections::HashSet<String> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .filter_map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["request_id"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    for id in &ok_ids {
        assert!(logged.contains(id), "response {id} has no entry");
    }
    // The log verifies, and the checkpoint signed at shutdown covers every entry but the
    // log-export's own (recorded after the shutdown, and signed by that command).
    let out = ok(run(&["verify", "--site", site]));
    assert!(out.starts_with("OK: "), "{out}");
    let checkpoints = std::fs::read_to_string(tmp.path().join("checkpoints.log")).unwrap();
    let sizes: Vec<u64> = accesslog_engine::verify::split_checkpoints_log(&checkpoints)
        .iter()
        .filter_map(|n| n.lines().nth(1).and_then(|l| l.parse().ok()))
        .collect();
    let entries: u64 = out
        .trim_start_matches("OK: ")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        sizes.contains(&(entries - 1)),
        "a checkpoint of {} entries was signed at shutdown: {sizes:?}",
        entries - 1
    );
}
