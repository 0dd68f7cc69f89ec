//! Benchmarks for the log engine, on SQLite and PostgreSQL, each run in a fresh database:
//! durable append throughput with group commit (the recorder) against one commit per entry,
//! record()-to-receipt latency under a steady offered load, and what one `append_entries`
//! costs by batch size (to see where the time goes). `-- --help` lists the choices.
//!
//! Figures and how to read them: BENCHMARKS.md at the workspace root.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accesslog_core::entry::{Activity, Entry, Event};
use accesslog_core::merkle::{Hash, NodeId};
use accesslog_core::{Clock, SystemClock, Timestamp};
use accesslog_engine::{Recorder, RecorderConfig};
use accesslog_store::{
    Appended, LeafRow, LogHead, LogReads, LogStore, Store, StoreResult, StoredCheckpoint,
};
use accesslog_testkit::{Backend, POSTGRES_URL_VAR, TestDb};
use async_trait::async_trait;
use tokio::task::JoinSet;

#[path = "log_bench/servers.rs"]
mod servers;

const HELP: &str = "\
log_bench: durable append throughput and latency of the Access Log engine.

usage: cargo bench -p accesslog-engine --bench log_bench -- [WHAT...] [OPTIONS]

WHAT picks a subset (default: sqlite postgres throughput latency batches):
  sqlite, postgres      the backends (PostgreSQL needs ACCESSLOG_TEST_POSTGRES_URL,
                        e.g. postgres://postgres@127.0.0.1/test; skipped when unset)
  throughput            group commit vs one commit per entry, at each writer count
  latency               record() to receipt at a steady offered load
  batches               the cost of one append_entries call by batch size
  fill                  fill a fresh SQLite log with --entries entries (not in the default)
  verify                fill a fresh log (each backend picked) with --entries entries, then
                        time `verify` beside a bare read of the same rows as full entries
                        (not in the default)
  servers               PostgreSQL only: --servers recorders, each with its own store and
                        connections, appending to one log at once with --writers (the last
                        value) writers each; where the appending connections wait (not in
                        the default)

OPTIONS:
  --secs N              seconds per throughput run (default 3)
  --writers A,B,C       concurrent writers for throughput (default 1,8,64)
  --rate N              offered load for latency, entries/s (default 1000)
  --latency-secs N      seconds of offered load (default 5)
  --entries N           entries for fill (default 1000000)
  --servers A,B,C       recorders sharing one log, for servers (default 1,2,3)
  --drop-indexes A,B    drop these of the review indexes (by the part after
                        access_log_review_by_ on SQLite, access_log_by_ on PostgreSQL:
                        time, user, activity, export_from, report,
                        file_type, outcome, document; or all) from each fresh database
                        before a throughput run, to see what each costs appends
";

/// The review indexes (migrations 0006 and 0007), by the part of their name after
/// `access_log_review_by_` (SQLite) or `access_log_by_` (PostgreSQL).
const REVIEW_INDEXES: [&str; 8] = [
    "time",
    "user",
    "activity",
    "export_from",
    "report",
    "file_type",
    "outcome",
    "document",
];

#[derive(Debug)]
struct Args {
    backends: Vec<Backend>,
    throughput: bool,
    latency: bool,
    batches: bool,
    fill: bool,
    verify: bool,
    servers: Vec<usize>,
    secs: f64,
    writers: Vec<usize>,
    rate: u64,
    latency_secs: f64,
    entries: u64,
    drop_indexes: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut backends = Vec::new();
    let (mut throughput, mut latency, mut batches, mut fill) = (false, false, false, false);
    let (mut verify, mut servers) = (false, false);
    let mut server_counts = vec![1, 2, 3];
    let mut args = Args {
        backends: Vec::new(),
        throughput: false,
        latency: false,
        batches: false,
        fill: false,
        verify: false,
        servers: Vec::new(),
        secs: 3.0,
        writers: vec![1, 8, 64],
        rate: 1000,
        latency_secs: 5.0,
        entries: 1_000_000,
        drop_indexes: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--bench" => {} // cargo bench passes this to every bench binary
            "-h" | "--help" => return Err(String::new()),
            "sqlite" => backends.push(Backend::Sqlite),
            "postgres" => backends.push(Backend::Postgres),
            "throughput" => throughput = true,
            "latency" => latency = true,
            "batches" => batches = true,
            "fill" => fill = true,
            "verify" => verify = true,
            "servers" => servers = true,
            "--servers" => {
                server_counts = value("--servers")?
                    .split(',')
                    .map(number)
                    .collect::<Result<_, _>>()?;
            }
            "--secs" => args.secs = number(&value("--secs")?)?,
            "--latency-secs" => args.latency_secs = number(&value("--latency-secs")?)?,
            "--rate" => args.rate = number(&value("--rate")?)?,
            "--entries" => args.entries = number(&value("--entries")?)?,
            "--drop-indexes" => {
                let list = value("--drop-indexes")?;
                args.drop_indexes = if list == "all" {
                    REVIEW_INDEXES.iter().map(|s| (*s).to_owned()).collect()
                } else {
                    let names: Vec<String> = list.split(',').map(str::to_owned).collect();
                    if let Some(bad) = names.iter().find(|n| !REVIEW_INDEXES.contains(&n.as_str()))
                    {
                        return Err(format!(
                            "{bad:?} is not one of the review indexes ({})",
                            REVIEW_INDEXES.join(", ")
                        ));
                    }
                    names
                };
            }
            "--writers" => {
                args.writers = value("--writers")?
                    .split(',')
                    .map(number)
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if backends.is_empty() {
        backends = vec![Backend::Sqlite, Backend::Postgres];
    }
    if !(throughput || latency || batches || fill || verify || servers) {
        (throughput, latency, batches) = (true, true, true);
    }
    args.backends = backends;
    (args.throughput, args.latency, args.batches, args.fill) = (throughput, latency, batches, fill);
    args.verify = verify;
    if servers {
        args.servers = server_counts;
    }
    Ok(args)
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("{s:?} is not a number"))
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}\n");
            }
            eprint!("{HELP}");
            std::process::exit(if e.is_empty() { 0 } else { 2 });
        }
    };
    let sample = Entry {
        seq: 123_456,
        timestamp: SystemClock.now(),
        event: event(7, 123_456),
    };
    println!(
        "log_bench: {} CPUs; each entry is {} canonical bytes; recorder max_batch {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        sample.canonical_bytes().len(),
        RecorderConfig::default().max_batch,
    );
    if args.backends.contains(&Backend::Sqlite) {
        fsync_cost().await;
    }
    let per_backend = args.throughput || args.latency || args.batches;
    for &backend in args.backends.iter().filter(|_| per_backend) {
        let name = backend_name(backend);
        if backend == Backend::Postgres && std::env::var(POSTGRES_URL_VAR).is_err() {
            println!(
                "\n## PostgreSQL: skipped ({POSTGRES_URL_VAR} is not set; \
                 e.g. postgres://postgres@127.0.0.1/test)"
            );
            continue;
        }
        println!("\n## {name}");
        if args.throughput {
            throughput(backend, &args).await;
        }
        if args.latency {
            latency(backend, &args).await;
        }
        if args.batches {
            batch_costs(backend).await;
        }
    }
    if args.verify {
        for &backend in &args.backends {
            if backend == Backend::Postgres && std::env::var(POSTGRES_URL_VAR).is_err() {
                println!("\n## verify on PostgreSQL: skipped ({POSTGRES_URL_VAR} is not set)");
                continue;
            }
            verify_throughput(backend, args.entries).await;
        }
    }
    if !args.servers.is_empty() {
        if std::env::var(POSTGRES_URL_VAR).is_err() {
            println!("\n## servers: skipped ({POSTGRES_URL_VAR} is not set)");
        } else {
            let writers = args.writers.last().copied().unwrap_or(64);
            servers::servers(&args.servers, writers, args.secs).await;
        }
    }
    if args.fill {
        println!("\n## fill");
        let db = TestDb::sqlite().await;
        let started = Instant::now();
        let filled = fill(db.store.clone(), args.entries, 256).await;
        let secs = started.elapsed().as_secs_f64();
        let bytes = std::fs::metadata(db.dir.path().join("test.db")).map_or(0, |m| m.len());
        println!(
            "filled a fresh SQLite log with {filled} entries in {secs:.1} s ({:.0} entries/s); \
             database file {:.0} MB",
            filled as f64 / secs,
            bytes as f64 / 1e6
        );
    }
}

