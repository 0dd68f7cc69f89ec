//! How fast `/app/access-log` answers on a large log: the first page under each standard
//! filter plus a one-month date range, the sidebar counts, and the whole page through the
//! real router, beside the same queries on a copy of the database without the review
//! indexes (migrations 0006 and 0007). Figures and how to read them are in BENCHMARKS.md.
//!
//! `cargo bench -p accesslog-server --bench review_bench`. Settings (environment):
//! `ACCESSLOG_BENCH_ENTRIES` (default 10,000,000), `ACCESSLOG_BENCH_RUNS` (30),
//! `ACCESSLOG_BENCH_BASELINE_RUNS` (3), and with `ACCESSLOG_TEST_POSTGRES_URL` set,
//! PostgreSQL in a fresh schema with `ACCESSLOG_BENCH_PG_ENTRIES` (2,000,000).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use accesslog_app::accounts;
use accesslog_app::log_query::entry_query;
use accesslog_core::entry::{Activity, CanonicalJson, Event, Outcome};
use accesslog_core::{SystemClock, Timestamp};
use accesslog_server::review::pages::COUNT_SAMPLE;
use accesslog_server::{AppState, Definitions};
use accesslog_site::{Overrides, Settings};
use accesslog_store::log_search::{EntryPage, EntryQuery, GroupBy};
use accesslog_store::{LogReads, Store};
use accesslog_store_sqlite::{Sidecars, SqliteStore, database_files};
use accesslog_testkit::TestDb;
use support::{Stats, cell, env_u64, get, time};

mod support;

/// Bump when the generated entries change, so an old cached database is not reused.
const DATA_VERSION: u32 = 3;
/// Entries per `append_entries` call; every entry of a call shares its timestamp.
const BATCH: u64 = 1_000;
/// 2025-11-01T00:00:00Z; the log spans the 365 days from here.
const START_MICROS: i64 = 1_761_955_200_000_000;
const SPAN_MICROS: i64 = 365 * 86_400_000_000;
const PAGE: u32 = 50;
/// The date range every filtered case adds (the `to` day included).
const FROM: &str = "2026-06-01";
const TO: &str = "2026-06-30";
const REVIEWER: &str = "bench-reviewer@example.com";

const DOCTYPES: [(&str, &str); 10] = [
    ("Sales Invoice", "ACC-SINV"),
    ("Purchase Invoice", "ACC-PINV"),
    ("Journal Entry", "ACC-JV"),
    ("Payment Entry", "ACC-PAY"),
    ("Customer", "CUST"),
    ("Supplier", "SUPP"),
    ("Item", "ITEM"),
    ("Employee", "HR-EMP"),
    ("Salary Slip", "HR-SLIP"),
    ("Delivery Note", "MAT-DN"),
];
const REPORTS: [&str; 10] = [
    "General Ledger",
    "Accounts Receivable",
    "Sales Register",
    "Purchase Register",
    "Trial Balance",
    "Stock Balance",
    "Balance Sheet",
    "Profit and Loss Statement",
    "Salary Register",
    "Customer Ledger Summary",
];

/// The cases: a name and the page's query parameters.
fn cases() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let range = [("from", FROM), ("to", TO)];
    let with = |k: &'static str, v: &'static str| {
        let mut p = vec![(k, v)];
        p.extend(range);
        p
    };
    vec![
        ("date range only", range.to_vec()),
        ("user + range", with("user", "user003@example.com")),
        ("activity=export + range", with("activity", "export")),
        ("export_from + range", with("export_from", "Sales Invoice")),
        ("report_name + range", with("report_name", "General Ledger")),
        ("file_type=XLSX + range", with("file_type", "XLSX")),
        ("outcome=denied + range", with("outcome", "denied")),
    ]
}

