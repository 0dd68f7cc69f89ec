//! `accesslog new-site`: lay out an empty site.

use std::fs;
use std::path::Path;

use crate::SiteError;

/// The folders every site has, filled by later features.
pub const SUBFOLDERS: [&str; 6] = [
    "doctypes",
    "reports",
    "print_formats",
    "raw_formats",
    "files",
    "keys",
];

/// Creates an empty site in `dir` (which may exist, but must not hold a `site.toml`).
/// `extra_roles` are written into `site.toml` as the site's own roles; `origin` names the
/// log in its signed checkpoints (derived from `name` when `None`). The log's signing key
/// is made here, in `keys/`, outside the database.
pub fn create_site(
    dir: &Path,
    name: &str,
    extra_roles: &[&str],
    origin: Option<&str>,
) -> Result<(), SiteError> {
    let toml_path = dir.join("site.toml");
    if toml_path.exists() {
        return Err(SiteError::AlreadyExists(dir.to_path_buf()));
    }
    let io = |e: std::io::Error| SiteError::Io(dir.to_path_buf(), e.to_string());
    fs::create_dir_all(dir).map_err(io)?;
    for sub in SUBFOLDERS {
        fs::create_dir_all(dir.join(sub)).map_err(io)?;
    }
    let roles = extra_roles
        .iter()
        .map(|r| toml::Value::String((*r).to_owned()).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let origin = origin
        .map(str::to_owned)
        .unwrap_or_else(|| default_origin(name));
    crate::keys::create_keys(dir, &origin)?;
    let origin = toml::Value::String(origin).to_string();
    let name = toml::Value::String(name.to_owned()).to_string();
    let text = format!(
        r#"# Access Log site settings. Environment variables (ACCESSLOG_*) and command-line
# flags override what is written here.

# Shown in the page title and the navigation bar.
name = {name}

# Where the data lives. A relative sqlite:// path is inside this folder.
# For PostgreSQL: database_url = "postgres://user:password@host/dbname"
database_url = "sqlite://accesslog.db"

# Address the server listens on.
bind = "127.0.0.1:8000"

# Set to true when the site is served over HTTPS, so session cookies are marked Secure
# (and browsers are told to use HTTPS only).
secure_cookies = false

# Reverse proxies (addresses or CIDR blocks) whose Forwarded / X-Forwarded-For headers
# name the client. Leave empty when clients connect directly.
trusted_proxies = []

# Roles of this site, besides the built-in "System Manager".
roles = [{roles}]

[sessions]
# A session ends after this many minutes without a request...
idle_minutes = 480
# ...and in any case this many hours after login.
absolute_hours = 168

[log]
# The log's name in its signed checkpoints, and the signing key's name (no spaces, no '+').
origin = {origin}
# A signed checkpoint is written after this many new entries...
checkpoint_every_entries = 1000
# ...or this many seconds after the last one, if there were new entries.
checkpoint_every_seconds = 10
# Witnesses cosign each checkpoint after checking it extends the last one they saw, so
# that whoever runs this server cannot rewrite the log unseen (README, "Who can do what
# to the log"). A checkpoint counts as cosigned once this many of them signed it
# (default: all of them; keep this line above the tables below):
#   witness_quorum = 1
# Run a witness elsewhere with `accesslog witness init` and `serve`, then list it:
#   [[log.witnesses]]
#   url = "https://witness.example/w1"
#   key = "witness.example/w1+1234abcd+BA..."
# Each checkpoint, with its cosignatures, is also appended to these files (put one on
# another mount) and POSTed to these URLs:
#   [log.publish]
#   files = ["/mnt/elsewhere/checkpoints.log"]
#   urls = ["https://audit.example/checkpoints"]

[login]
# Within the window, failed logins allowed for one account from one address before that
# pair gets 429 (the account stays open from everywhere else)...
max_failures_per_account_and_address = 5
# ...from one address, over all accounts, before that address gets 429...
max_failures_per_ip = 30
# ...and for one account from anywhere, before each further attempt is slowed (1 s,
# doubling every 10 failures, at most max_delay_seconds; never refused).
max_failures_per_account = 50
max_delay_seconds = 10
window_minutes = 15

[exports]
# Exports one user, and everyone, may run at once.
per_user = 2
in_total = 8
# Free temporary disk (TMPDIR) an Excel export needs before it starts.
xlsx_min_free_mb = 1024
"#
    );
    fs::write(&toml_path, text).map_err(|e| SiteError::Io(toml_path.clone(), e.to_string()))?;
    Ok(())
}

/// `Acme Ltd` → `acme-ltd.local/access-log`.
fn default_origin(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    format!(
        "{}.local/access-log",
        if slug.is_empty() { "site" } else { slug }
    )
}
