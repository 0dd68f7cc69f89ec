//! Writing a bundle: to `<dir>/<name>.partial`, renamed to its final name only once it is
//! complete, checked against the signed root and on disk.

use crate::lines::validate_header;
use crate::{ArchiveError, BundleLine, FIELD_COUNT, Header, MAX_LINE, bundle_name, hash_fields};
use accesslog_core::checkpoint::NoteVerifier;
use accesslog_core::digest::HashingWriter;
use accesslog_core::merkle::{Hash, root_from_range};
use serde::Serialize;

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The zstd level bundles are written at (zstd's default).
const LEVEL: i32 = 3;

/// A bundle's bytes are synced to the disk every this many as it is written.
const SYNC_EVERY: u64 = 8 << 20;

/// The file under a bundle being written, synced every [`SYNC_EVERY`] bytes: the disk takes
/// the bundle a piece at a time rather than all at once in `finish`, where flushing a
/// bundle of a million entries (~100 MB) held up every other fsync on the machine, the
/// log's commits among them (BENCHMARKS.md, "Retention").
struct SyncingFile {
    file: File,
    unsynced: u64,
}

impl Write for SyncingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.unsynced += n as u64;
        if self.unsynced >= SYNC_EVERY {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A finished bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenBundle {
    /// Where it is, under its final name.
    pub path: PathBuf,
    /// The lower-case hex SHA-256 of the compressed file's bytes.
    pub sha256: String,
    /// The size of the compressed file.
    pub bytes: u64,
    /// The number of entry lines.
    pub entries: u64,
}

/// An entry line as written.
#[derive(Serialize)]
struct LineOut<'a> {
    seq: u64,
    leaf: String,
    fields: Option<&'a [Option<String>; FIELD_COUNT]>,
}

/// Writes one bundle, streaming. Nothing appears under the bundle's final name until
/// [`BundleWriter::finish`] succeeds. A writer dropped without finishing (or whose
/// `finish` fails) removes its `.partial` file.
pub struct BundleWriter {
    encoder: Option<zstd::stream::write::Encoder<'static, HashingWriter<BufWriter<SyncingFile>>>>,
    dir: PathBuf,
    partial: PathBuf,
    path: PathBuf,
    first: u64,
    last: u64,
    tree_size: u64,
    root: Hash,
    proof: Vec<Hash>,
    /// The leaves pushed so far, for the root check in `finish` (32 bytes an entry).
    leaves: Vec<Hash>,
    line_buf: Vec<u8>,
    hash_buf: Vec<u8>,
    /// Set once the file has its final name, so `Drop` leaves it alone.
    done: bool,
}

impl BundleWriter {
    /// Starts the bundle `header` describes in `dir`, as `<dir>/<bundle_name>.partial`
    /// (a leftover `.partial` from an interrupted run is overwritten) and writes the
    /// header line.
    ///
    /// The header must be valid (format, `1 <= first <= last <= tree_size`, a proof of
    /// the right length) and its checkpoint must verify under its `key`, be for its
    /// `origin` and of `tree_size` entries. A bundle already under the final name is not
    /// overwritten.
    pub fn create(dir: &Path, header: &Header) -> Result<Self, ArchiveError> {
        let proof = validate_header(header)?;
        let verifier =
            NoteVerifier::from_verifier_key(&header.key).map_err(ArchiveError::BadKey)?;
        let signed = verifier.verify(&header.checkpoint).map_err(|source| {
            ArchiveError::HeaderCheckpoint {
                key: verifier.verifier_key(),
                source,
            }
        })?;
        if signed.origin != header.origin {
            return Err(ArchiveError::CheckpointOrigin {
                checkpoint: signed.origin,
                header: header.origin.clone(),
            });
        }
        if signed.size != header.tree_size {
            return Err(ArchiveError::CheckpointSize {
                checkpoint: signed.size,
                header: header.tree_size,
            });
        }

        let name = bundle_name(header.first, header.last);
        let path = dir.join(&name);
        if path.exists() {
            return Err(ArchiveError::Exists { path });
        }
        let partial = dir.join(format!("{name}.partial"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .map_err(|e| ArchiveError::io("create", &partial, e))?;
        let file = SyncingFile { file, unsynced: 0 };
        let sink = HashingWriter::new(BufWriter::with_capacity(64 * 1024, file));
        let mut writer = BundleWriter {
            encoder: None,
            dir: dir.to_owned(),
            partial,
            path,
            first: header.first,
            last: header.last,
            tree_size: header.tree_size,
            root: signed.root,
            proof,
            leaves: Vec::new(),
            line_buf: Vec::new(),
            hash_buf: Vec::new(),
            done: false,
        };
        // From here on, an error drops `writer`, which removes the `.partial` file.
        let mut encoder = zstd::stream::write::Encoder::new(sink, LEVEL)
            .map_err(|e| ArchiveError::io("compress", &writer.partial, e))?;
        // A checksum in the frame lets every reader notice corrupted bytes.
        encoder
            .include_checksum(true)
            .map_err(|e| ArchiveError::io("compress", &writer.partial, e))?;
        writer.encoder = Some(encoder);
        serde_json::to_writer(&mut writer.line_buf, header)
            .map_err(|e| ArchiveError::Header(e.to_string()))?;
        if writer.line_buf.len() > MAX_LINE {
            return Err(ArchiveError::Header(format!(
                "it would be {} bytes, more than the {MAX_LINE} a bundle line may have",
                writer.line_buf.len()
            )));
        }
        writer.write_line()?;
        Ok(writer)
    }

    /// Appends the next entry line. Refuses a seq other than the next one, one past
    /// `last`, and fields that do not hash to the line's leaf (or whose first field is not
    /// the seq); a refused line leaves the writer as it was.
    pub fn push(&mut self, line: &BundleLine) -> Result<(), ArchiveError> {
        if self.encoder.is_none() {
            return Err(ArchiveError::WriterFailed);
        }
        let done = self.leaves.len() as u64;
        if done == self.last - self.first + 1 {
            return Err(ArchiveError::PastLast {
                found: line.seq,
                last: self.last,
            });
        }
        let expected = self.first + done;
        if line.seq != expected {
            return Err(ArchiveError::OutOfSequence {
                expected,
                found: line.seq,
            });
        }
        if let Some(fields) = &line.fields {
            if fields[0].as_deref() != Some(line.seq.to_string().as_str()) {
                return Err(ArchiveError::BadPush {
                    seq: line.seq,
                    reason: "its first field is not its seq".to_owned(),
                });
            }
            if hash_fields(fields, &mut self.hash_buf) != line.leaf {
                return Err(ArchiveError::NotItsLeaf { seq: line.seq });
            }
        }
        self.line_buf.clear();
        let out = LineOut {
            seq: line.seq,
            leaf: hex::encode(line.leaf),
            fields: line.fields.as_ref(),
        };
        serde_json::to_writer(&mut self.line_buf, &out).map_err(|e| ArchiveError::BadPush {
            seq: line.seq,
            reason: e.to_string(),
        })?;
        if self.line_buf.len() > MAX_LINE {
            return Err(ArchiveError::BadPush {
                seq: line.seq,
                reason: format!(
                    "its line would be {} bytes, more than the {MAX_LINE} a bundle line may have",
                    self.line_buf.len()
                ),
            });
        }
        self.write_line()?;
        self.leaves.push(line.leaf);
        Ok(())
    }

    /// Writes `line_buf` and a newline; an IO error makes the writer unusable.
    fn write_line(&mut self) -> Result<(), ArchiveError> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(ArchiveError::WriterFailed);
        };
        let result = encoder
            .write_all(&self.line_buf)
            .and_then(|()| encoder.write_all(b"\n"));
        self.line_buf.clear();
        if let Err(e) = result {
            self.encoder = None;
            return Err(ArchiveError::io("write", &self.partial, e));
        }
        Ok(())
    }

    /// Completes the bundle: checks that every entry `first..=last` was pushed and that
    /// the leaves and the proof lead to the checkpoint's root, ends the zstd frame, syncs
    /// the file, renames it to its final name and syncs the directory.
    ///
    /// On an error before the rename, the `.partial` file is removed. Should only the
    /// final directory sync fail, the bundle is complete under its final name, but the
    /// rename may not survive a crash.
    pub fn finish(mut self) -> Result<WrittenBundle, ArchiveError> {
        let expected = self.last - self.first + 1;
        let pushed = self.leaves.len() as u64;
        if pushed != expected {
            return Err(ArchiveError::Unfinished { pushed, expected });
        }
        let root = root_from_range(
            self.first - 1,
            self.last,
            self.tree_size,
            &self.leaves,
            &self.proof,
        )?;
        if root != self.root {
            return Err(ArchiveError::RootMismatch);
        }
        let encoder = self.encoder.take().ok_or(ArchiveError::WriterFailed)?;
        let io = |what| {
            let partial = self.partial.clone();
            move |e| ArchiveError::io(what, &partial, e)
        };
        let sink = encoder.finish().map_err(io("compress"))?;
        let (inner, bytes, sha256) = sink.finish().map_err(io("write"))?;
        let file = inner
            .into_inner()
            .map_err(|e| ArchiveError::io("write", &self.partial, e.into_error()))?
            .file;
        file.sync_all().map_err(io("sync"))?;
        drop(file);
        if self.path.exists() {
            return Err(ArchiveError::Exists {
                path: self.path.clone(),
            });
        }
        fs::rename(&self.partial, &self.path).map_err(io("rename"))?;
        self.done = true;
        sync_dir(&self.dir)?;
        Ok(WrittenBundle {
            path: self.path.clone(),
            sha256,
            bytes,
            entries: expected,
        })
    }
}

impl Drop for BundleWriter {
    fn drop(&mut self) {
        if !self.done {
            self.encoder = None;
            // Best effort: the file may never have been created, or be gone already.
            let _ = fs::remove_file(&self.partial);
        }
    }
}

/// Makes a rename in `dir` durable. Only Unix can open a directory to sync it.
fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| ArchiveError::io("sync the directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
