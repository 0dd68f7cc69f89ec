//! `accesslog archive verify|restore`: archive bundles (issue 19). `verify` needs nothing
//! but the bundle (and, to trust it, a checkpoint kept elsewhere or the log's key);
//! `restore` puts the payloads back into a site's database.

use std::path::PathBuf;

use accesslog_core::checkpoint::NoteVerifier;
use accesslog_core::entry::Activity;
use anyhow::Context;
use clap::{Args, Subcommand};

/// Check an archive bundle offline, or restore its entries' payloads
#[derive(Debug, Args)]
pub struct Opts {
    #[command(subcommand)]
    command: ArchiveCommand,
}

#[derive(Debug, Subcommand)]
enum ArchiveCommand {
    /// Check a bundle: every line hashes to its leaf, and the leaves lead to a signed root
    Verify(VerifyOpts),
    /// Put a bundle's payloads back into the site's database (each must hash to its kept leaf)
    Restore(RestoreOpts),
}

#[derive(Debug, Args)]
struct VerifyOpts {
    /// The bundle (`access-log-….jsonl.zst`).
    bundle: PathBuf,
    /// A signed checkpoint kept outside the log to hold the bundle against: a file holding
    /// the note of the size the bundle names, or many notes (a copy of checkpoints.log),
    /// of which that one is used.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// The log's verifier key (a site's keys/log.pub); without it, the key in the bundle
    /// is used, which shows the bundle is whole but not whose it is.
    #[arg(long)]
    key: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RestoreOpts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    bundle: PathBuf,
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading the {what} {}", path.display()))
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    match opts.command {
        ArchiveCommand::Verify(o) => {
            let key = o
                .key
                .as_ref()
                .map(|p| {
                    let text = read(p, "key")?;
                    NoteVerifier::from_verifier_key(text.trim())
                        .with_context(|| format!("{} is not a verifier key", p.display()))
                })
                .transpose()?;
            // The file may hold many notes (a copy of checkpoints.log): the one of the size
            // the bundle was checked against is used.
            let checkpoint = match &o.checkpoint {
                None => None,
                Some(p) => {
                    let text = read(p, "checkpoint")?;
                    let notes = accesslog_engine::verify::split_checkpoints_log(&text);
                    if notes.len() <= 1 {
                        Some(text)
                    } else {
                        let header = accesslog_archive::read(&o.bundle, |_| Ok(()))
                            .with_context(|| format!("{} does not verify", o.bundle.display()))?;
                        let size = header.tree_size.to_string();
                        Some(
                            notes
                                .into_iter()
                                .find(|n| n.lines().nth(1) == Some(size.as_str()))
                                .with_context(|| {
                                    format!(
                                        "{} holds no checkpoint of {size} entries, the size {} was checked against",
                                        p.display(),
                                        o.bundle.display()
                                    )
                                })?,
                        )
                    }
                }
            };
            let checked = accesslog_archive::check(&o.bundle, key.as_ref(), checkpoint.as_deref())
                .with_context(|| format!("{} does not verify", o.bundle.display()))?;
            println!(
                "OK: {} holds entries {}..={} ({} entries, {} without their payload), and they \
                 lead to the root signed for {} entries{}. SHA-256 {}.",
                o.bundle.display(),
                checked.header.first,
                checked.header.last,
                checked.entries,
                checked.without_payload,
                checked.header.tree_size,
                match (&checkpoint, &key) {
                    (Some(_), _) => " by the checkpoint given",
                    (None, Some(_)) => " under the key given",
                    (None, None) =>
                        " under the key the bundle names (give --key or --checkpoint to tie it to a log)",
                },
                checked.sha256
            );
        }
        ArchiveCommand::Restore(o) => {
            let (settings, store) = o.site.open().await?;
            let verifier = accesslog_site::keys::load_verifier(&settings.site_dir)?;
            let recorder = crate::open::recorder(&settings, store.clone()).await?;
            let actor =
                crate::open::operator_event(Activity::LogPrune, "accesslog archive restore");
            let report =
                accesslog_app::retention::restore(&*store, &recorder, &actor, &o.bundle, &verifier)
                    .await
                    .with_context(|| format!("restoring {}", o.bundle.display()))?;
            recorder.checkpoint_now().await;
            eprintln!(
                "Restored {} entries from {}; {} stay redacted; {} were not pruned.{}",
                report.restored,
                o.bundle.display(),
                report.redacted,
                report.not_pruned,
                crate::open::recorded_suffix(report.recorded_as)
            );
        }
    }
    Ok(())
}
