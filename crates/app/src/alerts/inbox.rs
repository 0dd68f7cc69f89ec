//! The inbox over the store: raising alerts from the rules' firings, listing them, and
//! the System Manager's transitions (acknowledge, resolve, dismiss, suppress). The
//! lifecycle's rules are [`Alert`]'s methods; this module reads a row, applies one, and
//! writes it back if nobody changed it meanwhile (else reads again), so two servers or
//! two reviewers never lose each other's change.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use accesslog_core::Timestamp;
use accesslog_store::Store;
use accesslog_store::alerts::{AlertFilter, Suppression};

use super::engine::Firing;
use super::lifecycle::{Alert, Key, LifecycleError, Resolution, Severity};
use super::rules::RULE_IDS;
use crate::{AppError, AppResult};

/// How often a write is retried after losing a race before giving up.
const RETRIES: usize = 8;

/// What a System Manager does to an alert.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Acknowledge,
    Resolve(Resolution),
    Dismiss(String),
}

impl Action {
    /// From the form or API: `acknowledge`, `resolve` (with `resolution`), `dismiss` (with
    /// `reason`).
    pub fn parse(action: &str, resolution: Option<&str>, reason: Option<&str>) -> AppResult<Self> {
        match action {
            "acknowledge" => Ok(Action::Acknowledge),
            "resolve" => {
                let r = resolution.unwrap_or_default();
                Resolution::parse(r).map(Action::Resolve).ok_or_else(|| {
                    AppError::Invalid(format!(
                        "resolution {r:?} is not one of true_positive, benign, false_positive"
                    ))
                })
            }
            "dismiss" => Ok(Action::Dismiss(reason.unwrap_or_default().to_owned())),
            other => Err(AppError::Invalid(format!(
                "action {other:?} is not one of acknowledge, resolve, dismiss"
            ))),
        }
    }
}

/// Raises `firing` as an alert, or joins it to the open alert of its key. `shadow`: the
/// rule is still learning (kept, not delivered). Returns the alert and whether it is new,
/// or `None` when a suppression in force covers it.
pub async fn raise(
    store: &dyn Store,
    firing: &Firing,
    shadow: bool,
    now: Timestamp,
) -> AppResult<Option<(Alert, bool)>> {
    let suppressions = store.suppressions(Some(firing.at)).await?;
    let raised = raise_many(
        store,
        std::slice::from_ref(firing),
        shadow,
        &suppressions,
        now,
    )
    .await?;
    Ok(raised.map(|r| (r.alert, r.new)))
}

/// What raising did.
#[derive(Clone, Debug)]
pub struct Raised {
    pub alert: Alert,
    pub new: bool,
    /// Its severity rose.
    pub rose: bool,
}

/// Raises the firings of one key (rule, user, window) as one alert, or joins them to its
/// open alert, in one write: a rule that fires on every entry of a bulk job costs one
/// write per evaluation round, not one per entry. `None` when a suppression covers them.
pub async fn raise_many(
    store: &dyn Store,
    firings: &[Firing],
    shadow: bool,
    suppressions: &[Suppression],
    now: Timestamp,
) -> AppResult<Option<Raised>> {
    let Some(first) = firings.first() else {
        return Ok(None);
    };
    if suppressed(suppressions, first) {
        return Ok(None);
    }
    for _ in 0..RETRIES {
        let open = open_alert(store, first).await?;
        let before = open.as_ref().map(|a| a.severity);
        let mut alert = apply(open, firings, shadow, now);
        let record = alert.to_record();
        let written = if alert.id == 0 {
            store.insert_alert(&record).await?
        } else {
            store.update_alert(&record).await?.then_some(alert.id)
        };
        if let Some(id) = written {
            return Ok(Some(Raised::written(&mut alert, id, before)));
        }
    }
    Err(AppError::Unavailable(format!(
        "the alert for {} on {} changed {RETRIES} times while being raised; try again",
        first.rule, first.user
    )))
}

impl Raised {
    /// `alert` as written to the store under `id`; `before`: the severity of the open
    /// alert it joined, if it joined one.
    pub(crate) fn written(alert: &mut Alert, id: u64, before: Option<Severity>) -> Raised {
        alert.id = id;
        alert.version += 1;
        Raised {
            alert: alert.clone(),
            new: before.is_none(),
            rose: before.is_some_and(|b| alert.severity > b),
        }
    }
}

