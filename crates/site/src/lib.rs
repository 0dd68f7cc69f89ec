//! A site is a folder: `site.toml` plus the sub-folders that hold its definitions
//! (`doctypes/`, `reports/`, `print_formats/`, `raw_formats/`), its private `files/` and its
//! signing `keys/`. This crate creates sites, reads `site.toml`, and resolves the settings
//! the server runs with: `site.toml`, then `ACCESSLOG_*` environment variables, then flags.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alert_delivery;
pub mod alerts;
mod create;
pub mod doctypes;
pub mod gate;
pub mod keys;
pub mod reports;
pub mod retention;
mod settings;

pub use alerts::{AlertSettings, RuleTuning};
pub use create::{SUBFOLDERS, create_site};
pub use settings::{
    Database, ExportSettings, LogSettings, LoginSettings, MetricsSettings, Overrides, PdfSettings,
    PrintFile, PrinterSettings, PublishSettings, ReadLogging, SessionSettings, Settings, SiteError,
    SiteFile, Source, WitnessSettings,
};
