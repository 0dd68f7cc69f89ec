//! Alert delivery against real servers started here: an SMTP server (Python's
//! `aiosmtpd`), HTTP receivers (a small HTTP/1.1 server over a tokio listener, one of
//! which checks the Standard Webhooks signatures), and syslog listeners over UDP and TCP.
//!
//! The SMTP test needs `python3` with `aiosmtpd` (`pip install aiosmtpd`): without it the
//! test fails when `CI` is set, and is skipped with a note otherwise.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accesslog_app::alerts::delivery::{
    DeadLetter, DeliverySettings, Dispatcher, MemoryDeadLetters, Notice, webhook,
};
use accesslog_app::alerts::lifecycle::Severity;
use accesslog_core::{Clock, FixedClock, Timestamp};
use accesslog_site::alert_delivery::{
    EmailSettings, MinSeverity, RetrySettings, SlackSettings, SyslogFacility, SyslogFormat,
    SyslogSettings, SyslogTransport, WebhookSettings,
};
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// 2026-12-01T09:00:00Z.
const T0: Timestamp = Timestamp::from_micros(1_796_115_600_000_000);

fn notice(alert_id: u64, severity: Severity, user: &str) -> Notice {
    Notice {
        alert_id,
        rule: "R1".into(),
        title: "Burst of egress".into(),
        user: user.into(),
        severity,
        opened_at: T0,
        arithmetic: vec![
            format!("23 egress events by {user} in 10 minutes (threshold 20)"),
            "16 distinct documents (threshold 15)".into(),
        ],
        seqs: vec![101, 102, 103],
        link: Some(format!(
            "http://accesslog.test/app/access-log/alerts/{alert_id}"
        )),
        site: "demo".into(),
    }
}

/// Tiny waits so the retry tests are quick.
fn fast_retry(attempts: u32) -> RetrySettings {
    RetrySettings {
        attempts,
        initial_backoff_ms: 5,
        max_backoff_ms: 20,
        timeout_ms: 5_000,
    }
}

struct Setup {
    clock: Arc<FixedClock>,
    dead: Arc<MemoryDeadLetters>,
    dispatcher: Dispatcher,
}

fn setup(settings: &DeliverySettings) -> Setup {
    let clock = Arc::new(FixedClock::new(T0));
    let dead = Arc::new(MemoryDeadLetters::new());
    let dispatcher = Dispatcher::new(settings, clock.clone(), dead.clone(), "demo")
        .unwrap_or_else(|e| panic!("settings refused: {e}"));
    Setup {
        clock,
        dead,
        dispatcher,
    }
}

// ---------------------------------------------------------------------------------------
// An HTTP/1.1 receiver.

#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    /// The status it was answered with.
    status: u16,
}

