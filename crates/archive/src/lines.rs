//! Reading a bundle line by line: the zstd stream, lines of bounded length, the header and
//! the checks every entry line must pass on its own. [`crate::check`] and [`crate::read`]
//! share this; the checks against the tree are theirs.

use crate::{ArchiveError, BundleLine, FIELD_COUNT, FORMAT, Header, MAX_LINE, hash_fields};
use accesslog_core::checkpoint::validate_name;
use accesslog_core::merkle::{Hash, range_plan};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// Parses a hash written as exactly 64 lower-case hex digits.
pub(crate) fn parse_hash(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).ok()?;
    Some(hash)
}

/// Checks what a header says on its own and returns its proof as hashes. The signature is
/// checked by the caller, which knows which key to trust.
pub(crate) fn validate_header(header: &Header) -> Result<Vec<Hash>, ArchiveError> {
    let bad = |reason: String| Err(ArchiveError::Header(reason));
    if header.format != FORMAT {
        return bad(format!(
            "its format is {:?}, but this program reads only {FORMAT:?}",
            header.format
        ));
    }
    if let Err(e) = validate_name(&header.origin) {
        return bad(format!("its origin is not a log name: {e}"));
    }
    let (first, last, size) = (header.first, header.last, header.tree_size);
    if first == 0 {
        return bad("its first entry is 0, but seqs start at 1".to_owned());
    }
    if first > last {
        return bad(format!(
            "its first entry {first} comes after its last entry {last}"
        ));
    }
    if last > size {
        return bad(format!(
            "its last entry {last} is past the tree of {size} entries it is checked against"
        ));
    }
    let mut proof = Vec::with_capacity(header.proof.len().min(128));
    for (i, text) in header.proof.iter().enumerate() {
        match parse_hash(text) {
            Some(hash) => proof.push(hash),
            None => {
                return bad(format!(
                    "proof hash {} is not 64 lower-case hex digits",
                    i + 1
                ));
            }
        }
    }
    let expected = range_plan(first - 1, last, size)?.len();
    if proof.len() != expected {
        return bad(format!(
            "its proof has {} hashes, but the range proof of entries {first}..={last} in a tree of {size} entries has {expected}",
            proof.len()
        ));
    }
    Ok(proof)
}

/// A serde_json error without its "at line 1 column N" (the line is ours to name).
fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(reason) => format!("{reason} (at column {})", e.column()),
        None => text,
    }
}

/// An entry line as JSON gives it, before its checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    seq: u64,
    leaf: String,
    #[serde(default)]
    fields: Option<Vec<Option<String>>>,
}

/// Counts and hashes the bytes read through it: the compressed file's SHA-256.
struct HashingReader {
    inner: File,
    hasher: Sha256,
    bytes: u64,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Lines of at most `max` bytes (without their newline) from a reader. A missing final
/// newline is accepted; an empty line is not.
pub(crate) struct LineReader<R> {
    reader: R,
    buf: Vec<u8>,
    /// Lines returned so far.
    line: u64,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(reader: R, max: usize) -> Self {
        LineReader {
            reader,
            buf: Vec::new(),
            line: 0,
            max,
        }
    }

    /// The number of the line last returned (1-based).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The next line and its number, or `None` at the end. A read error is
    /// [`ArchiveError::Damaged`]: for a bundle, reads go through the zstd decoder.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, ArchiveError> {
        self.buf.clear();
        let mut ended = false;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ArchiveError::Damaged(e)),
            };
            if chunk.is_empty() {
                break;
            }
            let (take, used) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, i + 1),
                None => (chunk.len(), chunk.len()),
            };
            self.buf.extend_from_slice(&chunk[..take]);
            self.reader.consume(used);
            if self.buf.len() > self.max {
                return Err(ArchiveError::LineTooLong {
                    line: self.line + 1,
                    max: self.max,
                });
            }
            if take < used {
                ended = true;
                break;
            }
        }
        if self.buf.is_empty() && !ended {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.is_empty() {
            return Err(ArchiveError::BadLine {
                line: self.line,
                reason: "it is empty".to_owned(),
            });
        }
        Ok(Some((self.line, &self.buf)))
    }

    fn into_inner(self) -> R {
        self.reader
    }
}

type Decompressed = BufReader<zstd::stream::read::Decoder<'static, BufReader<HashingReader>>>;

/// A bundle opened for reading: its header, read and validated, and its entry lines, each
/// checked on its own as it is read.
pub(crate) struct BundleReader {
    lines: LineReader<Decompressed>,
    header: Header,
    proof: Vec<Hash>,
    /// Entry lines read so far.
    done: u64,
    hash_buf: Vec<u8>,
}

