//! The embedded backend: one SQLite file in WAL mode.
//!
//! Reads use a small pool of connections. Writes go to one writer task that
//! owns the only writing connection and applies whatever has queued up in a
//! single transaction (group commit), each caller's batch inside its own
//! savepoint so that one bad batch does not spoil the others. A caller's
//! future resolves only after the transaction holding its batch committed.

mod batch;
mod convert;
mod fires;
mod read;
mod resources;
mod schedules;
mod triggers;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use baton_store::{
    ApplyOutcome, AttemptRecord, Change, DeliveryRecord, FireRecord, LogRecord, Result, RunFilter, RunRecord,
    ScheduleApply, ScheduleFire, ScheduleRecord, ScheduleStats, StepRecord, Store, StoreError, TriggerApply,
    TriggerDelivery, TriggerRecord, WorkflowApply, WorkflowVersion,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use writer::{Job, Reply, WriteOp};

/// How hard each commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync at WAL checkpoints only: a killed process loses nothing; a
    /// power cut may lose the last commits (never corrupts).
    Normal,
    /// fsync at every commit: nothing acknowledged is ever lost.
    Full,
}

pub struct SqliteStore {
    reads: SqlitePool,
    writes: mpsc::Sender<Job>,
    fallbacks: writer::Fallbacks,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path, durability: Durability) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(unavailable)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let reads = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .map_err(|e| unavailable(format!("cannot open {}: {e}", path.display())))?;
        writer::migrate(&reads).await?;
        let fallbacks = writer::Fallbacks::default();
        let writes = writer::spawn(options, fallbacks.clone()).await?;
        Ok(SqliteStore { reads, writes, fallbacks })
    }

    /// Batches (in this process) that had to be replayed job by job.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn write(&self, op: WriteOp) -> Result<Reply> {
        let (reply, answer) = oneshot::channel();
        self.writes.send(Job { op, reply }).await.map_err(|_| unavailable("the SQLite writer has stopped"))?;
        answer.await.map_err(|_| unavailable("the SQLite writer has stopped"))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn workflow_apply(&self, p: WorkflowApply) -> Result<ApplyOutcome> {
        match self.write(WriteOp::WorkflowApply(p)).await? {
            Reply::Applied(outcome) => Ok(outcome),
            other => Err(writer::unexpected(other)),
        }
    }

    async fn workflow_get(&self, tenant: &str, name: &str, version: Option<u32>) -> Result<Option<WorkflowVersion>> {
        read::workflow_get(&self.reads, tenant, name, version).await
    }

    async fn workflow_list(&self, tenant: Option<&str>) -> Result<Vec<WorkflowVersion>> {
        read::workflow_list(&self.reads, tenant).await
    }

    async fn workflow_versions(&self, tenant: &str, name: &str) -> Result<Vec<WorkflowVersion>> {
        read::workflow_versions(&self.reads, tenant, name).await
    }

    async fn run_insert(&self, run: RunRecord) -> Result<()> {
        self.write(WriteOp::RunInsert(Box::new(run))).await.map(|_| ())
    }

    async fn run_get(&self, id: Uuid) -> Result<Option<RunRecord>> {
        read::run_get(&self.reads, id).await
    }

    async fn run_find(&self, prefix: &str, limit: u32) -> Result<Vec<RunRecord>> {
        read::run_find(&self.reads, prefix, limit).await
    }

    async fn run_list(&self, filter: RunFilter) -> Result<Vec<RunRecord>> {
        read::run_list(&self.reads, &filter).await
    }

    async fn run_unfinished(&self) -> Result<Vec<RunRecord>> {
        read::run_unfinished(&self.reads).await
    }

    async fn run_cancel_request(&self, id: Uuid) -> Result<Option<RunRecord>> {
        self.write(WriteOp::CancelRequest(id)).await?;
        read::run_get(&self.reads, id).await
    }

    async fn step_list(&self, run: Uuid) -> Result<Vec<StepRecord>> {
        read::step_list(&self.reads, run).await
    }

    async fn attempt_list(&self, run: Uuid) -> Result<Vec<AttemptRecord>> {
        read::attempt_list(&self.reads, run).await
    }

    async fn log_get(&self, run: Uuid, key: &str, attempt: Option<u32>) -> Result<Option<LogRecord>> {
        read::log_get(&self.reads, run, key, attempt).await
    }

    async fn commit(&self, changes: Vec<Change>) -> Result<Vec<bool>> {
        match self.write(WriteOp::Commit(changes)).await? {
            Reply::Changes(applied) => Ok(applied),
            other => Err(writer::unexpected(other)),
        }
    }

    async fn schedule_apply(&self, p: ScheduleApply) -> Result<ApplyOutcome> {
        match self.write(WriteOp::ScheduleApply(Box::new(p))).await? {
            Reply::Applied(outcome) => Ok(outcome),
            other => Err(writer::unexpected(other)),
        }
    }

    async fn schedule_get(&self, tenant: &str, name: &str) -> Result<Option<ScheduleRecord>> {
        schedules::get(&self.reads, tenant, name).await
    }

    async fn schedule_page(&self, after: Option<(String, String)>, limit: u32) -> Result<Vec<ScheduleRecord>> {
        schedules::page(&self.reads, after, limit).await
    }

    async fn schedule_delete(&self, tenant: &str, name: &str) -> Result<bool> {
        let op = WriteOp::ScheduleDelete { tenant: tenant.into(), name: name.into() };
        match self.write(op).await? {
            Reply::Found(found) => Ok(found),
            other => Err(writer::unexpected(other)),
        }
    }

    async fn schedule_pause(&self, tenant: &str, name: &str, paused: bool) -> Result<Option<ScheduleRecord>> {
        let op = WriteOp::SchedulePause { tenant: tenant.into(), name: name.into(), paused };
        match self.write(op).await? {
            Reply::Found(true) => schedules::get(&self.reads, tenant, name).await,
            Reply::Found(false) => Ok(None),
            other => Err(writer::unexpected(other)),
        }
    }

    async fn schedule_fire(&self, fires: Vec<ScheduleFire>) -> Result<Vec<bool>> {
        match self.write(WriteOp::ScheduleFire(fires)).await? {
            Reply::Changes(new) => Ok(new),
            other => Err(writer::unexpected(other)),
        }
    }

    async fn schedule_history(&self, tenant: &str, name: &str, limit: u32) -> Result<Vec<FireRecord>> {
        schedules::history(&self.reads, tenant, name, limit).await
    }

    async fn schedule_stats(
        &self,
        tenant: Option<&str>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<ScheduleStats> {
        schedules::stats(&self.reads, tenant, since.timestamp_micros()).await
    }

    async fn trigger_apply(&self, p: TriggerApply) -> Result<ApplyOutcome> {
        match self.write(WriteOp::TriggerApply(Box::new(p))).await? {
            Reply::Applied(outcome) => Ok(outcome),
            other => Err(writer::unexpected(other)),
        }
    }

    async fn trigger_get(&self, tenant: &str, name: &str) -> Result<Option<TriggerRecord>> {
        triggers::get_one(&self.reads, tenant, name).await
    }

    async fn trigger_list(&self, tenant: Option<&str>) -> Result<Vec<TriggerRecord>> {
        triggers::list(&self.reads, tenant).await
    }

    async fn trigger_delete(&self, tenant: &str, name: &str) -> Result<bool> {
        let op = WriteOp::TriggerDelete { tenant: tenant.into(), name: name.into() };
        match self.write(op).await? {
            Reply::Found(found) => Ok(found),
            other => Err(writer::unexpected(other)),
        }
    }

    async fn trigger_deliver(&self, d: TriggerDelivery) -> Result<bool> {
        match self.write(WriteOp::TriggerDeliver(Box::new(d))).await? {
            Reply::Found(new) => Ok(new),
            other => Err(writer::unexpected(other)),
        }
    }

    async fn trigger_history(&self, tenant: &str, name: &str, limit: u32) -> Result<Vec<DeliveryRecord>> {
        triggers::history(&self.reads, tenant, name, limit).await
    }
}
