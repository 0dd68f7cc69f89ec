//! The upstream's REST API as the import uses it: its Access Log a page at a time
//! (`GET /api/resource/Access Log`) and its time zone
//! (`frappe.client.get_single_value`), with token authentication, and its errors turned
//! into sentences that name the status and what ERPNext said.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::ImportError;

/// A page of the upstream's Access Log: rows as Frappe sends them.
pub trait Upstream: Send + Sync {
    /// Up to `limit` rows with `creation >= from` (all rows when `None`; `from` as Frappe
    /// writes date-times), in `creation, name` order, skipping the first `skip`.
    fn page(
        &self,
        from: Option<&str>,
        skip: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Value>, ImportError>> + Send;
}

/// An ERPNext/Frappe site reached over HTTP with an API key.
#[derive(Clone, Debug)]
pub struct FrappeClient {
    http: reqwest::Client,
    /// The site's address, ending in `/`.
    base: Url,
    authorization: String,
}

impl FrappeClient {
    /// `url` is the site's address (`https://erp.example.com`); `api_key` is `KEY:SECRET`.
    pub fn new(url: &str, api_key: &str) -> Result<Self, ImportError> {
        let mut base = Url::parse(url.trim()).map_err(|e| {
            ImportError::Config(format!(
                "--url {url:?} is not an address ({e}); give the ERPNext site's, e.g. https://erp.example.com"
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(ImportError::Config(format!(
                "--url {url:?} must be an http:// or https:// address of the ERPNext site"
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        let api_key = api_key.trim();
        let well_formed = api_key.split_once(':').is_some_and(|(k, s)| {
            !k.is_empty() && !s.is_empty() && !api_key.contains(char::is_whitespace)
        });
        if !well_formed {
            return Err(ImportError::Config(
                "--api-key must be KEY:SECRET: the API key and API secret of an ERPNext user with the System Manager role, joined by a colon (ERPNext: User > Settings > API Access)".to_owned(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ImportError::Config(format!("could not set up HTTP: {e}")))?;
        Ok(Self {
            http,
            base,
            authorization: format!("token {api_key}"),
        })
    }

    /// The import's `source`: `frappe:` and the site's host, with its port when the
    /// address names one that is not the scheme's default.
    pub fn source(&self) -> String {
        let host = self
            .base
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match self.base.port() {
            Some(port) => format!("frappe:{host}:{port}"),
            None => format!("frappe:{host}"),
        }
    }

    /// The site's time zone from its System Settings; `None` when it has none set.
    pub async fn time_zone(&self) -> Result<Option<String>, ImportError> {
        let mut url = self.url("api/method/frappe.client.get_single_value")?;
        url.query_pairs_mut()
            .append_pair("doctype", "System Settings")
            .append_pair("field", "time_zone");
        let body = self.get(url, "the time zone (System Settings)").await?;
        match body.get("message") {
            Some(Value::String(tz)) if !tz.trim().is_empty() => Ok(Some(tz.trim().to_owned())),
            Some(Value::String(_) | Value::Null) | None => Ok(None),
            Some(other) => Err(ImportError::BadAnswer(format!(
                "ERPNext's time zone setting is not text: {other}"
            ))),
        }
    }

    fn url(&self, path: &str) -> Result<Url, ImportError> {
        self.base
            .join(path)
            .map_err(|e| ImportError::Config(format!("could not build the address of {path}: {e}")))
    }

    /// GETs `url` and returns its JSON body, or the error ERPNext answered with.
    async fn get(&self, url: Url, what: &str) -> Result<Value, ImportError> {
        let response = self
            .http
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                ImportError::Network(format!(
                    "could not reach ERPNext at {} for {what}: {}",
                    self.base,
                    error_chain(&e)
                ))
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            ImportError::Network(format!(
                "ERPNext's answer for {what} broke off: {}",
                error_chain(&e)
            ))
        })?;
        if !status.is_success() {
            return Err(upstream_error(status, &body, what, &self.base));
        }
        serde_json::from_slice(&body).map_err(|e| {
            ImportError::BadAnswer(format!(
                "ERPNext's answer for {what} is not the JSON Frappe sends ({e}): {}",
                snippet(&body)
            ))
        })
    }
}

impl Upstream for FrappeClient {
    async fn page(
        &self,
        from: Option<&str>,
        skip: u64,
        limit: u32,
    ) -> Result<Vec<Value>, ImportError> {
        let mut url = self.url("api/resource/Access%20Log")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("fields", r#"["*"]"#);
            if let Some(from) = from {
                let filters = serde_json::json!([["creation", ">=", from]]);
                q.append_pair("filters", &filters.to_string());
            }
            q.append_pair("order_by", "creation asc, name asc");
            q.append_pair("limit_start", &skip.to_string());
            // Frappe versions differ on which of the two they read.
            q.append_pair("limit", &limit.to_string());
            q.append_pair("limit_page_length", &limit.to_string());
        }
        let body = self.get(url, "the Access Log").await?;
        match body {
            Value::Object(mut map) => match map.remove("data") {
                Some(Value::Array(rows)) => Ok(rows),
                _ => Err(ImportError::BadAnswer(
                    "ERPNext's Access Log answer has no \"data\" list".to_owned(),
                )),
            },
            _ => Err(ImportError::BadAnswer(
                "ERPNext's Access Log answer is not a JSON object".to_owned(),
            )),
        }
    }
}

/// The error for a non-2xx answer: the status, what ERPNext said, and what to do.
fn upstream_error(status: StatusCode, body: &[u8], what: &str, base: &Url) -> ImportError {
    let said = frappe_message(body);
    let detail = match said.as_deref() {
        Some(m) => format!("{} {m}", status.as_u16()),
        None => status.as_u16().to_string(),
    };
    let message = match status.as_u16() {
        401 => format!(
            "ERPNext refused the API key ({detail}): check --api-key KEY:SECRET (a user's API key and secret from ERPNext, User > Settings > API Access)"
        ),
        403 => format!(
            "ERPNext's user for this API key may not read {what} ({detail}): the import needs a user with the System Manager role"
        ),
        404 => format!(
            "found nothing at {base} for {what} ({detail}): is --url the ERPNext site's address?"
        ),
        _ => format!("ERPNext answered {detail} when asked for {what}"),
    };
    ImportError::Upstream {
        status: status.as_u16(),
        message,
    }
}

/// What a Frappe error body says: `exc_type` and the first of `_error_message`,
/// `_server_messages` and `message`, tags removed; or the start of a body that is not
/// JSON.
fn frappe_message(body: &[u8]) -> Option<String> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        let text = snippet(body);
        return (!text.is_empty()).then_some(text);
    };
    let text_of = |key: &str| match map.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(strip_tags(s)),
        _ => None,
    };
    let server_message = map
        .get("_server_messages")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .and_then(|items| {
            items.iter().find_map(|item| {
                serde_json::from_str::<Value>(item)
                    .ok()
                    .and_then(|v| v.get("message").and_then(Value::as_str).map(strip_tags))
            })
        });
    let message = text_of("_error_message")
        .or(server_message)
        .or_else(|| text_of("message"));
    match (text_of("exc_type"), message) {
        (Some(t), Some(m)) => Some(format!("{t}: {m}")),
        (Some(t), None) => Some(t),
        (None, m) => m,
    }
}

/// Text with `<…>` tags removed and whitespace collapsed, at most 300 characters.
fn strip_tags(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    match joined.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

fn snippet(body: &[u8]) -> String {
    strip_tags(&String::from_utf8_lossy(&body[..body.len().min(4096)]))
}

/// An error with its causes, `a: b: c` (reqwest's own message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_is_the_sites_host() {
        let c = |url: &str| FrappeClient::new(url, "k:s").unwrap();
        assert_eq!(
            c("https://ERP.example.com").source(),
            "frappe:erp.example.com"
        );
        assert_eq!(
            c("https://erp.example.com:443/").source(),
            "frappe:erp.example.com"
        );
        assert_eq!(c("http://127.0.0.1:8000").source(), "frappe:127.0.0.1:8000");
        assert_eq!(
            c("https://example.com/erp").url("api/x").unwrap().as_str(),
            "https://example.com/erp/api/x"
        );
    }

    #[test]
    fn bad_addresses_and_keys_are_named() {
        for (url, key, says) in [
            ("erp.example.com", "k:s", "is not an address"),
            (
                "ftp://erp.example.com",
                "k:s",
                "must be an http:// or https://",
            ),
            (
                "https://erp.example.com",
                "ks",
                "--api-key must be KEY:SECRET",
            ),
            (
                "https://erp.example.com",
                ":s",
                "--api-key must be KEY:SECRET",
            ),
            (
                "https://erp.example.com",
                "k :s",
                "--api-key must be KEY:SECRET",
            ),
        ] {
            let e = FrappeClient::new(url, key).unwrap_err().to_string();
            assert!(e.contains(says), "{url} {key}: {e}");
        }
    }

    #[test]
    fn frappe_errors_say_the_status_and_the_message() {
        let base = Url::parse("https://erp.example.com/").unwrap();
        let e = upstream_error(
            StatusCode::UNAUTHORIZED,
            br#"{"exception":"frappe.exceptions.AuthenticationError","exc_type":"AuthenticationError","exc":"[]"}"#,
            "the Access Log",
            &base,
        );
        assert_eq!(
            e.to_string(),
            "ERPNext refused the API key (401 AuthenticationError): check --api-key KEY:SECRET (a user's API key and secret from ERPNext, User > Settings > API Access)"
        );
        let server_messages = serde_json::json!({
            "exc_type": "PermissionError",
            "_server_messages": serde_json::to_string(&vec![
                serde_json::json!({"message": "No permission for <strong>Access Log</strong>", "indicator": "red"}).to_string()
            ]).unwrap()
        });
        let e = upstream_error(
            StatusCode::FORBIDDEN,
            server_messages.to_string().as_bytes(),
            "the Access Log",
            &base,
        );
        assert!(
            e.to_string().starts_with("ERPNext's user for this API key may not read the Access Log (403 PermissionError: No permission for Access Log)"),
            "{e}"
        );
        let e = upstream_error(
            StatusCode::BAD_GATEWAY,
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            "the Access Log",
            &base,
        );
        assert_eq!(
            e.to_string(),
            "ERPNext answered 502 502 Bad Gateway when asked for the Access Log"
        );
        assert!(e.is_transient());
        let e = upstream_error(StatusCode::NOT_FOUND, b"", "the Access Log", &base);
        assert_eq!(
            e.to_string(),
            "found nothing at https://erp.example.com/ for the Access Log (404): is --url the ERPNext site's address?"
        );
    }
}
