//! Resolving the caller: an API key in the `Authorization` header, else the `sid` cookie.

use std::time::Duration;

use accesslog_core::secrets::{digests_match, token_digest};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::api_key::parse_authorization;
use super::{Authenticated, Credential, SESSION_COOKIE, csrf};
use crate::error::WebError;
use crate::state::AppState;

/// Last-seen times are written at most this often, so browsing does not write per request.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Middleware: puts an [`Authenticated`] into the request's extensions when the caller
/// proved who they are, refuses bad API keys with 401, and enforces CSRF.
pub async fn authenticate(
    State(state): State<AppState>,
    jar: CookieJar,
    mut req: Request,
    next: Next,
) -> Response {
    match resolve(&state, req.headers(), &jar).await {
        Ok(Some(auth)) => {
            req.extensions_mut().insert(auth);
        }
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    next.run(req).await
}

/// Middleware on every route (added by [`crate::egress::Routes`], so that on an egress
/// route the guard around it records a refusal): the CSRF checks of [`csrf::check`].
pub async fn check_csrf(req: Request, next: Next) -> Response {
    match csrf::check(req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn resolve(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
) -> Result<Option<Authenticated>, WebError> {
    let authorization = crate::request::header_text(headers, header::AUTHORIZATION);
    if let Some(parsed) = authorization.and_then(parse_authorization) {
        let (key, secret) = parsed.map_err(|why| {
            WebError::Unauthorized(format!("Malformed Authorization header: {why}."))
        })?;
        return by_api_key(state, &key, &secret).await.map(Some);
    }
    match jar.get(SESSION_COOKIE) {
        Some(cookie) if !cookie.value().is_empty() => by_session(state, cookie.value()).await,
        _ => Ok(None),
    }
}

async fn by_api_key(state: &AppState, key: &str, secret: &str) -> Result<Authenticated, WebError> {
    let invalid = || WebError::Unauthorized("Invalid API key or secret.".to_owned());
    let record = state.store.api_key(key).await?.ok_or_else(invalid)?;
    if !digests_match(&record.secret_digest, &token_digest(secret)) {
        return Err(invalid());
    }
    if record.revoked_at.is_some() {
        return Err(WebError::Unauthorized(
            "This API key has been revoked; ask a System Manager for a new one.".to_owned(),
        ));
    }
    let user = state
        .store
        .user_by_id(record.user_id)
        .await?
        .ok_or_else(invalid)?;
    if !user.enabled {
        return Err(WebError::Unauthorized(format!(
            "The account {} is disabled; ask a System Manager to enable it.",
            user.email
        )));
    }
    let now = state.clock.now();
    if record
        .last_used_at
        .is_none_or(|t| t < now.minus(TOUCH_EVERY))
    {
        state.store.touch_api_key(key, now).await?;
    }
    Ok(Authenticated {
        user,
        credential: Credential::ApiKey {
            api_key: record.api_key,
            scopes: record.scopes,
        },
    })
}

async fn by_session(state: &AppState, token: &str) -> Result<Option<Authenticated>, WebError> {
    let digest = token_digest(token);
    let Some(session) = state.store.session(&digest).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let limits = state.settings.sessions;
    let idle = Duration::from_secs(u64::from(limits.idle_minutes) * 60);
    let absolute = Duration::from_secs(u64::from(limits.absolute_hours) * 3600);
    let expired =
        session.last_seen_at < now.minus(idle) || session.created_at < now.minus(absolute);
    let user = if expired {
        None
    } else {
        state.store.user_by_id(session.user_id).await?
    };
    let Some(user) = user.filter(|u| u.enabled) else {
        state.store.delete_session(&digest).await?;
        return Ok(None);
    };
    if session.last_seen_at < now.minus(TOUCH_EVERY) {
        state.store.touch_session(&digest, now).await?;
    }
    Ok(Some(Authenticated {
        user,
        credential: Credential::Session {
            id_digest: digest,
            csrf_token: session.csrf_token,
            script: session.script,
        },
    }))
}
