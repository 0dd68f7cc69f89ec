//! The egress surface by construction. Every route of the app is added through [`Routes`],
//! either as an egress route (it can release record data) or as an exempt one, with the
//! reason it carries none. The table of both is kept beside the router, so a test can hold
//! every route against it. An egress handler must answer with an
//! [`EgressAnswer`](crate::audit::EgressAnswer) (audited bytes, made only from the
//! recorder's receipt, or an error): that is checked when the route is added, at compile
//! time.
//!
//! Each egress route runs behind [`guard`], which, for a logged-in caller:
//! - refuses a request a browser marks as coming from another site (`Sec-Fetch-Site:
//!   cross-site`, or an `Origin` that is not this host), GET included: 403, recorded;
//! - refuses a path segment or query parameter with a NUL or another control character,
//!   invalid UTF-8, or more than [`MAX_PARAM`] bytes: 400 naming it, recorded;
//! - lets through only answers that are accounted for (an [`AuditedResponse`] or a
//!   recorded refusal). Any other refusal (a 404, a bad parameter an extractor rejected)
//!   is recorded here as `denied` (or `failed` for our own errors) before it is sent; a
//!   success that was not recorded is a bug, and is answered 500 without its body.
//!
//! A caller who is not logged in gets 401 (or the login page) from the handler's
//! extractor and is not recorded: nothing was released, and anyone on the network could
//! otherwise grow the log at will.
//!
//! [`AuditedResponse`]: crate::audit::AuditedResponse

use std::collections::BTreeMap;

use accesslog_core::entry::{Activity, CanonicalJson};
use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use serde_json::Value;

use crate::audit::{Accounted, Audit, EgressAnswer};
use crate::auth::Authenticated;
use crate::error::{ErrorInfo, WebError};
use crate::state::AppState;

/// The longest path segment or query parameter an egress route takes (report filters and
/// list filters travel in the query string; larger ones go in a POST body). Well below
/// hyper's own limit on a whole URI (64 KiB, answered 414 before any route runs), so an
/// over-long parameter is named and recorded here.
pub const MAX_PARAM: usize = 16 * 1024;

/// What a route is, as far as the Access Log is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// Releases record data, recorded as this activity (refusals too).
    Egress(Activity),
    /// Carries no record data, for this reason.
    Exempt(&'static str),
}

/// One route of the app: a path and a method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    pub path: &'static str,
    pub method: Method,
    pub kind: RouteKind,
}

/// The app's router, built one route at a time, each declared egress or exempt.
pub struct Routes {
    router: Router<AppState>,
    state: AppState,
    table: Vec<RouteInfo>,
}

fn filter_of(method: &Method) -> MethodFilter {
    match *method {
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        Method::PATCH => MethodFilter::PATCH,
        _ => MethodFilter::GET,
    }
}

impl Routes {
    pub fn new(state: AppState) -> Self {
        Self {
            router: Router::new(),
            state,
            table: Vec::new(),
        }
    }

    /// An egress route: `handler` answers `methods` at `path`, behind [`guard`]. The
    /// handler must answer with an [`EgressAnswer`]: audited bytes (made only from a
    /// receipt), a confirmation made from them, or an error; a handler that answers
    /// anything else does not compile here:
    ///
    /// ```compile_fail
    /// use accesslog_core::entry::Activity;
    /// use accesslog_server::{AppState, Routes};
    ///
    /// // Record data straight out, with no entry: refused by the compiler.
    /// async fn leak() -> axum::Json<serde_json::Value> {
    ///     axum::Json(serde_json::json!({"ctc": 120000}))
    /// }
    ///
    /// fn routes(state: AppState) -> Routes {
    ///     Routes::new(state).egress(&[axum::http::Method::GET], "/leak", Activity::Read, leak)
    /// }
    /// ```
    pub fn egress<H, T, A>(
        mut self,
        methods: &[Method],
        path: &'static str,
        activity: Activity,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState> + EgressHandler<A>,
        T: 'static,
    {
        for method in methods {
            // The guard is outermost, so it records what the CSRF check refuses.
            let guard = from_fn_with_state((self.state.clone(), activity), guard);
            let route = on(filter_of(method), handler.clone())
                .layer(from_fn(crate::auth::check_csrf))
                .layer(guard);
            self.router = self.router.route(path, route);
            self.table.push(RouteInfo {
                path,
                method: method.clone(),
                kind: RouteKind::Egress(activity),
            });
        }
        self
    }

    /// A route that carries no record data, and why.
    pub fn exempt<H, T>(
        mut self,
        methods: &[Method],
        path: &'static str,
        reason: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        for method in methods {
            let route =
                on(filter_of(method), handler.clone()).layer(from_fn(crate::auth::check_csrf));
            self.router = self.router.route(path, route);
            self.table.push(RouteInfo {
                path,
                method: method.clone(),
                kind: RouteKind::Exempt(reason),
            });
        }
        self
    }

    pub fn table(&self) -> &[RouteInfo] {
        &self.table
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteInfo>) {
        (self.router, self.table)
    }
}

/// A handler function whose future answers with an [`EgressAnswer`], whatever its
/// extractors (`A` is their tuple).
pub trait EgressHandler<A> {}

macro_rules! egress_handler {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg,)*> EgressHandler<($($arg,)*)> for F
        where
            F: FnOnce($($arg,)*) -> Fut,
            Fut: std::future::Future,
            Fut::Output: EgressAnswer,
        {
        }
    };
}

