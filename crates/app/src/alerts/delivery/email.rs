//! Email over SMTP.
//!
//! - High and Critical alerts are sent at once, one message each.
//! - Low and Medium ones wait for the digest, one message every `digest_minutes`
//!   (checked by [`super::Dispatcher::tick`]; an empty digest is not sent).
//! - At most `max_per_hour` messages in any sliding hour. A High or Critical alert over
//!   the cap waits for the next digest, which says how many were held back. The digest
//!   itself counts toward the cap but is never held back by it, so nothing is lost: at
//!   worst an urgent alert arrives one digest interval late.
//!
//! SMTP is `lettre`'s (its SMTP client and message builder only, no TLS, no pool: four
//! small crates beyond what the tree already had), rather than a client written here:
//! it gets the protocol's corners right (dot-stuffing, multi-line replies, header
//! encoding, line lengths), which a hand-written client would have to earn by testing.
//! Each message opens its own connection; alerts are rare enough.
//!
//! With `starttls = true` the connection must be upgraded with STARTTLS before anything
//! else is said (a relay that does not offer it is a failure, not a reason to go on in
//! clear), over rustls with the platform's roots plus `[alerts.delivery] ca_file`.
//! Without it, mail goes in clear to a relay the site trusts (a local Postfix, a relay on
//! the same network). SMTPS (TLS from the first byte, port 465) is not offered.
//! Credentials (`username`, `password` or `password_env`) are offered with AUTH PLAIN or
//! LOGIN where the relay advertises them; over a plain connection they travel in clear.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use accesslog_core::Timestamp;
use accesslog_site::alert_delivery::{EmailSettings, MinSeverity};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use super::Notice;
use super::retry::Failure;

const HOUR: Duration = Duration::from_secs(3600);

pub(super) struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    pub min: MinSeverity,
    every: Duration,
    max_per_hour: usize,
    state: Mutex<State>,
    pub label: String,
}

