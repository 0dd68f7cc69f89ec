//! The settings a site runs with, and where each came from, so that a bad value can be
//! reported with its source ("ACCESSLOG_BIND (environment variable): …").

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use accesslog_core::Role;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("{dir} is not a site folder: it has no site.toml (create one with `accesslog new-site {dir}`)", dir = .0.display())]
    NotASite(PathBuf),
    #[error("{path} already holds a site (it has a site.toml)", path = .0.display())]
    AlreadyExists(PathBuf),
    #[error("{path}: {msg}", path = .0.display(), msg = .1)]
    Io(PathBuf, String),
    #[error("{path}: {msg}", path = .0.display(), msg = .1)]
    Parse(PathBuf, String),
    #[error("{origin}: {problem}")]
    Invalid { origin: Source, problem: String },
}

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default(&'static str),
    SiteToml(PathBuf, &'static str),
    Env(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default(key) => write!(f, "the default {key}"),
            Source::SiteToml(path, key) => write!(f, "{key} in {}", path.display()),
            Source::Env(var) => write!(f, "{var} (environment variable)"),
            Source::Flag(flag) => write!(f, "{flag} (command-line flag)"),
        }
    }
}

/// `site.toml`, as written. Unknown keys are refused, so a typo does not pass silently.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    pub name: String,
    pub database_url: Option<String>,
    pub bind: Option<String>,
    #[serde(default)]
    pub secure_cookies: bool,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers are believed:
    /// addresses or CIDR blocks, e.g. `["127.0.0.1", "10.0.0.0/8"]`.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub sessions: SessionSettings,
    #[serde(default)]
    pub login: LoginSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub exports: ExportSettings,
    #[serde(default)]
    pub print: PrintFile,
    /// Network printers for raw printing, by name.
    #[serde(default)]
    pub printers: BTreeMap<String, PrinterSettings>,
    #[serde(default)]
    pub alerts: crate::alerts::AlertSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub gate: crate::gate::GateSettings,
}

/// `[metrics]`: who may scrape `/metrics` besides System Managers.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// The SHA-256 (hex) of a scrape token, sent as `Authorization: Bearer TOKEN`; the
    /// token itself is not kept here (`accesslog metrics-token` makes one).
    pub token_sha256: Option<String>,
}

/// The `[print]` table as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PrintFile {
    /// The Chromium (or Chrome) that renders PDFs. Unset: `/usr/bin/chromium` or
    /// `chromium` on the `PATH`, when there is one.
    pub chromium: Option<PathBuf>,
    /// `false` turns PDFs off even where a Chromium is installed.
    pub pdf: Option<bool>,
}

/// How PDFs are made: by this Chromium, or not at all (and why not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PdfSettings {
    Chromium(PathBuf),
    Off(String),
}

/// A `[printers.NAME]` table: a printer that takes raw commands over TCP (ZPL label
/// printers, ESC/POS receipt printers, port 9100 by convention).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PrinterSettings {
    pub host: String,
    #[serde(default = "default_printer_port")]
    pub port: u16,
    /// How long to wait for the printer to accept the connection and the commands.
    #[serde(default = "default_printer_timeout")]
    pub timeout_seconds: u32,
    /// Shown in the Print menu beside the name.
    #[serde(default)]
    pub description: Option<String>,
}

fn default_printer_port() -> u16 {
    9100
}

fn default_printer_timeout() -> u32 {
    5
}

/// The `[exports]` table: how many exports may run at once, and how much free temporary
/// disk an XLSX needs before it starts (a million rows take about 600 MB while written).
/// Exports are written to the system's temporary directory (`TMPDIR`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ExportSettings {
    pub per_user: u32,
    pub in_total: u32,
    pub xlsx_min_free_mb: u64,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            per_user: 2,
            in_total: 8,
            xlsx_min_free_mb: 1024,
        }
    }
}

