//! Browser tests: the real server, driven through its pages by headless Chromium via
//! chromedriver (Debian's `chromium` and `chromium-driver`).
//!
//! Each test starts its own chromedriver on a free port and one browser session, which
//! it always closes, pass or fail; a drop guard shuts chromedriver down (and kills it if
//! it lingers). Without chromedriver the tests are skipped, except under `CI`, where its
//! absence is a failure.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::common::{Backend, TestServer, USERS};

/// How long any one wait for the browser may take before the test fails.
const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_demo_user_logs_in_and_out() {
    with_browser("each_demo_user_logs_in_and_out", |c, base, _| async move {
        let at = |path: &str| format!("{base}{path}");
        for (email, password, role) in USERS {
            let name = format!("Demo {role}");

            c.goto(&at("/login")).await.unwrap();
            assert_path(&c, "/login").await;
            log_in_with(&c, email, password).await;

            wait_for_path(&c, "/app").await;
            assert_eq!(
                c.current_url().await.unwrap().as_str(),
                at("/app"),
                "{email}"
            );
            let heading = c
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css("main h1"))
                .await
                .unwrap();
            assert_eq!(
                heading.text().await.unwrap(),
                format!("Welcome, {name}"),
                "{email}"
            );
            let who = c.find(Locator::Css("header .who span")).await.unwrap();
            assert_eq!(
                who.text().await.unwrap(),
                name,
                "{email}: the header names the user"
            );

            c.find(LOG_OUT).await.unwrap().click().await.unwrap();
            wait_for_path(&c, "/login").await;
            assert_eq!(
                c.current_url().await.unwrap().as_str(),
                at("/login"),
                "{email}"
            );
            c.wait()
                .at_most(WAIT)
                .for_element(Locator::Id("usr"))
                .await
                .unwrap();
            assert!(
                c.find_all(LOG_OUT).await.unwrap().is_empty(),
                "{email}: still shown a Log out button after logging out"
            );

            // The session is over: the home page sends the browser back to log in.
            c.goto(&at("/app")).await.unwrap();
            wait_for_path(&c, "/login").await;
            let url = c.current_url().await.unwrap();
            let next = url
                .query_pairs()
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v.into_owned());
            assert_eq!(next.as_deref(), Some("/app"), "{email}: {url}");
            c.wait()
                .at_most(WAIT)
                .for_element(Locator::Id("pwd"))
                .await
                .unwrap();
            let body = page_text(&c).await;
            assert!(
                !body.contains("Welcome"),
                "{email}: /app still shows the home page: {body}"
            );
            assert!(
                !body.contains(&name),
                "{email}: the logged-out page names the user: {body}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_on_the_login_page() {
    with_browser(
        "wrong_password_is_refused_on_the_login_page",
        |c, base, _| async move {
            let (email, _, role) = USERS[0];
            c.goto(&format!("{base}/login")).await.unwrap();
            assert_path(&c, "/login").await;
            assert!(
                c.find_all(Locator::Css("p.error"))
                    .await
                    .unwrap()
                    .is_empty(),
                "the fresh login page already shows an error"
            );
            // The stylesheet loads under the page's CSP (no inline style allowed): the
            // login card is narrowed by app.css's `.card.narrow`.
            let width = c
                .execute(
                    "return getComputedStyle(document.querySelector('.card.narrow')).maxWidth",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(width, serde_json::json!("380px"), "app.css did not apply");

            log_in_with(&c, email, "not-the-password").await;

            let alert = c
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css(r#"p.error[role="alert"]"#))
                .await
                .unwrap();
            assert_eq!(alert.text().await.unwrap(), "Invalid login credentials");
            assert_path(&c, "/login").await;
            let body = page_text(&c).await;
            assert!(
                !body.contains("Welcome"),
                "a wrong password reached the home page: {body}"
            );
            assert!(
                !body.contains(&format!("Demo {role}")),
                "a wrong password logged in: {body}"
            );

            // Nothing was logged in: the home page still sends the browser to log in.
            c.goto(&format!("{base}/app")).await.unwrap();
            wait_for_path(&c, "/login").await;
        },
    )
    .await;
}

/// Types into the login form's fields and clicks its button, like a person would.
async fn log_in_with(c: &Client, email: &str, password: &str) {
    let usr = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("usr"))
        .await
        .unwrap();
    usr.clear().await.unwrap();
    usr.send_keys(email).await.unwrap();
    let pwd = c.find(Locator::Id("pwd")).await.unwrap();
    pwd.clear().await.unwrap();
    pwd.send_keys(password).await.unwrap();
    c.find(LOG_IN).await.unwrap().click().await.unwrap();
}

/// The login form's button and the header's logout button, by their visible labels.
const LOG_IN: Locator<'static> = Locator::XPath("//button[normalize-space()='Log in']");
const LOG_OUT: Locator<'static> = Locator::XPath("//button[normalize-space()='Log out']");

async fn page_text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn assert_path(c: &Client, path: &str) {
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), path, "the browser is at {url}");
}

/// Waits (bounded) until the browser is at `path`.
async fn wait_for_path(c: &Client, path: &str) {
    let mut tries = WAIT.as_millis() / POLL.as_millis();
    loop {
        let url = c.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        tries -= 1;
        if tries == 0 {
            let body = page_text(c).await;
            panic!("the browser stayed at {url}, not {path}; the page says: {body}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Starts the server, chromedriver and one browser session; runs `test` with the session
/// and the server's base URL; then closes the session (which ends Chromium) and stops
/// everything, whether `test` passed or panicked.
async fn with_browser<F, Fut>(case: &str, test: F)
where
    F: FnOnce(Client, String, std::sync::Arc<dyn accesslog_store::Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(tools) = Tools::find() else { return };
    let server = TestServer::start(Backend::Sqlite, case).await.unwrap();
    // The customers the cases' invoices link to.
    crate::common::customers(&server, &["Acme Corp", "Acme", "Bolt", "Core"]).await;
    let driver = Driver::start(&tools.chromedriver).await;
    let client = driver.session(&tools.chromium).await;

    let outcome = tokio::spawn(test(
        client.clone(),
        server.url.clone(),
        server.store.clone(),
    ))
    .await;

    let closed = client.close().await;
    server.stop().await;
    match outcome {
        Ok(()) => closed.expect("closing the browser session"),
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the browser test did not finish: {e}"),
        },
    }
}

struct Tools {
    chromedriver: PathBuf,
    chromium: PathBuf,
}

impl Tools {
    /// Finds chromedriver and Chromium; `None` (having said so) when they are missing
    /// outside CI. In CI, where they are installed, a missing one is a failure.
    fn find() -> Option<Self> {
        let chromedriver = program("chromedriver");
        let chromium = program("chromium");
        match (chromedriver, chromium) {
            (Some(chromedriver), Some(chromium)) => Some(Tools {
                chromedriver,
                chromium,
            }),
            (driver, _) => {
                let missing = if driver.is_none() {
                    "chromedriver"
                } else {
                    "chromium"
                };
                accesslog_testkit::skip(missing, "apt-get install chromium chromium-driver");
                None
            }
        }
    }
}

/// `/usr/bin/<name>`, else `<name>` on `PATH`.
fn program(name: &str) -> Option<PathBuf> {
    let usr_bin = Path::new("/usr/bin").join(name);
    if usr_bin.is_file() {
        return Some(usr_bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A chromedriver child process, with its log and the browser profile; stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
    url: String,
    dir: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on a free port. A port cannot be reserved for another process:
    /// one found free may be taken before chromedriver binds it (by a test running beside
    /// this one). So a chromedriver that exits before answering is started again, on
    /// another port, a few times.
    async fn start(chromedriver: &Path) -> Driver {
        const ATTEMPTS: u32 = 5;
        for attempt in 1..=ATTEMPTS {
            let port = {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                listener.local_addr().unwrap().port()
            };
            let dir = tempfile::tempdir().unwrap();
            let child = Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    dir.path().join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
            let mut driver = Driver {
                child,
                port,
                url: format!("http://127.0.0.1:{port}"),
                dir,
            };
            match driver.wait_until_ready().await {
                Ok(()) => return driver,
                Err(exit) if attempt < ATTEMPTS => {
                    eprintln!("chromedriver on port {port} exited ({exit}); trying another port");
                }
                Err(exit) => {
                    driver.print_log_tail();
                    panic!("chromedriver exited before answering, {ATTEMPTS} times: {exit}");
                }
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Polls `/status` until chromedriver says it is ready, a bounded number of times; an
    /// error if it exited first (its port was taken). Only our own child's answer counts:
    /// it must still be running once `/status` answered.
    async fn wait_until_ready(&mut self) -> Result<(), std::process::ExitStatus> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let status = format!("{}/status", self.url);
        for _ in 0..(WAIT.as_millis() / POLL.as_millis()) {
            if let Some(exit) = self.child.try_wait().unwrap() {
                return Err(exit);
            }
            if let Ok(r) = http.get(&status).send().await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["value"]["ready"] == true
            {
                return match self.child.try_wait().unwrap() {
                    Some(exit) => Err(exit),
                    None => Ok(()),
                };
            }
            tokio::time::sleep(POLL).await;
        }
        self.print_log_tail();
        panic!("chromedriver did not answer {status} within {WAIT:?}");
    }

    /// A new browser session: headless Chromium with a fresh profile that stays offline.
    async fn session(&self, chromium: &Path) -> Client {
        let profile = self.dir.path().join("profile");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
        {
            Ok(client) => client,
            Err(e) => {
                self.print_log_tail();
                panic!("starting a Chromium session through chromedriver: {e}");
            }
        }
    }

    /// The end of chromedriver's log, to explain a failure.
    fn print_log_tail(&self) {
        let log =
            std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        eprintln!("--- last lines of chromedriver's log ---\n{tail}\n---");
    }
}

impl Drop for Driver {
    /// Asks chromedriver to shut down, which also quits any browser still open (killing
    /// it outright would orphan Chromium); kills it if it has not exited within `WAIT`.
    fn drop(&mut self) {
        // One that has exited has nothing to shut down, and its port may be another's.
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = request_shutdown(self.port);
        for _ in 0..(WAIT.as_millis() / POLL.as_millis()) {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(POLL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver's `GET /shutdown`, sent without async (this runs in `Drop`).
fn request_shutdown(port: u16) -> std::io::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET /shutdown HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    stream.read_to_end(&mut Vec::new())?;
    Ok(())
}

/// HR attaches a file to an employee from the form page, and sees it listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_attached_from_the_form_page() {
    with_browser(
        "a_file_is_attached_from_the_form_page",
        |c, base, _| async move {
            // The employee, made over the API.
            let api = reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap();
            let r = api
                .post(format!("{base}/api/method/login"))
                .form(&[("usr", "hr@example.com"), ("pwd", "hr")])
                .send()
                .await
                .unwrap();
            let token = r.headers()["x-frappe-csrf-token"]
                .to_str()
                .unwrap()
                .to_owned();
            let r = api
                .post(format!("{base}/api/resource/Employee"))
                .header("x-frappe-csrf-token", token)
                .json(&serde_json::json!({"employee_name": "Eve"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);

            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("offer-letter.txt");
            std::fs::write(&file, "Dear Eve, welcome.").unwrap();

            c.goto(&format!("{base}/login")).await.unwrap();
            log_in_with(&c, "hr@example.com", "hr").await;
            wait_for_path(&c, "/app").await;
            c.goto(&format!("{base}/app/employee/EMP-0001"))
                .await
                .unwrap();
            let input = c
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css("#upload input[type=file]"))
                .await
                .unwrap();
            input.send_keys(file.to_str().unwrap()).await.unwrap();
            c.find(Locator::Css("#upload button"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let link = c
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css(r#"a[href="/private/files/offer-letter.txt"]"#))
                .await
                .unwrap();
            assert_eq!(link.text().await.unwrap(), "offer-letter.txt");
            drop(dir);
        },
    )
    .await;
}

/// A salesperson prints an invoice from its form: the Print menu, a custom format, then
/// the format picker on the print view; each print leaves its entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_is_printed_from_the_print_menu() {
    with_browser(
        "an_invoice_is_printed_from_the_print_menu",
        |c, base, store| async move {
            let api = reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap();
            let r = api
                .post(format!("{base}/api/method/login"))
                .form(&[("usr", "accounts@example.com"), ("pwd", "accounts")])
                .send()
                .await
                .unwrap();
            let token = r.headers()["x-frappe-csrf-token"]
                .to_str()
                .unwrap()
                .to_owned();
            let r = api
                .post(format!("{base}/api/resource/Sales Invoice"))
                .header("x-frappe-csrf-token", token)
                .json(&json!({"customer": "Acme Corp", "grand_total": 99.5,
                    "items": [{"item_code": "WIDGET", "qty": 1, "rate": 99.5, "amount": 99.5}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);

            c.goto(&format!("{base}/login")).await.unwrap();
            log_in_with(&c, "sales@example.com", "sales").await;
            wait_for_path(&c, "/app").await;
            c.goto(&format!("{base}/app/sales-invoice/SINV-00001"))
                .await
                .unwrap();
            c.wait()
                .at_most(WAIT)
                .for_element(Locator::Css("#print-menu summary"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            c.find(Locator::Css("#print-menu a[data-format=Classic]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_for_path(&c, "/printview").await;
            let text = page_text(&c).await;
            assert!(
                text.contains("Grand total") && text.contains("SINV-00001"),
                "{text}"
            );

            // The picker switches to the Standard format.
            c.find(Locator::Css("select#format"))
                .await
                .unwrap()
                .select_by_value("Standard")
                .await
                .unwrap();
            c.find(Locator::XPath("//button[normalize-space()='Show']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let mut tries = WAIT.as_millis() / POLL.as_millis();
            while !c
                .current_url()
                .await
                .unwrap()
                .as_str()
                .ends_with("format=Standard")
            {
                tries -= 1;
                assert!(tries > 0, "the picker did not switch formats");
                tokio::time::sleep(POLL).await;
            }
            assert!(page_text(&c).await.contains("Item Code"));

            let head = store.log_head().await.unwrap();
            let mut formats = Vec::new();
            for seq in [head.size - 1, head.size] {
                let e = store.entry(seq).await.unwrap().unwrap().event;
                assert_eq!(
                    (e.activity.as_str(), e.user.as_str()),
                    ("print", "sales@example.com")
                );
                formats.push(e.print_format);
            }
            assert_eq!(
                formats,
                [Some("Classic".to_owned()), Some("Standard".to_owned())]
            );
        },
    )
    .await;
}

/// A System Manager reviews the log: filters by user and activity, opens an export entry
/// and follows Show Report to the report with the same filters, follows Show Document from
/// a print entry to the invoice; a salesperson is refused the Access Log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_manager_reviews_the_access_log() {
    with_browser(
        "a_system_manager_reviews_the_access_log",
        |c, base, _store| async move {
            let login = |usr: &'static str, pwd: &'static str| {
                let base = base.clone();
                async move {
                    let api = reqwest::Client::builder().cookie_store(true).build().unwrap();
                    let r = api
                        .post(format!("{base}/api/method/login"))
                        .form(&[("usr", usr), ("pwd", pwd)])
                        .send()
                        .await
                        .unwrap();
                    let token = r.headers()["x-frappe-csrf-token"].to_str().unwrap().to_owned();
                    (api, token)
                }
            };
            let (admin_api, token) = login("admin@example.com", "admin").await;
            for body in [
                json!({"posting_date": "2026-02-01", "account": "Debtors", "party": "Acme", "debit": 50, "credit": 0}),
                json!({"posting_date": "2026-02-02", "account": "Debtors", "party": "Bolt", "debit": 70, "credit": 0}),
            ] {
                let r = admin_api
                    .post(format!("{base}/api/resource/GL Entry"))
                    .header("x-frappe-csrf-token", &token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
            let (accounts, token) = login("accounts@example.com", "accounts").await;
            let r = accounts
                .post(format!("{base}/api/resource/Sales Invoice"))
                .header("x-frappe-csrf-token", &token)
                .json(&json!({"customer": "Acme", "grand_total": 5}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let r = accounts
                .post(format!("{base}/api/method/frappe.desk.query_report.export_query"))
                .header("x-frappe-csrf-token", &token)
                .form(&[("report_name", "General Ledger"), ("file_format_type", "CSV"), ("filters", r#"{"party":"Acme"}"#)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let (sales, _) = login("sales@example.com", "sales").await;
            let r = sales
                .get(format!("{base}/printview?doctype=Sales%20Invoice&name=SINV-00001"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);

            c.goto(&format!("{base}/login")).await.unwrap();
            log_in_with(&c, "admin@example.com", "admin").await;
            wait_for_path(&c, "/app").await;
            c.goto(&format!("{base}/app/access-log")).await.unwrap();
            let user = c.wait().at_most(WAIT).for_element(Locator::Css("#log-filters input[name=user]")).await.unwrap();
            user.send_keys("accounts@example.com").await.unwrap();
            c.find(Locator::Css("#log-filters select[name=activity]"))
                .await
                .unwrap()
                .select_by_value("export")
                .await
                .unwrap();
            c.find(Locator::XPath("//form[@id='log-filters']//button[normalize-space()='Apply']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let mut tries = WAIT.as_millis() / POLL.as_millis();
            while !c.current_url().await.unwrap().as_str().contains("activity=export") {
                tries -= 1;
                assert!(tries > 0, "the filters were not applied");
                tokio::time::sleep(POLL).await;
            }
            let rows = c.find_all(Locator::Css("#log tbody tr")).await.unwrap();
            assert_eq!(rows.len(), 1, "{}", page_text(&c).await);
            let text = rows[0].text().await.unwrap();
            assert!(text.contains("accounts@example.com") && text.contains("General Ledger") && text.contains("CSV"), "{text}");
            rows[0].find(Locator::Css("a")).await.unwrap().click().await.unwrap();
            c.wait()
                .at_most(WAIT)
                .for_element(Locator::Id("show-report"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_for_path(&c, "/app/query-report/General%20Ledger").await;
            let url = c.current_url().await.unwrap();
            assert_eq!(url.query(), Some("party=Acme"), "{url}");
            let party = c.find(Locator::Css("#report-filters input[name=party]")).await.unwrap();
            assert_eq!(party.prop("value").await.unwrap().as_deref(), Some("Acme"));
            assert!(page_text(&c).await.contains("1 rows"));

            // Show Document from the print entry.
            c.goto(&format!("{base}/app/access-log?activity=print")).await.unwrap();
            c.wait()
                .at_most(WAIT)
                .for_element(Locator::Css("#log tbody tr a"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            c.wait()
                .at_most(WAIT)
                .for_element(Locator::Id("show-document"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_for_path(&c, "/app/sales-invoice/SINV-00001").await;
            c.find(LOG_OUT).await.unwrap().click().await.unwrap();
            wait_for_path(&c, "/login").await;

            // A salesperson is refused.
            log_in_with(&c, "sales@example.com", "sales").await;
            wait_for_path(&c, "/app").await;
            c.goto(&format!("{base}/app/access-log")).await.unwrap();
            let text = page_text(&c).await;
            assert!(text.contains("403") && text.contains("Only System Managers"), "{text}");
        },
    )
    .await;
}

/// An accountant exports ticked rows of a list with chosen fields; the entry says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticked_rows_are_exported_from_the_list() {
    with_browser(
        "ticked_rows_are_exported_from_the_list",
        |c, base, store| async move {
            let api = reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap();
            let r = api
                .post(format!("{base}/api/method/login"))
                .form(&[("usr", "accounts@example.com"), ("pwd", "accounts")])
                .send()
                .await
                .unwrap();
            let token = r.headers()["x-frappe-csrf-token"]
                .to_str()
                .unwrap()
                .to_owned();
            for customer in ["Acme", "Bolt", "Core"] {
                let r = api
                    .post(format!("{base}/api/resource/Sales Invoice"))
                    .header("x-frappe-csrf-token", &token)
                    .json(&json!({"customer": customer, "grand_total": 1}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
            c.goto(&format!("{base}/login")).await.unwrap();
            log_in_with(&c, "accounts@example.com", "accounts").await;
            wait_for_path(&c, "/app").await;
            c.goto(&format!("{base}/app/sales-invoice")).await.unwrap();
            c.wait()
                .at_most(WAIT)
                .for_element(Locator::Css("input.pick[value=SINV-00002]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            c.find(Locator::Css("#list-export summary"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            c.find(Locator::Css(".export-field[value=grand_total]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let before = store.log_head().await.unwrap().size;
            c.find(Locator::Css("#list-export button[value=CSV]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let mut tries = WAIT.as_millis() / POLL.as_millis();
            while store.log_head().await.unwrap().size == before {
                tries -= 1;
                assert!(tries > 0, "the export was not recorded");
                tokio::time::sleep(POLL).await;
            }
            let e = store.entry(before + 1).await.unwrap().unwrap().event;
            assert_eq!(e.activity.as_str(), "export");
            assert_eq!(e.row_count, Some(1));
            assert!(
                e.filters
                    .unwrap()
                    .as_str()
                    .contains(r#""selected_items":["SINV-00002"]"#)
            );
            let columns = e.columns.unwrap();
            assert!(
                columns.as_str().contains("customer") && !columns.as_str().contains("grand_total"),
                "{}",
                columns.as_str()
            );
        },
    )
    .await;
}

/// A scripted burst of exports raises R1; the System Manager finds the alert in the
/// inbox, acknowledges it, then resolves it as a true positive, and the page shows the
/// state and who did what.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_from_a_burst_of_exports_is_acknowledged_and_resolved() {
    with_browser(
        "an_alert_from_a_burst_of_exports_is_acknowledged_and_resolved",
        |c, base, _store| async move {
            let api = reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap();
            let r = api
                .post(format!("{base}/api/method/login"))
                .form(&[("usr", "accounts@example.com"), ("pwd", "accounts")])
                .send()
                .await
                .unwrap();
            let token = r.headers()["x-frappe-csrf-token"]
                .to_str()
                .unwrap()
                .to_owned();
            crate::alerts::export_burst(&base, &api, &token, 21).await;

            c.goto(&format!("{base}/login")).await.unwrap();
            log_in_with(&c, "admin@example.com", "admin").await;
            wait_for_path(&c, "/app").await;
            // The server's evaluator runs every 5 s (the default): reload until it has.
            let inbox = format!("{base}/app/access-log/alerts?rule=R1");
            let mut tries = 60;
            let link = loop {
                c.goto(&inbox).await.unwrap();
                let rows = c
                    .find_all(Locator::Css("#alerts tbody tr a"))
                    .await
                    .unwrap();
                if let Some(link) = rows.into_iter().next() {
                    break link;
                }
                tries -= 1;
                assert!(
                    tries > 0,
                    "no R1 alert in the inbox: {}",
                    page_text(&c).await
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            let row = c
                .find(Locator::Css("#alerts tbody tr"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                row.contains("R1: Burst of egress")
                    && row.contains("accounts@example.com")
                    && row.contains("open"),
                "{row}"
            );
            let id = link.text().await.unwrap();
            link.click().await.unwrap();
            let detail = format!("/app/access-log/alerts/{id}");
            wait_for_path(&c, &detail).await;
            let arithmetic = c
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css("#arithmetic li"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(arithmetic.starts_with("20 egress events"), "{arithmetic}");
            let evidence = c
                .find_all(Locator::Css("#evidence tbody tr"))
                .await
                .unwrap();
            assert!(evidence.len() >= 20, "{}", page_text(&c).await);

            c.find(Locator::XPath(
                "//form[@id='acknowledge']//button[normalize-space()='Acknowledge']",
            ))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
            let state = wait_for_text(&c, "#state", "acknowledged").await;
            assert_eq!(state, "acknowledged");
            assert_path(&c, &detail).await;

            c.find(Locator::Css("#resolve select[name=resolution]"))
                .await
                .unwrap()
                .select_by_value("true_positive")
                .await
                .unwrap();
            c.find(Locator::XPath(
                "//form[@id='resolve']//button[normalize-space()='Resolve']",
            ))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
            let state = wait_for_text(&c, "#state", "resolved").await;
            assert_eq!(state, "resolved: true_positive");
            let history: Vec<String> = {
                let mut out = Vec::new();
                for row in c.find_all(Locator::Css("#history tbody tr")).await.unwrap() {
                    out.push(row.text().await.unwrap());
                }
                out
            };
            assert_eq!(history.len(), 3, "{history:?}");
            assert!(
                history[0].contains("system") && history[0].contains("raised"),
                "{history:?}"
            );
            assert!(
                history[1].contains("admin@example.com") && history[1].ends_with("acknowledged"),
                "{history:?}"
            );
            assert!(
                history[2].contains("admin@example.com")
                    && history[2].ends_with("resolved: true_positive"),
                "{history:?}"
            );
            assert!(
                c.find_all(Locator::Css("#acknowledge"))
                    .await
                    .unwrap()
                    .is_empty(),
                "a resolved alert still offers Acknowledge"
            );
        },
    )
    .await;
}

/// Waits (bounded) until the element `css` exists and its text starts with `prefix`;
/// returns its text.
async fn wait_for_text(c: &Client, css: &str, prefix: &str) -> String {
    let mut tries = WAIT.as_millis() / POLL.as_millis();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
            && text.starts_with(prefix)
        {
            return text;
        }
        tries -= 1;
        if tries == 0 {
            panic!(
                "{css} never said {prefix:?}; the page says: {}",
                page_text(c).await
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
