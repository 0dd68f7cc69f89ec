//! Export speed and peak memory, CSV and XLSX, against Python's `csv` module and openpyxl
//! (write-only, as ERPNext uses it).
//!
//!     cargo bench -p accesslog-export --bench export_bench
//!     ACCESSLOG_BENCH_ROWS=100000 cargo bench -p accesslog-export --bench export_bench
//!
//! Each export runs in a child process (this binary again, `--child FORMAT N`) so that its
//! peak resident memory (`VmHWM`) is its own. Rows are General-Ledger-like, made on the
//! fly by a xorshift generator, one reused row at a time as a database cursor would hand
//! them over; `python_baseline.py` makes the same rows the same way.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use accesslog_export::{Column, Exporter, FieldType, Format, SqlValue};

const DEFAULT_ROWS: u64 = 1_000_000;
const DEFAULT_OPENPYXL_ROWS: u64 = 100_000;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--child") {
        let n = args
            .get(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or(DEFAULT_ROWS);
        child(args.get(1).map_or("csv", String::as_str), n);
        return;
    }
    let n = env_rows("ACCESSLOG_BENCH_ROWS", DEFAULT_ROWS);
    let n_openpyxl = env_rows(
        "ACCESSLOG_BENCH_OPENPYXL_ROWS",
        DEFAULT_OPENPYXL_ROWS.min(n),
    );
    println!(
        "{n} rows x 10 columns (General Ledger-like), release build, one child process per run\n"
    );

    let generate = run_child("gen", n);
    let csv = run_child("csv", n);
    let xlsx = run_child("xlsx", n);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_baseline.py");
    let py_csv = run_python(&script, "csv", n);
    let py_xlsx = run_python(&script, "openpyxl", n_openpyxl);

    println!(
        "{:<26} {:>12} {:>12} {:>10} {:>12}",
        "run", "rows", "rows/s", "peak MB", "file MB"
    );
    for (name, r) in [
        ("rows only (no export)", Some(&generate)),
        ("Rust CSV", Some(&csv)),
        ("Rust XLSX", Some(&xlsx)),
        ("Python csv", py_csv.as_ref()),
        ("Python openpyxl", py_xlsx.as_ref()),
    ] {
        match r {
            Some(r) => println!(
                "{name:<26} {:>12} {:>12.0} {:>10.1} {:>12.1}",
                r.rows,
                r.rows_per_s(),
                r.peak_mb(),
                r.bytes as f64 / 1e6
            ),
            None => println!("{name:<26} (skipped: python3 or the module is not available)"),
        }
    }
    let alone = |r: &Run| r.rows as f64 / (r.secs - generate.secs).max(1e-9);
    println!(
        "Rust export alone (less the time to make the rows): CSV {:.0} rows/s, XLSX {:.0} rows/s",
        alone(&csv),
        alone(&xlsx)
    );
    if let Some(lxml) = py_xlsx.as_ref().and_then(|r| r.extra.get("lxml")) {
        println!("(openpyxl with lxml: {lxml})");
    }

    println!(
        "\n{:<26} {:>14} {:>14} {:>8}",
        "figure", "Rust", "baseline", "ratio"
    );
    let compare = |figure: &str, rust: f64, base: Option<f64>, higher_is_better: bool| match base {
        Some(base) if base > 0.0 && rust > 0.0 => {
            let ratio = if higher_is_better {
                rust / base
            } else {
                base / rust
            };
            println!("{figure:<26} {rust:>14.1} {base:>14.1} {ratio:>7.1}x");
        }
        _ => println!("{figure:<26} {rust:>14.1} {:>14} {:>8}", "-", "-"),
    };
    compare(
        "CSV rows/s",
        csv.rows_per_s(),
        py_csv.as_ref().map(Run::rows_per_s),
        true,
    );
    compare(
        "CSV peak MB",
        csv.peak_mb(),
        py_csv.as_ref().map(Run::peak_mb),
        false,
    );
    compare(
        "XLSX rows/s",
        xlsx.rows_per_s(),
        py_xlsx.as_ref().map(Run::rows_per_s),
        true,
    );
    compare(
        "XLSX peak MB",
        xlsx.peak_mb(),
        py_xlsx.as_ref().map(Run::peak_mb),
        false,
    );
    println!(
        "(ratio: how many times faster, or how many times less memory, Rust is; both sides include making the rows)"
    );
    if n_openpyxl != n {
        println!(
            "(openpyxl ran {n_openpyxl} rows, not {n}: it is slow; rows/s compares fairly, peak memory is flat in write-only mode)"
        );
    }
}

