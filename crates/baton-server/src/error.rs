//! API errors as RFC 9457 problem documents that name what was wrong.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_engine::EngineError;
use baton_model::Diagnostic;
use baton_store::StoreError;

use crate::api::Problem;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<Diagnostic>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError { status, code, detail: detail.into(), errors: Vec::new() }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// A resource that does not validate: every problem, each with its place.
    pub fn invalid(errors: Vec<Diagnostic>) -> Self {
        let detail = format!("{} problem(s) found; nothing was applied", errors.len());
        ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, code: "invalid", detail, errors }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::Conflict(_) => StatusCode::CONFLICT,
            EngineError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::Store(s) => return s_error(s),
        };
        let errors = match &e {
            EngineError::Invalid(list) => list.iter().map(|m| Diagnostic::new(None, "inputs", m.clone())).collect(),
            _ => Vec::new(),
        };
        ApiError { status, code: e.code(), detail: e.to_string(), errors }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        s_error(&e)
    }
}

fn s_error(e: &StoreError) -> ApiError {
    // The cause goes to the log; the caller learns only what it can act on.
    tracing::error!(error = %e, "storage error");
    let status = if e.is_retryable() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::INTERNAL_SERVER_ERROR };
    ApiError::new(status, e.code(), "storage failed; see the server log")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("https://baton.dev/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_string(),
            errors: self.errors,
        };
        let mut response = (self.status, Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, "application/problem+json".parse().expect("static header"));
        response
    }
}
