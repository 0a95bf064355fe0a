//! Reading workflows and their versions.

use axum::Json;
use axum::extract::{Path, Query, State};
use baton_store::WorkflowVersion;
use serde::Deserialize;

use super::TenantQuery;
use crate::api::{List, WorkflowSummary};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Every tenant when absent.
    tenant: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<List<WorkflowSummary>>, ApiError> {
    let versions = app.engine.store().workflow_list(q.tenant.as_deref()).await?;
    Ok(Json(List { items: versions.iter().map(summary).collect(), next_cursor: None }))
}

#[derive(Debug, Deserialize)]
pub struct GetQuery {
    #[serde(flatten)]
    tenant: TenantQuery,
    version: Option<u32>,
}

pub async fn get(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<GetQuery>,
) -> Result<Json<WorkflowVersion>, ApiError> {
    let found = app.engine.store().workflow_get(&q.tenant.tenant, &name, q.version).await?;
    found.map(Json).ok_or_else(|| not_found(&q.tenant.tenant, &name))
}

pub async fn versions(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<List<WorkflowSummary>>, ApiError> {
    let versions = app.engine.store().workflow_versions(&q.tenant, &name).await?;
    if versions.is_empty() {
        return Err(not_found(&q.tenant, &name));
    }
    Ok(Json(List { items: versions.iter().map(summary).collect(), next_cursor: None }))
}

fn not_found(tenant: &str, name: &str) -> ApiError {
    ApiError::not_found(format!("workflow `{name}` not found in tenant `{tenant}`"))
}

fn summary(v: &WorkflowVersion) -> WorkflowSummary {
    WorkflowSummary {
        tenant: v.tenant.clone(),
        name: v.name.clone(),
        version: v.version,
        steps: v.workflow.spec.steps.len(),
        description: v.workflow.spec.description.clone(),
        updated_at: v.created_at,
    }
}
