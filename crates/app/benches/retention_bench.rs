//! What pruning costs a live log (issue 19), on SQLite and PostgreSQL.
//!
//! A fresh log of `--entries` entries (default 10,000,000) is filled straight through
//! `LogStore::append_entries`, 1,000 events a call: the oldest 90 % dated 400 to 200 days
//! ago, the newest 10 % in the hour before the fill; reads, exports and prints by ~200
//! users (skewed), with document types, reports, filters, counts and hashes. Every entry
//! is copied into the review table (SQLite) and a checkpoint is signed over the whole log,
//! untimed. Then 64 writers record through the real `Recorder` (on the store as the server
//! opens it, so on SQLite it commits on the store's writer thread; with a checkpointer at
//! the server's defaults: every 1,000 entries or 10 s), closed loop, in three parts back
//! to back:
//!
//! 1. **baseline before**: `--rounds` runs of `--secs` seconds, no prune;
//! 2. **during the prune**: `accesslog_app::retention::prune` in a task of its own on the
//!    same runtime (as the server's daily prune runs), with a policy of 180 days for reads,
//!    exports and prints, so the oldest 90 % are due; writers run from a second before it
//!    starts until it returns;
//! 3. **baseline after**: `--rounds` runs again, on the pruned log.
//!
//! The baseline is the median over the runs of 1 and 3 (each alone is shown too).
//! Reported: entries/s and record() latency (p50, p99, max) for each, also by phase of the
//! prune (choosing what is due, writing bundles, removing payloads), as ratios to the
//! baseline. The prune works through a store that times the calls it makes (`Timed`
//! below, delegating everything): each `prune_entries` call is one transaction on the log,
//! sized by the prune's pacing (`retention::Pace`) to hold it about 10 ms, and the store
//! says how long it held it, which is what the issue bounds (on SQLite, from taking the
//! log's write lock to the commit; the writers' latencies show what they waited). The
//! call itself also deletes the entries' review-copy rows, without the log's lock. On PostgreSQL a partition mostly due goes whole in
//! `prune_whole_ranges` (migration 0016), timed as one call: the transactions inside it
//! are not seen one by one. Then the bytes on disk (SQLite: the database and its `-log`
//! and `-review` files with their WALs, after a `wal_checkpoint(TRUNCATE)` of each, as
//! filled, compacted by `VACUUM`, as left by the prune, and after `VACUUM` again;
//! PostgreSQL: `pg_total_relation_size` of `access_log`'s partitions, `access_log_pruned`
//! and `merkle_nodes`, as left by the prune, after a plain `VACUUM`, and after `VACUUM
//! FULL`), and the bundles' bytes.
//!
//! ```sh
//! cargo bench -p accesslog-app --bench retention_bench                  # both, 10,000,000
//! cargo bench -p accesslog-app --bench retention_bench -- sqlite --entries 1000000
//! # ACCESSLOG_BENCH_ENTRIES sets the default size; PostgreSQL needs
//! # ACCESSLOG_TEST_POSTGRES_URL (a fresh schema of that database); `-- --help` lists options
//! ```
//!
//! Figures and how to read them: BENCHMARKS.md, "Pruning".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accesslog_app::retention::{self, Pace, PruneReport, Pruning};
use accesslog_core::checkpoint::{Checkpoint, LogSigner};
use accesslog_core::doctype::DocType;
use accesslog_core::entry::{Activity, CanonicalJson, Entry, Event, Outcome};
use accesslog_core::merkle::{Hash, NodeId};
use accesslog_core::{Clock, SystemClock, Timestamp};
use accesslog_engine::{CheckpointPolicy, Checkpointer, Recorder, RecorderConfig};
use accesslog_site::retention::RetentionSettings;
use accesslog_store::alerts::{AlertFilter, AlertRecord, DeadLetterRecord, Suppression};
use accesslog_store::log_search::{ActivitySummary, EntryPage, EntryQuery, GroupBy};
use accesslog_store::retention::{
    ArchiveRecord, ArchivedQuery, BatchPruned, LegalHold, NewHold, PruneBatch, PrunedEntry,
    PrunedStats, Restored, RetentionFacts,
};
use accesslog_store::witnesses::{Cosignature, WitnessRefusal};
use accesslog_store::{
    AccountStore, AlertStore, ApiKey, Appended, BlockingAppend, ChildRows, Dialect, Document,
    DocumentStore, FileRecord, LeafCheck, LeafRow, ListQuery, LogHead, LogReads, LogStore,
    LoginAttempts, LoginFailureCounts, LoginOutcome, NewApiKey, NewDocument, NewSession, NewUser,
    PoolUse, ReportStore, RetentionStore, ReviewDifference, RowSink, Session, SqlValue, Store,
    StoreResult, StoredCheckpoint, User, WitnessStore,
};
use accesslog_testkit::{Backend, POSTGRES_URL_VAR, TestDb};
use async_trait::async_trait;

const HELP: &str = "\
retention_bench: what pruning the oldest 90 % of a log costs 64 writers appending.

usage: cargo bench -p accesslog-app --bench retention_bench -- [sqlite] [postgres] [OPTIONS]

Backends (default both; PostgreSQL needs ACCESSLOG_TEST_POSTGRES_URL, else it is skipped).

