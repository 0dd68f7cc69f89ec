//! Where the gate stands (docs/gate.md): between nginx and Frappe. Debian's nginx, set up
//! as bench sets it up (it asks Frappe for `X-Accel-Redirect` and would serve
//! `/protected/` itself), proxies to the gate; the gate resolves `X-Accel-Redirect` from
//! the Frappe site's folder, so the bytes it hashed are the bytes the client got, and
//! nginx never sees the header.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use accesslog_testkit::{Backend, TestDb};

use crate::fixture::PDF;
use crate::{TestGate, sha256};

/// nginx, stopped with SIGTERM when dropped (SIGKILL would leave its workers running).
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn conf(dir: &Path, port: u16, gate: &str, protected: &Path) -> String {
    let d = dir.display();
    let p = protected.display();
    format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n\
             location /protected/ {{ internal; alias {p}/; }}\n\
             location / {{\n      proxy_pass {gate};\n      proxy_http_version 1.1;\n\
               proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n\
               proxy_set_header X-Forwarded-For $remote_addr;\n\
               proxy_set_header X-Use-X-Accel-Redirect True;\n    }}\n\
           }}\n}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_nginx_and_frappe_the_gate_resolves_x_accel_redirect() {
    if Command::new("nginx").arg("-v").output().is_err() {
        accesslog_testkit::skip("nginx", "apt-get install nginx (.ci/run does)");
        return;
    }
    let db = TestDb::open(Backend::Sqlite, "nginx").await.unwrap();
    let gate = TestGate::start(db, |c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    // The Frappe site's folder, which the gate reads; and a decoy where nginx's own
    // /protected/ points: if nginx resolved the redirect, the client would get the decoy.
    let files = gate.site.path().join("private/files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("payslip.pdf"), PDF).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let decoy = tmp.path().join("decoy");
    std::fs::create_dir_all(decoy.join("private/files")).unwrap();
    std::fs::write(decoy.join("private/files/payslip.pdf"), b"decoy").unwrap();
    let ngx = tmp.path().join("nginx");
    std::fs::create_dir_all(&ngx).unwrap();
    let port = free_port();
    std::fs::write(ngx.join("nginx.conf"), conf(&ngx, port, &gate.url, &decoy)).unwrap();
    let _nginx = Nginx(
        Command::new("nginx")
            .arg("-p")
            .arg(&ngx)
            .arg("-c")
            .arg(ngx.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .spawn()
            .unwrap(),
    );
    let front = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if reqwest::get(format!("{front}/app")).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "nginx answers");

    let login = gate
        .http
        .post(format!("{front}/api/method/login"))
        .form(&[("usr", "hr@example.com"), ("pwd", "hr")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let sid = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("sid="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let r = gate
        .http
        .get(format!("{front}/private/files/payslip.pdf"))
        .header("cookie", format!("sid={sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let body = r.bytes().await.unwrap();
    assert_eq!(body, PDF, "the gate's file, not nginx's");
    let e = gate.entry(gate.log_size().await).await;
    assert_eq!(
        e.event.content_sha256.as_deref(),
        Some(sha256(PDF).as_str())
    );
    assert_eq!(e.event.user, "hr@example.com");
    assert_eq!(e.event.ip.as_deref(), Some("127.0.0.1"));
    gate.db.drop().await;
}
