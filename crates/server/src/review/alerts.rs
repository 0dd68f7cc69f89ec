//! The alert inbox's pages (issue 17): `/app/access-log/alerts`, the list with its
//! filters, rule health, suppressions and undeliverable notices; `/app/access-log/alerts/{id}`,
//! one alert's evidence, arithmetic and history with the System Manager's actions.
//!
//! What both pages show is Access Log data (who took what out, and which entries say so),
//! so each view is recorded as a read of the Access Log before it is sent, like
//! `/app/access-log/{seq}`. The actions' `POST` answers with a redirect only (no record
//! data), so it is an exempt route; its refusals are still recorded, and a bad action is
//! answered 400 naming what is wrong. The filters, the JSON of an alert and who may act
//! are shared with the API ([`super::alerts_api`]).

use std::collections::BTreeMap;
use std::time::Duration;

use accesslog_app::accounts::AUDITOR_SCOPE;
use accesslog_app::alerts::inbox::{self, Action, MAX_SUPPRESSION_DAYS, RuleHealth};
use accesslog_app::alerts::lifecycle::{Alert, Severity, State as AlertState};
use accesslog_app::alerts::rules::{RULE_IDS, title};
use accesslog_core::entry::{Activity, CanonicalJson, Event};
use accesslog_core::{SYSTEM_MANAGER, Timestamp};
use accesslog_store::alerts::AlertFilter;
use accesslog_store::log_search::{EntryQuery, GroupBy};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{require_reviewer, shown_time};
use crate::audit::{Audit, AuditedResponse, Payload, Read};
use crate::auth::{Authenticated, Credential, PageUser};
use crate::error::WebError;
use crate::pages::{Layout, render};
use crate::request::param;
use crate::state::AppState;

/// The most alerts one page or API call lists.
pub const MAX_LIMIT: u32 = 500;
/// Alerts per page of the inbox.
const PAGE: u32 = 50;
/// How the list's and the detail's reads are named in the Access Log (`report_name`).
pub const LIST_VIEW: &str = "Access Log Alerts";
pub const DETAIL_VIEW: &str = "Access Log Alert";
/// Rule health counts the distinct users among this many of the last week's newest
/// entries: a bound on the page's cost, so on a very busy site the figure is a floor.
const ACTIVE_USERS_SAMPLE: u32 = 50_000;
/// Undeliverable notices shown on the inbox.
const DEAD_LETTERS_SHOWN: u32 = 50;
/// The query parameters the list takes.
pub const FILTERS: [&str; 8] = [
    "state",
    "open",
    "rule",
    "user",
    "min_severity",
    "shadow",
    "limit",
    "offset",
];

// ---------------------------------------------------------------------------------------
// Shared with the API: filters, JSON, who may act.
// ---------------------------------------------------------------------------------------

fn flag(params: &BTreeMap<String, String>, name: &str) -> Result<Option<bool>, WebError> {
    match param(params, name) {
        None => Ok(None),
        Some("1" | "true" | "on" | "yes") => Ok(Some(true)),
        Some("0" | "false" | "off" | "no") => Ok(Some(false)),
        Some(v) => Err(WebError::BadRequest(format!(
            "{name} must be 1 or 0 (true or false), not {v:?}"
        ))),
    }
}

