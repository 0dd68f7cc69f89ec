//! Where alerts are delivered: the `[alerts.delivery]` table of `site.toml`.
//!
//! Nothing is configured by default: a site delivers nowhere until it names a channel.
//! Each channel has its own minimum severity; the retry policy is shared. Unknown keys are
//! refused (with the key named), so a typo does not silently switch a channel off.
//!
//! ```toml
//! [alerts.delivery.email]
//! host = "mail.example.org"
//! port = 25
//! from = "Access Log <accesslog@example.org>"
//! to = ["security@example.org"]
//! digest_minutes = 60      # Low and Medium alerts, collected
//! max_per_hour = 20        # messages; the excess waits for the next digest
//!
//! [[alerts.delivery.webhooks]]
//! url = "http://siem.internal/hooks/accesslog"
//! secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]  # two while rotating
//! min_severity = "medium"
//!
//! [[alerts.delivery.slack]]
//! url = "http://chat.internal/hooks/T000/B000/XXXX"
//! min_severity = "high"
//!
//! [alerts.delivery.syslog]
//! address = "127.0.0.1:514"
//! transport = "udp"        # or "tcp" (octet-counted, RFC 6587)
//! format = "json"          # or "cef"
//!
//! [alerts.delivery.retry]
//! attempts = 5
//! initial_backoff_ms = 500
//! max_backoff_ms = 60000
//! ```
//!
//! [`DeliverySettings::check`] holds what can be judged here (counts, prefixes, ranges);
//! the delivery code checks the rest (that a secret's base64 decodes, that an address
//! parses) when it is built.

use serde::Deserialize;

/// The least severe alert a channel is sent, as written in `site.toml`: `"low"`,
/// `"medium"`, `"high"` or `"critical"`. The order is that of the alerts' severities.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum MinSeverity {
    /// Every alert.
    #[default]
    Low,
    Medium,
    High,
    Critical,
}

impl MinSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            MinSeverity::Low => "low",
            MinSeverity::Medium => "medium",
            MinSeverity::High => "high",
            MinSeverity::Critical => "critical",
        }
    }
}

/// `[alerts.delivery]`. The default configures nothing.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// `[alerts.delivery.email]`.
    pub email: Option<EmailSettings>,
    /// `[[alerts.delivery.webhooks]]`: Standard Webhooks receivers.
    pub webhooks: Vec<WebhookSettings>,
    /// `[[alerts.delivery.slack]]`: Slack-compatible incoming webhooks.
    pub slack: Vec<SlackSettings>,
    /// `[alerts.delivery.syslog]`.
    pub syslog: Option<SyslogSettings>,
    /// `[alerts.delivery.retry]`, for every channel.
    pub retry: RetrySettings,
    /// A PEM file of certificate authorities to trust for `https://` webhooks besides
    /// the system's (a private CA, or a receiver's own certificate).
    pub ca_file: Option<std::path::PathBuf>,
}

