//! The egress surface, route by route, from the router's own table
//! (`accesslog_server::routes(state).table()`):
//!
//! - every route is declared egress or exempt, and the exempt ones are held to [`EXEMPT`];
//! - every egress route has a sample request in [`samples`], and answering it leaves the
//!   entry its `x-access-log-seq` names, in the caller's name, with the route's activity;
//! - the authorization matrix: every demo user × every egress route × every target the
//!   route takes, expected allowed or 403 by ERPNext's rules over [`PERMISSIONS`] and
//!   [`REPORTS`] (themselves checked against the site's files); allowed cells' entries
//!   match the bytes received, refused cells are denied on record and release nothing;
//! - cross-site requests, bad input, an oversized User-Agent;
//! - fail-closed: with the log cut off, every egress route answers 503 and releases nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use accesslog_core::entry::{Activity, Outcome};
use reqwest::{Method, StatusCode};
use tokio::io::AsyncReadExt;

use crate::common::{Backend, TestServer, log_size, on_both_backends, sha256};

on_both_backends!(
    mods: sqlite_with_setup, postgres_with_setup;
    run: crate::common::with_backend;
    every_route_is_declared_and_every_egress_route_is_recorded,
    the_authorization_matrix_holds_for_every_egress_route,
    cross_site_requests_for_an_export_are_refused_and_recorded,
    bad_input_is_refused_with_400_naming_it_and_recorded,
    an_oversized_user_agent_is_stored_cut_and_marked,
    every_egress_route_fails_closed_when_the_log_is_cut_off,
    a_cross_site_post_for_an_export_is_refused_and_recorded,
    an_over_long_query_parameter_is_refused_with_400_and_recorded,
);

mod fixture;
mod samples;
mod site;

use fixture::*;
use samples::*;
use site::*;

// ---------------------------------------------------------------------------------------
// 1. The inventory.
// ---------------------------------------------------------------------------------------

/// Why an exempt route carries no record data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exempt {
    Health,
    Login,
    /// Public by nature: public files, the log's public key.
    StaticOrPublic,
    /// A page (or an upload's answer) with no record data in it.
    NoRecordData,
}

/// Every exempt route of the router. A new exempt route fails the inventory until it is
/// added here, with its category, on purpose.
const EXEMPT: &[(&str, &str, Exempt)] = &[
    ("GET", "/", Exempt::Login),
    ("POST", "/", Exempt::Login),
    ("GET", "/login", Exempt::Login),
    ("POST", "/login", Exempt::Login),
    ("POST", "/logout", Exempt::Login),
    ("POST", "/api/method/login", Exempt::Login),
    ("GET", "/api/method/logout", Exempt::Login),
    ("POST", "/api/method/logout", Exempt::Login),
    (
        "GET",
        "/api/method/frappe.auth.get_logged_user",
        Exempt::Login,
    ),
    ("GET", "/api/health", Exempt::Health),
    ("GET", "/api/ready", Exempt::Health),
    ("GET", "/metrics", Exempt::Health),
    ("GET", "/api/openapi.json", Exempt::StaticOrPublic),
    ("GET", "/api/access-log/public-key", Exempt::StaticOrPublic),
    ("GET", "/files/{file_name}", Exempt::StaticOrPublic),
    ("GET", "/app", Exempt::NoRecordData),
    ("GET", "/app/query-report", Exempt::NoRecordData),
    ("GET", "/app/backups", Exempt::NoRecordData),
    // An alert's action: answers a redirect to the alert's (recorded) page.
    ("POST", "/app/access-log/alerts/{id}", Exempt::NoRecordData),
    ("POST", "/api/method/upload_file", Exempt::NoRecordData),
    ("GET", "/assets/app.js", Exempt::StaticOrPublic),
    ("GET", "/assets/app.css", Exempt::StaticOrPublic),
    // frappe.client: a delete answers {}; the other two are refused with why.
    (
        "POST",
        "/api/method/frappe.client.delete",
        Exempt::NoRecordData,
    ),
    (
        "DELETE",
        "/api/resource/{doctype}/{name}",
        Exempt::NoRecordData,
    ),
    (
        "DELETE",
        "/api/v2/document/{doctype}/{name}",
        Exempt::NoRecordData,
    ),
    (
        "POST",
        "/api/method/frappe.client.rename_doc",
        Exempt::NoRecordData,
    ),
    (
        "GET",
        "/api/method/frappe.client.get_single_value",
        Exempt::NoRecordData,
    ),
    (
        "POST",
        "/api/method/frappe.client.get_single_value",
        Exempt::NoRecordData,
    ),
    // Failed logins: accounts and addresses, security telemetry for System Managers.
    ("GET", "/app/login-attempts", Exempt::Login),
    // The log's settings: retention days, holds, bundle names; System Managers only.
    ("GET", "/app/access-log/settings", Exempt::NoRecordData),
];