/// `verify` on a filled log, beside the naive way of walking it: reading every row back
/// as a full entry (what verify itself did at first), without even hashing.
async fn verify_throughput(backend: Backend, entries: u64) {
    let name = backend_name(backend);
    println!("\n## verify on {name}");
    let db = TestDb::open(backend, "verify_bench")
        .await
        .expect("a database");
    let filled = fill(db.store.clone(), entries, 256).await;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let verifier = accesslog_core::checkpoint::LogSigner::from_seed("bench.example/log", [7; 32])
        .expect("a signer")
        .verifier();

    let started = Instant::now();
    let mut rows = 0u64;
    let mut after = 0u64;
    loop {
        let page = db
            .store
            .entries_with_leaves_after(after, 20_000)
            .await
            .expect("read");
        let Some(last) = page.last() else { break };
        after = u64::try_from(last.seq).unwrap_or(u64::MAX);
        rows += page.len() as u64;
    }
    let read_secs = started.elapsed().as_secs_f64();

    eprintln!("verify: starting (pid {})", std::process::id());
    let started = Instant::now();
    let cpu_before = cpu_secs();
    let verified = accesslog_engine::verify::verify(&*db.store, &verifier, Vec::new(), |_, _| {})
        .await
        .expect("the log verifies");
    let verify_secs = started.elapsed().as_secs_f64();
    println!(
        "(verify kept {:.2} cores busy on average: this process's CPU time over the wall time)",
        (cpu_secs() - cpu_before) / verify_secs
    );
    let started = Instant::now();
    let review = db
        .store
        .check_review_copy()
        .await
        .expect("the review check");
    let review_secs = started.elapsed().as_secs_f64();
    assert_eq!(review, None);
    println!("(of which the review copy's check alone takes {review_secs:.2} s)");
    assert_eq!(verified.entries, filled);
    assert_eq!(rows, filled);
    println!(
        "\n| on a {filled}-entry {name} log | seconds | entries/s |\n|--|--:|--:|\n\
         | baseline: read every row as a full entry, hash nothing | {read_secs:.2} | {:.0} |\n\
         | verify: re-encode, hash every leaf, rebuild the tree, compare | {verify_secs:.2} | {:.0} |\n\
         verify takes {:.2}x the baseline's time",
        rows as f64 / read_secs,
        filled as f64 / verify_secs,
        verify_secs / read_secs
    );
    let hash_secs = hashing_floor(filled);
    println!(
        "the floor, hashing alone on one core: {hash_secs:.2} s for {filled} leaves (this \
         bench's entries, encoded) and as many nodes; so on {cores} cores verify cannot pass \
         {:.0} entries/s even if reading cost nothing",
        cores as f64 * filled as f64 / hash_secs
    );
    db.drop().await;
}

