//! The gate against its upstream, in one run (issue 21): a Frappe-shaped upstream written
//! here (fast: answers from memory, a CSV generated as it is sent) is measured directly and
//! through the gate, which records into a real store (SQLite in a temporary file; and
//! PostgreSQL when `ACCESSLOG_TEST_POSTGRES_URL` is set) with the real recorder:
//! - reads: `wrk` on a REST list, direct and through the gate in alternate rounds, and
//!   through Debian's nginx as a plain reverse proxy (nothing recorded) when it is
//!   installed: what any HTTP hop costs on this machine, the peer of the gate's ratio;
//! - a 1,000,000-row CSV export (`cmd=frappe.desk.query_report.export_query`), timed to
//!   its last byte by a client that discards each chunk as it arrives;
//! - the process's resident memory (VmRSS) sampled every 20 ms during each export, direct
//!   and through the gate. Upstream and client stream without holding the file, so the
//!   difference between the two is the gate's.
//!
//! The upstream runs on a runtime of its own (two threads named `upstream`, like a process
//! with two workers), so the CPU each side spends per request can be told apart. The
//! options `--upstream-cpu-us` and `--upstream-export-wait-ms` give the upstream a cost of
//! its own, to see how the gate's fixed costs weigh against a slower, more real upstream.
//!
//! Figures and how to read them: BENCHMARKS.md at the workspace root, "Gate (issue 21)".

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The allocator the `accesslog` binary ships with (crates/cli/src/main.rs), so that the
/// gate is measured as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use accesslog_core::SystemClock;
use accesslog_engine::{Recorder, RecorderConfig};
use accesslog_gate::{Gate, GateConfig};
use accesslog_site::LogSettings;
use accesslog_site::gate::GateSettings;
use accesslog_testkit::proc_cpu::{CpuTicks, micros_each};
use accesslog_testkit::{Backend, POSTGRES_URL_VAR, TestDb};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

const HELP: &str = "\
gate_bench: the Access Log gate against direct-to-upstream, in one run.

usage: cargo bench -p accesslog-gate --bench gate_bench -- [WHAT...] [OPTIONS]

WHAT picks a subset (default: sqlite postgres reads export):
  sqlite, postgres      the store the gate records into (PostgreSQL needs
                        ACCESSLOG_TEST_POSTGRES_URL; skipped when unset)
  reads                 wrk on GET /api/resource/Employee, direct, through the gate, and
                        through nginx proxying alone (when nginx is installed)
  export                the CSV export, direct and through the gate, with VmRSS sampled

OPTIONS:
  --secs N              seconds per wrk run (default 10)
  --rounds N            wrk rounds, each one direct and one through the gate (default 3)
  --threads N           wrk threads (default 2)
  --connections N       wrk connections (default 32)
  --rows N              rows of the CSV export (default 1000000)
  --export-runs N       timed exports each way (default 5)
  --upstream-cpu-us N   CPU the upstream spends on each read, busy (default 0: answers
                        from memory, the gate's worst case)
  --upstream-export-wait-ms N
                        time the upstream takes before the export's first byte (default
                        0); Frappe builds the whole file before it sends any of it
  --reads-unrecorded    the gate records no reads (log.reads = off, which it passes
                        straight through): what proxying alone costs
";

/// The session every request presents, and the user the upstream says it is.
const SID: &str = "3f0c0a8b1e6d4f2a9c7b5e3d1f0a8c6e4b2d0f9e7c5a3b1d";
const USER: &str = "hr@example.com";
const GATE_KEY: (&str, &str) = ("gatekey0001", "gatesecret0001");
const LIST_PATH: &str = "/api/resource/Employee?fields=%5B%22name%22%2C%22employee_name%22%2C%22department%22%2C%22designation%22%2C%22status%22%5D&limit_page_length=20";
const EXPORT_FORM: &str = "cmd=frappe.desk.query_report.export_query&report_name=General%20Ledger&file_format_type=CSV&filters=%7B%22company%22%3A%22Acme%22%2C%22from_date%22%3A%222026-01-01%22%2C%22to_date%22%3A%222026-12-31%22%7D&visible_idx=%5B0%2C1%2C2%2C3%2C4%5D&csrf_token=abc";