OPTIONS:
  --entries N     entries filled before the prune (default 10000000, or
                  ACCESSLOG_BENCH_ENTRIES); the oldest 90 % are due
  --writers N     concurrent writers through the recorder (default 64)
  --secs N        seconds per baseline run (default 15)
  --rounds N      baseline runs before the prune, and again after it (default 2)
  --checkpoint-every N
                  the writers' recorder signs a checkpoint every N entries or 10 s, as
                  the server does (default 1000, the server's default; 0: no checkpointer)
  --async-commits the writers' recorder commits through append_entries on the runtime
                  rather than on SQLite's writer thread (as log_bench's recorder does: its
                  store wrapper has no blocking appender); no difference on PostgreSQL
  --no-vacuum     skip the VACUUMs after the runs (SQLite: VACUUM of the log and review
                  files; PostgreSQL: VACUUM, then VACUUM FULL, of the log's tables)
";

const ORIGIN: &str = "bench.example/access-log";
const DAY: i64 = 86_400_000_000;
/// Events per `append_entries` call while filling; one timestamp each.
const FILL_BATCH: u64 = 1000;
/// Distinct events the writers cycle through (cloned per record, made once).
const WRITER_EVENTS: u64 = 65_536;

#[derive(Debug)]
struct Args {
    backends: Vec<Backend>,
    entries: u64,
    writers: usize,
    secs: f64,
    rounds: usize,
    vacuum: bool,
    /// The recorder's checkpointer signs every this many entries (or 10 s); 0: none.
    checkpoint_every: u64,
    /// The writers' recorder commits through `append_entries` on the runtime, not on the
    /// store's blocking appender (SQLite's writer thread), as log_bench's does.
    async_commits: bool,
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        backends: Vec::new(),
        entries: std::env::var("ACCESSLOG_BENCH_ENTRIES")
            .ok()
            .and_then(|v| number(&v).ok())
            .unwrap_or(10_000_000),
        writers: 64,
        secs: 15.0,
        rounds: 2,
        vacuum: true,
        checkpoint_every: 1000,
        async_commits: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--bench" => {}
            "-h" | "--help" => return Err(String::new()),
            "sqlite" => args.backends.push(Backend::Sqlite),
            "postgres" => args.backends.push(Backend::Postgres),
            "--entries" => args.entries = number(&value("--entries")?)?,
            "--writers" => args.writers = number(&value("--writers")?)?,
            "--secs" => args.secs = number(&value("--secs")?)?,
            "--rounds" => args.rounds = number(&value("--rounds")?)?,
            "--no-vacuum" => args.vacuum = false,
            "--async-commits" => args.async_commits = true,
            "--checkpoint-every" => {
                args.checkpoint_every = number(&value("--checkpoint-every")?)?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.backends.is_empty() {
        args.backends = vec![Backend::Sqlite, Backend::Postgres];
    }
    if args.entries < 10 * FILL_BATCH {
        return Err(format!("--entries must be at least {}", 10 * FILL_BATCH));
    }
    args.rounds = args.rounds.max(1);
    Ok(args)
}

#[tokio::main]
async fn main() {
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
    let sample = Entry {
        seq: 1,
        timestamp: SystemClock.now(),
        event: event(12_345),
    };
    println!(
        "retention_bench: {} CPUs; {} entries; {} writers; baseline {} x {:.0} s before and after; \
         checkpoint every {} entries or 10 s; batches paced to hold the log ~{} ms; an entry is ~{} \
         canonical bytes; load average {:.1}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.entries,
        args.writers,
        args.rounds,
        args.secs,
        args.checkpoint_every,
        Pace::TARGET.as_millis(),
        sample.canonical_bytes().len(),
        load()
    );
    for &backend in &args.backends {
        if backend == Backend::Postgres && std::env::var(POSTGRES_URL_VAR).is_err() {
            println!("\n## PostgreSQL: skipped ({POSTGRES_URL_VAR} is not set)");
            continue;
        }
        run(backend, &args).await;
    }
}

fn name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

// ----- the data -----

fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    let x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

const DOCTYPES: [(&str, &str); 8] = [
    ("Sales Invoice", "ACC-SINV"),
    ("Customer", "CUST"),
    ("Employee", "HR-EMP"),
    ("Purchase Invoice", "ACC-PINV"),
    ("Salary Slip", "Sal Slip"),
    ("Journal Entry", "ACC-JV"),
    ("Supplier", "SUP"),
    ("Sales Order", "SAL-ORD"),
];

const REPORTS: [&str; 6] = [
    "General Ledger",
    "Accounts Receivable",
    "Sales Register",
    "Stock Balance",
    "Salary Register",
    "Customer Ledger Summary",
];

/// Entry `n`: a read (60 %), an export (25 %) or a print (15 %) by one of ~200 users
/// (a few busy, most occasional), with what each carries in the server.
fn event(n: u64) -> Event {
    let r = mix(n.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let r2 = mix(r);
    let user = ((r % 200) * ((r >> 8) % 200)) / 200;
    let skew = |x: u64, k: u64| ((x % k) * ((x >> 4) % k) / (k - 1)) as usize;
    let (doctype, prefix) = DOCTYPES[skew(r >> 24, 8)];
    let report = REPORTS[skew(r >> 32, 6)];
    let number = (r2 >> 8) % 60_000;
    let activity = match (r >> 16) % 100 {
        0..60 => Activity::Read,
        60..85 => Activity::Export,
        _ => Activity::Print,
    };
    let mut e = match activity {
        Activity::Read => {
            let mut e = Event::new(
                &format!("user{user:03}@example.com"),
                activity,
                &format!("GET /api/resource/{doctype}/{prefix}-2026-{number:05}"),
            );
            e.export_from = Some(doctype.to_owned());
            if r2.is_multiple_of(3) {
                // A list view: filters and a page of rows.
                e.method = format!("GET /api/resource/{doctype}");
                e.filters = CanonicalJson::parse(&format!(
                    r#"{{"company":"Acme Ltd","modified":[">","2026-{:02}-01"],"owner":"user{:03}@example.com"}}"#,
                    1 + r2 % 12,
                    (r2 >> 16) % 200
                ))
                .ok();
                e.page = Some(format!("{}", (r2 >> 24) % 20));
                e.row_count = Some(20);
            } else {
                e.reference_document = Some(format!("{prefix}-2026-{number:05}"));
                e.row_count = Some(1);
            }
            e
        }
        Activity::Export => {
            let mut e = Event::new(
                &format!("user{user:03}@example.com"),
                activity,
                "GET /api/method/frappe.desk.query_report.export_query",
            );
            e.export_from = Some(doctype.to_owned());
            e.report_name = Some(report.to_owned());
            e.file_type = Some(if r2 % 5 < 3 { "CSV" } else { "XLSX" }.to_owned());
            e.filters = CanonicalJson::parse(&format!(
                r#"{{"company":"Acme Ltd","from_date":"2026-{:02}-01","to_date":"2026-{:02}-28"}}"#,
                1 + r2 % 12,
                1 + (r2 >> 4) % 12
            ))
            .ok();
            e.row_count = Some(r2 % 20_000);
            e
        }
        _ => {
            let mut e = Event::new(
                &format!("user{user:03}@example.com"),
                activity,
                "GET /printview",
            );
            e.export_from = Some(doctype.to_owned());
            e.reference_document = Some(format!("{prefix}-2026-{number:05}"));
            e.print_format = Some("Standard".to_owned());
            e.file_type = Some("PDF".to_owned());
            e
        }
    };
    if (r2 >> 20) % 100 < 2 {
        e.outcome = Outcome::Denied;
        e.reason = Some("not permitted".to_owned());
    } else if activity != Activity::Read {
        e.byte_count = Some((r2 >> 12) % 2_000_000);
        e.content_sha256 = Some(format!(
            "{:016x}{:016x}{:016x}{:016x}",
            r,
            r2,
            mix(r2),
            mix(r2 ^ 1)
        ));
    }
    e.roles = vec!["Accounts User".to_owned(), "Sales User".to_owned()];
    e.ip = Some(format!("10.0.{}.{}", user % 256, (r2 >> 40) % 256));
    e.user_agent =
        Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into());
    e.request_id = Some(format!("{:016x}{:016x}", r2, n));
    e.auth = Some("session".to_owned());
    e
}

/// Fills the log: the oldest 90 % dated 400 to 200 days before `now`, rising with seq;
/// the rest in the hour before `now`. Returns (entries, seconds).
async fn fill(store: &dyn Store, entries: u64, now: Timestamp) -> (u64, f64) {
    let old = entries * 9 / 10;
    let batches_old = old.div_ceil(FILL_BATCH);
    let batches_new = (entries - old).div_ceil(FILL_BATCH);
    let started = Instant::now();
    let mut plan = Vec::new();
    for k in 0..batches_old {
        let first = k * FILL_BATCH;
        let len = FILL_BATCH.min(old - first);
        let at = now.as_micros() - 400 * DAY + (200 * DAY / batches_old as i64) * k as i64;
        plan.push((first, len, at));
    }
    for k in 0..batches_new {
        let first = old + k * FILL_BATCH;
        let len = FILL_BATCH.min(entries - first);
        let at = now.as_micros() - DAY / 24 + (DAY / 24 / batches_new as i64) * k as i64;
        plan.push((first, len, at));
    }
    let make = |(first, len, _): (u64, u64, i64)| -> Vec<Event> {
        (first..first + len).map(event).collect()
    };
    let mut next = make(plan[0]);
    let mut done = 0u64;
    let mut said = 0u64;
    for i in 0..plan.len() {
        let current = std::mem::take(&mut next);
        let at = Timestamp::from_micros(plan[i].2);
        let following = plan.get(i + 1).copied();
        let (appended, built) = tokio::join!(store.append_entries(&current, at), async {
            following.map(make).unwrap_or_default()
        });
        appended.expect("append_entries");
        next = built;
        done += current.len() as u64;
        if done >= said + 1_000_000 || done == entries {
            said = done;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "  filled {done} in {secs:.0} s ({:.0} entries/s)",
                done as f64 / secs
            );
        }
    }
    (done, started.elapsed().as_secs_f64())
}

/// Copies every entry into the review table, as the recorder does after its commits (the
/// fill appends without one); nothing to copy on PostgreSQL.
async fn index_all(store: &dyn Store) -> (u64, f64) {
    let started = Instant::now();
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
    (indexed, started.elapsed().as_secs_f64())
}

fn signer() -> LogSigner {
    LogSigner::from_seed(ORIGIN, [7; 32]).expect("a signer")
}

/// Signs a checkpoint over the whole log now, as the recorder's checkpointer would.
async fn sign_head(store: &dyn Store) -> u64 {
    let head = store.log_head().await.expect("log head");
    let signer = signer();
    let checkpoint = Checkpoint::new(signer.name(), head.size, head.root).expect("a checkpoint");
    store
        .add_checkpoint(&StoredCheckpoint {
            size: head.size,
            root: head.root,
            created_at: SystemClock.now(),
            note: signer.sign(&checkpoint),
        })
        .await
        .expect("add_checkpoint");
    head.size
}

fn policy(dir: &Path) -> RetentionSettings {
    let mut p = RetentionSettings {
        archive_dir: dir.to_path_buf(),
        ..RetentionSettings::default()
    };
    for activity in ["read", "export", "print"] {
        p.days.insert(activity.into(), 180);
    }
    p
}

// ----- the writers -----

/// One record(): when it returned (µs since the writers started) and how long it took (µs).
type Sample = (u32, u32);

struct Writers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<(Vec<Sample>, u64)>>,
    t0: Instant,
}

