//! What alert evaluation costs (issue 17).
//!
//! 1. **Appends with alerts on against off.** 64 writers record egress through the real
//!    recorder for a fixed time, with the evaluator off and then on, as the server runs
//!    it (the recorder hands committed entries over; the evaluator judges what it was
//!    handed once a second, in one round with one cursor write, and reads back from the
//!    store only what it was not handed), in alternation, several rounds. Before each
//!    "on" run the evaluator first catches up, untimed, with what the "off" run before it
//!    committed. The events are the seeded corpus's (so the rules have real work:
//!    windows, baselines, peers), stamped now by the recorder. Reported: entries per
//!    second, median over rounds, and on/off as a ratio (target ≥ 95 %).
//! 2. **Replay.** The engine over 10,000,000 corpus entries in memory (a corpus replayed in
//!    passes shifted by its length, so every entry is new to the engine), entries/s; and
//!    `accesslog alerts replay`'s path over a SQLite log (default 1,000,000 entries), beside
//!    the naive baseline of reading the same entries without judging them.
//!
//! ```sh
//! cargo bench -p accesslog-app --bench alerts_bench               # ~6 min
//! ACCESSLOG_BENCH_SECONDS=5 ACCESSLOG_BENCH_ROUNDS=2 cargo bench -p accesslog-app --bench alerts_bench appends
//! # ACCESSLOG_BENCH_REPLAY (engine entries, 10,000,000), ACCESSLOG_BENCH_STORE (log entries,
//! # 1,000,000); with ACCESSLOG_TEST_POSTGRES_URL set, appends also on PostgreSQL
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use accesslog_app::alerts::corpus::{self, CorpusConfig};
use accesslog_app::alerts::engine::Engine;
use accesslog_app::alerts::evaluator::{self, Evaluator};
use accesslog_app::alerts::replay::replay;
use accesslog_app::alerts::rules::Rules;
use accesslog_core::entry::{Entry, Event};
use accesslog_core::{SystemClock, Timestamp};
use accesslog_engine::{Recorder, RecorderConfig};
use accesslog_store::log_search::{EntryPage, EntryQuery};
use accesslog_testkit::{Backend, POSTGRES_URL_VAR, TestDb};

/// 2025-09-01 00:00 UTC.
const START: Timestamp = Timestamp::from_micros(1_756_684_800_000_000);

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    println!(
        "alerts_bench: {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let corpus = corpus::generate(&CorpusConfig::standard(17, START));
    println!(
        "corpus: {} entries, {} people",
        corpus.events.len(),
        corpus.people.len()
    );
    if runs("appends") {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if backend == Backend::Postgres && std::env::var(POSTGRES_URL_VAR).is_err() {
                println!("\n## appends on PostgreSQL: skipped ({POSTGRES_URL_VAR} is not set)");
                continue;
            }
            appends(backend, &corpus.events).await;
        }
    }
    if runs("replay") {
        engine_replay(
            &corpus.events,
            env_num("ACCESSLOG_BENCH_REPLAY", 10_000_000),
        );
        store_replay(&corpus.events, env_num("ACCESSLOG_BENCH_STORE", 1_000_000)).await;
    }
}

async fn appends(backend: Backend, events: &[(Timestamp, Event)]) {
    let seconds = env_num("ACCESSLOG_BENCH_SECONDS", 10);
    let rounds = env_num("ACCESSLOG_BENCH_ROUNDS", 3);
    let writers = env_num("ACCESSLOG_BENCH_WRITERS", 64) as usize;
    let Some(db) = TestDb::open(backend, "alerts_bench").await else {
        eprintln!("alerts_bench: cannot open {backend:?}");
        return;
    };
    println!("\n## appends, {backend:?}: {writers} writers, {seconds} s per run, {rounds} rounds");
    // As the server runs it: the recorder hands committed entries to the rules when they
    // are on (a forwarder passes them on, or drops them when off, in both modes alike).
    let (tap, mut committed) = tokio::sync::mpsc::channel::<Vec<Entry>>(1024);
    let recorder = Recorder::start_tapped(
        db.store.clone(),
        Arc::new(SystemClock),
        None,
        RecorderConfig::default(),
        Some(tap),
    );
    let forward_to: Arc<std::sync::Mutex<Option<tokio::sync::mpsc::Sender<Vec<Entry>>>>> =
        Arc::default();
    let forwarding = forward_to.clone();
    tokio::spawn(async move {
        while let Some(batch) = committed.recv().await {
            let to = forwarding.lock().unwrap().clone();
            if let Some(to) = to {
                let _ = to.try_send(batch);
            }
        }
    });
    let events: Arc<Vec<Event>> = Arc::new(events.iter().map(|(_, e)| e.clone()).collect());
    let next = Arc::new(AtomicU64::new(0));
    let (mut off, mut on) = (Vec::new(), Vec::new());
    // One evaluator for the whole run, as a server keeps one: started (and its 90 days
    // learned) once, paused while alerts are off.
    let mut parked = Some(
        Evaluator::start(db.store.clone(), Arc::new(SystemClock), Rules::default())
            .await
            .expect("evaluator"),
    );
    for round in 0..rounds {
        // Alternate which goes first, so drift in the machine favours neither.
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for alerts in order {
            let evaluating = if alerts {
                let mut ev = parked.take().expect("the evaluator is parked");
                // Untimed: catch up with what the last "off" run committed, so the run
                // measures judging what is being committed, not a backlog.
                let caught_up = Instant::now();
                let backlog = ev.round(usize::MAX).await.expect("catching up").judged;
                println!(
                    "  (caught up with {backlog} entries in {:.1} s first)",
                    caught_up.elapsed().as_secs_f64()
                );
                let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
                let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
                let (fwd, tapped) = tokio::sync::mpsc::channel(1024);
                *forward_to.lock().unwrap() = Some(fwd);
                let (stop, stopped) = tokio::sync::watch::channel(false);
                Some((
                    evaluator::spawn(ev, Duration::from_secs(5), Some(tapped), tx, stopped),
                    drain,
                    stop,
                ))
            } else {
                None
            };
            let rate = run_writers(&recorder, &events, &next, writers, seconds).await;
            let judged = match evaluating {
                Some((task, drain, stop)) => {
                    *forward_to.lock().unwrap() = None;
                    let _ = stop.send(true);
                    parked = Some(task.await.expect("the evaluator's task"));
                    drain.abort();
                    db.store
                        .alerts_cursor()
                        .await
                        .ok()
                        .flatten()
                        .map_or(0, |(s, _)| s)
                }
                None => 0,
            };
            println!(
                "round {round} alerts {}: {rate:.0} entries/s{}",
                if alerts { "on " } else { "off" },
                if alerts {
                    format!(" (evaluator's cursor at {judged})")
                } else {
                    String::new()
                }
            );
            if alerts {
                on.push(rate)
            } else {
                off.push(rate)
            }
        }
    }
    let (m_off, m_on) = (median(&mut off), median(&mut on));
    println!(
        "median: off {m_off:.0}/s, on {m_on:.0}/s → on/off = {:.1} %",
        100.0 * m_on / m_off
    );
    db.drop().await;
}