fn main() {
    let entries = env_u64("ACCESSLOG_BENCH_ENTRIES", 10_000_000);
    let runs = env_u64("ACCESSLOG_BENCH_RUNS", 30) as usize;
    let baseline_runs = env_u64("ACCESSLOG_BENCH_BASELINE_RUNS", 3) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let path = sqlite_database(entries).await;
        let bare = without_indexes(&path).await;
        println!("\n# SQLite, {entries} entries, with the review indexes ({runs} runs)");
        let store = SqliteStore::open(&path)
            .await
            .expect("open the bench database");
        measure(Arc::new(store.clone()), runs, true).await;
        store.close().await;
        with_a_tail(&path, entries, runs).await;

        println!(
            "\n# SQLite, {entries} entries, baseline: no review indexes ({baseline_runs} runs)"
        );
        let store = SqliteStore::open(&bare)
            .await
            .expect("open the baseline copy");
        measure(Arc::new(store.clone()), baseline_runs, false).await;
        store.close().await;

        if std::env::var_os("ACCESSLOG_TEST_POSTGRES_URL").is_some() {
            postgres(runs, baseline_runs).await;
        } else {
            println!("\nPostgreSQL skipped: ACCESSLOG_TEST_POSTGRES_URL is not set");
        }
    });
}

// ----- the data -----

fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    let x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Entry `n`: ~200 users (a few busy, most occasional), a skewed activity mix, ten
/// document types, ten reports, mostly granted.
fn event(n: u64) -> Event {
    let r = mix(n.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let r2 = mix(r);
    // The product of two uniform picks leans to low numbers: user000 is busiest.
    let user = ((r % 200) * ((r >> 8) % 200)) / 200;
    let pick = (r >> 16) % 1000;
    let activity = match pick {
        0..350 => Activity::Print,
        350..600 => Activity::Export,
        600..750 => Activity::ReportPrint,
        750..900 => Activity::FileDownload,
        900..960 => Activity::RawPrint,
        960..990 => Activity::LogExport,
        _ => Activity::BackupDownload,
    };
    // Skewed over the ten: the first few types and reports are the common ones.
    let skew = |x: u64| ((x % 10) * ((x >> 4) % 10) / 9) as usize;
    let (doctype, prefix) = DOCTYPES[skew(r >> 24)];
    let report = REPORTS[skew(r >> 32)];
    let number = (r2 >> 8) % 60_000;
    let method = match activity {
        Activity::Print => "GET /printview",
        Activity::Export => "GET /api/method/frappe.desk.query_report.export_query",
        Activity::ReportPrint => "GET /app/query-report/print",
        Activity::FileDownload => "GET /private/files",
        Activity::RawPrint => "POST /api/method/raw_print",
        Activity::LogExport => "GET /app/access-log/export",
        Activity::BackupDownload => "GET /backups",
        Activity::Read => "GET /api/resource",
        Activity::LogPrune | Activity::LogRedact | Activity::LegalHold => "accesslog",
        Activity::LogWrite => "POST /api/method/make_access_log",
    };
    let mut e = Event::new(&format!("user{user:03}@example.com"), activity, method);
    match activity {
        Activity::Print | Activity::RawPrint => {
            e.export_from = Some(doctype.to_owned());
            e.reference_document = Some(format!("{prefix}-2026-{number:05}"));
            e.print_format = Some("Standard".to_owned());
            e.file_type = Some(
                if activity == Activity::RawPrint {
                    "RAW"
                } else {
                    "PDF"
                }
                .into(),
            );
        }
        Activity::Export => {
            e.export_from = Some(doctype.to_owned());
            e.report_name = Some(report.to_owned());
            e.file_type = Some(if r2 % 5 < 3 { "CSV" } else { "XLSX" }.to_owned());
            e.filters = CanonicalJson::parse(&format!(
                r#"{{"company":"Acme Ltd","from_date":"2026-{:02}-01"}}"#,
                1 + r2 % 12
            ))
            .ok();
            e.row_count = Some(r2 % 20_000);
        }
        Activity::ReportPrint => {
            e.report_name = Some(report.to_owned());
            e.file_type = Some("PDF".to_owned());
        }
        Activity::FileDownload => {
            e.export_from = Some(doctype.to_owned());
            e.reference_document = Some(format!("{prefix}-2026-{number:05}"));
            e.file_type = Some(["pdf", "png", "xlsx", "docx"][(r2 % 4) as usize].to_owned());
        }
        Activity::LogExport => {
            e.export_from = Some("Access Log".to_owned());
            e.file_type = Some(if r2.is_multiple_of(2) { "CSV" } else { "JSONL" }.to_owned());
        }
        Activity::BackupDownload => e.file_type = Some("sql.gz".to_owned()),
        Activity::Read => e.export_from = Some(doctype.to_owned()),
        Activity::LogPrune | Activity::LogRedact | Activity::LegalHold | Activity::LogWrite => {}
    }
    match (r2 >> 20) % 1000 {
        0..25 => {
            e.outcome = Outcome::Denied;
            e.reason = Some("not permitted".to_owned());
        }
        25..30 => {
            e.outcome = Outcome::Failed;
            e.reason = Some("the report failed".to_owned());
        }
        _ => {
            e.byte_count = Some((r2 >> 12) % 2_000_000);
            e.content_sha256 = Some(format!(
                "{:016x}{:016x}{:016x}{:016x}",
                r,
                r2,
                mix(r2),
                mix(r2 ^ 1)
            ));
        }
    }
    e.roles = vec!["Accounts User".to_owned(), "Sales User".to_owned()];
    e.ip = Some(format!("10.0.{}.{}", user % 256, (r2 >> 40) % 256));
    e.request_id = Some(format!("{:016x}{:016x}", r2, n));
    e.auth = Some("session".to_owned());
    e
}

fn batch(first: u64, len: u64) -> Vec<Event> {
    (first..first + len).map(event).collect()
}

/// Fills `store` through `LogStore::append_entries`, `BATCH` at a time, timestamps rising
/// with seq over 365 days; returns how many it appended.
async fn fill(store: &dyn Store, entries: u64) -> u64 {
    let batches = entries.div_ceil(BATCH);
    let start = Instant::now();
    let mut next = batch(0, BATCH.min(entries));
    let mut done = 0u64;
    for k in 0..batches {
        let at = Timestamp::from_micros(START_MICROS + (SPAN_MICROS / batches as i64) * k as i64);
        let current = std::mem::take(&mut next);
        let len = current.len() as u64;
        let following = done + len;
        // Build the next batch while the writer thread commits this one.
        let (appended, built) = tokio::join!(store.append_entries(&current, at), async {
            batch(following, BATCH.min(entries.saturating_sub(following)))
        });
        appended.expect("append_entries");
        next = built;
        done += len;
        if done.is_multiple_of(1_000_000) || done == entries {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "  filled {done} in {secs:.0} s ({:.0} entries/s)",
                done as f64 / secs
            );
        }
    }
    done
}

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("bench-data");
    std::fs::create_dir_all(&dir).expect("target/bench-data");
    dir
}

/// Removes a bench database, the files beside it (log, review, WAL) and its marker.
fn remove_database(path: &Path) {
    for file in database_files(path) {
        let _ = std::fs::remove_file(file);
    }
    let _ = std::fs::remove_file(marker(path));
}

fn marker(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".complete");
    PathBuf::from(p)
}