fn start_writers(
    recorder: &Recorder,
    events: &Arc<Vec<Event>>,
    next: &Arc<AtomicU64>,
    writers: usize,
) -> Writers {
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let tasks = (0..writers)
        .map(|_| {
            let (recorder, events, next, stop) =
                (recorder.clone(), events.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let e = events[(n % events.len() as u64) as usize].clone();
                    let called = Instant::now();
                    match recorder.record(e).await {
                        Ok(_) => {
                            let done = Instant::now();
                            samples.push((
                                (done - t0).as_micros() as u32,
                                (done - called).as_micros() as u32,
                            ));
                        }
                        Err(_) => errors += 1,
                    }
                }
                (samples, errors)
            })
        })
        .collect();
    Writers { stop, tasks, t0 }
}

impl Writers {
    fn at(&self, t: Instant) -> u32 {
        t.saturating_duration_since(self.t0).as_micros() as u32
    }

    async fn finish(self) -> (Vec<Sample>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        let mut errors = 0;
        for t in self.tasks {
            let (s, e) = t.await.expect("a writer");
            all.extend(s);
            errors += e;
        }
        (all, errors)
    }
}

/// Appends and latencies of the records that returned within `[from, to)` (µs).
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    entries: u64,
    secs: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// Records that took more than 100 ms.
    over_100ms: u64,
    /// The machine's 1-minute load average when the window closed (it is shared).
    load: f64,
    /// When the slowest record returned (µs, as the samples).
    slowest_at: u32,
}

impl Window {
    fn of(samples: &[Sample], from: u32, to: u32) -> Self {
        let inside = samples.iter().filter(|s| s.0 >= from && s.0 < to);
        let slowest_at = inside.clone().max_by_key(|s| s.1).map_or(0, |s| s.0);
        let mut lat: Vec<u32> = inside.map(|s| s.1).collect();
        lat.sort_unstable();
        let pct = |p: f64| {
            if lat.is_empty() {
                return Duration::ZERO;
            }
            let rank = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
            Duration::from_micros(u64::from(lat[rank - 1]))
        };
        Self {
            entries: lat.len() as u64,
            secs: f64::from(to.saturating_sub(from)) / 1e6,
            p50: pct(0.50),
            p99: pct(0.99),
            max: Duration::from_micros(u64::from(lat.last().copied().unwrap_or(0))),
            over_100ms: lat.iter().filter(|&&l| l > 100_000).count() as u64,
            load: load(),
            slowest_at,
        }
    }

    fn rate(&self) -> f64 {
        self.entries as f64 / self.secs.max(1e-9)
    }
}

/// The 1-minute load average (Linux; 0 elsewhere).
fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

/// A second of warm-up, then `secs` of writers alone.
async fn baseline_run(
    recorder: &Recorder,
    events: &Arc<Vec<Event>>,
    next: &Arc<AtomicU64>,
    writers: usize,
    secs: f64,
) -> Window {
    let w = start_writers(recorder, events, next, writers);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let from = w.at(Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let to = w.at(Instant::now());
    let (samples, errors) = w.finish().await;
    assert_eq!(errors, 0, "record() failed during a baseline run");
    Window::of(&samples, from, to)
}

// ----- the store that times the prune's calls -----

/// One call the prune made: what, when it started, how long it took, how many rows.
#[derive(Clone, Copy, Debug)]
struct Call {
    what: &'static str,
    started: Instant,
    took: Duration,
    rows: u64,
    /// How long it held the log, where the store says (`prune_entries`).
    held: Option<Duration>,
}

/// Delegates everything to `inner`; keeps the calls a prune makes to read the log, to
/// record bundles and to prune (each `prune_entries` is one transaction).
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn Store>,
    calls: Mutex<Vec<Call>>,
    /// What the last `release_free_pages` said was left.
    free_pages_left: AtomicU64,
    /// Hands out the inner store's blocking appender (SQLite's writer thread); without
    /// it a recorder commits through `append_entries` on the runtime.
    blocking: bool,
}

