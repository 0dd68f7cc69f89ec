//! The HTTP client the webhooks share, and how an answer is judged.
//!
//! - 2xx: delivered.
//! - 408, 429 and 5xx: the receiver is busy or broken for now; tried again.
//! - 3xx: redirects are not followed (a signed alert is not re-sent to wherever a
//!   receiver points); failed for good, like every other 4xx.
//! - No answer (connection refused, reset, timeout): tried again.
//!
//! `https://` goes over reqwest's rustls (its aws-lc-rs provider), checking certificates
//! with the platform's verifier and roots, plus the authorities in `[alerts.delivery]
//! ca_file` when set. `http://` stays allowed for receivers on the same host or a trusted network.

use std::time::Duration;

use super::retry::Failure;

/// One client for every webhook: no redirects, a timeout on connecting and on the
/// whole request, and `extra_roots` (PEM) trusted besides the platform's.
pub(super) fn client(
    timeout: Duration,
    extra_roots: Option<&std::path::Path>,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = extra_roots {
        let pem = std::fs::read(path)
            .map_err(|e| format!("alerts.delivery.ca_file: {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!(
                "alerts.delivery.ca_file: {} holds no PEM certificate: {}",
                path.display(),
                describe(&e)
            )
        })?;
        if certs.is_empty() {
            return Err(format!(
                "alerts.delivery.ca_file: {} holds no PEM certificate",
                path.display()
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("AccessLog/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("the HTTP client cannot be built: {}", describe(&e)))
}

/// Checks a URL a channel will POST to, and names it for dead letters and logs by its
/// scheme and host only: webhook paths often hold the token that authorises the post.
pub(super) fn parse_url(url: &str, key: &str) -> Result<(reqwest::Url, String), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{key}: {e}"))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => return Err(format!("{key}: {other}:// is not HTTP")),
    }
    let host = parsed.host_str().unwrap_or("?");
    let label = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Ok((parsed, label))
}

/// Sends one request and judges the answer.
pub(super) async fn send(request: reqwest::RequestBuilder) -> Result<(), Failure> {
    match request.send().await {
        Ok(response) => judge(response.status()),
        Err(e) => {
            let text = describe(&e);
            if e.is_builder() {
                Err(Failure::permanent(text))
            } else {
                Err(Failure::transient(text))
            }
        }
    }
}

/// Whether an HTTP status means delivered, try again, or give up.
pub(super) fn judge(status: reqwest::StatusCode) -> Result<(), Failure> {
    let code = status.as_u16();
    if status.is_success() {
        Ok(())
    } else if code == 408 || code == 429 || status.is_server_error() {
        Err(Failure::transient(format!(
            "the receiver answered {status}"
        )))
    } else if status.is_redirection() {
        Err(Failure::permanent(format!(
            "the receiver answered {status}; redirects are not followed"
        )))
    } else {
        Err(Failure::permanent(format!(
            "the receiver answered {status}"
        )))
    }
}

/// An error and its causes, without the URL (which may hold a token).
pub(super) fn describe(e: &reqwest::Error) -> String {
    let text = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    super::with_causes(text.to_owned(), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn statuses_are_judged() {
        let retry = |code: u16| judge(StatusCode::from_u16(code).unwrap()).map_err(|f| f.retry);
        assert_eq!(retry(200), Ok(()));
        assert_eq!(retry(204), Ok(()));
        assert_eq!(retry(500), Err(true));
        assert_eq!(retry(503), Err(true));
        assert_eq!(retry(408), Err(true));
        assert_eq!(retry(429), Err(true));
        assert_eq!(retry(400), Err(false));
        assert_eq!(retry(401), Err(false));
        assert_eq!(retry(404), Err(false));
        assert_eq!(retry(410), Err(false));
        assert_eq!(retry(301), Err(false));
    }

    #[test]
    fn urls_are_labelled_without_their_path() {
        let (_, label) = parse_url("http://hooks.example:8080/T1/B2/secret", "k").unwrap();
        assert_eq!(label, "hooks.example:8080");
        let (_, label) = parse_url("https://hooks.example/x", "slack[0].url").unwrap();
        assert_eq!(label, "hooks.example");
        assert!(parse_url("ftp://x/", "k").is_err());
        assert!(parse_url("not a url", "k").is_err());
    }
}
