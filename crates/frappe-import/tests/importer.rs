//! The importer against an upstream in memory that pages as Frappe does, on both
//! backends: rows sharing one creation, rows written late, a repeated hour, an upstream
//! that does not page, and a cursor file lost or from another log. (The HTTP side, the
//! binary and `verify` are in `crates/cli/tests/import_frappe.rs`.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use accesslog_core::SystemClock;
use accesslog_core::entry::Entry;
use accesslog_engine::{Recorder, RecorderConfig};
use accesslog_frappe_import::zone::{format_naive, parse_naive};
use accesslog_frappe_import::{ImportError, Importer, Opened, Options, Pass, SiteZone, Upstream};
use accesslog_testkit::TestDb;
use serde_json::{Value, json};

/// Frappe's `get_list` over rows kept here: `creation >= from`, ordered by creation then
/// name, `limit_start`, `limit_page_length`.
#[derive(Default)]
struct Fake {
    rows: Mutex<Vec<Value>>,
    requests: Mutex<u64>,
    /// Answer as if `limit_start` were not there (a broken upstream).
    ignore_skip: bool,
}

impl Fake {
    fn add(&self, name: &str, creation: &str) {
        self.rows.lock().unwrap().push(json!({
            "name": name, "creation": creation, "user": "ana@example.com",
            "export_from": "Sales Invoice", "reference_document": name,
            "file_type": "PDF", "method": "Print",
        }));
    }
}

impl Upstream for &Fake {
    async fn page(
        &self,
        from: Option<&str>,
        skip: u64,
        limit: u32,
    ) -> Result<Vec<Value>, ImportError> {
        *self.requests.lock().unwrap() += 1;
        let from = from.map(|f| parse_naive(f).unwrap());
        let mut rows: Vec<(String, String, Value)> = self
            .rows
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                let c = parse_naive(r["creation"].as_str().unwrap()).unwrap();
                from.is_none_or(|f| c >= f)
            })
            .map(|r| {
                let c = format_naive(parse_naive(r["creation"].as_str().unwrap()).unwrap());
                (c, r["name"].as_str().unwrap().to_owned(), r.clone())
            })
            .collect();
        rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let skip = if self.ignore_skip { 0 } else { skip as usize };
        Ok(rows
            .into_iter()
            .skip(skip)
            .take(limit as usize)
            .map(|r| r.2)
            .collect())
    }
}

struct Setup<'d> {
    db: &'d TestDb,
    site: tempfile::TempDir,
    recorder: Recorder,
}

impl<'d> Setup<'d> {
    fn new(db: &'d TestDb) -> Self {
        let recorder = Recorder::start(
            db.store.clone(),
            Arc::new(SystemClock),
            None,
            RecorderConfig::default(),
        );
        Setup {
            db,
            site: tempfile::tempdir().unwrap(),
            recorder,
        }
    }

    async fn importer<'a>(
        &self,
        fake: &'a Fake,
        options: Options,
    ) -> Result<(Importer<&'a Fake>, Opened), ImportError> {
        Importer::open(
            fake,
            "frappe:erp.example.com".to_owned(),
            SiteZone::named("Europe/Berlin").unwrap(),
            self.db.store.clone(),
            self.recorder.clone(),
            self.site.path(),
            options,
        )
        .await
    }

    async fn try_run(&self, fake: &Fake, options: Options) -> Result<Pass, ImportError> {
        let (mut importer, _) = self.importer(fake, options).await?;
        let (_stop, stop) = tokio::sync::watch::channel(false);
        importer.run(None, stop).await
    }

    async fn run(&self, fake: &Fake, options: Options) -> Pass {
        self.try_run(fake, options).await.unwrap()
    }

    async fn entries(&self) -> Vec<Entry> {
        self.db.store.entries_after(0, 100_000).await.unwrap()
    }

    /// The ERPNext names recorded, sorted; fails if one is there twice.
    async fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .entries()
            .await
            .into_iter()
            .map(|e| e.event.request_id.unwrap())
            .collect();
        names.sort();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(unique, names, "a name recorded twice");
        names
    }

    fn cursor_file(&self) -> std::path::PathBuf {
        self.site
            .path()
            .join("import-frappe/erp.example.com.cursor")
    }
}

