//! Starting Chromium: as an unprivileged user when the server is root, with its sandbox
//! where the kernel allows it, with a fresh profile, a scrubbed environment and the flags
//! that turn off everything a print does not need (background networking, extensions,
//! sync, name resolution, new windows).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The user Chromium runs as when the server runs as root.
const UNPRIVILEGED_USER: &str = "nobody";
/// Environment variables passed on to Chromium; every other one (database URLs, keys…) is
/// withheld.
const PASSED_ENV: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "FONTCONFIG_FILE",
    "FONTCONFIG_PATH",
];

/// How Chromium runs: which user, with or without its sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// The browser process.
    pub pid: u32,
    /// The user it runs as (a name from `/etc/passwd`, or the uid).
    pub user: String,
    /// Whether Chromium's own sandbox is on (off only where it cannot start).
    pub sandbox: bool,
}

/// A started Chromium: the process, its DevTools address and its profile.
pub(super) struct Launched {
    pub child: Child,
    pub ws_url: String,
    pub isolation: Isolation,
    pub profile: tempfile::TempDir,
}

#[derive(Debug, Clone)]
struct Account {
    name: String,
    uid: u32,
    gid: u32,
}

/// Starts Chromium. As root it runs as `nobody` (when that user exists) with its sandbox;
/// if the sandbox cannot start there (no user namespaces), as `nobody` without it; with no
/// `nobody`, as root without it (Chromium refuses root with a sandbox). As another user it
/// runs as that user, with its sandbox.
pub(super) async fn launch(executable: &Path, timeout: Duration) -> Result<Launched, String> {
    let root = running_as_root();
    let drop_to = if root {
        let account = account(UNPRIVILEGED_USER);
        if account.is_none() {
            tracing::warn!(
                "the server runs as root and there is no user {UNPRIVILEGED_USER:?}: \
                 Chromium runs as root, without its sandbox"
            );
        }
        account
    } else {
        None
    };
    let mut attempts = Vec::new();
    if root && drop_to.is_none() {
        attempts.push(false);
    } else {
        attempts.push(true);
        if drop_to.is_some() {
            attempts.push(false);
        }
    }
    let mut errors = Vec::new();
    for sandbox in attempts {
        match start(executable, drop_to.as_ref(), sandbox, timeout).await {
            Ok(launched) => {
                if !sandbox && drop_to.is_some() {
                    tracing::warn!(
                        earlier = %errors.join("; "),
                        "Chromium's sandbox could not start (does the kernel allow \
                         unprivileged user namespaces?): Chromium runs as \
                         {UNPRIVILEGED_USER:?} without it"
                    );
                }
                return Ok(launched);
            }
            Err(e) => errors.push(e),
        }
    }
    Err(errors.join("; "))
}

async fn start(
    executable: &Path,
    drop_to: Option<&Account>,
    sandbox: bool,
    timeout: Duration,
) -> Result<Launched, String> {
    let profile = tempfile::Builder::new()
        .prefix("accesslog-chromium-")
        .tempdir()
        .map_err(|e| format!("a profile directory: {e}"))?;
    prepare_profile(profile.path(), drop_to)
        .map_err(|e| format!("the profile directory {}: {e}", profile.path().display()))?;
    let mut cmd = Command::new(executable);
    cmd.args(arguments(profile.path(), sandbox))
        .env_clear()
        .envs(
            PASSED_ENV
                .iter()
                .filter_map(|k| std::env::var_os(k).map(|v| (*k, v))),
        )
        .env("HOME", profile.path())
        .env("XDG_CONFIG_HOME", profile.path().join(".config"))
        .env("XDG_CACHE_HOME", profile.path().join(".cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if std::env::var_os("PATH").is_none() {
        cmd.env("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    if let Some(a) = drop_to {
        // std drops root's supplementary groups when it switches the uid.
        cmd.uid(a.uid).gid(a.gid);
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let Some(stderr) = child.stderr.take() else {
        return Err("no stderr from Chromium".to_owned());
    };
    let mut lines = BufReader::new(stderr).lines();
    let mut said = Vec::new();
    let found = tokio::time::timeout(timeout, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some((_, ws)) = line.rsplit_once("listening on ")
                && ws.starts_with("ws://")
                && ws.contains("/devtools/browser/")
            {
                return Some(ws.trim().to_owned());
            }
            if said.len() < 20 {
                said.push(line);
            }
        }
        None
    })
    .await;
    let ws_url = match found {
        Ok(Some(url)) => url,
        failed => {
            let _ = child.kill().await;
            let why = if failed.is_err() {
                format!("no DevTools address within {}s", timeout.as_secs())
            } else {
                "Chromium exited".to_owned()
            };
            let said = said
                .iter()
                .filter(|l| !l.contains("dbus"))
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" | ");
            let mode = if sandbox { "sandboxed" } else { "no sandbox" };
            return Err(format!("{why} ({mode}): {said}"));
        }
    };
    // Chromium keeps writing to stderr; keep reading so it never blocks on a full pipe.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::trace!(target: "chromium", "{line}");
        }
    });
    let pid = child.id().unwrap_or_default();
    let user = match drop_to {
        Some(a) => a.name.clone(),
        None => current_user(),
    };
    tracing::info!(pid, user = %user, sandbox, "started Chromium for PDFs");
    Ok(Launched {
        child,
        ws_url,
        isolation: Isolation { pid, user, sandbox },
        profile,
    })
}

