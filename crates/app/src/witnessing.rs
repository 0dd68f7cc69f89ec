//! Publishing checkpoints beyond the operator's reach: each new checkpoint goes to the
//! site's witnesses (`[[log.witnesses]]`) for cosignatures, then, once the quorum has
//! cosigned it, with its cosignature lines to the sinks of `[log.publish]` (files on
//! other mounts, HTTP endpoints).
//!
//! Only the latest checkpoint is ever sent: a witness needs nothing between the size it
//! last cosigned and the newest, so one that was away catches up in one request with a
//! consistency proof. A witness that cannot be reached is tried again with backoff (1 s
//! doubling to 5 minutes). One that refuses is evidence: the refusal is kept in the
//! store, shown on the dashboard, and raised as a Critical alert (`W1`) when the alert
//! inbox runs.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accesslog_core::checkpoint::Checkpoint;
use accesslog_core::cosignature::CosignatureVerifier;
use accesslog_core::{Clock, Timestamp};
use accesslog_engine::proofs;
use accesslog_site::LogSettings;
use accesslog_store::Store;
use accesslog_store::witnesses::{Cosignature, WitnessRefusal};
use accesslog_witness::client::{SubmitError, WitnessClient, WitnessEndpoint};
use tokio::sync::mpsc;

use crate::alerts::engine::Firing;
use crate::alerts::inbox;
use crate::alerts::lifecycle::{Alert, Severity};
use crate::{AppError, AppResult};

/// The alert rule a witness's refusal is raised under.
pub const WITNESS_RULE: &str = "W1";

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(300);

/// When to try something again: now, or after a doubling wait.
#[derive(Debug, Default)]
struct Backoff {
    wait: Option<Duration>,
    next: Option<Instant>,
}

impl Backoff {
    fn due(&self) -> bool {
        self.next.is_none_or(|n| Instant::now() >= n)
    }

    fn failed(&mut self) {
        let wait = self.wait.map_or(FIRST_RETRY, |w| (w * 2).min(LAST_RETRY));
        self.wait = Some(wait);
        self.next = Some(Instant::now() + wait);
    }

    fn succeeded(&mut self) {
        *self = Self::default();
    }
}

#[derive(Debug)]
struct Witness {
    client: WitnessClient,
    /// The newest size it cosigned for us, or refused (not sent again).
    done: u64,
    backoff: Backoff,
}

#[derive(Debug)]
enum Target {
    File(PathBuf),
    Url(String),
}

#[derive(Debug)]
struct Sink {
    target: Target,
    published: u64,
    backoff: Backoff,
}

/// What one round did, for tests and logs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub cosigned: usize,
    pub refused: usize,
    pub unreachable: usize,
    pub published: usize,
}

#[derive(Debug)]
pub struct Publisher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    log: LogSettings,
    witnesses: Vec<Witness>,
    sinks: Vec<Sink>,
    http: reqwest::Client,
    alerts: Option<mpsc::Sender<Alert>>,
}

