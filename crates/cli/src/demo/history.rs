//! The demo's generated past: 90 days of egress by the demo's users and 60 made-up
//! colleagues, from the alerts' seeded corpus generator, with one planted incident per
//! alert rule in the last three weeks, so a newcomer finds trends on the dashboard and
//! alerts in the inbox instead of an empty log.
//!
//! The log stays append-only: the history is written only into an empty log, before the
//! demo's first real entry, through the same appends as everything else. Each entry keeps
//! its own time to the five minutes (entries of the same five minutes are appended
//! together, at the start of them, so writing 90 days takes seconds, not minutes). The
//! people are not accounts of the site: their entries only say who they were. The README
//! says the history is generated.

use std::time::Instant;

use accesslog_app::alerts::corpus::{self, CorpusConfig, Person};
use accesslog_core::Timestamp;
use accesslog_core::entry::Event;
use accesslog_store::Store;

use crate::commands::demo::DEMO_USERS;

const DAY: i64 = 86_400_000_000;
/// Entries of the same five minutes are appended together.
const SLOT: i64 = 5 * 60_000_000;

/// Writes the history into an empty log and says how many entries it wrote (0 when the
/// log already has entries).
pub async fn write(store: &dyn Store, now: Timestamp) -> anyhow::Result<u64> {
    if store.log_head().await?.size > 0 {
        return Ok(0);
    }
    let started = Instant::now();
    let today = now.as_micros().div_euclid(DAY) * DAY;
    let cfg = CorpusConfig {
        seed: 2026,
        users: 60,
        days: 90,
        start: Timestamp::from_micros(today - 90 * DAY),
        utc_offset_minutes: 0,
        extra_users: DEMO_USERS
            .iter()
            .map(|(email, _, _, role)| Person::with_roles(email, &[role]))
            .collect(),
    };
    let mut c = corpus::generate(&cfg);
    let incidents = corpus::all_scenarios(&c, Timestamp::from_micros(today - 21 * DAY));
    for s in &incidents {
        corpus::inject(&mut c, s.events.clone());
    }
    let mut written = 0u64;
    let mut batch: Vec<Event> = Vec::new();
    let mut slot = i64::MIN;
    for (t, e) in c.events.into_iter().take_while(|(t, _)| *t < now) {
        let s = t.as_micros().div_euclid(SLOT) * SLOT;
        if s != slot && !batch.is_empty() {
            store
                .append_entries(&batch, Timestamp::from_micros(slot))
                .await?;
            written += batch.len() as u64;
            batch.clear();
        }
        slot = s;
        batch.push(e);
    }
    if !batch.is_empty() {
        store
            .append_entries(&batch, Timestamp::from_micros(slot))
            .await?;
        written += batch.len() as u64;
    }
    tracing::info!(
        entries = written,
        incidents = incidents.len(),
        seconds = started.elapsed().as_secs_f64(),
        "wrote the demo's generated history"
    );
    Ok(written)
}
