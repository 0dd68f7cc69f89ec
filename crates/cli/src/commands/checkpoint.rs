//! `accesslog checkpoint --site DIR [--out FILE] [--publish]`

use std::path::PathBuf;
use std::sync::Arc;

use accesslog_app::witnessing::Publisher;
use accesslog_core::SystemClock;
use anyhow::{Context, bail};
use clap::Args;

/// Print the latest signed checkpoint, to keep somewhere safe
///
/// Save the output outside this machine; later, `accesslog verify --checkpoint FILE`
/// proves the log still extends it (nothing it covered was changed or removed). The
/// cosignatures the site's witnesses gave it follow the site's own signature. With
/// --publish, first sends it to the site's witnesses and `[log.publish]` sinks, as the
/// server does every second, and says what each did.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// Write the checkpoint to this file instead of printing it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Send it to the witnesses and sinks first.
    #[arg(long)]
    publish: bool,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (settings, store) = opts.site.open().await?;
    if opts.publish {
        match Publisher::new(&settings.log, store.clone(), Arc::new(SystemClock))? {
            None => eprintln!("The site has no witnesses and no [log.publish] sinks."),
            Some(mut p) => {
                let round = p.round().await?;
                eprintln!(
                    "Witnesses: {} cosigned, {} refused, {} did not answer. Sinks: {} written.",
                    round.cosigned, round.refused, round.unreachable, round.published
                );
                for r in store.witness_refusals(round.refused as u32).await? {
                    eprintln!("REFUSED by {}: {}", r.witness, r.message);
                }
            }
        }
    }
    let Some(cp) = store.latest_checkpoint().await? else {
        bail!(
            "no checkpoint has been signed yet: the log is empty (or the server has not run since its first entry)"
        );
    };
    let mut note = cp.note;
    for c in store.cosignatures(cp.size).await? {
        note.push_str(&c.line);
    }
    match &opts.out {
        Some(path) => {
            std::fs::write(path, &note).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{note}"),
    }
    Ok(())
}
