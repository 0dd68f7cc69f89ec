//! Retention as the review shows it (issue 19): a pruned entry answers as archived in its
//! bundle, on the page and through the API, both reads recorded; archived entries are
//! listed by what was kept of them; the "Log settings" page shows the policy, the holds
//! and the bundles, to System Managers only.

use std::time::Duration;

use accesslog_app::retention::{self, Pruning};
use accesslog_core::Clock;
use accesslog_core::entry::{Activity, Event};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{TestServer, log_size, session};

accesslog_testkit::on_both_backends!(
    run: crate::retention::with_server;
    a_pruned_entry_is_shown_as_archived_in_its_bundle,
    archived_entries_are_listed_filtered_and_paged,
    the_log_settings_page_is_for_system_managers,
);

async fn with_server(
    backend: accesslog_testkit::Backend,
    case: &str,
    f: impl AsyncFn(&TestServer),
) {
    let Some(server) = TestServer::start_with(backend, case, |dir| {
        let toml = dir.join("site.toml");
        let mut text = std::fs::read_to_string(&toml).unwrap();
        text.push_str("\n[log.retention]\nread = 1\nexport = 400\n");
        std::fs::write(&toml, text).unwrap();
    })
    .await
    else {
        return;
    };
    f(&server).await;
    server.stop().await;
}

/// Five reads by hr, signed, then pruned as of two days later: returns the bundle's name.
async fn pruned(server: &TestServer, dir: &std::path::Path) -> String {
    let recorder = &server.state.recorder;
    for _ in 0..5 {
        let mut e = Event::new("hr@example.com", Activity::Read, "GET /app/employee");
        e.export_from = Some("Employee".into());
        recorder.record(e).await.unwrap();
    }
    recorder.checkpoint_now().await;
    let mut actor = Event::new("cli:test", Activity::LogPrune, "accesslog prune");
    actor.auth = Some("cli".into());
    let report = retention::prune(
        &*server.store,
        recorder,
        &actor,
        &Pruning {
            policy: &server.settings.log.retention,
            dir,
            key: &server.state.verifier_key,
            now: server.clock.now().plus(Duration::from_secs(2 * 86_400)),
            dry_run: false,
        },
    )
    .await
    .unwrap();
    assert!(report.pruned >= 5, "{report:?}");
    recorder.checkpoint_now().await;
    report.bundles[0].name.clone()
}

