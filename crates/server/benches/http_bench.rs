//! Staff do not notice: the cost of recording reads, measured over real HTTP with `wrk`
//! (Debian's `wrk`, which must be on the `PATH`) at 64 connections.
//!
//! Two servers run side by side, each a whole `accesslog serve` stack (router, auth,
//! recorder, SQLite) on its own site and port: one records reads (`log.reads = "all"`,
//! the default), the other does not (`log.reads = "off"`). For each route the two are
//! measured in alternation, `ACCESSLOG_BENCH_ROUNDS` times (7) for
//! `ACCESSLOG_BENCH_SECONDS` each (3), and the medians of requests/s, p50 and p99 are
//! printed as a Markdown table with the ratio recorded/unrecorded: the median of the rounds'
//! ratios (each round's two runs back to back), with their range.
//!
//! - `GET /api/resource/Sales Invoice/{name}`, a random one of `ACCESSLOG_BENCH_DOCS`
//!   (2,000) per request;
//! - `GET /app/sales-invoice`, the list page;
//! - `GET /printview` of a random invoice (recorded on both servers: prints are always
//!   recorded; it is the baseline the issue measured against).
//!
//! After the throughput table it prints the CPU each part of the stack spent per request
//! (wrk, the runtime's workers, sqlx's threads, the committer, the review copy), read from
//! `/proc` around each run: steadier than requests/s on a noisy guest, and it says where
//! recording's cost goes.
//!
//! Run: `cargo bench -p accesslog-server --bench http_bench` (`ACCESSLOG_BENCH_ROUTES=list`
//! for the routes whose label holds that text; `ACCESSLOG_BENCH_ALERTS=off` to serve both
//! sites without the alert rules).

#[allow(dead_code)]
mod support;

/// The allocator `accesslog serve` runs with (crates/cli/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use accesslog_app::accounts;
use accesslog_core::SystemClock;
use accesslog_server::{AppState, Definitions};
use accesslog_site::{Overrides, Settings};
use accesslog_store::Store;
use accesslog_store_sqlite::SqliteStore;
use accesslog_testkit::proc_cpu::{CpuTicks, micros_each};
use support::env_u64;

const USER: &str = "bench@example.com";
/// The roles the test site's types name.
const ROLES: [&str; 3] = ["Accounts User", "Sales User", "HR User"];
const SALES_INVOICE: &str = include_str!("../tests/it/site/sales_invoice.toml");
const SALES_INVOICE_ITEM: &str = include_str!("../tests/it/site/sales_invoice_item.toml");
const CUSTOMER: &str = include_str!("../tests/it/site/customer.toml");

struct Server {
    base: String,
    auth: String,
    _dir: tempfile::TempDir,
}

/// A served site whose `log.reads` is `reads`, with `docs` Sales Invoices.
async fn start(reads: &str, docs: u64) -> Server {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let site = dir.path();
    accesslog_site::create_site(site, "Bench Site", &ROLES, Some("bench.example/log"))
        .expect("create a site");
    let toml = site.join("site.toml");
    let mut text = std::fs::read_to_string(&toml).expect("site.toml");
    assert!(text.contains("\n[log]\n"), "site.toml has a [log] table");
    text = text.replacen("\n[log]\n", &format!("\n[log]\nreads = \"{reads}\"\n"), 1);
    // `ACCESSLOG_BENCH_ALERTS=off`: without the alert rules, to see what they cost.
    if std::env::var("ACCESSLOG_BENCH_ALERTS").is_ok_and(|v| v == "off") {
        text.push_str("\n[alerts]\nenabled = false\n");
    }
    std::fs::write(&toml, text).expect("site.toml");
    for (name, body) in [
        ("sales_invoice.toml", SALES_INVOICE),
        ("sales_invoice_item.toml", SALES_INVOICE_ITEM),
        ("customer.toml", CUSTOMER),
    ] {
        write(site, &format!("doctypes/{name}"), body);
    }
    let settings = Settings::load(site, &|_| None, &Overrides::default()).expect("settings");
    let roles: Vec<String> = settings
        .roles
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let doctypes = accesslog_site::doctypes::DocTypes::load(site, &roles).expect("doctypes");
    let formats = accesslog_print::PrintFormats::load(site, &doctypes).expect("print formats");
    let reports = accesslog_site::reports::Reports::load(site, &doctypes, &roles).expect("reports");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&site.join("accesslog.db"))
            .await
            .expect("a SQLite database"),
    );
    for doctype in doctypes.iter() {
        store.sync_doctype(doctype).await.expect("the type's table");
    }
    let clock = Arc::new(SystemClock);
    accounts::add_user(
        &*store,
        &*clock,
        &settings,
        USER,
        "Bench",
        None,
        &[accesslog_core::SYSTEM_MANAGER.to_owned()],
    )
    .await
    .expect("add the user");
    let key = accounts::create_api_key(&*store, &*clock, USER, "http bench", &[])
        .await
        .expect("an API key");
    let signer = accesslog_site::keys::load_signer(site, &settings.log.origin).expect("signer");
    let state = AppState::start(
        store,
        clock,
        settings,
        signer,
        Definitions {
            doctypes,
            formats,
            reports,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("the address"));
    tokio::spawn(accesslog_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let auth = format!("token {}:{}", key.api_key, key.api_secret);
    let client = reqwest::Client::new();
    let customer = client
        .post(format!("{base}/api/resource/Customer"))
        .header("authorization", &auth)
        .json(&serde_json::json!({"customer_name": "Acme Corp"}))
        .send()
        .await
        .expect("a customer");
    assert!(
        customer.status().is_success(),
        "{}",
        customer.text().await.unwrap_or_default()
    );
    for i in 0..docs {
        let r = client
            .post(format!("{base}/api/resource/Sales Invoice"))
            .header("authorization", &auth)
            .json(&serde_json::json!({
                "customer": "Acme Corp",
                "posting_date": "2026-11-02",
                "grand_total": 100 + i,
                "items": [{"item_code": "WIDGET", "qty": 1 + i % 5, "rate": 20}],
            }))
            .send()
            .await
            .expect("an invoice");
        assert!(
            r.status().is_success(),
            "{}",
            r.text().await.unwrap_or_default()
        );
    }
    Server {
        base,
        auth,
        _dir: dir,
    }
}

fn write(site: &Path, path: &str, text: &str) {
    let path = site.join(path);
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("the folder");
    std::fs::write(path, text).expect("write");
}

/// One wrk run's figures, and the CPU each part of the stack spent per request in it.
#[derive(Clone, Copy, Debug)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    requests: u64,
    /// CPU µs per request, by [`Part`].
    cpu_us: [f64; PARTS.len()],
}