egress_handler!();
egress_handler!(A1);
egress_handler!(A1, A2);
egress_handler!(A1, A2, A3);
egress_handler!(A1, A2, A3, A4);
egress_handler!(A1, A2, A3, A4, A5);
egress_handler!(A1, A2, A3, A4, A5, A6);
egress_handler!(A1, A2, A3, A4, A5, A6, A7);
egress_handler!(A1, A2, A3, A4, A5, A6, A7, A8);

/// Why a browser's request is from another site, if it is: `Sec-Fetch-Site: cross-site`,
/// an `Origin` of `null`, or an `Origin` whose host is not this request's `Host`.
pub fn cross_site(headers: &HeaderMap) -> Option<String> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Some("Cross-site request refused: the browser says it came from another site (Sec-Fetch-Site: cross-site). Open the link from this site.".to_owned());
    }
    let origin = headers.get(header::ORIGIN)?;
    let origin = String::from_utf8_lossy(origin.as_bytes());
    let host = headers
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, h)| h)
        .unwrap_or(&origin)
        .trim_end_matches('/');
    if origin == "null" || !origin_host.eq_ignore_ascii_case(&host) {
        let shown: String = origin.chars().take(200).collect();
        return Some(format!(
            "Cross-site request refused: it came from {shown:?}, not from this site. Open the link from this site."
        ));
    }
    None
}

/// A value's problem, if it has one: invalid UTF-8, a control character, too long.
fn problem(value: &[u8]) -> Option<String> {
    match std::str::from_utf8(value) {
        Ok(text) => text_problem(text, MAX_PARAM),
        Err(_) if value.len() > MAX_PARAM => {
            text_problem(&String::from_utf8_lossy(value), MAX_PARAM)
        }
        Err(_) => Some("is not valid UTF-8".to_owned()),
    }
}

/// A text parameter's problem, if it has one: a NUL or other control character (tab and
/// line breaks are fine), or more than `max` bytes.
pub fn text_problem(text: &str, max: usize) -> Option<String> {
    if text.len() > max {
        return Some(format!(
            "is {} bytes long; at most {max} are taken",
            text.len()
        ));
    }
    if text.contains('\0') {
        return Some("contains a NUL character".to_owned());
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Some("contains a control character".to_owned());
    }
    None
}

/// Text for the record of a refused request: lossy, NUL-free (the recorder bounds it).
fn shown(value: &[u8]) -> String {
    String::from_utf8_lossy(value).replace('\0', "\u{FFFD}")
}

/// The request's path segments and query parameters, checked: `Err` names the first bad
/// one. `Ok` holds the query parameters, for the record of a refusal.
pub fn checked_input(
    uri: &axum::http::Uri,
) -> Result<BTreeMap<String, String>, (String, BTreeMap<String, String>)> {
    let mut params = BTreeMap::new();
    let mut bad: Option<String> = None;
    for (i, segment) in uri.path().split('/').filter(|s| !s.is_empty()).enumerate() {
        let value = crate::percent::percent_decode(segment, false);
        if let Some(p) = problem(&value)
            && bad.is_none()
        {
            bad = Some(format!(
                "The path segment {} ({:?}) {p}.",
                i + 1,
                shown(&value).chars().take(200).collect::<String>()
            ));
        }
    }
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (
            crate::percent::percent_decode(k, true),
            crate::percent::percent_decode(v, true),
        );
        let name = shown(&key).chars().take(200).collect::<String>();
        if bad.is_none() {
            if let Some(p) = problem(&key) {
                bad = Some(format!("A query parameter's name ({name:?}) {p}."));
            } else if let Some(p) = problem(&value) {
                bad = Some(format!("The parameter `{name}` {p}."));
            }
        }
        params.insert(shown(&key), shown(&value));
    }
    match bad {
        None => Ok(params),
        Some(message) => Err((message, params)),
    }
}

/// Middleware on every egress route (module docs).
pub async fn guard(
    State((state, activity)): State<(AppState, Activity)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(who) = req.extensions().get::<Authenticated>().cloned() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let audit = Audit::of(who, &parts);
    let record_of = |params: &BTreeMap<String, String>| {
        let mut event = audit.event(activity);
        if !params.is_empty() {
            let query: serde_json::Map<String, Value> = params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            event.filters = Some(CanonicalJson::from_value(&Value::Object(query)));
        }
        event
    };
    if let Some(why) = cross_site(&parts.headers) {
        let params = checked_input(&parts.uri).unwrap_or_else(|(_, p)| p);
        let error = WebError::Forbidden(why);
        return audit
            .deny(&state, record_of(&params), error)
            .await
            .into_response();
    }
    let params = match checked_input(&parts.uri) {
        Ok(params) => params,
        Err((message, params)) => {
            let error = WebError::BadRequest(message);
            return audit
                .deny(&state, record_of(&params), error)
                .await
                .into_response();
        }
    };
    let mut parts = parts;
    parts.extensions.insert(audit.clone());
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.extensions().get::<Accounted>().is_some() {
        return response;
    }
    let status = response.status();
    if status.is_success() || status.is_redirection() {
        tracing::error!(%status, route = %audit_method(&audit), "an egress route answered without recording; the answer was withheld");
        return WebError::Internal(anyhow::anyhow!(
            "an egress route answered without an Access Log entry"
        ))
        .into_response();
    }
    let message = response
        .extensions()
        .get::<ErrorInfo>()
        .map(|i| i.message.clone())
        .unwrap_or_else(|| {
            format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("refused")
            )
        });
    audit
        .account_for(&state, record_of(&params), response, message)
        .await
}

fn audit_method(audit: &Audit) -> String {
    audit.event(Activity::Read).method
}