/// Chromium features a print has no use for, each of which talks to a network.
const DISABLED_FEATURES: &[&str] = &[
    "Translate",
    "MediaRouter",
    "DialMediaRouteProvider",
    "OptimizationHints",
    "AutofillServerCommunication",
    "CertificateTransparencyComponentUpdater",
    "InterestFeedContentSuggestions",
    "Prerender2",
];

/// The profile's preferences: no network prediction (a preconnect is a connection
/// without a request, which interception cannot see).
const PREFERENCES: &str = r#"{"net":{"network_prediction_options":2}}"#;

/// Writes the profile's preferences; hands the profile to `owner` if there is one.
fn prepare_profile(profile: &Path, owner: Option<&Account>) -> std::io::Result<()> {
    let default = profile.join("Default");
    std::fs::create_dir(&default)?;
    let preferences = default.join("Preferences");
    std::fs::write(&preferences, PREFERENCES)?;
    if let Some(a) = owner {
        for path in [profile, &default, &preferences] {
            std::os::unix::fs::chown(path, Some(a.uid), Some(a.gid))?;
        }
    }
    Ok(())
}

/// Chromium's command line.
fn arguments(profile: &Path, sandbox: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        "--hide-scrollbars",
        "--mute-audio",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-component-extensions-with-background-pages",
        "--disable-default-apps",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-breakpad",
        "--no-pings",
        "--metrics-recording-only",
        "--disable-notifications",
        "--block-new-web-contents",
        "--disable-prompt-on-repost",
        "--disable-hang-monitor",
        "--disable-renderer-backgrounding",
        "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows",
        "--disable-ipc-flooding-protection",
        "--password-store=basic",
        "--use-mock-keychain",
        "--force-color-profile=srgb",
        "--lang=en-US",
        // Interception (see intercept.rs) is the barrier. Behind it: no host name or
        // address is ever resolved (so nothing is reached, even by a connection that is not
        // a request), and no proxy is used.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--no-proxy-server",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    args.push(format!(
        "--disable-features={}",
        DISABLED_FEATURES.join(",")
    ));
    args.push(format!("--user-data-dir={}", profile.display()));
    if !sandbox {
        args.push("--no-sandbox".to_owned());
        args.push("--disable-setuid-sandbox".to_owned());
    }
    args.push("about:blank".to_owned());
    args
}

/// `name`'s uid and primary gid, from `/etc/passwd`.
fn account(name: &str) -> Option<Account> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        let _password = f.next()?;
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        (uid != 0).then(|| Account {
            name: name.to_owned(),
            uid,
            gid,
        })
    })
}

fn own_uid() -> Option<String> {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
}

fn running_as_root() -> bool {
    own_uid().as_deref() == Some("0")
}

fn current_user() -> String {
    let Some(uid) = own_uid() else {
        return "?".to_owned();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.get(2) == Some(&uid.as_str())).then(|| f[0].to_owned())
            })
        })
        .unwrap_or(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_is_found_and_root_never_is() {
        if let Some(a) = account("nobody") {
            assert_ne!(a.uid, 0);
        }
        assert!(
            account("root").is_none(),
            "root is never the unprivileged user"
        );
        assert!(account("no-such-user-here").is_none());
    }

    #[test]
    fn the_sandbox_is_on_unless_it_cannot_be() {
        let with = arguments(Path::new("/tmp/p"), true);
        assert!(!with.iter().any(|a| a == "--no-sandbox"), "{with:?}");
        assert!(with.iter().any(|a| a == "--user-data-dir=/tmp/p"));
        let without = arguments(Path::new("/tmp/p"), false);
        assert!(without.iter().any(|a| a == "--no-sandbox"));
    }
}
