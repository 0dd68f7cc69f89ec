//! The storage error: small on purpose, so callers can decide what each case means to
//! them (a 404, a 409, a 503) without knowing which database produced it.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or cannot take writes (down, read-only, full).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Something this crate found wrong (a bad value read back, a path that is not
    /// UTF-8), in words.
    #[error("database error: {0}")]
    Other(String),
    /// The database or its driver failed in a way none of the above covers. The driver's
    /// error is kept as the source, so logs can show its whole chain.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The database refused a report's query because it reached for something other than
    /// the site's documents (a system table, a file or network function); the message says
    /// what. The report's fault, not the server's.
    #[error("{0}")]
    Refused(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

// SQLite primary result codes that mean "cannot write now", not "your query is wrong".
const SQLITE_UNAVAILABLE: &[&str] = &["5", "6", "8", "10", "13", "14"]; // BUSY LOCKED READONLY IOERR FULL CANTOPEN

// PostgreSQL SQLSTATE classes and codes with the same meaning.
fn pg_unavailable(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources (disk full, out of memory)
        || code.starts_with("57P") // operator intervention (shutdown)
        || code == "25006" // read-only transaction
        || code == "40001" // serialization failure: retryable
}

/// Whether a database error code means "cannot write now". PostgreSQL's SQLSTATEs are
/// always five characters; SQLite's (extended) result codes are shorter integers, whose
/// low byte is the primary code.
fn code_means_unavailable(code: &str) -> bool {
    if code.len() == 5 {
        return pg_unavailable(code);
    }
    code.parse::<u32>()
        .is_ok_and(|c| SQLITE_UNAVAILABLE.contains(&(c & 0xff).to_string().as_str()))
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound(e.to_string()),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(db.message().to_owned())
            }
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                if code_means_unavailable(&code) {
                    Self::Unavailable(db.message().to_owned())
                } else {
                    Self::Database(Box::new(e))
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e.to_string()),
            _ => Self::Database(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable() {
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn other_driver_errors_keep_their_source() {
        let e = StoreError::from(sqlx::Error::Protocol("a bad frame".into()));
        assert!(matches!(e, StoreError::Database(_)), "{e:?}");
        let source = std::error::Error::source(&e).expect("the driver's error");
        assert!(source.to_string().contains("a bad frame"), "{source}");
        assert!(e.to_string().contains("a bad frame"), "{e}");
    }

    #[test]
    fn missing_rows_are_not_found() {
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::NotFound(_)
        ));
    }

    #[test]
    fn codes_are_read_by_their_backend() {
        assert!(code_means_unavailable("5"), "SQLite BUSY");
        assert!(code_means_unavailable("1032"), "SQLite READONLY_DBMOVED");
        assert!(code_means_unavailable("53100"), "PostgreSQL disk full");
        assert!(
            !code_means_unavailable("22021"),
            "a PostgreSQL encoding error is not BUSY"
        );
        assert!(!code_means_unavailable("2067"), "SQLite UNIQUE constraint");
    }

    #[test]
    fn pg_codes_classify() {
        assert!(pg_unavailable("08006"));
        assert!(pg_unavailable("53100"));
        assert!(pg_unavailable("25006"));
        assert!(!pg_unavailable("42601"));
    }
}