/// Seconds of one core to hash `n` leaves (canonical bytes of this bench's entries, encoded
/// before the clock starts) and `n` inner nodes: what any verify must do at least, reading
/// aside.
fn hashing_floor(n: u64) -> f64 {
    use accesslog_core::merkle::{leaf_hash, node_hash};
    let leaves: Vec<Vec<u8>> = (0..n.min(100_000))
        .map(|i| {
            let entry = Entry {
                seq: i + 1,
                timestamp: SystemClock.now(),
                event: event(0, i),
            };
            entry.canonical_bytes()
        })
        .collect();
    let started = Instant::now();
    let mut node = [0u8; 32];
    for i in 0..n as usize {
        let leaf = leaf_hash(&leaves[i % leaves.len()]);
        node = node_hash(&node, &leaf);
    }
    std::hint::black_box(node);
    started.elapsed().as_secs_f64()
}

/// This process's user and system CPU time so far, in seconds (Linux; 0 elsewhere).
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields 14 and 15 (utime, stime), after the command name in parentheses.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

async fn fresh(backend: Backend) -> TestDb {
    match TestDb::open(backend, "log_bench").await {
        Some(db) => db,
        None => {
            eprintln!("log_bench: cannot open a fresh {backend:?} database");
            std::process::exit(1);
        }
    }
}

