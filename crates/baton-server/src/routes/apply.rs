//! `POST /api/v1/apply`: YAML or JSON documents in the body, checked as a
//! whole (nothing is stored if anything is wrong), then each stored as a new
//! version only if its content changed.

use axum::Json;
use axum::extract::{Query, State};
use baton_model::Resource;
use baton_store::ApplyOutcome;
use serde::Deserialize;

use crate::api::{AppliedResource, ApplyResult};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
pub struct ApplyQuery {
    /// The file name to use in error messages.
    #[serde(default = "default_file")]
    file: String,
    #[serde(default)]
    dry_run: bool,
}

fn default_file() -> String {
    "<request>".to_string()
}

pub async fn apply(
    State(app): State<AppState>,
    Query(q): Query<ApplyQuery>,
    body: String,
) -> Result<Json<ApplyResult>, ApiError> {
    let resources = baton_model::load(&q.file, &body).map_err(ApiError::invalid)?;
    let mut applied = Vec::with_capacity(resources.len());
    for resource in resources {
        applied.push(apply_one(&app, resource, q.dry_run).await?);
    }
    Ok(Json(ApplyResult { resources: applied }))
}

async fn apply_one(app: &AppState, resource: Resource, dry_run: bool) -> Result<AppliedResource, ApiError> {
    let Resource::Workflow(compiled) = resource;
    let workflow = compiled.workflow;
    let hash = baton_model::content_hash(&workflow);
    let meta = workflow.metadata.clone();
    let store = app.engine.store();
    let outcome = if dry_run {
        match store.workflow_get(&meta.tenant, &meta.name, None).await? {
            None => ApplyOutcome::Created { version: 1 },
            Some(v) if v.hash == hash => ApplyOutcome::Unchanged { version: v.version },
            Some(v) => ApplyOutcome::Updated { version: v.version + 1 },
        }
    } else {
        app.engine.apply(workflow).await?
    };
    let label = match outcome {
        ApplyOutcome::Created { .. } => "created",
        ApplyOutcome::Updated { .. } => "updated",
        ApplyOutcome::Unchanged { .. } => "unchanged",
    };
    Ok(AppliedResource {
        kind: "Workflow".into(),
        tenant: meta.tenant,
        name: meta.name,
        outcome: label.into(),
        version: outcome.version(),
        dry_run,
    })
}
