//! ERPNext's login and logout calls, so Frappe clients work unmodified:
//! `POST /api/method/login`, `POST /` with `cmd=login`, `POST|GET /api/method/logout`,
//! `GET /?cmd=logout`, and `GET /api/method/frappe.auth.get_logged_user`; and `POST /`
//! with any other `cmd=<method>`, sent on to `/api/method/<method>`.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use serde_json::json;

use super::FormOrJson;
use crate::auth::login::{Client, OpenedBy, cleared_cookie, login, logout};
use crate::auth::{CSRF_HEADER, CurrentUser};
use crate::error::WebError;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LoginArgs {
    cmd: Option<String>,
    usr: Option<String>,
    pwd: Option<String>,
}

/// `POST /api/method/login`.
pub async fn api_login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    jar: CookieJar,
    FormOrJson(args): FormOrJson<LoginArgs>,
) -> Result<Response, WebError> {
    let usr = args.usr.unwrap_or_default();
    let pwd = args.pwd.unwrap_or_default();
    let done = login(&state, &usr, &pwd, &client, OpenedBy::of(&headers)).await?;
    let body = Json(json!({
        "message": "Logged In",
        "home_page": "/app",
        "full_name": done.user.full_name,
    }));
    let mut response = (jar.add(done.cookie), body).into_response();
    // A script that logged in with a session needs the token for its next POST.
    if let Ok(v) = HeaderValue::from_str(&done.csrf_token) {
        response.headers_mut().insert(CSRF_HEADER, v);
    }
    Ok(response)
}

/// `POST /`: ERPNext's older form post, `cmd=login`.
pub async fn root_post(
    state: State<AppState>,
    client: Client,
    headers: HeaderMap,
    jar: CookieJar,
    FormOrJson(args): FormOrJson<LoginArgs>,
) -> Result<Response, WebError> {
    match args.cmd.as_deref() {
        Some("login") => api_login(state, client, headers, jar, FormOrJson(args)).await,
        // ERPNext runs any whitelisted method posted to `/` with `cmd=`. Here each method
        // has its own route (declared, and recorded, once): the post is sent on to it with
        // 307, which keeps the method and the body.
        Some(method)
            if !method.is_empty()
                && method.len() <= 140
                && method
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') =>
        {
            Ok(Redirect::temporary(&format!("/api/method/{method}")).into_response())
        }
        Some(other) => Err(WebError::BadRequest(format!(
            "cmd {:?} is not a method name (letters, digits, '_' and '.').",
            other.chars().take(140).collect::<String>()
        ))),
        None => Err(WebError::BadRequest(
            "POST / needs cmd=login, usr and pwd.".to_owned(),
        )),
    }
}

/// `POST|GET /api/method/logout`.
pub async fn api_logout(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    logout(&state, user.as_ref().map(|u| &u.0)).await?;
    Ok((jar.add(cleared_cookie()), Json(json!({}))).into_response())
}

#[derive(Deserialize)]
pub struct RootQuery {
    cmd: Option<String>,
}

/// `GET /`: `?cmd=logout` logs out (ERPNext's link); otherwise home or login.
pub async fn root_get(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    jar: CookieJar,
    Query(q): Query<RootQuery>,
) -> Result<Response, WebError> {
    if q.cmd.as_deref() == Some("logout") {
        logout(&state, user.as_ref().map(|u| &u.0)).await?;
        return Ok((jar.add(cleared_cookie()), Redirect::to("/login")).into_response());
    }
    Ok(Redirect::to(if user.is_some() { "/app" } else { "/login" }).into_response())
}

/// `GET /api/method/frappe.auth.get_logged_user`: `{"message": "<email>"}`.
pub async fn get_logged_user(
    CurrentUser(auth): CurrentUser,
    api: crate::aliases::ApiVersion,
) -> Json<serde_json::Value> {
    Json(api.wrap(json!(auth.user.email)))
}