#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Answers the n-th request with `script[n]`, and `then` after the script runs out.
    /// With `secrets`, a request whose Standard Webhooks signature fails for any one of
    /// them (each checked on its own, as a receiver holding only that secret would) is
    /// answered 401 instead.
    async fn start(
        script: Vec<u16>,
        then: u16,
        secrets: Vec<String>,
        clock: Arc<FixedClock>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let Some((method, path, headers, body)) = read_request(&mut stream).await else {
                    continue;
                };
                let n = log.lock().unwrap().len();
                let mut status = script.get(n).copied().unwrap_or(then);
                for secret in &secrets {
                    if let Err(e) = webhook::verify(secret, &headers, &body, clock.now()) {
                        eprintln!("receiver: signature refused for {secret}: {e}");
                        status = 401;
                    }
                }
                log.lock().unwrap().push(Received {
                    method,
                    path,
                    headers,
                    body,
                    status,
                });
                let response = format!(
                    "HTTP/1.1 {status} Scripted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        Self { addr, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Reads one request: the head up to the blank line, then `content-length` bytes.
async fn read_request(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Option<(String, String, HeaderMap, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some((method, path, headers, body))
}

fn secret(key: &[u8]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

fn webhook_settings(url: String, secrets: Vec<String>, min: MinSeverity) -> WebhookSettings {
    WebhookSettings {
        url,
        secrets,
        min_severity: min,
    }
}

// ---------------------------------------------------------------------------------------
// Standard Webhooks.

#[tokio::test]
async fn webhooks_are_signed_with_both_secrets_during_a_rotation() {
    let old = secret(b"the old key, thirty-two bytes ok");
    let new = secret(b"the new key, thirty-two bytes ok");
    let clock = Arc::new(FixedClock::new(T0));
    let receiver =
        Receiver::start(vec![], 204, vec![old.clone(), new.clone()], clock.clone()).await;
    let critical_only = Receiver::start(vec![], 200, vec![], clock.clone()).await;
    let settings = DeliverySettings {
        webhooks: vec![
            webhook_settings(
                receiver.url("/hooks/accesslog"),
                vec![old.clone(), new.clone()],
                MinSeverity::Medium,
            ),
            webhook_settings(
                critical_only.url("/critical"),
                vec![old.clone()],
                MinSeverity::Critical,
            ),
        ],
        retry: fast_retry(3),
        ..Default::default()
    };
    let dead = Arc::new(MemoryDeadLetters::new());
    let dispatcher = Dispatcher::new(&settings, clock.clone(), dead.clone(), "demo").unwrap();

    dispatcher
        .deliver(&notice(7, Severity::High, "alice"))
        .await;
    dispatcher.deliver(&notice(8, Severity::Low, "bob")).await;

    let got = receiver.received();
    assert_eq!(got.len(), 1, "the Low alert is below the filter: {got:?}");
    let r = &got[0];
    assert_eq!(r.status, 204, "both signatures verified");
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/accesslog");
    assert_eq!(r.headers["content-type"], "application/json");
    let id = r.headers["webhook-id"].to_str().unwrap();
    assert!(id.starts_with("msg_7_"), "{id}");
    assert_eq!(r.headers["webhook-timestamp"], "1796115600");
    let signature = r.headers["webhook-signature"].to_str().unwrap();
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    assert!(signature.split(' ').all(|s| s.starts_with("v1,")));

    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "accesslog.alert");
    assert_eq!(body["timestamp"], "2026-12-01T09:00:00.000000Z");
    let data = &body["data"];
    assert_eq!(data["alert_id"], 7);
    assert_eq!(data["rule"], "R1");
    assert_eq!(data["title"], "Burst of egress");
    assert_eq!(data["user"], "alice");
    assert_eq!(data["severity"], "high");
    assert_eq!(data["seqs"], serde_json::json!([101, 102, 103]));
    assert_eq!(data["site"], "demo");
    assert_eq!(
        data["link"],
        "http://accesslog.test/app/access-log/alerts/7"
    );
    assert!(
        data["arithmetic"][0]
            .as_str()
            .unwrap()
            .contains("23 egress events")
    );

    // A receiver that holds neither secret refuses it; one tampered byte too.
    let stranger = secret(b"not one of ours");
    assert!(webhook::verify(&stranger, &r.headers, &r.body, clock.now()).is_err());
    let mut tampered = r.body.clone();
    tampered[10] ^= 1;
    assert!(webhook::verify(&old, &r.headers, &tampered, clock.now()).is_err());

    assert!(
        critical_only.received().is_empty(),
        "High is below Critical"
    );
    assert!(dead.list().is_empty(), "{:?}", dead.list());
}

#[tokio::test]
async fn a_webhook_that_fails_twice_gets_the_same_id_each_time() {
    let key = secret(b"key");
    let clock = Arc::new(FixedClock::new(T0));
    let receiver = Receiver::start(vec![500, 500], 200, vec![key.clone()], clock.clone()).await;
    let settings = DeliverySettings {
        webhooks: vec![webhook_settings(
            receiver.url("/h"),
            vec![key],
            MinSeverity::Low,
        )],
        retry: fast_retry(5),
        ..Default::default()
    };
    let dead = Arc::new(MemoryDeadLetters::new());
    let dispatcher = Dispatcher::new(&settings, clock, dead.clone(), "demo").unwrap();
    dispatcher
        .deliver(&notice(3, Severity::Medium, "carol"))
        .await;

    let got = receiver.received();
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200]);
    let ids: Vec<&HeaderValue> = got.iter().map(|r| &r.headers["webhook-id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert!(got.iter().all(|r| r.body == got[0].body));
    assert!(dead.list().is_empty());

    // The next message has another id.
    dispatcher
        .deliver(&notice(4, Severity::Medium, "carol"))
        .await;
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    assert_ne!(got[3].headers["webhook-id"], got[0].headers["webhook-id"]);
}

#[tokio::test]
async fn a_webhook_that_always_fails_ends_as_a_dead_letter() {
    let key = secret(b"key");
    let receiver_clock = Arc::new(FixedClock::new(T0));
    let receiver = Receiver::start(vec![], 500, vec![], receiver_clock).await;
    let settings = DeliverySettings {
        webhooks: vec![webhook_settings(
            receiver.url("/h/secret-token"),
            vec![key],
            MinSeverity::Low,
        )],
        retry: fast_retry(4),
        ..Default::default()
    };
    let Setup {
        clock,
        dead,
        dispatcher,
    } = setup(&settings);
    clock.advance(Duration::from_secs(30));
    dispatcher
        .deliver(&notice(5, Severity::Critical, "dave"))
        .await;

    assert_eq!(receiver.received().len(), 4);
    let letters = dead.list();
    assert_eq!(
        letters,
        [DeadLetter {
            channel: format!("webhook 1 ({})", receiver.addr),
            alert_id: 5,
            attempts: 4,
            last_error: "the receiver answered 500 Internal Server Error".into(),
            at: T0.plus(Duration::from_secs(30)),
        }]
    );
    assert!(!letters[0].channel.contains("secret-token"));
}

#[tokio::test]
async fn a_webhook_refused_with_400_is_not_retried() {
    let key = secret(b"key");
    let clock = Arc::new(FixedClock::new(T0));
    let receiver = Receiver::start(vec![], 400, vec![], clock.clone()).await;
    let settings = DeliverySettings {
        webhooks: vec![webhook_settings(
            receiver.url("/h"),
            vec![key],
            MinSeverity::Low,
        )],
        retry: fast_retry(5),
        ..Default::default()
    };
    let dead = Arc::new(MemoryDeadLetters::new());
    let dispatcher = Dispatcher::new(&settings, clock, dead.clone(), "demo").unwrap();
    dispatcher.deliver(&notice(6, Severity::High, "erin")).await;

    assert_eq!(receiver.received().len(), 1);
    let letters = dead.list();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts, 1);
    assert_eq!(letters[0].alert_id, 6);
    assert!(letters[0].last_error.contains("400"), "{letters:?}");
}

#[tokio::test]
async fn a_receiver_that_is_down_is_retried_then_dead_lettered() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let settings = DeliverySettings {
        slack: vec![SlackSettings {
            url: format!("http://127.0.0.1:{port}/services/T/B/X"),
            min_severity: MinSeverity::Low,
        }],
        retry: fast_retry(3),
        ..Default::default()
    };
    let Setup {
        dead, dispatcher, ..
    } = setup(&settings);
    dispatcher.deliver(&notice(9, Severity::Low, "fay")).await;
    let letters = dead.list();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts, 3);
    assert!(
        letters[0].last_error.contains("could not connect"),
        "{letters:?}"
    );
    assert!(
        !letters[0].last_error.contains("/services/"),
        "no URL path in errors"
    );
}

