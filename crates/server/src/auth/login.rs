//! Logging in and out: throttling, password check, the session and its cookie. Shared by
//! the login page and ERPNext's login calls.

use std::time::Duration;

use accesslog_core::accounts::normalize_email;
use accesslog_core::secrets::{random_token, token_digest};
use accesslog_store::{LoginOutcome, NewSession, User};
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::{Authenticated, Credential, SESSION_COOKIE};
use crate::error::WebError;
use crate::state::AppState;

/// Where the request came from, for the session record and throttling.
#[derive(Clone, Debug)]
pub struct Client {
    /// The client's address (behind a trusted proxy, the one the proxy named).
    pub ip: String,
    /// The trusted proxy the request came through, if any.
    pub via: Option<String>,
    pub user_agent: String,
}

impl Client {
    /// The address as entries store it: `203.0.113.9`, or `203.0.113.9 via 10.0.0.2`
    /// when a trusted proxy named the client.
    pub fn for_entry(&self) -> String {
        match &self.via {
            Some(proxy) => format!("{} via {proxy}", self.ip),
            None => self.ip.clone(),
        }
    }
}

#[derive(Debug)]
pub struct LoggedIn {
    pub user: User,
    /// The `sid` cookie to set.
    pub cookie: Cookie<'static>,
    pub csrf_token: String,
}

const INVALID: &str = "Invalid login credentials";

/// Who opens a session: a browser (the login page, or a login call carrying a browser's
/// markers), or a script. As in ERPNext, where a session has a CSRF token only once the
/// desk has loaded, a script's session may write without one ([`super::csrf`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenedBy {
    Browser,
    Script,
}

impl OpenedBy {
    /// A login call is a browser's when it carries any header only browsers send.
    pub fn of(headers: &axum::http::HeaderMap) -> Self {
        if super::csrf::has_browser_markers(headers) {
            OpenedBy::Browser
        } else {
            OpenedBy::Script
        }
    }
}

