//! PDFs from HTML through one headless Chromium, started on the first PDF and reused for
//! every one after (each PDF is a new tab, closed when done). If the browser dies it is
//! started again on the next PDF. JavaScript is off in every tab: a print is a document,
//! not a program.
//!
//! Locked down (see the README, "PDF rendering"):
//! - a tab loads nothing: every request it makes is intercepted and refused
//!   ([`intercept`]), `file://` and the server's own address included; the page is written
//!   into the tab and carries its CSS inline;
//! - Chromium runs as `nobody` with its sandbox when the server runs as root, and never
//!   sees the server's environment ([`launch`]).

mod intercept;
mod launch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::browser::CloseParams;
use chromiumoxide::cdp::browser_protocol::emulation::SetScriptExecutionDisabledParams;
use chromiumoxide::cdp::browser_protocol::page::PrintToPdfParams;
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use tokio::sync::{Mutex, Semaphore};

pub use launch::Isolation;

/// At most this many PDFs are rendered at once; others wait their turn.
const CONCURRENT_PAGES: usize = 4;
/// A PDF that takes longer than this is abandoned (and its tab closed).
const RENDER_TIMEOUT: Duration = Duration::from_secs(30);
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("could not start Chromium ({path}): {message}", path = .0.display(), message = .1)]
    Launch(PathBuf, String),
    #[error("Chromium could not make the PDF: {0}")]
    Render(String),
    #[error("Chromium took longer than {}s to make the PDF", RENDER_TIMEOUT.as_secs())]
    Timeout,
}

struct Running {
    browser: Arc<Browser>,
    /// Refuses what the browser fetches outside a tab (see [`intercept`]).
    _guard: intercept::Guard,
    events: tokio::task::JoinHandle<()>,
    /// The browser process (killed when dropped).
    child: tokio::process::Child,
    isolation: Isolation,
    /// The browser's profile, removed when the browser is dropped.
    _profile: tempfile::TempDir,
}

/// Makes PDFs with the Chromium at `executable`. Cheap to share (`Arc`); the browser is
/// started lazily.
#[derive(Clone)]
pub struct PdfRenderer {
    executable: PathBuf,
    running: Arc<Mutex<Option<Running>>>,
    slots: Arc<Semaphore>,
    /// Requests refused by the tabs' guards, since this renderer was made.
    refused: Arc<AtomicU64>,
}

impl std::fmt::Debug for PdfRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfRenderer")
            .field("executable", &self.executable)
            .finish_non_exhaustive()
    }
}