impl Publisher {
    /// The site's publisher, or `None` when it has neither witnesses nor sinks.
    pub fn new(
        log: &LogSettings,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> AppResult<Option<Self>> {
        if log.witnesses.is_empty() && log.publish.files.is_empty() && log.publish.urls.is_empty() {
            return Ok(None);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| AppError::Invalid(format!("cannot make an HTTP client: {e}")))?;
        let mut witnesses = Vec::new();
        for w in &log.witnesses {
            let verifier = CosignatureVerifier::from_verifier_key(&w.key)
                .map_err(|e| AppError::Invalid(format!("witness {}: {e}", w.url)))?;
            witnesses.push(Witness {
                client: WitnessClient::new(
                    WitnessEndpoint {
                        url: w.url.clone(),
                        verifier,
                    },
                    http.clone(),
                ),
                done: 0,
                backoff: Backoff::default(),
            });
        }
        let sinks = log
            .publish
            .files
            .iter()
            .map(|f| Target::File(f.clone()))
            .chain(log.publish.urls.iter().map(|u| Target::Url(u.clone())))
            .map(|target| Sink {
                target,
                published: 0,
                backoff: Backoff::default(),
            })
            .collect();
        Ok(Some(Self {
            store,
            clock,
            log: log.clone(),
            witnesses,
            sinks,
            http,
            alerts: None,
        }))
    }

    /// Sends the `W1` alerts it raises on to delivery.
    pub fn with_alerts(mut self, tx: mpsc::Sender<Alert>) -> Self {
        self.alerts = Some(tx);
        self
    }

    /// Sends the latest checkpoint to every witness that has not cosigned it, then to
    /// every sink, once cosigned by the quorum.
    pub async fn round(&mut self) -> AppResult<Round> {
        let mut round = Round::default();
        let Some(latest) = self.store.latest_checkpoint().await? else {
            return Ok(round);
        };
        let body = latest
            .note
            .split_once("\n\n")
            .map(|(text, _)| format!("{text}\n"))
            .unwrap_or_default();
        let checkpoint = Checkpoint::parse_body(&body)
            .map_err(|e| AppError::Invalid(format!("the stored checkpoint: {e}")))?;
        for i in 0..self.witnesses.len() {
            self.submit(i, &latest.note, &checkpoint, &mut round)
                .await?;
        }
        let Some((size, note)) = latest_published(&*self.store, &self.log).await? else {
            return Ok(round);
        };
        for sink in &mut self.sinks {
            if sink.published >= size || !sink.backoff.due() {
                continue;
            }
            match publish(&self.http, &sink.target, &note).await {
                Ok(()) => {
                    sink.published = size;
                    sink.backoff.succeeded();
                    round.published += 1;
                }
                Err(e) => {
                    tracing::warn!(sink = ?sink.target, error = %e, "could not publish a checkpoint");
                    sink.backoff.failed();
                }
            }
        }
        Ok(round)
    }

    async fn submit(
        &mut self,
        i: usize,
        note: &str,
        checkpoint: &Checkpoint,
        round: &mut Round,
    ) -> AppResult<()> {
        let store = self.store.clone();
        let w = &mut self.witnesses[i];
        if w.done >= checkpoint.size || !w.backoff.due() {
            return Ok(());
        }
        // Cosigned already (before a restart, or by another server on this database).
        let name = w.client.name();
        if store
            .cosignatures(checkpoint.size)
            .await?
            .iter()
            .any(|c| c.witness == name)
        {
            w.done = checkpoint.size;
            return Ok(());
        }
        let result = w
            .client
            .submit(note, checkpoint, |a, b| {
                let store = store.clone();
                async move {
                    proofs::consistency(&*store, a, b)
                        .await
                        .map_err(|e| e.to_string())
                }
            })
            .await;
        let now = self.clock.now();
        match result {
            Ok(line) => {
                w.done = checkpoint.size;
                w.backoff.succeeded();
                round.cosigned += 1;
                self.store
                    .add_cosignature(&Cosignature {
                        size: checkpoint.size,
                        witness: w.client.name().to_owned(),
                        line,
                        received_at: now,
                    })
                    .await?;
            }
            Err(e) if e.is_refusal() => {
                // Not sent again: the next checkpoint is, and is refused in turn while
                // the log stays as it is.
                w.done = checkpoint.size;
                w.backoff.failed();
                round.refused += 1;
                let witness = w.client.name().to_owned();
                tracing::error!(%witness, size = checkpoint.size, error = %e, "a witness refused a checkpoint");
                let status = match &e {
                    SubmitError::Refused { status, .. } => *status,
                    _ => 0,
                };
                self.store
                    .add_witness_refusal(&WitnessRefusal {
                        id: 0,
                        witness: witness.clone(),
                        size: checkpoint.size,
                        status,
                        message: e.to_string(),
                        at: now,
                    })
                    .await?;
                self.raise(&witness, &e.to_string(), now).await;
            }
            Err(e) => {
                w.backoff.failed();
                round.unreachable += 1;
                tracing::warn!(error = %e, "a witness did not answer; trying again later");
            }
        }
        Ok(())
    }

    /// A Critical alert in the inbox (one per witness and day; later refusals join it),
    /// handed to delivery when new.
    async fn raise(&self, witness: &str, why: &str, now: Timestamp) {
        const DAY: i64 = 86_400_000_000;
        let firing = Firing {
            rule: WITNESS_RULE,
            user: witness.to_owned(),
            window_start: Timestamp::from_micros(now.as_micros().div_euclid(DAY) * DAY),
            severity: Severity::Critical,
            seqs: Vec::new(),
            arithmetic: why.to_owned(),
            at: now,
        };
        match inbox::raise(&*self.store, &firing, false, now).await {
            Ok(Some((alert, true))) => {
                if let Some(tx) = &self.alerts {
                    let _ = tx.try_send(alert);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "could not raise the witness alert"),
        }
    }
}

/// What the site publishes as its latest checkpoint: with witnesses, the newest one the
/// quorum cosigned, followed by the configured witnesses' cosignature lines; without, the
/// newest signed one. Its size and signed note.
pub async fn latest_published(
    store: &dyn Store,
    log: &LogSettings,
) -> AppResult<Option<(u64, String)>> {
    if log.witnesses.is_empty() {
        return Ok(store.latest_checkpoint().await?.map(|c| (c.size, c.note)));
    }
    let Some(checkpoint) = store.latest_cosigned(log.quorum()).await? else {
        return Ok(None);
    };
    let names: Vec<String> = log
        .witnesses
        .iter()
        .filter_map(|w| CosignatureVerifier::from_verifier_key(&w.key).ok())
        .map(|v| v.name().to_owned())
        .collect();
    let mut note = checkpoint.note;
    for c in store.cosignatures(checkpoint.size).await? {
        if names.contains(&c.witness) {
            note.push_str(&c.line);
        }
    }
    Ok(Some((checkpoint.size, note)))
}

async fn publish(http: &reqwest::Client, target: &Target, note: &str) -> Result<(), String> {
    match target {
        Target::File(path) => {
            let (path, note) = (path.clone(), note.to_owned());
            tokio::task::spawn_blocking(move || append(&path, &note))
                .await
                .map_err(|e| e.to_string())?
        }
        Target::Url(url) => {
            let response = http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(note.to_owned())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("{url} answered {}", response.status()))
            }
        }
    }
}

