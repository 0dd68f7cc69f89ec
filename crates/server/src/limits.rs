//! Bounds on expensive work, so that a flood of one kind of request cannot take the server
//! (and every egress with it) down:
//!
//! - password checks (Argon2, 19 MiB and tens of milliseconds each) run at most one per
//!   core, with a short queue; beyond it a login is answered 503 with `Retry-After`;
//! - exports run at most `[exports] per_user` per user and `in_total` at once, and an
//!   XLSX starts only with `xlsx_min_free_mb` of temporary disk free.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use accesslog_core::secrets::{HashMemory, verify_password_against_nothing_in, verify_password_in};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::WebError;

/// Password checks waiting for a core, beyond which logins are turned away.
pub const HASHING_QUEUE_PER_CORE: usize = 8;

#[derive(Debug)]
pub struct Limits {
    pub passwords: PasswordChecks,
    pub exports: PerUserLimit,
}

impl Limits {
    pub fn new(exports: &accesslog_site::ExportSettings) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let count = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Limits {
            passwords: PasswordChecks {
                turns: WorkLimit::new(cores, cores * HASHING_QUEUE_PER_CORE, "password checks"),
                memory: Mutex::default(),
            },
            exports: PerUserLimit::new(count(exports.per_user), count(exports.in_total)),
        }
    }
}

/// Bytes free for an unprivileged user on the file system holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir).map_err(std::io::Error::from)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Password checks: one per core at a time, each in working memory kept from the last
/// (so the server holds at most one check's 19 MiB per core, whatever the load).
#[derive(Debug)]
pub struct PasswordChecks {
    turns: WorkLimit,
    memory: Mutex<Vec<HashMemory>>,
}

impl PasswordChecks {
    /// Whether `password` matches `hash`; with no hash (no such account), the same work is
    /// spent on nothing, so timing tells nothing. 503 when too many are waiting.
    pub async fn check(&self, password: &str, hash: Option<String>) -> Result<bool, WebError> {
        let turn = self.turns.enter().await?;
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        let password = password.to_owned();
        let (ok, memory) = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let ok = match hash {
                Some(h) => verify_password_in(&password, &h, &mut memory),
                None => {
                    verify_password_against_nothing_in(&password, &mut memory);
                    false
                }
            };
            (ok, memory)
        })
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
        self.memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(memory);
        Ok(ok)
    }
}

/// At most `running` at once, and at most `queue` more waiting; the rest are turned away.
#[derive(Debug)]
pub struct WorkLimit {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    what: &'static str,
}

impl WorkLimit {
    pub fn new(running: usize, queue: usize, what: &'static str) -> Self {
        WorkLimit {
            permits: Arc::new(Semaphore::new(running.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
            what,
        }
    }

    /// A turn to run, once one is free; 503 at once when the queue is full.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, WebError> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(WebError::Busy {
                message: format!(
                    "The server is busy with other {}; try again in a second.",
                    self.what
                ),
                retry_after_secs: 1,
            });
        }
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(|_| WebError::Unavailable(format!("{} have stopped", self.what)))
    }
}

/// At most `per_user` at once for one user, and `total` for everyone.
#[derive(Debug)]
pub struct PerUserLimit {
    per_user: usize,
    total: usize,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

/// Why there is no place: the user's own limit, or everyone's.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Mine(String),
    Everyone(String),
}

/// A running piece of work; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    user: String,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

impl PerUserLimit {
    pub fn new(per_user: usize, total: usize) -> Self {
        PerUserLimit {
            per_user,
            total,
            running: Arc::default(),
        }
    }

    /// How many places `user` holds now.
    pub fn held_by(&self, user: &str) -> usize {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(user).copied().unwrap_or(0)
    }

    /// A place for `user`, or why there is none (the message names the limit).
    pub fn try_enter(&self, user: &str) -> Result<Slot, Refusal> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = running.values().sum();
        let mine = running.get(user).copied().unwrap_or(0);
        if mine >= self.per_user {
            return Err(Refusal::Mine(format!(
                "You already have {mine} exports running (at most {} at once); wait for one to finish.",
                self.per_user
            )));
        }
        if total >= self.total {
            return Err(Refusal::Everyone(format!(
                "The server is running {total} exports (at most {} at once); try again shortly.",
                self.total
            )));
        }
        *running.entry(user.to_owned()).or_default() += 1;
        Ok(Slot {
            user: user.to_owned(),
            running: self.running.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = running.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_turns_work_away_with_503() {
        let limit = WorkLimit::new(1, 1, "password checks");
        let first = limit.enter().await.unwrap();
        let limit = Arc::new(limit);
        let waiting = {
            let limit = limit.clone();
            tokio::spawn(async move { limit.enter().await.map(drop) })
        };
        while limit.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let refused = limit.enter().await.unwrap_err();
        assert_eq!(
            refused.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(refused.to_string().contains("password checks"), "{refused}");
        drop(first);
        waiting.await.unwrap().unwrap();
        drop(limit.enter().await.unwrap());
    }

    #[test]
    fn exports_are_bounded_per_user_and_in_total() {
        let limit = PerUserLimit::new(2, 3);
        let a1 = limit.try_enter("a").unwrap();
        let _a2 = limit.try_enter("a").unwrap();
        assert!(matches!(limit.try_enter("a"), Err(Refusal::Mine(m)) if m.contains("at most 2")));
        let _b1 = limit.try_enter("b").unwrap();
        assert!(
            matches!(limit.try_enter("c"), Err(Refusal::Everyone(m)) if m.contains("at most 3"))
        );
        drop(a1);
        let _c1 = limit.try_enter("c").unwrap();
        assert!(limit.try_enter("a").is_err(), "the total is full again");
    }
}
