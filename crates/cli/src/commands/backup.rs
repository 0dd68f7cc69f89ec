//! `accesslog backup --site DIR`

use accesslog_core::{Clock, SystemClock};
use clap::Args;

/// Back up the site's database
///
/// Writes a consistent copy of the SQLite database to the site's backups/ folder, where
/// System Managers can download it from the web (each download is recorded in the Access
/// Log). A PostgreSQL site is backed up with pg_dump instead.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (settings, store) = opts.site.open().await?;
    let path =
        accesslog_app::backups::make_backup(&*store, &settings.site_dir, SystemClock.now()).await?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("Backed up to {} ({size} bytes).", path.display());
    Ok(())
}
