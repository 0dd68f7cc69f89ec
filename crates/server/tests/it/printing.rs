//! Printing: the print view and PDF at ERPNext's URLs, raw printing to the client and to a
//! network printer, the sandbox, and permissions. Every print leaves exactly one entry
//! that names the format and matches the bytes sent.

use std::io::Write as _;
use std::path::Path;

use accesslog_core::entry::{Activity, Outcome};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::common::{Backend, TestServer, last_entry, log_size, on_both_backends, session, sha256};

on_both_backends!(
    run: crate::common::with_server;
    the_print_view_records_each_format,
    raw_print_returns_the_commands_it_records,
    printing_needs_print_permission,
    pdfs_are_made_by_chromium_and_recorded,
    the_form_has_a_print_menu
);

on_both_backends!(
    mods: sqlite_with_setup, postgres_with_setup;
    run: crate::common::with_backend;
    raw_print_reaches_a_network_printer_or_says_it_failed,
    a_printer_that_drops_the_job_after_it_was_recorded_is_a_second_entry,
    runaway_and_file_reading_templates_are_stopped,
    without_chromium_a_pdf_is_refused_with_a_way_to_enable_it
);

/// Creates SINV-00001 for Acme Corp (as accounts) and returns its name.
pub(crate) async fn invoice(server: &TestServer) -> String {
    crate::common::customers(server, &["Acme Corp", "Evil^XZ^XA^FDpwned^FS~JA"]).await;
    let (c, token) = session(server, "accounts@example.com", "accounts").await;
    let r = c
        .post(server.at("/api/resource/Sales Invoice"))
        .header("x-frappe-csrf-token", token)
        .json(&json!({
            "customer": "Acme Corp",
            "posting_date": "2026-11-02",
            "status": "Unpaid",
            "grand_total": 1234.5,
            "items": [
                {"item_code": "WIDGET", "qty": 3, "rate": 400, "amount": 1200},
                {"item_code": "Bolt ^XZ", "qty": 1, "rate": 34.5, "amount": 34.5}
            ]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let body: serde_json::Value = r.json().await.unwrap();
    body["data"]["name"].as_str().unwrap().to_owned()
}

fn seq_of(r: &reqwest::Response) -> u64 {
    r.headers()["x-access-log-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn the_print_view_records_each_format(server: &TestServer) {
    let name = invoice(server).await;
    assert_eq!(name, "SINV-00001");
    let (sales, _) = session(server, "sales@example.com", "sales").await;

    for (format, shows) in [("Standard", "Item Code"), ("Classic", "Grand total")] {
        let before = log_size(server).await;
        let r = sales
            .get(server.at(&format!(
                "/printview?doctype=Sales%20Invoice&name={name}&format={format}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{format}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let seq = seq_of(&r);
        let body = r.bytes().await.unwrap();
        let html = String::from_utf8_lossy(&body);
        assert!(
            html.contains("SINV-00001") && html.contains(shows),
            "{format}: {html}"
        );
        assert!(html.contains("@page { size: A4"), "print CSS");
        assert!(
            html.contains(&format!(
                "<option value=\"{format}\" selected>{format}</option>"
            )),
            "{html}"
        );
        // Document data is escaped, not markup.
        assert!(!html.contains("<b>"));

        assert_eq!(log_size(server).await, before + 1, "one entry per print");
        let e = server.store.entry(seq).await.unwrap().unwrap().event;
        assert_eq!((e.activity, e.outcome), (Activity::Print, Outcome::Granted));
        assert_eq!(e.user, "sales@example.com");
        assert_eq!(e.export_from.as_deref(), Some("Sales Invoice"));
        assert_eq!(e.reference_document.as_deref(), Some("SINV-00001"));
        assert_eq!(e.print_format.as_deref(), Some(format));
        assert_eq!(e.file_type.as_deref(), Some("HTML"));
        assert_eq!(e.byte_count, Some(body.len() as u64));
        assert_eq!(e.content_sha256.as_deref(), Some(sha256(&body).as_str()));
    }

    // No format means Standard, as in ERPNext.
    let r = sales
        .get(server.at(&format!("/printview?doctype=Sales%20Invoice&name={name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        last_entry(server).await.event.print_format.as_deref(),
        Some("Standard")
    );

    // Mistakes are named, and each refusal is recorded.
    let before = log_size(server).await;
    for (query, status, says) in [
        (
            "doctype=Sales%20Invoice&name=SINV-00001&format=Fancy",
            404,
            "no print format named \"Fancy\" (it has: Standard, Classic)",
        ),
        (
            "doctype=Sales%20Invoice&name=SINV-09999",
            404,
            "SINV-09999 does not exist",
        ),
        (
            "doctype=Nope&name=x",
            404,
            "no document type named \"Nope\"",
        ),
        ("name=SINV-00001", 400, "the doctype parameter is missing"),
    ] {
        let r = sales
            .get(server.at(&format!("/printview?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{query}");
        let body: serde_json::Value = r.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
        // Nothing was printed, and the refusal is on record with its reason.
        let e = server
            .store
            .entry(log_size(server).await)
            .await
            .unwrap()
            .unwrap()
            .event;
        assert_eq!((e.activity, e.outcome), (Activity::Print, Outcome::Denied));
        assert!(e.reason.as_deref().unwrap_or("").contains(says), "{e:?}");
        assert_eq!(e.byte_count, None);
    }
    assert_eq!(log_size(server).await, before + 4);
}

async fn raw_print_returns_the_commands_it_records(server: &TestServer) {
    let name = invoice(server).await;
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales
        .get(server.at(&format!(
            "/api/raw-print?doctype=Sales%20Invoice&name={name}&format=Shipping%20Label"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"SINV-00001-Shipping Label.zpl\"; filename*=UTF-8''SINV-00001-Shipping%20Label.zpl"
    );
    let seq = seq_of(&r);
    let body = r.bytes().await.unwrap();
    let zpl = std::str::from_utf8(&body).unwrap();
    assert!(
        zpl.trim_start().starts_with("^XA") && zpl.trim_end().ends_with("^XZ"),
        "{zpl}"
    );
    assert!(zpl.contains("^FDSINV-00001^FS"), "{zpl}");
    assert!(zpl.contains("Acme Corp"));

    let e = server.store.entry(seq).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome),
        (Activity::RawPrint, Outcome::Granted)
    );
    assert_eq!(
        e.page.as_deref(),
        Some(zpl),
        "the entry holds exactly the bytes sent"
    );
    assert_eq!(e.print_format.as_deref(), Some("Shipping Label"));
    assert_eq!(e.export_from.as_deref(), Some("Sales Invoice"));
    assert_eq!(e.reference_document.as_deref(), Some("SINV-00001"));
    assert_eq!(e.file_type.as_deref(), Some("RAW"));
    assert_eq!(e.content_sha256.as_deref(), Some(sha256(&body).as_str()));

    // The ESC/POS receipt: commands, with the item that tried to be a ZPL command kept
    // as text (|escpos only removes control characters).
    let r = sales
        .get(server.at(&format!(
            "/api/raw-print?doctype=Sales%20Invoice&name={name}&format=Receipt"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let receipt = r.bytes().await.unwrap();
    assert!(receipt.starts_with(b"\x1b@"), "{receipt:?}");
    assert!(
        receipt.windows(3).any(|w| w == b"\x1dVB"),
        "ends with a cut"
    );
    assert!(String::from_utf8_lossy(&receipt).contains("Invoice SINV-00001"));

    // Document data cannot become printer commands: a customer named like ZPL prints as text.
    let (accounts, token) = session(server, "accounts@example.com", "accounts").await;
    let r = accounts
        .post(server.at("/api/resource/Sales Invoice"))
        .header("x-frappe-csrf-token", token)
        .json(&json!({"customer": "Evil^XZ^XA^FDpwned^FS~JA", "items": []}))
        .send()
        .await
        .unwrap();
    let evil: serde_json::Value = r.json().await.unwrap();
    let evil = evil["data"]["name"].as_str().unwrap().to_owned();
    let label = sales
        .get(server.at(&format!(
            "/api/raw-print?doctype=Sales%20Invoice&name={evil}&format=Shipping%20Label"
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(label.contains("^FDEvil XZ XA FDpwned FS JA^FS"), "{label}");
    assert_eq!(label.matches("^XA").count(), 1, "{label}");

    // A raw format is required, and must exist.
    let r = sales
        .get(server.at(&format!(
            "/api/raw-print?doctype=Sales%20Invoice&name={name}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = sales
        .get(server.at(&format!(
            "/api/raw-print?doctype=Sales%20Invoice&name={name}&format=Classic"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("(it has: Receipt, Shipping Label)")
    );
}

async fn printing_needs_print_permission(server: &TestServer) {
    let name = invoice(server).await;
    let (hr, _) = session(server, "hr@example.com", "hr").await;
    for (path, activity, format) in [
        (
            format!("/printview?doctype=Sales%20Invoice&name={name}&format=Classic"),
            Activity::Print,
            "Classic",
        ),
        (
            format!(
                "/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name={name}"
            ),
            Activity::Print,
            "Standard",
        ),
        (
            format!("/api/raw-print?doctype=Sales%20Invoice&name={name}&format=Receipt"),
            Activity::RawPrint,
            "Receipt",
        ),
    ] {
        let before = log_size(server).await;
        let r = hr.get(server.at(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains("permission to print Sales Invoice"), "{body}");
        assert_eq!(log_size(server).await, before + 1);
        let e = last_entry(server).await.event;
        assert_eq!(
            (e.activity, e.outcome),
            (activity, Outcome::Denied),
            "{path}"
        );
        assert_eq!(e.user, "hr@example.com");
        assert_eq!(e.reference_document.as_deref(), Some("SINV-00001"));
        assert_eq!(e.print_format.as_deref(), Some(format));
        assert_eq!((e.byte_count, e.page.as_deref()), (None, None));
    }

    // Not logged in: 401, nothing printed.
    let r = server
        .client()
        .get(server.at(&format!(
            "/api/raw-print?doctype=Sales%20Invoice&name={name}&format=Receipt"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

fn chromium() -> bool {
    Path::new("/usr/bin/chromium").is_file()
}

async fn pdfs_are_made_by_chromium_and_recorded(server: &TestServer) {
    let name = invoice(server).await;
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales
        .get(server.at(&format!(
            "/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name={name}&format=Classic"
        )))
        .send()
        .await
        .unwrap();
    if !chromium() {
        // Without a browser the refusal is clear, and recorded.
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.text().await.unwrap().contains("apt install chromium"));
        let e = last_entry(server).await.event;
        assert_eq!(
            (e.outcome, e.file_type.as_deref()),
            (Outcome::Denied, Some("PDF"))
        );
        eprintln!("no /usr/bin/chromium: checked the refusal only");
        return;
    }
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.headers());
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"SINV-00001.pdf\"; filename*=UTF-8''SINV-00001.pdf"
    );
    let seq = seq_of(&r);
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");

    let e = server.store.entry(seq).await.unwrap().unwrap().event;
    assert_eq!((e.activity, e.outcome), (Activity::Print, Outcome::Granted));
    assert_eq!(e.file_type.as_deref(), Some("PDF"));
    assert_eq!(e.print_format.as_deref(), Some("Classic"));
    assert_eq!(e.reference_document.as_deref(), Some("SINV-00001"));
    assert_eq!(e.byte_count, Some(pdf.len() as u64));
    assert_eq!(e.content_sha256.as_deref(), Some(sha256(&pdf).as_str()));

    // Without pdftotext (skipped, said once), the PDF's header was checked only.
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("SINV-00001"), "{text}");
        assert!(
            text.contains("Acme Corp") && text.contains("1,234.50"),
            "{text}"
        );
    }

    // The same browser makes the next one.
    let r = sales
        .get(server.at(&format!(
            "/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name={name}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
    assert_eq!(
        last_entry(server).await.event.print_format.as_deref(),
        Some("Standard")
    );
}

/// The text of a PDF, by poppler's `pdftotext` (which `.ci/run` installs).
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(pdf).unwrap();
    let out = match std::process::Command::new("pdftotext")
        .arg(file.path())
        .arg("-")
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            accesslog_testkit::skip("pdftotext", &format!("apt-get install poppler-utils ({e})"));
            return None;
        }
    };
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn the_form_has_a_print_menu(server: &TestServer) {
    let name = invoice(server).await;
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let html = sales
        .get(server.at(&format!("/app/sales-invoice/{name}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<summary>Print</summary>"), "{html}");
    assert!(
        html.contains(
            "href=\"/printview?doctype=Sales%20Invoice&#38;name=SINV-00001&#38;format=Classic\""
        ),
        "{html}"
    );
    assert!(html.contains(
        "/api/raw-print?doctype=Sales%20Invoice&#38;name=SINV-00001&#38;format=Shipping%20Label"
    ));
    assert!(html.contains("(ZPL)") && html.contains("(ESC/POS)"));

    assert!(html.contains("Raw printing"), "{html}");

    // Customers: Sales Users may print them too, but the type has no raw formats, so the
    // menu has no raw-printing part.
    let form = |client: reqwest::Client| async move {
        let r = client
            .get(server.at("/app/customer/Acme%20Corp"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.unwrap()
    };
    let html = form(sales).await;
    assert!(html.contains("<summary>Print</summary>"), "{html}");
    assert!(
        html.contains("/printview?doctype=Customer&#38;name=Acme%20Corp&#38;format="),
        "{html}"
    );
    assert!(
        !html.contains("Raw printing") && !html.contains("/api/raw-print"),
        "{html}"
    );
    // Accounts Users may read customers but not print them: no menu at all.
    let (accounts, _) = session(server, "accounts@example.com", "accounts").await;
    let html = form(accounts).await;
    assert!(html.contains("Acme Corp"), "{html}");
    assert!(
        !html.contains("<summary>Print</summary>") && !html.contains("/printview"),
        "{html}"
    );
}

/// A TCP listener playing a printer: accepts one job and returns its bytes.
fn printer() -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std.set_nonblocking(true).unwrap();
    let port = std.local_addr().unwrap().port();
    let listener = tokio::net::TcpListener::from_std(std).unwrap();
    let job = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        all
    });
    (port, job)
}

fn append(site: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(site.join("site.toml"))
        .unwrap();
    writeln!(f, "{text}").unwrap();
}

async fn raw_print_reaches_a_network_printer_or_says_it_failed(backend: Backend) {
    let (port, job) = printer();
    // A port bound but not listening: held for the whole test (nothing else can take
    // it), and every connection to it is refused.
    let refusing = tokio::net::TcpSocket::new_v4().unwrap();
    refusing.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = refusing.local_addr().unwrap().port();
    let Some(server) = TestServer::start_with(backend, "raw_print_network", |site| {
        append(
            site,
            &format!(
                "\n[printers.dock]\nhost = \"127.0.0.1\"\nport = {port}\ndescription = \"Dock label printer\"\n\n[printers.gone]\nhost = \"127.0.0.1\"\nport = {closed}\ntimeout_seconds = 2\n"
            ),
        );
    })
    .await
    else {
        return;
    };
    let name = invoice(&server).await;
    let (sales, token) = session(&server, "sales@example.com", "sales").await;
    let form = [
        ("doctype", "Sales Invoice"),
        ("name", name.as_str()),
        ("format", "Shipping Label"),
        ("printer", "dock"),
    ];

    // Without the CSRF token a browser cannot print, and the refusal is recorded. (A
    // browser's request carries Sec-Fetch-*; a script's session needs no token.)
    let before = log_size(&server).await;
    let r = sales
        .post(server.at("/api/raw-print"))
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(log_size(&server).await, before + 1);
    let e = last_entry(&server).await.event;
    assert_eq!(
        (e.activity, e.outcome),
        (Activity::RawPrint, Outcome::Denied)
    );
    assert!(e.reason.is_some_and(|r| r.contains("CSRF")));

    let r = sales
        .post(server.at("/api/raw-print"))
        .header("x-frappe-csrf-token", &token)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let seq = seq_of(&r);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["message"]["printer"], "dock");
    assert_eq!(body["message"]["access_log_seq"], seq);
    let received = job.await.unwrap();
    let e = server.store.entry(seq).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome),
        (Activity::RawPrint, Outcome::Granted)
    );
    assert_eq!(
        e.page.as_deref().map(str::as_bytes),
        Some(received.as_slice()),
        "the printer got exactly what was recorded"
    );
    assert!(String::from_utf8_lossy(&received).contains("^FDSINV-00001^FS"));
    assert_eq!(
        e.method,
        format!("POST /api/raw-print to printer \"dock\" (127.0.0.1:{port})")
    );
    assert_eq!(body["message"]["byte_count"], received.len());

    // An unreachable printer: 502, and the entry says the send failed and why.
    let before = log_size(&server).await;
    let r = sales
        .post(server.at("/api/raw-print"))
        .header("x-frappe-csrf-token", &token)
        .json(&json!({"doctype": "Sales Invoice", "name": name, "format": "Receipt", "printer": "gone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    let msg = r.text().await.unwrap();
    assert!(
        msg.contains("printer \\\"gone\\\" at 127.0.0.1:")
            && msg.contains("could not be reached")
            && msg.contains("Nothing was printed"),
        "{msg}"
    );
    assert_eq!(log_size(&server).await, before + 1);
    let e = last_entry(&server).await.event;
    assert_eq!(
        (e.activity, e.outcome),
        (Activity::RawPrint, Outcome::Failed)
    );
    assert!(
        e.reason
            .as_deref()
            .unwrap()
            .contains("could not be reached"),
        "{:?}",
        e.reason
    );
    assert_eq!(e.print_format.as_deref(), Some("Receipt"));

    // An unknown printer is named, with the ones there are.
    let r = sales
        .post(server.at("/api/raw-print"))
        .header("x-frappe-csrf-token", &token)
        .form(&[
            ("doctype", "Sales Invoice"),
            ("name", name.as_str()),
            ("format", "Receipt"),
            ("printer", "lobby"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("no printer named \\\"lobby\\\" (printers: dock, gone)")
    );
    server.stop().await;
}

/// A printer that accepts a connection and, 50 ms later, resets it (SO_LINGER 0): long
/// after the server's connect has completed, and long before a slowed log (`slow_log`)
/// lets the server write.
fn resetting_printer() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let s = socket2::SockRef::from(&s);
            s.set_linger(Some(std::time::Duration::ZERO)).unwrap();
        }
    });
    port
}

async fn a_printer_that_drops_the_job_after_it_was_recorded_is_a_second_entry(backend: Backend) {
    let port = resetting_printer();
    let Some(server) = TestServer::start_with(backend, "raw_print_reset", |site| {
        append(
            site,
            &format!(
                "\n[printers.flaky]\nhost = \"127.0.0.1\"\nport = {port}\ntimeout_seconds = 2\n"
            ),
        );
    })
    .await
    else {
        return;
    };
    let name = invoice(&server).await;
    let (sales, token) = session(&server, "sales@example.com", "sales").await;
    let before = log_size(&server).await;
    // The connection is open while the entry is being committed; the printer drops it then.
    server.slow_log().await;
    let r = sales
        .post(server.at("/api/raw-print"))
        .header("x-frappe-csrf-token", &token)
        .json(&json!({"doctype": "Sales Invoice", "name": name, "format": "Receipt", "printer": "flaky"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    let msg = r.text().await.unwrap();
    // The commands were recorded as sent (the entry came first), then the send failed: a
    // second entry says so, naming the first.
    assert_eq!(log_size(&server).await, before + 2, "{msg}");
    let sent = server.store.entry(before + 1).await.unwrap().unwrap().event;
    assert_eq!(
        (sent.activity, sent.outcome),
        (Activity::RawPrint, Outcome::Granted)
    );
    assert!(sent.page.is_some_and(|p| !p.is_empty()));
    let failed = server.store.entry(before + 2).await.unwrap().unwrap().event;
    assert_eq!(
        (failed.activity, failed.outcome),
        (Activity::RawPrint, Outcome::Failed)
    );
    let reason = failed.reason.unwrap();
    assert!(
        reason.contains(&format!(
            "Entry {} had recorded the commands as sent",
            before + 1
        )),
        "{reason}"
    );
    assert!(msg.contains("had recorded the commands as sent"), "{msg}");
    server.stop().await;
}

async fn runaway_and_file_reading_templates_are_stopped(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, "sandbox", |site| {
        let dir = site.join("print_formats/Sales Invoice");
        std::fs::write(
            dir.join("Forever.html"),
            "<p>{{ doc.name }}</p>\n{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
        )
        .unwrap();
        std::fs::write(dir.join("Peek.html"), "<p>x</p>\n\n{% include '/etc/passwd' %}").unwrap();
    })
    .await
    else {
        return;
    };
    let name = invoice(&server).await;
    let (admin, _) = session(&server, "admin@example.com", "admin").await;
    let (sales, _) = session(&server, "sales@example.com", "sales").await;
    let before = log_size(&server).await;
    for (format, line, says) in [
        ("Forever", "line 2", "ran too long"),
        ("Peek", "line 3", "templates cannot read files"),
    ] {
        let url = server.at(&format!(
            "/printview?doctype=Sales%20Invoice&name={name}&format={format}"
        ));
        let r = admin.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let msg = r.text().await.unwrap();
        assert!(
            msg.contains(&format!(
                "print format \\\"Sales Invoice/{format}\\\", {line}"
            )) && msg.contains(says),
            "{format}: {msg}"
        );
        // Others are told plainly, without the template's insides.
        let r = sales.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let msg = r.text().await.unwrap();
        assert!(
            msg.contains("could not be rendered") && !msg.contains(says),
            "{msg}"
        );
    }
    // Nothing was released; each failure is on record as failed, with its message.
    assert_eq!(log_size(&server).await, before + 4);
    for seq in before + 1..=before + 4 {
        let e = server.store.entry(seq).await.unwrap().unwrap().event;
        assert_eq!(
            (e.activity, e.outcome, e.byte_count),
            (Activity::Print, Outcome::Failed, None)
        );
        assert!(
            e.reason
                .is_some_and(|r| r.contains("print format") || r.contains("could not be rendered"))
        );
    }
    server.stop().await;
}

async fn without_chromium_a_pdf_is_refused_with_a_way_to_enable_it(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, "no_pdf", |site| {
        append(site, "\n[print]\npdf = false\n");
    })
    .await
    else {
        return;
    };
    let name = invoice(&server).await;
    let (sales, _) = session(&server, "sales@example.com", "sales").await;
    let r = sales
        .get(server.at(&format!(
            "/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name={name}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let msg = r.text().await.unwrap();
    assert!(
        msg.contains("PDFs are turned off") && msg.contains("restart"),
        "{msg}"
    );
    let e = last_entry(&server).await.event;
    assert_eq!((e.activity, e.outcome), (Activity::Print, Outcome::Denied));
    assert_eq!(e.file_type.as_deref(), Some("PDF"));
    assert!(e.reason.unwrap().contains("PDFs are turned off"));
    // The print menu says PDFs are off instead of offering broken links.
    let html = sales
        .get(server.at(&format!("/app/sales-invoice/{name}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("PDFs are not enabled on this site") && !html.contains("download_pdf"));
    server.stop().await;
}
