//! `accesslog checkpoint --site DIR`

use anyhow::bail;
use clap::Args;

/// Print the latest signed checkpoint, to keep somewhere safe
///
/// Save the output outside this machine; later, `accesslog verify --checkpoint FILE`
/// proves the log still extends it (nothing it covered was changed or removed).
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (_, store) = opts.site.open().await?;
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