impl Timed {
    fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            calls: Mutex::new(Vec::new()),
            free_pages_left: AtomicU64::new(u64::MAX),
            blocking: true,
        })
    }

    fn keep(&self, what: &'static str, started: Instant, rows: u64) {
        self.keep_held(what, started, rows, None);
    }

    fn keep_held(&self, what: &'static str, started: Instant, rows: u64, held: Option<Duration>) {
        let took = started.elapsed();
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(Call {
                what,
                started,
                took,
                rows,
                held,
            });
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Store for Timed {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    fn pool_use(&self) -> PoolUse {
        self.inner.pool_use()
    }
    async fn backup_to(&self, path: &Path) -> StoreResult<()> {
        self.inner.backup_to(path).await
    }
}

#[async_trait]
impl LogReads for Timed {
    async fn log_head(&self) -> StoreResult<LogHead> {
        self.inner.log_head().await
    }
    async fn entries_after(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<Entry>> {
        let started = Instant::now();
        let r = self.inner.entries_after(after_seq, limit).await;
        self.keep(
            "entries_after",
            started,
            r.as_ref().map_or(0, |v| v.len() as u64),
        );
        r
    }
    async fn retention_facts_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<RetentionFacts>> {
        let started = Instant::now();
        let r = self.inner.retention_facts_after(after_seq, limit).await;
        self.keep(
            "retention_facts_after",
            started,
            r.as_ref().map_or(0, |v| v.len() as u64),
        );
        r
    }
    async fn entry(&self, seq: u64) -> StoreResult<Option<Entry>> {
        self.inner.entry(seq).await
    }
    async fn search_entries(
        &self,
        q: &EntryQuery,
        page: EntryPage,
        limit: u32,
    ) -> StoreResult<Vec<Entry>> {
        self.inner.search_entries(q, page, limit).await
    }
    async fn activity_since(&self, from: Timestamp) -> StoreResult<ActivitySummary> {
        self.inner.activity_since(from).await
    }
    async fn count_entries(
        &self,
        q: &EntryQuery,
        by: GroupBy,
        sample: u32,
        top: u32,
    ) -> StoreResult<Vec<(String, u64)>> {
        self.inner.count_entries(q, by, sample, top).await
    }
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> StoreResult<()> {
        self.inner.add_checkpoint(checkpoint).await
    }
    async fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        self.inner.latest_checkpoint().await
    }
    async fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
        self.inner.checkpoints().await
    }
}

#[async_trait]
impl LogStore for Timed {
    async fn append_entries(&self, events: &[Event], at: Timestamp) -> StoreResult<Appended> {
        self.inner.append_entries(events, at).await
    }
    fn blocking_appender(&self) -> StoreResult<Option<Box<dyn BlockingAppend>>> {
        if self.blocking {
            self.inner.blocking_appender()
        } else {
            Ok(None)
        }
    }
    async fn index_for_review(&self, limit: u32) -> StoreResult<u64> {
        self.inner.index_for_review(limit).await
    }
    async fn review_lag(&self) -> StoreResult<u64> {
        self.inner.review_lag().await
    }
    async fn check_review_copy(&self) -> StoreResult<Option<ReviewDifference>> {
        self.inner.check_review_copy().await
    }
    async fn entries_with_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafRow>> {
        let started = Instant::now();
        let r = self.inner.entries_with_leaves_after(after_seq, limit).await;
        self.keep(
            "entries_with_leaves_after",
            started,
            r.as_ref().map_or(0, |v| v.len() as u64),
        );
        r
    }
    async fn recomputed_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafCheck>> {
        self.inner.recomputed_leaves_after(after_seq, limit).await
    }
    async fn prune_entries(&self, batch: &PruneBatch) -> StoreResult<BatchPruned> {
        let started = Instant::now();
        let r = self.inner.prune_entries(batch).await;
        let done = r.as_ref().copied().unwrap_or_default();
        self.keep_held("prune_entries", started, done.pruned, Some(done.held));
        r
    }
    async fn tidy_after_prune(&self) -> StoreResult<u64> {
        let started = Instant::now();
        let r = self.inner.tidy_after_prune().await;
        self.keep("tidy_after_prune", started, *r.as_ref().unwrap_or(&0));
        r
    }
    async fn release_free_pages(&self, pages: u32) -> StoreResult<Option<u64>> {
        let started = Instant::now();
        let r = self.inner.release_free_pages(pages).await;
        self.keep("release_free_pages", started, u64::from(pages));
        if let Ok(Some(left)) = &r {
            self.free_pages_left.store(*left, Ordering::Relaxed);
        }
        r
    }
    async fn prune_whole_ranges(
        &self,
        due: &[u64],
        bundles: &[(u64, u64, String)],
        keep_fields: bool,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let started = Instant::now();
        let r = self
            .inner
            .prune_whole_ranges(due, bundles, keep_fields)
            .await;
        let dropped = r.as_ref().map_or(0, |ranges| {
            ranges
                .iter()
                .map(|(a, b)| {
                    (due.partition_point(|s| s < b) - due.partition_point(|s| s < a)) as u64
                })
                .sum()
        });
        self.keep("prune_whole_ranges", started, dropped);
        r
    }
    async fn restore_entries(&self, entries: &[Entry]) -> StoreResult<Restored> {
        self.inner.restore_entries(entries).await
    }
    async fn merkle_nodes(&self, ids: &[NodeId]) -> StoreResult<Vec<(NodeId, Hash)>> {
        self.inner.merkle_nodes(ids).await
    }
}

#[async_trait]
impl RetentionStore for Timed {
    async fn pruned_entry(&self, seq: u64) -> StoreResult<Option<PrunedEntry>> {
        self.inner.pruned_entry(seq).await
    }
    async fn pruned_stats(&self) -> StoreResult<PrunedStats> {
        self.inner.pruned_stats().await
    }
    async fn archived_entries(
        &self,
        q: &ArchivedQuery,
        limit: u32,
    ) -> StoreResult<Vec<PrunedEntry>> {
        self.inner.archived_entries(q, limit).await
    }
    async fn pruned_seqs(&self, first: u64, last: u64) -> StoreResult<Vec<u64>> {
        self.inner.pruned_seqs(first, last).await
    }
    async fn add_archive(&self, a: &ArchiveRecord) -> StoreResult<()> {
        let started = Instant::now();
        let r = self.inner.add_archive(a).await;
        self.keep("add_archive", started, a.last + 1 - a.first);
        r
    }
    async fn archives(&self) -> StoreResult<Vec<ArchiveRecord>> {
        let started = Instant::now();
        let r = self.inner.archives().await;
        self.keep("archives", started, 0);
        r
    }
    async fn pruned_of_user(&self, user: &str, before: Option<Timestamp>) -> StoreResult<Vec<u64>> {
        self.inner.pruned_of_user(user, before).await
    }
    async fn mark_redacted(&self, seqs: &[u64]) -> StoreResult<u64> {
        self.inner.mark_redacted(seqs).await
    }
    async fn add_hold(&self, h: &NewHold) -> StoreResult<LegalHold> {
        self.inner.add_hold(h).await
    }
    async fn lift_hold(&self, id: u64, by: &str, at: Timestamp) -> StoreResult<Option<LegalHold>> {
        self.inner.lift_hold(id, by, at).await
    }
    async fn holds(&self) -> StoreResult<Vec<LegalHold>> {
        self.inner.holds().await
    }
}

