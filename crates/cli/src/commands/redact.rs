//! `accesslog redact`: remove the payload of one person's entries on request (issue 19).
//! The leaf hashes stay, so the tree and every checkpoint still verify; the redaction is
//! recorded (`log_redact`); entries under a legal hold are left whole. The README says
//! what this does and does not erase.

use accesslog_core::entry::Activity;
use anyhow::Context;
use clap::Args;

/// Remove one person's entries' payloads on request (their leaf hashes stay)
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// Whose entries.
    #[arg(long)]
    user: String,
    /// Only entries dated before this date (YYYY-MM-DD) or time (RFC 3339).
    #[arg(long)]
    before: Option<String>,
    /// Say how many entries would be redacted; change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let before = opts
        .before
        .as_deref()
        .map(|t| accesslog_app::log_query::instant(t, false))
        .transpose()?;
    let (settings, store) = opts.site.open().await?;
    let recorder = crate::open::recorder(&settings, store.clone()).await?;
    let actor = crate::open::operator_event(Activity::LogRedact, "accesslog redact");
    let report = accesslog_app::retention::redact(
        &*store,
        &recorder,
        &actor,
        &opts.user,
        before,
        Some(&settings.log.retention.archive_dir_in(&settings.site_dir)),
        crate::commands::hold::now(None)?,
        opts.dry_run,
    )
    .await
    .context("redacting")?;
    recorder.checkpoint_now().await;
    let verb = if report.dry_run {
        "would redact"
    } else {
        "redacted"
    };
    eprintln!(
        "{verb} {} entries of {}; {} kept whole by legal holds.{}",
        report.redacted,
        opts.user,
        report.held,
        crate::open::recorded_suffix(report.recorded_as)
    );
    Ok(())
}
