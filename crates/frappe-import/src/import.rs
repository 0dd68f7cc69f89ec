//! The import itself: read ERPNext's Access Log from a cursor a page at a time, record
//! each row the log does not hold yet, and move the cursor only past rows that are
//! durably recorded (or were already there).
//!
//! Paging. Rows are asked for with `creation >= from`, ordered by `creation, name`. After
//! a full page whose last row has creation `t`, the next page starts at `from = t`,
//! skipping the rows of the page that had creation `t` (they come first again); when a
//! whole page shares one creation (`t == from`), `limit_start` goes on past it instead.
//! So every page moves forward, any number of rows may share a creation, and a row
//! written late is read again by the next pass's overlap and recorded once, by name.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use accesslog_engine::Recorder;
use accesslog_store::LogStore;
use jiff::SignedDuration;
use jiff::civil::DateTime;
use tokio::sync::watch;

use crate::ImportError;
use crate::client::Upstream;
use crate::known::Known;
use crate::mapping::{self, Row};
use crate::state::{self, Cursor};
use crate::zone::{SiteZone, format_naive, parse_naive};

/// How names are kept beyond the window while the log is first walked, before the
/// cursor is known: more than any clock change can move the window back.
const MARGIN: SignedDuration = SignedDuration::from_hours(24);

/// How the import reads.
#[derive(Clone, Debug)]
pub struct Options {
    /// Rows written this long before the newest imported one are read again.
    pub overlap: Duration,
    /// Rows per request.
    pub page_size: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            overlap: Duration::from_secs(60),
            page_size: 500,
        }
    }
}

/// Where an import starts, as [`Importer::open`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The newest creation already imported (`None`: from ERPNext's first row).
    pub cursor: Option<String>,
    /// Whether that came from the cursor file (else from the log).
    pub from_file: bool,
    /// Entries from this source the log already holds, within the window.
    pub known: usize,
    /// Why the cursor file was not used, when there was one.
    pub ignored_file: Option<String>,
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Rows ERPNext sent.
    pub read: u64,
    /// Entries recorded.
    pub recorded: u64,
    /// Rows the log already held (the overlap, a re-run).
    pub already: u64,
}

impl std::ops::AddAssign for Pass {
    fn add_assign(&mut self, o: Pass) {
        self.read += o.read;
        self.recorded += o.recorded;
        self.already += o.already;
    }
}

pub struct Importer<U> {
    upstream: U,
    source: String,
    zone: SiteZone,
    store: Arc<dyn LogStore>,
    recorder: Recorder,
    options: Options,
    known: Known,
    /// The newest creation read whose page is wholly in the log.
    cursor: Option<DateTime>,
    cursor_path: std::path::PathBuf,
}

