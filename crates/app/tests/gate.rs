//! The gate's core on both backends: a release is recorded before it is handed out, with
//! the data's size and digest; a failure to record hands out nothing; an unrecorded read
//! happens only where the read settings say so.

use std::sync::Arc;

use accesslog_app::gate::{self, Content, Read};
use accesslog_core::doctype::{DocType, Naming};
use accesslog_core::entry::{Activity, Event, Outcome};
use accesslog_core::{FixedClock, Timestamp};
use accesslog_engine::{Recorder, RecorderConfig};
use accesslog_site::{LogSettings, ReadLogging};
use accesslog_testkit::TestDb;

accesslog_testkit::on_both_backends!(run: accesslog_testkit::with_db;
    a_release_is_recorded_before_it_is_handed_out,
    nothing_is_released_when_the_log_cannot_record,
    refusals_are_recorded_with_their_reason,
);

struct Bytes(&'static [u8]);

impl Content for Bytes {
    fn byte_count(&self) -> u64 {
        self.0.len() as u64
    }
    fn sha256(&self) -> String {
        // SHA-256("hello"), so the test needs no hashing crate of its own.
        assert_eq!(self.0, b"hello");
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".to_owned()
    }
}

fn recorder(db: &TestDb) -> Recorder {
    let clock = Arc::new(FixedClock::new(Timestamp::from_micros(
        1_700_000_000_000_000,
    )));
    Recorder::start(db.store.clone(), clock, None, RecorderConfig::default())
}

fn event() -> Event {
    Event::new("hr@example.com", Activity::Export, "GET /api/method/export")
}

async fn a_release_is_recorded_before_it_is_handed_out(db: &TestDb) {
    let recorder = recorder(db);
    let released = gate::release(&recorder, event(), Bytes(b"hello"))
        .await
        .expect("recorded");
    let seq = released.receipt().expect("a receipt").seq();
    let entry = db.store.entry(seq).await.unwrap().expect("the entry");
    assert_eq!(entry.event.outcome, Outcome::Granted);
    assert_eq!(entry.event.byte_count, Some(5));
    assert_eq!(
        entry.event.content_sha256.as_deref(),
        Some(released.payload().sha256().as_str())
    );
    assert_eq!(released.payload().0, b"hello");
}

async fn nothing_is_released_when_the_log_cannot_record(db: &TestDb) {
    let recorder = recorder(db);
    db.close().await;
    let result = gate::release(&recorder, event(), Bytes(b"hello")).await;
    assert!(result.is_err(), "released although nothing was recorded");
}

async fn refusals_are_recorded_with_their_reason(db: &TestDb) {
    let recorder = recorder(db);
    let receipt = gate::record_outcome(&recorder, event(), Outcome::Denied, "no export".into())
        .await
        .expect("recorded");
    let entry = db
        .store
        .entry(receipt.seq())
        .await
        .unwrap()
        .expect("the entry");
    assert_eq!(entry.event.outcome, Outcome::Denied);
    assert_eq!(entry.event.reason.as_deref(), Some("no export"));
    assert_eq!(entry.event.byte_count, None);
}

#[test]
fn reads_are_recorded_as_the_settings_say() {
    let mut quiet: DocType = DocType {
        name: "Note".into(),
        is_child: false,
        naming: Naming::Prompt,
        fields: Vec::new(),
        permissions: Default::default(),
        log_reads: false,
    };
    let loud = DocType {
        log_reads: true,
        ..quiet.clone()
    };
    let with = |reads| LogSettings {
        reads,
        ..LogSettings::default()
    };
    let (all, lists, off) = (
        with(ReadLogging::All),
        with(ReadLogging::Lists),
        with(ReadLogging::Off),
    );
    for (read, expected) in [
        (Read::Document(&loud), [true, false, false]),
        (Read::List(&loud), [true, true, false]),
        (Read::Report, [true, true, false]),
        (Read::LogEntry, [true, false, false]),
        (Read::Document(&quiet), [false, false, false]),
        (Read::List(&quiet), [false, false, false]),
    ] {
        let got = [&all, &lists, &off].map(|s| read.is_recorded(s));
        assert_eq!(got, expected, "{read:?}");
    }
    quiet.log_reads = true;
    assert!(Read::Document(&quiet).is_recorded(&all));
}
