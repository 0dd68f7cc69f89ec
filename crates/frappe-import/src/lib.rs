//! Bringing an ERPNext/Frappe site's own Access Log into ours (`accesslog import-frappe`,
//! issue 21): read its rows over REST with a cursor on `creation` and an overlap
//! ([`client`], [`import`]), make its naive site-local times instants ([`zone`]), read its
//! Python-literal filters ([`pyrepr`]), map each row to one of our activities
//! ([`mapping`]), and record each row once, by its ERPNext name, however often the import
//! runs or however it was stopped ([`known`], [`state`]).
//!
//! What an imported entry proves is that we received the row, and when: its own
//! `timestamp` is ours. Not that ERPNext recorded truthfully or completely: its
//! `make_access_log` is open to any logged-in user, so forged rows come in too
//! (`docs/import-frappe.md`).
//!
//! Errors are [`ImportError`], one sentence each for the operator; the CLI adds nothing
//! but the context of the command.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
mod error;
pub mod import;
pub mod known;
pub mod mapping;
pub mod pyrepr;
pub mod state;
pub mod zone;

pub use client::{FrappeClient, Upstream};
pub use error::ImportError;
pub use import::{Importer, Opened, Options, Pass};
pub use zone::SiteZone;
