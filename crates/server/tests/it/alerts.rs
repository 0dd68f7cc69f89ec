//! The alert inbox (issue 17): the list's filters and the detail's evidence, on the pages
//! and over the API; every transition and its history; what is refused (and recorded)
//! and with which message; auditor keys read but do not act; the form needs the CSRF
//! token; viewing the inbox is itself in the Access Log; and a real burst of exports
//! raises R1 through the server's own evaluator.

use accesslog_app::accounts;
use accesslog_app::alerts::engine::Firing;
use accesslog_app::alerts::inbox;
use accesslog_app::alerts::lifecycle::Severity;
use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, Event, Outcome};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Backend, TestServer, entry_of, log_size, on_both_backends, session};

on_both_backends!(
    run: crate::alerts::with_quiet_server;
    the_inbox_lists_filters_and_shows_an_alert,
    every_transition_is_kept_with_who_and_when,
    only_system_managers_act_auditor_keys_read_and_refusals_are_recorded,
    the_action_form_needs_the_csrf_token,
);

on_both_backends!(
    mods: sqlite_burst, postgres_burst;
    run: crate::common::with_backend;
    a_burst_of_exports_raises_r1_in_the_inbox,
);

/// Appends `text` to the test site's `site.toml`.
fn site_toml(site: &std::path::Path, text: &str) {
    let path = site.join("site.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    toml.push_str(text);
    std::fs::write(path, toml).unwrap();
}

/// A server whose rules do not run, so the only alerts are those a case raises.
pub(crate) async fn with_quiet_server(
    backend: Backend,
    case_name: &str,
    case: impl AsyncFn(&TestServer),
) {
    let quiet = |site: &std::path::Path| site_toml(site, "\n[alerts]\nenabled = false\n");
    let Some(server) = TestServer::start_with(backend, case_name, quiet).await else {
        return;
    };
    case(&server).await;
    server.stop().await;
}

/// Records one granted export by `user` and returns its `seq` (the evidence of a firing).
async fn entry(server: &TestServer, user: &str) -> u64 {
    let mut e = Event::new(user, Activity::Export, "GET /somewhere");
    e.export_from = Some("GL Entry".into());
    server.state.recorder.record(e).await.unwrap().seq()
}

/// Raises an alert of `rule` on `user` straight through the inbox, as the evaluator does.
async fn raise(
    server: &TestServer,
    rule: &'static str,
    user: &str,
    severity: Severity,
    shadow: bool,
    arithmetic: &str,
) -> u64 {
    let seq = entry(server, user).await;
    let at = Timestamp::from_micros(1_764_406_800_000_000);
    let firing = Firing {
        rule,
        user: user.to_owned(),
        window_start: at,
        severity,
        seqs: vec![seq],
        arithmetic: arithmetic.to_owned(),
        at,
    };
    inbox::raise(&*server.store, &firing, shadow, at)
        .await
        .unwrap()
        .expect("no suppression")
        .0
        .id
}

async fn get_json(c: &reqwest::Client, url: String) -> (StatusCode, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn ids(v: &Value) -> Vec<u64> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect()
}

async fn the_inbox_lists_filters_and_shows_an_alert(server: &TestServer) {
    let burst = raise(
        server,
        "R1",
        "sales@example.com",
        Severity::High,
        false,
        "24 egress events in 10 minutes (≥ 20)",
    )
    .await;
    let unfiltered = raise(
        server,
        "R4",
        "accounts@example.com",
        Severity::Medium,
        false,
        "1200 rows with no filter",
    )
    .await;
    let shadow = raise(
        server,
        "R7",
        "sales@example.com",
        Severity::Low,
        true,
        "egress at 03:00 on a Sunday",
    )
    .await;
    let (admin, _) = session(server, "admin@example.com", "admin").await;
    let api = |q: &str| server.at(&format!("/api/access-log/alerts{q}"));

    // The list: open ones by default, newest first, shadow ones only when asked.
    let (status, v) = get_json(&admin, api("")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [unfiltered, burst]);
    let first = &v["data"][1];
    assert_eq!(first["rule"], "R1");
    assert_eq!(first["title"], "Burst of egress");
    assert_eq!(first["user"], "sales@example.com");
    assert_eq!(first["severity"], "high");
    assert_eq!(first["state"], "open");
    assert_eq!(first["entries"], 1);
    assert_eq!(
        ids(&get_json(&admin, api("?shadow=1")).await.1),
        [shadow, unfiltered, burst]
    );
    assert_eq!(
        ids(&get_json(&admin, api("?rule=R4")).await.1),
        [unfiltered]
    );
    assert_eq!(ids(&get_json(&admin, api("?rule=r1")).await.1), [burst]);
    assert_eq!(
        ids(
            &get_json(&admin, api("?user=sales@example.com&shadow=true"))
                .await
                .1
        ),
        [shadow, burst]
    );
    assert_eq!(
        ids(&get_json(&admin, api("?min_severity=high")).await.1),
        [burst]
    );
    assert_eq!(
        ids(&get_json(&admin, api("?state=resolved")).await.1),
        Vec::<u64>::new()
    );
    let (_, page) = get_json(&admin, api("?limit=1")).await;
    assert_eq!(ids(&page), [unfiltered]);
    assert_eq!(page["next_offset"], 1);
    let (_, page) = get_json(&admin, api("?limit=1&offset=1")).await;
    assert_eq!(ids(&page), [burst]);
    assert!(page.get("next_offset").is_none(), "{page}");

    // Bad values are refused, naming the parameter.
    for (q, name) in [
        ("?min_severity=urgent", "min_severity"),
        ("?rule=R11", "rule"),
        ("?state=closed", "state"),
        ("?limit=lots", "limit"),
        ("?limit=0", "limit"),
        ("?offset=-1", "offset"),
        ("?shadow=maybe", "shadow"),
    ] {
        let (status, v) = get_json(&admin, api(q)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {v}");
        let message = v["message"].as_str().unwrap();
        assert!(message.starts_with(name), "{q}: {message}");
    }

    // The detail over the API: arithmetic, evidence with proofs, history.
    let (status, v) = get_json(&admin, api(&format!("/{burst}"))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let a = &v["data"];
    assert_eq!(
        a["arithmetic"],
        json!(["24 egress events in 10 minutes (≥ 20)"])
    );
    let seq = a["seqs"][0]["seq"].as_u64().unwrap();
    assert_eq!(
        a["seqs"][0]["proof"],
        format!("/api/access-log/{seq}/proof")
    );
    assert_eq!(a["history"][0]["by"], "system");
    assert_eq!(a["history"][0]["what"], "raised, high");
    let (status, _) = get_json(&admin, api("/999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_json(&admin, api("/abc")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The pages.
    let r = admin
        .get(server.at("/app/access-log/alerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = entry_of(server, &r).await.event;
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("href=\"/app/access-log/alerts/{burst}\"")),
        "{html}"
    );
    assert!(html.contains("R1: Burst of egress") && html.contains("R4: Unfiltered export"));
    assert!(!html.contains(&format!("href=\"/app/access-log/alerts/{shadow}\"")));
    assert!(
        html.contains("Rule health") && html.contains("Silent for 90 days"),
        "{html}"
    );
    assert!(html.contains("Suppressions") && html.contains("Undeliverable notices"));
    // Rule health: of the week's active users (sales, accounts and admin, who read), R1
    // and R4 each alerted on one: a third, above 15 %. The shadow R7 counts too.
    for rule in ["R1", "R4", "R7"] {
        assert!(html.contains(&format!("Noisy: {rule} (")), "{rule}: {html}");
    }
    assert!(html.contains("33.3 %"), "{html}");
    assert!(!html.contains("Noisy: R2"));
    assert!(html.contains("out of 3 active users"), "{html}");
    assert!(html.contains("Every notice was delivered."));
    // Viewing the inbox is itself a recorded read of the Access Log, naming what it showed.
    assert_eq!(
        (e.user.as_str(), e.activity, e.outcome),
        ("admin@example.com", Activity::Read, Outcome::Granted)
    );
    assert_eq!(e.export_from.as_deref(), Some("Access Log"));
    assert_eq!(e.report_name.as_deref(), Some("Access Log Alerts"));
    assert_eq!(e.row_count, Some(2));
    let filters = e.filters.unwrap().to_value();
    assert_eq!(
        filters["names"],
        json!([unfiltered.to_string(), burst.to_string()])
    );

    let r = admin
        .get(server.at("/app/access-log/alerts?shadow=1&rule=R7"))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("href=\"/app/access-log/alerts/{shadow}\"")),
        "{html}"
    );
    assert!(html.contains("(shadow)"));
    // Pages: one alert a page, the next page linked, and back.
    let html = admin
        .get(server.at("/app/access-log/alerts?limit=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("href=\"/app/access-log/alerts/{unfiltered}\"")));
    assert!(!html.contains(&format!("href=\"/app/access-log/alerts/{burst}\"")));
    assert!(
        html.contains("href=\"/app/access-log/alerts?limit=1&#38;offset=1\" rel=\"next\""),
        "{html}"
    );
    let html = admin
        .get(server.at("/app/access-log/alerts?limit=1&offset=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("href=\"/app/access-log/alerts/{burst}\"")));
    assert!(
        html.contains("href=\"/app/access-log/alerts?limit=1\" rel=\"prev\""),
        "{html}"
    );
    assert!(!html.contains("rel=\"next\""));

    // An undeliverable notice is listed with its error.
    server
        .store
        .add_dead_letter(&accesslog_store::alerts::DeadLetterRecord {
            id: 0,
            channel: "webhook".into(),
            alert_id: burst,
            attempts: 5,
            last_error: "connection refused by hooks.example".into(),
            at: Timestamp::from_micros(1_764_406_800_000_000),
        })
        .await
        .unwrap();
    let html = admin
        .get(server.at("/app/access-log/alerts"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("connection refused by hooks.example") && html.contains("webhook"));

    let r = admin
        .get(server.at("/app/access-log/alerts?min_severity=extreme"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = admin
        .get(server.at(&format!("/app/access-log/alerts/{burst}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = entry_of(server, &r).await.event;
    assert_eq!(e.report_name.as_deref(), Some("Access Log Alert"));
    assert_eq!(e.reference_document, Some(burst.to_string()));
    let html = r.text().await.unwrap();
    for shown in [
        "24 egress events in 10 minutes (≥ 20)".to_owned(),
        format!("href=\"/app/access-log/{seq}\""),
        format!("href=\"/api/access-log/{seq}/proof\""),
        "raised, high".to_owned(),
        "value=\"acknowledge\"".to_owned(),
        "value=\"true_positive\"".to_owned(),
    ] {
        assert!(html.contains(&shown), "{shown}: {html}");
    }
    let r = admin
        .get(server.at("/app/access-log/alerts/424242"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The dashboard counts open alerts (shadow ones left out) and links to the inbox.
    let html = admin
        .get(server.at("/app/access-log/dashboard"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("2 open alerts"), "{html}");
    assert!(html.contains("href=\"/app/access-log/alerts\""));
    assert!(
        !html.contains("id=\"witnesses\""),
        "no witnesses, no section"
    );

    // A witness's refusal is shown on the dashboard.
    server
        .store
        .add_witness_refusal(&accesslog_store::witnesses::WitnessRefusal {
            id: 0,
            witness: "witness.example/w1".to_owned(),
            size: 77,
            status: 422,
            message: "size 77 is not consistent with the cosigned size 40".to_owned(),
            at: Timestamp::from_micros(1_796_115_600_000_000),
        })
        .await
        .unwrap();
    let html = admin
        .get(server.at("/app/access-log/dashboard"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in [
        "id=\"witnesses\"",
        "A witness refused a checkpoint",
        "witness.example/w1",
        "not consistent with the cosigned size 40",
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
}

/// Posts the detail's form as a browser on this site would (its `Origin`, the session's
/// token in the form).
async fn form(
    server: &TestServer,
    c: &reqwest::Client,
    token: &str,
    id: u64,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut body: Vec<(&str, &str)> = vec![("csrf_token", token)];
    body.extend_from_slice(fields);
    c.post(server.at(&format!("/app/access-log/alerts/{id}")))
        .header("origin", server.url.as_str())
        .form(&body)
        .send()
        .await
        .unwrap()
}

async fn message(r: reqwest::Response) -> String {
    let v: Value = r.json().await.unwrap();
    v["message"].as_str().unwrap_or_default().to_owned()
}

async fn every_transition_is_kept_with_who_and_when(server: &TestServer) {
    let (admin, token) = session(server, "admin@example.com", "admin").await;
    let a = raise(
        server,
        "R1",
        "sales@example.com",
        Severity::High,
        false,
        "x",
    )
    .await;

    // The form: acknowledge, then resolve; each answers 303 back to the alert.
    let r = form(server, &admin, &token, a, &[("action", "acknowledge")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        format!("/app/access-log/alerts/{a}?done=acknowledge").as_str()
    );
    let r = form(
        server,
        &admin,
        &token,
        a,
        &[("action", "resolve"), ("resolution", "maybe")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        message(r)
            .await
            .contains("resolution \"maybe\" is not one of")
    );
    let r = form(
        server,
        &admin,
        &token,
        a,
        &[("action", "resolve"), ("resolution", "true_positive")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let alert = inbox::get(&*server.store, a).await.unwrap();
    assert_eq!(alert.state.name(), "resolved");
    let history: Vec<(&str, &str)> = alert
        .history
        .iter()
        .map(|c| (c.by.as_str(), c.what.as_str()))
        .collect();
    assert_eq!(
        history,
        [
            ("system", "raised, high"),
            ("admin@example.com", "acknowledged"),
            ("admin@example.com", "resolved: true_positive"),
        ]
    );
    let html = admin
        .get(server.at(&format!("/app/access-log/alerts/{a}?done=resolve")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Resolved.") && html.contains("resolved: true_positive"),
        "{html}"
    );
    assert!(
        !html.contains("value=\"acknowledge\""),
        "a closed alert offers no transition"
    );

    // A closed alert cannot move again; the message says why.
    let r = form(server, &admin, &token, a, &[("action", "acknowledge")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        message(r).await,
        format!("alert {a} is resolved: it cannot be acknowledged")
    );
    let r = form(server, &admin, &token, a, &[("action", "escalate")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(message(r).await.contains("\"escalate\" is not one of"));
    let r = form(
        server,
        &admin,
        &token,
        999_999,
        &[("action", "acknowledge")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Dismissal needs a reason.
    let b = raise(
        server,
        "R4",
        "accounts@example.com",
        Severity::Medium,
        false,
        "y",
    )
    .await;
    let r = form(
        server,
        &admin,
        &token,
        b,
        &[("action", "dismiss"), ("reason", "  ")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(message(r).await, "a dismissal needs a reason");
    let r = form(
        server,
        &admin,
        &token,
        b,
        &[("action", "dismiss"), ("reason", "the month-end job")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let alert = inbox::get(&*server.store, b).await.unwrap();
    assert_eq!(alert.state.name(), "dismissed");
    assert_eq!(
        alert.history.last().unwrap().what,
        "dismissed: the month-end job"
    );

    // Suppress: bounded days and a reason; then the rule raises nothing for that user.
    let c = raise(server, "R5", "hr@example.com", Severity::High, false, "z").await;
    for (days, reason, why) in [
        ("0", "known", "from 1 to 366 days"),
        ("many", "known", "days must be a whole number"),
        ("30", "", "a suppression needs a reason"),
    ] {
        let r = form(
            server,
            &admin,
            &token,
            c,
            &[("action", "suppress"), ("days", days), ("reason", reason)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{days} {reason}");
        let m = message(r).await;
        assert!(m.contains(why), "{m}");
    }
    let r = form(
        server,
        &admin,
        &token,
        c,
        &[
            ("action", "suppress"),
            ("days", "30"),
            ("reason", "payroll week"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let s = server.store.suppressions(None).await.unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(
        (
            s[0].rule.as_deref(),
            s[0].user.as_deref(),
            s[0].owner.as_str(),
            s[0].reason.as_str()
        ),
        (
            Some("R5"),
            Some("hr@example.com"),
            "admin@example.com",
            "payroll week"
        )
    );
    let html = admin
        .get(server.at("/app/access-log/alerts"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("payroll week"),
        "the inbox lists the suppression"
    );
    let kept = accesslog_app::alerts::inbox::get(&*server.store, c)
        .await
        .unwrap();
    let last = kept.history.last().unwrap();
    assert_eq!(last.by, "admin@example.com");
    assert!(
        last.what
            .starts_with("suppressed R5 for hr@example.com until ")
            && last.what.ends_with(": payroll week"),
        "the alert's history keeps the suppression: {}",
        last.what
    );

    // The API: JSON or form bodies; the answer is the alert afterwards, recorded as a read.
    let d = raise(
        server,
        "R8",
        "sales@example.com",
        Severity::Medium,
        false,
        "w",
    )
    .await;
    let post = |path: String| admin.post(server.at(&path));
    let r = post(format!("/api/access-log/alerts/{d}/acknowledge"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = entry_of(server, &r).await.event;
    assert_eq!((e.activity, e.outcome), (Activity::Read, Outcome::Granted));
    assert_eq!(e.reference_document, Some(d.to_string()));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"]["state"], "acknowledged");
    assert_eq!(v["data"]["history"][1]["by"], "admin@example.com");
    let r = post(format!("/api/access-log/alerts/{d}/dismiss"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(message(r).await, "a dismissal needs a reason");
    let r = post(format!("/api/access-log/alerts/{d}/resolve"))
        .json(&json!({"resolution": "false_positive"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (
            v["data"]["state"].as_str(),
            v["data"]["resolution"].as_str()
        ),
        (Some("resolved"), Some("false_positive"))
    );
    let r = post(format!("/api/access-log/alerts/{d}/acknowledge"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        message(r).await,
        format!("alert {d} is resolved: it cannot be acknowledged")
    );
    let r = post("/api/access-log/alerts/999999/resolve".to_owned())
        .form(&[("resolution", "benign")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The action is part of the path: one the API does not know is named.
    let r = post(format!("/api/access-log/alerts/{d}/escalate"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(message(r).await.contains("\"escalate\" is not one of"));
    let r = post(format!("/api/access-log/alerts/{d}/suppress"))
        .form(&[("days", "7"), ("reason", "pen test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert!(v["suppression"].as_u64().is_some(), "{v}");
    // Suppressed: R8 on sales raises nothing now.
    let at = Timestamp::from_micros(1_764_406_900_000_000);
    let again = Firing {
        rule: "R8",
        user: "sales@example.com".into(),
        window_start: at,
        severity: Severity::High,
        seqs: vec![1],
        arithmetic: "again".into(),
        at,
    };
    assert!(
        inbox::raise(&*server.store, &again, false, at)
            .await
            .unwrap()
            .is_none()
    );
}

async fn only_system_managers_act_auditor_keys_read_and_refusals_are_recorded(server: &TestServer) {
    let a = raise(
        server,
        "R1",
        "accounts@example.com",
        Severity::High,
        false,
        "x",
    )
    .await;
    let (sales, token) = session(server, "sales@example.com", "sales").await;

    for path in [
        "/app/access-log/alerts".to_owned(),
        format!("/app/access-log/alerts/{a}"),
        "/api/access-log/alerts".to_owned(),
        format!("/api/access-log/alerts/{a}"),
    ] {
        let before = log_size(server).await;
        let r = sales.get(server.at(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            log_size(server).await,
            before + 1,
            "{path}: the refusal is recorded"
        );
        let e = entry_of(server, &r).await.event;
        assert_eq!(
            (e.user.as_str(), e.activity, e.outcome),
            ("sales@example.com", Activity::Read, Outcome::Denied),
            "{path}"
        );
        let text = r.text().await.unwrap();
        assert!(text.contains("Only System Managers"), "{path}: {text}");
        assert!(
            !text.contains("accounts@example.com"),
            "{path}: the refusal shows the alert"
        );
    }
    // Nor may they act, by form or API; refused on record, the alert unchanged.
    let before = log_size(server).await;
    let r = form(server, &sales, &token, a, &[("action", "acknowledge")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(message(r).await.contains("Only System Managers"));
    assert_eq!(log_size(server).await, before + 1);
    let e = crate::common::last_event(server).await;
    assert_eq!(
        (e.user.as_str(), e.outcome),
        ("sales@example.com", Outcome::Denied)
    );
    let r = sales
        .post(server.at(&format!("/api/access-log/alerts/{a}/acknowledge")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        inbox::get(&*server.store, a).await.unwrap().state.name(),
        "open"
    );

    // An auditor key (of a user who is no System Manager) reads, and may not act.
    let key = accounts::create_api_key(
        &*server.store,
        &*server.clock,
        "accounts@example.com",
        "siem",
        &["auditor".to_owned()],
    )
    .await
    .unwrap();
    let auth = format!("token {}:{}", key.api_key, key.api_secret);
    let c = server.client();
    for path in [
        "/api/access-log/alerts".to_owned(),
        format!("/api/access-log/alerts/{a}"),
    ] {
        let r = c
            .get(server.at(&path))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let e = entry_of(server, &r).await.event;
        assert_eq!(e.auth, Some(format!("api_key:{}", key.api_key)));
    }
    let r = c
        .post(server.at(&format!("/api/access-log/alerts/{a}/acknowledge")))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let e = entry_of(server, &r).await.event;
    assert_eq!(e.outcome, Outcome::Denied);
    assert!(message(r).await.contains("auditor keys may read them"));
    assert_eq!(
        inbox::get(&*server.store, a).await.unwrap().state.name(),
        "open"
    );
}

async fn the_action_form_needs_the_csrf_token(server: &TestServer) {
    let a = raise(
        server,
        "R1",
        "accounts@example.com",
        Severity::High,
        false,
        "x",
    )
    .await;
    let (admin, token) = session(server, "admin@example.com", "admin").await;
    let url = server.at(&format!("/app/access-log/alerts/{a}"));
    for sent in ["", "not-the-token"] {
        let r = admin
            .post(&url)
            .header("origin", server.url.as_str())
            .form(&[("csrf_token", sent), ("action", "acknowledge")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{sent:?}");
        assert!(message(r).await.contains("CSRF"));
    }
    // From another site, even with the token.
    let r = admin
        .post(&url)
        .header("origin", "https://evil.example")
        .form(&[("csrf_token", token.as_str()), ("action", "acknowledge")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        inbox::get(&*server.store, a).await.unwrap().state.name(),
        "open"
    );
    let r = form(server, &admin, &token, a, &[("action", "acknowledge")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        inbox::get(&*server.store, a).await.unwrap().state.name(),
        "acknowledged"
    );
}

/// A site whose rules run every second.
pub async fn fast_alerts(backend: Backend, case: &str) -> Option<TestServer> {
    TestServer::start_with(backend, case, |site| {
        site_toml(site, "\n[alerts]\nevaluate_every_seconds = 1\n")
    })
    .await
}

/// Makes `n` exports of the General Ledger as `client`; returns their entries' `seq`s.
pub async fn export_burst(base: &str, client: &reqwest::Client, token: &str, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    for _ in 0..n {
        let r = client
            .post(format!(
                "{base}/api/method/frappe.desk.query_report.export_query"
            ))
            .header("x-frappe-csrf-token", token)
            .form(&[
                ("report_name", "General Ledger"),
                ("file_format_type", "CSV"),
                ("filters", r#"{"party": "Acme"}"#),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        seqs.push(
            r.headers()["x-access-log-seq"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap(),
        );
    }
    seqs
}

async fn a_burst_of_exports_raises_r1_in_the_inbox(backend: Backend) {
    let Some(server) = fast_alerts(backend, "alerts_burst").await else {
        return;
    };
    let (accounts, token) = session(&server, "accounts@example.com", "accounts").await;
    let seqs = export_burst(&server.url, &accounts, &token, 21).await;
    let (admin, _) = session(&server, "admin@example.com", "admin").await;
    let url = server.at("/api/access-log/alerts?rule=R1&user=accounts@example.com");
    let mut found = Value::Null;
    for _ in 0..100 {
        let (status, v) = get_json(&admin, url.clone()).await;
        assert_eq!(status, StatusCode::OK);
        if !ids(&v).is_empty() {
            found = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ids(&found).len(), 1, "no R1 alert within 10 s of the burst");
    let id = ids(&found)[0];
    let (_, v) = get_json(&admin, server.at(&format!("/api/access-log/alerts/{id}"))).await;
    let a = &v["data"];
    assert_eq!(
        a["shadow"], false,
        "R1 is not statistical: it is delivered at once"
    );
    assert!(
        a["arithmetic"][0]
            .as_str()
            .unwrap()
            .starts_with("20 egress events"),
        "{a}"
    );
    let evidence: Vec<u64> = a["seqs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seq"].as_u64().unwrap())
        .collect();
    assert!(evidence.len() >= 20, "{a}");
    assert!(
        evidence.iter().all(|s| seqs.contains(s)),
        "{evidence:?} not in {seqs:?}"
    );
    server.stop().await;
}