/// Whether a suppression in force when `firing` happened covers it.
pub(crate) fn suppressed(suppressions: &[Suppression], firing: &Firing) -> bool {
    suppressions.iter().any(|s| {
        s.created_at <= firing.at
            && firing.at < s.expires_at
            && covers(s, firing.rule, &firing.user)
    })
}

/// The open (or acknowledged) alert of `firing`'s key, as stored.
pub(crate) async fn open_alert(store: &dyn Store, firing: &Firing) -> AppResult<Option<Alert>> {
    store
        .open_alert_for(firing.rule, &firing.user, firing.window_start)
        .await?
        .map(|row| decode(&row))
        .transpose()
}

/// `firings` (all of one key) joined to `open`, the open alert of their key, or raised as
/// a new alert (id 0) when there is none. `shadow`: the rule is still learning; a firing
/// out of shadow that joins a learning rule's alert makes it one to deliver.
pub(crate) fn apply(
    open: Option<Alert>,
    firings: &[Firing],
    shadow: bool,
    now: Timestamp,
) -> Alert {
    let (mut alert, joining) = match open {
        Some(alert) => (alert, firings),
        None => {
            let first = &firings[0];
            let key = Key {
                rule: first.rule.to_owned(),
                user: first.user.clone(),
                window: first.window_start.as_micros(),
            };
            let mut alert = Alert::new(key, first.severity, &first.seqs, &first.arithmetic, now);
            alert.shadow = true;
            // Opened when it happened (the entry's time), raised (in its history) now:
            // the two differ when the rules catch up with history.
            alert.opened_at = first.at;
            (alert, &firings[1..])
        }
    };
    for f in joining {
        alert.join(f.severity, &f.seqs, &f.arithmetic, now);
    }
    alert.shadow &= shadow;
    alert
}

fn covers(s: &Suppression, rule: &str, user: &str) -> bool {
    s.rule.as_deref().is_none_or(|r| r == rule) && s.user.as_deref().is_none_or(|u| u == user)
}

fn decode(row: &accesslog_store::alerts::AlertRecord) -> AppResult<Alert> {
    Alert::from_record(row).ok_or_else(|| {
        AppError::Internal(format!(
            "alert {} is stored in a form this server cannot read",
            row.id
        ))
    })
}

pub async fn list(store: &dyn Store, filter: &AlertFilter) -> AppResult<Vec<Alert>> {
    store
        .list_alerts(filter)
        .await?
        .iter()
        .map(decode)
        .collect()
}

pub async fn get(store: &dyn Store, id: u64) -> AppResult<Alert> {
    let row = store
        .alert(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no alert {id}")))?;
    decode(&row)
}

/// Applies a System Manager's action, kept in the alert's history with who and when.
pub async fn act(
    store: &dyn Store,
    id: u64,
    action: &Action,
    by: &str,
    now: Timestamp,
) -> AppResult<Alert> {
    update(store, id, |alert| {
        let done = match action {
            Action::Acknowledge => alert.acknowledge(by, now),
            Action::Resolve(r) => alert.resolve(*r, by, now),
            Action::Dismiss(reason) => alert.dismiss(reason, by, now),
        };
        done.map_err(|e| match e {
            LifecycleError::NoSuchAlert(_) => AppError::NotFound(e.to_string()),
            _ => AppError::Invalid(e.to_string()),
        })
    })
    .await
}

/// Changes alert `id` with `change` and saves it; if someone else saved it in between,
/// again from a fresh read.
async fn update(
    store: &dyn Store,
    id: u64,
    mut change: impl FnMut(&mut Alert) -> AppResult<()>,
) -> AppResult<Alert> {
    for _ in 0..RETRIES {
        let mut alert = get(store, id).await?;
        change(&mut alert)?;
        if store.update_alert(&alert.to_record()).await? {
            alert.version += 1;
            return Ok(alert);
        }
    }
    Err(AppError::Unavailable(format!(
        "alert {id} kept changing; try again"
    )))
}

/// The longest a suppression may last: a year. Every suppression expires.
pub const MAX_SUPPRESSION_DAYS: u64 = 366;

/// Suppresses a rule (or every rule) for a user (or everyone) until `days` from now.
pub async fn suppress(
    store: &dyn Store,
    rule: Option<&str>,
    user: Option<&str>,
    owner: &str,
    reason: &str,
    days: u64,
    now: Timestamp,
) -> AppResult<u64> {
    if let Some(r) = rule
        && !RULE_IDS.contains(&r)
    {
        return Err(AppError::Invalid(format!(
            "there is no rule {r:?} (rules are R1 to R10)"
        )));
    }
    if reason.trim().is_empty() {
        return Err(AppError::Invalid("a suppression needs a reason".into()));
    }
    if days == 0 || days > MAX_SUPPRESSION_DAYS {
        return Err(AppError::Invalid(format!(
            "a suppression lasts from 1 to {MAX_SUPPRESSION_DAYS} days, not {days}"
        )));
    }
    let s = Suppression {
        id: 0,
        rule: rule.map(str::to_owned),
        user: user.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()),
        owner: owner.to_owned(),
        reason: reason.trim().to_owned(),
        created_at: now,
        expires_at: now.plus(Duration::from_secs(days * 86_400)),
    };
    Ok(store.add_suppression(&s).await?)
}

