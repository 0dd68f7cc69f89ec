//! A print loads nothing but itself: every address a print format can name (the server's
//! own, a local service, a file) is refused by Chromium's request interception, and the
//! browser runs unprivileged when the tests run as root.
//!
//! Runs where Debian's Chromium is installed (CI installs it, and `pdftotext`); skipped
//! otherwise, as the unit tests in `src/pdf.rs` are.

use std::io::{ErrorKind, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use accesslog_print::PdfRenderer;

const CHROMIUM: &str = "/usr/bin/chromium";

/// A valid 1×1 PNG, as bytes and as base64.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xfc, 0xcf, 0xc0, 0x50,
    0x0f, 0x00, 0x04, 0x85, 0x01, 0x80, 0x84, 0xa9, 0x8c, 0x21, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

fn chromium() -> Option<PdfRenderer> {
    let path = Path::new(CHROMIUM);
    if path.is_file() {
        Some(PdfRenderer::new(path))
    } else {
        accesslog_testkit::skip(CHROMIUM, "apt-get install chromium");
        None
    }
}

/// A local listener that must never be reached.
fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Fails if anything connected to `l`, after a short grace for late attempts.
async fn assert_untouched(l: &TcpListener, what: &str) {
    tokio::time::sleep(Duration::from_millis(700)).await;
    match l.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!("{what}: the listener was reached (from {from})"),
        Err(e) => panic!("{what}: accept: {e}"),
    }
}

fn assert_pdf(pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-"), "{:?}", &pdf[..8.min(pdf.len())]);
}

/// The PDF's text, by poppler's `pdftotext`.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let mut child = match std::process::Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            accesslog_testkit::skip("pdftotext", &format!("apt-get install poppler-utils ({e})"));
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pdftotext failed");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every way HTML (and, were it on, script) can make a request, aimed at a local listener
/// by address and by name.
fn everything_that_loads(port: u16) -> String {
    let mut html = String::from("<!doctype html><html><head>");
    for base in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        html.push_str(&format!(
            r#"<link rel="stylesheet" href="{base}/a.css">
<link rel="preload" as="image" href="{base}/preload.png">
<link rel="prefetch" href="{base}/prefetch">
<link rel="preconnect" href="{base}">
<link rel="dns-prefetch" href="{base}">
<link rel="modulepreload" href="{base}/m.js">
<script type="speculationrules">{{"prefetch": [{{"source": "list", "urls": ["{base}/spec"]}}], "prerender": [{{"source": "list", "urls": ["{base}/pre"]}}]}}</script>
<link rel="icon" href="{base}/favicon.ico">
<script src="{base}/s.js"></script>
<style>
  @import url("{base}/import.css");
  @font-face {{ font-family: Remote; src: url("{base}/font.woff2"); }}
  .bg {{ background-image: url("{base}/bg.png"); font-family: Remote; }}
</style>
<script>fetch("{base}/fetch"); new Image().src = "{base}/js.png";</script>
"#
        ));
    }
    html.push_str("</head><body><h1 class=\"bg\">Everything that loads</h1>");
    for base in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        html.push_str(&format!(
            r#"<img src="{base}/x.png" alt="">
<img srcset="{base}/x2.png 2x" alt="">
<picture><source srcset="{base}/p.png"><img src="{base}/p-fallback.png" alt=""></picture>
<iframe src="{base}/frame"></iframe>
<object data="{base}/object"></object>
<embed src="{base}/embed">
<video poster="{base}/poster.png" src="{base}/v.mp4"></video>
<audio src="{base}/a.mp3"></audio>
<svg width="10" height="10"><image href="{base}/svg.png" width="10" height="10"/></svg>
<div style="background: url('{base}/inline-bg.png')">x</div>
"#
        ));
    }
    html.push_str("</body></html>");
    html
}

/// The acceptance test: a print naming a local address in every way HTML allows makes
/// Chromium connect nowhere, and the PDF is still made.
#[tokio::test]
async fn a_print_reaches_no_address() {
    let Some(r) = chromium() else { return };
    let (l, port) = listener();
    let pdf = r.render(&everything_that_loads(port)).await.unwrap();
    assert_pdf(&pdf);
    assert_untouched(&l, "subresources").await;
    // The guard, not chance, stopped them: it refused and counted them.
    assert!(
        r.refused_requests() >= 5,
        "only {} requests were refused",
        r.refused_requests()
    );
    r.shutdown().await;
}

