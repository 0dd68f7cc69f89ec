//! A witness for the Access Log, per C2SP `tlog-witness` and `tlog-cosignature`.
//!
//! A witness is a party other than the log's operator. It holds the latest checkpoint it
//! cosigned for each log it follows, and cosigns a new one only with a consistency proof
//! from that one: an operator who rewrites history, rolls the database back or shows two
//! views can no longer collect its cosignature. What it refuses with a valid log signature
//! is evidence, and is kept (`refused.log`).
//!
//! - [`Witness::add_checkpoint`]: the protocol's checks, in the spec's order, over a
//!   request body; the answer is a cosignature line or a [`Refusal`] with its status;
//! - [`state`]: the witness's directory: its key, the logs it follows, the latest
//!   checkpoint per log (fsynced before any answer), the refusals;
//! - `http` (feature `http`): `POST /add-checkpoint` and `GET /{origin hash}/checkpoint`;
//! - [`client`]: the log's side, which submits checkpoints and checks what comes back.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
#[cfg(feature = "http")]
pub mod http;
pub mod state;

use std::collections::HashMap;
use std::sync::Mutex;

use accesslog_core::checkpoint::{Checkpoint, NoteError, NoteVerifier};
use accesslog_core::cosignature::Cosigner;
use accesslog_core::merkle::{Hash, empty_root, verify_consistency};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::state::{Latest, WitnessDir};

/// The most consistency proof lines a request may carry (the spec's bound).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body the witness reads.
pub const MAX_BODY: usize = 64 * 1024;

/// Why a checkpoint was not cosigned: the HTTP status the spec gives the case, and words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct Refusal {
    pub status: u16,
    pub message: String,
    /// For 409: the size of the latest checkpoint cosigned for this log.
    pub latest_size: Option<u64>,
}

impl Refusal {
    fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            latest_size: None,
        }
    }

    /// Whether the request carried a valid log signature and still failed the checks:
    /// evidence of a log misbehaving, worth keeping.
    fn is_evidence(&self) -> bool {
        matches!(self.status, 400 | 422)
    }
}

/// A request body, parsed: `old <size>`, up to 63 proof lines, a blank line, the note.
#[derive(Debug)]
struct Request<'a> {
    old: u64,
    proof: Vec<Hash>,
    note: &'a str,
}

fn parse_request(body: &str) -> Result<Request<'_>, Refusal> {
    let bad = |m: &str| Refusal::new(400, m);
    let (head, note) = body
        .split_once("\n\n")
        .ok_or_else(|| bad("the body has no blank line between the proof and the checkpoint"))?;
    let mut lines = head.split('\n');
    let old = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .ok_or_else(|| bad("the body does not start with an `old <size>` line"))?;
    if old.is_empty()
        || !old.bytes().all(|b| b.is_ascii_digit())
        || (old.len() > 1 && old.starts_with('0'))
    {
        return Err(bad(
            "the old size is not a decimal number without leading zeros",
        ));
    }
    let old: u64 = old
        .parse()
        .map_err(|_| bad("the old size does not fit in 64 bits"))?;
    let mut proof = Vec::new();
    for line in lines {
        if proof.len() == MAX_PROOF_LINES {
            return Err(bad("more than 63 consistency proof lines"));
        }
        let hash = BASE64
            .decode(line)
            .ok()
            .and_then(|b| Hash::try_from(b.as_slice()).ok())
            .ok_or_else(|| bad("a consistency proof line is not a base64 32-byte hash"))?;
        proof.push(hash);
    }
    Ok(Request { old, proof, note })
}

