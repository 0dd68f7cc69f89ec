//! Alerts on unusual egress (issue 17). The README's "Alerts on unusual egress" gives
//! every rule's default.
//!
//! - [`rules`]: the ten rules' published defaults and `[alerts.rules.<id>]` over them;
//! - [`engine`]: every rule together over committed entries, with what it learns per user
//!   and per peer group; built from [`baseline`] (the statistics, R2's test), [`window`]
//!   (R1 burst, R8 probing) and [`content`] (R4 unfiltered export, R5 sensitive content);
//! - [`evaluator`]: the engine beside the recorder, from the store's cursor and the
//!   entries the recorder hands over, never on the commit path;
//! - [`lifecycle`] and [`inbox`]: an alert's life (one open alert per (rule, user,
//!   window), severity only rises, every change kept) and the inbox over the store;
//! - [`delivery`] and [`service`]: email, Standard Webhooks, Slack and syslog, with
//!   retries and dead letters, and the tasks a server runs;
//! - [`replay`]: the rules over past entries, delivering nothing (`accesslog alerts
//!   replay`);
//! - [`corpus`]: the seeded generator of a site's history and planted incidents (the
//!   rules' tests, the demo's history, the bench).
//!
//! Each judges committed entries by their own timestamps, so a history always gives the
//! same alerts.

pub mod baseline;
pub mod content;
pub mod corpus;
pub mod delivery;
pub mod engine;
pub mod evaluator;
pub mod inbox;
pub mod lifecycle;
pub mod replay;
pub mod rules;
pub mod service;
pub mod window;
