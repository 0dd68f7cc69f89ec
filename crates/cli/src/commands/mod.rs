//! One file per subcommand: its options (`Opts`) and what it does (`run`).

pub mod demo;
pub mod new_site;
pub mod serve;
pub mod user;
