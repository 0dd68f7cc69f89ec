//! How an egress handler releases data: it builds the bytes as a [`Payload`] (which cannot
//! be sent as it is), records the access through [`Audit::release`], and gets back an
//! [`AuditedResponse`], which wraps the application's `gate::Released`: that can only be
//! made from the recorder's receipt. So a handler cannot send audited bytes without a
//! durable entry, and if recording fails the handler gets a 503 instead of a response.
//! What is recorded is the gate's (`accesslog_app::gate`); this module adds HTTP.

use accesslog_app::gate::{self, Content, Released};
use accesslog_core::entry::{Activity, Actor, Event, Outcome};
use accesslog_engine::{Receipt, RecordError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
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
    body: Body,
    content_type: &'static str,
    /// A file, with its name: sent with `Content-Disposition` and the file CSP.
    file: Option<(Disposition, String)>,
    /// A print view, sent with the print CSP (its format's inline style allowed).
    print_view: bool,
}

/// How a browser is told to treat a released file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Saved, never shown on the site's origin.
    Attachment,
    /// Shown in the browser: only for types that cannot run script (PDF, images, text).
    Inline,
}

enum Body {
    Bytes(Bytes),
    /// A finished file (a large export), streamed from disk; deleted once sent.
    File {
        path: tempfile::TempPath,
        len: u64,
        sha256: String,
    },
}

impl Payload {
    pub fn new(bytes: impl Into<Bytes>, content_type: &'static str) -> Self {
        Self {
            body: Body::Bytes(bytes.into()),
            content_type,
            file: None,
            print_view: false,
        }
    }

    /// A JSON answer.
    pub fn json(value: &serde_json::Value) -> Self {
        Self::new(value.to_string(), "application/json")
    }

    /// An HTML page.
    pub fn html(page: String) -> Self {
        Self::new(page, "text/html; charset=utf-8")
    }

    /// A document or a report as printed: HTML whose print format carries inline style.
    pub fn print_view(page: String) -> Self {
        Self {
            print_view: true,
            ..Self::html(page)
        }
    }

    /// A file already written and hashed (in the same pass, by the code that wrote it):
    /// `len` bytes whose SHA-256 is `sha256`.
    pub fn file(
        path: tempfile::TempPath,
        len: u64,
        sha256: String,
        content_type: &'static str,
    ) -> Self {
        Self {
            body: Body::File { path, len, sha256 },
            content_type,
            file: None,
            print_view: false,
        }
    }

    /// Sent as an attachment with this file name.
    pub fn download_as(mut self, file_name: &str) -> Self {
        self.file = Some((Disposition::Attachment, file_name.to_owned()));
        self
    }

    /// Sent as a file with this name, shown inline when `disposition` says so.
    pub fn file_named(mut self, file_name: &str, disposition: Disposition) -> Self {
        self.file = Some((disposition, file_name.to_owned()));
        self
    }
}