// ---------------------------------------------------------------------------------------
// Slack.

#[tokio::test]
async fn slack_gets_a_text_with_rule_user_and_arithmetic() {
    let clock = Arc::new(FixedClock::new(T0));
    let receiver = Receiver::start(vec![], 200, vec![], clock.clone()).await;
    let settings = DeliverySettings {
        slack: vec![SlackSettings {
            url: receiver.url("/services/T000/B000/XXXX"),
            min_severity: MinSeverity::High,
        }],
        retry: fast_retry(2),
        ..Default::default()
    };
    let dead = Arc::new(MemoryDeadLetters::new());
    let dispatcher = Dispatcher::new(&settings, clock, dead.clone(), "demo").unwrap();
    dispatcher
        .deliver(&notice(11, Severity::Medium, "gus"))
        .await;
    dispatcher
        .deliver(&notice(12, Severity::Critical, "hana"))
        .await;

    let got = receiver.received();
    assert_eq!(got.len(), 1, "Medium is below the filter");
    assert_eq!(got[0].path, "/services/T000/B000/XXXX");
    assert_eq!(got[0].headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "just text: {body}");
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("*CRITICAL* alert 12 on demo"), "{text}");
    assert!(text.contains("R1 Burst of egress"), "{text}");
    assert!(text.contains("`hana`"), "{text}");
    assert!(text.contains("• 23 egress events by hana"), "{text}");
    assert!(text.contains("Entries: 101, 102, 103"), "{text}");
    assert!(text.contains("<http://accesslog.test/app/access-log/alerts/12|Open the alert>"));
    assert!(dead.list().is_empty());
}

