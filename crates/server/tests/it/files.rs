//! Private files: uploaded, downloaded only by who may read the document, every download
//! (and every refusal) recorded with its size and SHA-256; traversal answers 404.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use accesslog_core::entry::{Activity, Outcome};

use crate::common::{TestServer, last_entry, on_both_backends, session};

on_both_backends!(
    run: crate::common::with_server;
    private_files_are_served_to_readers_and_every_attempt_is_recorded,
    uploads_are_checked
);

async fn upload(
    server: &TestServer,
    (c, token): &(reqwest::Client, String),
    name: &str,
    bytes: Vec<u8>,
    private: bool,
) -> reqwest::Response {
    let form = Form::new()
        .part("file", Part::bytes(bytes).file_name(name.to_owned()))
        .text("is_private", if private { "1" } else { "0" })
        .text("doctype", "Employee")
        .text("docname", "EMP-0001");
    c.post(server.at("/api/method/upload_file"))
        .header("x-frappe-csrf-token", token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A request sent byte for byte, so that no client library tidies the path first.
async fn raw_get(server: &TestServer, path: &str, cookie: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn private_files_are_served_to_readers_and_every_attempt_is_recorded(server: &TestServer) {
    let hr = session(server, "hr@example.com", "hr").await;
    let r =
        hr.0.post(server.at("/api/resource/Employee"))
            .header("x-frappe-csrf-token", &hr.1)
            .json(&json!({"employee_name": "Eve"}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let contract = b"%PDF-1.4 employment contract of EMP-0001".repeat(100);
    let r = upload(server, &hr, "contract.pdf", contract.clone(), true).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let file: Value = r.json().await.unwrap();
    let file = &file["message"];
    assert_eq!(file["file_url"], "/private/files/contract.pdf");
    assert_eq!(
        (file["is_private"].as_i64(), file["file_size"].as_u64()),
        (Some(1), Some(contract.len() as u64))
    );
    let id = file["name"].as_str().unwrap().to_owned();
    let before = server.store.log_head().await.unwrap().size;

    // HR may read employees: the file comes back, after a granted entry.
    let r =
        hr.0.get(server.at("/private/files/contract.pdf"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let seq: u64 = r.headers()["x-access-log-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.bytes().await.unwrap().as_ref(), contract.as_slice());
    assert_eq!(seq, before + 1);
    let e = server.store.entry(seq).await.unwrap().unwrap().event;
    assert_eq!(
        (e.activity, e.outcome, e.user.as_str()),
        (Activity::FileDownload, Outcome::Granted, "hr@example.com")
    );
    assert_eq!(
        (
            e.export_from.as_deref(),
            e.reference_document.as_deref(),
            e.file_type.as_deref()
        ),
        (Some("File"), Some(id.as_str()), Some("pdf"))
    );
    assert_eq!(e.byte_count, Some(contract.len() as u64));
    assert_eq!(
        e.content_sha256.unwrap(),
        hex::encode(Sha256::digest(&contract))
    );
    let attached = e.filters.unwrap().to_value();
    assert_eq!(
        (
            attached["attached_to_doctype"].as_str(),
            attached["attached_to_name"].as_str()
        ),
        (Some("Employee"), Some("EMP-0001"))
    );

    // Sales may not read employees: 403, and the refusal is on record.
    let sales = session(server, "sales@example.com", "sales").await;
    let r = sales
        .0
        .get(server.at("/private/files/contract.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The header names the entry that recorded the refusal.
    let refusal_seq: u64 = r.headers()["x-access-log-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(!r.text().await.unwrap().contains("employment contract"));
    let e = last_entry(server).await;
    assert_eq!(e.seq, refusal_seq);
    assert_eq!(
        (e.event.user.as_str(), e.event.outcome),
        ("sales@example.com", Outcome::Denied)
    );
    assert_eq!(e.event.reference_document.as_deref(), Some(id.as_str()));
    assert!(
        e.event
            .reason
            .unwrap()
            .contains("may not read Employee EMP-0001")
    );
    assert_eq!(e.event.byte_count, None);

    // Traversal and probes: 404, nothing leaves, and the attempt is recorded.
    let cookie = {
        let r = server
            .client()
            .post(server.at("/api/method/login"))
            .form(&[("usr", "admin@example.com"), ("pwd", "admin")])
            .send()
            .await
            .unwrap();
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let size_before_probes = server.store.log_head().await.unwrap().size;
    let probes = [
        "/private/files/..%2F..%2Fsite.toml",
        "/private/files/..%2fkeys%2flog.key",
        "/private/files/%2e%2e",
        "/private/files/.env",
        "/private/files/..%5Csite.toml",
        "/private/files/no-such-file.pdf",
        "/private/files/../../site.toml",
    ];
    for probe in probes {
        assert_eq!(raw_get(server, probe, &cookie).await, 404, "{probe}");
    }
    // Each probe is one entry: a denied file download by the admin, nothing released.
    let recorded = server
        .store
        .entries_after(size_before_probes, 100)
        .await
        .unwrap();
    assert_eq!(
        recorded.len(),
        probes.len(),
        "each probe of a private file is recorded: {recorded:#?}"
    );
    for e in &recorded {
        assert_eq!(
            (
                e.event.user.as_str(),
                e.event.activity,
                e.event.outcome,
                e.event.byte_count
            ),
            (
                "admin@example.com",
                Activity::FileDownload,
                Outcome::Denied,
                None
            ),
            "{e:#?}"
        );
    }

    // By id, on the same terms.
    let r =
        hr.0.get(server.at(&format!("/api/file/{id}")))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-access-log-seq"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), contract.as_slice());
    assert_eq!(
        sales
            .0
            .get(server.at(&format!("/api/file/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(last_entry(server).await.event.outcome, Outcome::Denied);
    assert_eq!(
        hr.0.get(server.at("/api/file/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // The form page offers to attach files to those who may write the document.
    let form =
        hr.0.get(server.at("/app/employee/EMP-0001"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(
        form.contains("/private/files/contract.pdf") && form.contains(r#"id="upload""#),
        "{form}"
    );

    // Files are listed as ERPNext's File resource, to whoever may read the document.
    let q = "/api/resource/File?filters=%7B%22attached_to_doctype%22%3A%22Employee%22%2C%22attached_to_name%22%3A%22EMP-0001%22%7D";
    let listed: Value =
        hr.0.get(server.at(q))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(listed["data"][0]["file_url"], "/private/files/contract.pdf");
    assert_eq!(listed["data"][0]["is_private"], 1);
    assert_eq!(
        sales.0.get(server.at(q)).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        sales
            .0
            .get(server.at("/api/resource/File"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );

    // Not logged in: 401.
    assert_eq!(
        server
            .client()
            .get(server.at("/private/files/contract.pdf"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // A second upload of the same name gets its own name; a public file needs no login and is not recorded.
    let r = upload(server, &hr, "contract.pdf", b"second".to_vec(), true).await;
    let url = r.json::<Value>().await.unwrap()["message"]["file_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("/private/files/contract-") && url.ends_with(".pdf"),
        "{url}"
    );
    let r = upload(server, &hr, "logo.png", b"\x89PNG".to_vec(), false).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"]["file_url"],
        "/files/logo.png"
    );
    let size = server.store.log_head().await.unwrap().size;
    let r = server
        .client()
        .get(server.at("/files/logo.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"\x89PNG");
    assert_eq!(server.store.log_head().await.unwrap().size, size);
}

async fn uploads_are_checked(server: &TestServer) {
    let sales = session(server, "sales@example.com", "sales").await;
    let r = upload(server, &sales, "x.pdf", b"x".to_vec(), true).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "Sales User may not write employees"
    );

    let hr = session(server, "hr@example.com", "hr").await;
    let r = upload(server, &hr, "x.pdf", b"x".to_vec(), true).await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "EMP-0001 does not exist yet"
    );
    hr.0.post(server.at("/api/resource/Employee"))
        .header("x-frappe-csrf-token", &hr.1)
        .json(&json!({"employee_name": "Eve"}))
        .send()
        .await
        .unwrap();

    // Too large: announced as 30 MiB; the server answers 413 without waiting for it all.
    let sid = {
        let r = server
            .client()
            .post(server.at("/api/method/login"))
            .form(&[("usr", "hr@example.com"), ("pwd", "hr")])
            .send()
            .await
            .unwrap();
        let token = r.headers()["x-frappe-csrf-token"]
            .to_str()
            .unwrap()
            .to_owned();
        (
            r.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned(),
            token,
        )
    };
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/method/upload_file HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nX-Frappe-CSRF-Token: {}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n",
        server.addr,
        sid.0,
        sid.1,
        30 * 1024 * 1024
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let _ = s.write_all(&vec![0u8; 256 * 1024]).await;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(20), read_answer(&mut s))
        .await
        .expect("an answer before the upload is sent");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("The file is larger than the 25 MiB allowed."),
        "{answer}"
    );
    let r = upload(server, &hr, ".env", b"x".to_vec(), true).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = upload(server, &hr, "../../ok.txt", b"fine".to_vec(), true).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"]["file_url"],
        "/private/files/ok.txt",
        "only the last path part is kept"
    );
}

/// One whole HTTP/1.1 answer from `s`: the head, then as many body bytes as its
/// `Content-Length` says (a first read may hold only the head).
async fn read_answer(s: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
        let n = s.read(&mut buf).await.expect("read the answer");
        assert!(n > 0, "the connection closed mid-answer: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}
