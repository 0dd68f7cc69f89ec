//! The scale-out harness, short form (issue 20): two `accesslog serve` processes on one
//! PostgreSQL database, Debian's nginx in front of them, and `wrk` driving mixed egress
//! through nginx for about 20 seconds: reads of documents and of the Access Log, prints,
//! CSV exports and downloads of a private file, each recorded. Midway one app server is killed
//! with SIGKILL and started again, and later PostgreSQL itself is restarted. Afterwards:
//! - every response the clients got with 200 has its entry, by `x-request-id`;
//! - clients saw only 200 and 503 (nginx answers 503 when no app server could);
//! - `seq` is dense and `accesslog verify` passes: one tree, whatever served each request;
//! - both servers answer `/api/ready` again by themselves.
//!
//! It restarts the machine's PostgreSQL, so it is a test binary of its own with one test
//! (cargo runs test binaries one after another). Needs nginx, wrk and pg_ctlcluster
//! (`.ci/run` installs and starts them); the long form is `ACCESSLOG_SCALE_SERVERS=3
//! ACCESSLOG_SCALE_SECONDS=60 cargo test -p accesslog-cli --test scale_out -- --nocapture`.

mod common;

use common::accesslog;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// An app server process, killed when dropped.
struct App {
    child: Child,
    port: u16,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx, stopped when dropped (also when the test fails): SIGTERM to the master, which
/// stops its workers (SIGKILL would leave them running).
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn serve(site: &Path, db: &str, port: u16) -> App {
    let mut child = accesslog()
        .args(["serve", "--site"])
        .arg(site)
        .args(["--database", db, "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server starts");
    assert!(line.contains("http://"), "{line}");
    std::thread::spawn(move || while rx.recv().is_ok() {});
    App { child, port }
}

fn ready(port: u16) -> bool {
    Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            &format!("http://127.0.0.1:{port}/api/ready"),
        ])
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_ready(port: u16, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if ready(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// The document type the load reads, prints and exports: the harness's user (a System
/// Manager) may do all three.
const CUSTOMER: &str = r#"
name = "Customer"
naming = "field:customer_name"

[[fields]]
fieldname = "customer_name"
fieldtype = "data"
reqd = true
in_list_view = true

[[fields]]
fieldname = "territory"
fieldtype = "data"
in_list_view = true

[permissions."System Manager"]
read = true
create = true
write = true
print = true
export = true
"#;

/// Customers made before the load.
const CUSTOMERS: usize = 20;

/// The mixed egress the load cycles through, one request of each kind in turn: reads of
/// documents (one and a list) and of the Access Log, prints, exports and downloads of a
/// private file. `file` is that file's URL.
fn load_paths(file: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for i in 0..4 {
        let customer = format!("Customer%20{:02}", (i * 7) % CUSTOMERS);
        paths.extend([
            format!("/api/resource/Customer/{customer}"),
            format!("/printview?doctype=Customer&name={customer}"),
            "/api/method/frappe.desk.reportview.export_query?doctype=Customer&file_format_type=CSV"
                .to_owned(),
            file.to_owned(),
            "/api/resource/Customer?limit_page_length=20".to_owned(),
            "/api/access-log?limit=5".to_owned(),
        ]);
    }
    paths.extend([
        "/api/access-log/1".to_owned(),
        "/api/access-log/1/proof".to_owned(),
    ]);
    paths
}

/// The Lua table of `paths`.
fn lua_list(paths: &[String]) -> String {
    let items: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    format!("{{{}}}", items.join(", "))
}

const WRK_SCRIPT: &str = r#"
n = 0
seen = {}
threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], {["Authorization"] = AUTH})
end
function response(status, headers, body)
  seen[#seen + 1] = status .. " " .. (headers["x-request-id"] or "-")
end
function done(summary, latency, requests)
  local out = io.open(OUT, "w")
  for _, t in ipairs(threads) do
    for _, line in ipairs(t:get("seen")) do out:write(line, "\n") end
  end
  out:close()
  io.write(string.format("LATENCY p50=%d p99=%d us\n", latency:percentile(50), latency:percentile(99)))
end
"#;

fn nginx_conf(dir: &Path, port: u16, apps: &[u16]) -> String {
    let upstreams: String = apps
        .iter()
        .map(|p| format!("    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"))
        .collect();
    let d = dir.display();
    format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           upstream apps {{\n{upstreams}    keepalive 16;\n  }}\n\
           server {{\n    listen 127.0.0.1:{port};\n\
             location / {{\n      proxy_pass http://apps;\n      proxy_http_version 1.1;\n\
               proxy_set_header Connection \"\";\n      proxy_next_upstream error timeout http_503;\n\
               proxy_connect_timeout 2s;\n      proxy_read_timeout 30s;\n    }}\n\
             error_page 502 504 = @busy;\n\
             location @busy {{ default_type application/json; return 503 '{{\"message\": \"no app server could answer; try again\"}}'; }}\n\
           }}\n}}\n"
    )
}

#[test]
fn servers_behind_nginx_survive_a_kill_and_a_database_restart() {
    let Ok(base) = std::env::var("ACCESSLOG_TEST_POSTGRES_URL") else {
        accesslog_testkit::skip_postgres();
        return;
    };
    for tool in ["nginx", "wrk", "pg_ctlcluster", "curl", "psql"] {
        if !have(tool) {
            accesslog_testkit::skip(tool, "apt-get install nginx wrk curl (.ci/run does)");
            return;
        }
    }
    let servers: usize = std::env::var("ACCESSLOG_SCALE_SERVERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let seconds: u64 = std::env::var("ACCESSLOG_SCALE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);

    // A database of its own on the machine's PostgreSQL.
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let name = format!("accesslog_scale_{}", std::process::id());
    let psql = |sql: &str, db: &str| {
        Command::new("psql")
            .args(["-q", "-At", &format!("{prefix}/{db}"), "-c", sql])
            .output()
            .unwrap()
    };
    ok(psql(&format!("CREATE DATABASE {name}"), "postgres"));
    let db = format!("{prefix}/{name}");

    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    ok(accesslog().args(["new-site"]).arg(&site).output().unwrap());
    let mut add = accesslog()
        .args(["user", "add", "--site"])
        .arg(&site)
        .args([
            "--database",
            &db,
            "ana@acme.example",
            "--name",
            "Ana",
            "--role",
            "System Manager",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut add.stdin.take().unwrap(), b"a-long-passphrase\n").unwrap();
    ok(add.wait_with_output().unwrap());
    let out = ok(accesslog()
        .args(["user", "api-key", "create", "--site"])
        .arg(&site)
        .args(["--database", &db, "ana@acme.example"])
        .output()
        .unwrap());
    let auth = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Use it as:  Authorization: "))
        .expect("the key's header")
        .to_owned();

    // Documents to read, print and export, and room for the load's exports: one user
    // sends them all, up to 16 at once.
    std::fs::write(site.join("doctypes/customer.toml"), CUSTOMER).unwrap();
    let toml = site.join("site.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains("per_user = 2") && text.contains("in_total = 8"));
    let text = text
        .replace("per_user = 2", "per_user = 64")
        .replace("in_total = 8", "in_total = 64");
    std::fs::write(&toml, text).unwrap();
    let csv = tmp.path().join("customers.csv");
    let rows: Vec<String> = (0..CUSTOMERS)
        .map(|i| format!("Customer {i:02},Territory {}", i % 3))
        .collect();
    std::fs::write(
        &csv,
        format!("customer_name,territory\n{}\n", rows.join("\n")),
    )
    .unwrap();
    ok(accesslog()
        .args(["import", "--site"])
        .arg(&site)
        .args(["--database", &db, "--doctype", "Customer"])
        .arg(&csv)
        .output()
        .unwrap());

    // A few entries and a signed checkpoint first, so every path of the load has an answer.
    ok(accesslog()
        .args(["record-load", "--count", "5", "--writers", "1", "--site"])
        .arg(&site)
        .args(["--database", &db])
        .output()
        .unwrap());

    // The app servers, and nginx in front of them.
    let mut apps: Vec<App> = (0..servers)
        .map(|_| serve(&site, &db, free_port()))
        .collect();
    let ports: Vec<u16> = apps.iter().map(|a| a.port).collect();
    let lb = free_port();
    let ngx = tmp.path().join("nginx");
    std::fs::create_dir_all(&ngx).unwrap();
    std::fs::write(ngx.join("nginx.conf"), nginx_conf(&ngx, lb, &ports)).unwrap();
    let _nginx = Nginx(
        Command::new("nginx")
            .args(["-p"])
            .arg(&ngx)
            .args(["-c"])
            .arg(ngx.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .spawn()
            .unwrap(),
    );
    assert!(wait_ready(lb, Duration::from_secs(20)), "nginx answers");

    // A private file to download, attached to a customer.
    let upload = tmp.path().join("terms.txt");
    std::fs::write(&upload, "Payment within 30 days.\n".repeat(40)).unwrap();
    let answer = ok(Command::new("curl")
        .args([
            "-sS",
            "--fail-with-body",
            "-H",
            &format!("Authorization: {auth}"),
        ])
        .args([
            "-F",
            &format!("file=@{}", upload.display()),
            "-F",
            "is_private=1",
        ])
        .args(["-F", "doctype=Customer", "-F", "docname=Customer 00"])
        .arg(format!("http://127.0.0.1:{lb}/api/method/upload_file"))
        .output()
        .unwrap());
    let answer: serde_json::Value = serde_json::from_str(&answer).expect(&answer);
    let file_url = answer["message"]["file_url"]
        .as_str()
        .expect("the file's URL")
        .to_owned();
    assert!(file_url.starts_with("/private/files/"), "{answer}");

    // Load through nginx, and the faults on a schedule beside it.
    let script = tmp.path().join("load.lua");
    let seen_file = tmp.path().join("seen.txt");
    std::fs::write(
        &script,
        format!(
            "AUTH = {auth:?}\nOUT = {:?}\npaths = {}\n{WRK_SCRIPT}",
            seen_file.display().to_string(),
            lua_list(&load_paths(&file_url))
        ),
    )
    .unwrap();
    let wrk = Command::new("wrk")
        .args(["-t2", "-c16", &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(&script)
        .arg(format!("http://127.0.0.1:{lb}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // ACCESSLOG_SCALE_FAULTS=0: load alone, for the throughput figures in BENCHMARKS.md.
    let faults = std::env::var("ACCESSLOG_SCALE_FAULTS").map_or(true, |v| v != "0");
    let started = Instant::now();
    let at = |fraction: f64| Duration::from_secs_f64(seconds as f64 * fraction);
    let sleep_until = |d: Duration| {
        if let Some(rest) = d.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    };
    if faults {
        faults_on_schedule(&mut apps, &site, &db, &sleep_until, &at);
    }
    let report = wrk.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&report.stdout).into_owned();
    println!("{summary}");
    assert!(
        report.status.success(),
        "{summary}\n{}",
        String::from_utf8_lossy(&report.stderr)
    );

    // The servers came back by themselves.
    for a in &apps {
        assert!(
            wait_ready(a.port, Duration::from_secs(30)),
            "server on {} ready again after PostgreSQL's restart",
            a.port
        );
    }

    // Only 200 and 503; every 200 has its entry.
    let seen = std::fs::read_to_string(&seen_file).unwrap();
    let mut ok_ids = Vec::new();
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for line in seen.lines() {
        let (status, id) = line.split_once(' ').unwrap();
        *statuses.entry(status.to_owned()).or_default() += 1;
        if status == "200" {
            ok_ids.push(id.to_owned());
        }
    }
    println!("statuses: {statuses:?}");
    assert!(
        statuses.keys().all(|s| s == "200" || s == "503"),
        "clients saw only 200 or 503: {statuses:?}"
    );
    assert!(ok_ids.len() > 100, "the load ran: {statuses:?}");
    let logged = psql(
        "SELECT request_id FROM access_log WHERE request_id IS NOT NULL",
        &name,
    );
    let logged: std::collections::HashSet<String> = String::from_utf8_lossy(&logged.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let missing: Vec<&String> = ok_ids.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} responses with 200 have no entry: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    // Every kind of egress was served and recorded.
    let kinds = ok(psql(
        "SELECT activity || ' ' || COUNT(*) FROM access_log \
         WHERE request_id IS NOT NULL AND outcome = 'granted' GROUP BY activity ORDER BY activity",
        &name,
    ));
    println!("granted entries by activity: {}", kinds.replace('\n', ", "));
    for kind in ["export", "file_download", "print", "read"] {
        assert!(
            kinds.lines().any(|l| l.starts_with(&format!("{kind} "))),
            "no granted {kind} in the log: {kinds}"
        );
    }

    // One dense log, one tree.
    let dense = ok(psql("SELECT COUNT(*) = MAX(seq) FROM access_log", &name));
    assert_eq!(dense.trim(), "t", "seq is dense");
    drop(apps);
    let out = ok(accesslog()
        .args(["verify", "--site"])
        .arg(&site)
        .args(["--database", &db])
        .output()
        .unwrap());
    assert!(out.starts_with("OK: "), "{out}");
    let _ = psql(&format!("DROP DATABASE {name} WITH (FORCE)"), "postgres");
}

/// A quarter in, one app server is killed (SIGKILL) and started again a tenth later;
/// past half way, PostgreSQL is restarted.
fn faults_on_schedule(
    apps: &mut Vec<App>,
    site: &Path,
    db: &str,
    sleep_until: &dyn Fn(Duration),
    at: &dyn Fn(f64) -> Duration,
) {
    sleep_until(at(0.25));
    let killed = apps.remove(0);
    let port = killed.port;
    drop(killed); // SIGKILL, and reaped
    sleep_until(at(0.35));
    apps.insert(0, serve(site, db, port));
    sleep_until(at(0.55));
    let cluster = Command::new("sh")
        .args(["-c", "ls /etc/postgresql | sed -n 1p"])
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&cluster.stdout).trim().to_owned();
    ok(Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .output()
        .unwrap());
}