/// The log of `entries` entries, reused from `target/bench-data/` when a complete one is
/// there (a `.complete` marker is written only after a fill finishes).
async fn sqlite_database(entries: u64) -> PathBuf {
    let path = bench_dir().join(format!("access-log-v{DATA_VERSION}-{entries}.sqlite"));
    if marker(&path).exists() {
        let store = SqliteStore::open(&path)
            .await
            .expect("open the cached database");
        let size = store.log_head().await.expect("log head").size;
        store.close().await;
        if size == entries {
            println!("reusing {} ({entries} entries)", path.display());
            return path;
        }
        println!("{} holds {size} entries; filling it again", path.display());
    }
    remove_database(&path);
    let store = SqliteStore::open(&path)
        .await
        .expect("create the bench database");
    println!(
        "filling {} with {entries} entries through append_entries, {BATCH} per call",
        path.display()
    );
    let start = Instant::now();
    let done = fill(&store, entries).await;
    let secs = start.elapsed().as_secs_f64();
    index_all(&store).await;
    store.close().await;
    drop(store);
    std::fs::write(marker(&path), b"").expect("write the completion marker");
    println!(
        "filled {done} entries in {secs:.1} s ({:.0} entries/s)",
        done as f64 / secs
    );
    path
}

async fn execute(path: &Path, sql: String) {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open the baseline copy");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("run SQL on the baseline copy");
    conn.close().await.expect("close the baseline copy");
}

/// PostgreSQL's review indexes, on access_log (migrations 0006 and 0007).
const POSTGRES_INDEXES: [&str; 8] = [
    "access_log_by_time",
    "access_log_by_user",
    "access_log_by_activity",
    "access_log_by_export_from",
    "access_log_by_report",
    "access_log_by_file_type",
    "access_log_by_outcome",
    "access_log_by_document",
];

