//! The seeded corpus generator. To be written.