impl PdfRenderer {
    pub fn new(executable: &Path) -> Self {
        Self {
            executable: executable.to_path_buf(),
            running: Arc::new(Mutex::new(None)),
            slots: Arc::new(Semaphore::new(CONCURRENT_PAGES)),
            refused: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many requests PDF tabs have made and been refused (an image, a stylesheet, a
    /// frame… outside the page), since this renderer was made.
    pub fn refused_requests(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    /// How the browser runs (user, sandbox), if it is running.
    pub async fn isolation(&self) -> Option<Isolation> {
        self.running
            .lock()
            .await
            .as_ref()
            .map(|r| r.isolation.clone())
    }

    /// The PDF of `html`, laid out by its print CSS (`@page` size and margins).
    pub async fn render(&self, html: &str) -> Result<Vec<u8>, PdfError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| PdfError::Render(e.to_string()))?;
        let page = self.open_tab().await?;
        let refused = Arc::clone(&self.refused);
        let result = tokio::time::timeout(RENDER_TIMEOUT, print(&page, html, refused)).await;
        if let Err(e) = page.close().await {
            tracing::debug!(error = %e, "closing a PDF tab");
        }
        result.map_err(|_| PdfError::Timeout)?
    }

    /// A new tab, starting (or restarting) the browser if need be.
    async fn open_tab(&self) -> Result<Page, PdfError> {
        let mut running = self.running.lock().await;
        if let Some(r) = running.as_ref() {
            match r.browser.new_page("about:blank").await {
                Ok(page) => return Ok(page),
                Err(e) => {
                    tracing::warn!(error = %e, "Chromium stopped answering; starting it again");
                    if let Some(mut old) = running.take() {
                        old.events.abort();
                        let _ = old.child.kill().await;
                    }
                }
            }
        }
        let started = self.launch().await?;
        let page = started
            .browser
            .new_page("about:blank")
            .await
            .map_err(|e| PdfError::Render(e.to_string()));
        *running = Some(started);
        page
    }

    async fn launch(&self) -> Result<Running, PdfError> {
        let fail = |m: String| PdfError::Launch(self.executable.clone(), m);
        let mut started = launch::launch(&self.executable, LAUNCH_TIMEOUT)
            .await
            .map_err(fail)?;
        let config = HandlerConfig {
            ignore_https_errors: false,
            viewport: Some(Viewport::default()),
            request_timeout: RENDER_TIMEOUT,
            // Nothing chromiumoxide does on its own continues a paused request.
            request_intercept: true,
            ..HandlerConfig::default()
        };
        let (browser, mut handler) =
            match Browser::connect_with_config(started.ws_url.clone(), config).await {
                Ok(connected) => connected,
                Err(e) => {
                    let _ = started.child.kill().await;
                    return Err(fail(e.to_string()));
                }
            };
        let events = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    tracing::debug!(error = %e, "Chromium event");
                }
            }
        });
        let browser = Arc::new(browser);
        let guard = intercept::guard(
            intercept::Scope::Browser(Arc::clone(&browser)),
            Arc::clone(&self.refused),
        )
        .await;
        let guard = match guard {
            Ok(guard) => guard,
            Err(e) => {
                events.abort();
                let _ = started.child.kill().await;
                return Err(fail(format!("intercepting its requests: {e}")));
            }
        };
        Ok(Running {
            browser,
            _guard: guard,
            events,
            child: started.child,
            isolation: started.isolation,
            _profile: started.profile,
        })
    }

    /// Closes the browser, if it was started.
    pub async fn shutdown(&self) {
        if let Some(mut r) = self.running.lock().await.take() {
            let _ = r.browser.execute(CloseParams::default()).await;
            if tokio::time::timeout(Duration::from_secs(5), r.child.wait())
                .await
                .is_err()
            {
                let _ = r.child.kill().await;
            }
            r.events.abort();
        }
    }
}

async fn print(page: &Page, html: &str, refused: Arc<AtomicU64>) -> Result<Vec<u8>, PdfError> {
    let render = |e: chromiumoxide::error::CdpError| PdfError::Render(e.to_string());
    // The guard is up before the content is written, and lives until the PDF is made.
    let _guard = intercept::guard(intercept::Scope::Tab(page.clone()), refused)
        .await
        .map_err(render)?;
    page.execute(SetScriptExecutionDisabledParams::new(true))
        .await
        .map_err(render)?;
    page.set_content(html).await.map_err(render)?;
    let params = PrintToPdfParams {
        print_background: Some(true),
        prefer_css_page_size: Some(true),
        ..Default::default()
    };
    page.pdf(params).await.map_err(render)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_browser_is_a_clear_launch_error() {
        let r = PdfRenderer::new(Path::new("/nonexistent/chromium"));
        let err = r.render("<p>x</p>").await.unwrap_err();
        assert!(matches!(err, PdfError::Launch(..)), "{err}");
        assert!(err.to_string().contains("/nonexistent/chromium"), "{err}");
    }

    /// Runs where Debian's Chromium is installed (CI installs it).
    #[tokio::test]
    async fn one_browser_makes_many_pdfs() {
        let chromium = Path::new("/usr/bin/chromium");
        if !chromium.is_file() {
            accesslog_testkit::skip("chromium", "apt-get install chromium");
            return;
        }
        let r = PdfRenderer::new(chromium);
        let (a, b) = tokio::join!(
            r.render("<h1>First PDF</h1>"),
            r.render("<h1>Second PDF</h1>")
        );
        for pdf in [a.unwrap(), b.unwrap()] {
            assert!(pdf.starts_with(b"%PDF-"), "{:?}", &pdf[..8.min(pdf.len())]);
        }
        r.shutdown().await;
    }
}
