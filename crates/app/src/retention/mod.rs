//! Retention (issue 19): archiving old entries to bundles and pruning their payloads,
//! legal holds, redaction on request, and restoring a bundle.
//!
//! The order of a prune is what makes it safe to stop at any moment:
//! 1. the entries due are chosen (older than their activity's days, covered by the latest
//!    signed checkpoint, under no active hold);
//! 2. each range not yet archived is written to a bundle, fsynced and renamed into place,
//!    then recorded in the database;
//! 3. the prune is recorded in the Access Log (`log_prune`): no entry, no prune;
//! 4. payloads are removed in short batches, each one transaction.
//!
//! Killed during 2, a `.partial` file is left and nothing was pruned; during 4, each entry
//! is either still whole in the database or pruned with its payload in a complete bundle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use accesslog_archive::{BundleLine, BundleWriter, Header};
use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, CanonicalJson, Entry, Event};
use accesslog_core::merkle::range_plan;
use accesslog_engine::Recorder;
use accesslog_site::retention::RetentionSettings;
use accesslog_store::LeafRow;
use accesslog_store::log::{EntryColumns, entry_from_columns};
use accesslog_store::retention::{ArchiveRecord, LegalHold, NewHold, PruneBatch};
use accesslog_store::{Store, StoreError};
use serde_json::json;

mod pace;

pub use pace::Pace;

/// Entries per batch where a batch is not paced (a restore reads a bundle this many
/// entries at a time).
pub const PRUNE_BATCH: usize = 2000;
/// Entries read per page while choosing and archiving.
const PAGE: u32 = 1000;
const MICROS_PER_DAY: i64 = 86_400_000_000;

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the archive bundle: {0}")]
    Archive(#[from] accesslog_archive::ArchiveError),
    #[error("the {what} could not be recorded in the Access Log, so nothing was changed: {why}")]
    NotRecorded { what: &'static str, why: String },
    #[error("{0}")]
    Invalid(String),
}

pub type RetentionResult<T> = Result<T, RetentionError>;

/// What a prune did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub dry_run: bool,
    /// The signed checkpoint the prune worked under; `None`: there is none yet.
    pub tree_size: Option<u64>,
    /// Entries due (old enough and not held).
    pub due: u64,
    /// Entries old enough but kept by a legal hold.
    pub held: u64,
    pub pruned: u64,
    /// Bundles written by this prune.
    pub bundles: Vec<ArchiveRecord>,
    /// The `log_prune` entry.
    pub recorded_as: Option<u64>,
}

/// The bundle directory, made if missing.
fn archive_dir(dir: &Path) -> RetentionResult<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| {
        RetentionError::Invalid(format!(
            "cannot make the archive folder {}: {e}",
            dir.display()
        ))
    })?;
    Ok(dir.to_path_buf())
}

fn json(value: serde_json::Value) -> Option<CanonicalJson> {
    Some(CanonicalJson::from_value(&value))
}

async fn record(recorder: &Recorder, event: Event, what: &'static str) -> RetentionResult<u64> {
    recorder
        .record(event)
        .await
        .map(|r| r.seq())
        .map_err(|e| RetentionError::NotRecorded {
            what,
            why: e.to_string(),
        })
}

/// What a prune works from: the policy, where bundles go, the log's verifier key text
/// (written into each bundle's header), the time ages are judged at, and whether to
/// change anything.
#[derive(Clone, Copy, Debug)]
pub struct Pruning<'a> {
    pub policy: &'a RetentionSettings,
    pub dir: &'a Path,
    pub key: &'a str,
    pub now: Timestamp,
    pub dry_run: bool,
}

