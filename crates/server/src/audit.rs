//! How an egress handler releases data: it builds the bytes as a [`Payload`] (which cannot
//! be sent as it is), records the access through [`Audit::release`], and gets back an
//! [`AuditedResponse`], which can only be made from the recorder's receipt. So a handler
//! cannot send audited bytes without a durable entry, and if recording fails the handler
//! gets a 503 instead of a response.

use accesslog_core::entry::{Activity, Event, Outcome};
use accesslog_engine::{Receipt, RecordError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::auth::login::Client;
use crate::auth::{Authenticated, CurrentUser};
use crate::error::WebError;
use crate::request::RequestId;
use crate::state::AppState;

/// The response header naming the Access Log entry that recorded the response.
pub const SEQ_HEADER: &str = "x-access-log-seq";

/// Bytes on their way out. Deliberately not `IntoResponse`: the only way to send them is
/// through [`Audit::release`].
pub struct Payload {
    bytes: Bytes,
    content_type: &'static str,
    file_name: Option<String>,
}

impl Payload {
    pub fn new(bytes: impl Into<Bytes>, content_type: &'static str) -> Self {
        Self {
            bytes: bytes.into(),
            content_type,
            file_name: None,
        }
    }

    /// Sent as an attachment with this file name.
    pub fn download_as(mut self, file_name: &str) -> Self {
        self.file_name = Some(file_name.to_owned());
        self
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Audited bytes with the receipt of their entry.
pub struct AuditedResponse {
    receipt: Receipt,
    payload: Payload,
}

impl AuditedResponse {
    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }
}

impl IntoResponse for AuditedResponse {
    fn into_response(self) -> Response {
        let Payload {
            bytes,
            content_type,
            file_name,
        } = self.payload;
        let mut response = bytes.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&self.receipt.seq().to_string()) {
            headers.insert(HeaderName::from_static(SEQ_HEADER), v);
        }
        if let Some(name) = file_name {
            let safe: String = name
                .chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
                .collect();
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
        }
        response
    }
}

/// Who is taking data out, from where: everything an entry says about the caller.
/// Rejects with 401 when nobody is logged in.
#[derive(Clone, Debug)]
pub struct Audit {
    pub who: Authenticated,
    client: Client,
    request_id: RequestId,
    method: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Audit {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let CurrentUser(who) = CurrentUser::from_request_parts(parts, state).await?;
        let client = Client::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let request_id = RequestId::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let method = format!("{} {}", parts.method, parts.uri.path());
        Ok(Audit {
            who,
            client,
            request_id,
            method,
        })
    }
}

impl Audit {
    /// An event for `activity`, filled in with who, from where and how.
    pub fn event(&self, activity: Activity) -> Event {
        let mut e = Event::new(&self.who.user.email, activity, &self.method);
        e.roles = self.who.user.roles.clone();
        e.auth = Some(self.who.auth_label());
        e.ip = Some(self.client.ip.clone()).filter(|s| !s.is_empty());
        e.user_agent = Some(self.client.user_agent.clone()).filter(|s| !s.is_empty());
        e.request_id = Some(self.request_id.0.clone()).filter(|s| !s.is_empty());
        e
    }

    /// Records the release of `payload` (its size and SHA-256 are added to `event`) and,
    /// once the entry is durable, hands back the response that sends it.
    pub async fn release(
        &self,
        state: &AppState,
        mut event: Event,
        payload: Payload,
    ) -> Result<AuditedResponse, WebError> {
        event.outcome = Outcome::Granted;
        event.byte_count = Some(payload.bytes.len() as u64);
        event.content_sha256 = Some(hex::encode(Sha256::digest(&payload.bytes)));
        let receipt = state.recorder.record(event).await.map_err(refused)?;
        Ok(AuditedResponse { receipt, payload })
    }

    /// Records a refused attempt, then returns `error` for the caller to answer with. If
    /// even the refusal cannot be recorded, the answer is 503.
    pub async fn deny(&self, state: &AppState, mut event: Event, error: WebError) -> WebError {
        event.outcome = Outcome::Denied;
        event.reason = Some(error.to_string());
        match state.recorder.record(event).await {
            Ok(_) => error,
            Err(e) => refused(e),
        }
    }
}

fn refused(e: RecordError) -> WebError {
    tracing::error!(error = %e, "refusing an action that could not be recorded");
    match e {
        RecordError::Invalid(m) => WebError::Internal(anyhow::anyhow!("invalid Access Log event: {m}")),
        RecordError::Unavailable(_) | RecordError::Stopped => WebError::Unavailable(
            "This action was refused because the Access Log could not record it. Nothing was sent. Try again shortly; if it persists, tell your administrator."
                .to_owned(),
        ),
    }
}