impl Content for Payload {
    fn byte_count(&self) -> u64 {
        match &self.body {
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    fn sha256(&self) -> String {
        match &self.body {
            Body::Bytes(b) => hex::encode(Sha256::digest(b)),
            Body::File { sha256, .. } => sha256.clone(),
        }
    }
}

/// Audited bytes with the receipt of their entry; or, for a read that the site's read
/// settings leave unrecorded (and only then), without one.
pub struct AuditedResponse(Released<Payload>);

/// Put on every response that an egress route may send: it was recorded, it is a recorded
/// refusal, or it is a read the settings leave unrecorded. Only this module makes one, so
/// the egress guard ([`crate::egress`]) can tell an accounted answer from any other.
#[derive(Clone, Copy, Debug)]
pub struct Accounted(());

/// The answer to a release that went somewhere other than the response (a network
/// printer): made only by [`AuditedResponse::confirmation`], so only after the entry.
pub struct Confirmation(Response);

impl IntoResponse for Confirmation {
    fn into_response(self) -> Response {
        self.0
    }
}

/// What an egress handler may answer with: audited bytes, or a confirmation made from
/// them, or an error (which the egress guard records if the handler did not). Sealed, so
/// [`crate::egress::Routes::egress`] takes no handler that could answer anything else.
pub trait EgressAnswer: IntoResponse + sealed::Sealed {}

impl EgressAnswer for Result<AuditedResponse, WebError> {}
impl EgressAnswer for Result<Confirmation, WebError> {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for Result<super::AuditedResponse, super::WebError> {}
    impl Sealed for Result<super::Confirmation, super::WebError> {}
}

/// An error whose refusal (or failure) is already in the Access Log. Only this module
/// makes one, from the recorder's receipt.
#[derive(Debug)]
pub struct Recorded {
    error: Box<WebError>,
    seq: u64,
}

impl Recorded {
    pub fn error(&self) -> &WebError {
        &self.error
    }

    /// The response for the recorded error, marked as accounted for.
    pub fn into_response(self) -> Response {
        accounted((*self.error).into_response(), Some(self.seq))
    }
}

/// Marks `response` as accounted for, with the number of its entry when it has one.
fn accounted(mut response: Response, seq: Option<u64>) -> Response {
    if let Some(seq) = seq {
        let name = HeaderName::from_static(SEQ_HEADER);
        response.headers_mut().insert(name, seq.into());
    }
    response.extensions_mut().insert(Accounted(()));
    response
}

impl AuditedResponse {
    /// The receipt of the entry that recorded this response (none for a read the site's
    /// read settings leave unrecorded).
    pub fn receipt(&self) -> Option<&Receipt> {
        self.0.receipt()
    }

    /// Answers with `body` (JSON) instead of the recorded bytes, once they went somewhere
    /// else (a network printer): the answer carries the entry's number.
    pub fn confirmation(self, body: &serde_json::Value) -> Confirmation {
        let seq = self.receipt().map(Receipt::seq);
        Confirmation(accounted(axum::Json(body).into_response(), seq))
    }

    /// The recorded bytes, for a release that goes somewhere other than the response (a
    /// network printer): only reachable once their entry is durable. Empty for a file.
    pub fn bytes(&self) -> &[u8] {
        match &self.0.payload().body {
            Body::Bytes(b) => b,
            Body::File { .. } => &[],
        }
    }
}

impl IntoResponse for AuditedResponse {
    fn into_response(self) -> Response {
        let (receipt, payload) = self.0.into_parts();
        let Payload {
            body,
            content_type,
            file,
            print_view,
        } = payload;
        let mut response = match body {
            Body::Bytes(bytes) => bytes.into_response(),
            Body::File { path, len, .. } => match stream_file(path) {
                Ok(stream) => {
                    let mut r = axum::body::Body::from_stream(stream).into_response();
                    r.headers_mut().insert(header::CONTENT_LENGTH, len.into());
                    r
                }
                Err(e) => {
                    tracing::error!(error = %e, "an export recorded as sent could not be read back");
                    return WebError::Internal(e.into()).into_response();
                }
            },
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if print_view {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(crate::headers::PRINT_CSP),
            );
        }
        if let Some((disposition, name)) = file {
            if let Ok(v) = HeaderValue::from_str(&content_disposition(disposition, &name)) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(crate::headers::FILE_CSP),
            );
        }
        accounted(response, receipt.map(|r| r.seq()))
    }
}

/// `Content-Disposition` per RFC 6266: a plain `filename` for old clients (non-ASCII and
/// quoting characters replaced by `_`) and `filename*` with the name exactly, in UTF-8.
pub fn content_disposition(disposition: Disposition, name: &str) -> String {
    let kind = match disposition {
        Disposition::Attachment => "attachment",
        Disposition::Inline => "inline",
    };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod disposition_tests {
    use super::{Disposition, content_disposition};

    #[test]
    fn names_are_sent_plain_and_exactly_in_utf8() {
        assert_eq!(
            content_disposition(Disposition::Attachment, "é.pdf"),
            "attachment; filename=\"_.pdf\"; filename*=UTF-8''%C3%A9.pdf"
        );
        assert_eq!(
            content_disposition(Disposition::Inline, "Q3 report.pdf"),
            "inline; filename=\"Q3 report.pdf\"; filename*=UTF-8''Q3%20report.pdf"
        );
        assert_eq!(
            content_disposition(Disposition::Attachment, "a\"b\\c\r\n.txt"),
            "attachment; filename=\"a_b_c__.txt\"; filename*=UTF-8''a%22b%5Cc%0D%0A.txt"
        );
    }
}

/// The file at `path`, as a stream of chunks; the file is deleted when the stream ends.
fn stream_file(
    path: tempfile::TempPath,
) -> std::io::Result<impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::from_std(std::fs::File::open(&path)?);
    Ok(futures::stream::unfold(
        Some((file, path)),
        |state| async move {
            let (mut file, path) = state?;
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some((file, path))))
                }
                Err(e) => Some((Err(e), None)),
            }
        },
    ))
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
        // The egress guard has already made it for this request.
        if let Some(audit) = parts.extensions.get::<Audit>() {
            return Ok(audit.clone());
        }
        let CurrentUser(who) = CurrentUser::from_request_parts(parts, state).await?;
        Ok(Audit::of(who, parts))
    }
}