async fn every_route_is_declared_and_every_egress_route_is_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_inventory").await else {
        return;
    };
    let RouteTable { egress, exempt } = route_table(&f.server);

    // Exempt routes: each with a reason, each on the list.
    for (key, reason) in &exempt {
        assert!(
            !reason.trim().is_empty(),
            "{key:?} is exempt without a reason"
        );
    }
    let listed: BTreeSet<RouteKey> = EXEMPT
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let declared: BTreeSet<RouteKey> = exempt.keys().cloned().collect();
    assert_eq!(
        declared.difference(&listed).collect::<Vec<_>>(),
        Vec::<&RouteKey>::new(),
        "exempt routes missing from EXEMPT: is each one really free of record data?"
    );
    assert_eq!(
        listed.difference(&declared).collect::<Vec<_>>(),
        Vec::<&RouteKey>::new(),
        "EXEMPT lists routes the router does not declare exempt"
    );

    // Egress routes: each has exactly one sample, and each sample is an egress route.
    let samples = samples();
    let sampled: BTreeSet<RouteKey> = samples.iter().map(key_of).collect();
    assert_eq!(sampled.len(), samples.len(), "a route has two samples");
    let routes: BTreeSet<RouteKey> = egress.keys().cloned().collect();
    assert_eq!(
        routes.difference(&sampled).collect::<Vec<_>>(),
        Vec::<&RouteKey>::new(),
        "egress routes without a sample request"
    );
    assert_eq!(
        sampled.difference(&routes).collect::<Vec<_>>(),
        Vec::<&RouteKey>::new(),
        "samples of routes the router does not declare egress"
    );

    // Each sample, as the System Manager: one new entry, named by the answer, in the
    // caller's name, with the route's activity.
    let admin = f.admin();
    for s in &samples {
        let key = key_of(s);
        let target = s.targets[0];
        let req = (s.request)(&f, target);
        let before = log_size(&f.server).await;
        let a = f.send(admin, &req).await;
        assert_eq!(a.status, StatusCode::OK, "{key:?}: {}", a.text());
        let seq = a
            .seq
            .unwrap_or_else(|| panic!("{key:?}: no x-access-log-seq"));
        assert_eq!(log_size(&f.server).await, before + 1, "{key:?}: one entry");
        let e = f.entry(seq).await.event;
        assert_eq!(
            (e.user.as_str(), e.activity, e.outcome),
            (admin.email, egress[&key], Outcome::Granted),
            "{key:?}"
        );
        // The route as requested (a network print adds the printer after it).
        let path = req.url.split('?').next().unwrap();
        let route = format!("{} {path}", req.method);
        assert!(
            e.method == route || e.method.starts_with(&format!("{route} to printer")),
            "{key:?}: {}",
            e.method
        );
        if s.shows == Mark {
            let released = match s.released {
                Released::Body => a.body,
                Released::Printer => f.printer.job(Duration::from_secs(5)).await.unwrap(),
            };
            assert!(
                contains(&released, target.mark()),
                "{key:?}: the sample does not release the {target:?} data"
            );
        }
    }
    f.stop().await;
}

