//! The engine against real databases: recorder, fail-closed, checkpoints, verify.

mod common;
mod recorder;
mod tamper;