impl Audit {
    /// The caller `who`, with the client, request id and route taken from `parts`.
    pub fn of(who: Authenticated, parts: &Parts) -> Audit {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or(RequestId(String::new()));
        Audit {
            who,
            client: Client::of(parts),
            request_id,
            // What the client called (an alias is recorded as itself: see `aliases`).
            method: format!(
                "{} {}",
                parts.method,
                parts
                    .extensions
                    .get::<axum::extract::OriginalUri>()
                    .map_or(parts.uri.path(), |o| o.0.path())
            ),
        }
    }
}

impl Audit {
    /// Who this request is, how it came and from where: for `Event`'s typed constructors.
    pub fn actor(&self) -> Actor {
        let known = |s: String| Some(s).filter(|s| !s.is_empty());
        Actor {
            user: self.who.user.email.clone(),
            roles: self.who.user.roles.clone(),
            method: self.method.clone(),
            auth: Some(self.who.auth_label()),
            ip: known(self.client.for_entry()),
            user_agent: known(self.client.user_agent.clone()),
            request_id: known(self.request_id.0.clone()),
        }
    }

    /// An event for `activity`, filled in with who, from where and how.
    pub fn event(&self, activity: Activity) -> Event {
        Event::by(&self.actor(), activity)
    }

    /// Records the release of `payload` (its size and SHA-256 are added to `event`) and,
    /// once the entry is durable, hands back the response that sends it.
    pub async fn release(
        &self,
        state: &AppState,
        event: Event,
        payload: Payload,
    ) -> Result<AuditedResponse, WebError> {
        let released = gate::release(&state.recorder, event, payload).await;
        Ok(AuditedResponse(released.map_err(refused)?))
    }

    /// Releases a read of record data (`event.activity` is `read`): recorded like any
    /// release, unless the site's read settings (`log.reads`, a type's `log_reads`) leave
    /// this kind of read unrecorded.
    pub async fn release_read(
        &self,
        state: &AppState,
        event: Event,
        payload: Payload,
        read: Read<'_>,
    ) -> Result<AuditedResponse, WebError> {
        let released =
            gate::release_read(&state.recorder, &state.settings.log, event, payload, read).await;
        Ok(AuditedResponse(released.map_err(refused)?))
    }

    /// Records a refused attempt, then returns `error` for the caller to answer with. If
    /// even the refusal cannot be recorded, the answer is 503.
    pub async fn deny(&self, state: &AppState, event: Event, error: WebError) -> WebError {
        self.record_outcome(state, event, Outcome::Denied, error)
            .await
    }

    /// `result`'s value; or its error recorded as a refused attempt (`event`), as [`deny`]
    /// does.
    ///
    /// [`deny`]: Self::deny
    pub async fn or_deny<T>(
        &self,
        state: &AppState,
        event: &Event,
        result: Result<T, impl Into<WebError>>,
    ) -> Result<T, WebError> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => Err(self.deny(state, event.clone(), e.into()).await),
        }
    }

    /// Records an allowed action that could not be carried out (`outcome = failed`, with
    /// `error` as the reason), then returns `error`.
    pub async fn fail(&self, state: &AppState, event: Event, error: WebError) -> WebError {
        self.record_outcome(state, event, Outcome::Failed, error)
            .await
    }

    async fn record_outcome(
        &self,
        state: &AppState,
        event: Event,
        outcome: Outcome,
        error: WebError,
    ) -> WebError {
        if let WebError::Recorded(_) = error {
            return error;
        }
        let reason = error.to_string();
        match gate::record_outcome(&state.recorder, event, outcome, reason).await {
            Ok(receipt) => WebError::Recorded(Recorded {
                error: Box::new(error),
                seq: receipt.seq(),
            }),
            Err(e) => refused(e),
        }
    }

    /// Records the unrecorded error `response` of an egress route (`reason` its message)
    /// as `denied`, or `failed` when the fault is ours, and marks it accounted for; if even
    /// that cannot be recorded, the answer is 503.
    pub(crate) async fn account_for(
        &self,
        state: &AppState,
        event: Event,
        response: Response,
        reason: String,
    ) -> Response {
        let status = response.status();
        let outcome = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            Outcome::Failed
        } else {
            Outcome::Denied
        };
        match gate::record_outcome(&state.recorder, event, outcome, reason).await {
            Ok(receipt) => accounted(response, Some(receipt.seq())),
            Err(e) => refused(e).into_response(),
        }
    }
}

/// What kind of read a response is, for the read settings (the gate's).
pub use accesslog_app::gate::Read;

