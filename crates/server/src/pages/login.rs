//! The login page and the logout button.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::{Layout, render};
use crate::auth::login::{Client, OpenedBy, cleared_cookie, login, logout};
use crate::auth::{CurrentUser, safe_next};
use crate::error::WebError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    error: Option<String>,
    usr: String,
    next: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn form(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    let next = safe_next(q.next.as_deref());
    if user.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let page = LoginPage {
        layout: Layout::new(&state.settings.name, None),
        error: None,
        usr: String::new(),
        next,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    usr: String,
    pwd: String,
    next: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    jar: CookieJar,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    let next = safe_next(f.next.as_deref());
    match login(&state, &f.usr, &f.pwd, &client, OpenedBy::Browser).await {
        Ok(done) => Ok((jar.add(done.cookie), Redirect::to(&next)).into_response()),
        Err(e @ (WebError::Unauthorized(_) | WebError::TooManyRequests { .. })) => {
            let status = match e {
                WebError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let page = LoginPage {
                layout: Layout::new(&state.settings.name, None),
                error: Some(e.to_string()),
                usr: f.usr,
                next,
            };
            Ok((status, render(&page)?).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn submit_logout(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    logout(&state, user.as_ref().map(|u| &u.0)).await?;
    Ok((jar.add(cleared_cookie()), Redirect::to("/login")).into_response())
}