impl std::fmt::Debug for Email {
    // By hand: the transport holds the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

struct State {
    /// Waiting for the digest; `true` for an alert held back by the cap.
    waiting: Vec<(Notice, bool)>,
    /// When each message of the last hour was sent.
    sent: VecDeque<Timestamp>,
    next_digest: Timestamp,
}

/// A digest taken out of the queue, to be sent.
pub(super) struct Digest {
    pub notices: Vec<(Notice, bool)>,
}

impl Email {
    pub fn new(
        s: &EmailSettings,
        timeout: Duration,
        now: Timestamp,
        extra_roots: Option<&std::path::Path>,
    ) -> Result<Self, String> {
        let key = "alerts.delivery.email";
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|e| format!("{key}.from {:?}: {e}", s.from))?;
        let to =
            s.to.iter()
                .map(|t| t.parse().map_err(|e| format!("{key}.to {t:?}: {e}")))
                .collect::<Result<Vec<Mailbox>, String>>()?;
        if to.is_empty() {
            return Err(format!("{key}.to names no recipient"));
        }
        let password = match (&s.password, &s.password_env) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                format!("{key}.password_env: the environment variable {var} is not set")
            })?),
            (None, None) => None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            .port(s.port)
            .timeout(Some(timeout));
        if s.starttls {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut tls = TlsParameters::builder(s.host.clone());
            if let Some(path) = extra_roots {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("alerts.delivery.ca_file: {}: {e}", path.display()))?;
                let cert =
                    lettre::transport::smtp::client::Certificate::from_pem(&pem).map_err(|e| {
                        format!(
                            "alerts.delivery.ca_file: {} holds no PEM certificate: {e}",
                            path.display()
                        )
                    })?;
                tls = tls.add_root_certificate(cert);
            }
            let tls = tls
                .build_rustls()
                .map_err(|e| format!("{key}.starttls: {e}"))?;
            builder = builder.tls(Tls::Required(tls));
        }
        match (&s.username, password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password));
            }
            (None, None) => {}
            _ => {
                return Err(format!(
                    "{key}: a username needs a password, and the reverse"
                ));
            }
        }
        let every = Duration::from_secs(u64::from(s.digest_minutes.max(1)) * 60);
        Ok(Self {
            transport: builder.build(),
            from,
            to,
            min: s.min_severity,
            every,
            max_per_hour: usize::try_from(s.max_per_hour).unwrap_or(usize::MAX),
            state: Mutex::new(State {
                waiting: Vec::new(),
                sent: VecDeque::new(),
                next_digest: now.plus(every),
            }),
            label: format!("email ({}:{})", s.host, s.port),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place under the hourly cap for one message now, if there is one.
    pub fn take_slot(&self, now: Timestamp) -> bool {
        let mut state = self.lock();
        forget_before(&mut state.sent, now.minus(HOUR));
        if state.sent.len() < self.max_per_hour {
            state.sent.push_back(now);
            true
        } else {
            false
        }
    }

    /// Keeps an alert for the next digest (`held` when the cap kept it from going now).
    pub fn queue(&self, notice: &Notice, held: bool) {
        self.lock().waiting.push((notice.clone(), held));
    }

    /// The digest, when one is due and something waits. The next falls due one interval
    /// later.
    pub fn take_due_digest(&self, now: Timestamp) -> Option<Digest> {
        self.take_digest(now, false)
    }

    /// The digest now, due or not, if something waits (for a shutdown). The schedule
    /// goes on from now.
    pub fn take_digest_now(&self, now: Timestamp) -> Option<Digest> {
        self.take_digest(now, true)
    }

    fn take_digest(&self, now: Timestamp, force: bool) -> Option<Digest> {
        let mut state = self.lock();
        if now < state.next_digest && !force {
            return None;
        }
        let next = state.next_digest.plus(self.every);
        state.next_digest = if next <= now {
            now.plus(self.every)
        } else {
            next
        };
        if state.waiting.is_empty() {
            return None;
        }
        forget_before(&mut state.sent, now.minus(HOUR));
        state.sent.push_back(now);
        Some(Digest {
            notices: std::mem::take(&mut state.waiting),
        })
    }

    /// When the next digest falls due.
    pub fn next_digest(&self) -> Timestamp {
        self.lock().next_digest
    }

    /// How many alerts wait for the digest.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// The message for one alert.
    pub fn single(&self, notice: &Notice, now: Timestamp) -> Result<Message, Failure> {
        let subject = one_line(&format!(
            "[Access Log {}] {} {} {} - {}",
            notice.site,
            notice.severity.as_str().to_uppercase(),
            notice.rule,
            notice.title,
            notice.user
        ));
        let mut body = describe(notice);
        body.push_str("\n-- \nAccess Log alert delivery\n");
        self.message(subject, body, now)
    }

    /// The digest's message.
    pub fn digest(&self, site: &str, digest: &Digest, now: Timestamp) -> Result<Message, Failure> {
        let count = digest.notices.len();
        let held = digest.notices.iter().filter(|(_, held)| *held).count();
        let plural = if count == 1 { "alert" } else { "alerts" };
        let mut subject = one_line(&format!("[Access Log {site}] digest: {count} {plural}"));
        let mut body = format!("{count} {plural} since the last digest.\n");
        if held > 0 {
            subject.push_str(&format!(" ({held} held back)"));
            body.push_str(&format!(
                "{held} held back: High or Critical alerts not sent at once,\n\
                 because the cap of {} messages per hour was reached.\n",
                self.max_per_hour
            ));
        }
        for (notice, was_held) in &digest.notices {
            body.push_str("\n----------------------------------------\n");
            if *was_held {
                body.push_str("(held back by the hourly cap)\n");
            }
            body.push_str(&describe(notice));
        }
        body.push_str("\n-- \nAccess Log alert delivery\n");
        self.message(subject, body, now)
    }

    fn message(&self, subject: String, body: String, now: Timestamp) -> Result<Message, Failure> {
        let micros = u64::try_from(now.as_micros()).unwrap_or(0);
        let date = SystemTime::UNIX_EPOCH + Duration::from_micros(micros);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .date(date)
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .body(body)
            .map_err(|e| Failure::permanent(format!("the message cannot be built: {e}")))
    }

    /// One try.
    pub async fn send(&self, message: Message) -> Result<(), Failure> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(Failure::permanent(smtp_error(&e))),
            Err(e) => Err(Failure::transient(smtp_error(&e))),
        }
    }
}

/// A subject is one line: control characters (a newline in a title or a user name)
/// become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn forget_before(sent: &mut VecDeque<Timestamp>, cutoff: Timestamp) {
    while sent.front().is_some_and(|t| *t <= cutoff) {
        sent.pop_front();
    }
}

fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    super::with_causes(e.to_string(), e)
}