/// Archives and prunes what the policy says is due.
pub async fn prune(
    store: &dyn Store,
    recorder: &Recorder,
    actor: &Event,
    job: &Pruning<'_>,
) -> RetentionResult<PruneReport> {
    let Pruning {
        policy,
        dir,
        key,
        now,
        dry_run,
    } = *job;
    let mut report = PruneReport {
        dry_run,
        ..PruneReport::default()
    };
    let Some(shortest) = policy.shortest_days() else {
        return Ok(report);
    };
    let Some(checkpoint) = store.latest_checkpoint().await? else {
        return Ok(report);
    };
    if !dry_run {
        let tidied = store.tidy_after_prune().await?;
        if tidied > 0 {
            tracing::info!(
                rows = tidied,
                "removed what an earlier prune, stopped half-way, left of pruned entries"
            );
        }
    }
    let tree_size = checkpoint.size;
    report.tree_size = Some(tree_size);
    let holds = active_holds(store, now).await?;
    // Nothing younger than the shortest retention can be due: the scan stops there.
    let horizon = now.as_micros() - i64::from(shortest) * MICROS_PER_DAY;
    let mut due = Vec::new();
    let mut after = 0u64;
    'scan: loop {
        let started = std::time::Instant::now();
        let page = store.retention_facts_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            if e.seq > tree_size || e.timestamp.as_micros() >= horizon {
                break 'scan;
            }
            let Some(days) = e.activity.and_then(|a| policy.days_for(a)) else {
                continue;
            };
            if e.timestamp.as_micros() >= now.as_micros() - i64::from(days) * MICROS_PER_DAY {
                continue;
            }
            if holds.iter().any(|h| h.scope.covers(e)) {
                report.held += 1;
            } else {
                due.push(e.seq);
            }
        }
        rest_after(started).await;
    }
    report.due = due.len() as u64;
    let Some(&last_due) = due.last() else {
        return Ok(report);
    };

    // Archive what is not yet in a bundle, up to the last entry due.
    let mut archives = store.archives().await?;
    let archived_through = archives.iter().map(|a| a.last).max().unwrap_or(0);
    if !dry_run && last_due > archived_through {
        let dir = archive_dir(dir)?;
        let mut first = archived_through + 1;
        while first <= last_due {
            let last = (first + policy.bundle_max_entries - 1).min(last_due);
            let record = write_bundle(
                store,
                &dir,
                &checkpoint.note,
                key,
                tree_size,
                first,
                last,
                now,
            )
            .await?;
            store.add_archive(&record).await?;
            report.bundles.push(record.clone());
            archives.push(record);
            first = last + 1;
        }
    }
    if dry_run {
        return Ok(report);
    }

    // Which bundle holds each entry due.
    let bundle_of = |seq: u64| {
        archives
            .iter()
            .filter(|a| a.first <= seq && seq <= a.last)
            .map(|a| a.sha256.clone())
            .next_back()
    };
    let mut by_bundle: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for seq in &due {
        let sha = bundle_of(*seq).ok_or_else(|| {
            RetentionError::Invalid(format!("entry {seq} is due but no bundle holds it"))
        })?;
        by_bundle.entry(sha).or_default().push(*seq);
    }

    let mut event = actor.clone();
    event.activity = Activity::LogPrune;
    event.row_count = Some(report.due);
    event.content_sha256 = report.bundles.last().map(|b| b.sha256.clone());
    event.filters = json(json!({
        "first": due.first(),
        "last": last_due,
        "count": report.due,
        "held": report.held,
        "tree_size": tree_size,
        "bundles": by_bundle.keys().collect::<Vec<_>>(),
    }));
    report.recorded_as = Some(record(recorder, event, "prune").await?);

    // Whole ranges first where the backend keeps the log in ranges (PostgreSQL drops a
    // partition all of whose entries are due); the rest a batch at a time.
    let ranges: Vec<(u64, u64, String)> = archives
        .iter()
        .map(|a| (a.first, a.last, a.sha256.clone()))
        .collect();
    let dropped = store
        .prune_whole_ranges(&due, &ranges, policy.keep_fields)
        .await?;
    let in_dropped = |seq: &u64| dropped.iter().any(|(a, b)| *a <= *seq && *seq < *b);
    report.pruned += due.iter().filter(|s| in_dropped(s)).count() as u64;
    let mut pace = Pace::default();
    for (sha, mut seqs) in by_bundle {
        seqs.retain(|s| !in_dropped(s));
        report.pruned += prune_paced(
            store,
            &mut pace,
            &seqs,
            Some(&sha),
            policy.keep_fields,
            false,
        )
        .await?;
    }
    release_free_pages(store).await?;
    Ok(report)
}

/// The legal holds in force at `now`.
async fn active_holds(store: &dyn Store, now: Timestamp) -> RetentionResult<Vec<LegalHold>> {
    Ok(store
        .holds()
        .await?
        .into_iter()
        .filter(|h| h.active_at(now))
        .collect())
}

