//! The barrier between a print and the network: every request Chromium makes is paused by
//! the DevTools Fetch domain and refused, unless it is one that cannot leave the browser
//! (`data:`, `about:`). The printed page itself is written into the tab (`about:blank`),
//! and its CSS is inline, so it needs nothing from the server or anywhere else.
//!
//! Two guards: one per tab, up before the page is written (images, stylesheets, fonts,
//! frames, navigations), and one on the browser itself for what the browser fetches on a
//! page's behalf outside the tab (`<link rel=prefetch>`).
//!
//! Failing closed: a request is let through only by an explicit `Fetch.continueRequest`
//! for an allowed URL. If a guard stops, or a command to Chromium fails, paused requests
//! stay paused; the page then never finishes loading and the render ends at its timeout.
//!
//! `file://` never reaches the guards: Chromium itself refuses `file:` resources to a page
//! that is not a file, before any request exists; were one made, the guards would refuse it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chromiumoxide::cdp::browser_protocol::fetch::{
    ContinueRequestParams, EnableParams, EventRequestPaused, FailRequestParams, RequestPattern,
    RequestStage,
};
use chromiumoxide::cdp::browser_protocol::network::ErrorReason;
use chromiumoxide::error::CdpError;
use chromiumoxide::listeners::EventStream;
use chromiumoxide::{Browser, Command, Page};
use futures::StreamExt;

/// What a guard watches: one tab, or the whole browser.
#[derive(Clone)]
pub(super) enum Scope {
    Tab(Page),
    Browser(Arc<Browser>),
}

impl Scope {
    async fn paused(&self) -> Result<EventStream<EventRequestPaused>, CdpError> {
        match self {
            Scope::Tab(p) => p.event_listener::<EventRequestPaused>().await,
            Scope::Browser(b) => b.event_listener::<EventRequestPaused>().await,
        }
    }

    async fn send<T: Command>(&self, cmd: T) -> Result<(), CdpError> {
        match self {
            Scope::Tab(p) => p.execute(cmd).await.map(|_| ()),
            Scope::Browser(b) => b.execute(cmd).await.map(|_| ()),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Scope::Tab(_) => "tab",
            Scope::Browser(_) => "browser",
        }
    }
}

/// Whether a tab may load `url`: only what never leaves the browser.
pub(super) fn allowed(url: &str) -> bool {
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    matches!(scheme.as_str(), "data" | "about")
}

/// Where a refused request was going, for the log: its scheme and host, never its path or
/// query (which may carry record data).
fn destination(url: &str) -> String {
    let (scheme, rest) = url.split_once(':').unwrap_or(("?", url));
    let host = rest
        .strip_prefix("//")
        .unwrap_or(rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host: String = host.chars().take(80).collect();
    format!("{scheme}://{host}")
}

/// Watches one tab's requests until dropped.
pub(super) struct Guard {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Pauses every request in `scope` and refuses each one that is not [`allowed`], counting
/// the refusals in `refused`. For a tab, call before its content is written.
pub(super) async fn guard(scope: Scope, refused: Arc<AtomicU64>) -> Result<Guard, CdpError> {
    // Listen first, so no paused request is missed.
    let mut paused = scope.paused().await?;
    scope
        .send(EnableParams {
            patterns: Some(vec![RequestPattern {
                url_pattern: Some("*".to_owned()),
                resource_type: None,
                request_stage: Some(RequestStage::Request),
            }]),
            handle_auth_requests: Some(false),
        })
        .await?;
    let task = tokio::spawn(async move {
        while let Some(event) = paused.next().await {
            let url = &event.request.url;
            let id = event.request_id.clone();
            let answered = if allowed(url) {
                scope.send(ContinueRequestParams::new(id)).await
            } else {
                refused.fetch_add(1, Ordering::SeqCst);
                tracing::warn!(
                    to = %destination(url),
                    kind = ?event.resource_type,
                    by = scope.name(),
                    "a print tried to load something outside the page; refused"
                );
                scope
                    .send(FailRequestParams::new(id, ErrorReason::BlockedByClient))
                    .await
            };
            if let Err(e) = answered {
                // The request stays paused (never let through); the render times out.
                tracing::debug!(error = %e, "answering a paused request");
            }
        }
    });
    Ok(Guard { task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_stays_in_the_browser_is_allowed() {
        for ok in [
            "data:image/png;base64,AAAA",
            "DATA:text/plain,x",
            "about:blank",
        ] {
            assert!(allowed(ok), "{ok}");
        }
        for no in [
            "file:///etc/passwd",
            "FILE:///etc/passwd",
            "http://127.0.0.1:8000/x.png",
            "https://example.com/a.css",
            "ws://127.0.0.1/",
            "blob:http://x/1",
            "filesystem:http://x/temporary/a",
            "chrome://settings",
            "ftp://x/",
            "",
            "nonsense",
        ] {
            assert!(!allowed(no), "{no}");
        }
    }

    #[test]
    fn the_log_names_the_host_not_the_path() {
        assert_eq!(
            destination("http://127.0.0.1:9/secret?name=Jane"),
            "http://127.0.0.1:9"
        );
        assert_eq!(destination("file:///etc/passwd"), "file://");
    }
}