pub(crate) fn refused(e: RecordError) -> WebError {
    tracing::error!(error = %e, "refusing an action that could not be recorded");
    match e {
        RecordError::Invalid(m) => WebError::Internal(anyhow::anyhow!("invalid Access Log event: {m}")),
        RecordError::Unavailable(_) | RecordError::Stopped => WebError::Unavailable(
            "This action was refused because the Access Log could not record it. Nothing was sent. Try again shortly; if it persists, tell your administrator."
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use accesslog_core::{FixedClock, Timestamp};
    use accesslog_site::{Overrides, Settings};
    use accesslog_store::User;
    use accesslog_testkit::TestDb;
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::extract::{Request, State};
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::Credential;

    async fn state(db: &TestDb) -> AppState {
        accesslog_site::create_site(&db.dir.path().join("site"), "T", &[], Some("t.example/log"))
            .unwrap();
        let site = db.dir.path().join("site");
        let settings = Settings::load(&site, &|_| None, &Overrides::default()).unwrap();
        let signer = accesslog_site::keys::load_signer(&site, "t.example/log").unwrap();
        let clock = Arc::new(FixedClock::new(Timestamp::from_micros(1_000_000)));
        AppState::start(
            db.store.clone(),
            clock,
            settings,
            signer,
            Default::default(),
        )
    }

    fn who() -> Authenticated {
        Authenticated {
            user: User {
                id: 1,
                email: "sales@example.com".into(),
                full_name: "S".into(),
                enabled: true,
                created_at: Timestamp::from_micros(0),
                roles: vec!["Sales User".into()],
            },
            credential: Credential::ApiKey {
                api_key: "k1".into(),
                scopes: vec![],
            },
        }
    }

    async fn download(
        State(state): State<AppState>,
        audit: Audit,
    ) -> Result<AuditedResponse, WebError> {
        let mut e = audit.event(Activity::FileDownload);
        e.export_from = Some("File".into());
        e.file_type = Some("txt".into());
        audit
            .release(
                &state,
                e,
                Payload::new("hello", "text/plain").download_as("a\"b.txt"),
            )
            .await
    }

    async fn refused(State(state): State<AppState>, audit: Audit) -> WebError {
        let e = audit.event(Activity::Print);
        audit
            .deny(&state, e, WebError::Forbidden("no print permission".into()))
            .await
    }

    fn app(state: AppState) -> Router {
        Router::new()
            .route("/download", get(download))
            .route("/refused", get(refused))
            .with_state(state)
    }

    fn request(path: &str) -> Request {
        let mut req = Request::builder()
            .uri(path)
            .header("user-agent", "unit")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(who());
        req.extensions_mut()
            .insert(crate::request::RequestId("rid123".into()));
        req
    }

    #[tokio::test]
    async fn released_bytes_carry_the_receipt_of_a_durable_entry() {
        let db = TestDb::sqlite().await;
        let state = state(&db).await;
        let r = app(state.clone())
            .oneshot(request("/download"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[SEQ_HEADER], "1");
        assert_eq!(
            r.headers()[header::CONTENT_DISPOSITION],
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"
        );
        assert_eq!(to_bytes(r.into_body(), 100).await.unwrap(), "hello");

        let entry = db.store.entry(1).await.unwrap().unwrap();
        let e = entry.event;
        assert_eq!(
            (e.user.as_str(), e.activity, e.outcome),
            (
                "sales@example.com",
                Activity::FileDownload,
                Outcome::Granted
            )
        );
        assert_eq!(e.byte_count, Some(5));
        assert_eq!(
            e.content_sha256.as_deref(),
            Some(hex::encode(Sha256::digest(b"hello")).as_str())
        );
        assert_eq!(e.method, "GET /download");
        assert_eq!(
            (
                e.auth.as_deref(),
                e.request_id.as_deref(),
                e.user_agent.as_deref()
            ),
            (Some("api_key:k1"), Some("rid123"), Some("unit"))
        );
        assert_eq!(e.roles, ["Sales User"]);
    }

    #[tokio::test]
    async fn nothing_is_released_when_the_log_cannot_be_written() {
        let db = TestDb::sqlite().await;
        let state = state(&db).await;
        db.close().await;
        let r = app(state).oneshot(request("/download")).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().get(SEQ_HEADER).is_none());
        let body = to_bytes(r.into_body(), 10_000).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(!body.contains("hello"), "{body}");
        assert!(
            body.contains("refused because the Access Log could not record it"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn refusals_are_recorded_as_denied() {
        let db = TestDb::sqlite().await;
        let state = state(&db).await;
        let r = app(state).oneshot(request("/refused")).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let e = db.store.entry(1).await.unwrap().unwrap().event;
        assert_eq!((e.activity, e.outcome), (Activity::Print, Outcome::Denied));
        assert_eq!(e.reason.as_deref(), Some("no print permission"));
        assert_eq!(e.byte_count, None);
    }
}