/// While choosing and archiving, the prune rests after each page of the log [`Pace::REST`]
/// times as long as the page took (reading it, and writing it to a bundle): it takes at
/// most a quarter of the machine it would take alone, which the writers' requests share.
async fn rest_after(page_started: std::time::Instant) {
    tokio::time::sleep(page_started.elapsed() * Pace::REST).await;
}

/// Prunes `seqs` in batches paced by [`Pace`]: each batch one transaction that holds the
/// log about [`Pace::TARGET`], then a rest for the writers. Says how many were pruned.
async fn prune_paced(
    store: &dyn Store,
    pace: &mut Pace,
    seqs: &[u64],
    bundle: Option<&str>,
    keep_fields: bool,
    redacted: bool,
) -> RetentionResult<u64> {
    let mut pruned = 0;
    let mut rest = seqs;
    while !rest.is_empty() {
        let (batch, tail) = rest.split_at(pace.batch().min(rest.len()));
        let done = store
            .prune_entries(&PruneBatch {
                seqs: batch.to_vec(),
                bundle: bundle.map(str::to_owned),
                keep_fields,
                redacted,
            })
            .await?;
        pruned += done.pruned;
        rest = tail;
        let pause = pace.held(batch.len(), done.held);
        if !rest.is_empty() {
            tokio::time::sleep(pause).await;
        }
    }
    Ok(pruned)
}

/// Hands the pages a prune freed back to the disk where the backend keeps them (SQLite),
/// a short transaction at a time, paced like the batches.
async fn release_free_pages(store: &dyn Store) -> RetentionResult<()> {
    let mut pace = Pace::default();
    let mut before = u64::MAX;
    loop {
        let pages = pace.batch();
        let started = std::time::Instant::now();
        let Some(left) = store.release_free_pages(pages as u32).await? else {
            return Ok(());
        };
        // Nothing left, or nothing the file can give back (one made without incremental
        // vacuum keeps its free pages for new entries).
        if left == 0 || left >= before {
            return Ok(());
        }
        before = left;
        tokio::time::sleep(pace.held(pages, started.elapsed())).await;
    }
}

/// Writes the bundle of entries `first..=last`, checkable against the checkpoint `note`
/// of `tree_size` entries.
#[allow(clippy::too_many_arguments)]
async fn write_bundle(
    store: &dyn Store,
    dir: &Path,
    note: &str,
    key: &str,
    tree_size: u64,
    first: u64,
    last: u64,
    now: Timestamp,
) -> RetentionResult<ArchiveRecord> {
    let plan = range_plan(first - 1, last, tree_size)
        .map_err(|e| RetentionError::Invalid(e.to_string()))?;
    let proof = accesslog_engine::proofs::assemble(store, &plan).await?;
    let origin = note.lines().next().unwrap_or_default().to_owned();
    let header = Header {
        format: accesslog_archive::FORMAT.to_owned(),
        origin,
        first,
        last,
        tree_size,
        checkpoint: note.to_owned(),
        key: key.to_owned(),
        proof: proof.iter().map(hex::encode).collect(),
        created_at: now.to_rfc3339(),
    };
    // A bundle of this range already on disk but not recorded: a prune stopped between
    // writing it and recording it. It is kept if it checks, under the log's key.
    let existing = dir.join(accesslog_archive::bundle_name(first, last));
    if existing.exists() {
        let verifier = accesslog_core::checkpoint::NoteVerifier::from_verifier_key(key)
            .map_err(|e| RetentionError::Invalid(format!("the log's key: {e}")))?;
        match accesslog_archive::check(&existing, Some(&verifier), None) {
            Ok(checked) if checked.header.first == first && checked.header.last == last => {
                let bytes = std::fs::metadata(&existing).map(|m| m.len()).unwrap_or(0);
                return Ok(ArchiveRecord {
                    sha256: checked.sha256,
                    name: accesslog_archive::bundle_name(first, last),
                    first,
                    last,
                    tree_size: checked.header.tree_size,
                    bytes,
                    created_at: now,
                });
            }
            other => {
                // Not a bundle of ours for this range: set aside, never deleted.
                let aside = existing.with_extension(format!("zst.unchecked-{}", now.as_micros()));
                tracing::warn!(
                    bundle = %existing.display(),
                    aside = %aside.display(),
                    problem = ?other.err(),
                    "an unrecorded bundle of the same range does not check; setting it aside"
                );
                std::fs::rename(&existing, &aside).map_err(|e| {
                    RetentionError::Invalid(format!("cannot set {} aside: {e}", existing.display()))
                })?;
            }
        }
    }
    let mut writer = BundleWriter::create(dir, &header)?;
    let mut after = first - 1;
    while after < last {
        let started = std::time::Instant::now();
        let rows = store.entries_with_leaves_after(after, PAGE).await?;
        if rows.is_empty() {
            break;
        }
        // Encoding, compressing and writing run on a blocking thread, off the runtime's
        // threads, which the writers' requests need meanwhile.
        let (w, pushed) = off_the_runtime(move || push_page(writer, rows, last)).await?;
        writer = w;
        match pushed {
            Some(seq) => after = seq,
            None => break,
        }
        rest_after(started).await;
    }
    let written = off_the_runtime(move || Ok(writer.finish()?)).await?;
    Ok(ArchiveRecord {
        sha256: written.sha256,
        name: written
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        first,
        last,
        tree_size,
        bytes: written.bytes,
        created_at: now,
    })
}