/// The store's filter from the query: `state` (`open`, `acknowledged`, `resolved`,
/// `dismissed`, or `all`), `open` (only open and acknowledged ones: the default when no
/// `state` is given), `rule`, `user`, `min_severity`, `shadow` (include alerts raised while
/// a rule was learning), `limit` (1 to 500) and `offset`. A bad value is a 400 naming it.
pub fn alert_filter(
    params: &BTreeMap<String, String>,
    default_limit: u32,
) -> Result<AlertFilter, WebError> {
    let mut f = AlertFilter {
        limit: default_limit,
        ..AlertFilter::default()
    };
    match param(params, "state") {
        None => f.open_only = true,
        Some("all") => {}
        Some(s @ ("open" | "acknowledged" | "resolved" | "dismissed")) => {
            f.state = Some(s.to_owned())
        }
        Some(s) => {
            return Err(WebError::BadRequest(format!(
                "state must be one of open, acknowledged, resolved, dismissed or all, not {s:?}"
            )));
        }
    }
    if let Some(open) = flag(params, "open")? {
        f.open_only = open;
    }
    if let Some(rule) = param(params, "rule") {
        let rule = rule.to_ascii_uppercase();
        if !RULE_IDS.contains(&rule.as_str()) {
            return Err(WebError::BadRequest(format!(
                "rule must be one of R1 to R10, not {rule:?}"
            )));
        }
        f.rule = Some(rule);
    }
    f.user = param(params, "user").map(str::to_owned);
    if let Some(s) = param(params, "min_severity") {
        let severity = Severity::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
            WebError::BadRequest(format!(
                "min_severity must be one of low, medium, high, critical, not {s:?}"
            ))
        })?;
        f.min_severity = Some(severity.rank());
    }
    f.shadow = flag(params, "shadow")?.unwrap_or(false);
    if let Some(v) = param(params, "limit") {
        f.limit = match v.parse::<u32>() {
            Ok(n) if n >= 1 => n.min(MAX_LIMIT),
            _ => {
                return Err(WebError::BadRequest(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}, not {v:?}"
                )));
            }
        };
    }
    if let Some(v) = param(params, "offset") {
        f.offset = v.parse().map_err(|_| {
            WebError::BadRequest(format!("offset must be a whole number, not {v:?}"))
        })?;
    }
    Ok(f)
}

/// An alert's id from the path: anything that is not one is no alert (404).
pub fn alert_id(raw: &str) -> Result<u64, WebError> {
    raw.parse()
        .map_err(|_| WebError::NotFound(format!("{raw:?} is not an alert number.")))
}

/// The resolution or dismissal reason of a closed alert.
fn closing(a: &Alert) -> (Option<&'static str>, Option<&str>) {
    match &a.state {
        AlertState::Resolved(r) => (Some(r.as_str()), None),
        AlertState::Dismissed { reason } => (None, Some(reason.as_str())),
        _ => (None, None),
    }
}

/// An alert as the API answers it: its summary, and with `detail` its arithmetic, the
/// entries that raised it (each with its URL and its inclusion proof's) and its history.
pub fn alert_json(a: &Alert, detail: bool) -> Value {
    let (resolution, reason) = closing(a);
    let mut out = json!({
        "id": a.id,
        "rule": a.key.rule,
        "title": title(&a.key.rule),
        "user": a.key.user,
        "severity": a.severity.as_str(),
        "state": a.state.name(),
        "resolution": resolution,
        "dismiss_reason": reason,
        "shadow": a.shadow,
        "window_start": Timestamp::from_micros(a.key.window).to_rfc3339(),
        "opened_at": a.opened_at.to_rfc3339(),
        "updated_at": a.updated_at.to_rfc3339(),
        "entries": a.seqs.len() as u64 + a.more_entries,
        "firings": a.firings,
        "url": format!("/api/access-log/alerts/{}", a.id),
    });
    if detail && let Value::Object(map) = &mut out {
        map.insert("arithmetic".into(), json!(a.arithmetic));
        // Past the first 1,000 entries and 20 lines, an alert counts instead of listing.
        map.insert("more_entries".into(), json!(a.more_entries));
        map.insert("more_arithmetic".into(), json!(a.more_arithmetic));
        map.insert(
            "seqs".into(),
            Value::Array(
                a.seqs
                    .iter()
                    .map(|seq| {
                        json!({
                            "seq": seq,
                            "url": format!("/api/access-log/{seq}"),
                            "proof": format!("/api/access-log/{seq}/proof"),
                        })
                    })
                    .collect(),
            ),
        );
        map.insert(
            "history".into(),
            Value::Array(
                a.history
                    .iter()
                    .map(|c| json!({"at": c.at.to_rfc3339(), "by": c.by, "what": c.what}))
                    .collect(),
            ),
        );
    }
    out
}

