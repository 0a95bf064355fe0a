//! Starting, listing, reading and cancelling runs; reading step logs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use baton_engine::RunRequest;
use baton_model::RunState;
use baton_store::{RunFilter, RunRecord};
use serde::Deserialize;
use uuid::Uuid;

use super::TenantQuery;
use crate::api::{List, RunDetail, StartRun};
use crate::{ApiError, AppState};

pub async fn start(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TenantQuery>,
    body: Option<Json<StartRun>>,
) -> Result<impl IntoResponse, ApiError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let request = RunRequest {
        tenant: q.tenant,
        workflow: name,
        version: body.version,
        inputs: body.inputs,
        trigger: "api".into(),
    };
    let run = app.engine.submit(request).await?;
    Ok((StatusCode::CREATED, Json(run)))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    tenant: Option<String>,
    workflow: Option<String>,
    /// Comma-separated states; `active` stands for every unfinished state.
    state: Option<String>,
    limit: Option<u32>,
    cursor: Option<Uuid>,
}

pub async fn list(State(app): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<List<RunRecord>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let filter = RunFilter {
        tenant: q.tenant,
        workflow: q.workflow,
        states: states(q.state.as_deref())?,
        before: q.cursor,
        limit,
    };
    let runs = app.engine.store().run_list(filter).await?;
    let next_cursor = (runs.len() as u32 == limit).then(|| runs.last().map(|r| r.id.to_string())).flatten();
    Ok(Json(List { items: runs, next_cursor }))
}

fn states(text: Option<&str>) -> Result<Vec<RunState>, ApiError> {
    let mut out = Vec::new();
    for name in text.unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if name == "active" {
            out.extend(RunState::ALL.iter().filter(|s| !s.is_terminal()));
            continue;
        }
        let state = RunState::parse(name).ok_or_else(|| {
            let known: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!(
                "unknown run state `{name}` in `state` (known: active, {})",
                known.join(", ")
            ))
        })?;
        out.push(state);
    }
    Ok(out)
}

pub async fn get(State(app): State<AppState>, Path(id): Path<String>) -> Result<Json<RunDetail>, ApiError> {
    let run = resolve(&app, &id).await?;
    Ok(Json(detail(&app, run).await?))
}

pub async fn detail(app: &AppState, run: RunRecord) -> Result<RunDetail, ApiError> {
    let store = app.engine.store();
    let steps = store.step_list(run.id).await?;
    let attempts = store.attempt_list(run.id).await?;
    Ok(RunDetail { run, steps, attempts })
}

pub async fn cancel(State(app): State<AppState>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let run = resolve(&app, &id).await?;
    let run = app.engine.cancel(run.id).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    attempt: Option<u32>,
}

pub async fn log(
    State(app): State<AppState>,
    Path((id, key)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let run = resolve(&app, &id).await?;
    let Some(log) = app.engine.store().log_get(run.id, &key, q.attempt).await? else {
        return Err(missing_log(&app, &run, &key, q.attempt).await?);
    };
    let mut text = log.text;
    if log.truncated_bytes > 0 {
        text.push_str(&format!("\n[baton] {} more bytes were not kept (log cap)\n", log.truncated_bytes));
    }
    let headers = [("x-baton-attempt", log.attempt.to_string())];
    Ok((headers, text))
}

/// Why there is no log: no such step (perhaps it ran per element), or it
/// left no output (`no_log`).
async fn missing_log(app: &AppState, run: &RunRecord, key: &str, attempt: Option<u32>) -> Result<ApiError, ApiError> {
    let steps = app.engine.store().step_list(run.id).await?;
    let Some(step) = steps.iter().find(|s| s.key == key) else {
        let prefix = format!("{key}[");
        let elements: Vec<&str> = steps.iter().filter(|s| s.key.starts_with(&prefix)).map(|s| s.key.as_str()).collect();
        if !elements.is_empty() {
            let shown = elements.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            return Ok(ApiError::not_found(format!("`{key}` ran once per element: ask for one of them ({shown}…)")));
        }
        let known: Vec<&str> = steps.iter().map(|s| s.key.as_str()).collect();
        return Ok(ApiError::not_found(format!("run {} has no step `{key}` (steps: {})", run.id, known.join(", "))));
    };
    Ok(match attempt {
        Some(a) if a > step.attempt || a == 0 => {
            ApiError::not_found(format!("step `{key}` has {} attempt(s), not {a}", step.attempt))
        }
        _ => ApiError::new(StatusCode::NOT_FOUND, "no_log", format!("step `{key}` left no output ({})", step.state)),
    })
}

/// A full run id, or a prefix of one that matches exactly one run.
pub async fn resolve(app: &AppState, text: &str) -> Result<RunRecord, ApiError> {
    let store = app.engine.store();
    if let Ok(id) = Uuid::parse_str(text) {
        return store.run_get(id).await?.ok_or_else(|| ApiError::not_found(format!("run {id} not found")));
    }
    if text.len() < 4 || !text.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(ApiError::bad_request(format!("`{text}` is not a run id (nor a prefix of 4 or more hex digits)")));
    }
    let mut found = store.run_find(text, 2).await?;
    match found.len() {
        0 => Err(ApiError::not_found(format!("no run id starts with `{text}`"))),
        1 => Ok(found.remove(0)),
        _ => Err(ApiError::bad_request(format!("`{text}` matches more than one run; give more of the id"))),
    }
}
