//! The engine against real databases: recorder, fail-closed, checkpoints, verify.

#[macro_use]
mod common;
mod recorder;
mod tamper;
