//! `accesslog record-load` (hidden): records synthetic entries, marked `source =
//! record-load`, and prints each receipt as soon as it arrives. Used by the crash and
//! multi-process tests; not for production sites.

use std::io::Write;
use std::sync::Arc;

use accesslog_core::SystemClock;
use accesslog_core::entry::{Activity, Event};
use accesslog_engine::{CheckpointPolicy, Checkpointer, Recorder, RecorderConfig};
use clap::Args;

/// Record synthetic entries (for tests)
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// Entries per writer.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    writers: u64,
    /// Marks the entries, to tell processes apart.
    #[arg(long, default_value = "load")]
    tag: String,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (settings, store) = opts.site.open().await?;
    let signer = crate::open::signer(&settings, &*store).await?;
    let policy = CheckpointPolicy {
        every_entries: u64::from(settings.log.checkpoint_every_entries),
        every: std::time::Duration::from_secs(1),
    };
    let checkpointer = Checkpointer::new(
        signer,
        policy,
        Some(settings.site_dir.join("checkpoints.log")),
    );
    let recorder = Recorder::start(
        store,
        Arc::new(SystemClock),
        Some(checkpointer),
        RecorderConfig::default(),
    );
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let mut tasks = Vec::new();
    for w in 0..opts.writers {
        let recorder = recorder.clone();
        let out = out.clone();
        let tag = opts.tag.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..opts.count {
                let mut e = Event::new(
                    &format!("{tag}-{w}@example.com"),
                    Activity::Export,
                    "record-load",
                );
                e.reference_document = Some(format!("{tag}-{w}-{n}"));
                // Marked as synthetic, so nobody mistakes them for real accesses.
                e.source = "record-load".to_owned();
                let receipt = recorder.record(e).await?;
                if let Ok(mut out) = out.lock() {
                    let _ = writeln!(out, "receipt {} {tag}-{w}-{n}", receipt.seq());
                    let _ = out.flush();
                }
            }
            Ok::<(), accesslog_engine::RecordError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    recorder.checkpoint_now().await;
    Ok(())
}