/// Pushes a page of the log's rows, up to `last`, to the bundle; says the last seq pushed.
fn push_page(
    mut writer: BundleWriter,
    rows: Vec<LeafRow>,
    last: u64,
) -> RetentionResult<(BundleWriter, Option<u64>)> {
    let mut pushed = None;
    for row in rows {
        let seq = u64::try_from(row.seq).unwrap_or(0);
        if seq > last {
            break;
        }
        let leaf = row.leaf.ok_or_else(|| {
            RetentionError::Invalid(format!("entry {seq} has no leaf hash; run verify"))
        })?;
        let fields = match (&row.entry, row.pruned) {
            (Ok(entry), false) => Some(entry.field_texts()),
            (_, true) => None,
            (Err(e), false) => {
                return Err(RetentionError::Invalid(format!(
                    "entry {seq} cannot be read ({e}); run verify before pruning"
                )));
            }
        };
        writer.push(&BundleLine { seq, leaf, fields })?;
        pushed = Some(seq);
    }
    Ok((writer, pushed))
}

async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> RetentionResult<T> + Send + 'static,
) -> RetentionResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RetentionError::Invalid(format!("the bundle writer's thread failed: {e}")))?
}

/// What a redaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedactReport {
    pub dry_run: bool,
    pub redacted: u64,
    /// The person's entries kept by a legal hold.
    pub held: u64,
    pub recorded_as: Option<u64>,
}

/// Removes the payload of `user`'s entries (dated before `before`, if given), as pruning
/// does, without archiving them: the leaf hashes stay, so the tree still verifies.
/// Entries of theirs already pruned are marked redacted too, found by their kept user or,
/// where nothing was kept, in the bundles in `archive_dir`: what was kept of them goes,
/// and a restore never brings them back. (The bundle files themselves are not changed.)
#[allow(clippy::too_many_arguments)]
pub async fn redact(
    store: &dyn Store,
    recorder: &Recorder,
    actor: &Event,
    user: &str,
    before: Option<Timestamp>,
    archive_dir: Option<&Path>,
    now: Timestamp,
    dry_run: bool,
) -> RetentionResult<RedactReport> {
    if user.trim().is_empty() {
        return Err(RetentionError::Invalid("--user must name a user".into()));
    }
    let holds = active_holds(store, now).await?;
    let mut report = RedactReport {
        dry_run,
        ..RedactReport::default()
    };
    let mut seqs = Vec::new();
    let mut after = 0;
    loop {
        let page = store.retention_facts_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            if e.user != user || before.is_some_and(|b| e.timestamp >= b) {
                continue;
            }
            if holds.iter().any(|h| h.scope.covers(e)) {
                report.held += 1;
            } else {
                seqs.push(e.seq);
            }
        }
    }
    // Theirs among the pruned: by the user kept with them, and by the bundles.
    let mut pruned: std::collections::BTreeSet<u64> = store
        .pruned_of_user(user, before)
        .await?
        .into_iter()
        .collect();
    if let Some(dir) = archive_dir {
        for a in store.archives().await? {
            let path = dir.join(&a.name);
            if !path.exists() {
                continue;
            }
            let mut found = Vec::new();
            accesslog_archive::read(&path, |line| {
                if let Some(f) = &line.fields
                    && f[2].as_deref() == Some(user)
                    && before.is_none_or(|b| {
                        f[1].as_deref()
                            .and_then(|t| t.parse::<i64>().ok())
                            .is_some_and(|t| t < b.as_micros())
                    })
                {
                    found.push(line.seq);
                }
                Ok(())
            })?;
            for seq in found {
                if let Some(p) = store.pruned_entry(seq).await?
                    && !p.redacted
                {
                    pruned.insert(seq);
                }
            }
        }
    }
    let pruned: Vec<u64> = pruned.into_iter().collect();
    report.redacted = (seqs.len() + pruned.len()) as u64;
    if dry_run || report.redacted == 0 {
        return Ok(report);
    }
    let mut event = actor.clone();
    event.activity = Activity::LogRedact;
    event.row_count = Some(report.redacted);
    event.filters = json(json!({
        "user": user,
        "before": before.map(Timestamp::to_rfc3339),
        "first": seqs.first().min(pruned.first()),
        "last": seqs.last().max(pruned.last()),
        "count": report.redacted,
        "already_pruned": pruned.len(),
        "held": report.held,
    }));
    report.recorded_as = Some(record(recorder, event, "redaction").await?);
    store.mark_redacted(&pruned).await?;
    prune_paced(store, &mut Pace::default(), &seqs, None, false, true).await?;
    release_free_pages(store).await?;
    Ok(report)
}

