//! `accesslog`: create a site, serve it, manage its users.
//!
//! The second front end over the application layer (`accesslog-app`): each command opens
//! the site, calls the app, and reports in words. Only `serve` (which `demo` runs) reaches
//! the web crate (`tests/layering.rs` holds that).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod commands;
mod demo;
mod open;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's allocator: a served request allocates and frees across
/// threads (handlers, the recorder, SQLite's workers), which glibc pays for in arena locks
/// and consolidation; measured in BENCHMARKS.md ("Reads recorded"), +25-40 % requests/s.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Access Log: a records server in which every print, export and download is recorded in a
/// tamper-evident trail that System Managers review.
///
/// Start with `accesslog demo` to try it, or `accesslog new-site DIR` then
/// `accesslog serve --site DIR` for a site of your own.
#[derive(Debug, Parser)]
#[command(name = "accesslog", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    NewSite(commands::new_site::Opts),
    Serve(commands::serve::Opts),
    Demo(commands::demo::Opts),
    User(commands::user::Opts),
    Import(commands::import::Opts),
    ImportFrappe(commands::import_frappe::Opts),
    Backup(commands::backup::Opts),
    Migrate(commands::migrate::Opts),
    Verify(commands::verify::Opts),
    Checkpoint(commands::checkpoint::Opts),
    LogExport(commands::log_export::Opts),
    Alerts(commands::alerts::Opts),
    Witness(commands::witness::Opts),
    Prune(commands::prune::Opts),
    Redact(commands::redact::Opts),
    Hold(commands::hold::Opts),
    Archive(commands::archive::Opts),
    MetricsToken(commands::metrics_token::Opts),
    Gate(commands::gate::Opts),
    #[command(hide = true)]
    RecordLoad(commands::record_load::Opts),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::NewSite(opts) => commands::new_site::run(opts).await,
            Command::Serve(opts) => commands::serve::run(opts).await,
            Command::Demo(opts) => commands::demo::run(opts).await,
            Command::User(opts) => commands::user::run(opts).await,
            Command::Import(opts) => commands::import::run(opts).await,
            Command::ImportFrappe(opts) => commands::import_frappe::run(opts).await,
            Command::Backup(opts) => commands::backup::run(opts).await,
            Command::Migrate(opts) => commands::migrate::run(opts).await,
            Command::Verify(opts) => commands::verify::run(opts).await,
            Command::Checkpoint(opts) => commands::checkpoint::run(opts).await,
            Command::LogExport(opts) => commands::log_export::run(opts).await,
            Command::Alerts(opts) => commands::alerts::run(opts).await,
            Command::Witness(opts) => commands::witness::run(opts).await,
            Command::Prune(opts) => commands::prune::run(opts).await,
            Command::Redact(opts) => commands::redact::run(opts).await,
            Command::Hold(opts) => commands::hold::run(opts).await,
            Command::Archive(opts) => commands::archive::run(opts).await,
            Command::MetricsToken(opts) => commands::metrics_token::run(opts).await,
            Command::Gate(opts) => commands::gate::run(opts).await,
            Command::RecordLoad(opts) => commands::record_load::run(opts).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: human-readable by default, JSON with `ACCESSLOG_LOG_FORMAT=json`;
/// the level follows `RUST_LOG` (default `info`).
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("ACCESSLOG_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_help_text() {
        let cli = Cli::command();
        let mut stack: Vec<&clap::Command> = vec![&cli];
        while let Some(cmd) = stack.pop() {
            if cmd.get_name() != "help" {
                assert!(
                    cmd.get_about().is_some(),
                    "`{}` has no help text",
                    cmd.get_name()
                );
            }
            stack.extend(cmd.get_subcommands());
        }
    }
}
