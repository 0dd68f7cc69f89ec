//! Where alerts are delivered (`[alerts.delivery]` in `site.toml`, read into
//! [`DeliverySettings`]): email, Standard Webhooks, Slack-compatible webhooks, syslog.
//!
//! The caller fills a [`Notice`] from a stored alert and hands it to a [`Dispatcher`]:
//!
//! ```text
//! let dispatcher = Dispatcher::new(&settings.alerts.delivery, clock, dead_letters, &site)?;
//! dispatcher.deliver(&notice).await;   // for each alert to deliver
//! dispatcher.tick().await;             // every minute or so: sends a digest when due
//! ```
//!
//! - Each channel has a minimum severity; a notice goes to every channel that admits it.
//! - Email sends High and Critical at once and collects the rest into a digest
//!   ([`email`]); the other channels send every admitted notice at once.
//! - A failed try is tried again with doubling waits ([`retry`]); after the last, or at
//!   once when the failure cannot change (an HTTP 4xx other than 408 and 429, an SMTP 5xx),
//!   the notice goes to the dead-letter list ([`DeadLetters`]) with the channel, the
//!   number of tries and the last error. Nothing here panics; failures are logged with
//!   `tracing` and end there.
//! - [`Dispatcher::deliver`] returns when every channel has delivered or given up, which
//!   with the default retry policy can take some seconds per failing channel. The
//!   channels are tried concurrently. A [`Dispatcher`] is cheap to clone (one `Arc`), so
//!   a caller that must not wait can spawn each delivery.
//!
//! No TLS: webhooks take `http://` URLs and email goes in clear to a relay, see [`http`]
//! and [`email`] for what adding it would take.
//!
//! Time comes from the injected [`Clock`] (timestamps, the digest's schedule, the hourly
//! cap); only the waits between retries use tokio's timer.

pub mod email;
pub mod http;
pub mod retry;
pub mod slack;
pub mod syslog;
pub mod webhook;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use accesslog_core::{Clock, Timestamp};
pub use accesslog_site::alert_delivery::{DeliverySettings, MinSeverity};

use crate::alerts::lifecycle::Severity;
use retry::{Exhausted, RetryPolicy};

/// An alert as delivered: what the caller fills from a stored alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub alert_id: u64,
    /// The rule's id, e.g. `"R1"`.
    pub rule: String,
    /// The rule's title, e.g. `"Burst of egress"`.
    pub title: String,
    /// Whose activity raised it.
    pub user: String,
    pub severity: Severity,
    pub opened_at: Timestamp,
    /// Each firing's arithmetic, in words.
    pub arithmetic: Vec<String>,
    /// The Access Log entries that raised it.
    pub seqs: Vec<u64>,
    /// The alert in the inbox.
    pub link: Option<String>,
    /// The site's name.
    pub site: String,
}

impl Notice {
    /// The notice as JSON, as webhooks carry it (in `data`) and syslog's JSON format
    /// writes it:
    ///
    /// ```json
    /// {"alert_id": 7, "rule": "R1", "title": "Burst of egress", "user": "alice",
    ///  "severity": "high", "opened_at": "2026-11-29T09:04:26.000001Z",
    ///  "arithmetic": ["23 egress events in 10 minutes (threshold 20)"],
    ///  "seqs": [101, 102], "link": "http://…/alerts/7", "site": "demo"}
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "alert_id": self.alert_id,
            "rule": self.rule,
            "title": self.title,
            "user": self.user,
            "severity": self.severity.as_str(),
            "opened_at": self.opened_at.to_rfc3339(),
            "arithmetic": self.arithmetic,
            "seqs": self.seqs,
            "link": self.link,
            "site": self.site,
        })
    }
}

/// Whether a channel with this minimum takes an alert of this severity (the two are in
/// the same order, `low` to `critical`).
pub fn admits(min: MinSeverity, severity: Severity) -> bool {
    severity.rank() >= min as i64
}

