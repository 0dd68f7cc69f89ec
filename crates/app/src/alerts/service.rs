//! The alerts as a server runs them: the evaluator beside the recorder and the delivery
//! of what it raises, as two tasks that stop with the server. Neither is on the commit
//! path: the recorder does not know they exist.

use std::sync::Arc;
use std::time::Duration;

use accesslog_core::Clock;
use accesslog_site::Settings;
use accesslog_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::evaluator::{self, Evaluator};
use super::lifecycle::Alert;
use super::rules::Rules;
use crate::{AppError, AppResult};

/// The running alert tasks; dropping this stops them.
#[derive(Debug)]
pub struct AlertTasks {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for AlertTasks {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts the evaluator and delivery for a site, unless `[alerts] enabled = false`.
pub async fn start(
    settings: &Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> AppResult<Option<AlertTasks>> {
    let s = &settings.alerts;
    if !s.enabled {
        return Ok(None);
    }
    let rules = Rules::from_settings(s).map_err(AppError::Invalid)?;
    let evaluator = Evaluator::start(store.clone(), clock.clone(), rules).await?;
    let (tx, rx) = mpsc::channel::<Alert>(1024);
    let every = Duration::from_secs(u64::from(s.evaluate_every_seconds));
    let deliver = tokio::spawn(deliver(rx));
    Ok(Some(AlertTasks {
        tasks: vec![evaluator::spawn(evaluator, every, tx), deliver],
    }))
}

async fn deliver(mut rx: mpsc::Receiver<Alert>) {
    while let Some(alert) = rx.recv().await {
        tracing::info!(
            alert = alert.id,
            rule = %alert.key.rule,
            user = %alert.key.user,
            severity = alert.severity.as_str(),
            "alert raised"
        );
    }
}
