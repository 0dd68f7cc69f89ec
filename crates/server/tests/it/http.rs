//! Accounts, sessions, API keys, throttling, CSRF and the web shell, over real HTTP.

use std::time::Duration;

use accesslog_app::accounts;
use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, COOKIE, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::{TestServer, USERS, on_both_backends};

on_both_backends!(
    run: crate::common::with_server;
    every_demo_user_logs_in_with_erpnext_login_call,
    json_and_root_form_logins_work,
    wrong_password_gets_401_with_a_clear_message,
    sixth_rapid_wrong_password_gets_429,
    many_failures_from_one_address_get_429,
    api_keys_work_both_ways_until_revoked,
    logout_ends_the_session_on_the_server,
    get_cmd_logout_ends_the_session,
    sessions_expire_when_idle_and_absolutely,
    disabled_users_cannot_log_in_and_lose_sessions,
    session_posts_need_the_csrf_token,
    script_sessions_write_without_a_token_but_browsers_never_do,
    cross_site_posts_are_refused,
    health_reports_the_backend,
    ready_checks_the_database_the_recorder_and_the_disk,
    login_page_logs_in_and_returns_to_next,
);

async fn logged_user(server: &TestServer, client: &reqwest::Client) -> reqwest::Response {
    client
        .get(server.at("/api/method/frappe.auth.get_logged_user"))
        .send()
        .await
        .unwrap()
}