/// Copies every entry into the review table, as the recorder does after commits (the
/// fill appends without a recorder); on PostgreSQL there is nothing to copy.
async fn index_all(store: &dyn Store) {
    let start = Instant::now();
    let mut indexed = 0u64;
    loop {
        let n = store
            .index_for_review(accesslog_engine::recorder::INDEX_BATCH)
            .await
            .expect("index_for_review");
        if n == 0 {
            break;
        }
        indexed += n;
    }
    println!(
        "copied {indexed} entries into the review table in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// A copy of the log without the review indexes, kept beside it: the database alone, with
/// no review file, so the store opens it with an empty review table and every search
/// reads the whole log (nothing fills the table: no recorder runs here). That is what the
/// review costs without its indexes. (Dropping the indexes from a copy of the review file
/// would not do: the store creates missing ones when it opens.)
async fn without_indexes(path: &Path) -> PathBuf {
    let bare = path.with_extension("noindex.sqlite");
    if marker(&bare).exists() {
        println!("reusing {}", bare.display());
        return bare;
    }
    remove_database(&bare);
    let start = Instant::now();
    // Fold the WAL into the file so one file is a complete copy.
    execute(path, "PRAGMA wal_checkpoint(TRUNCATE);".to_owned()).await;
    std::fs::copy(path, &bare).expect("copy the bench database");
    std::fs::write(marker(&bare), b"").expect("write the completion marker");
    println!(
        "copied {} to {} without its review file in {:.0} s",
        path.display(),
        bare.display(),
        start.elapsed().as_secs_f64()
    );
    bare
}

// ----- measuring -----

/// A server over `store` as `crates/server/tests/it/common.rs` builds one, and an auditor
/// key for a System Manager.
async fn server(store: Arc<dyn Store>) -> (axum::Router, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    accesslog_site::create_site(dir.path(), "Bench Site", &[], Some("bench.example/log"))
        .expect("create a site");
    let settings = Settings::load(dir.path(), &|_| None, &Overrides::default()).expect("settings");
    let clock = Arc::new(SystemClock);
    if store.user_by_email(REVIEWER).await.expect("user").is_none() {
        accounts::add_user(
            &*store,
            &*clock,
            &settings,
            REVIEWER,
            "Bench Reviewer",
            None,
            &[accesslog_core::SYSTEM_MANAGER.to_owned()],
        )
        .await
        .expect("add the reviewer");
    }
    let key = accounts::create_api_key(
        &*store,
        &*clock,
        REVIEWER,
        "review bench",
        &["auditor".to_owned()],
    )
    .await
    .expect("an API key");
    let signer =
        accesslog_site::keys::load_signer(dir.path(), &settings.log.origin).expect("signer");
    let state = AppState::start(store, clock, settings, signer, Definitions::default());
    let auth = format!("token {}:{}", key.api_key, key.api_secret);
    (accesslog_server::router(state), auth, dir)
}

async fn counts(store: &dyn Store, q: &EntryQuery, sample: u32) -> u64 {
    let mut sampled = 0;
    for by in [GroupBy::User, GroupBy::Activity] {
        let groups = store
            .count_entries(q, by, sample, 10)
            .await
            .expect("count_entries");
        if by == GroupBy::Activity {
            sampled = groups.iter().map(|(_, n)| n).sum();
        }
    }
    sampled
}

/// Every case: the first page, the sidebar counts, the whole page and the API call; with
/// `samples` (the indexed runs), warm-ups and the counts with smaller samples too.
async fn measure(store: Arc<dyn Store>, runs: usize, samples: bool) {
    let (router, auth, _site) = server(store.clone()).await;
    let warmup = usize::from(samples) * 3;
    // Without indexes a request costs seconds: one run of each shows it.
    let request_runs = if samples { runs } else { 1 };
    println!(
        "\nms, median / p95; sidebar counts = both count_entries calls (by user, by activity) \
         over the newest {COUNT_SAMPLE} matching entries\n"
    );
    println!(
        "| case | matching (up to the sample) | first page: search_entries | sidebar counts | GET /app/access-log | GET /api/access-log limit=50 |"
    );
    println!("|--|--:|--:|--:|--:|--:|");
    let mut smaller = Vec::new();
    for (name, params) in cases() {
        let map: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let q = &entry_query(&map).expect("a valid query");
        let qs = serde_urlencoded::to_string(&params).expect("a query string");
        let (html_uri, api_uri) = (
            &format!("/app/access-log?{qs}"),
            &format!("/api/access-log?{qs}&limit=50"),
        );
        let (store, router, auth) = (&*store, &router, auth.as_str());
        let page = time(runs, warmup, || async move {
            let got = store
                .search_entries(q, EntryPage::Newest { before: None }, PAGE)
                .await
                .expect("search_entries");
            assert_eq!(got.len() as u32, PAGE, "{name}: a full first page");
        })
        .await
        .0;
        let sampled = &std::cell::Cell::new(0);
        let count = time(runs, warmup.min(1), || async move {
            sampled.set(counts(store, q, COUNT_SAMPLE).await);
        })
        .await
        .0;
        let html = time(request_runs, warmup.min(1), || async move {
            get(router, auth, html_uri).await;
        })
        .await
        .0;
        let api = time(request_runs, warmup.min(1), || async move {
            get(router, auth, api_uri).await;
        })
        .await
        .0;
        let request = |s: &Stats| {
            if samples {
                cell(s)
            } else {
                format!("{:.0} (1 run)", s.median)
            }
        };
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            sampled.get(),
            cell(&page),
            cell(&count),
            request(&html),
            request(&api)
        );
        if samples {
            let mut row = Vec::new();
            for sample in [10_000u32, 20_000, 50_000] {
                let (s, _) = time(runs.min(15), 1, || async move {
                    counts(store, q, sample).await;
                })
                .await;
                row.push(cell(&s));
            }
            smaller.push((name, row));
        }
    }
    if samples {
        println!("\nsidebar counts (both calls) with smaller samples, ms median / p95\n");
        println!("| case | 10,000 | 20,000 | 50,000 |");
        println!("|--|--:|--:|--:|");
        for (name, row) in smaller {
            println!("| {name} | {} |", row.join(" | "));
        }
    }
}

/// The review's two queries as they run when the newest `INDEX_BATCH` entries are not yet
/// in the review table, the most the recorder leaves there under load (it copies a batch
/// once that many are committed): the same SQL the store runs, with the watermark set
/// that far back, on the same database (which stays as it is).
async fn with_a_tail(path: &Path, entries: u64, runs: usize) {
    use accesslog_store::SqlValue;
    use accesslog_store::log_search::{count_sql, search_sql};
    use sqlx::sqlite::SqlitePoolOptions;

    let tail = u64::from(accesslog_engine::recorder::INDEX_BATCH);
    let watermark = entries.saturating_sub(tail);
    let sidecars = Sidecars::beside(path).expect("a UTF-8 path");
    let pool = &SqlitePoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, _| {
            let sidecars = sidecars.clone();
            Box::pin(async move { sidecars.attach(conn).await })
        })
        .connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .expect("open the bench database read-only");
    let run = |(sql, values): (String, Vec<SqlValue>)| async move {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in values {
            query = match v {
                SqlValue::Null => query.bind(None::<i64>),
                SqlValue::Int(n) => query.bind(n),
                SqlValue::Float(f) => query.bind(f),
                SqlValue::Text(t) => query.bind(t),
            };
        }
        query.fetch_all(pool).await.expect("a review query").len()
    };
    println!(
        "
# SQLite, {entries} entries, the newest {tail} not yet in the review table \
         (watermark {watermark}; {runs} runs)\n\nms, median / p95\n"
    );
    println!("| case | first page query | both count queries |");
    println!("|--|--:|--:|");
    let newest_day = Timestamp::from_micros(START_MICROS + SPAN_MICROS - 86_400_000_000);
    let mut all_cases: Vec<(String, EntryQuery)> = cases()
        .into_iter()
        .map(|(name, params)| {
            let map: BTreeMap<String, String> = params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            (name.to_owned(), entry_query(&map).expect("a valid query"))
        })
        .collect();
    all_cases.push((
        "the last day (partly in the tail)".to_owned(),
        EntryQuery {
            from: Some(newest_day),
            ..Default::default()
        },
    ));
    for (name, q) in &all_cases {
        let page = time(runs, 3, || async move {
            let n = run(search_sql(
                q,
                EntryPage::Newest { before: None },
                PAGE,
                watermark,
            ))
            .await;
            assert_eq!(n as u32, PAGE, "{name}: a full first page");
        })
        .await
        .0;
        let count = time(runs, 1, || async move {
            for by in [GroupBy::User, GroupBy::Activity] {
                run(count_sql(q, by, COUNT_SAMPLE, 10, watermark)).await;
            }
        })
        .await
        .0;
        println!("| {name} | {} | {} |", cell(&page), cell(&count));
    }
    pool.close().await;
}