/// Whether `who` may change alerts: a System Manager, and not through a key with the
/// auditor scope (auditor keys read the inbox; they do not act on it).
pub fn may_act(who: &Authenticated) -> bool {
    let auditor_key = matches!(&who.credential, Credential::ApiKey { scopes, .. }
        if scopes.iter().any(|s| s == AUDITOR_SCOPE));
    !auditor_key && who.user.has_role(SYSTEM_MANAGER)
}

/// Refuses (and records the refusal of) a change of alert `id` by someone who may not.
pub async fn require_actor(state: &AppState, audit: &Audit, id: &str) -> Result<(), WebError> {
    if may_act(&audit.who) {
        return Ok(());
    }
    let mut event = Event::log_access(&audit.actor(), Activity::Read, Some(DETAIL_VIEW));
    event.reference_document = Some(id.to_owned());
    let error = WebError::Forbidden(
        "Only System Managers may acknowledge, resolve, dismiss or suppress alerts (auditor keys may read them)."
            .to_owned(),
    );
    Err(audit.deny(state, event, error).await)
}

/// What may be done to an alert.
pub const ACTIONS: [&str; 4] = ["acknowledge", "resolve", "dismiss", "suppress"];

/// One of the four actions, applied by `by`: the alert as it is afterwards, and for a
/// suppression its id. `days` and `reason` are the suppression's.
pub async fn apply(
    state: &AppState,
    id: u64,
    action: &str,
    resolution: Option<&str>,
    reason: Option<&str>,
    days: Option<&str>,
    by: &str,
) -> Result<(Alert, Option<u64>), WebError> {
    let now = state.clock.now();
    let store = &*state.store;
    if action == "suppress" {
        let days = days.map(str::trim).unwrap_or_default();
        let days: u64 = days.parse().map_err(|_| {
            WebError::BadRequest(format!(
                "days must be a whole number of days from 1 to {MAX_SUPPRESSION_DAYS}, not {days:?}"
            ))
        })?;
        let (alert, suppression) =
            inbox::suppress_alert(store, id, by, reason.unwrap_or_default(), days, now).await?;
        return Ok((alert, Some(suppression)));
    }
    if !ACTIONS.contains(&action) {
        return Err(WebError::BadRequest(format!(
            "action {action:?} is not one of acknowledge, resolve, dismiss or suppress"
        )));
    }
    let action = Action::parse(action, resolution, reason)?;
    Ok((inbox::act(store, id, &action, by, now).await?, None))
}

// ---------------------------------------------------------------------------------------
// The list.
// ---------------------------------------------------------------------------------------

/// An option of a `<select>`, and whether it is chosen.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn options(values: &[(&str, &str)], chosen: &str) -> Vec<Opt> {
    values
        .iter()
        .map(|(value, label)| Opt {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            selected: *value == chosen,
        })
        .collect()
}

pub struct AlertRow {
    pub id: u64,
    pub opened: String,
    pub rule: String,
    pub title: &'static str,
    pub user: String,
    pub severity: &'static str,
    pub state: &'static str,
    pub shadow: bool,
    pub entries: usize,
}

pub struct HealthRow {
    pub rule: &'static str,
    pub title: &'static str,
    pub alerts_90d: usize,
    pub share: String,
    pub noisy: bool,
    pub silent: bool,
}

impl HealthRow {
    fn of(h: &RuleHealth) -> Self {
        Self {
            rule: h.rule,
            title: title(h.rule),
            alerts_90d: h.alerts_90d,
            share: format!("{:.1} %", h.users_alerted_week * 100.0),
            noisy: h.noisy,
            silent: h.silent,
        }
    }
}

pub struct SuppressionRow {
    pub rule: String,
    pub user: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
}

pub struct DeadLetterRow {
    pub at: String,
    pub channel: String,
    pub alert_id: u64,
    pub attempts: u32,
    pub last_error: String,
}

