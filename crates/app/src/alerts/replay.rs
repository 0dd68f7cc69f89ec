//! Replay: the rules run over a stretch of history, delivering nothing, so a site can see
//! what would have fired and tune its thresholds on its own past
//! (`accesslog alerts replay`). The rules built so far run: R1, R4, R5, R8.

use accesslog_core::Timestamp;
use accesslog_core::entry::Entry;
use accesslog_store::Store;
use accesslog_store::log_search::{EntryPage, EntryQuery};

use super::content::{R4_UNFILTERED, Sensitive};
use super::window::{R1_BURST, R8_PROBING, WindowDetector};
use crate::AppResult;

/// The rules a replay runs; all of them by default.
#[derive(Clone, Debug)]
pub struct RuleSet {
    /// Rule ids to run (`R1`, `R4`, `R5`, `R8`); empty: every rule.
    pub only: Vec<String>,
    pub sensitive: Sensitive,
}

impl RuleSet {
    fn runs(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|r| r.eq_ignore_ascii_case(id))
    }
}

/// What would have fired: the rule, the user, the entry that made it fire, the entries
/// it rests on, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct WouldFire {
    pub rule: &'static str,
    pub user: String,
    pub at: Timestamp,
    pub seqs: Vec<u64>,
    pub arithmetic: String,
}

/// Runs the rules over the entries from `from` (inclusive) to `to` (exclusive), oldest
/// first.
pub async fn replay(
    store: &dyn Store,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    rules: &RuleSet,
) -> AppResult<Vec<WouldFire>> {
    let q = EntryQuery {
        from,
        to,
        ..EntryQuery::default()
    };
    let mut windows: Vec<WindowDetector> = [R1_BURST, R8_PROBING]
        .into_iter()
        .filter(|r| rules.runs(r.id))
        .map(WindowDetector::new)
        .collect();
    let mut out = Vec::new();
    let mut after = 0u64;
    loop {
        let batch = store
            .search_entries(&q, EntryPage::After { after_seq: after }, 1000)
            .await?;
        for e in &batch {
            judge(e, rules, &mut windows, &mut out);
        }
        match batch.last() {
            Some(last) if batch.len() == 1000 => after = last.seq,
            _ => break,
        }
    }
    Ok(out)
}

fn judge(e: &Entry, rules: &RuleSet, windows: &mut [WindowDetector], out: &mut Vec<WouldFire>) {
    let one = |rule: &'static str, arithmetic: String| WouldFire {
        rule,
        user: e.event.user.clone(),
        at: e.timestamp,
        seqs: vec![e.seq],
        arithmetic,
    };
    for w in windows.iter_mut() {
        if let Some(hit) = w.observe(e) {
            out.push(WouldFire {
                rule: hit.rule,
                user: hit.user,
                at: e.timestamp,
                seqs: hit.seqs,
                arithmetic: hit.arithmetic,
            });
        }
    }
    // The size of a table as it was then is not in the log: replay judges R4 by its
    // filters alone.
    if rules.runs("R4")
        && let Some(why) = R4_UNFILTERED.judge(e, None)
    {
        out.push(one("R4", why));
    }
    if rules.runs("R5")
        && let Some(why) = rules.sensitive.judge(e)
    {
        out.push(one("R5", why));
    }
}
