//! Known-answer tests against public data in ../shared/testdata: the RFC 6962 proof
//! vectors and the signed-note checkpoint.

mod checkpoint_kat;
mod merkle_vectors;
