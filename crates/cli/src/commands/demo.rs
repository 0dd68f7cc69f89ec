//! `accesslog demo`

use std::path::PathBuf;

use accesslog_core::SystemClock;
use accesslog_site::Overrides;
use accesslog_store::Store;
use clap::Args;

/// Try Access Log on a demo site
///
/// Creates the demo site (./demo-site unless --dir says otherwise) if it does not exist,
/// with its demo users, then serves it on 127.0.0.1 and prints the URL and the logins.
/// The demo passwords are for trying the product only.
#[derive(Debug, Args)]
pub struct Opts {
    /// Where the demo site lives.
    #[arg(long, default_value = "demo-site")]
    dir: PathBuf,
    /// The port to serve on (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// General-ledger entries to make when the demo site is created (for benchmarks).
    #[arg(long, default_value_t = 20_000)]
    rows: u64,
    /// Start with an empty Access Log instead of 90 days of generated history.
    #[arg(long)]
    no_history: bool,
}

/// The demo's users: email, password, full name, role. Demo-only credentials.
pub const DEMO_USERS: [(&str, &str, &str, &str); 4] = [
    (
        "admin@example.com",
        "admin",
        "Demo Administrator",
        accesslog_core::SYSTEM_MANAGER,
    ),
    (
        "accounts@example.com",
        "accounts",
        "Demo Accountant",
        "Accounts User",
    ),
    (
        "sales@example.com",
        "sales",
        "Demo Salesperson",
        "Sales User",
    ),
    ("hr@example.com", "hr", "Demo HR Officer", "HR User"),
];

const DEMO_ROLES: [&str; 3] = ["Accounts User", "Sales User", "HR User"];

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let fresh = !opts.dir.join("site.toml").exists();
    if fresh {
        accesslog_site::create_site(
            &opts.dir,
            "Access Log Demo",
            &DEMO_ROLES,
            Some("demo.example/access-log"),
        )?;
        crate::demo::write_site_files(&opts.dir)?;
        println!("Created the demo site in {}.", opts.dir.display());
    }
    let flags = Overrides {
        bind: Some(format!("127.0.0.1:{}", opts.port)),
        ..Default::default()
    };
    let settings = crate::open::settings(&opts.dir, &flags)?;
    let store = crate::open::store(&settings).await?;
    seed(&*store, &settings).await?;
    if fresh {
        let doctypes = crate::open::doctypes(&settings, &*store).await?;
        let made = crate::demo::seed(
            &*store,
            &doctypes,
            &settings.site_dir,
            accesslog_core::Clock::now(&SystemClock),
            opts.rows,
        )
        .await?;
        println!(
            "Made the demo's data: {} customers, {} invoices, {} employees, {} ledger entries, {} files.",
            made.customers, made.invoices, made.employees, made.gl_entries, made.files
        );
        if !opts.no_history {
            let now = accesslog_core::Clock::now(&SystemClock);
            let written = crate::demo::history::write(&*store, now).await?;
            if written > 0 {
                println!(
                    "Wrote {written} entries of generated history (90 days, with planted incidents) into the Access Log."
                );
            }
        }
    }
    crate::commands::serve::serve(settings, store, |url| {
        println!();
        println!("Open {url} and log in with one of these demo-only accounts:");
        for (email, password, _, role) in DEMO_USERS {
            println!("  {email:<22} password {password:<9} ({role})");
        }
        println!();
        println!("Press Ctrl-C to stop.");
    })
    .await
}

/// Adds whichever demo users are missing (so a demo site survives a deleted database).
pub async fn seed(store: &dyn Store, settings: &accesslog_site::Settings) -> anyhow::Result<()> {
    for (email, password, name, role) in DEMO_USERS {
        if store.user_by_email(email).await?.is_none() {
            let roles = [role.to_owned()];
            accesslog_app::accounts::add_user(
                store,
                &SystemClock,
                settings,
                email,
                name,
                Some(password),
                &roles,
            )
            .await?;
        }
    }
    Ok(())
}