fn pages_of(n: u32) -> Options {
    Options {
        overlap: Duration::from_secs(60),
        page_size: n,
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn with_setup(
    backend: accesslog_testkit::Backend,
    name: &str,
    case: impl AsyncFn(&Setup<'_>),
) {
    accesslog_testkit::with_db(backend, name, async |db: &TestDb| {
        case(&Setup::new(db)).await;
    })
    .await;
}

accesslog_testkit::on_both_backends!(
    run: crate::with_setup;
    rows_sharing_a_creation_are_each_recorded_once,
    rows_written_late_within_the_overlap_are_recorded,
    the_repeated_hour_is_read_again_after_clocks_go_back,
    an_upstream_that_does_not_page_is_named_not_looped,
    the_log_decides_whatever_the_cursor_file_says,
);

/// 23 rows at one instant among others, read 5 at a time: every one recorded once, the
/// reading ends, and a second run records nothing.
async fn rows_sharing_a_creation_are_each_recorded_once(s: &Setup<'_>) {
    let fake = Fake::default();
    let mut expected = Vec::new();
    for i in 0..3 {
        fake.add(&format!("a{i}"), &format!("2026-06-01 10:00:0{i}"));
        expected.push(format!("a{i}"));
    }
    for i in 0..23 {
        fake.add(&format!("same{i:02}"), "2026-06-01 10:00:05.250000");
        expected.push(format!("same{i:02}"));
    }
    for i in 0..4 {
        fake.add(&format!("z{i}"), &format!("2026-06-01 10:00:1{i}"));
        expected.push(format!("z{i}"));
    }
    let pass = s.run(&fake, pages_of(5)).await;
    assert_eq!(pass.recorded, 30);
    assert_eq!(s.names().await, sorted(expected.clone()));
    let requests = *fake.requests.lock().unwrap();
    assert!(
        requests <= 10,
        "{requests} requests for 30 rows in pages of 5"
    );

    let again = s.run(&fake, pages_of(5)).await;
    assert_eq!(again.recorded, 0);
    assert!(again.already >= 4, "the overlap was read again: {again:?}");
    assert_eq!(s.names().await, sorted(expected));

    // Pages of one row: the same rows, still each once.
    fake.add("b0", "2026-06-01 10:00:13");
    fake.add("b1", "2026-06-01 10:00:13");
    assert_eq!(s.run(&fake, pages_of(1)).await.recorded, 2);
    assert_eq!(s.names().await.len(), 32);
}

/// A row committed late, with a creation behind the newest imported: read again and
/// recorded when it is within the overlap; beyond it, only a wider overlap finds it.
async fn rows_written_late_within_the_overlap_are_recorded(s: &Setup<'_>) {
    let fake = Fake::default();
    fake.add("r1", "2026-06-01 10:00:00");
    fake.add("r2", "2026-06-01 10:05:00");
    assert_eq!(s.run(&fake, pages_of(500)).await.recorded, 2);
    fake.add("late30s", "2026-06-01 10:04:30");
    fake.add("late2m", "2026-06-01 10:03:00");
    fake.add("r3", "2026-06-01 10:06:00");
    let pass = s.run(&fake, pages_of(500)).await;
    assert_eq!(pass.recorded, 2, "{pass:?}");
    assert_eq!(s.names().await, ["late30s", "r1", "r2", "r3"]);
    let wide = Options {
        overlap: Duration::from_secs(600),
        page_size: 500,
    };
    assert_eq!(s.run(&fake, wide).await.recorded, 1);
    assert_eq!(s.names().await.len(), 5);
}

/// Berlin, 2026-10-25: 02:00-02:59 happens twice. Rows of the first pass are imported;
/// rows of the second carry earlier naive times than the cursor, and are read all the
/// same, each once.
async fn the_repeated_hour_is_read_again_after_clocks_go_back(s: &Setup<'_>) {
    let fake = Fake::default();
    fake.add("cest1", "2026-10-25 02:10:00");
    fake.add("cest2", "2026-10-25 02:55:00");
    assert_eq!(s.run(&fake, pages_of(500)).await.recorded, 2);
    fake.add("cet1", "2026-10-25 02:05:00");
    fake.add("cet2", "2026-10-25 02:20:00");
    assert_eq!(s.run(&fake, pages_of(500)).await.recorded, 2);
    assert_eq!(s.names().await, ["cest1", "cest2", "cet1", "cet2"]);
    // Each says which instant it was taken as: the first pass's (+02:00).
    let e = s.entries().await;
    let reason = e[2].event.reason.as_deref().unwrap();
    assert!(
        reason.contains(
            "at 2026-10-25T00:05:00.000000Z (creation 2026-10-25 02:05:00 Europe/Berlin)"
        ),
        "{reason}"
    );
    assert!(reason.contains("occurred twice"), "{reason}");
}

/// An upstream that ignores `limit_start` sends one page forever: named, not looped.
async fn an_upstream_that_does_not_page_is_named_not_looped(s: &Setup<'_>) {
    let fake = Fake {
        ignore_skip: true,
        ..Fake::default()
    };
    for i in 0..12 {
        fake.add(&format!("n{i:02}"), "2026-06-01 10:00:00");
    }
    let e = s.try_run(&fake, pages_of(5)).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("sent the same Access Log rows again for limit_start=5"),
        "{e}"
    );
    assert!(*fake.requests.lock().unwrap() < 5);
    // What it had was recorded, once.
    assert_eq!(s.names().await.len(), 5);
}

/// The cursor file saves reading; it never decides what is recorded. Lost: the log's
/// newest import is where reading resumes. From another log: said, and set aside.
async fn the_log_decides_whatever_the_cursor_file_says(s: &Setup<'_>) {
    let fake = Fake::default();
    for i in 0..7 {
        fake.add(&format!("c{i}"), &format!("2026-06-01 10:0{i}:00"));
    }
    assert_eq!(s.run(&fake, pages_of(3)).await.recorded, 7);
    let saved = std::fs::read_to_string(s.cursor_file()).unwrap();
    let saved: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["creation"], "2026-06-01 10:06:00.000000");
    assert_eq!(saved["last_seq"], 7);

    std::fs::remove_file(s.cursor_file()).unwrap();
    let (_, opened) = s.importer(&fake, pages_of(3)).await.unwrap();
    assert_eq!(opened.cursor.as_deref(), Some("2026-06-01 10:06:00.000000"));
    assert!(!opened.from_file);
    assert_eq!(s.run(&fake, pages_of(3)).await.recorded, 0);

    // A cursor from another log: far ahead, naming an entry this log does not hold.
    std::fs::write(
        s.cursor_file(),
        r#"{"source":"frappe:erp.example.com","creation":"2030-01-01 00:00:00","last_seq":3,"last_name":"elsewhere"}"#,
    )
    .unwrap();
    fake.add("c7", "2026-06-01 10:07:00");
    let (_, opened) = s.importer(&fake, pages_of(3)).await.unwrap();
    assert!(
        opened
            .ignored_file
            .as_deref()
            .unwrap()
            .contains("entry 3 is not the one it names"),
        "{opened:?}"
    );
    assert_eq!(s.run(&fake, pages_of(3)).await.recorded, 1);
    assert_eq!(s.names().await.len(), 8);

    // A cursor naming an entry past the log's end (an older backup restored).
    std::fs::write(
        s.cursor_file(),
        r#"{"source":"frappe:erp.example.com","creation":"2030-01-01 00:00:00","last_seq":99,"last_name":"c9"}"#,
    )
    .unwrap();
    let (_, opened) = s.importer(&fake, pages_of(3)).await.unwrap();
    assert!(
        opened
            .ignored_file
            .as_deref()
            .unwrap()
            .contains("the log ends at 8"),
        "{opened:?}"
    );
    assert_eq!(opened.cursor.as_deref(), Some("2026-06-01 10:07:00.000000"));
}
