//! The Access Log gate's core, the same for every front end: what an entry says when data
//! leaves, and [`Released`], the only way past the gate, which only this module makes and
//! only from the recorder's receipt of a durable entry. A front end wraps it in its own
//! answer (the server's `AuditedResponse`, the CLI's file on disk); none can hand out
//! bytes that skipped the log, and a failure to record refuses the release.

use accesslog_core::doctype::DocType;
use accesslog_core::entry::{Event, Outcome};
use accesslog_engine::{Receipt, RecordError, Recorder};
use accesslog_site::{LogSettings, ReadLogging};

/// What the gate records of the data itself: how much, and its SHA-256.
pub trait Content {
    fn byte_count(&self) -> u64;
    /// Lower-case hex.
    fn sha256(&self) -> String;
}

/// Text, as a command prints it.
impl Content for String {
    fn byte_count(&self) -> u64 {
        self.len() as u64
    }

    fn sha256(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.as_bytes()))
    }
}

/// Data past the gate, with the receipt of its entry; or, for a read that the site's read
/// settings leave unrecorded (and only then), without one.
#[derive(Debug)]
pub struct Released<P> {
    receipt: Option<Receipt>,
    payload: P,
}

impl<P> Released<P> {
    /// The receipt of the entry that recorded this release.
    pub fn receipt(&self) -> Option<&Receipt> {
        self.receipt.as_ref()
    }

    pub fn payload(&self) -> &P {
        &self.payload
    }

    /// The receipt and the data, for the front end to send.
    pub fn into_parts(self) -> (Option<Receipt>, P) {
        (self.receipt, self.payload)
    }
}

/// Records the release of `payload` (granted, with its size and SHA-256 added to
/// `event`) and, once the entry is durable, lets it through.
pub async fn release<P: Content>(
    recorder: &Recorder,
    mut event: Event,
    payload: P,
) -> Result<Released<P>, RecordError> {
    event.outcome = Outcome::Granted;
    event.byte_count = Some(payload.byte_count());
    event.content_sha256 = Some(payload.sha256());
    let receipt = recorder.record(event).await?;
    Ok(Released {
        receipt: Some(receipt),
        payload,
    })
}

/// Releases a read of record data (`event.activity` is `read`): recorded like any
/// release, unless the site's read settings leave this kind of read unrecorded.
pub async fn release_read<P: Content>(
    recorder: &Recorder,
    settings: &LogSettings,
    event: Event,
    payload: P,
    read: Read<'_>,
) -> Result<Released<P>, RecordError> {
    if read.is_recorded(settings) {
        release(recorder, event, payload).await
    } else {
        Ok(Released {
            receipt: None,
            payload,
        })
    }
}

/// Records an attempt that released nothing: `denied` (refused) or `failed` (allowed, but
/// it could not be carried out), with `reason`.
pub async fn record_outcome(
    recorder: &Recorder,
    mut event: Event,
    outcome: Outcome,
    reason: String,
) -> Result<Receipt, RecordError> {
    event.outcome = outcome;
    event.reason = Some(reason);
    recorder.record(event).await
}

/// What kind of read a release is, for the read settings (`log.reads`, a type's
/// `log_reads`).
#[derive(Clone, Copy, Debug)]
pub enum Read<'a> {
    /// One document of this type.
    Document(&'a DocType),
    /// A list of this type's documents.
    List(&'a DocType),
    /// A report's page or data, or a list of the Access Log.
    Report,
    /// One entry (or proof) of the Access Log.
    LogEntry,
    /// A read through the gate in front of a Frappe site, whose document types are not
    /// ours: one document, or a list or report (`list`).
    Upstream { list: bool },
}

impl Read<'_> {
    pub fn is_recorded(self, log: &LogSettings) -> bool {
        let type_says = match self {
            Read::Document(t) | Read::List(t) => t.log_reads,
            Read::Report | Read::LogEntry | Read::Upstream { .. } => true,
        };
        type_says
            && match log.reads {
                ReadLogging::All => true,
                ReadLogging::Lists => matches!(
                    self,
                    Read::List(_) | Read::Report | Read::Upstream { list: true }
                ),
                ReadLogging::Off => false,
            }
    }
}

/// Adds the names of the documents a read returned to its recorded filters: `names` when
/// there are at most `max`, else `first` and `last`.
pub fn returned_names(
    recorded: &mut serde_json::Map<String, serde_json::Value>,
    names: &[String],
    max: u32,
) {
    use serde_json::json;
    if names.len() <= max as usize {
        recorded.insert("names".into(), json!(names));
    } else if let (Some(first), Some(last)) = (names.first(), names.last()) {
        recorded.insert("first".into(), json!(first));
        recorded.insert("last".into(), json!(last));
    }
}
