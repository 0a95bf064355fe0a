//! Queries that only read; they run on the pool, beside the writer.

use baton_store::{AttemptRecord, LogRecord, RunFilter, RunRecord, StepRecord, WorkflowVersion};
use sqlx::SqlitePool;
use uuid::Uuid;

use crate::convert::{self, R, db};

pub async fn workflow_get(
    pool: &SqlitePool,
    tenant: &str,
    name: &str,
    version: Option<u32>,
) -> R<Option<WorkflowVersion>> {
    let row = sqlx::query(
        "SELECT tenant, name, version, hash, body, created_at FROM workflow_versions
         WHERE tenant = ?1 AND name = ?2 AND (?3 IS NULL OR version = ?3)
         ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant)
    .bind(name)
    .bind(version.map(i64::from))
    .fetch_optional(pool)
    .await
    .map_err(db)?;
    row.as_ref().map(convert::workflow_version).transpose()
}

pub async fn workflow_list(pool: &SqlitePool, tenant: Option<&str>) -> R<Vec<WorkflowVersion>> {
    let rows = sqlx::query(
        "SELECT w.tenant, w.name, w.version, w.hash, w.body, w.created_at
         FROM workflow_versions w
         JOIN (SELECT tenant, name, MAX(version) AS latest FROM workflow_versions
               WHERE ?1 IS NULL OR tenant = ?1 GROUP BY tenant, name) m
           ON w.tenant = m.tenant AND w.name = m.name AND w.version = m.latest
         ORDER BY w.tenant, w.name",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.iter().map(convert::workflow_version).collect()
}

pub async fn workflow_versions(pool: &SqlitePool, tenant: &str, name: &str) -> R<Vec<WorkflowVersion>> {
    let rows = sqlx::query(
        "SELECT tenant, name, version, hash, body, created_at FROM workflow_versions
         WHERE tenant = ?1 AND name = ?2 ORDER BY version DESC",
    )
    .bind(tenant)
    .bind(name)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.iter().map(convert::workflow_version).collect()
}

pub async fn run_get(pool: &SqlitePool, id: Uuid) -> R<Option<RunRecord>> {
    let row =
        sqlx::query("SELECT * FROM runs WHERE id = ?1").bind(id.to_string()).fetch_optional(pool).await.map_err(db)?;
    row.as_ref().map(convert::run).transpose()
}

pub async fn run_find(pool: &SqlitePool, prefix: &str, limit: u32) -> R<Vec<RunRecord>> {
    // Ids are lowercase hex and dashes, all below `~`: a range scan on the key.
    let rows = sqlx::query("SELECT * FROM runs WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT ?2")
        .bind(prefix.to_ascii_lowercase())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db)?;
    rows.iter().map(convert::run).collect()
}

pub async fn run_list(pool: &SqlitePool, f: &RunFilter) -> R<Vec<RunRecord>> {
    let states = (!f.states.is_empty())
        .then(|| serde_json::to_string(&f.states.iter().map(|s| s.as_str()).collect::<Vec<_>>()).unwrap_or_default());
    let rows = sqlx::query(
        "SELECT * FROM runs
         WHERE (?1 IS NULL OR tenant = ?1)
           AND (?2 IS NULL OR workflow = ?2)
           AND (?3 IS NULL OR state IN (SELECT value FROM json_each(?3)))
           AND (?4 IS NULL OR id < ?4)
         ORDER BY id DESC LIMIT ?5",
    )
    .bind(f.tenant.as_deref())
    .bind(f.workflow.as_deref())
    .bind(states)
    .bind(f.before.map(|id| id.to_string()))
    .bind(i64::from(f.limit))
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.iter().map(convert::run).collect()
}

pub async fn run_unfinished(pool: &SqlitePool) -> R<Vec<RunRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM runs WHERE state NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out') ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.iter().map(convert::run).collect()
}

pub async fn step_list(pool: &SqlitePool, run: Uuid) -> R<Vec<StepRecord>> {
    let rows = sqlx::query("SELECT * FROM steps WHERE run_id = ?1 ORDER BY rowid")
        .bind(run.to_string())
        .fetch_all(pool)
        .await
        .map_err(db)?;
    rows.iter().map(convert::step).collect()
}

pub async fn attempt_list(pool: &SqlitePool, run: Uuid) -> R<Vec<AttemptRecord>> {
    let rows = sqlx::query("SELECT * FROM attempts WHERE run_id = ?1 ORDER BY started_at, key, attempt")
        .bind(run.to_string())
        .fetch_all(pool)
        .await
        .map_err(db)?;
    rows.iter().map(convert::attempt).collect()
}

pub async fn log_get(pool: &SqlitePool, run: Uuid, key: &str, attempt: Option<u32>) -> R<Option<LogRecord>> {
    let row = sqlx::query(
        "SELECT * FROM logs WHERE run_id = ?1 AND key = ?2 AND (?3 IS NULL OR attempt = ?3)
         ORDER BY attempt DESC LIMIT 1",
    )
    .bind(run.to_string())
    .bind(key)
    .bind(attempt.map(i64::from))
    .fetch_optional(pool)
    .await
    .map_err(db)?;
    row.as_ref().map(convert::log).transpose()
}
