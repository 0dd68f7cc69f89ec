//! The General Ledger the export and report benches read: N GL entries of the demo's
//! `GL Entry` type, filled once through the product's own store and loader and kept in
//! `target/bench-data/`. Shared by `export_bench.rs` and the server's `report_bench.rs`
//! (which includes this file by path).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use accesslog_core::doctype::DocType;
use accesslog_site::doctypes::DocTypes;
use accesslog_store::{Document, NewDocument, SqlValue, Store};
use accesslog_store_postgres::PgStore;
use accesslog_store_sqlite::SqliteStore;

const INSERT_BATCH: u64 = 10_000;
/// Bump when the generated rows change, so a cached database is not reused.
const DATA_VERSION: u32 = 2;
pub const GL_ENTRY_TOML: &str = include_str!("../../cli/src/demo/doctypes/gl_entry.toml");
pub const GL_REPORT_TOML: &str = include_str!("../../cli/src/demo/reports/general_ledger.toml");

/// The GL Entry type as the product loads it: the demo's definition, through the site's
/// loader (which checks it).
pub fn gl_doctype() -> DocType {
    let site = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(site.path().join("doctypes")).expect("a doctypes folder");
    std::fs::write(site.path().join("doctypes/gl_entry.toml"), GL_ENTRY_TOML)
        .expect("gl_entry.toml copied");
    let types = DocTypes::load(site.path(), &["Accounts User".to_owned()])
        .expect("the demo's GL Entry type loads");
    types.get("GL Entry").expect("GL Entry").clone()
}

/// The database of `n` GL entries: reused from `target/bench-data/` when a complete one is
/// there, filled through the store otherwise (into a `.partial` file, renamed when done, so
/// an interrupted fill is never mistaken for a complete one).
pub async fn database(n: u64, layout: Layout) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("bench-data");
    std::fs::create_dir_all(&dir).expect("target/bench-data");
    let path = dir.join(format!("gl-v{DATA_VERSION}-{}-{n}.sqlite", layout.name()));
    if path.exists() {
        match count_rows(&path).await {
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
    fill(&partial, &copy, n, layout).await;
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

async fn count_rows(path: &Path) -> Result<u64, String> {
    let store = SqliteStore::open(path).await.map_err(|e| e.to_string())?;
    let count = count_in(&store).await;
    store.close().await;
    count
}

/// The GL entries in `store` (an error when it has no GL Entry table).
async fn count_in(store: &dyn Store) -> Result<u64, String> {
    let mut count = 0;
    store
        .query_each_row("SELECT count(*) FROM tab_gl_entry", &[], &mut |row| {
            if let Some(SqlValue::Int(c)) = row.first() {
                count = *c as u64;
            }
            ControlFlow::Continue(())
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(count)
}

/// The schema of the PostgreSQL database at `url` that holds `n` GL entries laid out as
/// `layout`: reused when complete, (re)filled through the store otherwise.
pub async fn postgres(url: &str, n: u64, layout: Layout) -> String {
    let schema = format!("bench_gl_v{DATA_VERSION}_{}_{n}", layout.name());
    let store = PgStore::connect_in_schema(url, &schema)
        .await
        .expect("the PostgreSQL bench schema");
    match count_in(&store).await {
        Ok(count) if count == n => println!("reusing PostgreSQL schema {schema} ({n} GL entries)"),
        _ => {
            let start = Instant::now();
            let _ = sqlx::query("DROP TABLE IF EXISTS tab_gl_entry")
                .execute(store.pool())
                .await;
            fill_store(&store, n, layout).await;
            sqlx::query("ANALYZE tab_gl_entry")
                .execute(store.pool())
                .await
                .expect("ANALYZE");
            println!(
                "filled PostgreSQL schema {schema} with {n} GL entries through PgStore::insert_documents in {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
    store.close().await;
    schema
}

/// A database and every file beside it (the log's, the review's, their WAL files).
fn remove_database(path: &Path) {
    for file in accesslog_store_sqlite::database_files(path) {
        let _ = std::fs::remove_file(file);
    }
}

/// Fills `path` through the store, then writes a consistent single-file copy of it to
/// `copy` with the store's own backup (one file holding the records and the log).
async fn fill(path: &Path, copy: &Path, n: u64, layout: Layout) {
    let store = SqliteStore::open(path)
        .await
        .expect("a new SQLite database");
    fill_store(&store, n, layout).await;
    store
        .backup_to(copy)
        .await
        .expect("a copy of the filled database");
    store.close().await;
}

/// Creates the GL Entry table in `store` and writes `n` entries into it.
async fn fill_store(store: &dyn Store, n: u64, layout: Layout) {
    let doctype = gl_doctype();
    store.sync_doctype(&doctype).await.expect("tab_gl_entry");
    let mut rows = Rows::new(layout, n);
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

/// How the GL entries' posting dates relate to the order they were written in.
#[derive(Clone, Copy)]
pub enum Layout {
    /// As a ledger is written: day by day, with one entry in 20 back-dated by up to 30 days.
    /// The table is then nearly in posting-date order, and the report's index reads it
    /// nearly sequentially.
    Ledger,
    /// Posting dates drawn at random over the two years: the worst case for the report's
    /// order, each row a seek to another part of the table.
    Shuffled,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Ledger => "ledger",
            Layout::Shuffled => "shuffled",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Layout::Ledger => {
                "written day by day over two years, one entry in 20 back-dated by 1-30 days"
            }
            Layout::Shuffled => {
                "posting dates at random over two years, unrelated to insertion order"
            }
        }
    }
}

/// Days in the generated two years: months of 28 days keep every date valid.
const DAYS: u64 = 2 * 12 * 28;

/// General-Ledger-like documents from xorshift64: dates over two years laid out as
/// `layout` says, amounts on one side, and some remarks that need CSV quoting or formula
/// defusing.
struct Rows {
    state: u64,
    i: u64,
    n: u64,
    layout: Layout,
}

impl Rows {
    fn new(layout: Layout, n: u64) -> Self {
        Rows {
            state: 0x9E37_79B9_7F4A_7C15,
            i: 0,
            n: n.max(1),
            layout,
        }
    }

    /// `2023-01-01` for day 0.
    fn date(day: u64) -> String {
        format!(
            "{}-{:02}-{:02}",
            2023 + day / (12 * 28),
            1 + day % (12 * 28) / 28,
            1 + day % 28
        )
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
        let day = match self.layout {
            // The same dates as the first version of this data, so its file stays valid.
            Layout::Shuffled => (r >> 8) % 2 * 12 * 28 + (r >> 12) % 12 * 28 + (r >> 16) % 28,
            Layout::Ledger => {
                let today = i * DAYS / self.n;
                if (r >> 44).is_multiple_of(20) {
                    today.saturating_sub(1 + (r >> 48) % 30)
                } else {
                    today
                }
            }
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
            ("posting_date", SqlValue::Text(Self::date(day))),
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