// ---------------------------------------------------------------------------------------
// Syslog.

fn syslog_settings(
    addr: SocketAddr,
    transport: SyslogTransport,
    format: SyslogFormat,
) -> SyslogSettings {
    SyslogSettings {
        address: addr.to_string(),
        transport,
        format,
        hostname: Some("accesslog-host".into()),
        ..Default::default()
    }
}

/// Splits an RFC 5424 message into PRI, the header fields and what follows SD.
fn split_5424(message: &str) -> (u16, Vec<String>, String) {
    let rest = message.strip_prefix('<').expect("starts with <PRI>");
    let (pri, rest) = rest.split_once('>').expect("PRI closes");
    let mut fields = Vec::new();
    let mut rest = rest;
    for _ in 0..6 {
        let (field, tail) = rest.split_once(' ').expect("a header field");
        fields.push(field.to_owned());
        rest = tail;
    }
    (
        pri.parse().expect("PRI is a number"),
        fields,
        rest.to_owned(),
    )
}

#[tokio::test]
async fn syslog_over_udp_carries_rfc_5424_with_json() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let settings = DeliverySettings {
        syslog: Some(SyslogSettings {
            min_severity: MinSeverity::Medium,
            ..syslog_settings(
                socket.local_addr().unwrap(),
                SyslogTransport::Udp,
                SyslogFormat::Json,
            )
        }),
        retry: fast_retry(2),
        ..Default::default()
    };
    let Setup {
        dead, dispatcher, ..
    } = setup(&settings);
    dispatcher.deliver(&notice(1, Severity::Low, "ivy")).await; // below the filter
    dispatcher
        .deliver(&notice(2, Severity::Critical, "ivy"))
        .await;

    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
        .await
        .expect("a datagram")
        .unwrap();
    let message = std::str::from_utf8(&buf[..n]).unwrap();
    let (pri, fields, rest) = split_5424(message);
    assert_eq!(pri, 10 * 8 + 2, "authpriv, crit: {message}");
    assert_eq!(fields[0], "1", "version");
    assert_eq!(fields[1], "2026-12-01T09:00:00.000000Z");
    assert_eq!(fields[2], "accesslog-host");
    assert_eq!(fields[3], "accesslog");
    assert_eq!(fields[4], std::process::id().to_string());
    assert_eq!(fields[5], "R1");
    let sd = format!(
        "[origin software=\"AccessLog\" swVersion=\"{}\"] ",
        env!("CARGO_PKG_VERSION")
    );
    let json = rest
        .strip_prefix(&sd)
        .unwrap_or_else(|| panic!("SD: {rest}"));
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["alert_id"], 2);
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["user"], "ivy");
    assert_eq!(v["opened_at"], "2026-12-01T09:00:00.000000Z");

    // Only the one: the Low alert was filtered out.
    let more = tokio::time::timeout(Duration::from_millis(300), socket.recv(&mut buf)).await;
    assert!(more.is_err(), "a second datagram arrived");
    assert!(dead.list().is_empty());
}

#[tokio::test]
async fn syslog_over_tcp_is_octet_counted_cef() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let settings = DeliverySettings {
        syslog: Some(SyslogSettings {
            facility: SyslogFacility::Local0,
            app_name: "access log".into(),
            ..syslog_settings(
                listener.local_addr().unwrap(),
                SyslogTransport::Tcp,
                SyslogFormat::Cef,
            )
        }),
        retry: fast_retry(2),
        ..Default::default()
    };
    let Setup {
        dead, dispatcher, ..
    } = setup(&settings);
    let reader = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        all
    });
    let mut n = notice(77, Severity::High, "mal=lory\\x");
    n.title = "Pipes | and \\ back".into();
    n.arithmetic = vec!["a = 1\nnext line".into()];
    dispatcher.deliver(&n).await;

    let frame = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the collector read the frame")
        .unwrap();
    let frame = String::from_utf8(frame).unwrap();
    let (length, message) = frame.split_once(' ').unwrap();
    assert_eq!(
        length.parse::<usize>().unwrap(),
        message.len(),
        "octet counting: {frame}"
    );
    assert!(!message.ends_with('\n'), "no trailer with octet counting");

    let (pri, fields, rest) = split_5424(message);
    assert_eq!(pri, 16 * 8 + 3, "local0, err");
    assert_eq!(fields[3], "access_log", "APP-NAME has no spaces");
    let cef = rest.split_once("] ").unwrap().1;
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        cef.starts_with(&format!(
            "CEF:0|AccessLog|AccessLog|{version}|R1|Pipes \\| and \\\\ back|8|"
        )),
        "{cef}"
    );
    assert!(cef.contains(" suser=mal\\=lory\\\\x "), "{cef}");
    assert!(cef.contains(" msg=a \\= 1\\nnext line "), "{cef}");
    assert!(cef.contains(" externalId=77 "), "{cef}");
    assert!(cef.contains("|8|rt=1796115600000 "), "{cef}");
    assert!(cef.contains(" cs2Label=seqs cs2=101,102,103"), "{cef}");
    assert!(
        cef.ends_with(" request=http://accesslog.test/app/access-log/alerts/77"),
        "{cef}"
    );
    assert!(!cef.contains('\n'));
    assert!(dead.list().is_empty());
}

