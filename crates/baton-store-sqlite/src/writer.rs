//! The single writer: group commit of every queued write.

use std::borrow::Cow;

use baton_store::{
    ApplyOutcome, Change, RunRecord, ScheduleApply, ScheduleFire, StoreError, TriggerApply, TriggerDelivery,
    WorkflowApply,
};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, SqlSafeStr, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::batch;
use crate::convert::{R, db, micros};

/// Counts batches replayed job by job because one job in them failed (a bad
/// job, or a bug in the batched SQL: the replay keeps results right either way).
pub type Fallbacks = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// Jobs taken into one transaction at most; bounds a commit's latency.
const MAX_BATCH: usize = 1024;

pub enum WriteOp {
    WorkflowApply(WorkflowApply),
    RunInsert(Box<RunRecord>),
    CancelRequest(Uuid),
    Commit(Vec<Change>),
    ScheduleApply(Box<ScheduleApply>),
    SchedulePause { tenant: String, name: String, paused: bool },
    ScheduleDelete { tenant: String, name: String },
    ScheduleFire(Vec<ScheduleFire>),
    TriggerApply(Box<TriggerApply>),
    TriggerDelete { tenant: String, name: String },
    TriggerDeliver(Box<TriggerDelivery>),
}

#[derive(Debug)]
pub enum Reply {
    Applied(ApplyOutcome),
    Done,
    /// Whether each change (or fire) took effect.
    Changes(Vec<bool>),
    Found(bool),
}

pub struct Job {
    pub op: WriteOp,
    pub reply: oneshot::Sender<R<Reply>>,
}

pub fn unexpected(reply: Reply) -> StoreError {
    StoreError::Other(format!("the SQLite writer answered out of turn: {reply:?}"))
}

pub async fn migrate(pool: &SqlitePool) -> R<()> {
    let migration = |version, name, sql: &'static str| {
        Migration::new(version, Cow::Borrowed(name), MigrationType::Simple, sql.into_sql_str(), false)
    };
    let migrations = vec![
        migration(1, "init", include_str!("../migrations/0001_init.sql")),
        migration(2, "schedules", include_str!("../migrations/0002_schedules.sql")),
        migration(3, "triggers", include_str!("../migrations/0003_triggers.sql")),
        migration(4, "not_before", include_str!("../migrations/0004_not_before.sql")),
    ];
    Migrator::with_migrations(migrations)
        .run(pool)
        .await
        .map_err(|e| StoreError::Other(format!("migrating the SQLite schema failed: {e}")))
}

pub async fn spawn(options: SqliteConnectOptions, fallbacks: Fallbacks) -> R<mpsc::Sender<Job>> {
    let conn = options.connect().await.map_err(db)?;
    let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
    tokio::spawn(run(conn, rx, fallbacks));
    Ok(tx)
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>, fallbacks: Fallbacks) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let results = commit_batch(&mut conn, &jobs, &fallbacks).await;
        for (job, result) in jobs.drain(..).zip(results) {
            // A caller that went away no longer needs its answer.
            let _ = job.reply.send(result);
        }
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> R<()> {
    sqlx::raw_sql(sql).execute(conn).await.map(|_| ()).map_err(db)
}

/// One transaction for all `jobs`. Every statement is a round trip to
/// SQLite's thread, so the jobs' rows are written with one statement per
/// kind of row ([`batch`]); only if that fails is the batch replayed with a
/// savepoint per job, so that the failing job alone is refused.
async fn commit_batch(conn: &mut SqliteConnection, jobs: &[Job], fallbacks: &Fallbacks) -> Vec<R<Reply>> {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        return jobs.iter().map(|_| Err(StoreError::Unavailable(e.to_string()))).collect();
    }
    match write(conn, jobs).await {
        Ok(replies) => finish(conn, jobs, replies.into_iter().map(Ok).collect()).await,
        Err(e) => {
            fallbacks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(error = %e, jobs = jobs.len(), "batch refused; replaying it job by job");
            let _ = exec(conn, "ROLLBACK").await;
            commit_isolated(conn, jobs).await
        }
    }
}