/// The `[log]` table: the log's name and how often checkpoints are signed.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub origin: String,
    pub checkpoint_every_entries: u32,
    pub checkpoint_every_seconds: u32,
    /// Which reads of record data are recorded (`log.reads`).
    pub reads: ReadLogging,
    /// A list or report read records the names of the documents it returned when there
    /// are at most this many; otherwise the first and the last.
    pub read_names_max: u32,
    /// Witnesses that cosign each checkpoint (`[[log.witnesses]]`).
    pub witnesses: Vec<WitnessSettings>,
    /// How many witnesses must cosign a checkpoint before it is served as the latest
    /// cosigned one; all of them when not set.
    pub witness_quorum: Option<u32>,
    /// Where each checkpoint, with its cosignatures, is also published outside the
    /// database (`[log.publish]`).
    pub publish: PublishSettings,
    /// How long entries are kept whole before they are archived and pruned
    /// (`[log.retention]`).
    pub retention: crate::retention::RetentionSettings,
}

/// One `[[log.witnesses]]`: where the witness is and the key it cosigns with.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WitnessSettings {
    /// Its submission prefix, e.g. `https://witness.example/w1`.
    pub url: String,
    /// Its verifier key (`accesslog witness init` prints it).
    pub key: String,
}

/// `[log.publish]`: checkpoint sinks outside the database.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PublishSettings {
    /// Files to append each cosigned checkpoint to (put one on another mount).
    pub files: Vec<PathBuf>,
    /// URLs to POST each cosigned checkpoint to, as `text/plain`.
    pub urls: Vec<String>,
}

impl LogSettings {
    /// The quorum in force: as set, or every configured witness.
    pub fn quorum(&self) -> u32 {
        self.witness_quorum
            .unwrap_or(u32::try_from(self.witnesses.len()).unwrap_or(u32::MAX))
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            origin: "site.local/access-log".to_owned(),
            checkpoint_every_entries: 1000,
            checkpoint_every_seconds: 10,
            reads: ReadLogging::All,
            read_names_max: 100,
            witnesses: Vec::new(),
            witness_quorum: None,
            publish: PublishSettings::default(),
            retention: crate::retention::RetentionSettings::default(),
        }
    }
}

/// `log.reads`: which responses that show or return record data are recorded as `read`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReadLogging {
    /// Documents, lists, report pages and data, and the Access Log itself.
    #[default]
    All,
    /// Lists and report pages and data, not single documents.
    Lists,
    /// No reads (prints, exports and every other egress are still recorded).
    Off,
}

impl ReadLogging {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadLogging::All => "all",
            ReadLogging::Lists => "lists",
            ReadLogging::Off => "off",
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    pub idle_minutes: u32,
    pub absolute_hours: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_minutes: 480,
            absolute_hours: 168,
        }
    }
}

/// The login throttle. Failures are counted over the last `window_minutes`:
/// - `max_failures_per_account_and_address` from one address for one account lock that
///   pair (429) until the window passes: the account stays open from everywhere else;
/// - `max_failures_per_ip` from one address, over all accounts, lock that address;
/// - beyond `max_failures_per_account` for one account, from anywhere, every further
///   attempt on it waits first (one second, doubling every ten failures, at most
///   `max_delay_seconds`): it slows a distributed guess without locking the owner out.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSettings {
    pub max_failures_per_account_and_address: u32,
    pub max_failures_per_account: u32,
    pub max_failures_per_ip: u32,
    pub window_minutes: u32,
    pub max_delay_seconds: u32,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_failures_per_account_and_address: 5,
            max_failures_per_account: 50,
            max_failures_per_ip: 30,
            window_minutes: 15,
            max_delay_seconds: 10,
        }
    }
}

/// Which database, decided once from the URL's scheme.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl fmt::Debug for Database {
    // Never print a PostgreSQL password into a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Database::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

