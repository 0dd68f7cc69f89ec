//! The home page.

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use super::{Layout, Link, render};
use crate::auth::PageUser;
use crate::error::WebError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    user: accesslog_store::User,
    is_system_manager: bool,
    /// The types this user may read.
    doctypes: Vec<Link>,
    /// The reports this user may run.
    reports: Vec<Link>,
}

pub async fn show(
    State(state): State<AppState>,
    PageUser(auth): PageUser,
) -> Result<Html<String>, WebError> {
    render(&HomePage {
        layout: Layout::new(&state.settings.name, Some(&auth)),
        is_system_manager: auth.user.has_role(accesslog_core::SYSTEM_MANAGER),
        doctypes: state
            .doctypes
            .iter()
            .filter(|d| {
                !d.is_child && d.allows(&auth.user.roles, accesslog_core::doctype::Action::Read)
            })
            .map(|d| {
                Link::new(
                    format!("/app/{}", crate::records::pages::slug(&d.name)),
                    d.name.clone(),
                )
            })
            .collect(),
        reports: state
            .reports
            .iter()
            .filter(|r| r.allows(&auth.user.roles))
            .map(|r| Link::new(crate::reports::report_url(&r.name), r.name.clone()))
            .collect(),
        user: auth.user,
    })
}