/// Checks the password and opens a session.
///
/// The attempt is stored before anything else, then counted with the others in the window
/// (`LoginSettings`): an account and address pair, or an address, that has used up its
/// failures is refused with 429 before the password is looked at, and concurrent attempts
/// cannot slip past the count. Beyond the per-account limit, attempts from anywhere are
/// slowed, never refused, so nobody can lock an account's owner out. The password check
/// itself waits its turn ([`crate::limits`]).
pub async fn login(
    state: &AppState,
    usr: &str,
    pwd: &str,
    client: &Client,
    opened_by: OpenedBy,
) -> Result<LoggedIn, WebError> {
    let limits = state.settings.login;
    let account = normalize_email(usr).unwrap_or_else(|_| usr.trim().to_lowercase());
    if account.is_empty() || pwd.is_empty() {
        return Err(WebError::Unauthorized(format!(
            "{INVALID}: enter your email and password."
        )));
    }
    // Stored bounded: the throttle's table must not grow by megabytes per request.
    let account: String = account.chars().take(254).collect();
    let now = state.clock.now();
    let window = Duration::from_secs(u64::from(limits.window_minutes) * 60);
    let since = now.minus(window);
    // Read first: a client that is already throttled is refused without a write, so a
    // flood of refused logins never queues at the database beside the Access Log.
    let before = state
        .store
        .count_login_attempts(&account, &client.ip, since)
        .await?;
    if let Some(message) = over_limit(&limits, &account, before, 0) {
        // The first refusal after a limit is reached is kept for the failed-logins page;
        // the rest are not, so that a flood stays off the disk.
        if before.pair == u64::from(limits.max_failures_per_account_and_address)
            || before.ip == u64::from(limits.max_failures_per_ip)
        {
            let (attempt, _) = state
                .store
                .begin_login_attempt(&account, &client.ip, now, since)
                .await?;
            state
                .store
                .settle_login_attempt(attempt, LoginOutcome::Throttled)
                .await?;
        }
        tracing::warn!(account = %account, ip = %client.ip, "login throttled");
        return Err(throttled(message, window));
    }
    let (attempt, counts) = state
        .store
        .begin_login_attempt(&account, &client.ip, now, since)
        .await?;
    if let Some(message) = over_limit(&limits, &account, counts, 1) {
        state
            .store
            .settle_login_attempt(attempt, LoginOutcome::Throttled)
            .await?;
        tracing::warn!(account = %account, ip = %client.ip, "login throttled");
        return Err(throttled(message, window));
    }
    let over = counts
        .account
        .saturating_sub(u64::from(limits.max_failures_per_account));
    if over > 0 {
        tokio::time::sleep(slowdown(over, limits.max_delay_seconds)).await;
    }

    let checked = check_password(state, &account, pwd).await;
    let user = match checked {
        Ok(user) => user,
        Err(e) => {
            // The password was never checked: the attempt counts against nobody.
            state
                .store
                .settle_login_attempt(attempt, LoginOutcome::Withdrawn)
                .await?;
            return Err(e);
        }
    };
    let Some(user) = user else {
        state
            .store
            .settle_login_attempt(attempt, LoginOutcome::Failed)
            .await?;
        tracing::warn!(account = %account, ip = %client.ip, "login failed");
        return Err(WebError::Unauthorized(INVALID.to_owned()));
    };
    state
        .store
        .settle_login_attempt(attempt, LoginOutcome::Succeeded)
        .await?;
    if !user.enabled {
        return Err(WebError::Unauthorized(format!(
            "The account {} is disabled; ask a System Manager to enable it.",
            user.email
        )));
    }

    let token = random_token();
    let csrf_token = random_token();
    state
        .store
        .create_session(&NewSession {
            id_digest: token_digest(&token),
            user_id: user.id,
            csrf_token: csrf_token.clone(),
            created_at: now,
            ip: client.for_entry(),
            user_agent: client.user_agent.chars().take(512).collect(),
            script: opened_by == OpenedBy::Script,
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

/// Why an attempt is refused before its password is checked, if it is: `counts` are the
/// attempts in the window, `own` of them this one.
fn over_limit(
    limits: &accesslog_site::LoginSettings,
    account: &str,
    counts: accesslog_store::LoginFailureCounts,
    own: u64,
) -> Option<String> {
    let earlier = |n: u64| n.saturating_sub(own);
    if earlier(counts.pair) >= u64::from(limits.max_failures_per_account_and_address) {
        Some(format!(
            "Too many failed logins for {account} from your address. Try again in {} minutes, or ask a System Manager to reset the password.",
            limits.window_minutes
        ))
    } else if earlier(counts.ip) >= u64::from(limits.max_failures_per_ip) {
        Some(format!(
            "Too many failed logins from your address. Try again in {} minutes.",
            limits.window_minutes
        ))
    } else {
        None
    }
}

/// The user whose password `pwd` is, or `None`; the hash is computed under the server's
/// bound on password checks (an unknown account costs the same, so timing tells nothing).
async fn check_password(
    state: &AppState,
    account: &str,
    pwd: &str,
) -> Result<Option<User>, WebError> {
    let user = state.store.user_by_email(account).await?;
    let hash = match &user {
        Some(u) => state.store.password_hash(u.id).await?,
        None => None,
    };
    let ok = state.limits.passwords.check(pwd, hash).await?;
    Ok(user.filter(|_| ok))
}

/// The wait before an attempt on an account with `over` failures beyond its soft limit:
/// one second, doubling every ten more, at most `max_secs`.
fn slowdown(over: u64, max_secs: u32) -> Duration {
    let doublings = u32::try_from((over - 1) / 10).unwrap_or(u32::MAX).min(16);
    Duration::from_secs((1u64 << doublings).min(u64::from(max_secs)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowdown_doubles_every_ten_failures_up_to_its_cap() {
        let secs = |over| slowdown(over, 10).as_secs();
        assert_eq!(
            [secs(1), secs(10), secs(11), secs(21), secs(31), secs(41)],
            [1, 1, 2, 4, 8, 10]
        );
        assert_eq!(secs(u64::MAX), 10);
        assert_eq!(slowdown(5, 0).as_secs(), 0);
    }
}