/// Suppresses an alert's rule for its user, and keeps that in the alert's history (who,
/// until when, why). Returns the alert afterwards and the suppression's id.
pub async fn suppress_alert(
    store: &dyn Store,
    id: u64,
    owner: &str,
    reason: &str,
    days: u64,
    now: Timestamp,
) -> AppResult<(Alert, u64)> {
    let alert = get(store, id).await?;
    let suppression = suppress(
        store,
        Some(&alert.key.rule),
        Some(&alert.key.user),
        owner,
        reason,
        days,
        now,
    )
    .await?;
    let until = now.plus(Duration::from_secs(days * 86_400));
    let alert = update(store, id, |alert| {
        let (rule, user) = (&alert.key.rule, &alert.key.user);
        let what = format!(
            "suppressed {rule} for {user} until {until}: {}",
            reason.trim()
        );
        alert.record(owner, now, what);
        Ok(())
    })
    .await?;
    Ok((alert, suppression))
}

/// How each rule has been doing: what the inbox's "Rule health" shows.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleHealth {
    pub rule: &'static str,
    /// Alerts (shadow ones included) opened in the last 90 days.
    pub alerts_90d: usize,
    /// The share of active users this rule alerted on in the last 7 days.
    pub users_alerted_week: f64,
    /// Above 15 % of users a week: the rule is too noisy for this site.
    pub noisy: bool,
    /// No alert in 90 days.
    pub silent: bool,
}

/// A week's share of users above which a rule is called noisy.
pub const NOISY_SHARE: f64 = 0.15;

/// Rule health over the last 90 days; `active_users` is how many users had entries in
/// the last week.
pub async fn health(
    store: &dyn Store,
    active_users: usize,
    now: Timestamp,
) -> AppResult<Vec<RuleHealth>> {
    let since = now.minus(Duration::from_secs(90 * 86_400));
    let week = now.minus(Duration::from_secs(7 * 86_400));
    let alerts = store
        .list_alerts(&AlertFilter {
            shadow: true,
            opened_from: Some(since),
            limit: 100_000,
            ..AlertFilter::default()
        })
        .await?;
    let mut per_rule: BTreeMap<&str, (usize, BTreeSet<&str>)> = BTreeMap::new();
    for a in &alerts {
        let e = per_rule.entry(a.rule.as_str()).or_default();
        e.0 += 1;
        if a.opened_at >= week {
            e.1.insert(a.user.as_str());
        }
    }
    Ok(RULE_IDS
        .iter()
        .map(|rule| {
            let (n, users) = per_rule.get(rule).cloned().unwrap_or_default();
            let share = users.len() as f64 / active_users.max(1) as f64;
            RuleHealth {
                rule,
                alerts_90d: n,
                users_alerted_week: share,
                noisy: share > NOISY_SHARE,
                silent: n == 0,
            }
        })
        .collect())
}
