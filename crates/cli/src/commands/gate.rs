//! `accesslog gate --site DIR --upstream URL`

use accesslog_site::gate::{API_SECRET_VAR, GateSettings, check_upstream};
use anyhow::Context;
use clap::Args;

/// Put the Access Log in front of a Frappe/ERPNext site
///
/// A reverse proxy: every request goes on to the upstream site, and every answer that
/// lets record data out (prints, PDFs, exports, private files, backups, raw printing,
/// REST and report reads) is recorded in this site's Access Log before it is sent. The
/// site folder holds the log, its key and the settings ([gate] in site.toml). Review the
/// log with `accesslog serve` on the same site.
///
/// Example: accesslog gate --site ./erp-log --upstream http://127.0.0.1:8000 --bind 0.0.0.0:8080
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// The Frappe site: http://HOST[:PORT] ([gate] upstream in site.toml if not given).
    #[arg(long)]
    upstream: Option<String>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    bind: Option<String>,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let settings = opts.site.settings(opts.bind)?;
    let upstream = opts
        .upstream
        .or_else(|| settings.gate.upstream.clone())
        .context(
            "no upstream: give --upstream http://HOST:PORT, or set [gate] upstream in site.toml",
        )?;
    let upstream = upstream.trim_end_matches('/').to_owned();
    check_upstream(&upstream).map_err(|problem| anyhow::anyhow!("--upstream: {problem}"))?;
    let api_secret = match &settings.gate.api_key {
        None => {
            tracing::warn!("[gate] api_key is not set: entries will carry no roles");
            None
        }
        Some(_) => Some(api_secret(&settings.site_dir)?),
    };
    let store = crate::open::store(&settings).await?;
    let recorder = crate::open::recorder(&settings, store).await?;
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: is another server using it? Choose another with --bind",
                settings.bind
            )
        })?;
    let addr = listener.local_addr()?;
    let config = accesslog_gate::GateConfig {
        upstream: upstream.clone(),
        accel_root: settings.gate.accel_root_in(&settings.site_dir),
        gate: settings.gate.clone(),
        api_secret,
        log: settings.log.clone(),
        trusted_proxies: settings.trusted_proxies.clone(),
    };
    let gate = accesslog_gate::Gate::new(config, recorder);
    println!(
        "Access Log gate listening at http://{addr}/ in front of {upstream} (recording into {})",
        settings.name
    );
    let shutdown = crate::open::stop_signal(
        "Stopping: finishing requests in flight, then signing the last entries.",
    )?;
    accesslog_gate::serve(listener, gate, shutdown).await?;
    Ok(())
}

/// The gate API key's secret: `ACCESSLOG_GATE_API_SECRET`, else `keys/gate-api-secret`.
fn api_secret(site_dir: &std::path::Path) -> anyhow::Result<String> {
    if let Ok(secret) = std::env::var(API_SECRET_VAR)
        && !secret.trim().is_empty()
    {
        return Ok(secret.trim().to_owned());
    }
    let file = GateSettings::secret_file(site_dir);
    let secret = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "[gate] api_key is set, but its secret is in neither {API_SECRET_VAR} nor {}",
            file.display()
        )
    })?;
    Ok(secret.trim().to_owned())
}
