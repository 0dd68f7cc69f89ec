//! What every handler can reach: the store, the clock, the site's settings and the Access
//! Log recorder. Cheap to clone.

use std::sync::Arc;

use accesslog_core::Clock;
use accesslog_core::checkpoint::LogSigner;
use accesslog_engine::{CheckpointPolicy, Checkpointer, Recorder, RecorderConfig};
use accesslog_print::{PdfRenderer, PrintFormats};
use accesslog_site::doctypes::DocTypes;
use accesslog_site::reports::Reports;
use accesslog_site::{PdfSettings, Settings};
use accesslog_store::Store;

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub recorder: Recorder,
    /// The log's verifier key (public), as `GET /api/access-log/public-key` serves it.
    pub verifier_key: Arc<str>,
    /// The site's document types.
    pub doctypes: Arc<DocTypes>,
    /// Print formats, raw formats, and the PDF maker.
    pub printing: Arc<Printing>,
    /// The site's query reports.
    pub reports: Arc<Reports>,
    /// Bounds on password checks and exports.
    pub limits: Arc<crate::limits::Limits>,
    /// What the recorder commits, for the alert rules (taken once, by `serve`).
    pub committed: Arc<std::sync::Mutex<Option<CommittedEntries>>>,
}

/// Batches of committed entries, as the recorder hands them over.
pub type CommittedEntries = tokio::sync::mpsc::Receiver<Vec<accesslog_core::entry::Entry>>;

/// Committed batches the recorder may hold for the alert rules before it skips some
/// (which they then read back from the store).
const COMMITTED_BATCHES: usize = 1024;

/// What a site defines in its folder: document types, print formats, query reports.
#[derive(Debug, Default)]
pub struct Definitions {
    pub doctypes: DocTypes,
    pub formats: PrintFormats,
    pub reports: Reports,
}

/// What printing needs: the site's formats, and Chromium for PDFs (or why there is none).
#[derive(Debug)]
pub struct Printing {
    pub formats: PrintFormats,
    pub pdf: Result<PdfRenderer, String>,
}

impl AppState {
    /// The SQL dialect of the site's database, for the queries the server builds.
    pub fn dialect(&self) -> accesslog_store::Dialect {
        self.store.dialect()
    }

    /// Starts the recorder, which signs checkpoints with `signer` into the database and the
    /// site's `checkpoints.log`.
    pub fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: Settings,
        signer: LogSigner,
        definitions: Definitions,
    ) -> Self {
        let Definitions {
            doctypes,
            formats,
            reports,
        } = definitions;
        let policy = CheckpointPolicy {
            every_entries: u64::from(settings.log.checkpoint_every_entries),
            every: std::time::Duration::from_secs(u64::from(settings.log.checkpoint_every_seconds)),
        };
        let verifier_key: Arc<str> = signer.verifier_key().into();
        let limits = Arc::new(crate::limits::Limits::new(&settings.exports));
        let settings_pdf = settings.pdf.clone();
        let log_file = settings.site_dir.join("checkpoints.log");
        let checkpointer = Checkpointer::new(signer, policy, Some(log_file));
        let (tap, committed) = tokio::sync::mpsc::channel(COMMITTED_BATCHES);
        let recorder = Recorder::start_tapped(
            store.clone(),
            clock.clone(),
            Some(checkpointer),
            RecorderConfig::default(),
            Some(tap),
        );
        Self {
            store,
            clock,
            settings: Arc::new(settings),
            recorder,
            verifier_key,
            doctypes: Arc::new(doctypes),
            reports: Arc::new(reports),
            limits,
            committed: Arc::new(std::sync::Mutex::new(Some(committed))),
            printing: Arc::new(Printing {
                formats,
                pdf: match &settings_pdf {
                    PdfSettings::Chromium(path) => Ok(PdfRenderer::new(path)),
                    PdfSettings::Off(why) => Err(why.clone()),
                },
            }),
        }
    }
}