// ---------------------------------------------------------------------------------------
// 2. The authorization matrix.
// ---------------------------------------------------------------------------------------

/// One cell: a user, a route, a target, and what must happen.
struct Cell<'a> {
    caller: &'a Caller,
    sample: &'a Sample,
    target: Target,
    allowed: bool,
}

/// Every user × every egress route × every target the route takes.
fn matrix<'a>(f: &'a Fixture, samples: &'a [Sample]) -> Vec<Cell<'a>> {
    let mut cells = Vec::new();
    for sample in samples {
        for &target in sample.targets {
            for caller in &f.callers {
                cells.push(Cell {
                    caller,
                    sample,
                    target,
                    allowed: allowed(caller.role, sample.needs, target),
                });
            }
        }
    }
    cells
}

#[test]
fn the_permission_table_is_the_test_sites() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/site");
    let mut from_files: Vec<(String, String, Vec<String>)> = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let doctype: toml::Table = toml::from_str(&text).unwrap();
        let name = doctype["name"].as_str().unwrap();
        let Some(permissions) = doctype.get("permissions").and_then(|p| p.as_table()) else {
            continue;
        };
        for (role, granted) in permissions {
            let mut actions: Vec<String> = granted
                .as_table()
                .unwrap()
                .iter()
                .filter(|(_, v)| v.as_bool() == Some(true))
                .map(|(k, _)| k.clone())
                .collect();
            actions.sort();
            from_files.push((name.to_owned(), role.clone(), actions));
        }
    }
    from_files.sort();
    let table: Vec<(String, String, Vec<String>)> = PERMISSIONS
        .iter()
        .map(|(d, r, a)| {
            let actions = a.iter().map(|s| (*s).to_owned()).collect();
            ((*d).to_owned(), (*r).to_owned(), actions)
        })
        .collect();
    assert_eq!(table, from_files, "PERMISSIONS is not the test site's");

    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/src/demo/reports");
    for (name, file) in [
        (GENERAL_LEDGER, format!("{demo}/general_ledger.toml")),
        (SALES_REGISTER, format!("{demo}/sales_register.toml")),
        (CUSTOMER_DIRECTORY, String::new()),
    ] {
        let text = if file.is_empty() {
            CUSTOMER_DIRECTORY_TOML.to_owned()
        } else {
            std::fs::read_to_string(&file).unwrap()
        };
        let report: toml::Table = toml::from_str(&text).unwrap();
        let mut roles: Vec<&str> = report["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        roles.sort_unstable();
        let (_, ref_doctype, listed) = REPORTS.iter().find(|(n, _, _)| *n == name).unwrap();
        assert_eq!(report["name"].as_str(), Some(name));
        assert_eq!(report["ref_doctype"].as_str(), Some(*ref_doctype), "{name}");
        assert_eq!(roles, listed.to_vec(), "{name}");
    }
}