// ----- PostgreSQL -----

/// A fresh schema filled with `ACCESSLOG_BENCH_PG_ENTRIES` (default 2,000,000) entries over
/// the same 365 days, measured, then measured again with the indexes dropped.
async fn postgres(runs: usize, baseline_runs: usize) {
    let entries = env_u64("ACCESSLOG_BENCH_PG_ENTRIES", 2_000_000);
    let Some(db) = TestDb::postgres("review_bench").await else {
        return;
    };
    println!("\n# PostgreSQL: filling a fresh schema with {entries} entries");
    let start = Instant::now();
    let done = fill(&*db.store, entries).await;
    let took = start.elapsed().as_secs_f64();
    println!(
        "filled {done} entries in {took:.0} s ({:.0} entries/s)",
        done as f64 / took
    );
    // What autovacuum would have done by the time anyone reviews a log this size.
    db.execute("ANALYZE access_log").await;
    println!("\n# PostgreSQL, {done} entries, with the review indexes ({runs} runs)");
    measure(db.store.clone(), runs, true).await;
    // One statement at a time: PostgreSQL will not prepare several in one.
    for index in POSTGRES_INDEXES {
        db.execute(&format!("DROP INDEX IF EXISTS {index}")).await;
    }
    db.execute("ANALYZE access_log").await;
    println!("\n# PostgreSQL, {done} entries, baseline: no review indexes ({baseline_runs} runs)");
    measure(db.store.clone(), baseline_runs, false).await;
    db.drop().await;
}
