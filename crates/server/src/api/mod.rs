//! The JSON API: ERPNext-compatible `/api/method/*` calls and the health check.

pub mod access_log;
pub mod client;
mod grouped;
pub mod health;
pub mod method;
pub mod reportview;
pub mod v2;

use axum::Json;
use axum::extract::{Form, FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::WebError;

/// A body read as JSON or as a form, by its content type, as ERPNext accepts both.
pub struct FormOrJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for FormOrJson<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = crate::request::header_text(req.headers(), header::CONTENT_TYPE)
            .is_some_and(|ct| ct.starts_with("application/json"));
        if is_json {
            let Json(v) = Json::<T>::from_request(req, state).await.map_err(|e| {
                WebError::BadRequest(format!("The JSON body is not valid: {}", e.body_text()))
            })?;
            Ok(FormOrJson(v))
        } else {
            let Form(v) = Form::<T>::from_request(req, state).await.map_err(|e| {
                WebError::BadRequest(format!("The form is not valid: {}", e.body_text()))
            })?;
            Ok(FormOrJson(v))
        }
    }
}