/// A realistic export entry (~350 canonical bytes, a ~300-byte row), different for every
/// writer and count.
fn event(writer: usize, n: u64) -> Event {
    let mix = |x: u64| {
        let x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        let x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    };
    let seed = mix((writer as u64) << 40 ^ n);
    let mut e = Event::new(
        &format!("user{}@example.com", writer % 50),
        Activity::Export,
        "GET /api/method/frappe.desk.query_report.export_query",
    );
    e.report_name = Some("General Ledger".into());
    e.file_type = Some("CSV".into());
    e.row_count = Some(seed % 5000);
    e.byte_count = Some(seed % 1_000_000);
    e.content_sha256 = Some(format!(
        "{:016x}{:016x}{:016x}{:016x}",
        seed,
        mix(seed),
        mix(seed ^ 1),
        mix(seed ^ 2)
    ));
    e.roles = vec!["Accounts Manager".into(), "Accounts User".into()];
    e.ip = Some(format!(
        "10.{}.{}.{}",
        writer % 256,
        (n >> 8) % 256,
        n % 256
    ));
    e.request_id = Some(format!("{:032x}", u128::from(seed) << 64 | u128::from(n)));
    e
}

// ----- measuring the store -----

/// Wraps a store and keeps the size and duration of every `append_entries` call, and the
/// entries and time of the recorder's `index_for_review` calls.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn Store>,
    calls: Mutex<Vec<(usize, Duration)>>,
    indexed: Mutex<(u64, Duration)>,
}

impl Timed {
    fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            calls: Mutex::new(Vec::new()),
            indexed: Mutex::new((0, Duration::ZERO)),
        })
    }

    fn stats(&self) -> BatchStats {
        let calls = self.calls.lock().map(|c| c.clone()).unwrap_or_default();
        let mut stats = BatchStats::of(&calls);
        (stats.indexed, stats.indexing) = self.indexed.lock().map(|i| *i).unwrap_or_default();
        stats
    }
}

#[derive(Debug, Default)]
struct BatchStats {
    calls: usize,
    entries: usize,
    busy: Duration,
    max_batch: usize,
    /// The batch size the median entry was committed in.
    median_entry_batch: usize,
    /// Calls that carried one or two entries: a full commit's cost for almost nothing.
    tiny_calls: usize,
    /// Entries copied into the review table, and the time that took.
    indexed: u64,
    indexing: Duration,
}

impl BatchStats {
    fn of(calls: &[(usize, Duration)]) -> Self {
        let entries: usize = calls.iter().map(|c| c.0).sum();
        let mut sizes: Vec<usize> = calls.iter().map(|c| c.0).collect();
        sizes.sort_unstable();
        let mut seen = 0;
        let median_entry_batch = sizes
            .iter()
            .find(|&&s| {
                seen += s;
                seen * 2 >= entries
            })
            .copied()
            .unwrap_or(0);
        Self {
            calls: calls.len(),
            entries,
            busy: calls.iter().map(|c| c.1).sum(),
            max_batch: sizes.last().copied().unwrap_or(0),
            median_entry_batch,
            tiny_calls: sizes.iter().filter(|&&s| s <= 2).count(),
            indexed: 0,
            indexing: Duration::ZERO,
        }
    }

    fn mean_batch(&self) -> f64 {
        self.entries as f64 / self.calls.max(1) as f64
    }

    fn mean_call_ms(&self) -> f64 {
        self.busy.as_secs_f64() * 1e3 / self.calls.max(1) as f64
    }

    fn us_per_entry(&self) -> f64 {
        self.busy.as_secs_f64() * 1e6 / self.entries.max(1) as f64
    }
}

