//! baton's REST API (axum): apply resources, start and watch runs, read
//! logs, cancel. JSON in and out; errors are RFC 9457 problem documents.
//! Routes live beside their handlers in [`routes`].

pub mod api;
mod error;
mod routes;

use std::future::Future;

use axum::Router;
use baton_engine::Engine;

pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
}

pub fn router(state: AppState) -> Router {
    routes::router().with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