async fn run_writers(
    recorder: &Recorder,
    events: &Arc<Vec<Event>>,
    next: &Arc<AtomicU64>,
    writers: usize,
    seconds: u64,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (recorder, events, next, stop, done) = (
            recorder.clone(),
            events.clone(),
            next.clone(),
            stop.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let e = events[n % events.len()].clone();
                recorder.record(e).await.expect("recorded");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let counted = done.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    counted as f64 / secs
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The corpus as committed entries, in passes shifted by its length until `n`.
fn entries(events: &[(Timestamp, Event)], n: u64) -> impl Iterator<Item = Entry> + '_ {
    let span = events.last().map_or(0, |(t, _)| t.as_micros()) - START.as_micros() + 86_400_000_000;
    (0..n).map(move |i| {
        let len = events.len() as u64;
        let (t, e) = &events[(i % len) as usize];
        let pass = (i / len) as i64;
        Entry {
            seq: i + 1,
            timestamp: Timestamp::from_micros(t.as_micros() + pass * span),
            event: e.clone(),
        }
    })
}

fn engine_replay(events: &[(Timestamp, Event)], n: u64) {
    println!("\n## replay in memory: the engine over {n} entries");
    // The baseline: making the same entries (the clone the engine's input costs) alone.
    let started = Instant::now();
    let mut bytes = 0usize;
    for e in entries(events, n) {
        bytes += e.event.user.len();
    }
    let base = started.elapsed().as_secs_f64();
    let mut engine = Engine::new(Rules::default());
    let started = Instant::now();
    let mut fired = 0usize;
    for e in entries(events, n) {
        fired += engine.observe(&e).len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "making the entries alone: {:.0} entries/s ({base:.1} s; {bytes} user bytes); \
         with the engine judging each: {:.0} entries/s ({secs:.1} s, {fired} firings); \
         judging costs {:.2} µs an entry",
        n as f64 / base,
        n as f64 / secs,
        (secs - base).max(0.0) * 1e6 / n as f64
    );
}

async fn store_replay(events: &[(Timestamp, Event)], n: u64) {
    let db = TestDb::sqlite().await;
    println!("\n## replay through a SQLite log of {n} entries");
    // Appended in groups of the same 10 minutes, one timestamp each (the group's first):
    // one transaction per group keeps the fill to a minute or two.
    let started = Instant::now();
    let mut batch: Vec<Event> = Vec::new();
    let mut batch_at = START;
    let mut filled = 0u64;
    for e in entries(events, n) {
        if !batch.is_empty() && e.timestamp.as_micros() - batch_at.as_micros() >= 600_000_000 {
            db.store
                .append_entries(&batch, batch_at)
                .await
                .expect("append");
            filled += batch.len() as u64;
            batch.clear();
        }
        if batch.is_empty() {
            batch_at = e.timestamp;
        }
        batch.push(e.event);
    }
    if !batch.is_empty() {
        db.store
            .append_entries(&batch, batch_at)
            .await
            .expect("append");
        filled += batch.len() as u64;
    }
    println!("filled in {:.1} s", started.elapsed().as_secs_f64());
    // The naive baseline: reading every entry, judging nothing.
    let started = Instant::now();
    let q = EntryQuery::default();
    let (mut after, mut read) = (0u64, 0u64);
    loop {
        let page = db
            .store
            .search_entries(&q, EntryPage::After { after_seq: after }, 5_000)
            .await
            .expect("read");
        read += page.len() as u64;
        match page.last() {
            Some(l) if page.len() == 5_000 => after = l.seq,
            _ => break,
        }
    }
    let read_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let fired = replay(&*db.store, None, None, &Rules::default())
        .await
        .expect("replay");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "reading alone: {:.0} entries/s ({read} in {read_secs:.1} s); replay: {:.0} entries/s \
         ({filled} in {secs:.1} s, {} firings) → replay/read = {:.0} %",
        read as f64 / read_secs,
        filled as f64 / secs,
        fired.len(),
        100.0 * read_secs / secs
    );
}
