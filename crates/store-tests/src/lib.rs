//! Holds no code: the storage suite lives in `tests/suite.rs`, one binary that runs the same
//! cases against SQLite always and PostgreSQL when `ACCESSLOG_TEST_POSTGRES_URL` is set.