impl DeliverySettings {
    /// Whether any channel is configured.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.webhooks.is_empty()
            && self.slack.is_empty()
            && self.syslog.is_none()
    }

    /// What can be judged without the delivery code: each problem names its key.
    pub fn check(&self) -> Result<(), String> {
        let key = "alerts.delivery";
        if let Some(email) = &self.email {
            if email.host.trim().is_empty() {
                return Err(format!("{key}.email.host is empty"));
            }
            if email.from.trim().is_empty() {
                return Err(format!("{key}.email.from is empty"));
            }
            if email.to.is_empty() {
                return Err(format!("{key}.email.to names no recipient"));
            }
            if email.password.is_some() && email.password_env.is_some() {
                return Err(format!(
                    "{key}.email: give password or password_env, not both"
                ));
            }
            if (email.password.is_some() || email.password_env.is_some())
                && email.username.is_none()
            {
                return Err(format!("{key}.email: a password needs a username"));
            }
            if email.digest_minutes == 0 {
                return Err(format!("{key}.email.digest_minutes must be at least 1"));
            }
        }
        for (i, hook) in self.webhooks.iter().enumerate() {
            check_url(&hook.url, &format!("{key}.webhooks[{i}].url"))?;
            if hook.secrets.is_empty() || hook.secrets.len() > 2 {
                return Err(format!(
                    "{key}.webhooks[{i}].secrets must hold one secret, or two while rotating (it holds {})",
                    hook.secrets.len()
                ));
            }
            for secret in &hook.secrets {
                if !secret.starts_with("whsec_") || secret.len() <= "whsec_".len() {
                    return Err(format!(
                        "{key}.webhooks[{i}].secrets: a secret is written whsec_ followed by base64"
                    ));
                }
            }
        }
        for (i, slack) in self.slack.iter().enumerate() {
            check_url(&slack.url, &format!("{key}.slack[{i}].url"))?;
        }
        if let Some(syslog) = &self.syslog {
            if !syslog.address.contains(':') {
                return Err(format!(
                    "{key}.syslog.address must be host:port, e.g. \"127.0.0.1:514\""
                ));
            }
            if syslog.app_name.is_empty() || syslog.app_name.len() > 48 {
                return Err(format!(
                    "{key}.syslog.app_name must be 1 to 48 characters (RFC 5424)"
                ));
            }
        }
        let retry = &self.retry;
        if retry.attempts == 0 {
            return Err(format!("{key}.retry.attempts must be at least 1"));
        }
        if retry.initial_backoff_ms > retry.max_backoff_ms {
            return Err(format!(
                "{key}.retry.initial_backoff_ms ({}) is above max_backoff_ms ({})",
                retry.initial_backoff_ms, retry.max_backoff_ms
            ));
        }
        if retry.timeout_ms == 0 {
            return Err(format!("{key}.retry.timeout_ms must be at least 1"));
        }
        Ok(())
    }
}

fn check_url(url: &str, key: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("{key} must start with http:// or https://"))
    }
}

/// `[alerts.delivery.email]`: an SMTP relay. High and Critical alerts are sent at once,
/// one message each; Low and Medium ones are collected into a digest every
/// `digest_minutes`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub username: Option<String>,
    /// The password itself. Prefer `password_env`, which keeps it out of the file.
    #[serde(default)]
    pub password: Option<String>,
    /// The name of an environment variable that holds the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The sender, e.g. `"Access Log <accesslog@example.org>"`.
    pub from: String,
    pub to: Vec<String>,
    /// Upgrade the connection with STARTTLS before anything else is said.
    #[serde(default)]
    pub starttls: bool,
    #[serde(default = "default_digest_minutes")]
    pub digest_minutes: u32,
    /// Messages per hour at most; what is over waits for the next digest, which says how
    /// many were held back.
    #[serde(default = "default_max_per_hour")]
    pub max_per_hour: u32,
    #[serde(default)]
    pub min_severity: MinSeverity,
}

fn default_smtp_port() -> u16 {
    25
}

fn default_digest_minutes() -> u32 {
    60
}

fn default_max_per_hour() -> u32 {
    20
}

/// `[[alerts.delivery.webhooks]]`: a receiver of Standard Webhooks
/// (<https://www.standardwebhooks.com/>).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
    /// `whsec_` + base64 of the key. Two during a rotation: each message is signed with
    /// both, and the receiver accepts either.
    pub secrets: Vec<String>,
    #[serde(default)]
    pub min_severity: MinSeverity,
}

/// `[[alerts.delivery.slack]]`: an incoming webhook that takes `{"text": "…"}` (Slack,
/// Mattermost, Rocket.Chat and others speak it).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    pub url: String,
    #[serde(default)]
    pub min_severity: MinSeverity,
}

/// How syslog messages travel.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    /// One datagram per message (RFC 5426).
    #[default]
    Udp,
    /// Octet-counted frames over one connection per delivery (RFC 6587).
    Tcp,
}

/// What a syslog message's MSG part holds.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFormat {
    /// The alert as one JSON object.
    #[default]
    Json,
    /// ArcSight Common Event Format, one line.
    Cef,
}

/// The syslog facility the messages are filed under.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFacility {
    /// 4: security/authorization.
    Auth,
    /// 10: security/authorization, private: the usual home of messages that name users,
    /// which most syslog daemons write to a file only root reads. The default.
    #[default]
    Authpriv,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl SyslogFacility {
    /// The facility's number in RFC 5424's table.
    pub fn code(self) -> u8 {
        match self {
            SyslogFacility::Auth => 4,
            SyslogFacility::Authpriv => 10,
            SyslogFacility::Local0 => 16,
            SyslogFacility::Local1 => 17,
            SyslogFacility::Local2 => 18,
            SyslogFacility::Local3 => 19,
            SyslogFacility::Local4 => 20,
            SyslogFacility::Local5 => 21,
            SyslogFacility::Local6 => 22,
            SyslogFacility::Local7 => 23,
        }
    }
}

