//! The Frappe site behind the gate: one pooled HTTP/1.1 client, and the small JSON calls
//! the gate makes of its own (who a credential is, what roles a user has).

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// The largest JSON answer the gate reads for itself.
const MAX_OWN_ANSWER: usize = 1024 * 1024;

/// How long the gate's own calls may take.
const OWN_CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct Upstream {
    client: Client<HttpConnector, Body>,
    /// `host:port`.
    authority: String,
}

impl Upstream {
    /// `url` is `http://host[:port]` (checked by the site's settings).
    pub fn new(url: &str) -> Self {
        let authority = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Upstream { client, authority }
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The upstream's URI for a client's path and query.
    pub fn uri(&self, path_and_query: &str) -> Result<Uri, String> {
        format!("http://{}{path_and_query}", self.authority)
            .parse()
            .map_err(|e| format!("{path_and_query:?} is not a valid path: {e}"))
    }

    pub async fn send(&self, req: Request<Body>) -> Result<Response<Incoming>, String> {
        self.client
            .request(req)
            .await
            .map_err(|e| format!("the upstream at {} did not answer: {e}", self.authority))
    }

    /// `GET path_and_query` with `headers`, for the gate itself: the status and the JSON
    /// answer (`Null` when the answer is not JSON).
    pub async fn get_json(
        &self,
        path_and_query: &str,
        headers: HeaderMap,
        host: Option<&HeaderValue>,
    ) -> Result<(StatusCode, Value), String> {
        let mut req = Request::get(self.uri(path_and_query)?)
            .body(Body::empty())
            .map_err(|e| e.to_string())?;
        *req.headers_mut() = headers;
        req.headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(host) = host {
            req.headers_mut().insert(header::HOST, host.clone());
        }
        let call = async {
            let res = self.send(req).await?;
            let status = res.status();
            let bytes = Limited::new(res.into_body(), MAX_OWN_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("reading the upstream's answer: {e}"))?
                .to_bytes();
            Ok((
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            ))
        };
        tokio::time::timeout(OWN_CALL_TIMEOUT, call)
            .await
            .map_err(|_| {
                format!(
                    "the upstream at {} took more than {} s to answer {path_and_query}",
                    self.authority,
                    OWN_CALL_TIMEOUT.as_secs()
                )
            })?
    }
}
