//! Alerts on unusual egress (issue 17). So far only the arithmetic the statistical rules
//! share ([`baseline`]): published, deterministic, and shown in each alert. The rules, their
//! evaluation beside the recorder, the inbox and delivery are still to come.

pub mod baseline;
