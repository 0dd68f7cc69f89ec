//! `accesslog alerts replay`: the alert rules over a stretch of the site's history,
//! delivering nothing, printing what would have fired (one line each, oldest first). What
//! it prints is read from the Access Log, so it is recorded first, as a read of the log by
//! the operator (`cli:$USER`), as `log-export` is.

use std::collections::BTreeMap;

use accesslog_app::alerts::replay::replay;
use accesslog_app::alerts::rules::{RULE_IDS, Rules};
use accesslog_app::gate;
use accesslog_core::entry::{ACCESS_LOG, Activity, CanonicalJson};
use anyhow::Context;
use clap::{Args, Subcommand};

/// Alerts on unusual egress
#[derive(Debug, Args)]
pub struct Opts {
    #[command(subcommand)]
    command: AlertsCommand,
}

#[derive(Debug, Subcommand)]
enum AlertsCommand {
    /// Run the rules over past entries and print what would have fired (nothing is sent)
    Replay(ReplayOpts),
}

#[derive(Debug, Args)]
struct ReplayOpts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// From this date (YYYY-MM-DD) or time (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Up to this date (inclusive) or time.
    #[arg(long)]
    to: Option<String>,
    /// Only these rules, comma-separated (R1 … R10); the site's `[alerts]` settings
    /// tune them.
    #[arg(long, value_delimiter = ',')]
    rules: Vec<String>,
    /// A sensitive document type or report for R5 (repeat for more), besides the site's
    /// `sensitive_doctypes` and `sensitive_reports`; every backup download is sensitive.
    #[arg(long)]
    sensitive: Vec<String>,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let AlertsCommand::Replay(opts) = opts.command;
    let only: Vec<String> = opts
        .rules
        .iter()
        .map(|r| r.trim().to_ascii_uppercase())
        .collect();
    if let Some(bad) = only.iter().find(|r| !RULE_IDS.contains(&r.as_str())) {
        anyhow::bail!(
            "--rules: there is no rule {bad:?}; the rules are {}",
            RULE_IDS.join(", ")
        );
    }
    let mut params = BTreeMap::new();
    for (key, value) in [("from", &opts.from), ("to", &opts.to)] {
        if let Some(v) = value {
            params.insert(key.to_owned(), v.clone());
        }
    }
    let range = accesslog_app::log_query::entry_query(&params)?;
    let (settings, store) = opts.site.open().await?;
    let mut rules = Rules::from_settings(&settings.alerts)
        .map_err(|e| anyhow::anyhow!("{}: {e}", settings.site_dir.join("site.toml").display()))?;
    if !only.is_empty() {
        for (i, id) in RULE_IDS.iter().enumerate() {
            rules.enabled[i] &= only.iter().any(|r| r == id);
        }
    }
    rules
        .sensitive
        .doctypes
        .extend(opts.sensitive.iter().cloned());
    rules
        .sensitive
        .reports
        .extend(opts.sensitive.iter().cloned());
    let fired = replay(&*store, range.from, range.to, &rules).await?;
    let mut out = String::new();
    for f in &fired {
        let first = f.seqs.first().copied().unwrap_or(0);
        let last = f.seqs.last().copied().unwrap_or(0);
        out.push_str(&format!(
            "{} {} {} {}: {} (entries {first}–{last})\n",
            f.at.to_rfc3339(),
            f.rule,
            f.severity.as_str(),
            f.user,
            f.arithmetic
        ));
    }

    let mut event = crate::open::operator_event(Activity::Read, "accesslog alerts replay");
    event.export_from = Some(ACCESS_LOG.to_owned());
    let mut asked: serde_json::Map<String, serde_json::Value> = params
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    asked.insert("rules".into(), serde_json::json!(only));
    event.filters = Some(CanonicalJson::from_value(&serde_json::Value::Object(asked)));
    event.row_count = Some(fired.len() as u64);
    let recorder = crate::open::recorder(&settings, store).await?;
    let released = gate::release(&recorder, event, out)
        .await
        .context("the replay could not be recorded in the Access Log, so nothing is shown")?;
    recorder.checkpoint_now().await;
    print!("{}", released.payload());
    eprintln!(
        "{} alert(s) would have fired; nothing was delivered.",
        fired.len()
    );
    Ok(())
}
