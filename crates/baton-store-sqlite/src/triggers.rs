//! Triggers in SQLite: apply and delete, deliveries (each with its run, in
//! the writer's transaction), and the reads.

use baton_store::{ApplyOutcome, DeliveryOutcome, DeliveryRecord, TriggerApply, TriggerDelivery, TriggerRecord};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use crate::batch::run_row;
use crate::convert::{self, R, corrupt, db, enum_of, get, micros, time};
use crate::resources::{self, Statements};

const STATEMENTS: Statements = resources::statements!(
    table: "triggers", history: "trigger_deliveries", key: "trigger", newest: "received_at DESC, source DESC"
);

pub async fn apply(conn: &mut SqliteConnection, p: &TriggerApply) -> R<ApplyOutcome> {
    let meta = &p.trigger.metadata;
    resources::apply(conn, &STATEMENTS, (&meta.tenant, &meta.name), &p.hash, &p.trigger, micros(p.now)).await
}

pub async fn delete(conn: &mut SqliteConnection, tenant: &str, name: &str) -> R<bool> {
    resources::delete(conn, &STATEMENTS, (tenant, name)).await
}

/// Records the delivery; only a new one inserts its run.
pub async fn deliver(conn: &mut SqliteConnection, d: &TriggerDelivery) -> R<bool> {
    let r = &d.delivery;
    let inserted = sqlx::query(
        "INSERT INTO trigger_deliveries (tenant, trigger, source, received_at, outcome, reason, run_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
    )
    .bind(&r.tenant)
    .bind(&r.trigger)
    .bind(&r.source)
    .bind(micros(r.received_at))
    .bind(r.outcome.as_str())
    .bind(&r.reason)
    .bind(r.run_id.map(|id| id.to_string()))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let new = inserted.rows_affected() == 1;
    if let (true, Some(run)) = (new, &d.run) {
        crate::batch::insert_runs(conn, &[run_row(run)]).await?;
    }
    Ok(new)
}

pub async fn get_one(pool: &SqlitePool, tenant: &str, name: &str) -> R<Option<TriggerRecord>> {
    resources::get(pool, &STATEMENTS, (tenant, name), record).await
}

pub async fn list(pool: &SqlitePool, tenant: Option<&str>) -> R<Vec<TriggerRecord>> {
    let rows = sqlx::query("SELECT * FROM triggers WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, name")
        .bind(tenant)
        .fetch_all(pool)
        .await
        .map_err(db)?;
    rows.iter().map(record).collect()
}

pub async fn history(pool: &SqlitePool, tenant: &str, name: &str, limit: u32) -> R<Vec<DeliveryRecord>> {
    resources::history(pool, &STATEMENTS, (tenant, name), limit, delivery).await
}

fn record(row: &SqliteRow) -> R<TriggerRecord> {
    let body: String = get(row, "body")?;
    Ok(TriggerRecord {
        trigger: serde_json::from_str(&body).map_err(corrupt)?,
        hash: get(row, "hash")?,
        generation: get::<i64>(row, "generation")? as u32,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

fn delivery(row: &SqliteRow) -> R<DeliveryRecord> {
    Ok(DeliveryRecord {
        tenant: get(row, "tenant")?,
        trigger: get(row, "trigger")?,
        source: get(row, "source")?,
        received_at: time(get(row, "received_at")?)?,
        outcome: enum_of(&get::<String>(row, "outcome")?, DeliveryOutcome::parse)?,
        reason: get(row, "reason")?,
        run_id: get::<Option<String>>(row, "run_id")?.as_deref().map(convert::uuid).transpose()?,
    })
}