// ---------------------------------------------------------------------------------------
// Email, through aiosmtpd.

const SMTP_SERVER: &str = r#"
import email, json, os, sys
from email import policy
from aiosmtpd.controller import Controller

class Handler:
    def __init__(self, out):
        self.out = out
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        record = {
            "tls": session.ssl is not None,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "date": str(msg["date"]),
            "body": msg.get_content(),
        }
        tmp = os.path.join(self.out, "%04d.tmp" % self.n)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out, "%04d.json" % self.n))
        return "250 Message accepted for delivery"

tls = {}
if len(sys.argv) > 4:
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    tls = {"tls_context": context, "require_starttls": True}
controller = Controller(Handler(sys.argv[2]), hostname="127.0.0.1", port=int(sys.argv[1]), **tls)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"#;

struct Smtp {
    child: Child,
    port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts aiosmtpd, or says why it cannot (`None` means skip).
fn start_smtp() -> Option<Smtp> {
    start_smtp_with(None)
}

/// Starts aiosmtpd; with a certificate and key (PEM files), it requires STARTTLS.
fn start_smtp_with(tls: Option<(&Path, &Path)>) -> Option<Smtp> {
    let missing = |why: String| {
        if std::env::var_os("CI").is_some() {
            panic!("the SMTP test needs python3 with aiosmtpd (pip install aiosmtpd): {why}");
        }
        eprintln!("SKIPPED the SMTP test: {why} (pip install aiosmtpd to run it)");
        None
    };
    let check = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output();
    match check {
        Err(e) => return missing(format!("python3 cannot be run: {e}")),
        Ok(o) if !o.status.success() => {
            return missing(format!(
                "python3 has no aiosmtpd: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(_) => {}
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("smtp_server.py");
    std::fs::write(&script, SMTP_SERVER).unwrap();
    let out = dir.path().join("mail");
    std::fs::create_dir(&out).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new("python3");
    command.arg(&script).arg(port.to_string()).arg(&out);
    if let Some((cert, key)) = tls {
        command.arg(cert).arg(key);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let smtp = Smtp {
        child,
        port,
        out,
        _dir: dir,
    };
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) if line.trim() == "ready" => Some(smtp),
        other => panic!("aiosmtpd did not start: {other:?}"),
    }
}

fn mails(out: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let mut m: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            // The body as sent has CRLF line ends; compare lines.
            let body = m["body"].as_str().unwrap().replace("\r\n", "\n");
            m["body"] = body.into();
            m
        })
        .collect()
}

fn email_settings(port: u16, max_per_hour: u32, to: &str) -> EmailSettings {
    EmailSettings {
        host: "127.0.0.1".into(),
        port,
        username: None,
        password: None,
        password_env: None,
        from: "Access Log <accesslog@example.org>".into(),
        to: vec![to.into()],
        starttls: false,
        digest_minutes: 60,
        max_per_hour,
        min_severity: MinSeverity::Low,
    }
}

#[tokio::test]
async fn email_sends_urgent_alerts_at_once_and_the_rest_as_a_digest() {
    let Some(smtp) = start_smtp() else {
        return;
    };

    // -- High at once, Low in the hourly digest.
    let settings = DeliverySettings {
        email: Some(email_settings(smtp.port, 20, "security@example.org")),
        retry: fast_retry(3),
        ..Default::default()
    };
    let Setup {
        clock,
        dead,
        dispatcher,
    } = setup(&settings);
    dispatcher
        .deliver(&notice(1, Severity::High, "alice"))
        .await;
    let got = mails(&smtp.out);
    assert_eq!(got.len(), 1, "the High alert went at once");
    let m = &got[0];
    assert_eq!(m["mail_from"], "accesslog@example.org");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["security@example.org"]));
    assert_eq!(
        m["subject"],
        "[Access Log demo] HIGH R1 Burst of egress - alice"
    );
    assert_eq!(
        m["date"], "Tue, 01 Dec 2026 09:00:00 +0000",
        "the injected clock"
    );
    let body = m["body"].as_str().unwrap();
    for needle in [
        "Alert 1 on site demo: Burst of egress",
        "Severity:  high",
        "User:      alice",
        "  - 23 egress events by alice in 10 minutes (threshold 20)",
        "Entries:   101, 102, 103",
        "Open it:   http://accesslog.test/app/access-log/alerts/1",
    ] {
        assert!(body.contains(needle), "{needle:?} not in\n{body}");
    }

