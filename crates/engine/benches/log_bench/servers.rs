//! `servers`: several recorders, each with its own store (its own connections, as separate
//! `accesslog serve` processes have), appending to one PostgreSQL log at once. Without HTTP,
//! nginx and a load generator on the same two cores, this is the log's own ceiling for a
//! site of several servers, and the sampled wait events of the appending connections say
//! where it is: the `log_state` row lock, the commit's fsync, PostgreSQL's CPU, or the
//! servers' side of the transaction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accesslog_core::{Clock, SystemClock};
use accesslog_engine::{Recorder, RecorderConfig};
use accesslog_store::{LogStore, Store};
use accesslog_store_postgres::{PgStore, WRITER_APPLICATION_NAME};
use accesslog_testkit::{Backend, TestDb};
use tokio::task::JoinSet;

use crate::{Timed, event, fresh};

/// What an appending connection was doing when sampled.
const STATES: [(&str, &str); 6] = [
    ("lock", "waiting for a lock (the log_state row)"),
    ("fsync", "writing or syncing the WAL (the commit)"),
    ("pg cpu", "running a statement"),
    ("server", "in a transaction, waiting for its server"),
    ("idle", "between transactions"),
    ("other", "any other wait"),
];

fn classify(sample: &str) -> &'static str {
    let mut parts = sample.split('|');
    let (state, kind, event) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    match (state, kind) {
        ("idle", _) => "idle",
        ("idle in transaction", _) => "server",
        ("active", "Lock") => "lock",
        ("active", "") => "pg cpu",
        ("active", "IO") | ("active", "LWLock") if event.starts_with("WAL") => "fsync",
        _ => "other",
    }
}

pub async fn servers(counts: &[usize], writers: usize, secs: f64) {
    println!(
        "\n## PostgreSQL: one log, several servers ({writers} writers each, {secs:.0} s per run, \
         fresh database per run)\n"
    );
    println!(
        "Each server is a recorder with its own store and connections. The appending \
         connections (`application_name` = '{WRITER_APPLICATION_NAME}') are sampled in \
         `pg_stat_activity` every 2 ms: the shares below are of those samples.\n"
    );
    let header: Vec<&str> = STATES.iter().map(|s| s.0).collect();
    println!(
        "| servers | entries/s | vs one | commits/s | mean batch | ms per commit | cores busy | {} |",
        header.join(" | ")
    );
    println!(
        "|--:|--:|--:|--:|--:|--:|--:|{}",
        "--:|".repeat(STATES.len())
    );
    let mut one = None;
    for &n in counts {
        let run = run(n, writers, Duration::from_secs_f64(secs)).await;
        let per_sec = run.entries as f64 / run.elapsed.as_secs_f64();
        let base = *one.get_or_insert(per_sec);
        let total: u64 = run.samples.values().sum();
        let shares: Vec<String> = STATES
            .iter()
            .map(|(name, _)| {
                let k = run.samples.get(name).copied().unwrap_or(0);
                format!("{:.0}%", 100.0 * k as f64 / total.max(1) as f64)
            })
            .collect();
        println!(
            "| {n} | {per_sec:.0} | {:.2} | {:.0} | {:.1} | {:.2} | {:.2} of {} | {} |",
            per_sec / base,
            run.commits as f64 / run.elapsed.as_secs_f64(),
            run.entries as f64 / run.commits.max(1) as f64,
            run.commit_ms,
            run.busy_cores,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            shares.join(" | ")
        );
        if run.errors > 0 {
            println!("  ({} records failed in this run)", run.errors);
        }
    }
    println!(
        "\ncores busy: the whole machine's (this process, PostgreSQL and anything else), \
         from /proc/stat over the run\n"
    );
    for (name, what) in STATES {
        println!("- {name}: {what}");
    }
}

struct ServersRun {
    entries: u64,
    errors: u64,
    commits: u64,
    commit_ms: f64,
    elapsed: Duration,
    busy_cores: f64,
    samples: BTreeMap<&'static str, u64>,
}

/// The machine's busy and total CPU time so far, in ticks, from the first line of
/// /proc/stat (zeros where there is none).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    let total: u64 = ticks.iter().take(8).sum();
    (total - idle, total)
}

async fn run(servers: usize, writers: usize, duration: Duration) -> ServersRun {
    let db = fresh(Backend::Postgres).await;
    // The bench database's own store is the first server: its appending connection would
    // otherwise sit idle among the sampled ones.
    let mut stores = vec![Timed::new(db.store.clone())];
    for _ in 1..servers {
        let store: Arc<dyn Store> = Arc::new(
            PgStore::connect(&db.url)
                .await
                .expect("a second store on the bench database"),
        );
        stores.push(Timed::new(store));
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let recorders: Vec<Recorder> = stores
        .iter()
        .map(|timed| {
            let store: Arc<dyn LogStore> = timed.clone();
            Recorder::start(store, clock.clone(), None, RecorderConfig::default())
        })
        .collect();
    let started = Instant::now();
    let ticks_before = machine_ticks();
    let deadline = started + duration;
    let sampler = tokio::spawn(sample(db, deadline));
    let mut tasks = JoinSet::new();
    for (s, recorder) in recorders.iter().enumerate() {
        for w in 0..writers {
            let recorder = recorder.clone();
            tasks.spawn(async move {
                let (mut done, mut errors) = (0u64, 0u64);
                while Instant::now() < deadline {
                    match recorder.record(event(s * writers + w, done + errors)).await {
                        Ok(_) => done += 1,
                        Err(_) => errors += 1,
                    }
                }
                (done, errors)
            });
        }
    }
    let (mut entries, mut errors) = (0, 0);
    for (done, failed) in tasks.join_all().await {
        entries += done;
        errors += failed;
    }
    let elapsed = started.elapsed();
    let ticks_after = machine_ticks();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let busy_cores = cores * (ticks_after.0 - ticks_before.0) as f64
        / (ticks_after.1 - ticks_before.1).max(1) as f64;
    drop(recorders);
    let (db, samples) = sampler.await.expect("the sampler");
    let (mut commits, mut busy) = (0u64, Duration::ZERO);
    for timed in &stores {
        let stats = timed.stats();
        commits += stats.calls as u64;
        busy += stats.busy;
    }
    db.drop().await;
    ServersRun {
        entries,
        errors,
        commits,
        commit_ms: busy.as_secs_f64() * 1e3 / commits.max(1) as f64,
        elapsed,
        busy_cores,
        samples,
    }
}

/// Samples the appending connections' states until `deadline`.
async fn sample(db: TestDb, deadline: Instant) -> (TestDb, BTreeMap<&'static str, u64>) {
    let sql = format!(
        "SELECT state || '|' || coalesce(wait_event_type, '') || '|' || coalesce(wait_event, '') \
         FROM pg_stat_activity WHERE application_name = '{WRITER_APPLICATION_NAME}' \
         AND datname = current_database()"
    );
    let mut counts = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    // The first half second is the recorders warming up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while Instant::now() < deadline {
        tick.tick().await;
        for row in db.query_text(&sql).await {
            *counts.entry(classify(&row)).or_insert(0) += 1;
        }
    }
    (db, counts)
}
