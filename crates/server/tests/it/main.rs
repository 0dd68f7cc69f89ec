//! The server's integration tests: the real server on port 0, spoken to over HTTP (and,
//! in `browser`, through headless Chromium). Add modules here, not new test binaries.

mod alerts;
mod browser;
mod common;
mod egress;
mod exports;
mod files;
mod frappe_methods;
mod gate_alerts;
mod hardening;
mod http;
mod metrics;
mod openapi;
mod printing;
mod proofs;
mod reads;
mod records;
mod retention;
mod review;
mod upstream_links;
