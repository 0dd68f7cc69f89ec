//! Export speed and peak memory, CSV and XLSX, end to end from the database, against
//! Python's `csv` module and openpyxl (write-only, as ERPNext uses it) reading the same rows
//! from the same file.
//!
//!     cargo bench -p accesslog-export --bench export_bench
//!     ACCESSLOG_BENCH_ROWS=100000 cargo bench -p accesslog-export --bench export_bench
//!
//! A SQLite database of N GL entries is filled once through the product's store (the demo's
//! `GL Entry` type, loaded with the site's own loader) and kept in `target/bench-data/`.
//! Each Rust run is a child process (this binary again, `--child WHAT N DB`) so that its
//! peak resident memory (`VmHWM`) is its own: it opens the store and runs the General
//! Ledger query through `ReportStore::query_each_row`, each row straight into the
//! `Exporter`, as the server does. `python_baseline.py` runs the same query with `sqlite3`.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use accesslog_core::doctype::DocType;
use accesslog_export::{Column, Exporter, Format, SqlValue};
use accesslog_site::doctypes::DocTypes;
use accesslog_site::reports::QueryReport;
use accesslog_store::{Document, DocumentStore, NewDocument, ReportStore, Store};
use accesslog_store_sqlite::SqliteStore;

const DEFAULT_ROWS: u64 = 1_000_000;
const DEFAULT_OPENPYXL_ROWS: u64 = 100_000;
const INSERT_BATCH: u64 = 10_000;
/// Bump when the generated rows change, so a cached database is not reused.
const DATA_VERSION: u32 = 2;

/// The General Ledger report's query without its filters (all of them unset).
const GL_QUERY: &str = "SELECT posting_date, account, party, voucher_type, voucher_no, debit, \
    credit, against, remarks, is_cancelled FROM tab_gl_entry ORDER BY posting_date, name";
const GL_ENTRY_TOML: &str = include_str!("../../cli/src/demo/doctypes/gl_entry.toml");
const GL_REPORT_TOML: &str = include_str!("../../cli/src/demo/reports/general_ledger.toml");

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--child") {
        let [_, what, n, db] = args.as_slice() else {
            panic!("usage: --child read|csv|xlsx N DB");
        };
        child(what, n.parse().expect("a row count"), Path::new(db));
        return;
    }
    let n = env_rows("ACCESSLOG_BENCH_ROWS", DEFAULT_ROWS);
    let n_openpyxl = env_rows(
        "ACCESSLOG_BENCH_OPENPYXL_ROWS",
        DEFAULT_OPENPYXL_ROWS.min(n),
    );
    let db = database(n);
    println!(
        "\n{n} GL entries x 10 columns from {} (SQLite), the General Ledger query:\n  {GL_QUERY}\n\
         release build, one process per run\n",
        db.display()
    );

    let read = run_child("read", n, &db);
    let csv = run_child("csv", n, &db);
    let xlsx = run_child("xlsx", n, &db);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_baseline.py");
    let py_read = run_python(&script, "read", n, &db);
    let py_csv = run_python(&script, "csv", n, &db);
    let py_xlsx = run_python(&script, "openpyxl", n_openpyxl, &db);

    println!(
        "{:<30} {:>9} {:>8} {:>10} {:>9} {:>9} {:>9}",
        "run", "rows", "secs", "rows/s", "1st row s", "peak MB", "file MB"
    );
    for (name, r) in [
        ("Rust read only (no export)", Some(&read)),
        ("Rust CSV", Some(&csv)),
        ("Rust XLSX", Some(&xlsx)),
        ("Python sqlite3 read only", py_read.as_ref()),
        ("Python sqlite3 + csv", py_csv.as_ref()),
        ("Python sqlite3 + openpyxl", py_xlsx.as_ref()),
    ] {
        match r {
            Some(r) => println!(
                "{name:<30} {:>9} {:>8.2} {:>10.0} {:>9.2} {:>9.1} {:>9.1}",
                r.rows,
                r.secs,
                r.rows_per_s(),
                r.get("first_row_secs"),
                r.peak_mb(),
                r.bytes as f64 / 1e6
            ),
            None => println!("{name:<30} (skipped: python3 or the module is not available)"),
        }
    }
    for r in [&csv, &xlsx] {
        let write = r.get("write_secs");
        println!(
            "Rust {} split: {:.2} s in write_row + finish ({:.0} rows/s), {:.2} s reading ({:.2} s of it before the first row)",
            r.extra
                .get("format")
                .map_or("?", String::as_str)
                .to_uppercase(),
            write,
            r.rows as f64 / write,
            r.secs - write,
            r.get("first_row_secs"),
        );
    }
    println!(
        "Rust XLSX temporary disk at its peak: {:.0} MB (the uncompressed sheet, {:.0} MB, plus the file being zipped)",
        (xlsx.get("tmp_bytes") + xlsx.bytes as f64) / 1e6,
        xlsx.get("tmp_bytes") / 1e6
    );
    if let Some(lxml) = py_xlsx.as_ref().and_then(|r| r.extra.get("lxml")) {
        println!("(openpyxl with lxml: {lxml})");
    }

    println!(
        "\n{:<26} {:>14} {:>14} {:>8}",
        "figure", "ours", "baseline", "ratio"
    );
    let compare = |figure: &str, ours: f64, base: Option<f64>, higher_is_better: bool| match base {
        Some(base) if base > 0.0 && ours > 0.0 => {
            let ratio = if higher_is_better {
                ours / base
            } else {
                base / ours
            };
            println!("{figure:<26} {ours:>14.1} {base:>14.1} {ratio:>7.1}x");
        }
        _ => println!("{figure:<26} {ours:>14.1} {:>14} {:>8}", "-", "-"),
    };
    let rate = |r: Option<&Run>| r.map(Run::rows_per_s);
    let peak = |r: Option<&Run>| r.map(Run::peak_mb);
    compare(
        "read rows/s",
        read.rows_per_s(),
        rate(py_read.as_ref()),
        true,
    );
    compare(
        "read peak MB",
        read.peak_mb(),
        peak(py_read.as_ref()),
        false,
    );
    compare("CSV rows/s", csv.rows_per_s(), rate(py_csv.as_ref()), true);
    compare("CSV peak MB", csv.peak_mb(), peak(py_csv.as_ref()), false);
    compare(
        "XLSX rows/s",
        xlsx.rows_per_s(),
        rate(py_xlsx.as_ref()),
        true,
    );
    if n_openpyxl != n {
        // openpyxl's short run pays the whole sort for a fraction of the rows: projected to
        // all of them, the sort counts once and the writing n / n_openpyxl times.
        let projected = py_xlsx.as_ref().map(|r| {
            let first = r.get("first_row_secs");
            n as f64 / (first + (r.secs - first) * n as f64 / r.rows as f64)
        });
        compare(
            "XLSX rows/s (projected)",
            xlsx.rows_per_s(),
            projected,
            true,
        );
    }
    compare(
        "XLSX peak MB",
        xlsx.peak_mb(),
        peak(py_xlsx.as_ref()),
        false,
    );
    println!(
        "(ours: Rust through the product's store; baseline: Python sqlite3 with csv / openpyxl. \
         ratio: how many times faster, or how many times less memory, ours is; \
         every rows/s is query + write + finish, wall clock)"
    );
    if n_openpyxl != n {
        println!(
            "(openpyxl ran the same query but stopped after {n_openpyxl} of the {n} rows: it is slow. \
             Its time still includes sorting all {n} rows before the first one comes; \
             peak memory is flat in write-only mode)"
        );
    }
}

