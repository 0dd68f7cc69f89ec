//! `accesslog import-frappe`: bring an ERPNext/Frappe site's own Access Log into this
//! site's log (issue 21), once or, with `--follow`, as it grows. The work is in
//! `accesslog-frappe-import`; this opens the site, wires signals and reports.

use std::time::Duration;

use accesslog_frappe_import::{FrappeClient, Importer, Options, SiteZone, state};
use anyhow::Context;
use clap::Args;

/// Import an ERPNext/Frappe site's Access Log into this site's log
///
/// Reads ERPNext's own Access Log (`/api/resource/Access Log`, with the API key of a
/// user with the System Manager role) and records each of its rows here once, as the
/// activity it stands for (print, report print, export, file or backup download; see
/// docs/import-frappe.md), marked `source = frappe:<host>` with ERPNext's row name as
/// `request_id`. Running it again, or after a crash, records nothing twice. ERPNext's
/// own time of each row, made UTC with the site's time zone, is in the entry's reason;
/// the entry's timestamp is when this log received it.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// The ERPNext site's address, e.g. https://erp.example.com.
    #[arg(long)]
    url: String,
    /// KEY:SECRET: the API key and secret of an ERPNext user with the System Manager
    /// role (ERPNext: User > Settings > API Access). Better given in the environment
    /// than on the command line, where other users of the machine can see it.
    #[arg(long, env = "ACCESSLOG_FRAPPE_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The ERPNext site's time zone (IANA, e.g. Europe/Berlin), in which its times are
    /// written; by default, the one in its System Settings.
    #[arg(long)]
    time_zone: Option<String>,
    /// Keep going: read new rows every --every seconds until Ctrl-C or SIGTERM, riding
    /// out upstream errors.
    #[arg(long)]
    follow: bool,
    /// Seconds between reads with --follow.
    #[arg(long, default_value_t = 30, requires = "follow", value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
    /// Seconds of ERPNext's log read again each time, for rows committed late or out of
    /// order (each is still recorded once).
    #[arg(long, default_value_t = 60)]
    overlap: u64,
    /// Rows per request.
    #[arg(long, default_value_t = 500, hide = true, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    page_size: u32,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (settings, store) = opts.site.open().await?;
    let client = FrappeClient::new(&opts.url, &opts.api_key)?;
    let source = client.source();
    let zone = match &opts.time_zone {
        Some(name) => SiteZone::named(name).context("--time-zone")?,
        None => {
            let name = client.time_zone().await?.with_context(|| {
                format!(
                    "ERPNext at {} has no time zone in its System Settings; give it with --time-zone (e.g. --time-zone Europe/Berlin)",
                    opts.url
                )
            })?;
            SiteZone::named(&name).context("ERPNext's System Settings time zone")?
        }
    };
    let _lock = state::Lock::take(&state::path(&settings.site_dir, &source, "lock"), &source)?;
    let recorder = crate::open::recorder(&settings, store.clone()).await?;
    let (mut importer, opened) = Importer::open(
        client,
        source.clone(),
        zone.clone(),
        store,
        recorder.clone(),
        &settings.site_dir,
        Options {
            overlap: Duration::from_secs(opts.overlap),
            page_size: opts.page_size,
        },
    )
    .await?;
    if let Some(why) = &opened.ignored_file {
        eprintln!(
            "warning: the cursor file was not used: {why}. Reading from what the log holds instead."
        );
    }
    match &opened.cursor {
        Some(c) => eprintln!(
            "Importing from {source} (times in {}): the newest row imported before is of {c} (says the {}); reading again from {} s before it.",
            zone.name(),
            if opened.from_file {
                "cursor file"
            } else {
                "log"
            },
            opts.overlap
        ),
        None => eprintln!(
            "Importing from {source} (times in {}) from its first row.",
            zone.name()
        ),
    }

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let signal = crate::open::stop_signal(
        "Stopping: the rows read so far are recorded; the next run goes on from there.",
    )?;
    let signals = tokio::spawn(async move {
        signal.await;
        let _ = stop_tx.send(true);
    });
    let follow = opts.follow.then(|| Duration::from_secs(opts.every));
    if follow.is_some() {
        eprintln!(
            "Following: reading new rows every {} s until Ctrl-C or SIGTERM.",
            opts.every
        );
    }
    let result = importer.run(follow, stop).await;
    signals.abort();
    // Sign what was recorded before leaving, as `serve` does on its way out.
    recorder.checkpoint_now().await;
    let pass = result?;
    eprintln!(
        "Imported {} entries from {source}; {} rows read, {} already in the log. ERPNext's Access Log is read up to {}.",
        pass.recorded,
        pass.read,
        pass.already,
        importer.cursor().map_or_else(
            || "its start (it has no rows)".to_owned(),
            |c| format!("{c} ({})", zone.name())
        )
    );
    Ok(())
}
