//! `accesslog prune`: archive the entries `[log.retention]` says are due to a bundle, then
//! remove their payloads from the database (issue 19). `serve` runs the same once a day.

use accesslog_core::entry::Activity;
use anyhow::Context;
use clap::Args;

/// Archive old entries to bundles and prune their payloads, as [log.retention] says
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// Say what would be archived and pruned; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Judge ages as of this time (RFC 3339) instead of now: for drills and tests.
    #[arg(long, hide = true)]
    now: Option<String>,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (settings, store) = opts.site.open().await?;
    let policy = &settings.log.retention;
    if !policy.prunes_anything() {
        eprintln!(
            "Nothing to prune: site.toml sets no [log.retention] days, so every entry is kept whole."
        );
        return Ok(());
    }
    let verifier = accesslog_site::keys::load_verifier(&settings.site_dir)?;
    let recorder = crate::open::recorder(&settings, store.clone()).await?;
    let actor = crate::open::operator_event(Activity::LogPrune, "accesslog prune");
    let job = accesslog_app::retention::Pruning {
        policy,
        dir: &policy.archive_dir_in(&settings.site_dir),
        key: &verifier.verifier_key(),
        now: crate::commands::hold::now(opts.now.as_deref())?,
        dry_run: opts.dry_run,
    };
    let report = accesslog_app::retention::prune(&*store, &recorder, &actor, &job)
        .await
        .context("pruning the Access Log")?;
    recorder.checkpoint_now().await;
    let Some(tree_size) = report.tree_size else {
        eprintln!("Nothing to prune: the log has no signed checkpoint yet.");
        return Ok(());
    };
    let verb = if report.dry_run {
        "would prune"
    } else {
        "pruned"
    };
    for b in &report.bundles {
        eprintln!(
            "Archived entries {}..={} to {} ({} bytes, SHA-256 {}).",
            b.first, b.last, b.name, b.bytes, b.sha256
        );
    }
    eprintln!(
        "{} entries due under the checkpoint of {tree_size}; {verb} {}; {} kept by legal holds.{}",
        report.due,
        if report.dry_run {
            report.due
        } else {
            report.pruned
        },
        report.held,
        crate::open::recorded_suffix(report.recorded_as)
    );
    Ok(())
}