#[async_trait]
impl LogReads for Timed {
    async fn log_head(&self) -> StoreResult<LogHead> {
        self.inner.log_head().await
    }
    async fn entries_after(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<Entry>> {
        self.inner.entries_after(after_seq, limit).await
    }
    async fn entry(&self, seq: u64) -> StoreResult<Option<Entry>> {
        self.inner.entry(seq).await
    }
    async fn search_entries(
        &self,
        q: &accesslog_store::log_search::EntryQuery,
        page: accesslog_store::log_search::EntryPage,
        limit: u32,
    ) -> StoreResult<Vec<Entry>> {
        self.inner.search_entries(q, page, limit).await
    }
    async fn activity_since(
        &self,
        from: Timestamp,
    ) -> StoreResult<accesslog_store::log_search::ActivitySummary> {
        self.inner.activity_since(from).await
    }
    async fn count_entries(
        &self,
        q: &accesslog_store::log_search::EntryQuery,
        by: accesslog_store::log_search::GroupBy,
        sample: u32,
        top: u32,
    ) -> StoreResult<Vec<(String, u64)>> {
        self.inner.count_entries(q, by, sample, top).await
    }
    async fn retention_facts_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<accesslog_store::retention::RetentionFacts>> {
        self.inner.retention_facts_after(after_seq, limit).await
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
        let started = Instant::now();
        let result = self.inner.append_entries(events, at).await;
        let took = started.elapsed();
        if result.is_ok()
            && let Ok(mut calls) = self.calls.lock()
        {
            calls.push((events.len(), took));
        }
        result
    }
    async fn index_for_review(&self, limit: u32) -> StoreResult<u64> {
        let started = Instant::now();
        let result = self.inner.index_for_review(limit).await;
        if let (Ok(n), Ok(mut indexed)) = (&result, self.indexed.lock()) {
            indexed.0 += n;
            indexed.1 += started.elapsed();
        }
        result
    }
    async fn entries_with_leaves_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<LeafRow>> {
        self.inner.entries_with_leaves_after(after_seq, limit).await
    }
    async fn merkle_nodes(&self, ids: &[NodeId]) -> StoreResult<Vec<(NodeId, Hash)>> {
        self.inner.merkle_nodes(ids).await
    }
    async fn prune_entries(
        &self,
        batch: &accesslog_store::retention::PruneBatch,
    ) -> StoreResult<accesslog_store::retention::BatchPruned> {
        self.inner.prune_entries(batch).await
    }
    async fn tidy_after_prune(&self) -> StoreResult<u64> {
        self.inner.tidy_after_prune().await
    }
    async fn release_free_pages(&self, pages: u32) -> StoreResult<Option<u64>> {
        self.inner.release_free_pages(pages).await
    }
    async fn restore_entries(
        &self,
        entries: &[accesslog_core::entry::Entry],
    ) -> StoreResult<accesslog_store::retention::Restored> {
        self.inner.restore_entries(entries).await
    }
}

// ----- throughput -----

#[derive(Debug)]
struct Run {
    entries: u64,
    errors: u64,
    elapsed: Duration,
    stats: BatchStats,
}

impl Run {
    fn per_sec(&self) -> f64 {
        self.entries as f64 / self.elapsed.as_secs_f64()
    }
}

/// How a writer gets one entry durably into the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Through the recorder: many callers' entries share one transaction.
    GroupCommit,
    /// `append_entries(&[event])` per entry: one INSERT and one COMMIT each.
    Naive,
}

/// `writers` tasks each record entries back to back until `duration` has passed.
async fn run_writers(
    backend: Backend,
    mode: Mode,
    writers: usize,
    duration: Duration,
    drop_indexes: &[String],
) -> Run {
    let db = fresh(backend).await;
    // Where the review indexes live (migration 0007): on SQLite's review table, on
    // PostgreSQL's access_log.
    let prefix = match backend {
        Backend::Sqlite => "access_log_review_by_",
        Backend::Postgres => "access_log_by_",
    };
    for index in drop_indexes {
        db.execute(&format!("DROP INDEX IF EXISTS {prefix}{index}"))
            .await;
    }
    let timed = Timed::new(db.store.clone());
    let store: Arc<dyn LogStore> = timed.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let recorder = Recorder::start(
        store.clone(),
        clock.clone(),
        None,
        RecorderConfig::default(),
    );
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for w in 0..writers {
        let (recorder, store, clock) = (recorder.clone(), store.clone(), clock.clone());
        tasks.spawn(async move {
            let (mut done, mut errors) = (0u64, 0u64);
            while Instant::now() < deadline {
                let e = event(w, done + errors);
                let ok = match mode {
                    Mode::GroupCommit => recorder.record(e).await.is_ok(),
                    Mode::Naive => store.append_entries(&[e], clock.now()).await.is_ok(),
                };
                if ok {
                    done += 1;
                } else {
                    errors += 1;
                }
            }
            (done, errors)
        });
    }
    let (mut entries, mut errors) = (0, 0);
    for (done, failed) in tasks.join_all().await {
        entries += done;
        errors += failed;
    }
    let elapsed = started.elapsed();
    drop(recorder);
    let stats = timed.stats();
    db.drop().await;
    Run {
        entries,
        errors,
        elapsed,
        stats,
    }
}

