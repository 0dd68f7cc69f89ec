//! Logging in and out: throttling, password check, the session and its cookie. Shared by
//! the login page and ERPNext's login calls.

use std::time::Duration;

use accesslog_core::accounts::normalize_email;
use accesslog_core::secrets::{
    random_token, token_digest, verify_password, verify_password_against_nothing,
};
use accesslog_store::{NewSession, User};
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::{Authenticated, Credential, SESSION_COOKIE};
use crate::error::WebError;
use crate::state::AppState;

/// Where the request came from, for the session record and throttling.
#[derive(Clone, Debug)]
pub struct Client {
    pub ip: String,
    pub user_agent: String,
}

#[derive(Debug)]
pub struct LoggedIn {
    pub user: User,
    /// The `sid` cookie to set.
    pub cookie: Cookie<'static>,
    pub csrf_token: String,
}

const INVALID: &str = "Invalid login credentials";

/// Checks the password and opens a session. Refuses with 429 once an account or an IP
/// address has used up its failed attempts in the window, before looking at the password.
pub async fn login(
    state: &AppState,
    usr: &str,
    pwd: &str,
    client: &Client,
) -> Result<LoggedIn, WebError> {
    let limits = state.settings.login;
    let account = normalize_email(usr).unwrap_or_else(|_| usr.trim().to_lowercase());
    if account.is_empty() || pwd.is_empty() {
        return Err(WebError::Unauthorized(format!(
            "{INVALID}: enter your email and password."
        )));
    }
    let now = state.clock.now();
    let window = Duration::from_secs(u64::from(limits.window_minutes) * 60);
    let failures = state
        .store
        .login_failures_since(&account, &client.ip, now.minus(window))
        .await?;
    if failures.account >= u64::from(limits.max_failures_per_account) {
        return Err(throttled(
            format!(
                "Too many failed logins for {account}. The account is locked for {} minutes; try again later or ask a System Manager to reset the password.",
                limits.window_minutes
            ),
            window,
        ));
    }
    if failures.ip >= u64::from(limits.max_failures_per_ip) {
        return Err(throttled(
            format!(
                "Too many failed logins from your address. Try again in {} minutes.",
                limits.window_minutes
            ),
            window,
        ));
    }

    let user = state.store.user_by_email(&account).await?;
    let hash = match &user {
        Some(u) => state.store.password_hash(u.id).await?,
        None => None,
    };
    let password = pwd.to_owned();
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_password(&password, &h),
        None => {
            verify_password_against_nothing(&password);
            false
        }
    })
    .await
    .map_err(|e| WebError::Internal(e.into()))?;

    let Some(user) = user.filter(|_| ok) else {
        state
            .store
            .record_login_failure(&account, &client.ip, now)
            .await?;
        return Err(WebError::Unauthorized(INVALID.to_owned()));
    };
    if !user.enabled {
        return Err(WebError::Unauthorized(format!(
            "The account {} is disabled; ask a System Manager to enable it.",
            user.email
        )));
    }
    state
        .store
        .clear_login_failures(&account, now.minus(window))
        .await?;

    let token = random_token();
    let csrf_token = random_token();
    state
        .store
        .create_session(&NewSession {
            id_digest: token_digest(&token),
            user_id: user.id,
            csrf_token: csrf_token.clone(),
            created_at: now,
            ip: client.ip.clone(),
            user_agent: client.user_agent.chars().take(512).collect(),
        })
        .await?;
    tracing::info!(user = %user.email, ip = %client.ip, "logged in");
    let cookie = session_cookie(state, token);
    Ok(LoggedIn {
        user,
        cookie,
        csrf_token,
    })
}

fn throttled(message: String, window: Duration) -> WebError {
    WebError::TooManyRequests {
        message,
        retry_after_secs: window.as_secs(),
    }
}

/// Ends the caller's session on the server (API keys have none to end).
pub async fn logout(state: &AppState, auth: Option<&Authenticated>) -> Result<(), WebError> {
    if let Some(Authenticated {
        credential: Credential::Session { id_digest, .. },
        user,
    }) = auth
    {
        state.store.delete_session(id_digest).await?;
        tracing::info!(user = %user.email, "logged out");
    }
    Ok(())
}

fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    let max_age = i64::from(state.settings.sessions.absolute_hours) * 3600;
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies)
        .max_age(time::Duration::seconds(max_age))
        .build()
}

/// A cookie that tells the browser to forget `sid`.
pub fn cleared_cookie() -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::ZERO)
        .build()
}
