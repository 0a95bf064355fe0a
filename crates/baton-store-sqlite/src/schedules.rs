//! Schedules in SQLite: the rare writes (apply, pause, delete) one at a
//! time, and the reads. Fires go through the batched writer (`batch.rs`).

use baton_store::{ApplyOutcome, FireOutcome, FireRecord, ScheduleApply, ScheduleRecord};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Row, SqlitePool};

use crate::convert::{self, R, corrupt, db, micros, time};
use crate::resources::{self, Statements};

const STATEMENTS: Statements =
    resources::statements!(table: "schedules", history: "schedule_fires", key: "schedule", newest: "due_at DESC");

pub async fn apply(conn: &mut SqliteConnection, p: &ScheduleApply) -> R<ApplyOutcome> {
    let meta = &p.schedule.metadata;
    resources::apply(conn, &STATEMENTS, (&meta.tenant, &meta.name), &p.hash, &p.schedule, micros(p.now)).await
}

pub async fn pause(conn: &mut SqliteConnection, tenant: &str, name: &str, paused: bool) -> R<bool> {
    // `updated_at` tells when the spec changed; a pause is not a change of it.
    let done = sqlx::query("UPDATE schedules SET paused = ?3 WHERE tenant = ?1 AND name = ?2")
        .bind(tenant)
        .bind(name)
        .bind(paused)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(conn: &mut SqliteConnection, tenant: &str, name: &str) -> R<bool> {
    resources::delete(conn, &STATEMENTS, (tenant, name)).await
}

pub async fn get(pool: &SqlitePool, tenant: &str, name: &str) -> R<Option<ScheduleRecord>> {
    resources::get(pool, &STATEMENTS, (tenant, name), record).await
}

pub async fn page(pool: &SqlitePool, after: Option<(String, String)>, limit: u32) -> R<Vec<ScheduleRecord>> {
    let (tenant, name) = after.unwrap_or_default();
    let rows = sqlx::query("SELECT * FROM schedules WHERE (tenant, name) > (?1, ?2) ORDER BY tenant, name LIMIT ?3")
        .bind(tenant)
        .bind(name)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db)?;
    rows.iter().map(record).collect()
}

pub async fn history(pool: &SqlitePool, tenant: &str, name: &str, limit: u32) -> R<Vec<FireRecord>> {
    resources::history(pool, &STATEMENTS, (tenant, name), limit, fire).await
}

fn uuid(text: Option<String>) -> R<Option<uuid::Uuid>> {
    text.as_deref().map(convert::uuid).transpose()
}

fn record(row: &SqliteRow) -> R<ScheduleRecord> {
    let get = |c: &str| row.try_get::<i64, _>(c).map_err(corrupt);
    let body: String = row.try_get("body").map_err(corrupt)?;
    Ok(ScheduleRecord {
        schedule: serde_json::from_str(&body).map_err(corrupt)?,
        hash: row.try_get("hash").map_err(corrupt)?,
        generation: get("generation")? as u32,
        paused: get("paused")? != 0,
        created_at: time(get("created_at")?)?,
        updated_at: time(get("updated_at")?)?,
        last_due: row.try_get::<Option<i64>, _>("last_due").map_err(corrupt)?.map(time).transpose()?,
        executions: get("executions")? as u64,
        last_run: uuid(row.try_get("last_run").map_err(corrupt)?)?,
    })
}

fn fire(row: &SqliteRow) -> R<FireRecord> {
    let outcome: String = row.try_get("outcome").map_err(corrupt)?;
    Ok(FireRecord {
        tenant: row.try_get("tenant").map_err(corrupt)?,
        schedule: row.try_get("schedule").map_err(corrupt)?,
        due_at: time(row.try_get("due_at").map_err(corrupt)?)?,
        outcome: FireOutcome::parse(&outcome).ok_or_else(|| corrupt(format!("unknown fire outcome `{outcome}`")))?,
        reason: row.try_get("reason").map_err(corrupt)?,
        run_id: uuid(row.try_get("run_id").map_err(corrupt)?)?,
        count: row.try_get::<i64, _>("count").map_err(corrupt)? as u32,
        recorded_at: time(row.try_get("recorded_at").map_err(corrupt)?)?,
    })
}

pub async fn stats(pool: &SqlitePool, tenant: Option<&str>, since: i64) -> R<baton_store::ScheduleStats> {
    let (schedules, paused, disabled): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(paused), 0),
                COALESCE(SUM(CASE WHEN json_extract(body, '$.spec.enabled') THEN 0 ELSE 1 END), 0)
         FROM schedules WHERE ?1 IS NULL OR tenant = ?1",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .map_err(db)?;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT outcome, SUM(count) FROM schedule_fires WHERE (?1 IS NULL OR tenant = ?1) AND due_at >= ?2 GROUP BY outcome",
    )
    .bind(tenant)
    .bind(since)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    Ok(baton_store::ScheduleStats {
        schedules: schedules as u64,
        paused: paused as u64,
        disabled: disabled as u64,
        fires: rows.into_iter().map(|(o, n)| (o, n as u64)).collect(),
    })
}