async fn a_pruned_entry_is_shown_as_archived_in_its_bundle(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let bundle = pruned(server, dir.path()).await;
    let seq = server.store.pruned_seqs(1, 100).await.unwrap()[0];
    let (admin, _) = session(server, "admin@example.com", "admin").await;

    let before = log_size(server).await;
    let r = admin
        .get(server.at(&format!("/api/access-log/{seq}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let data = &body["data"];
    assert_eq!(data["pruned"], true);
    assert_eq!(data["redacted"], false);
    assert_eq!(data["archived_in"]["name"], bundle.as_str());
    assert_eq!(data["activity"], "read");
    assert_eq!(data["user"], "hr@example.com");
    assert_eq!(log_size(server).await, before + 1, "the read is recorded");

    let r = admin
        .get(server.at(&format!("/app/access-log/{seq}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Archived in bundle") && html.contains(&bundle),
        "{html}"
    );
    assert!(html.contains("hr@example.com"), "kept fields are shown");

    let r = admin
        .get(server.at("/api/access-log/999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

async fn the_log_settings_page_is_for_system_managers(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let bundle = pruned(server, dir.path()).await;
    let (admin, _) = session(server, "admin@example.com", "admin").await;
    let r = admin
        .get(server.at("/app/access-log/settings"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Log settings"), "{html}");
    assert!(
        html.contains("<td>read</td><td class=\"num\">1</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td>export</td><td class=\"num\">400</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td>print</td><td class=\"num\">forever</td>"),
        "{html}"
    );
    assert!(html.contains(&bundle), "{html}");

    let (sales, _) = session(server, "sales@example.com", "sales").await;
    let r = sales
        .get(server.at("/app/access-log/settings"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// `GET /api/access-log/archived` as JSON; asserts 200.
async fn archived(client: &reqwest::Client, server: &TestServer, query: &str) -> Value {
    let r = client
        .get(server.at(&format!("/api/access-log/archived?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    r.json().await.unwrap()
}

fn seqs(body: &Value) -> Vec<u64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

async fn archived_entries_are_listed_filtered_and_paged(server: &TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let bundle = pruned(server, dir.path()).await;
    let (admin, _) = session(server, "admin@example.com", "admin").await;

    // hr's five reads, newest first, each archived in the bundle; the read is recorded
    // with the entry numbers it returned.
    let before = log_size(server).await;
    let body = archived(&admin, server, "user=hr%40example.com").await;
    let hr = seqs(&body);
    assert_eq!(hr.len(), 5, "{body}");
    assert!(hr.windows(2).all(|w| w[0] > w[1]), "newest first: {hr:?}");
    for e in body["data"].as_array().unwrap() {
        assert_eq!(e["user"], "hr@example.com");
        assert_eq!(e["activity"], "read");
        assert_eq!(e["pruned"], true);
        assert_eq!(e["archived_in"]["name"], bundle.as_str());
    }
    assert!(body.get("next_before").is_none(), "{body}");
    assert_eq!(log_size(server).await, before + 1, "the read is recorded");
    let read = server.store.entry(before + 1).await.unwrap().unwrap();
    let filters = read.event.filters.unwrap().to_value();
    assert_eq!(filters["user"], "hr@example.com");
    assert_eq!(read.event.row_count, Some(5));

    // The same by bundle name and activity; pages of two follow one another.
    let in_bundle =
        seqs(&archived(&admin, server, &format!("bundle={bundle}&activity=read")).await);
    assert!(hr.iter().all(|s| in_bundle.contains(s)), "{in_bundle:?}");
    let sha = body["data"][0]["archived_in"]["sha256"].as_str().unwrap();
    let by_sha = seqs(
        &archived(
            &admin,
            server,
            &format!("bundle={}&activity=read", sha.to_ascii_uppercase()),
        )
        .await,
    );
    assert_eq!(by_sha, in_bundle, "the bundle by its SHA-256, in any case");
    let mut paged = Vec::new();
    let mut query = "user=hr%40example.com&limit=2".to_owned();
    loop {
        let body = archived(&admin, server, &query).await;
        paged.extend(seqs(&body));
        match body["next_before"].as_u64() {
            Some(next) => query = format!("user=hr%40example.com&limit=2&before={next}"),
            None => break,
        }
    }
    assert_eq!(paged, hr);
    assert!(seqs(&archived(&admin, server, "activity=export").await).is_empty());

    // Bad filters name what is wrong, and the refusal is recorded.
    for (query, says) in [
        ("bundle=no-such-bundle", "no archive bundle named"),
        ("activity=gossip", "activity must be one of"),
        ("before=yesterday", "before must be an entry number"),
        (
            "before=9223372036854775808",
            "before must be an entry number",
        ),
        ("from=last+week", "from: \"last week\" is not a date"),
        ("to=soon", "to: \"soon\" is not a date"),
    ] {
        let before = log_size(server).await;
        let r = admin
            .get(server.at(&format!("/api/access-log/archived?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        let answer: Value = r.json().await.unwrap();
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{query}: {answer}");
        assert_eq!(log_size(server).await, before + 1, "{query} is recorded");
    }

    // The page: the same rows, each linked to its entry and its bundle; the list links to
    // it with the filters it keeps.
    let r = admin
        .get(server.at("/app/access-log/archived?user=hr%40example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert_eq!(html.matches("<td>archived</td>").count(), 5, "{html}");
    for seq in &hr {
        assert!(
            html.contains(&format!("href=\"/app/access-log/{seq}\"")),
            "{html}"
        );
    }
    assert!(html.contains(&format!(">{bundle}</a>")), "{html}");
    assert!(
        html.contains(&format!("?bundle={sha}\"")),
        "linked by SHA-256: {html}"
    );
    let r = admin
        .get(server.at("/app/access-log/archived?bundle=nope"))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains("role=\"alert\"") && html.contains("no archive bundle named"),
        "{html}"
    );
    let html = admin
        .get(server.at("/app/access-log?user=hr%40example.com"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("/app/access-log/archived?user=hr%40example.com"),
        "{html}"
    );

    // Only reviewers; a refusal is recorded.
    let (sales, _) = session(server, "sales@example.com", "sales").await;
    for path in ["/api/access-log/archived", "/app/access-log/archived"] {
        let before = log_size(server).await;
        let r = sales.get(server.at(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(log_size(server).await, before + 1, "{path}");
    }
}
