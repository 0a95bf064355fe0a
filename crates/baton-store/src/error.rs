use thiserror::Error;

/// A storage failure, told apart by whether trying again may help.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database is busy or unreachable for now.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// A stored value cannot be read back (a bug or a hand-edited database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The request conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    #[error("storage failed: {0}")]
    Other(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// A stable code for API errors and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "store_unavailable",
            StoreError::Corrupt(_) => "store_corrupt",
            StoreError::Conflict(_) => "conflict",
            StoreError::Other(_) => "store_failed",
        }
    }
}
