//! `accesslog user …`: manage a site's users, roles and API keys from the shell.

use std::io::Read;
use std::path::PathBuf;

use accesslog_app::accounts;
use accesslog_core::SystemClock;
use accesslog_site::Overrides;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};

/// Manage users, roles and API keys
///
/// Add users, list them, disable them, set passwords, grant roles, and issue or revoke
/// API keys. Every action needs the site: --site DIR or ACCESSLOG_SITE.
///
/// Example: accesslog user add --site ./acme ana@acme.example --name "Ana Ruiz" --role "System Manager" --password-stdin
#[derive(Debug, Args)]
pub struct Opts {
    /// The site folder.
    #[arg(long, env = "ACCESSLOG_SITE", global = true)]
    site: Option<PathBuf>,
    /// Database URL, if not the one in site.toml.
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Add a user.
    Add {
        /// Their email address, which is also their login.
        email: String,
        /// Their full name.
        #[arg(long)]
        name: String,
        /// A role to grant (repeat for several); see `roles` in site.toml.
        #[arg(long = "role")]
        roles: Vec<String>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List users with their roles.
    List,
    /// Disable a user: they can no longer log in and their sessions end.
    Disable { email: String },
    /// Enable a disabled user again.
    Enable { email: String },
    /// Set a user's password (their sessions end).
    SetPassword {
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Grant a role to a user.
    AddRole { email: String, role: String },
    /// Issue, list or revoke API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyAction),
}

#[derive(Debug, Subcommand)]
enum ApiKeyAction {
    /// Issue a new API key for a user; the secret is printed once and never stored.
    Create {
        email: String,
        /// A note to recognise the key by, e.g. "nightly export script".
        #[arg(long, default_value = "")]
        label: String,
        /// A scope to grant (repeatable). `auditor`: read the Access Log and its proofs.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List API keys (of one user, or of everyone).
    List { email: Option<String> },
    /// Revoke an API key: requests with it are refused from now on.
    Revoke { api_key: String },
}

#[derive(Debug, Args)]
struct PasswordArgs {
    /// The password (visible in your shell history; prefer --password-stdin).
    #[arg(long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from standard input (first line).
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordArgs {
    fn read(&self) -> anyhow::Result<Option<String>> {
        if let Some(p) = &self.password {
            return Ok(Some(p.clone()));
        }
        if self.password_stdin {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading the password from stdin")?;
            let line = input.lines().next().unwrap_or_default().to_owned();
            if line.is_empty() {
                bail!("standard input held no password");
            }
            return Ok(Some(line));
        }
        Ok(None)
    }
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let Some(site) = opts.site else {
        bail!("say which site: --site DIR (or set ACCESSLOG_SITE)");
    };
    let settings = crate::open::settings(
        &site,
        &Overrides {
            database_url: opts.database,
            bind: None,
        },
    )?;
    let store = crate::open::store(&settings).await?;
    let store = &*store;
    let clock = &SystemClock;
    match opts.action {
        Action::Add {
            email,
            name,
            roles,
            password,
        } => {
            let password = password.read()?;
            let user = accounts::add_user(
                store,
                clock,
                &settings,
                &email,
                &name,
                password.as_deref(),
                &roles,
            )
            .await?;
            println!("Added {} ({}).", user.email, describe_roles(&user.roles));
            if password.is_none() {
                println!(
                    "They have no password yet: set one with `accesslog user set-password`, or issue an API key."
                );
            }
        }
        Action::List => {
            let users = store.list_users().await?;
            println!("{:<32} {:<28} {:<8} ROLES", "EMAIL", "NAME", "ENABLED");
            for u in users {
                let enabled = if u.enabled { "yes" } else { "no" };
                println!(
                    "{:<32} {:<28} {:<8} {}",
                    u.email,
                    u.full_name,
                    enabled,
                    u.roles.join(", ")
                );
            }
        }
        Action::Disable { email } => {
            accounts::set_enabled(store, &email, false).await?;
            println!("Disabled {email}; their sessions have ended.");
        }
        Action::Enable { email } => {
            accounts::set_enabled(store, &email, true).await?;
            println!("Enabled {email}.");
        }
        Action::SetPassword { email, password } => {
            let Some(password) = password.read()? else {
                bail!("give the new password with --password-stdin (or --password)");
            };
            accounts::set_password(store, &email, &password).await?;
            println!("Password set for {email}; their sessions have ended.");
        }
        Action::AddRole { email, role } => {
            accounts::add_role(store, &settings, &email, &role).await?;
            println!("Granted {role} to {email}.");
        }
        Action::ApiKey(ApiKeyAction::Create {
            email,
            label,
            scopes,
        }) => {
            let key = accounts::create_api_key(store, clock, &email, &label, &scopes).await?;
            println!("API key for {email} (the secret is shown only now):");
            println!("  api_key:    {}", key.api_key);
            println!("  api_secret: {}", key.api_secret);
            println!(
                "Use it as:  Authorization: token {}:{}",
                key.api_key, key.api_secret
            );
        }
        Action::ApiKey(ApiKeyAction::List { email }) => {
            let keys = accounts::list_api_keys(store, email.as_deref()).await?;
            println!(
                "{:<16} {:<32} {:<28} {:<28} LABEL",
                "API KEY", "USER", "CREATED", "REVOKED"
            );
            for k in keys {
                let revoked = k
                    .revoked_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "-".to_owned());
                println!(
                    "{:<16} {:<32} {:<28} {:<28} {}",
                    k.api_key,
                    k.user_email,
                    k.created_at.to_rfc3339(),
                    revoked,
                    k.label
                );
            }
        }
        Action::ApiKey(ApiKeyAction::Revoke { api_key }) => {
            accounts::revoke_api_key(store, clock, &api_key).await?;
            println!("Revoked {api_key}.");
        }
    }
    Ok(())
}

fn describe_roles(roles: &[String]) -> String {
    if roles.is_empty() {
        "no roles".to_owned()
    } else {
        roles.join(", ")
    }
}