/// `[alerts.delivery.syslog]`: RFC 5424 messages to a collector.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogSettings {
    /// `host:port` of the collector.
    pub address: String,
    pub transport: SyslogTransport,
    pub format: SyslogFormat,
    pub facility: SyslogFacility,
    /// RFC 5424's APP-NAME (at most 48 printable characters).
    pub app_name: String,
    /// RFC 5424's HOSTNAME. Unset: this machine's host name.
    pub hostname: Option<String>,
    pub min_severity: MinSeverity,
}

impl Default for SyslogSettings {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:514".to_owned(),
            transport: SyslogTransport::Udp,
            format: SyslogFormat::Json,
            facility: SyslogFacility::Authpriv,
            app_name: "accesslog".to_owned(),
            hostname: None,
            min_severity: MinSeverity::Low,
        }
    }
}

/// `[alerts.delivery.retry]`: how a failed delivery is tried again, for every channel.
/// The wait doubles after each failure, from `initial_backoff_ms` up to `max_backoff_ms`;
/// after `attempts` tries the alert goes to the dead-letter list.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Tries in all, the first included.
    pub attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// How long one try may take (connecting, sending, the answer).
    pub timeout_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            attempts: 5,
            initial_backoff_ms: 500,
            max_backoff_ms: 60_000,
            timeout_ms: 10_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsed as it would be under `[alerts.delivery]` of site.toml.
    fn parse(text: &str) -> Result<DeliverySettings, String> {
        #[derive(Deserialize)]
        struct Alerts {
            delivery: DeliverySettings,
        }
        #[derive(Deserialize)]
        struct File {
            alerts: Alerts,
        }
        toml::from_str::<File>(text)
            .map(|f| f.alerts.delivery)
            .map_err(|e| e.to_string())
    }

    const SAMPLE: &str = r#"
[alerts.delivery.email]
host = "127.0.0.1"
port = 2525
username = "alerts"
password_env = "ACCESSLOG_SMTP_PASSWORD"
from = "Access Log <accesslog@example.org>"
to = ["security@example.org", "dpo@example.org"]
digest_minutes = 30

[[alerts.delivery.webhooks]]
url = "http://127.0.0.1:9000/hook"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2Vjb25k"]
min_severity = "medium"

[[alerts.delivery.webhooks]]
url = "http://127.0.0.1:9001/hook"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[alerts.delivery.slack]]
url = "http://127.0.0.1:9002/services/T/B/X"
min_severity = "critical"

[alerts.delivery.syslog]
address = "10.1.2.3:6514"
transport = "tcp"
format = "cef"
facility = "local0"

