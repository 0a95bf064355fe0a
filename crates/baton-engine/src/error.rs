use baton_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("{0}")]
    NotFound(String),
    /// The request is wrong; each entry says what and why.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the engine is shutting down")]
    ShuttingDown,
}

impl EngineError {
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::NotFound(_) => "not_found",
            EngineError::Invalid(_) => "invalid",
            EngineError::Conflict(_) => "conflict",
            EngineError::Store(e) => e.code(),
            EngineError::ShuttingDown => "shutting_down",
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            EngineError::Store(e) => e.is_retryable(),
            EngineError::ShuttingDown => true,
            _ => false,
        }
    }
}
