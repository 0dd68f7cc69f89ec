//! Export speed and peak memory, CSV and XLSX, end to end from the database, against
//! Python's `csv` module and openpyxl (write-only, as ERPNext uses it) reading the same rows
//! from the same file.
//!
//!     cargo bench -p accesslog-export --bench export_bench
//!     ACCESSLOG_BENCH_ROWS=100000 cargo bench -p accesslog-export --bench export_bench
//!     ACCESSLOG_BENCH_CSV_PAIRS=3 cargo bench -p accesslog-export --bench export_bench
//!
//! Two SQLite databases of N GL entries are filled once through the product's store (the
//! demo's `GL Entry` type, loaded with the site's own loader, `posting_date` indexed) and
//! kept in `target/bench-data/`: a *ledger* written day by day (some entries back-dated),
//! as books are, and a *shuffled* one whose posting dates have nothing to do with the
//! order the rows were written in, the worst case for the report's `ORDER BY`.
//! Each Rust run is a child process (this binary again, `--child WHAT N DB`) so that its
//! peak resident memory (`VmHWM`) is its own: it opens the store and runs the General
//! Ledger query through `ReportStore::query_each_row`, each row straight into the
//! `Exporter`, as the server does. `python_baseline.py` runs the same query with `sqlite3`.
//! The ledger's CSV figure is the median of alternating pairs (ours, then Python's; nine
//! unless `ACCESSLOG_BENCH_CSV_PAIRS` says otherwise); the other figures are single runs.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use accesslog_export::{Column, Exporter, Format};
use accesslog_site::reports::QueryReport;
use accesslog_store::Store;
use accesslog_store_postgres::PgStore;
use accesslog_store_sqlite::SqliteStore;

/// Where the PostgreSQL runs go, as for the storage tests; without it they are skipped.
const POSTGRES_URL_VAR: &str = "ACCESSLOG_TEST_POSTGRES_URL";

const DEFAULT_ROWS: u64 = 1_000_000;
const DEFAULT_OPENPYXL_ROWS: u64 = 100_000;
/// CSV on the ledger is the headline figure and the one a shared machine's noise moves
/// most, so it is the median of this many alternating pairs: ours, then Python's.
const DEFAULT_CSV_PAIRS: u64 = 9;

/// The General Ledger report's query without its filters (all of them unset).
const GL_QUERY: &str = "SELECT posting_date, account, party, voucher_type, voucher_no, debit, \
    credit, against, remarks, is_cancelled FROM tab_gl_entry ORDER BY posting_date, name";

mod gl_data;

