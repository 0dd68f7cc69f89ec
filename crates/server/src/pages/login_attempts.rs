//! `GET /app/login-attempts`: failed and throttled logins of the last week, by account and
//! address, for System Managers. Security telemetry, not record data, so not Access Log
//! entries; a password guessed at from many addresses shows here as many rows.

use accesslog_store::LoginAttempts;
use askama::Template;
use axum::extract::State;
use axum::response::Html;

use crate::auth::PageUser;
use crate::error::WebError;
use crate::pages::{Layout, render};
use crate::state::AppState;

/// Rows shown, latest first.
const SHOWN: u32 = 500;

#[derive(Template)]
#[template(path = "login_attempts.html")]
struct LoginAttemptsPage {
    layout: Layout,
    rows: Vec<Row>,
    window_minutes: u32,
    per_pair: u32,
    per_address: u32,
    per_account: u32,
}

struct Row {
    account: String,
    ip: String,
    failed: u64,
    throttled: u64,
    last: String,
}

impl From<LoginAttempts> for Row {
    fn from(a: LoginAttempts) -> Self {
        Row {
            account: a.account,
            ip: a.ip,
            failed: a.failed,
            throttled: a.throttled,
            last: a.last.to_rfc3339(),
        }
    }
}

pub async fn show(State(state): State<AppState>, who: PageUser) -> Result<Html<String>, WebError> {
    who.0.only_system_managers("see failed logins")?;
    let since = state.clock.now().minus(crate::LOGIN_ATTEMPTS_KEPT);
    let rows = state.store.login_attempts_since(since, SHOWN).await?;
    let login = state.settings.login;
    render(&LoginAttemptsPage {
        layout: Layout::new(&state.settings.name, Some(&who.0)),
        rows: rows.into_iter().map(Row::from).collect(),
        window_minutes: login.window_minutes,
        per_pair: login.max_failures_per_account_and_address,
        per_address: login.max_failures_per_ip,
        per_account: login.max_failures_per_account,
    })
}
