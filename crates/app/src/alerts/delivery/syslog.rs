//! Syslog (RFC 5424), over UDP (RFC 5426: one datagram per message) or TCP (RFC 6587
//! octet counting: `LEN SP MESSAGE`, one connection per delivery).
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, where
//!
//! - PRI = facility × 8 + severity. The facility is `authpriv` (10) unless the site
//!   chooses another: the messages name users and what they took, and syslog daemons
//!   conventionally write authpriv to a file only root reads. The alert's severity maps
//!   to syslog's: Critical → 2 (crit), High → 3 (err), Medium → 4 (warning), Low → 5
//!   (notice). So a Critical alert under authpriv has PRI 82;
//! - TIMESTAMP is when the message was made (RFC 3339, UTC, microseconds); the alert's
//!   own time is in MSG;
//! - HOSTNAME is the setting, else this machine's name (from `/proc/sys/kernel/hostname`
//!   or `/etc/hostname`), else `-`; PROCID is the process id; MSGID is the rule (`R1`);
//! - SD is `[origin software="AccessLog" swVersion="…"]` (the IANA-registered `origin`
//!   element, so no private enterprise number is needed);
//! - MSG is the alert as JSON or as one CEF line, without a byte-order mark (JSON and CEF
//!   parsers downstream do not expect one; RFC 5424 allows MSG-ANY).
//!
//! CEF (`CEF:0|AccessLog|AccessLog|<version>|<rule>|<title>|<0–10>|<extension>`):
//!
//! - severity Low → 3, Medium → 5, High → 8, Critical → 10 (CEF's bands: 0–3 low, 4–6
//!   medium, 7–8 high, 9–10 very high);
//! - extension keys: `rt` (the alert's time, epoch ms), `suser` (the user), `externalId`
//!   (the alert id), `cat` (`accesslog.alert`), `msg` (the arithmetic, `; `-separated),
//!   `cs1Label=site cs1`, `cs2Label=seqs cs2` (comma-separated), `request` (the link);
//! - escaping: in the header `\` → `\\` and `|` → `\|`; in extension values `\` → `\\`,
//!   `=` → `\=`, a newline → `\n` and a carriage return → `\r`. Newlines cannot be
//!   escaped in the header, so there they become spaces.
//!
//! UDP gives no word of delivery: a send that leaves the machine counts as delivered.
//! Messages longer than the collector accepts (often 2 KiB over UDP) may be cut by it;
//! use TCP for alerts with long arithmetic.

use accesslog_core::Timestamp;
use accesslog_site::alert_delivery::{MinSeverity, SyslogFormat, SyslogSettings, SyslogTransport};
use tokio::io::AsyncWriteExt as _;

use super::Notice;
use super::retry::Failure;
use crate::alerts::lifecycle::Severity;

/// One configured collector.
pub(super) struct Syslog {
    pub address: String,
    pub transport: SyslogTransport,
    pub format: SyslogFormat,
    pub facility: u8,
    pub app_name: String,
    pub hostname: String,
    pub min: MinSeverity,
}

impl Syslog {
    pub fn new(s: &SyslogSettings) -> Self {
        let hostname = s.hostname.clone().unwrap_or_else(|| {
            ["/proc/sys/kernel/hostname", "/etc/hostname"]
                .iter()
                .find_map(|p| std::fs::read_to_string(p).ok())
                .map(|h| h.trim().to_owned())
                .unwrap_or_default()
        });
        Self {
            address: s.address.clone(),
            transport: s.transport,
            format: s.format,
            facility: s.facility.code(),
            app_name: header_field(&s.app_name, 48),
            hostname: header_field(&hostname, 255),
            min: s.min_severity,
        }
    }

    pub fn label(&self) -> String {
        let transport = match self.transport {
            SyslogTransport::Udp => "udp",
            SyslogTransport::Tcp => "tcp",
        };
        format!("syslog ({transport} {})", self.address)
    }

    /// The whole message, as RFC 5424 has it (not yet framed).
    pub fn message(&self, notice: &Notice, now: Timestamp) -> String {
        let msg = match self.format {
            SyslogFormat::Json => notice.to_json().to_string(),
            SyslogFormat::Cef => cef(notice),
        };
        format!(
            "<{pri}>1 {ts} {host} {app} {pid} {msgid} [origin software=\"AccessLog\" swVersion=\"{ver}\"] {msg}",
            pri = pri(self.facility, notice.severity),
            ts = now.to_rfc3339(),
            host = self.hostname,
            app = self.app_name,
            pid = std::process::id(),
            msgid = header_field(&notice.rule, 32),
            ver = sd_value(env!("CARGO_PKG_VERSION")),
        )
    }

    /// One try.
    pub async fn send(&self, message: &str) -> Result<(), Failure> {
        let target = tokio::net::lookup_host(&self.address)
            .await
            .map_err(|e| Failure::transient(format!("cannot resolve {}: {e}", self.address)))?
            .next()
            .ok_or_else(|| Failure::transient(format!("{} resolves to nothing", self.address)))?;
        match self.transport {
            SyslogTransport::Udp => {
                let local = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let socket = tokio::net::UdpSocket::bind(local)
                    .await
                    .map_err(|e| Failure::transient(format!("cannot open a UDP socket: {e}")))?;
                socket
                    .send_to(message.as_bytes(), target)
                    .await
                    .map_err(|e| Failure::transient(format!("cannot send to {target}: {e}")))?;
                Ok(())
            }
            SyslogTransport::Tcp => {
                let mut stream = tokio::net::TcpStream::connect(target)
                    .await
                    .map_err(|e| Failure::transient(format!("cannot connect to {target}: {e}")))?;
                let frame = octet_counted(message);
                stream
                    .write_all(frame.as_bytes())
                    .await
                    .map_err(|e| Failure::transient(format!("cannot write to {target}: {e}")))?;
                stream
                    .shutdown()
                    .await
                    .map_err(|e| Failure::transient(format!("cannot close {target}: {e}")))?;
                Ok(())
            }
        }
    }
}

