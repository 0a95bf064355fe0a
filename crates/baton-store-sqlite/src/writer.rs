//! The single writer: group commit of every queued write.

use std::borrow::Cow;

use baton_model::RunState;
use baton_store::{ApplyOutcome, Change, RunRecord, StepRecord, StoreError, WorkflowApply};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, SqlSafeStr, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::batch;
use crate::convert::{R, db, json_text, micros, micros_opt};

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
}

#[derive(Debug)]
pub enum Reply {
    Applied(ApplyOutcome),
    Done,
    Changes(Vec<bool>),
}

pub struct Job {
    pub op: WriteOp,
    pub reply: oneshot::Sender<R<Reply>>,
}

pub fn unexpected(reply: Reply) -> StoreError {
    StoreError::Other(format!("the SQLite writer answered out of turn: {reply:?}"))
}

pub async fn migrate(pool: &SqlitePool) -> R<()> {
    let migrations = vec![Migration::new(
        1,
        Cow::Borrowed("init"),
        MigrationType::Simple,
        include_str!("../migrations/0001_init.sql").into_sql_str(),
        false,
    )];
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
/// SQLite's thread, so the common case writes the whole batch with one
/// statement per kind of row ([`batch`]); only if that fails is the batch
/// replayed with a savepoint per job, so that the failing job alone is refused.
async fn commit_batch(conn: &mut SqliteConnection, jobs: &[Job], fallbacks: &Fallbacks) -> Vec<R<Reply>> {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        return jobs.iter().map(|_| Err(StoreError::Unavailable(e.to_string()))).collect();
    }
    let ops: Vec<&WriteOp> = jobs.iter().map(|j| &j.op).collect();
    if batch::handles(&ops) {
        return match batch::apply(conn, &ops).await {
            Ok(replies) => finish(conn, jobs, replies.into_iter().map(Ok).collect()).await,
            Err(e) => {
                fallbacks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!(error = %e, jobs = jobs.len(), "batch refused; replaying it job by job");
                let _ = exec(conn, "ROLLBACK").await;
                commit_isolated(conn, jobs).await
            }
        };
    }
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        match apply(conn, &job.op).await {
            Ok(reply) => results.push(Ok(reply)),
            Err(_) => {
                let _ = exec(conn, "ROLLBACK").await;
                return commit_isolated(conn, jobs).await;
            }
        }
    }
    finish(conn, jobs, results).await
}

