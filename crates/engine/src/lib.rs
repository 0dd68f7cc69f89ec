//! The Access Log engine: the recorder every egress path goes through, the checkpoints it
//! signs, and the verification that proves the log was not altered behind its back.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod proofs;
pub mod recorder;
pub mod verify;

pub use recorder::{
    CheckpointPolicy, Checkpointer, Receipt, RecordError, Recorder, RecorderConfig,
};