async fn throughput(backend: Backend, args: &Args) {
    let duration = Duration::from_secs_f64(args.secs);
    println!(
        "\n### durable appends, {:.0} s per run, fresh database per run{}\n",
        args.secs,
        if args.drop_indexes.is_empty() {
            String::new()
        } else {
            format!(
                ", without the review indexes {{{}}}",
                args.drop_indexes.join(",")
            )
        }
    );
    println!("| writers | group commit entries/s | naive entries/s | ratio |");
    println!("|--:|--:|--:|--:|");
    let mut details = Vec::new();
    for &writers in &args.writers {
        let drop = &args.drop_indexes;
        let group = run_writers(backend, Mode::GroupCommit, writers, duration, drop).await;
        let naive = run_writers(backend, Mode::Naive, writers, duration, drop).await;
        println!(
            "| {writers} | {:.0} | {:.0} | {:.1}x |",
            group.per_sec(),
            naive.per_sec(),
            group.per_sec() / naive.per_sec()
        );
        details.push((writers, group, naive));
    }
    println!(
        "\nwhere the time went (per append_entries call; busy = share of the run's wall time \
         spent inside append_entries, summed over concurrent calls; indexed = entries the \
         recorder copied into the review table in the run, and the share of the run that \
         took):\n"
    );
    println!(
        "| writers | mode | entries | errors | calls | mean batch | median entry's batch | \
         max batch | calls of 1-2 | ms per call | µs per entry | busy | indexed | indexing |"
    );
    println!("|--:|--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (writers, group, naive) in &details {
        for (mode, run) in [("group", group), ("naive", naive)] {
            let s = &run.stats;
            println!(
                "| {writers} | {mode} | {} | {} | {} | {:.1} | {} | {} | {:.0}% | {:.2} | {:.1} | \
                 {:.0}% | {} | {:.0}% |",
                run.entries,
                run.errors,
                s.calls,
                s.mean_batch(),
                s.median_entry_batch,
                s.max_batch,
                100.0 * s.tiny_calls as f64 / s.calls.max(1) as f64,
                s.mean_call_ms(),
                s.us_per_entry(),
                100.0 * s.busy.as_secs_f64() / run.elapsed.as_secs_f64(),
                s.indexed,
                100.0 * s.indexing.as_secs_f64() / run.elapsed.as_secs_f64()
            );
        }
    }
}

/// Fills `store` with `entries` entries through the recorder, `writers` at a time; returns
/// how many were recorded. The starting point for benchmarks of a large log (verify).
async fn fill(store: Arc<dyn Store>, entries: u64, writers: usize) -> u64 {
    let recorder = Recorder::start(
        store,
        Arc::new(SystemClock),
        None,
        RecorderConfig::default(),
    );
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for w in 0..writers {
        let (recorder, next) = (recorder.clone(), next.clone());
        tasks.spawn(async move {
            let mut done = 0u64;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= entries {
                    return done;
                }
                match recorder.record(event(w, n)).await {
                    Ok(_) => done += 1,
                    Err(e) => {
                        eprintln!("fill: {e}");
                        return done;
                    }
                }
            }
        });
    }
    tasks.join_all().await.into_iter().sum()
}

// ----- latency -----

