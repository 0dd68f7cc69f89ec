//! Replay: the rules over a stretch of history, delivering nothing and storing nothing,
//! so a site can see what would have fired and tune its thresholds on its own past
//! (`accesslog alerts replay`). The engine first learns the 90 days before the stretch,
//! as the live evaluator does after a restart, so replayed baselines are the live ones.

use std::time::Duration;

use accesslog_core::Timestamp;
use accesslog_store::Store;
use accesslog_store::log_search::{EntryPage, EntryQuery};

use super::engine::{Engine, Firing, LEARN_DAYS};
use super::rules::Rules;
use crate::AppResult;

const BATCH: u32 = 5_000;

/// Runs `rules` over the entries from `from` (inclusive) to `to` (exclusive), oldest
/// first, and returns every firing.
pub async fn replay(
    store: &dyn Store,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    rules: &Rules,
) -> AppResult<Vec<Firing>> {
    let mut engine = Engine::new(rules.clone());
    let learn_from = from.map(|f| f.minus(Duration::from_secs((LEARN_DAYS as u64 + 7) * 86_400)));
    let q = EntryQuery {
        from: learn_from,
        to,
        ..EntryQuery::default()
    };
    let mut out = Vec::new();
    let mut after = 0u64;
    loop {
        let batch = store
            .search_entries(&q, EntryPage::After { after_seq: after }, BATCH)
            .await?;
        for e in &batch {
            if from.is_some_and(|f| e.timestamp < f) {
                engine.learn(e);
            } else {
                out.extend(engine.observe(e));
            }
        }
        match batch.last() {
            Some(last) if batch.len() == BATCH as usize => after = last.seq,
            _ => break,
        }
    }
    Ok(out)
}