use gl_data::{GL_REPORT_TOML, Layout, database};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--child") {
        let [_, what, n, db] = args.as_slice() else {
            panic!("usage: --child read|csv|xlsx N DB");
        };
        child(what, n.parse().expect("a row count"), db);
        return;
    }
    let n = env_rows("ACCESSLOG_BENCH_ROWS", DEFAULT_ROWS);
    let n_openpyxl = env_rows(
        "ACCESSLOG_BENCH_OPENPYXL_ROWS",
        DEFAULT_OPENPYXL_ROWS.min(n),
    );
    let (ledger, shuffled) = runtime().block_on(async {
        (
            database(n, Layout::Ledger).await,
            database(n, Layout::Shuffled).await,
        )
    });
    println!(
        "\n{n} GL entries x 10 columns (SQLite), the General Ledger query:\n  {GL_QUERY}\n\
         ledger: {}\n  {}\nshuffled: {}\n  {}\nrelease build, one process per run\n",
        ledger.display(),
        Layout::Ledger.describe(),
        shuffled.display(),
        Layout::Shuffled.describe(),
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_baseline.py");
    let pairs = env_rows("ACCESSLOG_BENCH_CSV_PAIRS", DEFAULT_CSV_PAIRS).max(1);
    let (mut ours_csv, mut python_csv) = (Vec::new(), Vec::new());
    for _ in 0..pairs {
        ours_csv.push(run_child("csv", n, &ledger));
        python_csv.extend(run_python(&script, "csv", n, &ledger));
    }
    let read = run_child("read", n, &ledger);
    let xlsx = run_child("xlsx", n, &ledger);
    let py_read = run_python(&script, "read", n, &ledger);
    let py_xlsx = run_python(&script, "openpyxl", n_openpyxl, &ledger);
    let shuffled_read = run_child("read", n, &shuffled);
    let shuffled_csv = run_child("csv", n, &shuffled);
    let py_shuffled_csv = run_python(&script, "csv", n, &shuffled);
    // PostgreSQL, when there is one: our CSV beside PostgreSQL's own COPY … TO CSV (psql).
    let pg = std::env::var(POSTGRES_URL_VAR).ok().map(|url| {
        let schema = runtime().block_on(gl_data::postgres(&url, n, Layout::Ledger));
        let csv = run_child("csv", n, format!("postgres:{schema}"));
        (csv, psql_copy(&url, &schema))
    });

    println!("ledger CSV, {pairs} alternating pairs (ours, then Python's):");
    summarise_runs("  ours", &ours_csv);
    summarise_runs("  Python sqlite3 + csv", &python_csv);
    if ours_csv.len() == python_csv.len() {
        let ratios: Vec<f64> = ours_csv
            .iter()
            .zip(&python_csv)
            .map(|(ours, py)| py.secs / ours.secs)
            .collect();
        let (low, high) = range(&ratios);
        println!("  ratio within each pair: {low:.1}x to {high:.1}x");
    }
    println!("(the table below shows the median run of each)\n");
    let csv = median_run(ours_csv);
    let py_csv = (!python_csv.is_empty()).then(|| median_run(python_csv));

    println!(
        "{:<40} {:>9} {:>8} {:>10} {:>9} {:>9} {:>9}",
        "run", "rows", "secs", "rows/s", "1st row s", "peak MB", "file MB"
    );
    for (name, r) in [
        ("ledger: Rust read only (no export)", Some(&read)),
        ("ledger: Rust CSV", Some(&csv)),
        ("ledger: Rust XLSX", Some(&xlsx)),
        ("ledger: Python sqlite3 read only", py_read.as_ref()),
        ("ledger: Python sqlite3 + csv", py_csv.as_ref()),
        ("ledger: Python sqlite3 + openpyxl", py_xlsx.as_ref()),
        ("shuffled: Rust read only (no export)", Some(&shuffled_read)),
        ("shuffled: Rust CSV", Some(&shuffled_csv)),
        ("shuffled: Python sqlite3 + csv", py_shuffled_csv.as_ref()),
        ("postgres: Rust CSV", pg.as_ref().map(|(csv, _)| csv)),
        (
            "postgres: psql \\copy (query) TO csv",
            pg.as_ref().and_then(|(_, copy)| copy.as_ref()),
        ),
    ] {
        match r {
            Some(r) => println!(
                "{name:<40} {:>9} {:>8.2} {:>10.0} {:>9.2} {:>9.1} {:>9.1}",
                r.rows,
                r.secs,
                r.rows_per_s(),
                r.get("first_row_secs"),
                r.peak_mb(),
                r.bytes as f64 / 1e6
            ),
            None if name.starts_with("postgres") => {
                println!("{name:<40} (skipped: {POSTGRES_URL_VAR} is not set, or psql failed)")
            }
            None => println!("{name:<40} (skipped: python3 or the module is not available)"),
        }
    }
    for (data, r) in [
        ("ledger", &csv),
        ("ledger", &xlsx),
        ("shuffled", &shuffled_csv),
    ] {
        let write = r.get("write_secs");
        println!(
            "{data}: Rust {} split: ~{:.2} s in write_row + finish (~{:.0} rows/s), on the sink's thread \
             beside the reading thread",
            r.extra
                .get("format")
                .map_or("?", String::as_str)
                .to_uppercase(),
            write,
            r.rows as f64 / write,
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
        "\n{:<34} {:>14} {:>14} {:>8}",
        "figure", "ours", "baseline", "ratio"
    );
    let compare = |figure: &str, ours: f64, base: Option<f64>, higher_is_better: bool| match base {
        Some(base) if base > 0.0 && ours > 0.0 => {
            let ratio = if higher_is_better {
                ours / base
            } else {
                base / ours
            };
            println!("{figure:<34} {ours:>14.1} {base:>14.1} {ratio:>7.1}x");
        }
        _ => println!("{figure:<34} {ours:>14.1} {:>14} {:>8}", "-", "-"),
    };
    let rate = |r: Option<&Run>| r.map(Run::rows_per_s);
    let peak = |r: Option<&Run>| r.map(Run::peak_mb);
    compare(
        "ledger: read rows/s",
        read.rows_per_s(),
        rate(py_read.as_ref()),
        true,
    );
    compare(
        "ledger: CSV rows/s",
        csv.rows_per_s(),
        rate(py_csv.as_ref()),
        true,
    );
    compare(
        "ledger: CSV peak MB",
        csv.peak_mb(),
        peak(py_csv.as_ref()),
        false,
    );
    compare(
        "ledger: XLSX rows/s",
        xlsx.rows_per_s(),
        rate(py_xlsx.as_ref()),
        true,
    );
    compare(
        "ledger: XLSX peak MB",
        xlsx.peak_mb(),
        peak(py_xlsx.as_ref()),
        false,
    );
    compare(
        "shuffled: CSV rows/s",
        shuffled_csv.rows_per_s(),
        rate(py_shuffled_csv.as_ref()),
        true,
    );
    if let Some((csv, copy)) = &pg {
        compare(
            "postgres: CSV rows/s vs COPY",
            csv.rows_per_s(),
            rate(copy.as_ref()),
            true,
        );
    }
    println!(
        "(ours: Rust through the product's store; baseline: Python sqlite3 with csv / openpyxl. \
         ratio: how many times faster, or how many times less memory, ours is; \
         every rows/s is query + write + finish, wall clock)"
    );
    if n_openpyxl != n {
        println!(
            "(openpyxl ran the same query but stopped after {n_openpyxl} of the {n} rows: it is slow; \
             its peak memory is flat in write-only mode)"
        );
    }
}

fn env_rows(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The run of median time (of an even count, the slower of the middle two).
fn median_run(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    runs.swap_remove(runs.len() / 2)
}

fn range(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| {
            (low.min(*v), high.max(*v))
        })
}

/// One line: the median rows/s of `runs` and their range.
fn summarise_runs(name: &str, runs: &[Run]) {
    if runs.is_empty() {
        println!("{name}: did not run");
        return;
    }
    let mut rates: Vec<f64> = runs.iter().map(Run::rows_per_s).collect();
    rates.sort_by(f64::total_cmp);
    let (low, high) = range(&rates);
    println!(
        "{name}: median {:.0} rows/s ({low:.0} to {high:.0}, {} runs)",
        rates[(rates.len() - 1) / 2],
        rates.len()
    );
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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
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

/// `db`: a SQLite file, or `postgres:SCHEMA` in the database of `ACCESSLOG_TEST_POSTGRES_URL`.
fn run_child(what: &str, n: u64, db: impl AsRef<std::ffi::OsStr>) -> Run {
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

/// PostgreSQL's own fastest way out: `\\copy (the query) TO file CSV` in psql, wall clock.
fn psql_copy(url: &str, schema: &str) -> Option<Run> {
    let dir = tempfile::tempdir().ok()?;
    let file = dir.path().join("copy.csv");
    let query = GL_QUERY.replace('\'', "''");
    let start = Instant::now();
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!(
            "\\copy ({query}) TO '{}' WITH (FORMAT csv, HEADER)",
            file.display()
        ))
        .env("PGOPTIONS", format!("-c search_path={schema}"))
        .output()
        .ok()?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        eprintln!(
            "psql did not run: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    let text = std::fs::read_to_string(&file).ok()?;
    Some(Run {
        rows: text.lines().count().saturating_sub(1) as u64,
        secs,
        peak_kb: 0,
        bytes: text.len() as u64,
        extra: BTreeMap::new(),
    })
}

/// In the child: one run, then its figures on stdout.
fn child(what: &str, n: u64, db: &str) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runtime = runtime();
    let store: Box<dyn Store> = match db.strip_prefix("postgres:") {
        Some(schema) => {
            let url = std::env::var(POSTGRES_URL_VAR).expect("the PostgreSQL URL");
            Box::new(
                runtime
                    .block_on(PgStore::connect_in_schema(&url, schema))
                    .expect("the PostgreSQL bench schema"),
            )
        }
        None => Box::new(
            runtime
                .block_on(SqliteStore::open(Path::new(db)))
                .expect("the bench database"),
        ),
    };
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
            // `finish` on a blocking thread. To show how the whole splits, one row in
            // SAMPLE has its writing clocked (two clock reads, ~50 ns, on every row would
            // cost the writer 10 %), and the sum is scaled up.
            const SAMPLE: u32 = 16;
            let mut seen = 0u32;
            let file = runtime.block_on(async {
                let rows = store
                    .query_each_row(GL_QUERY, &[], &mut |row| {
                        first_row.get_or_insert_with(|| start.elapsed().as_secs_f64());
                        seen = seen.wrapping_add(1);
                        let written = if seen.is_multiple_of(SAMPLE) {
                            let t = Instant::now();
                            let written = exporter.write_row(row);
                            write_time += t.elapsed() * SAMPLE;
                            written
                        } else {
                            exporter.write_row(row)
                        };
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
