//! `accesslog verify --site DIR`

use std::io::IsTerminal;
use std::path::PathBuf;

use accesslog_app::witnessing::check_witnessed;
use accesslog_core::cosignature::CosignatureVerifier;
use accesslog_engine::verify::{CheckpointOrigin, SignedCheckpoint, split_checkpoints_log, verify};
use anyhow::{Context, bail};
use clap::Args;

/// Prove the Access Log has not been altered
///
/// Recomputes every entry's hash and the whole Merkle tree from the database, checks the
/// signature on every checkpoint (in the database and in the site's checkpoints.log), and
/// checks the log against each of them. With --checkpoint, also proves the log extends
/// checkpoints you kept elsewhere. With --witness, requires a checkpoint cosigned by
/// --quorum of those witnesses (all of them by default), so that the site's own key is
/// not enough: whoever holds it and the database could rewrite the log and re-sign it,
/// but cannot make the witnesses cosign that. Exits 0 when everything holds; otherwise
/// prints the first bad entry's seq and what is wrong, and exits 1.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// A file of signed checkpoints saved earlier (`accesslog checkpoint`, or a
    /// publication file of `[log.publish]`) that the log must still extend; repeat for
    /// more.
    #[arg(long)]
    checkpoint: Vec<PathBuf>,
    /// A witness's verifier key (`accesslog witness show` prints it); repeat for more.
    /// Take it from the witness, not from the site: the site's operator is whom it
    /// guards against.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// How many of the witnesses must have cosigned (default: all of them).
    #[arg(long, requires = "witnesses")]
    quorum: Option<usize>,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (settings, store) = opts.site.open().await?;
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
    let mut external = Vec::new();
    for path in &opts.checkpoint {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let found = split_checkpoints_log(&text);
        if found.is_empty() {
            bail!("{} holds no signed checkpoint", path.display());
        }
        external.extend(found);
    }
    notes.extend(external.iter().map(|note| SignedCheckpoint {
        origin: CheckpointOrigin::External,
        note: note.clone(),
    }));
    let witnesses = opts
        .witnesses
        .iter()
        .map(|k| {
            CosignatureVerifier::from_verifier_key(k)
                .with_context(|| format!("--witness {k:?} is not a witness's verifier key"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let quorum = opts.quorum.unwrap_or(witnesses.len());
    if !witnesses.is_empty() && (quorum == 0 || quorum > witnesses.len()) {
        bail!(
            "--quorum {quorum}: it must be between 1 and the {} witnesses given",
            witnesses.len()
        );
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
            if v.pruned > 0 {
                println!(
                    "{} entries were pruned or redacted: checked by their kept leaf hashes only (their payloads are in archive bundles, or erased; `accesslog archive verify` checks a bundle).",
                    v.pruned
                );
            }
            if witnesses.is_empty() {
                let listed = settings.log.witnesses.len();
                if listed > 0 {
                    println!(
                        "The site lists {listed} witnesses; pass their keys with --witness to require their cosignatures."
                    );
                }
                return Ok(());
            }
            match check_witnessed(&*store, &witnesses, quorum, &external).await? {
                Ok(w) => {
                    let names: Vec<String> = w.by.iter().map(|(n, _)| n.clone()).collect();
                    println!(
                        "Witnessed: the checkpoint of {} entries is cosigned by {} of {} witnesses ({}).",
                        w.size,
                        w.by.len(),
                        witnesses.len(),
                        names.join(", ")
                    );
                    if w.size < v.entries {
                        println!(
                            "Entries {} to {} are not witnessed yet: only the site's key vouches for them.",
                            w.size + 1,
                            v.entries
                        );
                    }
                    Ok(())
                }
                Err(why) => bail!("VERIFICATION FAILED: {why}"),
            }
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
