//! The URL map of `/api/v1`.

mod apply;
mod events;
mod hooks;
mod runs;
mod schedules;
mod trigger_check;
mod triggers;
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
        .route("/api/v1/schedules", get(schedules::list))
        .route("/api/v1/schedules/{name}", get(schedules::get).delete(schedules::delete))
        .route("/api/v1/schedules/{name}/pause", post(schedules::pause))
        .route("/api/v1/schedules/{name}/resume", post(schedules::resume))
        .route("/api/v1/schedules/{name}/trigger", post(schedules::trigger))
        .route("/api/v1/schedules/{name}/history", get(schedules::history))
        .route("/api/v1/schedule-stats", get(schedules::stats))
        .route("/api/v1/triggers", get(triggers::list))
        .route("/api/v1/triggers/{name}", get(triggers::get).delete(triggers::delete))
        .route("/api/v1/triggers/{name}/history", get(triggers::history))
        .route("/hooks/{tenant}/{name}", post(hooks::deliver))
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

pub(crate) fn default_tenant() -> String {
    baton_model::workflow::DEFAULT_TENANT.to_string()
}
