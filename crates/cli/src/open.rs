//! The one place the storage backend is chosen: from the database URL's scheme.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use accesslog_site::{Database, Overrides, Settings};
use accesslog_store::Store;
use accesslog_store_postgres::PgStore;
use accesslog_store_sqlite::SqliteStore;
use anyhow::Context;

/// The options every command that works on a site shares.
#[derive(Debug, clap::Args)]
pub struct SiteArgs {
    /// The site folder (made by `accesslog new-site`).
    #[arg(long, env = "ACCESSLOG_SITE")]
    pub site: PathBuf,
    /// Database URL, if not the one in site.toml: sqlite://FILE (relative to the site) or
    /// postgres://USER@HOST/DB.
    #[arg(long)]
    pub database: Option<String>,
}

impl SiteArgs {
    /// The site's settings, with `--database` (and `bind`, if given) applied.
    pub fn settings(&self, bind: Option<String>) -> anyhow::Result<Settings> {
        settings(
            &self.site,
            &Overrides {
                database_url: self.database.clone(),
                bind,
            },
        )
    }

    /// The settings and the open store.
    pub async fn open(&self) -> anyhow::Result<(Settings, Arc<dyn Store>)> {
        let settings = self.settings(None)?;
        let store = store(&settings).await?;
        Ok((settings, store))
    }
}

/// Loads a site's settings: site.toml, then `ACCESSLOG_*` variables, then `flags`.
pub fn settings(site: &Path, flags: &Overrides) -> anyhow::Result<Settings> {
    let env = |name: &str| std::env::var(name).ok();
    Ok(Settings::load(site, &env, flags)?)
}

/// Connects to the site's database (running migrations) and returns it as a `dyn Store`.
pub async fn store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match &settings.database {
        Database::Sqlite(path) => Arc::new(
            SqliteStore::open(path)
                .await
                .with_context(|| format!("opening the SQLite database {}", path.display()))?,
        ),
        Database::Postgres(url) => Arc::new(
            PgStore::connect(url)
                .await
                .with_context(|| format!("connecting to PostgreSQL at {}", settings.database))?,
        ),
    };
    Ok(store)
}

/// The log's signing key from the site's `keys/`. A site made before keys existed gets
/// one now, but only while its log is empty: a key that appears later for a log that
/// already has checkpoints would hide a swapped key.
pub async fn signer(
    settings: &Settings,
    store: &dyn Store,
) -> anyhow::Result<accesslog_core::checkpoint::LogSigner> {
    let dir = &settings.site_dir;
    if !accesslog_site::keys::private_key_path(dir).exists() && store.log_head().await?.size == 0 {
        tracing::warn!("the site has no signing key yet; creating keys/log.key");
        return Ok(accesslog_site::keys::create_keys(
            dir,
            &settings.log.origin,
        )?);
    }
    Ok(accesslog_site::keys::load_signer(
        dir,
        &settings.log.origin,
    )?)
}

/// The site's document types, with their tables created or brought up to date.
pub async fn doctypes(
    settings: &Settings,
    store: &dyn Store,
) -> anyhow::Result<accesslog_site::doctypes::DocTypes> {
    let roles: Vec<String> = settings
        .roles
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let doctypes = accesslog_site::doctypes::DocTypes::load(&settings.site_dir, &roles)?;
    for doctype in doctypes.iter() {
        store
            .sync_doctype(doctype)
            .await
            .with_context(|| format!("creating or updating the table of {}", doctype.name))?;
    }
    Ok(doctypes)
}

/// The recorder of a command that records its own action, signing checkpoints into the
/// database and `checkpoints.log` as the server does.
pub async fn recorder(
    settings: &Settings,
    store: Arc<dyn Store>,
) -> anyhow::Result<accesslog_engine::Recorder> {
    use accesslog_engine::{CheckpointPolicy, Checkpointer, Recorder, RecorderConfig};
    let signer = signer(settings, &*store).await?;
    let policy = CheckpointPolicy {
        every_entries: u64::from(settings.log.checkpoint_every_entries),
        every: std::time::Duration::from_secs(u64::from(settings.log.checkpoint_every_seconds)),
    };
    let checkpointer = Checkpointer::new(
        signer,
        policy,
        Some(settings.site_dir.join("checkpoints.log")),
    );
    Ok(Recorder::start(
        store,
        Arc::new(accesslog_core::SystemClock),
        Some(checkpointer),
        RecorderConfig::default(),
    ))
}

/// An event by the operator at the terminal (`cli:$USER`, `auth = cli`).
pub fn operator_event(
    activity: accesslog_core::entry::Activity,
    method: &str,
) -> accesslog_core::entry::Event {
    let operator = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    let mut event = accesslog_core::entry::Event::new(&format!("cli:{operator}"), activity, method);
    event.auth = Some("cli".to_owned());
    event
}

/// Resolves at Ctrl-C or SIGTERM (systemd, a container runtime), once `saying` is printed.
pub fn stop_signal(saying: &'static str) -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("{saying}");
    })
}

/// " Recorded as entry N." for a command whose action the log recorded, else nothing.
pub fn recorded_suffix(recorded_as: Option<u64>) -> String {
    recorded_as
        .map(|s| format!(" Recorded as entry {s}."))
        .unwrap_or_default()
}
