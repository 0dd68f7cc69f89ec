//! Why a bundle could not be written, read or checked. Messages about a line name its line
//! number in the decompressed file (1-based; the header is line 1) and, when known, its seq.

use accesslog_core::checkpoint::NoteError;
use accesslog_core::merkle::ProofError;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A file operation failed (opening, writing, syncing, renaming).
    #[error("could not {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The zstd stream did not decode to its end: the file was cut short or corrupted.
    #[error("the bundle is incomplete or damaged: {0}")]
    Damaged(io::Error),
    #[error("the bundle is empty: it has no header line")]
    Empty,
    #[error("line {line} is longer than {max} bytes; no valid bundle has such a line")]
    LineTooLong { line: u64, max: usize },
    /// The header is malformed or inconsistent.
    #[error("the header (line 1) is invalid: {0}")]
    Header(String),
    /// A line that is not the JSON of an entry line.
    #[error("line {line} is not a valid entry line: {reason}")]
    BadLine { line: u64, reason: String },
    /// An entry line whose seq is right but whose content is malformed.
    #[error("line {line} (entry {seq}): {reason}")]
    BadEntry { line: u64, seq: u64, reason: String },
    #[error("line {line}: entry {expected} is missing (a line was dropped); found entry {found}")]
    Missing {
        line: u64,
        expected: u64,
        found: u64,
    },
    #[error(
        "line {line}: entry {found} is out of order or a duplicate; entry {expected} comes next"
    )]
    OutOfOrder {
        line: u64,
        expected: u64,
        found: u64,
    },
    #[error(
        "line {line}: entry {found} comes after the last entry {last} the header names; lines were added"
    )]
    Extra { line: u64, found: u64, last: u64 },
    #[error("line {line} (entry {seq}): the entry does not hash to its leaf: it was changed")]
    Changed { line: u64, seq: u64 },
    #[error("{}", dropped_from_end(*line, *after, *first, *last))]
    Truncated {
        /// The last line of the file.
        line: u64,
        /// The seq on that line, or `first - 1` when it is the header.
        after: u64,
        first: u64,
        last: u64,
    },
    #[error(
        "the leaves do not lead to the signed root: a leaf was changed together with its entry, or the proof was altered"
    )]
    RootMismatch,
    #[error("the range proof cannot be used: {0}")]
    Proof(#[from] ProofError),
    #[error("the verifier key in the header cannot be read: {0}")]
    BadKey(NoteError),
    #[error("the header's checkpoint does not verify under the key {key}: {source}")]
    HeaderCheckpoint { key: String, source: NoteError },
    #[error(
        "the header's checkpoint is for the log {checkpoint:?}, but the header names {header:?}"
    )]
    CheckpointOrigin { checkpoint: String, header: String },
    #[error(
        "the header's checkpoint signs a tree of {checkpoint} entries, but its tree_size is {header}"
    )]
    CheckpointSize { checkpoint: u64, header: u64 },
    #[error("the given checkpoint does not verify under the key {key}: {source}")]
    OutsideCheckpoint { key: String, source: NoteError },
    #[error("the given checkpoint is for the log {given:?}, but the bundle is of {bundle:?}")]
    OutsideOrigin { given: String, bundle: String },
    #[error(
        "the bundle was checked against a checkpoint of {bundle} entries, but the given checkpoint is of {given}; give the checkpoint of {bundle} entries to compare them (checkpoints.log keeps each one the log published)"
    )]
    OtherSize { bundle: u64, given: u64 },
    #[error(
        "fork: the given checkpoint and the bundle's both sign a tree of {size} entries, but with different roots; the log has shown two different histories"
    )]
    Fork { size: u64 },
    #[error("the bundle {} already exists; it is not overwritten", path.display())]
    Exists { path: PathBuf },
    #[error(
        "entry {found} was pushed where entry {expected} comes next; push entries in order, without gaps"
    )]
    OutOfSequence { expected: u64, found: u64 },
    #[error("entry {found} is past the bundle's last entry {last}")]
    PastLast { found: u64, last: u64 },
    #[error("entry {seq}: {reason}")]
    BadPush { seq: u64, reason: String },
    #[error("entry {seq} does not hash to the leaf given with it")]
    NotItsLeaf { seq: u64 },
    #[error(
        "only {pushed} of the bundle's {expected} entries were pushed; the bundle was not finished"
    )]
    Unfinished { pushed: u64, expected: u64 },
    #[error("the writer failed earlier and cannot go on; start the bundle again")]
    WriterFailed,
}

impl ArchiveError {
    pub(crate) fn io(what: &'static str, path: &Path, source: io::Error) -> Self {
        ArchiveError::Io {
            what,
            path: path.to_owned(),
            source,
        }
    }
}

fn dropped_from_end(line: u64, after: u64, first: u64, last: u64) -> String {
    let missing = if after + 1 == last {
        format!("entry {last} is missing")
    } else {
        format!("entries {}..={last} are missing", after + 1)
    };
    if line <= 1 {
        format!(
            "the bundle ends at line 1 (the header) but should hold entries {first}..={last}; {missing} (lines were dropped from the end)"
        )
    } else {
        format!(
            "the bundle ends at line {line}, entry {after}; {missing} (lines were dropped from the end)"
        )
    }
}
