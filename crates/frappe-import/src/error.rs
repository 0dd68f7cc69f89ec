//! What can stop an import, each saying what was wrong and what to do. The CLI prints
//! them; `--follow` tells the ones worth retrying ([`ImportError::is_transient`]) from
//! the ones that need the operator.

use accesslog_engine::RecordError;
use accesslog_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The command line or the upstream's settings are not usable.
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    TimeZone(String),
    /// ERPNext answered with an error status.
    #[error("{message}")]
    Upstream { status: u16, message: String },
    /// ERPNext could not be reached, or the connection failed.
    #[error("{0}")]
    Network(String),
    /// ERPNext answered 200 with something that is not what Frappe sends.
    #[error("{0}")]
    BadAnswer(String),
    #[error("recording an imported entry: {0}")]
    Record(#[from] RecordError),
    #[error("reading the Access Log: {0}")]
    Store(#[from] StoreError),
    /// The site folder's import state (cursor, lock).
    #[error("{0}")]
    State(String),
}

impl ImportError {
    /// Whether waiting and trying again may help: the upstream down, slow, or refusing
    /// for now; our log briefly unwritable. A bad key, a missing Access Log or a bad
    /// answer are retried too under `--follow` (an operator may be fixing the upstream),
    /// but stop a single run.
    pub fn is_transient(&self) -> bool {
        match self {
            ImportError::Upstream { .. } | ImportError::Network(_) | ImportError::BadAnswer(_) => {
                true
            }
            ImportError::Record(e) => matches!(e, RecordError::Unavailable(_)),
            ImportError::Store(e) => matches!(e, StoreError::Unavailable(_)),
            ImportError::Config(_) | ImportError::TimeZone(_) | ImportError::State(_) => false,
        }
    }
}