/// Open loop: one new record() call every 1/rate s whatever the earlier ones are doing.
async fn latency(backend: Backend, args: &Args) {
    let db = fresh(backend).await;
    let timed = Timed::new(db.store.clone());
    let recorder = Recorder::start(
        timed.clone(),
        Arc::new(SystemClock),
        None,
        RecorderConfig::default(),
    );
    let total = (args.rate as f64 * args.latency_secs) as u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    for n in 0..total {
        let scheduled = tick.tick().await;
        let recorder = recorder.clone();
        tasks.spawn(async move {
            let called = Instant::now();
            let lag = scheduled.elapsed();
            let ok = recorder.record(event(n as usize % 64, n)).await.is_ok();
            (called.elapsed(), lag, ok)
        });
    }
    let offered = started.elapsed();
    let results = tasks.join_all().await;
    let errors = results.iter().filter(|r| !r.2).count();
    let mut lat: Vec<Duration> = results.iter().map(|r| r.0).collect();
    let max_lag = results.iter().map(|r| r.1).max().unwrap_or_default();
    lat.sort_unstable();
    let stats = timed.stats();
    drop(recorder);
    db.drop().await;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "\n### latency, record() call to receipt, {total} entries offered at {:.0}/s (open loop)\n",
        total as f64 / offered.as_secs_f64()
    );
    println!(
        "| p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | mean batch | ms per commit |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|");
    println!(
        "| {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {errors} | {:.1} | {:.2} |",
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.90)),
        ms(percentile(&lat, 0.99)),
        ms(percentile(&lat, 0.999)),
        ms(lat.last().copied().unwrap_or_default()),
        stats.mean_batch(),
        stats.mean_call_ms(),
    );
    println!(
        "(latest a call started after its scheduled time: {:.2} ms)",
        ms(max_lag)
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

// ----- where the time goes -----

/// How long one fsync takes on the disk the temporary folder is on: the floor under every
/// durable commit on SQLite.
async fn fsync_cost() {
    let result = tokio::task::spawn_blocking(|| -> std::io::Result<Duration> {
        use std::io::Write;
        let dir = tempfile::tempdir()?;
        let mut file = std::fs::File::create(dir.path().join("fsync"))?;
        let block = [7u8; 4096];
        let rounds = 200;
        let started = Instant::now();
        for _ in 0..rounds {
            file.write_all(&block)?;
            file.sync_data()?;
        }
        Ok(started.elapsed() / rounds)
    })
    .await;
    match result {
        Ok(Ok(each)) => println!(
            "one 4 KiB append + fdatasync in the temporary folder: {:.2} ms",
            each.as_secs_f64() * 1e3
        ),
        Ok(Err(e)) => println!("could not time fsync: {e}"),
        Err(e) => println!("could not time fsync: {e}"),
    }
}

/// Calls `append_entries` directly with fixed batch sizes, one after another, so the cost
/// of a commit can be split into a fixed part (the fsync and round trips) and a part per
/// entry; then compares a steady batch size with sizes that change every call (each new
/// size is new SQL text for the multi-row INSERT, so a new prepared statement); then
/// inserts rows with SQL alone, no binding, to show the database's own floor.
async fn batch_costs(backend: Backend) {
    let db = fresh(backend).await;
    let clock = SystemClock;
    let mut n = 0u64;
    let mut batch = |size: usize| -> Vec<Event> {
        (0..size)
            .map(|_| {
                n += 1;
                event(n as usize % 64, n)
            })
            .collect()
    };
    // A statement's fixed cost: the round trip to the database (for SQLite, to the
    // connection's worker thread), paid by each of the statements in an append.
    let rounds = 2000u32;
    let started = Instant::now();
    for _ in 0..rounds {
        if let Err(e) = db.store.ping().await {
            println!("ping failed: {e}");
            return;
        }
    }
    let ping = started.elapsed() / rounds;
    println!(
        "\none statement round trip (ping, SELECT 1, mean of {rounds}): {:.0} µs",
        ping.as_secs_f64() * 1e6
    );
    // Steady state: a log that has been written a while, whose WAL has been checkpointed
    // and is being reused rather than grown (growing it makes every fsync dearer).
    for _ in 0..4 {
        if let Err(e) = db.store.append_entries(&batch(4096), clock.now()).await {
            println!("append_entries failed: {e}");
            return;
        }
    }
    println!("\n### one append_entries call, by batch size (one caller, back to back)\n");
    println!("| batch | calls | ms per call | µs per entry | entries/s |");
    println!("|--:|--:|--:|--:|--:|");
    for size in [1usize, 16, 64, 128, 1024, 4096] {
        let mut took = Duration::ZERO;
        let mut calls = 0u32;
        // One warm-up call so the statement for this size is already prepared.
        let _ = db.store.append_entries(&batch(size), clock.now()).await;
        while calls < 5 || (took < Duration::from_millis(1500) && calls < 200) {
            let events = batch(size);
            let started = Instant::now();
            if let Err(e) = db.store.append_entries(&events, clock.now()).await {
                println!("append_entries failed: {e}");
                return;
            }
            took += started.elapsed();
            calls += 1;
        }
        let per_call = took / calls;
        println!(
            "| {size} | {calls} | {:.2} | {:.1} | {:.0} |",
            per_call.as_secs_f64() * 1e3,
            per_call.as_secs_f64() * 1e6 / size as f64,
            size as f64 / per_call.as_secs_f64()
        );
    }

    // Same mean size, steady versus changing: the difference is the statement cache.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut sizes = Vec::new();
    for _ in 0..40 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        sizes.push(200 + (rng % 101) as usize);
    }
    let mean = sizes.iter().sum::<usize>() / sizes.len();
    println!("\n| batch sizes (40 calls) | ms per call | µs per entry |");
    println!("|--|--:|--:|");
    for (label, plan) in [
        (format!("always {mean}"), vec![mean; sizes.len()]),
        (format!("200..=300, mean {mean}"), sizes.clone()),
    ] {
        let mut took = Duration::ZERO;
        let mut count = 0;
        for size in &plan {
            let events = batch(*size);
            let started = Instant::now();
            if let Err(e) = db.store.append_entries(&events, clock.now()).await {
                println!("append_entries failed: {e}");
                return;
            }
            took += started.elapsed();
            count += size;
        }
        println!(
            "| {label} | {:.2} | {:.1} |",
            took.as_secs_f64() * 1e3 / plan.len() as f64,
            took.as_secs_f64() * 1e6 / count as f64
        );
    }
    db.drop().await;

    // The database alone: rows made in SQL, one statement, one commit.
    let db = fresh(backend).await;
    let rows = 100_000;
    let (entries_sql, nodes_sql) = match backend {
        Backend::Sqlite => (
            format!(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) \
                 INSERT INTO access_log (seq, timestamp, \"user\", activity, method, report_name, \
                 file_type, row_count, byte_count, content_sha256, outcome, ip, request_id, roles, \
                 source, leaf_hash) \
                 SELECT x, 1764406800000000 + x, 'user' || (x % 50) || '@example.com', 'export', \
                 'GET /api/method/frappe.desk.query_report.export_query', 'General Ledger', 'CSV', \
                 x % 5000, x * 7 % 1000000, lower(hex(randomblob(32))), 'granted', \
                 '10.0.' || (x % 256) || '.' || (x % 200), lower(hex(randomblob(16))), \
                 '[\"Accounts Manager\",\"Accounts User\"]', 'local', randomblob(32) FROM c"
            ),
            format!(
                "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < {} - 1) \
                 INSERT INTO merkle_nodes (id, hash) \
                 SELECT x, randomblob(32) FROM c",
                2 * rows
            ),
        ),
        Backend::Postgres => (
            format!(
                "INSERT INTO access_log (seq, timestamp, \"user\", activity, method, report_name, \
                 file_type, row_count, byte_count, content_sha256, outcome, ip, request_id, roles, \
                 source, leaf_hash) \
                 SELECT x, 1764406800000000 + x, 'user' || (x % 50) || '@example.com', 'export', \
                 'GET /api/method/frappe.desk.query_report.export_query', 'General Ledger', 'CSV', \
                 x % 5000, x * 7 % 1000000, md5(x::text) || md5((-x)::text), 'granted', \
                 '10.0.' || (x % 256) || '.' || (x % 200), md5((x + 1)::text), \
                 '[\"Accounts Manager\",\"Accounts User\"]', 'local', \
                 decode(md5(x::text) || md5((-x)::text), 'hex') \
                 FROM generate_series(1, {rows}) AS x"
            ),
            format!(
                "INSERT INTO merkle_nodes (id, hash) \
                 SELECT x, decode(md5(x::text) || md5((-x)::text), 'hex') \
                 FROM generate_series(0, {} - 1) AS x",
                2 * rows
            ),
        ),
    };
    let started = Instant::now();
    db.execute(&entries_sql).await;
    let entries_took = started.elapsed();
    let started = Instant::now();
    db.execute(&nodes_sql).await;
    let nodes_took = started.elapsed();
    db.drop().await;
    println!(
        "\nthe database alone, rows generated in SQL, one statement and one commit each:\n\n\
         | rows | table | ms | µs per row |\n|--:|--|--:|--:|\n\
         | {rows} | access_log | {:.0} | {:.2} |\n\
         | {} | merkle_nodes | {:.0} | {:.2} |",
        entries_took.as_secs_f64() * 1e3,
        entries_took.as_secs_f64() * 1e6 / rows as f64,
        2 * rows,
        nodes_took.as_secs_f64() * 1e3,
        nodes_took.as_secs_f64() * 1e6 / (2 * rows) as f64,
    );
}