/// Where CPU goes, by thread name (`/proc/self/task/*/comm`, cut to 15 bytes by Linux).
/// Only the server under load is busy during a run, so a run's ticks are its server's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// The load generator (this process's children).
    Wrk,
    /// The runtime's workers: HTTP, handlers, templates, SHA-256 of the answer.
    Handlers,
    /// sqlx's SQLite threads: the queries that read the records.
    RecordQueries,
    /// The recorder's committer: appends, leaf hashes, `fsync`.
    Committer,
    /// The log's other threads: the review copy's indexer, the writer of checkpoints.
    LogThreads,
    /// Everything else in this process.
    Other,
}

const PARTS: [Part; 6] = [
    Part::Wrk,
    Part::Handlers,
    Part::RecordQueries,
    Part::Committer,
    Part::LogThreads,
    Part::Other,
];

impl Part {
    fn of_thread(comm: &str) -> Part {
        if comm.starts_with("tokio-rt-worker") {
            Part::Handlers
        } else if comm.starts_with("sqlx-sqlite") {
            Part::RecordQueries
        } else if comm.starts_with("accesslog-recor") {
            Part::Committer
        } else if comm.starts_with("accesslog-") {
            Part::LogThreads
        } else {
            Part::Other
        }
    }

    fn label(self) -> &'static str {
        match self {
            Part::Wrk => "wrk",
            Part::Handlers => "handlers (runtime workers)",
            Part::RecordQueries => "record queries (sqlx threads)",
            Part::Committer => "committer",
            Part::LogThreads => "review copy, checkpoints",
            Part::Other => "other",
        }
    }
}

/// CPU ticks so far, by [`Part`].
#[derive(Clone, Copy, Debug, Default)]
struct Ticks([u64; PARTS.len()]);

impl Ticks {
    fn now() -> Ticks {
        let cpu = CpuTicks::now();
        let mut ticks = Ticks::default();
        ticks.0[0] = cpu.children;
        for (name, t) in &cpu.threads {
            let part = Part::of_thread(name);
            let i = PARTS.iter().position(|p| *p == part).unwrap_or(0);
            ticks.0[i] += t;
        }
        ticks
    }

    /// CPU µs per request since `before` (saturating: an ended thread takes its ticks
    /// out of the sum).
    fn per_request(self, before: Ticks, requests: u64) -> [f64; PARTS.len()] {
        let mut us = [0.0; PARTS.len()];
        for (i, slot) in us.iter_mut().enumerate() {
            *slot = micros_each(self.0[i].saturating_sub(before.0[i]), requests);
        }
        us
    }
}

fn millis(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.trim().parse::<f64>().ok().map(|n| n * factor)
}