    for (id, user) in [(2, "bob"), (3, "carol"), (4, "dave")] {
        dispatcher.deliver(&notice(id, Severity::Low, user)).await;
    }
    dispatcher
        .deliver(&notice(5, Severity::Medium, "erin"))
        .await;
    dispatcher.tick().await;
    assert_eq!(mails(&smtp.out).len(), 1, "the Low and Medium alerts wait");
    assert_eq!(dispatcher.digest_waiting(), 4);

    clock.advance(Duration::from_secs(59 * 60));
    dispatcher.tick().await;
    assert_eq!(mails(&smtp.out).len(), 1, "not yet due");

    clock.advance(Duration::from_secs(60));
    dispatcher.tick().await;
    let got = mails(&smtp.out);
    assert_eq!(got.len(), 2, "one digest");
    let digest = &got[1];
    assert_eq!(digest["subject"], "[Access Log demo] digest: 4 alerts");
    let body = digest["body"].as_str().unwrap();
    assert!(
        body.starts_with("4 alerts since the last digest."),
        "{body}"
    );
    for needle in [
        "Alert 2 on site demo",
        "User:      bob",
        "User:      carol",
        "Alert 4 on site demo",
        "Severity:  medium",
        "User:      erin",
    ] {
        assert!(body.contains(needle), "{needle:?} not in\n{body}");
    }
    assert!(!body.contains("held back"), "{body}");

    clock.advance(Duration::from_secs(3600));
    dispatcher.tick().await;
    assert_eq!(mails(&smtp.out).len(), 2, "an empty digest is not sent");
    assert!(dead.list().is_empty(), "{:?}", dead.list());

    // -- The hourly cap: the second urgent alert waits for the digest, which says so.
    let settings = DeliverySettings {
        email: Some(email_settings(smtp.port, 1, "security@example.org")),
        retry: fast_retry(3),
        ..Default::default()
    };
    let Setup {
        clock,
        dead,
        dispatcher,
    } = setup(&settings);
    dispatcher
        .deliver(&notice(10, Severity::Critical, "fay"))
        .await;
    dispatcher.deliver(&notice(11, Severity::High, "gus")).await;
    let got = mails(&smtp.out);
    assert_eq!(got.len(), 3, "one sent, one held back");
    assert_eq!(
        got[2]["subject"],
        "[Access Log demo] CRITICAL R1 Burst of egress - fay"
    );
    clock.advance(Duration::from_secs(3600));
    dispatcher.tick().await;
    let got = mails(&smtp.out);
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[3]["subject"],
        "[Access Log demo] digest: 1 alert (1 held back)"
    );
    let body = got[3]["body"].as_str().unwrap();
    assert!(
        body.contains("the cap of 1 messages per hour was reached"),
        "{body}"
    );
    assert!(
        body.contains("(held back by the hourly cap)\nAlert 11 on site demo"),
        "{body}"
    );
    assert!(dead.list().is_empty());

    // -- A refusal (550) is not retried: one try, then a dead letter.
    let settings = DeliverySettings {
        email: Some(email_settings(smtp.port, 20, "rejected@example.org")),
        retry: fast_retry(5),
        ..Default::default()
    };
    let Setup {
        dead, dispatcher, ..
    } = setup(&settings);
    dispatcher
        .deliver(&notice(20, Severity::High, "hana"))
        .await;
    let letters = dead.list();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(
        letters[0].channel,
        format!("email (127.0.0.1:{})", smtp.port)
    );
    assert_eq!(letters[0].attempts, 1);
    assert!(
        letters[0].last_error.contains("No such user"),
        "{letters:?}"
    );
    assert_eq!(mails(&smtp.out).len(), 4);

    // -- At shutdown, what waits for the digest is flushed.
    let settings = DeliverySettings {
        email: Some(email_settings(smtp.port, 20, "security@example.org")),
        retry: fast_retry(3),
        ..Default::default()
    };
    let Setup {
        dead, dispatcher, ..
    } = setup(&settings);
    dispatcher.deliver(&notice(30, Severity::Low, "ivy")).await;
    dispatcher.tick().await;
    assert_eq!(mails(&smtp.out).len(), 4, "not due");
    dispatcher.flush().await;
    let got = mails(&smtp.out);
    assert_eq!(got.len(), 5);
    assert_eq!(got[4]["subject"], "[Access Log demo] digest: 1 alert");
    assert!(dead.list().is_empty());
}