async fn the_authorization_matrix_holds_for_every_egress_route(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_matrix").await else {
        return;
    };
    let egress = route_table(&f.server).egress;
    let samples = samples();
    let cells = matrix(&f, &samples);

    // Every route is tried by someone who may and by someone who may not.
    for s in &samples {
        let mine = cells.iter().filter(|c| std::ptr::eq(c.sample, s));
        let (yes, no): (Vec<_>, Vec<_>) = mine.partition(|c| c.allowed);
        assert!(
            !yes.is_empty() && !no.is_empty(),
            "{:?}: {} allowed and {} refused cells",
            key_of(s),
            yes.len(),
            no.len()
        );
    }

    let mut failures = Vec::new();
    for cell in &cells {
        if let Err(why) = check_cell(&f, cell, egress[&key_of(cell.sample)]).await {
            failures.push(format!(
                "{} {} on {:?} as {} (expected {}): {why}",
                cell.sample.method,
                cell.sample.path,
                cell.target,
                cell.caller.role,
                if cell.allowed { "allowed" } else { "403" }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cells failed:\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n")
    );
    f.stop().await;
}

/// `Err` says how the cell went wrong.
async fn check_cell(f: &Fixture, cell: &Cell<'_>, activity: Activity) -> Result<(), String> {
    let req = (cell.sample.request)(f, cell.target);
    let a = f.send(cell.caller, &req).await;
    let expected = if cell.allowed {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    if a.status != expected {
        return Err(format!("answered {}: {}", a.status, cut(&a.text())));
    }
    let seq = a.seq.ok_or("no x-access-log-seq")?;
    let e = f.entry(seq).await.event;
    let outcome = if cell.allowed {
        Outcome::Granted
    } else {
        Outcome::Denied
    };
    if (e.user.as_str(), e.activity, e.outcome) != (cell.caller.email, activity, outcome) {
        return Err(format!(
            "entry {seq} says {} {:?} {:?}",
            e.user, e.activity, e.outcome
        ));
    }
    let mark = cell.target.mark();
    let to_printer = cell.sample.released == Released::Printer;
    if cell.allowed {
        let released = if to_printer {
            f.printer
                .job(Duration::from_secs(5))
                .await
                .ok_or("nothing reached the printer")?
        } else {
            a.body
        };
        if e.byte_count != Some(released.len() as u64) {
            return Err(format!(
                "entry {seq} says {:?} bytes; {} were released",
                e.byte_count,
                released.len()
            ));
        }
        if e.content_sha256.as_deref() != Some(sha256(&released).as_str()) {
            return Err(format!("entry {seq}'s SHA-256 is not the released bytes'"));
        }
        if cell.sample.shows == Mark && !contains(&released, mark) {
            return Err(format!("the released bytes do not show {mark}"));
        }
    } else {
        if e.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(format!("denied entry {seq} has no reason"));
        }
        if a.shows(mark) || a.attachment {
            return Err(format!("the refusal released data: {}", cut(&a.text())));
        }
        if to_printer && let Some(job) = f.printer.job(Duration::from_millis(300)).await {
            return Err(format!("{} bytes reached the printer", job.len()));
        }
    }
    Ok(())
}

fn cut(text: &str) -> String {
    text.chars().take(300).collect()
}

// ---------------------------------------------------------------------------------------
// 3. Cross-site requests.
// ---------------------------------------------------------------------------------------

async fn cross_site_requests_for_an_export_are_refused_and_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_cross_site").await else {
        return;
    };
    let accounts = f.caller("Accounts User");
    let export = Req::get(report_export_url(GENERAL_LEDGER));
    let same_host = format!("http://{}", f.server.addr);

    for headers in [
        [("sec-fetch-site", "cross-site")].as_slice(),
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        // A browser on this site that says so still may not be asked by another.
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "same-site"),
        ],
    ] {
        let before = log_size(&f.server).await;
        let a = f.send_with(accounts, &export, headers).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(!a.shows(LEDGER_MARK) && !a.attachment, "{headers:?}");
        assert_eq!(log_size(&f.server).await, before + 1, "{headers:?}");
        let e = f.entry(a.seq.unwrap()).await.event;
        assert_eq!(
            (e.user.as_str(), e.activity, e.outcome),
            ("accounts@example.com", Activity::Export, Outcome::Denied),
            "{headers:?}"
        );
        let reason = e.reason.unwrap_or_default();
        assert!(
            reason.to_lowercase().contains("cross-site"),
            "{headers:?}: {reason}"
        );
    }

    // From this site (as a browser says it), or with no such headers (as scripts send).
    for headers in [
        [("sec-fetch-site", "same-origin")].as_slice(),
        &[("origin", same_host.as_str())],
        &[],
    ] {
        let a = f.send_with(accounts, &export, headers).await;
        assert_eq!(a.status, StatusCode::OK, "{headers:?}: {}", a.text());
        assert!(a.shows(LEDGER_MARK));
        let e = f.entry(a.seq.unwrap()).await.event;
        assert_eq!(
            (e.activity, e.outcome),
            (Activity::Export, Outcome::Granted)
        );
        assert_eq!(e.content_sha256.as_deref(), Some(sha256(&a.body).as_str()));
    }
    f.stop().await;
}