fn hold_json(h: &LegalHold) -> serde_json::Value {
    json!({
        "id": h.id,
        "user": h.scope.user,
        "doctype": h.scope.doctype,
        "report": h.scope.report,
        "from": h.scope.from.map(Timestamp::to_rfc3339),
        "to": h.scope.to.map(Timestamp::to_rfc3339),
        "reason": h.reason,
        "owner": h.owner,
        "expires": h.expires_at.map(Timestamp::to_rfc3339),
    })
}

/// Adds a legal hold and records it (`legal_hold`). The hold is in force before it is
/// recorded: a hold keeps more, never less, so a failure to record leaves it standing and
/// says so.
pub async fn add_hold(
    store: &dyn Store,
    recorder: &Recorder,
    actor: &Event,
    hold: NewHold,
) -> RetentionResult<(LegalHold, u64)> {
    if hold.scope.is_empty() {
        return Err(RetentionError::Invalid(
            "a legal hold needs --user, --doctype, --report, --from or --to".into(),
        ));
    }
    if hold.reason.trim().is_empty() || hold.owner.trim().is_empty() {
        return Err(RetentionError::Invalid(
            "a legal hold needs a --reason and an --owner".into(),
        ));
    }
    let added = store.add_hold(&hold).await?;
    let mut event = actor.clone();
    event.activity = Activity::LegalHold;
    event.reason = Some(format!("hold {} added: {}", added.id, added.reason));
    event.filters = json(hold_json(&added));
    let seq = record(recorder, event, "legal hold").await?;
    Ok((added, seq))
}

/// Lifts hold `id`, recording it first: a lift that cannot be recorded does not happen.
pub async fn lift_hold(
    store: &dyn Store,
    recorder: &Recorder,
    actor: &Event,
    id: u64,
    now: Timestamp,
) -> RetentionResult<(LegalHold, u64)> {
    let Some(hold) = store.holds().await?.into_iter().find(|h| h.id == id) else {
        return Err(RetentionError::Invalid(format!(
            "there is no legal hold {id}"
        )));
    };
    if hold.lifted_at.is_some() {
        return Err(RetentionError::Invalid(format!(
            "legal hold {id} was already lifted"
        )));
    }
    let mut event = actor.clone();
    event.activity = Activity::LegalHold;
    event.reason = Some(format!("hold {id} lifted"));
    event.filters = json(hold_json(&hold));
    let seq = record(recorder, event, "lift of the legal hold").await?;
    let lifted = store
        .lift_hold(id, &actor.user, now)
        .await?
        .ok_or_else(|| RetentionError::Invalid(format!("there is no legal hold {id}")))?;
    Ok((lifted, seq))
}

/// Reads an entry back from a bundle line's fields.
struct Fields<'a>(&'a [Option<String>; 24]);

impl EntryColumns for Fields<'_> {
    fn text(&self, column: &'static str) -> accesslog_store::StoreResult<Option<String>> {
        Ok(self.at(column)?.clone())
    }

    fn int(&self, column: &'static str) -> accesslog_store::StoreResult<Option<i64>> {
        self.at(column)?
            .as_deref()
            .map(|t| {
                t.parse()
                    .map_err(|_| StoreError::Other(format!("{column} {t:?} is not a number")))
            })
            .transpose()
    }
}

