//! The engine against real databases: recorder, fail-closed, checkpoints, verify.

mod recorder;
mod tamper;
