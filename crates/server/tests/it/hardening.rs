//! The server against the people its log is about: logins under attack, client addresses
//! behind a proxy, redirects, security headers, uploads and integer parameters.

use std::time::Duration;

use accesslog_core::entry::{Activity, Outcome};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Backend, TestServer, last_event, log_size, on_both_backends, session};

on_both_backends!(
    run: crate::common::with_server;
    concurrent_wrong_passwords_get_at_most_five_401s,
    failed_logins_are_shown_to_system_managers_only,
    next_goes_only_to_a_same_site_path,
    pages_pdfs_and_files_carry_the_security_headers,
    private_files_download_with_their_exact_name_and_never_as_html,
    an_upload_is_refused_before_its_body_is_read,
    forwarding_headers_from_an_untrusted_peer_are_ignored,
);

on_both_backends!(
    mods: sqlite_with_setup, postgres_with_setup;
    run: crate::common::with_backend;
    a_lockout_from_one_address_leaves_the_account_open_elsewhere,
    behind_a_trusted_proxy_the_entry_names_client_and_proxy,
    integer_parameters_are_checked_not_wrapped,
    an_xlsx_export_is_refused_cleanly_when_temporary_disk_is_short,
    one_user_runs_a_bounded_number_of_exports_at_once,
    behind_https_browsers_are_told_to_stay_on_https,
);

async fn try_login(
    server: &TestServer,
    client: &reqwest::Client,
    usr: &str,
    pwd: &str,
    forwarded_for: Option<&str>,
) -> StatusCode {
    let mut r = client
        .post(server.at("/api/method/login"))
        .form(&[("usr", usr), ("pwd", pwd)]);
    if let Some(ip) = forwarded_for {
        r = r.header("x-forwarded-for", ip);
    }
    r.send().await.unwrap().status()
}