impl BundleReader {
    /// Opens the bundle at `path` and reads its header.
    pub(crate) fn open(path: &Path) -> Result<Self, ArchiveError> {
        let file = File::open(path).map_err(|e| ArchiveError::io("open", path, e))?;
        let hashing = HashingReader {
            inner: file,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let decoder = zstd::stream::read::Decoder::with_buffer(BufReader::new(hashing))
            .map_err(ArchiveError::Damaged)?;
        let mut lines = LineReader::new(BufReader::with_capacity(64 * 1024, decoder), MAX_LINE);
        let (_, text) = lines.next_line()?.ok_or(ArchiveError::Empty)?;
        let header: Header = serde_json::from_slice(text).map_err(|e| {
            ArchiveError::Header(format!("it is not a header: {}", json_reason(&e)))
        })?;
        let proof = validate_header(&header)?;
        Ok(BundleReader {
            lines,
            header,
            proof,
            done: 0,
            hash_buf: Vec::new(),
        })
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The number of entries the header names.
    fn count(&self) -> u64 {
        self.header.last - self.header.first + 1
    }

    /// The next entry line, checked on its own: its seq is the next one, its leaf is a
    /// hash and its fields (when present) hash to it. At the end, checks that no entry is
    /// missing.
    pub(crate) fn next_entry(&mut self) -> Result<Option<BundleLine>, ArchiveError> {
        let (first, last, count, done) =
            (self.header.first, self.header.last, self.count(), self.done);
        let Some((line, text)) = self.lines.next_line()? else {
            if done < count {
                return Err(ArchiveError::Truncated {
                    line: self.lines.line(),
                    after: first - 1 + done,
                    first,
                    last,
                });
            }
            return Ok(None);
        };
        let raw: RawLine = serde_json::from_slice(text).map_err(|e| ArchiveError::BadLine {
            line,
            reason: json_reason(&e),
        })?;
        let seq = raw.seq;
        if done == count {
            return Err(ArchiveError::Extra {
                line,
                found: seq,
                last,
            });
        }
        let expected = first + done;
        if seq > expected {
            return Err(ArchiveError::Missing {
                line,
                expected,
                found: seq,
            });
        }
        if seq < expected {
            return Err(ArchiveError::OutOfOrder {
                line,
                expected,
                found: seq,
            });
        }
        let bad = |reason: &str| ArchiveError::BadEntry {
            line,
            seq,
            reason: reason.to_owned(),
        };
        let leaf =
            parse_hash(&raw.leaf).ok_or_else(|| bad("its leaf is not 64 lower-case hex digits"))?;
        let fields = match raw.fields {
            None => None,
            Some(list) => {
                let fields: [Option<String>; FIELD_COUNT] =
                    list.try_into().map_err(|list: Vec<Option<String>>| {
                        ArchiveError::BadEntry {
                            line,
                            seq,
                            reason: format!(
                                "it has {} fields, but an entry has {FIELD_COUNT}",
                                list.len()
                            ),
                        }
                    })?;
                if fields[0].as_deref() != Some(seq.to_string().as_str()) {
                    return Err(bad("its first field is not its seq"));
                }
                if hash_fields(&fields, &mut self.hash_buf) != leaf {
                    return Err(ArchiveError::Changed { line, seq });
                }
                Some(fields)
            }
        };
        self.done += 1;
        Ok(Some(BundleLine { seq, leaf, fields }))
    }

    /// After the last line: checks that the zstd stream ended cleanly and returns the
    /// compressed file's hex SHA-256 and size.
    pub(crate) fn finish(self) -> Result<(String, u64), ArchiveError> {
        let decoder = self.lines.into_inner().into_inner();
        let mut compressed = decoder.finish();
        // The decoder has read to the end of the file; drain anything left to be sure
        // the hash covers every byte.
        io::copy(&mut compressed, &mut io::sink()).map_err(ArchiveError::Damaged)?;
        let hashing = compressed.into_inner();
        Ok((hex::encode(hashing.hasher.finalize()), hashing.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn all(text: &[u8], max: usize) -> Result<Vec<String>, ArchiveError> {
        let mut r = LineReader::new(Cursor::new(text.to_vec()), max);
        let mut out = Vec::new();
        while let Some((_, line)) = r.next_line()? {
            out.push(String::from_utf8_lossy(line).into_owned());
        }
        Ok(out)
    }

    #[test]
    fn lines_split_on_newlines_and_the_last_may_lack_one() {
        assert_eq!(all(b"a\nbc\n", 10).unwrap(), ["a", "bc"]);
        assert_eq!(all(b"a\nbc", 10).unwrap(), ["a", "bc"]);
        assert!(all(b"", 10).unwrap().is_empty());
    }

    #[test]
    fn an_empty_line_is_refused_with_its_number() {
        let err = all(b"a\n\nb\n", 10).unwrap_err();
        assert!(
            matches!(err, ArchiveError::BadLine { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_line_longer_than_the_bound_is_refused_with_its_number() {
        assert_eq!(all(b"12345\n", 5).unwrap(), ["12345"]);
        let err = all(b"ok\n123456\n", 5).unwrap_err();
        assert!(
            matches!(err, ArchiveError::LineTooLong { line: 2, max: 5 }),
            "{err}"
        );
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn hashes_are_lower_case_hex_only() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_hash(&hex), Some([0xab; 32]));
        assert_eq!(parse_hash(&hex.to_uppercase()), None);
        assert_eq!(parse_hash(&hex[..62]), None);
        assert_eq!(parse_hash(&format!("{}zz", &hex[..62])), None);
    }
}
