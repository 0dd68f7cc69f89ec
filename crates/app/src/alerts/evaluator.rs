//! The rules beside the recorder: a task that reads entries once they are committed and
//! judges them. It is never on the commit path: the recorder does not know it exists, so
//! however slow or broken evaluation is, no egress waits for it or is refused by it.
//!
//! - **Where it reads from.** The store's cursor (`alerts_cursor`) says the last `seq`
//!   judged. On start the engine relearns the 90 days before it (judging nothing), then
//!   judges what came after, a batch at a time, every `evaluate_every_seconds`.
//! - **Shadow mode.** A statistical rule's alert is kept but not delivered while the log
//!   is younger than `shadow_days` at the entry that raised it.
//! - **Several servers on one database.** Each moves the cursor only from where it read
//!   it; the one that loses learns the batch instead of judging it, so a batch is judged
//!   once. Should two judge it anyway, the open-key index keeps them to one alert.
//! - **Who is leaving (R10).** Disabled users are read from the accounts each round; the
//!   time a user is first seen disabled counts as their disable time. Employees with a
//!   `relieving_date` and a `user_id` give relieving dates.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use accesslog_core::doctype::DocType;
use accesslog_core::entry::Entry;
use accesslog_core::{Clock, Timestamp};
use accesslog_store::log_search::{EntryPage, EntryQuery};
use accesslog_store::{ListQuery, SqlValue, Store};
use tokio::sync::mpsc;

use super::engine::{Engine, Firing, LEARN_DAYS, Person};
use super::inbox;
use super::lifecycle::Alert;
use super::rules::{Rules, is_statistical};
use crate::AppResult;

const BATCH: u32 = 1_000;

