//! `accesslog log-export`: the Access Log itself as CSV or JSON Lines, with the list's
//! filters, oldest first. Like every export, it is recorded (`activity = log_export`, the
//! operator as `cli:$USER`) before a byte is written out.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use accesslog_app::gate;
use accesslog_app::log_export::{LogFormat, log_export_event, write_log};
use accesslog_core::entry::Activity;
use anyhow::Context;
use clap::Args;

/// Export the Access Log (recorded as a log_export)
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// csv or jsonl.
    #[arg(long, default_value = "jsonl")]
    format: String,
    /// From this date (YYYY-MM-DD) or time (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Up to this date (inclusive) or time.
    #[arg(long)]
    to: Option<String>,
    /// Only this user's entries.
    #[arg(long)]
    user: Option<String>,
    /// Only this activity (print, export, file_download, …).
    #[arg(long)]
    activity: Option<String>,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let format = LogFormat::parse(&opts.format)
        .with_context(|| format!("--format must be csv or jsonl, not {:?}", opts.format))?;
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in [
        ("from", &opts.from),
        ("to", &opts.to),
        ("user", &opts.user),
        ("activity", &opts.activity),
    ] {
        if let Some(v) = value {
            params.insert(key.to_owned(), v.clone());
        }
    }
    let query = accesslog_app::log_query::entry_query(&params)?;
    let (settings, store) = opts.site.open().await?;
    let file = write_log(&*store, &query, format).await?;

    let event = crate::open::operator_event(Activity::LogExport, "accesslog log-export");
    params.insert("format".to_owned(), opts.format.clone());
    let event = log_export_event(event, &params, format, file.rows);

    let recorder = crate::open::recorder(&settings, store).await?;
    let released = gate::release(&recorder, event, file)
        .await
        .context("the export could not be recorded in the Access Log, so nothing was written")?;
    recorder.checkpoint_now().await;
    let seq = released.receipt().map_or(0, |r| r.seq());
    let file = released.payload();

    match &opts.out {
        Some(path) => {
            std::fs::copy(&file.path, path)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "Wrote {} entries ({} bytes, SHA-256 {}) to {}; recorded as entry {}.",
                file.rows,
                file.bytes,
                file.sha256,
                path.display(),
                seq
            );
        }
        None => {
            let mut input = std::fs::File::open(&file.path)?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            std::io::copy(&mut input, &mut out)?;
            out.flush()?;
            eprintln!("{} entries; recorded as entry {}.", file.rows, seq);
        }
    }
    Ok(())
}