struct Args {
    backends: Vec<Backend>,
    reads: bool,
    export: bool,
    secs: u32,
    rounds: usize,
    threads: usize,
    connections: usize,
    rows: u64,
    export_runs: usize,
    upstream_cpu_us: u64,
    upstream_export_wait_ms: u64,
    reads_unrecorded: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        backends: Vec::new(),
        reads: false,
        export: false,
        secs: 10,
        rounds: 3,
        threads: 2,
        connections: 32,
        rows: 1_000_000,
        export_runs: 5,
        upstream_cpu_us: 0,
        upstream_export_wait_ms: 0,
        reads_unrecorded: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value"))?
                .parse::<u64>()
                .map_err(|e| format!("{name}: {e}"))
        };
        match arg.as_str() {
            "sqlite" => a.backends.push(Backend::Sqlite),
            "postgres" => a.backends.push(Backend::Postgres),
            "reads" => a.reads = true,
            "export" => a.export = true,
            "--secs" => a.secs = value("--secs")? as u32,
            "--rounds" => a.rounds = value("--rounds")? as usize,
            "--threads" => a.threads = value("--threads")? as usize,
            "--connections" => a.connections = value("--connections")? as usize,
            "--rows" => a.rows = value("--rows")?,
            "--export-runs" => a.export_runs = value("--export-runs")? as usize,
            "--upstream-cpu-us" => a.upstream_cpu_us = value("--upstream-cpu-us")?,
            "--upstream-export-wait-ms" => {
                a.upstream_export_wait_ms = value("--upstream-export-wait-ms")?;
            }
            "--reads-unrecorded" => a.reads_unrecorded = true,
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.backends.is_empty() {
        a.backends = vec![Backend::Sqlite, Backend::Postgres];
    }
    if !a.reads && !a.export {
        a.reads = true;
        a.export = true;
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}\n");
            }
            eprint!("{HELP}");
            std::process::exit(if e.is_empty() { 0 } else { 2 });
        }
    };
    // The upstream runs on a runtime of its own, as if it were a process of its own with
    // two workers; the gate and the bench's client run on the other one. Threads are named
    // so that the CPU each side spends can be told apart (`Cpu`).
    let upstream_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("upstream")
        .enable_all()
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("gate")
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(args, upstream_rt.handle().clone()));
}

async fn run(args: Args, upstream_rt: tokio::runtime::Handle) {
    let upstream = start_upstream(&upstream_rt, &args);
    println!(
        "machine: {} cores, {}; wrk -t{} -c{} -d{}s; upstream CPU per read {} µs, wait before an export {} ms",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        args.threads,
        args.connections,
        args.secs,
        args.upstream_cpu_us,
        args.upstream_export_wait_ms
    );
    for &backend in &args.backends {
        if backend == Backend::Postgres && std::env::var_os(POSTGRES_URL_VAR).is_none() {
            println!("\npostgres: skipped ({POSTGRES_URL_VAR} is not set)");
            continue;
        }
        let db = TestDb::open(backend, "gate_bench").await.unwrap();
        let gate = start_gate(&db, &upstream, args.reads_unrecorded).await;
        println!("\n== {backend:?} ==");
        println!("{}", fsync_cost(db.dir.path()));
        if args.reads {
            reads(&args, &upstream, &gate, &db).await;
        }
        if args.export {
            export(&args, &upstream, &gate, &db).await;
        }
        db.drop().await;
    }
}

