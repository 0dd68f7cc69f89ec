//! The application's errors: what went wrong in terms of the request, not of HTTP. The
//! web layer maps each kind to a status in one place (`accesslog_server::error`); the CLI
//! prints the message.

use accesslog_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The caller's input is wrong; the message names what and how to put it right.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this; the message says what permission it needs.
    #[error("{0}")]
    Forbidden(String),
    /// Not now: a resource the action needs is short (temporary disk); try again later.
    #[error("{0}")]
    Unavailable(String),
    /// Something the site defines failed as it ran (a report's query); the message is for
    /// whoever may see the report.
    #[error("{0}")]
    Definition(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file of the site (or a temporary one) could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// What should not happen whatever the input: a broken definition, a lost worker.
    #[error("{0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// An IO error, with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| AppError::Io { what, source }
    }
}

impl From<accesslog_export::ExportError> for AppError {
    fn from(e: accesslog_export::ExportError) -> Self {
        match e {
            accesslog_export::ExportError::Io(source) => AppError::Io {
                what: "writing the export file".into(),
                source,
            },
            e @ accesslog_export::ExportError::TooManyRows { .. } => {
                AppError::Invalid(e.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(format!("a worker thread failed: {e}"))
    }
}