/// Appends a note and a blank line, then fsyncs.
fn append(path: &std::path::Path, note: &str) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(note.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs rounds every `every` until dropped (the handle aborts it).
pub fn spawn(mut publisher: Publisher, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = publisher.round().await {
                tracing::error!(error = %e, "publishing checkpoints failed; trying again");
            }
        }
    })
}

/// What `verify --witness` found: the newest checkpoint cosigned by enough of the given
/// witnesses, and by whom (name, cosignature time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    pub size: u64,
    pub by: Vec<(String, u64)>,
}

/// Finds the newest checkpoint in the database that at least `quorum` of `witnesses`
/// cosigned, their lines taken from the store and from `notes` (checkpoints kept
/// elsewhere, such as a publication file). Every cosignature is checked against the
/// witness keys given, never against anything the site holds. `Err` says why none
/// qualifies.
pub async fn check_witnessed(
    store: &dyn Store,
    witnesses: &[CosignatureVerifier],
    quorum: usize,
    notes: &[String],
) -> AppResult<Result<Witnessed, String>> {
    let mut checkpoints = store.checkpoints().await?;
    checkpoints.sort_by_key(|c| std::cmp::Reverse(c.size));
    let mut best: Option<(u64, usize)> = None;
    for c in &checkpoints {
        let text = c.note.split_once("\n\n").map_or("", |(t, _)| t);
        let mut cosigned = c.note.clone();
        for line in store.cosignatures(c.size).await? {
            cosigned.push_str(&line.line);
        }
        for note in notes {
            if note.split_once("\n\n").is_some_and(|(t, _)| t == text) {
                cosigned = accesslog_core::cosignature::add_signature_lines(
                    &cosigned,
                    note.split_once("\n\n").map_or("", |(_, sigs)| sigs),
                );
            }
        }
        let by: Vec<(String, u64)> = witnesses
            .iter()
            .filter_map(|w| {
                w.verify(&cosigned)
                    .ok()
                    .map(|(_, time)| (w.name().to_owned(), time))
            })
            .collect();
        if by.len() >= quorum {
            return Ok(Ok(Witnessed { size: c.size, by }));
        }
        if best.is_none_or(|(_, n)| by.len() > n) {
            best = Some((c.size, by.len()));
        }
    }
    let newest = checkpoints.first().map_or(0, |c| c.size);
    Ok(Err(match best {
        None => "the database holds no checkpoint".to_owned(),
        Some((_, 0)) => format!(
            "none of the {} witnesses given cosigned any checkpoint in the database \
             (newest: {newest} entries): the log was rewritten and re-signed, or it was \
             never sent to them",
            witnesses.len()
        ),
        Some((size, n)) => format!(
            "no checkpoint is cosigned by {quorum} of the {} witnesses given; at most {n} \
             cosigned one (the checkpoint of {size} entries)",
            witnesses.len()
        ),
    }))
}