impl Database {
    /// Parses a database URL; a relative SQLite path is taken inside `site_dir`.
    pub fn parse(url: &str, site_dir: &Path, source: &Source) -> Result<Self, SiteError> {
        let invalid = |problem: String| SiteError::Invalid {
            origin: source.clone(),
            problem,
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.to_owned()));
        }
        let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return Err(invalid(format!(
                "{:?} is not a database URL this server knows; use sqlite://FILE or postgres://USER@HOST/DB",
                redact_password(url)
            )));
        };
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(invalid(format!(
                "{url:?} names no SQLite file; use sqlite://accesslog.db"
            )));
        }
        let path = Path::new(path);
        Ok(Database::Sqlite(if path.is_absolute() {
            path.to_path_buf()
        } else {
            site_dir.join(path)
        }))
    }
}

/// What the command line asked for; each `Some` wins over `site.toml` and the environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub bind: Option<String>,
}

/// The resolved settings a server runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    pub site_dir: PathBuf,
    pub name: String,
    pub database: Database,
    pub bind: SocketAddr,
    pub secure_cookies: bool,
    /// Proxies whose forwarding headers name the client (`trusted_proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The site's own roles plus `System Manager`, sorted.
    pub roles: Vec<Role>,
    pub sessions: SessionSettings,
    pub login: LoginSettings,
    pub log: LogSettings,
    pub exports: ExportSettings,
    pub pdf: PdfSettings,
    pub printers: BTreeMap<String, PrinterSettings>,
    pub alerts: crate::alerts::AlertSettings,
    pub metrics: MetricsSettings,
    /// `[gate]`: the gate in front of a Frappe/ERPNext site.
    pub gate: crate::gate::GateSettings,
}