/// Webhooks go over https: a TLS receiver with a self-signed certificate for
/// `localhost`, trusted through `[alerts.delivery] ca_file`, gets the signed alert; the
/// same receiver without the CA trusted is refused by certificate checking and the notice
/// ends as a dead letter.
#[tokio::test]
async fn webhooks_go_over_https_when_the_receiver_is_trusted() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, cert.cert.pem()).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            if let Some((_, _, _, body)) = read_request(&mut tls).await {
                log.lock().unwrap().push(body);
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            }
        }
    });
    let secret_key = secret(b"a webhook secret over tls");
    let url = format!("https://localhost:{port}/hooks/alerts");
    let mut settings = DeliverySettings {
        webhooks: vec![webhook_settings(url, vec![secret_key], MinSeverity::Low)],
        retry: fast_retry(2),
        ..DeliverySettings::default()
    };
    settings.ca_file = Some(ca_file);
    let s = setup(&settings);
    s.dispatcher
        .deliver(&notice(7, Severity::High, "hr@example.com"))
        .await;
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "delivered over https");
    let body: serde_json::Value = serde_json::from_slice(&got[0]).unwrap();
    assert_eq!(body["data"]["alert_id"], 7, "{body}");
    assert!(s.dead.list().is_empty());

    // Without the CA, the certificate is not trusted: nothing is sent, a dead letter says why.
    settings.ca_file = None;
    let s = setup(&settings);
    s.dispatcher
        .deliver(&notice(8, Severity::High, "hr@example.com"))
        .await;
    assert_eq!(received.lock().unwrap().len(), 1, "no second delivery");
    let dead = s.dead.list();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].alert_id, 8);
}

/// STARTTLS: a relay that requires it gets the alert over TLS when its certificate is
/// trusted through `ca_file`; without that trust nothing is sent in clear: a dead letter.
#[tokio::test]
async fn email_goes_over_starttls_when_asked() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (keys.path().join("cert.pem"), keys.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let Some(smtp) = start_smtp_with(Some((&cert_file, &key_file))) else {
        return;
    };
    let mut email = email_settings(smtp.port, 20, "security@example.org");
    email.starttls = true;
    let mut settings = DeliverySettings {
        email: Some(email),
        retry: fast_retry(2),
        ..Default::default()
    };
    settings.ca_file = Some(cert_file.clone());
    let s = setup(&settings);
    s.dispatcher
        .deliver(&notice(1, Severity::High, "alice"))
        .await;
    let got = mails(&smtp.out);
    assert_eq!(got.len(), 1, "delivered: {:?}", s.dead.list());
    assert_eq!(got[0]["tls"], true, "over STARTTLS");
    assert!(s.dead.list().is_empty());

    settings.ca_file = None;
    let s = setup(&settings);
    s.dispatcher
        .deliver(&notice(2, Severity::High, "alice"))
        .await;
    assert_eq!(
        mails(&smtp.out).len(),
        1,
        "nothing sent without a trusted certificate"
    );
    assert_eq!(s.dead.list().len(), 1);
}
