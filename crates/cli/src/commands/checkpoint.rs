//! `accesslog checkpoint --site DIR`

use std::path::PathBuf;

use accesslog_site::Overrides;
use anyhow::bail;
use clap::Args;

/// Print the latest signed checkpoint, to keep somewhere safe
///
/// Save the output outside this machine; later, `accesslog verify --checkpoint FILE`
/// proves the log still extends it (nothing it covered was changed or removed).
#[derive(Debug, Args)]
pub struct Opts {
    /// The site folder.
    #[arg(long, env = "ACCESSLOG_SITE")]
    site: PathBuf,
    /// Database URL, if not the one in site.toml.
    #[arg(long)]
    database: Option<String>,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let settings = crate::open::settings(
        &opts.site,
        &Overrides {
            database_url: opts.database,
            bind: None,
        },
    )?;
    let store = crate::open::store(&settings).await?;
    match store.latest_checkpoint().await? {
        Some(cp) => {
            print!("{}", cp.note);
            Ok(())
        }
        None => bail!(
            "no checkpoint has been signed yet: the log is empty (or the server has not run since its first entry)"
        ),
    }
}