/// The slow path: each job in a savepoint of its own.
async fn commit_isolated(conn: &mut SqliteConnection, jobs: &[Job]) -> Vec<R<Reply>> {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        return jobs.iter().map(|_| Err(StoreError::Unavailable(e.to_string()))).collect();
    }
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        match in_savepoint(conn, job).await {
            Ok(result) => results.push(result),
            // The savepoint itself failed: nothing in this transaction can be
            // trusted, so none of it is kept.
            Err(e) => {
                let _ = exec(conn, "ROLLBACK").await;
                tracing::error!(error = %e, "SQLite savepoint failed; the batch was rolled back");
                return jobs.iter().map(|_| Err(StoreError::Unavailable(e.to_string()))).collect();
            }
        }
    }
    finish(conn, jobs, results).await
}

async fn finish(conn: &mut SqliteConnection, jobs: &[Job], results: Vec<R<Reply>>) -> Vec<R<Reply>> {
    match exec(conn, "COMMIT").await {
        Ok(()) => results,
        Err(e) => {
            let _ = exec(conn, "ROLLBACK").await;
            tracing::error!(error = %e, "SQLite commit failed; the batch was rolled back");
            jobs.iter().map(|_| Err(StoreError::Unavailable(e.to_string()))).collect()
        }
    }
}

/// The job's own result, inside; an error of the savepoint machinery, outside.
async fn in_savepoint(conn: &mut SqliteConnection, job: &Job) -> R<R<Reply>> {
    exec(conn, "SAVEPOINT job").await?;
    let result = write(conn, std::slice::from_ref(job)).await.map(|mut replies| replies.remove(0));
    if result.is_err() {
        exec(conn, "ROLLBACK TO job").await?;
    }
    exec(conn, "RELEASE job").await?;
    Ok(result)
}

/// Writes every job: workflow applies one by one (each reads the latest
/// version first), everything else batched.
async fn write(conn: &mut SqliteConnection, jobs: &[Job]) -> R<Vec<Reply>> {
    let rows: Vec<batch::Rows<'_>> = jobs
        .iter()
        .filter_map(|j| match &j.op {
            WriteOp::RunInsert(run) => Some(batch::Rows::Run(run)),
            WriteOp::CancelRequest(id) => Some(batch::Rows::Cancel(*id)),
            WriteOp::Commit(changes) => Some(batch::Rows::Changes(changes)),
            WriteOp::ScheduleFire(fires) => Some(batch::Rows::Fires(fires)),
            _ => None,
        })
        .collect();
    let mut batched = batch::apply(conn, &rows).await?.into_iter();
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        let reply = match &job.op {
            WriteOp::WorkflowApply(p) => Reply::Applied(workflow_apply(conn, p).await?),
            WriteOp::ScheduleApply(p) => Reply::Applied(crate::schedules::apply(conn, p).await?),
            WriteOp::SchedulePause { tenant, name, paused } => {
                Reply::Found(crate::schedules::pause(conn, tenant, name, *paused).await?)
            }
            WriteOp::ScheduleDelete { tenant, name } => {
                Reply::Found(crate::schedules::delete(conn, tenant, name).await?)
            }
            WriteOp::TriggerApply(p) => Reply::Applied(crate::triggers::apply(conn, p).await?),
            WriteOp::TriggerDelete { tenant, name } => Reply::Found(crate::triggers::delete(conn, tenant, name).await?),
            WriteOp::TriggerDeliver(d) => Reply::Found(crate::triggers::deliver(conn, d).await?),
            _ => batched.next().ok_or_else(|| StoreError::Other("the batch lost a reply".into()))?,
        };
        replies.push(reply);
    }
    Ok(replies)
}

async fn workflow_apply(conn: &mut SqliteConnection, p: &WorkflowApply) -> R<ApplyOutcome> {
    let meta = &p.workflow.metadata;
    let latest: Option<(i64, String)> = sqlx::query_as(
        "SELECT version, hash FROM workflow_versions WHERE tenant = ?1 AND name = ?2 ORDER BY version DESC LIMIT 1",
    )
    .bind(&meta.tenant)
    .bind(&meta.name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    if let Some((version, hash)) = &latest
        && *hash == p.hash
    {
        return Ok(ApplyOutcome::Unchanged { version: *version as u32 });
    }
    let version = latest.as_ref().map_or(1, |(v, _)| v + 1);
    let body = serde_json::to_string(&p.workflow).map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(
        "INSERT INTO workflow_versions (tenant, name, version, hash, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(&meta.tenant)
    .bind(&meta.name)
    .bind(version)
    .bind(&p.hash)
    .bind(body)
    .bind(micros(p.now))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let version = version as u32;
    Ok(if latest.is_some() { ApplyOutcome::Updated { version } } else { ApplyOutcome::Created { version } })
}