impl Fields<'_> {
    fn at(&self, column: &str) -> accesslog_store::StoreResult<&Option<String>> {
        accesslog_store::log::ENTRY_FIELDS
            .iter()
            .position(|n| *n == column)
            .map(|i| &self.0[i])
            .ok_or_else(|| StoreError::Other(format!("no field {column}")))
    }
}

/// The entry a bundle line holds.
pub fn entry_of(fields: &[Option<String>; 24]) -> RetentionResult<Entry> {
    Ok(entry_from_columns(&Fields(fields))?)
}

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    pub restored: u64,
    pub redacted: u64,
    pub not_pruned: u64,
    pub recorded_as: Option<u64>,
}

/// Puts the payloads of `bundle` back, after checking it whole against the site's key:
/// each entry must hash to the leaf kept for it. Redacted entries stay redacted.
pub async fn restore(
    store: &dyn Store,
    recorder: &Recorder,
    actor: &Event,
    bundle: &Path,
    verifier: &accesslog_core::checkpoint::NoteVerifier,
) -> RetentionResult<RestoreReport> {
    let checked = accesslog_archive::check(bundle, Some(verifier), None)?;
    let mut event = actor.clone();
    event.activity = Activity::LogPrune;
    event.reason = Some("payloads restored from an archive bundle".into());
    event.content_sha256 = Some(checked.sha256.clone());
    event.filters = json(json!({
        "restore": true,
        "first": checked.header.first,
        "last": checked.header.last,
        "bundle": checked.sha256,
    }));
    let mut report = RestoreReport {
        recorded_as: Some(record(recorder, event, "restore").await?),
        ..RestoreReport::default()
    };
    // The bundle is read on a blocking thread, a batch at a time, while the store puts
    // the previous batch back: a bundle of a million entries is never held whole.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RetentionResult<Vec<Entry>>>(2);
    let path = bundle.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(PRUNE_BATCH);
        let read = accesslog_archive::read(&path, |line| {
            if let Some(fields) = &line.fields {
                match entry_of(fields) {
                    Ok(e) => batch.push(e),
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                    }
                }
            }
            if batch.len() == PRUNE_BATCH {
                let _ = tx.blocking_send(Ok(std::mem::take(&mut batch)));
            }
            Ok(())
        });
        match read {
            Ok(_) if !batch.is_empty() => {
                let _ = tx.blocking_send(Ok(batch));
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e.into()));
            }
        }
    });
    while let Some(batch) = rx.recv().await {
        let r = store.restore_entries(&batch?).await?;
        report.restored += r.restored;
        report.redacted += r.redacted;
        report.not_pruned += r.not_pruned;
    }
    reader
        .await
        .map_err(|e| RetentionError::Invalid(format!("the bundle reader failed: {e}")))?;
    Ok(report)
}

/// How often the server prunes.
pub const DAILY: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// The server's prune: once a little after start, then once every `every`, while the
/// returned task runs. A prune that fails is said in the server's log and tried again at
/// the next turn; the server goes on serving and recording.
pub fn spawn_daily(
    store: std::sync::Arc<dyn Store>,
    recorder: Recorder,
    clock: std::sync::Arc<dyn accesslog_core::Clock>,
    policy: RetentionSettings,
    dir: PathBuf,
    key: String,
    every: std::time::Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    if !policy.prunes_anything() {
        return None;
    }
    let mut actor = Event::new("system:retention", Activity::LogPrune, "serve: daily prune");
    actor.auth = Some("system".to_owned());
    Some(tokio::spawn(async move {
        // Not at the very start: let the server settle first.
        tokio::time::sleep(std::time::Duration::from_secs(60).min(every)).await;
        loop {
            let job = Pruning {
                policy: &policy,
                dir: &dir,
                key: &key,
                now: clock.now(),
                dry_run: false,
            };
            match prune(&*store, &recorder, &actor, &job).await {
                Ok(r) if r.pruned > 0 => tracing::info!(
                    pruned = r.pruned,
                    held = r.held,
                    bundles = r.bundles.len(),
                    "pruned the Access Log"
                ),
                Ok(_) => tracing::debug!("nothing to prune"),
                Err(e) => {
                    tracing::error!(error = %e, "the daily prune failed; trying again tomorrow")
                }
            }
            tokio::time::sleep(every).await;
        }
    }))
}
