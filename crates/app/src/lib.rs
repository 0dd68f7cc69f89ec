//! The application layer: what Access Log does, without HTTP. The server's handlers and
//! the `accesslog` command line are two front ends over it: they parse their input, call
//! in here, and say what came back in their own terms (a status code, a line on the
//! terminal). Nothing here knows axum.
//!
//! - [`gate`]: the Access Log gate's core: what is recorded when data leaves, and
//!   [`gate::Released`], made only from the recorder's receipt;
//! - [`accounts`]: users, passwords, roles and API keys, each input checked once;
//! - [`naming`] and [`values`]: a new document's name, and a client's JSON as stored values;
//! - [`blobs`]: the site's file store, by SHA-256;
//! - [`reports`]: who may use a query report, a run of one with its filters checked, and
//!   exports of reports and lists (`reports::job::ExportJob`, `reports::export`);
//! - [`backups`]: consistent copies of the database in the site's `backups/`;
//! - [`log_query`] and [`log_export`]: the Access Log read back with the review's filters,
//!   and written out as CSV or JSON Lines.
//!
//! - [`alerts`]: the arithmetic of the alert rules (issue 17, begun).
//! - [`retention`]: archive bundles, pruning, legal holds and redaction (issue 19).
//!
//! Errors are typed ([`AppError`], and [`accounts::AccountError`] and
//! [`values::ValueError`] where a caller tells their cases apart); the server maps them to
//! statuses in one place.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod accounts;
pub mod alerts;
pub mod backups;
pub mod blobs;
mod error;
pub mod gate;
pub mod log_export;
pub mod log_query;
pub mod naming;
pub mod reports;
pub mod retention;
pub mod sample_names;
pub mod values;
pub mod witnessing;

pub use error::{AppError, AppResult};
