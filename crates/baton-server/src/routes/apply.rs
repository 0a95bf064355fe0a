//! `POST /api/v1/apply`: YAML or JSON documents in the body, checked as a
//! whole (nothing is stored if anything is wrong, including a schedule or a
//! trigger whose workflow or inputs do not fit), then each stored only if it
//! changed.

use axum::Json;
use axum::extract::{Query, State};
use baton_model::schedule::Schedule;
use baton_model::workflow::InputSpec;
use baton_model::{Diagnostic, Resource};
use baton_store::ApplyOutcome;
use serde::Deserialize;
use std::collections::BTreeMap;

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
    let problems = check_references(&app, &resources, &q.file).await?;
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    let mut applied = Vec::with_capacity(resources.len());
    for resource in resources {
        applied.push(apply_one(&app, resource, q.dry_run).await?);
    }
    Ok(Json(ApplyResult { resources: applied }))
}

/// A schedule or a trigger must name a workflow of its tenant (stored, or
/// earlier in the same request) and give it inputs it accepts.
async fn check_references(app: &AppState, resources: &[Resource], file: &str) -> Result<Vec<Diagnostic>, ApiError> {
    let mut declared: BTreeMap<(String, String), BTreeMap<String, InputSpec>> = BTreeMap::new();
    let mut problems = Vec::new();
    for resource in resources {
        match resource {
            Resource::Workflow(w) => {
                let m = &w.workflow.metadata;
                declared.insert((m.tenant.clone(), m.name.clone()), w.workflow.spec.inputs.clone());
            }
            Resource::Schedule(s) => {
                let inputs = inputs_of(app, &declared, &s.metadata.tenant, &s.spec.workflow).await?;
                problems.extend(check_schedule(s, inputs.as_ref(), file));
            }
            Resource::Trigger(t) => {
                let t = &t.trigger;
                let inputs = inputs_of(app, &declared, &t.metadata.tenant, &t.spec.workflow).await?;
                problems.extend(super::trigger_check::check(t, inputs.as_ref(), file));
            }
        }
    }
    Ok(problems)
}

/// The inputs a workflow declares; `None` if there is no such workflow.
async fn inputs_of(
    app: &AppState,
    declared: &BTreeMap<(String, String), BTreeMap<String, InputSpec>>,
    tenant: &str,
    workflow: &str,
) -> Result<Option<BTreeMap<String, InputSpec>>, ApiError> {
    if let Some(inputs) = declared.get(&(tenant.to_string(), workflow.to_string())) {
        return Ok(Some(inputs.clone()));
    }
    Ok(app.engine.store().workflow_get(tenant, workflow, None).await?.map(|v| v.workflow.spec.inputs))
}

fn check_schedule(s: &Schedule, inputs: Option<&BTreeMap<String, InputSpec>>, file: &str) -> Vec<Diagnostic> {
    let at = |path: &str, message: String| Diagnostic::new(None, path, message).in_file(file);
    let Some(inputs) = inputs else {
        let message = format!(
            "schedule `{}`: workflow `{}` not found in tenant `{}` (apply it first, or earlier in the same file)",
            s.metadata.name, s.spec.workflow, s.metadata.tenant
        );
        return vec![at("spec.workflow", message)];
    };
    match baton_model::inputs::resolve(inputs, &s.spec.inputs) {
        Ok(_) => Vec::new(),
        Err(list) => {
            list.into_iter().map(|m| at("spec.inputs", format!("schedule `{}`: {m}", s.metadata.name))).collect()
        }
    }
}

async fn apply_one(app: &AppState, resource: Resource, dry_run: bool) -> Result<AppliedResource, ApiError> {
    let store = app.engine.store();
    let (kind, meta, outcome) = match resource {
        Resource::Workflow(compiled) => {
            let workflow = compiled.workflow;
            let hash = baton_model::content_hash(&workflow);
            let meta = workflow.metadata.clone();
            let outcome = if dry_run {
                let current = store.workflow_get(&meta.tenant, &meta.name, None).await?;
                predict(current.map(|v| (v.hash, v.version)), &hash)
            } else {
                app.engine.apply(workflow).await?
            };
            ("Workflow", meta, outcome)
        }
        Resource::Schedule(schedule) => {
            let hash = baton_model::content_hash(&schedule);
            let meta = schedule.metadata.clone();
            let outcome = if dry_run {
                let current = store.schedule_get(&meta.tenant, &meta.name).await?;
                predict(current.map(|r| (r.hash, r.generation)), &hash)
            } else {
                app.engine.apply_schedule(*schedule).await?
            };
            ("Schedule", meta, outcome)
        }
        Resource::Trigger(compiled) => {
            let trigger = compiled.trigger;
            let hash = baton_model::content_hash(&trigger);
            let meta = trigger.metadata.clone();
            let outcome = if dry_run {
                let current = store.trigger_get(&meta.tenant, &meta.name).await?;
                predict(current.map(|r| (r.hash, r.generation)), &hash)
            } else {
                app.engine.apply_trigger(trigger).await?
            };
            ("Trigger", meta, outcome)
        }
    };
    let label = match outcome {
        ApplyOutcome::Created { .. } => "created",
        ApplyOutcome::Updated { .. } => "updated",
        ApplyOutcome::Unchanged { .. } => "unchanged",
    };
    Ok(AppliedResource {
        kind: kind.into(),
        tenant: meta.tenant,
        name: meta.name,
        outcome: label.into(),
        version: outcome.version(),
        dry_run,
    })
}

/// What an apply would do, given the stored (hash, version).
fn predict(current: Option<(String, u32)>, hash: &str) -> ApplyOutcome {
    match current {
        None => ApplyOutcome::Created { version: 1 },
        Some((h, v)) if h == hash => ApplyOutcome::Unchanged { version: v },
        Some((_, v)) => ApplyOutcome::Updated { version: v + 1 },
    }
}
