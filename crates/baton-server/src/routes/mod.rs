//! The URL map of `/api/v1`.

mod apply;
mod events;
mod runs;
mod workflows;

use axum::Router;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::AppState;
use crate::api::Health;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/apply", post(apply::apply))
        .route("/api/v1/workflows", get(workflows::list))
        .route("/api/v1/workflows/{name}", get(workflows::get))
        .route("/api/v1/workflows/{name}/versions", get(workflows::versions))
        .route("/api/v1/workflows/{name}/runs", post(runs::start))
        .route("/api/v1/runs", get(runs::list))
        .route("/api/v1/runs/{id}", get(runs::get))
        .route("/api/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/api/v1/runs/{id}/events", get(events::stream))
        .route("/api/v1/runs/{id}/logs/{key}", get(runs::log))
}

async fn health() -> axum::Json<Health> {
    axum::Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
}

/// `?tenant=` on every tenant-scoped route; `default` when absent.
#[derive(Debug, Deserialize)]
pub struct TenantQuery {
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

fn default_tenant() -> String {
    baton_model::workflow::DEFAULT_TENANT.to_string()
}