async fn concurrent_wrong_passwords_get_at_most_five_401s(server: &TestServer) {
    let client = server.client();
    let attempts = (0..200).map(|_| try_login(server, &client, "admin@example.com", "wrong", None));
    let statuses = futures::future::join_all(attempts).await;
    let unauthorized = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // At most five reach the password check. (Possibly fewer: of attempts that arrive
    // together, each counts all stored before it, so all may see the limit passed.)
    assert!(unauthorized <= 5, "{statuses:?}");
    assert_eq!(unauthorized + throttled, 200, "{statuses:?}");
    // Still locked for this address, even with the right password.
    assert_eq!(
        try_login(server, &client, "admin@example.com", "admin", None).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

fn behind_proxy(site: &std::path::Path) {
    edit_site_toml(
        site,
        "trusted_proxies = []",
        "trusted_proxies = [\"127.0.0.0/8\"]",
    );
}

async fn a_lockout_from_one_address_leaves_the_account_open_elsewhere(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, "lockout_per_address", behind_proxy).await
    else {
        return;
    };
    let client = server.client();
    for n in 1..=5 {
        let s = try_login(
            &server,
            &client,
            "hr@example.com",
            "guess",
            Some("203.0.113.66"),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let s = try_login(
        &server,
        &client,
        "hr@example.com",
        "hr",
        Some("203.0.113.66"),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address is locked"
    );
    let s = try_login(
        &server,
        &client,
        "hr@example.com",
        "hr",
        Some("198.51.100.20"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "the owner, from elsewhere, is not");
    server.stop().await;
}

async fn behind_a_trusted_proxy_the_entry_names_client_and_proxy(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, "trusted_proxy_entry", behind_proxy).await
    else {
        return;
    };
    let (c, _) = session(&server, "hr@example.com", "hr").await;
    let r = c
        .get(server.at("/api/resource/Employee"))
        .header("x-forwarded-for", "198.51.100.7, 203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = last_event(&server).await;
    assert_eq!(e.activity, Activity::Read);
    assert_eq!(e.ip.as_deref(), Some("203.0.113.9 via 127.0.0.1"));
    // RFC 7239's header is read too.
    let r = c
        .get(server.at("/api/resource/Employee"))
        .header("forwarded", "for=\"[2001:db8::5]:4711\";proto=https")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        last_event(&server).await.ip.as_deref(),
        Some("2001:db8::5 via 127.0.0.1")
    );
    server.stop().await;
}

async fn forwarding_headers_from_an_untrusted_peer_are_ignored(server: &TestServer) {
    let client = server.client();
    // Changing the header does not buy new attempts: the peer is the client.
    for n in 0..5 {
        let ip = format!("203.0.113.{n}");
        let s = try_login(server, &client, "hr@example.com", "guess", Some(&ip)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let s = try_login(
        server,
        &client,
        "hr@example.com",
        "guess",
        Some("203.0.113.99"),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let (c, _) = session(server, "sales@example.com", "sales").await;
    c.get(server.at("/api/resource/Customer"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(last_event(server).await.ip.as_deref(), Some("127.0.0.1"));
}

async fn failed_logins_are_shown_to_system_managers_only(server: &TestServer) {
    let client = server.client();
    for _ in 0..6 {
        try_login(server, &client, "accounts@example.com", "nope", None).await;
    }
    let before = log_size(server).await;
    let (admin, _) = session(server, "admin@example.com", "admin").await;
    let r = admin
        .get(server.at("/app/login-attempts"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("accounts@example.com"), "{page}");
    let row = page
        .split("<tr>")
        .find(|r| r.contains("accounts@example.com"))
        .unwrap();
    assert!(
        row.contains(">5<") && row.contains(">1<"),
        "5 wrong, 1 throttled: {row}"
    );
    assert_eq!(log_size(server).await, before, "not Access Log entries");

    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales
        .get(server.at("/app/login-attempts"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

async fn next_goes_only_to_a_same_site_path(server: &TestServer) {
    let (c, _) = session(server, "sales@example.com", "sales").await;
    for next in [
        "/%09/evil.example",
        "/%0a",
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
    ] {
        let r = c
            .get(server.at(&format!("/login?next={next}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(r.headers()[LOCATION], "/app", "{next}");
    }
    let r = c
        .get(server.at("/login?next=/app/Customer"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/app/Customer");
    // The form post too.
    let fresh = server.client();
    let r = fresh
        .post(server.at("/login"))
        .form(&[
            ("usr", "sales@example.com"),
            ("pwd", "sales"),
            ("next", "/\n"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/app");
}

fn assert_security_headers(what: &str, h: &HeaderMap) {
    let get = |name: &str| {
        h.get(name)
            .unwrap_or_else(|| panic!("{what}: no {name} in {h:?}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let csp = get("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("default-src"), "{what}: {csp}");
    assert!(!csp.contains("'unsafe-eval'"), "{what}: {csp}");
    assert!(
        !csp.contains("script-src 'self' 'unsafe-inline'"),
        "{what}: {csp}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("cache-control"), "no-store", "{what}");
}

async fn pages_pdfs_and_files_carry_the_security_headers(server: &TestServer) {
    let (c, _) = session(server, "accounts@example.com", "accounts").await;
    let r = c.get(server.at("/app")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_security_headers("the home page", r.headers());
    assert!(
        r.headers().get("strict-transport-security").is_none(),
        "HTTP only: no HSTS"
    );
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("style-src 'self';"),
        "no inline style on pages: {csp}"
    );
    let page = r.text().await.unwrap();
    assert!(!page.contains("<script>"), "no inline script on pages");
    assert!(
        !page.contains("<style") && !page.contains("style=\""),
        "no inline style on pages: {page}"
    );
    assert!(page.contains(r#"<link rel="stylesheet" href="/assets/app.css">"#));

    let name = crate::printing::invoice(server).await;
    let r = c
        .get(server.at(&format!(
            "/api/method/frappe.utils.print_format.download_pdf?doctype=Sales%20Invoice&name={name}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_security_headers("a released PDF", r.headers());
    let r = c
        .get(server.at(&format!("/app/sales-invoice/{name}")))
        .send()
        .await
        .unwrap();
    assert_security_headers("a form page", r.headers());
    // A print view's format carries its own CSS: inline style, but still no inline script.
    let r = c
        .get(server.at(&format!(
            "/printview?doctype=Sales%20Invoice&name={name}&format=Standard"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_security_headers("a print view", r.headers());
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("style-src 'self' 'unsafe-inline'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");

    let hr = session(server, "hr@example.com", "hr").await;
    upload_to_employee(server, &hr, "payslip.pdf", b"%PDF-1.4 payslip".to_vec()).await;
    let r =
        hr.0.get(server.at("/private/files/payslip.pdf"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_security_headers("a private file", r.headers());
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");

    let r = c.get(server.at("/assets/app.js")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let r = c.get(server.at("/assets/app.css")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
    assert!(r.text().await.unwrap().contains(".card.narrow"));
}

async fn upload_to_employee(
    server: &TestServer,
    (c, token): &(reqwest::Client, String),
    name: &str,
    bytes: Vec<u8>,
) -> Value {
    let r = c
        .post(server.at("/api/resource/Employee"))
        .header("x-frappe-csrf-token", token)
        .json(&json!({"employee_name": "Eve"}))
        .send()
        .await
        .unwrap();
    let employee = r.json::<Value>().await.unwrap()["data"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = Form::new()
        .text("doctype", "Employee")
        .text("docname", employee)
        .part("file", Part::bytes(bytes).file_name(name.to_owned()));
    let r = c
        .post(server.at("/api/method/upload_file"))
        .header("x-frappe-csrf-token", token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["message"].clone()
}

async fn private_files_download_with_their_exact_name_and_never_as_html(server: &TestServer) {
    let hr = session(server, "hr@example.com", "hr").await;
    let file = upload_to_employee(server, &hr, "é.pdf", b"%PDF-1.4 e".to_vec()).await;
    let url = file["file_url"].as_str().unwrap();
    assert_eq!(url, "/private/files/é.pdf");
    let r =
        hr.0.get(server.at("/private/files/%C3%A9.pdf"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-disposition"],
        "inline; filename=\"_.pdf\"; filename*=UTF-8''%C3%A9.pdf"
    );

    upload_to_employee(
        server,
        &hr,
        "page.html",
        b"<script>alert(1)</script>".to_vec(),
    )
    .await;
    let r =
        hr.0.get(server.at("/private/files/page.html"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;"),
        "{:?}",
        r.headers()
    );
}

async fn an_upload_is_refused_before_its_body_is_read(server: &TestServer) {
    // Sales may not write employees. The type and name come first, as browsers send them;
    // the 20 MiB file that follows is never sent, and the answer comes all the same.
    let r = server
        .client()
        .post(server.at("/api/method/login"))
        .form(&[("usr", "sales@example.com"), ("pwd", "sales")])
        .send()
        .await
        .unwrap();
    let csrf = r.headers()["x-frappe-csrf-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let sid = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let parts = "--XyZ\r\nContent-Disposition: form-data; name=\"doctype\"\r\n\r\nEmployee\r\n\
                 --XyZ\r\nContent-Disposition: form-data; name=\"docname\"\r\n\r\nEMP-0001\r\n\
                 --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n";
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/method/upload_file HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nX-Frappe-CSRF-Token: {}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n{parts}",
        server.addr,
        sid,
        csrf,
        20 * 1024 * 1024
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[0u8; 1024]).await.unwrap();
    let mut buf = vec![0u8; 4096];
    // No more of the body is sent: a server that waited for it would never answer.
    let n = tokio::time::timeout(std::time::Duration::from_secs(30), s.read(&mut buf))
        .await
        .expect("the server answered without the rest of the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        answer.contains("permission to attach files to Employee"),
        "{answer}"
    );
}

async fn integer_parameters_are_checked_not_wrapped(backend: Backend) {
    let Some(owned) = TestServer::start_with(backend, "integer_parameters", |site| {
        crate::reads::hr_site(site, "", "")
    })
    .await
    else {
        return;
    };
    let server = &owned;
    let (accounts, _) = session(server, "accounts@example.com", "accounts").await;
    let (hr, _) = session(server, "hr@example.com", "hr").await;
    for (c, path, name) in [
        (
            &hr,
            "/app/query-report/Salary%20Register?page=18446744073709551615",
            "page",
        ),
        (&hr, "/app/query-report/Salary%20Register?page=ten", "page"),
        (
            &accounts,
            "/app/sales-invoice?start=99999999999999999999",
            "start",
        ),
        (
            &accounts,
            "/api/resource/Sales%20Invoice?limit_start=-1",
            "limit_start",
        ),
        (
            &accounts,
            "/api/resource/Sales%20Invoice?limit_page_length=1e9",
            "limit_page_length",
        ),
    ] {
        let r = c.get(server.at(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(&format!("`{name}`")), "{path}: {body}");
    }
    owned.stop().await;
}

/// Replaces the line `from` of the new site's `site.toml` with `to`.
fn edit_site_toml(site: &std::path::Path, from: &str, to: &str) {
    let toml = site.join("site.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains(from), "{from:?} in {text}");
    std::fs::write(&toml, text.replace(from, to)).unwrap();
}

async fn export_invoices(
    server: &TestServer,
    c: &reqwest::Client,
    token: &str,
    format: &str,
) -> reqwest::Response {
    c.post(server.at("/api/method/frappe.desk.reportview.export_query"))
        .header("x-frappe-csrf-token", token)
        .form(&[("doctype", "Sales Invoice"), ("file_format_type", format)])
        .send()
        .await
        .unwrap()
}

async fn an_xlsx_export_is_refused_cleanly_when_temporary_disk_is_short(backend: Backend) {
    // A petabyte free is more than any test machine has.
    let Some(server) = TestServer::start_with(backend, "xlsx_temp_budget", |site| {
        edit_site_toml(
            site,
            "xlsx_min_free_mb = 1024",
            "xlsx_min_free_mb = 1000000000",
        )
    })
    .await
    else {
        return;
    };
    let (c, token) = session(&server, "accounts@example.com", "accounts").await;
    let before = log_size(&server).await;
    let r = export_invoices(&server, &c, &token, "Excel").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    let body = r.text().await.unwrap();
    assert!(
        body.contains("temporary disk") && body.contains("try CSV"),
        "{body}"
    );
    assert_eq!(log_size(&server).await, before + 1);
    let e = last_event(&server).await;
    assert_eq!((e.activity, e.outcome), (Activity::Export, Outcome::Failed));
    assert_eq!(e.file_type.as_deref(), Some("XLSX"));
    // CSV needs no such room.
    let r = export_invoices(&server, &c, &token, "CSV").await;
    assert_eq!(r.status(), StatusCode::OK);
    server.stop().await;
}

async fn one_user_runs_a_bounded_number_of_exports_at_once(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, "exports_per_user", |site| {
        edit_site_toml(site, "per_user = 2", "per_user = 1")
    })
    .await
    else {
        return;
    };
    let (c, token) = session(&server, "accounts@example.com", "accounts").await;
    let user = "accounts@example.com";
    let limit = &server.state.limits.exports;
    // A running export holds the user's place until its entry is committed.
    let lock = server.hold_log().await;
    let running = tokio::spawn({
        let (c, token, url) = (c.clone(), token.clone(), server.at(""));
        async move {
            let r = c
                .post(format!(
                    "{url}/api/method/frappe.desk.reportview.export_query"
                ))
                .header("x-frappe-csrf-token", token)
                .form(&[("doctype", "Sales Invoice"), ("file_format_type", "CSV")])
                .send()
                .await
                .unwrap();
            let status = r.status();
            r.bytes().await.unwrap();
            status
        }
    });
    for _ in 0..3000 {
        if limit.held_by(user) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let held_while_recording = limit.held_by(user);
    lock.release().await;
    assert_eq!(held_while_recording, 1, "the export held its place");
    assert_eq!(running.await.unwrap(), StatusCode::OK);
    for _ in 0..5000 {
        if limit.held_by(user) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(limit.held_by(user), 0, "and gave it back once sent");

    // While the user's one place is taken, two more at once are both refused (429,
    // naming the limit) and recorded. The place is taken here rather than by a slow
    // export, so that no timing decides who gets it.
    let place = limit.try_enter(user).expect("the place is free");
    let before = log_size(&server).await;
    let refused =
        futures::future::join_all((0..2).map(|_| export_invoices(&server, &c, &token, "CSV")))
            .await;
    for r in refused {
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().contains_key("retry-after"));
        let body = r.text().await.unwrap();
        assert!(body.contains("at most 1 at once"), "{body}");
    }
    assert_eq!(
        log_size(&server).await,
        before + 2,
        "every refusal is recorded"
    );
    let e = last_event(&server).await;
    assert_eq!((e.activity, e.outcome), (Activity::Export, Outcome::Denied));
    // Once the place is given back, the next export runs.
    drop(place);
    let r = export_invoices(&server, &c, &token, "CSV").await;
    assert_eq!(r.status(), StatusCode::OK);
    server.stop().await;
}

async fn behind_https_browsers_are_told_to_stay_on_https(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, "hsts", |site| {
        edit_site_toml(site, "secure_cookies = false", "secure_cookies = true")
    })
    .await
    else {
        return;
    };
    let r = server
        .client()
        .get(server.at("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert_security_headers("the login page", r.headers());
    server.stop().await;
}
