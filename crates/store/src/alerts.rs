//! What the alert inbox keeps: alerts, suppressions, undeliverable notices and how far the
//! rules have read the log. The lifecycle's rules (one open alert per key, severity that
//! only rises, who changed what) live in the application layer; the store keeps rows and
//! guards the two things only it can: the open key is unique, and an alert changed by
//! someone else since it was read is not overwritten ([`AlertStore::update_alert`]).

use accesslog_core::Timestamp;
use async_trait::async_trait;

use crate::StoreResult;

/// One alert as stored. `body` is the alert's evidence and history as JSON (the
/// application layer's to read); the other fields are columns, for filtering.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRecord {
    /// 0 for an alert not yet stored.
    pub id: u64,
    pub rule: String,
    pub user: String,
    /// The start of the window the alert covers (its day or week), in µs.
    pub window_start: Timestamp,
    /// 0 low, 1 medium, 2 high, 3 critical.
    pub severity: i64,
    /// `open`, `acknowledged`, `resolved` or `dismissed`.
    pub state: String,
    /// Raised while its rule was still learning: kept, not delivered.
    pub shadow: bool,
    pub opened_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped by every update: an update from a stale read is refused.
    pub version: i64,
    pub body: String,
}

/// Which alerts to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub state: Option<String>,
    /// Only `open` and `acknowledged` ones.
    pub open_only: bool,
    pub rule: Option<String>,
    pub user: Option<String>,
    pub min_severity: Option<i64>,
    /// Include alerts raised in shadow mode.
    pub shadow: bool,
    pub opened_from: Option<Timestamp>,
    pub limit: u32,
    pub offset: u64,
}

/// A rule switched off for a user (or everyone) until it expires, by its owner.
#[derive(Clone, Debug, PartialEq)]
pub struct Suppression {
    pub id: u64,
    /// `None`: every rule.
    pub rule: Option<String>,
    /// `None`: every user.
    pub user: Option<String>,
    pub owner: String,
    pub reason: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A notice that could not be delivered after its last attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetterRecord {
    pub id: u64,
    pub channel: String,
    pub alert_id: u64,
    pub attempts: u32,
    pub last_error: String,
    pub at: Timestamp,
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Stores a new open alert and returns its id; `None` when an open alert of the same
    /// (rule, user, window) exists already (then add to that one).
    async fn insert_alert(&self, alert: &AlertRecord) -> StoreResult<Option<u64>>;
    /// The open (or acknowledged) alert of a key.
    async fn open_alert_for(
        &self,
        rule: &str,
        user: &str,
        window_start: Timestamp,
    ) -> StoreResult<Option<AlertRecord>>;
    async fn alert(&self, id: u64) -> StoreResult<Option<AlertRecord>>;
    /// Writes `alert` if its stored version is still `alert.version`, bumping it; `false`
    /// when it changed since it was read (read it again and retry).
    async fn update_alert(&self, alert: &AlertRecord) -> StoreResult<bool>;
    /// Writes several alerts in one transaction: each with `id` 0 is inserted as by
    /// [`insert_alert`](Self::insert_alert), each other one updated as by
    /// [`update_alert`](Self::update_alert). Returns, in order, the id of each alert
    /// written, or `None` for one that was not (its key is open already, or it changed
    /// since it was read). The rules' evaluator writes a round's alerts this way: one
    /// commit a round, not one an alert.
    async fn write_alerts(&self, alerts: &[AlertRecord]) -> StoreResult<Vec<Option<u64>>>;
    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Vec<AlertRecord>>;
    /// Open and acknowledged alerts, shadow ones left out.
    async fn count_open_alerts(&self) -> StoreResult<u64>;

    /// The last `seq` the rules have judged, and when they first ran (`None`: never).
    async fn alerts_cursor(&self) -> StoreResult<Option<(u64, Timestamp)>>;
    /// Moves the cursor from `from` to `to` (creating it, started at `now`, if missing);
    /// `false` when another evaluator moved it first.
    async fn move_alerts_cursor(&self, from: u64, to: u64, now: Timestamp) -> StoreResult<bool>;

    async fn add_suppression(&self, suppression: &Suppression) -> StoreResult<u64>;
    /// Suppressions in force at `at`, or every one when `None`.
    async fn suppressions(&self, at: Option<Timestamp>) -> StoreResult<Vec<Suppression>>;

    async fn add_dead_letter(&self, letter: &DeadLetterRecord) -> StoreResult<u64>;
    async fn dead_letters(&self, limit: u32) -> StoreResult<Vec<DeadLetterRecord>>;
}