impl Settings {
    /// Reads `site_dir/site.toml`, then applies the environment (through `env`, so tests
    /// need not touch the process environment), then `flags`.
    pub fn load(
        site_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Self, SiteError> {
        let toml_path = site_dir.join("site.toml");
        if !toml_path.is_file() {
            return Err(SiteError::NotASite(site_dir.to_path_buf()));
        }
        let text = std::fs::read_to_string(&toml_path)
            .map_err(|e| SiteError::Io(toml_path.clone(), e.to_string()))?;
        let file: SiteFile = toml::from_str(&text).map_err(|e| {
            SiteError::Parse(toml_path.clone(), e.to_string().trim_end().to_owned())
        })?;
        let in_toml = |key| Source::SiteToml(toml_path.clone(), key);
        let invalid = |key, problem| SiteError::Invalid {
            origin: in_toml(key),
            problem,
        };

        // Each setting: the last of site.toml, environment, flag that is present.
        let pick = |key: &'static str,
                    from_file: Option<String>,
                    var: &'static str,
                    flag_name: &'static str,
                    flag: &Option<String>,
                    default: &str|
         -> (String, Source) {
            let mut chosen = (default.to_owned(), Source::Default(key));
            if let Some(v) = from_file {
                chosen = (v, in_toml(key));
            }
            if let Some(v) = env(var) {
                chosen = (v, Source::Env(var));
            }
            if let Some(v) = flag {
                chosen = (v.clone(), Source::Flag(flag_name));
            }
            chosen
        };

        let (url, url_source) = pick(
            "database_url",
            file.database_url.clone(),
            "ACCESSLOG_DATABASE_URL",
            "--database",
            &flags.database_url,
            "sqlite://accesslog.db",
        );
        let database = Database::parse(&url, site_dir, &url_source)?;

        let (bind, bind_source) = pick(
            "bind",
            file.bind.clone(),
            "ACCESSLOG_BIND",
            "--bind",
            &flags.bind,
            "127.0.0.1:8000",
        );
        let bind = bind.parse::<SocketAddr>().map_err(|_| SiteError::Invalid {
            origin: bind_source,
            problem: format!(
                "{bind:?} is not an address to listen on; write it like 127.0.0.1:8000"
            ),
        })?;

        let secure_cookies = match env("ACCESSLOG_SECURE_COOKIES") {
            Some(v) => parse_bool(&v, Source::Env("ACCESSLOG_SECURE_COOKIES"))?,
            None => file.secure_cookies,
        };

        let mut sessions = file.sessions;
        if let Some(v) = env("ACCESSLOG_SESSION_IDLE_MINUTES") {
            sessions.idle_minutes =
                parse_positive(&v, Source::Env("ACCESSLOG_SESSION_IDLE_MINUTES"))?;
        }
        if let Some(v) = env("ACCESSLOG_SESSION_ABSOLUTE_HOURS") {
            sessions.absolute_hours =
                parse_positive(&v, Source::Env("ACCESSLOG_SESSION_ABSOLUTE_HOURS"))?;
        }
        for (value, key) in [
            (sessions.idle_minutes, "sessions.idle_minutes"),
            (sessions.absolute_hours, "sessions.absolute_hours"),
            (
                file.login.max_failures_per_account,
                "login.max_failures_per_account",
            ),
            (file.login.max_failures_per_ip, "login.max_failures_per_ip"),
            (
                file.login.max_failures_per_account_and_address,
                "login.max_failures_per_account_and_address",
            ),
            (file.login.window_minutes, "login.window_minutes"),
            (
                file.log.checkpoint_every_entries,
                "log.checkpoint_every_entries",
            ),
            (file.exports.per_user, "exports.per_user"),
            (file.exports.in_total, "exports.in_total"),
            (
                file.log.checkpoint_every_seconds,
                "log.checkpoint_every_seconds",
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".to_owned()));
            }
        }

        let mut roles = vec![Role::system_manager()];
        for raw in &file.roles {
            let role = Role::new(raw).map_err(|e| invalid("roles", e.to_string()))?;
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        roles.sort();
        accesslog_core::checkpoint::validate_name(&file.log.origin)
            .map_err(|e| invalid("log.origin", e.to_string()))?;
        check_witnesses(&file.log).map_err(|problem| invalid("log.witnesses", problem))?;

        for (name, printer) in &file.printers {
            let problem = if name.trim().is_empty() || name.chars().any(char::is_control) {
                Some("a printer needs a name without control characters".to_owned())
            } else if printer.host.trim().is_empty() {
                Some(format!("printer {name:?} has no host"))
            } else if printer.timeout_seconds == 0 {
                Some(format!(
                    "printer {name:?}: timeout_seconds must be at least 1"
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(invalid("printers", problem));
            }
        }
        file.alerts
            .offset_minutes()
            .map_err(|problem| invalid("alerts.utc_offset", problem))?;
        if file.alerts.evaluate_every_seconds == 0 {
            let problem = "evaluate_every_seconds must be at least 1".to_owned();
            return Err(invalid("alerts.evaluate_every_seconds", problem));
        }
        if let Some(h) = &file.metrics.token_sha256
            && (h.len() != 64
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            return Err(invalid(
                "metrics.token_sha256",
                "token_sha256 must be 64 lower-case hex digits: the SHA-256 of the token (`accesslog metrics-token` prints both)".to_owned(),
            ));
        }
        if let Some((key, problem)) = file.gate.problem() {
            return Err(invalid(key, problem));
        }
        let pdf = pdf_settings(&file.print, env, &toml_path)?;
        let trusted_proxies = match env("ACCESSLOG_TRUSTED_PROXIES") {
            Some(v) => parse_proxies(
                v.split(',').map(str::trim).filter(|s| !s.is_empty()),
                Source::Env("ACCESSLOG_TRUSTED_PROXIES"),
            )?,
            None => parse_proxies(
                file.trusted_proxies.iter().map(String::as_str),
                in_toml("trusted_proxies"),
            )?,
        };

        Ok(Settings {
            site_dir: site_dir.to_path_buf(),
            name: file.name,
            database,
            bind,
            secure_cookies,
            trusted_proxies,
            roles,
            sessions,
            login: file.login,
            log: file.log,
            exports: file.exports,
            pdf,
            printers: file.printers,
            alerts: file.alerts,
            metrics: file.metrics,
            gate: file.gate,
        })
    }

    /// True for `System Manager` and the roles declared in `site.toml`.
    pub fn knows_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.as_str() == name)
    }
}

/// Addresses (`10.0.0.5`, `::1`) or blocks (`10.0.0.0/8`), as networks.
fn parse_proxies<'a>(
    items: impl Iterator<Item = &'a str>,
    origin: Source,
) -> Result<Vec<ipnet::IpNet>, SiteError> {
    items
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| SiteError::Invalid {
                    origin: origin.clone(),
                    problem: format!(
                        "{item:?} is not an IP address or CIDR block (write 10.0.0.5 or 10.0.0.0/8)"
                    ),
                })
        })
        .collect()
}

