//! Trying a delivery again.
//!
//! The policy, for every channel alike: at most `attempts` tries; between two, a wait that
//! starts at `initial_backoff_ms` and doubles after each failure, never above
//! `max_backoff_ms` (with the defaults: 0.5 s, 1 s, 2 s, 4 s, then the dead-letter list,
//! some 7.5 s after the first try). Each try is bounded by `timeout_ms` as a whole, on top
//! of the channel's own connect and read timeouts, so no try can hang.
//!
//! A failure says whether trying again could help: a refusal that will not change (an
//! HTTP 4xx other than 408 and 429, an SMTP 5xx, a message that cannot be built) goes to
//! the dead-letter list at once; connection errors, timeouts, HTTP 5xx, 408, 429 and SMTP
//! 4xx are tried again.
//!
//! There is no jitter: one dispatcher per site sends a handful of alerts, so there is no
//! herd of clients to spread out, and fixed waits keep the tests exact.

use std::future::Future;
use std::time::Duration;

use accesslog_site::alert_delivery::RetrySettings;

/// Why one try failed, and whether another could succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub retry: bool,
}

impl Failure {
    /// Worth another try (the network, a timeout, a busy receiver).
    pub fn transient(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            retry: true,
        }
    }

    /// Will fail the same way every time.
    pub fn permanent(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            retry: false,
        }
    }
}

/// Every try failed (or one failed for good).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exhausted {
    pub attempts: u32,
    pub last_error: String,
}

/// [`RetrySettings`] as durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

impl From<&RetrySettings> for RetryPolicy {
    fn from(s: &RetrySettings) -> Self {
        Self {
            attempts: s.attempts.max(1),
            initial_backoff: Duration::from_millis(s.initial_backoff_ms),
            max_backoff: Duration::from_millis(s.max_backoff_ms.max(s.initial_backoff_ms)),
            timeout: Duration::from_millis(s.timeout_ms.max(1)),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `failed`-th try failed (1-based): initial × 2^(failed − 1),
    /// at most the maximum.
    pub fn backoff(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(30);
        let wait = self
            .initial_backoff
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_backoff);
        wait.min(self.max_backoff)
    }

    /// Runs `once` (given the try's number, from 1) until it succeeds, fails for good, or
    /// the tries run out. Returns the number of tries it took.
    pub async fn run<F, Fut>(&self, channel: &str, mut once: F) -> Result<u32, Exhausted>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<(), Failure>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match tokio::time::timeout(self.timeout, once(attempt)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::transient(format!(
                    "no answer within {} ms",
                    self.timeout.as_millis()
                ))),
            };
            let failure = match outcome {
                Ok(()) => return Ok(attempt),
                Err(failure) => failure,
            };
            if !failure.retry || attempt >= self.attempts {
                return Err(Exhausted {
                    attempts: attempt,
                    last_error: failure.error,
                });
            }
            let wait = self.backoff(attempt);
            tracing::warn!(
                channel,
                attempt,
                error = %failure.error,
                retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "alert delivery failed; trying again"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            timeout: Duration::from_millis(200),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let p = RetryPolicy::from(&RetrySettings::default());
        let waits: Vec<u128> = (1..=9).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]
        );
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn a_transient_failure_is_tried_again() {
        let tries = AtomicU32::new(0);
        let took = policy(5)
            .run("test", |n| {
                tries.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 3 {
                        Err(Failure::transient("busy"))
                    } else {
                        Ok(())
                    }
                }
            })
            .await;
        assert_eq!(took, Ok(3));
        assert_eq!(tries.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn tries_run_out() {
        let took = policy(4)
            .run("test", |n| async move {
                Err(Failure::transient(format!("try {n}")))
            })
            .await;
        assert_eq!(
            took,
            Err(Exhausted {
                attempts: 4,
                last_error: "try 4".to_owned()
            })
        );
    }

    #[tokio::test]
    async fn a_permanent_failure_stops_at_once() {
        let took = policy(5)
            .run("test", |_| async {
                Err(Failure::permanent("400 Bad Request"))
            })
            .await;
        assert_eq!(took.map_err(|e| e.attempts), Err(1));
    }

    #[tokio::test]
    async fn a_hung_try_times_out_and_is_retried() {
        let took = policy(2)
            .run("test", |n| async move {
                if n == 1 {
                    std::future::pending::<()>().await;
                }
                Ok(())
            })
            .await;
        assert_eq!(took, Ok(2));
    }
}
