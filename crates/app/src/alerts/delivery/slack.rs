//! A Slack-compatible incoming webhook: a POST of `{"text": "…"}` in Slack's mrkdwn
//! (Mattermost and Rocket.Chat take the same). Unsigned: the URL is the credential.
//!
//! The text, e.g.
//!
//! ```text
//! :rotating_light: *HIGH* alert 7 on demo: *R1 Burst of egress*
//! User: `alice` · opened 2026-11-29T09:04:26.000001Z
//! • 23 egress events in 10 minutes (threshold 20)
//! Entries: 101, 102, 103
//! <http://inbox/alerts/7|Open the alert>
//! ```
//!
//! `&`, `<` and `>` in what comes from the alert are escaped as Slack asks, so a user
//! name cannot forge a link or a mention.

use super::Notice;
use crate::alerts::lifecycle::Severity;

/// At most this many entries are listed; the rest are counted.
const MAX_SEQS: usize = 20;

/// One configured receiver.
pub(super) struct Slack {
    pub url: reqwest::Url,
    pub min: accesslog_site::alert_delivery::MinSeverity,
    pub label: String,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message's text.
pub fn text(notice: &Notice) -> String {
    let icon = match notice.severity {
        Severity::Low => ":information_source:",
        Severity::Medium => ":warning:",
        Severity::High | Severity::Critical => ":rotating_light:",
    };
    let mut out = format!(
        "{icon} *{}* alert {} on {}: *{} {}*\nUser: `{}` · opened {}",
        notice.severity.as_str().to_uppercase(),
        notice.alert_id,
        escape(&notice.site),
        escape(&notice.rule),
        escape(&notice.title),
        escape(&notice.user).replace('`', "'"),
        notice.opened_at.to_rfc3339(),
    );
    for line in &notice.arithmetic {
        out.push_str("\n• ");
        out.push_str(&escape(line));
    }
    if !notice.seqs.is_empty() {
        let shown: Vec<String> = notice
            .seqs
            .iter()
            .take(MAX_SEQS)
            .map(u64::to_string)
            .collect();
        out.push_str("\nEntries: ");
        out.push_str(&shown.join(", "));
        if notice.seqs.len() > MAX_SEQS {
            out.push_str(&format!(" and {} more", notice.seqs.len() - MAX_SEQS));
        }
    }
    if let Some(link) = &notice.link {
        out.push_str(&format!(
            "\n<{}|Open the alert>",
            link.replace(['|', '>'], "")
        ));
    }
    out
}

/// One try.
pub(super) async fn post(
    client: &reqwest::Client,
    slack: &Slack,
    body: &[u8],
) -> Result<(), super::retry::Failure> {
    let request = client
        .post(slack.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec());
    super::http::send(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use accesslog_core::Timestamp;

    #[test]
    fn the_text_names_rule_user_and_arithmetic_and_escapes() {
        let notice = Notice {
            alert_id: 7,
            rule: "R1".into(),
            title: "Burst of egress".into(),
            user: "<!channel> & co".into(),
            severity: Severity::High,
            opened_at: Timestamp::from_micros(0),
            arithmetic: vec!["23 events > 20".into()],
            seqs: (1..=25).collect(),
            link: Some("http://inbox/alerts/7".into()),
            site: "demo".into(),
        };
        let t = text(&notice);
        assert!(t.starts_with(":rotating_light: *HIGH* alert 7 on demo: *R1 Burst of egress*"));
        assert!(t.contains("`&lt;!channel&gt; &amp; co`"), "{t}");
        assert!(t.contains("• 23 events &gt; 20"), "{t}");
        assert!(t.contains("Entries: 1, 2,"), "{t}");
        assert!(t.contains("20 and 5 more"), "{t}");
        assert!(t.ends_with("<http://inbox/alerts/7|Open the alert>"), "{t}");
    }
}
