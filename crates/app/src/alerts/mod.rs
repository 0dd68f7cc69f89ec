//! Alerts on unusual egress (issue 17), begun: the arithmetic the statistical rules share
//! ([`baseline`], with rule R2's test), the rules that count within a sliding window
//! ([`window`]: R1 burst, R8 probing), and those that judge one entry by what it took
//! ([`content`]: R4 unfiltered export, R5 sensitive content). Each reads committed entries and judges by their
//! own timestamps, so a history always gives the same alerts. Not yet built: the other
//! rules, evaluation beside the recorder, the lifecycle, the inbox and delivery.

pub mod baseline;
pub mod content;
pub mod window;
