//! The Access Log domain: the entry and its canonical bytes, the RFC 6962 Merkle tree, signed
//! checkpoints, what an account is, how secrets are kept, and how time is read.
//!
//! This crate does no IO and knows nothing of HTTP or SQL, so the rules it holds can be
//! tested in isolation and shared by the server, the CLI and every storage backend.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod accounts;
pub mod checkpoint;
pub mod clock;
pub mod cosignature;
pub mod digest;
pub mod doctype;
pub mod entry;
pub mod filters;
pub mod merkle;
pub mod roles;
pub mod secrets;

pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use roles::{Role, SYSTEM_MANAGER};