/// `ACCESSLOG_PDF=off` or `[print] pdf = false` turn PDFs off; `ACCESSLOG_CHROMIUM` or
/// `[print] chromium` name the browser; otherwise Debian's `/usr/bin/chromium` or a
/// `chromium` on the `PATH` is used when there is one.
fn pdf_settings(
    file: &PrintFile,
    env: &dyn Fn(&str) -> Option<String>,
    toml_path: &Path,
) -> Result<PdfSettings, SiteError> {
    let enabled = match env("ACCESSLOG_PDF") {
        Some(v) => parse_bool(&v, Source::Env("ACCESSLOG_PDF"))?,
        None => file.pdf.unwrap_or(true),
    };
    if !enabled {
        return Ok(PdfSettings::Off(
            "PDFs are turned off for this site ([print] pdf = false in site.toml, or ACCESSLOG_PDF=off). Remove that setting and restart to enable them.".to_owned(),
        ));
    }
    let configured = env("ACCESSLOG_CHROMIUM")
        .map(|v| (PathBuf::from(v), Source::Env("ACCESSLOG_CHROMIUM")))
        .or_else(|| {
            file.chromium.clone().map(|p| {
                (
                    p,
                    Source::SiteToml(toml_path.to_path_buf(), "print.chromium"),
                )
            })
        });
    if let Some((path, origin)) = configured {
        if !path.is_file() {
            return Err(SiteError::Invalid {
                origin,
                problem: format!(
                    "{} is not a file; name the Chromium executable, e.g. /usr/bin/chromium",
                    path.display()
                ),
            });
        }
        return Ok(PdfSettings::Chromium(path));
    }
    let on_path = env("PATH").unwrap_or_default();
    let found =
        std::iter::once(PathBuf::from("/usr/bin/chromium"))
            .chain(std::env::split_paths(&on_path).flat_map(|dir| {
                ["chromium", "chromium-browser", "google-chrome"].map(|n| dir.join(n))
            }))
            .find(|p| p.is_file());
    Ok(match found {
        Some(path) => PdfSettings::Chromium(path),
        None => PdfSettings::Off(
            "PDFs need Chromium, and none was found. Install Debian's chromium (apt install chromium) or set [print] chromium = \"/path/to/chromium\" in site.toml (or ACCESSLOG_CHROMIUM), then restart.".to_owned(),
        ),
    })
}

fn parse_positive(value: &str, source: Source) -> Result<u32, SiteError> {
    match value.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(SiteError::Invalid {
            origin: source,
            problem: format!("{value:?} is not a whole number of at least 1"),
        }),
    }
}

fn parse_bool(value: &str, source: Source) -> Result<bool, SiteError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(SiteError::Invalid {
            origin: source,
            problem: format!("{value:?} is not true or false"),
        }),
    }
}

