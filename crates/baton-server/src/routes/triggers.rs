//! Triggers: list, read (with this node's counters), delete, history.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use baton_engine::triggers::TriggerStatus;
use baton_store::DeliveryRecord;
use serde::Deserialize;

use super::TenantQuery;
use crate::api::List;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    tenant: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<List<TriggerStatus>>, ApiError> {
    let items = app.engine.trigger_statuses(q.tenant.as_deref()).await?;
    Ok(Json(List { items, next_cursor: None }))
}

pub async fn get(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<TriggerStatus>, ApiError> {
    Ok(Json(app.engine.trigger_status(&q.tenant, &name).await?))
}

pub async fn delete(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<StatusCode, ApiError> {
    app.engine.delete_trigger(&q.tenant, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    #[serde(default = "super::default_tenant")]
    tenant: String,
    limit: Option<u32>,
}

pub async fn history(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<List<DeliveryRecord>>, ApiError> {
    app.engine.trigger_status(&q.tenant, &name).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let items = app.engine.store().trigger_history(&q.tenant, &name, limit).await?;
    Ok(Json(List { items, next_cursor: None }))
}
