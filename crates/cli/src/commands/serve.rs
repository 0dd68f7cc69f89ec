//! `accesslog serve --site DIR`

use std::sync::Arc;

use accesslog_core::SystemClock;
use accesslog_site::Settings;
use accesslog_store::Store;
use anyhow::Context;
use clap::Args;

/// Serve a site over HTTP
///
/// Settings come from the site's site.toml, then ACCESSLOG_* environment variables
/// (ACCESSLOG_DATABASE_URL, ACCESSLOG_BIND, ACCESSLOG_SECURE_COOKIES,
/// ACCESSLOG_SESSION_IDLE_MINUTES, ACCESSLOG_SESSION_ABSOLUTE_HOURS), then these flags.
/// The database URL's scheme picks the backend: sqlite:// or postgres://.
///
/// Example: accesslog serve --site ./acme --database postgres://accesslog@localhost/acme
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// Address to listen on, e.g. 127.0.0.1:8000 or 0.0.0.0:8000.
    #[arg(long)]
    bind: Option<String>,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let settings = opts.site.settings(opts.bind)?;
    let store = crate::open::store(&settings).await?;
    serve(settings, store, |_| {}).await
}

/// Binds, reports the URL through `announce`, and serves until Ctrl-C.
pub async fn serve(
    settings: Settings,
    store: Arc<dyn Store>,
    announce: impl FnOnce(&str),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}: is another server using it? Choose another with --bind or --port", settings.bind))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}/");
    tracing::info!(%url, database = %settings.database, backend = %store.dialect(), "serving");
    println!("Access Log is serving {} at {url}", settings.name);
    announce(&url);
    let signer = crate::open::signer(&settings, &*store).await?;
    let definitions = definitions(&settings, &*store).await?;
    let state = accesslog_server::AppState::start(
        store,
        Arc::new(SystemClock),
        settings,
        signer,
        definitions,
    );
    let printing = state.printing.clone();
    let shutdown = crate::open::stop_signal(
        "Stopping: finishing requests in flight, then signing the last entries.",
    )?;
    accesslog_server::serve(listener, state, shutdown).await?;
    if let Ok(pdf) = &printing.pdf {
        pdf.shutdown().await;
    }
    Ok(())
}

/// Everything the site defines: document types (their tables created or brought up to
/// date), print formats and query reports, each checked now so that a mistake is reported
/// at start-up with its file.
async fn definitions(
    settings: &Settings,
    store: &dyn Store,
) -> anyhow::Result<accesslog_server::Definitions> {
    let doctypes = crate::open::doctypes(settings, store).await?;
    let roles: Vec<String> = settings
        .roles
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let formats = accesslog_print::PrintFormats::load(&settings.site_dir, &doctypes)?;
    let reports = accesslog_site::reports::Reports::load(&settings.site_dir, &doctypes, &roles)?;
    Ok(accesslog_server::Definitions {
        doctypes,
        formats,
        reports,
    })
}