/// What one durable commit is bounded by here: a 4 KiB append and `fdatasync`, 200 times,
/// in the folder of the SQLite file (the same disk as PostgreSQL's on this machine).
fn fsync_cost(dir: &std::path::Path) -> String {
    use std::io::Write;
    let mut f = tempfile::tempfile_in(dir).unwrap();
    let mut took: Vec<f64> = (0..200)
        .map(|_| {
            f.write_all(&[7u8; 4096]).unwrap();
            let t = Instant::now();
            f.sync_data().unwrap();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    took.sort_by(f64::total_cmp);
    format!(
        "disk: 4 KiB append + fdatasync p50 {:.2} ms, p90 {:.2} ms",
        took[100], took[180]
    )
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

// ---------------------------------------------------------------------------------------
// The upstream: what ERPNext v15 answers on the routes measured, from memory.

#[derive(Clone)]
struct Upstream {
    url: String,
    /// `{"data":[...]}` of 20 employees, made once.
    list: Bytes,
    rows: u64,
    cpu_us: u64,
    export_wait: Duration,
    /// Size and SHA-256 of the export, to check what the gate recorded.
    export_len: u64,
    export_sha256: String,
}

fn start_upstream(rt: &tokio::runtime::Handle, args: &Args) -> Upstream {
    let rows = args.rows;
    let list: Vec<serde_json::Value> = (1..=20)
        .map(|i| {
            let department = ["Accounts - A", "Sales - A", "Operations - A"][i % 3];
            let designation = ["Accountant", "Sales Executive", "Operator"][i % 3];
            serde_json::json!({
                "name": format!("HR-EMP-{i:05}"),
                "employee_name": format!("Employee Number {i}"),
                "department": department,
                "designation": designation,
                "status": "Active",
            })
        })
        .collect();
    let list = Bytes::from(serde_json::to_vec(&serde_json::json!({ "data": list })).unwrap());
    let (export_len, export_sha256) = {
        let mut csv = Csv::new(rows);
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = csv.next_chunk() {
            h.update(&chunk);
            n += chunk.len() as u64;
        }
        (n, hex::encode(h.finalize()))
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let upstream = Upstream {
        url: format!("http://{addr}"),
        list,
        rows,
        cpu_us: args.upstream_cpu_us,
        export_wait: Duration::from_millis(args.upstream_export_wait_ms),
        export_len,
        export_sha256,
    };
    let app = Router::new()
        .route(
            "/api/method/frappe.auth.get_logged_user",
            get(get_logged_user),
        )
        .route("/api/resource/User/{user}", get(user_doc))
        .route("/api/resource/Employee", get(employees))
        .route("/", axum::routing::post(desk_form))
        .with_state(upstream.clone());
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        axum::serve(listener, app).await.unwrap()
    });
    upstream
}

fn has_session(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim() == format!("sid={SID}"))
}

fn frappe_json(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

fn not_permitted() -> Response {
    frappe_json(
        StatusCode::FORBIDDEN,
        r#"{"exc_type":"PermissionError","_error_message":"Not permitted"}"#,
    )
}

async fn get_logged_user(headers: HeaderMap) -> Response {
    if has_session(&headers) {
        frappe_json(StatusCode::OK, format!(r#"{{"message":"{USER}"}}"#))
    } else {
        not_permitted()
    }
}

async fn user_doc(
    headers: HeaderMap,
    axum::extract::Path(user): axum::extract::Path<String>,
) -> Response {
    let key = format!("token {}:{}", GATE_KEY.0, GATE_KEY.1);
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(key.as_str())
    {
        return not_permitted();
    }
    let body = serde_json::json!({"data": {"name": user, "doctype": "User", "roles": [
        {"role": "Employee", "doctype": "Has Role"},
        {"role": "HR User", "doctype": "Has Role"},
    ]}});
    frappe_json(StatusCode::OK, serde_json::to_vec(&body).unwrap())
}

async fn employees(
    axum::extract::State(u): axum::extract::State<Upstream>,
    headers: HeaderMap,
) -> Response {
    if !has_session(&headers) {
        return not_permitted();
    }
    if u.cpu_us > 0 {
        let until = Instant::now() + Duration::from_micros(u.cpu_us);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
    frappe_json(StatusCode::OK, u.list.clone())
}

/// The desk's form post to `/` with `cmd=`: here only the query report's CSV export.
async fn desk_form(
    axum::extract::State(u): axum::extract::State<Upstream>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if form.get("cmd").map(String::as_str) != Some("frappe.desk.query_report.export_query") {
        return frappe_json(StatusCode::NOT_FOUND, r#"{"exc_type":"DoesNotExistError"}"#);
    }
    if !has_session(&headers) {
        return not_permitted();
    }
    tokio::time::sleep(u.export_wait).await;
    let csv = Csv::new(u.rows);
    let stream = futures::stream::unfold(csv, |mut csv| async move {
        csv.next_chunk()
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), csv))
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("filename=\"General Ledger.csv\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A General Ledger CSV made a chunk at a time (never the whole file in memory): ~56
/// bytes a row.
struct Csv {
    next: u64,
    rows: u64,
    header_sent: bool,
}

impl Csv {
    const ROWS_PER_CHUNK: u64 = 1024;

    fn new(rows: u64) -> Self {
        Csv {
            next: 0,
            rows,
            header_sent: false,
        }
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        use std::fmt::Write;
        let mut out = String::with_capacity(64 * 1024);
        if !self.header_sent {
            self.header_sent = true;
            out.push_str("Posting Date,Account,Voucher No,Debit,Credit\n");
        } else if self.next >= self.rows {
            return None;
        }
        let end = (self.next + Self::ROWS_PER_CHUNK).min(self.rows);
        for i in self.next..end {
            let (debit, credit) = if i % 2 == 0 {
                (i % 10_000, 0)
            } else {
                (0, i % 10_000)
            };
            let _ = writeln!(
                out,
                "2026-{:02}-{:02},Debtors - AC,ACC-JV-2026-{i:06},{debit}.00,{credit}.00",
                i % 12 + 1,
                i % 28 + 1
            );
        }
        self.next = end;
        Some(Bytes::from(out))
    }
}

// ---------------------------------------------------------------------------------------
// The gate, recording into `db`.

struct GateUnderTest {
    url: String,
}

async fn start_gate(db: &TestDb, upstream: &Upstream, reads_unrecorded: bool) -> GateUnderTest {
    let mut log = LogSettings::default();
    if reads_unrecorded {
        log.reads = accesslog_site::ReadLogging::Off;
    }
    let config = GateConfig {
        upstream: upstream.url.clone(),
        gate: GateSettings {
            api_key: Some(GATE_KEY.0.to_owned()),
            ..GateSettings::default()
        },
        api_secret: Some(GATE_KEY.1.to_owned()),
        accel_root: None,
        log,
        trusted_proxies: Vec::new(),
    };
    let recorder = Recorder::start(
        db.store.clone(),
        Arc::new(SystemClock),
        None,
        RecorderConfig::default(),
    );
    let gate = Gate::new(config, recorder);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(accesslog_gate::serve(
        listener,
        gate,
        std::future::pending(),
    ));
    GateUnderTest {
        url: format!("http://{addr}"),
    }
}

async fn log_size(db: &TestDb) -> u64 {
    db.store.log_head().await.unwrap().size
}

// ---------------------------------------------------------------------------------------
// Reads, with wrk.

#[derive(Clone, Copy, Debug, Default)]
struct Wrk {
    requests: u64,
    per_sec: f64,
    non_2xx: u64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn wrk(args: &Args, url: String, secs: u32) -> Wrk {
    let cmd = vec![
        format!("-t{}", args.threads),
        format!("-c{}", args.connections),
        format!("-d{secs}s"),
        "--latency".to_owned(),
        "-H".to_owned(),
        format!("Cookie: sid={SID}; user_id=hr%40example.com; system_user=yes"),
        url,
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("wrk")
            .args(&cmd)
            .output()
            .unwrap_or_else(|e| panic!("wrk could not be run (apt-get install wrk): {e}"))
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    parse_wrk(&text)
}

fn parse_wrk(text: &str) -> Wrk {
    let mut w = Wrk::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => w.per_sec = v.parse().unwrap_or(0.0),
            [n, "requests", "in", ..] => w.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => w.non_2xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                w.errors = rest
                    .iter()
                    .filter_map(|s| s.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            ["50%", v] => w.p50_ms = millis(v),
            ["99%", v] => w.p99_ms = millis(v),
            _ => {}
        }
    }
    w
}

fn millis(v: &str) -> f64 {
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().unwrap_or(0.0);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}

/// CPU time so far, in clock ticks (1/100 s): this process's, the part of it spent on
/// the upstream's threads, and that of waited-for children (wrk).
#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    process: u64,
    upstream: u64,
    children: u64,
}

impl Cpu {
    fn now() -> Self {
        let cpu = CpuTicks::now();
        Cpu {
            process: cpu.process,
            upstream: cpu.of_threads("upstream"),
            children: cpu.children,
        }
    }

    /// CPU µs per request since `before`: (wrk, upstream, the rest of this process).
    fn per_request(self, before: Cpu, requests: u64) -> (f64, f64, f64) {
        let us = |ticks: u64| micros_each(ticks, requests);
        // saturating: a thread that ended takes its ticks out of the per-thread sum.
        let upstream = self.upstream.saturating_sub(before.upstream);
        (
            us(self.children.saturating_sub(before.children)),
            us(upstream),
            us((self.process - before.process).saturating_sub(upstream)),
        )
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct ReadRun {
    wrk: Wrk,
    /// CPU µs per request: wrk, upstream, gate (with its recorder and store).
    cpu: (f64, f64, f64),
}

async fn measured_wrk(args: &Args, url: String) -> ReadRun {
    let before = Cpu::now();
    let wrk = wrk(args, url, args.secs).await;
    let cpu = Cpu::now().per_request(before, wrk.requests);
    ReadRun { wrk, cpu }
}

async fn reads(args: &Args, upstream: &Upstream, gate: &GateUnderTest, db: &TestDb) {
    let direct_url = format!("{}{LIST_PATH}", upstream.url);
    let gate_url = format!("{}{LIST_PATH}", gate.url);
    let nginx = Nginx::start(&db.dir.path().join("nginx"), &upstream.url);
    let nginx_url = nginx.as_ref().map(|n| format!("{}{LIST_PATH}", n.url));
    // Warm them up: connections, the gate's identity cache, the store's pages.
    wrk(args, direct_url.clone(), 2).await;
    wrk(args, gate_url.clone(), 2).await;
    if let Some(url) = &nginx_url {
        wrk(args, url.clone(), 2).await;
    }
    println!(
        "reads: GET /api/resource/Employee (20 rows, {} bytes), {} rounds",
        upstream.list.len(),
        args.rounds
    );
    println!(
        "{:>5} | {:>9} {:>9} {:>6} | {:>9} {:>9} {:>7} | CPU µs/req direct: wrk upstream | gate: wrk upstream gate",
        "round", "direct/s", "gate/s", "ratio", "gate reqs", "entries", "non-2xx"
    );
    let mut direct = Vec::new();
    let mut gated = Vec::new();
    let mut proxied = Vec::new();
    for round in 1..=args.rounds {
        if let Some(url) = &nginx_url {
            proxied.push(wrk(args, url.clone(), args.secs).await.per_sec);
        }
        let d = measured_wrk(args, direct_url.clone()).await;
        let before = log_size(db).await;
        let g = measured_wrk(args, gate_url.clone()).await;
        // Requests wrk left in flight finish, and are recorded, after it stops counting.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let entries = log_size(db).await - before;
        println!(
            "{round:>5} | {:>9.0} {:>9.0} {:>5.1}% | {:>9} {:>9} {:>7} | {:>5.0} {:>5.0} | {:>5.0} {:>5.0} {:>5.0}",
            d.wrk.per_sec,
            g.wrk.per_sec,
            100.0 * g.wrk.per_sec / d.wrk.per_sec,
            g.wrk.requests,
            entries,
            g.wrk.non_2xx + g.wrk.errors + d.wrk.non_2xx + d.wrk.errors,
            d.cpu.0,
            d.cpu.1,
            g.cpu.0,
            g.cpu.1,
            g.cpu.2,
        );
        direct.push(d);
        gated.push(g);
    }
    let m = |runs: &[ReadRun], f: fn(&ReadRun) -> f64| median(runs.iter().map(f).collect());
    let (dm, gm) = (m(&direct, |r| r.wrk.per_sec), m(&gated, |r| r.wrk.per_sec));
    println!(
        "reads median: direct {dm:.0}/s, gate {gm:.0}/s: {:.1}% of direct (target ≥ 90 %)",
        100.0 * gm / dm
    );
    if nginx.is_some() {
        let pm = median(proxied.clone());
        println!(
            "  the peer, nginx proxying alone (2 workers, nothing recorded), in the same rounds: \
             {pm:.0}/s, {:.1}% of direct; the gate is {:.1}% of nginx (rounds: {})",
            100.0 * pm / dm,
            100.0 * gm / pm,
            proxied
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    } else {
        println!("  the peer, nginx: not measured (not installed: apt-get install nginx)");
    }
    println!(
        "  latency p50 {:.2} → {:.2} ms, p99 {:.2} → {:.2} ms; CPU µs per request: direct wrk {:.0} + upstream {:.0}; gate wrk {:.0} + upstream {:.0} + gate {:.0}",
        m(&direct, |r| r.wrk.p50_ms),
        m(&gated, |r| r.wrk.p50_ms),
        m(&direct, |r| r.wrk.p99_ms),
        m(&gated, |r| r.wrk.p99_ms),
        m(&direct, |r| r.cpu.0),
        m(&direct, |r| r.cpu.1),
        m(&gated, |r| r.cpu.0),
        m(&gated, |r| r.cpu.1),
        m(&gated, |r| r.cpu.2),
    );
}

/// Debian's nginx as a plain reverse proxy to the upstream: two workers (the gate has two
/// threads), kept-alive connections to the upstream, nothing recorded. Stopped when
/// dropped: SIGTERM to the master, which stops its workers.
struct Nginx {
    child: std::process::Child,
    url: String,
}

impl Nginx {
    /// Started with its files in `dir`; `None` when nginx is not installed or would not
    /// start. A port taken between choosing it and nginx binding it makes nginx exit: then
    /// another port is tried.
    fn start(dir: &std::path::Path, upstream: &str) -> Option<Nginx> {
        use std::process::{Command, Stdio};
        Command::new("nginx").arg("-v").output().ok()?;
        std::fs::create_dir_all(dir).ok()?;
        let upstream = upstream.trim_start_matches("http://");
        let d = dir.display();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .ok()?
                .port();
            let conf = format!(
                "worker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
                   proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
                   uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                   upstream frappe {{ server {upstream}; keepalive 64; }}\n\
                   server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
                       proxy_pass http://frappe;\n      proxy_http_version 1.1;\n\
                       proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n"
            );
            std::fs::write(dir.join("nginx.conf"), conf).ok()?;
            let mut child = Command::new("nginx")
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .args(["-g", "daemon off;"])
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            for _ in 0..250 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    let url = format!("http://127.0.0.1:{port}");
                    return Some(Nginx { child, url });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

// ---------------------------------------------------------------------------------------
// The export, timed, with the process's resident memory sampled meanwhile.

/// VmRSS of this process, in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Samples VmRSS every 20 ms on a thread of its own until stopped; the highest seen.
struct RssProbe {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<usize>,
}

impl RssProbe {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss()));
        let thread = std::thread::spawn({
            let (stop, peak) = (stop.clone(), peak.clone());
            move || {
                let mut samples = 0;
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss(), Ordering::Relaxed);
                    samples += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                samples
            }
        });
        RssProbe { stop, peak, thread }
    }

    /// The peak and the number of samples.
    fn stop(self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.thread.join().unwrap();
        (self.peak.load(Ordering::Relaxed).max(rss()), samples)
    }
}

#[derive(Clone, Copy, Debug)]
struct ExportRun {
    secs: f64,
    /// Until the answer's head arrived: through the gate, the time it held the answer
    /// (read to its end, hashed, recorded).
    head_secs: f64,
    bytes: u64,
    rss_before: u64,
    rss_peak: u64,
    rss_after: u64,
    samples: usize,
}

async fn export_once(http: &reqwest::Client, base: &str) -> (ExportRun, Option<u64>) {
    let rss_before = rss();
    let probe = RssProbe::start();
    let t0 = Instant::now();
    let mut r = http
        .post(format!("{base}/"))
        .header(header::COOKIE, format!("sid={SID}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(EXPORT_FORM)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the export was refused");
    let head_secs = t0.elapsed().as_secs_f64();
    let seq = r
        .headers()
        .get("x-access-log-entry")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut bytes = 0u64;
    while let Some(chunk) = r.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
    }
    let secs = t0.elapsed().as_secs_f64();
    let (rss_peak, samples) = probe.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let run = ExportRun {
        secs,
        head_secs,
        bytes,
        rss_before,
        rss_peak,
        rss_after: rss(),
        samples,
    };
    (run, seq)
}

const MIB: f64 = 1024.0 * 1024.0;

async fn export(args: &Args, upstream: &Upstream, gate: &GateUnderTest, db: &TestDb) {
    let http = reqwest::Client::new();
    println!(
        "\nexport: {} rows, {:.1} MiB, direct then through the gate, {} runs each (after one of each to warm up)",
        args.rows,
        upstream.export_len as f64 / MIB,
        args.export_runs
    );
    export_once(&http, &upstream.url).await;
    export_once(&http, &gate.url).await;
    println!(
        "{:>3} | {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} {:>8} {:>7} | {:>6}",
        "run",
        "direct s",
        "RSS +MiB",
        "after",
        "gate s",
        "held s",
        "RSS +MiB",
        "after",
        "samples",
        "ratio"
    );
    let mut direct = Vec::new();
    let mut gated = Vec::new();
    for run in 1..=args.export_runs {
        let (d, _) = export_once(&http, &upstream.url).await;
        let (g, seq) = export_once(&http, &gate.url).await;
        assert_eq!(d.bytes, upstream.export_len);
        assert_eq!(g.bytes, upstream.export_len);
        let entry = db
            .store
            .entry(seq.expect("the gate's answer names its entry"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.event.byte_count, Some(upstream.export_len));
        assert_eq!(
            entry.event.content_sha256.as_deref(),
            Some(upstream.export_sha256.as_str()),
            "the entry holds the SHA-256 of the bytes sent"
        );
        let growth = |r: &ExportRun| (r.rss_peak as f64 - r.rss_before as f64) / MIB;
        let after = |r: &ExportRun| (r.rss_after as f64 - r.rss_before as f64) / MIB;
        println!(
            "{run:>3} | {:>8.3} {:>+8.1} {:>+8.1} | {:>8.3} {:>8.3} {:>+8.1} {:>+8.1} {:>7} | {:>5.2}×",
            d.secs,
            growth(&d),
            after(&d),
            g.secs,
            g.head_secs,
            growth(&g),
            after(&g),
            g.samples,
            g.secs / d.secs
        );
        direct.push(d);
        gated.push(g);
    }
    let ds = median(direct.iter().map(|r| r.secs).collect());
    let gs = median(gated.iter().map(|r| r.secs).collect());
    let peak_growth = |runs: &[ExportRun]| {
        runs.iter()
            .map(|r| r.rss_peak.saturating_sub(r.rss_before))
            .max()
            .unwrap_or(0) as f64
            / MIB
    };
    let held = median(gated.iter().map(|r| r.head_secs).collect());
    println!(
        "export median: direct {ds:.3} s ({:.0} MiB/s), gate {gs:.3} s ({:.0} MiB/s): {:.2}× direct (target ≤ 1.15×); the gate held the answer {held:.3} s, then sent it in {:.3} s",
        upstream.export_len as f64 / MIB / ds,
        upstream.export_len as f64 / MIB / gs,
        gs / ds,
        gs - held
    );
    println!(
        "memory: RSS {:.1} MiB before the first timed run; largest growth during one export: direct +{:.1} MiB, gate +{:.1} MiB, against {:.1} MiB streamed; RSS {:.1} MiB after the last",
        direct[0].rss_before as f64 / MIB,
        peak_growth(&direct),
        peak_growth(&gated),
        upstream.export_len as f64 / MIB,
        gated.last().map_or(0.0, |r| r.rss_after as f64 / MIB),
    );
}