/// The same for a POST, which the desk's export button sends: the session's CSRF check
/// refuses it, and the refusal must be on record like the GET's.
async fn a_cross_site_post_for_an_export_is_refused_and_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_cross_site_post").await else {
        return;
    };
    let accounts = f.caller("Accounts User");
    let form = vec![
        ("report_name", GENERAL_LEDGER.to_owned()),
        ("file_format_type", "CSV".to_owned()),
    ];
    let export = Req::with(
        Method::POST,
        "/api/method/frappe.desk.query_report.export_query".to_owned(),
        Body::Form(form),
    );
    let before = log_size(&f.server).await;
    let a = f
        .send_with(accounts, &export, &[("origin", "https://evil.example")])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(!a.shows(LEDGER_MARK) && !a.attachment);
    assert_eq!(
        log_size(&f.server).await,
        before + 1,
        "the refusal is recorded"
    );
    let e = f.entry(a.seq.expect("x-access-log-seq")).await.event;
    assert_eq!(
        (e.user.as_str(), e.activity, e.outcome),
        ("accounts@example.com", Activity::Export, Outcome::Denied)
    );
    f.stop().await;
}

// ---------------------------------------------------------------------------------------
// 4. Bad input.
// ---------------------------------------------------------------------------------------

async fn bad_input_is_refused_with_400_naming_it_and_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_bad_input").await else {
        return;
    };
    let cases = [
        (
            "HR User",
            "/printview?doctype=Employee&name=EMP-0001&format=%00".to_owned(),
            "`format`",
            Activity::Print,
        ),
        (
            "HR User",
            "/private/files/%00x".to_owned(),
            "path segment 3",
            Activity::FileDownload,
        ),
        (
            SYSTEM_MANAGER,
            "/app/backups/x%00".to_owned(),
            "path segment 3",
            Activity::BackupDownload,
        ),
        (
            "HR User",
            "/api/resource/Employee?filters=%FF".to_owned(),
            "`filters`",
            Activity::Read,
        ),
    ];
    for (role, url, names, activity) in cases {
        check_bad_input(&f, role, &url, names, activity).await;
    }
    f.stop().await;
}

/// `url`, sent by `role`, is answered 400 with a message that `names` the bad parameter,
/// and a denied entry without a NUL in any field.
async fn check_bad_input(f: &Fixture, role: &str, url: &str, names: &str, activity: Activity) {
    let caller = f.caller(role);
    let shown: String = url.chars().take(80).collect();
    let before = log_size(&f.server).await;
    let a = f.send(caller, &Req::get(url.to_owned())).await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "{shown}: {}",
        cut(&a.text())
    );
    let message = a.message();
    assert!(message.contains(names), "{shown}: {message}");
    assert_eq!(log_size(&f.server).await, before + 1, "{shown}");
    let e = f.entry(a.seq.expect("x-access-log-seq")).await.event;
    assert_eq!(
        (e.user.as_str(), e.activity, e.outcome),
        (caller.email, activity, Outcome::Denied),
        "{shown}"
    );
    assert!(
        e.reason.as_deref().unwrap_or("").contains(names),
        "{shown}: {e:?}"
    );
    for text in texts(&e) {
        assert!(!text.contains('\0'), "{shown}: a NUL in {text:?}");
    }
}