/// One alert in words, for a message or a digest.
fn describe(notice: &Notice) -> String {
    let mut out = format!(
        "Alert {} on site {}: {}\n\
         Rule:      {}\n\
         Severity:  {}\n\
         User:      {}\n\
         Opened:    {}\n",
        notice.alert_id,
        notice.site,
        notice.title,
        notice.rule,
        notice.severity.as_str(),
        notice.user,
        notice.opened_at.to_rfc3339()
    );
    if !notice.arithmetic.is_empty() {
        out.push_str("Why:\n");
        for line in &notice.arithmetic {
            out.push_str(&format!("  - {line}\n"));
        }
    }
    if !notice.seqs.is_empty() {
        let seqs: Vec<String> = notice.seqs.iter().map(u64::to_string).collect();
        out.push_str(&format!("Entries:   {}\n", seqs.join(", ")));
    }
    if let Some(link) = &notice.link {
        out.push_str(&format!("Open it:   {link}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::lifecycle::Severity;

    fn settings() -> EmailSettings {
        EmailSettings {
            host: "127.0.0.1".into(),
            port: 2525,
            username: None,
            password: None,
            password_env: None,
            from: "Access Log <al@example.org>".into(),
            to: vec!["sec@example.org".into()],
            starttls: false,
            digest_minutes: 60,
            max_per_hour: 2,
            min_severity: MinSeverity::Low,
        }
    }

    fn notice(id: u64) -> Notice {
        Notice {
            alert_id: id,
            rule: "R4".into(),
            title: "Unfiltered export".into(),
            user: "bob".into(),
            severity: Severity::Low,
            opened_at: Timestamp::from_micros(0),
            arithmetic: vec!["1200 rows, no filters".into()],
            seqs: vec![3],
            link: None,
            site: "demo".into(),
        }
    }

    const T0: Timestamp = Timestamp::from_micros(1_000_000_000_000);

    #[test]
    fn the_cap_is_per_sliding_hour() {
        let email = Email::new(&settings(), Duration::from_secs(1), T0, None).unwrap();
        assert!(email.take_slot(T0));
        assert!(email.take_slot(T0.plus(Duration::from_secs(60))));
        assert!(!email.take_slot(T0.plus(Duration::from_secs(120))));
        assert!(!email.take_slot(T0.plus(HOUR - Duration::from_secs(1))));
        assert!(
            email.take_slot(T0.plus(HOUR)),
            "the first has left the hour"
        );
        assert!(
            !email.take_slot(T0.plus(HOUR + Duration::from_secs(30))),
            "the second is still within the hour"
        );
        assert!(email.take_slot(T0.plus(HOUR + Duration::from_secs(61))));
    }

    #[test]
    fn the_digest_falls_due_every_interval_and_only_when_something_waits() {
        let email = Email::new(&settings(), Duration::from_secs(1), T0, None).unwrap();
        assert_eq!(email.next_digest(), T0.plus(HOUR));
        email.queue(&notice(1), false);
        assert!(
            email
                .take_due_digest(T0.plus(Duration::from_secs(3599)))
                .is_none()
        );
        let d = email.take_due_digest(T0.plus(HOUR)).unwrap();
        assert_eq!(d.notices.len(), 1);
        assert_eq!(email.waiting(), 0);
        assert_eq!(email.next_digest(), T0.plus(HOUR * 2));
        assert!(
            email.take_due_digest(T0.plus(HOUR * 2)).is_none(),
            "nothing waits"
        );
        assert_eq!(email.next_digest(), T0.plus(HOUR * 3));
        // Ticks that come late do not pile up digests.
        email.queue(&notice(2), false);
        assert!(email.take_due_digest(T0.plus(HOUR * 10)).is_some());
        assert_eq!(email.next_digest(), T0.plus(HOUR * 11));
    }

    #[test]
    fn the_digest_says_how_many_were_held_back() {
        let email = Email::new(&settings(), Duration::from_secs(1), T0, None).unwrap();
        email.queue(&notice(1), false);
        email.queue(&notice(2), true);
        let d = email.take_due_digest(T0.plus(HOUR)).unwrap();
        let m = String::from_utf8(email.digest("demo", &d, T0).unwrap().formatted()).unwrap();
        assert!(
            m.contains("Subject: [Access Log demo] digest: 2 alerts (1 held back)"),
            "{m}"
        );
        assert!(m.contains("the cap of 2 messages per hour"), "{m}");
    }

    #[test]
    fn a_subject_stays_on_one_line() {
        let email = Email::new(&settings(), Duration::from_secs(1), T0, None).unwrap();
        let mut n = notice(1);
        n.user = "mallory\r\nBcc: everyone@example.org".into();
        let m = String::from_utf8(email.single(&n, T0).unwrap().formatted()).unwrap();
        let (head, _) = m.split_once("\r\n\r\n").unwrap();
        assert!(!head.lines().any(|l| l.starts_with("Bcc:")), "{m}");
        assert!(head.contains("mallory  Bcc:"), "{m}");
    }

    #[test]
    fn a_digest_can_be_taken_before_it_is_due() {
        let email = Email::new(&settings(), Duration::from_secs(1), T0, None).unwrap();
        assert!(email.take_digest_now(T0).is_none(), "nothing waits");
        email.queue(&notice(1), false);
        assert_eq!(email.take_digest_now(T0).unwrap().notices.len(), 1);
        assert_eq!(email.waiting(), 0);
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut s = settings();
        s.starttls = true;
        let missing = std::path::Path::new("/nonexistent/ca.pem");
        assert!(
            Email::new(&s, Duration::from_secs(1), T0, Some(missing))
                .unwrap_err()
                .contains("alerts.delivery.ca_file")
        );
        let mut s = settings();
        s.from = "not an address".into();
        assert!(
            Email::new(&s, Duration::from_secs(1), T0, None)
                .unwrap_err()
                .contains(".from")
        );
        let mut s = settings();
        s.username = Some("u".into());
        s.password_env = Some("ACCESSLOG_TEST_NO_SUCH_VARIABLE".into());
        let err = Email::new(&s, Duration::from_secs(1), T0, None).unwrap_err();
        assert!(err.contains("ACCESSLOG_TEST_NO_SUCH_VARIABLE"), "{err}");
    }
}
