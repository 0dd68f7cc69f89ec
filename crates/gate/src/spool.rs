//! An upstream answer held back while its entry is recorded: read to its end and hashed
//! as it comes, kept in memory while small and in an unnamed temporary file beyond that
//! (so the gate's memory stays flat however large the export), then sent as it was.

use std::io::{Read, Seek, SeekFrom};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Chunks read back from a spooled file.
const CHUNK: usize = 64 * 1024;

/// A complete answer, its size and its SHA-256.
#[derive(Debug)]
pub struct Spooled {
    data: Data,
    len: u64,
    sha256: [u8; 32],
}

#[derive(Debug)]
enum Data {
    Memory(Bytes),
    File(tokio::fs::File),
}

impl accesslog_app::gate::Content for Spooled {
    fn byte_count(&self) -> u64 {
        self.len
    }

    fn sha256(&self) -> String {
        hex::encode(self.sha256)
    }
}

impl Spooled {
    /// Reads `body` to its end, in memory up to `in_memory` bytes and in a temporary file
    /// beyond.
    pub async fn read<B>(body: B, in_memory: usize) -> Result<Self, String>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let mut body = std::pin::pin!(body);
        let mut hasher = Sha256::new();
        let mut memory = BytesMut::new();
        let mut file: Option<tokio::fs::File> = None;
        let mut len = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("the upstream's answer broke off: {e}"))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            hasher.update(&chunk);
            len += chunk.len() as u64;
            match &mut file {
                Some(f) => f.write_all(&chunk).await.map_err(spool_error)?,
                None if memory.len() + chunk.len() <= in_memory => memory.extend_from_slice(&chunk),
                None => {
                    let mut f =
                        tokio::fs::File::from_std(tempfile::tempfile().map_err(spool_error)?);
                    f.write_all(&memory).await.map_err(spool_error)?;
                    f.write_all(&chunk).await.map_err(spool_error)?;
                    memory = BytesMut::new();
                    file = Some(f);
                }
            }
        }
        let data = match file {
            Some(mut f) => {
                f.flush().await.map_err(spool_error)?;
                Data::File(f)
            }
            None => Data::Memory(memory.freeze()),
        };
        Ok(Spooled {
            data,
            len,
            sha256: hasher.finalize().into(),
        })
    }

    /// A file on disk (an `X-Accel-Redirect` target), hashed as it is read.
    pub async fn file(path: std::path::PathBuf) -> Result<Self, std::io::Error> {
        tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::open(&path)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0; CHUNK];
            let mut len = 0u64;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                len += n as u64;
            }
            f.seek(SeekFrom::Start(0))?;
            Ok(Spooled {
                data: Data::File(tokio::fs::File::from_std(f)),
                len,
                sha256: hasher.finalize().into(),
            })
        })
        .await
        .map_err(std::io::Error::other)?
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes, when they were small enough to be kept in memory.
    pub fn in_memory(&self) -> Option<&[u8]> {
        match &self.data {
            Data::Memory(b) => Some(b),
            Data::File(_) => None,
        }
    }

    /// The answer's bytes as a body, from the start.
    pub async fn into_body(self) -> Result<Body, std::io::Error> {
        match self.data {
            Data::Memory(b) => Ok(Body::from(b)),
            Data::File(mut f) => {
                f.seek(SeekFrom::Start(0)).await?;
                let chunks = futures::stream::unfold(f, |mut f| async move {
                    let mut buf = BytesMut::zeroed(CHUNK);
                    match f.read(&mut buf).await {
                        Ok(0) => None,
                        Ok(n) => {
                            buf.truncate(n);
                            Some((Ok::<_, std::io::Error>(buf.freeze()), f))
                        }
                        Err(e) => Some((Err(e), f)),
                    }
                });
                Ok(Body::from_stream(chunks))
            }
        }
    }
}

fn spool_error(e: std::io::Error) -> String {
    format!("the gate could not hold the answer in a temporary file: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_answers_stay_in_memory_and_large_ones_go_to_a_file() {
        for (size, in_memory) in [(1000usize, true), (300_000, false)] {
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let body = http_body_util::Full::new(Bytes::from(bytes.clone()));
            let s = Spooled::read(body, 256 * 1024).await.unwrap();
            assert_eq!(s.in_memory().is_some(), in_memory);
            assert_eq!(s.len(), size as u64);
            use accesslog_app::gate::Content;
            assert_eq!(s.sha256(), hex::encode(Sha256::digest(&bytes)));
            let back = s
                .into_body()
                .await
                .unwrap()
                .collect()
                .await
                .unwrap()
                .to_bytes();
            assert_eq!(back.as_ref(), bytes.as_slice());
        }
    }
}
