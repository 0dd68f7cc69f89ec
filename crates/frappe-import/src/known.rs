//! What the log already holds from one upstream: the ERPNext names it recorded (each
//! entry's `request_id`), learnt by walking the log for the source's entries, and kept
//! up to date as the import records more. The log is the truth: a cursor file lost, stale
//! or copied from elsewhere changes how much is read again, never what is recorded twice.

use std::collections::HashMap;

use accesslog_store::LogStore;
use jiff::civil::DateTime;

use crate::ImportError;
use crate::mapping::creation_in_reason;

/// Seqs per `source_marks` call: each a range read of the primary key, so no one
/// statement holds the database for long however large the log.
pub const SCAN_SPAN: u32 = 100_000;

#[derive(Debug, Default)]
pub struct Known {
    /// ERPNext name → its creation, as the entry's reason gives it (`None`: the reason
    /// did not say, so the name is kept whatever the window).
    names: HashMap<String, Option<DateTime>>,
    /// The log has been walked up to this seq.
    scanned_to: u64,
    /// The newest creation among all the source's entries seen.
    newest: Option<DateTime>,
    /// The source's last entry seen: its seq and ERPNext name.
    last: Option<(u64, String)>,
}

impl Known {
    /// Walks the log from where the last walk ended to its head, taking in `source`'s
    /// entries. `floor` says, given the newest creation seen so far, before which
    /// creation names can no longer be asked about; older ones are let go as it goes, so
    /// memory holds the window, not the whole history.
    pub async fn catch_up(
        &mut self,
        store: &dyn LogStore,
        source: &str,
        floor: impl Fn(Option<DateTime>) -> Option<DateTime>,
    ) -> Result<(), ImportError> {
        let head = store.log_head().await?.size;
        while self.scanned_to < head {
            let marks = store
                .source_marks(source, self.scanned_to, SCAN_SPAN)
                .await?;
            for mark in marks {
                let Some(name) = mark.request_id else {
                    continue;
                };
                let creation = mark.reason.as_deref().and_then(creation_in_reason);
                if creation > self.newest {
                    self.newest = creation;
                }
                self.last = Some((mark.seq, name.clone()));
                self.names.insert(name, creation);
            }
            self.scanned_to = self
                .scanned_to
                .saturating_add(u64::from(SCAN_SPAN))
                .min(head);
            self.trim(floor(self.newest));
        }
        Ok(())
    }

    /// Lets go of names created before `floor` (keeping those whose time is unknown).
    pub fn trim(&mut self, floor: Option<DateTime>) {
        if let Some(floor) = floor {
            self.names.retain(|_, c| c.is_none_or(|c| c >= floor));
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// Takes in an entry this import just recorded at `seq`.
    pub fn recorded(&mut self, seq: u64, name: &str, creation: DateTime) {
        self.names.insert(name.to_owned(), Some(creation));
        if Some(creation) > self.newest {
            self.newest = Some(creation);
        }
        if self.last.as_ref().is_none_or(|(s, _)| seq > *s) {
            self.last = Some((seq, name.to_owned()));
        }
    }

    pub fn newest(&self) -> Option<DateTime> {
        self.newest
    }

    pub fn last(&self) -> Option<&(u64, String)> {
        self.last.as_ref()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