fn env_rows(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
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
}

fn run_child(what: &str, n: u64) -> Run {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let out = Command::new(exe)
        .args(["--child", what, &n.to_string()])
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

fn run_python(script: &Path, what: &str, n: u64) -> Option<Run> {
    let out = Command::new("python3")
        .arg(script)
        .args([what, &n.to_string()])
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
fn child(what: &str, n: u64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut rows = Rows::new();
    let start = Instant::now();
    let (bytes, sha) = match what {
        "gen" => {
            // The cost of making the rows alone, to read the export figures against.
            let mut chars = 0usize;
            for _ in 0..n {
                chars += rows.next_row().len();
            }
            (0, chars.to_string())
        }
        _ => {
            let format = Format::from_name(what).expect("csv or xlsx");
            let mut exporter = Exporter::new(format, columns(), "General Ledger", Some(dir.path()))
                .expect("an exporter");
            for _ in 0..n {
                exporter.write_row(rows.next_row()).expect("a row");
            }
            let file = exporter.finish().expect("the file");
            assert_eq!(file.row_count, n);
            (file.byte_count, file.sha256)
        }
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "format={what} rows={n} secs={secs:.3} bytes={bytes} peak_kb={} sha256={sha}",
        vm_hwm_kb()
    );
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

fn columns() -> Vec<Column> {
    let col = |label: &str, fieldtype, width| Column {
        label: label.to_string(),
        fieldtype,
        width,
    };
    vec![
        col("Posting Date", FieldType::Date, None),
        col("Account", FieldType::Link, Some(28)),
        col("Party", FieldType::Link, Some(14)),
        col("Voucher Type", FieldType::Select, Some(16)),
        col("Voucher No", FieldType::Data, Some(22)),
        col("Debit", FieldType::Currency, Some(14)),
        col("Credit", FieldType::Currency, Some(14)),
        col("Against", FieldType::Data, Some(28)),
        col("Remarks", FieldType::Text, Some(40)),
        col("Is Cancelled", FieldType::Check, None),
    ]
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
const VOUCHER_TYPES: [&str; 4] = [
    "Sales Invoice",
    "Purchase Invoice",
    "Journal Entry",
    "Payment Entry",
];

/// General-Ledger-like rows from xorshift64, the same as python_baseline.py's.
struct Rows {
    state: u64,
    i: u64,
    row: Vec<SqlValue>,
}

impl Rows {
    fn new() -> Self {
        Rows {
            state: 0x9E37_79B9_7F4A_7C15,
            i: 0,
            row: Vec::with_capacity(10),
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

    fn next_row(&mut self) -> &[SqlValue] {
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
        self.row.clear();
        self.row.extend([
            SqlValue::Text(format!(
                "{}-{:02}-{:02}",
                2023 + (r >> 8) % 2,
                1 + (r >> 12) % 12,
                1 + (r >> 16) % 28
            )),
            SqlValue::Text(ACCOUNTS[(r >> 20) as usize % ACCOUNTS.len()].to_string()),
            SqlValue::Text(format!("CUST-{:05}", (r >> 24) % 5000)),
            SqlValue::Text(VOUCHER_TYPES[(r >> 36) as usize % VOUCHER_TYPES.len()].to_string()),
            SqlValue::Text(format!("ACC-JV-2024-{i:07}")),
            SqlValue::Float(debit),
            SqlValue::Float(credit),
            SqlValue::Text(ACCOUNTS[(r >> 40) as usize % ACCOUNTS.len()].to_string()),
            SqlValue::Text(remarks),
            SqlValue::Int(i64::from(i % 100 == 99)),
        ]);
        &self.row
    }
}
