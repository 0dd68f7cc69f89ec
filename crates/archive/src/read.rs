//! Checking a bundle offline, and reading its lines back.

use crate::lines::BundleReader;
use crate::{ArchiveError, BundleLine, Header};
use accesslog_core::checkpoint::{Checkpoint, NoteVerifier};
use accesslog_core::merkle::root_from_range;
use std::path::Path;

/// What a successful [`check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub header: Header,
    /// The header's checkpoint, verified.
    pub checkpoint: Checkpoint,
    /// The number of entry lines (`last - first + 1`).
    pub entries: u64,
    /// How many of them had been redacted before archiving (only their leaf is left).
    pub without_payload: u64,
    /// The lower-case hex SHA-256 of the compressed file's bytes.
    pub sha256: String,
}

/// Checks the whole bundle at `path`, streaming:
///
/// 1. the zstd stream decodes completely;
/// 2. the header is well formed, of [`crate::FORMAT`], with `1 <= first <= last <=
///    tree_size` and a proof of the right length;
/// 3. the header's checkpoint verifies under `key` (or, when `key` is `None`, under the
///    key the header itself names), is for the header's origin and of `tree_size` entries;
/// 4. if `checkpoint` (a signed note from elsewhere) is given, it verifies under the same
///    key and is the very same tree: another size is refused (check against the
///    checkpoint of the bundle's size), the same size with another root is a fork;
/// 5. every line is the next entry, and its fields (when present) hash to its leaf;
/// 6. no entry is missing at the end, and no line follows the last one;
/// 7. the leaves and the proof lead to the checkpoint's root.
///
/// Without a pinned `key` or an outside `checkpoint`, a passing check shows only that the
/// bundle is consistent with itself: anyone can sign a bundle with a key of their own.
pub fn check(
    path: &Path,
    key: Option<&NoteVerifier>,
    checkpoint: Option<&str>,
) -> Result<Checked, ArchiveError> {
    check_each(path, key, checkpoint, |_| Ok(()))
}

/// [`check`], calling `each` for every line once it has passed its own checks (step 5).
/// The whole bundle is proved only when this returns `Ok`: a caller that acts on the lines
/// must be ready to undo that, or (as restores do) call [`read`] after a successful check.
pub fn check_each(
    path: &Path,
    key: Option<&NoteVerifier>,
    checkpoint: Option<&str>,
    mut each: impl FnMut(&BundleLine) -> Result<(), ArchiveError>,
) -> Result<Checked, ArchiveError> {
    let mut bundle = BundleReader::open(path)?;
    let header = bundle.header().clone();

    let from_header;
    let verifier = match key {
        Some(key) => key,
        None => {
            from_header =
                NoteVerifier::from_verifier_key(&header.key).map_err(ArchiveError::BadKey)?;
            &from_header
        }
    };
    let signed =
        verifier
            .verify(&header.checkpoint)
            .map_err(|source| ArchiveError::HeaderCheckpoint {
                key: verifier.verifier_key(),
                source,
            })?;
    if signed.origin != header.origin {
        return Err(ArchiveError::CheckpointOrigin {
            checkpoint: signed.origin,
            header: header.origin,
        });
    }
    if signed.size != header.tree_size {
        return Err(ArchiveError::CheckpointSize {
            checkpoint: signed.size,
            header: header.tree_size,
        });
    }
    if let Some(note) = checkpoint {
        let given = verifier
            .verify(note)
            .map_err(|source| ArchiveError::OutsideCheckpoint {
                key: verifier.verifier_key(),
                source,
            })?;
        if given.origin != signed.origin {
            return Err(ArchiveError::OutsideOrigin {
                given: given.origin,
                bundle: signed.origin,
            });
        }
        if given.size != signed.size {
            return Err(ArchiveError::OtherSize {
                bundle: signed.size,
                given: given.size,
            });
        }
        if given.root != signed.root {
            return Err(ArchiveError::Fork { size: signed.size });
        }
    }

    let count = header.last - header.first + 1;
    // 32 bytes a leaf; the capacity is capped so a header cannot ask for a huge allocation.
    let mut leaves = Vec::with_capacity(usize::try_from(count.min(1 << 20)).unwrap_or(0));
    let mut without_payload = 0;
    while let Some(line) = bundle.next_entry()? {
        if line.fields.is_none() {
            without_payload += 1;
        }
        leaves.push(line.leaf);
        each(&line)?;
    }
    let root = root_from_range(
        header.first - 1,
        header.last,
        header.tree_size,
        &leaves,
        bundle.proof(),
    )?;
    if root != signed.root {
        return Err(ArchiveError::RootMismatch);
    }
    let (sha256, _) = bundle.finish()?;
    Ok(Checked {
        header,
        checkpoint: signed,
        entries: count,
        without_payload,
        sha256,
    })
}

/// Reads the entry lines of the bundle at `path` in order, for a caller that has already
/// run [`check`] on it, and returns its header. Each line still passes its own checks (its
/// seq is the next one, its fields hash to its leaf) and the zstd stream must be complete,
/// but neither the signature nor the tree is checked. A file replaced between the two
/// passes is caught by comparing [`Checked::sha256`] with [`crate::file_sha256`].
pub fn read(
    path: &Path,
    mut each: impl FnMut(BundleLine) -> Result<(), ArchiveError>,
) -> Result<Header, ArchiveError> {
    let mut bundle = BundleReader::open(path)?;
    while let Some(line) = bundle.next_entry()? {
        each(line)?;
    }
    let header = bundle.header().clone();
    bundle.finish()?;
    Ok(header)
}