fn env_rows(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The GL Entry type as the product loads it: the demo's definition, through the site's
/// loader (which checks it).
fn gl_doctype() -> DocType {
    let site = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(site.path().join("doctypes")).expect("a doctypes folder");
    std::fs::write(site.path().join("doctypes/gl_entry.toml"), GL_ENTRY_TOML)
        .expect("gl_entry.toml copied");
    let types = DocTypes::load(site.path(), &["Accounts User".to_owned()])
        .expect("the demo's GL Entry type loads");
    types.get("GL Entry").expect("GL Entry").clone()
}

/// The General Ledger report's columns, as its export writes them.
fn columns() -> Vec<Column> {
    let report: QueryReport = toml::from_str(GL_REPORT_TOML).expect("the demo's General Ledger");
    report
        .columns
        .into_iter()
        .map(|c| Column {
            label: c.label,
            fieldtype: c.fieldtype,
            width: c.width,
        })
        .collect()
}

/// The database of `n` GL entries: reused from `target/bench-data/` when a complete one is
/// there, filled through the store otherwise (into a `.partial` file, renamed when done, so
/// an interrupted fill is never mistaken for a complete one).
fn database(n: u64) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("bench-data");
    std::fs::create_dir_all(&dir).expect("target/bench-data");
    let path = dir.join(format!("gl-v{DATA_VERSION}-{n}.sqlite"));
    let runtime = runtime();
    if path.exists() {
        match runtime.block_on(count_rows(&path)) {
            Ok(count) if count == n => {
                println!("reusing {} ({n} GL entries)", path.display());
                return path;
            }
            other => println!(
                "{} is not usable ({other:?}); filling it again",
                path.display()
            ),
        }
    }
    let partial = path.with_extension("sqlite.partial");
    let copy = path.with_extension("sqlite.copy");
    let start = Instant::now();
    remove_database(&partial);
    remove_database(&copy);
    runtime.block_on(fill(&partial, &copy, n));
    remove_database(&partial);
    remove_database(&path);
    std::fs::rename(&copy, &path).expect("the filled database renamed into place");
    println!(
        "filled {} with {n} GL entries through SqliteStore::insert_documents in {:.1} s",
        path.display(),
        start.elapsed().as_secs_f64()
    );
    path
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn count_rows(path: &Path) -> Result<u64, String> {
    let store = SqliteStore::open(path).await.map_err(|e| e.to_string())?;
    let mut count = 0;
    let result = store
        .query_each_row("SELECT count(*) FROM tab_gl_entry", &[], &mut |row| {
            if let Some(SqlValue::Int(c)) = row.first() {
                count = *c as u64;
            }
            ControlFlow::Continue(())
        })
        .await;
    store.close().await;
    result.map_err(|e| e.to_string())?;
    Ok(count)
}

/// A database file and its WAL and shared-memory files, if any.
fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// Fills `path` through the store, then writes a consistent single-file copy of it to
/// `copy` with the store's own backup (`VACUUM INTO`), so no WAL file needs to follow it.
async fn fill(path: &Path, copy: &Path, n: u64) {
    let store = SqliteStore::open(path)
        .await
        .expect("a new SQLite database");
    let doctype = gl_doctype();
    store.sync_doctype(&doctype).await.expect("tab_gl_entry");
    let mut rows = Rows::new();
    let mut done = 0;
    while done < n {
        let batch = INSERT_BATCH.min(n - done);
        let docs: Vec<NewDocument<'_>> = (0..batch)
            .map(|_| NewDocument {
                doc: rows.next_doc(),
                children: Vec::new(),
            })
            .collect();
        store
            .insert_documents(&doctype, &docs)
            .await
            .expect("GL entries inserted");
        done += batch;
    }
    store
        .backup_to(copy)
        .await
        .expect("a copy of the filled database");
    store.close().await;
}

/// What a run reported: `key=value` pairs on its last line.
struct Run {
    rows: u64,
    secs: f64,
    peak_kb: u64,
    bytes: u64,
    extra: BTreeMap<String, String>,
}

impl Run {
    fn parse(stdout: &str) -> Option<Run> {
        let line = stdout.lines().rev().find(|l| l.contains("rows="))?;
        let map: BTreeMap<String, String> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Run {
            rows: map.get("rows")?.parse().ok()?,
            secs: map.get("secs")?.parse().ok()?,
            peak_kb: map.get("peak_kb")?.parse().ok()?,
            bytes: map.get("bytes")?.parse().ok()?,
            extra: map,
        })
    }
    fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.secs
    }
    fn peak_mb(&self) -> f64 {
        self.peak_kb as f64 / 1024.0
    }
    fn get(&self, key: &str) -> f64 {
        self.extra
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    }
}

