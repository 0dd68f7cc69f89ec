//! How fast a query report's page answers on a million rows: `GET /app/query-report/General
//! Ledger` through the real router (filters checked, the page and the totals queried side by
//! side, the HTML rendered), for the first page, a page in the middle, a sorted column, a
//! party and a month; beside the naive way, which is what ERPNext's query report does: run
//! the whole query and send every row to the browser as JSON (`frappe.desk.query_report.run`).
//!
//!     cargo bench -p accesslog-server --bench report_bench
//!
//! Settings (environment): `ACCESSLOG_BENCH_ROWS` (default 1,000,000), `ACCESSLOG_BENCH_RUNS`
//! (10). The General Ledger is the export bench's *ledger* database (`gl_data.rs`, included
//! from there), copied so the server's own writes (accounts, keys) leave it alone.

#[path = "../../export/benches/gl_data.rs"]
#[allow(dead_code)]
mod gl_data;
mod support;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use accesslog_app::accounts;
use accesslog_core::SystemClock;
use accesslog_server::{AppState, Definitions};
use accesslog_site::{Overrides, Settings};
use accesslog_store::{SqlValue, Store};
use accesslog_store_sqlite::SqliteStore;
use support::{cell, env_u64, get, time};

const USER: &str = "bench-accounts@example.com";
const REPORT_URL: &str = "/app/query-report/General%20Ledger";

/// The cases: a name and the page's query string.
const CASES: [(&str, &str); 6] = [
    ("first page, the report's order", ""),
    ("page 5,000 (rows 499,901-500,000)", "page=5000"),
    ("sorted by Debit, descending", "sort=debit&order=desc"),
    ("one party (~200 rows)", "party=CUST-00042"),
    (
        "one month (~45,000 rows)",
        "from_date=2024-06-01&to_date=2024-06-28",
    ),
    (
        "one month, sorted by Party",
        "from_date=2024-06-01&to_date=2024-06-28&sort=party",
    ),
];

fn main() {
    let n = env_u64("ACCESSLOG_BENCH_ROWS", 1_000_000);
    let runs = env_u64("ACCESSLOG_BENCH_RUNS", 10) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let source = gl_data::database(n, gl_data::Layout::Ledger).await;
        let copy = tempfile::tempdir().expect("a temporary folder");
        let path = copy.path().join("gl.sqlite");
        std::fs::copy(&source, &path).expect("a copy of the bench database");
        let store = SqliteStore::open(&path).await.expect("open the copy");
        let store: Arc<dyn Store> = Arc::new(store);
        let (router, auth, _site) = server(store.clone()).await;

        println!(
            "\n{n} GL entries (SQLite, the ledger layout), the demo's General Ledger report; \
             ms, median / p95 of {runs} runs after one warm-up\n"
        );
        println!("| case | rows matching | GET {REPORT_URL}?… | page size |");
        println!("|--|--:|--:|--:|");
        for (name, query) in CASES {
            let uri = if query.is_empty() {
                REPORT_URL.to_owned()
            } else {
                format!("{REPORT_URL}?{query}")
            };
            let (stats, body) = time(runs, 1, || get(&router, &auth, &uri)).await;
            assert!(
                !body.contains("could not run"),
                "{uri}: the report failed: {body}"
            );
            println!(
                "| {name} | {} | {} | {} KB |",
                matching(&body),
                cell(&stats),
                body.len() / 1024
            );
        }

        let baseline_runs = runs.min(3);
        let (stats, (rows, bytes)) =
            time(baseline_runs, 0, || whole_result_as_json(&*store)).await;
        println!(
            "\nbaseline, the naive way (ERPNext's query_report.run): the whole query, every row \
             into JSON, in process: {rows} rows, {} MB of JSON, {} ms (median / p95 of {baseline_runs})",
            bytes / 1_000_000,
            cell(&stats)
        );
    });
}

/// The page's `<span … id="row-count">1000000 rows</span>` → `1000000`.
fn matching(body: &str) -> String {
    body.split_once("id=\"row-count\">")
        .and_then(|(_, rest)| rest.split_once(' '))
        .map_or("?", |(count, _)| count)
        .to_owned()
}

/// The report's whole result (no filters) as one JSON array of row arrays.
async fn whole_result_as_json(store: &dyn Store) -> (usize, usize) {
    let report: accesslog_site::reports::QueryReport =
        toml::from_str(gl_data::GL_REPORT_TOML).expect("the demo's General Ledger");
    let nulls = report
        .filters
        .iter()
        .map(|f| (f.fieldname.clone(), SqlValue::Null))
        .collect();
    let (sql, binds) =
        accesslog_store::reports::positional(&report.query, &nulls).expect("the report's SQL");
    let mut rows: Vec<serde_json::Value> = Vec::new();
    store
        .query_each_row(&sql, &binds, &mut |row: &[SqlValue]| {
            rows.push(serde_json::Value::Array(
                row.iter()
                    .map(|v| match v {
                        SqlValue::Null => serde_json::Value::Null,
                        SqlValue::Int(n) => serde_json::Value::from(*n),
                        SqlValue::Float(f) => serde_json::Value::from(*f),
                        SqlValue::Text(s) => serde_json::Value::from(s.as_str()),
                    })
                    .collect(),
            ));
            ControlFlow::Continue(())
        })
        .await
        .expect("the whole General Ledger");
    let json = serde_json::to_vec(&serde_json::json!({ "result": rows })).expect("JSON");
    (rows.len(), json.len())
}

/// A server over `store` with the demo's GL Entry type and General Ledger report, and an
/// API key of an Accounts User.
async fn server(store: Arc<dyn Store>) -> (axum::Router, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let site = dir.path();
    accesslog_site::create_site(
        site,
        "Bench Site",
        &["Accounts User"],
        Some("bench.example/log"),
    )
    .expect("create a site");
    write(site, "doctypes/gl_entry.toml", gl_data::GL_ENTRY_TOML);
    write(site, "reports/general_ledger.toml", gl_data::GL_REPORT_TOML);
    let settings = Settings::load(site, &|_| None, &Overrides::default()).expect("settings");
    let roles: Vec<String> = settings
        .roles
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let doctypes = accesslog_site::doctypes::DocTypes::load(site, &roles).expect("GL Entry");
    let formats = accesslog_print::PrintFormats::load(site, &doctypes).expect("print formats");
    let reports =
        accesslog_site::reports::Reports::load(site, &doctypes, &roles).expect("General Ledger");
    let clock = Arc::new(SystemClock);
    if store.user_by_email(USER).await.expect("user").is_none() {
        accounts::add_user(
            &*store,
            &*clock,
            &settings,
            USER,
            "Bench Accountant",
            None,
            &["Accounts User".to_owned()],
        )
        .await
        .expect("add the accountant");
    }
    let key = accounts::create_api_key(&*store, &*clock, USER, "report bench", &[])
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
    let auth = format!("token {}:{}", key.api_key, key.api_secret);
    (accesslog_server::router(state), auth, dir)
}

fn write(site: &Path, path: &str, text: &str) {
    let path = site.join(path);
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("the folder");
    std::fs::write(path, text).expect("the definition");
}