/// A query parameter over the guard's 16 KiB (`egress::MAX_PARAM`) is refused as the others
/// are: 400 naming it, and a denied entry. Sent byte for byte, as a client would send it.
async fn an_over_long_query_parameter_is_refused_with_400_and_recorded(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_long_param").await else {
        return;
    };
    let key = accesslog_app::accounts::create_api_key(
        &*f.server.store,
        &*f.server.clock,
        "hr@example.com",
        "long parameter",
        &[],
    )
    .await
    .unwrap();
    let path = format!("/api/resource/Employee?filters={}", "a".repeat(20 * 1024));
    let before = log_size(&f.server).await;
    let (status, body) = raw_get(
        &f.server,
        &path,
        &format!("token {}:{}", key.api_key, key.api_secret),
    )
    .await;
    assert_eq!(status, Some(400), "answered: {}", cut(&body));
    assert!(body.contains("`filters`"), "{}", cut(&body));
    assert_eq!(
        log_size(&f.server).await,
        before + 1,
        "the refusal is recorded"
    );
    let e = f.entry(before + 1).await.event;
    assert_eq!(
        (e.user.as_str(), e.activity, e.outcome),
        ("hr@example.com", Activity::Read, Outcome::Denied)
    );
    f.stop().await;
}

/// A GET sent byte for byte with this `Authorization`: the status (`None` when the server
/// closed the connection without one) and the rest of the answer.
async fn raw_get(server: &TestServer, path: &str, authorization: &str) -> (Option<u16>, String) {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    // The server may answer and close before it has read the whole request.
    let _ = s.write_all(req.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    (status, text)
}

// ---------------------------------------------------------------------------------------
// 5. An oversized User-Agent.
// ---------------------------------------------------------------------------------------

async fn an_oversized_user_agent_is_stored_cut_and_marked(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_user_agent").await else {
        return;
    };
    let agent: String = "Mozilla/5.0 (X11; Linux) "
        .chars()
        .chain((0..).map(|i: u32| char::from(b'a' + (i % 26) as u8)))
        .take(300 * 1024)
        .collect();
    let print = Req::get(format!(
        "/printview?{}&format=Standard",
        doc_query(&f, Doc(SALES_INVOICE))
    ));
    let a = f
        .send_with(f.caller("Sales User"), &print, &[("user-agent", &agent)])
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", cut(&a.text()));
    let e = f.entry(a.seq.unwrap()).await.event;
    assert_eq!((e.activity, e.outcome), (Activity::Print, Outcome::Granted));
    let stored = e.user_agent.unwrap();
    assert!(stored.len() <= 512, "{} bytes stored", stored.len());
    let mark = format!("…[cut: 307200 bytes, sha256 {}]", sha256(agent.as_bytes()));
    assert!(stored.ends_with(&mark), "{stored}");
    let kept = stored.strip_suffix(&mark).unwrap();
    assert!(
        !kept.is_empty() && agent.starts_with(kept),
        "the start of the User-Agent is kept: {kept:?}"
    );
    f.stop().await;
}

// ---------------------------------------------------------------------------------------
// 6. Fail-closed.
// ---------------------------------------------------------------------------------------

async fn every_egress_route_fails_closed_when_the_log_is_cut_off(backend: Backend) {
    let Some(f) = Fixture::start(backend, "egress_fail_closed").await else {
        return;
    };
    let samples = samples();
    f.server.cut_off_log().await;
    let size = log_size(&f.server).await;
    for s in &samples {
        let key = key_of(s);
        let target = s.targets[0];
        // The least privileged user who may (the System Manager only where no other may).
        let caller = f
            .callers
            .iter()
            .rev()
            .find(|c| allowed(c.role, s.needs, target))
            .unwrap();
        let a = f.send(caller, &(s.request)(&f, target)).await;
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{key:?} as {}: {}",
            caller.role,
            cut(&a.text())
        );
        assert!(a.seq.is_none() && !a.attachment, "{key:?}");
        assert!(!a.shows(target.mark()), "{key:?}: {}", a.text());
        assert!(
            a.message().contains("the Access Log could not record it"),
            "{key:?}: {}",
            a.text()
        );
        if s.released == Released::Printer {
            // The printer was connected to, then left without a byte.
            let job = f.printer.job(Duration::from_secs(5)).await;
            assert_eq!(job.map(|j| j.len()), Some(0), "{key:?}");
        }
    }
    assert_eq!(log_size(&f.server).await, size, "nothing was recorded");
    f.stop().await;
}
