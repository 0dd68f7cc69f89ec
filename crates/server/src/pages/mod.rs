//! Server-rendered pages: the login page, the home page, and the HTML face of errors.

pub mod home;
pub mod login;
pub mod login_attempts;

use askama::Template;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::auth::Authenticated;
use crate::error::{ErrorInfo, WebError};

/// What the base layout needs on every page.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub site_name: String,
    pub user: Option<LayoutUser>,
    pub csrf_token: String,
}

/// A link and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub text: String,
}

impl Link {
    pub fn new(url: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            text: text.into(),
        }
    }
}

/// An option of a `<select>`: what it sends, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            label: label.into(),
        }
    }
}

/// A label and its value: a row of a two-column table (a form's fields, an entry's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledValue {
    pub label: String,
    pub value: String,
}

impl LabelledValue {
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct LayoutUser {
    pub email: String,
    pub full_name: String,
}

impl Layout {
    pub fn new(site_name: &str, auth: Option<&Authenticated>) -> Self {
        Self {
            site_name: site_name.to_owned(),
            user: auth.map(|a| LayoutUser {
                email: a.user.email.clone(),
                full_name: a.user.full_name.clone(),
            }),
            csrf_token: auth.map(|a| a.csrf_token().to_owned()).unwrap_or_default(),
        }
    }
}

/// Renders a template, turning a rendering failure into a 500.
pub fn render(t: &impl Template) -> Result<Html<String>, WebError> {
    t.render()
        .map(Html)
        .map_err(|e| WebError::Internal(e.into()))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// Middleware: a browser that asked for a page and got an error sees it as a page with the
/// same status; API clients keep the JSON body.
pub async fn html_errors(site_name: String, req: Request, next: Next) -> Response {
    let wants_html = crate::request::header_text(req.headers(), header::ACCEPT)
        .is_some_and(|a| a.contains("text/html"));
    let auth = req.extensions().get::<Authenticated>().cloned();
    let response = next.run(req).await;
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    if !wants_html {
        return response;
    }
    let page = ErrorPage {
        layout: Layout::new(&site_name, auth.as_ref()),
        status: info.status.as_u16(),
        title: info.title,
        message: &info.message,
    };
    match page.render() {
        Ok(html) => {
            let mut r = (info.status, Html(html)).into_response();
            for (name, value) in response.headers() {
                if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                    r.headers_mut().insert(name.clone(), value.clone());
                }
            }
            r
        }
        Err(_) => response,
    }
}