/// The slow path: each job in a savepoint of its own.
async fn commit_isolated(conn: &mut SqliteConnection, jobs: &[Job]) -> Vec<R<Reply>> {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        return jobs.iter().map(|_| Err(StoreError::Unavailable(e.to_string()))).collect();
    }
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        match apply_in_savepoint(conn, &job.op).await {
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
async fn apply_in_savepoint(conn: &mut SqliteConnection, op: &WriteOp) -> R<R<Reply>> {
    exec(conn, "SAVEPOINT job").await?;
    let result = apply(conn, op).await;
    if result.is_err() {
        exec(conn, "ROLLBACK TO job").await?;
    }
    exec(conn, "RELEASE job").await?;
    Ok(result)
}

async fn apply(conn: &mut SqliteConnection, op: &WriteOp) -> R<Reply> {
    match op {
        WriteOp::WorkflowApply(p) => workflow_apply(conn, p).await.map(Reply::Applied),
        WriteOp::RunInsert(run) => run_insert(conn, run).await.map(|_| Reply::Done),
        WriteOp::CancelRequest(id) => cancel_request(conn, *id).await.map(|_| Reply::Done),
        WriteOp::Commit(changes) => {
            let mut applied = Vec::with_capacity(changes.len());
            for change in changes {
                applied.push(apply_change(conn, change).await?);
            }
            Ok(Reply::Changes(applied))
        }
    }
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

async fn run_insert(conn: &mut SqliteConnection, r: &RunRecord) -> R<()> {
    sqlx::query(
        "INSERT INTO runs (id, tenant, workflow, version, state, inputs, trigger, created_at,
                           started_at, finished_at, deadline_at, reason, cancel_requested, ending)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )
    .bind(r.id.to_string())
    .bind(&r.tenant)
    .bind(&r.workflow)
    .bind(i64::from(r.version))
    .bind(r.state.as_str())
    .bind(json_text(&r.inputs))
    .bind(&r.trigger)
    .bind(micros(r.created_at))
    .bind(micros_opt(r.started_at))
    .bind(micros_opt(r.finished_at))
    .bind(micros_opt(r.deadline_at))
    .bind(r.reason.as_deref())
    .bind(i64::from(r.cancel_requested))
    .bind(r.ending.map(|e| e.as_str()))
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn cancel_request(conn: &mut SqliteConnection, id: Uuid) -> R<()> {
    sqlx::query(
        "UPDATE runs SET cancel_requested = 1
         WHERE id = ?1 AND state NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out')",
    )
    .bind(id.to_string())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn apply_change(conn: &mut SqliteConnection, change: &Change) -> R<bool> {
    match change {
        Change::RunTransition { run_id, to, at, reason, deadline_at, ending } => {
            let guard = Transition {
                to: *to,
                at: micros(*at),
                reason: reason.as_deref(),
                deadline_at: micros_opt(*deadline_at),
                ending: *ending,
            };
            run_transition(conn, *run_id, guard).await
        }
        Change::StepPut(step) => step_put(conn, step).await,
        Change::AttemptEnd { run_id, key, attempt, state, started_at, at, exit_code, reason, log } => {
            let result = sqlx::query(
                "INSERT INTO attempts (run_id, key, attempt, state, started_at, finished_at, exit_code, reason)
                 VALUES (?1, ?2, ?3, ?4, ?8, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            )
            .bind(run_id.to_string())
            .bind(key)
            .bind(i64::from(*attempt))
            .bind(state.as_str())
            .bind(micros(*at))
            .bind(exit_code.map(i64::from))
            .bind(reason.as_deref())
            .bind(micros(*started_at))
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            let ended = result.rows_affected() == 1;
            if let (true, Some((text, truncated))) = (ended, log) {
                sqlx::query("INSERT OR REPLACE INTO logs (run_id, key, attempt, text, truncated_bytes) VALUES (?1, ?2, ?3, ?4, ?5)")
                    .bind(run_id.to_string())
                    .bind(key)
                    .bind(i64::from(*attempt))
                    .bind(text)
                    .bind(*truncated as i64)
                    .execute(conn)
                    .await
                    .map_err(db)?;
            }
            Ok(ended)
        }
    }
}

struct Transition<'a> {
    to: RunState,
    at: i64,
    reason: Option<&'a str>,
    deadline_at: Option<i64>,
    ending: Option<RunState>,
}

async fn run_transition(conn: &mut SqliteConnection, id: Uuid, t: Transition<'_>) -> R<bool> {
    let from: Vec<&str> = t.to.predecessors().iter().map(|s| s.as_str()).collect();
    let result = sqlx::query(
        "UPDATE runs SET state = ?2,
             started_at = CASE WHEN ?2 = 'running' THEN COALESCE(started_at, ?3) ELSE started_at END,
             finished_at = CASE WHEN ?4 THEN ?3 ELSE finished_at END,
             reason = COALESCE(?5, reason),
             deadline_at = COALESCE(?6, deadline_at),
             ending = COALESCE(?8, ending)
         WHERE id = ?1 AND state IN (SELECT value FROM json_each(?7))",
    )
    .bind(id.to_string())
    .bind(t.to.as_str())
    .bind(t.at)
    .bind(t.to.is_terminal())
    .bind(t.reason)
    .bind(t.deadline_at)
    .bind(serde_json::to_string(&from).unwrap_or_default())
    .bind(t.ending.map(|e| e.as_str()))
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(result.rows_affected() == 1)
}

async fn step_put(conn: &mut SqliteConnection, s: &StepRecord) -> R<bool> {
    sqlx::query(
        "INSERT INTO steps (run_id, key, step_id, idx, phase, state, attempt, failures, item, wake_at,
                            started_at, finished_at, outputs, exit_code, stdout_tail, stderr_tail, reason, completed_seq,
                            attempt_started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
         ON CONFLICT (run_id, key) DO UPDATE SET
             state = excluded.state, attempt = excluded.attempt, failures = excluded.failures,
             item = excluded.item, wake_at = excluded.wake_at, started_at = excluded.started_at,
             attempt_started_at = excluded.attempt_started_at,
             finished_at = excluded.finished_at, outputs = excluded.outputs, exit_code = excluded.exit_code,
             stdout_tail = excluded.stdout_tail, stderr_tail = excluded.stderr_tail, reason = excluded.reason,
             completed_seq = excluded.completed_seq",
    )
    .bind(s.run_id.to_string())
    .bind(&s.key)
    .bind(&s.step_id)
    .bind(s.index.map(i64::from))
    .bind(s.phase.as_str())
    .bind(s.state.as_str())
    .bind(i64::from(s.attempt))
    .bind(i64::from(s.failures))
    .bind(s.item.as_ref().map(json_text))
    .bind(micros_opt(s.wake_at))
    .bind(micros_opt(s.started_at))
    .bind(micros_opt(s.finished_at))
    .bind(s.outputs.as_ref().map(json_text))
    .bind(s.exit_code.map(i64::from))
    .bind(s.stdout_tail.as_deref())
    .bind(s.stderr_tail.as_deref())
    .bind(s.reason.as_deref())
    .bind(s.completed_seq)
    .bind(micros_opt(s.attempt_started_at))
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(true)
}
