//! Who is asking. A middleware resolves the caller once per request (API key or session
//! cookie) and enforces CSRF; handlers then take [`CurrentUser`] (API: 401 when absent)
//! or [`PageUser`] (pages: redirect to the login page when absent).

mod api_key;
mod csrf;
pub mod login;
mod resolve;

use accesslog_store::User;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

pub use csrf::CSRF_HEADER;
pub use resolve::{authenticate, check_csrf};

use crate::error::WebError;

/// The name of the session cookie (ERPNext's).
pub const SESSION_COOKIE: &str = "sid";

/// How the caller proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Session {
        id_digest: String,
        csrf_token: String,
        /// Opened by a script: see [`csrf`] for what that spares it.
        script: bool,
    },
    ApiKey {
        api_key: String,
        scopes: Vec<String>,
    },
}

/// A caller whose identity was checked on this request.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub user: User,
    pub credential: Credential,
}

impl Authenticated {
    /// How the caller authenticated, as the Access Log will record it: `session` or
    /// `api_key:<key id>` (never a secret).
    pub fn auth_label(&self) -> String {
        match &self.credential {
            Credential::Session { .. } => "session".to_owned(),
            Credential::ApiKey { api_key, .. } => format!("api_key:{api_key}"),
        }
    }

    /// Nothing for a System Manager; for anyone else 403, "Only System Managers may `what`."
    pub fn only_system_managers(&self, what: &str) -> Result<(), WebError> {
        let refused = || WebError::Forbidden(format!("Only System Managers may {what}."));
        self.user
            .has_role(accesslog_core::SYSTEM_MANAGER)
            .then_some(())
            .ok_or_else(refused)
    }

    /// System Managers, and API keys with the auditor scope, may read the Access Log.
    pub fn is_auditor(&self) -> bool {
        match &self.credential {
            Credential::ApiKey { scopes, .. }
                if scopes
                    .iter()
                    .any(|s| s == accesslog_app::accounts::AUDITOR_SCOPE) =>
            {
                true
            }
            _ => self.user.has_role(accesslog_core::SYSTEM_MANAGER),
        }
    }

    /// The session's CSRF token, for forms on pages; empty for API keys.
    pub fn csrf_token(&self) -> &str {
        match &self.credential {
            Credential::Session { csrf_token, .. } => csrf_token,
            Credential::ApiKey { .. } => "",
        }
    }
}

/// The logged-in caller, for API handlers: 401 when nobody is logged in.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Authenticated);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Authenticated>().cloned().map(CurrentUser).ok_or_else(|| {
            WebError::Unauthorized(
                "Not logged in: log in at /api/method/login or send an API key (Authorization: token KEY:SECRET)."
                    .to_owned(),
            )
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .map(CurrentUser))
    }
}

/// The logged-in caller, for pages: a visitor who is not logged in is sent to the login
/// page, which brings them back here afterwards.
#[derive(Clone, Debug)]
pub struct PageUser(pub Authenticated);

pub struct ToLogin(String);

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to(&format!(
            "/login?next={}",
            crate::percent::percent_path(&self.0)
        ))
        .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageUser {
    type Rejection = ToLogin;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(a) => Ok(PageUser(a.clone())),
            None => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/app");
                Err(ToLogin(here.to_owned()))
            }
        }
    }
}

/// Where to go after logging in: only a path on this site, never another host
/// (`//evil.example` or `https://…` fall back to the home page).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_same_site_path(n) => n.to_owned(),
        _ => "/app".to_owned(),
    }
}

/// A path on this site and nothing else: it starts with one `/` (not `//` or `/\`, which
/// browsers read as another host), and holds only visible ASCII, since browsers drop tabs
/// and line breaks before reading a URL (`/<TAB>/evil.example` is `//evil.example`) and a
/// header cannot carry them.
fn is_same_site_path(n: &str) -> bool {
    n.starts_with('/')
        && !n.starts_with("//")
        && !n.starts_with("/\\")
        && n.bytes().all(|b| b.is_ascii_graphic())
}

/// A caller allowed to read the Access Log: 403 for everyone else.
pub struct Auditor(pub Authenticated);

impl<S: Send + Sync> FromRequestParts<S> for Auditor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let CurrentUser(who) =
            <CurrentUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if who.is_auditor() {
            Ok(Auditor(who))
        } else {
            Err(WebError::Forbidden(
                "Only System Managers (or API keys with the auditor scope) may read the Access Log.".to_owned(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/app/x?y=1")), "/app/x?y=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/app");
        assert_eq!(safe_next(Some("/\\evil.example/")), "/app");
        assert_eq!(safe_next(Some("https://evil.example/")), "/app");
        assert_eq!(safe_next(None), "/app");
    }

    #[test]
    fn next_with_control_characters_or_spaces_goes_to_the_desk() {
        for bad in [
            "/\t/evil.example",
            "/\n",
            "/\r\n/x",
            "/ /evil.example",
            "/\u{7f}",
            "/\u{0}",
            "/é",
        ] {
            assert_eq!(safe_next(Some(bad)), "/app", "{bad:?}");
        }
        assert_eq!(
            safe_next(Some("/app/Employee%20List")),
            "/app/Employee%20List"
        );
    }

    #[test]
    fn login_redirect_encodes_the_path() {}
}
