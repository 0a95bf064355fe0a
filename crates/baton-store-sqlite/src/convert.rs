//! Between SQLite's values and the store's records.

use baton_model::{AttemptState, RunState, StepState};
use baton_store::{AttemptRecord, LogRecord, Phase, RunRecord, StepRecord, StoreError, WorkflowVersion};
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

pub type R<T> = Result<T, StoreError>;

pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn micros_opt(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(micros)
}

pub fn time(us: i64) -> R<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt(format!("timestamp {us} out of range")))
}

fn time_opt(us: Option<i64>) -> R<Option<DateTime<Utc>>> {
    us.map(time).transpose()
}

pub fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.message().contains("locked") || d.message().contains("busy") => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(d.message().to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

pub fn json_text(v: &Json) -> String {
    v.to_string()
}

fn json(text: &str) -> R<Json> {
    serde_json::from_str(text).map_err(corrupt)
}

fn json_opt(text: Option<String>) -> R<Option<Json>> {
    text.as_deref().map(json).transpose()
}

pub fn uuid(text: &str) -> R<Uuid> {
    Uuid::parse_str(text).map_err(corrupt)
}

pub fn get<'r, T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(row: &'r SqliteRow, col: &str) -> R<T> {
    row.try_get(col).map_err(corrupt)
}

pub fn enum_of<T>(text: &str, parse: fn(&str) -> Option<T>) -> R<T> {
    parse(text).ok_or_else(|| corrupt(format!("unknown state `{text}`")))
}

pub fn workflow_version(row: &SqliteRow) -> R<WorkflowVersion> {
    let body: String = get(row, "body")?;
    Ok(WorkflowVersion {
        tenant: get(row, "tenant")?,
        name: get(row, "name")?,
        version: get::<i64>(row, "version")? as u32,
        hash: get(row, "hash")?,
        workflow: serde_json::from_str(&body).map_err(corrupt)?,
        created_at: time(get(row, "created_at")?)?,
    })
}

pub fn run(row: &SqliteRow) -> R<RunRecord> {
    Ok(RunRecord {
        id: uuid(&get::<String>(row, "id")?)?,
        tenant: get(row, "tenant")?,
        workflow: get(row, "workflow")?,
        version: get::<i64>(row, "version")? as u32,
        state: enum_of(&get::<String>(row, "state")?, RunState::parse)?,
        inputs: json(&get::<String>(row, "inputs")?)?,
        trigger: get(row, "trigger")?,
        created_at: time(get(row, "created_at")?)?,
        started_at: time_opt(get(row, "started_at")?)?,
        finished_at: time_opt(get(row, "finished_at")?)?,
        deadline_at: time_opt(get(row, "deadline_at")?)?,
        reason: get(row, "reason")?,
        cancel_requested: get::<i64>(row, "cancel_requested")? != 0,
        ending: get::<Option<String>>(row, "ending")?.map(|e| enum_of(&e, RunState::parse)).transpose()?,
        depth: get::<i64>(row, "depth")? as u32,
        not_before: time_opt(get(row, "not_before")?)?,
    })
}

pub fn step(row: &SqliteRow) -> R<StepRecord> {
    Ok(StepRecord {
        run_id: uuid(&get::<String>(row, "run_id")?)?,
        key: get(row, "key")?,
        step_id: get(row, "step_id")?,
        index: get::<Option<i64>>(row, "idx")?.map(|i| i as u32),
        phase: enum_of(&get::<String>(row, "phase")?, Phase::parse)?,
        state: enum_of(&get::<String>(row, "state")?, StepState::parse)?,
        attempt: get::<i64>(row, "attempt")? as u32,
        failures: get::<i64>(row, "failures")? as u32,
        item: json_opt(get(row, "item")?)?,
        wake_at: time_opt(get(row, "wake_at")?)?,
        started_at: time_opt(get(row, "started_at")?)?,
        attempt_started_at: time_opt(get(row, "attempt_started_at")?)?,
        finished_at: time_opt(get(row, "finished_at")?)?,
        outputs: json_opt(get(row, "outputs")?)?,
        exit_code: get::<Option<i64>>(row, "exit_code")?.map(|c| c as i32),
        stdout_tail: get(row, "stdout_tail")?,
        stderr_tail: get(row, "stderr_tail")?,
        reason: get(row, "reason")?,
        completed_seq: get(row, "completed_seq")?,
    })
}

pub fn attempt(row: &SqliteRow) -> R<AttemptRecord> {
    Ok(AttemptRecord {
        run_id: uuid(&get::<String>(row, "run_id")?)?,
        key: get(row, "key")?,
        attempt: get::<i64>(row, "attempt")? as u32,
        state: enum_of(&get::<String>(row, "state")?, AttemptState::parse)?,
        started_at: time(get(row, "started_at")?)?,
        finished_at: time(get(row, "finished_at")?)?,
        exit_code: get::<Option<i64>>(row, "exit_code")?.map(|c| c as i32),
        reason: get(row, "reason")?,
    })
}

pub fn log(row: &SqliteRow) -> R<LogRecord> {
    Ok(LogRecord {
        run_id: uuid(&get::<String>(row, "run_id")?)?,
        key: get(row, "key")?,
        attempt: get::<i64>(row, "attempt")? as u32,
        text: get(row, "text")?,
        truncated_bytes: get::<i64>(row, "truncated_bytes")? as u64,
    })
}