/// RFC 6587 octet counting: the length in bytes, a space, the message.
pub fn octet_counted(message: &str) -> String {
    format!("{} {message}", message.len())
}

/// Syslog severity for an alert's.
pub fn syslog_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
    }
}

/// PRI = facility × 8 + severity.
pub fn pri(facility: u8, severity: Severity) -> u16 {
    u16::from(facility) * 8 + u16::from(syslog_severity(severity))
}

/// CEF severity (0–10) for an alert's.
pub fn cef_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
        Severity::Critical => 10,
    }
}

/// A header field of RFC 5424: printable US-ASCII without spaces, at most `max` long, or
/// `-` when nothing is left.
fn header_field(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".to_owned()
    } else {
        cleaned
    }
}

/// A structured-data parameter value: `"`, `\` and `]` escaped.
fn sd_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A CEF header field: `\` and `|` escaped; newlines, which the header cannot carry,
/// become spaces.
pub fn cef_header(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A CEF extension value: `\` and `=` escaped, newlines as `\n` and `\r`.
pub fn cef_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The alert as one CEF line.
pub fn cef(notice: &Notice) -> String {
    let seqs: Vec<String> = notice.seqs.iter().map(u64::to_string).collect();
    let mut line = format!(
        "CEF:0|AccessLog|AccessLog|{}|{}|{}|{}|rt={} suser={} externalId={} cat=accesslog.alert msg={} cs1Label=site cs1={} cs2Label=seqs cs2={}",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(&notice.rule),
        cef_header(&notice.title),
        cef_severity(notice.severity),
        notice.opened_at.as_micros().div_euclid(1000),
        cef_value(&notice.user),
        notice.alert_id,
        cef_value(&notice.arithmetic.join("; ")),
        cef_value(&notice.site),
        seqs.join(","),
    );
    if let Some(link) = &notice.link {
        line.push_str(" request=");
        line.push_str(&cef_value(link));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cef_escapes_what_it_must() {
        assert_eq!(cef_header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(cef_header("two\nlines\r"), "two lines ");
        assert_eq!(cef_header("x=y"), "x=y", "= needs no escape in the header");
        assert_eq!(cef_value(r"a=b\c"), r"a\=b\\c");
        assert_eq!(cef_value("two\nlines\r"), r"two\nlines\r");
        assert_eq!(cef_value("a|b"), "a|b", "| needs no escape in an extension");
    }

    fn notice(severity: Severity) -> Notice {
        Notice {
            alert_id: 42,
            rule: "R|9".into(),
            title: "Pipes | and \\ back".into(),
            user: "eve=admin".into(),
            severity,
            opened_at: Timestamp::from_micros(1_764_406_800_123_456),
            arithmetic: vec!["a = 1".into(), "line\nbreak".into()],
            seqs: vec![5, 6],
            link: Some("http://x/alerts/42?a=b".into()),
            site: "demo".into(),
        }
    }

    #[test]
    fn a_cef_line_is_whole() {
        let line = cef(&notice(Severity::High));
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            line,
            format!(
                "CEF:0|AccessLog|AccessLog|{version}|R\\|9|Pipes \\| and \\\\ back|8|rt=1764406800123 \
                 suser=eve\\=admin externalId=42 cat=accesslog.alert msg=a \\= 1; line\\nbreak \
                 cs1Label=site cs1=demo cs2Label=seqs cs2=5,6 request=http://x/alerts/42?a\\=b"
            )
        );
    }

    #[test]
    fn severities_map() {
        assert_eq!(pri(10, Severity::Critical), 82);
        assert_eq!(pri(10, Severity::Low), 85);
        assert_eq!(pri(16, Severity::High), 131);
        let sevs = [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ];
        assert_eq!(sevs.map(cef_severity), [3, 5, 8, 10]);
        assert_eq!(sevs.map(syslog_severity), [5, 4, 3, 2]);
    }

    #[test]
    fn header_fields_are_printable() {
        assert_eq!(header_field("my host", 255), "my_host");
        assert_eq!(header_field("", 48), "-");
        assert_eq!(header_field(&"a".repeat(60), 48).len(), 48);
        assert_eq!(sd_value(r#"a"b]c\"#), r#"a\"b\]c\\"#);
        assert_eq!(octet_counted("héllo"), "6 héllo");
    }

    #[test]
    fn the_message_has_every_rfc_5424_field() {
        let syslog = Syslog::new(&SyslogSettings {
            hostname: Some("box".into()),
            ..SyslogSettings::default()
        });
        let m = syslog.message(&notice(Severity::Critical), Timestamp::from_micros(0));
        let pid = std::process::id();
        let version = env!("CARGO_PKG_VERSION");
        let prefix = format!(
            "<82>1 1970-01-01T00:00:00.000000Z box accesslog {pid} R|9 [origin software=\"AccessLog\" swVersion=\"{version}\"] {{"
        );
        assert!(m.starts_with(&prefix), "{m}");
    }
}
