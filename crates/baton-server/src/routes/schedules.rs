//! Schedules: list, read (with the next fires), pause, resume, fire by
//! hand, delete, history, and counts across schedules.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use baton_store::{FireRecord, ScheduleRecord, ScheduleStats};
use chrono::Duration;
use serde::Deserialize;

use super::TenantQuery;
use crate::api::{List, NextFire, ScheduleView, Triggered, WaitingFire};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    tenant: Option<String>,
    limit: Option<u32>,
    /// `tenant/name` of the last schedule of the previous page.
    cursor: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<List<ScheduleView>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let mut after = q.cursor.as_deref().and_then(|c| c.split_once('/')).map(|(t, n)| (t.to_string(), n.to_string()));
    let mut items = Vec::new();
    // Pages of the store are across tenants: keep reading until this tenant's page is full.
    while items.len() < limit as usize {
        let page = app.engine.store().schedule_page(after.clone(), limit).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.tenant().to_string(), last.name().to_string()));
        for record in page.into_iter().filter(|r| q.tenant.as_deref().is_none_or(|t| r.tenant() == t)) {
            if items.len() < limit as usize {
                items.push(view(&app, record, 1).await?);
            }
        }
    }
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|v| format!("{}/{}", v.record.tenant(), v.record.name())))
        .flatten();
    Ok(Json(List { items, next_cursor }))
}

pub async fn get(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<ScheduleView>, ApiError> {
    let record = find(&app, &q.tenant, &name).await?;
    Ok(Json(view(&app, record, 5).await?))
}

pub async fn pause(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<ScheduleView>, ApiError> {
    let record = app.engine.pause_schedule(&q.tenant, &name, true).await?;
    Ok(Json(view(&app, record, 5).await?))
}

pub async fn resume(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<ScheduleView>, ApiError> {
    let record = app.engine.pause_schedule(&q.tenant, &name, false).await?;
    Ok(Json(view(&app, record, 5).await?))
}

pub async fn trigger(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let (outcome, run_id) = app.engine.trigger_schedule(&q.tenant, &name).await?;
    Ok((StatusCode::ACCEPTED, Json(Triggered { outcome, run_id })))
}

pub async fn delete(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<StatusCode, ApiError> {
    app.engine.delete_schedule(&q.tenant, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    #[serde(flatten)]
    tenant: TenantQuery,
    limit: Option<u32>,
}

pub async fn history(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<List<FireRecord>>, ApiError> {
    find(&app, &q.tenant.tenant, &name).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let items = app.engine.store().schedule_history(&q.tenant.tenant, &name, limit).await?;
    Ok(Json(List { items, next_cursor: None }))
}

#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    tenant: Option<String>,
    /// Fires of the last this-many hours (24 by default).
    hours: Option<i64>,
}

pub async fn stats(State(app): State<AppState>, Query(q): Query<StatsQuery>) -> Result<Json<ScheduleStats>, ApiError> {
    let since = app.engine.clock().now() - Duration::hours(q.hours.unwrap_or(24).clamp(1, 24 * 366));
    Ok(Json(app.engine.store().schedule_stats(q.tenant.as_deref(), since).await?))
}

async fn find(app: &AppState, tenant: &str, name: &str) -> Result<ScheduleRecord, ApiError> {
    app.engine
        .store()
        .schedule_get(tenant, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("schedule `{name}` not found in tenant `{tenant}`")))
}

/// The record with its state, its next `n` fires and its last run's state.
async fn view(app: &AppState, record: ScheduleRecord, n: usize) -> Result<ScheduleView, ApiError> {
    let spec = &record.schedule.spec;
    let now = app.engine.clock().now();
    let next = match spec.compiled() {
        Ok((cron, tz)) if record.active() => {
            let after = record.last_due.map_or(now, |d| d.max(now));
            spec.timing(&cron, tz)
                .upcoming(after, record.executions, n)
                .iter()
                .map(|f| NextFire { at: f.at, local: f.at.with_timezone(&tz).to_rfc3339(), dst: f.dst_description() })
                .collect()
        }
        _ => Vec::new(),
    };
    let state = match (spec.enabled, record.paused, next.is_empty()) {
        (false, _, _) => "disabled",
        (true, true, _) => "paused",
        (true, false, true) => "finished",
        (true, false, false) => "active",
    };
    let last_run_state = match record.last_run {
        Some(id) => app.engine.store().run_get(id).await?.map(|r| r.state),
        None => None,
    };
    let waiting_fire = WaitingFire::of((record.last_due, record.last_run), last_run_state, now);
    Ok(ScheduleView { record, state: state.into(), next, last_run_state, waiting_fire })
}