/// A witness: its key, the logs it follows (by origin, with their keys), and its state.
pub struct Witness {
    cosigner: Cosigner,
    logs: HashMap<String, Vec<NoteVerifier>>,
    dir: WitnessDir,
    /// Held across check and persist, so two requests cannot both move one log (the
    /// spec's rollback race).
    latest: Mutex<HashMap<String, Latest>>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.cosigner.name())
            .field("logs", &self.logs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// Opens the witness kept in `dir` (see [`state::WitnessDir`]).
    pub fn open(dir: WitnessDir) -> Result<Self, state::StateError> {
        let config = dir.config()?;
        let cosigner = dir.cosigner()?;
        let mut logs: HashMap<String, Vec<NoteVerifier>> = HashMap::new();
        for log in &config.logs {
            for key in &log.keys {
                let verifier = NoteVerifier::from_verifier_key(key).map_err(|e| {
                    state::StateError::Config(format!("a key of log {:?}: {e}", log.origin))
                })?;
                logs.entry(log.origin.clone()).or_default().push(verifier);
            }
        }
        let latest = dir.load_latest()?;
        Ok(Self {
            cosigner,
            logs,
            dir,
            latest: Mutex::new(latest),
        })
    }

    pub fn name(&self) -> &str {
        self.cosigner.name()
    }

    /// The witness's verifier key, which a site lists under `[[log.witnesses]]`.
    pub fn verifier_key(&self) -> String {
        self.cosigner.verifier_key()
    }

    /// The latest cosigned checkpoint of the log with this origin, as a signed note with
    /// the log's signature and the witness's cosignature.
    pub fn latest_note(&self, origin: &str) -> Option<String> {
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        latest.get(origin).map(|l| l.note.clone())
    }

    /// The latest cosigned note of the log whose origin hashes (SHA-256, lowercase hex) to
    /// `origin_hash`: the monitoring endpoint's lookup.
    pub fn latest_note_by_hash(&self, origin_hash: &str) -> Option<String> {
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        latest
            .iter()
            .find(|(origin, _)| state::origin_hash(origin) == origin_hash)
            .map(|(_, l)| l.note.clone())
    }

    /// `add-checkpoint`: checks `body` and, if it holds, records the checkpoint durably
    /// and returns the cosignature line. `now` is the cosignature's time, in seconds.
    /// Refusals with a valid log signature are kept in `refused.log`.
    pub fn add_checkpoint(&self, body: &str, now: u64) -> Result<String, Refusal> {
        let request = parse_request(body)?;
        let checkpoint = self.verify_signature(request.note)?;
        let result = self.check_and_record(&request, &checkpoint, now);
        if let Err(refusal) = &result
            && refusal.is_evidence()
            && let Err(e) = self.dir.keep_refusal(refusal, body, now)
        {
            tracing::error!(error = %e, "could not keep a refused checkpoint as evidence");
        }
        result
    }

    /// 404 for an unknown origin, 403 without a valid signature by a key of it.
    fn verify_signature(&self, note: &str) -> Result<Checkpoint, Refusal> {
        let origin = note.split('\n').next().unwrap_or_default();
        let keys = self.logs.get(origin).ok_or_else(|| {
            Refusal::new(
                404,
                format!("this witness does not follow the log {origin:?}"),
            )
        })?;
        for key in keys {
            match key.verify(note) {
                Ok(checkpoint) => return Ok(checkpoint),
                Err(NoteError::NoSignature { .. }) => continue,
                Err(e @ NoteError::InvalidSignature { .. }) => {
                    return Err(Refusal::new(403, e.to_string()));
                }
                Err(e) => return Err(Refusal::new(400, e.to_string())),
            }
        }
        Err(Refusal::new(
            403,
            format!("no signature by a key this witness trusts for {origin:?}"),
        ))
    }

    fn check_and_record(
        &self,
        request: &Request<'_>,
        checkpoint: &Checkpoint,
        now: u64,
    ) -> Result<String, Refusal> {
        let size = checkpoint.size;
        if request.old > size {
            return Err(Refusal::new(
                400,
                format!(
                    "the old size {} is larger than the checkpoint's size {size}",
                    request.old
                ),
            ));
        }
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let known = latest.get(&checkpoint.origin);
        let known_size = known.map_or(0, |l| l.size);
        if request.old != known_size {
            return Err(Refusal {
                status: 409,
                message: format!(
                    "the latest checkpoint cosigned for this log has size {known_size}, not {}",
                    request.old
                ),
                latest_size: Some(known_size),
            });
        }
        consistent(request, checkpoint, known.map(|l| l.root))?;
        let line = self
            .cosigner
            .cosign(checkpoint, now)
            .map_err(|e| Refusal::new(400, e.to_string()))?;
        let next = Latest {
            size,
            root: checkpoint.root,
            note: accesslog_core::cosignature::add_signature_lines(request.note, &line),
        };
        self.dir
            .save_latest(&checkpoint.origin, &next)
            .map_err(|e| Refusal::new(500, format!("could not record the checkpoint: {e}")))?;
        latest.insert(checkpoint.origin.clone(), next);
        Ok(line)
    }
}

/// The consistency checks: 422 when the new checkpoint does not extend the known one.
fn consistent(
    request: &Request<'_>,
    checkpoint: &Checkpoint,
    known_root: Option<Hash>,
) -> Result<(), Refusal> {
    let unprocessable = |m: String| Refusal::new(422, m);
    let size = checkpoint.size;
    if size == 0 && checkpoint.root != empty_root() {
        return Err(unprocessable(
            "a checkpoint of size 0 must have the empty tree's root".to_owned(),
        ));
    }
    if request.old == 0 {
        if !request.proof.is_empty() {
            return Err(unprocessable(
                "a proof from size 0 must be empty".to_owned(),
            ));
        }
        return Ok(());
    }
    let Some(old_root) = known_root else {
        return Err(unprocessable(
            "no root is known for the old size".to_owned(),
        ));
    };
    if request.old == size {
        return if old_root == checkpoint.root && request.proof.is_empty() {
            Ok(())
        } else {
            Err(unprocessable(format!(
                "a different root for size {size} than the one cosigned: the log forked or was rewritten"
            )))
        };
    }
    verify_consistency(
        request.old,
        size,
        &old_root,
        &checkpoint.root,
        &request.proof,
    )
    .map_err(|e| {
        unprocessable(format!(
            "size {size} is not consistent with the cosigned size {}: {e}",
            request.old
        ))
    })
}

#[cfg(test)]
mod tests;