/// A notice a channel gave up on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// Which channel: `email (host:port)`, `email digest (host:port)`,
    /// `webhook 1 (host:port)`, `slack 1 (host)`, `syslog (udp host:port)`. URLs are
    /// named by host only, since their paths may hold tokens.
    pub channel: String,
    pub alert_id: u64,
    /// Tries made.
    pub attempts: u32,
    pub last_error: String,
    /// When it was given up on.
    pub at: Timestamp,
}

/// Where dead letters go (the store, for the inbox to show).
#[async_trait::async_trait]
pub trait DeadLetters: Send + Sync {
    async fn put(&self, dead: DeadLetter);
}

/// Dead letters kept in memory.
#[derive(Debug, Default)]
pub struct MemoryDeadLetters(Mutex<Vec<DeadLetter>>);

impl MemoryDeadLetters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every dead letter so far, oldest first.
    pub fn list(&self) -> Vec<DeadLetter> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl DeadLetters for MemoryDeadLetters {
    async fn put(&self, dead: DeadLetter) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(dead);
    }
}

/// The settings cannot be used (the message names the key).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Sends notices to the configured channels. `Send + Sync`, cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    site: String,
    clock: Arc<dyn Clock>,
    dead: Arc<dyn DeadLetters>,
    policy: RetryPolicy,
    http: Option<reqwest::Client>,
    email: Option<email::Email>,
    webhooks: Vec<webhook::Webhook>,
    slack: Vec<slack::Slack>,
    syslog: Option<syslog::Syslog>,
    /// Makes each `webhook-id` unique within this process's life (with the time, across
    /// restarts too).
    messages: AtomicU64,
}

impl fmt::Debug for Dispatcher {
    // By hand: the channels hold secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("site", &self.inner.site)
            .field("channels", &self.channels())
            .finish_non_exhaustive()
    }
}

type Job<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

