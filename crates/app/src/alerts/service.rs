//! The alerts as a server runs them: the evaluator beside the recorder and the delivery
//! of what it raises, as tasks that stop with the server. None is on the commit path: the
//! recorder does not know they exist.
//!
//! Delivery takes alerts from the evaluator through a bounded channel and sends each on
//! a task of its own, so a slow channel holds up neither the evaluator nor other notices;
//! digests are sent when due, checked every minute. Notices that fail their last attempt
//! are kept in the store's dead-letter list, which the inbox shows.

use std::sync::Arc;
use std::time::Duration;

use accesslog_core::Clock;
use accesslog_site::Settings;
use accesslog_store::Store;
use accesslog_store::alerts::DeadLetterRecord;
use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::delivery::{DeadLetter, DeadLetters, Dispatcher, Notice};
use super::evaluator::{self, Evaluator};
use super::lifecycle::Alert;
use super::rules::{Rules, title};
use crate::{AppError, AppResult};

/// The running alert tasks; dropping this stops them.
#[derive(Debug)]
pub struct AlertTasks {
    evaluator: JoinHandle<Evaluator>,
    tasks: Vec<JoinHandle<()>>,
    /// Hands alerts raised elsewhere (a witness's refusal) to delivery.
    notify: mpsc::Sender<Alert>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl AlertTasks {
    /// Where to send an alert raised outside the rules, for delivery.
    pub fn notifier(&self) -> mpsc::Sender<Alert> {
        self.notify.clone()
    }
}

impl Drop for AlertTasks {
    fn drop(&mut self) {
        self.evaluator.abort();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Dead letters kept in the store.
#[derive(Debug)]
pub struct StoredDeadLetters(pub Arc<dyn Store>);

#[async_trait]
impl DeadLetters for StoredDeadLetters {
    async fn put(&self, d: DeadLetter) {
        let record = DeadLetterRecord {
            id: 0,
            channel: d.channel,
            alert_id: d.alert_id,
            attempts: d.attempts,
            last_error: d.last_error,
            at: d.at,
        };
        if let Err(e) = self.0.add_dead_letter(&record).await {
            tracing::error!(error = %e, alert = record.alert_id, "an undeliverable notice could not be kept");
        }
    }
}

/// The notice of an alert, as the channels send it.
pub fn notice(alert: &Alert, settings: &Settings) -> Notice {
    Notice {
        alert_id: alert.id,
        rule: alert.key.rule.clone(),
        title: title(&alert.key.rule).to_owned(),
        user: alert.key.user.clone(),
        severity: alert.severity,
        opened_at: alert.opened_at,
        arithmetic: alert.arithmetic.clone(),
        seqs: alert.seqs.iter().copied().collect(),
        link: settings.alerts.public_url.as_deref().map(|u| {
            format!(
                "{}/app/access-log/alerts/{}",
                u.trim_end_matches('/'),
                alert.id
            )
        }),
        site: settings.name.clone(),
    }
}

/// Checks `[alerts]` and builds its rules and channels, without starting anything.
pub fn check(
    settings: &Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> AppResult<(Rules, Dispatcher)> {
    let rules = Rules::from_settings(&settings.alerts).map_err(AppError::Invalid)?;
    let dispatcher = Dispatcher::new(
        &settings.alerts.delivery,
        clock,
        Arc::new(StoredDeadLetters(store)),
        &settings.name,
    )
    .map_err(|e| AppError::Invalid(e.0))?;
    Ok((rules, dispatcher))
}

/// Starts the evaluator and delivery for a site, unless `[alerts] enabled = false`.
pub async fn start(
    settings: &Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    doctypes: &[accesslog_core::doctype::DocType],
    committed: Option<mpsc::Receiver<Vec<accesslog_core::entry::Entry>>>,
) -> AppResult<Option<AlertTasks>> {
    let s = &settings.alerts;
    if !s.enabled {
        return Ok(None);
    }
    let (rules, dispatcher) = check(settings, store.clone(), clock.clone())?;
    let evaluator = Evaluator::start(store, clock, rules)
        .await?
        .with_employees(doctypes.iter().find(|d| d.name == "Employee").cloned())
        .with_tables(doctypes.iter().filter(|d| !d.is_child).cloned().collect());
    let (tx, rx) = mpsc::channel::<Alert>(1024);
    let every = Duration::from_secs(u64::from(s.evaluate_every_seconds));
    let settings = Arc::new(settings.clone());
    let notify = tx.clone();
    let deliver = tokio::spawn(deliver(rx, dispatcher.clone(), settings));
    let digests = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            dispatcher.tick().await;
        }
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    Ok(Some(AlertTasks {
        evaluator: evaluator::spawn(evaluator, every, committed, tx, stopped),
        tasks: vec![deliver, digests],
        notify,
        _stop: stop,
    }))
}

async fn deliver(mut rx: mpsc::Receiver<Alert>, dispatcher: Dispatcher, settings: Arc<Settings>) {
    while let Some(alert) = rx.recv().await {
        tracing::info!(
            alert = alert.id,
            rule = %alert.key.rule,
            user = %alert.key.user,
            severity = alert.severity.as_str(),
            "alert raised"
        );
        let n = notice(&alert, &settings);
        let d = dispatcher.clone();
        tokio::spawn(async move { d.deliver(&n).await });
    }
}