impl<U: Upstream> Importer<U> {
    /// Learns from the log (and the cursor file in `site_dir`) what `source` already
    /// brought in, and where to read from.
    pub async fn open(
        upstream: U,
        source: String,
        zone: SiteZone,
        store: Arc<dyn LogStore>,
        recorder: Recorder,
        site_dir: &Path,
        options: Options,
    ) -> Result<(Self, Opened), ImportError> {
        let cursor_path = state::path(site_dir, &source, "cursor");
        let file = state::load(&cursor_path)?;
        let (mut file_cursor, mut ignored) = match &file {
            Some(c) => check_file(c, &source, &*store).await?,
            None => (None, None),
        };
        let fixed = file_cursor.map(|c| zone.window_start(c, options.overlap));
        let overlap = options.overlap;
        let mut known = Known::default();
        known
            .catch_up(&*store, &source, |newest| {
                let dynamic = newest.and_then(|n| {
                    n.checked_sub(SignedDuration::try_from(overlap).ok()?)
                        .ok()?
                        .checked_sub(MARGIN)
                        .ok()
                });
                match (fixed, dynamic) {
                    (Some(f), Some(d)) => Some(f.min(d)),
                    (Some(f), None) => Some(f),
                    (None, d) => d,
                }
            })
            .await?;
        if let (Some(c), None) = (&file, &ignored)
            && c.last_seq == 0
            && known.last().is_some()
        {
            file_cursor = None;
            ignored = Some(format!(
                "the log holds entries from {source} that {} does not know of",
                cursor_path.display()
            ));
        }
        let from_file = file_cursor.is_some();
        let cursor = file_cursor.or(known.newest());
        known.trim(cursor.map(|c| zone.window_start(c, options.overlap)));
        let opened = Opened {
            cursor: cursor.map(format_naive),
            from_file,
            known: known.len(),
            ignored_file: ignored,
        };
        Ok((
            Self {
                upstream,
                source,
                zone,
                store,
                recorder,
                options,
                known,
                cursor,
                cursor_path,
            },
            opened,
        ))
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The newest creation imported, as Frappe writes it.
    pub fn cursor(&self) -> Option<String> {
        self.cursor.map(format_naive)
    }

    /// One pass, or several with `follow` (every so often) until `stop` turns true. A
    /// failed pass under `follow` is logged and tried again next time, from where the
    /// cursor stands: nothing is lost and nothing recorded twice.
    pub async fn run(
        &mut self,
        follow: Option<Duration>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<Pass, ImportError> {
        let mut total = Pass::default();
        loop {
            match self.pass(&mut stop).await {
                Ok(pass) => {
                    total += pass;
                    if follow.is_some() && (pass.recorded > 0 || pass.read > pass.already) {
                        tracing::info!(
                            source = %self.source,
                            read = pass.read,
                            recorded = pass.recorded,
                            already = pass.already,
                            cursor = self.cursor().unwrap_or_default(),
                            "imported from ERPNext's Access Log"
                        );
                    }
                }
                Err(e) if follow.is_some() && e.is_transient() => {
                    tracing::warn!(source = %self.source, error = %e, "the import failed; it will try again");
                }
                Err(e) => return Err(e),
            }
            let Some(every) = follow else {
                return Ok(total);
            };
            if *stop.borrow() {
                return Ok(total);
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => return Ok(total),
            }
        }
    }

    /// Reads from the window's start to ERPNext's newest row.
    pub async fn pass(&mut self, stop: &mut watch::Receiver<bool>) -> Result<Pass, ImportError> {
        let overlap = self.options.overlap;
        let cursor = self.cursor;
        let zone = self.zone.clone();
        // Another process may have written to the log since (it should not: the lock
        // keeps out other imports of this source on this site, not on another server).
        self.known
            .catch_up(&*self.store, &self.source, |_| {
                cursor.map(|c| zone.window_start(c, overlap))
            })
            .await?;
        let mut from = self.cursor.map(|c| self.zone.window_start(c, overlap));
        self.known.trim(from);
        let mut skip: u64 = 0;
        let mut previous: HashSet<String> = HashSet::new();
        let mut pass = Pass::default();
        let limit = self.options.page_size.max(1);
        loop {
            if *stop.borrow() {
                return Ok(pass);
            }
            let from_text = from.map(format_naive);
            let page = self.upstream.page(from_text.as_deref(), skip, limit);
            let raw = tokio::select! {
                r = page => r?,
                _ = stop.changed() => return Ok(pass),
            };
            let rows = raw
                .iter()
                .map(Row::from_json)
                .collect::<Result<Vec<Row>, String>>()
                .map_err(ImportError::BadAnswer)?;
            check_order(&rows, from)?;
            let full = rows.len() >= limit as usize;
            if full && rows.iter().all(|r| previous.contains(&r.name)) {
                return Err(ImportError::BadAnswer(format!(
                    "ERPNext sent the same Access Log rows again for limit_start={skip}: it does not page as Frappe does"
                )));
            }
            pass.read += rows.len() as u64;
            self.record(&rows, &mut pass).await?;
            let Some(last) = rows.last() else {
                return Ok(pass);
            };
            if Some(last.creation) > self.cursor {
                self.cursor = Some(last.creation);
            }
            self.save_cursor()?;
            if !full {
                return Ok(pass);
            }
            if Some(last.creation) == from {
                skip += rows.len() as u64;
            } else {
                from = Some(last.creation);
                skip = rows.iter().filter(|r| r.creation == last.creation).count() as u64;
            }
            previous = rows.into_iter().map(|r| r.name).collect();
        }
    }

    /// Records the rows the log does not hold, all of a page at once (the recorder
    /// commits them together); an error once every one has been answered, so that the
    /// ones recorded are known.
    async fn record(&mut self, rows: &[Row], pass: &mut Pass) -> Result<(), ImportError> {
        let mut taken = HashSet::new();
        let fresh: Vec<&Row> = rows
            .iter()
            .filter(|r| !self.known.contains(&r.name) && taken.insert(r.name.as_str()))
            .collect();
        pass.already += (rows.len() - fresh.len()) as u64;
        let results = futures::future::join_all(fresh.iter().map(|r| {
            self.recorder
                .record(mapping::event(r, &self.source, &self.zone))
        }))
        .await;
        let mut failure = None;
        for (row, result) in fresh.iter().zip(results) {
            match result {
                Ok(receipt) => {
                    self.known.recorded(receipt.seq(), &row.name, row.creation);
                    pass.recorded += 1;
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    fn save_cursor(&self) -> Result<(), ImportError> {
        let Some(creation) = self.cursor else {
            return Ok(());
        };
        let (last_seq, last_name) = match self.known.last() {
            Some((seq, name)) => (*seq, Some(name.clone())),
            None => (0, None),
        };
        state::save(
            &self.cursor_path,
            &Cursor {
                source: self.source.clone(),
                creation: format_naive(creation),
                last_seq,
                last_name,
            },
        )
    }
}

/// Whether the cursor file belongs to this log: its creation, and why not if it does not.
async fn check_file(
    c: &Cursor,
    source: &str,
    store: &dyn LogStore,
) -> Result<(Option<DateTime>, Option<String>), ImportError> {
    let Some(creation) = parse_naive(&c.creation) else {
        return Ok((
            None,
            Some(format!(
                "its creation {:?} is not a date and time",
                c.creation
            )),
        ));
    };
    if c.source != source {
        return Ok((None, Some(format!("it is for {}, not {source}", c.source))));
    }
    if c.last_seq == 0 {
        return Ok((Some(creation), None));
    }
    let head = store.log_head().await?.size;
    match store.entry(c.last_seq).await? {
        Some(e) if e.event.source == source && e.event.request_id == c.last_name => {
            Ok((Some(creation), None))
        }
        Some(_) => Ok((
            None,
            Some(format!(
                "the log's entry {} is not the one it names: it was written for another log",
                c.last_seq
            )),
        )),
        // Pruned since: the log's own entry is gone, its place is not.
        None if c.last_seq <= head => Ok((Some(creation), None)),
        None => Ok((
            None,
            Some(format!(
                "it names entry {} and the log ends at {head} (restored from an older backup?)",
                c.last_seq
            )),
        )),
    }
}

/// Rows must come in `creation` order, none before `from`: what keyset paging relies on.
fn check_order(rows: &[Row], from: Option<DateTime>) -> Result<(), ImportError> {
    let mut at = from;
    for r in rows {
        if Some(r.creation) < at {
            return Err(ImportError::BadAnswer(format!(
                "ERPNext sent Access Log row {} (creation {}) out of order: it did not filter or sort by creation as asked",
                r.name, r.creation_text
            )));
        }
        at = Some(r.creation);
    }
    Ok(())
}