[alerts.delivery.retry]
attempts = 3
initial_backoff_ms = 10
"#;

    #[test]
    fn the_sample_parses_with_defaults_filled_in() {
        let d = parse(SAMPLE).unwrap();
        let email = d.email.as_ref().unwrap();
        assert_eq!(email.host, "127.0.0.1");
        assert_eq!(email.port, 2525);
        assert_eq!(email.username.as_deref(), Some("alerts"));
        assert_eq!(
            email.password_env.as_deref(),
            Some("ACCESSLOG_SMTP_PASSWORD")
        );
        assert_eq!(email.to.len(), 2);
        assert!(!email.starttls);
        assert_eq!(email.digest_minutes, 30);
        assert_eq!(email.max_per_hour, 20, "default");
        assert_eq!(email.min_severity, MinSeverity::Low, "default");

        assert_eq!(d.webhooks.len(), 2);
        assert_eq!(d.webhooks[0].secrets.len(), 2);
        assert_eq!(d.webhooks[0].min_severity, MinSeverity::Medium);
        assert_eq!(d.webhooks[1].min_severity, MinSeverity::Low);

        assert_eq!(d.slack[0].min_severity, MinSeverity::Critical);

        let syslog = d.syslog.as_ref().unwrap();
        assert_eq!(syslog.address, "10.1.2.3:6514");
        assert_eq!(syslog.transport, SyslogTransport::Tcp);
        assert_eq!(syslog.format, SyslogFormat::Cef);
        assert_eq!(syslog.facility.code(), 16);
        assert_eq!(syslog.app_name, "accesslog", "default");

        assert_eq!(
            d.retry,
            RetrySettings {
                attempts: 3,
                initial_backoff_ms: 10,
                max_backoff_ms: 60_000,
                timeout_ms: 10_000,
            }
        );
        d.check().unwrap();
        assert!(!d.is_empty());
    }

    #[test]
    fn nothing_is_configured_by_default() {
        let d = DeliverySettings::default();
        assert!(d.is_empty());
        assert_eq!(d.retry.attempts, 5);
        assert_eq!(d.retry.initial_backoff_ms, 500);
        assert_eq!(d.retry.max_backoff_ms, 60_000);
        d.check().unwrap();
        let empty: DeliverySettings = toml::from_str("").unwrap();
        assert_eq!(empty, d);
    }

    #[test]
    fn a_bare_syslog_table_takes_every_default() {
        let d = parse("[alerts.delivery.syslog]\n").unwrap();
        let s = d.syslog.unwrap();
        assert_eq!(s, SyslogSettings::default());
        assert_eq!(s.address, "127.0.0.1:514");
        assert_eq!(s.facility.code(), 10, "authpriv");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        for (text, key) in [
            ("[alerts.delivery]\nemial = 1\n", "emial"),
            (
                "[alerts.delivery.email]\nhost='h'\nfrom='a@b'\nto=['c@d']\ndigest_minute=5\n",
                "digest_minute",
            ),
            (
                "[[alerts.delivery.webhooks]]\nurl='http://x'\nsecrets=['whsec_AA==']\nsecret='x'\n",
                "secret",
            ),
            (
                "[[alerts.delivery.slack]]\nurl='http://x'\nchannel='#sec'\n",
                "channel",
            ),
            ("[alerts.delivery.syslog]\nport = 514\n", "port"),
            ("[alerts.delivery.retry]\nretries = 3\n", "retries"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(key), "{text:?} gave {err}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        let err = parse("[alerts.delivery.syslog]\ntransport = 'sctp'\n").unwrap_err();
        assert!(err.contains("sctp"), "{err}");
        let err = parse("[[alerts.delivery.slack]]\nurl='http://x'\nmin_severity='urgent'\n")
            .unwrap_err();
        assert!(err.contains("urgent"), "{err}");
        let err = parse("[alerts.delivery.email]\nhost='h'\nto=['c@d']\n").unwrap_err();
        assert!(err.contains("from"), "{err}");
    }

    #[test]
    fn check_names_the_key_at_fault() {
        let cases = [
            (
                "[[alerts.delivery.webhooks]]\nurl='http://x'\nsecrets=[]\n",
                "webhooks[0].secrets",
            ),
            (
                "[[alerts.delivery.webhooks]]\nurl='http://x'\nsecrets=['whsec_AA','whsec_AA','whsec_AA']\n",
                "webhooks[0].secrets",
            ),
            (
                "[[alerts.delivery.webhooks]]\nurl='http://x'\nsecrets=['AAAA']\n",
                "whsec_",
            ),
            ("[[alerts.delivery.slack]]\nurl='ftp://x'\n", "slack[0].url"),
            (
                "[alerts.delivery.syslog]\naddress='localhost'\n",
                "syslog.address",
            ),
            ("[alerts.delivery.retry]\nattempts=0\n", "retry.attempts"),
            (
                "[alerts.delivery.retry]\ninitial_backoff_ms=5000\nmax_backoff_ms=100\n",
                "initial_backoff_ms",
            ),
            (
                "[alerts.delivery.email]\nhost='h'\nfrom='a@b'\nto=[]\n",
                "email.to",
            ),
            (
                "[alerts.delivery.email]\nhost='h'\nfrom='a@b'\nto=['c@d']\npassword='x'\n",
                "username",
            ),
        ];
        for (text, key) in cases {
            let d = parse(text).unwrap();
            let err = d.check().unwrap_err();
            assert!(err.contains(key), "{text:?} gave {err}");
        }
    }

    #[test]
    fn severities_order_as_the_alerts_do() {
        assert!(MinSeverity::Low < MinSeverity::Medium);
        assert!(MinSeverity::High < MinSeverity::Critical);
        assert_eq!(MinSeverity::High.as_str(), "high");
    }
}