/// Runs wrk against `server` with the request `script` makes, for `seconds`.
fn wrk(server: &Server, script: &Path, seconds: u64) -> Run {
    let before = Ticks::now();
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .args(["-H", &format!("Authorization: {}", server.auth)])
        .arg(&server.base)
        .output()
        .expect("wrk (Debian's package wrk) on the PATH");
    let after = Ticks::now();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut run = Run {
        rps: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        errors: 0,
        requests: 0,
        cpu_us: [0.0; PARTS.len()],
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => run.rps = n.parse().unwrap_or(0.0),
            ["50%", t] => run.p50_ms = millis(t).unwrap_or(0.0),
            ["99%", t] => run.p99_ms = millis(t).unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => run.errors = n.parse().unwrap_or(0),
            [n, "requests", "in", ..] => run.requests = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    assert!(
        run.rps > 0.0 && run.requests > 0,
        "wrk printed no figures:\n{text}"
    );
    run.cpu_us = after.per_request(before, run.requests);
    run
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let docs = env_u64("ACCESSLOG_BENCH_DOCS", 2_000);
    let rounds = env_u64("ACCESSLOG_BENCH_ROUNDS", 7).max(1);
    let seconds = env_u64("ACCESSLOG_BENCH_SECONDS", 3).max(1);
    let (recorded, unrecorded) = runtime.block_on(async {
        let recorded = start("all", docs).await;
        let unrecorded = start("off", docs).await;
        (recorded, unrecorded)
    });
    let scripts = tempfile::tempdir().expect("a folder for the scripts");
    let random_invoice = |prefix: &str| {
        format!(
            "math.randomseed(os.time())\nrequest = function()\n  local n = math.random(1, {docs})\n  return wrk.format(\"GET\", string.format(\"{prefix}\", n))\nend\n"
        )
    };
    let routes = [
        (
            "GET /api/resource/Sales Invoice/{name} (random)",
            random_invoice("/api/resource/Sales%%20Invoice/SINV-%05d"),
        ),
        (
            "GET /app/sales-invoice (list page)",
            "request = function()\n  return wrk.format(\"GET\", \"/app/sales-invoice\")\nend\n"
                .to_owned(),
        ),
        (
            "GET /printview (random invoice)",
            random_invoice("/printview?doctype=Sales%%20Invoice&name=SINV-%05d&format=Standard"),
        ),
    ];
    println!(
        "wrk, 2 threads, 64 connections, {seconds} s per run, {rounds} alternating rounds; medians; SQLite; {docs} invoices\n"
    );
    println!(
        "| route | reads recorded: req/s | p50 ms | p99 ms | reads off: req/s | p50 ms | p99 ms | recorded / off, median of rounds (range) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    // `ACCESSLOG_BENCH_ROUTES=printview` measures only the routes whose label contains it.
    let only = std::env::var("ACCESSLOG_BENCH_ROUTES").unwrap_or_default();
    let mut cpu_rows = Vec::new();
    for (i, (label, script)) in routes.iter().enumerate() {
        if !label.contains(only.as_str()) {
            continue;
        }
        let path = scripts.path().join(format!("r{i}.lua"));
        std::fs::write(&path, script).expect("the script");
        // A short warm-up of each, then alternating measured runs.
        wrk(&recorded, &path, 1);
        wrk(&unrecorded, &path, 1);
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            on.push(wrk(&recorded, &path, seconds));
            off.push(wrk(&unrecorded, &path, seconds));
        }
        let errors: u64 = on.iter().chain(&off).map(|r| r.errors).sum();
        assert_eq!(errors, 0, "{label}: non-2xx answers");
        let pick = |runs: &[Run], f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        let (a, b) = (pick(&on, |r| r.rps), pick(&off, |r| r.rps));
        // Each round's two runs are back to back, so their ratio shares the machine's mood.
        let ratios: Vec<f64> = on.iter().zip(&off).map(|(x, y)| x.rps / y.rps).collect();
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
        println!(
            "| {label} | {a:.0} | {:.2} | {:.2} | {b:.0} | {:.2} | {:.2} | {:.2} ({lo:.2}–{hi:.2}) |",
            pick(&on, |r| r.p50_ms),
            pick(&on, |r| r.p99_ms),
            pick(&off, |r| r.p50_ms),
            pick(&off, |r| r.p99_ms),
            median(ratios.clone()),
        );
        cpu_rows.push((*label, cpu_table_rows(&on, &off)));
    }
    // What recording costs, in CPU rather than in throughput: steadier than req/s on a
    // noisy guest, and it says where the difference goes.
    println!("\nCPU µs per request, by part, median of rounds (one server loaded at a time)\n");
    println!("| route | part | reads recorded | reads off | recorded − off |");
    println!("|---|---|---:|---:|---:|");
    for (label, rows) in cpu_rows {
        for (part, a, b) in rows {
            println!("| {label} | {part} | {a:.1} | {b:.1} | {:+.1} |", a - b);
        }
    }
}

/// Per part, and in all (the server's parts and wrk's), the median CPU µs per request of
/// the recorded and the unrecorded runs.
fn cpu_table_rows(on: &[Run], off: &[Run]) -> Vec<(&'static str, f64, f64)> {
    let part = |runs: &[Run], i: usize| median(runs.iter().map(|r| r.cpu_us[i]).collect());
    let total = |runs: &[Run], from: usize| {
        median(
            runs.iter()
                .map(|r| r.cpu_us[from..].iter().sum::<f64>())
                .collect(),
        )
    };
    let mut rows: Vec<(&'static str, f64, f64)> = PARTS
        .iter()
        .enumerate()
        .map(|(i, p)| (p.label(), part(on, i), part(off, i)))
        .collect();
    // PARTS[0] is wrk: the server is the rest.
    rows.push(("**the server, in all**", total(on, 1), total(off, 1)));
    rows.push(("**server and wrk**", total(on, 0), total(off, 0)));
    rows
}