#[derive(Template)]
#[template(path = "access_log_alerts.html")]
struct ListPage {
    layout: Layout,
    user: String,
    shadow: bool,
    states: Vec<Opt>,
    rules: Vec<Opt>,
    severities: Vec<Opt>,
    rows: Vec<AlertRow>,
    newer: Option<String>,
    older: Option<String>,
    health: Vec<HealthRow>,
    active_users: usize,
    active_users_sample: u32,
    noisy: Vec<String>,
    silent: Vec<&'static str>,
    suppressions: Vec<SuppressionRow>,
    dead_letters: Vec<DeadLetterRow>,
}

fn list_url(params: &BTreeMap<String, String>, offset: u64) -> String {
    let offset = (offset > 0).then(|| offset.to_string());
    let p = params
        .iter()
        .filter(|(k, v)| FILTERS.contains(&k.as_str()) && k.as_str() != "offset" && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()));
    crate::percent::with_query(
        "/app/access-log/alerts",
        p.chain(offset.as_deref().map(|o| ("offset", o))),
    )
}

/// Distinct users with entries in the last 7 days (other than `system`), among the
/// newest [`ACTIVE_USERS_SAMPLE`] of them.
async fn active_users(state: &AppState, now: Timestamp) -> Result<usize, WebError> {
    let q = EntryQuery {
        from: Some(now.minus(Duration::from_secs(7 * 86_400))),
        ..EntryQuery::default()
    };
    let users = state
        .store
        .count_entries(&q, GroupBy::User, ACTIVE_USERS_SAMPLE, ACTIVE_USERS_SAMPLE)
        .await?;
    Ok(users.iter().filter(|(u, _)| u != "system").count())
}

/// `GET /app/access-log/alerts`.
pub async fn list(
    State(state): State<AppState>,
    _page: PageUser,
    audit: Audit,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let mut filter = alert_filter(&params, PAGE)?;
    let now = state.clock.now();
    let page_size = filter.limit;
    filter.limit = page_size + 1;
    let mut alerts = inbox::list(&*state.store, &filter).await?;
    let more = alerts.len() > page_size as usize;
    alerts.truncate(page_size as usize);
    let active = active_users(&state, now).await?;
    let health = inbox::health(&*state.store, active, now).await?;
    let suppressions = state.store.suppressions(Some(now)).await?;
    let dead_letters = state.store.dead_letters(DEAD_LETTERS_SHOWN).await?;

    let chosen_state = match (param(&params, "state"), flag(&params, "open")?) {
        (Some(s), _) => s.to_owned(),
        (None, Some(false)) => "all".to_owned(),
        (None, _) => String::new(),
    };
    let mut rules: Vec<(&str, &str)> = vec![("", "Any rule")];
    let labels: Vec<String> = RULE_IDS
        .iter()
        .map(|r| format!("{r}: {}", title(r)))
        .collect();
    rules.extend(RULE_IDS.iter().zip(&labels).map(|(r, l)| (*r, l.as_str())));
    let page = ListPage {
        layout: Layout::new(&state.settings.name, Some(&audit.who)),
        user: param(&params, "user").unwrap_or_default().to_owned(),
        shadow: filter.shadow,
        states: options(
            &[
                ("", "Open or acknowledged"),
                ("open", "Open"),
                ("acknowledged", "Acknowledged"),
                ("resolved", "Resolved"),
                ("dismissed", "Dismissed"),
                ("all", "Any state"),
            ],
            &chosen_state,
        ),
        rules: options(
            &rules,
            &param(&params, "rule")
                .unwrap_or_default()
                .to_ascii_uppercase(),
        ),
        severities: options(
            &[
                ("", "Any"),
                ("low", "Low"),
                ("medium", "Medium"),
                ("high", "High"),
                ("critical", "Critical"),
            ],
            &param(&params, "min_severity")
                .unwrap_or_default()
                .to_ascii_lowercase(),
        ),
        rows: alerts
            .iter()
            .map(|a| AlertRow {
                id: a.id,
                opened: shown_time(a.opened_at),
                rule: a.key.rule.clone(),
                title: title(&a.key.rule),
                user: a.key.user.clone(),
                severity: a.severity.as_str(),
                state: a.state.name(),
                shadow: a.shadow,
                entries: a.seqs.len(),
            })
            .collect(),
        newer: (filter.offset > 0).then(|| {
            list_url(
                &params,
                filter.offset.saturating_sub(u64::from(page_size)),
            )
        }),
        older: more.then(|| list_url(&params, filter.offset + u64::from(page_size))),
        noisy: health
            .iter()
            .filter(|h| h.noisy)
            .map(|h| {
                format!(
                    "{} ({}) alerted on {:.1} % of active users this week, above {:.0} %: tune it in site.toml ([alerts.rules.{}]) or suppress what is known.",
                    h.rule,
                    title(h.rule),
                    h.users_alerted_week * 100.0,
                    inbox::NOISY_SHARE * 100.0,
                    h.rule
                )
            })
            .collect(),
        silent: health.iter().filter(|h| h.silent).map(|h| h.rule).collect(),
        health: health.iter().map(HealthRow::of).collect(),
        active_users: active,
        active_users_sample: ACTIVE_USERS_SAMPLE,
        suppressions: suppressions
            .iter()
            .map(|s| SuppressionRow {
                rule: s.rule.clone().unwrap_or_else(|| "every rule".to_owned()),
                user: s.user.clone().unwrap_or_else(|| "everyone".to_owned()),
                owner: s.owner.clone(),
                reason: s.reason.clone(),
                expires: shown_time(s.expires_at),
            })
            .collect(),
        dead_letters: dead_letters
            .iter()
            .map(|d| DeadLetterRow {
                at: shown_time(d.at),
                channel: d.channel.clone(),
                alert_id: d.alert_id,
                attempts: d.attempts,
                last_error: d.last_error.clone(),
            })
            .collect(),
    };
    let html = render(&page)?.0;
    release_list_read(&state, &audit, &params, &alerts, Payload::html(html)).await
}