/// A refresh to a local address is a navigation of the tab itself; it is refused too.
#[tokio::test]
async fn a_refresh_navigates_nowhere() {
    let Some(r) = chromium() else { return };
    let (l, port) = listener();
    let html = format!(
        r#"<!doctype html><meta http-equiv="refresh" content="0;url=http://127.0.0.1:{port}/refresh">
<a href="http://127.0.0.1:{port}/link" ping="http://127.0.0.1:{port}/ping">a link</a>
<form action="http://127.0.0.1:{port}/form" method="post"><input name="a" value="b" autofocus></form>
<p>Refresh</p>"#
    );
    // The refused navigation can land while the page is being printed, and Chromium then
    // fails that print ("Printing failed"): a failed PDF, never a request sent. Either way
    // nothing reaches the address, and the browser goes on working.
    match r.render(&html).await {
        Ok(pdf) => assert_pdf(&pdf),
        Err(e) => assert!(e.to_string().contains("Printing failed"), "{e}"),
    }
    // A second print on the same browser, after the refresh had its chance.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_pdf(&r.render("<p>after</p>").await.unwrap());
    assert_untouched(&l, "refresh").await;
    r.shutdown().await;
}

/// `file://` is refused: an image that exists and is readable (a valid PNG) is not loaded,
/// so Chromium draws its alt text instead, while the same PNG as a `data:` URL loads (its
/// alt text is not drawn); a file's contents never reach the PDF. (Chromium refuses these
/// before any request exists, since the page is not itself a file; the guards would refuse
/// any that were made.)
#[tokio::test]
async fn file_urls_are_refused() {
    let Some(r) = chromium() else { return };
    let mut png = tempfile::Builder::new()
        .prefix("accesslog-lockdown-")
        .suffix(".png")
        .tempfile()
        .unwrap();
    png.write_all(PNG).unwrap();
    png.flush().unwrap();
    // Readable by anyone, so a refusal is the guard's, not the file's permissions.
    std::fs::set_permissions(
        png.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let file_url = format!("file://{}", png.path().display());
    let html = format!(
        r#"<!doctype html><html><head>
<link rel="stylesheet" href="file:///etc/passwd">
</head><body>
<p>Files</p>
<p><img src="{file_url}" alt="FILEIMAGEREFUSED"></p>
<p><img src="data:image/png;base64,{PNG_BASE64}" alt="DATAIMAGEMISSING"></p>
<p><img src="file:///etc/passwd" alt="PASSWDREFUSED"></p>
<object data="file:///etc/passwd" type="text/plain" width="600" height="200"></object>
<iframe src="file:///etc/passwd" width="600" height="200"></iframe>
<embed src="file:///etc/hostname" type="text/plain" width="600" height="100">
</body></html>"#
    );
    let pdf = r.render(&html).await.unwrap();
    assert_pdf(&pdf);
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("Files"), "{text}");
        assert!(
            text.contains("FILEIMAGEREFUSED"),
            "the file image loaded: {text}"
        );
        assert!(text.contains("PASSWDREFUSED"), "{text}");
        assert!(
            !text.contains("DATAIMAGEMISSING"),
            "the data: image failed: {text}"
        );
        assert!(
            !text.contains("root:"),
            "/etc/passwd reached the PDF: {text}"
        );
    }
    r.shutdown().await;
}

/// The server's tests run as root in CI: Chromium must not. It runs as `nobody` when that
/// user exists (and with its sandbox where the kernel allows it).
#[tokio::test]
async fn chromium_does_not_run_as_root() {
    let Some(r) = chromium() else { return };
    assert_pdf(&r.render("<p>who</p>").await.unwrap());
    let isolation = r.isolation().await.expect("the browser is running");
    eprintln!("Chromium: {isolation:?}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", isolation.pid)).unwrap();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2)) // the effective uid
        .unwrap()
        .to_owned();
    let we_are_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let nobody_exists = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("nobody:"));
    if we_are_root && nobody_exists {
        assert_ne!(uid, "0", "Chromium runs as root: {isolation:?}");
        assert_eq!(isolation.user, "nobody");
    }
    if !we_are_root {
        assert!(isolation.sandbox, "{isolation:?}");
    }
    r.shutdown().await;
}