async fn every_demo_user_logs_in_with_erpnext_login_call(server: &TestServer) {
    for (email, password, role) in USERS {
        let client = server.client();
        let r = client
            .post(server.at("/api/method/login"))
            .form(&[("usr", email), ("pwd", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("sid="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["message"], "Logged In");
        assert_eq!(body["full_name"], format!("Demo {role}"));

        let me: Value = logged_user(server, &client).await.json().await.unwrap();
        assert_eq!(me["message"], email);
    }
}

async fn json_and_root_form_logins_work(server: &TestServer) {
    let client = server.client();
    let r = client
        .post(server.at("/api/method/login"))
        .json(&json!({"usr": "Sales@Example.com", "pwd": "sales"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "emails are matched without regard to case"
    );
    assert_eq!(r.json::<Value>().await.unwrap()["message"], "Logged In");

    let client = server.client();
    let r = client
        .post(server.at("/"))
        .form(&[("cmd", "login"), ("usr", "hr@example.com"), ("pwd", "hr")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["message"], "Logged In");
    assert_eq!(
        logged_user(server, &client)
            .await
            .json::<Value>()
            .await
            .unwrap()["message"],
        "hr@example.com"
    );

    // Any other cmd is sent on to its method (307 keeps the method and the body).
    let r = client
        .post(server.at("/"))
        .form(&[("cmd", "frappe.client.get_count"), ("doctype", "Customer")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        r.headers()["location"],
        "/api/method/frappe.client.get_count"
    );
    let r = client
        .post(server.at("/"))
        .form(&[("cmd", "no such/thing")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("not a method name"));
}

async fn wrong_password_gets_401_with_a_clear_message(server: &TestServer) {
    for (usr, pwd) in [
        ("admin@example.com", "wrong"),
        ("nobody@example.com", "admin"),
        ("", ""),
    ] {
        let r = server
            .client()
            .post(server.at("/api/method/login"))
            .form(&[("usr", usr), ("pwd", pwd)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{usr}");
        assert!(r.headers().get(SET_COOKIE).is_none());
        let body: Value = r.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid login credentials"),
            "{body}"
        );
        assert_eq!(body["exc_type"], "AuthenticationError");
    }
}

async fn sixth_rapid_wrong_password_gets_429(server: &TestServer) {
    let client = server.client();
    let attempt = |pwd: &'static str| {
        client
            .post(server.at("/api/method/login"))
            .form(&[("usr", "accounts@example.com"), ("pwd", pwd)])
            .send()
    };
    for n in 1..=5 {
        assert_eq!(
            attempt("wrong").await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "attempt {n}"
        );
    }
    let r = attempt("wrong").await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let msg = r.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("Too many failed logins") && msg.contains("accounts@example.com"),
        "{msg}"
    );

    // Locked means locked: the right password waits too, while other accounts are fine.
    assert_eq!(
        attempt("accounts").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    server
        .login(&server.client(), "sales@example.com", "sales")
        .await;

    server.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(attempt("accounts").await.unwrap().status(), StatusCode::OK);
}

async fn many_failures_from_one_address_get_429(server: &TestServer) {
    let client = server.client();
    let limit = server.settings.login.max_failures_per_ip;
    for n in 0..limit {
        let usr = format!("guess{n}@example.com");
        let r = client
            .post(server.at("/api/method/login"))
            .form(&[("usr", usr.as_str()), ("pwd", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = client
        .post(server.at("/api/method/login"))
        .form(&[("usr", "admin@example.com"), ("pwd", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("from your address"));
}

async fn api_keys_work_both_ways_until_revoked(server: &TestServer) {
    let key = accounts::create_api_key(
        &*server.store,
        &*server.clock,
        "accounts@example.com",
        "script",
        &[],
    )
    .await
    .unwrap();
    let client = server.client();
    let token = format!("token {}:{}", key.api_key, key.api_secret);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", key.api_key, key.api_secret))
    );
    for header in [&token, &basic] {
        let r = client
            .get(server.at("/api/method/frappe.auth.get_logged_user"))
            .header(AUTHORIZATION, header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{header}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["message"],
            "accounts@example.com"
        );
    }
    let listed = server.store.api_key(&key.api_key).await.unwrap().unwrap();
    assert!(listed.last_used_at.is_some(), "use is noted");
    assert_ne!(
        listed.secret_digest, key.api_secret,
        "the secret itself is not stored"
    );

    let wrong = format!("token {}:not-the-secret", key.api_key);
    let r = client
        .get(server.at("/api/method/frappe.auth.get_logged_user"))
        .header(AUTHORIZATION, wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Invalid API key or secret")
    );

    let r = client
        .get(server.at("/api/method/frappe.auth.get_logged_user"))
        .header(AUTHORIZATION, "token nocolon")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("KEY:SECRET"));

    accounts::revoke_api_key(&*server.store, &*server.clock, &key.api_key)
        .await
        .unwrap();
    let r = client
        .get(server.at("/api/method/frappe.auth.get_logged_user"))
        .header(AUTHORIZATION, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("revoked"));

    // An API-key request needs no CSRF token: no browser can forge its header.
    let key =
        accounts::create_api_key(&*server.store, &*server.clock, "admin@example.com", "", &[])
            .await
            .unwrap();
    let r = client
        .post(server.at("/api/method/logout"))
        .header(
            AUTHORIZATION,
            format!("token {}:{}", key.api_key, key.api_secret),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// The raw `sid` cookie a login set, to replay it after logout.
async fn login_cookie(server: &TestServer, usr: &str, pwd: &str) -> (String, String) {
    let r = server
        .client()
        .post(server.at("/api/method/login"))
        .form(&[("usr", usr), ("pwd", pwd)])
        .send()
        .await
        .unwrap();
    let csrf = r.headers()["x-frappe-csrf-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let sid = r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (sid, csrf)
}

async fn logout_ends_the_session_on_the_server(server: &TestServer) {
    let (sid, csrf) = login_cookie(server, "admin@example.com", "admin").await;
    let plain = server.client();
    let me = |c: reqwest::Client, sid: String| async move {
        c.get(server.at("/api/method/frappe.auth.get_logged_user"))
            .header(COOKIE, sid)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(me(plain.clone(), sid.clone()).await, StatusCode::OK);

    let r = plain
        .post(server.at("/api/method/logout"))
        .header(COOKIE, &sid)
        .header("x-frappe-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cleared = r.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("sid=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    // Replaying the old cookie does not work: the session is gone on the server.
    assert_eq!(me(plain, sid).await, StatusCode::UNAUTHORIZED);
}

async fn get_cmd_logout_ends_the_session(server: &TestServer) {
    let (sid, _) = login_cookie(server, "hr@example.com", "hr").await;
    let c = server.client();
    let r = c
        .get(server.at("/?cmd=logout"))
        .header(COOKIE, &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login");
    let r = c
        .get(server.at("/api/method/frappe.auth.get_logged_user"))
        .header(COOKIE, &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn sessions_expire_when_idle_and_absolutely(server: &TestServer) {
    let limits = server.settings.sessions;
    let client = server.client();
    server.login(&client, "sales@example.com", "sales").await;

    // Active use keeps the session alive past the idle limit...
    for _ in 0..3 {
        server.clock.advance(Duration::from_secs(
            u64::from(limits.idle_minutes) * 60 - 60,
        ));
        assert_eq!(logged_user(server, &client).await.status(), StatusCode::OK);
    }
    // ...but not once it has been idle longer than the limit.
    server
        .clock
        .advance(Duration::from_secs(u64::from(limits.idle_minutes) * 60 + 1));
    assert_eq!(
        logged_user(server, &client).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Absolute expiry: however active, a session ends after absolute_hours.
    let client = server.client();
    server.login(&client, "sales@example.com", "sales").await;
    let step = Duration::from_secs(u64::from(limits.idle_minutes) * 60 / 2);
    let total = Duration::from_secs(u64::from(limits.absolute_hours) * 3600);
    let mut elapsed = Duration::ZERO;
    while elapsed + step < total {
        server.clock.advance(step);
        elapsed += step;
        assert_eq!(logged_user(server, &client).await.status(), StatusCode::OK);
    }
    server
        .clock
        .advance(total - elapsed + Duration::from_secs(1));
    assert_eq!(
        logged_user(server, &client).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn disabled_users_cannot_log_in_and_lose_sessions(server: &TestServer) {
    let client = server.client();
    server.login(&client, "hr@example.com", "hr").await;
    accounts::set_enabled(&*server.store, "hr@example.com", false)
        .await
        .unwrap();
    assert_eq!(
        logged_user(server, &client).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let r = client
        .post(server.at("/api/method/login"))
        .form(&[("usr", "hr@example.com"), ("pwd", "hr")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("disabled"));
}

/// Logs `client` in as a browser's `fetch` does (with `Sec-Fetch-*`); returns the token.
async fn browser_login(
    server: &TestServer,
    client: &reqwest::Client,
    usr: &str,
    pwd: &str,
) -> String {
    let r = client
        .post(server.at("/api/method/login"))
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "cors")
        .form(&[("usr", usr), ("pwd", pwd)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.headers()["x-frappe-csrf-token"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn session_posts_need_the_csrf_token(server: &TestServer) {
    let client = server.client();
    let csrf = browser_login(server, &client, "admin@example.com", "admin").await;

    let r = client
        .post(server.at("/logout"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("CSRF"));
    let r = client
        .post(server.at("/logout"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client
        .post(server.at("/api/method/logout"))
        .header("x-frappe-csrf-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        logged_user(server, &client).await.status(),
        StatusCode::OK,
        "refused posts changed nothing"
    );

    let r = client
        .post(server.at("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        logged_user(server, &client).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// As in ERPNext: a session opened by a script's login has no CSRF token to send, so its
/// writes need none; a request on it that carries a browser's markers is checked as a
/// browser's, and a cross-site one is refused whatever the session.
async fn script_sessions_write_without_a_token_but_browsers_never_do(server: &TestServer) {
    let script = server.client();
    server.login(&script, "sales@example.com", "sales").await;
    let r = script
        .post(server.at("/api/resource/Customer"))
        .json(&json!({"customer_name": "Scripted Ltd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    for (name, value) in [
        ("sec-fetch-site", "same-origin"),
        ("referer", "http://x/app"),
    ] {
        let r = script
            .post(server.at("/api/resource/Customer"))
            .header(name, value)
            .json(&json!({"customer_name": "Marked Ltd"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        assert!(r.text().await.unwrap().contains("CSRF"));
    }
    let r = script
        .post(server.at("/api/resource/Customer"))
        .header("origin", "https://evil.example")
        .json(&json!({"customer_name": "Evil Ltd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Cross-site"));

    // A browser's session (the login page, or a login call a browser made) keeps the check.
    let browser = server.client();
    browser_login(server, &browser, "sales@example.com", "sales").await;
    let r = browser
        .post(server.at("/api/resource/Customer"))
        .json(&json!({"customer_name": "Browser Ltd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = server.client();
    let r = page
        .post(server.at("/login"))
        .form(&[("usr", "sales@example.com"), ("pwd", "sales")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = page
        .post(server.at("/api/resource/Customer"))
        .json(&json!({"customer_name": "Page Ltd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // What was refused was not written; what was allowed was.
    let admin = server.client();
    server.login(&admin, "admin@example.com", "admin").await;
    for (name, status) in [
        ("Scripted%20Ltd", StatusCode::OK),
        ("Marked%20Ltd", StatusCode::NOT_FOUND),
        ("Evil%20Ltd", StatusCode::NOT_FOUND),
        ("Browser%20Ltd", StatusCode::NOT_FOUND),
        ("Page%20Ltd", StatusCode::NOT_FOUND),
    ] {
        let r = admin
            .get(server.at(&format!("/api/resource/Customer/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{name}");
    }
}

async fn cross_site_posts_are_refused(server: &TestServer) {
    let client = server.client();
    let r = client
        .post(server.at("/login"))
        .header("origin", "http://evil.example")
        .form(&[("usr", "admin@example.com"), ("pwd", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get(SET_COOKIE).is_none());

    let same = format!("http://{}", server.addr);
    let r = client
        .post(server.at("/login"))
        .header("origin", same)
        .form(&[("usr", "admin@example.com"), ("pwd", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "a same-origin login is fine"
    );
}

async fn ready_checks_the_database_the_recorder_and_the_disk(server: &TestServer) {
    let get = async |path: &str| {
        let r = server.client().get(server.at(path)).send().await.unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    let (status, body) = get("/api/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    for check in ["database", "recorder", "disk"] {
        assert_eq!(body["checks"][check]["ok"], true, "{check}: {body}");
    }
    assert!(
        body["checks"]["disk"]["detail"]
            .as_str()
            .unwrap()
            .contains("MB free")
    );

    // The database gone: not ready, saying why; still alive (a restart would not help).
    server.close_database().await;
    let (status, body) = get("/api/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["checks"]["database"]["ok"], false, "{body}");
    assert!(
        !body["checks"]["database"]["detail"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let (status, _) = get("/api/health").await;
    assert_eq!(status, StatusCode::OK);
}

async fn health_reports_the_backend(server: &TestServer) {
    let r = server
        .client()
        .get(server.at("/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], server.store.dialect().name());
}

async fn login_page_logs_in_and_returns_to_next(server: &TestServer) {
    let client = server.client();
    let r = client.get(server.at("/app")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login?next=/app");

    let page = client
        .get(server.at("/login?next=/app"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"name="usr""#) && page.contains(r#"name="pwd""#),
        "{page}"
    );

    let r = client
        .post(server.at("/login"))
        .form(&[
            ("usr", "accounts@example.com"),
            ("pwd", "nope"),
            ("next", "/app"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Invalid login credentials") && page.contains("accounts@example.com"),
        "{page}"
    );

    let r = client
        .post(server.at("/login"))
        .form(&[
            ("usr", "accounts@example.com"),
            ("pwd", "accounts"),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/app", "no redirect off the site");

    let home = client
        .get(server.at("/app"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Welcome, Demo Accounts User"), "{home}");
    assert!(
        home.contains(r#"name="csrf_token""#),
        "the logout form carries the token"
    );
}

// ----- not storage-specific: SQLite only -----

async fn sqlite_server() -> TestServer {
    TestServer::start(crate::common::Backend::Sqlite, "http")
        .await
        .unwrap()
}

#[tokio::test]
async fn every_response_has_a_fresh_request_id() {
    let server = sqlite_server().await;
    let client = server.client();
    let mut ids = Vec::new();
    for path in ["/api/health", "/login", "/nowhere", "/api/health"] {
        let r = client
            .get(server.at(path))
            .header("x-request-id", "chosen-by-client")
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        4,
        "each request gets its own id, never the client's"
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_paths_are_404_as_json_or_as_a_page() {
    let server = sqlite_server().await;
    let client = server.client();
    let r = client
        .get(server.at("/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "There is nothing at /no/such/thing.");

    let r = client
        .get(server.at("/no/such/thing"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().contains_key("x-request-id"));
    let page = r.text().await.unwrap();
    assert!(
        page.contains("<!doctype html>") && page.contains("There is nothing at /no/such/thing."),
        "{page}"
    );
    server.stop().await;
}

#[tokio::test]
async fn malformed_bodies_get_400() {
    let server = sqlite_server().await;
    let r = server
        .client()
        .post(server.at("/api/method/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );

    let big = "x".repeat(3 * 1024 * 1024);
    let r = server
        .client()
        .post(server.at("/api/method/login"))
        .form(&[("usr", big.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        matches!(
            r.status(),
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::BAD_REQUEST
        ),
        "{}",
        r.status()
    );
    server.stop().await;
}
