//! One file per subcommand: its options (`Opts`) and what it does (`run`).

pub mod alerts;
pub mod archive;
pub mod backup;
pub mod checkpoint;
pub mod demo;
pub mod gate;
pub mod hold;
pub mod import;
pub mod import_frappe;
pub mod log_export;
pub mod metrics_token;
pub mod migrate;
pub mod new_site;
pub mod prune;
pub mod record_load;
pub mod redact;
pub mod serve;
pub mod user;
pub mod verify;
pub mod witness;