impl Dispatcher {
    /// Builds the channels `settings` configures, checking what [`DeliverySettings::check`]
    /// checks and what only the channels can: that secrets decode, that URLs parse and
    /// are `http://`, that addresses are mailboxes, that a `password_env` is set.
    pub fn new(
        settings: &DeliverySettings,
        clock: Arc<dyn Clock>,
        dead: Arc<dyn DeadLetters>,
        site: &str,
    ) -> Result<Self, ConfigError> {
        settings.check().map_err(ConfigError)?;
        let policy = RetryPolicy::from(&settings.retry);
        let now = clock.now();

        let email = match &settings.email {
            Some(s) => Some(
                email::Email::new(s, policy.timeout, now, settings.ca_file.as_deref())
                    .map_err(ConfigError)?,
            ),
            None => None,
        };

        let mut webhooks = Vec::new();
        for (i, w) in settings.webhooks.iter().enumerate() {
            let key = format!("alerts.delivery.webhooks[{i}]");
            let (url, host) =
                http::parse_url(&w.url, &format!("{key}.url")).map_err(ConfigError)?;
            let keys = w
                .secrets
                .iter()
                .map(|s| {
                    webhook::decode_secret(s)
                        .map_err(|e| ConfigError(format!("{key}.secrets: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            webhooks.push(webhook::Webhook {
                url,
                keys,
                min: w.min_severity,
                label: format!("webhook {} ({host})", i + 1),
            });
        }

        let mut slack = Vec::new();
        for (i, s) in settings.slack.iter().enumerate() {
            let key = format!("alerts.delivery.slack[{i}].url");
            let (url, host) = http::parse_url(&s.url, &key).map_err(ConfigError)?;
            slack.push(slack::Slack {
                url,
                min: s.min_severity,
                label: format!("slack {} ({host})", i + 1),
            });
        }

        let http = if webhooks.is_empty() && slack.is_empty() {
            None
        } else {
            Some(http::client(policy.timeout, settings.ca_file.as_deref()).map_err(ConfigError)?)
        };

        Ok(Self {
            inner: Arc::new(Inner {
                site: site.to_owned(),
                clock,
                dead,
                policy,
                http,
                email,
                webhooks,
                slack,
                syslog: settings.syslog.as_ref().map(syslog::Syslog::new),
                messages: AtomicU64::new(0),
            }),
        })
    }

    /// The configured channels, by the names dead letters use.
    pub fn channels(&self) -> Vec<String> {
        let inner = &self.inner;
        let mut out = Vec::new();
        out.extend(inner.email.iter().map(|e| e.label.clone()));
        out.extend(inner.webhooks.iter().map(|w| w.label.clone()));
        out.extend(inner.slack.iter().map(|s| s.label.clone()));
        out.extend(inner.syslog.iter().map(syslog::Syslog::label));
        out
    }

    /// Sends `notice` to every channel whose minimum severity admits it (email: at once
    /// if High or Critical and under the hourly cap, else into the digest), concurrently,
    /// each retried per the policy. Returns when each has delivered or given up; what
    /// gave up is in the dead-letter list.
    pub async fn deliver(&self, notice: &Notice) {
        let inner = &*self.inner;
        let mut jobs: Vec<Job<'_>> = Vec::new();
        if let Some(email) = &inner.email
            && admits(email.min, notice.severity)
        {
            jobs.push(Box::pin(inner.email_one(email, notice)));
        }
        for hook in &inner.webhooks {
            if admits(hook.min, notice.severity) {
                jobs.push(Box::pin(inner.webhook(hook, notice)));
            }
        }
        for slack in &inner.slack {
            if admits(slack.min, notice.severity) {
                jobs.push(Box::pin(inner.slack(slack, notice)));
            }
        }
        if let Some(syslog) = &inner.syslog
            && admits(syslog.min, notice.severity)
        {
            jobs.push(Box::pin(inner.syslog(syslog, notice)));
        }
        futures::future::join_all(jobs).await;
    }

    /// Sends the email digest if it is due by the clock and something waits. Call it
    /// every minute or so; between due times it does nothing.
    pub async fn tick(&self) {
        self.send_digest(false).await;
    }

    /// Sends the email digest now if anything waits, due or not: for a shutdown, so that
    /// queued alerts are not lost with the process.
    pub async fn flush(&self) {
        self.send_digest(true).await;
    }

    async fn send_digest(&self, force: bool) {
        let inner = &*self.inner;
        let Some(email) = &inner.email else {
            return;
        };
        let now = inner.clock.now();
        let taken = if force {
            email.take_digest_now(now)
        } else {
            email.take_due_digest(now)
        };
        let Some(digest) = taken else {
            return;
        };
        let ids: Vec<u64> = digest.notices.iter().map(|(n, _)| n.alert_id).collect();
        let channel = email.label.replacen("email", "email digest", 1);
        let message = email.digest(&inner.site, &digest, now);
        inner
            .attempt(&channel, &ids, |_| {
                let message = message.clone();
                async move { email.send(message?).await }
            })
            .await;
    }

    /// When the email digest next falls due (`None` without email).
    pub fn next_digest(&self) -> Option<Timestamp> {
        self.inner.email.as_ref().map(email::Email::next_digest)
    }

    /// How many alerts wait for the email digest.
    pub fn digest_waiting(&self) -> usize {
        self.inner.email.as_ref().map_or(0, email::Email::waiting)
    }
}

impl Inner {
    /// Runs tries for one channel; on giving up, one dead letter per alert.
    async fn attempt<F, Fut>(&self, channel: &str, alert_ids: &[u64], once: F)
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<(), retry::Failure>>,
    {
        match self.policy.run(channel, once).await {
            Ok(attempts) => {
                tracing::debug!(channel, ?alert_ids, attempts, "alert delivered");
            }
            Err(Exhausted {
                attempts,
                last_error,
            }) => {
                tracing::error!(
                    channel,
                    ?alert_ids,
                    attempts,
                    error = %last_error,
                    "alert delivery gave up; kept as a dead letter"
                );
                let at = self.clock.now();
                for &alert_id in alert_ids {
                    self.dead
                        .put(DeadLetter {
                            channel: channel.to_owned(),
                            alert_id,
                            attempts,
                            last_error: last_error.clone(),
                            at,
                        })
                        .await;
                }
            }
        }
    }

    async fn email_one(&self, email: &email::Email, notice: &Notice) {
        let urgent = notice.severity >= Severity::High;
        let now = self.clock.now();
        if !urgent {
            email.queue(notice, false);
            return;
        }
        if !email.take_slot(now) {
            tracing::warn!(
                alert_id = notice.alert_id,
                "email: the hourly cap is reached; the alert waits for the next digest"
            );
            email.queue(notice, true);
            return;
        }
        let message = email.single(notice, now);
        self.attempt(&email.label, &[notice.alert_id], |_| {
            let message = message.clone();
            async move { email.send(message?).await }
        })
        .await;
    }

    async fn webhook(&self, hook: &webhook::Webhook, notice: &Notice) {
        let Some(client) = &self.http else {
            return;
        };
        let now = self.clock.now();
        let n = self.messages.fetch_add(1, Ordering::Relaxed);
        let id = format!("msg_{}_{}_{n}", notice.alert_id, now.as_micros());
        let payload = serde_json::json!({
            "type": "accesslog.alert",
            "timestamp": now.to_rfc3339(),
            "data": notice.to_json(),
        });
        let body = payload.to_string().into_bytes();
        let (id, body) = (&id, &body);
        self.attempt(&hook.label, &[notice.alert_id], |_| {
            let seconds = self.clock.now().as_micros().div_euclid(1_000_000);
            async move { webhook::post_signed(client, hook, id, seconds, body).await }
        })
        .await;
    }

    async fn slack(&self, slack: &slack::Slack, notice: &Notice) {
        let Some(client) = &self.http else {
            return;
        };
        let body = serde_json::json!({ "text": slack::text(notice) })
            .to_string()
            .into_bytes();
        let body = &body;
        self.attempt(&slack.label, &[notice.alert_id], |_| async move {
            slack::post(client, slack, body).await
        })
        .await;
    }

    async fn syslog(&self, syslog: &syslog::Syslog, notice: &Notice) {
        let message = syslog.message(notice, self.clock.now());
        let message = &message;
        self.attempt(&syslog.label(), &[notice.alert_id], |_| async move {
            syslog.send(message).await
        })
        .await;
    }
}

/// `text`, then each cause of `e` after a colon.
fn with_causes(mut text: String, e: &dyn std::error::Error) -> String {
    for cause in std::iter::successors(e.source(), |c| c.source()) {
        text.push_str(": ");
        text.push_str(&cause.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use accesslog_core::FixedClock;

    #[test]
    fn filters_admit_at_and_above_their_minimum() {
        assert!(admits(MinSeverity::Low, Severity::Low));
        assert!(admits(MinSeverity::Medium, Severity::High));
        assert!(!admits(MinSeverity::High, Severity::Medium));
        assert!(admits(MinSeverity::Critical, Severity::Critical));
        assert!(!admits(MinSeverity::Critical, Severity::High));
    }

    #[test]
    fn the_dispatcher_is_send_and_sync() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Dispatcher>();
    }

    #[test]
    fn the_json_form_has_every_field() {
        let notice = Notice {
            alert_id: 7,
            rule: "R1".into(),
            title: "Burst of egress".into(),
            user: "alice".into(),
            severity: Severity::Critical,
            opened_at: Timestamp::from_micros(1_764_406_800_000_001),
            arithmetic: vec!["23 events".into()],
            seqs: vec![1, 2],
            link: None,
            site: "demo".into(),
        };
        assert_eq!(
            notice.to_json(),
            serde_json::json!({
                "alert_id": 7, "rule": "R1", "title": "Burst of egress", "user": "alice",
                "severity": "critical", "opened_at": "2025-11-29T09:00:00.000001Z",
                "arithmetic": ["23 events"], "seqs": [1, 2], "link": null, "site": "demo"
            })
        );
    }

    #[test]
    fn bad_settings_name_their_key() {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(Timestamp::from_micros(0)));
        let dead: Arc<dyn DeadLetters> = Arc::new(MemoryDeadLetters::new());
        let parse = |text: &str| -> DeliverySettings { toml_like(text) };
        for (settings, key) in [
            (
                parse("webhook ftp://x/ whsec_AAAA"),
                "alerts.delivery.webhooks[0].url",
            ),
            (
                parse("webhook http://x/ whsec_!!"),
                "alerts.delivery.webhooks[0].secrets",
            ),
            (parse("slack ftp://hooks/x"), "alerts.delivery.slack[0].url"),
        ] {
            let err = Dispatcher::new(&settings, clock.clone(), dead.clone(), "s").unwrap_err();
            assert!(err.0.contains(key), "{err}");
        }
        let mut missing_ca = parse("slack https://hooks/x");
        missing_ca.ca_file = Some("/nonexistent/ca.pem".into());
        let err = Dispatcher::new(&missing_ca, clock.clone(), dead.clone(), "s").unwrap_err();
        assert!(err.0.contains("alerts.delivery.ca_file"), "{err}");
        let none = Dispatcher::new(&DeliverySettings::default(), clock, dead, "s").unwrap();
        assert!(none.channels().is_empty());
    }

    /// A tiny settings builder for the test above (the site crate's tests parse TOML).
    fn toml_like(text: &str) -> DeliverySettings {
        let parts: Vec<&str> = text.split(' ').collect();
        let mut d = DeliverySettings::default();
        match parts[0] {
            "webhook" => d
                .webhooks
                .push(accesslog_site::alert_delivery::WebhookSettings {
                    url: parts[1].into(),
                    secrets: vec![parts[2].into()],
                    min_severity: MinSeverity::Low,
                }),
            _ => d.slack.push(accesslog_site::alert_delivery::SlackSettings {
                url: parts[1].into(),
                min_severity: MinSeverity::Low,
            }),
        }
        d
    }

    #[tokio::test]
    async fn an_unreachable_syslog_ends_as_a_dead_letter() {
        let clock = Arc::new(FixedClock::new(Timestamp::from_micros(5)));
        let dead = Arc::new(MemoryDeadLetters::new());
        let settings = DeliverySettings {
            syslog: Some(accesslog_site::alert_delivery::SyslogSettings {
                // A TCP port nothing listens on: bound, then closed.
                address: {
                    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                    l.local_addr().unwrap().to_string()
                },
                transport: accesslog_site::alert_delivery::SyslogTransport::Tcp,
                ..Default::default()
            }),
            retry: accesslog_site::alert_delivery::RetrySettings {
                attempts: 2,
                initial_backoff_ms: 1,
                max_backoff_ms: 1,
                timeout_ms: 2000,
            },
            ..Default::default()
        };
        let d = Dispatcher::new(&settings, clock, dead.clone(), "s").unwrap();
        let notice = Notice {
            alert_id: 9,
            rule: "R8".into(),
            title: "Probing".into(),
            user: "u".into(),
            severity: Severity::Low,
            opened_at: Timestamp::from_micros(0),
            arithmetic: vec![],
            seqs: vec![],
            link: None,
            site: "s".into(),
        };
        d.deliver(&notice).await;
        let letters = dead.list();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].alert_id, 9);
        assert_eq!(letters[0].attempts, 2);
        assert!(letters[0].channel.starts_with("syslog (tcp 127.0.0.1:"));
        assert!(
            letters[0].last_error.contains("cannot connect"),
            "{:?}",
            letters[0]
        );
        assert_eq!(letters[0].at, Timestamp::from_micros(5));
    }
}