/// An alert's key: rule, user, window start (µs).
type FiringKey = (&'static str, String, i64);

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Round {
    pub judged: usize,
    pub raised: usize,
    /// Alerts to deliver: new, or whose severity rose, and not in shadow.
    pub to_deliver: Vec<Alert>,
}

/// Judges committed entries against the rules (its state is the engine's: what it
/// learned of each user).
pub struct Evaluator {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    engine: Engine,
    cursor: u64,
    /// The log's first entry: shadow mode counts from it.
    log_start: Option<Timestamp>,
    disabled_since: HashMap<String, Timestamp>,
    relieving: HashMap<String, Timestamp>,
    /// The site's document types whose sizes R4 compares list exports with.
    tables: Vec<DocType>,
    tables_read_at: Option<Timestamp>,
    /// The site's Employee type, when it has `user_id` and `relieving_date`.
    employees: Option<DocType>,
    employees_read_at: Option<Timestamp>,
    people_read_at: Option<Timestamp>,
    /// The open alerts this evaluator last wrote, as written, by key.
    open: HashMap<FiringKey, Alert>,
}

/// Open alerts kept between rounds; past this many the cache starts again empty.
const MAX_KEPT: usize = 20_000;

/// How often disabled users are read again.
const PEOPLE_EVERY: Duration = Duration::from_secs(10);
/// After judging what the recorder handed over, wait this long for more: one cursor write
/// and one alert write per key per cycle, however fast entries come.
const TAP_CYCLE: Duration = Duration::from_secs(1);

/// How often relieving dates are read again from the Employee records.
const EMPLOYEES_EVERY: Duration = Duration::from_secs(600);

/// Entries judged (or learned) between two turns given back to the runtime. The
/// evaluator runs on the runtime that serves requests: judging a second's worth of entries
/// in one go would hold a worker thread for as long, and every request queued behind it
/// would wait. At ~2 µs an entry, this is about half a millisecond.
const ENTRIES_PER_TURN: usize = 256;

/// Gives the runtime a turn after every [`ENTRIES_PER_TURN`] entries: `done` after each.
#[derive(Default)]
struct Turns(usize);

impl Turns {
    async fn done(&mut self) {
        self.0 += 1;
        if self.0.is_multiple_of(ENTRIES_PER_TURN) {
            tokio::task::yield_now().await;
        }
    }
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl Evaluator {
    /// Reads the cursor and relearns the 90 days before it.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        rules: Rules,
    ) -> AppResult<Self> {
        let cursor = store.alerts_cursor().await?.map_or(0, |(seq, _)| seq);
        let mut ev = Evaluator {
            engine: Engine::new(rules),
            store,
            clock,
            cursor,
            log_start: None,
            disabled_since: HashMap::new(),
            relieving: HashMap::new(),
            tables: Vec::new(),
            tables_read_at: None,
            employees: None,
            employees_read_at: None,
            people_read_at: None,
            open: HashMap::new(),
        };
        ev.log_start = ev.store.entry(1).await?.map(|e| e.timestamp);
        if cursor > 0
            && let Some(last) = ev.store.entry(cursor).await?
        {
            let from = last
                .timestamp
                .minus(Duration::from_secs((LEARN_DAYS as u64 + 7) * 86_400));
            let q = EntryQuery {
                from: Some(from),
                ..EntryQuery::default()
            };
            let mut after = 0u64;
            'learn: loop {
                let batch = ev
                    .store
                    .search_entries(&q, EntryPage::After { after_seq: after }, BATCH)
                    .await?;
                for e in &batch {
                    if e.seq > cursor {
                        break 'learn;
                    }
                    ev.engine.learn(e);
                }
                match batch.last() {
                    Some(l) if batch.len() == BATCH as usize => after = l.seq,
                    _ => break,
                }
            }
        }
        Ok(ev)
    }

    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Judges what was committed since the last round (up to `max` entries).
    pub async fn round(&mut self, max: usize) -> AppResult<Round> {
        self.refresh_people().await?;
        let mut round = Round::default();
        while round.judged < max {
            let batch = self.store.entries_after(self.cursor, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            self.take(batch, &mut round).await?;
        }
        Ok(round)
    }

    /// Judges entries the recorder handed over as it committed them (no read back). What
    /// came before them that this evaluator has not judged (a batch the recorder skipped
    /// because the evaluator lagged, another server's commits) is read from the store
    /// first, so nothing is judged twice or missed.
    pub async fn judge_committed(&mut self, entries: Vec<Entry>) -> AppResult<Round> {
        let fresh: Vec<Entry> = entries
            .into_iter()
            .filter(|e| e.seq > self.cursor)
            .collect();
        let Some(first) = fresh.first().map(|e| e.seq) else {
            return Ok(Round::default());
        };
        if first != self.cursor + 1 {
            return self.round(usize::MAX).await;
        }
        self.refresh_people().await?;
        let mut round = Round::default();
        self.take(fresh, &mut round).await?;
        Ok(round)
    }

    /// Moves the cursor over `batch` (the entries right after it) and judges them; if
    /// another server moved it first, learns up to where it is instead.
    async fn take(&mut self, batch: Vec<Entry>, round: &mut Round) -> AppResult<()> {
        let Some(last) = batch.last().map(|e| e.seq) else {
            return Ok(());
        };
        if self.log_start.is_none() {
            self.log_start = batch.first().map(|e| e.timestamp);
        }
        let now = self.clock.now();
        if !self
            .store
            .move_alerts_cursor(self.cursor, last, now)
            .await?
        {
            let theirs = self.store.alerts_cursor().await?.map_or(last, |(s, _)| s);
            return self.learn_upto(theirs).await;
        }
        self.cursor = last;
        round.judged += batch.len();
        self.judge(&batch, round).await
    }

    async fn learn_upto(&mut self, upto: u64) -> AppResult<()> {
        while self.cursor < upto {
            let batch = self.store.entries_after(self.cursor, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            let mut turns = Turns::default();
            for e in &batch {
                if e.seq > upto {
                    break;
                }
                self.engine.learn(e);
                self.cursor = e.seq;
                turns.done().await;
            }
        }
        Ok(())
    }

    /// Judges a batch, then raises its firings grouped by key: one alert written per key,
    /// all of them in one transaction. The open alerts this evaluator last wrote are kept,
    /// so joining one needs no read; one that changed meanwhile (a System Manager acted on
    /// it, another server joined it) is not overwritten but raised again from the store.
    async fn judge(&mut self, batch: &[Entry], round: &mut Round) -> AppResult<()> {
        let shadow_until = self.log_start.map(|t| {
            t.plus(Duration::from_secs(
                u64::from(self.engine.rules().shadow_days) * 86_400,
            ))
        });
        let mut by_key: Vec<(FiringKey, Vec<Firing>)> = Vec::new();
        let mut index: HashMap<FiringKey, usize> = HashMap::new();
        let mut turns = Turns::default();
        for e in batch {
            for f in self.engine.observe(e) {
                let key = (f.rule, f.user.clone(), f.window_start.as_micros());
                match index.get(&key) {
                    Some(&i) => by_key[i].1.push(f),
                    None => {
                        index.insert(key.clone(), by_key.len());
                        by_key.push((key, vec![f]));
                    }
                }
            }
            turns.done().await;
        }
        if by_key.is_empty() {
            return Ok(());
        }
        let suppressions = self.store.suppressions(None).await?;
        let now = self.clock.now();
        if self.open.len() > MAX_KEPT {
            self.open.clear();
        }
        let mut planned = Vec::new();
        for (key, firings) in by_key {
            if inbox::suppressed(&suppressions, &firings[0]) {
                continue;
            }
            let shadow = is_statistical(key.0)
                && firings
                    .iter()
                    .all(|f| shadow_until.is_some_and(|u| f.at < u));
            let open = match self.open.remove(&key) {
                Some(alert) => Some(alert),
                None => inbox::open_alert(&*self.store, &firings[0]).await?,
            };
            let before = open.as_ref().map(|a| a.severity);
            let alert = inbox::apply(open, &firings, shadow, now);
            planned.push((key, firings, shadow, before, alert));
        }
        let records: Vec<_> = planned.iter().map(|p| p.4.to_record()).collect();
        let written = self.store.write_alerts(&records).await?;
        for ((key, firings, shadow, before, mut alert), id) in planned.into_iter().zip(written) {
            let raised = match id {
                Some(id) => inbox::Raised::written(&mut alert, id, before),
                None => {
                    match inbox::raise_many(&*self.store, &firings, shadow, &suppressions, now)
                        .await?
                    {
                        Some(raised) => raised,
                        None => continue,
                    }
                }
            };
            self.open.insert(key, raised.alert.clone());
            if raised.new {
                round.raised += 1;
            }
            if !raised.alert.shadow && (raised.new || raised.rose) {
                round.to_deliver.push(raised.alert);
            }
        }
        Ok(())
    }

    async fn refresh_people(&mut self) -> AppResult<()> {
        let now = self.clock.now();
        if self
            .people_read_at
            .is_some_and(|t| now >= t && now < t.plus(PEOPLE_EVERY))
        {
            return Ok(());
        }
        self.people_read_at = Some(now);
        self.read_relieving_dates(now).await?;
        self.count_tables(now).await?;
        let users = self.store.list_users().await?;
        for u in &users {
            if u.enabled {
                self.disabled_since.remove(&u.email);
            } else {
                self.disabled_since.entry(u.email.clone()).or_insert(now);
            }
        }
        let mut people: HashMap<String, Person> = HashMap::new();
        for (user, at) in &self.disabled_since {
            people.entry(user.clone()).or_default().disabled_at = Some(*at);
        }
        for (user, at) in &self.relieving {
            people.entry(user.clone()).or_default().relieving_date = Some(*at);
        }
        self.engine.set_people(people);
        Ok(())
    }

    /// Counts the rows of these document types every 10 minutes, so R4 can tell an export
    /// of 90 % of a table.
    pub fn with_tables(mut self, doctypes: Vec<DocType>) -> Self {
        self.tables = doctypes;
        self
    }

    async fn count_tables(&mut self, now: Timestamp) -> AppResult<()> {
        if self.tables.is_empty()
            || self
                .tables_read_at
                .is_some_and(|t| now < t.plus(EMPLOYEES_EVERY))
        {
            return Ok(());
        }
        let fields = ["name".to_owned()];
        let mut rows = HashMap::new();
        for doctype in &self.tables {
            let list = ListQuery {
                conditions: &[],
                fields: &fields,
                order_by: &[],
                limit: u32::MAX,
                offset: 0,
                any_of: &[],
                after: None,
            };
            let (sql, binds) =
                accesslog_store::records::list_sql(doctype, &[], &list, self.store.dialect());
            let counted = format!("SELECT COUNT(*) FROM ({sql}) AS counted");
            let mut n = 0i64;
            self.store
                .query_each_row(&counted, &binds, &mut |row: &[SqlValue]| {
                    if let Some(SqlValue::Int(c)) = row.first() {
                        n = *c;
                    }
                    std::ops::ControlFlow::Continue(())
                })
                .await?;
            rows.insert(doctype.name.clone(), u64::try_from(n).unwrap_or(0));
        }
        self.engine.set_table_rows(rows);
        self.tables_read_at = Some(now);
        Ok(())
    }

    /// Reads relieving dates from `employee` records (ERPNext's Employee: `user_id`, and
    /// `relieving_date` as `YYYY-MM-DD`, the site's local midnight), if it has both fields.
    pub fn with_employees(mut self, employee: Option<DocType>) -> Self {
        self.employees = employee
            .filter(|d| d.field("user_id").is_some() && d.field("relieving_date").is_some());
        self
    }

    async fn read_relieving_dates(&mut self, now: Timestamp) -> AppResult<()> {
        let Some(doctype) = &self.employees else {
            return Ok(());
        };
        if self
            .employees_read_at
            .is_some_and(|t| now < t.plus(EMPLOYEES_EVERY))
        {
            return Ok(());
        }
        let fields = ["user_id".to_owned(), "relieving_date".to_owned()];
        let rows = self
            .store
            .list_documents(
                doctype,
                &[],
                &ListQuery {
                    conditions: &[],
                    fields: &fields,
                    order_by: &[],
                    limit: 1_000_000,
                    offset: 0,
                    any_of: &[],
                    after: None,
                },
            )
            .await?;
        let offset = i64::from(self.engine.rules().offset_minutes) * 60_000_000;
        self.relieving = rows
            .iter()
            .filter_map(|r| {
                let (Some(SqlValue::Text(user)), Some(SqlValue::Text(date))) =
                    (r.get("user_id"), r.get("relieving_date"))
                else {
                    return None;
                };
                let day = date_micros(date)?;
                Some((user.clone(), Timestamp::from_micros(day - offset)))
            })
            .collect();
        self.employees_read_at = Some(now);
        Ok(())
    }
}

/// Midnight UTC of a `YYYY-MM-DD` date, in µs.
fn date_micros(date: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(date.get(..10)?, &fmt).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp() * 1_000_000)
}

/// Judges what the recorder hands over (`committed`) as it comes, at most every
/// [`TAP_CYCLE`], and reads from the store every `every` whatever it did not hand over;
/// hands alerts to deliver to `deliver`. A failed round is logged and retried next time;
/// nothing here can reach the recorder, which only ever offers to `committed`. Ends (giving
/// the evaluator back, with what it has learned) when `stop` turns true or the receiver of
/// `deliver` is gone.
pub fn spawn(
    mut ev: Evaluator,
    every: Duration,
    mut committed: Option<mpsc::Receiver<Vec<Entry>>>,
    deliver: mpsc::Sender<Alert>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Evaluator> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *stop.borrow() {
                return ev;
            }
            let tapped = async {
                match committed.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let result = tokio::select! {
                _ = stop.changed() => continue,
                batch = tapped => match batch {
                    Some(mut entries) => {
                        if let Some(rx) = committed.as_mut() {
                            while let Ok(more) = rx.try_recv() {
                                entries.extend(more);
                            }
                        }
                        let r = ev.judge_committed(entries).await;
                        tokio::time::sleep(TAP_CYCLE).await;
                        r
                    }
                    None => {
                        committed = None;
                        continue;
                    }
                },
                _ = tick.tick() => ev.round(50_000).await,
            };
            match result {
                Ok(round) => {
                    for alert in round.to_deliver {
                        if deliver.send(alert).await.is_err() {
                            return ev;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "alert evaluation failed; retrying next round")
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Judging a long batch gives the runtime turns as it goes: on a one-thread runtime,
    /// another task (standing for the requests being served) runs between the stretches,
    /// not only once the whole batch is judged.
    #[tokio::test(flavor = "current_thread")]
    async fn a_long_batch_is_judged_in_turns() {
        let turns = Arc::new(AtomicUsize::new(0));
        let counting = turns.clone();
        let other = tokio::spawn(async move {
            loop {
                counting.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        });
        let mut seen = Vec::new();
        let mut judging = Turns::default();
        for _ in 0..10 * ENTRIES_PER_TURN {
            seen.push(turns.load(Ordering::SeqCst));
            judging.done().await;
        }
        other.abort();
        let stretches = seen.windows(2).filter(|w| w[1] > w[0]).count();
        assert_eq!(
            stretches, 9,
            "the other task ran between each stretch of {ENTRIES_PER_TURN}"
        );
        assert!(
            seen.chunks(ENTRIES_PER_TURN).all(|c| c.first() == c.last()),
            "no turn inside a stretch"
        );
    }
}