/// Records a read of the listed `alerts` (the query's parameters and their ids) and
/// releases `payload`.
pub async fn release_list_read(
    state: &AppState,
    audit: &Audit,
    params: &BTreeMap<String, String>,
    alerts: &[Alert],
    payload: Payload,
) -> Result<AuditedResponse, WebError> {
    let kept = params.iter().filter(|(k, _)| FILTERS.contains(&k.as_str()));
    let ids = alerts.iter().map(|a| a.id.to_string()).collect();
    super::api::release_listed(state, audit, Some(LIST_VIEW), kept, ids, payload).await
}

/// Records a read of alert `a` (its id, and the entries it shows) and releases `payload`.
pub async fn release_alert_read(
    state: &AppState,
    audit: &Audit,
    a: &Alert,
    payload: Payload,
) -> Result<AuditedResponse, WebError> {
    let mut event = Event::log_access(&audit.actor(), Activity::Read, Some(DETAIL_VIEW));
    event.reference_document = Some(a.id.to_string());
    let mut recorded = Map::new();
    recorded.insert("rule".into(), json!(a.key.rule));
    recorded.insert("user".into(), json!(a.key.user));
    let seqs: Vec<String> = a.seqs.iter().map(u64::to_string).collect();
    crate::records::api::returned_names(&mut recorded, &seqs, state.settings.log.read_names_max);
    event.filters = Some(CanonicalJson::from_value(&Value::Object(recorded)));
    event.row_count = Some(1);
    audit
        .release_read(state, event, payload, Read::LogEntry)
        .await
}

// ---------------------------------------------------------------------------------------
// The detail and its actions.
// ---------------------------------------------------------------------------------------

pub struct Evidence {
    pub seq: u64,
    pub url: String,
    pub proof: String,
}

pub struct HistoryRow {
    pub at: String,
    pub by: String,
    pub what: String,
}