/// Each witness has an http(s) URL and a cosignature verifier key; the quorum is between
/// 1 and their number; publication URLs are http(s).
fn check_witnesses(log: &LogSettings) -> Result<(), String> {
    let web = |url: &str| url.starts_with("http://") || url.starts_with("https://");
    for (i, w) in log.witnesses.iter().enumerate() {
        if !web(&w.url) {
            return Err(format!(
                "witness {}: url {:?} must start with http:// or https://",
                i + 1,
                w.url
            ));
        }
        accesslog_core::cosignature::CosignatureVerifier::from_verifier_key(&w.key)
            .map_err(|e| format!("witness {} ({}): key: {e}", i + 1, w.url))?;
    }
    let count = log.witnesses.len();
    match log.witness_quorum {
        Some(q) if q == 0 || q as usize > count => Err(format!(
            "witness_quorum = {q}, but it must be between 1 and the {count} witnesses configured"
        )),
        _ => Ok(()),
    }?;
    if let Some(url) = log.publish.urls.iter().find(|u| !web(u)) {
        return Err(format!(
            "log.publish.urls: {url:?} must start with http:// or https://"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create_site;
    use std::collections::HashMap;

    fn site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        create_site(dir.path(), "Test Site", &["Sales User", "HR User"], None).unwrap();
        dir
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_new_site_has_its_folders_and_defaults() {
        let dir = site();
        for sub in crate::SUBFOLDERS {
            assert!(dir.path().join(sub).is_dir(), "{sub} missing");
        }
        let s = Settings::load(dir.path(), &no_env, &Overrides::default()).unwrap();
        assert_eq!(s.name, "Test Site");
        assert_eq!(
            s.database,
            Database::Sqlite(dir.path().join("accesslog.db"))
        );
        assert_eq!(s.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.sessions, SessionSettings::default());
        let roles: Vec<_> = s.roles.iter().map(Role::as_str).collect();
        assert_eq!(roles, ["HR User", "Sales User", "System Manager"]);
        assert!(s.knows_role("HR User") && !s.knows_role("Nobody"));
        assert_eq!(s.log.origin, "test-site.local/access-log");
        let signer = crate::keys::load_signer(dir.path(), &s.log.origin).unwrap();
        let verifier = crate::keys::load_verifier(dir.path()).unwrap();
        assert_eq!(signer.verifier_key(), verifier.verifier_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(crate::keys::private_key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "only the owner may read the signing key"
            );
        }
        assert!(
            crate::keys::create_keys(dir.path(), "other.example/log").is_err(),
            "a key is never replaced"
        );
    }

    #[test]
    fn creating_over_an_existing_site_is_refused() {
        let dir = site();
        let err = create_site(dir.path(), "Again", &[], None).unwrap_err();
        assert!(matches!(err, SiteError::AlreadyExists(_)));
    }

    #[test]
    fn environment_beats_toml_and_flags_beat_environment() {
        let dir = site();
        let env: HashMap<&str, &str> = [
            ("ACCESSLOG_BIND", "127.0.0.1:9000"),
            ("ACCESSLOG_DATABASE_URL", "postgres://u:secret@db/site"),
            ("ACCESSLOG_SESSION_IDLE_MINUTES", "30"),
        ]
        .into();
        let env = |k: &str| env.get(k).map(|v| (*v).to_owned());
        let s = Settings::load(dir.path(), &env, &Overrides::default()).unwrap();
        assert_eq!(s.bind.port(), 9000);
        assert_eq!(
            s.database,
            Database::Postgres("postgres://u:secret@db/site".into())
        );
        assert_eq!(
            s.database.to_string(),
            "postgres://u:***@db/site",
            "passwords are not shown"
        );
        assert_eq!(s.sessions.idle_minutes, 30);

        let flags = Overrides {
            bind: Some("0.0.0.0:7000".into()),
            database_url: Some("sqlite:///tmp/x.db".into()),
        };
        let s = Settings::load(dir.path(), &env, &flags).unwrap();
        assert_eq!(s.bind.port(), 7000);
        assert_eq!(s.database, Database::Sqlite(PathBuf::from("/tmp/x.db")));
    }

    #[test]
    fn a_bad_value_names_its_source() {
        let dir = site();
        let env = |k: &str| (k == "ACCESSLOG_BIND").then(|| "not-an-address".to_owned());
        let err = Settings::load(dir.path(), &env, &Overrides::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("ACCESSLOG_BIND (environment variable):"),
            "{msg}"
        );
        assert!(msg.contains("not-an-address"), "{msg}");

        let flags = Overrides {
            database_url: Some("mysql://x".into()),
            ..Default::default()
        };
        let msg = Settings::load(dir.path(), &no_env, &flags)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("--database (command-line flag):"), "{msg}");

        let toml = dir.path().join("site.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        std::fs::write(
            &toml,
            text.replace("idle_minutes = 480", "idle_minutes = 0"),
        )
        .unwrap();
        let msg = Settings::load(dir.path(), &no_env, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("sessions.idle_minutes in") && msg.contains("at least 1"),
            "{msg}"
        );
    }

    #[test]
    fn toml_errors_name_the_file_and_line() {
        let dir = site();
        let toml = dir.path().join("site.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        std::fs::write(
            &toml,
            text.replace("secure_cookies = false", "secure_cokies = false"),
        )
        .unwrap();
        let msg = Settings::load(dir.path(), &no_env, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("site.toml"), "{msg}");
        assert!(msg.contains("line"), "{msg}");
        assert!(msg.contains("secure_cokies"), "{msg}");
    }

    #[test]
    fn witnesses_and_their_quorum_are_checked() {
        let dir = site();
        let toml = dir.path().join("site.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        let key = accesslog_core::cosignature::Cosigner::from_seed("w.example/1", [1; 32])
            .unwrap()
            .verifier_key();
        let with = |extra: &str| {
            // `[log]` keys go in the site's own `[log]` table, the rest at the end.
            let (in_log, after) = extra
                .split_once("\n[[")
                .map_or(("", extra), |(a, _)| (a, &extra[a.len() + 1..]));
            let text = text.replacen("[log]\n", &format!("[log]\n{in_log}\n"), 1);
            std::fs::write(&toml, format!("{text}\n{after}")).unwrap();
            Settings::load(dir.path(), &no_env, &Overrides::default())
        };
        let ok = with(&format!(
            "[[log.witnesses]]\nurl = \"http://127.0.0.1:7380\"\nkey = \"{key}\"\n\n[log.publish]\nfiles = [\"/mnt/x/checkpoints.log\"]\n"
        ))
        .unwrap();
        assert_eq!(ok.log.witnesses.len(), 1);
        assert_eq!(ok.log.quorum(), 1);
        assert_eq!(ok.log.publish.files.len(), 1);

        let log_key = accesslog_core::checkpoint::LogSigner::from_seed("w.example/1", [1; 32])
            .unwrap()
            .verifier_key();
        for (extra, says) in [
            (
                format!("[[log.witnesses]]\nurl = \"ftp://x\"\nkey = \"{key}\"\n"),
                "must start with http",
            ),
            (
                format!("[[log.witnesses]]\nurl = \"http://x\"\nkey = \"{log_key}\"\n"),
                "unsupported signature algorithm 0x01",
            ),
            (
                format!(
                    "witness_quorum = 2\n[[log.witnesses]]\nurl = \"http://x\"\nkey = \"{key}\"\n"
                ),
                "between 1 and the 1 witnesses",
            ),
        ] {
            let msg = with(&extra).unwrap_err().to_string();
            assert!(msg.contains("log.witnesses") && msg.contains(says), "{msg}");
        }
    }

    #[test]
    fn a_folder_without_site_toml_is_not_a_site() {
        let dir = tempfile::tempdir().unwrap();
        let msg = Settings::load(dir.path(), &no_env, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("accesslog new-site"), "{msg}");
    }
}
