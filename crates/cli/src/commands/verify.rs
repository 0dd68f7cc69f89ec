//! `accesslog verify --site DIR`

use std::io::IsTerminal;
use std::path::PathBuf;

use accesslog_engine::verify::{CheckpointOrigin, SignedCheckpoint, split_checkpoints_log, verify};
use anyhow::{Context, bail};
use clap::Args;

/// Prove the Access Log has not been altered
///
/// Recomputes every entry's hash and the whole Merkle tree from the database, checks the
/// signature on every checkpoint (in the database and in the site's checkpoints.log), and
/// checks the log against each of them. With --checkpoint, also proves the log extends a
/// checkpoint you kept elsewhere. Exits 0 when everything holds; otherwise prints the
/// first bad entry's seq and what is wrong, and exits 1.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// A signed checkpoint saved earlier (e.g. with `accesslog checkpoint`) that the log
    /// must still extend.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (_, store) = opts.site.open().await?;
    let verifier = accesslog_site::keys::load_verifier(&opts.site.site)?;

    let mut notes = Vec::new();
    let log_path = opts.site.site.join("checkpoints.log");
    if log_path.exists() {
        let text = std::fs::read_to_string(&log_path)
            .with_context(|| format!("reading {}", log_path.display()))?;
        notes.extend(
            split_checkpoints_log(&text)
                .into_iter()
                .map(|note| SignedCheckpoint {
                    origin: CheckpointOrigin::CheckpointsLog,
                    note,
                }),
        );
    }
    if let Some(path) = &opts.checkpoint {
        let note =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        notes.push(SignedCheckpoint {
            origin: CheckpointOrigin::External,
            note,
        });
    }

    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "verifying {bar:40} {pos}/{len} entries ({per_sec})",
        ) {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let result = verify(&*store, &verifier, notes, |done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    })
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(v) => {
            println!("OK: {} entries, root {}", v.entries, hex_of(&v.root));
            println!(
                "{} signed checkpoints verified against the log.",
                v.checkpoints
            );
            if let Some(size) = v.extends_external {
                println!("The log extends the external checkpoint of {size} entries.");
            }
            Ok(())
        }
        Err(accesslog_engine::verify::VerifyError::Problem(p)) => match p.seq() {
            Some(seq) => bail!("VERIFICATION FAILED at seq {seq}: {p}"),
            None => bail!("VERIFICATION FAILED: {p}"),
        },
        Err(e) => Err(e.into()),
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