fn run_child(what: &str, n: u64, db: &Path) -> Run {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let out = Command::new(exe)
        .args(["--child", what, &n.to_string()])
        .arg(db)
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {what} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run::parse(&stdout).unwrap_or_else(|| panic!("child {what} printed no result: {stdout}"))
}

fn run_python(script: &Path, what: &str, n: u64, db: &Path) -> Option<Run> {
    let out = Command::new("python3")
        .arg(script)
        .args([what, &n.to_string()])
        .arg(db)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "python baseline {what} did not run: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    Run::parse(&String::from_utf8_lossy(&out.stdout))
}

/// In the child: one run, then its figures on stdout.
fn child(what: &str, n: u64, db: &Path) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runtime = runtime();
    let store = runtime
        .block_on(SqliteStore::open(db))
        .expect("the bench database");
    let start = Instant::now();
    let mut first_row: Option<f64> = None;
    let mut tmp_bytes = 0;
    let mut write_time = std::time::Duration::ZERO;
    let (rows, bytes, sha) = match what {
        "read" => {
            // The cost of the query alone, to read the export figures against.
            let rows = runtime
                .block_on(store.query_each_row(GL_QUERY, &[], &mut |row| {
                    first_row.get_or_insert_with(|| start.elapsed().as_secs_f64());
                    std::hint::black_box(row);
                    ControlFlow::Continue(())
                }))
                .expect("the General Ledger query");
            (rows, 0, String::new())
        }
        _ => {
            let format = Format::from_name(what).expect("read, csv or xlsx");
            let mut exporter = Exporter::new(format, columns(), "General Ledger", Some(dir.path()))
                .expect("an exporter");
            let mut failed = None;
            // As the server's export does: each row into the exporter from the sink, then
            // `finish` on a blocking thread. The time spent writing is clocked apart (two
            // clock reads a row, ~50 ns) to show how the whole splits.
            let file = runtime.block_on(async {
                let rows = store
                    .query_each_row(GL_QUERY, &[], &mut |row| {
                        first_row.get_or_insert_with(|| start.elapsed().as_secs_f64());
                        let t = Instant::now();
                        let written = exporter.write_row(row);
                        write_time += t.elapsed();
                        match written {
                            Ok(()) => ControlFlow::Continue(()),
                            Err(e) => {
                                failed = Some(e);
                                ControlFlow::Break(())
                            }
                        }
                    })
                    .await
                    .expect("the General Ledger query");
                if let Some(e) = failed {
                    panic!("row {rows}: {e}");
                }
                tmp_bytes = open_file_bytes(dir.path());
                let t = Instant::now();
                let file = tokio::task::spawn_blocking(move || exporter.finish())
                    .await
                    .expect("finish did not panic")
                    .expect("the file");
                write_time += t.elapsed();
                file
            });
            (file.row_count, file.byte_count, file.sha256)
        }
    };
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(rows, n, "the database holds {rows} rows, not {n}");
    println!(
        "format={what} rows={rows} secs={secs:.3} first_row_secs={:.3} write_secs={:.3} bytes={bytes} tmp_bytes={tmp_bytes} peak_kb={} sha256={sha}",
        first_row.unwrap_or(f64::NAN),
        write_time.as_secs_f64(),
        vm_hwm_kb()
    );
}

