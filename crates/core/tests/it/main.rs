//! Known-answer tests against public data kept in tests/data (its README.md names the
//! sources): the RFC 6962 proof vectors and the signed-note checkpoint.

mod checkpoint_kat;
mod cosignature_kat;
mod merkle_vectors;