#[async_trait]
impl DocumentStore for Timed {
    async fn sync_doctype(&self, doctype: &DocType) -> StoreResult<()> {
        self.inner.sync_doctype(doctype).await
    }
    async fn removed_columns(&self, doctype: &DocType) -> StoreResult<Vec<String>> {
        self.inner.removed_columns(doctype).await
    }
    async fn drop_columns(&self, doctype: &DocType, columns: &[String]) -> StoreResult<()> {
        self.inner.drop_columns(doctype, columns).await
    }
    async fn next_in_series(&self, prefix: &str) -> StoreResult<u64> {
        self.inner.next_in_series(prefix).await
    }
    async fn reserve_in_series(&self, prefix: &str, count: u64) -> StoreResult<u64> {
        self.inner.reserve_in_series(prefix, count).await
    }
    async fn insert_documents(
        &self,
        doctype: &DocType,
        docs: &[NewDocument<'_>],
    ) -> StoreResult<()> {
        self.inner.insert_documents(doctype, docs).await
    }
    async fn insert_document(
        &self,
        doctype: &DocType,
        doc: &Document,
        children: &[ChildRows<'_>],
    ) -> StoreResult<()> {
        self.inner.insert_document(doctype, doc, children).await
    }
    async fn list_documents(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        query: &ListQuery<'_>,
    ) -> StoreResult<Vec<BTreeMap<String, SqlValue>>> {
        self.inner.list_documents(doctype, children, query).await
    }
    async fn update_document(
        &self,
        doctype: &DocType,
        name: &str,
        values: &BTreeMap<String, SqlValue>,
        children: &[ChildRows<'_>],
    ) -> StoreResult<()> {
        self.inner
            .update_document(doctype, name, values, children)
            .await
    }
    async fn delete_document(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        name: &str,
    ) -> StoreResult<()> {
        self.inner.delete_document(doctype, children, name).await
    }
    async fn get_document(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        name: &str,
    ) -> StoreResult<Option<Document>> {
        self.inner.get_document(doctype, children, name).await
    }
    async fn add_file(&self, file: &FileRecord) -> StoreResult<()> {
        self.inner.add_file(file).await
    }
    async fn file_by_url(
        &self,
        is_private: bool,
        file_name: &str,
    ) -> StoreResult<Option<FileRecord>> {
        self.inner.file_by_url(is_private, file_name).await
    }
    async fn file_by_id(&self, name: &str) -> StoreResult<Option<FileRecord>> {
        self.inner.file_by_id(name).await
    }
    async fn list_files(&self, limit: u32, offset: u64) -> StoreResult<Vec<FileRecord>> {
        self.inner.list_files(limit, offset).await
    }
    async fn files_of(&self, doctype: &str, name: &str) -> StoreResult<Vec<FileRecord>> {
        self.inner.files_of(doctype, name).await
    }
}

#[async_trait]
impl ReportStore for Timed {
    async fn query_each_row(
        &self,
        sql: &str,
        params: &[SqlValue],
        sink: &mut RowSink<'_>,
    ) -> StoreResult<u64> {
        self.inner.query_each_row(sql, params, sink).await
    }
}

#[async_trait]
impl AccountStore for Timed {
    async fn create_user(&self, user: &NewUser, now: Timestamp) -> StoreResult<User> {
        self.inner.create_user(user, now).await
    }
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.inner.user_by_email(email).await
    }
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.inner.user_by_id(id).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.inner.list_users().await
    }
    async fn set_user_enabled(&self, email: &str, enabled: bool) -> StoreResult<()> {
        self.inner.set_user_enabled(email, enabled).await
    }
    async fn set_password_hash(&self, email: &str, hash: &str) -> StoreResult<()> {
        self.inner.set_password_hash(email, hash).await
    }
    async fn password_hash(&self, user_id: i64) -> StoreResult<Option<String>> {
        self.inner.password_hash(user_id).await
    }
    async fn add_role(&self, email: &str, role: &str) -> StoreResult<()> {
        self.inner.add_role(email, role).await
    }
    async fn remove_role(&self, email: &str, role: &str) -> StoreResult<()> {
        self.inner.remove_role(email, role).await
    }
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        self.inner.create_session(session).await
    }
    async fn session(&self, id_digest: &str) -> StoreResult<Option<Session>> {
        self.inner.session(id_digest).await
    }
    async fn touch_session(&self, id_digest: &str, at: Timestamp) -> StoreResult<()> {
        self.inner.touch_session(id_digest, at).await
    }
    async fn delete_session(&self, id_digest: &str) -> StoreResult<()> {
        self.inner.delete_session(id_digest).await
    }
    async fn purge_sessions(
        &self,
        idle_before: Timestamp,
        created_before: Timestamp,
    ) -> StoreResult<u64> {
        self.inner.purge_sessions(idle_before, created_before).await
    }
    async fn create_api_key(&self, key: &NewApiKey) -> StoreResult<()> {
        self.inner.create_api_key(key).await
    }
    async fn api_key(&self, api_key: &str) -> StoreResult<Option<ApiKey>> {
        self.inner.api_key(api_key).await
    }
    async fn list_api_keys(&self, user_id: Option<i64>) -> StoreResult<Vec<ApiKey>> {
        self.inner.list_api_keys(user_id).await
    }
    async fn revoke_api_key(&self, api_key: &str, at: Timestamp) -> StoreResult<()> {
        self.inner.revoke_api_key(api_key, at).await
    }
    async fn touch_api_key(&self, api_key: &str, at: Timestamp) -> StoreResult<()> {
        self.inner.touch_api_key(api_key, at).await
    }
    async fn begin_login_attempt(
        &self,
        account: &str,
        ip: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> StoreResult<(i64, LoginFailureCounts)> {
        self.inner.begin_login_attempt(account, ip, at, since).await
    }
    async fn count_login_attempts(
        &self,
        account: &str,
        ip: &str,
        since: Timestamp,
    ) -> StoreResult<LoginFailureCounts> {
        self.inner.count_login_attempts(account, ip, since).await
    }
    async fn settle_login_attempt(&self, id: i64, outcome: LoginOutcome) -> StoreResult<()> {
        self.inner.settle_login_attempt(id, outcome).await
    }
    async fn login_attempts_since(
        &self,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<LoginAttempts>> {
        self.inner.login_attempts_since(since, limit).await
    }
    async fn forget_login_attempts(&self, older_than: Timestamp) -> StoreResult<()> {
        self.inner.forget_login_attempts(older_than).await
    }
}

#[async_trait]
impl AlertStore for Timed {
    async fn insert_alert(&self, alert: &AlertRecord) -> StoreResult<Option<u64>> {
        self.inner.insert_alert(alert).await
    }
    async fn open_alert_for(
        &self,
        rule: &str,
        user: &str,
        window_start: Timestamp,
    ) -> StoreResult<Option<AlertRecord>> {
        self.inner.open_alert_for(rule, user, window_start).await
    }
    async fn alert(&self, id: u64) -> StoreResult<Option<AlertRecord>> {
        self.inner.alert(id).await
    }
    async fn update_alert(&self, alert: &AlertRecord) -> StoreResult<bool> {
        self.inner.update_alert(alert).await
    }
    async fn write_alerts(&self, alerts: &[AlertRecord]) -> StoreResult<Vec<Option<u64>>> {
        self.inner.write_alerts(alerts).await
    }
    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Vec<AlertRecord>> {
        self.inner.list_alerts(filter).await
    }
    async fn count_open_alerts(&self) -> StoreResult<u64> {
        self.inner.count_open_alerts().await
    }
    async fn alerts_cursor(&self) -> StoreResult<Option<(u64, Timestamp)>> {
        self.inner.alerts_cursor().await
    }
    async fn move_alerts_cursor(&self, from: u64, to: u64, now: Timestamp) -> StoreResult<bool> {
        self.inner.move_alerts_cursor(from, to, now).await
    }
    async fn add_suppression(&self, suppression: &Suppression) -> StoreResult<u64> {
        self.inner.add_suppression(suppression).await
    }
    async fn suppressions(&self, at: Option<Timestamp>) -> StoreResult<Vec<Suppression>> {
        self.inner.suppressions(at).await
    }
    async fn add_dead_letter(&self, letter: &DeadLetterRecord) -> StoreResult<u64> {
        self.inner.add_dead_letter(letter).await
    }
    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetterRecord>> {
        self.inner.dead_letters(limit).await
    }
}

#[async_trait]
impl WitnessStore for Timed {
    async fn add_cosignature(&self, c: &Cosignature) -> StoreResult<()> {
        self.inner.add_cosignature(c).await
    }
    async fn cosignatures(&self, size: u64) -> StoreResult<Vec<Cosignature>> {
        self.inner.cosignatures(size).await
    }
    async fn latest_cosigned(&self, quorum: u32) -> StoreResult<Option<StoredCheckpoint>> {
        self.inner.latest_cosigned(quorum).await
    }
    async fn add_witness_refusal(&self, r: &WitnessRefusal) -> StoreResult<u64> {
        self.inner.add_witness_refusal(r).await
    }
    async fn witness_refusals(&self, limit: u32) -> StoreResult<Vec<WitnessRefusal>> {
        self.inner.witness_refusals(limit).await
    }
}

// ----- bytes on disk -----

/// What the log takes on disk at one moment.
#[derive(Clone, Debug, Default)]
struct Sizes {
    /// (part, bytes) in the order shown.
    parts: Vec<(String, u64)>,
    /// What the log-bearing parts add up to.
    total: u64,
    /// PostgreSQL: access_log's partitions.
    partitions: Option<u64>,
    entries: u64,
    pruned: u64,
}

/// One number from SQL (cast to text in the SQL).
async fn number_of(db: &TestDb, sql: &str) -> u64 {
    db.query_text(sql)
        .await
        .first()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

async fn sizes(db: &TestDb) -> Sizes {
    let head = db.store.log_head().await.expect("log head").size;
    let pruned = db.store.pruned_stats().await.expect("pruned stats").pruned;
    let mut s = Sizes {
        entries: head,
        pruned,
        ..Sizes::default()
    };
    match db.backend {
        Backend::Sqlite => {
            // What the files hold, not what their WALs have yet to hand back.
            for schema in ["main", "log", "review"] {
                db.execute(&format!("PRAGMA {schema}.wal_checkpoint(TRUNCATE)"))
                    .await;
            }
            let main = db.dir.path().join("test.db");
            for suffix in ["", "-wal", "-log", "-log-wal", "-review", "-review-wal"] {
                let mut p = main.as_os_str().to_owned();
                p.push(suffix);
                let bytes = std::fs::metadata(PathBuf::from(p)).map_or(0, |m| m.len());
                s.parts.push((format!("test.db{suffix}"), bytes));
                s.total += bytes;
            }
        }
        Backend::Postgres => {
            // access_log is partitioned (migration 0016): its partitions and their indexes.
            for (part, sql) in [
                (
                    "access_log (all partitions)",
                    "SELECT COALESCE(SUM(pg_total_relation_size(relid)), 0)::TEXT \
                     FROM pg_partition_tree('access_log')",
                ),
                (
                    "access_log_pruned",
                    "SELECT pg_total_relation_size('access_log_pruned')::TEXT",
                ),
                (
                    "merkle_nodes",
                    "SELECT pg_total_relation_size('merkle_nodes')::TEXT",
                ),
            ] {
                let bytes = number_of(db, sql).await;
                s.parts.push((part.to_owned(), bytes));
                s.total += bytes;
            }
            let partitions = number_of(
                db,
                "SELECT COUNT(*)::TEXT FROM pg_partition_tree('access_log') WHERE isleaf",
            )
            .await;
            s.partitions = Some(partitions);
        }
    }
    s
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

fn show_sizes(rows: &[(&str, &Sizes)]) {
    let Some((_, first)) = rows.first() else {
        return;
    };
    print!("| when | entries | pruned | total | bytes/entry |");
    if first.partitions.is_some() {
        print!(" partitions |");
    }
    for (part, _) in &first.parts {
        print!(" {part} |");
    }
    println!();
    print!("|--|--:|--:|--:|--:|");
    if first.partitions.is_some() {
        print!("--:|");
    }
    for _ in &first.parts {
        print!("--:|");
    }
    println!();
    for (when, s) in rows {
        print!(
            "| {when} | {} | {} | {} | {:.0} |",
            s.entries,
            s.pruned,
            mb(s.total),
            s.total as f64 / s.entries.max(1) as f64
        );
        if let Some(p) = s.partitions {
            print!(" {p} |");
        }
        for (_, b) in &s.parts {
            print!(" {} |", mb(*b));
        }
        println!();
    }
}

// ----- the run -----

async fn run(backend: Backend, args: &Args) {
    let label = name(backend);
    println!("\n## {label}, {} entries", args.entries);
    let Some(db) = TestDb::open(backend, "retention_bench").await else {
        println!("cannot open {label}");
        return;
    };
    let store = db.store.clone();

    // The log, untimed but for the record.
    let now = SystemClock.now();
    let (filled, fill_secs) = fill(&*store, args.entries, now).await;
    let (indexed, index_secs) = index_all(&*store).await;
    let tree_size = sign_head(&*store).await;
    println!(
        "filled {filled} entries through append_entries ({FILL_BATCH} a call) in {fill_secs:.1} s \
         ({:.0}/s); copied {indexed} into the review table in {index_secs:.1} s; signed a \
         checkpoint of {tree_size}",
        filled as f64 / fill_secs
    );
    let size_filled = sizes(&db).await;
    // SQLite: the same log compacted, to set a pruned log's compacted size against.
    let size_filled_vacuumed = if args.vacuum && backend == Backend::Sqlite {
        let started = Instant::now();
        db.execute("VACUUM log").await;
        db.execute("VACUUM review").await;
        let s = sizes(&db).await;
        println!(
            "VACUUM of the filled log and review files: {:.0} s",
            started.elapsed().as_secs_f64()
        );
        Some(s)
    } else {
        None
    };

    // The writers, through one recorder, as the server's.
    let checkpointer = (args.checkpoint_every > 0).then(|| {
        Checkpointer::new(
            signer(),
            CheckpointPolicy {
                every_entries: args.checkpoint_every,
                every: Duration::from_secs(10),
            },
            None,
        )
    });
    let recorder_store: Arc<dyn Store> = if args.async_commits {
        let mut wrapper = Timed::new(store.clone());
        if let Some(w) = Arc::get_mut(&mut wrapper) {
            w.blocking = false;
        }
        wrapper
    } else {
        store.clone()
    };
    let recorder = Recorder::start(
        recorder_store,
        Arc::new(SystemClock),
        checkpointer,
        RecorderConfig::default(),
    );
    let events: Arc<Vec<Event>> = Arc::new(
        (0..WRITER_EVENTS)
            .map(|i| event(args.entries + i))
            .collect(),
    );
    let next = Arc::new(AtomicU64::new(0));
    // Warm-up, not counted.
    let warm = baseline_run(&recorder, &events, &next, args.writers, 3.0).await;
    println!("warm-up: {:.0} entries/s", warm.rate());

    let mut before = Vec::new();
    for _ in 0..args.rounds {
        before.push(baseline_run(&recorder, &events, &next, args.writers, args.secs).await);
    }
    let size_before = sizes(&db).await;

    // The prune, beside the writers.
    let archive = db.dir.path().join("archive");
    let timed = Timed::new(store.clone());
    let w = start_writers(&recorder, &events, &next, args.writers);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let task = {
        let (timed, recorder, archive) = (timed.clone(), recorder.clone(), archive.clone());
        tokio::spawn(async move {
            let policy = policy(&archive);
            let key = signer().verifier_key();
            let mut actor = Event::new("system:retention", Activity::LogPrune, "retention_bench");
            actor.auth = Some("system".into());
            let job = Pruning {
                policy: &policy,
                dir: &archive,
                key: &key,
                now: SystemClock.now(),
                dry_run: false,
            };
            let started = Instant::now();
            let report = retention::prune(&*timed, &recorder, &actor, &job).await;
            (report, started, Instant::now())
        })
    };
    let (report, prune_started, prune_ended) = task.await.expect("the prune's task");
    let report: PruneReport = report.expect("the prune");
    let at = |t: Instant| w.at(t);
    let (prune_from, prune_to) = (at(prune_started), at(prune_ended));
    // The prune's own calls: its phases and its transactions.
    let calls = timed.calls();
    let first = |what: &str| calls.iter().find(|c| c.what == what).map(|c| c.started);
    let last_end = |what: &str| {
        calls
            .iter()
            .filter(|c| c.what == what)
            .map(|c| c.started + c.took)
            .max()
    };
    let scan_end = first("archives").unwrap_or(prune_ended);
    let bundles_end = last_end("add_archive").unwrap_or(scan_end);
    let removal_start = [first("prune_whole_ranges"), first("prune_entries")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(prune_ended);
    let removal_end = [
        last_end("prune_whole_ranges"),
        last_end("prune_entries"),
        last_end("release_free_pages"),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(prune_ended);
    let phases = [
        (
            "choosing what is due (reads the log)",
            prune_started,
            scan_end,
        ),
        ("writing bundles", scan_end, bundles_end),
        ("removing payloads", removal_start, removal_end),
    ]
    .map(|(what, from, to)| (what, at(from), at(to), to.saturating_duration_since(from)));
    let (samples, errors) = w.finish().await;
    assert_eq!(errors, 0, "record() failed during the prune");
    let size_after = sizes(&db).await;

    let mut after = Vec::new();
    for _ in 0..args.rounds {
        after.push(baseline_run(&recorder, &events, &next, args.writers, args.secs).await);
    }
    drop(recorder);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let size_end = sizes(&db).await;

    // What each transaction held the log for (on SQLite, its write lock), not the call,
    // which also waits for the lock and then deletes the review copy's rows.
    let mut txs: Vec<Duration> = calls
        .iter()
        .filter(|c| c.what == "prune_entries")
        .map(|c| c.held.unwrap_or(c.took))
        .collect();
    txs.sort_unstable();
    let tx_sum: Duration = txs.iter().sum();
    let tx_pct = |p: f64| {
        if txs.is_empty() {
            return Duration::ZERO;
        }
        txs[((p * txs.len() as f64).ceil() as usize).clamp(1, txs.len()) - 1]
    };
    let tx_max = txs.last().copied().unwrap_or_default();
    let tx_over = txs
        .iter()
        .filter(|t| **t > Duration::from_millis(100))
        .count();
    let longest = calls
        .iter()
        .filter(|c| c.what == "prune_entries")
        .max_by_key(|c| c.held.unwrap_or(c.took))
        .copied();
    let scanned: u64 = calls
        .iter()
        .filter(|c| c.what == "entries_after" || c.what == "retention_facts_after")
        .map(|c| c.rows)
        .sum();
    let bundle_times: Vec<f64> = calls
        .iter()
        .filter(|c| c.what == "add_archive")
        .map(|c| (c.started - prune_started).as_secs_f64())
        .collect();
    let bundled: u64 = report.bundles.iter().map(|b| b.last + 1 - b.first).sum();
    let bundle_bytes: u64 = report.bundles.iter().map(|b| b.bytes).sum();

    // ----- the figures -----
    let base: Vec<Window> = before.iter().chain(&after).copied().collect();
    let base_rate = median(base.iter().map(Window::rate).collect());
    let base_p99 = median(base.iter().map(|w| ms(w.p99)).collect());
    let base_p50 = median(base.iter().map(|w| ms(w.p50)).collect());
    let base_max = base.iter().map(|w| ms(w.max)).fold(0.0, f64::max);
    let during = Window::of(&samples, prune_from, prune_to);
    let prune_secs = (prune_ended - prune_started).as_secs_f64();
    println!(
        "\n### {label}, {} entries: 64 writers without and during the prune\n",
        args.entries
    );
    println!(
        "prune: {} due of a checkpoint of {}, {} held, {} pruned, {} bundle(s), recorded as \
         entry {:?}; {prune_secs:.1} s in all",
        report.due,
        report.tree_size.unwrap_or(0),
        report.held,
        report.pruned,
        report.bundles.len(),
        report.recorded_as
    );
    println!(
        "\n| run | seconds | entries/s | vs baseline | p50 ms | p99 ms | p99 vs baseline | max ms | records > 100 ms | load |"
    );
    println!("|--|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let row = |what: &str, w: &Window| {
        println!(
            "| {what} | {:.1} | {:.0} | {:.0} % | {:.2} | {:.2} | {:.2}x | {:.1} | {} | {:.1} |",
            w.secs,
            w.rate(),
            100.0 * w.rate() / base_rate,
            ms(w.p50),
            ms(w.p99),
            ms(w.p99) / base_p99,
            ms(w.max),
            w.over_100ms,
            w.load
        );
    };
    for (i, w) in before.iter().enumerate() {
        row(&format!("baseline before {}", i + 1), w);
    }
    for (i, w) in after.iter().enumerate() {
        row(&format!("baseline after {}", i + 1), w);
    }
    println!(
        "| **baseline** (median of the {} runs) | | **{base_rate:.0}** | 100 % | {base_p50:.2} | **{base_p99:.2}** | 1.00x | {base_max:.1} | | |",
        base.len()
    );
    row("**during the whole prune**", &during);
    for (what, from, to, _) in &phases {
        row(
            &format!("· during {what}"),
            &Window::of(&samples, *from, *to),
        );
    }
    println!(
        "\ntargets: throughput during the prune ≥ 80 % of the baseline: {:.0} % ({}); p99 ≤ 2x: \
         {:.2}x ({})",
        100.0 * during.rate() / base_rate,
        if during.rate() >= 0.8 * base_rate {
            "met"
        } else {
            "not met"
        },
        ms(during.p99) / base_p99,
        if ms(during.p99) <= 2.0 * base_p99 {
            "met"
        } else {
            "not met"
        },
    );
    for (which, runs) in [("before", &before), ("after", &after)] {
        let rate = median(runs.iter().map(Window::rate).collect());
        let p99 = median(runs.iter().map(|w| ms(w.p99)).collect());
        println!(
            "against the baseline {which} alone ({rate:.0}/s, p99 {p99:.2} ms): {:.0} %, p99 {:.2}x",
            100.0 * during.rate() / rate,
            ms(during.p99) / p99
        );
    }
    let secs_in = |t: u32| (f64::from(t) - f64::from(prune_from)) / 1e6;
    println!(
        "the slowest record during the prune ({:.1} ms) returned {:.1} s into it; bundles were \
         complete (fsynced, renamed) at {} s; payloads were removed from {:.1} s to {:.1} s",
        ms(during.max),
        secs_in(during.slowest_at),
        bundle_times
            .iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(", "),
        secs_in(phases[2].1),
        secs_in(phases[2].2),
    );

    println!(
        "\n### {label}, {} entries: the prune's own work\n",
        args.entries
    );
    println!("| phase | seconds | entries | entries/s |");
    println!("|--|--:|--:|--:|");
    let counts = [scanned, bundled, report.pruned];
    for ((what, _, _, took), n) in phases.iter().zip(counts) {
        println!(
            "| {what} | {:.1} | {n} | {:.0} |",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "| the whole prune (due entries / wall time) | {prune_secs:.1} | {} | {:.0} |",
        report.due,
        report.due as f64 / prune_secs
    );
    if txs.is_empty() {
        println!(
            "\nno prune_entries calls: every due entry went with a whole range (below), whose \
             transactions are not timed one by one"
        );
    } else {
        println!(
            "\nprune transactions (prune_entries calls, paced): {} calls, {:.1} s held \
         in all ({:.0} entries/s inside them, {:.0} % of the removal phase); p50 {:.1} ms, \
         p99 {:.1} ms, **longest {:.1} ms** ({}), {tx_over} over 100 ms (target: none)",
            txs.len(),
            tx_sum.as_secs_f64(),
            report.pruned as f64 / tx_sum.as_secs_f64().max(1e-9),
            100.0 * tx_sum.as_secs_f64() / phases[2].3.as_secs_f64().max(1e-9),
            ms(tx_pct(0.5)),
            ms(tx_pct(0.99)),
            ms(tx_max),
            longest.map_or(String::new(), |c| format!(
                "{} entries, {:.1} s into the prune",
                c.rows,
                (c.started - prune_started).as_secs_f64()
            )),
        );
    }

    for c in calls
        .iter()
        .filter(|c| c.what == "prune_whole_ranges" && backend == Backend::Postgres)
    {
        println!(
            "whole ranges (prune_whole_ranges: kept leaves in transactions of 10,000 with rests, then each \
             partition detached and dropped, or swapped for a copy of its kept rows): {} entries \
             in {:.1} s ({:.0} entries/s), {:.1} s into the prune",
            c.rows,
            c.took.as_secs_f64(),
            c.rows as f64 / c.took.as_secs_f64().max(1e-9),
            (c.started - prune_started).as_secs_f64()
        );
    }

    let releases: Vec<&Call> = calls
        .iter()
        .filter(|c| c.what == "release_free_pages")
        .collect();
    if timed.free_pages_left.load(Ordering::Relaxed) != u64::MAX {
        println!(
            "free pages given back (release_free_pages, paced): {} steps, {} pages asked for, \
             {:.1} s in all, longest {:.1} ms; {} free pages left",
            releases.len(),
            releases.iter().map(|c| c.rows).sum::<u64>(),
            releases.iter().map(|c| c.took.as_secs_f64()).sum::<f64>(),
            releases.iter().map(|c| ms(c.took)).fold(0.0, f64::max),
            timed.free_pages_left.load(Ordering::Relaxed)
        );
    }

    println!("\n### {label}, {} entries: bytes on disk\n", args.entries);
    let mut shown = vec![("filled, before any writer", &size_filled)];
    if let Some(s) = &size_filled_vacuumed {
        shown.push(("filled, after VACUUM of the log and review files", s));
    }
    shown.extend([
        ("just before the prune", &size_before),
        ("just after the prune", &size_after),
        ("after the baselines after", &size_end),
    ]);
    let mut vacuumed = Vec::new();
    if args.vacuum {
        match backend {
            Backend::Sqlite => {
                let started = Instant::now();
                db.execute("VACUUM log").await;
                db.execute("VACUUM review").await;
                vacuumed.push((
                    format!(
                        "after VACUUM of the log and review files ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    ),
                    sizes(&db).await,
                ));
            }
            Backend::Postgres => {
                let started = Instant::now();
                db.execute("VACUUM access_log, access_log_pruned, merkle_nodes")
                    .await;
                vacuumed.push((
                    format!("after VACUUM ({:.0} s)", started.elapsed().as_secs_f64()),
                    sizes(&db).await,
                ));
                let started = Instant::now();
                db.execute("VACUUM FULL access_log, access_log_pruned, merkle_nodes")
                    .await;
                vacuumed.push((
                    format!(
                        "after VACUUM FULL ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    ),
                    sizes(&db).await,
                ));
            }
        }
    }
    for (what, s) in &vacuumed {
        shown.push((what.as_str(), s));
    }
    show_sizes(&shown);
    println!(
        "\nbundles: {} file(s), {} for {bundled} entries: **{:.1} bytes/entry**; the log before \
         any writer: **{:.0} bytes/entry**",
        report.bundles.len(),
        mb(bundle_bytes),
        bundle_bytes as f64 / bundled.max(1) as f64,
        size_filled.total as f64 / size_filled.entries.max(1) as f64,
    );
    if let Some((_, last)) = vacuumed.last() {
        let whole = last.entries - last.pruned;
        match backend {
            Backend::Postgres => {
                // After VACUUM FULL each table is compact: per-table figures are exact.
                let part = |name: &str| {
                    last.parts
                        .iter()
                        .find(|(p, _)| p.starts_with(name))
                        .map_or(0, |(_, b)| *b)
                };
                let tree = part("merkle_nodes") as f64 / last.entries.max(1) as f64;
                println!(
                    "compacted (after VACUUM FULL): a whole entry takes {:.0} bytes in access_log \
                     (its partitions and their eight indexes), a pruned entry {:.0} bytes in \
                     access_log_pruned, and every entry {tree:.0} bytes of merkle_nodes: whole \
                     {:.0}, pruned {:.0} bytes/entry",
                    part("access_log (") as f64 / whole.max(1) as f64,
                    part("access_log_pruned") as f64 / last.pruned.max(1) as f64,
                    part("access_log (") as f64 / whole.max(1) as f64 + tree,
                    part("access_log_pruned") as f64 / last.pruned.max(1) as f64 + tree,
                );
            }
            Backend::Sqlite => {
                if let Some(filled) = &size_filled_vacuumed {
                    // Whole entries at the compacted filled log's rate; the rest is pruned ones.
                    let per_whole = filled.total as f64 / filled.entries.max(1) as f64;
                    println!(
                        "compacted (after VACUUM): {:.0} bytes/entry over all {} entries; at \
                         {per_whole:.0} bytes for each of the {whole} whole entries (the filled \
                         log compacted), a pruned entry takes ~{:.0} bytes",
                        last.total as f64 / last.entries.max(1) as f64,
                        last.entries,
                        (last.total as f64 - whole as f64 * per_whole) / last.pruned.max(1) as f64
                    );
                }
            }
        }
    }
    db.drop().await;
}