/// Bytes in the files this process holds open under `dir`, deleted ones included: XLSX's
/// constant-memory sheet is an unnamed temporary file, invisible to a directory listing.
fn open_file_bytes(dir: &Path) -> u64 {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    fds.filter_map(Result::ok)
        .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target.starts_with(dir)))
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Peak resident set size of this process, from `/proc/self/status`.
fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

const ACCOUNTS: [&str; 8] = [
    "Debtors - ACME",
    "Creditors - ACME",
    "Sales - ACME",
    "Cost of Goods Sold - ACME",
    "Cash - ACME",
    "Bank Account - ACME",
    "VAT 20% - ACME",
    "Stock In Hand - ACME",
];
/// The options of GL Entry's `voucher_type`.
const VOUCHER_TYPES: [&str; 3] = ["Sales Invoice", "Payment Entry", "Journal Entry"];

/// General-Ledger-like documents from xorshift64: dates spread over two years (so the
/// query's ORDER BY really sorts), amounts on one side, and some remarks that need CSV
/// quoting or formula defusing.
struct Rows {
    state: u64,
    i: u64,
}

impl Rows {
    fn new() -> Self {
        Rows {
            state: 0x9E37_79B9_7F4A_7C15,
            i: 0,
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    fn next_doc(&mut self) -> Document {
        let r = self.next();
        let i = self.i;
        self.i += 1;
        let amount = (r % 10_000_000) as f64 / 100.0;
        let (debit, credit) = if r & 1 == 0 {
            (amount, 0.0)
        } else {
            (0.0, amount)
        };
        let remarks = match i % 50 {
            0 => "=HYPERLINK(\"http://example.com\",\"click\")".to_string(),
            1..=5 => format!("Paid, with thanks \"{}\"", r % 1000),
            _ => format!("Against ACC-SINV-2024-{:06}", r % 100_000),
        };
        let text = |s: &str| SqlValue::Text(s.to_owned());
        let stamp = text("2024-12-31 23:59:59.000000");
        let values = [
            ("owner", text("admin@example.com")),
            ("modified_by", text("admin@example.com")),
            ("creation", stamp.clone()),
            ("modified", stamp),
            (
                "posting_date",
                SqlValue::Text(format!(
                    "{}-{:02}-{:02}",
                    2023 + (r >> 8) % 2,
                    1 + (r >> 12) % 12,
                    1 + (r >> 16) % 28
                )),
            ),
            (
                "account",
                text(ACCOUNTS[(r >> 20) as usize % ACCOUNTS.len()]),
            ),
            (
                "party",
                SqlValue::Text(format!("CUST-{:05}", (r >> 24) % 5000)),
            ),
            ("debit", SqlValue::Float(debit)),
            ("credit", SqlValue::Float(credit)),
            (
                "voucher_type",
                text(VOUCHER_TYPES[(r >> 36) as usize % VOUCHER_TYPES.len()]),
            ),
            ("voucher_no", SqlValue::Text(format!("ACC-JV-2024-{i:07}"))),
            (
                "against",
                text(ACCOUNTS[(r >> 40) as usize % ACCOUNTS.len()]),
            ),
            ("remarks", SqlValue::Text(remarks)),
            ("is_cancelled", SqlValue::Int(i64::from(i % 100 == 99))),
        ];
        Document {
            name: format!("ACC-GLE-{:07}", i + 1),
            values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            children: BTreeMap::new(),
        }
    }
}
