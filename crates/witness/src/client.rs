//! The log's side of `tlog-witness`: submit a checkpoint with a consistency proof from
//! the size the witness last cosigned, learn that size from a 409 when it is not known,
//! and accept only a cosignature that verifies under the witness's configured key.

use std::future::Future;
use std::time::Duration;

use accesslog_core::checkpoint::Checkpoint;
use accesslog_core::cosignature::{CosignatureVerifier, add_signature_lines};
use accesslog_core::merkle::Hash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A witness as a site configures it: where it is and the key it cosigns with.
#[derive(Debug, Clone)]
pub struct WitnessEndpoint {
    /// The submission prefix; `/add-checkpoint` is appended.
    pub url: String,
    pub verifier: CosignatureVerifier,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("witness {witness} refused the checkpoint of size {size} ({status}): {message}")]
    Refused {
        witness: String,
        size: u64,
        status: u16,
        message: String,
    },
    #[error(
        "witness {witness} has cosigned a tree of {cosigned} entries, larger than this checkpoint's {size}: the log is behind what it once published (was the database rolled back?)"
    )]
    RolledBack {
        witness: String,
        cosigned: u64,
        size: u64,
    },
    #[error("witness {witness} could not be reached: {message}")]
    Unreachable { witness: String, message: String },
    #[error("witness {witness} answered with no valid cosignature: {message}")]
    BadAnswer { witness: String, message: String },
    #[error("no consistency proof from size {from} to {to}: {message}")]
    Proof { from: u64, to: u64, message: String },
}

impl SubmitError {
    /// Whether the witness judged the checkpoint and said no (as against being away).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            SubmitError::Refused { .. } | SubmitError::RolledBack { .. }
        )
    }
}

/// One witness, and the size it last cosigned for this log as far as this client knows.
#[derive(Debug)]
pub struct WitnessClient {
    endpoint: WitnessEndpoint,
    http: reqwest::Client,
    cosigned: Option<u64>,
}

impl WitnessClient {
    pub fn new(endpoint: WitnessEndpoint, http: reqwest::Client) -> Self {
        Self {
            endpoint,
            http,
            cosigned: None,
        }
    }

    /// A client with its own HTTP client (10 s timeouts).
    pub fn with_default_http(endpoint: WitnessEndpoint) -> Result<Self, SubmitError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| SubmitError::Unreachable {
                witness: endpoint.verifier.name().to_owned(),
                message: e.to_string(),
            })?;
        Ok(Self::new(endpoint, http))
    }

    pub fn name(&self) -> &str {
        self.endpoint.verifier.name()
    }

    pub fn verifier(&self) -> &CosignatureVerifier {
        &self.endpoint.verifier
    }

    /// The size this witness last cosigned, once known.
    pub fn cosigned(&self) -> Option<u64> {
        self.cosigned
    }

    /// Submits the signed `note` of `checkpoint` and returns the witness's cosignature
    /// line, verified. `proof(old, new)` gives the consistency proof between two sizes.
    pub async fn submit<F, Fut>(
        &mut self,
        note: &str,
        checkpoint: &Checkpoint,
        proof: F,
    ) -> Result<String, SubmitError>
    where
        F: Fn(u64, u64) -> Fut,
        Fut: Future<Output = Result<Vec<Hash>, String>>,
    {
        let size = checkpoint.size;
        // The first try may teach us the witness's size (409); the second uses it.
        for _ in 0..3 {
            let old = self.cosigned.unwrap_or(0);
            if old > size {
                return Err(SubmitError::RolledBack {
                    witness: self.name().to_owned(),
                    cosigned: old,
                    size,
                });
            }
            let hashes = if old == 0 || old == size {
                Vec::new()
            } else {
                proof(old, size)
                    .await
                    .map_err(|message| SubmitError::Proof {
                        from: old,
                        to: size,
                        message,
                    })?
            };
            let mut body = format!("old {old}\n");
            for h in &hashes {
                body.push_str(&BASE64.encode(h));
                body.push('\n');
            }
            body.push('\n');
            body.push_str(note);
            let url = format!("{}/add-checkpoint", self.endpoint.url.trim_end_matches('/'));
            let response = self
                .http
                .post(&url)
                .body(body)
                .send()
                .await
                .map_err(|e| self.unreachable(e))?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| self.unreachable(e))?;
            match status {
                200 => return self.accept(note, checkpoint, &text),
                409 => {
                    let cosigned = text
                        .trim_end()
                        .parse()
                        .map_err(|_| SubmitError::BadAnswer {
                            witness: self.name().to_owned(),
                            message: format!("a 409 without a tree size: {text:?}"),
                        })?;
                    self.cosigned = Some(cosigned);
                }
                _ => {
                    return Err(SubmitError::Refused {
                        witness: self.name().to_owned(),
                        size,
                        status,
                        message: text.trim_end().to_owned(),
                    });
                }
            }
        }
        Err(SubmitError::BadAnswer {
            witness: self.name().to_owned(),
            message: "it kept answering 409 with another size".to_owned(),
        })
    }

    fn unreachable(&self, e: reqwest::Error) -> SubmitError {
        SubmitError::Unreachable {
            witness: self.name().to_owned(),
            message: e.to_string(),
        }
    }

    /// Keeps only this witness's lines from the answer, and only if they verify.
    fn accept(
        &mut self,
        note: &str,
        checkpoint: &Checkpoint,
        answer: &str,
    ) -> Result<String, SubmitError> {
        let prefix = format!("\u{2014} {} ", self.name());
        let lines: String = answer
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        let bad = |message: String| SubmitError::BadAnswer {
            witness: self.name().to_owned(),
            message,
        };
        let cosigned = add_signature_lines(note, &lines);
        let (got, _) = self
            .endpoint
            .verifier
            .verify(&cosigned)
            .map_err(|e| bad(e.to_string()))?;
        if &got != checkpoint {
            return Err(bad("the cosigned checkpoint is not the one sent".to_owned()));
        }
        self.cosigned = Some(checkpoint.size);
        Ok(lines)
    }
}
