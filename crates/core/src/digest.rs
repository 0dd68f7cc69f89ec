//! A writer that counts and hashes the bytes on their way to the file, so a file's size and
//! SHA-256 come out of the same pass that writes it: the file is never read back. Exports
//! and archive bundles are written through it. (It wraps a writer; the IO is the caller's.)

use std::io::{self, Write};

use sha2::{Digest, Sha256};

pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The writer back, with the byte count and the hex SHA-256 of everything written.
    pub fn finish(mut self) -> io::Result<(W, u64, String)> {
        self.inner.flush()?;
        let digest = hex::encode(self.hasher.finalize());
        Ok((self.inner, self.bytes, digest))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Only what the inner writer took is in the file, so only that is hashed.
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most 3 bytes a call, as a real writer may.
    struct Trickle(Vec<u8>);
    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn hashes_exactly_the_bytes_the_inner_writer_took() {
        let mut w = HashingWriter::new(Trickle(Vec::new()));
        w.write_all(b"hello, world").unwrap();
        let (inner, bytes, digest) = w.finish().unwrap();
        assert_eq!(inner.0, b"hello, world");
        assert_eq!(bytes, 12);
        assert_eq!(digest, hex::encode(Sha256::digest(b"hello, world")));
    }
}
