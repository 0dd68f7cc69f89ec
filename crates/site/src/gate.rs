//! `[gate]` in `site.toml` (issue 21): the gate in front of an existing Frappe/ERPNext
//! site (`accesslog gate`).
//!
//! ```toml
//! [gate]
//! upstream = "http://127.0.0.1:8000"   # the Frappe site (gunicorn, or its nginx)
//! credential_cache_seconds = 30        # how long "this sid is that user" is believed
//! api_key = "0a1b2c3d4e5f"             # the gate's API key on the upstream (System Manager)
//! refuse_log_writes = true             # refuse writes and deletes of ERPNext's Access Log
//! accel_root = "/home/frappe/frappe-bench/sites/erp.example.com"
//! ```
//!
//! The key's secret is not kept here: it comes from `ACCESSLOG_GATE_API_SECRET`, or else
//! the file `keys/gate-api-secret` in the site folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[gate]` as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct GateSettings {
    /// The upstream's base URL (`http://host:port`); `--upstream` overrides it.
    pub upstream: Option<String>,
    /// How long the user behind a credential, and a user's roles, are cached.
    pub credential_cache_seconds: u32,
    /// The gate's API key on the upstream, used only to read users' roles.
    pub api_key: Option<String>,
    /// Refuse `make_access_log` and writes or deletes of the upstream's `Access Log`.
    pub refuse_log_writes: bool,
    /// Where `X-Accel-Redirect: /protected/<path>` answers are read from (the Frappe
    /// site's folder, which holds `private/files` and `private/backups`), when the gate
    /// stands between nginx and Frappe. Unset: such an answer is refused (502).
    pub accel_root: Option<PathBuf>,
    /// The address people open the ERPNext site at (`https://erp.example.com`): the
    /// entries' `source` names its host, and the review's Show Document and Show Report
    /// link to its pages. Unset: the request's `Host` names the source, and the review
    /// shows no links for it (a client chooses its `Host`).
    pub public_url: Option<String>,
    /// The largest request body the gate reads to find what a form post asks for
    /// (`cmd=…export_query`); a larger url-encoded or JSON body is refused with 413.
    pub max_inspected_body_bytes: u64,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            upstream: None,
            credential_cache_seconds: 30,
            api_key: None,
            refuse_log_writes: true,
            accel_root: None,
            public_url: None,
            max_inspected_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The environment variable that holds the gate API key's secret.
pub const API_SECRET_VAR: &str = "ACCESSLOG_GATE_API_SECRET";

impl GateSettings {
    /// The file in a site folder that holds the gate API key's secret, when the
    /// environment does not.
    pub fn secret_file(site_dir: &Path) -> PathBuf {
        site_dir.join("keys").join("gate-api-secret")
    }

    /// `accel_root`, relative to the site folder unless absolute.
    pub fn accel_root_in(&self, site_dir: &Path) -> Option<PathBuf> {
        self.accel_root.as_ref().map(|p| site_dir.join(p))
    }

    /// What is wrong with these settings, if anything (the key named).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.credential_cache_seconds > 3600 {
            return Some((
                "gate.credential_cache_seconds",
                "credential_cache_seconds must be at most 3600: a logged-out or disabled user would be believed for longer".to_owned(),
            ));
        }
        if let Some(url) = &self.upstream
            && let Err(problem) = check_upstream(url)
        {
            return Some(("gate.upstream", problem));
        }
        if let Some(url) = &self.public_url
            && public_host(url).is_none()
        {
            return Some((
                "gate.public_url",
                format!(
                    "{url:?} must be http(s)://HOST[:PORT], the address people open the ERPNext site at"
                ),
            ));
        }
        if self.max_inspected_body_bytes < 64 * 1024 {
            return Some((
                "gate.max_inspected_body_bytes",
                "max_inspected_body_bytes must be at least 65536".to_owned(),
            ));
        }
        None
    }
}

/// An upstream URL the gate can reach: `http://host[:port]` with no path, query or
/// credentials.
pub fn check_upstream(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!(
            "{url:?} is not an http:// URL (the gate speaks plain HTTP to its upstream, on the same host or a private network; TLS ends in front of the gate)"
        ));
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "{url:?} must be just http://HOST[:PORT], with no path, query or credentials"
        ));
    }
    Ok(())
}

/// The host (and port) of a public URL, `http(s)://HOST[:PORT]` with no path or
/// credentials.
pub fn public_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    is_host(host).then_some(host)
}

/// Letters, digits, `.`, `-`, `_`, `:` and IPv6 brackets: a host name with its port.
pub fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_are_checked() {
        assert!(check_upstream("http://127.0.0.1:8000").is_ok());
        assert!(check_upstream("http://erp.internal/").is_ok());
        assert!(check_upstream("https://erp.example.com").is_err());
        assert!(check_upstream("http://erp/app").is_err());
        assert!(check_upstream("http://user:pw@erp").is_err());
        assert!(check_upstream("http://").is_err());
        assert_eq!(
            public_host("https://erp.example.com/"),
            Some("erp.example.com")
        );
        assert_eq!(public_host("https://erp.example.com/app"), None);
        assert_eq!(public_host("ftp://erp"), None);
    }
}
