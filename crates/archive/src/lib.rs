//! Archive bundles of the Access Log: before old entries lose their payload (pruning), they
//! are written to a bundle that can be checked offline with nothing but the bundle and a
//! signed checkpoint.
//!
//! A bundle is one zstd-compressed JSON Lines file: a header line naming the range of
//! entries, the signed checkpoint they are checked against and the range proof, then one
//! line per entry with its 24 field texts exactly as hashed and its leaf hash. The format
//! is described for readers outside Rust in `docs/archive-format.md`.
//!
//! - [`BundleWriter`] writes a bundle to `<dir>/<name>.partial` and renames it to its
//!   final name only once it is complete and on disk.
//! - [`check`] checks a bundle completely: the zstd stream, the header, the checkpoint
//!   signature, every line and the range proof up to the signed root.
//! - [`read`] streams the lines back for a caller that has already run [`check`].
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod error;
mod lines;
mod read;
mod write;

pub use error::ArchiveError;
pub use read::{Checked, check, check_each, read};
pub use write::{BundleWriter, WrittenBundle};

use accesslog_core::entry::{Entry, encode_fields};
use accesslog_core::merkle::{Hash, leaf_hash};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The `format` every header of this version carries.
pub const FORMAT: &str = "accesslog-archive/1";

/// The longest line (header or entry) a bundle may hold, in bytes without its newline.
/// The largest entry the log can record, with every field at its bound and JSON escaping,
/// stays well below it.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// The number of fields of an entry, in canonical order.
pub const FIELD_COUNT: usize = 24;

/// The first line of a bundle.
///
/// Only `checkpoint` is signed; `key` is a hint for a reader without a pinned key, and
/// `created_at` is informational.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The log's name, as in its checkpoints.
    pub origin: String,
    /// The seq of the first entry in the bundle (seqs start at 1).
    pub first: u64,
    /// The seq of the last entry in the bundle.
    pub last: u64,
    /// The size of the tree the checkpoint signs, at least `last`.
    pub tree_size: u64,
    /// The signed checkpoint note, exactly as the log published it.
    pub checkpoint: String,
    /// The log's verifier key, `<name>+<8 hex key id>+<base64 key>`.
    pub key: String,
    /// The range proof of the leaves `[first - 1, last)` in the tree of `tree_size`
    /// leaves, as lower-case hex hashes in proof order.
    pub proof: Vec<String>,
    /// When the bundle was written, RFC 3339.
    pub created_at: String,
}

/// One entry line of a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleLine {
    /// The entry's seq (its tree leaf index is `seq - 1`).
    pub seq: u64,
    /// The entry's leaf hash in the tree.
    pub leaf: Hash,
    /// The entry's 24 field texts exactly as hashed, in canonical order; `None` when the
    /// entry had already been redacted before archiving, so only its leaf is left.
    pub fields: Option<[Option<String>; FIELD_COUNT]>,
}

impl BundleLine {
    /// The line of a whole entry.
    pub fn from_entry(entry: &Entry) -> Self {
        let fields = entry.field_texts();
        BundleLine {
            seq: entry.seq,
            leaf: leaf_of_fields(&fields),
            fields: Some(fields),
        }
    }

    /// The line of an entry whose payload is gone: only its leaf.
    pub fn redacted(seq: u64, leaf: Hash) -> Self {
        BundleLine {
            seq,
            leaf,
            fields: None,
        }
    }
}

/// The leaf hash of an entry given as its 24 field texts.
pub fn leaf_of_fields(fields: &[Option<String>; FIELD_COUNT]) -> Hash {
    let mut out = Vec::new();
    hash_fields(fields, &mut out)
}

/// [`leaf_of_fields`] with a buffer the caller reuses from line to line.
pub(crate) fn hash_fields(fields: &[Option<String>; FIELD_COUNT], buf: &mut Vec<u8>) -> Hash {
    buf.clear();
    encode_fields(
        buf,
        &std::array::from_fn(|i| fields[i].as_deref().map(str::as_bytes)),
    );
    leaf_hash(buf)
}

/// The file name of the bundle of the entries `first..=last`:
/// `access-log-{first:012}-{last:012}.jsonl.zst`.
pub fn bundle_name(first: u64, last: u64) -> String {
    format!("access-log-{first:012}-{last:012}.jsonl.zst")
}

/// The lower-case hex SHA-256 of a file's bytes (for a bundle: of the compressed file).
pub fn file_sha256(path: &Path) -> Result<String, ArchiveError> {
    let io = |source| ArchiveError::io("read", path, source);
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
