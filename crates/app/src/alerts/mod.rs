//! Alerts on unusual egress (issue 17), begun:
//!
//! - [`baseline`]: the arithmetic the statistical rules share, with rule R2's test;
//! - [`window`]: the rules that count within a sliding window (R1 burst, R8 probing);
//! - [`content`]: the rules that judge one entry by what it took (R4 unfiltered export,
//!   R5 sensitive content);
//! - [`lifecycle`]: an alert's life (open, acknowledged, resolved or dismissed), one open
//!   alert per (rule, user, window), severity that only rises; in memory so far;
//! - [`replay`]: the rules over past entries, delivering nothing (`accesslog alerts
//!   replay`).
//!
//! Each reads committed entries and judges by their own timestamps, so a history always
//! gives the same alerts. Not yet built: the other rules, evaluation beside the recorder,
//! the alert store, the inbox and delivery.

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