#[derive(Template)]
#[template(path = "access_log_alert.html")]
struct DetailPage {
    layout: Layout,
    id: u64,
    rule: String,
    title: &'static str,
    user: String,
    severity: &'static str,
    state: &'static str,
    resolution: Option<&'static str>,
    reason: Option<String>,
    shadow: bool,
    window: String,
    opened: String,
    updated: String,
    arithmetic: Vec<String>,
    more_arithmetic: u64,
    firings: u64,
    evidence: Vec<Evidence>,
    more_entries: u64,
    history: Vec<HistoryRow>,
    is_open: bool,
    may_act: bool,
    notice: Option<&'static str>,
    max_days: u64,
}

/// What the detail says after an action (`?done=`): fixed sentences, never the query's
/// own text.
fn notice(done: Option<&String>) -> Option<&'static str> {
    match done.map(String::as_str) {
        Some("acknowledge") => Some("Acknowledged."),
        Some("resolve") => Some("Resolved."),
        Some("dismiss") => Some("Dismissed."),
        Some("suppress") => Some(
            "Suppressed: this rule raises no alert for this user until the suppression expires.",
        ),
        _ => None,
    }
}

/// `GET /app/access-log/alerts/{id}`.
pub async fn show(
    State(state): State<AppState>,
    _page: PageUser,
    audit: Audit,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let a = inbox::get(&*state.store, alert_id(&id)?).await?;
    let (resolution, reason) = closing(&a);
    let html = render(&DetailPage {
        layout: Layout::new(&state.settings.name, Some(&audit.who)),
        id: a.id,
        rule: a.key.rule.clone(),
        title: title(&a.key.rule),
        user: a.key.user.clone(),
        severity: a.severity.as_str(),
        state: a.state.name(),
        resolution,
        reason: reason.map(str::to_owned),
        shadow: a.shadow,
        window: shown_time(Timestamp::from_micros(a.key.window)),
        opened: shown_time(a.opened_at),
        updated: shown_time(a.updated_at),
        arithmetic: a.arithmetic.clone(),
        more_arithmetic: a.more_arithmetic,
        firings: a.firings,
        more_entries: a.more_entries,
        evidence: a
            .seqs
            .iter()
            .map(|seq| Evidence {
                seq: *seq,
                url: format!("/app/access-log/{seq}"),
                proof: format!("/api/access-log/{seq}/proof"),
            })
            .collect(),
        history: a
            .history
            .iter()
            .map(|c| HistoryRow {
                at: shown_time(c.at),
                by: c.by.clone(),
                what: c.what.clone(),
            })
            .collect(),
        is_open: a.state.is_open(),
        may_act: may_act(&audit.who),
        notice: notice(params.get("done")),
        max_days: MAX_SUPPRESSION_DAYS,
    })?
    .0;
    release_alert_read(&state, &audit, &a, Payload::html(html)).await
}

/// The detail's forms: `action` (acknowledge, resolve, dismiss, suppress), with
/// `resolution`, `reason` and `days` as the action needs. (`csrf_token` is checked before
/// the handler runs.)
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub action: String,
    pub resolution: Option<String>,
    pub reason: Option<String>,
    pub days: Option<String>,
}

/// `POST /app/access-log/alerts/{id}`: applies the action and sends the browser back to
/// the detail (303). Refused (403, recorded) for anyone but a System Manager; a bad action
/// is a 400 that says what is wrong, an unknown alert a 404.
pub async fn act(
    State(state): State<AppState>,
    _page: PageUser,
    audit: Audit,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    require_actor(&state, &audit, &id).await?;
    let n = alert_id(&id)?;
    let action = form.action.trim();
    if action.is_empty() {
        return Err(WebError::BadRequest(
            "Say what to do: action is one of acknowledge, resolve, dismiss or suppress."
                .to_owned(),
        ));
    }
    apply(
        &state,
        n,
        action,
        form.resolution.as_deref(),
        form.reason.as_deref(),
        form.days.as_deref(),
        &audit.who.user.email,
    )
    .await?;
    Ok(Redirect::to(&format!("/app/access-log/alerts/{n}?done={action}")).into_response())
}
